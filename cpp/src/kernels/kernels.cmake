# Kernel sources of the bpnet target; included from the top-level CMakeLists.txt so that
# per-file compile options (instruction sets) apply in the same directory scope.
target_sources(bpnet PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/gemm_ref.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gemm.cpp
  ${CMAKE_CURRENT_LIST_DIR}/threads.cpp
)

# Kernel sources of the bpnet target; included from the top-level CMakeLists.txt so that
# per-file compile options (instruction sets) apply in the same directory scope.
#
# gemm_generic.cpp is built for the baseline target and is the only path off x86. On x86-64
# with GCC or Clang, gemm_avx2.cpp and gemm_avx512.cpp get their own -m flags (never
# -march=native); dispatch.cpp picks one at run time from what the CPU supports.
target_sources(bpnet PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/gemm_ref.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gemm.cpp
  ${CMAKE_CURRENT_LIST_DIR}/gemm_generic.cpp
  ${CMAKE_CURRENT_LIST_DIR}/dispatch.cpp
  ${CMAKE_CURRENT_LIST_DIR}/threads.cpp
)

set(_bpnet_kernels_x86 OFF)
if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang" AND CMAKE_SYSTEM_PROCESSOR MATCHES "^(x86_64|AMD64|amd64|x64)$")
  set(_bpnet_kernels_x86 ON)
endif()

if(CMAKE_CXX_COMPILER_ID MATCHES "GNU|Clang")
  # Full and edge tiles must round alike (bit-identical results for any thread count).
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/gemm_generic.cpp
    PROPERTIES COMPILE_OPTIONS "-O3;-ffp-contract=off")
endif()

if(_bpnet_kernels_x86)
  target_sources(bpnet PRIVATE
    ${CMAKE_CURRENT_LIST_DIR}/gemm_avx2.cpp
    ${CMAKE_CURRENT_LIST_DIR}/gemm_avx512.cpp)
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/gemm_avx2.cpp
    PROPERTIES COMPILE_OPTIONS "-O3;-mavx2;-mfma;-ffp-contract=fast")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/gemm_avx512.cpp
    PROPERTIES COMPILE_OPTIONS "-O3;-mavx512f;-mavx512dq;-mavx512vl;-mavx512bw;-mfma;-ffp-contract=fast;-mprefer-vector-width=512;-Wno-uninitialized;-Wno-maybe-uninitialized")
  set_source_files_properties(${CMAKE_CURRENT_LIST_DIR}/dispatch.cpp ${CMAKE_CURRENT_LIST_DIR}/gemm.cpp
    ${CMAKE_CURRENT_LIST_DIR}/gemm_generic.cpp ${CMAKE_CURRENT_LIST_DIR}/gemm_avx2.cpp
    ${CMAKE_CURRENT_LIST_DIR}/gemm_avx512.cpp
    PROPERTIES COMPILE_DEFINITIONS "BPNET_KERNELS_X86=1")
  message(STATUS "bpnet: gemm kernels generic, avx2, avx512 (chosen at run time)")
else()
  message(STATUS "bpnet: gemm kernels generic only (not x86-64 with GCC/Clang)")
endif()

# C++ gemm benchmark (benchmarks/bench_gemm.cpp); driven by benchmarks/bench_gemm.py.
if(BPNET_BENCHMARKS)
  add_executable(bench_gemm ${PROJECT_SOURCE_DIR}/benchmarks/bench_gemm.cpp)
  bpnet_link_internals(bench_gemm)  # it calls kernels::gemm, which a shared libbpnet hides
  target_link_libraries(bench_gemm PRIVATE ${CMAKE_DL_LIBS})
endif()

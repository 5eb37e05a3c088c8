# ctest cmake_subproject: configures subproject/ (a parent project that add_subdirectory's bpnet)
# in a fresh folder and fails when its checks do.
#   cmake -DBPNET_SOURCE_DIR=<repo> -DWORK_DIR=<folder> -DGENERATOR=<gen> -DCXX=<compiler> -P check_subproject.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
execute_process(
  COMMAND "${CMAKE_COMMAND}" -S "${CMAKE_CURRENT_LIST_DIR}/subproject" -B "${WORK_DIR}"
          -G "${GENERATOR}" "-DCMAKE_CXX_COMPILER=${CXX}" "-DBPNET_SOURCE_DIR=${BPNET_SOURCE_DIR}"
  RESULT_VARIABLE _rc)
if(NOT _rc EQUAL 0)
  message(FATAL_ERROR "configuring a parent project of bpnet failed (${_rc})")
endif()

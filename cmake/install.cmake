# Installs bpnet for C++ users: headers, the library (static by default, shared with
# BUILD_SHARED_LIBS=ON) and a CMake package, so that a consumer writes
#   find_package(bpnet CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE bpnet::bpnet)
# Included from the top-level CMakeLists.txt when BPNET_INSTALL is ON.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(BPNET_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/bpnet"
    CACHE STRING "Folder (relative to the prefix) for bpnetConfig.cmake")

# The package must find OpenMP again when the library was linked against it.
set(BPNET_USES_OPENMP OFF)
if(BPNET_OPENMP AND OpenMP_CXX_FOUND)
  set(BPNET_USES_OPENMP ON)
endif()
# A static library leaves linking the OpenMP runtime to its consumer; a shared one links it
# itself, so its consumers need no OpenMP (nor a compiler that has one).
get_target_property(_bpnet_type bpnet TYPE)
set(BPNET_STATIC OFF)
if(_bpnet_type STREQUAL "STATIC_LIBRARY")
  set(BPNET_STATIC ON)
endif()

# Shared builds get a versioned soname (libbpnet.so.0.1); 0.x minor versions may break the ABI.
set_target_properties(bpnet PROPERTIES VERSION ${PROJECT_VERSION}
  SOVERSION ${PROJECT_VERSION_MAJOR}.${PROJECT_VERSION_MINOR})

install(TARGETS bpnet EXPORT bpnetTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/cpp/include/bpnet
  DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  FILES_MATCHING PATTERN "*.hpp")
install(EXPORT bpnetTargets
  NAMESPACE bpnet::
  FILE bpnetTargets.cmake
  DESTINATION ${BPNET_INSTALL_CMAKEDIR})

configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/bpnetConfig.cmake.in
  ${PROJECT_BINARY_DIR}/bpnetConfig.cmake
  INSTALL_DESTINATION ${BPNET_INSTALL_CMAKEDIR})
# 0.x: a minor version may break the API, so only the same minor version is compatible.
write_basic_package_version_file(${PROJECT_BINARY_DIR}/bpnetConfigVersion.cmake
  VERSION ${PROJECT_VERSION}
  COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/bpnetConfig.cmake ${PROJECT_BINARY_DIR}/bpnetConfigVersion.cmake
  DESTINATION ${BPNET_INSTALL_CMAKEDIR})

// What a consumer's translation unit gets from target_link_libraries(app PRIVATE bpnet::bpnet):
// no OpenMP compile flags (bpnet's own use of OpenMP is private; a consumer's pragmas are its
// own business), and bpnet::version agrees with the CMake package's version.
#include <bpnet/bpnet.hpp>

#include <string>

#include "test_util.hpp"

TEST_CASE("a consumer of bpnet::bpnet is not compiled with OpenMP") {
#ifdef _OPENMP
    CHECK_MSG(false, "bpnet::bpnet passed OpenMP's compile flags (_OPENMP " + std::to_string(_OPENMP) +
                         ") to a consumer");
#endif
}

TEST_CASE("bpnet::version is the CMake project's version") {
    CHECK_MSG(std::string(bpnet::version) == BPNET_TEST_PROJECT_VERSION,
              std::string("bpnet::version is ") + bpnet::version + ", the CMake project's is " +
                  BPNET_TEST_PROJECT_VERSION);
}

TEST_MAIN()

#include "bpnet/threads.hpp"

#include <stdexcept>
#include <string>
#ifdef BPNET_WITH_OPENMP
#include <omp.h>
#endif

namespace bpnet {

int num_threads() {
#ifdef BPNET_WITH_OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void set_num_threads(int n) {
    if (n < 1)
        throw std::invalid_argument("set_num_threads: n is " + std::to_string(n) +
                                    ", expected at least 1");
#ifdef BPNET_WITH_OPENMP
    omp_set_num_threads(n);
#endif
}

bool openmp_enabled() {
#ifdef BPNET_WITH_OPENMP
    return true;
#else
    return false;
#endif
}

}  // namespace bpnet

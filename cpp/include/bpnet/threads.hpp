// Thread count used by bpnet's kernels (OpenMP when built with it; 1 otherwise).
#pragma once

#include "bpnet/export.hpp"

namespace bpnet {

// Number of threads the kernels may use: the calling thread's ThreadScope if any, else the
// count set_num_threads set, else OpenMP's (OMP_NUM_THREADS, or omp_set_num_threads as
// threadpoolctl's limits call it).
BPNET_API int num_threads();
// Sets it for the calling program, over OpenMP's setting; n >= 1, otherwise
// std::invalid_argument.
BPNET_API void set_num_threads(int n);
// Forgets set_num_threads' count: OpenMP's setting counts again.
BPNET_API void reset_num_threads();
// The calling thread's own setting (0: none, use num_threads' default), and its setter.
BPNET_API int thread_local_num_threads();
BPNET_API void set_thread_local_num_threads(int n);

// Sets the thread count for the calling thread while alive, e.g. for one fit or one predict;
// other threads are not affected. 0 leaves the calling thread's setting (an enclosing scope's,
// or the default) as it is.
class BPNET_API ThreadScope {
public:
    explicit ThreadScope(int n);
    ~ThreadScope();
    ThreadScope(const ThreadScope&) = delete;
    ThreadScope& operator=(const ThreadScope&) = delete;

private:
    int saved_;
};

// True when the library was built with OpenMP.
BPNET_API bool openmp_enabled();

}  // namespace bpnet

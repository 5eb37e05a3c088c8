// Thread count used by bpnet's kernels (OpenMP when built with it; 1 otherwise).
#pragma once

namespace bpnet {

// Number of threads the kernels may use: the calling thread's ThreadScope if any, else the
// count set_num_threads set, else OpenMP's (OMP_NUM_THREADS, or omp_set_num_threads as
// threadpoolctl's limits call it).
int num_threads();
// Sets it for the calling program, over OpenMP's setting; n >= 1, otherwise
// std::invalid_argument.
void set_num_threads(int n);
// Forgets set_num_threads' count: OpenMP's setting counts again.
void reset_num_threads();
// The calling thread's own setting (0: none, use num_threads' default), and its setter.
int thread_local_num_threads();
void set_thread_local_num_threads(int n);

// Sets the thread count for the calling thread while alive, e.g. for one fit or one predict;
// other threads are not affected. 0 leaves the calling thread's setting (an enclosing scope's,
// or the default) as it is.
class ThreadScope {
public:
    explicit ThreadScope(int n);
    ~ThreadScope();
    ThreadScope(const ThreadScope&) = delete;
    ThreadScope& operator=(const ThreadScope&) = delete;

private:
    int saved_;
};

// True when the library was built with OpenMP.
bool openmp_enabled();

}  // namespace bpnet

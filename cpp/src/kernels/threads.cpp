// Thread count of bpnet's kernels: OMP_NUM_THREADS (OpenMP's default) until set_num_threads.
#include "bpnet/threads.hpp"

#include <atomic>
#include <stdexcept>
#include <string>
#ifdef BPNET_WITH_OPENMP
#include <omp.h>
#endif

namespace bpnet {

namespace {
// 0: not set, follow OpenMP's default (OMP_NUM_THREADS or the number of cores). Process-wide,
// unlike omp_set_num_threads, which only changes the calling thread's setting.
std::atomic<int> g_threads{0};
// Set by ThreadScope for the calling thread only (per call / per fit thread counts).
thread_local int t_threads = 0;
}  // namespace

int thread_local_num_threads() { return t_threads; }

void set_thread_local_num_threads(int n) {
    if (n < 0)
        throw std::invalid_argument("n_threads: expected a positive count (or 0 for the default), got " +
                                    std::to_string(n));
    t_threads = n;
}

ThreadScope::ThreadScope(int n) : saved_(t_threads) {
    if (n < 0) set_thread_local_num_threads(n);  // throws
    if (n > 0) t_threads = n;  // 0 leaves the calling thread's setting as it is
}

ThreadScope::~ThreadScope() { t_threads = saved_; }

int num_threads() {
#ifdef BPNET_WITH_OPENMP
    if (t_threads > 0) return t_threads;
    const int n = g_threads.load(std::memory_order_relaxed);
    return n > 0 ? n : omp_get_max_threads();
#else
    return 1;
#endif
}

void set_num_threads(int n) {
    if (n < 1)
        throw std::invalid_argument("set_num_threads: n is " + std::to_string(n) +
                                    ", expected at least 1");
    g_threads.store(n, std::memory_order_relaxed);
}

void reset_num_threads() { g_threads.store(0, std::memory_order_relaxed); }

bool openmp_enabled() {
#ifdef BPNET_WITH_OPENMP
    return true;
#else
    return false;
#endif
}

}  // namespace bpnet

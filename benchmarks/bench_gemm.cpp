// Times bpnet's gemm on one shape; driven by bench_gemm.py, which writes the inputs, times
// NumPy on the same arrays and checks the answer this program writes.
//
//   bench_gemm run f32|f64 NN|NT|TN|TT m n k threads reps A.bin B.bin C.bin
//       A, B: raw row-major arrays (A (m,k) or (k,m), B (k,n) or (n,k), no padding).
//       Prints "isa=<name> threads=<t> median_s=<s> min_s=<s>" and writes C (m, n).
//   bench_gemm pair f32|f64 NN|NT|TN|TT m n k threads reps rounds BLAS A.bin B.bin C.bin
//       The same product by the BLAS library BLAS (a shared object with cblas_sgemm/dgemm, as
//       NumPy's bundled OpenBLAS: scipy_cblas_dgemm64_) and by bpnet, alternately in this one
//       process on the same arrays: `rounds` rounds of `reps` timed calls each, after 30 ms of
//       warm-up calls, so that a change in the machine's speed lands on both. Prints
//       "isa=... blas_s=<s> bpnet_s=<s> ratio=<r>": medians over the rounds of the mean time per
//       call, and the median of the per-round ratios blas time / bpnet time; writes bpnet's C.
//   bench_gemm latency f32|f64 NN|NT|TN|TT m n k calls [threads]
//       Prints the median time per call in nanoseconds of repeated products (1 thread unless
//       threads is given).
//   bench_gemm peak f32|f64 n rounds
//       The fraction of the FMA peak that bpnet's one-thread n x n x n product reaches: each
//       round times an FMA loop (independent chains of the vectors the active path uses: 24
//       of zmm for avx512, 12 of ymm for avx2, whose 16 registers hold no more) and then the
//       product, so both see the same minute of a shared machine. Prints each round and the
//       medians (x86-64 with GCC or Clang).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <fstream>
#include <new>
#include <stdexcept>
#include <string>
#include <vector>

#if defined(__linux__)
#include <sys/mman.h>
#endif
#if defined(__unix__) || defined(__APPLE__)
#include <dlfcn.h>
#include <unistd.h>
#define BPNET_BENCH_DLOPEN 1
#endif

#include "bpnet/threads.hpp"
#include "kernels/gemm.hpp"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define BPNET_BENCH_PEAK 1
#endif

using bpnet::kernels::Trans;
using Clock = std::chrono::steady_clock;

namespace {

// Allocates as NumPy does (numpy/_core/src/multiarray/alloc.c): malloc, and on Linux, for 4 MiB
// or more, madvise(MADV_HUGEPAGE) from the first page boundary on. NumPy's operands and result
// get transparent huge pages (where the system allows them on request), so bpnet's must too,
// or the comparison measures the page size: fewer TLB misses on the 1024² and 2048² products.
template <class T>
struct NumpyLikeAlloc {
    using value_type = T;
    NumpyLikeAlloc() = default;
    template <class U>
    NumpyLikeAlloc(const NumpyLikeAlloc<U>&) {}
    T* allocate(std::size_t n) {
        const std::size_t bytes = n * sizeof(T);
        void* p = std::malloc(bytes);
        if (!p) throw std::bad_alloc();
#if defined(__linux__) && defined(MADV_HUGEPAGE)
        if (bytes >= (std::size_t(1) << 22)) {
            const std::size_t offset = 4096 - reinterpret_cast<std::uintptr_t>(p) % 4096;
            madvise(static_cast<char*>(p) + offset, bytes - offset, MADV_HUGEPAGE);
        }
#endif
        return static_cast<T*>(p);
    }
    void deallocate(T* p, std::size_t) { std::free(p); }
    template <class U>
    bool operator==(const NumpyLikeAlloc<U>&) const { return true; }
    template <class U>
    bool operator!=(const NumpyLikeAlloc<U>&) const { return false; }
};
template <class T>
using Buf = std::vector<T, NumpyLikeAlloc<T>>;

template <class T>
Buf<T> read_raw(const char* path, std::size_t n) {
    Buf<T> v(n);
    std::ifstream f(path, std::ios::binary);
    if (!f.read(reinterpret_cast<char*>(v.data()), std::streamsize(n * sizeof(T))))
        throw std::runtime_error(std::string("cannot read ") + path);
    return v;
}

template <class T>
int run(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, int reps, char** files) {
    const auto A = read_raw<T>(files[0], m * k);
    const auto B = read_raw<T>(files[1], k * n);
    Buf<T> C(m * n);
    const std::size_t lda = ta == Trans::N ? k : m, ldb = tb == Trans::N ? n : k;
    std::vector<double> t;
    for (int r = 0; r < reps + 1; ++r) {  // the first call warms up (page faults, buffers)
        const auto t0 = Clock::now();
        bpnet::kernels::gemm<T>(ta, tb, m, n, k, T(1), A.data(), lda, B.data(), ldb, T(0),
                                C.data(), n);
        const double s = std::chrono::duration<double>(Clock::now() - t0).count();
        if (r > 0) t.push_back(s);
    }
    std::sort(t.begin(), t.end());
    std::printf("isa=%s threads=%d median_s=%.9g min_s=%.9g\n", bpnet::kernels::isa_name(),
                bpnet::num_threads(), t[t.size() / 2], t[0]);
    std::ofstream(files[2], std::ios::binary)
        .write(reinterpret_cast<const char*>(C.data()), std::streamsize(C.size() * sizeof(T)));
    return 0;
}

#if defined(BPNET_BENCH_DLOPEN)
// cblas_?gemm of a BLAS loaded with dlopen: NumPy's wheels bundle OpenBLAS with 64-bit integers
// and prefixed names (scipy_cblas_dgemm64_); a system OpenBLAS has the plain LP64 names.
struct Blas {
    void* lib = nullptr;
    void* gemm = nullptr;
    bool ilp64 = false;
    Blas(const char* path, bool f64) {
        lib = dlopen(path, RTLD_NOW | RTLD_LOCAL);
        if (!lib) throw std::runtime_error(std::string("cannot load ") + path + ": " + dlerror());
        const char* p = f64 ? "d" : "s";
        const std::string ilp[] = {std::string("scipy_cblas_") + p + "gemm64_",
                                   std::string("cblas_") + p + "gemm64_"};
        for (const auto& name : ilp)
            if ((gemm = dlsym(lib, name.c_str()))) {
                ilp64 = true;
                break;
            }
        if (!gemm) gemm = dlsym(lib, (std::string("cblas_") + p + "gemm").c_str());
        if (!gemm) throw std::runtime_error(std::string("no cblas_") + p + "gemm in " + path);
        for (const char* name : {"scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_",
                                 "openblas_set_num_threads"})
            if (void* f = dlsym(lib, name)) {
                reinterpret_cast<void (*)(int)>(f)(bpnet::num_threads());
                break;
            }
    }
    // Row-major C = op(A) op(B), alpha 1, beta 0 (CblasRowMajor 101, NoTrans 111, Trans 112).
    template <class T>
    void run(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, const T* A,
             std::size_t lda, const T* B, std::size_t ldb, T* C) const {
        const int a = ta == Trans::T ? 112 : 111, b = tb == Trans::T ? 112 : 111;
        if (ilp64)
            reinterpret_cast<void (*)(int, int, int, long long, long long, long long, T, const T*,
                                      long long, const T*, long long, T, T*, long long)>(gemm)(
                101, a, b, (long long)m, (long long)n, (long long)k, T(1), A, (long long)lda, B,
                (long long)ldb, T(0), C, (long long)n);
        else
            reinterpret_cast<void (*)(int, int, int, int, int, int, T, const T*, int, const T*,
                                      int, T, T*, int)>(gemm)(101, a, b, int(m), int(n), int(k),
                                                              T(1), A, int(lda), B, int(ldb),
                                                              T(0), C, int(n));
    }
};

template <class T>
int pair(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, int reps, int rounds,
         char** files) {
    const Blas blas(files[0], sizeof(T) == 8);
    const auto A = read_raw<T>(files[1], m * k);
    const auto B = read_raw<T>(files[2], k * n);
    Buf<T> C(m * n), Cb(m * n);
    const std::size_t lda = ta == Trans::N ? k : m, ldb = tb == Trans::N ? n : k;
    const std::function<void()> calls[2] = {
        [&] { blas.run<T>(ta, tb, m, n, k, A.data(), lda, B.data(), ldb, Cb.data()); },
        [&] {
            bpnet::kernels::gemm<T>(ta, tb, m, n, k, T(1), A.data(), lda, B.data(), ldb, T(0),
                                    C.data(), n);
        }};
    std::vector<double> t[2], ratio;
    for (int r = 0; r < rounds; ++r) {
        double s[2];
        for (int lib = 0; lib < 2; ++lib) {
            // Both libraries' idle threads spin for a while after a parallel call (OpenBLAS's
            // for ~0.1 s) and would take a core from the other library's first calls.
            if (bpnet::num_threads() > 1) usleep(150000);
            // Warm-up, 30 ms of calls (at least one: page faults, buffers): on a VM, a vCPU
            // idle for a while is slow to come back, and the first products on 2 threads after
            // an idle spell ran up to 10x slower for ~10 ms (128^3: 400 us per call, then 36).
            const auto w0 = Clock::now();
            do calls[lib]();
            while (std::chrono::duration<double>(Clock::now() - w0).count() < 0.03);
            const auto t0 = Clock::now();
            for (int q = 0; q < reps; ++q) calls[lib]();
            s[lib] = std::chrono::duration<double>(Clock::now() - t0).count() / reps;
            t[lib].push_back(s[lib]);
        }
        ratio.push_back(s[0] / s[1]);
    }
    for (auto* v : {&t[0], &t[1], &ratio}) std::sort(v->begin(), v->end());
    const auto med = [](const std::vector<double>& v) {
        return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
    };
    std::printf("isa=%s threads=%d blas_s=%.9g bpnet_s=%.9g ratio=%.4f\n",
                bpnet::kernels::isa_name(), bpnet::num_threads(), med(t[0]), med(t[1]),
                med(ratio));
    std::ofstream(files[3], std::ios::binary)
        .write(reinterpret_cast<const char*>(C.data()), std::streamsize(C.size() * sizeof(T)));
    return 0;
}
#endif

template <class T>
int latency(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, long calls) {
    Buf<T> A(m * k, T(0.5)), B(k * n, T(0.25)), C(m * n, T(0));
    const std::size_t lda = ta == Trans::N ? k : m, ldb = tb == Trans::N ? n : k;
    std::vector<double> t;
    for (int r = 0; r < 7; ++r) {
        const auto t0 = Clock::now();
        for (long c = 0; c < calls; ++c) {
            bpnet::kernels::gemm<T>(ta, tb, m, n, k, T(1), A.data(), lda, B.data(), ldb, T(0),
                                    C.data(), n);
            asm volatile("" : : "r"(C.data()) : "memory");
        }
        t.push_back(std::chrono::duration<double>(Clock::now() - t0).count() / double(calls));
    }
    std::sort(t.begin(), t.end());
    std::printf("isa=%s ns_per_call=%.2f\n", bpnet::kernels::isa_name(), t[t.size() / 2] * 1e9);
    return 0;
}

#if defined(BPNET_BENCH_PEAK)
// iters steps of CH independent FMA chains; returns a value that depends on all of them.
#define BPNET_FMA_CHAINS(CH, V, SET1, FMA, ADD, SUM)                                   \
    V a[CH];                                                                            \
    for (int i = 0; i < CH; ++i) a[i] = SET1(0.001 * i);                                \
    const V b = SET1(0.999), c = SET1(0.001);                                           \
    for (long t = 0; t < iters; ++t) {                                                  \
        _Pragma("GCC unroll 24") for (int i = 0; i < CH; ++i) a[i] = FMA(a[i], b, c);   \
    }                                                                                   \
    V s = a[0];                                                                         \
    for (int i = 1; i < CH; ++i) s = ADD(s, a[i]);                                      \
    return double(SUM(s));
__attribute__((target("avx512f"))) double chains_zmm_f32(long iters) {
    BPNET_FMA_CHAINS(24, __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps,
                     _mm512_reduce_add_ps)
}
__attribute__((target("avx512f"))) double chains_zmm_f64(long iters) {
    BPNET_FMA_CHAINS(24, __m512d, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd,
                     _mm512_reduce_add_pd)
}
__attribute__((target("avx2"))) inline float first_f32(__m256 v) {
    return _mm_cvtss_f32(_mm256_castps256_ps128(v));
}
__attribute__((target("avx2"))) inline double first_f64(__m256d v) {
    return _mm_cvtsd_f64(_mm256_castpd256_pd128(v));
}
__attribute__((target("avx2,fma"))) double chains_ymm_f32(long iters) {
    BPNET_FMA_CHAINS(12, __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, first_f32)
}
__attribute__((target("avx2,fma"))) double chains_ymm_f64(long iters) {
    BPNET_FMA_CHAINS(12, __m256d, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd, first_f64)
}
#undef BPNET_FMA_CHAINS

template <class T>
int peak(std::size_t n, int rounds) {
    const std::string isa = bpnet::kernels::isa_name();
    const bool zmm = isa == "avx512";
    if (!zmm && isa != "avx2") {
        std::fprintf(stderr, "bench_gemm peak: no FMA loop for the %s path\n", isa.c_str());
        return 1;
    }
    const double lanes = double((zmm ? 64 : 32) / sizeof(T));
    const double per_step = (zmm ? 24 : 12) * lanes * 2;  // flops of one step of the chains
    const auto chains = [&](long iters) {
        if (sizeof(T) == sizeof(float)) return zmm ? chains_zmm_f32(iters) : chains_ymm_f32(iters);
        return zmm ? chains_zmm_f64(iters) : chains_ymm_f64(iters);
    };
    Buf<T> A(n * n), B(n * n), C(n * n);
    for (std::size_t i = 0; i < n * n; ++i)
        A[i] = T(int(i % 13) - 6) / T(8), B[i] = T(int(i % 11) - 5) / T(8);
    bpnet::set_num_threads(1);
    const auto product = [&] {
        bpnet::kernels::gemm<T>(Trans::N, Trans::N, n, n, n, T(1), A.data(), n, B.data(), n, T(0),
                                C.data(), n);
    };
    product();  // warm-up: packing buffers, pages
    const double flop = 2.0 * double(n) * double(n) * double(n);
    const int calls = std::max(1, int(2e9 / flop));
    const long iters = zmm ? 20000000 : 40000000;
    std::vector<double> peaks, rates, fractions;
    volatile double sink = 0;
    for (int r = 0; r < rounds; ++r) {
        auto t0 = Clock::now();
        sink = sink + chains(iters);
        const double pk = double(iters) * per_step /
                          std::chrono::duration<double>(Clock::now() - t0).count() / 1e9;
        std::vector<double> t;
        for (int c = 0; c < calls; ++c) {
            t0 = Clock::now();
            product();
            t.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
        }
        std::sort(t.begin(), t.end());
        const double gf = flop / t[t.size() / 2] / 1e9;
        peaks.push_back(pk), rates.push_back(gf), fractions.push_back(gf / pk);
        std::printf("round %d: peak %.1f GFLOP/s, gemm %zu^3 %.1f GFLOP/s, fraction %.3f\n",
                    r + 1, pk, n, gf, gf / pk);
    }
    const auto median = [](std::vector<double> v) {
        std::sort(v.begin(), v.end());
        return v[v.size() / 2];
    };
    std::printf("isa=%s peak_gflops=%.1f gemm_gflops=%.1f fraction=%.3f (medians)\n", isa.c_str(),
                median(peaks), median(rates), median(fractions));
    return 0;
}
#endif

Trans trans_of(char c) { return c == 'T' ? Trans::T : Trans::N; }

}  // namespace

int main(int argc, char** argv) {
    try {
        if (argc >= 11 && std::strcmp(argv[1], "run") == 0) {
            const Trans ta = trans_of(argv[3][0]), tb = trans_of(argv[3][1]);
            const std::size_t m = std::stoul(argv[4]), n = std::stoul(argv[5]), k = std::stoul(argv[6]);
            bpnet::set_num_threads(std::atoi(argv[7]));
            const int reps = std::atoi(argv[8]);
            return std::strcmp(argv[2], "f32") == 0 ? run<float>(ta, tb, m, n, k, reps, argv + 9)
                                                    : run<double>(ta, tb, m, n, k, reps, argv + 9);
        }
#if defined(BPNET_BENCH_DLOPEN)
        if (argc >= 14 && std::strcmp(argv[1], "pair") == 0) {
            const Trans ta = trans_of(argv[3][0]), tb = trans_of(argv[3][1]);
            const std::size_t m = std::stoul(argv[4]), n = std::stoul(argv[5]), k = std::stoul(argv[6]);
            bpnet::set_num_threads(std::atoi(argv[7]));
            const int reps = std::atoi(argv[8]), rounds = std::atoi(argv[9]);
            return std::strcmp(argv[2], "f32") == 0 ? pair<float>(ta, tb, m, n, k, reps, rounds, argv + 10)
                                                    : pair<double>(ta, tb, m, n, k, reps, rounds, argv + 10);
        }
#endif
        if (argc >= 8 && std::strcmp(argv[1], "latency") == 0) {
            const Trans ta = trans_of(argv[3][0]), tb = trans_of(argv[3][1]);
            const std::size_t m = std::stoul(argv[4]), n = std::stoul(argv[5]), k = std::stoul(argv[6]);
            const long calls = std::atol(argv[7]);
            bpnet::set_num_threads(argc >= 9 ? std::atoi(argv[8]) : 1);
            return std::strcmp(argv[2], "f32") == 0 ? latency<float>(ta, tb, m, n, k, calls)
                                                    : latency<double>(ta, tb, m, n, k, calls);
        }
#if defined(BPNET_BENCH_PEAK)
        if (argc >= 5 && std::strcmp(argv[1], "peak") == 0) {
            const std::size_t n = std::stoul(argv[3]);
            const int rounds = std::max(1, std::atoi(argv[4]));
            return std::strcmp(argv[2], "f32") == 0 ? peak<float>(n, rounds)
                                                    : peak<double>(n, rounds);
        }
#endif
    } catch (const std::exception& e) {
        std::fprintf(stderr, "bench_gemm: %s\n", e.what());
        return 1;
    }
    std::fprintf(stderr,
                 "usage: bench_gemm run f32|f64 NN|NT|TN|TT m n k threads reps A B C\n"
                 "       bench_gemm pair f32|f64 NN|NT|TN|TT m n k threads reps rounds BLAS A B C\n"
                 "       bench_gemm latency f32|f64 NN|NT|TN|TT m n k calls [threads]\n"
                 "       bench_gemm peak f32|f64 n rounds\n");
    return 2;
}

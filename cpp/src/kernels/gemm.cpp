// bpnet's gemm entry point: checks the arguments, handles the degenerate cases, and sends the
// product to the small direct path or to the blocked path of the instruction set in use.
#include "gemm.hpp"

#include <cstdlib>
#include <new>
#include <stdexcept>
#include <string>

#include "bpnet/threads.hpp"
#include "dispatch.hpp"
#include "gemm_internal.hpp"

#ifdef BPNET_WITH_OPENMP
#include <omp.h>
#endif

namespace bpnet::kernels {

namespace detail {

namespace {
struct Scratch {
    void* ptr[2] = {nullptr, nullptr};
    std::size_t size[2] = {0, 0};
    ~Scratch() {
        for (void* p : ptr) ::operator delete(p, std::align_val_t(64));
    }
};
}  // namespace

void* scratch(int slot, std::size_t bytes) {
    thread_local Scratch s;
    if (bytes > s.size[slot]) {
        ::operator delete(s.ptr[slot], std::align_val_t(64));
        s.ptr[slot] = nullptr;
        s.size[slot] = 0;
        const std::size_t grown = bytes + bytes / 4;  // some headroom for the next shape
        s.ptr[slot] = ::operator new(grown, std::align_val_t(64));
        s.size[slot] = grown;
    }
    return s.ptr[slot];
}

}  // namespace detail

namespace {

// Products up to this many multiply-adds skip packing: packing costs O(mk + kn) and would
// dominate. Thin products (one or two rows, e.g. predicting one sample) stay direct as well.
constexpr double kSmallMNK = 24.0 * 24.0 * 24.0;
constexpr double kParallelMNK = kParallelMultiplyAdds;

#if defined(__GNUC__)
#define BPNET_COLD __attribute__((noinline, cold))
#else
#define BPNET_COLD
#endif

[[noreturn]] BPNET_COLD void throw_ld(const char* what, std::size_t ld, std::size_t need,
                                      const char* why) {
    throw std::invalid_argument(std::string("gemm: ") + what + " is " + std::to_string(ld) +
                                    ", expected at least " + std::to_string(need) + " (" + why +
                                    ")");
}

inline void check_ld(const char* what, std::size_t ld, std::size_t need, const char* why) {
    if (ld < need) throw_ld(what, ld, need, why);
}

int threads_for(double mnk) {
    if (mnk < kParallelMNK) return 1;
#ifdef BPNET_WITH_OPENMP
    if (omp_in_parallel()) return 1;  // already inside someone's parallel region
    int nt = bpnet::num_threads();
    // at least ~kParallelMNK / 2 multiply-adds per thread
    const int useful = static_cast<int>(mnk / (kParallelMNK / 2));
    return nt < useful ? nt : (useful > 1 ? useful : 1);
#else
    return 1;
#endif
}

template <class T>
void scale_c(std::size_t m, std::size_t n, T beta, T* C, std::size_t ldc) {
    for (std::size_t i = 0; i < m; ++i) {
        T* c = C + i * ldc;
        if (beta == T(0))
            for (std::size_t j = 0; j < n; ++j) c[j] = T(0);
        else if (beta != T(1))
            for (std::size_t j = 0; j < n; ++j) c[j] *= beta;
    }
}

// Tiny products (a few multiply-adds, e.g. 1x3x1 in a 1-3-1 network) cost less than a call
// through the dispatch table: plain loops, here.
constexpr std::size_t kTinyMNK = 64;

// Not vectorised: for a handful of elements the vector set-up costs more than it saves.
#if defined(__GNUC__) && !defined(__clang__)
#define BPNET_NO_VECTORIZE __attribute__((optimize("no-tree-vectorize")))
#else
#define BPNET_NO_VECTORIZE
#endif

template <class T>
BPNET_NO_VECTORIZE void gemm_tiny(const detail::GemmArgs<T>& g) {
    for (std::size_t i = 0; i < g.m; ++i)
        for (std::size_t j = 0; j < g.n; ++j) {
            T s = T(0);
            for (std::size_t p = 0; p < g.k; ++p)
                s += (g.ta == Trans::N ? g.A[i * g.lda + p] : g.A[p * g.lda + i]) *
                     (g.tb == Trans::N ? g.B[p * g.ldb + j] : g.B[j * g.ldb + p]);
            T& c = g.C[i * g.ldc + j];
            c = g.beta == T(0) ? g.alpha * s : g.alpha * s + g.beta * c;
        }
}

}  // namespace

template <class T>
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* A, std::size_t lda, const T* B, std::size_t ldb, T beta, T* C,
          std::size_t ldc, const Epilogue<T>& epi) {
    // A (m, k) or (k, m); B (k, n) or (n, k); C (m, n)
    check_ld("lda", lda, ta == Trans::N ? k : m, ta == Trans::N ? "columns of A" : "columns of Aᵀ");
    check_ld("ldb", ldb, tb == Trans::N ? n : k, tb == Trans::N ? "columns of B" : "columns of Bᵀ");
    check_ld("ldc", ldc, n, "columns of C");
    if (m == 0 || n == 0) return;
    if (k == 0 || alpha == T(0)) {
        scale_c(m, n, beta, C, ldc);
        if (epi.fn) epi.fn(epi.ctx, C, ldc, 0, m, 0, n);
        return;
    }
    detail::GemmArgs<T> g{ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc};
    const double mnk = double(m) * double(n) * double(k);
    if (mnk <= double(kTinyMNK)) {
        gemm_tiny(g);
        if (epi.fn) epi.fn(epi.ctx, C, ldc, 0, m, 0, n);
        return;
    }
    const detail::GemmTable& t = detail::active_gemm_table();
    const bool small = mnk <= kSmallMNK || (g.m <= 2 && g.ta == Trans::N);
    if (small) {
        if constexpr (sizeof(T) == sizeof(float)) t.sgemm_small(g);
        else t.dgemm_small(g);
        if (epi.fn) epi.fn(epi.ctx, C, ldc, 0, m, 0, n);
        return;
    }
    g.epi = epi;  // the blocked path applies it per finished block
    if constexpr (sizeof(T) == sizeof(float))
        t.sgemm_blocked(g, threads_for(mnk));
    else
        t.dgemm_blocked(g, threads_for(mnk));
}

template <class T>
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* A, std::size_t lda, const T* B, std::size_t ldb, T beta, T* C,
          std::size_t ldc) {
    gemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, Epilogue<T>{});
}

template void gemm<float>(Trans, Trans, std::size_t, std::size_t, std::size_t, float,
                          const float*, std::size_t, const float*, std::size_t, float, float*,
                          std::size_t, const Epilogue<float>&);
template void gemm<double>(Trans, Trans, std::size_t, std::size_t, std::size_t, double,
                           const double*, std::size_t, const double*, std::size_t, double,
                           double*, std::size_t, const Epilogue<double>&);
template void gemm<float>(Trans, Trans, std::size_t, std::size_t, std::size_t, float,
                          const float*, std::size_t, const float*, std::size_t, float, float*,
                          std::size_t);
template void gemm<double>(Trans, Trans, std::size_t, std::size_t, std::size_t, double,
                           const double*, std::size_t, const double*, std::size_t, double,
                           double*, std::size_t);

const char* isa_name() { return detail::active_gemm_table().name; }

}  // namespace bpnet::kernels

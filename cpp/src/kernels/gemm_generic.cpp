// Generic gemm kernels: portable C++ that the compiler may auto-vectorise for the baseline
// instruction set. The fallback on every CPU and the only path on non-x86 builds.
// Compiled with -ffp-contract=off so full and edge tiles round identically.
#include "gemm_blocked.hpp"

namespace bpnet::kernels::detail {
namespace {

// MR x NR accumulators fit the 16 SSE registers of baseline x86-64 (2 vectors per row).
template <class TT, std::size_t MR_, std::size_t NR_>
struct GenericKernel {
    using T = TT;
    static constexpr std::size_t MR = MR_, NR = NR_;
    static constexpr std::size_t KC = 256;
    static constexpr std::size_t MC = 1020 / MR * MR;
    static constexpr std::size_t NC = (512 * 1024 / (KC * sizeof(T))) / NR * NR;  // KC x NC = 512 KiB

    static T combine(T alpha, T acc, T beta, T c) { return alpha * acc + beta * c; }

    static void pack_transposed(T* dst, std::size_t ld_dst, const T* src, std::size_t ld_src,
                                std::size_t rows, std::size_t cols) {
        pack_transposed_generic(dst, ld_dst, src, ld_src, rows, cols);
    }

    // c (MR, NR) = alpha * a (kc, MR)ᵀ b (kc, NR) + beta * c
    static void micro_kernel(std::size_t kc, const T* a, const T* b, T* c, std::size_t ldc,
                             T alpha, T beta) {
        T acc[MR][NR] = {};
        for (std::size_t p = 0; p < kc; ++p) {
            const T* ap = a + p * MR;
            const T* bp = b + p * NR;
            for (std::size_t r = 0; r < MR; ++r)
                for (std::size_t j = 0; j < NR; ++j) acc[r][j] += ap[r] * bp[j];
        }
        for (std::size_t r = 0; r < MR; ++r)
            for (std::size_t j = 0; j < NR; ++j)
                c[r * ldc + j] =
                    combine(alpha, acc[r][j], beta, beta == T(0) ? T(0) : c[r * ldc + j]);
    }
};

using KernelF32 = GenericKernel<float, 4, 8>;
using KernelF64 = GenericKernel<double, 4, 4>;

// Scalar "vectors" of one lane for the small direct path (see gemm_small in gemm_blocked.hpp).
template <class TT>
struct Scalar {
    using T = TT;
    using V = TT;
    static constexpr std::size_t W = 1;
    static V zero() { return T(0); }
    static V set1(T x) { return x; }
    static V loadu(const T* p) { return *p; }
    static V load_part(const T* p, std::size_t n) { return n > 0 ? *p : T(0); }
    static void storeu(T* p, V v) { *p = v; }
    static void store_part(T* p, V v, std::size_t n) {
        if (n > 0) *p = v;
    }
    static V fmadd(V a, V b, V c) { return a * b + c; }
    static V mul(V a, V b) { return a * b; }
    static T reduce_add(V v) { return v; }
    static T fma1(T a, T b, T c) { return a * b + c; }
};

void sgemm_blocked(const GemmArgs<float>& g, int nt) { gemm_blocked<KernelF32>(g, nt); }
void sgemm_small(const GemmArgs<float>& g) { gemm_small<Scalar<float>>(g); }
void dgemm_blocked(const GemmArgs<double>& g, int nt) { gemm_blocked<KernelF64>(g, nt); }
void dgemm_small(const GemmArgs<double>& g) { gemm_small<Scalar<double>>(g); }

}  // namespace

extern const GemmTable gemm_table_generic = {"generic", sgemm_blocked, sgemm_small,
                                             dgemm_blocked, dgemm_small};

}  // namespace bpnet::kernels::detail

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
    static constexpr std::size_t SMALL_LANES = 16 / sizeof(T) * 2;

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

void sgemm_blocked(const GemmArgs<float>& g, int nt) { gemm_blocked<KernelF32>(g, nt); }
void sgemm_small(const GemmArgs<float>& g) { gemm_small<KernelF32>(g); }
void dgemm_blocked(const GemmArgs<double>& g, int nt) { gemm_blocked<KernelF64>(g, nt); }
void dgemm_small(const GemmArgs<double>& g) { gemm_small<KernelF64>(g); }

}  // namespace

extern const GemmTable gemm_table_generic = {"generic", sgemm_blocked, sgemm_small,
                                             dgemm_blocked, dgemm_small};

}  // namespace bpnet::kernels::detail

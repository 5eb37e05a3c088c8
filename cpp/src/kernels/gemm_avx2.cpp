// AVX2 + FMA gemm kernels (compiled with -mavx2 -mfma).
//
// Register tile: float 6 x 16 (2 ymm per row), double 6 x 8 (2 ymm per row): 12 accumulators,
// 2 vectors of B, 1 broadcast of A, within the 16 ymm registers.
#include <immintrin.h>

#include "gemm_blocked.hpp"

namespace bpnet::kernels::detail {
namespace {

struct KernelF32 {
    using T = float;
    static constexpr std::size_t MR = 6, NR = 16;
    static constexpr std::size_t KC = 256;
    static constexpr std::size_t NC = 576;  // KC x NC x 4 B = 576 KiB of L2
    static constexpr std::size_t MC = 1020;
    static constexpr std::size_t SMALL_LANES = 16;

    static float combine(float alpha, float acc, float beta, float c) {
        return __builtin_fmaf(alpha, acc, beta * c);
    }

    static void pack_transposed(float* dst, std::size_t ld_dst, const float* src,
                                std::size_t ld_src, std::size_t rows, std::size_t cols) {
        pack_transposed_generic(dst, ld_dst, src, ld_src, rows, cols);
    }

    // c (6, 16) = alpha * a (kc, 6)ᵀ b (kc, 16) + beta * c
    static void micro_kernel(std::size_t kc, const float* a, const float* b, float* c,
                             std::size_t ldc, float alpha, float beta) {
        __m256 acc[MR][2];
#pragma GCC unroll 6
        for (std::size_t r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
        for (std::size_t p = 0; p < kc; ++p) {
            const __m256 b0 = _mm256_load_ps(b + p * NR);
            const __m256 b1 = _mm256_load_ps(b + p * NR + 8);
            const float* ap = a + p * MR;
#pragma GCC unroll 6
            for (std::size_t r = 0; r < MR; ++r) {
                const __m256 av = _mm256_broadcast_ss(ap + r);
                acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
            }
        }
        const __m256 va = _mm256_set1_ps(alpha);
        if (beta == 0.0f) {
#pragma GCC unroll 6
            for (std::size_t r = 0; r < MR; ++r) {
                _mm256_storeu_ps(c + r * ldc, _mm256_mul_ps(va, acc[r][0]));
                _mm256_storeu_ps(c + r * ldc + 8, _mm256_mul_ps(va, acc[r][1]));
            }
        } else {
            const __m256 vb = _mm256_set1_ps(beta);
#pragma GCC unroll 6
            for (std::size_t r = 0; r < MR; ++r) {
                float* cr = c + r * ldc;
                _mm256_storeu_ps(cr, _mm256_fmadd_ps(va, acc[r][0], _mm256_mul_ps(vb, _mm256_loadu_ps(cr))));
                _mm256_storeu_ps(cr + 8, _mm256_fmadd_ps(va, acc[r][1], _mm256_mul_ps(vb, _mm256_loadu_ps(cr + 8))));
            }
        }
    }
};

struct KernelF64 {
    using T = double;
    static constexpr std::size_t MR = 6, NR = 8;
    static constexpr std::size_t KC = 256;
    static constexpr std::size_t NC = 288;  // KC x NC x 8 B = 576 KiB of L2
    static constexpr std::size_t MC = 1020;
    static constexpr std::size_t SMALL_LANES = 8;

    static double combine(double alpha, double acc, double beta, double c) {
        return __builtin_fma(alpha, acc, beta * c);
    }

    static void pack_transposed(double* dst, std::size_t ld_dst, const double* src,
                                std::size_t ld_src, std::size_t rows, std::size_t cols) {
        pack_transposed_generic(dst, ld_dst, src, ld_src, rows, cols);
    }

    // c (6, 8) = alpha * a (kc, 6)ᵀ b (kc, 8) + beta * c
    static void micro_kernel(std::size_t kc, const double* a, const double* b, double* c,
                             std::size_t ldc, double alpha, double beta) {
        __m256d acc[MR][2];
#pragma GCC unroll 6
        for (std::size_t r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_pd();
        for (std::size_t p = 0; p < kc; ++p) {
            const __m256d b0 = _mm256_load_pd(b + p * NR);
            const __m256d b1 = _mm256_load_pd(b + p * NR + 4);
            const double* ap = a + p * MR;
#pragma GCC unroll 6
            for (std::size_t r = 0; r < MR; ++r) {
                const __m256d av = _mm256_broadcast_sd(ap + r);
                acc[r][0] = _mm256_fmadd_pd(av, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_pd(av, b1, acc[r][1]);
            }
        }
        const __m256d va = _mm256_set1_pd(alpha);
        if (beta == 0.0) {
#pragma GCC unroll 6
            for (std::size_t r = 0; r < MR; ++r) {
                _mm256_storeu_pd(c + r * ldc, _mm256_mul_pd(va, acc[r][0]));
                _mm256_storeu_pd(c + r * ldc + 4, _mm256_mul_pd(va, acc[r][1]));
            }
        } else {
            const __m256d vb = _mm256_set1_pd(beta);
#pragma GCC unroll 6
            for (std::size_t r = 0; r < MR; ++r) {
                double* cr = c + r * ldc;
                _mm256_storeu_pd(cr, _mm256_fmadd_pd(va, acc[r][0], _mm256_mul_pd(vb, _mm256_loadu_pd(cr))));
                _mm256_storeu_pd(cr + 4, _mm256_fmadd_pd(va, acc[r][1], _mm256_mul_pd(vb, _mm256_loadu_pd(cr + 4))));
            }
        }
    }
};

void sgemm_blocked(const GemmArgs<float>& g, int nt) { gemm_blocked<KernelF32>(g, nt); }
void sgemm_small(const GemmArgs<float>& g) { gemm_small<KernelF32>(g); }
void dgemm_blocked(const GemmArgs<double>& g, int nt) { gemm_blocked<KernelF64>(g, nt); }
void dgemm_small(const GemmArgs<double>& g) { gemm_small<KernelF64>(g); }

}  // namespace

extern const GemmTable gemm_table_avx2 = {"avx2", sgemm_blocked, sgemm_small, dgemm_blocked,
                                          dgemm_small};

}  // namespace bpnet::kernels::detail

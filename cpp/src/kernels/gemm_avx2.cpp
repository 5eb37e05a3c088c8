// AVX2 + FMA gemm kernels (compiled with -mavx2 -mfma).
//
// Register tile: float 6 x 16 (2 ymm per row), double 6 x 8 (2 ymm per row): 12 accumulators,
// 2 vectors of B, 1 broadcast of A, within the 16 ymm registers. Edge tiles are masked and
// written straight to C (tile_v, 2, 4 or 6 rows); products with few columns take the direct
// driver (no packing of A; see avx2_prefers_direct). Both are gemm_blocked.hpp's, shared with
// the AVX-512 file.
#include <immintrin.h>

#include "gemm_blocked.hpp"

namespace bpnet::kernels::detail {
namespace {

// In-register transposes (8 x 8 floats, 4 x 4 doubles) and lane masks for the packing of
// op(A) = A and op(B) = Bᵀ, where rows of the source become columns of the panel.
inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x20);
        r[i + 4] = _mm256_permute2f128_ps(u[i], u[i + 4], 0x31);
    }
}

inline void transpose4(__m256d r[4]) {
    const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
    const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
    r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
    r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
    r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
    r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}

// All-ones in the first n 32-bit (float) or 64-bit (double) lanes.
inline __m256i lanes32(std::size_t n) {
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n < 8 ? n : 8)), idx);
}
inline __m256i lanes64(std::size_t n) {
    const __m256i idx = _mm256_setr_epi64x(0, 1, 2, 3);
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(static_cast<long long>(n < 4 ? n : 4)), idx);
}

// The first n lanes of v stored with plain 128/64/32-bit stores (n < 8 floats or < 4 doubles);
// nothing past them is written. A masked store (vmaskmov) writes the same values, but AMD's
// Zen cores run it as a slow microcoded sequence: measured here (Zen 4) 18 cycles a store
// against 2 for a plain one, which made the packs and the direct driver's tiles, which store
// every C row masked, up to a quarter slower there.
inline void store_first(float* p, __m256 v, std::size_t n) {
    __m128 h = _mm256_castps256_ps128(v);
    if (n >= 4) {
        _mm_storeu_ps(p, h);
        h = _mm256_extractf128_ps(v, 1);
        p += 4, n -= 4;
    }
    if (n >= 2) {
        _mm_storel_pi(reinterpret_cast<__m64*>(p), h);
        h = _mm_movehl_ps(h, h);
        p += 2, n -= 2;
    }
    if (n > 0) _mm_store_ss(p, h);
}
inline void store_first(double* p, __m256d v, std::size_t n) {
    __m128d h = _mm256_castpd256_pd128(v);
    if (n >= 2) {
        _mm_storeu_pd(p, h);
        h = _mm256_extractf128_pd(v, 1);
        p += 2, n -= 2;
    }
    if (n > 0) _mm_store_sd(p, h);
}

// dst[p*ld_dst + r] = src[r*ld_src + p] for r < rows, p < cols; 0 for rows <= r < ld_dst:
// 8 x 8 (float) or 4 x 4 (double) blocks transposed in registers; at the edges loads are masked
// and stores cut short (store_first), so nothing outside the source rows or the panel is read
// or written.
inline void pack_transposed_f32(float* dst, std::size_t ld_dst, const float* src,
                                std::size_t ld_src, std::size_t rows, std::size_t cols) {
    __m256 v[8];
    for (std::size_t r0 = 0; r0 < ld_dst; r0 += 8) {
        const std::size_t rr = rows > r0 ? (rows - r0 < 8 ? rows - r0 : 8) : 0;
        const std::size_t out = ld_dst - r0 < 8 ? ld_dst - r0 : 8;
        for (std::size_t p0 = 0; p0 < cols; p0 += 8) {
            const std::size_t pp = cols - p0 < 8 ? cols - p0 : 8;
            const __m256i in_mask = lanes32(pp);
            for (std::size_t r = 0; r < 8; ++r)
                v[r] = r >= rr    ? _mm256_setzero_ps()
                       : pp == 8 ? _mm256_loadu_ps(src + (r0 + r) * ld_src + p0)
                                 : _mm256_maskload_ps(src + (r0 + r) * ld_src + p0, in_mask);
            transpose8(v);
            for (std::size_t p = 0; p < pp; ++p) {
                float* d = dst + (p0 + p) * ld_dst + r0;
                if (out == 8) _mm256_storeu_ps(d, v[p]);
                else store_first(d, v[p], out);
            }
        }
    }
}

inline void pack_transposed_f64(double* dst, std::size_t ld_dst, const double* src,
                                std::size_t ld_src, std::size_t rows, std::size_t cols) {
    __m256d v[4];
    for (std::size_t r0 = 0; r0 < ld_dst; r0 += 4) {
        const std::size_t rr = rows > r0 ? (rows - r0 < 4 ? rows - r0 : 4) : 0;
        const std::size_t out = ld_dst - r0 < 4 ? ld_dst - r0 : 4;
        for (std::size_t p0 = 0; p0 < cols; p0 += 4) {
            const std::size_t pp = cols - p0 < 4 ? cols - p0 : 4;
            const __m256i in_mask = lanes64(pp);
            for (std::size_t r = 0; r < 4; ++r)
                v[r] = r >= rr    ? _mm256_setzero_pd()
                       : pp == 4 ? _mm256_loadu_pd(src + (r0 + r) * ld_src + p0)
                                 : _mm256_maskload_pd(src + (r0 + r) * ld_src + p0, in_mask);
            transpose4(v);
            for (std::size_t p = 0; p < pp; ++p) {
                double* d = dst + (p0 + p) * ld_dst + r0;
                if (out == 4) _mm256_storeu_pd(d, v[p]);
                else store_first(d, v[p], out);
            }
        }
    }
}

// Vector types of the small direct path (gemm_small) and of the direct driver's and the edge
// tiles (tile_v), all in gemm_blocked.hpp. A mask (M) keeps its lane count too: a whole vector
// is loaded and stored plainly, a part is loaded masked (vmaskmov, which touches no lane
// outside the mask) and stored with store_first, so no edge reads or writes past a row.
struct LaneMask {  // the M of VecF32 and VecF64
    __m256i lanes;  // all-ones in the first n lanes
    std::size_t n;  // lanes set, at most W
};
inline __m256i lane_mask32(std::size_t n) {  // lanes < n of 8 x 32 bit set
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(int(n)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline __m256i lane_mask64(std::size_t n) {  // lanes < n of 4 x 64 bit set
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(static_cast<long long>(n)), _mm256_setr_epi64x(0, 1, 2, 3));
}

struct VecF32 {
    using T = float;
    using V = __m256;
    static constexpr std::size_t W = 8;
    static V zero() { return _mm256_setzero_ps(); }
    static V set1(T x) { return _mm256_set1_ps(x); }
    static V loadu(const T* p) { return _mm256_loadu_ps(p); }
    static V load_part(const T* p, std::size_t n) { return _mm256_maskload_ps(p, lane_mask32(n)); }
    static void storeu(T* p, V v) { _mm256_storeu_ps(p, v); }
    static void store_part(T* p, V v, std::size_t n) {
        if (n >= W) storeu(p, v);
        else store_first(p, v, n);
    }
    static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static T reduce_add(V v) {
        __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        s = _mm_add_ps(s, _mm_movehl_ps(s, s));
        s = _mm_add_ss(s, _mm_movehdup_ps(s));
        return _mm_cvtss_f32(s);
    }
    static T fma1(T a, T b, T c) { return __builtin_fmaf(a, b, c); }
    using M = LaneMask;
    static M mask(std::size_t n) { return {lane_mask32(n < W ? n : W), n < W ? n : W}; }
    static V load_mask(M m, const T* p) { return m.n == W ? loadu(p) : _mm256_maskload_ps(p, m.lanes); }
    static void store_mask(T* p, M m, V v) { store_part(p, v, m.n); }
};

struct VecF64 {
    using T = double;
    using V = __m256d;
    static constexpr std::size_t W = 4;
    static V zero() { return _mm256_setzero_pd(); }
    static V set1(T x) { return _mm256_set1_pd(x); }
    static V loadu(const T* p) { return _mm256_loadu_pd(p); }
    static V load_part(const T* p, std::size_t n) { return _mm256_maskload_pd(p, lane_mask64(n)); }
    static void storeu(T* p, V v) { _mm256_storeu_pd(p, v); }
    static void store_part(T* p, V v, std::size_t n) {
        if (n >= W) storeu(p, v);
        else store_first(p, v, n);
    }
    static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
    static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
    static T reduce_add(V v) {
        __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
    }
    static T fma1(T a, T b, T c) { return __builtin_fma(a, b, c); }
    using M = LaneMask;
    static M mask(std::size_t n) { return {lane_mask64(n < W ? n : W), n < W ? n : W}; }
    static V load_mask(M m, const T* p) { return m.n == W ? loadu(p) : _mm256_maskload_pd(p, m.lanes); }
    static void store_mask(T* p, M m, V v) { store_part(p, v, m.n); }
};

// The micro-kernels' k-loop: four steps per trip, each step prefetching B (one 64-byte line
// a step in both precisions) and A kPfSteps steps ahead; the C tile's rows are prefetched
// before the loop. Against the plain loop, in-process and alternated (float, one thread,
// 21 rounds): 1024² +3%, 2048×2048×1024 +12%, 512² and 128×784×256 +9-13%. Paired with
// OpenBLAS's Haswell kernels (bench_gemm pair, OPENBLAS_CORETYPE=Haswell, one thread), old
// and new alternated: 0.78-0.95 -> 0.91-1.01 on 1024², 2048² and the training shapes, both
// precisions. Same FMAs in the same order: the same bits. (Prefetches past the panels' ends
// are harmless.)
constexpr std::size_t kPfSteps = 16;

template <class T>
inline void prefetch_tile(const T* c, std::size_t ldc, std::size_t rows, std::size_t row_bytes) {
    for (std::size_t r = 0; r < rows; ++r) {
        const char* row = reinterpret_cast<const char*>(c + r * ldc);
        _mm_prefetch(row, _MM_HINT_T0);
        _mm_prefetch(row + row_bytes - 1, _MM_HINT_T0);
    }
}

template <class Step>
__attribute__((always_inline)) inline void k_loop4(std::size_t kc, const Step& step) {
    std::size_t p = 0;
    for (; p + 4 <= kc; p += 4) {
        step(p);
        step(p + 1);
        step(p + 2);
        step(p + 3);
    }
    for (; p < kc; ++p) step(p);
}

// Where the direct driver (gemm_blocked.hpp) beats packing on AVX2: products with few columns
// (n <= 4 NR: a layer of up to 64 float or 32 double units, a 10-class output layer's δ
// products) and the ∂C/∂W product of a small output layer (Aᵀ in memory, m <= 2 MR, in double
// only up to tn_max_n columns). In one process, against the packed path with the same masked
// edge tiles, alternated, one thread:
//   - NN / NT 200 x 10 x 100 1.5-1.8x; NN 200 x 16..40 x 100 (float) 1.1-1.5x; NT 128 x 16 x
//     784 1.4x; TN 10 x n x 200 1.35-2.1x in float (n = 40..256), 1.16-1.34x in double for
//     n <= 100;
//   - but double's NN 200 x 64 x 100, NT 200 x 100 x 64 and 256³ 0.86-0.91x (its 6 x 8 tiles
//     read six rows of A in place, with no prefetch), TN 10 x 128..256 x k in double
//     0.90-0.97x, 12-row products with a long row of B 0.76-0.97x (vmaskmov loads of B in
//     place cost what AVX-512's masked loads do not), TN with 16-100 rows 0.88-1.0x; float's
//     100-256-column products measured level (0.99-1.03x).
template <std::size_t MR, std::size_t NR, std::size_t tn_max_n>
bool avx2_prefers_direct(std::size_t m, std::size_t n, std::size_t k, Trans ta) {
    if (k < kDirectMinK) return false;
    return ta == Trans::N ? n <= 4 * NR : m <= 2 * MR && n <= tn_max_n;
}

// The packed B block (KC x NC) is 256 KiB in both precisions: half the L2 of AMD Zen 2/3
// (512 KiB), the commonest CPUs that run this path (they have no AVX-512). It was 576 KiB,
// tuned on 1 MiB-L2 VMs that run this path only when forced (BPNET_ISA=avx2); there, paired
// with OpenBLAS's Haswell kernels and alternated (twelfth session, Zen 4), 256 KiB measured
// the same within 1-2% on 1024², 2048² and a 784-256 layer's products (NC 128 / 64, 128
// KiB, lost up to 3% in double). NC does not change any element's bits (KC does).
struct KernelF32 {
    using T = float;
    static constexpr std::size_t MR = 6, NR = 16;
    static constexpr std::size_t KC = 256;
    static constexpr std::size_t NC = 256;  // KC x NC x 4 B = 256 KiB of L2
    static constexpr std::size_t MC = 1020;

    static float combine(float alpha, float acc, float beta, float c) {
        return __builtin_fmaf(alpha, acc, beta * c);
    }

    static void pack_transposed(float* dst, std::size_t ld_dst, const float* src,
                                std::size_t ld_src, std::size_t rows, std::size_t cols) {
        pack_transposed_f32(dst, ld_dst, src, ld_src, rows, cols);
    }

    // The direct driver's tiles (tile_v): one or two vectors of B per row, as nr needs.
    template <bool AN, bool BD>
    static void tile_nr(std::size_t kc, const float* a, std::size_t sa, const float* b,
                        std::size_t sb, float* c, std::size_t ldc, float alpha, float beta,
                        std::size_t mr, std::size_t nr) {
        if (nr <= 8) tile_rows<VecF32, MR, 1, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
        else tile_rows<VecF32, MR, 2, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
    }

    static bool prefers_direct(std::size_t m, std::size_t n, std::size_t k, Trans ta) {
        // (576: the NC of the measurements above, as the bound of float's TN products)
        return avx2_prefers_direct<MR, NR, 576>(m, n, k, ta);
    }

    // Edge tile of the packed path, straight to C (masked).
    static void edge_kernel(std::size_t kc, const float* a, const float* b, float* c,
                            std::size_t ldc, float alpha, float beta, std::size_t mr,
                            std::size_t nr) {
        tile_nr<false, false>(kc, a, MR, b, NR, c, ldc, alpha, beta, mr, nr);
    }

    // c (6, 16) = alpha * a (kc, 6)ᵀ b (kc, 16) + beta * c
    static void micro_kernel(std::size_t kc, const float* a, const float* b, float* c,
                             std::size_t ldc, float alpha, float beta) {
        __m256 acc[MR][2];
        prefetch_tile(c, ldc, MR, NR * sizeof(float));
#pragma GCC unroll 6
        for (std::size_t r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_ps();
        const auto step = [&](std::size_t p) __attribute__((always_inline)) {
            _mm_prefetch(reinterpret_cast<const char*>(b + (p + kPfSteps) * NR), _MM_HINT_T0);
            if (p % 2 == 0)  // (A: 24 bytes a step)
                _mm_prefetch(reinterpret_cast<const char*>(a + (p + kPfSteps) * MR), _MM_HINT_T0);
            const __m256 b0 = _mm256_load_ps(b + p * NR);
            const __m256 b1 = _mm256_load_ps(b + p * NR + 8);
            const float* ap = a + p * MR;
#pragma GCC unroll 6
            for (std::size_t r = 0; r < MR; ++r) {
                const __m256 av = _mm256_broadcast_ss(ap + r);
                acc[r][0] = _mm256_fmadd_ps(av, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_ps(av, b1, acc[r][1]);
            }
        };
        k_loop4(kc, step);
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
    static constexpr std::size_t NC = 128;  // KC x NC x 8 B = 256 KiB of L2
    static constexpr std::size_t MC = 1020;

    static double combine(double alpha, double acc, double beta, double c) {
        return __builtin_fma(alpha, acc, beta * c);
    }

    static void pack_transposed(double* dst, std::size_t ld_dst, const double* src,
                                std::size_t ld_src, std::size_t rows, std::size_t cols) {
        pack_transposed_f64(dst, ld_dst, src, ld_src, rows, cols);
    }

    template <bool AN, bool BD>
    static void tile_nr(std::size_t kc, const double* a, std::size_t sa, const double* b,
                        std::size_t sb, double* c, std::size_t ldc, double alpha, double beta,
                        std::size_t mr, std::size_t nr) {
        if (nr <= 4) tile_rows<VecF64, MR, 1, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
        else tile_rows<VecF64, MR, 2, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
    }

    static bool prefers_direct(std::size_t m, std::size_t n, std::size_t k, Trans ta) {
        return avx2_prefers_direct<MR, NR, 96>(m, n, k, ta);
    }

    static void edge_kernel(std::size_t kc, const double* a, const double* b, double* c,
                            std::size_t ldc, double alpha, double beta, std::size_t mr,
                            std::size_t nr) {
        tile_nr<false, false>(kc, a, MR, b, NR, c, ldc, alpha, beta, mr, nr);
    }

    // c (6, 8) = alpha * a (kc, 6)ᵀ b (kc, 8) + beta * c
    static void micro_kernel(std::size_t kc, const double* a, const double* b, double* c,
                             std::size_t ldc, double alpha, double beta) {
        __m256d acc[MR][2];
        prefetch_tile(c, ldc, MR, NR * sizeof(double));
#pragma GCC unroll 6
        for (std::size_t r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_pd();
        const auto step = [&](std::size_t p) __attribute__((always_inline)) {
            _mm_prefetch(reinterpret_cast<const char*>(b + (p + kPfSteps) * NR), _MM_HINT_T0);
            _mm_prefetch(reinterpret_cast<const char*>(a + (p + kPfSteps) * MR), _MM_HINT_T0);
            const __m256d b0 = _mm256_load_pd(b + p * NR);
            const __m256d b1 = _mm256_load_pd(b + p * NR + 4);
            const double* ap = a + p * MR;
#pragma GCC unroll 6
            for (std::size_t r = 0; r < MR; ++r) {
                const __m256d av = _mm256_broadcast_sd(ap + r);
                acc[r][0] = _mm256_fmadd_pd(av, b0, acc[r][0]);
                acc[r][1] = _mm256_fmadd_pd(av, b1, acc[r][1]);
            }
        };
        k_loop4(kc, step);
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

void sgemm_blocked(const GemmArgs<float>& g, int nt) { blocked_or_direct<KernelF32, KernelF32>(g, nt); }
void sgemm_small(const GemmArgs<float>& g) { gemm_small<VecF32>(g); }
void dgemm_blocked(const GemmArgs<double>& g, int nt) { blocked_or_direct<KernelF64, KernelF64>(g, nt); }
void dgemm_small(const GemmArgs<double>& g) { gemm_small<VecF64>(g); }

}  // namespace

extern const GemmTable gemm_table_avx2 = {"avx2", sgemm_blocked, sgemm_small, dgemm_blocked,
                                          dgemm_small};

}  // namespace bpnet::kernels::detail

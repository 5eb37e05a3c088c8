// AVX-512 gemm kernels (compiled with -mavx512f -mavx512dq -mavx512vl -mavx512bw -mfma).
//
// Register tile: float 12 x 32 (2 zmm per row), double 12 x 16 (2 zmm per row): 24
// accumulators, 2 vectors of B, 1 broadcast of A per row and step. The packed paths of float
// and double (KernelF32Wide, KernelF64Wide) use 8 x 48 and 8 x 24 (3 zmm per row), the same
// 24 accumulators with fewer loads. Blocks: the A micro-panel (MR x KC) stays in L1, the
// packed B block (KC x NC) in the 1 MiB L2, the packed A block (MC x KC) in L3.
#include <immintrin.h>

#include "gemm_blocked.hpp"

namespace bpnet::kernels::detail {
namespace {

inline __mmask16 mask16(std::size_t n) {
    return n >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << n) - 1u);
}

inline __mmask8 mask8(std::size_t n) {
    return n >= 8 ? __mmask8(0xFF) : __mmask8((1u << n) - 1u);
}

// Vector types of the small direct path (see gemm_small in gemm_blocked.hpp).
struct VecF32 {
    using T = float;
    using V = __m512;
    static constexpr std::size_t W = 16;
    static V zero() { return _mm512_setzero_ps(); }
    static V set1(T x) { return _mm512_set1_ps(x); }
    static V loadu(const T* p) { return _mm512_loadu_ps(p); }
    static V load_part(const T* p, std::size_t n) { return _mm512_maskz_loadu_ps(mask16(n), p); }
    static void storeu(T* p, V v) { _mm512_storeu_ps(p, v); }
    static void store_part(T* p, V v, std::size_t n) { _mm512_mask_storeu_ps(p, mask16(n), v); }
    static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
    static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
    static T reduce_add(V v) { return _mm512_reduce_add_ps(v); }
    static T fma1(T a, T b, T c) { return __builtin_fmaf(a, b, c); }
    // out[q] = Σ lanes of acc[q], q < 8: 512 → 256 bits, then a horizontal-add tree.
    static void reduce8(const V* acc, T* out) {
        __m256 h[8];
        for (int q = 0; q < 8; ++q)
            h[q] = _mm256_add_ps(_mm512_castps512_ps256(acc[q]),
                                 _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[q]), 1)));
        const __m256 p01 = _mm256_hadd_ps(h[0], h[1]), p23 = _mm256_hadd_ps(h[2], h[3]);
        const __m256 p45 = _mm256_hadd_ps(h[4], h[5]), p67 = _mm256_hadd_ps(h[6], h[7]);
        const __m256 g0 = _mm256_hadd_ps(p01, p23), g1 = _mm256_hadd_ps(p45, p67);
        _mm256_storeu_ps(out, _mm256_add_ps(_mm256_permute2f128_ps(g0, g1, 0x20),
                                            _mm256_permute2f128_ps(g0, g1, 0x31)));
    }
    using M = __mmask16;
    static M mask(std::size_t n) { return mask16(n); }
    static V load_mask(M m, const T* p) { return _mm512_maskz_loadu_ps(m, p); }
    static void store_mask(T* p, M m, V v) { _mm512_mask_storeu_ps(p, m, v); }
};

struct VecF64 {
    using T = double;
    using V = __m512d;
    static constexpr std::size_t W = 8;
    static V zero() { return _mm512_setzero_pd(); }
    static V set1(T x) { return _mm512_set1_pd(x); }
    static V loadu(const T* p) { return _mm512_loadu_pd(p); }
    static V load_part(const T* p, std::size_t n) { return _mm512_maskz_loadu_pd(mask8(n), p); }
    static void storeu(T* p, V v) { _mm512_storeu_pd(p, v); }
    static void store_part(T* p, V v, std::size_t n) { _mm512_mask_storeu_pd(p, mask8(n), v); }
    static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
    static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
    static T reduce_add(V v) { return _mm512_reduce_add_pd(v); }
    static T fma1(T a, T b, T c) { return __builtin_fma(a, b, c); }
    // out[q] = Σ lanes of acc[q], q < 8: a tree of unpacks and 128-bit lane shuffles.
    static void reduce8(const V* acc, T* out) {
        __m512d t[4];
        for (int q = 0; q < 4; ++q)
            t[q] = _mm512_add_pd(_mm512_unpacklo_pd(acc[2 * q], acc[2 * q + 1]),
                                 _mm512_unpackhi_pd(acc[2 * q], acc[2 * q + 1]));
        const __m512d u0 = _mm512_add_pd(_mm512_shuffle_f64x2(t[0], t[1], 0x88),
                                         _mm512_shuffle_f64x2(t[0], t[1], 0xdd));
        const __m512d u1 = _mm512_add_pd(_mm512_shuffle_f64x2(t[2], t[3], 0x88),
                                         _mm512_shuffle_f64x2(t[2], t[3], 0xdd));
        _mm512_storeu_pd(out, _mm512_add_pd(_mm512_shuffle_f64x2(u0, u1, 0x88),
                                            _mm512_shuffle_f64x2(u0, u1, 0xdd)));
    }
    using M = __mmask8;
    static M mask(std::size_t n) { return mask8(n); }
    static V load_mask(M m, const T* p) { return _mm512_maskz_loadu_pd(m, p); }
    static void store_mask(T* p, M m, V v) { _mm512_mask_storeu_pd(p, m, v); }
};

// Half-width (256-bit, AVX-512VL masks) vectors for the narrow tiles of a product's last few
// columns (at most 8 floats or 4 doubles): a 512-bit tile there computes mostly lanes it
// throws away, and CPUs that split 512-bit FMAs into two 256-bit halves (AMD Zen 4) pay for
// every lane. An element's FMA chain and epilogue are the same whatever the width: same bits.
struct VecF32x8 {
    using T = float;
    using V = __m256;
    using M = __mmask8;
    static constexpr std::size_t W = 8;
    static V zero() { return _mm256_setzero_ps(); }
    static V set1(T x) { return _mm256_set1_ps(x); }
    static V loadu(const T* p) { return _mm256_loadu_ps(p); }
    static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
    static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
    static M mask(std::size_t n) { return mask8(n); }
    static V load_mask(M m, const T* p) { return _mm256_maskz_loadu_ps(m, p); }
    static void store_mask(T* p, M m, V v) { _mm256_mask_storeu_ps(p, m, v); }
};

struct VecF64x4 {
    using T = double;
    using V = __m256d;
    using M = __mmask8;
    static constexpr std::size_t W = 4;
    static V zero() { return _mm256_setzero_pd(); }
    static V set1(T x) { return _mm256_set1_pd(x); }
    static V loadu(const T* p) { return _mm256_loadu_pd(p); }
    static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
    static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
    static M mask(std::size_t n) { return n >= 4 ? M(0xF) : M((1u << n) - 1u); }
    static V load_mask(M m, const T* p) { return _mm256_maskz_loadu_pd(m, p); }
    static void store_mask(T* p, M m, V v) { _mm256_mask_storeu_pd(p, m, v); }
};


// The packed path's micro-kernels are written in assembly. Compiled from intrinsics, GCC's
// float64 loop shuffled its live registers with copies and spilled one accumulator to the
// stack per trip (fourth session, on the 12-row tiles of that time: the asm was 3-10% faster
// in float64 and 0-15% in float32). Written out, a step is the loads of B, the broadcasts of A
// and the FMAs and nothing else, with software prefetches eight steps ahead: of A, whose
// micro-panel is partly evicted from L1 by the B panels streaming past, and of B. Each
// accumulator is the same sequence of FMAs as the intrinsic loop: the same bits.
// AddressSanitizer does not see inside asm, so sanitizer builds keep the intrinsics.
#if defined(__SANITIZE_ADDRESS__) || defined(BPNET_GEMM_NO_ASM)
#define BPNET_GEMM_ASM 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BPNET_GEMM_ASM 0
#endif
#endif
#ifndef BPNET_GEMM_ASM
#define BPNET_GEMM_ASM 1
#endif

#if BPNET_GEMM_ASM
#define BPNET_ASM_ZERO4(r0, r1, r2, r3)                                                 \
    "vpxorq %%zmm" #r0 ", %%zmm" #r0 ", %%zmm" #r0 "\n\t"                                \
    "vpxorq %%zmm" #r1 ", %%zmm" #r1 ", %%zmm" #r1 "\n\t"                                \
    "vpxorq %%zmm" #r2 ", %%zmm" #r2 ", %%zmm" #r2 "\n\t"                                \
    "vpxorq %%zmm" #r3 ", %%zmm" #r3 ", %%zmm" #r3 "\n\t"
#define BPNET_ASM_PF(base, off) "prefetcht0 " #off "(%[" #base "])\n\t"
#define BPNET_ASM_CLOBBERS                                                                \
    "rax", "r11", "cc", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7",   \
        "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16",       \
        "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25",     \
        "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31"

// The 8-row tiles of the packed paths (KernelF64Wide 8 x 24, KernelF32Wide 8 x 48): 3 vectors
// of B and 8 broadcasts of A per step, accumulators zmm 3r..3r+2 for row r, B in zmm24-26,
// broadcasts rotating through zmm27-31. sfx: "d" (double) or "s" (float); es: element size.
#define BPNET_ASM8_ROW(sfx, es, ao, r, t, c0, c1, c2)                                   \
    "vbroadcasts" sfx " " #ao "+" #es "*" #r "(%[a]), %%zmm" #t "\n\t"                  \
    "vfmadd231p" sfx " %%zmm24, %%zmm" #t ", %%zmm" #c0 "\n\t"                          \
    "vfmadd231p" sfx " %%zmm25, %%zmm" #t ", %%zmm" #c1 "\n\t"                          \
    "vfmadd231p" sfx " %%zmm26, %%zmm" #t ", %%zmm" #c2 "\n\t"
#define BPNET_ASM8_STEP(sfx, es, ao, bo)                                                \
    "vmovap" sfx " " #bo "(%[b]), %%zmm24\n\t"                                          \
    "vmovap" sfx " " #bo "+64(%[b]), %%zmm25\n\t"                                       \
    "vmovap" sfx " " #bo "+128(%[b]), %%zmm26\n\t"                                      \
    BPNET_ASM8_ROW(sfx, es, ao, 0, 27, 0, 1, 2) BPNET_ASM8_ROW(sfx, es, ao, 1, 28, 3, 4, 5) \
    BPNET_ASM8_ROW(sfx, es, ao, 2, 29, 6, 7, 8) BPNET_ASM8_ROW(sfx, es, ao, 3, 30, 9, 10, 11) \
    BPNET_ASM8_ROW(sfx, es, ao, 4, 31, 12, 13, 14)                                        \
    BPNET_ASM8_ROW(sfx, es, ao, 5, 27, 15, 16, 17)                                        \
    BPNET_ASM8_ROW(sfx, es, ao, 6, 28, 18, 19, 20)                                        \
    BPNET_ASM8_ROW(sfx, es, ao, 7, 29, 21, 22, 23)
// Two steps per trip; A and B 8 steps ahead (pf_a: A's prefetches, one per 64 bytes; B:
// 1536 bytes); pf_c: the C prefetch of the first min(8, k/2) trips, one row per trip.
#define BPNET_ASM8_TRIP(sfx, es, pf_a, pf_c)                                            \
    pf_a                                                                                  \
    "prefetcht0 1536(%[b])\n\t"                                                           \
    "prefetcht0 1600(%[b])\n\t"                                                           \
    "prefetcht0 1664(%[b])\n\t"                                                           \
    BPNET_ASM8_STEP(sfx, es, 0, 0)                                                        \
    "prefetcht0 1728(%[b])\n\t"                                                           \
    "prefetcht0 1792(%[b])\n\t"                                                           \
    "prefetcht0 1856(%[b])\n\t"                                                           \
    BPNET_ASM8_STEP(sfx, es, 8*es, 192)                                                   \
    pf_c                                                                                  \
    "add $16*" #es ", %[a]\n\t"                                                           \
    "add $384, %[b]\n\t"
// The k-loop, then alpha broadcast into zmm30 (c_last: the byte offset of a C row's last
// element in the tile). The C prefetches are spread over the first trips, %[cp] stepping by
// %[ldcb] bytes: issued all at once before the loop, they took the fill buffers that the loads
// of B need (C is mostly not in L2; 12-row tiles, spread: 1024² 3-10% faster). Prefetching C
// in the last trips instead, or not at all, measured 0.96-0.98 of this with the 8-row tiles.
#define BPNET_ASM8_LOOP(sfx, es, pf_a, c_last)                                          \
    BPNET_ASM_ZERO4(0, 1, 2, 3) BPNET_ASM_ZERO4(4, 5, 6, 7) BPNET_ASM_ZERO4(8, 9, 10, 11) \
    BPNET_ASM_ZERO4(12, 13, 14, 15) BPNET_ASM_ZERO4(16, 17, 18, 19)                       \
    BPNET_ASM_ZERO4(20, 21, 22, 23)                                                       \
    "mov %[k], %%rax\n\t"                                                                 \
    "shr $1, %%rax\n\t"                                                                   \
    "jz 2f\n\t"                                                                           \
    "mov $8, %%r11\n\t"                                                                   \
    "cmp %%r11, %%rax\n\t"                                                                \
    "cmovb %%rax, %%r11\n\t"                                                              \
    "sub %%r11, %%rax\n\t"                                                                \
    ".p2align 5\n"                                                                        \
    "4:\n\t"                                                                              \
    BPNET_ASM8_TRIP(sfx, es, pf_a,                                                        \
                    "prefetcht0 (%[cp])\n\t"                                              \
                    "prefetcht0 64(%[cp])\n\t"                                            \
                    "prefetcht0 128(%[cp])\n\t"                                           \
                    "prefetcht0 " #c_last "(%[cp])\n\t"                                   \
                    "add %[ldcb], %[cp]\n\t")                                             \
    "dec %%r11\n\t"                                                                       \
    "jnz 4b\n\t"                                                                          \
    "test %%rax, %%rax\n\t"                                                               \
    "jz 2f\n\t"                                                                           \
    ".p2align 5\n"                                                                        \
    "1:\n\t"                                                                              \
    BPNET_ASM8_TRIP(sfx, es, pf_a, "")                                                    \
    "dec %%rax\n\t"                                                                       \
    "jnz 1b\n"                                                                            \
    "2:\n\t"                                                                              \
    "test $1, %[k]\n\t"                                                                   \
    "jz 3f\n\t"                                                                           \
    BPNET_ASM8_STEP(sfx, es, 0, 0)                                                        \
    "3:\n\t"                                                                              \
    "vbroadcasts" sfx " %[alpha], %%zmm30\n\t"
// Epilogues, one row of C (at %[cs], then %[cs] += ldc) per macro, alpha in zmm30 and beta in
// zmm31: beta == 0: c = alpha * acc (C not read); else c = fma(alpha, acc, beta * c). The
// same operations, in the same order, as the intrinsic epilogues and the kernels' combine.
#define BPNET_ASM8_STORE0(sfx, c0, c1, c2)                                              \
    "vmulp" sfx " %%zmm30, %%zmm" #c0 ", %%zmm" #c0 "\n\t"                              \
    "vmulp" sfx " %%zmm30, %%zmm" #c1 ", %%zmm" #c1 "\n\t"                              \
    "vmulp" sfx " %%zmm30, %%zmm" #c2 ", %%zmm" #c2 "\n\t"                              \
    "vmovup" sfx " %%zmm" #c0 ", (%[cs])\n\t"                                           \
    "vmovup" sfx " %%zmm" #c1 ", 64(%[cs])\n\t"                                         \
    "vmovup" sfx " %%zmm" #c2 ", 128(%[cs])\n\t"                                        \
    "add %[ldcb], %[cs]\n\t"
#define BPNET_ASM8_STORE1(sfx, c0, c1, c2)                                              \
    "vmulp" sfx " (%[cs]), %%zmm31, %%zmm24\n\t"                                        \
    "vmulp" sfx " 64(%[cs]), %%zmm31, %%zmm25\n\t"                                      \
    "vmulp" sfx " 128(%[cs]), %%zmm31, %%zmm26\n\t"                                     \
    "vfmadd231p" sfx " %%zmm30, %%zmm" #c0 ", %%zmm24\n\t"                              \
    "vfmadd231p" sfx " %%zmm30, %%zmm" #c1 ", %%zmm25\n\t"                              \
    "vfmadd231p" sfx " %%zmm30, %%zmm" #c2 ", %%zmm26\n\t"                              \
    "vmovup" sfx " %%zmm24, (%[cs])\n\t"                                                \
    "vmovup" sfx " %%zmm25, 64(%[cs])\n\t"                                              \
    "vmovup" sfx " %%zmm26, 128(%[cs])\n\t"                                             \
    "add %[ldcb], %[cs]\n\t"
#define BPNET_ASM8_ROWS(st, sfx)                                                        \
    st(sfx, 0, 1, 2) st(sfx, 3, 4, 5) st(sfx, 6, 7, 8) st(sfx, 9, 10, 11)                 \
    st(sfx, 12, 13, 14) st(sfx, 15, 16, 17) st(sfx, 18, 19, 20) st(sfx, 21, 22, 23)
// The whole tile: c (8, 3 vectors) = alpha * Σ_p a[p*8 + r] b[p*NR + j] + beta * c, p < kc
// (packed panels, 64-byte aligned), written straight to C, ldc elements apart: no trip
// through a buffer. The C tile's rows are prefetched in the first trips of the k-loop.
#define BPNET_ASM8_TILE(T, sfx, es, pf_a, c_last)                                       \
    const std::size_t ldcb = ldc * sizeof(T);                                             \
    const T* cp = c;                                                                      \
    if (beta == T(0))                                                                     \
        asm volatile(BPNET_ASM8_LOOP(sfx, es, pf_a, c_last)                               \
                     BPNET_ASM8_ROWS(BPNET_ASM8_STORE0, sfx)                              \
                     : [a] "+r"(a), [b] "+r"(b), [cp] "+r"(cp), [cs] "+r"(c)              \
                     : [k] "r"(kc), [ldcb] "r"(ldcb), [alpha] "m"(alpha)                  \
                     : BPNET_ASM_CLOBBERS);                                               \
    else                                                                                  \
        asm volatile(BPNET_ASM8_LOOP(sfx, es, pf_a, c_last)                               \
                     "vbroadcasts" sfx " %[beta], %%zmm31\n\t"                            \
                     BPNET_ASM8_ROWS(BPNET_ASM8_STORE1, sfx)                              \
                     : [a] "+r"(a), [b] "+r"(b), [cp] "+r"(cp), [cs] "+r"(c)              \
                     : [k] "r"(kc), [ldcb] "r"(ldcb), [alpha] "m"(alpha), [beta] "m"(beta) \
                     : BPNET_ASM_CLOBBERS);

inline void f64_tile_8x24(std::size_t kc, const double* a, const double* b, double* c,
                          std::size_t ldc, double alpha, double beta) {
    BPNET_ASM8_TILE(double, "d", 8, BPNET_ASM_PF(a, 512) BPNET_ASM_PF(a, 576), 184)
}

inline void f32_tile_8x48(std::size_t kc, const float* a, const float* b, float* c,
                          std::size_t ldc, float alpha, float beta) {
    BPNET_ASM8_TILE(float, "s", 4, BPNET_ASM_PF(a, 256), 188)
}
#undef BPNET_ASM_ZERO4
#undef BPNET_ASM_PF
#undef BPNET_ASM_CLOBBERS
#undef BPNET_ASM8_ROW
#undef BPNET_ASM8_STEP
#undef BPNET_ASM8_TRIP
#undef BPNET_ASM8_LOOP
#undef BPNET_ASM8_STORE0
#undef BPNET_ASM8_STORE1
#undef BPNET_ASM8_ROWS
#undef BPNET_ASM8_TILE
#else
// (sanitizer builds: the same tiles from intrinsics, the same bits)
inline void f64_tile_8x24(std::size_t kc, const double* a, const double* b, double* c,
                          std::size_t ldc, double alpha, double beta) {
    tile_v<VecF64, 8, 3, false, false>(kc, a, 8, b, 24, c, ldc, alpha, beta, 8, 24);
}
inline void f32_tile_8x48(std::size_t kc, const float* a, const float* b, float* c,
                          std::size_t ldc, float alpha, float beta) {
    tile_v<VecF32, 8, 3, false, false>(kc, a, 8, b, 48, c, ldc, alpha, beta, 8, 48);
}
#endif  // BPNET_GEMM_ASM

// ---- float ------------------------------------------------------------------------------

// In-register transpose of 16 rows of 16 floats.
inline void transpose16(__m512 r[16]) {
    __m512 t[16];
    for (int i = 0; i < 16; i += 2) {
        t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 16; i += 4) {
        r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i]), _mm512_castps_pd(t[i + 2])));
        r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
        r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(_mm512_castps_pd(t[i + 1]), _mm512_castps_pd(t[i + 3])));
    }
    for (int i = 0; i < 4; ++i) {
        t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
        t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xdd);
        t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
        t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xdd);
    }
    for (int i = 0; i < 8; ++i) {
        r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
        r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xdd);
    }
}


// The direct driver's kernel (12-row tiles, tile_nr) and the thread cut; the packed path uses
// KernelF32Wide below, which shares KC, the pack and combine.
struct KernelF32 {
    using T = float;
    static constexpr std::size_t MR = 12, NR = 32;
    static constexpr std::size_t KC = 384;
    static constexpr std::size_t NC = 480;  // KC x NC x 4 B = 720 KiB of L2
    // A block MC x KC (3 MiB) lives in L3. B is packed once per MC rows, so up to 2040 rows
    // (a 2048-row product cut between two threads, or 1024-2040 rows on one) pack B once.
    static constexpr std::size_t MC = 2040;

    static float combine(float alpha, float acc, float beta, float c) {
        return __builtin_fmaf(alpha, acc, beta * c);
    }

    // dst[p*ld_dst + r] = src[r*ld_src + p], 16 x 16 blocks transposed in registers.
    static void pack_transposed(float* dst, std::size_t ld_dst, const float* src,
                                std::size_t ld_src, std::size_t rows, std::size_t cols) {
        __m512 v[16];
        for (std::size_t r0 = 0; r0 < ld_dst; r0 += 16) {
            const std::size_t rr = rows > r0 ? blk_min(16, rows - r0) : 0;
            const __mmask16 out_mask = mask16(ld_dst - r0);
            for (std::size_t p0 = 0; p0 < cols; p0 += 16) {
                const std::size_t pp = blk_min(16, cols - p0);
                const __mmask16 in_mask = mask16(pp);
                for (std::size_t r = 0; r < 16; ++r)
                    v[r] = r < rr ? _mm512_maskz_loadu_ps(in_mask, src + (r0 + r) * ld_src + p0)
                                  : _mm512_setzero_ps();
                transpose16(v);
                for (std::size_t p = 0; p < pp; ++p)
                    _mm512_mask_storeu_ps(dst + (p0 + p) * ld_dst + r0, out_mask, v[p]);
            }
        }
    }

    // General tile for the direct (unpacked) driver (see tile_v).
    template <int NV, bool AN, bool BD>
    static void tile(std::size_t kc, const float* a, std::size_t sa, const float* b,
                     std::size_t sb, float* c, std::size_t ldc, float alpha, float beta,
                     std::size_t mr, std::size_t nr) {
        tile_rows<VecF32, MR, NV, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
    }
    template <bool AN, bool BD>
    static void tile_nr(std::size_t kc, const float* a, std::size_t sa, const float* b,
                        std::size_t sb, float* c, std::size_t ldc, float alpha, float beta,
                        std::size_t mr, std::size_t nr) {
        if (nr <= 8) tile_rows<VecF32x8, MR, 1, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
        else if (nr <= 16) tile<1, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
        else tile<2, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
    }
};

// ---- double -----------------------------------------------------------------------------

inline void transpose8(__m512d r[8]) {
    __m512d t[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm512_unpacklo_pd(r[i], r[i + 1]);
        t[i + 1] = _mm512_unpackhi_pd(r[i], r[i + 1]);
    }
    __m512d u[8];
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm512_shuffle_f64x2(t[i], t[i + 2], 0x88);
        u[i + 1] = _mm512_shuffle_f64x2(t[i + 1], t[i + 3], 0x88);
        u[i + 2] = _mm512_shuffle_f64x2(t[i], t[i + 2], 0xdd);
        u[i + 3] = _mm512_shuffle_f64x2(t[i + 1], t[i + 3], 0xdd);
    }
    for (int i = 0; i < 4; ++i) {
        r[i] = _mm512_shuffle_f64x2(u[i], u[i + 4], 0x88);
        r[i + 4] = _mm512_shuffle_f64x2(u[i], u[i + 4], 0xdd);
    }
}

// The direct driver's kernel (12-row tiles, tile_nr) and the thread cut; the packed path uses
// KernelF64Wide below, which shares KC, the packs and combine.
struct KernelF64 {
    using T = double;
    static constexpr std::size_t MR = 12, NR = 16;
    static constexpr std::size_t KC = 256;  // A micro-panel 12 x 256 x 8 B = 24 KiB of L1
    static constexpr std::size_t NC = 320;  // KC x NC x 8 B = 640 KiB of L2
    static constexpr std::size_t MC = 2040;  // A block 4 MiB of L3; see KernelF32
    // The 12-row transposing pack (two 8 x 8 in-register transposes, half of the second wasted)
    // costs about twice a copying pack per element, so on 2 threads a square NN product is cut
    // into row blocks, each thread repeating the cheap pack of B rather than that of A:
    // in-process, alternated, 512^2-1536^2 float64 products 5-17% faster (10 of 11 rounds at
    // 512^2, 11 of 11 at 1024^2), 256^2 (the direct driver) within 1%. float32 (one 16 x 16
    // transpose per 16 rows) measured 0.98-1.03: weight 1 there.
    static constexpr std::size_t transposed_pack_weight = 2;

    static double combine(double alpha, double acc, double beta, double c) {
        return __builtin_fma(alpha, acc, beta * c);
    }

    static void pack_transposed(double* dst, std::size_t ld_dst, const double* src,
                                std::size_t ld_src, std::size_t rows, std::size_t cols) {
        __m512d v[8];
        for (std::size_t r0 = 0; r0 < ld_dst; r0 += 8) {
            const std::size_t rr = rows > r0 ? blk_min(8, rows - r0) : 0;
            const __mmask8 out_mask = mask8(ld_dst - r0);
            for (std::size_t p0 = 0; p0 < cols; p0 += 8) {
                const std::size_t pp = blk_min(8, cols - p0);
                const __mmask8 in_mask = mask8(pp);
                for (std::size_t r = 0; r < 8; ++r)
                    v[r] = r < rr ? _mm512_maskz_loadu_pd(in_mask, src + (r0 + r) * ld_src + p0)
                                  : _mm512_setzero_pd();
                transpose8(v);
                for (std::size_t p = 0; p < pp; ++p)
                    _mm512_mask_storeu_pd(dst + (p0 + p) * ld_dst + r0, out_mask, v[p]);
            }
        }
    }

    template <bool AN, bool BD>
    static void tile_nr(std::size_t kc, const double* a, std::size_t sa, const double* b,
                        std::size_t sb, double* c, std::size_t ldc, double alpha, double beta,
                        std::size_t mr, std::size_t nr) {
        if (nr <= 4) tile_rows<VecF64x4, MR, 1, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
        else if (nr <= 8) tile_rows<VecF64, MR, 1, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
        else tile_rows<VecF64, MR, 2, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
    }
};

// The kernels of the packed path (gemm_blocked): an 8-row register tile, 8 x 24 for double
// (instead of KernelF64's 12 x 16) and 8 x 48 for float (instead of 12 x 32), with the
// epilogue written straight to C from the registers. Per step they load 3 vectors of B and
// broadcast 8 elements of A (11 loads for 24 FMAs, against 14); the A micro-panel (16 / 12
// KiB) leaves more of L1 to the B panels streaming past, and double's transposing pack of A is
// one whole 8 x 8 transpose per 8 steps (float's uses half of a 16 x 16 one). In-process,
// alternated with the 12-row kernels and OpenBLAS (one thread): double 1024³ 5-8% and 2048³
// 3-19% faster, float 1024³ and 2048³ 4-9%. KC is the direct driver's (KernelF64's,
// KernelF32's): each element is the same FMA chain over the same k-slices with the same
// epilogue, so the bits do not depend on which driver or kernel computes it (tested). (NaN
// payloads aside: which input NaN an FMA passes on follows its operand order, which differs
// between tile kinds, here as between the direct driver's full and masked tiles.)
template <class Base, class V, class VH, std::size_t NR_, std::size_t NC_,
          void (*Tile)(std::size_t, const typename V::T*, const typename V::T*, typename V::T*,
                       std::size_t, typename V::T, typename V::T)>
struct KernelWide : Base {
    using T = typename V::T;
    static constexpr std::size_t MR = 8, NR = NR_;
    static constexpr std::size_t KC = Base::KC;  // must stay the direct driver's: same bits
    static constexpr std::size_t NC = NC_;
    static constexpr std::size_t MC = 2040;
    // A transposing pack of A counts twice (KernelF64's weight; float's 8-row pack wastes half
    // of each 16 x 16 transpose), so on 2 threads a square NN product is cut into row blocks,
    // each thread repeating the copying pack of B. float, in-process, 1024² and 2048² on 2
    // threads: 4-6% faster than the 12-row kernel with the column cut, 8-9% with the row cut;
    // double was not re-measured with weight 1.
    static constexpr std::size_t transposed_pack_weight = 2;

    __attribute__((always_inline)) static void micro_kernel(std::size_t kc, const T* a,
                                                           const T* b, T* c, std::size_t ldc,
                                                           T alpha, T beta) {
        Tile(kc, a, b, c, ldc, alpha, beta);
    }

    // Edge tile straight to C, masked; computes a half vector (VH) or 1, 2 or 3 vectors per
    // row as nr needs.
    static void edge_kernel(std::size_t kc, const T* a, const T* b, T* c, std::size_t ldc,
                            T alpha, T beta, std::size_t mr, std::size_t nr) {
        if (nr <= VH::W) tile_rows<VH, MR, 1, false, false>(kc, a, MR, b, NR, c, ldc, alpha, beta, mr, nr);
        else if (nr <= V::W) tile_rows<V, MR, 1, false, false>(kc, a, MR, b, NR, c, ldc, alpha, beta, mr, nr);
        else if (nr <= 2 * V::W) tile_rows<V, MR, 2, false, false>(kc, a, MR, b, NR, c, ldc, alpha, beta, mr, nr);
        else tile_rows<V, MR, 3, false, false>(kc, a, MR, b, NR, c, ldc, alpha, beta, mr, nr);
    }
};
// KC x NC x 8 B = 624 KiB of L2; KC x NC x 4 B = 648 KiB
using KernelF64Wide = KernelWide<KernelF64, VecF64, VecF64x4, 24, 312, f64_tile_8x24>;
using KernelF32Wide = KernelWide<KernelF32, VecF32, VecF32x8, 48, 432, f32_tile_8x48>;

void sgemm_blocked(const GemmArgs<float>& g, int nt) {
    blocked_or_direct<KernelF32, KernelF32Wide>(g, nt);
}
void sgemm_small(const GemmArgs<float>& g) { gemm_small<VecF32>(g); }
void dgemm_blocked(const GemmArgs<double>& g, int nt) {
    blocked_or_direct<KernelF64, KernelF64Wide>(g, nt);
}
void dgemm_small(const GemmArgs<double>& g) { gemm_small<VecF64>(g); }

}  // namespace

extern const GemmTable gemm_table_avx512 = {"avx512", sgemm_blocked, sgemm_small, dgemm_blocked,
                                            dgemm_small};

}  // namespace bpnet::kernels::detail

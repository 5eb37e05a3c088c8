// The BLIS-style gemm driver, written once and compiled once per instruction set.
//
// Included only by gemm_generic.cpp, gemm_avx2.cpp and gemm_avx512.cpp. Every template here is
// instantiated with a kernel-traits type K declared in that file's anonymous namespace, so each
// instruction set gets its own internal copy (no ODR clash between files built with different
// -m flags). Helpers are static for the same reason; no standard-library templates are used.
//
// Row-major. C (m, n) = alpha * op(A) (m, k) * op(B) (k, n) + beta * C.
// K provides:
//   using T;  MR, NR (register tile of C), MC, KC, NC (cache blocks) as static constexpr;
//   micro_kernel(kc, a, b, c, ldc, alpha, beta): one full MR x NR tile,
//       c = alpha * sum_p a[p*MR + r] * b[p*NR + j] + beta * c   (c not read when beta == 0);
//   combine(alpha, acc, beta, c): the same epilogue for one element (for edge tiles), so an
//       element's bits do not depend on where tile boundaries fall (thread-count determinism);
//   pack_transposed(dst, ld_dst, src, ld_src, rows, cols):
//       dst[p*ld_dst + r] = src[r*ld_src + p] for r < rows, p < cols; 0 for rows <= r < ld_dst.
//
// Loop structure (a row-major BLIS: the register tile broadcasts A and loads vectors of B):
//   loop 5: ic over MC rows of C      packed A block (MC x KC) lives in L3/L2
//   loop 4: pc over KC                pack A block
//   loop 3: jc over NC columns of C   pack B block (KC x NC), lives in L2
//   loop 2: ir over MR                A micro-panel (MR x KC) stays in L1 ...
//   loop 1: jr over NR                ... while B micro-panels stream from L2
//   micro-kernel: MR x NR tile of C in registers, one rank-1 update per p.
#pragma once

#include <cstddef>
#include <cstring>

#include "../float_mode.hpp"
#include "gemm_internal.hpp"

#ifdef BPNET_WITH_OPENMP
#include <omp.h>
#endif

namespace bpnet::kernels::detail {

static inline std::size_t blk_min(std::size_t a, std::size_t b) { return a < b ? a : b; }

// Packs the row-major block src (kc rows of `cols` columns, ld_src apart) into W-column
// panels: dst[q*W*kc + p*W + j] = src[p*ld_src + q*W + j], 0 for columns past cols.
// Rows are swept in groups of 8 across all panels: a panel-at-a-time copy reads W elements
// from each of kc rows ld_src apart (a new cache line, and for a long ld_src a new page,
// per row), which made packing B a fifth of a 1024² double product.
template <class T, std::size_t W>
static inline void pack_panels(T* dst, const T* src, std::size_t ld_src, std::size_t kc,
                               std::size_t cols) {
    constexpr std::size_t PB = 8;
    const std::size_t full = cols / W, rem = cols - full * W;
    for (std::size_t p0 = 0; p0 < kc; p0 += PB) {
        const std::size_t pe = blk_min(kc, p0 + PB);
        for (std::size_t q = 0; q < full; ++q) {
            T* d = dst + q * W * kc;
            for (std::size_t p = p0; p < pe; ++p) std::memcpy(d + p * W, src + p * ld_src + q * W, W * sizeof(T));
        }
        if (rem > 0) {
            T* d = dst + full * W * kc;
            for (std::size_t p = p0; p < pe; ++p) {
                const T* s = src + p * ld_src + full * W;
                for (std::size_t j = 0; j < rem; ++j) d[p * W + j] = s[j];
                for (std::size_t j = rem; j < W; ++j) d[p * W + j] = T(0);
            }
        }
    }
}

// Portable transposing pack (the ISA files may provide faster ones).
template <class T>
static inline void pack_transposed_generic(T* dst, std::size_t ld_dst, const T* src,
                                           std::size_t ld_src, std::size_t rows,
                                           std::size_t cols) {
    for (std::size_t p = 0; p < cols; ++p) {
        T* d = dst + p * ld_dst;
        for (std::size_t r = 0; r < rows; ++r) d[r] = src[r * ld_src + p];
        for (std::size_t r = rows; r < ld_dst; ++r) d[r] = T(0);
    }
}

// Packs op(A)(ic:ic+mc, pc:pc+kc) into MR-row micro-panels: panel q holds rows q*MR.., laid out
// p-major (Ap[q*MR*kc + p*MR + r]); rows past mc are zero.
template <class K>
static void pack_a(const GemmArgs<typename K::T>& g, std::size_t ic, std::size_t mc,
                   std::size_t pc, std::size_t kc, typename K::T* Ap) {
    if (g.ta == Trans::T) {  // A (k, m): for fixed p, rows i are contiguous
        pack_panels<typename K::T, K::MR>(Ap, g.A + pc * g.lda + ic, g.lda, kc, mc);
        return;
    }
    for (std::size_t ir = 0; ir < mc; ir += K::MR) {  // A (m, k): row i is contiguous in p
        const std::size_t mr = blk_min(K::MR, mc - ir);
        K::pack_transposed(Ap + ir * kc, K::MR, g.A + (ic + ir) * g.lda + pc, g.lda, mr, kc);
    }
}

// Packs op(B)(pc:pc+kc, jc:jc+nc) into NR-column micro-panels (Bp[q*NR*kc + p*NR + j]);
// columns past nc are zero.
template <class K>
static void pack_b(const GemmArgs<typename K::T>& g, std::size_t pc, std::size_t kc,
                   std::size_t jc, std::size_t nc, typename K::T* Bp) {
    if (g.tb == Trans::N) {  // B (k, n)
        pack_panels<typename K::T, K::NR>(Bp, g.B + pc * g.ldb + jc, g.ldb, kc, nc);
        return;
    }
    for (std::size_t jr = 0; jr < nc; jr += K::NR) {  // B (n, k): column j of op(B) is row j of B
        const std::size_t nr = blk_min(K::NR, nc - jr);
        K::pack_transposed(Bp + jr * kc, K::NR, g.B + (jc + jr) * g.ldb + pc, g.ldb, nr, kc);
    }
}

// Whether K has edge_kernel(kc, a, b, c, ldc, alpha, beta, mr, nr): an edge tile written
// straight to C (masked), with the same bits as micro_kernel and combine would give.
template <class K, class = void>
struct HasEdgeKernel {
    static constexpr bool value = false;
};
template <class K>
struct HasEdgeKernel<K, decltype(void(&K::edge_kernel))> {
    static constexpr bool value = true;
};

// C (mc, nc) = alpha * Ap Bp + beta * C, over packed blocks.
template <class K>
static void macro_kernel(std::size_t mc, std::size_t nc, std::size_t kc, typename K::T alpha,
                         const typename K::T* Ap, const typename K::T* Bp, typename K::T beta,
                         typename K::T* C, std::size_t ldc) {
    using T = typename K::T;
    alignas(64) T tile[K::MR * K::NR];
    // loop 2: ir over MR
    for (std::size_t ir = 0; ir < mc; ir += K::MR) {
        const std::size_t mr = blk_min(K::MR, mc - ir);
        const T* a = Ap + ir * kc;
        // loop 1: jr over NR
        for (std::size_t jr = 0; jr < nc; jr += K::NR) {
            const std::size_t nr = blk_min(K::NR, nc - jr);
            const T* b = Bp + jr * kc;
            T* c = C + ir * ldc + jr;
            if (mr == K::MR && nr == K::NR) {
                K::micro_kernel(kc, a, b, c, ldc, alpha, beta);
            } else if constexpr (HasEdgeKernel<K>::value) {
                K::edge_kernel(kc, a, b, c, ldc, alpha, beta, mr, nr);
            } else {  // edge tile: full tile into a buffer, then the same epilogue per element
                K::micro_kernel(kc, a, b, tile, K::NR, T(1), T(0));
                for (std::size_t i = 0; i < mr; ++i)
                    for (std::size_t j = 0; j < nr; ++j)
                        c[i * ldc + j] = K::combine(alpha, tile[i * K::NR + j], beta,
                                                    beta == T(0) ? T(0) : c[i * ldc + j]);
            }
        }
    }
}

// Block size for `len` elements with at most `max_blk` per block: the blocks are made about
// equal (a multiple of `unit`) so no block is a thin remainder (a 2048-row A in blocks of
// 1008 would leave 32 rows that repack all of B).
static inline std::size_t balanced_block(std::size_t len, std::size_t max_blk, std::size_t unit) {
    const std::size_t blocks = (len + max_blk - 1) / max_blk;
    const std::size_t per = (len + blocks - 1) / blocks;
    return blk_min(max_blk, (per + unit - 1) / unit * unit);
}

// The five loops over the block C(i0:i1, j0:j1), with this thread's packing buffers.
// KC depends on k only, so an element's k-sum is split the same way whatever the block.
template <class K>
static void blocked_range(const GemmArgs<typename K::T>& g, std::size_t i0, std::size_t i1,
                          std::size_t j0, std::size_t j1) {
    using T = typename K::T;
    const std::size_t KC = balanced_block(g.k, K::KC, 1);
    const std::size_t MC = balanced_block(i1 - i0, K::MC, K::MR);
    const std::size_t NC = balanced_block(j1 - j0, K::NC, K::NR);
    T* Ap = static_cast<T*>(scratch(0, MC * KC * sizeof(T)));
    T* Bp = static_cast<T*>(scratch(1, NC * KC * sizeof(T)));
    // loop 5: ic over MC
    for (std::size_t ic = i0; ic < i1; ic += MC) {
        const std::size_t mc = blk_min(MC, i1 - ic);
        // loop 4: pc over KC (beta applies on the first slice only)
        for (std::size_t pc = 0; pc < g.k; pc += KC) {
            const std::size_t kc = blk_min(KC, g.k - pc);
            const T beta = pc == 0 ? g.beta : T(1);
            pack_a<K>(g, ic, mc, pc, kc, Ap);
            // loop 3: jc over NC
            for (std::size_t jc = j0; jc < j1; jc += NC) {
                const std::size_t nc = blk_min(NC, j1 - jc);
                pack_b<K>(g, pc, kc, jc, nc, Bp);
                macro_kernel<K>(mc, nc, kc, g.alpha, Ap, Bp, beta, g.C + ic * g.ldc + jc, g.ldc);
                if (g.epi.fn && pc + kc >= g.k)  // this block of C is final: fused epilogue
                    g.epi.fn(g.epi.ctx, g.C + ic * g.ldc + jc, g.ldc, ic, mc, jc, nc);
            }
        }
    }
}

// How C is cut among threads: into `parts` column blocks (multiples of NR) or row blocks
// (multiples of MR). A thread packs all of op(A) when C is cut into columns and all of op(B)
// when it is cut into rows, so the cut is the one whose repeated packing costs less: the
// operand's size (m·k or k·n), times K::transposed_pack_weight (1 if K has none) when its pack
// transposes (op(A) = A, op(B) = Bᵀ). With weight 1 that is the longer side of C. Block t
// covers panels [t*panels/parts, (t+1)*panels/parts). Any cut gives the same bits.
struct ThreadCut {
    bool split_n;       // column blocks (else row blocks)
    std::size_t panels; // NR-column (or MR-row) panels to share out
    std::size_t parts;  // blocks, one per thread, at most the thread count
};
template <class K, class = void>
struct TransposedPackWeight {
    static constexpr std::size_t value = 1;
};
template <class K>
struct TransposedPackWeight<K, decltype(void(K::transposed_pack_weight))> {
    static constexpr std::size_t value = K::transposed_pack_weight;
};
template <class K>
static ThreadCut thread_cut(const GemmArgs<typename K::T>& g, std::size_t nt) {
    const std::size_t n_panels = (g.n + K::NR - 1) / K::NR;
    const std::size_t m_panels = (g.m + K::MR - 1) / K::MR;
    constexpr double w = double(TransposedPackWeight<K>::value);
    const double repeat_a = double(g.m) * (g.ta == Trans::N ? w : 1.0);  // (times k, as B's)
    const double repeat_b = double(g.n) * (g.tb == Trans::T ? w : 1.0);
    const bool split_n =
        m_panels < nt ? n_panels >= m_panels : n_panels >= nt && repeat_b >= repeat_a;
    const std::size_t panels = split_n ? n_panels : m_panels;
    return {split_n, panels, blk_min(nt, panels)};
}

// block(i0, i1, j0, j1) for each block of the cut, one per thread. Every worker computes with
// the caller's floating-point mode (flush-to-zero during training), so a tile's bits never
// depend on the thread that computed it.
template <class K, class Block>
static void for_each_block(const GemmArgs<typename K::T>& g, const ThreadCut& cut, Block block) {
    const unsigned mode = SameFloatMode::current();
#ifdef BPNET_WITH_OPENMP
#pragma omp parallel for schedule(static) num_threads(static_cast<int>(cut.parts))
#endif
    for (std::size_t t = 0; t < cut.parts; ++t) {
        SameFloatMode same(mode);
        const std::size_t q0 = t * cut.panels / cut.parts, q1 = (t + 1) * cut.panels / cut.parts;
        if (cut.split_n)
            block(std::size_t(0), g.m, q0 * K::NR, blk_min(q1 * K::NR, g.n));
        else
            block(q0 * K::MR, blk_min(q1 * K::MR, g.m), std::size_t(0), g.n);
    }
}

// Blocked gemm; with n_threads > 1, C is cut as thread_cut says. Each thread runs the whole
// k-sum of its block, so every element is computed the same way whatever the thread count.
template <class K>
static void gemm_blocked(const GemmArgs<typename K::T>& g, int n_threads) {
    const std::size_t nt = n_threads > 1 ? static_cast<std::size_t>(n_threads) : 1;
    const ThreadCut cut = thread_cut<K>(g, nt);
    if (cut.parts < 2) {
        blocked_range<K>(g, 0, g.m, 0, g.n);
        return;
    }
    for_each_block<K>(g, cut, [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
        blocked_range<K>(g, i0, i1, j0, j1);
    });
}

// ---- The direct driver (no packing of A) and its register tiles ---------------------------
// Used by the AVX-512 and AVX2 files. K there also provides
//   tile_nr<AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr): tile_rows over as many
//   vectors of B as nr needs.

// General register tile, for both precisions (V: the ISA file's VecF32 or VecF64, W lanes,
// with masks: M, mask(n), load_mask, store_mask): the MR x (W * NV) product, then rows < mr
// and columns < nr stored with the same vector epilogue as the micro-kernels (so an element's
// bits do not depend on the tile it falls in).
//   A: AN ? a[r*sa + p] (rows of a row-major A) : a[p*sa + r] (packed, or Aᵀ in memory);
//      all MR rows must be readable.
//   B: BD ? b[p*sb + j] straight from a row-major B, masked to nr columns : W * NV columns
//      at b[p*sb] (packed: sb = NR; or in place, all of them inside B).
template <class V, std::size_t MR, int NV, bool AN, bool BD>
static inline void tile_v(std::size_t kc, const typename V::T* a, std::size_t sa,
                          const typename V::T* b, std::size_t sb, typename V::T* c,
                          std::size_t ldc, typename V::T alpha, typename V::T beta,
                          std::size_t mr, std::size_t nr) {
    using T = typename V::T;
    constexpr std::size_t W = V::W;
    typename V::V acc[MR][NV];
    typename V::M mk[NV];
    for (int v = 0; v < NV; ++v) mk[v] = V::mask(nr > W * v ? nr - W * v : 0);
#pragma GCC unroll 12
    for (std::size_t r = 0; r < MR; ++r)
        for (int v = 0; v < NV; ++v) acc[r][v] = V::zero();
    for (std::size_t p = 0; p < kc; ++p) {
        typename V::V bv[NV];
        for (int v = 0; v < NV; ++v)
            bv[v] = BD ? V::load_mask(mk[v], b + p * sb + W * v) : V::loadu(b + p * sb + W * v);
#pragma GCC unroll 12
        for (std::size_t r = 0; r < MR; ++r) {
            const auto av = V::set1(AN ? a[r * sa + p] : a[p * sa + r]);
            for (int v = 0; v < NV; ++v) acc[r][v] = V::fmadd(av, bv[v], acc[r][v]);
        }
    }
    const auto va = V::set1(alpha);
    const auto vb = V::set1(beta);
    // (The multiply by alpha stays when alpha == 1: skipping it measured ~3% at k = 10, but
    // under denormals-are-zero without flush-to-zero 1 * acc is not acc for a subnormal acc,
    // and the other tiles multiply, so the bits would depend on the tile, hence on the
    // thread count.)
#pragma GCC unroll 12
    for (std::size_t r = 0; r < MR; ++r) {  // fixed trip count keeps acc in registers
        if (r >= mr) break;
        T* cr = c + r * ldc;
        for (int v = 0; v < NV; ++v) {
            const auto out = beta == T(0)
                                 ? V::mul(va, acc[r][v])
                                 : V::fmadd(va, acc[r][v], V::mul(vb, V::load_mask(mk[v], cr + W * v)));
            V::store_mask(cr + W * v, mk[v], out);
        }
    }
}

// The register-tile height tile_rows takes for mr <= MR rows: the smallest of 2 (for tiles of
// at most 6 rows, AVX2's), 4, 8, 10 (for tiles of 12, AVX-512's) and MR that holds them.
template <std::size_t MR>
constexpr std::size_t tile_height(std::size_t mr) {
    return MR <= 6 && mr <= 2   ? 2
           : MR > 4 && mr <= 4  ? 4
           : MR > 8 && mr <= 8  ? 8
           : MR > 10 && mr <= 10 ? 10
                                 : MR;
}

// tile_v for mr <= MR rows with a register tile of tile_height rows: a product whose row
// count is not a multiple of MR (a 100-row chunk of a batch: 8 panels of 12 and one of 4; the
// 10 rows of ∂C/∂W for a 10-class output layer) computes no rows it throws away. Each element
// is computed the same way whatever the tile height, so the bits do not change.
template <class V, std::size_t MR, int NV, bool AN, bool BD>
static inline void tile_rows(std::size_t kc, const typename V::T* a, std::size_t sa,
                             const typename V::T* b, std::size_t sb, typename V::T* c,
                             std::size_t ldc, typename V::T alpha, typename V::T beta,
                             std::size_t mr, std::size_t nr) {
    if constexpr (BD) {
        // B read in place across its full width: plain loads (same values, same bits); on
        // AVX2 a masked load (vmaskmov) costs more than a load
        if (nr == std::size_t(NV) * V::W)
            return tile_rows<V, MR, NV, AN, false>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
    }
    const std::size_t h = tile_height<MR>(mr);
    if constexpr (MR <= 6)
        if (h == 2) return tile_v<V, 2, NV, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
    if constexpr (MR > 4)
        if (h == 4) return tile_v<V, 4, NV, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
    if constexpr (MR > 8)
        if (h == 8) return tile_v<V, 8, NV, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
    if constexpr (MR > 10)
        if (h == 10) return tile_v<V, 10, NV, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
    tile_v<V, MR, NV, AN, BD>(kc, a, sa, b, sb, c, ldc, alpha, beta, mr, nr);
}

// The direct driver pays where packing A is a large share of the work (k and n modest: each
// A panel is reused across only n / NR tiles) and the whole packed Bᵀ slice (KC x n) stays in
// L2 (n <= NC). B is read in place only when few row panels reuse it (m <= 2 MR): strided rows
// of a wide B cost more in L1/TLB misses than the copy saves.
// Down to k = 8 (a δ product through a 10-unit output layer has k = 10): measured (AVX-512) in one
// process with the order of the variants rotated, NN / NT / TN 100 x 100 x 10 took 16-32% less
// time direct than packed and blocked, NN 200 x 256 x 16 2-7% less; at k = 4 the float64
// product was slower direct.
constexpr std::size_t kDirectMinK = 8;
// K may replace this rule with its own prefers_direct(m, n, k, ta) (AVX2's does).
template <class K, class = void>
struct HasDirectRule {
    static constexpr bool value = false;
};
template <class K>
struct HasDirectRule<K, decltype(void(&K::prefers_direct))> {
    static constexpr bool value = true;
};
template <class K>
static bool direct_ok(std::size_t m, std::size_t n, std::size_t k, Trans ta) {
    if constexpr (HasDirectRule<K>::value)
        return K::prefers_direct(m, n, k, ta);
    else
        return n <= K::NC && k >= kDirectMinK;
}
template <class K>
static bool direct_b(const GemmArgs<typename K::T>& g) {
    return g.tb == Trans::N && g.m <= 2 * K::MR;
}

// Direct driver for mid-size products on one thread: full MR-row panels of A are read where
// they lie (no packing), B too when it is row-major (tb == N); only Bᵀ and the last partial row
// panel are packed. Same KC split and the same per-element arithmetic as gemm_blocked, so the
// bits are those of the blocked path (and of any thread count).
template <class K, bool BD>
static void direct_blocked(const GemmArgs<typename K::T>& g, std::size_t i_base = 0,
                           std::size_t j_base = 0) {
    // g may be a block of a larger product whose C starts at (i_base, j_base) of the whole:
    // the epilogue is told where
    using T = typename K::T;
    const std::size_t KC = balanced_block(g.k, K::KC, 1);
    const std::size_t n_pad = (g.n + K::NR - 1) / K::NR * K::NR;
    T* Ap = static_cast<T*>(scratch(0, K::MR * KC * sizeof(T)));
    T* Bp = BD ? nullptr : static_cast<T*>(scratch(1, n_pad * KC * sizeof(T)));
    for (std::size_t pc = 0; pc < g.k; pc += KC) {
        const std::size_t kc = blk_min(KC, g.k - pc);
        const T beta = pc == 0 ? g.beta : T(1);
        if (!BD) pack_b<K>(g, pc, kc, 0, g.n, Bp);
        for (std::size_t ir = 0; ir < g.m; ir += K::MR) {
            const std::size_t mr = blk_min(K::MR, g.m - ir);
            // Aᵀ in memory (ta == T) is read in place only for a short lda: its MR-element rows
            // lie lda apart, and a long (page-multiple) lda puts them in a few L1 sets.
            // (tile_rows reads tile_height rows: a panel of exactly that many needs no copy)
            const bool whole = tile_height<K::MR>(mr) == mr;
            const bool a_direct = whole && (g.ta == Trans::N || g.lda * sizeof(T) <= 1024);
            if (!a_direct) pack_a<K>(g, ir, mr, pc, kc, Ap);
            for (std::size_t jr = 0; jr < g.n; jr += K::NR) {
                const std::size_t nr = blk_min(K::NR, g.n - jr);
                const T* b = BD ? g.B + pc * g.ldb + jr : Bp + jr * kc;
                const std::size_t sb = BD ? g.ldb : K::NR;
                T* c = g.C + ir * g.ldc + jr;
                if (!a_direct)
                    K::template tile_nr<false, BD>(kc, Ap, K::MR, b, sb, c, g.ldc, g.alpha, beta, mr, nr);
                else if (g.ta == Trans::N)
                    K::template tile_nr<true, BD>(kc, g.A + ir * g.lda + pc, g.lda, b, sb, c, g.ldc,
                                         g.alpha, beta, mr, nr);
                else
                    K::template tile_nr<false, BD>(kc, g.A + pc * g.lda + ir, g.lda, b, sb, c, g.ldc,
                                          g.alpha, beta, mr, nr);
            }
            // these rows of C are final: the fused epilogue runs on them while they are in L1
            if (g.epi.fn && pc + kc >= g.k)
                g.epi.fn(g.epi.ctx, g.C + ir * g.ldc, g.ldc, i_base + ir, mr, j_base, g.n);
        }
    }
}

template <class K>
static void direct(const GemmArgs<typename K::T>& g, std::size_t i_base, std::size_t j_base) {
    if (direct_b<K>(g)) direct_blocked<K, true>(g, i_base, j_base);
    else direct_blocked<K, false>(g, i_base, j_base);
}

// With threads, C is cut as gemm_blocked cuts it (see there), and each thread runs the direct
// driver on its block when the block suits it: no thread packs A at all (A's rows are read in
// place), where gemm_blocked has every thread pack all of op(A) for a column cut. Same bits.
// KB: the kernel of the packed path.
template <class K, class KB>
static void blocked_or_direct(const GemmArgs<typename K::T>& g, int nt) {
    using T = typename K::T;
    static_assert(KB::KC == K::KC, "the drivers must split k alike (same bits)");
    if (nt <= 1) {
        if (direct_ok<K>(g.m, g.n, g.k, g.ta)) direct<K>(g, 0, 0);
        else gemm_blocked<KB>(g, 1);
        return;
    }
    const ThreadCut cut = thread_cut<K>(g, static_cast<std::size_t>(nt));
    // the largest block a thread gets must suit the direct driver
    const std::size_t per = (cut.panels + cut.parts - 1) / cut.parts;
    const std::size_t widest = cut.split_n ? per * K::NR : g.n;
    const std::size_t tallest = cut.split_n ? g.m : per * K::MR;
    // (Aᵀ in memory, the ∂C/∂W product, measured a little faster packed)
    if (cut.parts < 2 || g.ta != Trans::N || !direct_ok<K>(tallest, widest, g.k, g.ta)) {
        gemm_blocked<KB>(g, nt);
        return;
    }
    for_each_block<K>(g, cut, [&](std::size_t i0, std::size_t i1, std::size_t j0, std::size_t j1) {
        GemmArgs<T> b = g;  // the block C(i0:i1, j0:j1) as a product of its own
        b.m = i1 - i0, b.n = j1 - j0;
        b.A = g.ta == Trans::N ? g.A + i0 * g.lda : g.A + i0;
        b.B = g.tb == Trans::N ? g.B + j0 : g.B + j0 * g.ldb;
        b.C = g.C + i0 * g.ldc + j0;
        direct<K>(b, i0, j0);
    });
}

// Direct path for small products: no packing, no allocation, one thread. V is the file's
// vector type: T, V, W (lanes), zero, set1, loadu, load_part(p, n) (lanes >= n read as 0),
// storeu, store_part(p, v, n), fmadd(a, b, c), mul, reduce_add (fixed order).
//   C (m, n) = alpha * op(A) op(B) + beta * C

// tb == N: C(i, j0:j0+4W) accumulates op(A)(i, p) * B(p, j0:j0+4W) in 4 vector registers.
template <class V>
static void small_nn(const GemmArgs<typename V::T>& g) {
    using T = typename V::T;
    constexpr std::size_t W = V::W, CH = 4 * W;
    const auto va = V::set1(g.alpha), vb = V::set1(g.beta);
    for (std::size_t i = 0; i < g.m; ++i) {
        T* c = g.C + i * g.ldc;
        for (std::size_t j0 = 0; j0 < g.n; j0 += CH) {
            const std::size_t w = blk_min(CH, g.n - j0);
            typename V::V acc[4] = {V::zero(), V::zero(), V::zero(), V::zero()};
            if (w == CH) {
                for (std::size_t p = 0; p < g.k; ++p) {
                    const auto a = V::set1(g.ta == Trans::N ? g.A[i * g.lda + p] : g.A[p * g.lda + i]);
                    const T* b = g.B + p * g.ldb + j0;
                    for (std::size_t v = 0; v < 4; ++v) acc[v] = V::fmadd(a, V::loadu(b + v * W), acc[v]);
                }
                for (std::size_t v = 0; v < 4; ++v) {
                    T* cv = c + j0 + v * W;
                    V::storeu(cv, g.beta == T(0) ? V::mul(va, acc[v])
                                                 : V::fmadd(va, acc[v], V::mul(vb, V::loadu(cv))));
                }
            } else {
                std::size_t cnt[4];
                for (std::size_t v = 0; v < 4; ++v)
                    cnt[v] = w > v * W ? blk_min(W, w - v * W) : 0;
                for (std::size_t p = 0; p < g.k; ++p) {
                    const auto a = V::set1(g.ta == Trans::N ? g.A[i * g.lda + p] : g.A[p * g.lda + i]);
                    const T* b = g.B + p * g.ldb + j0;
                    for (std::size_t v = 0; v < 4 && cnt[v] > 0; ++v)
                        acc[v] = V::fmadd(a, V::load_part(b + v * W, cnt[v]), acc[v]);
                }
                for (std::size_t v = 0; v < 4 && cnt[v] > 0; ++v) {
                    T* cv = c + j0 + v * W;
                    V::store_part(cv,
                                  g.beta == T(0)
                                      ? V::mul(va, acc[v])
                                      : V::fmadd(va, acc[v], V::mul(vb, V::load_part(cv, cnt[v]))),
                                  cnt[v]);
                }
            }
        }
    }
}

// Whether V has reduce8(acc, out): the eight horizontal sums of acc[0..7] at once (a shuffle
// tree, much cheaper than eight separate reductions).
template <class V, class = void>
struct HasReduce8 {
    static constexpr bool value = false;
};
template <class V>
struct HasReduce8<V, decltype(void(&V::reduce8))> {
    static constexpr bool value = true;
};

template <class V>
static inline void reduce_each(const typename V::V* acc, typename V::T* out) {
    if constexpr (HasReduce8<V>::value)
        V::reduce8(acc, out);
    else
        for (std::size_t q = 0; q < 8; ++q) out[q] = V::reduce_add(acc[q]);
}

// ta == N, tb == T: C(i, j) = dot(row i of A, row j of B); eight dot products at a time,
// whose horizontal sums reduce_each takes together.
template <class V>
static void small_nt(const GemmArgs<typename V::T>& g) {
    using T = typename V::T;
    constexpr std::size_t W = V::W, Q = 8;
    const std::size_t kv = g.k / W * W, kt = g.k - kv;
    for (std::size_t i = 0; i < g.m; ++i) {
        const T* a = g.A + i * g.lda;
        for (std::size_t j = 0; j < g.n; j += Q) {
            const T* b[Q];
            for (std::size_t q = 0; q < Q; ++q) b[q] = g.B + blk_min(j + q, g.n - 1) * g.ldb;
            typename V::V acc[Q];
            for (std::size_t q = 0; q < Q; ++q) acc[q] = V::zero();
            for (std::size_t p = 0; p < kv; p += W) {
                const auto av = V::loadu(a + p);
                for (std::size_t q = 0; q < Q; ++q) acc[q] = V::fmadd(av, V::loadu(b[q] + p), acc[q]);
            }
            if (kt > 0) {
                const auto av = V::load_part(a + kv, kt);
                for (std::size_t q = 0; q < Q; ++q)
                    acc[q] = V::fmadd(av, V::load_part(b[q] + kv, kt), acc[q]);
            }
            T sum[Q];
            reduce_each<V>(acc, sum);
            const std::size_t nq = blk_min(Q, g.n - j);
            for (std::size_t q = 0; q < nq; ++q) {
                T& c = g.C[i * g.ldc + j + q];
                c = g.beta == T(0) ? g.alpha * sum[q] : V::fma1(g.alpha, sum[q], g.beta * c);
            }
        }
    }
}

template <class V>
static void gemm_small(const GemmArgs<typename V::T>& g) {
    using T = typename V::T;
    if (g.tb == Trans::N) {
        small_nn<V>(g);
    } else if (g.ta == Trans::N) {
        small_nt<V>(g);
    } else {  // TT (rare): plain loops
        for (std::size_t i = 0; i < g.m; ++i)
            for (std::size_t j = 0; j < g.n; ++j) {
                T s = T(0);
                for (std::size_t p = 0; p < g.k; ++p) s += g.A[p * g.lda + i] * g.B[j * g.ldb + p];
                T& c = g.C[i * g.ldc + j];
                c = g.beta == T(0) ? g.alpha * s : V::fma1(g.alpha, s, g.beta * c);
            }
    }
}

}  // namespace bpnet::kernels::detail

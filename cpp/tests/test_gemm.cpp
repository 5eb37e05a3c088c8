// gemm: every instruction-set path this CPU can run against the triple-loop reference, on
// awkward shapes (1x1x1, primes, around multiples of MR, NR, MC, KC, NC), all four transpose
// forms, alpha/beta cases, padded leading dimensions, float and double; argument errors;
// dispatch override; determinism (same call twice, 1 vs 2 threads).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bpnet/threads.hpp"
#include "kernels/dispatch.hpp"
#include "kernels/gemm.hpp"
#include "test_util.hpp"

using bpnet::kernels::Trans;
namespace kd = bpnet::kernels::detail;

namespace {

const char* const kIsas[] = {"generic", "avx2", "avx512"};

template <class T>
std::vector<T> random_vec(std::size_t n, std::mt19937& rng) {
    std::uniform_real_distribution<double> d(-1.0, 1.0);
    std::vector<T> v(n);
    for (auto& x : v) x = static_cast<T>(d(rng));
    return v;
}

struct Shape {
    std::size_t m, n, k;
};

// Runs gemm and gemm_ref on one case and compares; pad adds to every leading dimension.
template <class T>
bool check_case(Trans ta, Trans tb, Shape s, T alpha, T beta, std::size_t pad, std::mt19937& rng,
                const std::string& label) {
    const std::size_t ar = ta == Trans::N ? s.m : s.k, ac = ta == Trans::N ? s.k : s.m;
    const std::size_t br = tb == Trans::N ? s.k : s.n, bc = tb == Trans::N ? s.n : s.k;
    const std::size_t lda = ac + pad, ldb = bc + pad, ldc = s.n + pad;
    auto A = random_vec<T>(ar * lda + 1, rng);
    auto B = random_vec<T>(br * ldb + 1, rng);
    auto C0 = random_vec<T>(s.m * ldc + 1, rng);
    if (beta == T(0))  // beta == 0 must not read C: NaN there must not propagate
        for (auto& x : C0) x = std::numeric_limits<T>::quiet_NaN();
    auto C = C0, R = C0;
    bpnet::kernels::gemm<T>(ta, tb, s.m, s.n, s.k, alpha, A.data(), lda, B.data(), ldb, beta,
                            C.data(), ldc);
    bpnet::kernels::gemm_ref<T>(ta, tb, s.m, s.n, s.k, alpha, A.data(), lda, B.data(), ldb,
                                beta, R.data(), ldc);
    const double eps = std::numeric_limits<T>::epsilon();
    const double tol = 4.0 * eps * (double(s.k) + 2.0) * (std::fabs(double(alpha)) + 1.0);
    for (std::size_t i = 0; i < s.m; ++i)
        for (std::size_t j = 0; j < ldc; ++j) {
            const std::size_t at = i * ldc + j;
            const bool inside = j < s.n;
            const double c = C[at], r = R[at];
            bool ok;
            if (inside)
                ok = std::isfinite(c) && std::fabs(c - r) <= tol;
            else  // padding columns untouched
                ok = std::memcmp(&C[at], &C0[at], sizeof(T)) == 0;
            if (!ok) {
                bpnet_test::fail(__FILE__, __LINE__,
                                 label + " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) +
                                     " k=" + std::to_string(s.k) + " at (" + std::to_string(i) +
                                     "," + std::to_string(j) + "): " + std::to_string(c) + " vs " +
                                     std::to_string(r));
                return false;
            }
        }
    // the element after the last row stays untouched
    CHECK(std::memcmp(&C.back(), &C0.back(), sizeof(T)) == 0 || std::isnan(double(C0.back())));
    return true;
}

std::string form_name(Trans ta, Trans tb) {
    return std::string(ta == Trans::N ? "N" : "T") + (tb == Trans::N ? "N" : "T");
}

const Trans kForms[4][2] = {{Trans::N, Trans::N}, {Trans::N, Trans::T}, {Trans::T, Trans::N},
                            {Trans::T, Trans::T}};

// Shapes that hit every edge of the register tiles and cache blocks of all paths
// (MR 4/6/12, NR 4/8/16/32, KC 192/256/384, NC 128..576, small-path threshold).
template <class T>
void check_isa(const std::string& isa) {
    kd::select_isa(isa);
    CHECK(std::string(bpnet::kernels::isa_name()) == isa);
    std::mt19937 rng(42);
    const Shape shapes[] = {{1, 1, 1},     {1, 3, 1},    {2, 5, 3},     {7, 11, 13},
                            {13, 17, 19},  {5, 100, 64}, {1, 100, 64},  {64, 1, 64},
                            {11, 31, 37},  {12, 32, 40}, {13, 33, 41},  {23, 47, 29},
                            {25, 65, 97},  {6, 16, 300}, {37, 97, 191}, {37, 97, 193},
                            {31, 29, 257}, {29, 31, 385}, {50, 289, 33}, {20, 481, 30},
                            {19, 577, 17}, {128, 70, 20}, {16, 40, 50}, {20, 70, 45},
                            {8, 33, 64},   {4, 17, 40},
                            // AVX-512's packed paths (double: n > 320 or k < 8, MR 8, NR 24,
                            // NC 312; float: n > 480, NR 48, NC 432): partial row panels, NC
                            // blocks ending in 1-column panels
                            {9, 337, 23},  {17, 625, 7}, {23, 335, 300}, {40, 1000, 9},
                            {9, 500, 23},  {13, 915, 390},
                            // AVX2's direct driver and edge tiles (MR 6: tiles of 2, 4 and 6
                            // rows; direct for n <= 64 float / 32 double, or TN with m <= 12)
                            {8, 17, 300},  {11, 289, 260}, {10, 577, 9}, {3, 200, 130},
                            // AVX2's NC (256 float, 128 double): one column past a block
                            {13, 257, 70}, {11, 129, 50}, {7, 385, 40}};
    for (auto& f : kForms)
        for (const Shape& s : shapes)
            check_case<T>(f[0], f[1], s, T(1), T(0), 0, rng, isa + " " + form_name(f[0], f[1]));
    // alpha / beta / leading dimensions
    const Shape mid[] = {{3, 5, 7},       {29, 67, 131}, {61, 53, 400}, {29, 341, 131},
                         {21, 530, 97}, {12, 30, 200}};
    const T ab[][2] = {{T(1), T(1)}, {T(-0.5), T(0)}, {T(-0.5), T(2)}, {T(0.25), T(-1)}};
    for (auto& f : kForms)
        for (const Shape& s : mid)
            for (auto& x : ab)
                for (std::size_t pad : {std::size_t(0), std::size_t(3)})
                    check_case<T>(f[0], f[1], s, x[0], x[1], pad, rng,
                                  isa + " " + form_name(f[0], f[1]) + " alpha/beta/pad");
}

template <class T>
void check_large(const std::string& isa) {
    kd::select_isa(isa);
    std::mt19937 rng(7);
    // Beyond MC rows (2040 for AVX-512, 1020 for AVX2 and generic) and over several KC slices
    // and NC blocks.
    check_case<T>(Trans::N, Trans::N, {1030, 97, 45}, T(1), T(0), 0, rng, isa + " large NN");
    check_case<T>(Trans::T, Trans::N, {2053, 33, 40}, T(1), T(0), 0, rng, isa + " large TN rows");
    check_case<T>(Trans::T, Trans::N, {70, 1000, 400}, T(1), T(1), 1, rng, isa + " large TN");
    check_case<T>(Trans::N, Trans::T, {129, 257, 785}, T(1), T(0), 0, rng, isa + " large NT");
}

std::vector<std::string> runnable_isas() {
    std::vector<std::string> v;
    for (const char* isa : kIsas)
        if (kd::isa_available(isa)) v.push_back(isa);
    return v;
}

template <class T>
std::vector<T> run_once(Trans ta, Trans tb, Shape s, std::uint32_t seed) {
    std::mt19937 rng(seed);
    const std::size_t ar = ta == Trans::N ? s.m : s.k, ac = ta == Trans::N ? s.k : s.m;
    const std::size_t br = tb == Trans::N ? s.k : s.n, bc = tb == Trans::N ? s.n : s.k;
    auto A = random_vec<T>(ar * ac, rng);
    auto B = random_vec<T>(br * bc, rng);
    std::vector<T> C(s.m * s.n, T(0));
    bpnet::kernels::gemm<T>(ta, tb, s.m, s.n, s.k, T(1), A.data(), ac, B.data(), bc, T(0),
                            C.data(), s.n);
    return C;
}

template <class T>
bool same_bits(const std::vector<T>& a, const std::vector<T>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0;
}

}  // namespace

TEST_CASE("gemm: generic path is always available") { CHECK(kd::isa_available("generic")); }

TEST_CASE("gemm float: every runnable ISA against the reference") {
    for (auto& isa : runnable_isas()) check_isa<float>(isa);
}

TEST_CASE("gemm double: every runnable ISA against the reference") {
    for (auto& isa : runnable_isas()) check_isa<double>(isa);
}

TEST_CASE("gemm: large shapes (several MC, KC, NC blocks), float and double") {
    for (auto& isa : runnable_isas()) {
        check_large<float>(isa);
        check_large<double>(isa);
    }
}

TEST_CASE("gemm: fused epilogue sees every element once, after its value is final") {
    // epilogue: c -> 2c + 1 and count the visits of each element; must equal the plain
    // product followed by the same map, on tiny, small and blocked (and threaded) shapes
    struct Ctx {
        std::vector<int>* visits;
        std::size_t n;
    };
    // (130 x 257 x 300 runs the direct driver over two KC slices: its epilogue runs per row
    // panel after the last one; NN as the δ product uses it, NT as the forward one)
    const Shape shapes[] = {{2, 3, 4}, {7, 9, 11}, {1, 100, 64}, {100, 100, 64}, {130, 257, 300}, {300, 700, 129}};
    for (auto& isa : runnable_isas()) {
        kd::select_isa(isa);
        for (int nt : {1, 2}) {
            bpnet::set_num_threads(nt);
            for (Trans tb : {Trans::T, Trans::N})
            for (Shape s : shapes) {
                const std::size_t ldb = tb == Trans::T ? s.k : s.n;
                std::mt19937 rng(3);
                auto A = random_vec<double>(s.m * s.k, rng), B = random_vec<double>(s.n * s.k, rng);
                std::vector<double> C(s.m * s.n, 0.5), R(s.m * s.n, 0.5);
                std::vector<int> visits(s.m * s.n, 0);
                Ctx ctx{&visits, s.n};
                bpnet::kernels::Epilogue<double> epi;
                epi.ctx = &ctx;
                epi.fn = [](void* c, double* blk, std::size_t ld, std::size_t i0, std::size_t rows,
                            std::size_t j0, std::size_t cols) {
                    auto& x = *static_cast<Ctx*>(c);
                    for (std::size_t i = 0; i < rows; ++i)
                        for (std::size_t j = 0; j < cols; ++j) {
                            blk[i * ld + j] = 2 * blk[i * ld + j] + 1;
                            ++(*x.visits)[(i0 + i) * x.n + j0 + j];
                        }
                };
                bpnet::kernels::gemm<double>(Trans::N, tb, s.m, s.n, s.k, 1.0, A.data(), s.k,
                                             B.data(), ldb, 1.0, C.data(), s.n, epi);
                bpnet::kernels::gemm<double>(Trans::N, tb, s.m, s.n, s.k, 1.0, A.data(), s.k,
                                             B.data(), ldb, 1.0, R.data(), s.n);
                bool once = true, same = true;
                for (std::size_t i = 0; i < C.size(); ++i) {
                    once = once && visits[i] == 1;
                    same = same && C[i] == 2 * R[i] + 1;
                }
                CHECK_MSG(once, isa + " epilogue visits each element once");
                CHECK_MSG(same, isa + " epilogue applied to final values");
            }
        }
    }
    kd::select_isa(runnable_isas().back());
    bpnet::set_num_threads(2);
}

TEST_CASE("gemm: m, n or k zero") {
    std::vector<double> A(12, 1.0), B(12, 1.0), C(12, 3.0);
    bpnet::kernels::gemm<double>(Trans::N, Trans::N, 0, 3, 4, 1.0, A.data(), 4, B.data(), 3, 0.0,
                                 C.data(), 3);
    CHECK(C[0] == 3.0);
    bpnet::kernels::gemm<double>(Trans::N, Trans::N, 3, 0, 4, 1.0, A.data(), 4, B.data(), 1, 0.0,
                                 C.data(), 1);
    CHECK(C[0] == 3.0);
    // k == 0: C = beta * C
    bpnet::kernels::gemm<double>(Trans::N, Trans::N, 2, 3, 0, 1.0, A.data(), 1, B.data(), 3, 2.0,
                                 C.data(), 3);
    CHECK(C[0] == 6.0 && C[5] == 6.0 && C[6] == 3.0);
    std::vector<double> N(6, std::numeric_limits<double>::quiet_NaN());
    bpnet::kernels::gemm<double>(Trans::N, Trans::N, 2, 3, 0, 1.0, A.data(), 1, B.data(), 3, 0.0,
                                 N.data(), 3);
    CHECK(N[0] == 0.0 && N[5] == 0.0);
}

TEST_CASE("gemm: leading dimension smaller than a row throws") {
    std::vector<float> A(64, 1.f), B(64, 1.f), C(64, 0.f);
    using bpnet::kernels::gemm;
    CHECK_THROWS_AS(gemm<float>(Trans::N, Trans::N, 2, 3, 4, 1.f, A.data(), 3, B.data(), 3, 0.f,
                                C.data(), 3),
                    std::invalid_argument);
    CHECK_THROWS_AS(gemm<float>(Trans::T, Trans::N, 2, 3, 4, 1.f, A.data(), 1, B.data(), 3, 0.f,
                                C.data(), 3),
                    std::invalid_argument);
    CHECK_THROWS_AS(gemm<float>(Trans::N, Trans::N, 2, 3, 4, 1.f, A.data(), 4, B.data(), 2, 0.f,
                                C.data(), 3),
                    std::invalid_argument);
    CHECK_THROWS_AS(gemm<float>(Trans::N, Trans::T, 2, 3, 4, 1.f, A.data(), 4, B.data(), 3, 0.f,
                                C.data(), 3),
                    std::invalid_argument);
    CHECK_THROWS_AS(gemm<float>(Trans::N, Trans::N, 2, 3, 4, 1.f, A.data(), 4, B.data(), 3, 0.f,
                                C.data(), 2),
                    std::invalid_argument);
    try {
        gemm<float>(Trans::N, Trans::N, 2, 3, 4, 1.f, A.data(), 4, B.data(), 3, 0.f, C.data(), 2);
    } catch (const std::invalid_argument& e) {
        const std::string msg = e.what();
        CHECK_MSG(msg.find("ldc") != std::string::npos && msg.find("2") != std::string::npos &&
                      msg.find("3") != std::string::npos,
                  "message names ldc, received and expected: " + msg);
    }
}

TEST_CASE("gemm: dispatch override selects the path, unknown names throw") {
    for (auto& isa : runnable_isas()) {
        kd::select_isa(isa);
        CHECK(std::string(bpnet::kernels::isa_name()) == isa);
    }
    CHECK_THROWS_AS(kd::select_isa("sse9"), std::invalid_argument);
    for (const char* isa : kIsas)
        if (!kd::isa_available(isa)) CHECK_THROWS_AS(kd::select_isa(isa), std::invalid_argument);
}

TEST_CASE("gemm: deterministic, same bits twice and for 1 or 2 threads") {
    // (97, 61, 500), (200, 100, 784) and (250, 70, 130): C cut into row blocks on 2 threads;
    // (300, 300, 300) and (384, 512, 200): row blocks for double on AVX-512 in the NN form
    // (A's pack transposes and counts twice), column blocks for float; (100, 400, 300) and
    // (40, 650, 77), NN and NT: on AVX-512, one thread runs the packed path's 8-row kernels
    // (double; float too for the second), two the direct driver's 12-row tiles on column blocks
    const Shape shapes[] = {{128, 256, 784}, {256, 784, 128}, {97, 61, 500}, {3, 700, 300},
                            {20, 300, 400}, {200, 100, 784}, {250, 70, 130}, {300, 300, 300},
                            {384, 512, 200}, {100, 400, 300}, {40, 650, 77}};
    for (auto& isa : runnable_isas()) {
        kd::select_isa(isa);
        for (auto& f : kForms)
            for (const Shape& s : shapes) {
                bpnet::set_num_threads(1);
                const auto one = run_once<float>(f[0], f[1], s, 3);
                const auto one_d = run_once<double>(f[0], f[1], s, 3);
                CHECK_MSG(same_bits(one, run_once<float>(f[0], f[1], s, 3)),
                          isa + " " + form_name(f[0], f[1]) + ": repeat differs");
                bpnet::set_num_threads(2);
                CHECK_MSG(same_bits(one, run_once<float>(f[0], f[1], s, 3)),
                          isa + " " + form_name(f[0], f[1]) + ": 1 vs 2 threads differ (float)");
                CHECK_MSG(same_bits(one_d, run_once<double>(f[0], f[1], s, 3)),
                          isa + " " + form_name(f[0], f[1]) + ": 1 vs 2 threads differ (double)");
                bpnet::set_num_threads(3);
                CHECK_MSG(same_bits(one, run_once<float>(f[0], f[1], s, 3)),
                          isa + " " + form_name(f[0], f[1]) + ": 1 vs 3 threads differ (float)");
            }
    }
}

TEST_CASE("gemm: OpenMP workers compute with the caller's flush-to-zero mode") {
#if defined(__x86_64__) || defined(__SSE__)
    // products of 1e-20 and 1e-20 are subnormal in float: flushed to zero in the caller's mode,
    // so 1 and 2 threads must agree on zeros everywhere
    const Shape s{128, 256, 100};
    std::vector<float> A(s.m * s.k, 1e-20f), B(s.k * s.n, 1e-20f);
    auto run = [&](int threads) {
        bpnet::set_num_threads(threads);
        std::vector<float> C(s.m * s.n, -1.0f);
        const unsigned saved = __builtin_ia32_stmxcsr();
        __builtin_ia32_ldmxcsr(saved | 0x8040u);  // FTZ | DAZ
        bpnet::kernels::gemm<float>(Trans::N, Trans::N, s.m, s.n, s.k, 1.0f, A.data(), s.k,
                                    B.data(), s.n, 0.0f, C.data(), s.n);
        __builtin_ia32_ldmxcsr(saved);
        return C;
    };
    for (auto& isa : runnable_isas()) {
        kd::select_isa(isa);
        const auto one = run(1), two = run(2);
        CHECK_MSG(same_bits(one, two), isa + ": 1 vs 2 threads differ under flush-to-zero");
        bool zeros = true;
        for (float v : two) zeros = zeros && v == 0.0f;
        CHECK_MSG(zeros, isa + ": subnormal products were not flushed to zero");
    }
    bpnet::set_num_threads(2);
#endif
}

TEST_CASE("threads: set_num_threads validates and is reported") {
    CHECK_THROWS_AS(bpnet::set_num_threads(0), std::invalid_argument);
    bpnet::set_num_threads(2);
    CHECK(bpnet::num_threads() == (bpnet::openmp_enabled() ? 2 : 1));
}

TEST_CASE("threads: ThreadScope is per thread, nests, and 0 keeps the enclosing setting") {
    if (!bpnet::openmp_enabled()) return;
    bpnet::set_num_threads(3);
    {
        bpnet::ThreadScope outer(1);  // e.g. an estimator's n_threads=1 ...
        CHECK(bpnet::num_threads() == 1);
        {
            bpnet::ThreadScope inner(0);  // ... around a fit that asks for nothing
            CHECK(bpnet::num_threads() == 1);
        }
        {
            bpnet::ThreadScope inner(2);
            CHECK(bpnet::num_threads() == 2);
        }
        CHECK(bpnet::num_threads() == 1);
    }
    CHECK(bpnet::num_threads() == 3);
    CHECK_THROWS_AS(bpnet::ThreadScope(-1), std::invalid_argument);
    bpnet::set_num_threads(2);
}

TEST_MAIN()

TEST_CASE("gemm: a panel of 9-12 rows gives the bits its rows have in a 12-row tile") {
    // Row panels shorter than MR take a shorter register tile (4, 8, 10 rows); an element is
    // computed the same way whatever the tile, so C's rows must not change with the row count.
    for (auto& isa : runnable_isas()) {
        kd::select_isa(isa);
        bpnet::set_num_threads(1);
        for (auto& f : kForms)
            for (std::size_t m : {9u, 10u, 11u}) {
                const std::size_t n = 100, k = 200;
                std::mt19937 rng(11);
                const auto A12 = random_vec<double>(12 * k, rng), B = random_vec<double>(k * n, rng);
                const auto A12f = std::vector<float>(A12.begin(), A12.end());
                const auto Bf = std::vector<float>(B.begin(), B.end());
                // op(A) (rows, k) stored as A (rows, k) or Aᵀ (k, rows)
                const auto stored = [&](const auto& A, std::size_t rows) {
                    std::decay_t<decltype(A)> S(rows * k);
                    for (std::size_t i = 0; i < rows; ++i)
                        for (std::size_t p = 0; p < k; ++p)
                            S[f[0] == Trans::N ? i * k + p : p * rows + i] = A[i * k + p];
                    return S;
                };
                const auto Bs = [&](const auto& Bv) {  // op(B) (k, n) stored as B or Bᵀ
                    std::decay_t<decltype(Bv)> S(k * n);
                    for (std::size_t p = 0; p < k; ++p)
                        for (std::size_t j = 0; j < n; ++j)
                            S[f[1] == Trans::N ? p * n + j : j * k + p] = Bv[p * n + j];
                    return S;
                };
                const auto run = [&](const auto& A, const auto& Bv, std::size_t rows) {
                    using T = typename std::decay_t<decltype(A)>::value_type;
                    const auto As = stored(A, rows);
                    const auto Bst = Bs(Bv);
                    std::vector<T> C(rows * n);
                    bpnet::kernels::gemm<T>(f[0], f[1], rows, n, k, T(1), As.data(),
                                            f[0] == Trans::N ? k : rows, Bst.data(),
                                            f[1] == Trans::N ? n : k, T(0), C.data(), n);
                    return C;
                };
                const auto big = run(A12, B, 12), small = run(std::vector<double>(A12.begin(), A12.begin() + m * k), B, m);
                const auto bigf = run(A12f, Bf, 12), smallf = run(std::vector<float>(A12f.begin(), A12f.begin() + m * k), Bf, m);
                CHECK_MSG(std::memcmp(big.data(), small.data(), m * n * sizeof(double)) == 0,
                          isa + " " + form_name(f[0], f[1]) + " double, rows " + std::to_string(m));
                CHECK_MSG(std::memcmp(bigf.data(), smallf.data(), m * n * sizeof(float)) == 0,
                          isa + " " + form_name(f[0], f[1]) + " float, rows " + std::to_string(m));
            }
    }
}

// An independent account of the vector paths' arithmetic: with k within one KC slice, each
// element of C is one FMA chain over p = 0..k-1 from zero, then alpha * chain (beta == 0) or
// fma(alpha, chain, beta * c). std::fma in that order must give the same bits, in every tile:
// the last few columns (tiles of half a vector on AVX-512), partial row panels, the direct
// driver and the packed path's edges, alpha == 1 and not.
template <class T>
void check_fma_chain(Trans ta, Trans tb, Shape s, T alpha, T beta, const std::string& label) {
    std::mt19937 rng(5);
    const std::size_t ar = ta == Trans::N ? s.m : s.k, ac = ta == Trans::N ? s.k : s.m;
    const std::size_t br = tb == Trans::N ? s.k : s.n, bc = tb == Trans::N ? s.n : s.k;
    const auto A = random_vec<T>(ar * ac, rng), B = random_vec<T>(br * bc, rng);
    const auto C0 = random_vec<T>(s.m * s.n, rng);
    auto C = C0;
    bpnet::kernels::gemm<T>(ta, tb, s.m, s.n, s.k, alpha, A.data(), ac, B.data(), bc, beta,
                            C.data(), s.n);
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < s.m; ++i)
        for (std::size_t j = 0; j < s.n; ++j) {
            T acc = T(0);
            for (std::size_t p = 0; p < s.k; ++p)
                acc = std::fma(ta == Trans::N ? A[i * ac + p] : A[p * ac + i],
                               tb == Trans::N ? B[p * bc + j] : B[j * bc + p], acc);
            const T want = beta == T(0) ? alpha * acc : std::fma(alpha, acc, beta * C0[i * s.n + j]);
            wrong += std::memcmp(&want, &C[i * s.n + j], sizeof(T)) != 0;
        }
    CHECK_MSG(wrong == 0, label + " m=" + std::to_string(s.m) + " n=" + std::to_string(s.n) +
                              " k=" + std::to_string(s.k) + ": " + std::to_string(wrong) +
                              " elements differ from the FMA chain");
}

TEST_CASE("gemm: AVX2 and AVX-512 give every element the bits of its FMA chain") {
    // (30|200, 97..104, 10): 12-row direct tiles, then 1-8 columns (float) or 1-4 (double)
    // left; (9, 488|412, 40): the packed path (n > NC) ending in an 8- / 4-column edge tile;
    // (31, 36, 200): double's 16-column tiles, 4 left, and a 7-row panel
    const Shape shapes[] = {{30, 97, 10},  {30, 100, 10}, {30, 104, 10}, {200, 100, 10},
                            {31, 36, 200}, {9, 488, 40},  {9, 412, 40},  {25, 20, 30}};
    const double ab[][2] = {{1, 0}, {0.75, 0}, {1, 0.5}};
    bpnet::set_num_threads(1);
    for (const char* isa : {"avx2", "avx512"}) {
        if (!kd::isa_available(isa)) continue;
        kd::select_isa(isa);
        for (auto& f : kForms) {
            if (f[0] == Trans::T && f[1] == Trans::T) continue;  // (TT: not a training form)
            for (const Shape& s : shapes)
                for (auto& x : ab) {
                    const std::string label = std::string(isa) + " " + form_name(f[0], f[1]) +
                                              " alpha " + std::to_string(x[0]) + " beta " +
                                              std::to_string(x[1]);
                    check_fma_chain<float>(f[0], f[1], s, float(x[0]), float(x[1]), label + " float");
                    check_fma_chain<double>(f[0], f[1], s, x[0], x[1], label + " double");
                }
        }
    }
}

TEST_CASE("gemm: in every denormal mode, an element's bits depend on neither its tile nor the thread count") {
#if defined(__x86_64__) || defined(__SSE__)
    // Every element is the same product of constants 1e-20 (subnormal products in float), so
    // all elements must have the same bits, whichever tile (full, narrow, edge; direct driver
    // or packed) computes them, under FTZ, DAZ, both or neither: a tile that skipped the
    // multiply by alpha = 1 would keep a subnormal that DAZ turns into 0 in the others.
    const Shape shapes[] = {{200, 480, 24}, {200, 100, 10}, {128, 260, 100}};
    const Trans forms[][2] = {{Trans::T, Trans::N}, {Trans::N, Trans::N}, {Trans::N, Trans::T}};
    for (auto& isa : runnable_isas()) {
        kd::select_isa(isa);
        for (unsigned mode : {0u, 0x40u, 0x8000u, 0x8040u})
            for (const Shape& s : shapes)
                for (auto& f : forms) {
                    std::vector<float> A(s.m * s.k, 1e-20f), B(s.k * s.n, 1e-20f);
                    auto run = [&](int threads) {
                        bpnet::set_num_threads(threads);
                        std::vector<float> C(s.m * s.n, -1.0f);
                        const unsigned saved = __builtin_ia32_stmxcsr();
                        __builtin_ia32_ldmxcsr((saved & ~0x8040u) | mode);
                        bpnet::kernels::gemm<float>(f[0], f[1], s.m, s.n, s.k, 1.0f, A.data(),
                                                    f[0] == Trans::N ? s.k : s.m, B.data(),
                                                    f[1] == Trans::N ? s.n : s.k, 0.0f, C.data(), s.n);
                        __builtin_ia32_ldmxcsr(saved);
                        return C;
                    };
                    const auto one = run(1), two = run(2);
                    const std::string label = isa + " " + form_name(f[0], f[1]) + " mode " +
                                              std::to_string(mode) + " m=" + std::to_string(s.m) +
                                              " n=" + std::to_string(s.n);
                    CHECK_MSG(same_bits(one, two), label + ": 1 vs 2 threads differ");
                    std::size_t odd = 0;
                    for (float v : one) odd += std::memcmp(&v, &one[0], sizeof v) != 0;
                    CHECK_MSG(odd == 0, label + ": " + std::to_string(odd) + " elements differ from the first");
                }
    }
    bpnet::set_num_threads(2);
#endif
}

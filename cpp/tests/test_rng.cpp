// bpnet::detail::Rng::below (the shuffle's uniform integers): in range, unbiased, and the
// portable 64 x 64 -> 128-bit product (built here) agrees with the compiler's __int128.
#define BPNET_RNG_PORTABLE_MUL 1
#include "rng.hpp"

#include <cstdint>
#include <string>

#include "test_util.hpp"

using bpnet::detail::Rng;

TEST_CASE("below(n) is the high word of next() * n, redrawn only in the biased sliver") {
#if defined(__SIZEOF_INT128__)
    const std::uint64_t ns[] = {1, 2, 3, 7, 1000, 1437, (std::uint64_t(1) << 33) + 5,
                                (std::uint64_t(1) << 63) + 1, ~std::uint64_t(0)};
    for (std::uint64_t n : ns) {
        Rng r(42), raw(42);
        const unsigned __int128 two64 = static_cast<unsigned __int128>(1) << 64;
        const std::uint64_t threshold = static_cast<std::uint64_t>(two64 % n);
        for (int i = 0; i < 2000; ++i) {
            unsigned __int128 p;
            do p = static_cast<unsigned __int128>(raw.next()) * n;  // the reference draw
            while (static_cast<std::uint64_t>(p) < threshold);
            const std::uint64_t want = static_cast<std::uint64_t>(p >> 64);
            const std::uint64_t got = r.below(n);
            CHECK(got < n);
            if (got != want) {
                CHECK_MSG(false, "n = " + std::to_string(n) + " draw " + std::to_string(i));
                break;
            }
        }
    }
#endif
}

TEST_CASE("below(7) is uniform (chi-square over 700000 draws)") {
    Rng r(3);
    long count[7] = {};
    const long draws = 700000;
    for (long i = 0; i < draws; ++i) {
        const std::uint64_t v = r.below(7);
        CHECK(v < 7);
        ++count[v];
    }
    double chi2 = 0;
    for (long c : count) chi2 += double(c - draws / 7) * double(c - draws / 7) / double(draws / 7);
    // 6 degrees of freedom: P(chi2 > 27.9) = 1e-4 (a fixed seed: the same value every run);
    // a mapping that favoured one value by 3% would give ~100 here
    CHECK_MSG(chi2 < 27.9, "chi2 = " + std::to_string(chi2));
}

TEST_CASE("below(n) for n just above 2^63 (half of the draws redrawn) stays in range") {
    Rng r(11);
    const std::uint64_t n = (std::uint64_t(1) << 63) + 1;
    std::uint64_t high = 0;
    for (int i = 0; i < 10000; ++i) {
        const std::uint64_t v = r.below(n);
        CHECK(v < n);
        high += v >> 62;  // 0 or 1 (v < 2^63) or 2 (v = 2^63)
    }
    // about half of the values lie in the upper half [2^62, 2^63]
    CHECK(high > 4500 && high < 5500);
}

TEST_MAIN()

// A seeded random generator whose output is the same on every platform and compiler:
// xoshiro256** seeded through splitmix64; floats are derived from the top 53 bits directly
// (std:: distributions differ between standard libraries, so they are not used).
#pragma once

#include <cstdint>

namespace bpnet::detail {

class Rng {
public:
    explicit Rng(std::uint64_t seed) {
        for (auto& s : s_) s = splitmix64(seed);
    }
    std::uint64_t next() {
        const std::uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const std::uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    // Uniform in [0, 1).
    double uniform() { return double(next() >> 11) * 0x1.0p-53; }
    // Uniform integer in [0, n), n > 0, without bias: the high word of next() · n, redrawn in
    // the rare case (probability < n / 2^64) that the low word falls in the biased sliver
    // (Lemire's multiply-shift method). No division on the common path: the shuffle of each
    // epoch had spent two 64-bit divisions per row (4% of a digits fit).
    std::uint64_t below(std::uint64_t n) {
        std::uint64_t lo;
        std::uint64_t hi = mul128(next(), n, lo);
        if (lo < n) {
            const std::uint64_t threshold = (std::uint64_t(0) - n) % n;  // 2^64 mod n
            while (lo < threshold) hi = mul128(next(), n, lo);
        }
        return hi;
    }

private:
    static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    // a · b = hi · 2^64 + lo, the same on every compiler
    static std::uint64_t mul128(std::uint64_t a, std::uint64_t b, std::uint64_t& lo) {
#if defined(__SIZEOF_INT128__) && !defined(BPNET_RNG_PORTABLE_MUL)  // (the test builds both)
        const unsigned __int128 p = static_cast<unsigned __int128>(a) * b;
        lo = static_cast<std::uint64_t>(p);
        return static_cast<std::uint64_t>(p >> 64);
#else
        const std::uint64_t a0 = a & 0xffffffffu, a1 = a >> 32, b0 = b & 0xffffffffu, b1 = b >> 32;
        const std::uint64_t p00 = a0 * b0, p01 = a0 * b1, p10 = a1 * b0, p11 = a1 * b1;
        const std::uint64_t mid = (p00 >> 32) + (p01 & 0xffffffffu) + (p10 & 0xffffffffu);
        lo = (mid << 32) | (p00 & 0xffffffffu);
        return p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32);
#endif
    }
    static std::uint64_t splitmix64(std::uint64_t& x) {
        std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    std::uint64_t s_[4];
};

}  // namespace bpnet::detail

// exp written with +, −, × and integer bit operations only, so that a loop calling it
// vectorises (libm's exp is one call per element) and every instruction-set clone
// (BPNET_CLONES, built with -ffp-contract=off) rounds the same way: the same bits on any CPU.
//
// exp(x) = 2^n · e^r with n = round(x / ln 2) and r = x − n·ln 2 in [−ln2/2, ln2/2] (ln 2 split
// in two parts, Cody–Waite, so n·ln2_hi is exact); e^r by its Taylor series to degree 7
// (float) or 13 (double), whose truncation error is below 2^-27 and 2^-57 relative. 2^n is
// built from bits as 2^n1 · 2^n2 (n = n1 + n2) so that results down to the smallest
// subnormal come out right. Accuracy: within 2 ulp of the exact value (tested against libm).
// exp(+inf) = +inf, exp(−inf) = 0, exp(NaN) = NaN, overflow gives +inf.
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

namespace bpnet::vmath {

template <class T>
struct ExpConst;

template <>
struct ExpConst<float> {
    using Int = std::int32_t;
    static constexpr float hi = 88.72283935546875f;    // above: +inf
    static constexpr float lo = -103.97208404541016f;  // below: 0
    static constexpr float log2e = 1.44269502162933349609375f;
    static constexpr float ln2_hi = 0.693359375f;
    static constexpr float ln2_lo = -2.12194440e-4f;
    static constexpr float shifter = 12582912.0f;  // 1.5 · 2^23: x + shifter rounds x to an integer
    static constexpr int mantissa_bits = 23;
    static constexpr Int bias = 127;
};

template <>
struct ExpConst<double> {
    using Int = std::int64_t;
    static constexpr double hi = 709.782712893384;
    static constexpr double lo = -745.1332191019412;
    static constexpr double log2e = 1.4426950408889634;
    static constexpr double ln2_hi = 0.6931471803691238;       // 0x3fe62e42fee00000
    static constexpr double ln2_lo = 1.9082149292705877e-10;   // 0x3dea39ef35793c76
    static constexpr double shifter = 6755399441055744.0;      // 1.5 · 2^52
    static constexpr int mantissa_bits = 52;
    static constexpr Int bias = 1023;
};

template <class T>
inline typename ExpConst<T>::Int bits_of(T x) {
    typename ExpConst<T>::Int i;
    std::memcpy(&i, &x, sizeof i);
    return i;
}

template <class T>
inline T from_bits(typename ExpConst<T>::Int i) {
    T x;
    std::memcpy(&x, &i, sizeof x);
    return x;
}

// e^r for |r| <= ln2/2: the Taylor polynomial, evaluated by Estrin's scheme (pairs, then pairs
// of pairs with r², r⁴, r⁸): the chain of dependent steps is 7 (double) instead of Horner's 26,
// so the independent elements of a vector loop overlap; a few more multiplies.
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
inline float exp_reduced(float r) {
    const float r2 = r * r, r4 = r2 * r2;
    const float a0 = 1.0f + r, a1 = 0.5f + r * (1.0f / 6), a2 = 1.0f / 24 + r * (1.0f / 120),
                a3 = 1.0f / 720 + r * (1.0f / 5040);
    const float b0 = a0 + r2 * a1, b1 = a2 + r2 * a3;
    return b0 + r4 * b1;
}

#if defined(__GNUC__)
__attribute__((always_inline))
#endif
inline double exp_reduced(double r) {
    const double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
    const double a0 = 1.0 + r, a1 = 0.5 + r * (1.0 / 6.0), a2 = 1.0 / 24.0 + r * (1.0 / 120.0),
                 a3 = 1.0 / 720.0 + r * (1.0 / 5040.0),
                 a4 = 1.0 / 40320.0 + r * (1.0 / 362880.0),
                 a5 = 1.0 / 3628800.0 + r * (1.0 / 39916800.0),
                 a6 = 1.0 / 479001600.0 + r * (1.0 / 6227020800.0);  // 1/12!, 1/13!
    const double b0 = a0 + r2 * a1, b1 = a2 + r2 * a3, b2 = a4 + r2 * a5;
    const double c0 = b0 + r4 * b1, c1 = b2 + r4 * a6;
    return c0 + r8 * c1;
}

// (always inlined: a caller compiled for AVX2 must get an AVX2 copy of it)
template <class T>
#if defined(__GNUC__)
__attribute__((always_inline))
#endif
inline T exp(T x) {
    using C = ExpConst<T>;
    using Int = typename C::Int;
    using UInt = std::make_unsigned_t<Int>;
    // Written so that GCC vectorises a loop of it: selects of computed values only (a NaN
    // test such as x == x is not if-converted), and integer steps in unsigned arithmetic so a
    // NaN's garbage exponent wraps instead of overflowing.
    // x is not clamped first (GCC 12 does not if-convert a clamp whose result feeds
    // arithmetic, for AVX2): out of range, n is garbage in wrapping unsigned arithmetic and the
    // selects at the end settle the result. Constants as values: a ?: between two static
    // members selects an lvalue, which is a branch.
    const T lo = C::lo, hi = C::hi, inf = std::numeric_limits<T>::infinity(), zero = T(0);
    const T xc = x;
    const T t = xc * C::log2e + C::shifter;  // round(x / ln 2) in the low mantissa bits
    const T nf = t - C::shifter;
    const Int n = Int(UInt(bits_of(t)) - UInt(bits_of(C::shifter)));
    const T r = (xc - nf * C::ln2_hi) - nf * C::ln2_lo;
    const T p = exp_reduced(r);
    // n1 = round(n / 2) by the same shifter trick (n/2 is exact in T): AVX2 has no 64-bit
    // arithmetic shift, and a vectorised n / 2 on 64-bit integers took several steps
    const T n1f = nf * T(0.5) + C::shifter;
    const Int n1 = Int(UInt(bits_of(n1f)) - UInt(bits_of(C::shifter))), n2 = n - n1;
    const T s1 = from_bits<T>(Int(UInt(n1 + C::bias) << C::mantissa_bits));
    const T s2 = from_bits<T>(Int(UInt(n2 + C::bias) << C::mantissa_bits));
    // x − x is 0 for finite x and NaN for NaN (and ±inf, settled by the selects below)
    const T y = p * s1 * s2 + (x - x);
    // y, or +inf above hi, or 0 below lo, chosen with bit masks (GCC 12 turns ?: here into a
    // branch around the arithmetic, which stops vectorisation for AVX2)
    const UInt over = UInt(0) - UInt(x > hi), under = UInt(0) - UInt(x < lo);
    const UInt keep = ~(over | under);
    return from_bits<T>(Int((UInt(bits_of(y)) & keep) | (UInt(bits_of(inf)) & over) |
                            (UInt(bits_of(zero)) & under)));
}

}  // namespace bpnet::vmath

// bpnet::vmath::exp (the vectorisable exp of the element-wise code) against libm's.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "test_util.hpp"
#include "vmath.hpp"

namespace {

// Distance in units in the last place between two finite values of the same sign.
template <class T>
double ulps(T a, T b) {
    if (a == b) return 0;
    const T gap = std::nextafter(std::fabs(b), std::numeric_limits<T>::infinity()) - std::fabs(b);
    return std::fabs(double(a) - double(b)) / double(gap);
}

template <class T>
void check_range(T lo, T hi, int count, double max_ulps) {
    std::mt19937_64 g(7);
    std::uniform_real_distribution<double> u{double(lo), double(hi)};
    double worst = 0;
    T at = 0;
    for (int i = 0; i < count; ++i) {
        const T x = T(u(g));
        const T want = std::exp(x), got = bpnet::vmath::exp(x);
        if (want < std::numeric_limits<T>::min()) {  // subnormal results: absolute error
            CHECK(std::fabs(double(got) - double(want)) <=
                  2.0 * double(std::numeric_limits<T>::denorm_min()));
            continue;
        }
        const double e = ulps(got, want);
        if (e > worst) worst = e, at = x;
    }
    CHECK_MSG(worst <= max_ulps, "worst error " + std::to_string(worst) + " ulp at x = " +
                                     std::to_string(double(at)));
}

}  // namespace

TEST_CASE("vmath::exp float: within 2 ulp of libm over the whole range") {
    check_range<float>(-1.0f, 1.0f, 200000, 2.0);
    check_range<float>(-30.0f, 30.0f, 200000, 2.0);
    check_range<float>(-103.9f, 88.7f, 200000, 2.0);
}

TEST_CASE("vmath::exp double: within 2 ulp of libm over the whole range") {
    check_range<double>(-1.0, 1.0, 200000, 2.0);
    check_range<double>(-40.0, 40.0, 200000, 2.0);
    check_range<double>(-745.0, 709.7, 200000, 2.0);
}

TEST_CASE("vmath::exp: special values") {
    using bpnet::vmath::exp;
    const float fi = std::numeric_limits<float>::infinity();
    const double di = std::numeric_limits<double>::infinity();
    CHECK(exp(0.0f) == 1.0f && exp(0.0) == 1.0);
    CHECK(exp(fi) == fi && exp(-fi) == 0.0f && exp(100.0f) == fi && exp(-200.0f) == 0.0f);
    CHECK(exp(di) == di && exp(-di) == 0.0 && exp(710.0) == di && exp(-800.0) == 0.0);
    CHECK(std::isnan(exp(std::nanf(""))) && std::isnan(exp(std::nan(""))));
    CHECK(exp(88.7f) == std::exp(88.7f) || ulps(exp(88.7f), std::exp(88.7f)) <= 2);
    CHECK(exp(-745.0) > 0);  // the smallest subnormals still come out
    CHECK(exp(-103.0f) > 0);
}

TEST_MAIN()

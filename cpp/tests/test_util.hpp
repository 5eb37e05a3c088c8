// A minimal test harness for bpnet's C++ tests: CHECK macros that count failures, and
// helpers for comparing arrays. Each test program returns non-zero when a check failed.
#pragma once

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

namespace bpnet_test {

inline int& failures() {
    static int n = 0;
    return n;
}

inline void fail(const char* file, int line, const std::string& msg) {
    ++failures();
    std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, msg.c_str());
}

struct Case {
    const char* name;
    std::function<void()> fn;
};
inline std::vector<Case>& cases() {
    static std::vector<Case> c;
    return c;
}
struct Register {
    Register(const char* name, std::function<void()> fn) { cases().push_back({name, fn}); }
};

// Runs every registered case; exceptions escaping a case count as failures.
inline int run_all() {
    for (auto& c : cases()) {
        const int before = failures();
        try {
            c.fn();
        } catch (const std::exception& e) {
            fail(__FILE__, __LINE__, std::string(c.name) + ": unexpected exception: " + e.what());
        }
        std::printf("[%s] %s\n", failures() == before ? "ok" : "FAIL", c.name);
    }
    std::printf("%d failure(s)\n", failures());
    return failures() == 0 ? 0 : 1;
}

}  // namespace bpnet_test

#define BPNET_CAT2(a, b) a##b
#define BPNET_CAT(a, b) BPNET_CAT2(a, b)
#define TEST_CASE(name)                                                              \
    static void BPNET_CAT(test_fn_, __LINE__)();                                     \
    static bpnet_test::Register BPNET_CAT(test_reg_, __LINE__)(name, BPNET_CAT(test_fn_, __LINE__)); \
    static void BPNET_CAT(test_fn_, __LINE__)()

#define CHECK(cond)                                                           \
    do {                                                                      \
        if (!(cond)) bpnet_test::fail(__FILE__, __LINE__, "CHECK(" #cond ")"); \
    } while (0)

#define CHECK_MSG(cond, msg)                                                  \
    do {                                                                      \
        if (!(cond)) bpnet_test::fail(__FILE__, __LINE__, std::string(msg));  \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                                  \
    do {                                                                                       \
        const double va_ = (a), vb_ = (b);                                                     \
        if (!(std::fabs(va_ - vb_) <= (tol)))                                                  \
            bpnet_test::fail(__FILE__, __LINE__,                                               \
                             std::string("CHECK_NEAR(" #a ", " #b "): ") + std::to_string(va_) + \
                                 " vs " + std::to_string(vb_));                                \
    } while (0)

#define CHECK_THROWS_AS(expr, Exc)                                                        \
    do {                                                                                  \
        bool thrown_ = false;                                                             \
        try {                                                                             \
            expr;                                                                         \
        } catch (const Exc&) {                                                            \
            thrown_ = true;                                                               \
        } catch (...) {                                                                   \
        }                                                                                 \
        if (!thrown_) bpnet_test::fail(__FILE__, __LINE__, "expected " #Exc " from " #expr); \
    } while (0)

#define TEST_MAIN() \
    int main() { return bpnet_test::run_all(); }

// Triple-loop reference gemm (row-major), the oracle for every fast path.
#include "gemm.hpp"

#include <stdexcept>
#include <string>

namespace bpnet::kernels {

namespace {
void check_ld(const char* what, std::size_t ld, std::size_t need) {
    if (ld < need)
        throw std::invalid_argument(std::string("gemm: ") + what + " is " + std::to_string(ld) +
                                    ", expected at least " + std::to_string(need));
}
}  // namespace

template <class T>
void gemm_ref(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha,
              const T* A, std::size_t lda, const T* B, std::size_t ldb, T beta, T* C,
              std::size_t ldc) {
    // A (m,k) or (k,m); B (k,n) or (n,k); C (m,n)
    check_ld("lda", lda, ta == Trans::N ? k : m);
    check_ld("ldb", ldb, tb == Trans::N ? n : k);
    check_ld("ldc", ldc, n);
    for (std::size_t i = 0; i < m; ++i) {
        for (std::size_t j = 0; j < n; ++j) {
            T s = 0;
            for (std::size_t p = 0; p < k; ++p) {
                const T a = ta == Trans::N ? A[i * lda + p] : A[p * lda + i];
                const T b = tb == Trans::N ? B[p * ldb + j] : B[j * ldb + p];
                s += a * b;
            }
            T& c = C[i * ldc + j];
            c = beta == T(0) ? alpha * s : alpha * s + beta * c;
        }
    }
}

template void gemm_ref<float>(Trans, Trans, std::size_t, std::size_t, std::size_t, float,
                              const float*, std::size_t, const float*, std::size_t, float,
                              float*, std::size_t);
template void gemm_ref<double>(Trans, Trans, std::size_t, std::size_t, std::size_t, double,
                               const double*, std::size_t, const double*, std::size_t, double,
                               double*, std::size_t);

}  // namespace bpnet::kernels

// Placeholder fast path: forwards to the reference until the blocked kernels land.
#include "gemm.hpp"

namespace bpnet::kernels {

template <class T>
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* A, std::size_t lda, const T* B, std::size_t ldb, T beta, T* C,
          std::size_t ldc) {
    gemm_ref(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

template void gemm<float>(Trans, Trans, std::size_t, std::size_t, std::size_t, float,
                          const float*, std::size_t, const float*, std::size_t, float, float*,
                          std::size_t);
template void gemm<double>(Trans, Trans, std::size_t, std::size_t, std::size_t, double,
                           const double*, std::size_t, const double*, std::size_t, double,
                           double*, std::size_t);

const char* isa_name() { return "generic"; }

}  // namespace bpnet::kernels

// Internal kernel interface of bpnet: every matrix product the network computes goes
// through these functions, so the kernels can be swapped without touching the network.
//
// All matrices are row-major. op(X) is X or Xᵀ as selected by Trans.
//   C (m, n) = alpha * op(A) (m, k) * op(B) (k, n) + beta * C
// A is (m, k) with leading dimension lda >= k when ta == N, (k, m) with lda >= m when ta == T.
// B is (k, n) with ldb >= n when tb == N, (n, k) with ldb >= k when tb == T.
// C is (m, n) with ldc >= n. When beta == 0, C is not read (NaN in C does not propagate).
#pragma once

#include <cstddef>

namespace bpnet::kernels {

enum class Trans { N, T };

// Products with fewer multiply-adds than this run on one thread (a parallel region costs
// ~1-2 us, and more on a loaded machine); larger ones split C over the threads.
constexpr double kParallelMultiplyAdds = 2.0e6;

// A fused epilogue: called once for every finished block of C (rows i0..i0+rows, columns
// j0..j0+cols, at C_block = C + i0*ldc + j0) while the block is still in cache, e.g. to apply
// an activation right after the forward product. Blocks are disjoint and may be handed to
// different threads; a block's bits do not depend on how C was cut.
template <class T>
struct Epilogue {
    void (*fn)(void* ctx, T* C_block, std::size_t ldc, std::size_t i0, std::size_t rows,
               std::size_t j0, std::size_t cols) = nullptr;
    void* ctx = nullptr;
};

// Fast path: chosen at run time by the CPU (see dispatch). Throws std::invalid_argument on
// leading dimensions smaller than a row.
template <class T>
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* A, std::size_t lda, const T* B, std::size_t ldb, T beta, T* C,
          std::size_t ldc);

// The same, then epi over every block of C once C's values are final.
template <class T>
void gemm(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha,
          const T* A, std::size_t lda, const T* B, std::size_t ldb, T beta, T* C,
          std::size_t ldc, const Epilogue<T>& epi);

// Triple-loop reference: the oracle in tests and the portable fallback.
template <class T>
void gemm_ref(Trans ta, Trans tb, std::size_t m, std::size_t n, std::size_t k, T alpha,
              const T* A, std::size_t lda, const T* B, std::size_t ldb, T beta, T* C,
              std::size_t ldc);

// Name of the instruction-set path in use ("generic", "avx2", "avx512").
const char* isa_name();

}  // namespace bpnet::kernels

// Internal plumbing of bpnet's gemm, shared by gemm.cpp, dispatch.cpp, the per-ISA kernel
// files and the tests. Nothing here is public API.
//
// Row-major throughout: C (m, n) = alpha * op(A) (m, k) * op(B) (k, n) + beta * C.
#pragma once

#include <cstddef>

#include "gemm.hpp"

namespace bpnet::kernels::detail {

// One gemm call, already validated (leading dimensions checked, m, n, k > 0, alpha != 0).
template <class T>
struct GemmArgs {
    Trans ta, tb;
    std::size_t m, n, k;
    T alpha;
    const T* A;
    std::size_t lda;
    const T* B;
    std::size_t ldb;
    T beta;
    T* C;
    std::size_t ldc;
    Epilogue<T> epi{};  // optional, applied per finished block of C
};

// Blocked (packed) path: n_threads >= 1 splits C into independent column (or row) blocks.
template <class T>
using BlockedFn = void (*)(const GemmArgs<T>&, int n_threads);
// Direct path for small products: no packing, no allocation, single thread.
template <class T>
using SmallFn = void (*)(const GemmArgs<T>&);

// The one table each instruction-set file exports.
struct GemmTable {
    const char* name;  // "generic", "avx2", "avx512"
    BlockedFn<float> sgemm_blocked;
    SmallFn<float> sgemm_small;
    BlockedFn<double> dgemm_blocked;
    SmallFn<double> dgemm_small;
};

extern const GemmTable gemm_table_generic;
#if defined(BPNET_KERNELS_X86)
extern const GemmTable gemm_table_avx2;
extern const GemmTable gemm_table_avx512;
#endif

// Thread-local, 64-byte aligned scratch buffer number `slot` (0: packed A, 1: packed B) of at
// least `bytes`; grows only, reused by every later call on the same thread. Lives in gemm.cpp
// (compiled without ISA flags) so no library template is instantiated with AVX code.
void* scratch(int slot, std::size_t bytes);

}  // namespace bpnet::kernels::detail

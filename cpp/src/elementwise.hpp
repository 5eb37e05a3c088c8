// The activation kernels of activation.cpp compiled once for the baseline instruction set,
// without the clone dispatch: for the per-sample path (one row of a few values per call),
// where the AVX2 clones' set-up costs more than they save. The same source as
// activation_forward / activation_backward, so the same bits.
#pragma once

#include <cstddef>

#include "bpnet/activation.hpp"

namespace bpnet {

// a = σ(z) over one row of n values (softmax: the row).
template <class T>
void activation_forward_baseline(Activation act, T* a, const T* z, std::size_t n);
// delta *= σ'(z) over one row of n values (not softmax).
template <class T>
void activation_backward_baseline(Activation act, T* delta, const T* z, const T* a, std::size_t n);

// The forward product's epilogue on a finished block: z += b (per column), then a = σ(z), row
// by row while the row is in L1 (not softmax, which needs whole rows: the caller applies it
// after the product). a may be z. The same bits as adding b and then activation_forward.
template <class T>
void bias_activation_forward(Activation act, T* a, T* z, const T* b, std::size_t rows,
                             std::size_t cols, std::size_t ld);

}  // namespace bpnet

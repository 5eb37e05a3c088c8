// Cost functions C and their fused output error δ^(L).
#pragma once

#include <cstddef>
#include <string>

#include "bpnet/activation.hpp"
#include "bpnet/export.hpp"

namespace bpnet {

// squared_error:        C = (1/n) Σ_i ||a_i − y_i||²                 (the source text)
// half_squared_error:   C = (1/(2 n m)) Σ_i ||a_i − y_i||²  (½ · mean over all entries;
//                        scikit-learn's MLPRegressor objective; m = outputs)
// binary_cross_entropy: C = −(1/n) Σ_i Σ_j y log a + (1−y) log(1−a)   (sigmoid output)
// cross_entropy:        C = −(1/n) Σ_i Σ_j y log a                      (softmax output)
// poisson:              C = (1/n) Σ_i Σ_j a − y log a  (half Poisson deviance up to a constant in y;
//                        exp output, scikit-learn's MLPRegressor(loss="poisson"))
// With sample weights w, every (1/n) Σ_i becomes (1/Σw) Σ_i w_i.
enum class Loss { squared_error, half_squared_error, binary_cross_entropy, cross_entropy, poisson };

// Throws std::invalid_argument listing the names.
BPNET_API Loss loss_from_name(const std::string& name);
BPNET_API const char* loss_name(Loss l);
BPNET_API const char* loss_names();

// Throws std::invalid_argument when the loss cannot be used with this output activation
// (binary_cross_entropy needs sigmoid, cross_entropy softmax, poisson exp).
BPNET_API void check_loss_output(Loss loss, Activation output);

// Sum over the rows of w_i · C_i (not yet divided by n or Σw). a, y: (n, m) row-major.
template <class T>
BPNET_API double loss_sum(Loss loss, const T* a, const T* y, const T* w, std::size_t n,
                          std::size_t m);

// δ^(L) = ∂(w_i C_i)/∂z for every row, fused with the output activation (scale: the caller
// divides the gradient by n or Σw). z, a, y, delta: (n, m) row-major.
template <class T>
BPNET_API void loss_delta(Loss loss, Activation output, T* delta, const T* z, const T* a,
                          const T* y, const T* w, std::size_t n, std::size_t m);

}  // namespace bpnet

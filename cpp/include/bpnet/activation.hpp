// Activation functions σ and their derivatives σ', by name.
#pragma once

#include <cstddef>
#include <string>

#include "bpnet/export.hpp"

namespace bpnet {

enum class Activation { identity, sigmoid, tanh, relu, leaky_relu, softmax, exp };

// Slope of leaky_relu for z < 0.
inline constexpr double leaky_relu_slope = 0.01;

// "identity", "sigmoid" (alias "logistic"), "tanh", "relu", "leaky_relu", "softmax", "exp".
// Throws std::invalid_argument listing the known names.
BPNET_API Activation activation_from_name(const std::string& name);
BPNET_API const char* activation_name(Activation a);
// Comma-separated list of the known names, for error messages.
BPNET_API const char* activation_names();
// softmax and exp act on the output layer only.
BPNET_API bool output_only(Activation a);

// Element-wise kernels on a (rows, cols) row-major block with leading dimension ld.
// a = σ(z) (softmax: per row). a may alias z.
template <class T>
BPNET_API void activation_forward(Activation act, T* a, const T* z, std::size_t rows,
                                  std::size_t cols, std::size_t ld);
// delta *= σ'(z), written in terms of z and a = σ(z) (not for softmax).
template <class T>
BPNET_API void activation_backward(Activation act, T* delta, const T* z, const T* a,
                                   std::size_t rows, std::size_t cols, std::size_t ld);

}  // namespace bpnet

// Activation functions σ (forward) and the product with σ' (backward), element-wise on
// row-major blocks. Derivatives are written in terms of z and a = σ(z), whichever is cheaper.
#include "bpnet/activation.hpp"

#include "activation_impl.hpp"
#include "clones.hpp"
#include "elementwise.hpp"

#include <stdexcept>

namespace bpnet {

Activation activation_from_name(const std::string& name) {
    if (name == "identity") return Activation::identity;
    if (name == "sigmoid" || name == "logistic") return Activation::sigmoid;
    if (name == "tanh") return Activation::tanh;
    if (name == "relu") return Activation::relu;
    if (name == "leaky_relu") return Activation::leaky_relu;
    if (name == "softmax") return Activation::softmax;
    if (name == "exp") return Activation::exp;
    throw std::invalid_argument("activation: unknown name '" + name + "', expected one of " +
                                activation_names());
}

const char* activation_name(Activation a) {
    switch (a) {
        case Activation::identity: return "identity";
        case Activation::sigmoid: return "sigmoid";
        case Activation::tanh: return "tanh";
        case Activation::relu: return "relu";
        case Activation::leaky_relu: return "leaky_relu";
        case Activation::softmax: return "softmax";
        case Activation::exp: return "exp";
    }
    return "?";
}

const char* activation_names() {
    return "identity, sigmoid (alias logistic), tanh, relu, leaky_relu, softmax (output only), "
           "exp (output only)";
}

bool output_only(Activation a) { return a == Activation::softmax || a == Activation::exp; }

using act_impl::forward_impl;
using act_impl::backward_impl;

template <class T>
BPNET_CLONES void activation_forward(Activation act, T* a, const T* z, std::size_t rows,
                                     std::size_t cols, std::size_t ld) {
    forward_impl(act, a, z, rows, cols, ld);
}

template <class T>
BPNET_CLONES void activation_backward(Activation act, T* delta, const T* z, const T* a,
                                      std::size_t rows, std::size_t cols, std::size_t ld) {
    backward_impl(act, delta, z, a, rows, cols, ld);
}

template <class T>
BPNET_CLONES void bias_activation_forward(Activation act, T* a, T* z, const T* b,
                                          std::size_t rows, std::size_t cols, std::size_t ld) {
    if (act == Activation::softmax)
        throw std::invalid_argument("bias_activation_forward: softmax needs whole rows");
    for (std::size_t i = 0; i < rows; ++i) {
        T* zi = z + i * ld;
        T* ai = a + i * ld;
        if (act == Activation::relu && ai == zi) {  // one pass: the common hidden layer in fit
            for (std::size_t j = 0; j < cols; ++j) {
                const T t = zi[j] + b[j];
                zi[j] = t > T(0) ? t : T(0);
            }
            continue;
        }
        for (std::size_t j = 0; j < cols; ++j) zi[j] += b[j];
        forward_impl(act, ai, zi, 1, cols, cols);
    }
}

template <class T>
void activation_forward_baseline(Activation act, T* a, const T* z, std::size_t n) {
    forward_impl(act, a, z, 1, n, n);
}

template <class T>
void activation_backward_baseline(Activation act, T* delta, const T* z, const T* a,
                                  std::size_t n) {
    backward_impl(act, delta, z, a, 1, n, n);
}

template void activation_forward<float>(Activation, float*, const float*, std::size_t,
                                        std::size_t, std::size_t);
template void activation_forward<double>(Activation, double*, const double*, std::size_t,
                                         std::size_t, std::size_t);
template void activation_backward<float>(Activation, float*, const float*, const float*,
                                         std::size_t, std::size_t, std::size_t);
template void activation_backward<double>(Activation, double*, const double*, const double*,
                                          std::size_t, std::size_t, std::size_t);
template void bias_activation_forward<float>(Activation, float*, float*, const float*,
                                             std::size_t, std::size_t, std::size_t);
template void bias_activation_forward<double>(Activation, double*, double*, const double*,
                                              std::size_t, std::size_t, std::size_t);
template void activation_forward_baseline<float>(Activation, float*, const float*, std::size_t);
template void activation_forward_baseline<double>(Activation, double*, const double*, std::size_t);
template void activation_backward_baseline<float>(Activation, float*, const float*, const float*,
                                                  std::size_t);
template void activation_backward_baseline<double>(Activation, double*, const double*,
                                                   const double*, std::size_t);

}  // namespace bpnet

// The bodies of the activation functions (activation.cpp), in one header so the per-sample
// training path (network.cpp) can inline them: the same source everywhere, so the same bits.
// Every function is BPNET_INLINE: inlined into each instruction-set clone of activation.cpp
// (an out-of-line helper would be compiled for the baseline only) and into the per-sample path.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <stdexcept>

#include "bpnet/activation.hpp"
#include "clones.hpp"
#include "vmath.hpp"

namespace bpnet::act_impl {

// Layers at least this wide take vmath::exp (vectorised); narrower ones libm's exp, whose
// latency is lower for a handful of values (the text's 1-3-1 network, one sample per step).
// The choice depends on the layer's width only, so a unit's output never depends on the batch.
constexpr std::size_t kVectorExpWidth = 8;

template <class T>
BPNET_INLINE T exp_for(T x, bool vector) {
    return vector ? vmath::exp(x) : std::exp(x);
}

template <class T>
BPNET_INLINE T sigmoid(T z, bool vector) {
    // Stable for large |z|: never exp of a large positive number. 1 / (1 + e^-z) for z >= 0,
    // e^z / (1 + e^z) below; both arms computed, then selected, so the loop vectorises.
    const T e = exp_for(-std::fabs(z), vector);
    return (z >= T(0) ? T(1) : e) / (T(1) + e);
}

// Softmax of each row: exp(z − max) / Σ exp(z − max). Works through rows in groups so the
// exp runs over one long contiguous stretch (it vectorises) when the rows are contiguous.
template <class T>
BPNET_INLINE void softmax_rows(T* a, const T* z, std::size_t rows, std::size_t cols, std::size_t ld) {
    if (rows == 1) {  // one row (predicting a sample): the same operations in the same order,
        // without the grouped loops' set-up (~500 instructions for a 10-class row)
        T m = z[0];
        for (std::size_t j = 1; j < cols; ++j) m = z[j] > m ? z[j] : m;
        for (std::size_t j = 0; j < cols; ++j) a[j] = z[j] - m;
        if (cols >= kVectorExpWidth)
            for (std::size_t j = 0; j < cols; ++j) a[j] = vmath::exp(a[j]);
        else
            for (std::size_t j = 0; j < cols; ++j) a[j] = std::exp(a[j]);
        T sum = T(0);
        for (std::size_t j = 0; j < cols; ++j) sum += a[j];
        const T inv = T(1) / sum;
        for (std::size_t j = 0; j < cols; ++j) a[j] *= inv;
        return;
    }
    constexpr std::size_t group = 64;
    T mx[group];
    for (std::size_t i0 = 0; i0 < rows; i0 += group) {
        const std::size_t g = std::min(group, rows - i0);
        // Row maxima and (below) row sums with the column loop outside: each row's chain of
        // dependent operations runs in the same order as a row-by-row loop (the same bits),
        // but g chains are in flight at once instead of one (a 10-class output row is a chain
        // of 10 dependent steps).
        const T* zb0 = z + i0 * ld;
        for (std::size_t i = 0; i < g; ++i) mx[i] = zb0[i * ld];
        for (std::size_t j = 1; j < cols; ++j)
            for (std::size_t i = 0; i < g; ++i) {
                const T v = zb0[i * ld + j];
                mx[i] = v > mx[i] ? v : mx[i];
            }
        if (ld == cols) {
            T* ab = a + i0 * ld;
            const T* zb = z + i0 * ld;
            for (std::size_t i = 0; i < g; ++i)
                for (std::size_t j = 0; j < cols; ++j) ab[i * cols + j] = zb[i * cols + j] - mx[i];
            if (cols >= kVectorExpWidth)
                for (std::size_t q = 0; q < g * cols; ++q) ab[q] = vmath::exp(ab[q]);
            else
                for (std::size_t q = 0; q < g * cols; ++q) ab[q] = std::exp(ab[q]);
        } else {
            for (std::size_t i = 0; i < g; ++i) {
                T* ai = a + (i0 + i) * ld;
                const T* zi = z + (i0 + i) * ld;
                for (std::size_t j = 0; j < cols; ++j) ai[j] = exp_for(zi[j] - mx[i], cols >= kVectorExpWidth);
            }
        }
        T* ab0 = a + i0 * ld;
        T sum[group];
        for (std::size_t i = 0; i < g; ++i) sum[i] = T(0);
        for (std::size_t j = 0; j < cols; ++j)
            for (std::size_t i = 0; i < g; ++i) sum[i] += ab0[i * ld + j];
        for (std::size_t i = 0; i < g; ++i) {
            T* ai = ab0 + i * ld;
            const T inv = T(1) / sum[i];
            for (std::size_t j = 0; j < cols; ++j) ai[j] *= inv;
        }
    }
}

// The bodies, inlined into a clone per instruction set (the public functions) and into one
// baseline copy for the per-sample path (elementwise.hpp): the same arithmetic, the same bits.
// (Forced: a body left out of line is compiled for the baseline only, and every clone would
// call that.)
template <class T>
BPNET_INLINE void forward_impl(Activation act, T* a, const T* z, std::size_t rows, std::size_t cols,
                        std::size_t ld) {
    // z, a: (rows, cols), leading dimension ld
    if (act == Activation::softmax) return softmax_rows(a, z, rows, cols, ld);
    const bool vector = cols >= kVectorExpWidth;
    for (std::size_t i = 0; i < rows; ++i) {
        const T* zi = z + i * ld;
        T* ai = a + i * ld;
        switch (act) {
            case Activation::identity:
                if (ai != zi) std::copy(zi, zi + cols, ai);
                break;
            case Activation::sigmoid:
                if (vector)
                    for (std::size_t j = 0; j < cols; ++j) ai[j] = sigmoid(zi[j], true);
                else
                    for (std::size_t j = 0; j < cols; ++j) ai[j] = sigmoid(zi[j], false);
                break;
            case Activation::tanh:
                for (std::size_t j = 0; j < cols; ++j) ai[j] = std::tanh(zi[j]);
                break;
            case Activation::relu:
                for (std::size_t j = 0; j < cols; ++j) ai[j] = zi[j] > T(0) ? zi[j] : T(0);
                break;
            case Activation::leaky_relu:
                for (std::size_t j = 0; j < cols; ++j)
                    ai[j] = (zi[j] > T(0) ? T(1) : T(leaky_relu_slope)) * zi[j];
                break;
            case Activation::exp:
                if (vector)
                    for (std::size_t j = 0; j < cols; ++j) ai[j] = vmath::exp(zi[j]);
                else
                    for (std::size_t j = 0; j < cols; ++j) ai[j] = std::exp(zi[j]);
                break;
            case Activation::softmax:  // handled above
                break;
        }
    }
}

template <class T>
BPNET_INLINE void backward_impl(Activation act, T* delta, const T* z, const T* a, std::size_t rows,
                         std::size_t cols, std::size_t ld) {
    // delta, z, a: (rows, cols), leading dimension ld; delta ⊙= σ'(z)
    if (act == Activation::identity) return;
    if (act == Activation::softmax)
        throw std::invalid_argument("activation_backward: softmax has no element-wise derivative");
    for (std::size_t i = 0; i < rows; ++i) {
        T* di = delta + i * ld;
        const T* zi = z + i * ld;
        const T* ai = a + i * ld;
        switch (act) {
            case Activation::sigmoid:
                for (std::size_t j = 0; j < cols; ++j) di[j] *= ai[j] * (T(1) - ai[j]);
                break;
            case Activation::tanh:
                for (std::size_t j = 0; j < cols; ++j) di[j] *= T(1) - ai[j] * ai[j];
                break;
            case Activation::relu:
                for (std::size_t j = 0; j < cols; ++j) di[j] = zi[j] > T(0) ? di[j] : T(0);
                break;
            case Activation::leaky_relu:
                for (std::size_t j = 0; j < cols; ++j)
                    di[j] *= zi[j] > T(0) ? T(1) : T(leaky_relu_slope);
                break;
            case Activation::exp:
                for (std::size_t j = 0; j < cols; ++j) di[j] *= ai[j];
                break;
            default:
                break;
        }
    }
}

}  // namespace bpnet::act_impl

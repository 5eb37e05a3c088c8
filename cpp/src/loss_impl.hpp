// The bodies of loss_sum and loss_delta (loss.cpp), in one header so the per-sample training
// path (network.cpp) can inline them: the same source everywhere, so the same bits.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "activation_impl.hpp"
#include "bpnet/loss.hpp"
#include "clones.hpp"

namespace bpnet::loss_impl {

template <class T>
BPNET_INLINE double loss_sum_impl(Loss loss, const T* a, const T* y, const T* w, std::size_t n, std::size_t m) {
    // a, y: (n, m); returns Σ_i w_i C_i
    // Probabilities are clipped to [eps, 1 - eps] inside logs, as scikit-learn does.
    const double eps = std::numeric_limits<T>::epsilon();
    double total = 0;
    for (std::size_t i = 0; i < n; ++i) {
        const T* ai = a + i * m;
        const T* yi = y + i * m;
        double c = 0;
        switch (loss) {
            case Loss::squared_error:
            case Loss::half_squared_error:
                for (std::size_t j = 0; j < m; ++j) {
                    const double d = double(ai[j]) - double(yi[j]);
                    c += d * d;
                }
                if (loss == Loss::half_squared_error) c /= 2.0 * double(m);
                break;
            case Loss::binary_cross_entropy:
                for (std::size_t j = 0; j < m; ++j) {
                    const double p = std::clamp(double(ai[j]), eps, 1.0 - eps);
                    const double t = yi[j];
                    if (t != 0) c -= t * std::log(p);
                    if (t != 1) c -= (1.0 - t) * std::log(1.0 - p);
                }
                break;
            case Loss::cross_entropy: {
                // The positions of the nonzero targets first, in a pass without branches (a
                // one-hot row's single 1 mispredicted a branch per row), then their terms in
                // the same order as before.
                std::size_t nz[64];
                for (std::size_t j0 = 0; j0 < m; j0 += 64) {
                    const std::size_t je = std::min(m, j0 + 64);
                    std::size_t cnt = 0;
                    for (std::size_t j = j0; j < je; ++j) {
                        nz[cnt] = j;
                        cnt += yi[j] != 0;
                    }
                    for (std::size_t q = 0; q < cnt; ++q) {
                        const std::size_t j = nz[q];
                        const double p = std::clamp(double(ai[j]), eps, 1.0 - eps);
                        c -= double(yi[j]) * std::log(p);
                    }
                }
                break;
            }
            case Loss::poisson:
                // a = exp(z): C_i = Σ_j a − y·log a = Σ_j exp(z) − y·z
                for (std::size_t j = 0; j < m; ++j) {
                    const double p = ai[j];
                    c += p - (yi[j] != 0 ? double(yi[j]) * std::log(p) : 0.0);
                }
                break;
        }
        total += w ? double(w[i]) * c : c;
    }
    return total;
}

template <class T>
BPNET_INLINE void loss_delta_impl(Loss loss, Activation output, T* delta, const T* z, const T* a, const T* y,
                const T* w, std::size_t n, std::size_t m) {
    // delta, z, a, y: (n, m); delta_i = w_i ∂C_i/∂z_i
    for (std::size_t i = 0; i < n; ++i) {
        T* di = delta + i * m;
        const T* ai = a + i * m;
        const T* yi = y + i * m;
        const T* zi = z + i * m;
        const T wi = w ? w[i] : T(1);
        switch (loss) {
            case Loss::squared_error:
            case Loss::half_squared_error: {
                // ∇_a C_i = 2(a − y) or (a − y)/m, then ⊙ σ'(z)
                const T s = loss == Loss::squared_error ? T(2) : T(1) / T(m);
                for (std::size_t j = 0; j < m; ++j) di[j] = wi * s * (ai[j] - yi[j]);
                if (output == Activation::softmax) {
                    // Jacobian-vector product of softmax: δ_j = a_j (g_j − Σ_k a_k g_k)
                    T dot = 0;
                    for (std::size_t j = 0; j < m; ++j) dot += ai[j] * di[j];
                    for (std::size_t j = 0; j < m; ++j) di[j] = ai[j] * (di[j] - dot);
                } else {
                    act_impl::backward_impl(output, di, zi, ai, 1, m, m);
                }
                break;
            }
            case Loss::cross_entropy: {
                // softmax + cross entropy, fused: δ = a·Σy − y (= a − y for one-hot rows)
                T sy = 0;
                for (std::size_t j = 0; j < m; ++j) sy += yi[j];
                for (std::size_t j = 0; j < m; ++j) di[j] = wi * (ai[j] * sy - yi[j]);
                break;
            }
            case Loss::binary_cross_entropy:  // sigmoid output: δ = a − y
            case Loss::poisson:               // exp output: δ = a − y
                for (std::size_t j = 0; j < m; ++j) di[j] = wi * (ai[j] - yi[j]);
                break;
        }
    }
}

}  // namespace bpnet::loss_impl

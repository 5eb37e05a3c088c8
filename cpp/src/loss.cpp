// Cost functions and the fused output error δ^(L) = ∂C_i/∂z^(L) for each sample row.
#include "bpnet/loss.hpp"

#include "loss_impl.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

namespace bpnet {

Loss loss_from_name(const std::string& name) {
    if (name == "squared_error") return Loss::squared_error;
    if (name == "half_squared_error") return Loss::half_squared_error;
    if (name == "binary_cross_entropy") return Loss::binary_cross_entropy;
    if (name == "cross_entropy") return Loss::cross_entropy;
    if (name == "poisson") return Loss::poisson;
    throw std::invalid_argument("loss: unknown name '" + name + "', expected one of " +
                                loss_names());
}

const char* loss_name(Loss l) {
    switch (l) {
        case Loss::squared_error: return "squared_error";
        case Loss::half_squared_error: return "half_squared_error";
        case Loss::binary_cross_entropy: return "binary_cross_entropy";
        case Loss::cross_entropy: return "cross_entropy";
        case Loss::poisson: return "poisson";
    }
    return "?";
}

const char* loss_names() {
    return "squared_error, half_squared_error, binary_cross_entropy (sigmoid output), "
           "cross_entropy (softmax output), poisson (exp output)";
}

void check_loss_output(Loss loss, Activation output) {
    const char* need = nullptr;
    Activation want = Activation::identity;
    if (loss == Loss::binary_cross_entropy) need = "sigmoid", want = Activation::sigmoid;
    if (loss == Loss::cross_entropy) need = "softmax", want = Activation::softmax;
    if (loss == Loss::poisson) need = "exp", want = Activation::exp;
    if (need && output != want)
        throw std::invalid_argument(std::string("loss: '") + loss_name(loss) +
                                    "' needs output_activation '" + need + "', got '" +
                                    activation_name(output) + "'");
}

template <class T>
double loss_sum(Loss loss, const T* a, const T* y, const T* w, std::size_t n, std::size_t m) {
    return loss_impl::loss_sum_impl(loss, a, y, w, n, m);
}

template <class T>
void loss_delta(Loss loss, Activation output, T* delta, const T* z, const T* a, const T* y,
                const T* w, std::size_t n, std::size_t m) {
    loss_impl::loss_delta_impl(loss, output, delta, z, a, y, w, n, m);
}

template double loss_sum<float>(Loss, const float*, const float*, const float*, std::size_t,
                                std::size_t);
template double loss_sum<double>(Loss, const double*, const double*, const double*,
                                 std::size_t, std::size_t);
template void loss_delta<float>(Loss, Activation, float*, const float*, const float*,
                                const float*, const float*, std::size_t, std::size_t);
template void loss_delta<double>(Loss, Activation, double*, const double*, const double*,
                                 const double*, const double*, std::size_t, std::size_t);

}  // namespace bpnet

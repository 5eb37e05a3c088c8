// Network<T>: forward pass, backpropagation, and mini-batch training (DESIGN.md §1–2).
// Every matrix product goes through kernels::gemm; element-wise work through activation.cpp
// and loss.cpp.
#include "bpnet/network.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <type_traits>
#include <limits>
#include <exception>
#include <stdexcept>
#include <string>
#include <unistd.h>
#include <utility>

#include "clones.hpp"
#include "activation_impl.hpp"
#include "elementwise.hpp"
#include "loss_impl.hpp"
#include "float_mode.hpp"
#include "kernels/gemm.hpp"
#include "rng.hpp"

#ifdef BPNET_WITH_OPENMP
#include <omp.h>
#endif

namespace bpnet {

using kernels::gemm;
using kernels::Trans;

namespace {

// Whether a value of the enum is one of its named values (a cast integer may be anything).
// No default label: -Wswitch names a value added to the enum but not here.
bool known(Activation a) {
    switch (a) {
        case Activation::identity:
        case Activation::sigmoid:
        case Activation::tanh:
        case Activation::relu:
        case Activation::leaky_relu:
        case Activation::softmax:
        case Activation::exp: return true;
    }
    return false;
}

bool known(Loss l) {
    switch (l) {
        case Loss::squared_error:
        case Loss::half_squared_error:
        case Loss::binary_cross_entropy:
        case Loss::cross_entropy:
        case Loss::poisson: return true;
    }
    return false;
}

// Throws std::invalid_argument when `name`, a buffer of count > 0 values, is a null pointer.
void check_pointer(const char* call, const char* name, const void* p, std::size_t count) {
    if (!p && count > 0)
        throw std::invalid_argument(std::string(call) + ": " + name + " is a null pointer, expected " +
                                    std::to_string(count) + " values");
}

// Throws if [p, p + count) overlaps the network's parameters [w, w + nw): fit would read data
// it is changing (a NumPy view of Network.params passed as X, say).
template <class T>
void check_not_parameters(const char* call, const char* name, const T* p, std::size_t count,
                          const T* w, std::size_t nw) {
    if (!p || count == 0 || nw == 0) return;
    const auto a = reinterpret_cast<std::uintptr_t>(p), b = reinterpret_cast<std::uintptr_t>(w);
    if (a < b + nw * sizeof(T) && b < a + count * sizeof(T))
        throw std::invalid_argument(std::string(call) + ": " + name +
                                    " shares memory with the network's parameters; pass a copy");
}

// Bytes of memory this machine has; 0 if unknown.
double physical_memory_bytes() {
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGE_SIZE)
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGE_SIZE);
    if (pages > 0 && page > 0) return double(pages) * double(page);
#endif
    return 0;
}

}  // namespace

// ---------------------------------------------------------------- construction

template <class T>
Network<T>::Network(std::vector<std::size_t> layer_sizes, std::vector<Activation> activations,
                    Loss loss, std::uint64_t seed)
    : sizes_(std::move(layer_sizes)), acts_(std::move(activations)), loss_(loss) {
    if (sizes_.size() < 2)
        throw std::invalid_argument("layer_sizes: expected at least 2 entries (inputs, outputs), got " +
                                    std::to_string(sizes_.size()));
    for (std::size_t i = 0; i < sizes_.size(); ++i)
        if (sizes_[i] == 0)
            throw std::invalid_argument("layer_sizes[" + std::to_string(i) +
                                        "]: expected a positive size, got 0");
    const std::size_t L = sizes_.size() - 1;
    if (acts_.size() != L)
        throw std::invalid_argument("activations: expected " + std::to_string(L) +
                                    " (one per layer), got " + std::to_string(acts_.size()));
    for (std::size_t l = 0; l < L; ++l)
        if (!known(acts_[l]))
            throw std::invalid_argument("activations[" + std::to_string(l) + "]: unknown Activation value " +
                                        std::to_string(static_cast<int>(acts_[l])) + " for layer " +
                                        std::to_string(l + 1) + ", expected one of " + activation_names());
    if (!known(loss_))
        throw std::invalid_argument("loss: unknown Loss value " + std::to_string(static_cast<int>(loss_)) +
                                    ", expected one of " + loss_names());
    for (std::size_t l = 0; l + 1 < L; ++l)
        if (output_only(acts_[l]))
            throw std::invalid_argument(std::string("activation: '") + activation_name(acts_[l]) +
                                        "' is for the output layer only, got it on hidden layer " +
                                        std::to_string(l + 1));
    check_loss_output(loss_, acts_.back());
    if (acts_.back() == Activation::softmax && sizes_.back() < 2)
        throw std::invalid_argument("output_activation: softmax needs at least 2 outputs, got 1");

    // Offsets, with overflow and size checks before anything is allocated.
    const double max_count = double(std::numeric_limits<std::ptrdiff_t>::max()) / sizeof(T) / 4;
    double count = 0;
    offsets_.assign(L + 1, 0);
    for (std::size_t l = 0; l < L; ++l) {
        count += double(sizes_[l + 1]) * double(sizes_[l]) + double(sizes_[l + 1]);
        if (count > max_count)
            throw std::invalid_argument("layer_sizes: " + std::to_string(count) +
                                        " parameters cannot be addressed");
        offsets_[l + 1] = offsets_[l] + sizes_[l + 1] * sizes_[l] + sizes_[l + 1];
    }
    const double bytes = 2.0 * count * sizeof(T);  // parameters + gradients
    const double mem = physical_memory_bytes();
    if (mem > 0 && bytes > mem)
        throw std::invalid_argument("layer_sizes: " + std::to_string(std::size_t(count)) +
                                    " parameters need " + std::to_string(bytes / 1e9) +
                                    " GB, more than this machine's " + std::to_string(mem / 1e9) +
                                    " GB of memory");
    params_.assign(offsets_[L], T(0));
    grads_.assign(offsets_[L], T(0));
    init_params(seed);
}

namespace {
std::vector<Activation> names_to_activations(std::size_t L, const std::string& hidden,
                                             const std::string& output) {
    std::vector<Activation> acts(L > 0 ? L - 1 : 0, activation_from_name(hidden));
    acts.push_back(activation_from_name(output));
    return acts;
}
}  // namespace

template <class T>
Network<T>::Network(std::vector<std::size_t> layer_sizes, const std::string& activation,
                    const std::string& output_activation, const std::string& loss,
                    std::uint64_t seed)
    : Network(layer_sizes,
              names_to_activations(layer_sizes.size() > 0 ? layer_sizes.size() - 1 : 0,
                                   activation, output_activation),
              loss_from_name(loss), seed) {}

// Copies read the source under its guard (a fit in another thread is not read half-way);
// assignment builds the copy first, then swaps it in under the target's own guard.
template <class T>
Network<T>::Network(const Network& other) : loss_(Loss::squared_error) {
    detail::NetworkGuard::Reader lock(other.guard_);
    sizes_ = other.sizes_, acts_ = other.acts_, loss_ = other.loss_, offsets_ = other.offsets_;
    params_ = other.params_, grads_ = other.grads_, state_ = other.state_;
}

template <class T>
Network<T>& Network<T>::operator=(const Network& other) {
    if (this == &other) return *this;
    Network copy(other);
    detail::NetworkGuard::Writer lock(guard_, "operator=");
    sizes_.swap(copy.sizes_), acts_.swap(copy.acts_), loss_ = copy.loss_;
    offsets_.swap(copy.offsets_), params_.swap(copy.params_), grads_.swap(copy.grads_);
    std::swap(state_, copy.state_);
    return *this;
}

// A moved-from network is left empty (see network.hpp), never half-moved.
template <class T>
Network<T>::Network(Network&& other) noexcept
    : sizes_(std::move(other.sizes_)), acts_(std::move(other.acts_)), loss_(other.loss_),
      offsets_(std::move(other.offsets_)), params_(std::move(other.params_)),
      grads_(std::move(other.grads_)), state_(std::move(other.state_)) {
    other.sizes_.clear(), other.acts_.clear(), other.offsets_.clear();
    other.params_.clear(), other.grads_.clear(), other.state_ = TrainState<T>{};
}

template <class T>
Network<T>& Network<T>::operator=(Network&& other) noexcept {
    if (this == &other) return *this;  // a self-move keeps the network
    sizes_ = std::move(other.sizes_), acts_ = std::move(other.acts_), loss_ = other.loss_;
    offsets_ = std::move(other.offsets_), params_ = std::move(other.params_);
    grads_ = std::move(other.grads_), state_ = std::move(other.state_);
    other.sizes_.clear(), other.acts_.clear(), other.offsets_.clear();
    other.params_.clear(), other.grads_.clear(), other.state_ = TrainState<T>{};
    return *this;
}

template <class T>
void Network<T>::check_not_empty(const char* call) const {
    if (empty())
        throw std::invalid_argument(std::string(call) +
                                    ": the network is empty (moved from); assign a network to it first");
}

template <class T>
std::size_t Network<T>::weight_offset(std::size_t l) const {
    if (l >= num_layers())
        throw std::out_of_range("layer index " + std::to_string(l) + " out of range, network has " +
                                std::to_string(num_layers()) + " layers");
    return offsets_[l];
}

template <class T>
std::size_t Network<T>::bias_offset(std::size_t l) const {
    return weight_offset(l) + sizes_[l + 1] * sizes_[l];
}

template <class T>
void Network<T>::init_params(std::uint64_t seed) {
    check_not_empty("init_params");
    detail::NetworkGuard::Writer lock(guard_, "init_params");
    // Glorot uniform as scikit-learn: bound = sqrt(f / (fan_in + fan_out)), f = 2 for a
    // sigmoid layer and 6 otherwise; W and b both drawn from U(−bound, bound).
    detail::Rng rng(seed);
    for (std::size_t l = 0; l < num_layers(); ++l) {
        const double f = acts_[l] == Activation::sigmoid ? 2.0 : 6.0;
        const double bound = std::sqrt(f / double(sizes_[l] + sizes_[l + 1]));
        T* p = params_.data() + offsets_[l];
        const std::size_t count = offsets_[l + 1] - offsets_[l];
        for (std::size_t i = 0; i < count; ++i) p[i] = T((2.0 * rng.uniform() - 1.0) * bound);
    }
    state_ = TrainState<T>{};
}

template <class T>
void Network<T>::check_weights(const char* name, const T* w, std::size_t n) {
    check_finite(name, w, n);
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) {
        if (w[i] < 0)
            throw std::invalid_argument(std::string(name) + ": expected values >= 0, got " +
                                        std::to_string(double(w[i])) + " at index " + std::to_string(i));
        s += w[i];
    }
    if (!(s > 0)) throw std::invalid_argument(std::string(name) + ": expected a positive sum, got 0");
}

namespace {

// Whether data[0, count) is free of NaN and ±inf: a pass without branches (vectorises) over
// the exponent bits, all ones exactly for those values.
template <class T>
bool all_finite(const T* data, std::size_t count) {
    using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
    constexpr Bits exp_mask = sizeof(T) == 4 ? Bits(0x7f800000u) : Bits(0x7ff0000000000000ull);
    Bits bad = 0;
    for (std::size_t i = 0; i < count; ++i) {
        Bits b;
        std::memcpy(&b, data + i, sizeof b);
        bad |= Bits((b & exp_mask) == exp_mask);
    }
    return !bad;
}

}  // namespace

template <class T>
void Network<T>::check_finite(const char* name, const T* data, std::size_t count) {
    if (all_finite(data, count)) return;
    for (std::size_t i = 0; i < count; ++i)
        if (!std::isfinite(data[i]))
            throw std::invalid_argument(
                std::string(name) + ": expected finite values, found " +
                (std::isnan(data[i]) ? "NaN" : "inf") + " at flat index " + std::to_string(i) +
                // a finite float64 input beyond float32's range arrives here as inf
                (sizeof(T) == 4 && std::isinf(data[i])
                     ? " (a float32 network: values beyond +-3.4e38 become inf)"
                     : ""));
}

// ---------------------------------------------------------------- row chunks

namespace {

// Row chunks of a batch (see Network::row_chunks): at least this many rows per chunk, and at
// least this many multiply-adds per batch before cutting pays for a parallel region.
constexpr std::size_t kChunkMinRows = 32;
constexpr double kChunkMinMultiplyAdds = 1.0e5;
constexpr std::size_t kMaxChunks = 2;
// backward_rows keeps its per-layer pointers on the stack up to this depth
constexpr std::size_t kMaxLayersOnStack = 16;

// Runs body(r0, r1, c) for the chunks c of n rows (chunk c: rows [c·n/chunks, (c+1)·n/chunks)),
// on up to `chunks` threads, each with the caller's floating-point mode. An exception thrown by
// a chunk is rethrown here after every chunk has finished.
template <class Body>
void in_chunks(std::size_t chunks, std::size_t n, const Body& body) {
#ifdef BPNET_WITH_OPENMP
    const int nt = static_cast<int>(std::min<std::size_t>(chunks, std::size_t(num_threads())));
#else
    const int nt = 1;
#endif
    const unsigned mode = SameFloatMode::current();
    std::exception_ptr error;
    const std::ptrdiff_t count = std::ptrdiff_t(chunks);
#ifdef BPNET_WITH_OPENMP
#pragma omp parallel for schedule(static) num_threads(nt) if (nt > 1)
#endif
    for (std::ptrdiff_t c = 0; c < count; ++c) {
        SameFloatMode same(mode);
        try {
            body(std::size_t(c) * n / chunks, (std::size_t(c) + 1) * n / chunks, std::size_t(c));
        } catch (...) {
#ifdef BPNET_WITH_OPENMP
#pragma omp critical(bpnet_chunk_error)
#endif
            if (!error) error = std::current_exception();
        }
    }
    (void)nt;
    if (error) std::rethrow_exception(error);
}

}  // namespace

template <class T>
std::size_t Network<T>::row_chunks(std::size_t n) const {
    if (n < kMaxChunks * kChunkMinRows) return 1;
    double total = 0, largest = 0;
    for (std::size_t l = 0; l < num_layers(); ++l) {
        const double work = double(n) * double(sizes_[l]) * double(sizes_[l + 1]);
        total += work;
        largest = std::max(largest, work);
    }
    if (largest >= kernels::kParallelMultiplyAdds || total < kChunkMinMultiplyAdds) return 1;
    return kMaxChunks;
}

// ---------------------------------------------------------------- forward

namespace {

// Products with fewer multiply-adds than this are computed by the plain loops below: for a
// tiny network (the text's 1-3-1, one sample per step) a call into the kernels costs more
// than the arithmetic.
constexpr std::size_t small_work = 128;

inline bool is_small(std::size_t a, std::size_t b, std::size_t c) {
    return a * b * c <= small_work;
}

// d[0, m) = s[0, m) for one short row (a bias, a sample's inputs or targets), copied inline in
// 32-byte pieces, the last one overlapping: a std::copy (or a loop GCC turns into one) is a
// memmove call per row, and these rows are copied hundreds of times per batch.
template <class T>
inline void copy_row(T* __restrict d, const T* __restrict s, std::size_t m) {
    constexpr std::size_t B = 32 / sizeof(T);
    if (m < B) {
        std::copy(s, s + m, d);
        return;
    }
    for (std::size_t j = 0; j + B <= m; j += B) __builtin_memcpy(d + j, s + j, 32);
    if (m % B != 0) __builtin_memcpy(d + m - B, s + m - B, 32);
}

// Prefetches the cache lines of a row of m elements (gathering shuffled rows of a batch).
constexpr std::size_t kGatherAhead = 4;
template <class T>
inline void prefetch_row(const T* s, std::size_t m) {
#if defined(__GNUC__)
    const char* p = reinterpret_cast<const char*>(s);
    const char* end = reinterpret_cast<const char*>(s + m);
    for (; p < end; p += 64) __builtin_prefetch(p, 0, 3);
    __builtin_prefetch(end - 1, 0, 3);  // the last line, when the row does not start on one
#else
    (void)s, (void)m;
#endif
}

// z[i*ld + j] += b[j] for a block of rows: the bias, added to a finished block of the forward
// product. With the product's beta = 0 this is round(acc + b), the bits that starting the
// product from the bias (beta = 1) gave when k fits one KC slice.
template <class T>
BPNET_CLONES void add_bias_rows(T* __restrict z, std::size_t ld, const T* __restrict b,
                                std::size_t rows, std::size_t cols) {
    for (std::size_t i = 0; i < rows; ++i) {
        T* zi = z + i * ld;
        for (std::size_t j = 0; j < cols; ++j) zi[j] += b[j];
    }
}

// Z (n, n_out) = A_prev (n, n_in) Wᵀ + 1 bᵀ   then   A = σ(Z) (A may alias Z).
template <class T>
void dense_forward(T* z, T* a, const T* a_prev, const T* W, const T* b, Activation act,
                   std::size_t n, std::size_t n_in, std::size_t n_out) {
    // a_prev (n, n_in), W (n_out, n_in), b (n_out), z and a (n, n_out)
    if (is_small(n, n_in, n_out)) {
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < n_out; ++j) {
                T s = b[j];
                for (std::size_t p = 0; p < n_in; ++p) s += a_prev[i * n_in + p] * W[j * n_in + p];
                z[i * n_out + j] = s;
            }
        activation_forward(act, a, z, n, n_out, n_out);
        return;
    }
    // The bias and σ are applied to each finished block of Z while it is in cache (softmax
    // needs whole rows, so it runs after the product). One or two rows (predicting a sample)
    // take the product's small path, which sums all of k before adding C: there the bias is
    // copied in as the starting value (beta = 1), cheaper than a call per block, same bits.
    const bool bias_first = n <= 2;
    if (bias_first)
        for (std::size_t i = 0; i < n; ++i) copy_row(z + i * n_out, b, n_out);
    struct Ctx {
        Activation act;
        T* a;
        const T* b;  // null when the bias is already in Z
    } ctx{act, a, bias_first ? nullptr : b};
    kernels::Epilogue<T> epi;
    epi.ctx = &ctx;
    epi.fn = [](void* c, T* zb, std::size_t ld, std::size_t i0, std::size_t rows, std::size_t j0,
                std::size_t cols) {
        const Ctx& x = *static_cast<const Ctx*>(c);
        if (x.act == Activation::softmax)
            add_bias_rows(zb, ld, x.b + j0, rows, cols);  // σ after the product (whole rows)
        else if (x.b)
            bias_activation_forward(x.act, x.a + i0 * ld + j0, zb, x.b + j0, rows, cols, ld);
        else
            activation_forward(x.act, x.a + i0 * ld + j0, zb, rows, cols, ld);
    };
    if (bias_first && act == Activation::softmax) epi.fn = nullptr;  // nothing left for it
    gemm<T>(Trans::N, Trans::T, n, n_out, n_in, T(1), a_prev, n_in, W, n_in,
            bias_first ? T(1) : T(0), z, n_out, epi);
    if (act == Activation::softmax) activation_forward(act, a, z, n, n_out, n_out);
}

// dW (n_out, n_in) = scale · Δᵀ A_prev
template <class T>
void weight_gradient(T* dW, const T* delta, const T* a_prev, T scale, std::size_t n,
                     std::size_t n_in, std::size_t n_out) {
    // delta (n, n_out), a_prev (n, n_in)
    if (is_small(n, n_in, n_out)) {
        for (std::size_t j = 0; j < n_out; ++j)
            for (std::size_t p = 0; p < n_in; ++p) {
                T s = 0;
                for (std::size_t i = 0; i < n; ++i) s += delta[i * n_out + j] * a_prev[i * n_in + p];
                dW[j * n_in + p] = scale * s;
            }
    } else {
        gemm<T>(Trans::T, Trans::N, n_out, n_in, n, scale, delta, n_out, a_prev, n_in, T(0), dW, n_in);
    }
}

// Δ_prev (n, n_in) = (Δ (n, n_out) W (n_out, n_in)) ⊙ σ'(Z_prev), with Z_prev and A_prev
// (n, n_in); σ' is applied to each finished block of the product while it is in cache.
template <class T>
void delta_product(T* delta_prev, const T* delta, const T* W, Activation act, const T* z_prev,
                   const T* a_prev, std::size_t n, std::size_t n_in, std::size_t n_out) {
    if (is_small(n, n_in, n_out)) {
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t p = 0; p < n_in; ++p) {
                T s = 0;
                for (std::size_t j = 0; j < n_out; ++j) s += delta[i * n_out + j] * W[j * n_in + p];
                delta_prev[i * n_in + p] = s;
            }
        activation_backward(act, delta_prev, z_prev, a_prev, n, n_in, n_in);
        return;
    }
    struct Ctx {
        Activation act;
        const T *z, *a;
    } ctx{act, z_prev, a_prev};
    kernels::Epilogue<T> epi;
    epi.ctx = &ctx;
    epi.fn = [](void* c, T* db, std::size_t ld, std::size_t i0, std::size_t rows, std::size_t j0,
                std::size_t cols) {
        const Ctx& x = *static_cast<const Ctx*>(c);
        activation_backward(x.act, db, x.z + i0 * ld + j0, x.a + i0 * ld + j0, rows, cols, ld);
    };
    gemm<T>(Trans::N, Trans::N, n, n_in, n_out, T(1), delta, n_out, W, n_in, T(0), delta_prev, n_in,
            epi);
}

}  // namespace

template <class T>
void Network<T>::forward_rows(const T* X, std::size_t r0, std::size_t r1, T* const* z,
                              T* const* a) const {
    for (std::size_t l = 0; l < num_layers(); ++l) {
        const std::size_t n_in = sizes_[l], n_out = sizes_[l + 1];
        dense_forward(z[l] + r0 * n_out, a[l] + r0 * n_out,
                      l == 0 ? X + r0 * n_in : a[l - 1] + r0 * n_in, weights(l), biases(l),
                      acts_[l], r1 - r0, n_in, n_out);
    }
}

template <class T>
void Network<T>::forward(const T* X, std::size_t n, T* const* z, T* const* a) const {
    check_not_empty("forward");
    check_pointer("forward", "X", X, n * n_inputs());
    detail::NetworkGuard::Reader lock(guard_);
    check_finite("X", X, n * n_inputs());
    // Cut as backward cuts the batch, so forward + backward gives fit's bits.
    const std::size_t chunks = row_chunks(n);
    if (chunks == 1) return forward_rows(X, 0, n, z, a);
    in_chunks(chunks, n, [&](std::size_t r0, std::size_t r1, std::size_t) {
        forward_rows(X, r0, r1, z, a);
    });
}

namespace {

// out (n, n_L) = net(X (n, n_0)): predict without its lock. check_X: each chunk of X's rows
// is checked finite just before the forward reads it, while it is in cache (10000 x 784
// float32: ~3 ms, where a pass of its own over X took ~5 ms, next to ~18 ms for a one-thread
// 784-100-10 predict); a NaN or inf throws std::invalid_argument naming its flat index in X,
// out then holding the earlier chunks' rows. Otherwise the caller has checked X.
template <class T>
void predict_rows(const Network<T>& net, const T* X, std::size_t n, T* out, bool check_X) {
    const std::vector<std::size_t>& sizes = net.layer_sizes();
    const std::vector<Activation>& acts = net.activations();
    // Works through X in chunks of rows with a per-thread scratch buffer (two layers wide),
    // so memory stays small for any n and concurrent calls never share a workspace.
    constexpr std::size_t chunk = 256;
    std::size_t width = 0;
    for (std::size_t l = 1; l + 1 < sizes.size(); ++l) width = std::max(width, sizes[l]);
    thread_local std::vector<T> scratch;
    const std::size_t need = 2 * chunk * width;
    if (scratch.size() < need) scratch.resize(need);
    const std::size_t L = net.num_layers();
    for (std::size_t r0 = 0; r0 < n; r0 += chunk) {
        const std::size_t rows = std::min(chunk, n - r0);
        const T* in = X + r0 * sizes[0];
        if (check_X && !all_finite(in, rows * sizes[0]))
            Network<T>::check_finite("X", X, n * sizes[0]);  // throws, with the index in X
        for (std::size_t l = 0; l < L; ++l) {
            T* dst = l + 1 == L ? out + r0 * sizes[L] : scratch.data() + (l % 2) * chunk * width;
            dense_forward(dst, dst, in, net.weights(l), net.biases(l), acts[l], rows, sizes[l],
                          sizes[l + 1]);
            in = dst;
        }
    }
}

}  // namespace

template <class T>
void Network<T>::predict(const T* X, std::size_t n, T* out) const {
    check_not_empty("predict");
    check_pointer("predict", "X", X, n * n_inputs());
    check_pointer("predict", "out", out, n * n_outputs());
    detail::NetworkGuard::Reader lock(guard_);
    predict_rows(*this, X, n, out, true);  // checks X as it goes: no pass of its own, no allocation
}

template <class T>
std::vector<T> Network<T>::predict(const std::vector<T>& X) const {
    check_not_empty("predict");
    if (X.size() % n_inputs() != 0)
        throw std::invalid_argument("predict: X has " + std::to_string(X.size()) +
                                    " values, expected a multiple of " + std::to_string(n_inputs()) +
                                    " (layer_sizes[0])");
    const std::size_t n = X.size() / n_inputs();
    std::vector<T> out(n * n_outputs());
    predict(X.data(), n, out.data());
    return out;
}

// ---------------------------------------------------------------- loss and backward

namespace {

template <class T>
double weight_sum(const T* w, std::size_t n) {
    if (!w) return double(n);
    double s = 0;
    for (std::size_t i = 0; i < n; ++i) s += w[i];
    return s;
}

// The L2 penalty's alpha (loss, backward, FitOptions::alpha).
void check_alpha(double alpha) {
    if (!(alpha >= 0) || !std::isfinite(alpha))
        throw std::invalid_argument("alpha: expected a finite value >= 0, got " + std::to_string(alpha));
}

// A batch handed to loss, backward or score, as the Python bindings check it: at least one
// row (a mean over none is NaN), finite X (unless null: backward's X is the one forward
// checked) and y, sample weights finite, >= 0 and not all 0, alpha finite and >= 0.
template <class T>
void check_batch(const Network<T>& net, const T* X, const T* Y, std::size_t n, const T* w,
                 double alpha) {
    if (n == 0) throw std::invalid_argument("X: expected at least 1 row, got 0");
    if (X) Network<T>::check_finite("X", X, n * net.n_inputs());
    Network<T>::check_finite("y", Y, n * net.n_outputs());
    if (w) Network<T>::check_weights("sample_weight", w, n);
    check_alpha(alpha);
}

}  // namespace

namespace {

// Σ_l ||W_l||² in double, in 32 interleaved partial sums combined pairwise (a fixed order, so
// the same bits every time and on every instruction set). A single running sum would be one
// long chain of dependent additions; eight partial sums (two AVX2 vectors) still waited on the
// adder's latency every step (78k float32 weights: ~16 us per step, now ~4x less).
template <class T>
BPNET_CLONES double squared_norm(const T* W, std::size_t count) {
    constexpr std::size_t P = 32;
    double part[P] = {};
    std::size_t i = 0;
    for (; i + P <= count; i += P)
        for (std::size_t q = 0; q < P; ++q) part[q] += double(W[i + q]) * double(W[i + q]);
    for (std::size_t q = 0; i < count; ++i, ++q) part[q] += double(W[i]) * double(W[i]);
    for (std::size_t w = P / 2; w >= 1; w /= 2)
        for (std::size_t q = 0; q < w; ++q) part[q] += part[q + w];
    return part[0];
}

// db = scale · Σ_rows d, d (n, n_out) row-major: ∂C/∂b. Each column is summed in row order
// from 0, as a plain loop would, in a block of local sums (in a baseline loop over db, every
// row's load-add-store of db went through memory, two doubles at a time).
template <class T>
BPNET_CLONES void bias_gradient(T* db, const T* d, std::size_t n, std::size_t n_out, T scale) {
    constexpr std::size_t W = 64;
    for (std::size_t j0 = 0; j0 < n_out; j0 += W) {
        const std::size_t w = std::min(W, n_out - j0);
        T acc[W];
        for (std::size_t j = 0; j < w; ++j) acc[j] = T(0);
        if (w == W) {  // a full block: a fixed trip count keeps acc in registers
            for (std::size_t i = 0; i < n; ++i) {
                const T* di = d + i * n_out + j0;
                for (std::size_t j = 0; j < W; ++j) acc[j] += di[j];
            }
        } else {
            for (std::size_t i = 0; i < n; ++i) {
                const T* di = d + i * n_out + j0;
                for (std::size_t j = 0; j < w; ++j) acc[j] += di[j];
            }
        }
        for (std::size_t j = 0; j < w; ++j) db[j0 + j] = acc[j] * scale;
    }
}

// dst[i] += src[i] and dst[i] += k · src[i], i < count: the sum of the chunks' gradients and
// the L2 penalty's term, vectorised (element-wise, -ffp-contract=off: the bits of the plain
// baseline loops they replace).
template <class T>
BPNET_CLONES void add_into(T* __restrict dst, const T* __restrict src, std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) dst[i] += src[i];
}

template <class T>
BPNET_CLONES void add_scaled_into(T* __restrict dst, const T* __restrict src, T k,
                                  std::size_t count) {
    for (std::size_t i = 0; i < count; ++i) dst[i] += k * src[i];
}

}  // namespace

namespace {

// Network::loss without its lock and checks (fit's validation rows were checked once).
template <class T>
double mean_loss(const Network<T>& net, const T* X, const T* Y, std::size_t n, const T* w,
                 double alpha) {
    const std::vector<std::size_t>& sizes = net.layer_sizes();
    std::vector<T> out(n * net.n_outputs());
    predict_rows(net, X, n, out.data(), false);
    const double n_eff = weight_sum(w, n);
    double c = loss_sum(net.loss_kind(), out.data(), Y, w, n, net.n_outputs()) / n_eff;
    if (alpha != 0) {
        double sq = 0;
        for (std::size_t l = 0; l < net.num_layers(); ++l)
            sq += squared_norm(net.weights(l), sizes[l + 1] * sizes[l]);
        c += alpha / (2.0 * n_eff) * sq;
    }
    return c;
}

}  // namespace

template <class T>
double Network<T>::loss(const T* X, const T* Y, std::size_t n, const T* w, double alpha) const {
    check_not_empty("loss");
    check_pointer("loss", "X", X, n * n_inputs());
    check_pointer("loss", "y", Y, n * n_outputs());
    detail::NetworkGuard::Reader lock(guard_);
    check_batch(*this, X, Y, n, w, alpha);
    return mean_loss(*this, X, Y, n, w, alpha);
}

template <class T>
double Network<T>::backward_rows(const T* X, const T* Y, const T* w, std::size_t r0,
                                 std::size_t r1, T* const* z_all, T* const* a_all,
                                 T* const* delta_all, T* grad, T scale) const {
    const std::size_t L = num_layers(), n = r1 - r0;
    // this chunk's rows of every layer's buffers
    T* z[kMaxLayersOnStack];
    T* a[kMaxLayersOnStack];
    T* delta[kMaxLayersOnStack];
    std::vector<T*> heap;
    T** zp = z;
    T** ap = a;
    T** dp = delta;
    if (L > kMaxLayersOnStack) {
        heap.resize(3 * L);
        zp = heap.data(), ap = heap.data() + L, dp = heap.data() + 2 * L;
    }
    for (std::size_t l = 0; l < L; ++l) {
        const std::size_t off = r0 * sizes_[l + 1];
        zp[l] = z_all[l] + off, ap[l] = a_all[l] + off, dp[l] = delta_all[l] + off;
    }
    X += r0 * n_inputs(), Y += r0 * n_outputs();
    if (w) w += r0;
    const double c = loss_sum(loss_, ap[L - 1], Y, w, n, n_outputs());
    // δ^(L) = ∇_a C ⊙ σ'(z^(L)), fused with the loss (one row per sample)
    loss_delta(loss_, acts_[L - 1], dp[L - 1], zp[L - 1], ap[L - 1], Y, w, n, n_outputs());
    for (std::size_t l = L; l-- > 0;) {
        const std::size_t n_in = sizes_[l], n_out = sizes_[l + 1];
        const T* a_prev = l == 0 ? X : ap[l - 1];
        T* dW = grad + offsets_[l];
        T* db = dW + n_out * n_in;
        // ∂C/∂W_l = (1/n) Δ_lᵀ A_{l−1}:  delta (n, n_out), a_prev (n, n_in), dW (n_out, n_in)
        weight_gradient(dW, dp[l], a_prev, scale, n, n_in, n_out);
        // ∂C/∂b_l = (1/n) Σ_rows Δ_l
        bias_gradient(db, dp[l], n, n_out, scale);
        if (l > 0) {
            // Δ_{l−1} = (Δ_l W_l) ⊙ σ'(Z_{l−1}):  delta (n, n_out), W (n_out, n_in)
            delta_product(dp[l - 1], dp[l], weights(l), acts_[l - 1], zp[l - 1], ap[l - 1], n,
                          n_in, n_out);
        }
    }
    return c;
}

template <class T>
double Network<T>::gradient(bool with_forward, const T* X, const T* Y, std::size_t n,
                            T* const* z, T* const* a, T* const* delta, T* grad, const T* w,
                            double alpha, const Gather* gather, Unfinished* unfinished) const {
    const std::size_t L = num_layers(), np = num_params();
    if (unfinished) *unfinished = Unfinished{};
    const std::size_t n0 = n_inputs(), nL = n_outputs();
    double n_eff = 0;
    if (gather) {
        if (gather->w)
            for (std::size_t i = 0; i < n; ++i) n_eff += gather->w[gather->rows[i]];
        else
            n_eff = double(n);
        X = gather->xb, Y = gather->yb, w = gather->w ? gather->wb : nullptr;
    } else {
        n_eff = weight_sum(w, n);
    }
    const T scale = T(1.0 / n_eff);
    // rows [r0, r1) of a shuffled batch into xb, yb, wb
    auto copy_rows = [&](std::size_t r0, std::size_t r1) {
        for (std::size_t i = r0; i < r1; ++i) {
            // the rows are in random order, which no hardware prefetcher follows: fetch the
            // input row kGatherAhead places on while this one is copied
            if (i + kGatherAhead < r1)
                prefetch_row(gather->X + gather->rows[i + kGatherAhead] * n0, n0);
            const std::size_t r = gather->rows[i];
            copy_row(gather->xb + i * n0, gather->X + r * n0, n0);
            copy_row(gather->yb + i * nL, gather->Y + r * nL, nL);
            if (gather->w) gather->wb[i] = gather->w[r];
        }
    };
    const std::size_t chunks = row_chunks(n);
    // One chunk: a large batch whose products run on all threads; its rows are gathered on
    // all threads too (a 200 x 784 batch is 600 KiB to copy).
    const bool gather_apart = gather && chunks == 1;
    if (gather_apart) {
        const std::size_t parts = n * n0 >= (std::size_t(1) << 15) ? std::size_t(num_threads()) : 1;
        in_chunks(std::min(parts, n), n, [&](std::size_t r0, std::size_t r1, std::size_t) {
            copy_rows(r0, r1);
        });
    }
    // One chunk's work: gather its rows, forward them, backpropagate them.
    auto chunk = [&](std::size_t r0, std::size_t r1, T* g) {
        if (gather && !gather_apart) copy_rows(r0, r1);
        if (with_forward) forward_rows(X, r0, r1, z, a);
        return backward_rows(X, Y, w, r0, r1, z, a, delta, g, scale);
    };
    double c = 0;
    if (chunks == 1) {
        c = chunk(0, n, grad);
    } else {
        // chunk 0 writes grad, the others their own buffer; summed in chunk order
        // (the caller's thread-local buffer: a lambda body on a worker would see its own)
        thread_local std::vector<T> extra_buffer;
        if (extra_buffer.size() < (chunks - 1) * np) extra_buffer.resize((chunks - 1) * np);
        T* const extra = extra_buffer.data();
        double part[kMaxChunks] = {};
        in_chunks(chunks, n, [&](std::size_t r0, std::size_t r1, std::size_t k) {
            part[k] = chunk(r0, r1, k == 0 ? grad : extra + (k - 1) * np);
        });
        if (unfinished)
            unfinished->extra = extra, unfinished->chunks = chunks;
        else
            for (std::size_t k = 1; k < chunks; ++k) add_into(grad, extra + (k - 1) * np, np);
        for (std::size_t k = 0; k < chunks; ++k) c += part[k];
    }
    c /= n_eff;
    if (alpha != 0) {
        double sq = 0;
        const T k = T(alpha / n_eff);
        if (unfinished) unfinished->penalty = true, unfinished->k = k;
        for (std::size_t l = 0; l < L; ++l) {
            const T* W = weights(l);
            const std::size_t count = sizes_[l + 1] * sizes_[l];
            if (!unfinished) add_scaled_into(grad + offsets_[l], W, k, count);
            sq += squared_norm(W, count);
        }
        c += alpha / (2.0 * n_eff) * sq;
    }
    return c;
}

template <class T>
void Network<T>::finish_gradient(const Unfinished& u, T* grad, std::size_t i0,
                                 std::size_t i1) const {
    // the same element-wise additions, in the same order, as gradient's own
    const std::size_t np = num_params();
    for (std::size_t k = 1; k < u.chunks; ++k) add_into(grad + i0, u.extra + (k - 1) * np + i0, i1 - i0);
    if (!u.penalty) return;
    for (std::size_t l = 0; l < num_layers(); ++l) {  // W_l: entries [offsets_[l], + count)
        const std::size_t w0 = std::max(i0, offsets_[l]);
        const std::size_t w1 = std::min(i1, offsets_[l] + sizes_[l + 1] * sizes_[l]);
        if (w0 < w1) add_scaled_into(grad + w0, params_.data() + w0, u.k, w1 - w0);
    }
}

template <class T>
double Network<T>::backward(const T* X, const T* Y, std::size_t n, T* const* z, T* const* a,
                            T* const* delta, T* grad, const T* w, double alpha) const {
    check_not_empty("backward");
    check_pointer("backward", "X", X, n * n_inputs());
    check_pointer("backward", "y", Y, n * n_outputs());
    check_pointer("backward", "grad", grad, num_params());
    detail::NetworkGuard::Reader lock(guard_);
    // X is the one forward(X, n, z, a) checked; everything else here
    check_batch(*this, static_cast<const T*>(nullptr), Y, n, w, alpha);
    return gradient(false, X, Y, n, z, a, delta, grad, w, alpha, nullptr);
}

template <class T>
double Network<T>::forward_backward(const T* X, const T* Y, std::size_t n, T* const* z,
                                    T* const* a, T* const* delta, T* grad, const T* w,
                                    double alpha) const {
    check_not_empty("backward");
    check_pointer("backward", "X", X, n * n_inputs());
    check_pointer("backward", "y", Y, n * n_outputs());
    check_pointer("backward", "grad", grad, num_params());
    detail::NetworkGuard::Reader lock(guard_);  // one read: no step between the two passes
    check_finite("X", X, n * n_inputs());
    check_batch(*this, static_cast<const T*>(nullptr), Y, n, w, alpha);
    // the forward pass cut as forward() cuts it, then backward(): the bits of the two calls
    const std::size_t chunks = row_chunks(n);
    if (chunks == 1) {
        forward_rows(X, 0, n, z, a);
    } else {
        in_chunks(chunks, n, [&](std::size_t r0, std::size_t r1, std::size_t) {
            forward_rows(X, r0, r1, z, a);
        });
    }
    return gradient(false, X, Y, n, z, a, delta, grad, w, alpha, nullptr);
}

// ---------------------------------------------------------------- training

namespace {

enum class Opt { sgd, adam };
enum class Schedule { constant, invscaling, adaptive };
enum class Metric { loss, accuracy, r2 };

Opt parse_optimizer(const std::string& name) {
    if (name == "sgd") return Opt::sgd;
    if (name == "adam") return Opt::adam;
    throw std::invalid_argument("optimizer: unknown name '" + name + "', expected one of sgd, adam");
}

Schedule parse_schedule(const std::string& name) {
    if (name == "constant") return Schedule::constant;
    if (name == "invscaling") return Schedule::invscaling;
    if (name == "adaptive") return Schedule::adaptive;
    throw std::invalid_argument("learning_rate_schedule: unknown name '" + name +
                                "', expected one of constant, invscaling, adaptive");
}

// `what`: the parameter's name in the error (FitOptions::validation_metric, score's metric)
Metric parse_metric(const std::string& name, const char* what) {
    if (name == "loss") return Metric::loss;
    if (name == "accuracy") return Metric::accuracy;
    if (name == "r2") return Metric::r2;
    throw std::invalid_argument(std::string(what) + ": unknown name '" + name +
                                "', expected one of loss, accuracy, r2");
}

void check_options(const FitOptions& o) {
    // v: a double, or an integer option (printed as one: "got 0", not "got 0.000000")
    auto bad = [](const std::string& what, auto v) {
        throw std::invalid_argument(what + ", got " + std::to_string(v));
    };
    parse_optimizer(o.optimizer);
    parse_schedule(o.learning_rate_schedule);
    parse_metric(o.validation_metric, "validation_metric");
    if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate))
        bad("learning_rate: expected a finite value > 0", o.learning_rate);
    if (o.epochs < 1) bad("epochs: expected at least 1", o.epochs);
    check_alpha(o.alpha);
    if (!(o.momentum >= 0 && o.momentum <= 1)) bad("momentum: expected a value in [0, 1]", o.momentum);
    if (!(o.beta_1 >= 0 && o.beta_1 < 1)) bad("beta_1: expected a value in [0, 1)", o.beta_1);
    if (!(o.beta_2 >= 0 && o.beta_2 < 1)) bad("beta_2: expected a value in [0, 1)", o.beta_2);
    if (!(o.epsilon > 0) || !std::isfinite(o.epsilon)) bad("epsilon: expected a finite value > 0", o.epsilon);
    if (!(o.power_t >= 0) || !std::isfinite(o.power_t)) bad("power_t: expected a finite value >= 0", o.power_t);
    if (!(o.tol >= 0) || !std::isfinite(o.tol)) bad("tol: expected a finite value >= 0", o.tol);
    if (o.n_iter_no_change < 1) bad("n_iter_no_change: expected at least 1", o.n_iter_no_change);
    if (std::isnan(o.start_best_loss)) bad("start_best_loss: expected a number or inf", o.start_best_loss);
    if (std::isnan(o.start_best_val_score))
        bad("start_best_val_score: expected a number or -inf", o.start_best_val_score);
    if (o.n_threads < 0) bad("n_threads: expected a positive count (or 0 for the default)", o.n_threads);
}




// The update rules over entries [i0, i1) of the flat buffers. Compiled per instruction set
// (BPNET_CLONES); kept free of OpenMP, whose outlined loop bodies would not be cloned.
template <class T>
BPNET_CLONES void sgd_range(T* theta, const T* g, std::ptrdiff_t i0, std::ptrdiff_t i1,
                            double lr) {
    for (std::ptrdiff_t i = i0; i < i1; ++i) theta[i] -= T(lr * g[i]);
}

template <class T>
BPNET_CLONES void momentum_range(T* theta, const T* g, T* v, std::ptrdiff_t i0, std::ptrdiff_t i1,
                                 T mu, T eta, bool nesterov) {
    if (nesterov)
        for (std::ptrdiff_t i = i0; i < i1; ++i) {
            v[i] = mu * v[i] - eta * g[i];
            theta[i] += mu * v[i] - eta * g[i];
        }
    else
        for (std::ptrdiff_t i = i0; i < i1; ++i) {
            v[i] = mu * v[i] - eta * g[i];
            theta[i] += v[i];
        }
}

template <class T>
BPNET_CLONES void adam_range(T* __restrict theta, const T* __restrict g, T* __restrict m1,
                             T* __restrict m2, std::ptrdiff_t i0, std::ptrdiff_t i1, T b1, T b2,
                             T c1, T c2, T lr_t, T eps) {
    for (std::ptrdiff_t i = i0; i < i1; ++i) {
        const T gi = g[i];
        const T a = b1 * m1[i] + c1 * gi;
        const T b = b2 * m2[i] + c2 * gi * gi;
        m1[i] = a, m2[i] = b;
        theta[i] -= lr_t * a / (std::sqrt(b) + eps);
    }
}

// One step of sgd (plain, momentum, Nesterov) or Adam over the flat buffers. Element-wise, so
// it is split over threads without changing any result, from 4096 parameters: Adam's divide
// and square root per parameter make even digits' 7.5k-parameter step worth two threads
// (float64 fit 4% faster; the threshold was 65536).
// prepare(i0, i1), if given, runs on each part of the buffer just before its update (fit's
// loop finishes the gradient there: see Network::Unfinished).
template <class T, class Prepare>
void optimizer_step(Opt opt, const FitOptions& o, TrainState<T>& s, T* theta, const T* g,
                    std::size_t np, double lr, const Prepare& prepare) {
    const int nt = np >= (std::size_t(1) << 12) ? num_threads() : 1;
    const std::ptrdiff_t count = std::ptrdiff_t(np);
    // update(i0, i1) over the whole buffer, in contiguous parts on nt threads (each with the
    // caller's floating-point mode: tiny moments must not go denormal in a worker either)
    auto split = [&](const auto& update) {
        auto body = [&](std::ptrdiff_t i0, std::ptrdiff_t i1) {
            prepare(i0, i1);
            update(i0, i1);
        };
        if (nt <= 1) return body(std::ptrdiff_t(0), count);
        const unsigned mode = SameFloatMode::current();
        (void)mode;
#ifdef BPNET_WITH_OPENMP
#pragma omp parallel num_threads(nt)
        {
            SameFloatMode same(mode);
            const std::ptrdiff_t parts = omp_get_num_threads(), t = omp_get_thread_num();
            // 16-entry aligned cuts so every part vectorises whole
            const std::ptrdiff_t per = (count / parts + 15) / 16 * 16;
            const std::ptrdiff_t i0 = std::min(count, t * per);
            const std::ptrdiff_t i1 = t + 1 == parts ? count : std::min(count, i0 + per);
            body(i0, i1);
        }
#else
        body(std::ptrdiff_t(0), count);
#endif
    };
    if (opt == Opt::sgd && o.momentum == 0) {
        split([&](std::ptrdiff_t i0, std::ptrdiff_t i1) { sgd_range(theta, g, i0, i1, lr); });
        return;
    }
    if (opt == Opt::sgd) {
        T* v = s.velocity.data();
        const T mu = T(o.momentum), eta = T(lr);
        split([&](std::ptrdiff_t i0, std::ptrdiff_t i1) {
            momentum_range(theta, g, v, i0, i1, mu, eta, o.nesterovs_momentum);
        });
        return;
    }
    T *m1 = s.m.data(), *m2 = s.v.data();
    const T b1 = T(o.beta_1), b2 = T(o.beta_2), c1 = T(1 - o.beta_1), c2 = T(1 - o.beta_2);
    const T eps = T(o.epsilon);
    ++s.t;
    const T lr_t = T(lr * std::sqrt(1 - std::pow(o.beta_2, double(s.t))) /
                     (1 - std::pow(o.beta_1, double(s.t))));
    split([&](std::ptrdiff_t i0, std::ptrdiff_t i1) {
        adam_range(theta, g, m1, m2, i0, i1, b1, b2, c1, c2, lr_t, eps);
    });
}

template <class T>
void optimizer_step(Opt opt, const FitOptions& o, TrainState<T>& s, T* theta, const T* g,
                    std::size_t np, double lr) {
    optimizer_step(opt, o, s, theta, g, np, lr, [](std::ptrdiff_t, std::ptrdiff_t) {});
}

// One layer as the per-sample path sees it, its pointers resolved once per fit.
template <class T>
struct SampleLayer {
    T* W;  // (n_out, n_in), row-major
    T* b;  // (n_out)
    T* a;  // z, then σ(z) in place (n_out)
    T* d;  // δ (n_out)
    std::size_t n_in, n_out;
    Activation act;
    bool small;  // is_small(1, n_in, n_out): the generic path's products are plain loops too
};

// What the per-sample step knows of the network's kinds. Runtime: the layers' own activations
// and the fit's loss, dispatched by switches inside the element-wise bodies. Fixed (below): a
// one-hidden-layer network of small layers whose kinds are template arguments, so those
// switches fold away and the two layers' loops are laid out one after the other.
struct RuntimeKinds {
    static constexpr bool narrow = false;  // a layer may be wide (take the kernels)
    static std::size_t layers(std::size_t L) { return L; }
    static Activation act(std::size_t, Activation a) { return a; }
    static Loss loss(Loss l) { return l; }
};

template <Activation Hidden, Activation Output, Loss Cost>
struct FixedKinds {
    static constexpr bool narrow = true;
    static constexpr std::size_t layers(std::size_t) { return 2; }
    static constexpr Activation act(std::size_t l, Activation) { return l == 0 ? Hidden : Output; }
    static constexpr Loss loss(Loss) { return Cost; }
};

// One plain gradient-descent step on one sample (batch size 1, sgd without momentum): the
// text's per-sample update, with backpropagation fused into the update so nothing but z, a
// and δ is written. Gives the same bits as forward + backward + optimizer_step: each gradient
// entry is formed in T exactly as backward forms it (scale 1), and δ_{l-1} is computed from W_l
// before W_l changes. Returns the sample's loss; the weights are unchanged if it is not finite.
// The activation and loss bodies are inlined from the headers that activation.cpp and loss.cpp
// compile (the same source, the same bits): a 1-3-1 network's step is a few dozen operations,
// and calls through switch-dispatching functions were half of its instructions.
template <class T, class K>
BPNET_INLINE double sample_step_body(const SampleLayer<T>* layers, std::size_t L_, Loss loss_,
                                     const T* x, const T* y, double lr) {
    const std::size_t L = K::layers(L_);
    const Loss loss = K::loss(loss_);
    // (The unroll pragmas lay the fixed two layers out in sequence, their kinds constant in
    // each; on the runtime-kinds copies, whose L is not known, they change nothing.)
#pragma GCC unroll 4
    for (std::size_t l = 0; l < L; ++l) {
        const SampleLayer<T>& ly = layers[l];
        const std::size_t n_in = ly.n_in, n_out = ly.n_out;
        const Activation act = K::act(l, ly.act);
        const T* __restrict W = ly.W;
        const T* __restrict b = ly.b;
        const T* __restrict in = l == 0 ? x : layers[l - 1].a;
        T* __restrict z = ly.a;
        if (!K::narrow && !ly.small) {  // the generic path's product (its kernels, its bits)
            dense_forward(z, z, in, W, b, act, 1, n_in, n_out);
            continue;
        }
        for (std::size_t j = 0; j < n_out; ++j) {
            T s = b[j];
            for (std::size_t p = 0; p < n_in; ++p) s += in[p] * W[j * n_in + p];
            z[j] = s;
        }
        act_impl::forward_impl(act, z, z, 1, n_out, n_out);
    }
    const SampleLayer<T>& out = layers[L - 1];
    const std::size_t m = out.n_out;
    const Activation out_act = K::act(L - 1, out.act);
    const double c = loss_impl::loss_sum_impl<T>(loss, out.a, y, nullptr, 1, m);
    if (!std::isfinite(c)) return c;
    loss_impl::loss_delta_impl<T>(loss, out_act, out.d, out.a, out.a, y, nullptr, 1, m);
#pragma GCC unroll 4
    for (std::size_t r = 0; r < L; ++r) {
        const std::size_t l = L - 1 - r;
        const SampleLayer<T>& ly = layers[l];
        const std::size_t n_in = ly.n_in, n_out = ly.n_out;
        T* __restrict W = ly.W;
        T* __restrict b = ly.b;
        const T* __restrict in = l == 0 ? x : layers[l - 1].a;
        const T* __restrict dl = ly.d;
        if (l > 0) {
            const SampleLayer<T>& prev = layers[l - 1];
            const Activation prev_act = K::act(l - 1, prev.act);
            T* __restrict dp = prev.d;
            if (!K::narrow && !ly.small) {
                delta_product(dp, dl, W, prev_act, prev.a, prev.a, 1, n_in, n_out);
            } else {
                for (std::size_t p = 0; p < n_in; ++p) {
                    T s = 0;
                    for (std::size_t j = 0; j < n_out; ++j) s += dl[j] * W[j * n_in + p];
                    dp[p] = s;
                }
                act_impl::backward_impl(prev_act, dp, prev.a, prev.a, 1, n_in, n_in);
            }
        }
        for (std::size_t j = 0; j < n_out; ++j) {
            for (std::size_t p = 0; p < n_in; ++p) {
                const T g = T(1) * (T(0) + dl[j] * in[p]);  // the generic sums start at +0
                W[j * n_in + p] -= T(lr * g);
            }
            const T gb = (T(0) + dl[j]) * T(1);
            b[j] -= T(lr * gb);
        }
    }
    return c;
}

// The step for networks whose every layer is small (is_small: at most small_work weights),
// compiled without the vectoriser: its vector loops, remainder loops and trip-count tests were
// a quarter of the instructions of a 1-3-1 step, for loops of one to three trips. Vectorising
// never reorders a sum (no reassociation without -ffast-math): both versions, the same bits.
template <class T, class K>
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-tree-vectorize")))
#endif
double sgd_sample_step_narrow(const SampleLayer<T>* layers, std::size_t L, Loss loss, const T* x,
                              const T* y, double lr) {
    return sample_step_body<T, K>(layers, L, loss, x, y, lr);
}

template <class T>
double sgd_sample_step(const SampleLayer<T>* layers, std::size_t L, Loss loss, const T* x,
                       const T* y, double lr) {
    return sample_step_body<T, RuntimeKinds>(layers, L, loss, x, y, lr);
}

template <class T>
using SampleStepFn = double (*)(const SampleLayer<T>*, std::size_t, Loss, const T*, const T*, double);

// The step for this network: a fixed-kinds copy for the commonest small one-hidden-layer
// networks (the text's sigmoid hidden layer with a linear output, and the other hidden
// activations and regression or binary outputs), else the runtime-kinds one.
template <class T, Activation H>
SampleStepFn<T> fixed_step_for_output(Activation out, Loss loss) {
    if (out == Activation::identity && loss == Loss::squared_error)
        return &sgd_sample_step_narrow<T, FixedKinds<H, Activation::identity, Loss::squared_error>>;
    if (out == Activation::identity && loss == Loss::half_squared_error)
        return &sgd_sample_step_narrow<T, FixedKinds<H, Activation::identity, Loss::half_squared_error>>;
    if (out == Activation::sigmoid && loss == Loss::binary_cross_entropy)
        return &sgd_sample_step_narrow<T, FixedKinds<H, Activation::sigmoid, Loss::binary_cross_entropy>>;
    return nullptr;
}

template <class T>
SampleStepFn<T> sample_step_for(const std::vector<SampleLayer<T>>& layers, Loss loss) {
    const bool narrow = std::all_of(layers.begin(), layers.end(),
                                    [](const SampleLayer<T>& ly) { return ly.small; });
    if (!narrow) return &sgd_sample_step<T>;
    SampleStepFn<T> f = nullptr;
    if (layers.size() == 2) {
        const Activation out = layers[1].act;
        switch (layers[0].act) {
            case Activation::sigmoid: f = fixed_step_for_output<T, Activation::sigmoid>(out, loss); break;
            case Activation::tanh: f = fixed_step_for_output<T, Activation::tanh>(out, loss); break;
            case Activation::relu: f = fixed_step_for_output<T, Activation::relu>(out, loss); break;
            default: break;
        }
    }
    return f ? f : &sgd_sample_step_narrow<T, RuntimeKinds>;
}

// A continued state must be one the update rules can continue from: a model file may carry
// any bits (the format keeps NaN and inf exactly), and a NaN moment would make the first
// step diverge with a message about the learning rate.
template <class T>
void check_continued_state(const std::vector<T>& a, const char* name, bool non_negative) {
    for (std::size_t i = 0; i < a.size(); ++i)
        if (!std::isfinite(a[i]) || (non_negative && a[i] < T(0)))
            throw std::invalid_argument(
                std::string("optimizer state: ") + name + "[" + std::to_string(i) + "] is " +
                std::to_string(double(a[i])) + ", expected a finite value" +
                (non_negative ? " >= 0" : "") +
                "; start the state afresh (warm_start=False, FitOptions::keep_state = false)");
}

// Starts the optimizer state afresh unless it can be continued (same optimizer, keep_state).
template <class T>
void prepare_state(TrainState<T>& s, const FitOptions& o, std::size_t np) {
    const bool sgd = parse_optimizer(o.optimizer) == Opt::sgd;
    const bool usable = sgd ? s.velocity.size() == np : s.m.size() == np && s.v.size() == np;
    const bool fresh = !o.keep_state || s.optimizer != o.optimizer || !usable;
    if (!fresh && sgd) check_continued_state(s.velocity, "velocity", false);
    if (!fresh && !sgd) check_continued_state(s.m, "adam_m", false), check_continued_state(s.v, "adam_v", true);
    if (fresh) {
        const std::uint64_t seen = s.samples_seen;
        s = TrainState<T>{};
        s.samples_seen = seen;
        s.optimizer = o.optimizer;
        if (sgd) s.velocity.assign(np, T(0));
        else s.m.assign(np, T(0)), s.v.assign(np, T(0));
    }
    // the caller's rate, unless the schedule's current one is to be continued
    if (!o.keep_state || !o.keep_learning_rate || s.learning_rate <= 0)
        s.learning_rate = o.learning_rate;
}

}  // namespace

template <class T>
void Network<T>::step(const T* grad, const FitOptions& o) {
    check_not_empty("step");
    check_pointer("step", "gradient", grad, num_params());
    detail::NetworkGuard::Writer lock(guard_, "step");
    check_options(o);
    check_finite("gradient", grad, num_params());
    prepare_state(state_, o, num_params());
    state_.learning_rate = o.learning_rate;  // the caller's rate (a schedule is theirs to run)
    const Opt opt = parse_optimizer(o.optimizer);
    FlushDenormals ftz;
    ThreadScope threads(o.n_threads);
    optimizer_step(opt, o, state_, params_.data(), grad, num_params(),
                   opt == Opt::sgd ? state_.learning_rate : o.learning_rate);
}

namespace {

// Network::score without its lock and checks (fit's validation rows were checked once).
template <class T>
double score_rows(const Network<T>& net, const T* X, const T* Y, std::size_t n, Metric metric,
                  const T* w) {
    if (metric == Metric::loss) return -mean_loss(net, X, Y, n, w, 0);
    const std::size_t m = net.n_outputs();
    std::vector<T> out(n * m);
    predict_rows(net, X, n, out.data(), false);
    const double n_eff = weight_sum(w, n);
    if (metric == Metric::accuracy) {
        // one output or independent sigmoid outputs: threshold 0.5 (every output of a row right);
        // otherwise the arg-max class
        const bool threshold = m == 1 || net.loss_kind() == Loss::binary_cross_entropy;
        double right = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const T* a = out.data() + i * m;
            const T* y = Y + i * m;
            bool ok = true;
            if (threshold) {
                for (std::size_t j = 0; j < m && ok; ++j) ok = (a[j] > T(0.5)) == (y[j] > T(0.5));
            } else {
                ok = std::max_element(a, a + m) - a == std::max_element(y, y + m) - y;
            }
            if (ok) right += w ? double(w[i]) : 1.0;
        }
        return right / n_eff;
    }
    // R² per output (weighted), averaged; a constant target scores 1 if predicted exactly, else 0
    double total = 0;
    for (std::size_t j = 0; j < m; ++j) {
        double mean = 0;
        for (std::size_t i = 0; i < n; ++i) mean += (w ? double(w[i]) : 1.0) * Y[i * m + j];
        mean /= n_eff;
        double ss_res = 0, ss_tot = 0;
        for (std::size_t i = 0; i < n; ++i) {
            const double wi = w ? double(w[i]) : 1.0;
            const double r = double(Y[i * m + j]) - out[i * m + j], t = double(Y[i * m + j]) - mean;
            ss_res += wi * r * r, ss_tot += wi * t * t;
        }
        total += ss_tot > 0 ? 1.0 - ss_res / ss_tot : (ss_res == 0 ? 1.0 : 0.0);
    }
    return total / double(m);
}

}  // namespace

template <class T>
double Network<T>::score(const T* X, const T* Y, std::size_t n, const std::string& metric_name,
                         const T* w) const {
    check_not_empty("score");
    check_pointer("score", "X", X, n * n_inputs());
    check_pointer("score", "y", Y, n * n_outputs());
    detail::NetworkGuard::Reader lock(guard_);
    const Metric metric = parse_metric(metric_name, "metric");
    check_batch(*this, X, Y, n, w, 0.0);
    return score_rows(*this, X, Y, n, metric, w);
}

template <class T>
History Network<T>::fit(const T* X, const T* Y, std::size_t n, const FitOptions& o, const T* w,
                        const ValidationData<T>* val) {
    check_not_empty("fit");
    check_pointer("fit", "X", X, n * n_inputs());
    check_pointer("fit", "y", Y, n * n_outputs());
    if (val) {
        check_pointer("fit", "X_val", val->X, val->n * n_inputs());
        check_pointer("fit", "y_val", val->Y, val->n * n_outputs());
    }
    detail::NetworkGuard::Writer lock(guard_, "fit");
    // Everything is checked before any weight changes.
    {
        const T* w0 = params_.data();
        const std::size_t nw = params_.size();
        check_not_parameters("fit", "X", X, n * n_inputs(), w0, nw);
        check_not_parameters("fit", "y", Y, n * n_outputs(), w0, nw);
        check_not_parameters("fit", "sample_weight", w, w ? n : 0, w0, nw);
        if (val) {
            check_not_parameters("fit", "X_val", val->X, val->n * n_inputs(), w0, nw);
            check_not_parameters("fit", "y_val", val->Y, val->n * n_outputs(), w0, nw);
            check_not_parameters("fit", "validation sample_weight", val->w, val->w ? val->n : 0, w0, nw);
        }
    }
    check_options(o);
    const Opt opt = parse_optimizer(o.optimizer);
    const Schedule schedule = parse_schedule(o.learning_rate_schedule);
    const Metric val_metric = parse_metric(o.validation_metric, "validation_metric");
    if (n == 0) throw std::invalid_argument("fit: X has 0 rows, expected at least 1");
    if (o.check_input) {
        check_finite("X", X, n * n_inputs());
        check_finite("y", Y, n * n_outputs());
    }
    if (w) Network<T>::check_weights("sample_weight", w, n);
    const bool has_val = val && val->n > 0;
    if (val && val->n == 0) throw std::invalid_argument("validation data: X_val has 0 rows, expected at least 1");
    if (has_val) {
        check_finite("X_val", val->X, val->n * n_inputs());
        check_finite("y_val", val->Y, val->n * n_outputs());
        if (val->w) Network<T>::check_weights("validation sample_weight", val->w, val->n);
    }
    if (o.early_stopping && !has_val)
        throw std::invalid_argument("early_stopping: needs validation data, got none");

    const std::size_t L = num_layers(), np = num_params();
    const std::size_t B = o.batch_size == 0 ? n : std::min(o.batch_size, n);
    const std::size_t n0 = n_inputs(), nL = n_outputs();

    // Workspaces, sized once: A_l and Δ_l for B rows; gathered batch rows when shuffling.
    // Z_l shares A_l's buffer (σ is applied in place, see forward): backward needs only A_l,
    // and one buffer less per layer is less memory traffic per step, same bits.
    std::vector<T> abuf, dbuf;
    std::vector<T*> z(L), a(L), d(L);
    std::size_t total = 0;
    for (std::size_t l = 0; l < L; ++l) total += B * sizes_[l + 1];
    abuf.resize(total), dbuf.resize(total);
    for (std::size_t l = 0, off = 0; l < L; off += B * sizes_[l + 1], ++l)
        z[l] = a[l] = abuf.data() + off, d[l] = dbuf.data() + off;
    const bool gather = o.shuffle && B < n;
    std::vector<T> xb(gather ? B * n0 : 0), yb(gather ? B * nL : 0), wb(gather && w ? B : 0);
    std::vector<std::size_t> perm(gather ? n : 0);
    for (std::size_t i = 0; i < perm.size(); ++i) perm[i] = i;
    std::vector<T> snapshot(np), best(o.early_stopping ? np : 0);
    TrainState<T> state_snapshot;  // the optimizer state at the start of the epoch
    detail::Rng rng(o.seed);
    FlushDenormals ftz;
    ThreadScope threads(o.n_threads);

    // Optimizer state: continued when asked and the previous fit used the same optimizer.
    TrainState<T>& s = state_;
    prepare_state(s, o, np);

    // The text's per-sample gradient descent has a lean path of its own (see sgd_sample_step).
    const bool per_sample = B == 1 && opt == Opt::sgd && o.momentum == 0 && !w && o.alpha == 0;
    std::vector<SampleLayer<T>> sample_layers(per_sample ? L : 0);
    for (std::size_t l = 0; l < sample_layers.size(); ++l) {
        T* W = params_.data() + offsets_[l];
        sample_layers[l] = {W, W + sizes_[l + 1] * sizes_[l], a[l], d[l], sizes_[l], sizes_[l + 1],
                            acts_[l], is_small(1, sizes_[l], sizes_[l + 1])};
    }
    const SampleStepFn<T> sample_step = per_sample ? sample_step_for(sample_layers, loss_) : nullptr;
    History h;
    // Plateau state: afresh by default, or continued from an earlier run (FitOptions::start_*).
    h.best_loss = o.start_best_loss;
    h.best_val_score = o.start_best_val_score;
    std::size_t no_improvement = o.start_no_improvement_count;
    T* theta = params_.data();
    T* g = grads_.data();
    for (std::size_t epoch = 1; epoch <= o.epochs; ++epoch) {
        const auto t0 = std::chrono::steady_clock::now();
        const double lr = opt == Opt::sgd ? s.learning_rate : o.learning_rate;
        std::copy(theta, theta + np, snapshot.begin());
        state_snapshot = s;  // (same sizes each epoch: no allocation after the first)
        if (gather)
            for (std::size_t i = n - 1; i > 0; --i) std::swap(perm[i], perm[rng.below(i + 1)]);
        double epoch_loss = 0, epoch_weight = 0;
        bool bad = false, stop = false;
        if (per_sample) {  // the text's per-sample gradient descent: one row per step, in place
            for (std::size_t i = 0; i < n; ++i) {
                const std::size_t r = gather ? perm[i] : i;
                const T *xr = X + r * n0, *yr = Y + r * nL;
                const double c = sample_step(sample_layers.data(), L, loss_, xr, yr, lr);
                if (!std::isfinite(c)) {
                    bad = true;
                    break;
                }
                epoch_loss += c, epoch_weight += 1;
                if (o.should_stop && o.should_stop()) {
                    stop = true;
                    break;
                }
            }
        } else {
            for (std::size_t start = 0; start < n; start += B) {
                const std::size_t m = std::min(B, n - start);
                const T *xp = X + start * n0, *yp = Y + start * nL, *wp = w ? w + start : nullptr;
                // Shuffled rows: one is read in place; more are copied to xb, yb, wb by the
                // chunks of the batch (in parallel, see row_chunks).
                Gather rows{X, Y, w, perm.data() + start, xb.data(), yb.data(), wb.data()};
                const Gather* gathered = gather && m > 1 ? &rows : nullptr;
                if (gather && m == 1) {
                    const std::size_t r = perm[start];
                    xp = X + r * n0, yp = Y + r * nL, wp = w ? w + r : nullptr;
                }
                double bw = double(m);
                if (w) {
                    bw = 0;
                    for (std::size_t i = 0; i < m; ++i) bw += gathered ? w[perm[start + i]] : wp[i];
                    if (bw == 0) continue;  // all-zero weights: nothing to learn
                }
                Unfinished unfinished;
                const double c = gradient(true, xp, yp, m, z.data(), a.data(), d.data(), g, wp,
                                          o.alpha, gathered, &unfinished);
                if (!std::isfinite(c)) {
                    bad = true;
                    break;
                }
                const double share = o.epoch_loss_by_rows ? double(m) : bw;
                epoch_loss += c * share, epoch_weight += share;
                // One optimizer step over the flat buffers (scikit-learn's update rules),
                // each part finishing its share of the gradient first (on the step's threads,
                // not serially between two parallel regions).
                optimizer_step(opt, o, s, theta, g, np, lr,
                               [&](std::ptrdiff_t i0, std::ptrdiff_t i1) {
                                   finish_gradient(unfinished, g, std::size_t(i0), std::size_t(i1));
                               });
                if (o.should_stop && o.should_stop()) {
                    stop = true;
                    break;
                }
            }
        }
        if (!bad)
            for (std::size_t i = 0; i < np && !bad; ++i) bad = !std::isfinite(theta[i]);
        if (bad) {
            // the weights and the optimizer state of the epoch's start: moments that saw the
            // non-finite steps would poison the next fit that continues them
            std::copy(snapshot.begin(), snapshot.end(), theta);
            s = state_snapshot;
            h.diverged = true;
            h.message = "training diverged: the loss became non-finite in epoch " +
                        std::to_string(epoch) + "; the weights and optimizer state from the start of " +
                        "that epoch were kept; try a smaller learning_rate (it was " + std::to_string(lr) + ")";
            break;
        }
        if (stop) {
            h.interrupted = true;
            h.message = "training interrupted in epoch " + std::to_string(epoch) +
                        "; the weights after the last finished batch were kept";
            break;
        }
        s.samples_seen += n;
        EpochRecord rec;
        rec.epoch = epoch;
        rec.loss = epoch_loss / epoch_weight;
        rec.learning_rate = lr;
        h.loss.push_back(rec.loss);
        h.learning_rate.push_back(lr);
        h.epochs_run = epoch;
        if (has_val) {
            rec.has_validation = true;
            // (the validation rows were checked before the first epoch)
            rec.val_loss = mean_loss(*this, val->X, val->Y, val->n, val->w, 0);
            rec.val_score = val_metric == Metric::loss
                                ? -rec.val_loss
                                : score_rows(*this, val->X, val->Y, val->n, val_metric, val->w);
            h.val_loss.push_back(rec.val_loss);
            h.val_score.push_back(rec.val_score);
        }
        // Plateau bookkeeping, as scikit-learn's _update_no_improvement_count.
        if (o.early_stopping) {
            no_improvement = rec.val_score < h.best_val_score + o.tol ? no_improvement + 1 : 0;
            if (rec.val_score > h.best_val_score) {
                h.best_val_score = rec.val_score, h.best_epoch = epoch;
                std::copy(theta, theta + np, best.begin());
            }
        } else {
            no_improvement = rec.loss > h.best_loss - o.tol ? no_improvement + 1 : 0;
            if (has_val && rec.val_score > h.best_val_score) h.best_val_score = rec.val_score;
        }
        if (rec.loss < h.best_loss) {
            h.best_loss = rec.loss;
            if (!o.early_stopping) h.best_epoch = epoch;
        }
        if (schedule == Schedule::invscaling && opt == Opt::sgd)
            s.learning_rate = o.learning_rate / std::pow(double(s.samples_seen) + 1, o.power_t);
        rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        h.seconds.push_back(rec.seconds);
        if (o.on_epoch && !o.on_epoch(rec)) {
            h.stopped_by_callback = true;
            h.message = "training stopped by the callback after epoch " + std::to_string(epoch);
            break;
        }
        if ((o.stop_on_plateau || o.early_stopping) && no_improvement > o.n_iter_no_change) {
            const std::string what = o.early_stopping ? "Validation score" : "Training loss";
            const std::string msg = what + " did not improve more than tol=" + std::to_string(o.tol) +
                                    " for " + std::to_string(o.n_iter_no_change) + " consecutive epochs.";
            if (schedule == Schedule::adaptive && opt == Opt::sgd && s.learning_rate > 1e-6) {
                s.learning_rate /= 5;
                no_improvement = 0;
                h.message = msg + " Setting learning rate to " + std::to_string(s.learning_rate);
            } else {
                h.converged = true;
                h.message = msg + (schedule == Schedule::adaptive && opt == Opt::sgd
                                       ? " Learning rate too small. Stopping."
                                       : " Stopping.");
                break;
            }
        }
    }
    h.no_improvement_count = no_improvement;
    if (o.early_stopping && h.best_epoch > 0) {
        std::copy(best.begin(), best.end(), theta);
        h.restored_best = true;
    }
    return h;
}

// ---------------------------------------------------------------- model files

template <class T>
TrainState<T> Network<T>::train_state_copy() const {
    detail::NetworkGuard::Reader lock(guard_);
    return state_;
}

template <class T>
ModelData Network<T>::to_model() const {
    detail::NetworkGuard::Reader lock(guard_);
    ModelData m;
    m.dtype = sizeof(T) == 4 ? DType::float32 : DType::float64;
    m.layer_sizes.assign(sizes_.begin(), sizes_.end());
    for (Activation act : acts_) m.activations.emplace_back(activation_name(act));
    m.loss = loss_name(loss_);
    m.params.assign(params_.begin(), params_.end());
    if (!state_.optimizer.empty()) {
        m.metadata.emplace_back("optimizer", state_.optimizer);
        m.metadata.emplace_back("adam_t", std::to_string(state_.t));
        m.metadata.emplace_back("samples_seen", std::to_string(state_.samples_seen));
        char rate[40];
        std::snprintf(rate, sizeof rate, "%.17g", state_.learning_rate);  // round-trips exactly
        m.metadata.emplace_back("learning_rate", rate);
        auto put = [&](const char* name, const std::vector<T>& v) {
            if (!v.empty()) m.arrays.emplace_back(name, std::vector<double>(v.begin(), v.end()));
        };
        put("velocity", state_.velocity);
        put("adam_m", state_.m);
        put("adam_v", state_.v);
    }
    return m;
}

template <class T>
Network<T> Network<T>::from_model(const ModelData& m) {
    const DType want = sizeof(T) == 4 ? DType::float32 : DType::float64;
    if (m.dtype != want)
        throw ModelFormatError(std::string("model: dtype is ") + dtype_name(m.dtype) + " (" +
                               std::to_string(static_cast<int>(m.dtype)) + "), expected " +
                               dtype_name(want) + " (" + std::to_string(static_cast<int>(want)) + ")");
    std::vector<std::size_t> sizes(m.layer_sizes.begin(), m.layer_sizes.end());
    // A file's names and sizes that the library cannot use are format errors, not user errors.
    std::vector<Activation> acts;
    Loss loss = Loss::squared_error;
    try {
        for (const auto& name : m.activations) acts.push_back(activation_from_name(name));
        loss = loss_from_name(m.loss);
    } catch (const std::invalid_argument& e) {
        throw ModelFormatError(std::string("model: ") + e.what());
    }
    auto make = [&]() {
        try {
            return Network<T>(sizes, acts, loss, 0);
        } catch (const std::invalid_argument& e) {
            throw ModelFormatError(std::string("model: ") + e.what());
        }
    };
    Network<T> net = make();
    if (m.params.size() != net.num_params())
        throw ModelFormatError("model: " + std::to_string(m.params.size()) +
                               " parameters, expected " + std::to_string(net.num_params()) +
                               " for these layer sizes");
    std::copy(m.params.begin(), m.params.end(), net.params_.begin());
    for (const auto& kv : m.metadata) {
        if (kv.first == "optimizer") net.state_.optimizer = kv.second;
        if (kv.first == "adam_t" || kv.first == "samples_seen") {
            // digits only (strtoull alone takes "-1" as 2^64 - 1), at most 19 of them (no
            // overflow); model files are checked more strictly still by check_model
            const bool digits = !kv.second.empty() && kv.second.size() <= 19 &&
                                kv.second.find_first_not_of("0123456789") == std::string::npos;
            if (!digits)
                throw ModelFormatError("model: metadata '" + kv.first + "' is '" + kv.second +
                                       "', expected a non-negative integer");
            const auto v = std::strtoull(kv.second.c_str(), nullptr, 10);
            (kv.first == "adam_t" ? net.state_.t : net.state_.samples_seen) = v;
        }
        if (kv.first == "learning_rate") {
            char* end = nullptr;
            const double v = std::strtod(kv.second.c_str(), &end);
            if (kv.second.empty() || *end != '\0' || !std::isfinite(v))
                throw ModelFormatError("model: metadata 'learning_rate' is '" + kv.second +
                                       "', expected a number");
            net.state_.learning_rate = v;
        }
    }
    for (const auto& arr : m.arrays) {
        std::vector<T>* dst = arr.first == "velocity" ? &net.state_.velocity
                                   : arr.first == "adam_m" ? &net.state_.m
                                   : arr.first == "adam_v" ? &net.state_.v
                                                           : nullptr;
        if (!dst) continue;
        if (arr.second.size() != net.num_params())
            throw ModelFormatError("model: array '" + arr.first + "' has " +
                                   std::to_string(arr.second.size()) + " values, expected " +
                                   std::to_string(net.num_params()));
        dst->assign(arr.second.begin(), arr.second.end());
    }
    // The state must be complete for the optimizer it names (prepare_state also re-checks).
    const auto& st = net.state_;
    const bool complete = st.optimizer.empty() ||
                          (st.optimizer == "sgd" && st.velocity.size() == net.num_params() &&
                           st.m.empty() && st.v.empty()) ||
                          (st.optimizer == "adam" && st.m.size() == net.num_params() &&
                           st.v.size() == net.num_params() && st.velocity.empty());
    if (!complete)
        throw ModelFormatError("model: the optimizer state does not match optimizer '" + st.optimizer +
                               "' (sgd needs 'velocity', adam needs 'adam_m' and 'adam_v')");
    return net;
}

template class Network<float>;
template class Network<double>;

}  // namespace bpnet

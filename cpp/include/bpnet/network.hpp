// bpnet::Network<T>: a multi-layer perceptron with one flat parameter buffer and one flat
// gradient buffer, trained by backpropagation (DESIGN.md §1).
//
// Notation: layers l = 1..L; in code they are indexed 0..L-1 (index i is layer i+1).
// W_l has shape (n_l, n_{l-1}), b_l shape (n_l). Samples are rows:
//   Z_l = A_{l-1} W_lᵀ + 1 b_lᵀ,  A_l = σ_l(Z_l),  A_0 = X
//   Δ_L = ∇_A C ⊙ σ'_L(Z_L) (fused with the loss),  Δ_l = (Δ_{l+1} W_{l+1}) ⊙ σ'_l(Z_l)
//   ∂C/∂W_l = (1/n) Δ_lᵀ A_{l-1},  ∂C/∂b_l = (1/n) Σ_rows Δ_l
// Parameter layout in the flat buffer: W_1, b_1, W_2, b_2, ..., W_L, b_L.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <stdexcept>
#include <thread>
#include <string>
#include <vector>

#include "bpnet/activation.hpp"
#include "bpnet/export.hpp"
#include "bpnet/loss.hpp"
#include "bpnet/model_io.hpp"
#include "bpnet/threads.hpp"

namespace bpnet {

// What the training loop reports after each epoch.
struct BPNET_API EpochRecord {
    std::size_t epoch = 0;  // 1-based
    double loss = 0;        // mean training loss over the epoch's batches (penalty included)
    double seconds = 0;     // wall time of the epoch
    double learning_rate = 0;  // the rate used in this epoch
    bool has_validation = false;
    double val_loss = 0;   // loss on the validation set after the epoch (no penalty)
    double val_score = 0;  // validation_metric after the epoch (higher is better)
};

// Validation rows for early stopping / monitoring (row-major, like X and Y).
template <class T>
struct BPNET_API ValidationData {
    const T* X = nullptr;
    const T* Y = nullptr;
    std::size_t n = 0;
    const T* w = nullptr;  // optional sample weights
};

struct BPNET_API FitOptions {
    std::string optimizer = "sgd";  // "sgd" (plain gradient descent unless momentum > 0) or "adam"
    double learning_rate = 0.1;
    std::size_t epochs = 100;
    std::size_t batch_size = 0;  // 0: the whole data set in one batch
    bool shuffle = true;
    std::uint64_t seed = 0;      // seed of the shuffle
    double alpha = 0;            // L2 penalty: + alpha/(2n) Σ ||W_l||² (biases not penalised)
    double momentum = 0;         // sgd
    bool nesterovs_momentum = true;
    double beta_1 = 0.9, beta_2 = 0.999, epsilon = 1e-8;  // adam
    // sgd learning-rate schedule, scikit-learn's: "constant"; "invscaling" (η / (t+1)^power_t
    // after each epoch, t = samples seen); "adaptive" (η / 5 each time the loss or validation
    // score stalls for n_iter_no_change epochs, stopping once η <= 1e-6).
    std::string learning_rate_schedule = "constant";
    double power_t = 0.5;
    // Stop when the training loss (or, with early_stopping, the validation score) has not
    // improved by tol for more than n_iter_no_change consecutive epochs.
    bool stop_on_plateau = false;
    double tol = 1e-4;
    std::size_t n_iter_no_change = 10;
    // With validation data: stop on the validation score instead and restore the weights of
    // the best epoch at the end.
    bool early_stopping = false;
    // Validation score: "loss" (minus the validation loss), "accuracy" (argmax of the outputs,
    // or a 0.5 threshold per output for one output or binary_cross_entropy), "r2" (R², mean
    // over outputs).
    std::string validation_metric = "loss";
    // The plateau state the loop starts from: the best training loss, the best validation
    // score and the no-improvement count an earlier run ended with (scikit-learn's
    // warm-started fit continues its previous fit's). The defaults start afresh. The bests
    // must not be NaN.
    double start_best_loss = std::numeric_limits<double>::infinity();
    double start_best_val_score = -std::numeric_limits<double>::infinity();
    std::size_t start_no_improvement_count = 0;
    // false: start the optimizer state afresh (scikit-learn's fit); true: continue it
    // (momentum, Adam's moments and step count).
    bool keep_state = true;
    // With keep_state, sgd also continues its schedule's current rate (an "invscaling" decay,
    // an "adaptive" division by 5) instead of starting from learning_rate, as scikit-learn's
    // partial_fit does. Off by default: a warm-started fit runs at the learning_rate it is
    // given.
    bool keep_learning_rate = false;
    // How an epoch's loss (History::loss, the plateau test) averages its batches' losses:
    // weighted by each batch's sample-weight sum, the weighted mean loss over the epoch's rows
    // (false), or by each batch's row count, as scikit-learn's MLP does (true). The same
    // without sample weights.
    bool epoch_loss_by_rows = false;
    // false: the caller vouches that X and y are finite (the estimators, after scikit-learn's
    // validation of the same arrays), and fit skips its own pass over them (for a 60000 x 784
    // float32 X, ~15 ms of memory traffic). The validation rows are checked either way.
    bool check_input = true;
    // Threads for this fit's kernels (0: the library's setting, see threads.hpp).
    int n_threads = 0;
    // Called after every epoch; returning false stops training after that epoch.
    std::function<bool(const EpochRecord&)> on_epoch;
    // Polled between batches; returning true stops training at once (e.g. Ctrl-C).
    std::function<bool()> should_stop;
};

struct BPNET_API History {
    std::vector<double> loss;     // per finished epoch
    std::vector<double> seconds;  // per finished epoch
    std::vector<double> val_loss;   // per finished epoch, with validation data
    std::vector<double> val_score;  // per finished epoch, with validation data
    std::vector<double> learning_rate;  // per finished epoch
    double best_loss = 0;               // lowest training loss of an epoch (or start_best_loss)
    double best_val_score = 0;          // with validation data (or start_best_val_score)
    std::size_t best_epoch = 0;         // epoch of best_val_score (or best_loss without);
                                        // 0 when no epoch beat the FitOptions::start_ value
    bool restored_best = false;         // early stopping restored the best epoch's weights
    bool converged = false;             // stopped on a plateau (tol / n_iter_no_change)
    std::size_t no_improvement_count = 0;  // the tol / n_iter_no_change count the loop ended with
    std::size_t epochs_run = 0;
    bool diverged = false;             // a non-finite loss appeared; last finite weights kept
    bool interrupted = false;          // should_stop returned true
    bool stopped_by_callback = false;  // on_epoch returned false
    std::string message;               // why training stopped early, if it did
};

// Optimizer state that survives between fits (continued by the next fit), in the network's
// precision (as scikit-learn and PyTorch keep it).
template <class T>
struct BPNET_API TrainState {
    std::vector<T> velocity;           // sgd momentum, n_params
    std::vector<T> m, v;               // adam first and second moments, n_params
    std::uint64_t t = 0;               // adam step count
    std::string optimizer;             // the optimizer the state belongs to
    double learning_rate = 0;          // current rate of the schedule (0: not started)
    std::uint64_t samples_seen = 0;    // across fits (scikit-learn's t_), for invscaling
};

namespace detail {

// Keeps training and reading of one network apart: fit, step, init_params and copy assignment
// take it exclusively (waiting for reads in flight); predict, forward, backward, loss, score,
// to_model and copying share it (waiting for a fit in another thread to end). The training
// thread itself may read (an epoch callback that predicts or copies the network), but not
// change the network: a fit, step, init_params or assignment from inside one of the network's
// own fit callbacks throws std::logic_error (it would free the optimizer state and buffers the
// running fit is using). A copy of a network gets a fresh guard.
// A waiting writer goes first: reads that start while it waits queue behind it (at gate_), so
// a fit waits only for the reads in flight. (std::shared_mutex alone is glibc's rwlock, which
// lets new readers in ahead of a waiting writer: threads predicting in a loop, their reads
// always overlapping, kept a fit waiting for ever.)
class NetworkGuard {
public:
    NetworkGuard() = default;
    NetworkGuard(const NetworkGuard&) {}
    NetworkGuard& operator=(const NetworkGuard&) { return *this; }

    class Reader {
    public:
        explicit Reader(const NetworkGuard& g)
            : g_(g), locked_(g.writer_.load() != std::this_thread::get_id()) {
            if (!locked_) return;
            if (g_.writers_waiting_.load() != 0) {
                std::lock_guard<std::mutex> queue(g_.gate_);  // behind the waiting writer
            }
            g_.mutex_.lock_shared();
        }
        ~Reader() {
            if (locked_) g_.mutex_.unlock_shared();
        }
        Reader(const Reader&) = delete;
        Reader& operator=(const Reader&) = delete;

    private:
        const NetworkGuard& g_;
        bool locked_;
    };

    class Writer {
    public:
        // call: the public function's name, for the error.
        Writer(NetworkGuard& g, const char* call) : g_(g) {
            if (g_.writer_.load() == std::this_thread::get_id())
                throw std::logic_error(std::string(call) +
                                       ": called from inside a fit of the same network (an "
                                       "epoch or should_stop callback); a network cannot be "
                                       "changed while it trains");
            g_.writers_waiting_.fetch_add(1);
            try {
                std::unique_lock<std::mutex> gate(g_.gate_);
                g_.mutex_.lock();
                gate.release();  // held until the destructor: new reads queue behind this writer
            } catch (...) {
                g_.writers_waiting_.fetch_sub(1);
                throw;
            }
            g_.writer_.store(std::this_thread::get_id());
        }
        ~Writer() {
            g_.writer_.store(std::thread::id());
            g_.mutex_.unlock();
            g_.gate_.unlock();
            g_.writers_waiting_.fetch_sub(1);
        }
        Writer(const Writer&) = delete;
        Writer& operator=(const Writer&) = delete;

    private:
        NetworkGuard& g_;
    };

private:
    mutable std::shared_mutex mutex_;
    mutable std::mutex gate_;                  // held by the writer from its wait to its end
    mutable std::atomic<int> writers_waiting_{0};  // writers waiting or writing
    std::atomic<std::thread::id> writer_{};
};

}  // namespace detail

// Network<float> and Network<double> are compiled into libbpnet (the explicit instantiations
// in network.cpp). BPNET_API on this first declaration gives the class template default
// visibility, so a shared libbpnet exports every member of both, the inline ones included: a
// consumer may call those there rather than instantiate them (extern template, below).
template <class T>
class BPNET_API Network;

template <class T>
class Network {
public:
    using value_type = T;

    // layer_sizes = (n_0, ..., n_L), at least two entries, all positive.
    // activations: L entries (one per layer, the last one is the output's).
    // Throws std::invalid_argument for invalid arguments, an enum value that names no
    // activation or loss (an integer cast to the enum) included.
    Network(std::vector<std::size_t> layer_sizes, std::vector<Activation> activations,
            Loss loss = Loss::squared_error, std::uint64_t seed = 0);
    // By name: one hidden activation for every hidden layer and one output activation.
    Network(std::vector<std::size_t> layer_sizes, const std::string& activation,
            const std::string& output_activation = "identity",
            const std::string& loss = "squared_error", std::uint64_t seed = 0);

    // A copy is an independent network (parameters and optimizer state; a fresh guard).
    // Copying reads the source as predict does: safe while other threads read it, and a copy
    // made while another thread trains the source waits for that fit to end. Copy assignment
    // changes the target as fit does (waits for its readers; std::logic_error from inside the
    // target's own fit callbacks) and leaves the target unchanged if the copy throws.
    // Moving is not synchronised: no other thread may use either network during a move.
    // A moved-from network is empty: num_layers(), n_inputs(), n_outputs() and num_params()
    // are 0, and predict, forward, loss, backward, fit, step, score and init_params throw
    // std::invalid_argument until a network is assigned to it.
    Network(const Network& other);
    Network& operator=(const Network& other);
    Network(Network&& other) noexcept;
    Network& operator=(Network&& other) noexcept;

    bool empty() const { return sizes_.size() < 2; }  // moved from
    std::size_t num_layers() const { return empty() ? 0 : sizes_.size() - 1; }  // L
    const std::vector<std::size_t>& layer_sizes() const { return sizes_; }
    const std::vector<Activation>& activations() const { return acts_; }
    Loss loss_kind() const { return loss_; }
    std::size_t n_inputs() const { return empty() ? 0 : sizes_.front(); }
    std::size_t n_outputs() const { return empty() ? 0 : sizes_.back(); }
    std::size_t num_params() const { return params_.size(); }
    std::size_t weight_offset(std::size_t l) const;  // l in 0..L-1
    std::size_t bias_offset(std::size_t l) const;

    T* params() { return params_.data(); }
    const T* params() const { return params_.data(); }
    T* grads() { return grads_.data(); }
    const T* grads() const { return grads_.data(); }
    T* weights(std::size_t l) { return params_.data() + weight_offset(l); }
    const T* weights(std::size_t l) const { return params_.data() + weight_offset(l); }
    T* biases(std::size_t l) { return params_.data() + bias_offset(l); }
    const T* biases(std::size_t l) const { return params_.data() + bias_offset(l); }
    // The optimizer state (not guarded: use train_state_copy while another thread may train).
    TrainState<T>& train_state() { return state_; }
    const TrainState<T>& train_state() const { return state_; }
    TrainState<T> train_state_copy() const;

    // Glorot-uniform initialisation (scikit-learn's rule): W_l and b_l uniform in ±bound with
    // bound = sqrt(6 / (n_{l-1} + n_l)), or sqrt(2 / (n_{l-1} + n_l)) for a sigmoid layer.
    // The same numbers on every platform for the same seed. Resets the optimizer state.
    void init_params(std::uint64_t seed);

    // Buffers are raw pointers: a null one where n (or num_params()) says values are expected
    // throws std::invalid_argument; that a buffer is as long as n says is the caller's promise
    // (predict(const std::vector<T>&) is the overload that checks its length).
    //
    // out (n, n_L) = network(X (n, n_0)). Writes only to out; safe to call from several threads.
    // Throws std::invalid_argument if X holds NaN or inf (out then holds some rows or none).
    void predict(const T* X, std::size_t n, T* out) const;
    std::vector<T> predict(const std::vector<T>& X) const;  // rows = X.size() / n_0

    // Keeps every layer: z[l] and a[l] point to (n, n_{l+1}) buffers for l = 0..L-1
    // (a[l] is A_{l+1}; A_0 is X itself). z[l] may be the same buffer as a[l]: then it holds
    // A_{l+1} only, which is all backward needs (every σ' here is computed from a, or, for
    // relu and leaky_relu, from the sign of z, which a shares). X must be finite, as in predict.
    void forward(const T* X, std::size_t n, T* const* z, T* const* a) const;

    // Loss C (penalty included when alpha > 0). w: optional sample weights (n).
    // loss, backward and score throw std::invalid_argument unless n >= 1, X (loss, score) and
    // Y are finite, w passes check_weights and alpha is finite and >= 0 (as fit requires).
    double loss(const T* X, const T* Y, std::size_t n, const T* w = nullptr, double alpha = 0) const;

    // Backpropagation after forward(X, n, z, a): writes ∂C/∂θ to grad (num_params, flat layout),
    // and Δ_l to delta[l] (n, n_{l+1}) for l = 0..L-1. Returns C. Does not change the network.
    // X is not checked again (forward checked it).
    double backward(const T* X, const T* Y, std::size_t n, T* const* z, T* const* a,
                    T* const* delta, T* grad, const T* w = nullptr, double alpha = 0) const;
    // forward then backward as one read of the network (the same bits as the two calls): the
    // gradient of the weights the forward pass used, also while another thread fits or steps
    // (between two separate calls a step could change the weights backward propagates through).
    double forward_backward(const T* X, const T* Y, std::size_t n, T* const* z, T* const* a,
                            T* const* delta, T* grad, const T* w = nullptr, double alpha = 0) const;

    // Mini-batch training in C++; X (n, n_0), Y (n, n_L), w optional (n). Validates every
    // argument and checks X, Y, w are finite before any weight changes. A non-finite loss
    // stops training and restores the weights of the start of that epoch. The callbacks in
    // options may read the network (predict, score, copy) but not change it: fit, step,
    // init_params or assignment to it from there throw std::logic_error.
    History fit(const T* X, const T* Y, std::size_t n, const FitOptions& options,
                const T* w = nullptr, const ValidationData<T>* validation = nullptr);

    // One optimizer step with a gradient computed elsewhere (e.g. averaged over processes by
    // an all-reduce), using and updating the optimizer state exactly as fit's steps do.
    // grad: num_params values in the flat layout; must be finite.
    void step(const T* grad, const FitOptions& options);

    // Validation score of the current weights (see FitOptions::validation_metric).
    double score(const T* X, const T* Y, std::size_t n, const std::string& metric,
                 const T* w = nullptr) const;

    // Model files (docs/model-format.md): parameters, optimizer state, and metadata.
    // from_model throws ModelFormatError when the file's dtype is not T or its parts disagree.
    ModelData to_model() const;
    static Network from_model(const ModelData& model);
    void save(const std::string& path) const { save_model(path, to_model()); }
    static Network load(const std::string& path) { return from_model(load_model(path)); }

    // Throws std::invalid_argument unless all entries are finite (name: "X", "y", ...).
    static void check_finite(const char* name, const T* data, std::size_t count);
    // Throws std::invalid_argument unless the weights are finite, >= 0 and have a positive sum.
    static void check_weights(const char* name, const T* w, std::size_t n);

private:
    // Throws std::invalid_argument naming `call` when the network is empty (moved from).
    void check_not_empty(const char* call) const;
    // A batch's rows are cut into row_chunks(n) chunks for forward and backward; the chunks run
    // on separate threads when there are some. The cut depends on n and the layer sizes only,
    // never on the thread count, so the gradient's sums (and the weights) are the same bits for
    // any thread count. Only mid-size batches are cut: large products already split over
    // threads inside the kernels, and small batches would not pay for a parallel region.
    std::size_t row_chunks(std::size_t n) const;
    // Gathered rows (a shuffled batch): chunk c copies its rows of X, Y, w into xb, yb, wb.
    struct Gather {
        const T *X, *Y, *w;
        const std::size_t* rows;
        T *xb, *yb, *wb;
    };
    void forward_rows(const T* X, std::size_t r0, std::size_t r1, T* const* z, T* const* a) const;
    // Σ_i w_i C_i over rows [r0, r1); writes scale · ∂(Σ_i w_i C_i)/∂θ over those rows to grad
    // (no penalty) and their Δ_l rows.
    double backward_rows(const T* X, const T* Y, const T* w, std::size_t r0, std::size_t r1,
                         T* const* z, T* const* a, T* const* delta, T* grad, T scale) const;
    // What gradient leaves to its caller when handed one (fit's loop does it on the threads of
    // the optimizer step, range by range): grad += the other chunks' gradients in chunk order,
    // then += k · W_l on the weights (the L2 penalty). finish_gradient does entries [i0, i1).
    struct Unfinished {
        const T* extra = nullptr;  // chunks - 1 buffers of num_params()
        std::size_t chunks = 1;
        bool penalty = false;
        T k = 0;
    };
    void finish_gradient(const Unfinished& u, T* grad, std::size_t i0, std::size_t i1) const;
    // backward (after forward, or with it when with_forward), chunked as row_chunks says.
    double gradient(bool with_forward, const T* X, const T* Y, std::size_t n, T* const* z,
                    T* const* a, T* const* delta, T* grad, const T* w, double alpha,
                    const Gather* gather, Unfinished* unfinished = nullptr) const;

    std::vector<std::size_t> sizes_;
    std::vector<Activation> acts_;
    Loss loss_;
    std::vector<std::size_t> offsets_;  // offset of W_l for each l, then of the end
    std::vector<T> params_;
    std::vector<T> grads_;
    TrainState<T> state_;
    detail::NetworkGuard guard_;
};

extern template class Network<float>;
extern template class Network<double>;

}  // namespace bpnet

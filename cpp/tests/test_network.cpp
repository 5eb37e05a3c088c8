// Network<T>: backpropagation against central finite differences, gradient descent against
// least squares, and bad input that must throw.
#include <bpnet/bpnet.hpp>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "rng.hpp"
#include "test_util.hpp"

using bpnet::Activation;
using bpnet::Loss;
using bpnet::Network;

namespace {

std::vector<double> random_vec(std::size_t n, std::uint64_t seed, double lo = -1, double hi = 1) {
    bpnet::detail::Rng rng(seed);
    std::vector<double> v(n);
    for (auto& x : v) x = lo + (hi - lo) * rng.uniform();
    return v;
}

// Runs forward + backward and returns the analytic gradient.
// shared_z: z[l] is a[l]'s buffer (allowed by Network::forward).
std::vector<double> analytic_grad(const Network<double>& net, const std::vector<double>& X,
                                  const std::vector<double>& Y, std::size_t n, double alpha,
                                  bool shared_z = false) {
    const std::size_t L = net.num_layers();
    std::vector<std::vector<double>> z(L), a(L), d(L);
    std::vector<double*> zp(L), ap(L), dp(L);
    for (std::size_t l = 0; l < L; ++l) {
        z[l].resize(n * net.layer_sizes()[l + 1]);
        a[l].resize(z[l].size());
        d[l].resize(z[l].size());
        zp[l] = shared_z ? a[l].data() : z[l].data(), ap[l] = a[l].data(), dp[l] = d[l].data();
    }
    std::vector<double> g(net.num_params());
    net.forward(X.data(), n, zp.data(), ap.data());
    net.backward(X.data(), Y.data(), n, zp.data(), ap.data(), dp.data(), g.data(), nullptr, alpha);
    return g;
}

void gradcheck(std::vector<std::size_t> sizes, std::vector<Activation> acts, Loss loss,
               double alpha = 0) {
    Network<double> net(sizes, acts, loss, 7);
    const std::size_t n = 5, m = sizes.back();
    auto X = random_vec(n * sizes[0], 1);
    auto Y = random_vec(n * m, 2, 0.05, 0.95);
    if (loss == Loss::cross_entropy)  // one-hot targets
        for (std::size_t i = 0; i < n; ++i)
            for (std::size_t j = 0; j < m; ++j) Y[i * m + j] = j == i % m ? 1.0 : 0.0;
    if (loss == Loss::poisson)
        for (auto& y : Y) y *= 3;
    const auto g = analytic_grad(net, X, Y, n, alpha);
    // Error relative to the largest gradient entry (entries near zero make per-entry ratios noise).
    double worst = 0, scale = 1e-8;
    for (double v : g) scale = std::max(scale, std::fabs(v));
    for (std::size_t i = 0; i < net.num_params(); ++i) {
        const double keep = net.params()[i], h = 1e-6;
        net.params()[i] = keep + h;
        const double cp = net.loss(X.data(), Y.data(), n, nullptr, alpha);
        net.params()[i] = keep - h;
        const double cm = net.loss(X.data(), Y.data(), n, nullptr, alpha);
        net.params()[i] = keep;
        const double num = (cp - cm) / (2 * h);
        worst = std::max(worst, std::fabs(num - g[i]) / scale);
    }
    CHECK_MSG(worst < 1e-6, std::string("gradcheck ") + bpnet::loss_name(loss) + "/" +
                                bpnet::activation_name(acts.back()) + ": max rel error " +
                                std::to_string(worst));
}

// The message of the std::invalid_argument that f throws; fails the check (with `what`) when it
// throws none or another exception.
template <class F>
std::string invalid_argument_message(const F& f, const char* what, const char* file, int line) {
    try {
        f();
    } catch (const std::invalid_argument& e) {
        return e.what();
    } catch (...) {
        bpnet_test::fail(file, line, std::string("expected std::invalid_argument from ") + what +
                                         ", got another exception");
        return "";
    }
    bpnet_test::fail(file, line, std::string("expected std::invalid_argument from ") + what);
    return "";
}

}  // namespace

// CHECK_THROWS_AS(expr, std::invalid_argument), and the message holds `part`.
#define CHECK_INVALID(expr, part)                                                               \
    do {                                                                                        \
        const std::string msg_ =                                                                \
            invalid_argument_message([&] { (void)(expr); }, #expr, __FILE__, __LINE__);         \
        if (!msg_.empty() && msg_.find(part) == std::string::npos)                              \
            bpnet_test::fail(__FILE__, __LINE__,                                                \
                             std::string(#expr ": message '") + msg_ + "' lacks '" + (part) + "'"); \
    } while (0)

TEST_CASE("backward matches central differences for every activation and loss") {
    const Activation hidden[] = {Activation::identity, Activation::sigmoid, Activation::tanh,
                                 Activation::relu, Activation::leaky_relu};
    for (Activation h : hidden) {
        gradcheck({3, 4, 2}, {h, Activation::identity}, Loss::squared_error);
        gradcheck({3, 4, 3, 2}, {h, h, Activation::sigmoid}, Loss::half_squared_error, 0.3);
    }
    gradcheck({3, 4, 1}, {Activation::tanh, Activation::sigmoid}, Loss::binary_cross_entropy);
    gradcheck({3, 4, 3}, {Activation::tanh, Activation::softmax}, Loss::cross_entropy);
    gradcheck({3, 4, 3}, {Activation::tanh, Activation::softmax}, Loss::squared_error);
    gradcheck({3, 2}, {Activation::exp}, Loss::poisson);
}

TEST_CASE("z sharing a's buffer gives the same gradient bits, for every activation and loss") {
    // fit keeps Z_l in A_l's buffer; backward must then give what it gives with Z_l apart.
    // Small and gemm-sized layers (the kernels' fused epilogues apply σ in place there).
    struct Case {
        std::vector<std::size_t> sizes;
        std::vector<Activation> acts;
        Loss loss;
    };
    const Activation hidden[] = {Activation::identity, Activation::sigmoid, Activation::tanh,
                                 Activation::relu, Activation::leaky_relu};
    std::vector<Case> cases;
    for (Activation h : hidden) {
        cases.push_back({{3, 4, 2}, {h, Activation::identity}, Loss::squared_error});
        cases.push_back({{70, 50, 3}, {h, Activation::softmax}, Loss::cross_entropy});
        cases.push_back({{70, 50, 40, 2}, {h, h, Activation::sigmoid}, Loss::half_squared_error});
    }
    cases.push_back({{70, 30, 1}, {Activation::relu, Activation::sigmoid}, Loss::binary_cross_entropy});
    cases.push_back({{70, 30, 3}, {Activation::tanh, Activation::softmax}, Loss::squared_error});
    cases.push_back({{70, 3}, {Activation::exp}, Loss::poisson});
    for (const Case& c : cases) {
        Network<double> net(c.sizes, c.acts, c.loss, 3);
        const std::size_t n = 64, m = c.sizes.back();
        auto X = random_vec(n * c.sizes[0], 4);
        auto Y = random_vec(n * m, 5, 0.05, 0.95);
        if (c.loss == Loss::cross_entropy)
            for (std::size_t i = 0; i < n; ++i)
                for (std::size_t j = 0; j < m; ++j) Y[i * m + j] = j == i % m ? 1.0 : 0.0;
        const auto apart = analytic_grad(net, X, Y, n, 0.1);
        const auto shared = analytic_grad(net, X, Y, n, 0.1, true);
        CHECK_MSG(apart == shared, std::string("shared z: ") + bpnet::loss_name(c.loss) + "/" +
                                       bpnet::activation_name(c.acts.front()));
    }
}

TEST_CASE("gradient descent on a network without hidden layers reaches least squares") {
    // y = X β + c + noise with 3 features; normal equations solved by Gaussian elimination.
    const std::size_t n = 200, p = 3;
    auto X = random_vec(n * p, 11);
    auto noise = random_vec(n, 12, -0.1, 0.1);
    const double beta[3] = {2.0, -1.0, 0.5}, c = 1.0;
    std::vector<double> Y(n);
    for (std::size_t i = 0; i < n; ++i) {
        Y[i] = c + noise[i];
        for (std::size_t j = 0; j < p; ++j) Y[i] += beta[j] * X[i * p + j];
    }
    // Augmented normal equations [X 1]ᵀ[X 1] θ = [X 1]ᵀ y
    const std::size_t q = p + 1;
    std::vector<double> A(q * (q + 1), 0.0);
    for (std::size_t i = 0; i < n; ++i) {
        double row[4] = {X[i * p], X[i * p + 1], X[i * p + 2], 1.0};
        for (std::size_t r = 0; r < q; ++r) {
            for (std::size_t s = 0; s < q; ++s) A[r * (q + 1) + s] += row[r] * row[s];
            A[r * (q + 1) + q] += row[r] * Y[i];
        }
    }
    for (std::size_t k = 0; k < q; ++k)
        for (std::size_t r = k + 1; r < q; ++r) {
            const double f = A[r * (q + 1) + k] / A[k * (q + 1) + k];
            for (std::size_t s = k; s <= q; ++s) A[r * (q + 1) + s] -= f * A[k * (q + 1) + s];
        }
    std::vector<double> theta(q);
    for (std::size_t k = q; k-- > 0;) {
        double s = A[k * (q + 1) + q];
        for (std::size_t j = k + 1; j < q; ++j) s -= A[k * (q + 1) + j] * theta[j];
        theta[k] = s / A[k * (q + 1) + k];
    }

    Network<double> net({p, 1}, {Activation::identity}, Loss::squared_error, 3);
    bpnet::FitOptions o;
    o.learning_rate = 0.5;
    o.epochs = 3000;
    o.batch_size = 0;  // full batch
    auto h = net.fit(X.data(), Y.data(), n, o);
    CHECK(h.epochs_run == 3000);
    for (std::size_t j = 0; j < p; ++j) CHECK_NEAR(net.weights(0)[j], theta[j], 1e-6);
    CHECK_NEAR(net.biases(0)[0], theta[p], 1e-6);
}

TEST_CASE("float network learns sin(x) with one hidden layer") {
    const std::size_t n = 64;
    std::vector<float> X(n), Y(n);
    for (std::size_t i = 0; i < n; ++i) X[i] = -3.0f + 6.0f * i / (n - 1), Y[i] = std::sin(X[i]);
    Network<float> net({1, 8, 1}, "sigmoid", "identity", "squared_error", 5);
    bpnet::FitOptions o;
    o.learning_rate = 0.1;
    o.epochs = 2000;
    o.batch_size = 8;
    o.seed = 1;
    auto h = net.fit(X.data(), Y.data(), n, o);
    CHECK_MSG(h.loss.back() < h.loss.front() / 20, "loss " + std::to_string(h.loss.front()) +
                                                       " -> " + std::to_string(h.loss.back()));
}

TEST_CASE("bad construction and training arguments throw std::invalid_argument") {
    using V = std::vector<std::size_t>;
    CHECK_THROWS_AS(Network<double>(V{3}, "relu"), std::invalid_argument);
    CHECK_THROWS_AS(Network<double>(V{3, 0, 1}, "relu"), std::invalid_argument);
    CHECK_THROWS_AS(Network<double>(V{3, 2, 1}, "nope"), std::invalid_argument);
    CHECK_THROWS_AS(Network<double>(V{3, 2, 1}, "softmax"), std::invalid_argument);
    CHECK_THROWS_AS(Network<double>(V{3, 2, 1}, "relu", "identity", "cross_entropy"),
                    std::invalid_argument);
    CHECK_THROWS_AS(Network<double>(V{3, 2, 1}, "relu", "identity", "what"),
                    std::invalid_argument);
    CHECK_THROWS_AS(Network<double>(V{3, 1000000000, 1000000000, 1}, "relu"),
                    std::invalid_argument);

    Network<double> net({2, 3, 1}, "tanh");
    const std::vector<double> before(net.params(), net.params() + net.num_params());
    std::vector<double> X = {1, 2, 3, 4}, Y = {1, 2};
    bpnet::FitOptions o;
    o.learning_rate = -1;
    CHECK_THROWS_AS(net.fit(X.data(), Y.data(), 2, o), std::invalid_argument);
    o.learning_rate = 0.1;
    o.epochs = 0;
    CHECK_THROWS_AS(net.fit(X.data(), Y.data(), 2, o), std::invalid_argument);
    o.epochs = 1;
    o.optimizer = "rmsprop";
    CHECK_THROWS_AS(net.fit(X.data(), Y.data(), 2, o), std::invalid_argument);
    o.optimizer = "sgd";
    CHECK_THROWS_AS(net.fit(X.data(), Y.data(), 0, o), std::invalid_argument);
    X[3] = std::nan("");
    CHECK_THROWS_AS(net.fit(X.data(), Y.data(), 2, o), std::invalid_argument);
    X[3] = 4;
    Y[1] = INFINITY;
    CHECK_THROWS_AS(net.fit(X.data(), Y.data(), 2, o), std::invalid_argument);
    CHECK(std::equal(before.begin(), before.end(), net.params()));
    CHECK_THROWS_AS(net.predict(std::vector<double>{1, 2, 3}), std::invalid_argument);
}

TEST_CASE("a diverging fit stops with finite weights") {
    Network<double> net({1, 1}, {Activation::identity}, Loss::squared_error, 1);
    std::vector<double> X = {1e3, -2e3, 3e3}, Y = {1, 2, 3};
    bpnet::FitOptions o;
    o.learning_rate = 10;
    o.epochs = 50;
    auto h = net.fit(X.data(), Y.data(), 3, o);
    CHECK(h.diverged);
    CHECK(!h.message.empty());
    for (std::size_t i = 0; i < net.num_params(); ++i) CHECK(std::isfinite(net.params()[i]));
}

TEST_CASE("a model built in memory: step counters must be digits; a NaN moment is not continued") {
    Network<double> net({2, 3, 1}, "tanh", "identity", "squared_error", 1);
    std::vector<double> X = random_vec(20, 3), Y = random_vec(10, 4);
    bpnet::FitOptions o;
    o.optimizer = "adam";
    o.epochs = 1;
    net.fit(X.data(), Y.data(), 10, o);
    const bpnet::ModelData good = net.to_model();
    for (const char* bad : {"-1", "+3", " 3", "", "3x", "99999999999999999999"}) {
        bpnet::ModelData m = good;
        for (auto& kv : m.metadata)
            if (kv.first == "adam_t") kv.second = bad;  // strtoull made "-1" 2^64 - 1
        CHECK_THROWS_AS(Network<double>::from_model(m), bpnet::ModelFormatError);
    }
    bpnet::ModelData m = good;
    for (auto& arr : m.arrays)
        if (arr.first == "adam_m") arr.second[2] = std::nan("");
    Network<double> loaded = Network<double>::from_model(m);
    const std::vector<double> before(loaded.params(), loaded.params() + loaded.num_params());
    CHECK_THROWS_AS(loaded.fit(X.data(), Y.data(), 10, o), std::invalid_argument);
    for (std::size_t i = 0; i < loaded.num_params(); ++i) CHECK(loaded.params()[i] == before[i]);
    o.keep_state = false;  // afresh: trains
    CHECK(!loaded.fit(X.data(), Y.data(), 10, o).diverged);
}

TEST_CASE("fit starts its plateau bookkeeping from the state it is given") {
    // tol so large that no epoch counts as an improvement after the first: the count decides
    std::vector<double> X = {0, 1, 2, 3}, Y = {1, 3, 5, 7};
    bpnet::FitOptions o;
    o.learning_rate = 0.01;
    o.epochs = 100;
    o.stop_on_plateau = true;
    o.tol = 1e6;
    o.n_iter_no_change = 2;
    Network<double> fresh({1, 1}, {Activation::identity}, Loss::squared_error, 1);
    auto h = fresh.fit(X.data(), Y.data(), 4, o);  // counts 0, 1, 2, 3: stops after epoch 4
    CHECK(h.converged && h.epochs_run == 4 && h.no_improvement_count == 3);
    CHECK(h.best_epoch == 4 && h.best_loss == h.loss.back());

    // continued: best 0 (no loss beats it) and count 2 -> count 3 after one epoch, stop
    Network<double> net({1, 1}, {Activation::identity}, Loss::squared_error, 1);
    o.start_best_loss = 0;
    o.start_no_improvement_count = 2;
    h = net.fit(X.data(), Y.data(), 4, o);
    CHECK(h.converged && h.epochs_run == 1 && h.no_improvement_count == 3);
    CHECK(h.best_loss == 0 && h.best_epoch == 0);

    // early stopping from a validation score no epoch reaches: the weights are not restored
    o.start_best_loss = INFINITY;
    o.start_no_improvement_count = 0;
    o.early_stopping = true;
    o.start_best_val_score = 1e300;
    bpnet::ValidationData<double> val{X.data(), Y.data(), 4, nullptr};
    h = net.fit(X.data(), Y.data(), 4, o, nullptr, &val);
    CHECK(h.converged && h.epochs_run == 3 && h.no_improvement_count == 3);
    CHECK(!h.restored_best && h.best_epoch == 0 && h.best_val_score == 1e300);

    o.start_best_val_score = std::nan("");
    CHECK_THROWS_AS(net.fit(X.data(), Y.data(), 4, o, nullptr, &val), std::invalid_argument);
    o.start_best_val_score = -INFINITY;
    o.start_best_loss = std::nan("");
    CHECK_THROWS_AS(net.fit(X.data(), Y.data(), 4, o, nullptr, &val), std::invalid_argument);
}

namespace {

// A 3-4-2 network (relu, identity) of float type T, 5 rows of data, and its layer buffers.
template <class T>
struct Batch {
    Network<T> net{{3, 4, 2}, {Activation::relu, Activation::identity}, Loss::squared_error, 9};
    std::size_t n = 5;
    std::vector<T> X, Y, w;
    std::vector<std::vector<T>> z, a, d;
    std::vector<T*> zp, ap, dp;
    std::vector<T> grad;
    Batch() {
        for (double v : random_vec(n * 3, 21)) X.push_back(T(v));
        for (double v : random_vec(n * 2, 22)) Y.push_back(T(v));
        for (double v : random_vec(n, 23, 0.5, 2)) w.push_back(T(v));
        for (std::size_t l = 0; l < net.num_layers(); ++l) {
            z.emplace_back(n * net.layer_sizes()[l + 1]);
            a.emplace_back(z.back().size());
            d.emplace_back(z.back().size());
        }
        for (std::size_t l = 0; l < net.num_layers(); ++l)
            zp.push_back(z[l].data()), ap.push_back(a[l].data()), dp.push_back(d[l].data());
        grad.resize(net.num_params());
        net.forward(X.data(), n, zp.data(), ap.data());
    }
    double backward(std::size_t rows, const T* weights, double alpha) {
        return net.backward(X.data(), Y.data(), rows, zp.data(), ap.data(), dp.data(), grad.data(),
                            weights, alpha);
    }
};

template <class T>
void check_bad_batches() {
    Batch<T> b;
    const T *X = b.X.data(), *Y = b.Y.data();
    const Network<T>& net = b.net;
    // no rows: a mean over none was NaN
    CHECK_INVALID(net.loss(X, Y, 0), "X: expected at least 1 row, got 0");
    CHECK_INVALID(net.loss(X, Y, 0, b.w.data(), 0.1), "at least 1 row");
    CHECK_INVALID(b.backward(0, nullptr, 0), "X: expected at least 1 row, got 0");
    CHECK_INVALID(net.score(X, Y, 0, "loss"), "X: expected at least 1 row, got 0");
    CHECK_INVALID(net.score(X, Y, 0, "accuracy"), "at least 1 row");
    CHECK_INVALID(net.score(X, Y, 0, "r2"), "at least 1 row");
    // all-zero, negative and non-finite sample weights (check_weights, as fit)
    std::vector<T> zeros(b.n, T(0));
    std::vector<T> negative = b.w, nan_w = b.w;
    negative[3] = T(-1);
    nan_w[1] = T(NAN);
    for (std::vector<T>* bad : {&zeros, &negative, &nan_w}) {
        CHECK_INVALID(net.loss(X, Y, b.n, bad->data()), "sample_weight: expected");
        CHECK_INVALID(b.backward(b.n, bad->data(), 0), "sample_weight: expected");
        for (const char* metric : {"loss", "accuracy", "r2"})
            CHECK_INVALID(net.score(X, Y, b.n, metric, bad->data()), "sample_weight: expected");
    }
    CHECK_INVALID(net.loss(X, Y, b.n, zeros.data()), "expected a positive sum, got 0");
    CHECK_INVALID(b.backward(b.n, negative.data(), 0), "expected values >= 0, got -1");
    CHECK_INVALID(net.score(X, Y, b.n, "r2", nan_w.data()), "found NaN at flat index 1");
    // alpha: what fit's options check says
    for (double alpha : {-1.0, double(NAN), double(INFINITY)}) {
        CHECK_INVALID(net.loss(X, Y, b.n, nullptr, alpha), "alpha: expected a finite value >= 0");
        CHECK_INVALID(b.backward(b.n, nullptr, alpha), "alpha: expected a finite value >= 0");
    }
    bpnet::FitOptions o;
    o.alpha = -1;
    CHECK_INVALID(b.net.fit(X, Y, b.n, o), "alpha: expected a finite value >= 0, got -1");
    // non-finite X (predict, forward, loss, score) and y (loss, backward, score)
    std::vector<T> Xbad = b.X, Ybad = b.Y;
    Xbad[7] = T(NAN), Ybad[4] = T(-INFINITY);
    std::vector<T> out(b.n * 2);
    CHECK_INVALID(net.predict(Xbad.data(), b.n, out.data()), "X: expected finite values, found NaN at flat index 7");
    CHECK_INVALID(net.predict(Xbad), "X: expected finite values");
    Xbad[7] = T(INFINITY);
    CHECK_INVALID(net.predict(Xbad.data() + 6, 1, out.data()), "found inf at flat index 1");
    CHECK_INVALID(net.forward(Xbad.data(), b.n, b.zp.data(), b.ap.data()), "X: expected finite values");
    CHECK_INVALID(net.loss(Xbad.data(), Y, b.n), "X: expected finite values");
    CHECK_INVALID(net.score(Xbad.data(), Y, b.n, "accuracy"), "X: expected finite values");
    CHECK_INVALID(net.loss(X, Ybad.data(), b.n), "y: expected finite values, found inf");
}

}  // namespace

TEST_CASE("loss, backward, score, predict and forward reject what the Python layer rejects") {
    check_bad_batches<double>();
    check_bad_batches<float>();
}

TEST_CASE("predict names the flat index of a non-finite value past its first chunk of rows") {
    Network<float> net({3, 2}, {Activation::identity});
    std::vector<float> X(600 * 3, 0.5f), out(600 * 2);
    net.predict(X.data(), 600, out.data());
    X[523 * 3 + 2] = NAN;  // predict works through 256-row chunks
    CHECK_INVALID(net.predict(X.data(), 600, out.data()), "found NaN at flat index 1571");
    X[523 * 3 + 2] = 0.5f, X.back() = -INFINITY;
    CHECK_INVALID(net.predict(X), "found inf at flat index 1799");
}

TEST_CASE("predict and forward accept zero rows") {
    Batch<double> b;
    std::vector<double> out(2, -7.0);
    b.net.predict(b.X.data(), 0, out.data());
    CHECK(out[0] == -7.0 && out[1] == -7.0);  // nothing written
    b.net.forward(b.X.data(), 0, b.zp.data(), b.ap.data());
    CHECK(b.net.predict(std::vector<double>{}).empty());
}

TEST_CASE("enum values that name no activation or loss are refused at construction") {
    using V = std::vector<std::size_t>;
    CHECK_INVALID(Network<double>(V{2, 1}, {Activation(99)}), "activations[0]: unknown Activation value 99 for layer 1");
    CHECK_INVALID(Network<float>(V{2, 3, 1}, {Activation::tanh, Activation(-1)}),
                  "activations[1]: unknown Activation value -1 for layer 2");
    CHECK_INVALID(Network<double>(V{2, 1}, {Activation::identity}, Loss(99)), "loss: unknown Loss value 99");
    // every named value is still taken
    for (Activation act : {Activation::identity, Activation::sigmoid, Activation::tanh, Activation::relu,
                           Activation::leaky_relu})
        Network<double>(V{2, 2, 1}, {act, Activation::identity}, Loss::half_squared_error);
    Network<double>(V{2, 2}, {Activation::softmax}, Loss::cross_entropy);
    Network<double>(V{2, 1}, {Activation::sigmoid}, Loss::binary_cross_entropy);
    Network<double>(V{2, 1}, {Activation::exp}, Loss::poisson);
}

TEST_CASE("integer options are reported as integers") {
    Network<double> net({1, 1}, {Activation::identity});
    std::vector<double> X = {1, 2}, Y = {1, 2};
    bpnet::FitOptions o;
    o.epochs = 0;
    CHECK_INVALID(net.fit(X.data(), Y.data(), 2, o), "epochs: expected at least 1, got 0");
    o.epochs = 1;
    o.n_threads = -1;
    CHECK_INVALID(net.fit(X.data(), Y.data(), 2, o), ", got -1");
    o.n_threads = 0;
    o.n_iter_no_change = 0;
    CHECK_INVALID(net.fit(X.data(), Y.data(), 2, o), "n_iter_no_change: expected at least 1, got 0");
    o.n_iter_no_change = 10, o.epochs = 0;  // was "got 0.000000"
    const std::string msg = invalid_argument_message([&] { net.fit(X.data(), Y.data(), 2, o); },
                                                     "fit with epochs = 0", __FILE__, __LINE__);
    CHECK_MSG(msg == "epochs: expected at least 1, got 0", "message: " + msg);
}

TEST_CASE("from_model names a dtype that is not the network's, known or not") {
    Network<double> net({2, 1}, {Activation::identity});
    bpnet::ModelData m = net.to_model();
    m.dtype = bpnet::DType(7);
    std::string msg;
    try {
        Network<double>::from_model(m);
    } catch (const bpnet::ModelFormatError& e) {
        msg = e.what();
    }
    CHECK_MSG(msg == "model: dtype is unknown (7), expected float64 (2)", "message: " + msg);
    msg.clear();
    m.dtype = bpnet::DType::float64;
    try {
        Network<float>::from_model(m);
    } catch (const bpnet::ModelFormatError& e) {
        msg = e.what();
    }
    CHECK_MSG(msg == "model: dtype is float64 (2), expected float32 (1)", "message: " + msg);
}

TEST_CASE("checked entries give the bits of the unchecked paths on valid input") {
    // fit's validation pass computes loss and score without the entries' checks; the checked
    // entries must give the same bits on the same weights.
    for (const char* metric : {"loss", "r2", "accuracy"}) {
        Batch<double> b;
        bpnet::FitOptions o;
        o.epochs = 3;
        o.validation_metric = metric;
        bpnet::ValidationData<double> val{b.X.data(), b.Y.data(), b.n, b.w.data()};
        const auto h = b.net.fit(b.X.data(), b.Y.data(), b.n, o, nullptr, &val);
        CHECK(h.epochs_run == 3);
        CHECK(h.val_loss.back() == b.net.loss(b.X.data(), b.Y.data(), b.n, b.w.data()));
        CHECK(h.val_score.back() == b.net.score(b.X.data(), b.Y.data(), b.n, metric, b.w.data()));
    }
    // score "loss" is minus loss; predict(vector) is predict(pointer); forward's output is
    // predict's; valid weights and alpha give a finite loss and gradient, the same twice
    Batch<float> b;
    const float *X = b.X.data(), *Y = b.Y.data();
    CHECK(b.net.score(X, Y, b.n, "loss", b.w.data()) == -b.net.loss(X, Y, b.n, b.w.data()));
    std::vector<float> out(b.n * 2);
    b.net.predict(X, b.n, out.data());
    CHECK(b.net.predict(b.X) == out);
    CHECK(std::equal(out.begin(), out.end(), b.a.back().begin()));
    const double c1 = b.backward(b.n, b.w.data(), 0.5);
    const std::vector<float> g1 = b.grad;
    const double c2 = b.backward(b.n, b.w.data(), 0.5);
    CHECK(std::isfinite(c1) && c1 == c2 && g1 == b.grad);
    CHECK(c1 == b.net.loss(X, Y, b.n, b.w.data(), 0.5));
    // a zero weight on some rows (not all) is valid
    std::vector<float> some = b.w;
    some[0] = some[2] = 0;
    CHECK(std::isfinite(b.net.loss(X, Y, b.n, some.data(), 0.0)));
}

TEST_CASE("same seed, same weights") {
    Network<float> a({4, 5, 2}, "relu", "identity", "squared_error", 42);
    Network<float> b({4, 5, 2}, "relu", "identity", "squared_error", 42);
    Network<float> c({4, 5, 2}, "relu", "identity", "squared_error", 43);
    CHECK(std::equal(a.params(), a.params() + a.num_params(), b.params()));
    CHECK(!std::equal(a.params(), a.params() + a.num_params(), c.params()));
}

TEST_CASE("a moved-from network is empty and refuses every computing call") {
    Network<double> a({2, 3, 1}, "tanh", "identity", "squared_error", 5);
    const std::vector<double> X = {0.1, 0.2, 0.3, 0.4}, Y = {1, 0};
    std::vector<double> out(2), grad(a.num_params()), want = a.predict(X);
    Network<double> b = std::move(a);
    CHECK(b.predict(X) == want);
    CHECK(a.empty() && a.num_layers() == 0 && a.n_inputs() == 0 && a.n_outputs() == 0 &&
          a.num_params() == 0);
    bpnet::FitOptions o;
    o.epochs = 1;
    double* z[1] = {out.data()};
    CHECK_INVALID(a.predict(X.data(), 2, out.data()), "predict: the network is empty (moved from)");
    CHECK_INVALID(a.predict(X), "predict: the network is empty");
    CHECK_INVALID(a.forward(X.data(), 2, z, z), "forward: the network is empty");
    CHECK_INVALID(a.loss(X.data(), Y.data(), 2), "loss: the network is empty");
    CHECK_INVALID(a.backward(X.data(), Y.data(), 2, z, z, z, grad.data()), "backward: the network is empty");
    CHECK_INVALID(a.fit(X.data(), Y.data(), 2, o), "fit: the network is empty");
    CHECK_INVALID(a.step(grad.data(), o), "step: the network is empty");
    CHECK_INVALID(a.score(X.data(), Y.data(), 2, "r2"), "score: the network is empty");
    CHECK_INVALID(a.init_params(1), "init_params: the network is empty");
    CHECK_INVALID(a.save("never-written.bpnet"), "layer_sizes");
    CHECK_THROWS_AS(a.weights(0), std::out_of_range);
    // moved into by assignment: the source is emptied; a self-move keeps the network
    Network<double> c({1, 1}, "identity");
    c = std::move(b);
    CHECK(b.empty() && c.predict(X) == want);
    Network<double>& same = c;
    c = std::move(same);
    CHECK(!c.empty() && c.predict(X) == want);
    // and usable again once a network is assigned to it
    a = c;
    CHECK(a.predict(X) == want);
    a.params()[0] += 1;  // a copy is independent
    CHECK(c.predict(X) == want && a.predict(X) != want);
}

TEST_CASE("null buffers throw std::invalid_argument, never read") {
    Network<float> net({2, 3, 1}, "relu");
    const std::vector<float> X = {1, 2, 3, 4}, Y = {1, 0};
    std::vector<float> out(2), grad(net.num_params());
    float* z[2] = {nullptr, nullptr};
    bpnet::FitOptions o;
    CHECK_INVALID(net.predict(nullptr, 2, out.data()), "predict: X is a null pointer, expected 4 values");
    CHECK_INVALID(net.predict(X.data(), 2, nullptr), "predict: out is a null pointer");
    CHECK_INVALID(net.forward(nullptr, 2, z, z), "forward: X is a null pointer");
    CHECK_INVALID(net.loss(X.data(), nullptr, 2), "loss: y is a null pointer");
    CHECK_INVALID(net.backward(X.data(), Y.data(), 2, z, z, z, nullptr), "backward: grad is a null pointer");
    CHECK_INVALID(net.fit(nullptr, Y.data(), 2, o), "fit: X is a null pointer");
    CHECK_INVALID(net.step(nullptr, o), "step: gradient is a null pointer");
    CHECK_INVALID(net.score(nullptr, Y.data(), 2, "r2"), "score: X is a null pointer");
    bpnet::ValidationData<float> val;
    val.n = 1;
    CHECK_INVALID(net.fit(X.data(), Y.data(), 2, o, nullptr, &val), "fit: X_val is a null pointer");
    net.predict(nullptr, 0, nullptr);  // no rows: nothing to read or write
}

TEST_MAIN()

TEST_CASE("softmax of one row gives the bits of the same row in a block of rows") {
    // (one row takes its own loop, without the grouped loops of a block)
    for (std::size_t cols : {1u, 3u, 7u, 8u, 10u, 33u}) {
        std::vector<double> z(3 * cols), block(3 * cols), one(cols);
        for (std::size_t j = 0; j < z.size(); ++j) z[j] = std::sin(0.7 * double(j)) * 30.0;
        bpnet::activation_forward(Activation::softmax, block.data(), z.data(), 3, cols, cols);
        for (std::size_t i = 0; i < 3; ++i) {
            bpnet::activation_forward(Activation::softmax, one.data(), z.data() + i * cols, 1, cols, cols);
            for (std::size_t j = 0; j < cols; ++j) CHECK(one[j] == block[i * cols + j]);
        }
        std::vector<float> zf(z.begin(), z.end()), bf(z.size()), of(cols);
        bpnet::activation_forward(Activation::softmax, bf.data(), zf.data(), 3, cols, cols);
        bpnet::activation_forward(Activation::softmax, of.data(), zf.data() + cols, 1, cols, cols);
        for (std::size_t j = 0; j < cols; ++j) CHECK(of[j] == bf[cols + j]);
        // in place, as the network applies it
        std::vector<double> inplace(z.begin(), z.begin() + cols);
        bpnet::activation_forward(Activation::softmax, inplace.data(), inplace.data(), 1, cols, cols);
        for (std::size_t j = 0; j < cols; ++j) CHECK(inplace[j] == block[j]);
    }
}

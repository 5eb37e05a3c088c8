// Network<T> used from several threads, as network.hpp promises: reads (predict, copies) wait
// for a fit in another thread and never see it half-way; a network cannot be changed from
// inside its own fit's callbacks. Run under -DBPNET_SANITIZE=thread too (ThreadSanitizer).
#include <bpnet/bpnet.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "test_util.hpp"

using bpnet::EpochRecord;
using bpnet::FitOptions;
using bpnet::Network;

namespace {

constexpr std::size_t kRows = 64;

struct Data {
    std::vector<double> X, Y;
    Data() : X(kRows * 4), Y(kRows * 2) {
        for (std::size_t i = 0; i < X.size(); ++i) X[i] = double(i % 7) / 7.0 - 0.5;
        for (std::size_t i = 0; i < Y.size(); ++i) Y[i] = double(i % 3) / 3.0;
    }
};

Network<double> make_net() { return Network<double>({4, 8, 2}, "tanh", "identity", "squared_error", 1); }

std::vector<double> params_of(const Network<double>& net) {
    return std::vector<double>(net.params(), net.params() + net.num_params());
}

// Trains net in a thread of its own (sgd with momentum, 20 epochs) and calls during_fit in the
// calling thread while that fit is at its first epoch: the fit then sleeps 100 ms before going
// on, so during_fit starts while the fit is running (an unsynchronised read sees epoch 1's
// weights, a synchronised one waits for the 20th).
template <class F>
void while_training(Network<double>& net, const Data& d, F during_fit) {
    std::atomic<int> phase{0};
    FitOptions o;
    o.epochs = 20;
    o.learning_rate = 0.05;
    o.momentum = 0.9;
    o.on_epoch = [&](const EpochRecord& r) {
        if (r.epoch == 1) {
            phase = 1;
            while (phase.load() != 2) std::this_thread::yield();
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
        return true;
    };
    std::thread trainer([&] { net.fit(d.X.data(), d.Y.data(), kRows, o); });
    while (phase.load() != 1) std::this_thread::yield();
    phase = 2;
    during_fit();
    trainer.join();
}

}  // namespace

TEST_CASE("copying a network while another thread trains it waits for the fit") {
    const Data d;
    Network<double> net = make_net();
    const std::vector<double> before = params_of(net);
    std::vector<double> copied;
    std::vector<double> copied_velocity;
    while_training(net, d, [&] {
        const Network<double> copy(net);
        copied = params_of(copy);
        copied_velocity = copy.train_state().velocity;
    });
    CHECK_MSG(copied != before, "the copy holds the weights from before the fit");
    CHECK_MSG(copied == params_of(net), "the copy holds weights from the middle of the fit");
    CHECK(copied_velocity == net.train_state_copy().velocity);
}

TEST_CASE("copy-assigning from a network while another thread trains it waits for the fit") {
    const Data d;
    Network<double> net = make_net();
    Network<double> target({1, 1}, "identity");
    while_training(net, d, [&] { target = net; });
    CHECK_MSG(params_of(target) == params_of(net), "the assigned copy is from the middle of the fit");
    CHECK(target.layer_sizes() == net.layer_sizes());
}

TEST_CASE("assigning to a network while another thread trains it waits for the fit") {
    const Data d;
    Network<double> net = make_net();
    const Network<double> other({4, 3, 2}, "relu", "identity", "squared_error", 7);
    while_training(net, d, [&] { net = other; });
    CHECK(net.layer_sizes() == other.layer_sizes());
    CHECK(params_of(net) == params_of(other));
    CHECK(net.predict(d.X) == other.predict(d.X));
}

TEST_CASE("predict from several threads during a fit sees the weights before or after it") {
    const Data d;
    Network<double> net = make_net();
    const std::vector<double> start = net.predict(d.X);
    std::atomic<bool> done{false};
    std::vector<std::vector<std::vector<double>>> seen(3);
    std::vector<std::thread> readers;
    while_training(net, d, [&] {
        for (auto& s : seen)
            readers.emplace_back([&net, &d, &done, &s] {
                do {
                    s.push_back(net.predict(d.X));
                } while (!done.load() && s.size() < 1000);
            });
    });
    done = true;
    for (auto& r : readers) r.join();
    const std::vector<double> end = net.predict(d.X);
    for (const auto& s : seen)
        for (const auto& out : s) CHECK_MSG(out == start || out == end, "predict saw a fit half-way");
}

TEST_CASE("a fit waits only for the reads in flight, not for reads that start after it") {
    // Three threads predicting large batches back to back always hold a read between them;
    // with reads let in ahead of a waiting writer (glibc's rwlock) the fit never ran.
    const Data d;
    Network<double> net = make_net();
    std::vector<double> big(20000 * 4);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = double(i % 11) / 11.0 - 0.5;
    std::vector<double> out(20000 * 2);
    std::atomic<bool> stop{false};
    std::atomic<long> predicts{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 3; ++t)
        readers.emplace_back([&] {
            std::vector<double> mine(out.size());
            while (!stop.load()) {
                net.predict(big.data(), 20000, mine.data());
                ++predicts;
            }
        });
    while (predicts.load() < 3) std::this_thread::yield();
    FitOptions o;
    o.epochs = 3;
    o.learning_rate = 0.05;
    std::atomic<bool> fitted{false};
    std::thread trainer([&] {
        net.fit(d.X.data(), d.Y.data(), kRows, o);
        fitted = true;
    });
    const auto t0 = std::chrono::steady_clock::now();
    while (!fitted.load() && std::chrono::steady_clock::now() - t0 < std::chrono::seconds(20))
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    const bool in_time = fitted.load();
    stop = true;
    trainer.join();
    for (auto& r : readers) r.join();
    CHECK_MSG(in_time, "the fit waited 20 s behind reads that started after it");
    Network<double> ref = make_net();  // the same fit with nobody reading
    ref.fit(d.X.data(), d.Y.data(), kRows, o);
    CHECK(params_of(net) == params_of(ref));
}

TEST_CASE("forward_backward gives the bits of forward then backward") {
    const Data d;
    const Network<double> net = make_net();
    const std::vector<std::size_t>& sizes = net.layer_sizes();
    auto buffers = [&] {
        std::vector<std::vector<double>> b;
        for (std::size_t l = 1; l < sizes.size(); ++l) b.emplace_back(kRows * sizes[l]);
        return b;
    };
    auto ptrs = [](std::vector<std::vector<double>>& b) {
        std::vector<double*> p;
        for (auto& v : b) p.push_back(v.data());
        return p;
    };
    auto z1 = buffers(), a1 = buffers(), d1 = buffers(), z2 = buffers(), a2 = buffers(), d2 = buffers();
    auto pz1 = ptrs(z1), pa1 = ptrs(a1), pd1 = ptrs(d1), pz2 = ptrs(z2), pa2 = ptrs(a2), pd2 = ptrs(d2);
    std::vector<double> g1(net.num_params()), g2(net.num_params());
    net.forward(d.X.data(), kRows, pz1.data(), pa1.data());
    const double c1 = net.backward(d.X.data(), d.Y.data(), kRows, pz1.data(), pa1.data(), pd1.data(),
                                   g1.data(), nullptr, 1e-3);
    const double c2 = net.forward_backward(d.X.data(), d.Y.data(), kRows, pz2.data(), pa2.data(),
                                           pd2.data(), g2.data(), nullptr, 1e-3);
    CHECK(c1 == c2);
    CHECK(g1 == g2);
    CHECK(a1 == a2);
    CHECK(d1 == d2);
}

TEST_CASE("changing a network from inside its own fit's callbacks throws std::logic_error") {
    const Data d;
    for (const char* optimizer : {"sgd", "adam"}) {
        Network<double> net = make_net();
        const Network<double> other({4, 3, 2}, "relu");
        std::vector<double> grad(net.num_params(), 0.0);
        int thrown = 0, reads = 0, polls = 0, polls_thrown = 0;
        FitOptions o;
        o.optimizer = optimizer;
        o.momentum = 0.9;
        o.epochs = 3;
        o.on_epoch = [&](const EpochRecord&) {
            FitOptions inner;
            inner.optimizer = "adam";
            inner.keep_state = false;  // would replace the optimizer state the fit is using
            inner.epochs = 1;
            auto count = [&](auto&& f) {
                try {
                    f();
                } catch (const std::logic_error& e) {
                    if (!dynamic_cast<const std::invalid_argument*>(&e)) ++thrown;
                }
            };
            count([&] { net.init_params(3); });
            count([&] { net.fit(d.X.data(), d.Y.data(), kRows, inner); });
            count([&] { net.step(grad.data(), inner); });
            count([&] { net = other; });
            // reading is allowed: predict, and a copy
            const Network<double> copy(net);
            reads += copy.predict(d.X) == net.predict(d.X);
            return true;
        };
        o.should_stop = [&] {
            ++polls;
            try {
                net.init_params(4);
            } catch (const std::logic_error&) {
                ++polls_thrown;
            }
            return false;
        };
        const bpnet::History h = net.fit(d.X.data(), d.Y.data(), kRows, o);
        CHECK(h.epochs_run == 3);
        CHECK_MSG(thrown == 3 * 4, std::string(optimizer) + ": " + std::to_string(thrown) +
                                       " of 12 changes from on_epoch threw std::logic_error");
        CHECK(polls > 0 && polls_thrown == polls);
        CHECK(reads == 3);
        CHECK(net.layer_sizes() == make_net().layer_sizes());
        // once the fit has ended, the network can be changed again
        net.init_params(5);
        net = other;
        CHECK(params_of(net) == params_of(other));
    }
}

TEST_MAIN()

// XOR with bpnet: trains a 2-4-1 network (tanh hidden layer, sigmoid output, binary cross
// entropy, Adam) and prints the truth table. Exits 1 unless every prediction is within 0.1
// of its target.
//   xor [--save model.bpnet]     (the saved model can be read by load_model and by Python)
#include <bpnet/bpnet.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

int main(int argc, char** argv) {
    std::string save_path;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--save") == 0 && i + 1 < argc) {
            save_path = argv[++i];
        } else {
            std::fprintf(stderr, "usage: %s [--save model.bpnet]\n", argv[0]);
            return 2;
        }
    }
    try {
        const std::vector<double> X = {0, 0, 0, 1, 1, 0, 1, 1};  // 4 samples, 2 inputs (rows)
        const std::vector<double> y = {0, 1, 1, 0};

        bpnet::Network<double> net({2, 4, 1}, "tanh", "sigmoid", "binary_cross_entropy", /*seed=*/1);
        bpnet::FitOptions options;
        options.optimizer = "adam";
        options.learning_rate = 0.05;
        options.epochs = 2000;
        options.batch_size = 0;  // the whole data set in each step
        const bpnet::History history = net.fit(X.data(), y.data(), 4, options);

        const std::vector<double> pred = net.predict(X);
        std::printf("XOR, 2-4-1 network, %zu epochs, final loss %.3g\n", history.epochs_run,
                    history.loss.empty() ? NAN : history.loss.back());
        std::printf(" x1 x2 | target | output\n");
        bool ok = true;
        for (int i = 0; i < 4; ++i) {
            const bool close = std::fabs(pred[i] - y[i]) < 0.1;
            ok = ok && close;
            std::printf("  %g  %g |   %g    | %.4f%s\n", X[2 * i], X[2 * i + 1], y[i], pred[i],
                        close ? "" : "  <- off by more than 0.1");
        }
        if (!save_path.empty()) {
            net.save(save_path);
            std::printf("saved to %s\n", save_path.c_str());
        }
        std::printf("%s\n", ok ? "ok: every output within 0.1 of its target" : "FAILED");
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xor: error: %s\n", e.what());
        return 1;
    }
}

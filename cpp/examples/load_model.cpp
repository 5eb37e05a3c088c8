// Loads a bpnet model file (saved from C++ or Python; float32 or float64) and predicts.
//   load_model MODEL [x ...]     inputs on the command line, or else from standard input:
//                                whitespace-separated numbers, n_0 of them per sample.
// Prints one line per sample with the n_L outputs, in full precision (%.17g for float64,
// %.9g for float32: reading them back gives the same bits). A summary goes to stderr.
#include <bpnet/bpnet.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

double parse_number(const std::string& s) {
    errno = 0;
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (s.empty() || *end != '\0' || errno == ERANGE)
        throw std::invalid_argument("input '" + s + "' is not a number");
    return v;
}

template <class T>
void predict_and_print(const bpnet::ModelData& model, const std::vector<double>& inputs) {
    const auto net = bpnet::Network<T>::from_model(model);
    const std::size_t n_in = net.n_inputs(), n_out = net.n_outputs();
    if (inputs.empty() || inputs.size() % n_in != 0)
        throw std::invalid_argument("got " + std::to_string(inputs.size()) +
                                    " input values, expected a positive multiple of " +
                                    std::to_string(n_in) + " (layer_sizes[0])");
    const std::vector<T> X(inputs.begin(), inputs.end());
    const std::vector<T> out = net.predict(X);
    const char* fmt = sizeof(T) == 4 ? "%.9g" : "%.17g";
    for (std::size_t i = 0; i < X.size() / n_in; ++i) {
        for (std::size_t j = 0; j < n_out; ++j) {
            if (j) std::printf(" ");
            std::printf(fmt, double(out[i * n_out + j]));
        }
        std::printf("\n");
    }
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s MODEL [x ...]   (or inputs on standard input)\n", argv[0]);
        return 2;
    }
    try {
        const bpnet::ModelData model = bpnet::load_model(argv[1]);
        std::string sizes;
        for (auto s : model.layer_sizes) sizes += (sizes.empty() ? "" : "-") + std::to_string(s);
        std::fprintf(stderr, "%s: %s network %s, loss %s\n", argv[1], bpnet::dtype_name(model.dtype),
                     sizes.c_str(), model.loss.c_str());

        std::vector<double> inputs;
        if (argc > 2) {
            for (int i = 2; i < argc; ++i) inputs.push_back(parse_number(argv[i]));
        } else {
            std::string word;
            while (std::cin >> word) inputs.push_back(parse_number(word));
        }
        if (model.dtype == bpnet::DType::float32)
            predict_and_print<float>(model, inputs);
        else
            predict_and_print<double>(model, inputs);
        return 0;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "load_model: error: %s\n", e.what());
        return 1;
    }
}

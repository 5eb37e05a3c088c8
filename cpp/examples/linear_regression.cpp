// Linear regression two ways: least squares through the normal equations (AᵀA) β = Aᵀy, and
// gradient descent on a bpnet network with no hidden layer, identity output and squared
// error (DESIGN.md §1: that network *is* linear regression). Prints both coefficient vectors
// and exits 1 unless they agree within 1e-6.
#include <bpnet/bpnet.hpp>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <vector>

namespace {

// Deterministic uniform numbers in [-1, 1) (the same on every platform).
struct Lcg {
    std::uint64_t s;
    double next() {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        return double(s >> 11) * (2.0 / 9007199254740992.0) - 1.0;
    }
};

// Solves the symmetric positive definite system M x = r (size k) by Cholesky, M = G Gᵀ.
std::vector<double> solve_spd(std::vector<double> M, std::vector<double> r, std::size_t k) {
    for (std::size_t j = 0; j < k; ++j) {
        for (std::size_t p = 0; p < j; ++p) M[j * k + j] -= M[j * k + p] * M[j * k + p];
        M[j * k + j] = std::sqrt(M[j * k + j]);
        for (std::size_t i = j + 1; i < k; ++i) {
            for (std::size_t p = 0; p < j; ++p) M[i * k + j] -= M[i * k + p] * M[j * k + p];
            M[i * k + j] /= M[j * k + j];
        }
    }
    for (std::size_t i = 0; i < k; ++i) {  // G z = r
        for (std::size_t p = 0; p < i; ++p) r[i] -= M[i * k + p] * r[p];
        r[i] /= M[i * k + i];
    }
    for (std::size_t i = k; i-- > 0;) {  // Gᵀ x = z
        for (std::size_t p = i + 1; p < k; ++p) r[i] -= M[p * k + i] * r[p];
        r[i] /= M[i * k + i];
    }
    return r;
}

}  // namespace

int main() {
    try {
        const std::size_t n = 200, d = 3;
        const double w_true[d] = {2.0, -1.0, 0.5}, b_true = 0.3;
        Lcg rng{42};
        std::vector<double> X(n * d), y(n);
        for (std::size_t i = 0; i < n; ++i) {
            y[i] = b_true + 0.1 * rng.next();  // noise, so the fit is not exact
            for (std::size_t j = 0; j < d; ++j) {
                X[i * d + j] = rng.next();
                y[i] += w_true[j] * X[i * d + j];
            }
        }

        // Least squares: A = [X 1], β = (w, b).
        const std::size_t k = d + 1;
        std::vector<double> AtA(k * k, 0.0), Aty(k, 0.0);
        for (std::size_t i = 0; i < n; ++i) {
            for (std::size_t p = 0; p < k; ++p) {
                const double ap = p < d ? X[i * d + p] : 1.0;
                Aty[p] += ap * y[i];
                for (std::size_t q = 0; q < k; ++q) AtA[p * k + q] += ap * (q < d ? X[i * d + q] : 1.0);
            }
        }
        const std::vector<double> beta = solve_spd(AtA, Aty, k);

        // Gradient descent: a (3)-(1) network, identity output, C = (1/n) Σ (a - y)².
        bpnet::Network<double> net({d, 1}, {bpnet::Activation::identity}, bpnet::Loss::squared_error, 0);
        bpnet::FitOptions options;
        options.optimizer = "sgd";
        options.learning_rate = 0.5;
        options.epochs = 2000;
        options.batch_size = 0;  // full batch: plain gradient descent
        options.shuffle = false;
        net.fit(X.data(), y.data(), n, options);

        std::printf("linear regression, %zu samples, %zu features\n", n, d);
        std::printf("coefficient   least squares   gradient descent   difference\n");
        double worst = 0;
        for (std::size_t p = 0; p < k; ++p) {
            const double gd = p < d ? net.weights(0)[p] : net.biases(0)[0];
            const double diff = std::fabs(gd - beta[p]);
            worst = std::fmax(worst, diff);
            std::printf("%-11s %15.10f %18.10f %12.2e\n", p < d ? ("w" + std::to_string(p + 1)).c_str() : "b",
                        beta[p], gd, diff);
        }
        const bool ok = worst <= 1e-6;
        std::printf("%s: largest difference %.2e (tolerance 1e-6)\n", ok ? "ok" : "FAILED", worst);
        return ok ? 0 : 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "linear_regression: error: %s\n", e.what());
        return 1;
    }
}

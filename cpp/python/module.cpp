// bpnet._core: the pybind11 binding (the only binding code). Thin: unpacks NumPy arrays
// without copying when they are C-contiguous and of the network's dtype, checks shapes so C++
// never reads out of bounds, releases the GIL while C++ computes, and maps exceptions
// (std::invalid_argument -> ValueError, std::bad_alloc -> MemoryError,
// bpnet::FileNotFoundError -> FileNotFoundError).
#include <pybind11/functional.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <map>

#include <atomic>
#include <cmath>
#include <optional>
#include <string_view>
#include <chrono>
#include <string>
#include <vector>

#include <bpnet/bpnet.hpp>

#include "kernels/gemm.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace {

template <class T>
using CArray = py::array_t<T, py::array::c_style | py::array::forcecast>;

template <class T>
const char* dtype_name() {
    return sizeof(T) == 4 ? "float32" : "float64";
}

std::string shape_of(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    if (a.ndim() == 1) s += ",";
    return s + ")";
}

// Checks that arr is (rows, cols) (rows = -1: any); returns the number of rows.
template <class T>
std::size_t check_2d(const CArray<T>& arr, const char* name, py::ssize_t rows, std::size_t cols,
                     const char* cols_from) {
    if (arr.ndim() != 2)
        throw std::invalid_argument(std::string(name) + ": expected a 2-D array, got shape " +
                                    shape_of(arr));
    if (std::size_t(arr.shape(1)) != cols)
        throw std::invalid_argument(std::string(name) + " has " + std::to_string(arr.shape(1)) +
                                    " columns, expected " + std::to_string(cols) + " (" +
                                    cols_from + ")");
    if (rows >= 0 && arr.shape(0) != rows)
        throw std::invalid_argument(std::string(name) + " has " + std::to_string(arr.shape(0)) +
                                    " rows, expected " + std::to_string(rows) +
                                    " (the rows of X)");
    return std::size_t(arr.shape(0));
}

template <class T>
const T* check_weights(const CArray<T>& w, const char* name, std::size_t n) {
    if (w.ndim() != 1 || std::size_t(w.shape(0)) != n)
        throw std::invalid_argument(std::string(name) + ": expected shape (" + std::to_string(n) +
                                    ",), got " + shape_of(w));
    return w.data();
}

// The arrays of one (X, y, sample_weight) call, shapes checked against the network (with the
// GIL held; their values are checked by the core: Network::loss, backward, score).
template <class T>
struct Batch {
    std::size_t n;
    const T *x, *y, *w;
    Batch(const bpnet::Network<T>& net, const CArray<T>& X, const CArray<T>& Y,
          const std::optional<CArray<T>>& W)
        : n(check_2d(X, "X", -1, net.n_inputs(), "layer_sizes[0]")), x(X.data()), y(Y.data()),
          w(nullptr) {
        check_2d(Y, "y", py::ssize_t(n), net.n_outputs(), "layer_sizes[-1]");
        if (W) w = check_weights(*W, "sample_weight", n);
    }
};

// forward and backward with the GIL released, as one read of the network (a fit or step in
// another thread cannot come between them); checks X, the rows, y, the weights and alpha;
// returns C, writes ∂C/∂θ to g.
template <class T>
double forward_backward(const bpnet::Network<T>& net, const Batch<T>& b, double alpha, T* const* z,
                        T* const* a, T* const* d, T* g) {
    py::gil_scoped_release release;
    return net.forward_backward(b.x, b.y, b.n, z, a, d, g, b.w, alpha);
}

template <class T>
py::array_t<T> new_array(std::size_t rows, std::size_t cols) {
    return py::array_t<T>({py::ssize_t(rows), py::ssize_t(cols)});
}

// Layer buffers for forward/backward, allocated as NumPy arrays that C++ writes into.
template <class T>
struct LayerArrays {
    std::vector<py::array_t<T>> arrays;
    std::vector<T*> ptrs;
    LayerArrays(const bpnet::Network<T>& net, std::size_t n) {
        for (std::size_t l = 0; l < net.num_layers(); ++l) {
            arrays.push_back(new_array<T>(n, net.layer_sizes()[l + 1]));
            ptrs.push_back(arrays.back().mutable_data());
        }
    }
    py::list list() const {
        py::list out;
        for (const auto& a : arrays) out.append(a);
        return out;
    }
};

// User metadata is stored under keys prefixed "user." (the core uses unprefixed keys).
bpnet::ModelData with_user_metadata(bpnet::ModelData m, const std::map<std::string, std::string>& user) {
    for (const auto& kv : user) m.metadata.emplace_back("user." + kv.first, kv.second);
    return m;
}

py::tuple network_and_metadata(const bpnet::ModelData& m);

template <class T>
void bind_network(py::module_& m, const char* cls) {
    using Net = bpnet::Network<T>;
    py::class_<Net>(m, cls)
        .def(py::init([](std::vector<std::size_t> sizes, std::vector<std::string> acts,
                         const std::string& loss, std::uint64_t seed) {
                 std::vector<bpnet::Activation> a;
                 for (const auto& s : acts) a.push_back(bpnet::activation_from_name(s));
                 return Net(std::move(sizes), std::move(a), bpnet::loss_from_name(loss), seed);
             }),
             "layer_sizes"_a, "activations"_a, "loss"_a, "seed"_a)
        .def_property_readonly("layer_sizes", &Net::layer_sizes)
        .def_property_readonly("activations",
                               [](const Net& n) {
                                   std::vector<std::string> out;
                                   for (auto a : n.activations()) out.push_back(bpnet::activation_name(a));
                                   return out;
                               })
        .def_property_readonly("loss_name", [](const Net& n) { return bpnet::loss_name(n.loss_kind()); })
        .def_property_readonly("dtype", [](const Net&) { return dtype_name<T>(); })
        .def_property_readonly("num_params", &Net::num_params)
        .def("weight_offset", &Net::weight_offset)
        .def("bias_offset", &Net::bias_offset)
        // Writable 1-D views into the flat buffers; the base object keeps the network alive.
        .def_property_readonly("params",
                               [](py::object self) {
                                   Net& n = self.cast<Net&>();
                                   return py::array_t<T>({py::ssize_t(n.num_params())}, {py::ssize_t(sizeof(T))},
                                                         n.params(), self);
                               })
        .def_property_readonly("grads",
                               [](py::object self) {
                                   Net& n = self.cast<Net&>();
                                   return py::array_t<T>({py::ssize_t(n.num_params())}, {py::ssize_t(sizeof(T))},
                                                         n.grads(), self);
                               })
        // (the GIL released: init_params waits for a fit in another thread, whose callbacks
        // need the GIL)
        .def("init_params", &Net::init_params, "seed"_a, py::call_guard<py::gil_scoped_release>())
        .def("predict",
             [](const Net& net, py::handle X_in, int n_threads) {
                 // An array that is already C-contiguous and of the network's dtype is taken as
                 // it is (a type and flags check) instead of through NumPy's conversion, which
                 // costs more than the product itself for one sample.
                 const CArray<T> X = py::array_t<T, py::array::c_style>::check_(X_in)
                                         ? py::reinterpret_borrow<CArray<T>>(X_in)
                                         : CArray<T>::ensure(X_in);
                 if (!X)  // (ensure clears NumPy's error)
                     throw py::type_error(std::string("X: expected an array convertible to ") +
                                          dtype_name<T>());
                 const std::size_t n = check_2d(X, "X", -1, net.n_inputs(), "layer_sizes[0]");
                 auto out = new_array<T>(n, net.n_outputs());
                 const T* x = X.data();
                 T* o = out.mutable_data();
                 {
                     py::gil_scoped_release release;
                     bpnet::ThreadScope threads(n_threads);
                     net.predict(x, n, o);  // checks X as it goes
                 }
                 return out;
             },
             "X"_a, "n_threads"_a = 0)
        .def("forward",
             [](const Net& net, const CArray<T>& X) {
                 const std::size_t n = check_2d(X, "X", -1, net.n_inputs(), "layer_sizes[0]");
                 LayerArrays<T> z(net, n), a(net, n);
                 const T* x = X.data();
                 {
                     py::gil_scoped_release release;
                     net.forward(x, n, z.ptrs.data(), a.ptrs.data());  // checks X
                 }
                 return py::make_tuple(X, z.list(), a.list());
             },
             "X"_a)
        .def("backward",
             [](const Net& net, const CArray<T>& X, const CArray<T>& Y, std::optional<CArray<T>> w,
                double alpha) {
                 const Batch<T> b(net, X, Y, w);
                 LayerArrays<T> z(net, b.n), a(net, b.n), d(net, b.n);
                 py::array_t<T> grad({py::ssize_t(net.num_params())});
                 const double c = forward_backward(net, b, alpha, z.ptrs.data(), a.ptrs.data(),
                                                   d.ptrs.data(), grad.mutable_data());
                 return py::make_tuple(c, grad, d.list(), z.list(), a.list(), X);
             },
             "X"_a, "y"_a, "sample_weight"_a = py::none(), "alpha"_a = 0.0)
        .def("loss_and_gradient",
             [](const Net& net, const CArray<T>& X, const CArray<T>& Y, std::optional<CArray<T>> w,
                double alpha) {
                 // backward without handing the layers to Python: only C and the flat ∂C/∂θ
                 const Batch<T> b(net, X, Y, w);
                 const std::size_t L = net.num_layers();
                 std::size_t total = 0;
                 for (std::size_t l = 0; l < L; ++l) total += b.n * net.layer_sizes()[l + 1];
                 // Z_l in A_l's buffer (Network::forward allows it): backward needs only A_l
                 std::vector<T> buf(2 * total);
                 std::vector<T*> z(L), a(L), d(L);
                 for (std::size_t l = 0, off = 0; l < L; off += b.n * net.layer_sizes()[l + 1], ++l)
                     z[l] = a[l] = buf.data() + off, d[l] = a[l] + total;
                 py::array_t<T> grad({py::ssize_t(net.num_params())});
                 const double c = forward_backward(net, b, alpha, z.data(), a.data(), d.data(),
                                                   grad.mutable_data());
                 return py::make_tuple(c, grad);
             },
             "X"_a, "y"_a, "sample_weight"_a = py::none(), "alpha"_a = 0.0)
        .def("loss",
             [](const Net& net, const CArray<T>& X, const CArray<T>& Y, std::optional<CArray<T>> w,
                double alpha) {
                 const Batch<T> b(net, X, Y, w);
                 const std::size_t n = b.n;
                 const T* wp = b.w;
                 const T *x = b.x, *y = b.y;
                 py::gil_scoped_release release;
                 return net.loss(x, y, n, wp, alpha);  // checks the batch
             },
             "X"_a, "y"_a, "sample_weight"_a = py::none(), "alpha"_a = 0.0)
        .def("fit",
             [](Net& net, const CArray<T>& X, const CArray<T>& Y, std::optional<CArray<T>> w,
                const bpnet::FitOptions& options, py::object callback,
                std::optional<CArray<T>> X_val, std::optional<CArray<T>> Y_val,
                std::optional<CArray<T>> w_val) {
                 const Batch<T> b(net, X, Y, w);
                 const std::size_t n = b.n;
                 const T* wp = b.w;
                 bpnet::ValidationData<T> val;
                 if (X_val || Y_val) {
                     if (!X_val || !Y_val)
                         throw std::invalid_argument("validation data: expected both X_val and y_val");
                     val.n = check_2d(*X_val, "X_val", -1, net.n_inputs(), "layer_sizes[0]");
                     check_2d(*Y_val, "y_val", py::ssize_t(val.n), net.n_outputs(), "layer_sizes[-1]");
                     val.X = X_val->data(), val.Y = Y_val->data();
                     if (w_val) val.w = check_weights(*w_val, "validation sample_weight", val.n);
                 }
                 bpnet::FitOptions o = options;
                 // A Python error raised in a callback or by a signal (Ctrl-C) stops training
                 // and is re-raised once the GIL is back.
                 std::optional<py::error_already_set> error;
                 if (!callback.is_none()) {
                     o.on_epoch = [&](const bpnet::EpochRecord& r) {
                         py::gil_scoped_acquire acquire;
                         try {
                             py::dict rec("epoch"_a = r.epoch, "loss"_a = r.loss, "seconds"_a = r.seconds,
                                          "learning_rate"_a = r.learning_rate);
                             if (r.has_validation) {
                                 rec["val_loss"] = r.val_loss;
                                 rec["val_score"] = r.val_score;
                             }
                             py::object res = callback(rec);
                             return !(res.is(py::bool_(false)));
                         } catch (py::error_already_set& e) {
                             error.emplace(std::move(e));
                             return false;
                         }
                     };
                 }
                 // Signals are checked at most every ~50 ms (counting batches first, so the
                 // per-batch cost is an increment and a compare).
                 std::size_t counter = 0;
                 auto last = std::chrono::steady_clock::now();
                 o.should_stop = [&]() {
                     if (++counter % 16 != 0) return false;
                     const auto now = std::chrono::steady_clock::now();
                     if (now - last < std::chrono::milliseconds(50)) return false;
                     last = now;
                     py::gil_scoped_acquire acquire;
                     if (PyErr_CheckSignals() != 0) {
                         error.emplace();
                         return true;
                     }
                     return false;
                 };
                 const T *x = b.x, *y = b.y;
                 bpnet::History h;
                 {
                     py::gil_scoped_release release;
                     h = net.fit(x, y, n, o, wp, val.n ? &val : nullptr);
                 }
                 py::dict history("loss"_a = h.loss, "seconds"_a = h.seconds, "val_loss"_a = h.val_loss,
                                  "val_score"_a = h.val_score, "learning_rate"_a = h.learning_rate,
                                  "best_loss"_a = h.best_loss, "best_val_score"_a = h.best_val_score,
                                  "best_epoch"_a = h.best_epoch, "restored_best"_a = h.restored_best,
                                  "converged"_a = h.converged, "epochs_run"_a = h.epochs_run,
                                  "no_improvement_count"_a = h.no_improvement_count,
                                  "diverged"_a = h.diverged, "interrupted"_a = h.interrupted,
                                  "stopped_by_callback"_a = h.stopped_by_callback, "message"_a = h.message);
                 if (error) {
                     // The exception carries what the finished epochs did (Network.fit makes it
                     // a History: the estimators record an interrupted fit's epochs from it).
                     try {
                         error->value().attr("_bpnet_history") = history;
                     } catch (py::error_already_set&) {  // an exception without attributes
                     }
                     throw std::move(*error);
                 }
                 return history;
             },
             "X"_a, "y"_a, "sample_weight"_a, "options"_a, "callback"_a, "X_val"_a = py::none(),
             "y_val"_a = py::none(), "sample_weight_val"_a = py::none())
        .def("step",
             [](Net& net, const CArray<T>& grad, const bpnet::FitOptions& options) {
                 if (grad.ndim() != 1 || std::size_t(grad.shape(0)) != net.num_params())
                     throw std::invalid_argument("gradient: expected shape (" + std::to_string(net.num_params()) +
                                                 ",), got " + shape_of(grad));
                 const T* g = grad.data();
                 py::gil_scoped_release release;
                 net.step(g, options);
             },
             "gradient"_a, "options"_a)
        .def("score",
             [](const Net& net, const CArray<T>& X, const CArray<T>& Y, const std::string& metric,
                std::optional<CArray<T>> w) {
                 const Batch<T> b(net, X, Y, w);
                 const std::size_t n = b.n;
                 const T* wp = b.w;
                 const T *x = b.x, *y = b.y;
                 py::gil_scoped_release release;
                 return net.score(x, y, n, metric, wp);  // checks the batch
             },
             "X"_a, "y"_a, "metric"_a, "sample_weight"_a = py::none())
        .def_property_readonly("train_state",
                               [](const Net& net) {
                                   bpnet::TrainState<T> s;
                                   {
                                       py::gil_scoped_release release;
                                       s = net.train_state_copy();
                                   }
                                   return py::dict("optimizer"_a = s.optimizer, "t"_a = s.t,
                                                   "learning_rate"_a = s.learning_rate,
                                                   "samples_seen"_a = s.samples_seen,
                                                   "velocity"_a = s.velocity, "m"_a = s.m, "v"_a = s.v);
                               })
        // TrainState::learning_rate: the sgd rate the next fit that continues the state starts
        // from (the estimators' "adaptive" schedule across partial_fit calls). Written through
        // the unguarded train_state(): call it when no other thread trains this network.
        .def("set_schedule_learning_rate",
             [](Net& net, double rate) {
                 if (!(rate > 0) || !std::isfinite(rate))
                     throw std::invalid_argument("learning_rate: expected a finite value > 0, got " +
                                                 std::to_string(rate));
                 net.train_state().learning_rate = rate;
             },
             "learning_rate"_a)
        // Replaces this network's optimizer state with a copy of other's (bpnet.data.fit_blocks
        // keeps the state of an epoch's start in a spare network and puts it back after a
        // divergence). other is read through the guarded train_state_copy; this network is
        // written through the unguarded train_state(): call it when no other thread trains it.
        .def("_copy_train_state_from",
             [](Net& self, const Net& other) {
                 if (other.num_params() != self.num_params())
                     throw std::invalid_argument("_copy_train_state_from: other has " +
                                                 std::to_string(other.num_params()) +
                                                 " parameters, expected " +
                                                 std::to_string(self.num_params()));
                 py::gil_scoped_release release;  // train_state_copy waits for a fit of other
                 bpnet::TrainState<T> s = other.train_state_copy();
                 self.train_state() = std::move(s);
             },
             "other"_a)
        .def("to_bytes",
             [](const Net& net, const std::map<std::string, std::string>& metadata) {
                 std::string data;
                 {
                     py::gil_scoped_release release;  // to_model waits for a fit in another thread
                     data = bpnet::encode_model(with_user_metadata(net.to_model(), metadata));
                 }
                 return py::bytes(data);
             },
             "metadata"_a = std::map<std::string, std::string>{})
        .def("save",
             [](const Net& net, const std::string& path, const std::map<std::string, std::string>& metadata) {
                 py::gil_scoped_release release;
                 bpnet::save_model(path, with_user_metadata(net.to_model(), metadata));
             },
             "path"_a, "metadata"_a = std::map<std::string, std::string>{});
}

// Builds a network of the file's dtype from a decoded model, with its user metadata.
py::tuple network_and_metadata(const bpnet::ModelData& m) {
    py::dict user;
    for (const auto& kv : m.metadata)
        if (kv.first.rfind("user.", 0) == 0) user[py::str(kv.first.substr(5))] = py::str(kv.second);
    if (m.dtype == bpnet::DType::float32)
        return py::make_tuple(py::cast(bpnet::Network<float>::from_model(m)), user);
    return py::make_tuple(py::cast(bpnet::Network<double>::from_model(m)), user);
}

// Checks dtype, 2-D shape, unit inner stride and agreeing sizes; then calls kernels::gemm.
template <class T>
void gemm_call(bool ta, bool tb, py::array A, py::array B, double alpha, double beta, py::array C) {
    auto view = [](py::array& a, const char* name, bool writable) {
        if (!a.dtype().equal(py::dtype::of<T>()))
            throw std::invalid_argument(std::string("_gemm: ") + name + " has dtype " +
                                        std::string(py::str(a.dtype())) + ", expected " + dtype_name<T>());
        if (a.ndim() != 2 || a.strides(1) != py::ssize_t(sizeof(T)) || a.strides(0) % py::ssize_t(sizeof(T)) != 0 ||
            a.strides(0) < a.shape(1) * py::ssize_t(sizeof(T)))
            throw std::invalid_argument(std::string("_gemm: ") + name +
                                        " must be 2-D with unit stride along rows, got shape " + shape_of(a));
        if (writable && !a.writeable()) throw std::invalid_argument("_gemm: C is read-only");
        return std::size_t(a.strides(0) / py::ssize_t(sizeof(T)));
    };
    const std::size_t lda = view(A, "A", false), ldb = view(B, "B", false), ldc = view(C, "C", true);
    const std::size_t m = ta ? A.shape(1) : A.shape(0), k = ta ? A.shape(0) : A.shape(1);
    const std::size_t kb = tb ? B.shape(1) : B.shape(0), n = tb ? B.shape(0) : B.shape(1);
    if (kb != k || std::size_t(C.shape(0)) != m || std::size_t(C.shape(1)) != n)
        throw std::invalid_argument("_gemm: shapes do not agree: op(A) is (" + std::to_string(m) + ", " +
                                    std::to_string(k) + "), op(B) is (" + std::to_string(kb) + ", " +
                                    std::to_string(n) + "), C is " + shape_of(C));
    const T* a = static_cast<const T*>(A.data());
    const T* b = static_cast<const T*>(B.data());
    T* c = static_cast<T*>(C.mutable_data());
    py::gil_scoped_release release;
    using bpnet::kernels::Trans;
    bpnet::kernels::gemm<T>(ta ? Trans::T : Trans::N, tb ? Trans::T : Trans::N, m, n, k, T(alpha), a, lda, b,
                            ldb, T(beta), c, ldc);
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "bpnet's C++ core (see the bpnet package for the documented API)";
    py::class_<bpnet::FitOptions>(m, "FitOptions")
        .def(py::init<>())
        .def_readwrite("optimizer", &bpnet::FitOptions::optimizer)
        .def_readwrite("learning_rate", &bpnet::FitOptions::learning_rate)
        .def_readwrite("epochs", &bpnet::FitOptions::epochs)
        .def_readwrite("batch_size", &bpnet::FitOptions::batch_size)
        .def_readwrite("shuffle", &bpnet::FitOptions::shuffle)
        .def_readwrite("seed", &bpnet::FitOptions::seed)
        .def_readwrite("alpha", &bpnet::FitOptions::alpha)
        .def_readwrite("momentum", &bpnet::FitOptions::momentum)
        .def_readwrite("nesterovs_momentum", &bpnet::FitOptions::nesterovs_momentum)
        .def_readwrite("beta_1", &bpnet::FitOptions::beta_1)
        .def_readwrite("beta_2", &bpnet::FitOptions::beta_2)
        .def_readwrite("epsilon", &bpnet::FitOptions::epsilon)
        .def_readwrite("learning_rate_schedule", &bpnet::FitOptions::learning_rate_schedule)
        .def_readwrite("power_t", &bpnet::FitOptions::power_t)
        .def_readwrite("stop_on_plateau", &bpnet::FitOptions::stop_on_plateau)
        .def_readwrite("tol", &bpnet::FitOptions::tol)
        .def_readwrite("n_iter_no_change", &bpnet::FitOptions::n_iter_no_change)
        .def_readwrite("early_stopping", &bpnet::FitOptions::early_stopping)
        .def_readwrite("validation_metric", &bpnet::FitOptions::validation_metric)
        .def_readwrite("start_best_loss", &bpnet::FitOptions::start_best_loss)
        .def_readwrite("start_best_val_score", &bpnet::FitOptions::start_best_val_score)
        .def_readwrite("start_no_improvement_count", &bpnet::FitOptions::start_no_improvement_count)
        .def_readwrite("keep_state", &bpnet::FitOptions::keep_state)
        .def_readwrite("keep_learning_rate", &bpnet::FitOptions::keep_learning_rate)
        .def_readwrite("epoch_loss_by_rows", &bpnet::FitOptions::epoch_loss_by_rows)
        .def_readwrite("check_input", &bpnet::FitOptions::check_input)
        .def_readwrite("n_threads", &bpnet::FitOptions::n_threads);
    m.attr("__version__") = BPNET_VERSION;
    py::register_exception<bpnet::FileError>(m, "FileError", PyExc_OSError);
    py::register_exception<bpnet::FileNotFoundError>(m, "FileNotFoundError", PyExc_FileNotFoundError);
    py::register_exception<bpnet::ModelFormatError>(m, "ModelFormatError", PyExc_ValueError);

    bind_network<float>(m, "Network32");
    bind_network<double>(m, "Network64");

    m.def("from_bytes", [](py::bytes data) {
        std::string_view s = data;
        return network_and_metadata(bpnet::decode_model(s.data(), s.size()));
    });
    m.def("load", [](const std::string& path) {
        bpnet::ModelData model;
        {
            py::gil_scoped_release release;
            model = bpnet::load_model(path);
        }
        return network_and_metadata(model);
    });
    // The raw kernel, for benchmarks and tests: C = alpha op(A) op(B) + beta C, in place.
    m.def("_gemm", [](bool ta, bool tb, py::array A, py::array B, double alpha, double beta, py::array C) {
        if (A.dtype().equal(py::dtype::of<float>())) gemm_call<float>(ta, tb, A, B, alpha, beta, C);
        else gemm_call<double>(ta, tb, A, B, alpha, beta, C);
    }, "ta"_a, "tb"_a, "A"_a, "B"_a, "alpha"_a, "beta"_a, "C"_a);
    m.def("set_num_threads", &bpnet::set_num_threads, "n"_a);
    m.def("get_num_threads", &bpnet::num_threads);
    m.def("reset_num_threads", &bpnet::reset_num_threads);
    m.def("_get_thread_local_threads", &bpnet::thread_local_num_threads);
    m.def("_set_thread_local_threads", &bpnet::set_thread_local_num_threads, "n"_a);
    m.def("openmp_enabled", &bpnet::openmp_enabled);
    m.def("isa", &bpnet::kernels::isa_name);
}

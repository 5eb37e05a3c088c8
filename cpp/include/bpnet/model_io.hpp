// The bpnet model file: one versioned, checksummed binary format shared by C++ and Python
// (specification: docs/model-format.md).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace bpnet {

// A file that is not a valid bpnet model (wrong magic, version, sizes, checksum, ...).
class ModelFormatError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// The path does not exist.
class FileNotFoundError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

enum class DType : std::uint8_t { float32 = 1, float64 = 2 };

// Everything a model file holds. Values are held as double in memory; a float32 model
// converts them to float on disk (float -> double -> float is exact, so nothing is lost).
struct ModelData {
    DType dtype = DType::float64;
    std::vector<std::uint64_t> layer_sizes;   // n_0 .. n_L
    std::vector<std::string> activations;     // L names
    std::string loss;                         // loss name
    std::vector<double> params;               // the flat parameter buffer
    // Optional named arrays in the model's dtype (optimizer state: "velocity", "adam_m", ...).
    std::vector<std::pair<std::string, std::vector<double>>> arrays;
    // Optional UTF-8 key/value metadata (training settings, standardisation, estimator info).
    std::vector<std::pair<std::string, std::string>> metadata;
};

// Encodes / decodes the whole file image. decode_model checks magic, version, every size
// against the buffer length and the checksum before allocating; throws ModelFormatError.
std::string encode_model(const ModelData& model);
ModelData decode_model(const void* data, std::size_t size);

// Atomic save: written to a temporary file in the same folder, flushed, then renamed.
void save_model(const std::string& path, const ModelData& model);
// Throws FileNotFoundError when the path does not exist, ModelFormatError when invalid.
ModelData load_model(const std::string& path);

}  // namespace bpnet

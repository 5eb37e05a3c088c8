// The bpnet model file: one versioned, checksummed binary format shared by C++ and Python
// (specification: docs/model-format.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "bpnet/export.hpp"

namespace bpnet {

// A file that is not a valid bpnet model (wrong magic, version, sizes, checksum, ...).
class BPNET_API ModelFormatError : public std::invalid_argument {
public:
    using std::invalid_argument::invalid_argument;
};

// The operating system refused a file operation (cannot create, read, rename; a directory
// where a file was expected). Python sees OSError.
class BPNET_API FileError : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// The path does not exist.
class BPNET_API FileNotFoundError : public FileError {
public:
    using FileError::FileError;
};

enum class DType : std::uint8_t { float32 = 1, float64 = 2 };

// The format version encode_model writes; decode_model reads this version only.
inline constexpr std::uint32_t model_format_version = 1;

// Limits decode_model enforces (encode_model refuses to write past them). Every count is
// also checked against the bytes left in the file before anything is allocated.
namespace model_limits {
inline constexpr std::uint64_t max_layers = 4096;            // L (entries of layer_sizes - 1)
inline constexpr std::uint64_t max_layer_size = 1ull << 32;  // each n_l
inline constexpr std::uint32_t max_name_bytes = 255;         // activation, loss, array name, key
inline constexpr std::uint32_t max_value_bytes = 1u << 24;   // one metadata value (16 MiB)
inline constexpr std::uint32_t max_arrays = 256;             // named arrays
inline constexpr std::uint32_t max_metadata = 65536;         // metadata entries
}  // namespace model_limits

// Size in bytes of one parameter on disk (4 or 8); throws ModelFormatError for other values.
BPNET_API std::size_t dtype_size(DType dtype);
// "float32" / "float64".
BPNET_API const char* dtype_name(DType dtype);

// CRC-32 (IEEE 802.3, the one zlib.crc32 computes) of size bytes, continuing from crc.
// The model file's checksum; exposed so tests and tools can build or repair files.
BPNET_API std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc = 0);

// Everything a model file holds. Values are held as double in memory; a float32 model
// converts them to float on disk (float -> double -> float is exact, so nothing is lost).
struct BPNET_API ModelData {
    DType dtype = DType::float64;
    std::vector<std::uint64_t> layer_sizes;   // n_0 .. n_L
    std::vector<std::string> activations;     // L names
    std::string loss;                         // loss name
    std::vector<double> params;               // the flat parameter buffer
    // Optional named arrays (optimizer state: "velocity", "adam_m", ...). Stored as float64
    // whatever the model's dtype, because optimizer state is kept in double.
    std::vector<std::pair<std::string, std::vector<double>>> arrays;
    // Optional UTF-8 key/value metadata (training settings, standardisation, estimator info).
    std::vector<std::pair<std::string, std::string>> metadata;
};

// Encodes / decodes the whole file image. decode_model checks magic, version, every size
// against the buffer length and the checksum before allocating; throws ModelFormatError.
BPNET_API std::string encode_model(const ModelData& model);
BPNET_API ModelData decode_model(const void* data, std::size_t size);

// Atomic save: written to a temporary file in the same folder, flushed, then renamed.
BPNET_API void save_model(const std::string& path, const ModelData& model);
// Throws FileNotFoundError when the path does not exist, ModelFormatError when invalid.
BPNET_API ModelData load_model(const std::string& path);

}  // namespace bpnet

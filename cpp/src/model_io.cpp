// The bpnet model file (specification: docs/model-format.md). encode_model / decode_model
// turn a ModelData into the byte image and back; decode checks every field, and every count
// against the bytes that are left, before it allocates anything. save_model writes atomically
// (temporary file in the same folder, flush, fsync, rename); load_model reads a regular file.
//
// Layout (every integer little-endian, whatever the host; floats as their IEEE-754 bits):
//   header   magic[8] version:u32 dtype:u8 reserved[3] file_size:u64         (24 bytes)
//   body     layer_sizes, activations, loss, params (in the model's dtype),
//            named arrays (always float64: optimizer state is kept in double), metadata
//   trailer  crc32:u32 of every byte before it                              (4 bytes)
#include "bpnet/model_io.hpp"

#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

#include <sys/stat.h>
#ifdef _WIN32
#include <io.h>
#include <process.h>
#include <windows.h>
#ifndef S_ISDIR
#define S_ISDIR(m) (((m) & _S_IFMT) == _S_IFDIR)
#endif
#ifndef S_ISREG
#define S_ISREG(m) (((m) & _S_IFMT) == _S_IFREG)
#endif
#else
#include <fcntl.h>
#include <unistd.h>
#endif

namespace bpnet {

namespace {

constexpr unsigned char kMagic[8] = {0x89, 'B', 'P', 'N', 'E', 'T', '\r', '\n'};
constexpr std::size_t kHeaderBytes = 24;  // magic, version, dtype, reserved, file_size
constexpr std::size_t kTrailerBytes = 4;  // crc32

[[noreturn]] void fail(const std::string& what) {
    throw ModelFormatError("bpnet model file: " + what);
}

std::string hex_bytes(const unsigned char* p, std::size_t n) {
    static const char digits[] = "0123456789ABCDEF";
    std::string s;
    for (std::size_t i = 0; i < n; ++i) {
        if (i) s += ' ';
        s += digits[p[i] >> 4];
        s += digits[p[i] & 15];
    }
    return s;
}

std::string quoted(const std::string& s) { return "'" + s + "'"; }

bool mul_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t* r) {
    if (a != 0 && b > std::numeric_limits<std::uint64_t>::max() / a) return true;
    *r = a * b;
    return false;
}
bool add_overflows(std::uint64_t a, std::uint64_t b, std::uint64_t* r) {
    if (b > std::numeric_limits<std::uint64_t>::max() - a) return true;
    *r = a + b;
    return false;
}

// Number of parameters Σ n_l (n_{l-1} + 1) of these layer sizes; fails on overflow.
std::uint64_t expected_params(const std::vector<std::uint64_t>& sizes) {
    std::uint64_t total = 0;
    for (std::size_t l = 1; l < sizes.size(); ++l) {
        std::uint64_t fan_in = 0, layer = 0;
        if (add_overflows(sizes[l - 1], 1, &fan_in) || mul_overflows(sizes[l], fan_in, &layer) ||
            add_overflows(total, layer, &total))
            fail("layer_sizes: the parameter count overflows 64 bits");
    }
    return total;
}

// Names (activations, loss, array names, metadata keys): 1..255 bytes of printable ASCII.
void check_name(const std::string& s, const std::string& field) {
    if (s.empty()) fail(field + ": empty name");
    if (s.size() > model_limits::max_name_bytes)
        fail(field + ": name of " + std::to_string(s.size()) + " bytes, at most " +
             std::to_string(model_limits::max_name_bytes) + " allowed");
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c > 0x7E)
            fail(field + ": byte " + std::to_string(i) + " of the name is 0x" + hex_bytes(&c, 1) +
                 ", expected printable ASCII");
    }
}

// What is wrong with s as UTF-8 (overlong forms, surrogates, code points > U+10FFFF, cut
// sequences), or "" when it is well formed.
std::string utf8_problem(const std::string& s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    for (std::size_t i = 0; i < n;) {
        const unsigned char c = p[i];
        std::size_t len = 0;
        std::uint32_t cp = 0, min = 0;
        if (c < 0x80) { ++i; continue; }
        if ((c & 0xE0) == 0xC0) { len = 2; cp = c & 0x1F; min = 0x80; }
        else if ((c & 0xF0) == 0xE0) { len = 3; cp = c & 0x0F; min = 0x800; }
        else if ((c & 0xF8) == 0xF0) { len = 4; cp = c & 0x07; min = 0x10000; }
        else return "invalid UTF-8 lead byte 0x" + hex_bytes(&c, 1) + " at byte " + std::to_string(i);
        if (len > n - i) return "UTF-8 sequence cut short at byte " + std::to_string(i);
        for (std::size_t k = 1; k < len; ++k) {
            if ((p[i + k] & 0xC0) != 0x80)
                return "invalid UTF-8 continuation byte at byte " + std::to_string(i + k);
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return "invalid UTF-8 code point at byte " + std::to_string(i);
        i += len;
    }
    return "";
}

// Metadata values: well-formed UTF-8.
void check_utf8(const std::string& s, const std::string& field) {
    const std::string problem = utf8_problem(s);
    if (!problem.empty()) fail(field + ": " + problem);
}

// s quoted for a message: at most 24 bytes (then "..."), control characters as \xNN, and
// every non-ASCII byte as \xNN too unless s is well-formed UTF-8 (then cut between characters).
std::string shown(const std::string& s) {
    constexpr std::size_t kMax = 24;
    const bool utf8 = utf8_problem(s).empty();
    std::size_t n = s.size() <= kMax ? s.size() : kMax;
    if (utf8)
        while (n < s.size() && n > 0 && (static_cast<unsigned char>(s[n]) & 0xC0) == 0x80) --n;
    std::string out = "'";
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7F || (c >= 0x80 && !utf8)) out += "\\x" + hex_bytes(&c, 1);
        else out += static_cast<char>(c);
    }
    return out + (n < s.size() ? "...'" : "'");
}

// Python's Network.metadata is stored under "user." + key (cpp/python/module.cpp). A message
// about such an entry names the key as the user gave it, counts its bytes without the prefix
// and gives the limit left for it (255 - 5 = 250 bytes), not the entry's place in the file.
constexpr char kUserPrefix[] = "user.";
constexpr std::size_t kUserPrefixBytes = sizeof kUserPrefix - 1;

bool is_user_key(const std::string& key) { return key.compare(0, kUserPrefixBytes, kUserPrefix) == 0; }

// "metadata key 'k'" for user metadata; "metadata[i] ('key')" for the core's entries.
std::string metadata_entry(std::size_t i, const std::string& key) {
    if (is_user_key(key)) return "metadata key " + shown(key.substr(kUserPrefixBytes));
    return "metadata[" + std::to_string(i) + "] (" + quoted(key) + ")";
}

// Metadata keys: 1..255 bytes of UTF-8 without control characters (Python's str keys).
void check_key(const std::string& s, std::size_t i) {
    if (is_user_key(s)) {
        const std::string user = s.substr(kUserPrefixBytes), what = metadata_entry(i, s);
        if (s.size() > model_limits::max_name_bytes)
            fail(what + " is " + std::to_string(user.size()) + " bytes, at most " +
                 std::to_string(model_limits::max_name_bytes - kUserPrefixBytes) + " allowed");
        for (std::size_t k = 0; k < user.size(); ++k) {
            const auto c = static_cast<unsigned char>(user[k]);
            if (c < 0x20 || c == 0x7F)
                fail(what + ": byte " + std::to_string(k) + " is the control character 0x" + hex_bytes(&c, 1));
        }
        check_utf8(user, what);
        return;
    }
    const std::string field = "metadata[" + std::to_string(i) + "].key";
    if (s.empty()) fail(field + ": empty key");
    if (s.size() > model_limits::max_name_bytes)
        fail(field + ": key of " + std::to_string(s.size()) + " bytes, at most " +
             std::to_string(model_limits::max_name_bytes) + " allowed");
    for (std::size_t k = 0; k < s.size(); ++k) {
        const auto c = static_cast<unsigned char>(s[k]);
        if (c < 0x20 || c == 0x7F)
            fail(field + ": byte " + std::to_string(k) + " of the key is the control character 0x" +
                 hex_bytes(&c, 1));
    }
    check_utf8(s, field);
}

// The optimizer state Network<T>::to_model writes (docs/model-format.md §3, conventions).
// Step counters are plain decimal digits: no sign or space, so "-1" cannot wrap around to
// 2^64 - 1 as strtoull would make it, and at most 2^53, where a double stops counting by one.
constexpr std::uint64_t kMaxStepCount = 1ull << 53;

void check_step_count(const std::string& value, const std::string& what) {
    std::uint64_t v = 0;
    bool ok = !value.empty();
    for (std::size_t k = 0; ok && k < value.size(); ++k) {
        ok = value[k] >= '0' && value[k] <= '9';
        if (ok) v = v * 10 + std::uint64_t(value[k] - '0');
        ok = ok && v <= kMaxStepCount;
    }
    if (!ok)
        fail(what + ": " + shown(value) + ", expected a step count: decimal digits, 0.." +
             std::to_string(kMaxStepCount));
}

// Adam's second moments are running averages of squared gradients: never negative.
void check_second_moments(const std::vector<double>& v, const std::string& what) {
    for (std::size_t k = 0; k < v.size(); ++k)
        if (v[k] < 0) {
            char buf[40];
            std::snprintf(buf, sizeof buf, "%.17g", v[k]);
            fail(what + "[" + std::to_string(k) + "]: " + buf +
                 ", expected a value >= 0 (Adam's second moments are averages of squares)");
        }
}

// The rules every model obeys, on disk or about to be written.
void check_model(const ModelData& m) {
    dtype_size(m.dtype);
    const auto& sizes = m.layer_sizes;
    if (sizes.size() < 2 || sizes.size() - 1 > model_limits::max_layers)
        fail("layer_sizes: " + std::to_string(sizes.size()) + " entries, expected 2.." +
             std::to_string(model_limits::max_layers + 1));
    for (std::size_t l = 0; l < sizes.size(); ++l)
        if (sizes[l] < 1 || sizes[l] > model_limits::max_layer_size)
            fail("layer_sizes[" + std::to_string(l) + "]: " + std::to_string(sizes[l]) +
                 ", expected 1.." + std::to_string(model_limits::max_layer_size));
    if (m.activations.size() != sizes.size() - 1)
        fail("activations: " + std::to_string(m.activations.size()) + " names, expected " +
             std::to_string(sizes.size() - 1) + " (one per layer)");
    for (std::size_t l = 0; l < m.activations.size(); ++l)
        check_name(m.activations[l], "activations[" + std::to_string(l) + "]");
    check_name(m.loss, "loss");
    const std::uint64_t n_params = expected_params(sizes);
    if (m.params.size() != n_params)
        fail("params: " + std::to_string(m.params.size()) + " values, expected " +
             std::to_string(n_params) + " from layer_sizes");
    if (m.arrays.size() > model_limits::max_arrays)
        fail("arrays: " + std::to_string(m.arrays.size()) + " arrays, at most " +
             std::to_string(model_limits::max_arrays) + " allowed");
    std::set<std::string> seen;
    for (std::size_t i = 0; i < m.arrays.size(); ++i) {
        const std::string field = "arrays[" + std::to_string(i) + "]";
        check_name(m.arrays[i].first, field + ".name");
        if (!seen.insert(m.arrays[i].first).second)
            fail(field + ": duplicate name " + quoted(m.arrays[i].first));
        if (m.arrays[i].first == "adam_v")
            check_second_moments(m.arrays[i].second, field + " (" + quoted(m.arrays[i].first) + ")");
    }
    if (m.metadata.size() > model_limits::max_metadata)
        fail("metadata: " + std::to_string(m.metadata.size()) + " entries, at most " +
             std::to_string(model_limits::max_metadata) + " allowed");
    seen.clear();
    for (std::size_t i = 0; i < m.metadata.size(); ++i) {
        const auto& kv = m.metadata[i];
        check_key(kv.first, i);
        const std::string what = metadata_entry(i, kv.first);
        if (!seen.insert(kv.first).second)
            fail("metadata[" + std::to_string(i) + "]: duplicate key " + quoted(kv.first));
        if (kv.second.size() > model_limits::max_value_bytes)
            fail(what + ": value of " + std::to_string(kv.second.size()) + " bytes, at most " +
                 std::to_string(model_limits::max_value_bytes) + " allowed");
        check_utf8(kv.second, what);
        if (kv.first == "adam_t" || kv.first == "samples_seen") check_step_count(kv.second, what);
    }
}

// Little-endian byte writer.
class Writer {
public:
    std::string out;
    void u8(std::uint8_t v) { out += static_cast<char>(v); }
    void u32(std::uint32_t v) {
        for (int k = 0; k < 4; ++k) u8(static_cast<std::uint8_t>(v >> (8 * k)));
    }
    void u64(std::uint64_t v) {
        for (int k = 0; k < 8; ++k) u8(static_cast<std::uint8_t>(v >> (8 * k)));
    }
    void str(const std::string& s) {
        u32(static_cast<std::uint32_t>(s.size()));  // sizes were checked by check_model
        out += s;
    }
    void values(const std::vector<double>& v, DType dtype, const std::string& field) {
        for (std::size_t i = 0; i < v.size(); ++i) {
            const double x = v[i];
            if (dtype == DType::float64) {
                std::uint64_t bits;
                std::memcpy(&bits, &x, 8);
                u64(bits);
                continue;
            }
            // float32: the value must be a float already (float -> double -> float is exact).
            const bool fits = std::isnan(x) || std::isinf(x) ||
                              (std::fabs(x) <= std::numeric_limits<float>::max() &&
                               static_cast<double>(static_cast<float>(x)) == x);
            if (!fits)
                throw ModelFormatError("encode_model: " + field + "[" + std::to_string(i) +
                                       "] = " + std::to_string(x) +
                                       " is not exactly representable in a float32 model");
            const float f = static_cast<float>(x);
            std::uint32_t bits;
            std::memcpy(&bits, &f, 4);
            u32(bits);
        }
    }
};

// Bounded little-endian reader over [pos, end): every read checks the bytes left first.
class Reader {
public:
    Reader(const unsigned char* p, std::size_t pos, std::size_t end) : p_(p), pos_(pos), end_(end) {}
    std::size_t pos() const { return pos_; }
    std::size_t left() const { return end_ - pos_; }

    void need(std::uint64_t bytes, const std::string& field) const {
        if (bytes > left())
            fail(field + ": needs " + std::to_string(bytes) + " bytes at offset " +
                 std::to_string(pos_) + ", only " + std::to_string(left()) + " left");
    }
    std::uint8_t u8(const std::string& field) {
        need(1, field);
        return p_[pos_++];
    }
    std::uint32_t u32(const std::string& field) {
        need(4, field);
        std::uint32_t v = 0;
        for (int k = 0; k < 4; ++k) v |= static_cast<std::uint32_t>(p_[pos_ + k]) << (8 * k);
        pos_ += 4;
        return v;
    }
    std::uint64_t u64(const std::string& field) {
        need(8, field);
        std::uint64_t v = 0;
        for (int k = 0; k < 8; ++k) v |= static_cast<std::uint64_t>(p_[pos_ + k]) << (8 * k);
        pos_ += 8;
        return v;
    }
    std::string str(const std::string& field, std::uint32_t max_bytes) {
        const std::uint32_t n = u32(field + " length");
        if (n > max_bytes)
            fail(field + ": length " + std::to_string(n) + " bytes, at most " +
                 std::to_string(max_bytes) + " allowed");
        need(n, field);
        std::string s(reinterpret_cast<const char*>(p_ + pos_), n);
        pos_ += n;
        return s;
    }
    // count values of dtype; count is checked against the bytes left before allocating.
    std::vector<double> values(std::uint64_t count, DType dtype, const std::string& field) {
        const std::size_t esize = dtype_size(dtype);
        if (count > left() / esize)
            fail(field + ": " + std::to_string(count) + " " + dtype_name(dtype) + " values need " +
                 std::to_string(count) + " x " + std::to_string(esize) + " bytes at offset " +
                 std::to_string(pos_) + ", only " + std::to_string(left()) + " left");
        std::vector<double> v(static_cast<std::size_t>(count));
        for (auto& x : v) {
            if (dtype == DType::float64) {
                const std::uint64_t bits = u64(field);
                std::memcpy(&x, &bits, 8);
            } else {
                const std::uint32_t bits = u32(field);
                float f;
                std::memcpy(&f, &bits, 4);
                x = f;
            }
        }
        return v;
    }

private:
    const unsigned char* p_;
    std::size_t pos_, end_;
};

constexpr std::array<std::uint32_t, 256> make_crc_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        t[i] = c;
    }
    return t;
}
constexpr std::array<std::uint32_t, 256> kCrcTable = make_crc_table();

std::string errno_text(int err) { return std::strerror(err); }

}  // namespace

std::size_t dtype_size(DType dtype) {
    switch (dtype) {
        case DType::float32: return 4;
        case DType::float64: return 8;
    }
    fail("dtype: " + std::to_string(static_cast<int>(dtype)) + ", expected 1 (float32) or 2 (float64)");
}

const char* dtype_name(DType dtype) {
    switch (dtype) {
        case DType::float32: return "float32";
        case DType::float64: return "float64";
    }
    return "unknown";
}

std::uint32_t crc32(const void* data, std::size_t size, std::uint32_t crc) {
    const auto* p = static_cast<const unsigned char*>(data);
    std::uint32_t c = crc ^ 0xFFFFFFFFu;
    for (std::size_t i = 0; i < size; ++i) c = kCrcTable[(c ^ p[i]) & 0xFF] ^ (c >> 8);
    return c ^ 0xFFFFFFFFu;
}

std::string encode_model(const ModelData& m) {
    check_model(m);
    Writer w;
    for (unsigned char c : kMagic) w.u8(c);
    w.u32(model_format_version);
    w.u8(static_cast<std::uint8_t>(m.dtype));
    w.u8(0), w.u8(0), w.u8(0);
    w.u64(0);  // file_size, patched below
    w.u32(static_cast<std::uint32_t>(m.layer_sizes.size()));
    for (std::uint64_t n : m.layer_sizes) w.u64(n);
    for (const auto& a : m.activations) w.str(a);
    w.str(m.loss);
    w.u64(m.params.size());
    w.values(m.params, m.dtype, "params");
    w.u32(static_cast<std::uint32_t>(m.arrays.size()));
    for (const auto& a : m.arrays) {
        w.str(a.first);
        w.u64(a.second.size());
        w.values(a.second, DType::float64, "arrays['" + a.first + "']");  // always float64
    }
    w.u32(static_cast<std::uint32_t>(m.metadata.size()));
    for (const auto& kv : m.metadata) {
        w.str(kv.first);
        w.str(kv.second);
    }
    const std::uint64_t file_size = w.out.size() + kTrailerBytes;
    for (int k = 0; k < 8; ++k) w.out[16 + k] = static_cast<char>(file_size >> (8 * k));
    w.u32(crc32(w.out.data(), w.out.size()));
    return std::move(w.out);
}

ModelData decode_model(const void* data, std::size_t size) {
    const auto* p = static_cast<const unsigned char*>(data);
    if (size == 0) fail("empty (0 bytes), expected a bpnet model starting with magic " + hex_bytes(kMagic, 8));
    if (p == nullptr) fail("no data (null pointer) for " + std::to_string(size) + " bytes");

    // Header: magic, version, dtype, reserved, file_size (docs/model-format.md §2).
    const std::size_t n_magic = size < 8 ? size : 8;
    if (std::memcmp(p, kMagic, n_magic) != 0)
        fail("wrong magic: expected " + hex_bytes(kMagic, 8) + " (\"\\x89BPNET\\r\\n\"), got " +
             hex_bytes(p, n_magic) + "; not a bpnet model file");
    const std::size_t min_size = kHeaderBytes + kTrailerBytes;
    if (size < 12)
        fail("truncated: " + std::to_string(size) + " bytes, the header alone needs " + std::to_string(min_size));
    Reader header(p, 8, kHeaderBytes < size ? kHeaderBytes : size);
    const std::uint32_t version = header.u32("version");
    if (version > model_format_version)
        fail("format version " + std::to_string(version) + " is newer than this bpnet reads (version " +
             std::to_string(model_format_version) + "); upgrade bpnet to read it");
    if (version != model_format_version)
        fail("format version " + std::to_string(version) + " is not valid, expected " +
             std::to_string(model_format_version));
    if (size < min_size)
        fail("truncated: " + std::to_string(size) + " bytes, the header alone needs " + std::to_string(min_size));
    const std::uint8_t dtype_byte = header.u8("dtype");
    if (dtype_byte != 1 && dtype_byte != 2)
        fail("dtype: expected 1 (float32) or 2 (float64), got " + std::to_string(dtype_byte));
    const DType dtype = static_cast<DType>(dtype_byte);
    if (p[13] != 0 || p[14] != 0 || p[15] != 0)
        fail("reserved header bytes 13..15: expected 00 00 00, got " + hex_bytes(p + 13, 3));
    header.u8("reserved"), header.u8("reserved"), header.u8("reserved");
    const std::uint64_t file_size = header.u64("file_size");
    if (file_size > size)
        fail("truncated: the header says the file is " + std::to_string(file_size) + " bytes, got " +
             std::to_string(size));
    if (file_size < size)
        fail("trailing data: the header says the file is " + std::to_string(file_size) + " bytes, got " +
             std::to_string(size) + " (" + std::to_string(size - file_size) + " extra bytes)");

    // Trailer: CRC-32 of everything before it.
    const std::size_t body_end = size - kTrailerBytes;
    Reader trailer(p, body_end, size);
    const std::uint32_t stored = trailer.u32("crc32");
    const std::uint32_t computed = crc32(p, body_end);
    if (stored != computed) {
        char buf[96];
        std::snprintf(buf, sizeof buf, "stored CRC-32 0x%08X, computed 0x%08X over the first %zu bytes",
                      static_cast<unsigned>(stored), static_cast<unsigned>(computed), body_end);
        fail(std::string("checksum mismatch (the file is corrupt): ") + buf);
    }

    // Body (docs/model-format.md §3). Counts are checked against the bytes left before
    // anything is reserved, so a crafted header cannot make the loader allocate.
    ModelData m;
    m.dtype = dtype;
    Reader r(p, kHeaderBytes, body_end);
    const std::uint32_t n_sizes = r.u32("layer_sizes count");
    if (n_sizes < 2 || n_sizes - 1 > model_limits::max_layers)
        fail("layer_sizes: " + std::to_string(n_sizes) + " entries, expected 2.." +
             std::to_string(model_limits::max_layers + 1));
    r.need(std::uint64_t(n_sizes) * 8, "layer_sizes");
    m.layer_sizes.resize(n_sizes);
    for (std::uint32_t l = 0; l < n_sizes; ++l) {
        m.layer_sizes[l] = r.u64("layer_sizes");
        if (m.layer_sizes[l] < 1 || m.layer_sizes[l] > model_limits::max_layer_size)
            fail("layer_sizes[" + std::to_string(l) + "]: " + std::to_string(m.layer_sizes[l]) +
                 ", expected 1.." + std::to_string(model_limits::max_layer_size));
    }
    for (std::uint32_t l = 0; l + 1 < n_sizes; ++l)
        m.activations.push_back(r.str("activations[" + std::to_string(l) + "]", model_limits::max_name_bytes));
    m.loss = r.str("loss", model_limits::max_name_bytes);

    const std::uint64_t n_params = r.u64("params count");
    const std::uint64_t want = expected_params(m.layer_sizes);
    if (n_params != want)
        fail("params: count " + std::to_string(n_params) + ", expected " + std::to_string(want) +
             " from layer_sizes");
    m.params = r.values(n_params, dtype, "params");

    const std::uint32_t n_arrays = r.u32("arrays count");
    if (n_arrays > model_limits::max_arrays)
        fail("arrays: count " + std::to_string(n_arrays) + ", at most " +
             std::to_string(model_limits::max_arrays) + " allowed");
    for (std::uint32_t i = 0; i < n_arrays; ++i) {
        const std::string field = "arrays[" + std::to_string(i) + "]";
        std::string name = r.str(field + ".name", model_limits::max_name_bytes);
        const std::uint64_t count = r.u64(field + ".count");
        std::vector<double> values = r.values(count, DType::float64, field + " (" + quoted(name) + ")");
        m.arrays.emplace_back(std::move(name), std::move(values));
    }

    const std::uint32_t n_meta = r.u32("metadata count");
    if (n_meta > model_limits::max_metadata)
        fail("metadata: count " + std::to_string(n_meta) + ", at most " +
             std::to_string(model_limits::max_metadata) + " allowed");
    r.need(std::uint64_t(n_meta) * 8, "metadata (" + std::to_string(n_meta) + " entries of at least 8 bytes)");
    m.metadata.reserve(n_meta);
    for (std::uint32_t i = 0; i < n_meta; ++i) {
        const std::string field = "metadata[" + std::to_string(i) + "]";
        std::string key = r.str(field + ".key", model_limits::max_name_bytes);
        std::string value = r.str(field + ".value", model_limits::max_value_bytes);
        m.metadata.emplace_back(std::move(key), std::move(value));
    }
    if (r.left() != 0)
        fail("the fields end at offset " + std::to_string(r.pos()) + " but the checksum is at offset " +
             std::to_string(body_end) + " (" + std::to_string(r.left()) + " unparsed bytes)");
    check_model(m);  // names, uniqueness, UTF-8
    return m;
}

// A path with a NUL byte: the C library would stop reading the name there and use another
// file (the one named by the part before it).
void check_path(const std::string& path, const char* who) {
    if (path.find('\0') != std::string::npos)
        throw std::invalid_argument(std::string(who) + ": the path '" + path.substr(0, path.find('\0')) +
                                    "\\0...' holds a NUL byte");
}

void save_model(const std::string& path, const ModelData& model) {
    check_path(path, "save_model");
    const std::string bytes = encode_model(model);  // invalid models throw before any file is touched

    // A unique temporary name beside the target, so the rename stays within one file system.
    static std::atomic<unsigned> counter{0};
#ifdef _WIN32
    const long pid = _getpid();
#else
    const long pid = static_cast<long>(getpid());
#endif
    const auto ticks = std::chrono::steady_clock::now().time_since_epoch().count();
    std::FILE* f = nullptr;
    std::string tmp;
    for (int attempt = 0; attempt < 100 && f == nullptr; ++attempt) {
        tmp = path + ".tmp-" + std::to_string(pid) + "-" + std::to_string(counter++) + "-" +
              std::to_string(static_cast<unsigned long long>(ticks) % 1000000007ull);
        f = std::fopen(tmp.c_str(), "wbx");  // "x": fails if the name exists (C11 exclusive create)
        if (f == nullptr && errno != EEXIST) break;
    }
    if (f == nullptr)
        throw FileError("save_model: cannot create temporary file '" + tmp + "' for '" + path +
                                 "': " + errno_text(errno));

    auto abandon = [&](const std::string& step, int err) {
        if (f) std::fclose(f);
        std::remove(tmp.c_str());
        throw FileError("save_model: " + step + " '" + tmp + "' (for '" + path + "') failed: " +
                                 errno_text(err));
    };
    if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) abandon("writing", errno);
    if (std::fflush(f) != 0) abandon("flushing", errno);
#ifdef _WIN32
    if (_commit(_fileno(f)) != 0) abandon("syncing", errno);
#else
    if (fsync(fileno(f)) != 0) abandon("syncing", errno);
#endif
    const int close_rc = std::fclose(f);
    f = nullptr;
    if (close_rc != 0) abandon("closing", errno);
#ifdef _WIN32
    if (!MoveFileExA(tmp.c_str(), path.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
        std::remove(tmp.c_str());
        throw FileError("save_model: renaming '" + tmp + "' to '" + path + "' failed (error " +
                                 std::to_string(GetLastError()) + ")");
    }
#else
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
        const int err = errno;
        std::remove(tmp.c_str());
        throw FileError("save_model: renaming '" + tmp + "' to '" + path + "' failed: " + errno_text(err));
    }
    // Make the rename itself durable: sync the folder (best effort; some file systems refuse).
    const std::size_t slash = path.find_last_of('/');
    const std::string dir = slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
    const int dfd = open(dir.c_str(), O_RDONLY);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
#endif
}

ModelData load_model(const std::string& path) {
    check_path(path, "load_model");
    struct stat st;
    if (stat(path.c_str(), &st) != 0) {
        const int err = errno;
        if (err == ENOENT || err == ENOTDIR)
            throw FileNotFoundError("load_model: no such file: '" + path + "'");
        throw FileError("load_model: cannot access '" + path + "': " + errno_text(err));
    }
    if (S_ISDIR(st.st_mode))
        throw FileError("load_model: '" + path + "' is a directory, expected a model file");
    if (!S_ISREG(st.st_mode))
        throw FileError("load_model: '" + path + "' is not a regular file");

    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr)
        throw FileError("load_model: cannot open '" + path + "': " + errno_text(errno));
    // Read what is there (the size comes from the file system, not from the file's header).
    std::string bytes;
    char buf[1 << 16];
    std::size_t got = 0;
    while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, got);
    const bool read_error = std::ferror(f) != 0;
    const int err = errno;
    std::fclose(f);
    if (read_error) throw FileError("load_model: reading '" + path + "' failed: " + errno_text(err));
    try {
        return decode_model(bytes.data(), bytes.size());
    } catch (const ModelFormatError& e) {
        // "bpnet model file: truncated ..." -> "bpnet model file 'path': truncated ..."
        const std::string what = e.what(), prefix = "bpnet model file: ";
        const std::string rest = what.compare(0, prefix.size(), prefix) == 0 ? what.substr(prefix.size()) : what;
        throw ModelFormatError("bpnet model file '" + path + "': " + rest);
    }
}

}  // namespace bpnet

// Tests of the model file (docs/model-format.md): bit-identical round trips in float32 and
// float64, the exact byte layout, atomic saves, and rejection of every kind of corrupt file
// (empty, truncated, over-long, bit-flipped, wrong magic, future version, absurd sizes),
// including a seeded fuzz loop that must only ever see ModelFormatError.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <new>
#include <random>
#include <string>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <csignal>
#include <sys/resource.h>
#define BPNET_TEST_POSIX 1
#endif

#include "bpnet/model_io.hpp"
#include "test_util.hpp"

// The replaced operator new/delete below pair malloc with free; GCC's inliner cannot see that.
#if defined(__GNUC__) && !defined(__clang__) && __GNUC__ >= 11
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

namespace fs = std::filesystem;
using bpnet::DType;
using bpnet::ModelData;
using bpnet::ModelFormatError;

// ---- largest single allocation, to prove a crafted header does not make the loader allocate ----
static std::size_t g_largest_alloc = 0;
void* operator new(std::size_t n) {
    if (n > g_largest_alloc) g_largest_alloc = n;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }

namespace {

// A small model with every part filled in; float32 models hold float values.
ModelData make_model(DType dtype, std::uint64_t seed, std::vector<std::uint64_t> sizes = {3, 5, 2}) {
    ModelData m;
    m.dtype = dtype;
    m.layer_sizes = sizes;
    for (std::size_t l = 0; l + 2 < sizes.size(); ++l) m.activations.push_back("tanh");
    m.activations.push_back("identity");
    m.loss = "squared_error";
    std::size_t n_params = 0;
    for (std::size_t l = 1; l < sizes.size(); ++l) n_params += sizes[l] * (sizes[l - 1] + 1);
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal(0.0, 1.0);
    auto value = [&] {
        const double x = normal(rng);
        return dtype == DType::float32 ? static_cast<double>(static_cast<float>(x)) : x;
    };
    for (std::size_t i = 0; i < n_params; ++i) m.params.push_back(value());
    std::vector<double> velocity;
    for (std::size_t i = 0; i < n_params; ++i) velocity.push_back(normal(rng));  // double state
    m.arrays.emplace_back("velocity", velocity);
    m.arrays.emplace_back("empty", std::vector<double>{});
    m.metadata.emplace_back("optimizer", "sgd");
    m.metadata.emplace_back("note", "h\xC3\xA9llo \xE2\x9C\x93");  // "héllo ✓"
    m.metadata.emplace_back("blank", "");
    m.metadata.emplace_back("user.temp\xC3\xA9rature", "21.5");  // UTF-8 keys are allowed
    return m;
}

bool same_bits(const std::vector<double>& a, const std::vector<double>& b) {
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * 8) == 0);
}

bool same_model(const ModelData& a, const ModelData& b) {
    if (a.dtype != b.dtype || a.layer_sizes != b.layer_sizes || a.activations != b.activations ||
        a.loss != b.loss || !same_bits(a.params, b.params) || a.metadata != b.metadata ||
        a.arrays.size() != b.arrays.size())
        return false;
    for (std::size_t i = 0; i < a.arrays.size(); ++i)
        if (a.arrays[i].first != b.arrays[i].first || !same_bits(a.arrays[i].second, b.arrays[i].second))
            return false;
    return true;
}

// An independent little-endian writer, to spell out the layout and to craft hostile files.
struct Bytes {
    std::string s;
    Bytes& u8(std::uint8_t v) { s += static_cast<char>(v); return *this; }
    Bytes& u32(std::uint32_t v) { for (int k = 0; k < 4; ++k) u8(std::uint8_t(v >> (8 * k))); return *this; }
    Bytes& u64(std::uint64_t v) { for (int k = 0; k < 8; ++k) u8(std::uint8_t(v >> (8 * k))); return *this; }
    Bytes& str(const std::string& x) { u32(std::uint32_t(x.size())); s += x; return *this; }
    Bytes& f64(double x) { std::uint64_t b; std::memcpy(&b, &x, 8); return u64(b); }
    Bytes& header(std::uint32_t version = 1, std::uint8_t dtype = 2) {
        s.assign("\x89" "BPNET\r\n", 8);
        u32(version).u8(dtype).u8(0).u8(0).u8(0).u64(0);
        return *this;
    }
    // Patches file_size and appends the CRC-32.
    std::string finish() const {
        std::string out = s;
        const std::uint64_t size = out.size() + 4;
        for (int k = 0; k < 8; ++k) out[16 + k] = char(size >> (8 * k));
        const std::uint32_t crc = bpnet::crc32(out.data(), out.size());
        for (int k = 0; k < 4; ++k) out += char(crc >> (8 * k));
        return out;
    }
};

// Rewrites file_size and the CRC of a (modified) image so the structural checks are reached.
std::string repair(std::string img) {
    if (img.size() < 28) return img;
    Bytes b;
    b.s = img.substr(0, img.size() - 4);
    return b.finish();
}

std::string decode_error(const std::string& img) {
    try {
        bpnet::decode_model(img.data(), img.size());
    } catch (const ModelFormatError& e) {
        return e.what();
    }
    return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

#define CHECK_REJECTS(img, part)                                                                  \
    do {                                                                                          \
        const std::string msg_ = decode_error(img);                                               \
        CHECK_MSG(!msg_.empty(), std::string("accepted a bad file, expected an error about: ") + part); \
        CHECK_MSG(contains(msg_, part), "message '" + msg_ + "' does not mention '" + part + "'"); \
    } while (0)

fs::path scratch_dir(const std::string& name) {
    const char* base = std::getenv("BPNET_TEST_DATA");
    fs::path dir = fs::path(base ? base : fs::temp_directory_path().string()) / ("model_io_" + name);
    fs::remove_all(dir);
    fs::create_directories(dir);
    return dir;
}

std::vector<std::string> listing(const fs::path& dir) {
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

std::string read_file(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
}

}  // namespace

TEST_CASE("round trip float64 and float32: bit-identical") {
    for (DType dtype : {DType::float64, DType::float32}) {
        ModelData m = make_model(dtype, 42);
        // Values that must survive exactly: signed zero, subnormals, extremes, infinities, NaN.
        const bool f32 = dtype == DType::float32;
        m.params[0] = -0.0;
        m.params[1] = f32 ? double(std::numeric_limits<float>::denorm_min()) : std::numeric_limits<double>::denorm_min();
        m.params[2] = f32 ? double(std::numeric_limits<float>::max()) : std::numeric_limits<double>::max();
        m.params[3] = std::numeric_limits<double>::infinity();
        m.params[4] = -std::numeric_limits<double>::infinity();
        m.params[5] = std::numeric_limits<double>::quiet_NaN();
        m.params[6] = f32 ? double(std::numeric_limits<float>::min()) : std::numeric_limits<double>::min();
        const std::string img = bpnet::encode_model(m);
        const std::size_t esize = f32 ? 4 : 8;
        CHECK(bpnet::dtype_size(dtype) == esize);
        const ModelData back = bpnet::decode_model(img.data(), img.size());
        CHECK(same_model(m, back));
        CHECK(bpnet::encode_model(back) == img);  // re-encoding is byte-identical
    }
}

TEST_CASE("byte layout: little-endian fields exactly as docs/model-format.md says") {
    ModelData m;
    m.dtype = DType::float64;
    m.layer_sizes = {2, 1};
    m.activations = {"sigmoid"};
    m.loss = "binary_cross_entropy";
    m.params = {0.5, -1.25, 3.0};
    m.arrays = {{"adam_m", {1.0, 2.0, 4.0}}};
    m.metadata = {{"t", "7"}};
    Bytes b;
    b.header(1, 2);
    b.u32(2).u64(2).u64(1);
    b.str("sigmoid").str("binary_cross_entropy");
    b.u64(3).f64(0.5).f64(-1.25).f64(3.0);
    b.u32(1).str("adam_m").u64(3).f64(1.0).f64(2.0).f64(4.0);
    b.u32(1).str("t").str("7");
    const std::string expected = b.finish();
    const std::string img = bpnet::encode_model(m);
    CHECK(img == expected);
    CHECK(img.size() == 24 + 4 + 16 + 11 + 24 + 8 + 24 + 4 + 10 + 8 + 24 + 4 + 5 + 5 + 4);
    // Header bytes spelled out: magic, version 1, dtype 2, file size.
    const unsigned char head[17] = {0x89, 'B', 'P', 'N', 'E', 'T', '\r', '\n', 1, 0, 0, 0, 2, 0, 0, 0, std::uint8_t(img.size())};
    CHECK(std::memcmp(img.data(), head, sizeof head) == 0);
    // CRC-32 is zlib's: crc32(b"123456789") == 0xCBF43926.
    CHECK(bpnet::crc32("123456789", 9) == 0xCBF43926u);
    CHECK(bpnet::crc32("6789", 4, bpnet::crc32("12345", 5)) == 0xCBF43926u);
    // float32: 4-byte values.
    m.dtype = DType::float32;
    const std::string img32 = bpnet::encode_model(m);
    CHECK(img32.size() == img.size() - 3 * 4);  // params shrink; named arrays stay float64
    CHECK(static_cast<unsigned char>(img32[12]) == 1);
}

TEST_CASE("encode refuses what it could not read back") {
    ModelData m = make_model(DType::float64, 1);
    ModelData bad = m;
    bad.params.pop_back();
    CHECK_THROWS_AS(bpnet::encode_model(bad), ModelFormatError);
    bad = m;
    bad.activations.pop_back();
    CHECK_THROWS_AS(bpnet::encode_model(bad), ModelFormatError);
    bad = m;
    bad.layer_sizes = {4};
    CHECK_THROWS_AS(bpnet::encode_model(bad), ModelFormatError);
    bad = m;
    bad.loss = "";
    CHECK_THROWS_AS(bpnet::encode_model(bad), ModelFormatError);
    bad = m;
    bad.metadata.emplace_back("optimizer", "again");
    CHECK_THROWS_AS(bpnet::encode_model(bad), ModelFormatError);
    bad = m;
    bad.metadata.emplace_back("latin1", "\xE9");
    CHECK_THROWS_AS(bpnet::encode_model(bad), ModelFormatError);
    bad = m;
    bad.metadata.emplace_back("tab\tkey", "x");
    CHECK_THROWS_AS(bpnet::encode_model(bad), ModelFormatError);
    bad = m;
    bad.metadata.emplace_back("bad\xFFkey", "x");
    CHECK_THROWS_AS(bpnet::encode_model(bad), ModelFormatError);
    bad = m;
    bad.dtype = static_cast<DType>(3);
    CHECK_THROWS_AS(bpnet::encode_model(bad), ModelFormatError);
    // A float32 model must hold floats: 0.1 (a double) would be silently rounded.
    bad = make_model(DType::float32, 1);
    bad.params[3] = 0.1;
    CHECK_THROWS_AS(bpnet::encode_model(bad), ModelFormatError);
    bad.params[3] = 1e300;
    CHECK_THROWS_AS(bpnet::encode_model(bad), ModelFormatError);
}

TEST_CASE("save and load: round trip, replace, no temporary files left") {
    const fs::path dir = scratch_dir("save");
    const std::string path = (dir / "model.bpnet").string();
    for (DType dtype : {DType::float64, DType::float32}) {
        const ModelData m = make_model(dtype, 7);
        bpnet::save_model(path, m);
        CHECK(same_model(bpnet::load_model(path), m));
        CHECK(read_file(path) == bpnet::encode_model(m));
    }
    // Saving again replaces the file.
    const ModelData other = make_model(DType::float64, 8, {4, 3, 3, 1});
    bpnet::save_model(path, other);
    CHECK(same_model(bpnet::load_model(path), other));
    CHECK(listing(dir) == std::vector<std::string>{"model.bpnet"});
    // A relative path in the current folder works too.
    const fs::path cwd = fs::current_path();
    fs::current_path(dir);
    bpnet::save_model("relative.bpnet", other);
    CHECK(same_model(bpnet::load_model("relative.bpnet"), other));
    fs::current_path(cwd);
    CHECK((listing(dir) == std::vector<std::string>{"model.bpnet", "relative.bpnet"}));
}

TEST_CASE("a failed save leaves the old file and no temporary file") {
    const fs::path dir = scratch_dir("atomic");
    const std::string path = (dir / "model.bpnet").string();
    const ModelData old_model = make_model(DType::float64, 1);
    bpnet::save_model(path, old_model);
    const std::string old_bytes = read_file(path);

    // An invalid model fails before any file is touched.
    ModelData bad = old_model;
    bad.params.clear();
    CHECK_THROWS_AS(bpnet::save_model(path, bad), ModelFormatError);
    CHECK(read_file(path) == old_bytes);

    // The target is a folder: the temporary file is written, the rename fails, it is removed.
    const fs::path sub = dir / "a_folder";
    fs::create_directories(sub / "inside");
    std::string msg;
    try {
        bpnet::save_model(sub.string(), old_model);
    } catch (const std::runtime_error& e) {
        msg = e.what();
    }
    CHECK_MSG(contains(msg, "a_folder"), "message should name the path: '" + msg + "'");
    CHECK(fs::is_directory(sub / "inside"));

    // A missing folder: a clear error naming it.
    msg.clear();
    try {
        bpnet::save_model((dir / "no_such_dir" / "m.bpnet").string(), old_model);
    } catch (const std::runtime_error& e) {
        msg = e.what();
    }
    CHECK_MSG(contains(msg, "no_such_dir"), "message should name the path: '" + msg + "'");

#ifdef BPNET_TEST_POSIX
    // The write itself fails half-way (file size limit): the old model stays, intact.
    const ModelData big = make_model(DType::float64, 2, {50, 50, 50});
    struct rlimit saved;
    getrlimit(RLIMIT_FSIZE, &saved);
    struct rlimit small = saved;
    small.rlim_cur = 1000;
    void (*saved_handler)(int) = std::signal(SIGXFSZ, SIG_IGN);
    bool threw = false;
    if (setrlimit(RLIMIT_FSIZE, &small) == 0) {
        try {
            bpnet::save_model(path, big);
        } catch (const std::runtime_error& e) {
            threw = true;
            msg = e.what();
        }
        setrlimit(RLIMIT_FSIZE, &saved);
        CHECK_MSG(threw, "save past RLIMIT_FSIZE should throw");
        CHECK_MSG(contains(msg, "model.bpnet"), "message should name the path: '" + msg + "'");
    }
    std::signal(SIGXFSZ, saved_handler);
    CHECK(read_file(path) == old_bytes);
#endif
    CHECK((listing(dir) == std::vector<std::string>{"a_folder", "model.bpnet"}));
}

TEST_CASE("load: missing file, folder, corrupt file name the path") {
    const fs::path dir = scratch_dir("load");
    const std::string missing = (dir / "missing.bpnet").string();
    CHECK_THROWS_AS(bpnet::load_model(missing), bpnet::FileNotFoundError);
    CHECK_THROWS_AS(bpnet::load_model((dir / "missing" / "x.bpnet").string()), bpnet::FileNotFoundError);
    try {
        bpnet::load_model(missing);
    } catch (const bpnet::FileNotFoundError& e) {
        CHECK(contains(e.what(), missing));
    }
    std::string msg;
    try {
        bpnet::load_model(dir.string());
    } catch (const bpnet::FileNotFoundError&) {
        msg = "FileNotFoundError for a folder";
    } catch (const std::runtime_error& e) {
        msg = e.what();
    }
    CHECK_MSG(contains(msg, "directory"), "loading a folder: '" + msg + "'");

    const std::string empty = (dir / "empty.bpnet").string();
    std::ofstream(empty, std::ios::binary).close();
    msg.clear();
    try {
        bpnet::load_model(empty);
    } catch (const ModelFormatError& e) {
        msg = e.what();
    }
    CHECK_MSG(contains(msg, "empty") && contains(msg, empty), "empty file: '" + msg + "'");
    // ModelFormatError is an invalid_argument (ValueError in Python).
    CHECK_THROWS_AS(bpnet::load_model(empty), std::invalid_argument);
}

TEST_CASE("rejects empty, truncated, over-long and bit-flipped files") {
    const std::string img = bpnet::encode_model(make_model(DType::float32, 3, {2, 2, 1}));
    CHECK_REJECTS(std::string(), "empty");
    for (std::size_t n = 1; n < img.size(); ++n) {
        const std::string prefix = img.substr(0, n);
        CHECK_REJECTS(prefix, "truncated");
    }
    CHECK_REJECTS(img + '\0', "trailing data");
    CHECK_REJECTS(img + img, "trailing data");
    for (std::size_t i = 0; i < img.size(); ++i) {
        for (int bit = 0; bit < 8; ++bit) {
            std::string bad = img;
            bad[i] = char(bad[i] ^ (1 << bit));
            CHECK_MSG(!decode_error(bad).empty(),
                      "flipping bit " + std::to_string(bit) + " of byte " + std::to_string(i) + " was accepted");
        }
        std::string bad = img;
        bad[i] = char(~bad[i]);
        CHECK_MSG(!decode_error(bad).empty(), "inverting byte " + std::to_string(i) + " was accepted");
    }
    // A flip in the body is reported as a checksum mismatch.
    std::string bad = img;
    bad[40] = char(bad[40] ^ 1);
    CHECK_REJECTS(bad, "checksum");
}

TEST_CASE("rejects wrong magic, other versions, bad header fields") {
    const std::string img = bpnet::encode_model(make_model(DType::float64, 4));
    CHECK_REJECTS(std::string("PK\x03\x04 not a model at all, just some bytes to be long enough"), "wrong magic");
    CHECK_REJECTS(std::string("\x89PNG\r\n\x1a\n") + img.substr(8), "wrong magic");
    CHECK_REJECTS(std::string("{\"json\": 1}"), "wrong magic");
    Bytes b;
    b.s = img.substr(0, img.size() - 4);
    b.s[8] = 2;  // version 2, a valid checksum: still refused, and the message says why
    CHECK_REJECTS(b.finish(), "format version 2 is newer");
    b.s[8] = char(0xFF), b.s[9] = char(0xFF), b.s[10] = char(0xFF), b.s[11] = char(0xFF);
    CHECK_REJECTS(b.finish(), "format version 4294967295 is newer");
    b.s[8] = 0, b.s[9] = 0, b.s[10] = 0, b.s[11] = 0;
    CHECK_REJECTS(b.finish(), "format version 0 is not valid");
    b.s[8] = 1;
    b.s[12] = 3;
    CHECK_REJECTS(b.finish(), "dtype");
    b.s[12] = 2;
    b.s[14] = 1;
    CHECK_REJECTS(b.finish(), "reserved");
}

TEST_CASE("absurd sizes are refused before anything is allocated") {
    auto crafted = [](auto body) {
        Bytes b;
        b.header();
        body(b);
        return b.finish();
    };
    struct Case {
        const char* expect;
        std::string img;
    };
    const std::vector<Case> cases = {
        // 10^12 parameters, consistent with the layer sizes, but the file is tiny.
        {"params: 1000000000000 float64 values need",
         crafted([](Bytes& b) { b.u32(2).u64(999999).u64(1000000).str("identity").str("squared_error").u64(1000000000000ull); })},
        // A parameter count that disagrees with the layer sizes.
        {"params: count 1000000000000, expected 3",
         crafted([](Bytes& b) { b.u32(2).u64(2).u64(1).str("identity").str("squared_error").u64(1000000000000ull); })},
        {"layer_sizes: 4294967295 entries",
         crafted([](Bytes& b) { b.u32(0xFFFFFFFFu).u64(1).u64(1); })},
        {"layer_sizes: needs 32000 bytes",
         crafted([](Bytes& b) { b.u32(4000).u64(1).u64(1); })},
        {"layer_sizes[1]: 18446744073709551615",
         crafted([](Bytes& b) { b.u32(2).u64(3).u64(~0ull); })},
        {"layer_sizes[0]: 0",
         crafted([](Bytes& b) { b.u32(2).u64(0).u64(1); })},
        {"overflows",
         crafted([](Bytes& b) { b.u32(3).u64(1ull << 32).u64(1ull << 32).u64(1ull << 32).str("a").str("b").str("c").u64(1); })},
        {"activations[0]: length 4294967295",
         crafted([](Bytes& b) { b.u32(2).u64(2).u64(1).u32(0xFFFFFFFFu); })},
        {"activations[0]: needs 200 bytes",
         crafted([](Bytes& b) { b.u32(2).u64(2).u64(1).u32(200); })},
        {"arrays: count 4294967295",
         crafted([](Bytes& b) { b.u32(2).u64(1).u64(1).str("identity").str("squared_error").u64(2).f64(1).f64(2).u32(~0u); })},
        {"arrays[0] ('m'): 1000000000000 float64 values",
         crafted([](Bytes& b) { b.u32(2).u64(1).u64(1).str("identity").str("squared_error").u64(2).f64(1).f64(2).u32(1).str("m").u64(1000000000000ull); })},
        {"metadata: count 4294967295",
         crafted([](Bytes& b) { b.u32(2).u64(1).u64(1).str("identity").str("squared_error").u64(2).f64(1).f64(2).u32(0).u32(~0u); })},
        {"metadata (60000 entries",
         crafted([](Bytes& b) { b.u32(2).u64(1).u64(1).str("identity").str("squared_error").u64(2).f64(1).f64(2).u32(0).u32(60000); })},
        {"metadata[0].value: length 4000000000",
         crafted([](Bytes& b) { b.u32(2).u64(1).u64(1).str("identity").str("squared_error").u64(2).f64(1).f64(2).u32(0).u32(1).str("k").u32(4000000000u); })},
        {"metadata[0].value: needs 16000000 bytes",
         crafted([](Bytes& b) { b.u32(2).u64(1).u64(1).str("identity").str("squared_error").u64(2).f64(1).f64(2).u32(0).u32(1).str("k").u32(16000000u); })},
        // Structure that is fine byte-wise but not a model.
        {"5 unparsed bytes",
         crafted([](Bytes& b) { b.u32(2).u64(1).u64(1).str("identity").str("squared_error").u64(2).f64(1).f64(2).u32(0).u32(0).u32(0).u8(0); })},
        {"duplicate key 'k'",
         crafted([](Bytes& b) { b.u32(2).u64(1).u64(1).str("identity").str("squared_error").u64(2).f64(1).f64(2).u32(0).u32(2).str("k").str("1").str("k").str("2"); })},
        {"activations[0]: byte 2 of the name is 0x1B",
         crafted([](Bytes& b) { b.u32(2).u64(1).u64(1).str("id\x1b[31m").str("squared_error").u64(2).f64(1).f64(2).u32(0).u32(0); })},
        {"invalid UTF-8",
         crafted([](Bytes& b) { b.u32(2).u64(1).u64(1).str("identity").str("squared_error").u64(2).f64(1).f64(2).u32(0).u32(1).str("k").str("\xED\xA0\x80"); })},
    };
    for (const auto& c : cases) {
        g_largest_alloc = 0;
        const std::string msg = decode_error(c.img);
        CHECK_MSG(contains(msg, c.expect), std::string("expected '") + c.expect + "', got '" + msg + "'");
        CHECK_MSG(g_largest_alloc < (1u << 20), std::string(c.expect) + ": allocated " +
                                                    std::to_string(g_largest_alloc) + " bytes");
    }
    // The control: the last crafted body without the bad parts decodes.
    const std::string ok = crafted([](Bytes& b) { b.u32(2).u64(1).u64(1).str("identity").str("squared_error").u64(2).f64(1).f64(2).u32(0).u32(0); });
    CHECK(decode_error(ok).empty());
}

namespace {

// The image encode_model writes for a float64 model, without its checks: to craft files
// that encode_model refuses to write.
std::string unchecked_image(const ModelData& m) {
    Bytes b;
    b.header(1, 2);
    b.u32(std::uint32_t(m.layer_sizes.size()));
    for (std::uint64_t n : m.layer_sizes) b.u64(n);
    for (const auto& a : m.activations) b.str(a);
    b.str(m.loss).u64(m.params.size());
    for (double x : m.params) b.f64(x);
    b.u32(std::uint32_t(m.arrays.size()));
    for (const auto& a : m.arrays) {
        b.str(a.first).u64(a.second.size());
        for (double x : a.second) b.f64(x);
    }
    b.u32(std::uint32_t(m.metadata.size()));
    for (const auto& kv : m.metadata) b.str(kv.first).str(kv.second);
    return b.finish();
}

std::string encode_error(const ModelData& m) {
    try {
        bpnet::encode_model(m);
    } catch (const ModelFormatError& e) {
        return e.what();
    }
    return "";
}

// A float64 model holding Adam's state as Network<T>::to_model writes it.
ModelData adam_model() {
    ModelData m = make_model(DType::float64, 7);
    const std::size_t np = m.params.size();
    m.arrays = {{"adam_m", std::vector<double>(np, -0.5)}, {"adam_v", std::vector<double>(np, 0.25)}};
    m.metadata = {{"optimizer", "adam"}, {"adam_t", "12"}, {"samples_seen", "120"}, {"learning_rate", "0.001"}};
    return m;
}

}  // namespace

TEST_CASE("optimizer state: step counters are plain digits, Adam's second moments not negative") {
    const ModelData good = adam_model();
    CHECK(unchecked_image(good) == bpnet::encode_model(good));  // the crafting writer is faithful
    for (const char* v : {"0", "007", "9007199254740992"}) {     // 2^53, the largest count
        ModelData m = good;
        m.metadata[1].second = v, m.metadata[2].second = v;
        CHECK_MSG(decode_error(bpnet::encode_model(m)).empty(), std::string("refused step count ") + v);
    }
    // strtoull would read "-1" as 2^64 - 1 and skip the space and the sign.
    const char* bad_counts[] = {"-1", "+5", " 5", "5 ", "", "1e3", "0x10", "12.0",
                                "9007199254740993", "18446744073709551615", "18446744073709551616"};
    for (std::size_t entry : {1, 2}) {
        for (const char* v : bad_counts) {
            ModelData m = good;
            m.metadata[entry].second = v;
            const std::string field = entry == 1 ? "metadata[1] ('adam_t'): '" : "metadata[2] ('samples_seen'): '";
            CHECK_REJECTS(unchecked_image(m), field + v + "', expected a step count: decimal digits, 0..9007199254740992");
            CHECK_MSG(contains(encode_error(m), field + v + "'"), std::string("encode_model wrote step count ") + v);
        }
    }
    // Adam's second moments average squared gradients: a negative one is corruption.
    for (double v : {-1.0, -1e-300, -std::numeric_limits<double>::infinity()}) {
        ModelData m = good;
        m.arrays[1].second[3] = v;
        CHECK_REJECTS(unchecked_image(m), "arrays[1] ('adam_v')[3]: ");
        CHECK_REJECTS(unchecked_image(m), ", expected a value >= 0");
        CHECK(contains(encode_error(m), "arrays[1] ('adam_v')[3]: "));
    }
    ModelData m = good;
    m.arrays[1].second[3] = -1.0;
    CHECK_REJECTS(unchecked_image(m), "arrays[1] ('adam_v')[3]: -1, expected a value >= 0");
    m.arrays[1].second[3] = -0.0;  // zero, whatever its sign
    CHECK(decode_error(unchecked_image(m)).empty());
}

TEST_CASE("user metadata: messages name the key as given, with the 250 bytes left for it") {
    // Python's Network.metadata {"k": v} is stored as "user.k" (cpp/python/module.cpp).
    ModelData m = make_model(DType::float64, 3);
    m.metadata.emplace_back("user." + std::string(250, 'k'), "1");
    CHECK(decode_error(bpnet::encode_model(m)).empty());  // 250 bytes: the most a user key may have
    m.metadata.back().first += "k";
    std::string msg = encode_error(m);
    CHECK_MSG(contains(msg, "metadata key 'kkkkkkkkkkkkkkkkkkkkkkkk...' is 251 bytes, at most 250 allowed"), msg);
    CHECK_MSG(!contains(msg, "metadata[") && !contains(msg, "user.") && !contains(msg, "255"), msg);
    m.metadata.back() = {"user.a\tb", "1"};
    msg = encode_error(m);
    CHECK_MSG(contains(msg, "metadata key 'a\\x09b': byte 1 is the control character 0x09"), msg);
    m.metadata.back() = {"user.\xFFk", "1"};
    msg = encode_error(m);
    CHECK_MSG(contains(msg, "metadata key '\\xFFk': invalid UTF-8 lead byte 0xFF at byte 0"), msg);
    m.metadata.back() = {"user.t\xC3\xA9t\xC3\xA9", "\xC3"};
    msg = encode_error(m);
    CHECK_MSG(contains(msg, "metadata key 't\xC3\xA9t\xC3\xA9': UTF-8 sequence cut short at byte 0"), msg);
    CHECK_REJECTS(unchecked_image(m), "metadata key 't\xC3\xA9t\xC3\xA9': UTF-8 sequence cut short");
    // A long UTF-8 key is cut between characters: 23 'x' and a 2-byte character at byte 23.
    m.metadata.back() = {"user." + std::string(23, 'x') + "\xC3\xA9" + std::string(240, 'y'), "1"};
    msg = encode_error(m);
    CHECK_MSG(contains(msg, "metadata key '" + std::string(23, 'x') + "...' is 265 bytes"), msg);
    // The core's own keys keep their place in the file and the format's limit.
    m.metadata.back() = {std::string(256, 'c'), "1"};
    msg = encode_error(m);
    CHECK_MSG(contains(msg, "metadata[4].key: key of 256 bytes, at most 255 allowed"), msg);
}

TEST_CASE("save and load refuse a path with a NUL byte") {
    const fs::path dir = scratch_dir("nul");
    const std::string path = (dir / "m.bpnet").string();
    bpnet::save_model(path, adam_model());
    const std::string nul = path + std::string(1, '\0') + ".bak";
    CHECK_THROWS_AS(bpnet::save_model(nul, adam_model()), std::invalid_argument);
    CHECK_THROWS_AS(bpnet::load_model(nul), std::invalid_argument);
    bool message = false;
    try {
        bpnet::load_model(nul);
    } catch (const std::invalid_argument& e) {
        message = contains(e.what(), "load_model: the path '" + path + "\\0...' holds a NUL byte");
    }
    CHECK(message);
    CHECK(listing(dir) == std::vector<std::string>{"m.bpnet"});  // nothing else written
}

TEST_CASE("fuzz: random truncations and byte changes only ever raise ModelFormatError") {
    std::vector<std::string> seeds;
    for (DType dtype : {DType::float64, DType::float32}) {
        seeds.push_back(bpnet::encode_model(make_model(dtype, 11, {2, 3, 1})));
        seeds.push_back(bpnet::encode_model(make_model(dtype, 12, {1, 1})));
    }
    std::mt19937_64 rng(20240601);
    auto uniform = [&](std::size_t n) { return static_cast<std::size_t>(rng() % n); };
    int accepted = 0, rejected = 0, other = 0;
    for (int iter = 0; iter < 4000; ++iter) {
        std::string img = seeds[uniform(seeds.size())];
        const int n_mutations = 1 + int(uniform(4));
        for (int k = 0; k < n_mutations && !img.empty(); ++k) {
            switch (uniform(5)) {
                case 0: img[uniform(img.size())] ^= char(1 << uniform(8)); break;        // bit flip
                case 1: img[uniform(img.size())] = char(rng()); break;                  // random byte
                case 2: img.resize(uniform(img.size())); break;                          // truncate
                case 3: img.insert(uniform(img.size() + 1), 1 + uniform(16), char(rng())); break;
                case 4: {  // a plausible huge count somewhere
                    const std::size_t at = uniform(img.size());
                    for (std::size_t j = at; j < img.size() && j < at + 4; ++j) img[j] = char(0xFF);
                    break;
                }
            }
        }
        // Half the cases get a valid size and checksum, so the parser itself is exercised.
        if (iter % 2 == 1) img = repair(img);
        g_largest_alloc = 0;
        try {
            bpnet::decode_model(img.data(), img.size());
            ++accepted;
        } catch (const ModelFormatError& e) {
            ++rejected;
            if (std::strlen(e.what()) < 20) {
                ++other;
                bpnet_test::fail(__FILE__, __LINE__, std::string("uninformative message: ") + e.what());
            }
        } catch (const std::exception& e) {
            ++other;
            bpnet_test::fail(__FILE__, __LINE__, std::string("not a ModelFormatError: ") + e.what());
        }
        CHECK_MSG(g_largest_alloc <= 4 * img.size() + 4096,
                  "allocated " + std::to_string(g_largest_alloc) + " bytes for a " + std::to_string(img.size()) + "-byte file");
    }
    std::printf("fuzz: %d rejected, %d accepted, %d other\n", rejected, accepted, other);
    CHECK(rejected > 3000);
    CHECK(other == 0);
}

TEST_MAIN()

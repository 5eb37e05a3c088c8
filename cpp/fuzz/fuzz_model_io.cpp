// libFuzzer target for the model loader (docs/model-format.md, "Fuzzing"). Each input is
// decoded twice: as it is (the header and checksum checks), and with its file_size and CRC-32
// rewritten to match, so that mutations reach the field parser behind the checksum. A valid
// decode is re-encoded and must give a file of the same size that decodes and re-encodes alike. Anything but ModelFormatError escaping
// decode_model, a crash, or a sanitizer report is a bug.
//
// Built with clang only (-DBPNET_FUZZ=ON). With -DBPNET_FUZZ_MAIN this file also builds with
// any compiler into a program that replays the files given on its command line.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "bpnet/model_io.hpp"

namespace {

void decode_checked(const std::string& img) {
    bpnet::ModelData m;
    try {
        m = bpnet::decode_model(img.data(), img.size());
    } catch (const bpnet::ModelFormatError&) {
        return;  // rejected, as it should be
    }
    // Re-encoding gives the same bytes, except that a float32 signalling NaN may come back
    // quieted (float -> double -> float); after one round the image must be stable.
    const std::string again = bpnet::encode_model(m);
    const bpnet::ModelData m2 = bpnet::decode_model(again.data(), again.size());
    if (bpnet::encode_model(m2) != again || again.size() != img.size()) {
        std::fprintf(stderr, "fuzz_model_io: a decoded model does not re-encode to the same bytes\n");
        std::abort();
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string img(reinterpret_cast<const char*>(data), size);
    decode_checked(img);
    if (size >= 28) {  // header + trailer: repair file_size and the checksum
        std::string fixed = img;
        for (int k = 0; k < 8; ++k) fixed[16 + k] = static_cast<char>(std::uint64_t(size) >> (8 * k));
        const std::uint32_t crc = bpnet::crc32(fixed.data(), size - 4);
        for (int k = 0; k < 4; ++k) fixed[size - 4 + k] = static_cast<char>(crc >> (8 * k));
        decode_checked(fixed);
    }
    return 0;
}

#ifdef BPNET_FUZZ_MAIN
// Replays files: fuzz_model_io FILE...
int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        std::FILE* f = std::fopen(argv[i], "rb");
        if (!f) {
            std::fprintf(stderr, "fuzz_model_io: cannot open %s\n", argv[i]);
            return 1;
        }
        std::string bytes;
        char buf[4096];
        std::size_t got;
        while ((got = std::fread(buf, 1, sizeof buf, f)) > 0) bytes.append(buf, got);
        std::fclose(f);
        LLVMFuzzerTestOneInput(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size());
        std::printf("%s: ok\n", argv[i]);
    }
    return 0;
}
#endif

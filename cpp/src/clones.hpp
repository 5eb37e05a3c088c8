// BPNET_CLONES: compile an element-wise function once per instruction set (AVX-512, AVX2,
// baseline x86-64) and pick the clone at load time by the running CPU (GCC's target_clones).
// The library is built with -ffp-contract=off, so every clone rounds exactly as the baseline
// does: the choice changes the speed, never the bits. Other compilers and architectures get
// the one portable version.
#pragma once

//
// The clones are chosen by instruction-set level (x86-64-v4: AVX-512; v3: AVX2), never by CPU
// model: "arch=skylake-avx512" would only ever match Skylake-X itself, so a Cascade Lake or Ice
// Lake server would run the baseline SSE2 clone.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(BPNET_NO_CLONES)
#if __GNUC__ >= 12
#define BPNET_CLONES \
    __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define BPNET_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#else
#define BPNET_CLONES
#endif

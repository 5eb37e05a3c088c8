// BPNET_CLONES: compile an element-wise function once per instruction set (AVX-512, AVX2,
// baseline x86-64) and pick the clone at load time by the running CPU (GCC's target_clones).
// The library is built with -ffp-contract=off, so every clone rounds exactly as the baseline
// does: the choice changes the speed, never the bits. Other compilers and architectures get
// the one portable version.
#pragma once

//
// The clone is chosen by instruction-set level (x86-64-v3: AVX2), never by CPU model:
// "arch=skylake-avx512" would only ever match Skylake-X itself, so a Cascade Lake or Ice Lake
// server ran the baseline SSE2 clone. No AVX-512 clone: these loops are short or bound by
// memory, and 512-bit instructions scattered through the per-sample path (a few values per
// call) made it 25% slower (1-3-1 network: 132 -> 167 us per epoch).
//
// Not under ThreadSanitizer (__SANITIZE_THREAD__): the clones' ifunc resolvers run while the
// program is being loaded, before the sanitizer's runtime is set up, and their instrumented
// code crashed every program linked with the library.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(BPNET_NO_CLONES) && !defined(__SANITIZE_THREAD__)
#if __GNUC__ >= 12
#define BPNET_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define BPNET_CLONES __attribute__((target_clones("avx2", "default")))
#endif
#else
#define BPNET_CLONES
#endif

// For helpers of cloned functions: inlined into each clone, so they are compiled for its
// instruction set (an out-of-line helper is compiled for the baseline only).
#if defined(__GNUC__)
#define BPNET_INLINE inline __attribute__((always_inline))
#else
#define BPNET_INLINE inline
#endif

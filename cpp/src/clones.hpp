// BPNET_CLONES: compile an element-wise function once per instruction set (AVX-512, AVX2,
// baseline x86-64) and pick the clone at load time by the running CPU (GCC's target_clones).
// The library is built with -ffp-contract=off, so every clone rounds exactly as the baseline
// does: the choice changes the speed, never the bits. Other compilers and architectures get
// the one portable version.
#pragma once

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__) && \
    !defined(BPNET_NO_CLONES)
#define BPNET_CLONES __attribute__((target_clones("arch=skylake-avx512", "arch=haswell", "default")))
#else
#define BPNET_CLONES
#endif

// FlushDenormals: flush-to-zero for the calling thread while alive (training).
// SameFloatMode: gives the calling thread (an OpenMP worker) the floating-point mode of the
// thread that forked it, while alive: flush-to-zero is on in a worker exactly when it is on in
// the caller (training sets it), so a block's bits never depend on the thread that computed it.
//
// In an anonymous namespace on purpose: the kernel files that include it are compiled with
// different -m flags, and one shared (inline, external) definition could end up as the
// AVX-512 build's copy in every caller.
#pragma once

namespace bpnet {
namespace {

// Sets flush-to-zero and denormals-are-zero for the calling thread while alive (x86 SSE):
// denormal optimizer state and activations would otherwise slow training down many-fold.
class FlushDenormals {
public:
    FlushDenormals() {
#if defined(__SSE__) || defined(__x86_64__)
        saved_ = __builtin_ia32_stmxcsr();
        __builtin_ia32_ldmxcsr(saved_ | 0x8040u);
#endif
    }
    ~FlushDenormals() {
#if defined(__SSE__) || defined(__x86_64__)
        __builtin_ia32_ldmxcsr(saved_);
#endif
    }
    FlushDenormals(const FlushDenormals&) = delete;
    FlushDenormals& operator=(const FlushDenormals&) = delete;

private:
    unsigned saved_ = 0;
};

class SameFloatMode {
public:
    explicit SameFloatMode(unsigned mode) {
#if defined(__SSE__) || defined(__x86_64__)
        saved_ = __builtin_ia32_stmxcsr();
        __builtin_ia32_ldmxcsr(mode);
#else
        (void)mode;
#endif
    }
    ~SameFloatMode() {
#if defined(__SSE__) || defined(__x86_64__)
        __builtin_ia32_ldmxcsr(saved_);
#endif
    }
    // The calling thread's mode, to hand to workers.
    static unsigned current() {
#if defined(__SSE__) || defined(__x86_64__)
        return __builtin_ia32_stmxcsr();
#else
        return 0;
#endif
    }
    SameFloatMode(const SameFloatMode&) = delete;
    SameFloatMode& operator=(const SameFloatMode&) = delete;

private:
    unsigned saved_ = 0;
};

}  // namespace
}  // namespace bpnet

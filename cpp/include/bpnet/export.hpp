// BPNET_API: marks what libbpnet exports. The library is compiled with -fvisibility=hidden and
// -fvisibility-inlines-hidden, so a shared libbpnet exports exactly the declarations of these
// public headers that carry BPNET_API; the kernels and helpers in cpp/src stay internal.
//
// The same definition serves the library, its consumers, and static and shared builds alike
// (no define to pass): default visibility is what a symbol has without -fvisibility=hidden,
// so a consumer's code compiles as it would without the macro, and a static libbpnet keeps
// its API visible (its internals hidden) wherever it is linked.
//
// Windows DLLs are not supported (they would need dllexport / dllimport, chosen by whether the
// library or a consumer is compiled): there BPNET_API is empty.
#pragma once

#if (defined(__GNUC__) || defined(__clang__)) && !defined(_WIN32) && !defined(__CYGWIN__)
#define BPNET_API __attribute__((visibility("default")))
#else
#define BPNET_API
#endif

// Run-time choice of the gemm instruction-set path (internal; used by gemm.cpp and tests).
//
// The best path the running CPU supports is chosen once, on first use. The environment
// variable BPNET_ISA=generic|avx2|avx512 forces one; a forced path the CPU (or this build)
// lacks, or an unknown name, falls back to the best available one with a warning on stderr.
#pragma once

#include <string>

#include "gemm_internal.hpp"

namespace bpnet::kernels::detail {

// The table in use.
const GemmTable& active_gemm_table();

// True when this build has the path `isa` and the running CPU can execute it.
bool isa_available(const std::string& isa);

// Makes `isa` the path in use (for tests and benchmarks). Throws std::invalid_argument when
// the name is unknown or isa_available(isa) is false. Not thread-safe against running gemms.
void select_isa(const std::string& isa);

}  // namespace bpnet::kernels::detail

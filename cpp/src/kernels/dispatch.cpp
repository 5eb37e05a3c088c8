// Chooses the gemm instruction-set path once, from what the running CPU supports, unless
// BPNET_ISA forces one (see dispatch.hpp for the rules).
#include "dispatch.hpp"

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

namespace bpnet::kernels::detail {

namespace {

const GemmTable* table_for(const std::string& isa) {
    if (isa == "generic") return &gemm_table_generic;
#if defined(BPNET_KERNELS_X86)
    if (isa == "avx2") return &gemm_table_avx2;
    if (isa == "avx512") return &gemm_table_avx512;
#endif
    return nullptr;
}

bool cpu_has(const std::string& isa) {
    if (isa == "generic") return true;
#if defined(BPNET_KERNELS_X86) && (defined(__GNUC__) || defined(__clang__))
    __builtin_cpu_init();
    if (isa == "avx2") return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (isa == "avx512")
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("fma");
#endif
    return false;
}

const GemmTable* best_table() {
    for (const char* isa : {"avx512", "avx2"})
        if (isa_available(isa)) return table_for(isa);
    return &gemm_table_generic;
}

const GemmTable* initial_table() {
    const GemmTable* best = best_table();
    const char* forced = std::getenv("BPNET_ISA");
    if (forced == nullptr || *forced == '\0') return best;
    if (isa_available(forced)) return table_for(forced);
    std::fprintf(stderr,
                 "bpnet: BPNET_ISA=%s is not available (expected generic, avx2 or avx512 that "
                 "this CPU supports); using %s\n",
                 forced, best->name);
    return best;
}

std::atomic<const GemmTable*>& current() {
    static std::atomic<const GemmTable*> t{initial_table()};
    return t;
}

}  // namespace

bool isa_available(const std::string& isa) { return table_for(isa) != nullptr && cpu_has(isa); }

const GemmTable& active_gemm_table() { return *current().load(std::memory_order_relaxed); }

void select_isa(const std::string& isa) {
    if (table_for(isa) == nullptr && isa != "avx2" && isa != "avx512")
        throw std::invalid_argument("select_isa: isa is '" + isa +
                                    "', expected generic, avx2 or avx512");
    if (!isa_available(isa))
        throw std::invalid_argument("select_isa: isa '" + isa +
                                    "' is not supported by this CPU or build");
    current().store(table_for(isa), std::memory_order_relaxed);
}

}  // namespace bpnet::kernels::detail

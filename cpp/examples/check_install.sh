#!/usr/bin/env bash
# Checks that bpnet installs as a C++ package and that the examples build against it:
#   1. configure, build and install the repository into a temporary prefix (no tests, no Python);
#   2. configure cpp/examples on their own in a fresh folder with CMAKE_PREFIX_PATH=<prefix>
#      (find_package(bpnet CONFIG REQUIRED)), build them;
#   3. run xor and linear_regression (each checks its own result) and load_model on the
#      model xor saved, and check what they print;
#   4. move the install tree elsewhere and build the examples against the moved copy as a
#      strict consumer (C++20, -Wall -Wextra -Wpedantic -Werror): the package is relocatable
#      and its headers compile warning-free in another standard;
#   5. check with nm what a shared libbpnet exports (cmake/check_exports.cmake): the public API
#      (BPNET_API), none of the internals. The installed library when it is shared; otherwise
#      the library alone is built once more with BUILD_SHARED_LIBS=ON (under a minute).
# Exits non-zero on any failure. Extra arguments go to the first configure, e.g.
#   cpp/examples/check_install.sh -DBPNET_OPENMP=OFF
#   cpp/examples/check_install.sh -DBUILD_SHARED_LIBS=ON
# Environment: BPNET_CHECK_DIR=<folder> keeps the work there (default: a temp folder, removed).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
if [[ -n "${BPNET_CHECK_DIR:-}" ]]; then
  tmp=$BPNET_CHECK_DIR
  mkdir -p "$tmp"
else
  tmp=$(mktemp -d "${TMPDIR:-/tmp}/bpnet-install-check.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
fi
generator=()
if command -v ninja > /dev/null; then generator=(-G Ninja); fi
jobs=${CMAKE_BUILD_PARALLEL_LEVEL:-2}

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'check_install: FAILED: %s\n' "$*" >&2; exit 1; }

step "configure, build and install bpnet into $tmp/prefix"
cmake -S "$repo" -B "$tmp/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DBPNET_TESTS=OFF -DBPNET_EXAMPLES=OFF -DBPNET_PYTHON=OFF -DBPNET_INSTALL=ON "$@"
cmake --build "$tmp/build" --parallel "$jobs"
cmake --install "$tmp/build" --prefix "$tmp/prefix"
config=$(find "$tmp/prefix" -name bpnetConfig.cmake | head -n 1)
[[ -n "$config" ]] || fail "no bpnetConfig.cmake under $tmp/prefix"
[[ -f "$(dirname "$config")/bpnetConfigVersion.cmake" ]] || fail "no bpnetConfigVersion.cmake"
[[ -f "$tmp/prefix/include/bpnet/bpnet.hpp" ]] || fail "no include/bpnet/bpnet.hpp"

step "build cpp/examples as a standalone project against the installed package"
cmake -S "$repo/cpp/examples" -B "$tmp/examples" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix"
cmake --build "$tmp/examples" --parallel "$jobs"

step "run xor"
"$tmp/examples/xor" --save "$tmp/xor.bpnet" | tee "$tmp/xor.txt" || fail "xor exited non-zero"
grep -q '^ok: every output within 0.1' "$tmp/xor.txt" || fail "xor did not print its ok line"

step "run linear_regression"
"$tmp/examples/linear_regression" | tee "$tmp/linreg.txt" || fail "linear_regression exited non-zero"
grep -q '^ok: largest difference' "$tmp/linreg.txt" || fail "linear_regression did not print its ok line"

step "run load_model on the model xor saved"
"$tmp/examples/load_model" "$tmp/xor.bpnet" 0 0 0 1 1 0 1 1 | tee "$tmp/load.txt" \
  || fail "load_model exited non-zero"
# The XOR truth table again, from the file: outputs within 0.1 of 0 1 1 0.
awk 'BEGIN { split("0 1 1 0", t) }
     { n++; d = $1 - t[n]; if (d < 0) d = -d; if (d >= 0.1) bad = 1 }
     END { exit (n == 4 && !bad) ? 0 : 1 }' "$tmp/load.txt" \
  || fail "load_model's predictions are not the XOR truth table"

step "move the prefix, build the examples against the moved copy as a strict C++20 consumer"
mv "$tmp/prefix" "$tmp/moved-prefix"
# Debug: GCC 12 at -O3 warns falsely (-Wrestrict, GCC bug 105329) inside libstdc++'s
# "literal" + std::string in C++20, which has nothing to do with bpnet's headers.
strict=(-DCMAKE_CXX_STANDARD=20 "-DCMAKE_CXX_FLAGS=-Wall -Wextra -Wpedantic -Werror")  # GCC/Clang
cmake -S "$repo/cpp/examples" -B "$tmp/examples-strict" "${generator[@]}" -DCMAKE_BUILD_TYPE=Debug \
  -DCMAKE_PREFIX_PATH="$tmp/moved-prefix" "${strict[@]}" || fail "the moved package does not configure"
cmake --build "$tmp/examples-strict" --parallel "$jobs" || fail "the examples do not build strictly against the moved package"
"$tmp/examples-strict/linear_regression" > /dev/null || fail "linear_regression (moved prefix) exited non-zero"

lib=$(find "$tmp/moved-prefix" -name 'libbpnet.so*' -type f | head -n 1)
if [[ -n "$lib" ]]; then
  step "check the symbols the installed shared library exports"
else
  step "build bpnet as a shared library, check the symbols it exports"
  cmake -S "$repo" -B "$tmp/shared" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DBPNET_TESTS=OFF -DBPNET_EXAMPLES=OFF -DBPNET_PYTHON=OFF -DBPNET_INSTALL=OFF "$@" \
    -DBUILD_SHARED_LIBS=ON > /dev/null
  cmake --build "$tmp/shared" --parallel "$jobs" --target bpnet
  lib=$(find "$tmp/shared" -maxdepth 1 -name 'libbpnet.so*' -type f | head -n 1)
  [[ -n "$lib" ]] || fail "no libbpnet.so in $tmp/shared (not an ELF platform?)"
fi
cmake -DLIBRARY="$lib" -DHEADERS="$repo/cpp/include/bpnet" -P "$repo/cmake/check_exports.cmake" \
  || fail "libbpnet.so exports internals or misses public symbols (see above)"

step "ok: bpnet installs, the examples build against it and print correct results, and a shared libbpnet exports its public API only"

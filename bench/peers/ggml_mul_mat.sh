#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# The peer a CPU user would pick instead of vprim's low-bit GEMMs: ggml's CPU backend (what
# llama.cpp runs). Builds ggml from a source folder you bring (e.g. the search tool's `fetch` of
# ggml-org/ggml, unpacked with `git archive`) into a build folder outside this project, then
# times MUL_MAT with ggml's own `test-backend-ops perf` at the shape it ships for this
# (4096 x 14336 weights, n = 1, 8, 512 columns), for MXFP4, Q8_0 and BF16 weights.
#
#   bench/peers/ggml_mul_mat.sh GGML_SOURCE [BUILD_DIR] [TYPES_REGEX] [N_REGEX]
#
# Run it on the machine and thread count of the vprim benchmark it is compared with
# (bench_v4's MXFP4 GEMMs and BM_dram_read), in the same session.
set -euo pipefail
src="${1:?usage: $0 GGML_SOURCE [BUILD_DIR] [TYPES_REGEX] [N_REGEX]}"
build="${2:-/tmp/vprim-peer-ggml-build}"
types="${3:-mxfp4|q8_0|bf16}"
cols="${4:-1|8|512}"
[ -f "$src/CMakeLists.txt" ] || { echo "no ggml source at $src (CMakeLists.txt missing)" >&2; exit 2; }
here="$(cd "$(dirname "$0")/../.." && pwd)"
case "$(cd "$build" 2>/dev/null && pwd || echo "$build")/" in
  "$here"/*) echo "the build folder must lie outside the project tree" >&2; exit 2 ;;
esac
generator=()
command -v ninja > /dev/null && generator=(-G Ninja)
cmake -S "$src" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON -DGGML_BUILD_TESTS=ON \
  -DGGML_BUILD_EXAMPLES=OFF > "$build.configure.log" 2>&1 || { tail -20 "$build.configure.log" >&2; exit 1; }
cmake --build "$build" --target test-backend-ops -j "${VPRIM_JOBS:-2}" > "$build.build.log" 2>&1 ||
  { tail -20 "$build.build.log" >&2; exit 1; }
bin="$(find "$build" -name test-backend-ops -type f -perm -u+x | head -1)"
echo "ggml $(git -C "$src" rev-parse --short HEAD 2>/dev/null || echo '(no git)'), $(nproc) threads"
"$bin" perf -o MUL_MAT -b CPU -p "type_a=($types),type_b=f32,m=4096,n=($cols),k=14336"

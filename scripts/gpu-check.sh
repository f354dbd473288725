#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# The checks of the CUDA backend that need a GPU:
#   scripts/gpu-check.sh STEP...   (no step: [build] test sanitize bench; build unless packed)
#   pack      (on a machine with nvcc, no GPU needed) build the GPU programs in build-gpu/ and
#             copy them with their libcudart into .gpu-prebuilt/ (ignored by git), so that a GPU
#             machine only runs them: carry .gpu-prebuilt there
#   build     (on the GPU machine, when nothing was packed) configure and build build-gpu/;
#             packages it lacks are unpacked from .gpu-deps/*.deb (scripts/gpu-deps.sh)
#   test      test_cuda_host, the ODR program, test_cuda_kernels and vprim_golden --backend cuda
#             over every bundled golden file; a GPU test that reports skipped (77) fails here
#   sanitize  compute-sanitizer memcheck, racecheck, synccheck and initcheck on test_cuda_kernels
#             (VPRIM_GPU_SANITIZERS names fewer, to fit a time limit)
#   bench     bench_cuda, then bench/cuda/torch_peers.py when python3 has CUDA torch
# The programs come from .gpu-prebuilt/ when it exists, else from build-gpu/. Logs go to
# $VPRIM_GPU_LOGS (default: $OUT when set, else build-gpu/logs). VPRIM_GPU_TEST_FILTER, a Catch2
# test spec, narrows test_cuda_kernels in `test` and `sanitize`. Warnings are not errors in
# `build`: CI's compilers judge those. (Each step checks its own commands: `set -e` does not
# reach into a function called from `||`.)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VPRIM_GPU_BUILD_DIR:-$root/build-gpu}
prebuilt=$root/.gpu-prebuilt
logs=${VPRIM_GPU_LOGS:-${OUT:-$build/logs}}
jobs=${VPRIM_JOBS:-$(nproc)}
programs=(tests/test_cuda_host tests/odr_two_units_cuda tests/test_cuda_kernels tools/vprim_golden bench/bench_cuda)
export VPRIM_TEST_DATA_DIR=$root/tests/data
mkdir -p "$logs"

# The path of a GPU program by its name.
program() {
  local p
  for p in "${programs[@]}"; do
    [ "$(basename "$p")" = "$1" ] || continue
    if [ -d "$prebuilt" ]; then echo "$prebuilt/$1"; else echo "$build/$p"; fi
  done
}

unpack_deps() {
  local prefix=$build/deps
  shopt -s nullglob
  local debs=("$root"/.gpu-deps/*.deb)
  [ ${#debs[@]} -gt 0 ] || return 0
  rm -rf "$prefix" && mkdir -p "$prefix"
  for deb in "${debs[@]}"; do dpkg-deb -x "$deb" "$prefix"; done
  echo "$prefix/usr"
}

step_build() {
  local prefix generator=() werror=${VPRIM_GPU_WERROR:-OFF}
  prefix=$(unpack_deps)
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_ARCHITECTURES="${VPRIM_CUDA_ARCH:-90a}" -DVPRIM_ENABLE_CUDA=ON -DVPRIM_WERROR="$werror" \
    -DVPRIM_BUILD_EXAMPLES=OFF -DCMAKE_DISABLE_FIND_PACKAGE_OpenBLAS=ON -DCMAKE_DISABLE_FIND_PACKAGE_dnnl=ON \
    ${prefix:+-DCMAKE_PREFIX_PATH="$prefix"} >"$logs/configure.txt" 2>&1 || { tail -30 "$logs/configure.txt"; return 1; }
  grep -q "^CMAKE_CUDA_COMPILER:.*nvcc" "$build/CMakeCache.txt" || { echo "gpu-check: nvcc was not enabled" >&2; return 1; }
  local p targets=()
  for p in "${programs[@]}"; do targets+=("$(basename "$p")"); done
  cmake --build "$build" -j "$jobs" --target "${targets[@]}" 2>&1 | tee "$logs/build.txt" | grep -v "^\[" || true
  for p in "${programs[@]}"; do [ -x "$build/$p" ] || { echo "gpu-check: $p was not built" >&2; return 1; }; done
}

step_pack() {
  VPRIM_GPU_WERROR=ON step_build || return 1
  rm -rf "$prebuilt" && mkdir -p "$prebuilt" || return 1
  local p cudart
  for p in "${programs[@]}"; do cp "$build/$p" "$prebuilt/" || return 1; done
  # the runtime it was linked against, so that the GPU machine's own (or none) does not matter
  cudart=$(ldd "$build/tests/test_cuda_kernels" | awk '/libcudart/ {print $3}')
  [ -f "$cudart" ] && cp -L "$cudart" "$prebuilt/" || { echo "gpu-check: libcudart of the build not found" >&2; return 1; }
  du -sh "$prebuilt"
}

# Runs a GPU program, its output to the terminal and a log; exit 77 (skipped: no device) fails.
run_gpu() {
  local log=$1 rc=0
  shift
  "$@" 2>&1 | tee "$logs/$log" || rc=$?
  [ $rc -eq 0 ] || echo "gpu-check: $(basename "$1") exited $rc$([ $rc -eq 77 ] && echo ' (no device visible)')" >&2
  return $rc
}

step_test() {
  local status=0 filter=()
  [ -n "${VPRIM_GPU_TEST_FILTER:-}" ] && filter=("$VPRIM_GPU_TEST_FILTER")
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee "$logs/machine.txt" || true
  run_gpu test_cuda_host.txt "$(program test_cuda_host)" || status=1
  run_gpu odr.txt "$(program odr_two_units_cuda)" || status=1
  run_gpu test_cuda_kernels.txt "$(program test_cuda_kernels)" "${filter[@]}" || status=1
  run_gpu golden_cuda.txt "$(program vprim_golden)" --backend cuda "$root"/tests/data/*.safetensors || status=1
  ! grep -q "FAIL " "$logs/golden_cuda.txt" || { echo "gpu-check: vprim_golden --backend cuda reported FAIL" >&2; status=1; }
  return $status
}

step_sanitize() {
  local tool status=0 filter=() sanitizer
  [ -n "${VPRIM_GPU_TEST_FILTER:-}" ] && filter=("$VPRIM_GPU_TEST_FILTER")
  sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null) ||
    { echo "gpu-check: compute-sanitizer not found" >&2; return 1; }
  for tool in ${VPRIM_GPU_SANITIZERS:-memcheck racecheck synccheck initcheck}; do
    echo "== compute-sanitizer --tool $tool"
    "$sanitizer" --tool "$tool" --error-exitcode 99 "$(program test_cuda_kernels)" "${filter[@]}" \
      >"$logs/sanitize_$tool.txt" 2>&1 || { echo "gpu-check: $tool failed" >&2; status=1; }
    tail -4 "$logs/sanitize_$tool.txt"
  done
  return $status
}

step_bench() {
  run_gpu bench_cuda.txt "$(program bench_cuda)" || return 1
  if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    PYTHONUNBUFFERED=1 python3 "$root/bench/cuda/torch_peers.py" 2>&1 | tee "$logs/torch_peers.txt"
  else
    echo "gpu-check: python3 has no CUDA torch; torch_peers.py not run" | tee "$logs/torch_peers.txt"
  fi
}

[ -d "$prebuilt" ] && export LD_LIBRARY_PATH=$prebuilt${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
steps=("$@")
if [ ${#steps[@]} -eq 0 ]; then
  steps=(test sanitize bench)
  [ -d "$prebuilt" ] || steps=(build "${steps[@]}")
fi
status=0
for step in "${steps[@]}"; do
  case $step in
    pack|build|test|sanitize|bench) echo "== gpu-check: $step"; "step_$step" || status=1 ;;
    *) echo "gpu-check: unknown step '$step' (pack, build, test, sanitize, bench)" >&2; exit 2 ;;
  esac
done
exit $status

#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# The checks of the CUDA backend that need a GPU, planned to return their verdicts from one short
# lease (a few minutes of device time, at most 10 a command):
#
#   scripts/gpu-check.sh pack   here, with nvcc and no GPU: build the GPU programs, copy them with
#                               their libcudart into .gpu-prebuilt/ (git-ignored), check that the
#                               tree plus the pack stays under 40 MiB
#   scripts/gpu-check.sh plan   the dry run: the steps in order, with their time limits
#   scripts/gpu-check.sh run    on the lent machine (.gpu-prebuilt/ carried): the plan, most
#                               important verdicts first, within VPRIM_GPU_BUDGET_S (default 480)
#   scripts/gpu-check.sh build  on a GPU machine without a pack: build build-gpu/ from .gpu-deps/
#
# The plan: device facts; the host half and the ODR program; every test case of
# test_cuda_kernels in its own process (GEMM engines first), so a fault cannot poison the cases
# after it; vprim_golden --backend cuda; bench_cuda and the torch peers; compute-sanitizer,
# scoped (memcheck on the kernel families, racecheck on the shared-memory kernels that use
# neither TMA nor wgmma, whose async proxy it does not model, synccheck on attention and top-k).
# Each step runs under `timeout` with its own limit, writes its own log as it goes (line-buffered,
# straight to the file), and appends one line to summary.txt:
#   PASS|FAIL|TIMEOUT|SKIP  <step>  <seconds>s  <log or reason>
# A step whose limit no longer fits in what is left of the budget is skipped, and says so.
# Logs go to $VPRIM_GPU_LOGS (default $OUT when set, else build-gpu/logs). VPRIM_GPU_PLAN names
# a file of "name|limit_s|command" lines to run instead of the plan (the plan's own test uses it).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
self="$root/scripts/gpu-check.sh"
build=${VPRIM_GPU_BUILD_DIR:-$root/build-gpu}
prebuilt=$root/.gpu-prebuilt
logs=${VPRIM_GPU_LOGS:-${OUT:-$build/logs}}
jobs=${VPRIM_JOBS:-$(nproc)}
budget=${VPRIM_GPU_BUDGET_S:-480}
case_limit=${VPRIM_GPU_CASE_S:-90}
pack_limit_mib=40
programs=(tests/test_cuda_host tests/odr_two_units_cuda tests/test_cuda_kernels tools/vprim_golden bench/bench_cuda)
export VPRIM_TEST_DATA_DIR=$root/tests/data

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
  mkdir -p "$logs"
  prefix=$(unpack_deps)
  command -v ninja >/dev/null && generator=(-G Ninja)
  cmake -S "$root" -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_CUDA_ARCHITECTURES="${VPRIM_CUDA_ARCH:-90a}" -DVPRIM_ENABLE_CUDA=ON -DVPRIM_WERROR="$werror" \
    -DVPRIM_BUILD_EXAMPLES=OFF -DCMAKE_DISABLE_FIND_PACKAGE_OpenBLAS=ON -DCMAKE_DISABLE_FIND_PACKAGE_dnnl=ON \
    ${prefix:+-DCMAKE_PREFIX_PATH="$prefix"} >"$logs/configure.txt" 2>&1 || { tail -30 "$logs/configure.txt"; return 1; }
  grep -q "^CMAKE_CUDA_COMPILER:.*nvcc" "$build/CMakeCache.txt" || { echo "gpu-check: nvcc was not enabled" >&2; return 1; }
  local p targets=()
  for p in "${programs[@]}"; do targets+=("$(basename "$p")"); done
  cmake --build "$build" -j "$jobs" --target "${targets[@]}" >"$logs/build.txt" 2>&1 || { tail -30 "$logs/build.txt"; return 1; }
  for p in "${programs[@]}"; do [ -x "$build/$p" ] || { echo "gpu-check: $p was not built" >&2; return 1; }; done
}

# Bytes of what the device tool carries: tracked and untracked-not-ignored files, plus the pack.
carried_bytes() {
  local tree pack
  tree=$(cd "$root" && git ls-files -co --exclude-standard -z | xargs -0 -r stat -c %s -- 2>/dev/null | awk '{s += $1} END {print s + 0}')
  pack=$(du -sb "$prebuilt" 2>/dev/null | awk '{print $1}')
  echo $((tree + ${pack:-0}))
}

step_pack() {
  VPRIM_GPU_WERROR=ON step_build || return 1
  rm -rf "$prebuilt" && mkdir -p "$prebuilt" || return 1
  local p cudart
  for p in "${programs[@]}"; do cp "$build/$p" "$prebuilt/" || return 1; done
  # the runtime it was linked against, so that the GPU machine's own (or none) does not matter
  cudart=$(ldd "$build/tests/test_cuda_kernels" | awk '/libcudart/ {print $3}')
  [ -f "$cudart" ] && cp -L "$cudart" "$prebuilt/" || { echo "gpu-check: libcudart of the build not found" >&2; return 1; }
  # the runtime's version, for the device step's driver check
  nvcc --version | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p' >"$prebuilt/cuda_runtime_version.txt"
  local bytes
  bytes=$(carried_bytes)
  awk -v b="$bytes" -v l="$pack_limit_mib" 'BEGIN {printf "gpu-check: the tree plus .gpu-prebuilt/ is %.1f MiB (limit %d MiB)\n", b / 1048576, l}'
  [ "$bytes" -le $((pack_limit_mib * 1048576)) ] || { echo "gpu-check: too large to carry" >&2; return 1; }
}

# Device facts: the GPU, the driver, and whether the driver runs the packed runtime.
step_device() {
  command -v nvidia-smi >/dev/null || { echo "no nvidia-smi: no NVIDIA driver on this machine"; return 1; }
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv || return 1
  local driver_cuda runtime
  driver_cuda=$(nvidia-smi | sed -n 's/.*CUDA Version: *\([0-9]*\.[0-9]*\).*/\1/p' | head -1)
  runtime=$(cat "$prebuilt/cuda_runtime_version.txt" 2>/dev/null || nvcc --version 2>/dev/null | sed -n 's/.*release \([0-9]*\.[0-9]*\).*/\1/p')
  echo "driver supports CUDA ${driver_cuda:-?}; the programs use the CUDA ${runtime:-?} runtime"
  if [ -n "$driver_cuda" ] && [ -n "$runtime" ] &&
     [ "$(printf '%s\n%s\n' "$runtime" "$driver_cuda" | sort -V | head -1)" != "$runtime" ]; then
    echo "DRIVER TOO OLD: CUDA $runtime programs need a driver for CUDA >= $runtime (this one: $driver_cuda)"
    return 1
  fi
}

# A Catch2 program that must run on the device: exit 77 (skipped, no device) is a failure here.
gpu_program() {
  local rc=0
  "$@" || rc=$?
  [ $rc -ne 77 ] || echo "gpu-check: $(basename "$1") skipped itself (77): it saw no device"
  return $rc
}

# vprim_golden over every bundled file; a FAIL line fails the step.
step_golden() {
  local out rc=0
  out=$(mktemp)
  gpu_program "$(program vprim_golden)" --backend cuda "$root"/tests/data/*.safetensors | tee "$out" || rc=$?
  ! grep -q "^FAIL " "$out" || rc=1
  rm -f "$out"
  return $rc
}

step_torch() {
  if python3 -c "import torch; assert torch.cuda.is_available()" 2>/dev/null; then
    PYTHONUNBUFFERED=1 python3 "$root/bench/cuda/torch_peers.py"
  else
    echo "python3 has no CUDA torch here: the torch peers were not run"
    return 3  # reported as SKIP
  fi
}

step_sanitize() {
  local tool=$1 spec=$2 sanitizer
  sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda/bin/compute-sanitizer 2>/dev/null) ||
    { echo "compute-sanitizer not found"; return 3; }
  "$sanitizer" --tool "$tool" --error-exitcode 99 "$(program test_cuda_kernels)" "$spec"
}

# The kernel test cases, GEMM engines first; one line each.
kernel_cases() {
  local kernels
  kernels=$(program test_cuda_kernels)
  [ -x "$kernels" ] || return 0
  # Catch2 lists the names one a line (no device needed) and exits with their count.
  { "$kernels" --list-test-names-only 2>/dev/null || true; } | sed 's/^ *//; /^$/d; /^[0-9]* test cases*$/d' | awk '/GEMM|gemm/ {print; next} {rest[++n] = $0} END {for (i = 1; i <= n; ++i) print rest[i]}'
}

# The plan: "name|limit_s|command" lines, most important verdicts first.
make_plan() {
  if [ -n "${VPRIM_GPU_PLAN:-}" ]; then
    grep -v '^[[:space:]]*\(#\|$\)' "$VPRIM_GPU_PLAN"
    return
  fi
  echo "device|30|'$self' _step device"
  echo "host|60|'$(program test_cuda_host)'"
  echo "odr|30|'$(program odr_two_units_cuda)'"
  local name listed=0
  while IFS= read -r name; do
    listed=$((listed + 1))
    echo "case: $name|$case_limit|'$self' _step case $listed"
  done < <(kernel_cases)
  [ $listed -gt 0 ] || echo "kernel cases|$case_limit|echo 'test_cuda_kernels is not built here: its cases are listed on the machine that has it'; exit 3"
  echo "golden|120|'$self' _step golden"
  echo "bench|180|'$self' _step gpu_program '$(program bench_cuda)'"
  echo "torch peers|150|'$self' _step torch"
  echo "memcheck|180|'$self' _step sanitize memcheck '[cuda]'"
  echo "racecheck|180|'$self' _step sanitize racecheck '[norm],[topk],[attention],[indexer],[compressor],[router],[embedding]'"
  echo "synccheck|120|'$self' _step sanitize synccheck '[attention],[topk]'"
}

# A file name for a step's log.
log_name() { echo "$1" | tr -c 'A-Za-z0-9._-' '_' | cut -c1-80 | sed 's/_*$//; s/$/.txt/'; }

step_plan() {
  local n=0 total=0 name limit cmd
  echo "gpu-check plan (budget ${budget}s; a step runs only while its limit fits in what is left):"
  while IFS='|' read -r name limit cmd; do
    n=$((n + 1))
    total=$((total + limit))
    printf '%3d. %-60s %4ds  %s\n' "$n" "$name" "$limit" "$cmd"
  done < <(make_plan)
  echo "$n steps, ${total}s of limits in all"
}

step_run() {
  mkdir -p "$logs"
  local summary=$logs/summary.txt start=$SECONDS status=0 name limit cmd
  : >"$summary"
  [ -d "$prebuilt" ] && export LD_LIBRARY_PATH=$prebuilt${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
  local plan
  plan=$(make_plan)
  while IFS='|' read -r name limit cmd; do
    local left=$((budget - (SECONDS - start))) log verdict rc=0 t0=$SECONDS
    log=$(log_name "$name")
    if [ "$limit" -gt "$left" ]; then
      printf 'SKIP     %-60s %4ss  budget: %ds left, the step needs up to %ds\n' "$name" 0 "$left" "$limit" | tee -a "$summary"
      continue
    fi
    echo "== $name (limit ${limit}s, ${left}s of the budget left)"
    timeout --kill-after=5 "$limit" stdbuf -oL -eL bash -c "$cmd" >"$logs/$log" 2>&1 </dev/null || rc=$?
    case $rc in
      0) verdict=PASS ;;
      124|137) verdict=TIMEOUT ;;
      3) verdict=SKIP ;;
      *) verdict=FAIL ;;
    esac
    [ "$verdict" = PASS ] || [ "$verdict" = SKIP ] || status=1
    printf '%-8s %-60s %4ss  %s%s\n' "$verdict" "$name" "$((SECONDS - t0))" "$log" \
      "$([ "$verdict" = FAIL ] && echo " (exit $rc)")" | tee -a "$summary"
    tail -3 "$logs/$log" | sed 's/^/    /'
  done <<<"$plan"
  echo "gpu-check: $(grep -c '^PASS' "$summary") passed, $(grep -c -v '^PASS\|^SKIP' "$summary") failed, $(grep -c '^SKIP' "$summary") skipped; summary in $summary"
  return $status
}

# Steps that run inside `timeout` (a function cannot be timed directly).
if [ "${1:-}" = _step ]; then
  shift
  what=$1
  shift
  case $what in
    device) step_device ;;
    golden) step_golden ;;
    torch) step_torch ;;
    sanitize) step_sanitize "$@" ;;
    gpu_program) gpu_program "$@" ;;
    case)  # the n-th case of kernel_cases, by its name with Catch2's special characters escaped
      name=$(kernel_cases | sed -n "${1}p")
      [ -n "$name" ] || { echo "gpu-check: no kernel case $1"; exit 1; }
      gpu_program "$(program test_cuda_kernels)" "$(printf '%s' "$name" | sed 's/[][,\\*~"]/\\&/g')" ;;
    *) echo "gpu-check: unknown inner step '$what'" >&2; exit 2 ;;
  esac
  exit $?
fi

[ $# -gt 0 ] || { sed -n '5,16p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
status=0
for step in "$@"; do
  case $step in
    pack|build|plan|run) "step_$step" || status=1 ;;
    *) echo "gpu-check: unknown step '$step' (pack, plan, run, build)" >&2; exit 2 ;;
  esac
done
exit $status

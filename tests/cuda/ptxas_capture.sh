#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# ptxas_capture.sh REPORT_DIR COMPILER ARGS...: a compiler launcher (CMake's
# CUDA_COMPILER_LAUNCHER) for units compiled with -Xptxas=-v. It runs the compile, keeps ptxas's
# per-kernel resource lines in REPORT_DIR/<object>.ptxas for scripts/cuda-resources.sh, and
# passes every other line of the compiler's output through.
set -uo pipefail
dir=$1
shift
out=unit
prev=
for a in "$@"; do
  [ "$prev" = -o ] && out=$(basename "$a")
  prev=$a
done
mkdir -p "$dir"
log=$(mktemp)
"$@" 2>"$log"
rc=$?
grep -E '^ptxas info|^ +[0-9]+ bytes stack frame' "$log" >"$dir/$out.ptxas" || true
grep -v -E '^ptxas info|^ +[0-9]+ bytes stack frame' "$log" >&2 || true
rm -f "$log"
exit $rc

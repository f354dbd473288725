#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# cuda-resources.sh REPORT_DIR: the resources of every CUDA kernel, from the ptxas reports that
# tests/cuda/ptxas_capture.sh keeps (REPORT_DIR/*.ptxas), and the checks a kernel must pass to
# launch as written:
#  - static shared memory <= 48 KB (more must be dynamic, with the attribute below);
#  - no register spills in vprim's GEMM, attention and top-k kernels;
#  - every launch with dynamic shared memory either raises cudaFuncAttributeMaxDynamicSharedMemorySize
#    for its kernel or is one whose bound test_cuda_host proves below 48 KB (compressor, router,
#    sparse attention); test_cuda_host also proves every raised bound <= 227 KB.
# Prints one row per kernel (registers, static shared memory, spill bytes) and exits 1 on a breach.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:?usage: cuda-resources.sh REPORT_DIR}
shopt -s nullglob
reports=("$dir"/*.ptxas)
[ ${#reports[@]} -gt 0 ] || { echo "cuda-resources: no ptxas reports in $dir" >&2; exit 1; }
status=0
table=$(cat "${reports[@]}" | awk '
  /Compiling entry function/ { match($0, /\x27[^\x27]+\x27/); fn = substr($0, RSTART + 1, RLENGTH - 2); next }
  /bytes stack frame/ { spill[fn] = $5 + $9; next }
  /Used [0-9]+ registers/ {
    match($0, /Used [0-9]+ registers/); regs = substr($0, RSTART + 5, RLENGTH - 15)
    smem = 0
    if (match($0, /[0-9]+ bytes smem/)) smem = substr($0, RSTART, RLENGTH - 11)
    if (!(fn in seen)) { seen[fn] = 1; print fn "\t" regs "\t" smem "\t" (fn in spill ? spill[fn] : 0) }
  }' | sort -u)
printf '%-100s %5s %12s %12s\n' kernel regs "static smem" "spill bytes"
while IFS=$'\t' read -r mangled regs smem spill; do
  name=$(echo "$mangled" | c++filt | cut -c1-100)
  note=
  if [ "$smem" -gt 49152 ]; then note=" STATIC SHARED MEMORY ABOVE 48 KB"; status=1; fi
  if [ "$spill" -gt 0 ] && echo "$name" | grep -q '^vprim::' &&
     echo "$name" | grep -qiE 'gemm|attention|topk|top_k|flash'; then
    note="$note SPILLS"
    status=1
  fi
  printf '%-100s %5s %12s %12s%s\n' "$name" "$regs" "$smem" "$spill" "$note"
done <<<"$table"
# Dynamic shared memory: each launch's kernel, and whether its file raises the limit for it.
proved_small="compress_kernel router_kernel sparse_attention_kernel"
while IFS= read -r site; do
  file=${site%%:*}
  kernel=$(echo "$site" | sed -E 's/.*[[:space:]:]([A-Za-z_][A-Za-z0-9_]*)(<[^<>]*>)?<<<.*/\1/')
  # the launch's third argument, once parenthesised groups (dim3(x, y), casts) are taken out
  smem=$(echo "$site" | sed -E 's/.*<<<(.*)>>>.*/\1/; :a; s/\([^()]*\)//; ta' | cut -d, -f3 | tr -d ' ')
  [ "$smem" = 0 ] && continue
  if grep -q "cudaFuncSetAttribute([^,]*$kernel" "$file"; then
    echo "dynamic: $kernel raises its limit ($(basename "$file"))"
  elif echo " $proved_small " | grep -q " $kernel "; then
    echo "dynamic: $kernel stays below 48 KB (bound checked by test_cuda_host)"
  else
    echo "dynamic: $kernel in $(basename "$file") asks for '$smem' bytes with no attribute and no proven bound"
    status=1
  fi
done < <(grep -rn '<<<' "$root/include/vprim/cuda" | grep -v '^\s*//')
[ $status -eq 0 ] && echo "cuda-resources: every kernel within its limits" || echo "cuda-resources: limits breached (see above)"
exit $status

#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# The layers of include/vprim, checked: core -> policy -> kernels (contracts) -> cpu/ and cuda/
# (twins) -> model/ (assembly). Prints every violation with its file and line; exit 1 if any.
#   1. kernels/ includes only core/, policy/ and kernels/.
#   2. cpu/ and cuda/ include neither each other nor model/, io/ or primitives/ (kernels take raw
#      memory; image/ holds the backend-neutral pixel rules both pixel paths follow).
#   3. checkpoint tensor names (string literals such as "q_a_proj", ".weight", "tid2eid") appear
#      in model/ alone.
set -u
root="${1:-$(cd "$(dirname "$0")/../.." && pwd)}"
inc="$root/include/vprim"
bad=0
report() { echo "layering: $1"; bad=1; }

while IFS= read -r hit; do report "kernels/ reaches past the contracts: $hit"; done < <(
  grep -rnE '#include "vprim/(cpu|cuda|model|image|io|primitives)/' "$inc/kernels")
for backend in cpu cuda; do
  while IFS= read -r hit; do report "$backend/ includes another layer's header: $hit"; done < <(
    grep -rnE '#include "vprim/(cpu|cuda|model|io|primitives)/' "$inc/$backend" | grep -v "#include \"vprim/$backend/")
done
names='"[^"]*(\.weight|\.bias|_proj|embed_tokens|lm_head|hc_fn|hc_base|hc_scale|tid2eid|e_score_correction_bias|bias_vl|position_bias|sinks|_layernorm)[^"]*"'
while IFS= read -r hit; do report "a checkpoint tensor is named outside model/: $hit"; done < <(
  grep -rnE "$names" "$inc" --include='*.hpp' --include='*.cuh' | grep -v "^$inc/model/")
if [ "$bad" -eq 0 ]; then echo "layering: kernels, cpu/, cuda/ and model/ keep their places"; fi
exit "$bad"

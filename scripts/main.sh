#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# The main job: builds the vision-primitive model example and runs the trained shapes model
# (examples/vision_primitive_model/shapes_model: DeepSeek-ViT + aligner + a DeepSeek-V4 decoder
# with sliding/CSA/HCA layers, MoE and mHC, trained by tools/shapes/train.py, shipped in the
# release's layout) on its bundled scene: the transcript with its boxes, the count, and the
# overlay PNG with the boxes drawn. Any arguments go to that run instead, e.g.
#   ./scripts/main.sh --image my_shapes.png --prompt "How many red circles?" [--json]
# Without arguments it then also runs the bundled peer model against the tokens transformers
# generated (--golden), the release miniature (a checkpoint written in DeepSeek-V4-Flash-Vision-
# Exp's own layout: release-key config.json, shards, FP8/MXFP4 weights, tokenizer.json), and
# prints the KV budget of the released model from its own config.json. PNGs go into the build
# folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VPRIM_BUILD_DIR:-$root/build}
jobs=${VPRIM_JOBS:-2}
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs" --target vision_primitive_model kv_budget
model="$build/examples/vision_primitive_model"
if [ $# -gt 0 ]; then
  exec "$model" --overlay "$build/overlay.png" "$@"
fi
"$model" --overlay "$build/overlay_shapes.png"
echo
"$model" --golden --overlay "$build/overlay_bundled.png"
echo
"$model" --checkpoint "$root/tests/data/release_mini" --tokens 8 \
  --image "$root/examples/vision_primitive_model/sample_scene.png" --prompt "How many shapes?" \
  --overlay "$build/overlay_release_miniature.png"
echo
"$build/examples/kv_budget" --config "$root/tests/data/release/flash_vision_exp_config.json" 756x756 800x800

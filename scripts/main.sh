#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# The main job: builds the vision-primitive model example and runs it on the bundled image
# tensor (checking its tokens against the ones transformers generated), then on the bundled PNG
# scene, then on the release miniature (a checkpoint written in DeepSeek-V4-Flash-Vision-Exp's
# own layout: release-key config.json, shards, FP8/MXFP4 weights, tokenizer.json) with a text
# prompt, then prints the KV budget of the released model from its own config.json. The overlay
# PNGs go into the build folder.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VPRIM_BUILD_DIR:-$root/build}
jobs=${VPRIM_JOBS:-2}
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs" --target vision_primitive_model kv_budget
"$build/examples/vision_primitive_model" --overlay "$build/overlay_bundled.png"
echo
"$build/examples/vision_primitive_model" --image "$root/examples/vision_primitive_model/sample_scene.png" \
  --overlay "$build/overlay_sample_scene.png"
echo
"$build/examples/vision_primitive_model" --checkpoint "$root/tests/data/release_mini" \
  --image "$root/examples/vision_primitive_model/sample_scene.png" --prompt "How many shapes?" \
  --overlay "$build/overlay_release_miniature.png"
echo
"$build/examples/kv_budget" --config "$root/tests/data/release/flash_vision_exp_config.json" 756x756 800x800

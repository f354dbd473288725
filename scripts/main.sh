#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# The main job: builds the vision-primitive model example and runs it on the bundled image
# tensor (checking its tokens against the ones transformers generated), then on the bundled PNG
# scene, then prints the KV budget of the released model for a few image sizes. The overlay
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
"$build/examples/kv_budget" 756x756 800x800

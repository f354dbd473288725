#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# Scores the shipped shapes model, run by vprim's C++ (the vision_primitive_model example), on
# fresh scenes from the task's generator (tools/shapes, seed 7001 unless given: not a training
# seed): exact count, and the share of true shapes matched by a predicted box with IoU >= 0.5.
#   ./scripts/eval-shapes.sh [SCENES=500] [SEED=7001]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VPRIM_BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh"
if ! /usr/bin/python3 -c "import numpy" 2>/dev/null; then
  if [ "$(id -u)" -ne 0 ]; then echo "eval-shapes: needs python3-numpy (apt-get install python3-numpy)" >&2; exit 1; fi
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-numpy
fi
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "${VPRIM_JOBS:-2}" --target vision_primitive_model
cd "$root/tools/shapes"
/usr/bin/python3 evaluate.py --cpp "$build/examples/vision_primitive_model" --scenes "${1:-500}" --seed "${2:-7001}"

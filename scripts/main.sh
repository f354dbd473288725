#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# The main job. Until the full-model example lands, it builds the golden checker and re-checks
# vprim against every bundled golden file (peer outputs of transformers, PIL and torch).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VPRIM_BUILD_DIR:-$root/build}
jobs=${VPRIM_JOBS:-2}
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs" --target vprim_golden
"$build/tools/vprim_golden" "$root"/tests/data/*.safetensors

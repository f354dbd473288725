#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# Installs what is missing, configures, builds with VPRIM_JOBS (default 2) and runs ctest.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VPRIM_BUILD_DIR:-$root/build}
jobs=${VPRIM_JOBS:-2}
"$root/scripts/install-deps.sh"
cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$build" -j "$jobs"
cd "$build"
ctest --output-on-failure -j "$jobs"

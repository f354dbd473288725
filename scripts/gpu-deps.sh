#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# Run here, on a Debian 12 machine with apt: downloads the header and benchmark packages that a
# GPU machine without package access lacks into .gpu-deps/ (ignored by git, about 0.8 MB), for
# scripts/gpu-check.sh to unpack there. Carry .gpu-deps along with the working tree.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dest=$root/.gpu-deps
packages=(libxsimd-dev xtl-dev catch2 libbenchmark-dev libbenchmark1debian)
rm -rf "$dest" && mkdir -p "$dest"
cd "$dest"
apt-get download "${packages[@]}"
ls -l "$dest"

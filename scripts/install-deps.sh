#!/usr/bin/env bash
# SPDX-FileCopyrightText: 2026 vprim developers
# SPDX-License-Identifier: Apache-2.0
# Installs the Debian 12 packages vprim's build, tests and examples need. As root it installs
# what is missing; otherwise it prints the exact apt-get line and fails.
set -euo pipefail

packages=(
  cmake ninja-build g++ clang libclang-rt-14-dev   # toolchain; clang builds the libFuzzer harnesses
  libxsimd-dev xtl-dev                             # vprim's header dependency
  catch2 libbenchmark-dev libstb-dev               # tests, benchmarks, image files
  libopenblas-dev libdnnl-dev libeigen3-dev        # peers the benchmarks compare against
  ocl-icd-opencl-dev                               # (Debian's dnnl CMake config requires OpenCL)
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
line="apt-get update && apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "vprim needs these Debian packages; run as root:" >&2
  echo "  $line" >&2
  exit 1
fi
echo "vprim: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"

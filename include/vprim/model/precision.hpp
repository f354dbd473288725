// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file precision.hpp
//! How a Linear layer stores its weights: fp32, or bf16 with fp32 accumulation (half the bytes;
//! the AVX512-BF16 dot product where the CPU has it).

#include <cstdint>

#include "vprim/core/config.hpp"

VPRIM_NAMESPACE_BEGIN

enum class weight_precision : std::uint8_t { float32, bfloat16 };

VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file device_weights.cuh
//! Checkpoint weights on the device: read through a weight_source (which checks the name and the
//! shape, and names what is wrong), then uploaded in fp32 or rounded to bf16.

#include <string>
#include <vector>

#include "vprim/cuda/device_buffer.cuh"
#include "vprim/model/weights.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

[[nodiscard]] inline result<device_buffer<float>> load_weight(const weight_source& source, const std::string& name,
                                                              const std::vector<index_t>& shape) {
  auto v = source(name, shape);
  if (!v) return v.err();
  return device_buffer<float>::upload(*v, name);
}

[[nodiscard]] inline result<device_buffer<__nv_bfloat16>> load_weight_bf16(const weight_source& source, const std::string& name,
                                                                           const std::vector<index_t>& shape) {
  auto v = source(name, shape);
  if (!v) return v.err();
  return upload_bf16(*v, name);
}

}  // namespace cuda
VPRIM_NAMESPACE_END

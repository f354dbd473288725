// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file tensor_spec.hpp
//! A checkpoint tensor as a loader asks for it: its name and the shape the config implies. The
//! tables of the decoder (v4/tensor_table.hpp) and of the towers (tower_tensor_table.hpp) are
//! built from these, and the CPU and CUDA loaders read the same tables.

#include <string>
#include <vector>

#include "vprim/core/tensor_view.hpp"

VPRIM_NAMESPACE_BEGIN

struct tensor_spec {
  std::string name;
  std::vector<index_t> shape;
};

//! A Linear layer: `<name>.weight` [out, in] (or the same numbers in `stored`'s shape, like a
//! Conv3d patch embedding), and `<name>.bias` [out] when `bias`.
struct linear_spec {
  std::string name;
  index_t out = 0, in = 0;
  bool bias = false;
  std::vector<index_t> stored = {};
  [[nodiscard]] std::string weight() const { return name + ".weight"; }
  [[nodiscard]] std::vector<index_t> weight_shape() const { return stored.empty() ? std::vector<index_t>{out, in} : stored; }
};

VPRIM_NAMESPACE_END

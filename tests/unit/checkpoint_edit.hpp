// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Test helper: a copy of a checkpoint with some tensors edited or dropped, to check how loaders
// report bad checkpoints.
#include <functional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "vprim/io/safetensors.hpp"

namespace vprim_test {

// edit(name, shape, bytes) may change the tensor in place; returning false drops it.
inline vprim::safetensors_file rewrite(const vprim::safetensors_file& f,
                                       const std::function<bool(const std::string&, std::vector<vprim::index_t>&,
                                                                std::vector<std::byte>&)>& edit) {
  vprim::safetensors_writer w;
  for (const auto& [k, v] : f.metadata()) w.add_metadata(k, v);
  for (const auto& e : f.tensors()) {
    auto shape = e.shape;
    std::vector<std::byte> bytes(f.bytes(e).begin(), f.bytes(e).end());
    if (!edit(e.name, shape, bytes)) continue;
    REQUIRE(w.add(e.name, e.type, shape, bytes) == vprim::status::ok);
  }
  auto out = vprim::safetensors_file::parse(w.serialize());
  REQUIRE(out);
  return std::move(*out);
}

}  // namespace vprim_test

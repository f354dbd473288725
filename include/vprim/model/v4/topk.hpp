// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file topk.hpp
//! Top-k for the model's own use (router, indexer, tests): the kernel of cpu/topk.hpp with a
//! workspace of its own, and the tie report the golden checks use.

#include <cstdint>
#include <optional>
#include <vector>

#include "vprim/cpu/topk.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

//! Indices of the k largest values, descending. Tie rule (kernels/topk.hpp): among equal values
//! the lower index comes first and is chosen first, so an exact tie across the k-th/(k+1)-th
//! place keeps the lower indices (torch.topk gives no such guarantee: boundary_tie() tells a
//! caller when its choice was one of several equally right ones). NaN ranks below every number,
//! as in the CUDA twin. Allocates its result and workspace: hot paths call cpu::top_k.
template <class Arch>
[[nodiscard]] std::vector<std::int64_t> top_k_indices(Arch arch, const float* values, std::size_t n, std::size_t k) {
  std::vector<std::int64_t> out(std::min(k, n));
  const kernels::topk_args a{values, n, k, out.data()};
  workspace_memory memory(kernels::topk_workspace(a).bytes);
  workspace_arena ws(memory);
  if (cpu::top_k(arch, a, ws) != status::ok) out.clear();
  return out;
}

//! An exact tie at the boundary of a top-k choice: `value` is the k-th largest value, held by
//! `chosen` of the chosen indices and `left_out` of the others.
struct topk_boundary_tie {
  float value = 0.0f;
  std::size_t chosen = 0, left_out = 0;
};

//! Whether the choice `best` (top_k_indices of values[0, n), descending) cut through a run of
//! equal values, i.e. another choice of the same k values was equally right.
[[nodiscard]] inline std::optional<topk_boundary_tie> boundary_tie(const float* values, std::size_t n,
                                                                   const std::vector<std::int64_t>& best) {
  if (best.empty() || best.size() >= n) return std::nullopt;
  topk_boundary_tie tie;
  tie.value = values[best.back()];
  for (std::int64_t i : best) tie.chosen += values[i] == tie.value ? 1 : 0;
  for (std::size_t i = 0; i < n; ++i) tie.left_out += values[i] == tie.value ? 1 : 0;
  tie.left_out -= tie.chosen;
  if (tie.left_out == 0) return std::nullopt;
  return tie;
}

}  // namespace v4
VPRIM_NAMESPACE_END

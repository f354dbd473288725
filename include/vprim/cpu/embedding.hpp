// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file embedding.hpp
//! The embedding gather on the CPU (contract: kernels/embedding.hpp): rows copied in order; the
//! first id outside the vocabulary stops the gather with an error naming the token and its id.

#include <algorithm>
#include <optional>
#include <string>

#include "vprim/core/dtype.hpp"
#include "vprim/kernels/embedding.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

[[nodiscard]] inline std::optional<error> embedding(const kernels::embedding_args& a) {
  if (status s = kernels::embedding_can_implement(a); s != status::ok) return make_error(s, "embedding: missing table, ids or output");
  for (std::size_t t = 0; t < a.tokens; ++t) {
    const std::int64_t id = a.ids[t];
    if (id < 0 || static_cast<std::size_t>(id) >= a.vocab)
      return make_error(status::out_of_range, "token " + std::to_string(t) + " has id " + std::to_string(id) +
                                                  " outside the vocabulary of " + std::to_string(a.vocab), t);
    const std::size_t row = static_cast<std::size_t>(id) * a.dim;
    if (a.table != nullptr) std::copy_n(a.table + row, a.dim, a.out + t * a.dim);
    else std::transform(a.table_bf16 + row, a.table_bf16 + row + a.dim, a.out + t * a.dim, bf16_bits_to_float);
  }
  return std::nullopt;
}

}  // namespace cpu
VPRIM_NAMESPACE_END

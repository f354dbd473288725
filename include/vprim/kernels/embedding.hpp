// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file embedding.hpp
//! Contract of the embedding gather: out[t, :] = table[ids[t], :]. An id outside [0, vocab) is
//! an error that names the token (the CPU stops there; the GPU writes a zero row and reports
//! the first such token afterwards).

#include <cstddef>
#include <cstdint>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

struct embedding_args {
  const float* table = nullptr;    //!< [vocab, dim], or nullptr and table_bf16
  const std::int64_t* ids = nullptr;  //!< [tokens], device memory
  float* out = nullptr;            //!< [tokens, dim]
  std::size_t tokens = 0, vocab = 0, dim = 0;
  const std::uint16_t* table_bf16 = nullptr;  //!< [vocab, dim] bf16 bits, when table is nullptr
};

[[nodiscard]] constexpr status embedding_can_implement(const embedding_args& a) noexcept {
  if (a.tokens == 0) return status::ok;
  if ((a.table == nullptr) == (a.table_bf16 == nullptr) || a.ids == nullptr || a.out == nullptr || a.vocab == 0 || a.dim == 0)
    return status::invalid_argument;
  return status::ok;
}

}  // namespace kernels
VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file observer.hpp
//! What a decoder call reports of its intermediate results when asked (golden checks, tests).

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "vprim/model/v4/topk.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

//! Named intermediate results, for checking against a peer: (module path, slot, values, shape).
struct observer {
  std::function<void(std::string_view, std::string_view, const float*, std::vector<std::int64_t>)> floats;
  std::function<void(std::string_view, std::string_view, const std::int64_t*, std::vector<std::int64_t>)> indices;
  //! (indexer path, query position, tie): the indexer's top-k cut through equal scores there.
  std::function<void(std::string_view, std::int64_t, const topk_boundary_tie&)> ties;
  explicit operator bool() const noexcept { return static_cast<bool>(floats); }
};

}  // namespace v4
VPRIM_NAMESPACE_END

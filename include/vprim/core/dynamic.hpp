// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file dynamic.hpp
//! `vprim::dynamic`: the marker for a value known only at run time, in the spirit of
//! std::dynamic_extent. It converts to any arithmetic or enum type as -1, which every quantity
//! it stands in for (extents, ratios, counts, scales, layout and scoring enums) otherwise never
//! takes, so one spelling works for every policy field:
//!
//! \code
//! vprim::merge_policy m{.factor = vprim::dynamic, .layout = vprim::dynamic};
//! vprim::extents<vprim::dynamic, 64> e(rows, 64);
//! \endcode

#include <type_traits>

#include "vprim/core/config.hpp"

VPRIM_NAMESPACE_BEGIN

template <class T>
concept dynamic_capable = std::is_arithmetic_v<T> || std::is_enum_v<T>;

struct dynamic_t {
  template <dynamic_capable T>
  constexpr operator T() const noexcept {  // NOLINT: implicit by design
    return static_cast<T>(-1);
  }
};

inline constexpr dynamic_t dynamic{};

//! True when a policy field or extent was left to run time.
template <dynamic_capable T>
[[nodiscard]] constexpr bool is_dynamic(T value) noexcept {
  return value == static_cast<T>(-1);
}

//! `field == vprim::dynamic` reads naturally and means is_dynamic(field).
template <dynamic_capable T>
[[nodiscard]] constexpr bool operator==(T value, dynamic_t) noexcept {
  return is_dynamic(value);
}

VPRIM_NAMESPACE_END

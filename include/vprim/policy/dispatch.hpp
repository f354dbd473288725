// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file dispatch.hpp
//! Runtime -> compile-time dispatch over a finite, documented list of values. A checkpoint
//! read at run time can still reach the specialised kernels; anything outside the list gets
//! status::not_supported (never a throw, never a silent fallback).
//!
//! \code
//! status s = vprim::dispatch<vprim::supported_ratios>(cfg.ratio, [&](auto ratio) {
//!   return run_compressor<ratio()>(args);   // ratio is std::integral_constant<int, R>
//! });
//! \endcode

#include <array>
#include <type_traits>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN

//! A compile-time list of supported integer values.
template <int... V>
struct value_list {
  static constexpr std::array<int, sizeof...(V)> values{V...};
  [[nodiscard]] static constexpr bool contains(int v) noexcept { return ((v == V) || ...); }
};

namespace detail {
template <int Lo, int Hi, int... Acc>
constexpr auto make_int_range() {
  if constexpr (Lo > Hi) return value_list<Acc...>{};
  else return make_int_range<Lo + 1, Hi, Acc..., Lo>();
}
}  // namespace detail

//! value_list<Lo, Lo+1, ..., Hi>.
template <int Lo, int Hi>
using int_range = decltype(detail::make_int_range<Lo, Hi>());

//! Compression ratios with specialised kernels (the released model uses 4 and 128).
using supported_ratios = value_list<1, 2, 4, 8, 16, 32, 64, 128>;
//! Routed-expert top-k with specialised routers (the released model uses 6).
using supported_expert_topk = int_range<1, 8>;
//! Attention head dimensions with specialised tiles (ViT 64, V4 512, indexer 128).
using supported_head_dims = value_list<16, 32, 64, 80, 96, 128, 192, 256, 512>;
//! Patch sizes (DeepSeek-ViT and Qwen2-VL use 14; 16 covers SigLIP-style encoders).
using supported_patch_sizes = value_list<14, 16>;
//! Merge factors (TwVP merges 3x3; 2x2 is DeepSeek-VL2's).
using supported_merge_factors = value_list<1, 2, 3, 4>;

//! Calls f(std::integral_constant<int, V>{}) for the V in List equal to `value` and returns
//! its status (a void-returning f counts as ok); not_supported when no V matches.
template <class List, class F>
[[nodiscard]] status dispatch(int value, F&& f);

namespace detail {
template <class F, int V>
status invoke_with(F& f) {
  using R = decltype(f(std::integral_constant<int, V>{}));
  if constexpr (std::is_void_v<R>) {
    f(std::integral_constant<int, V>{});
    return status::ok;
  } else {
    return f(std::integral_constant<int, V>{});
  }
}
template <class F, int... V>
status dispatch_impl(int value, F& f, value_list<V...>) {
  status s = status::not_supported;
  (void)((value == V ? (s = invoke_with<F, V>(f), true) : false) || ...);
  return s;
}
}  // namespace detail

template <class List, class F>
status dispatch(int value, F&& f) {
  return detail::dispatch_impl(value, f, List{});
}

VPRIM_NAMESPACE_END

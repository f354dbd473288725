// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file concepts.hpp
//! Concepts that constrain templates on policy values, and assert_valid<P>() whose
//! static_asserts say which field is wrong. Use the concept in a requires-clause to reject a
//! bad policy during overload resolution; call assert_valid in a class body to get the message:
//!
//! \code
//! template <vprim::patch_policy P> requires vprim::patch_policy_value<P>
//! struct patch_embed { static constexpr bool checked = vprim::assert_valid<P>(); };
//! \endcode

#include <type_traits>

#include "vprim/policy/policies.hpp"

VPRIM_NAMESPACE_BEGIN

template <auto P, class Policy>
concept policy_value_of = std::is_same_v<std::remove_cv_t<decltype(P)>, Policy> && valid(P);

template <auto P> concept patch_policy_value = policy_value_of<P, patch_policy>;
template <auto P> concept merge_policy_value = policy_value_of<P, merge_policy>;
template <auto P> concept compression_policy_value = policy_value_of<P, compression_policy>;
template <auto P> concept sliding_window_policy_value = policy_value_of<P, sliding_window_policy>;
template <auto P> concept expert_policy_value = policy_value_of<P, expert_policy>;
template <auto P> concept token_budget_policy_value = policy_value_of<P, token_budget_policy>;

namespace detail {
template <class T>
constexpr bool pos(T v) { return is_dynamic(v) || v > T{0}; }
template <class T>
constexpr bool nonneg(T v) { return is_dynamic(v) || v >= T{0}; }
}  // namespace detail

// One overload per policy type; each field has its own message. The compiler's note shows the
// template argument, i.e. the whole offending policy value.
template <patch_policy P>
consteval bool assert_valid() {
  static_assert(detail::pos(P.size), "vprim::patch_policy: size must be > 0 or vprim::dynamic");
  static_assert(detail::pos(P.channels), "vprim::patch_policy: channels must be > 0 or vprim::dynamic");
  return true;
}
template <merge_policy P>
consteval bool assert_valid() {
  static_assert(detail::pos(P.factor), "vprim::merge_policy: factor must be > 0 or vprim::dynamic");
  static_assert(valid(merge_policy{1, P.layout}), "vprim::merge_policy: layout is not a merge_layout value");
  return true;
}
template <compression_policy P>
consteval bool assert_valid() {
  static_assert(detail::pos(P.ratio), "vprim::compression_policy: ratio must be > 0 or vprim::dynamic");
  static_assert(valid(compression_policy{1, P.overlap, toggle::off, 0}),
                "vprim::compression_policy: overlap must be toggle::on, toggle::off or vprim::dynamic");
  static_assert(valid(compression_policy{1, toggle::off, P.has_indexer, 1}),
                "vprim::compression_policy: has_indexer must be toggle::on, toggle::off or vprim::dynamic");
  static_assert(P.has_indexer != toggle::on || detail::pos(P.index_topk),
                "vprim::compression_policy: an indexer needs index_topk > 0 or vprim::dynamic");
  static_assert(detail::nonneg(P.index_topk), "vprim::compression_policy: index_topk must be >= 0");
  return true;
}
template <sliding_window_policy P>
consteval bool assert_valid() {
  static_assert(detail::pos(P.window), "vprim::sliding_window_policy: window must be > 0 or vprim::dynamic");
  return true;
}
template <expert_policy P>
consteval bool assert_valid() {
  static_assert(detail::pos(P.routed), "vprim::expert_policy: routed must be > 0 or vprim::dynamic");
  static_assert(detail::nonneg(P.shared), "vprim::expert_policy: shared must be >= 0 or vprim::dynamic");
  static_assert(detail::pos(P.top_k), "vprim::expert_policy: top_k must be > 0 or vprim::dynamic");
  static_assert(is_dynamic(P.top_k) || is_dynamic(P.routed) || P.top_k <= P.routed,
                "vprim::expert_policy: top_k must not exceed routed");
  static_assert(valid(expert_policy{.scoring = P.scoring}),
                "vprim::expert_policy: scoring is not a scoring_func value");
  static_assert(detail::pos(P.routed_scale), "vprim::expert_policy: routed_scale must be > 0 or vprim::dynamic");
  static_assert(detail::nonneg(P.hash_layers), "vprim::expert_policy: hash_layers must be >= 0 or vprim::dynamic");
  return true;
}
template <token_budget_policy P>
consteval bool assert_valid() {
  static_assert(valid(token_budget_policy{P.rule}), "vprim::token_budget_policy: rule is not a budget_rule value");
  static_assert(detail::nonneg(P.min_tokens), "vprim::token_budget_policy: min_tokens must be >= 0");
  static_assert(detail::pos(P.max_tokens), "vprim::token_budget_policy: max_tokens must be > 0");
  static_assert(is_dynamic(P.min_tokens) || is_dynamic(P.max_tokens) || P.min_tokens <= P.max_tokens,
                "vprim::token_budget_policy: min_tokens must not exceed max_tokens");
  static_assert(detail::nonneg(P.min_pixels), "vprim::token_budget_policy: min_pixels must be >= 0");
  static_assert(detail::pos(P.max_aspect), "vprim::token_budget_policy: max_aspect must be > 0");
  static_assert(detail::nonneg(P.reserved_pad), "vprim::token_budget_policy: reserved_pad must be >= 0");
  return true;
}

VPRIM_NAMESPACE_END

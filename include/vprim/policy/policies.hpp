// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file policies.hpp
//! The compile-time policies of the model: structural aggregates usable as non-type template
//! parameters. Every field may be `vprim::dynamic`, in which case kernels read the value from
//! their runtime arguments instead. Validity is checked by `valid(p)` (constexpr, also usable
//! at run time), by the concepts in concepts.hpp, and by `assert_valid<p>()` whose
//! static_asserts name the offending field.

#include <cstdint>

#include "vprim/core/dynamic.hpp"

VPRIM_NAMESPACE_BEGIN

//! A yes/no field; like every policy field it may also be vprim::dynamic.
enum class toggle : std::int8_t { off = 0, on = 1 };

//! How a merge window's patch features are concatenated.
enum class merge_layout : std::int8_t {
  channel_major = 0,  //!< DeepSeek aligner / F.unfold: f = c * k*k + ky * k + kx
  token_major = 1,    //!< Qwen2-VL merger: f = (ky * k + kx) * C + c
};

//! Router scoring function of the MoE gate.
enum class scoring_func : std::int8_t { sqrtsoftplus = 0, sigmoid = 1, softmax = 2 };

//! Which rule turns an image size into a token grid.
enum class budget_rule : std::int8_t {
  vision_exp = 0,    //!< released DeepSeek-V4-Flash-Vision-Exp rule (letterbox, max tokens incl. sentinels)
  smart_resize = 1,  //!< Qwen2-VL smart resize with factor patch*merge (the paper's 81..384 tokens)
};

//! Patch embedding: square patches of `size` pixels over `channels` input channels.
struct patch_policy {
  int size = 14;
  int channels = 3;
};

//! Token merging: `factor` x `factor` neighbouring tokens become one, concatenated per `layout`.
struct merge_policy {
  int factor = 3;
  merge_layout layout = merge_layout::channel_major;
};

//! KV compression: one entry per `ratio` tokens. CSA overlaps two series of windows and has a
//! lightning indexer that keeps `index_topk` entries per query; HCA does neither.
struct compression_policy {
  int ratio = 4;
  toggle overlap = toggle::on;
  toggle has_indexer = toggle::on;
  int index_topk = 512;  //!< ignored (may be 0) when has_indexer is off
};

//! Raw KV entries each query sees (itself included).
struct sliding_window_policy {
  int window = 128;
};

//! Mixture of experts: `routed` experts of which `top_k` are picked per token, plus `shared`
//! always-on experts; the first `hash_layers` layers route by a token-id table.
struct expert_policy {
  int routed = 256;
  int shared = 1;
  int top_k = 6;
  scoring_func scoring = scoring_func::sqrtsoftplus;
  float routed_scale = 1.5f;
  int hash_layers = 3;
};

//! Image token budget. For vision_exp, max_tokens counts the sentinel block and reserved_pad
//! tokens are kept for the CSA alignment pad; for smart_resize the merged-token count lies in
//! [min_tokens, max_tokens].
struct token_budget_policy {
  budget_rule rule = budget_rule::vision_exp;
  int min_tokens = 0;
  int max_tokens = 384;
  int min_pixels = 147456;
  int max_aspect = 8;
  int reserved_pad = 3;
};

namespace detail {
template <class T>
constexpr bool positive_or_dynamic(T v) noexcept { return is_dynamic(v) || v > T{0}; }
template <class T>
constexpr bool non_negative_or_dynamic(T v) noexcept { return is_dynamic(v) || v >= T{0}; }
template <class E>
constexpr bool enum_in_range(E v, int hi) noexcept {
  const int i = static_cast<int>(v);
  return i == -1 || (i >= 0 && i <= hi);
}
}  // namespace detail

// valid(): true when every field is in its domain. Cross-field rules are only applied when
// both fields are static; kernels re-check the dynamic ones in can_implement().
[[nodiscard]] constexpr bool valid(const patch_policy& p) noexcept {
  return detail::positive_or_dynamic(p.size) && detail::positive_or_dynamic(p.channels);
}
[[nodiscard]] constexpr bool valid(const merge_policy& p) noexcept {
  return detail::positive_or_dynamic(p.factor) && detail::enum_in_range(p.layout, 1);
}
[[nodiscard]] constexpr bool valid(const compression_policy& p) noexcept {
  const bool indexer_needs_topk =
      p.has_indexer != toggle::on || detail::positive_or_dynamic(p.index_topk);
  return detail::positive_or_dynamic(p.ratio) && detail::enum_in_range(p.overlap, 1) &&
         detail::enum_in_range(p.has_indexer, 1) && detail::non_negative_or_dynamic(p.index_topk) &&
         indexer_needs_topk;
}
[[nodiscard]] constexpr bool valid(const sliding_window_policy& p) noexcept {
  return detail::positive_or_dynamic(p.window);
}
[[nodiscard]] constexpr bool valid(const expert_policy& p) noexcept {
  const bool topk_fits = is_dynamic(p.top_k) || is_dynamic(p.routed) || p.top_k <= p.routed;
  return detail::positive_or_dynamic(p.routed) && detail::non_negative_or_dynamic(p.shared) &&
         detail::positive_or_dynamic(p.top_k) && topk_fits && detail::enum_in_range(p.scoring, 2) &&
         detail::positive_or_dynamic(p.routed_scale) && detail::non_negative_or_dynamic(p.hash_layers);
}
[[nodiscard]] constexpr bool valid(const token_budget_policy& p) noexcept {
  const bool ordered = is_dynamic(p.min_tokens) || is_dynamic(p.max_tokens) || p.min_tokens <= p.max_tokens;
  return detail::enum_in_range(p.rule, 1) && detail::non_negative_or_dynamic(p.min_tokens) &&
         detail::positive_or_dynamic(p.max_tokens) && ordered && detail::non_negative_or_dynamic(p.min_pixels) &&
         detail::positive_or_dynamic(p.max_aspect) && detail::non_negative_or_dynamic(p.reserved_pad);
}

//! True when no field of the policy is left to run time.
[[nodiscard]] constexpr bool fully_static(const patch_policy& p) noexcept {
  return !is_dynamic(p.size) && !is_dynamic(p.channels);
}
[[nodiscard]] constexpr bool fully_static(const merge_policy& p) noexcept {
  return !is_dynamic(p.factor) && !is_dynamic(p.layout);
}
[[nodiscard]] constexpr bool fully_static(const compression_policy& p) noexcept {
  return !is_dynamic(p.ratio) && !is_dynamic(p.overlap) && !is_dynamic(p.has_indexer) &&
         !is_dynamic(p.index_topk);
}
[[nodiscard]] constexpr bool fully_static(const sliding_window_policy& p) noexcept { return !is_dynamic(p.window); }
[[nodiscard]] constexpr bool fully_static(const expert_policy& p) noexcept {
  return !is_dynamic(p.routed) && !is_dynamic(p.shared) && !is_dynamic(p.top_k) &&
         !is_dynamic(p.scoring) && !is_dynamic(p.routed_scale) && !is_dynamic(p.hash_layers);
}

VPRIM_NAMESPACE_END

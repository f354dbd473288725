// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file resize_plan.hpp
//! Token-budget planning: image size in, resize target and token grid out, no pixels.
//!
//! - plan_vision_exp: the released DeepSeek-V4-Flash-Vision-Exp rule (research/visual_primitives.md
//!   §2.3). Clamp the width to max_aspect * height; scale tiny images up to min_pixels; round each
//!   side up to whole patches; while the image block (sentinels included) exceeds
//!   max_tokens - reserved_pad, re-solve the merged grid for budgets b = limit, limit-1, ...
//! - plan_smart_resize: Qwen2-VL's smart_resize with factor patch*merge, so the merged-token
//!   count lies in [min_tokens, max_tokens] (the paper's 81..384).
//!
//! Arithmetic is done in double in the same order as the Python reference so that floor/ceil
//! and Python's round-half-to-even land on the same integers.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>

#include "vprim/core/status.hpp"
#include "vprim/policy/policies.hpp"
#include "vprim/policy/presets.hpp"

VPRIM_NAMESPACE_BEGIN

//! Python's round(): nearest integer, ties to even.
[[nodiscard]] inline double round_half_even(double x) noexcept {
  const double r = std::round(x);  // ties away from zero
  if (std::fabs(x - std::trunc(x)) == 0.5) return 2.0 * std::round(x / 2.0);
  return r;
}

//! Length of the Vision-Exp image block (START, body, pad_last, END; without the lead pad)
//! for a merged grid of n_llm_h x n_llm_w tokens.
[[nodiscard]] constexpr std::int64_t image_block_tokens(std::int64_t n_llm_h, std::int64_t n_llm_w) noexcept {
  std::int64_t block = n_llm_h * (n_llm_w + 1) + 2;
  if (n_llm_h % 2 == 1) block += n_llm_w + 1;                 // extra PAD row completes the last row pair
  if (((n_llm_h + 1) / 2 * (n_llm_w + 1)) % 2 == 1) block += 2;  // pad_last keeps the body a multiple of 4
  return block;
}

//! The outcome of the Vision-Exp rule for one image.
struct vision_exp_plan {
  int width = 0, height = 0;          //!< input size
  //! width >= max_aspect * height (non-strict, on the original size): stretched to the target
  //! instead of letterboxed. The clamp of step 1 is strict, so an image exactly max_aspect
  //! times wider than tall is not clamped but is stretched, as in the reference.
  bool stretch = false;
  int target_width = 0, target_height = 0;  //!< resize/letterbox target (multiples of the patch)
  int n_vit_h = 0, n_vit_w = 0;       //!< patch grid
  int n_llm_h = 0, n_llm_w = 0;       //!< merged grid (ceil of the patch grid / merge)
  int block_tokens = 0;               //!< image block length without the CSA lead pad
  [[nodiscard]] int patches() const noexcept { return n_vit_h * n_vit_w; }
  [[nodiscard]] int merged_tokens() const noexcept { return n_llm_h * n_llm_w; }
};

//! The Vision-Exp rule, branch for branch as the reference `load_image` / `safe_resize` /
//! `solve_resize_ratio` (research/release_format.md, "The resize rule"):
//!  1. w, h = the size; w > max_aspect*h (strict): w = max_aspect*h. 0 < w*h < min_pixels: both
//!     scaled by (min_pixels/(w*h))**0.5 and truncated (Python's int()).
//!  2. best = each side rounded up to whole patches; its block cost from image_block_tokens.
//!  3. While the cost exceeds max_tokens - reserved_pad, solve again with budget b (from that
//!     limit down by one each round; b <= 2 is an error), r = h/w, w* = sqrt((b-2)/r + 0.25) - 0.5,
//!     h* = w*·r: w* < 1 gives one merged column and (b-2)//2 rows (even); h* < 2 gives two rows and
//!     (b-2)//2 - 1 columns, each at whole cells (patch*merge px); else floor(w*), floor(h*) made
//!     even, beta = min(mw·cell/w, mh·cell/h) and each side floor(side·beta/patch)·patch.
//!  4. Stretch when the original width >= max_aspect * height, else letterbox.
//! Errors: non-positive sizes, a budget too small to hold the image.
[[nodiscard]] inline result<vision_exp_plan> plan_vision_exp(int width, int height,
                                                             const token_budget_policy& budget = presets::vision_exp_budget,
                                                             int patch = 14, int merge = 3) {
  if (width <= 0 || height <= 0)
    return make_error(status::invalid_argument, "plan_vision_exp: image size " + std::to_string(width) + "x" +
                                                    std::to_string(height) + " must be positive");
  if (patch <= 0 || merge <= 0 || budget.max_tokens <= 0 || budget.max_aspect <= 0 || budget.min_pixels < 0 ||
      budget.reserved_pad < 0)
    return make_error(status::invalid_argument, "plan_vision_exp: patch, merge and budget fields must be positive");
  vision_exp_plan p;
  p.width = width;
  p.height = height;
  const double max_aspect = budget.max_aspect;
  double w = width, h = height;
  if (w > h * max_aspect) w = h * max_aspect;
  if (w * h > 0.0 && w * h < static_cast<double>(budget.min_pixels)) {
    const double scale = std::pow(static_cast<double>(budget.min_pixels) / (w * h), 0.5);  // Python's ** 0.5
    w = std::trunc(w * scale);
    h = std::trunc(h * scale);
  }
  const double P = patch;
  const std::int64_t cell = static_cast<std::int64_t>(patch) * merge;
  auto grid_of = [&](std::int64_t bw, std::int64_t bh) {
    p.target_width = static_cast<int>(bw);
    p.target_height = static_cast<int>(bh);
    p.n_vit_w = p.target_width / patch;
    p.n_vit_h = p.target_height / patch;
    p.n_llm_w = (p.n_vit_w + merge - 1) / merge;
    p.n_llm_h = (p.n_vit_h + merge - 1) / merge;
    return image_block_tokens(p.n_llm_h, p.n_llm_w);
  };
  auto cannot_hold = [&] {
    return make_error(status::invalid_argument, "plan_vision_exp: a budget of " + std::to_string(budget.max_tokens) +
                                                    " tokens cannot hold a " + std::to_string(width) + "x" +
                                                    std::to_string(height) + " image");
  };
  const std::int64_t limit = budget.max_tokens - budget.reserved_pad;
  std::int64_t block = grid_of(static_cast<std::int64_t>(std::ceil(w / P) * P), static_cast<std::int64_t>(std::ceil(h / P) * P));
  const double ratio = h / w;
  for (std::int64_t b = limit; block > limit; --b) {
    if (b <= 2) return cannot_hold();
    const double w_star = std::sqrt(static_cast<double>(b - 2) / ratio + 0.25) - 0.5;
    const double h_star = w_star * ratio;
    if (w_star < 1.0) {  // very tall: one merged column
      std::int64_t mh = (b - 2) / 2;
      mh -= mh % 2;
      block = grid_of(cell, mh * cell);
    } else if (h_star < 2.0) {  // very wide: one pair of merged rows
      const std::int64_t mw = (b - 2) / 2 - 1;
      if (mw <= 1) return cannot_hold();
      block = grid_of(mw * cell, 2 * cell);
    } else {
      const double mw = std::floor(w_star);
      double mh = std::floor(h_star);
      mh -= std::fmod(mh, 2.0);
      const double c = static_cast<double>(cell);
      const double beta = std::min(mw * c / w, mh * c / h);
      block = grid_of(static_cast<std::int64_t>(std::floor(w * beta / P) * P),
                      static_cast<std::int64_t>(std::floor(h * beta / P) * P));
    }
  }
  if (p.n_vit_w <= 0 || p.n_vit_h <= 0) return cannot_hold();
  p.stretch = static_cast<double>(width) >= max_aspect * height;
  p.block_tokens = static_cast<int>(block);
  return p;
}

//! The outcome of Qwen2-VL's smart resize.
struct smart_resize_plan {
  int height = 0, width = 0;                //!< input size
  int target_height = 0, target_width = 0;  //!< multiples of patch * merge
  int merged_tokens = 0;
};

//! Qwen2-VL smart_resize with factor patch*merge and pixel bounds min_tokens*factor^2 and
//! max_tokens*factor^2. Errors: non-positive sizes; aspect ratio above budget.max_aspect (200 for
//! the peer, which raises there too).
[[nodiscard]] inline result<smart_resize_plan> plan_smart_resize(int height, int width,
                                                                 const token_budget_policy& budget = presets::paper_budget,
                                                                 int patch = 14, int merge = 3) {
  if (width <= 0 || height <= 0)
    return make_error(status::invalid_argument, "plan_smart_resize: image size " + std::to_string(width) + "x" +
                                                    std::to_string(height) + " must be positive");
  if (patch <= 0 || merge <= 0 || budget.max_tokens <= 0 || budget.min_tokens < 0 ||
      budget.min_tokens > budget.max_tokens)
    return make_error(status::invalid_argument, "plan_smart_resize: patch, merge and token bounds are invalid");
  const double H = height, W = width;
  if (std::max(H, W) / std::min(H, W) > budget.max_aspect)
    return make_error(status::invalid_argument, "plan_smart_resize: aspect ratio of " + std::to_string(width) + "x" +
                                                    std::to_string(height) + " exceeds " +
                                                    std::to_string(budget.max_aspect));
  const double factor = static_cast<double>(patch) * merge;
  const double min_pixels = budget.min_tokens * factor * factor;
  const double max_pixels = budget.max_tokens * factor * factor;
  double h_bar = round_half_even(H / factor) * factor;
  double w_bar = round_half_even(W / factor) * factor;
  if (h_bar * w_bar > max_pixels) {
    const double beta = std::sqrt(H * W / max_pixels);
    h_bar = std::max(factor, std::floor(H / beta / factor) * factor);
    w_bar = std::max(factor, std::floor(W / beta / factor) * factor);
  } else if (h_bar * w_bar < min_pixels) {
    const double beta = std::sqrt(min_pixels / (H * W));
    h_bar = std::ceil(H * beta / factor) * factor;
    w_bar = std::ceil(W * beta / factor) * factor;
  }
  smart_resize_plan p;
  p.height = height;
  p.width = width;
  p.target_height = static_cast<int>(h_bar);
  p.target_width = static_cast<int>(w_bar);
  p.merged_tokens = static_cast<int>((h_bar / factor) * (w_bar / factor));
  return p;
}

VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file vision_budget.hpp
//! The image token budget a Vision-Exp checkpoint declares in its own config.json:
//! `vision_max_n_token`, `vision_min_pixels`, `vision_max_wh_ratio` (research/release_format.md).
//! No preset value stands in for a key the file has; a text-only file (no vision keys) is an
//! error that says so.

#include <cmath>
#include <string>

#include "vprim/core/status.hpp"
#include "vprim/io/json.hpp"
#include "vprim/policy/policies.hpp"

VPRIM_NAMESPACE_BEGIN

//! The Vision-Exp budget of `config`. reserved_pad is the CSA alignment pad (ratio - 1 = 3),
//! which the file does not spell.
[[nodiscard]] inline result<token_budget_policy> vision_budget_from_json(const json_value& config) {
  token_budget_policy b;
  b.rule = budget_rule::vision_exp;
  b.min_tokens = 0;
  b.reserved_pad = 3;
  std::string bad;
  auto integer = [&](const char* key, int& out, bool allow_whole_float) {
    const json_value* v = config.find(key);
    double d = -1.0;
    if (v != nullptr && v->is_number()) d = v->as_int() ? static_cast<double>(*v->as_int()) : v->as_double();
    const bool whole = v != nullptr && v->is_number() && (v->as_int() || (allow_whole_float && std::floor(d) == d));
    if (!whole || d <= 0.0 || d > 1e9) {
      bad += (bad.empty() ? "" : ", ") + std::string(key);
      return;
    }
    out = static_cast<int>(d);
  };
  integer("vision_max_n_token", b.max_tokens, false);
  integer("vision_min_pixels", b.min_pixels, false);
  integer("vision_max_wh_ratio", b.max_aspect, true);  // 8 or 8.0
  if (!bad.empty())
    return make_error(status::invalid_argument,
                      "Vision-Exp config: missing or invalid " + bad + " (a text-only checkpoint has no image budget)");
  if (b.max_tokens <= b.reserved_pad + 2)
    return make_error(status::invalid_argument, "Vision-Exp config: vision_max_n_token " + std::to_string(b.max_tokens) +
                                                    " leaves no room for an image block");
  return b;
}

VPRIM_NAMESPACE_END

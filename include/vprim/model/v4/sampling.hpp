// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file sampling.hpp
//! Choosing the next token from logits: greedy (temperature 0), or sampling from
//! softmax(logits / temperature) restricted to the smallest set of most likely tokens whose
//! probability reaches top_p (nucleus sampling). Ties in probability keep the lower token id
//! first, so a seed gives the same tokens everywhere; the random source is std::mt19937_64 and
//! the uniform draw is built from its bits, not from a library distribution.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

struct sampling_params {
  double temperature = 0.0;  //!< 0: greedy
  double top_p = 1.0;        //!< in (0, 1]
  std::uint64_t seed = 0;
};

[[nodiscard]] inline status check(const sampling_params& p, std::string* why = nullptr) {
  if (!(p.temperature >= 0.0 && std::isfinite(p.temperature))) {
    if (why) *why = "temperature must be a finite number >= 0";
    return status::invalid_argument;
  }
  if (!(p.top_p > 0.0 && p.top_p <= 1.0)) {
    if (why) *why = "top_p must be within (0, 1]";
    return status::invalid_argument;
  }
  return status::ok;
}

//! The id of the largest logit (the lowest id among equals).
[[nodiscard]] inline std::int64_t argmax(const float* logits, std::size_t n) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<std::int64_t>(best);
}

class sampler {
 public:
  explicit sampler(sampling_params p = {}) : p_(p), rng_(p.seed) {}

  [[nodiscard]] const sampling_params& params() const noexcept { return p_; }

  //! The next token for `logits` [n].
  [[nodiscard]] std::int64_t operator()(const float* logits, std::size_t n) {
    if (p_.temperature == 0.0 || n == 1) return argmax(logits, n);
    probs_.resize(n);
    order_.resize(n);
    const float top = logits[static_cast<std::size_t>(argmax(logits, n))];
    double total = 0.0;
    for (std::size_t i = 0; i < n; ++i) total += probs_[i] = std::exp((static_cast<double>(logits[i]) - top) / p_.temperature);
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    // Most likely first; only as much of the order as the nucleus needs is sorted.
    std::size_t kept = 0;
    double mass = 0.0;
    const double target = p_.top_p * total;
    auto more_likely = [&](std::size_t a, std::size_t b) { return probs_[a] != probs_[b] ? probs_[a] > probs_[b] : a < b; };
    for (std::size_t chunk = 64; kept < n && mass < target; chunk *= 4) {
      const std::size_t end = std::min(n, kept + chunk);
      std::partial_sort(order_.begin() + static_cast<std::ptrdiff_t>(kept), order_.begin() + static_cast<std::ptrdiff_t>(end),
                        order_.end(), more_likely);
      for (; kept < end && mass < target; ++kept) mass += probs_[order_[kept]];
    }
    // A uniform draw in [0, mass) from 53 random bits.
    const double u = static_cast<double>(rng_() >> 11) * (1.0 / 9007199254740992.0) * mass;
    double acc = 0.0;
    for (std::size_t i = 0; i < kept; ++i) {
      acc += probs_[order_[i]];
      if (u < acc) return static_cast<std::int64_t>(order_[i]);
    }
    return static_cast<std::int64_t>(order_[kept - 1]);
  }

 private:
  sampling_params p_;
  std::mt19937_64 rng_;
  std::vector<double> probs_;
  std::vector<std::size_t> order_;
};

}  // namespace v4
VPRIM_NAMESPACE_END

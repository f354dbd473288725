// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Element-by-element comparison for kernel tests: every element within its tolerance, NaN and
// Inf always fail, and the worst element is reported with its index and both values.

#include <cmath>
#include <cstddef>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace vprim_ref {

// tol(i) gives the allowed absolute error of element i.
template <class Ours, class Ref, class Tol>
void require_close(const std::string& what, const Ours& ours, const Ref& ref, Tol tol) {
  REQUIRE(ours.size() == ref.size());
  std::size_t worst = 0;
  double worst_ratio = 0.0;
  bool non_finite = false;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    const double o = static_cast<double>(ours[i]);
    if (!std::isfinite(o)) {
      non_finite = true;
      worst = i;
      break;
    }
    const double ratio = std::fabs(o - static_cast<double>(ref[i])) / tol(i);
    if (ratio > worst_ratio) {
      worst_ratio = ratio;
      worst = i;
    }
  }
  std::ostringstream msg;
  msg << what << ": worst element " << worst << " ours=" << static_cast<double>(ours[worst])
      << " ref=" << static_cast<double>(ref[worst]) << " tol=" << tol(worst) << " (error/tol " << worst_ratio << ")";
  INFO(msg.str());
  REQUIRE_FALSE(non_finite);
  REQUIRE(worst_ratio <= 1.0);
}

// Tolerance relative to the largest reference magnitude (at least 1).
template <class Ref>
auto scaled_tolerance(const Ref& ref, double rel) {
  double scale = 1.0;
  for (auto r : ref) scale = std::max(scale, std::fabs(static_cast<double>(r)));
  return [scale, rel](std::size_t) { return rel * scale; };
}

}  // namespace vprim_ref

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// The golden checker's bookkeeping: one printed line per check, counters, and the comparison
// rules of tests/data/README.md (fp32: max|ours-ref| <= 1e-4 * max(1, max|ref|); indices exact;
// resampled pixels: bounded max and mean absolute error). Non-finite values always fail.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <span>
#include <string>
#include <vector>

#include "vprim/io/safetensors.hpp"

namespace vprim_golden {

inline std::string index_string(std::size_t flat, const std::vector<std::int64_t>& shape) {
  if (shape.empty()) return "[" + std::to_string(flat) + "]";
  std::vector<std::int64_t> idx(shape.size());
  auto rest = static_cast<std::int64_t>(flat);
  for (std::size_t d = shape.size(); d-- > 0;) {
    const std::int64_t e = std::max<std::int64_t>(shape[d], 1);
    idx[d] = rest % e;
    rest /= e;
  }
  return vprim::shape_string(idx);
}

class report {
 public:
  //! fp32 tensors: every element within rel_tol * max(1, max|ref|).
  void close(const std::string& name, std::span<const float> ours, std::span<const float> ref,
             const std::vector<std::int64_t>& shape, double rel_tol = 1e-4) {
    if (!same_size(name, ours.size(), ref.size())) return;
    double scale = 1.0;
    for (float r : ref) scale = std::max(scale, std::fabs(static_cast<double>(r)));
    double max_abs = 0.0;
    std::size_t worst = 0;
    bool finite = true;
    for (std::size_t i = 0; i < ours.size(); ++i) {
      const double o = ours[i];
      if (!std::isfinite(o) && std::isfinite(static_cast<double>(ref[i]))) {
        finite = false;
        worst = i;
        max_abs = INFINITY;
        break;
      }
      const double d = std::fabs(o - static_cast<double>(ref[i]));
      if (d > max_abs) {
        max_abs = d;
        worst = i;
      }
    }
    const double max_rel = max_abs / scale;
    const bool ok = finite && max_rel <= rel_tol;
    line(ok, name, "max_abs=" + fmt(max_abs) + " max_rel=" + fmt(max_rel) + " worst_index=" + index_string(worst, shape) +
                       (finite ? "" : " non_finite"));
  }

  //! Resampled pixels: bounded max and mean absolute error (the resampler need not be bit-exact).
  void resampled(const std::string& name, std::span<const float> ours, std::span<const float> ref,
                 const std::vector<std::int64_t>& shape, double max_tol, double mean_tol) {
    if (!same_size(name, ours.size(), ref.size())) return;
    double max_abs = 0.0, sum = 0.0;
    std::size_t worst = 0;
    bool finite = true;
    for (std::size_t i = 0; i < ours.size(); ++i) {
      if (!std::isfinite(ours[i])) finite = false;
      const double d = std::fabs(static_cast<double>(ours[i]) - static_cast<double>(ref[i]));
      sum += d;
      if (d > max_abs) {
        max_abs = d;
        worst = i;
      }
    }
    const double mean = ours.empty() ? 0.0 : sum / static_cast<double>(ours.size());
    line(finite && max_abs <= max_tol && mean <= mean_tol, name,
         "max_abs=" + fmt(max_abs) + " mean_abs=" + fmt(mean) + " worst_index=" + index_string(worst, shape) +
             " (tolerance max " + fmt(max_tol) + ", mean " + fmt(mean_tol) + ")");
  }

  //! Integer tensors: exact.
  void exact(const std::string& name, std::span<const std::int64_t> ours, std::span<const std::int64_t> ref,
             const std::vector<std::int64_t>& shape) {
    if (!same_size(name, ours.size(), ref.size())) return;
    std::size_t mismatches = 0, first = 0;
    for (std::size_t i = 0; i < ours.size(); ++i)
      if (ours[i] != ref[i] && mismatches++ == 0) first = i;
    std::string detail = "mismatches=" + std::to_string(mismatches);
    if (mismatches)
      detail += " worst_index=" + index_string(first, shape) + " ours=" + std::to_string(ours[first]) +
                " ref=" + std::to_string(ref[first]);
    line(mismatches == 0, name, detail);
  }

  //! Whether ours is within rel_tol * max(1, max|ref|) of ref everywhere (close()'s rule).
  [[nodiscard]] static bool within(std::span<const float> ours, std::span<const float> ref, double rel_tol = 1e-4) {
    double scale = 1.0, max_abs = 0.0;
    for (float r : ref) scale = std::max(scale, std::fabs(static_cast<double>(r)));
    for (std::size_t i = 0; i < ours.size(); ++i) {
      if (!std::isfinite(ours[i]) && std::isfinite(ref[i])) return false;
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(ours[i]) - static_cast<double>(ref[i])));
    }
    return ours.size() == ref.size() && max_abs / scale <= rel_tol;
  }
  [[nodiscard]] static std::string difference(std::span<const float> ours, std::span<const float> ref) {
    double scale = 1.0, max_abs = 0.0;
    for (float r : ref) scale = std::max(scale, std::fabs(static_cast<double>(r)));
    for (std::size_t i = 0; i < std::min(ours.size(), ref.size()); ++i)
      max_abs = std::max(max_abs, std::fabs(static_cast<double>(ours[i]) - static_cast<double>(ref[i])));
    return "max_abs=" + fmt(max_abs) + " max_rel=" + fmt(max_abs / scale);
  }

  //! An output that differs only where an exact tie made both answers right: neither a pass
  //! nor a failure (ties.hpp).
  void tie(const std::string& name, const std::string& detail) {
    std::printf("TIE %s %s\n", name.c_str(), detail.c_str());
    ++tied_;
  }

  //! A problem that prevents checking (unreadable file, missing tensor, bad config): a failure.
  void problem(const std::string& what) {
    std::printf("FAIL %s\n", what.c_str());
    ++failed_;
  }

  [[nodiscard]] int passed() const noexcept { return passed_; }
  [[nodiscard]] int failed() const noexcept { return failed_; }
  [[nodiscard]] int tied() const noexcept { return tied_; }

 private:
  static std::string fmt(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.3g", v);
    return buf;
  }
  bool same_size(const std::string& name, std::size_t a, std::size_t b) {
    if (a == b) return true;
    problem(name + " size mismatch: ours " + std::to_string(a) + " elements, reference " + std::to_string(b));
    return false;
  }
  void line(bool ok, const std::string& name, const std::string& detail) {
    std::printf("%s %s %s\n", ok ? "PASS" : "FAIL", name.c_str(), detail.c_str());
    ++(ok ? passed_ : failed_);
  }
  int passed_ = 0, failed_ = 0, tied_ = 0;
};

}  // namespace vprim_golden

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Naive reference for narrow float formats: decode every code with ldexp, then round a value by
// searching the sorted table of representable magnitudes (nearest, ties to the even code).
// Independent of the bit tricks in vprim/core/dtype.hpp.

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace vprim_ref {

struct format {
  int exp_bits;
  int man_bits;
  int bias;
  bool has_inf;     // IEEE style: all-ones exponent is inf/NaN
  double max_finite;
};

inline constexpr format bf16_fmt{8, 7, 127, true, 0};
inline constexpr format f16_fmt{5, 10, 15, true, 0};
inline constexpr format e4m3_fmt{4, 3, 7, false, 448.0};

// Value of a positive code (sign bit clear); NaN for NaN codes, inf for inf codes.
inline double decode(const format& f, std::uint32_t code) {
  const std::uint32_t e = code >> f.man_bits;
  const std::uint32_t m = code & ((1u << f.man_bits) - 1u);
  const std::uint32_t emax = (1u << f.exp_bits) - 1u;
  if (f.has_inf && e == emax) return m == 0 ? std::numeric_limits<double>::infinity() : std::nan("");
  if (!f.has_inf && e == emax && m == (1u << f.man_bits) - 1u) return std::nan("");
  if (e == 0) return std::ldexp(static_cast<double>(m), 1 - f.bias - f.man_bits);
  return std::ldexp(1.0 + std::ldexp(static_cast<double>(m), -f.man_bits), static_cast<int>(e) - f.bias);
}

// Every non-negative value of the format in code order (monotone up to the NaN/inf region),
// built once per format.
inline std::vector<double> build_magnitudes(const format& f) {
  std::vector<double> table;
  const std::uint32_t codes = 1u << (f.exp_bits + f.man_bits);
  for (std::uint32_t c = 0; c < codes; ++c) {
    const double v = decode(f, c);
    if (std::isnan(v)) break;
    table.push_back(v);
  }
  return table;
}
inline const std::vector<double>& magnitudes(const format& f) {
  static const std::vector<double> bf16 = build_magnitudes(bf16_fmt);
  static const std::vector<double> f16 = build_magnitudes(f16_fmt);
  static const std::vector<double> e4m3 = build_magnitudes(e4m3_fmt);
  if (f.man_bits == bf16_fmt.man_bits) return bf16;
  if (f.man_bits == f16_fmt.man_bits) return f16;
  return e4m3;
}

// Round-to-nearest-even encode of a finite double. IEEE formats overflow to inf once the value
// reaches halfway past the largest finite; the fn format (no inf) saturates at max_finite.
inline std::uint32_t encode(const format& f, double x) {
  const std::uint32_t sign = std::signbit(x) ? (1u << (f.exp_bits + f.man_bits)) : 0u;
  const double a = std::fabs(x);
  const std::vector<double>& table = magnitudes(f);
  // For IEEE formats the "next" value after max is 2^(emax+1-bias), which rounds to inf.
  const std::size_t n_finite = f.has_inf ? table.size() - 1 : table.size();
  if (!f.has_inf && a >= f.max_finite) return sign | static_cast<std::uint32_t>(n_finite - 1);
  if (f.has_inf) {
    const double max_f = table[n_finite - 1];
    const double ulp = max_f - table[n_finite - 2];
    if (a >= max_f + ulp / 2) return sign | static_cast<std::uint32_t>(n_finite);  // inf code
    if (a >= max_f) return sign | static_cast<std::uint32_t>(n_finite - 1);
  }
  const auto it = std::upper_bound(table.begin(), table.begin() + static_cast<std::ptrdiff_t>(n_finite), a);
  const auto hi = static_cast<std::uint32_t>(it - table.begin());
  const std::uint32_t lo = hi - 1;
  const double dlo = a - table[lo];
  const double dhi = table[hi] - a;
  if (dlo < dhi) return sign | lo;
  if (dhi < dlo) return sign | hi;
  return sign | ((lo & 1u) == 0 ? lo : hi);
}

}  // namespace vprim_ref

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Naive block quantisation as DeepSeek's checkpoints store weights, written independently of
// vprim/model/quantized_weights.hpp: scales are powers of two found with frexp/ldexp, FP4 values
// by a nearest search over the e2m1 table, FP8 by vprim's e4m3 encoder (itself checked against
// dtype_reference.hpp on every code).
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "vprim/core/dtype.hpp"
#include "dtype_reference.hpp"

namespace vprim_ref {

// The power of two at or above x (x > 0), and its e8m0 code.
inline float pow2_at_least(float x) {
  int e = 0;
  const float m = std::frexp(x, &e);  // x = m * 2^e, m in [0.5, 1)
  return m == 0.5f ? x : std::ldexp(1.0f, e);
}
inline std::uint8_t e8m0_code(float pow2) {
  int e = 0;
  std::frexp(pow2, &e);
  return static_cast<std::uint8_t>(e - 1 + 127);
}

struct quantized {
  std::vector<std::uint8_t> values;  // e4m3 codes, or packed e2m1 pairs
  std::vector<std::uint8_t> scales;  // e8m0 codes
  std::vector<float> dequantized;    // what a reader must return
};

// FP8 e4m3 with one scale per 128 x 128 block of the [n, k] matrix.
inline quantized fp8_blocks(const std::vector<float>& w, std::size_t n, std::size_t k) {
  const std::size_t bn = (n + 127) / 128, bk = (k + 127) / 128;
  quantized q{std::vector<std::uint8_t>(n * k), std::vector<std::uint8_t>(bn * bk), std::vector<float>(n * k)};
  for (std::size_t bi = 0; bi < bn; ++bi)
    for (std::size_t bj = 0; bj < bk; ++bj) {
      float amax = 1e-12f;
      for (std::size_t i = bi * 128; i < std::min(n, bi * 128 + 128); ++i)
        for (std::size_t j = bj * 128; j < std::min(k, bj * 128 + 128); ++j) amax = std::max(amax, std::fabs(w[i * k + j]));
      const float scale = pow2_at_least(amax / 448.0f);
      q.scales[bi * bk + bj] = e8m0_code(scale);
      for (std::size_t i = bi * 128; i < std::min(n, bi * 128 + 128); ++i)
        for (std::size_t j = bj * 128; j < std::min(k, bj * 128 + 128); ++j) {
          q.values[i * k + j] = vprim::float_to_e4m3_bits(w[i * k + j] / scale);
          q.dequantized[i * k + j] = vprim::e4m3_bits_to_float(q.values[i * k + j]) * scale;
        }
    }
  return q;
}

// MXFP4: e2m1 pairs (low nibble = even column), one scale per 32 inputs of a row.
inline quantized mxfp4(const std::vector<float>& w, std::size_t n, std::size_t k) {
  static const float table[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  quantized q{std::vector<std::uint8_t>(n * k / 2, 0), std::vector<std::uint8_t>(n * k / 32), std::vector<float>(n * k)};
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t g = 0; g < k / 32; ++g) {
      float amax = 1e-12f;
      for (std::size_t j = g * 32; j < g * 32 + 32; ++j) amax = std::max(amax, std::fabs(w[i * k + j]));
      const float scale = pow2_at_least(amax / 6.0f);
      q.scales[i * (k / 32) + g] = e8m0_code(scale);
      for (std::size_t j = g * 32; j < g * 32 + 32; ++j) {
        std::uint8_t best = 0;
        for (std::uint8_t c = 1; c < 16; ++c)
          if (std::fabs(table[c] * scale - w[i * k + j]) < std::fabs(table[best] * scale - w[i * k + j])) best = c;
        q.values[(i * k + j) / 2] |= static_cast<std::uint8_t>(j % 2 == 0 ? best : best << 4);
        q.dequantized[i * k + j] = table[best] * scale;
      }
    }
  return q;
}

// The reference's act_quant of one row: per block of 128 (a ragged last block its own), amax
// floored at 1e-4, the scale the power of two at or above amax / 448, each value the nearest
// e4m3 (dtype_reference.hpp's encoder, ties to even, saturating) times the scale.
inline std::vector<float> act_quant_row(const float* x, std::size_t k) {
  std::vector<float> out(k);
  for (std::size_t b = 0; b < k; b += 128) {
    const std::size_t e = std::min(k, b + 128);
    float amax = 1e-4f;
    for (std::size_t j = b; j < e; ++j) amax = std::max(amax, std::fabs(x[j]));
    const float scale = pow2_at_least(amax / 448.0f);
    for (std::size_t j = b; j < e; ++j) {
      const std::uint32_t code = encode(e4m3_fmt, static_cast<double>(x[j]) / scale);
      const double magnitude = decode(e4m3_fmt, code & 0x7Fu);
      out[j] = static_cast<float>(((code & 0x80u) ? -magnitude : magnitude) * scale);
    }
  }
  return out;
}

}  // namespace vprim_ref

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Naive scalar references for the CPU kernels, accumulating in double, written straight from the
// formulas (no blocking, no online softmax, no packing).

#include <cmath>
#include <cstddef>
#include <vector>

namespace vprim_ref {

// C[m,n] = sum_k A[m,k] W[n,k] (+ bias[n]); also returns sum_k |A W| for error bounds.
inline void gemm_nt(const std::vector<float>& a, const std::vector<float>& w, const float* bias, std::size_t m,
                    std::size_t n, std::size_t k, std::vector<double>& c, std::vector<double>& magnitude) {
  c.assign(m * n, 0.0);
  magnitude.assign(m * n, 0.0);
  for (std::size_t i = 0; i < m; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      double s = bias ? bias[j] : 0.0, mag = bias ? std::fabs(bias[j]) : 0.0;
      for (std::size_t kk = 0; kk < k; ++kk) {
        const double p = static_cast<double>(a[i * k + kk]) * w[j * k + kk];
        s += p;
        mag += std::fabs(p);
      }
      c[i * n + j] = s;
      magnitude[i * n + j] = mag;
    }
}

inline std::vector<double> rmsnorm(const std::vector<float>& x, const std::vector<float>& w, std::size_t rows,
                                   std::size_t dim, double eps) {
  std::vector<double> out(x.size());
  for (std::size_t r = 0; r < rows; ++r) {
    double ss = 0;
    for (std::size_t i = 0; i < dim; ++i) ss += static_cast<double>(x[r * dim + i]) * x[r * dim + i];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(dim) + eps);
    for (std::size_t i = 0; i < dim; ++i) out[r * dim + i] = x[r * dim + i] * inv * (w.empty() ? 1.0 : w[i]);
  }
  return out;
}

inline std::vector<double> layernorm(const std::vector<float>& x, const std::vector<float>& w, const std::vector<float>& b,
                                     std::size_t rows, std::size_t dim, double eps) {
  std::vector<double> out(x.size());
  for (std::size_t r = 0; r < rows; ++r) {
    double mean = 0, var = 0;
    for (std::size_t i = 0; i < dim; ++i) mean += x[r * dim + i];
    mean /= static_cast<double>(dim);
    for (std::size_t i = 0; i < dim; ++i) var += (x[r * dim + i] - mean) * (x[r * dim + i] - mean);
    const double inv = 1.0 / std::sqrt(var / static_cast<double>(dim) + eps);
    for (std::size_t i = 0; i < dim; ++i) out[r * dim + i] = (x[r * dim + i] - mean) * inv * w[i] + b[i];
  }
  return out;
}

// 2D RoPE on [tokens, heads, d] for a row-major grid: pair (i, i+d/2) rotates by row*f_i for
// i < d/4 and by col*f_{i-d/4} otherwise, f_k = theta^(-2k/(d/2)).
inline std::vector<double> rope_2d(const std::vector<float>& x, std::size_t gh, std::size_t gw, std::size_t heads,
                                   std::size_t d, double theta) {
  std::vector<double> out(x.begin(), x.end());
  const std::size_t half = d / 2, quarter = d / 4;
  for (std::size_t t = 0; t < gh * gw; ++t)
    for (std::size_t h = 0; h < heads; ++h)
      for (std::size_t i = 0; i < half; ++i) {
        const double pos = i < quarter ? static_cast<double>(t / gw) : static_cast<double>(t % gw);
        const double f = std::pow(theta, -2.0 * static_cast<double>(i % quarter) / static_cast<double>(half));
        const double c = std::cos(pos * f), s = std::sin(pos * f);
        const std::size_t base = (t * heads + h) * d;
        const double a = x[base + i], b = x[base + i + half];
        out[base + i] = a * c - b * s;
        out[base + i + half] = b * c + a * s;
      }
  return out;
}

// softmax(Q K^T * scale) V per head; q, k, v, out are [tokens, heads, d].
inline std::vector<double> attention(const std::vector<float>& q, const std::vector<float>& k, const std::vector<float>& v,
                                     std::size_t tokens, std::size_t heads, std::size_t d, double scale) {
  std::vector<double> out(tokens * heads * d, 0.0), p(tokens);
  for (std::size_t h = 0; h < heads; ++h)
    for (std::size_t i = 0; i < tokens; ++i) {
      double mx = -1e300;
      for (std::size_t j = 0; j < tokens; ++j) {
        double s = 0;
        for (std::size_t e = 0; e < d; ++e) s += static_cast<double>(q[(i * heads + h) * d + e]) * k[(j * heads + h) * d + e];
        p[j] = s * scale;
        mx = std::max(mx, p[j]);
      }
      double sum = 0;
      for (std::size_t j = 0; j < tokens; ++j) sum += (p[j] = std::exp(p[j] - mx));
      for (std::size_t j = 0; j < tokens; ++j)
        for (std::size_t e = 0; e < d; ++e) out[(i * heads + h) * d + e] += p[j] / sum * v[(j * heads + h) * d + e];
    }
  return out;
}

inline double silu(double x) { return x / (1.0 + std::exp(-x)); }
inline double gelu_exact(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }
inline double gelu_quick(double x) { return x / (1.0 + std::exp(-1.702 * x)); }

// k x k merge with zero padding; channel-major or token-major features.
inline std::vector<float> unfold(const std::vector<float>& in, std::size_t gh, std::size_t gw, std::size_t c,
                                 std::size_t k, bool channel_major) {
  const std::size_t oh = (gh + k - 1) / k, ow = (gw + k - 1) / k;
  std::vector<float> out(oh * ow * c * k * k, 0.0f);
  for (std::size_t by = 0; by < oh; ++by)
    for (std::size_t bx = 0; bx < ow; ++bx)
      for (std::size_t ky = 0; ky < k; ++ky)
        for (std::size_t kx = 0; kx < k; ++kx)
          for (std::size_t ch = 0; ch < c; ++ch) {
            const std::size_t y = by * k + ky, x = bx * k + kx;
            const float val = (y < gh && x < gw) ? in[(y * gw + x) * c + ch] : 0.0f;
            const std::size_t f = channel_major ? ch * k * k + ky * k + kx : (ky * k + kx) * c + ch;
            out[(by * ow + bx) * c * k * k + f] = val;
          }
  return out;
}

}  // namespace vprim_ref

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Naive double-precision references for the DeepSeek-V4 modules, written from the formulas of
// research/deepseek_v4.md §4, §5, §8, §9 (one token, one window, one expert at a time; no
// streaming state, no GEMM, full sorts).

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <vector>

namespace vprim_ref {

using vec = std::vector<double>;

inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// mHC for one token: X [n][D] -> pre-collapsed h [D], post [n], comb [n][n] (Sinkhorn).
struct mhc_out {
  vec post, comb, collapsed;
};
inline mhc_out mhc(const std::vector<float>& x, std::size_t n, std::size_t D, const std::vector<float>& fn,
                   const std::vector<float>& base, const std::vector<float>& scale, int iters, double norm_eps, double eps) {
  double ss = 0;
  for (float v : x) ss += static_cast<double>(v) * v;
  const double rho = 1.0 / std::sqrt(ss / static_cast<double>(n * D) + norm_eps);
  const std::size_t rows = (2 + n) * n;
  vec mix(rows, 0.0);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t i = 0; i < n * D; ++i) mix[r] += static_cast<double>(fn[r * n * D + i]) * x[i];
    mix[r] *= rho;
  }
  mhc_out o{vec(n), vec(n * n), vec(D, 0.0)};
  vec pre(n);
  for (std::size_t k = 0; k < n; ++k) {
    pre[k] = sigmoid(scale[0] * mix[k] + base[k]) + eps;
    o.post[k] = 2.0 * sigmoid(scale[1] * mix[n + k] + base[n + k]);
  }
  for (std::size_t j = 0; j < n; ++j) {  // row softmax + eps
    double mx = -1e300, sum = 0;
    for (std::size_t k = 0; k < n; ++k) mx = std::max(mx, scale[2] * mix[2 * n + j * n + k] + base[2 * n + j * n + k]);
    for (std::size_t k = 0; k < n; ++k) sum += std::exp(scale[2] * mix[2 * n + j * n + k] + base[2 * n + j * n + k] - mx);
    for (std::size_t k = 0; k < n; ++k)
      o.comb[j * n + k] = std::exp(scale[2] * mix[2 * n + j * n + k] + base[2 * n + j * n + k] - mx) / sum + eps;
  }
  auto cols = [&] {
    for (std::size_t k = 0; k < n; ++k) {
      double s = 0;
      for (std::size_t j = 0; j < n; ++j) s += o.comb[j * n + k];
      for (std::size_t j = 0; j < n; ++j) o.comb[j * n + k] /= s + eps;
    }
  };
  cols();
  for (int it = 1; it < iters; ++it) {
    for (std::size_t j = 0; j < n; ++j) {
      double s = 0;
      for (std::size_t k = 0; k < n; ++k) s += o.comb[j * n + k];
      for (std::size_t k = 0; k < n; ++k) o.comb[j * n + k] /= s + eps;
    }
    cols();
  }
  for (std::size_t d = 0; d < D; ++d)
    for (std::size_t j = 0; j < n; ++j) o.collapsed[d] += pre[j] * x[j * D + d];
  return o;
}

// Compressed entry w from all tokens x [T][D] (window w = tokens [w*m, (w+1)*m)).
inline vec compressed_entry(const std::vector<float>& x, std::size_t D, std::size_t w, std::size_t m, std::size_t c,
                            bool overlap, const std::vector<float>& wkv, const std::vector<float>& wgate,
                            const std::vector<float>& bias, const std::vector<float>& norm_w,
                            const std::vector<double>& inv_freq, double eps) {
  const std::size_t P = overlap ? 2 * c : c;
  auto proj = [&](const std::vector<float>& W, std::size_t token, std::size_t ch) {
    double s = 0;
    for (std::size_t d = 0; d < D; ++d) s += static_cast<double>(W[ch * D + d]) * x[token * D + d];
    return s;
  };
  vec y(c, 0.0);
  for (std::size_t e = 0; e < c; ++e) {
    std::vector<std::pair<double, double>> slots;  // (gate, value)
    if (overlap && w > 0)
      for (std::size_t j = 0; j < m; ++j) {
        const std::size_t t = (w - 1) * m + j;
        slots.push_back({proj(wgate, t, e) + bias[j * P + e], proj(wkv, t, e)});
      }
    for (std::size_t j = 0; j < m; ++j) {
      const std::size_t t = w * m + j, ch = overlap ? c + e : e;
      slots.push_back({proj(wgate, t, ch) + bias[j * P + ch], proj(wkv, t, ch)});
    }
    double mx = -1e300, sum = 0;
    for (auto& s : slots) mx = std::max(mx, s.first);
    for (auto& s : slots) sum += std::exp(s.first - mx);
    for (auto& s : slots) y[e] += std::exp(s.first - mx) / sum * s.second;
  }
  double ss = 0;
  for (double v : y) ss += v * v;
  const double inv = 1.0 / std::sqrt(ss / static_cast<double>(c) + eps);
  for (std::size_t e = 0; e < c; ++e) y[e] *= inv * norm_w[e];
  const std::size_t half = inv_freq.size(), nope = c - 2 * half;  // RoPE at the window's first position
  for (std::size_t i = 0; i < half; ++i) {
    const double a = static_cast<double>(w * m) * inv_freq[i];
    const double x0 = y[nope + 2 * i], x1 = y[nope + 2 * i + 1];
    y[nope + 2 * i] = x0 * std::cos(a) - x1 * std::sin(a);
    y[nope + 2 * i + 1] = x1 * std::cos(a) + x0 * std::sin(a);
  }
  return y;
}

// Indexer scores I(t, i) = sum_h w_h * relu(q_h . K_i) / sqrt(d) / sqrt(H) for visible i.
inline vec indexer_scores(const std::vector<float>& q, const std::vector<float>& hw, const std::vector<float>& keys,
                          std::size_t visible, std::size_t heads, std::size_t d) {
  vec s(visible, 0.0);
  for (std::size_t i = 0; i < visible; ++i)
    for (std::size_t h = 0; h < heads; ++h) {
      double dot = 0;
      for (std::size_t e = 0; e < d; ++e) dot += static_cast<double>(q[h * d + e]) * keys[i * d + e];
      s[i] += std::max(dot, 0.0) / std::sqrt(static_cast<double>(d)) * hw[h] / std::sqrt(static_cast<double>(heads));
    }
  return s;
}

// The router for one token: scores of the logits (0 sqrtsoftplus, 1 sigmoid, 2 softmax), the K
// best of score + bias by a full stable sort (ties: lower expert), weights renormalised.
struct routing {
  std::vector<std::int64_t> experts;
  vec weights;
};
inline routing route(const vec& logits, const std::vector<float>& bias, int scoring, double routed_scale, std::size_t K) {
  const std::size_t E = logits.size();
  vec score(E);
  if (scoring == 2) {
    double mx = *std::max_element(logits.begin(), logits.end()), sum = 0;
    for (double l : logits) sum += std::exp(l - mx);
    for (std::size_t e = 0; e < E; ++e) score[e] = std::exp(logits[e] - mx) / sum;
  } else {
    for (std::size_t e = 0; e < E; ++e)
      score[e] = scoring == 1 ? sigmoid(logits[e]) : std::sqrt(std::log1p(std::exp(logits[e])));
  }
  routing r;
  r.experts.resize(E);
  std::iota(r.experts.begin(), r.experts.end(), 0);
  std::stable_sort(r.experts.begin(), r.experts.end(), [&](auto a, auto b) {
    return score[static_cast<std::size_t>(a)] + bias[static_cast<std::size_t>(a)] > score[static_cast<std::size_t>(b)] + bias[static_cast<std::size_t>(b)];
  });
  r.experts.resize(K);
  double total = 0;
  for (auto e : r.experts) total += score[static_cast<std::size_t>(e)];
  for (auto e : r.experts) r.weights.push_back(score[static_cast<std::size_t>(e)] / (total + 1e-20) * routed_scale);
  return r;
}

// MoE for one token with explicit expert choice (full sort of score + bias).
inline vec moe(const std::vector<float>& x, std::size_t D, std::size_t E, std::size_t K, std::size_t I, int scoring,
               double routed_scale, double limit, const std::vector<float>& gate, const std::vector<float>& bias,
               const std::vector<float>& gate_up, const std::vector<float>& down, const std::vector<float>& sg,
               const std::vector<float>& su, const std::vector<float>& sd, std::vector<std::int64_t>* chosen) {
  vec logits(E, 0.0);
  for (std::size_t e = 0; e < E; ++e)
    for (std::size_t d = 0; d < D; ++d) logits[e] += static_cast<double>(gate[e * D + d]) * x[d];
  const routing r = route(logits, bias, scoring, routed_scale, K);
  if (chosen) *chosen = r.experts;
  auto ffn = [&](const float* wg, const float* wu, std::size_t wu_stride, const float* wd) {
    vec h(I), y(D, 0.0);
    for (std::size_t i = 0; i < I; ++i) {
      double g = 0, u = 0;
      for (std::size_t d = 0; d < D; ++d) {
        g += static_cast<double>(wg[i * D + d]) * x[d];
        u += static_cast<double>(wu[i * wu_stride + d]) * x[d];
      }
      g = std::min(g, limit);
      u = std::clamp(u, -limit, limit);
      h[i] = g / (1.0 + std::exp(-g)) * u;
    }
    for (std::size_t d = 0; d < D; ++d)
      for (std::size_t i = 0; i < I; ++i) y[d] += static_cast<double>(wd[d * I + i]) * h[i];
    return y;
  };
  vec out = ffn(sg.data(), su.data(), D, sd.data());
  for (std::size_t k = 0; k < K; ++k) {
    const auto ue = static_cast<std::size_t>(r.experts[k]);
    const float* gu = gate_up.data() + ue * 2 * I * D;
    const vec y = ffn(gu, gu + I * D, D, down.data() + ue * D * I);
    for (std::size_t d = 0; d < D; ++d) out[d] += r.weights[k] * y[d];
  }
  return out;
}

}  // namespace vprim_ref

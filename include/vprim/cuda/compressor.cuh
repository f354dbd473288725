// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file compressor.cuh
//! The CSA/HCA compressor's pooling on the GPU, the per-window math of v4::compressor::update
//! in one kernel: for every complete window, the per-channel softmax of the gates (+ position
//! bias) over its slots weights the KV projections; the sum is RMS-normalised and its trailing
//! rope dims rotated at the window's first position. The projections themselves are GEMMs
//! (gemm.cuh); the streaming buffers stay with the caller, who passes the previous window's
//! overlap half when the first window of a call continues an earlier one.

#include "vprim/cuda/block_sum.cuh"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

struct compress_args {
  const float* kv = nullptr;             //!< [windows * ratio, proj] projections of the window tokens
  const float* gate = nullptr;           //!< [windows * ratio, proj], without the position bias
  const float* position_bias = nullptr;  //!< [ratio, proj]
  const float* norm_w = nullptr;         //!< [width]
  const float* inv_freq = nullptr;       //!< [rope_half] (compress RoPE, YaRN applied)
  const float* prev_kv = nullptr;        //!< [ratio, width] overlap half before window 0 (bias in gate), or null
  const float* prev_gate = nullptr;
  float* entries = nullptr;              //!< [windows, width]
  std::size_t windows = 0, ratio = 0, width = 0, rope_half = 0;
  std::size_t first_entry = 0;           //!< entries made before this call (fixes the positions)
  bool overlap = false;                  //!< CSA: proj = 2 * width, window w also pools w - 1's [0, width) half
  float eps = 1e-6f;
};

[[nodiscard]] inline status compress_can_implement(const compress_args& a) noexcept {
  if (a.windows == 0) return status::ok;
  if (!a.kv || !a.gate || !a.position_bias || !a.norm_w || !a.entries || (a.rope_half > 0 && !a.inv_freq))
    return status::invalid_argument;
  if (a.ratio == 0 || a.width == 0 || 2 * a.rope_half > a.width) return status::invalid_argument;
  if ((a.prev_kv == nullptr) != (a.prev_gate == nullptr)) return status::invalid_argument;
  if (a.windows > 0x7fffffffu || a.width * sizeof(float) > 48 * 1024) return status::not_supported;
  return status::ok;
}

namespace detail {
inline constexpr int compress_threads = 128;

VPRIM_KERNEL void compress_kernel(compress_args a) {
  extern __shared__ float entry[];
  const std::size_t w = blockIdx.x, c = a.width, P = a.overlap ? 2 * c : c;
  float ss = 0.0f;
  for (std::size_t e = threadIdx.x; e < c; e += compress_threads) {
    // slots: the previous window's [0, c) half (overlap only), then this window's own channels
    float mx = -INFINITY;
    auto prev_gate = [&](std::size_t j) {
      if (w > 0) return a.gate[((w - 1) * a.ratio + j) * P + e] + a.position_bias[j * P + e];
      return a.prev_gate != nullptr ? a.prev_gate[j * c + e] : -INFINITY;
    };
    auto prev_kv = [&](std::size_t j) {
      if (w > 0) return a.kv[((w - 1) * a.ratio + j) * P + e];
      return a.prev_kv != nullptr ? a.prev_kv[j * c + e] : 0.0f;
    };
    const std::size_t ch = a.overlap ? c + e : e;
    auto own_gate = [&](std::size_t j) { return a.gate[(w * a.ratio + j) * P + ch] + a.position_bias[j * P + ch]; };
    if (a.overlap)
      for (std::size_t j = 0; j < a.ratio; ++j) mx = fmaxf(mx, prev_gate(j));
    for (std::size_t j = 0; j < a.ratio; ++j) mx = fmaxf(mx, own_gate(j));
    float sum = 0.0f, acc = 0.0f;
    if (a.overlap)
      for (std::size_t j = 0; j < a.ratio; ++j) {
        const float p = expf(prev_gate(j) - mx);
        sum += p;
        acc += p * prev_kv(j);
      }
    for (std::size_t j = 0; j < a.ratio; ++j) {
      const float p = expf(own_gate(j) - mx);
      sum += p;
      acc += p * a.kv[(w * a.ratio + j) * P + ch];
    }
    entry[e] = acc / sum;
    ss += entry[e] * entry[e];
  }
  const float inv_rms = rsqrtf(block_sum<compress_threads>(ss) / static_cast<float>(c) + a.eps);
  for (std::size_t e = threadIdx.x; e < c; e += compress_threads) entry[e] = a.norm_w[e] * (entry[e] * inv_rms);
  __syncthreads();
  const std::size_t nope = c - 2 * a.rope_half;
  const auto pos = static_cast<float>((a.first_entry + w) * a.ratio);
  for (std::size_t i = threadIdx.x; i < a.rope_half; i += compress_threads) {
    const float angle = pos * a.inv_freq[i];
    const float cs = cosf(angle), sn = sinf(angle);
    const float x0 = entry[nope + 2 * i], x1 = entry[nope + 2 * i + 1];
    entry[nope + 2 * i] = x0 * cs - x1 * sn;
    entry[nope + 2 * i + 1] = x1 * cs + x0 * sn;
  }
  __syncthreads();
  for (std::size_t e = threadIdx.x; e < c; e += compress_threads) a.entries[w * c + e] = entry[e];
}
}  // namespace detail

//! One entry per window on `stream`.
[[nodiscard]] inline status compress_windows(const compress_args& a, cudaStream_t stream) {
  if (const status s = compress_can_implement(a); s != status::ok || a.windows == 0) return s;
  detail::compress_kernel<<<static_cast<unsigned>(a.windows), detail::compress_threads, a.width * sizeof(float), stream>>>(a);
  return detail::launched();
}

}  // namespace cuda
VPRIM_NAMESPACE_END

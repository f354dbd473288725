// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file compressor.cuh
//! The CSA/HCA compressor's pooling on the GPU, the per-window math of v4::compressor::update
//! in one kernel: for every complete window, the per-channel softmax of the gates (+ position
//! bias) over its slots weights the KV projections; the sum is RMS-normalised and its trailing
//! rope dims rotated at the window's first position. The projections themselves are GEMMs
//! (gemm.cuh). A call's rows are the `head_rows` rows left over from earlier calls (a partial
//! window) followed by the new ones; the previous window's overlap half comes in with them when
//! the first window continues an earlier one.
//! compress_update() keeps that streaming state on the device (the decode-time update): the
//! partial window, the overlap half and the entries, so that any split of a sequence into calls
//! makes the same entries, bit for bit, as one call.

#include "vprim/cuda/block_sum.cuh"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

struct compress_args {
  const float* kv = nullptr;             //!< [windows * ratio - head_rows, proj] projections of the new tokens
  const float* gate = nullptr;           //!< the same rows' gates, without the position bias
  const float* head_kv = nullptr;        //!< [head_rows, proj]: rows before kv (a partial window), or null
  const float* head_gate = nullptr;
  std::size_t head_rows = 0;
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
  if (a.head_rows >= a.ratio || (a.head_rows > 0 && (!a.head_kv || !a.head_gate))) return status::invalid_argument;
  if (a.windows > 0x7fffffffu || a.width * sizeof(float) > 48 * 1024) return status::not_supported;
  return status::ok;
}

namespace detail {
inline constexpr int compress_threads = 128;

//! Channel ch of row r of a call: the head rows, then the new ones.
__device__ inline float compress_row(const float* head, const float* body, std::size_t head_rows, std::size_t r, std::size_t proj,
                                     std::size_t ch) {
  return r < head_rows ? head[r * proj + ch] : body[(r - head_rows) * proj + ch];
}
__device__ inline float compress_kv(const compress_args& a, std::size_t r, std::size_t proj, std::size_t ch) {
  return compress_row(a.head_kv, a.kv, a.head_rows, r, proj, ch);
}
__device__ inline float compress_gate(const compress_args& a, std::size_t r, std::size_t proj, std::size_t ch) {
  return compress_row(a.head_gate, a.gate, a.head_rows, r, proj, ch);
}

VPRIM_KERNEL void compress_kernel(compress_args a) {
  extern __shared__ float entry[];
  const std::size_t w = blockIdx.x, c = a.width, P = a.overlap ? 2 * c : c;
  float ss = 0.0f;
  for (std::size_t e = threadIdx.x; e < c; e += compress_threads) {
    // slots: the previous window's [0, c) half (overlap only), then this window's own channels
    float mx = -INFINITY;
    auto prev_gate = [&](std::size_t j) {
      if (w > 0) return compress_gate(a, (w - 1) * a.ratio + j, P, e) + a.position_bias[j * P + e];
      return a.prev_gate != nullptr ? a.prev_gate[j * c + e] : -INFINITY;
    };
    auto prev_kv = [&](std::size_t j) {
      if (w > 0) return compress_kv(a, (w - 1) * a.ratio + j, P, e);
      return a.prev_kv != nullptr ? a.prev_kv[j * c + e] : 0.0f;
    };
    const std::size_t ch = a.overlap ? c + e : e;
    auto own_gate = [&](std::size_t j) { return compress_gate(a, w * a.ratio + j, P, ch) + a.position_bias[j * P + ch]; };
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
      acc += p * compress_kv(a, w * a.ratio + j, P, ch);
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

//! The compressor's streaming state on the device. The caller allocates the arrays once (sizes
//! below) and zero-initialises the counters; compress_update() advances them.
struct compressor_stream {
  float* buffer_kv = nullptr;     //!< [ratio, proj]: the partial window's projections
  float* buffer_gate = nullptr;   //!< [ratio, proj], gates without the bias
  float* overlap_kv = nullptr;    //!< [ratio, width]: the last window's [0, width) half (CSA only)
  float* overlap_gate = nullptr;  //!< [ratio, width], gates with the bias
  float* entries = nullptr;       //!< [capacity, width]
  std::size_t capacity = 0;
  std::size_t buffered = 0;       //!< rows in the partial window
  std::size_t count = 0;          //!< entries made
  bool has_overlap = false;
};

namespace detail {
//! The last window of a call keeps its [0, c) half (gates with the bias) for the next window.
VPRIM_KERNEL void keep_overlap_kernel(compress_args a, float* overlap_kv, float* overlap_gate) {
  const std::size_t c = a.width, P = 2 * c, first = (a.windows - 1) * a.ratio;
  for (std::size_t i = threadIdx.x; i < a.ratio * c; i += blockDim.x) {
    const std::size_t j = i / c, e = i % c;
    overlap_kv[i] = compress_kv(a, first + j, P, e);
    overlap_gate[i] = compress_gate(a, first + j, P, e) + a.position_bias[j * P + e];
  }
}
}  // namespace detail

//! Feeds `rows` new tokens' projections (kv, gate: [rows, proj]) through the compressor on
//! `stream`. `layer` holds the layer's constants (position_bias, norm_w, inv_freq, ratio, width,
//! rope_half, overlap, eps); its other fields are ignored. Every complete window becomes an
//! entry at st.entries[st.count ...]; the rest waits in the buffer for the next call.
//! Errors: out_of_range when the entries would pass st.capacity (nothing is written then).
[[nodiscard]] inline status compress_update(const compress_args& layer, const float* kv, const float* gate, std::size_t rows,
                                            compressor_stream& st, cudaStream_t stream) {
  if (rows == 0) return status::ok;
  if (!kv || !gate || !st.buffer_kv || !st.buffer_gate || !st.entries || (layer.overlap && (!st.overlap_kv || !st.overlap_gate)))
    return status::invalid_argument;
  if (layer.ratio == 0 || st.buffered >= layer.ratio) return status::invalid_argument;
  const std::size_t P = layer.overlap ? 2 * layer.width : layer.width, total = st.buffered + rows;
  const std::size_t windows = total / layer.ratio, left = total - windows * layer.ratio;
  auto copy_rows = [&](float* dst, const float* src, std::size_t n) {
    return to_status(cudaMemcpyAsync(dst, src, n * P * sizeof(float), cudaMemcpyDeviceToDevice, stream));
  };
  if (windows == 0) {  // the partial window grows
    const status s = copy_rows(st.buffer_kv + st.buffered * P, kv, rows);
    if (s != status::ok) return s;
    if (const status g = copy_rows(st.buffer_gate + st.buffered * P, gate, rows); g != status::ok) return g;
    st.buffered = total;
    return status::ok;
  }
  if (st.count + windows > st.capacity) return status::out_of_range;
  compress_args a = layer;
  a.kv = kv;
  a.gate = gate;
  a.head_kv = st.buffer_kv;
  a.head_gate = st.buffer_gate;
  a.head_rows = st.buffered;
  a.prev_kv = layer.overlap && st.has_overlap ? st.overlap_kv : nullptr;
  a.prev_gate = layer.overlap && st.has_overlap ? st.overlap_gate : nullptr;
  a.entries = st.entries + st.count * layer.width;
  a.windows = windows;
  a.first_entry = st.count;
  if (const status s = compress_windows(a, stream); s != status::ok) return s;
  if (layer.overlap) {
    detail::keep_overlap_kernel<<<1, 256, 0, stream>>>(a, st.overlap_kv, st.overlap_gate);
    if (const status s = detail::launched(); s != status::ok) return s;
    st.has_overlap = true;
  }
  // The leftover rows are all new ones (the first window took the whole buffer); stream order
  // puts the copy after the kernels that read the buffer.
  if (const status s = copy_rows(st.buffer_kv, kv + (rows - left) * P, left); s != status::ok) return s;
  if (const status s = copy_rows(st.buffer_gate, gate + (rows - left) * P, left); s != status::ok) return s;
  st.buffered = left;
  st.count += windows;
  return status::ok;
}

}  // namespace cuda
VPRIM_NAMESPACE_END

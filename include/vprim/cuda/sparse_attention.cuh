// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file sparse_attention.cuh
//! The DeepSeek-V4 attention core on the GPU, the softmax step of v4::attention_layer::forward,
//! for one decode token or a whole prefill alike. Query t (position pos[t]) attends:
//! - the raw kv rows whose positions lie in (pos[t] - window, pos[t]];
//! - CSA: the compressed entries the indexer selected for it (selected[t, j]; -1, or any id
//!   outside the entries, selects nothing, which is how top-k marks its unused slots);
//! - HCA (selected == null): every entry i < min((pos[t] + 1) / ratio, entries).
//! K and V are the same single head, shared by every query head (V4's MQA), and each head has a
//! learnable sink logit with a zero value: softmax over [sink, logits], so the weights may sum
//! to less than one. fp32 throughout, online softmax, never a score matrix.
//! One block serves one query and 8 heads, one warp a head; keys are staged 16 at a time in
//! shared memory and read by all 8 warps. A lane holds head_dim / 32 of q and of the output.
//! Decoding makes few such blocks (64 heads: 8 per query) for many keys (an HCA layer at 1M
//! tokens sees 8K entries), so the overload with a workspace splits each query's keys across
//! blocks when the queries alone would leave most SMs idle (flash-decoding): every split keeps
//! its own max, sum and unnormalised output, and a second kernel merges them.

#include <algorithm>

#include "vprim/cuda/launch.cuh"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

struct sparse_attention_args {
  const float* q = nullptr;                //!< [queries, heads, head_dim], RoPE applied
  const float* raw_kv = nullptr;           //!< [raw_count, head_dim]: the cached window, then this call's tokens
  const std::int64_t* raw_pos = nullptr;   //!< [raw_count] positions of the raw rows
  const float* entries = nullptr;          //!< [entry_count, head_dim] compressed entries
  const std::int64_t* selected = nullptr;  //!< CSA: [queries, top_k]; null: HCA's causal rule
  const std::int64_t* pos = nullptr;       //!< [queries]
  const float* sinks = nullptr;            //!< [heads]
  float* out = nullptr;                    //!< [queries, heads, head_dim], before the inverse RoPE
  float* probs = nullptr;                  //!< optional [heads, queries, raw_count + entry_count]: each key's
                                           //!< weight at its column (raw row, then raw_count + entry), for checks;
                                           //!< the caller zeroes it
  std::size_t queries = 0, heads = 0, head_dim = 0, raw_count = 0, entry_count = 0, top_k = 0, ratio = 0, window = 0;
  float scale = 1.0f;
};

namespace detail {
struct sparse_attention_tile {
  static constexpr int heads = 8, threads = heads * 32, keys = 16, max_per_lane = 16;  // head_dim <= 512
  static constexpr std::size_t max_splits = 64, min_split_keys = 256;
};

//! How a call's keys are split: `splits` ranges of `split_len` slots (split_len 0: unsplit).
struct sparse_attention_split {
  std::size_t splits = 1, split_len = 0;
};
}  // namespace detail

[[nodiscard]] inline status sparse_attention_can_implement(const sparse_attention_args& a) noexcept {
  using T = detail::sparse_attention_tile;
  if (a.queries == 0 || a.heads == 0) return status::ok;
  if (!a.q || !a.pos || !a.sinks || !a.out || (a.raw_count > 0 && (!a.raw_kv || !a.raw_pos))) return status::invalid_argument;
  if (a.entry_count > 0 && !a.entries) return status::invalid_argument;
  if (a.selected != nullptr && a.top_k == 0) return status::invalid_argument;
  if (a.selected == nullptr && a.entry_count > 0 && a.ratio == 0) return status::invalid_argument;
  if (a.head_dim == 0 || a.head_dim % 32 != 0 || a.head_dim > 32 * T::max_per_lane) return status::not_supported;
  if (a.queries > 0x7fffffffu || ceil_div(a.heads, T::heads) > 65535u) return status::not_supported;
  return status::ok;
}

namespace detail {
//! The key behind slot s of query t (raw rows first, then the compressed candidates), or null
//! when the query does not see it. HCA slots arrive only up to the visible entries.
__device__ inline const float* sparse_key(const sparse_attention_args& a, std::size_t t, std::int64_t pos, std::size_t s) {
  if (s < a.raw_count) {
    const std::int64_t p = a.raw_pos[s];
    const bool seen = p <= pos && p > pos - static_cast<std::int64_t>(a.window);
    return seen ? a.raw_kv + s * a.head_dim : nullptr;
  }
  s -= a.raw_count;  // HCA: entry s itself (the caller stops at the visible ones)
  const std::int64_t e = a.selected != nullptr ? a.selected[t * a.top_k + s] : static_cast<std::int64_t>(s);
  return e >= 0 && static_cast<std::size_t>(e) < a.entry_count ? a.entries + static_cast<std::size_t>(e) * a.head_dim : nullptr;
}

//! With split.split_len > 0, block z covers slots [z * split_len, (z + 1) * split_len) and writes
//! partial[(query * heads + head) * splits + z] = (unnormalised output [head_dim], max, sum);
//! the sink belongs to split 0.
VPRIM_KERNEL void sparse_attention_kernel(sparse_attention_args a, sparse_attention_split split, float* partial) {
  using T = sparse_attention_tile;
  extern __shared__ float sparse_keys[];  // [T::keys, head_dim]
  __shared__ bool seen[T::keys];
  const std::size_t t = blockIdx.x, D = a.head_dim;
  const int warp = static_cast<int>(threadIdx.x) / 32, lane = static_cast<int>(threadIdx.x) % 32;
  const std::size_t h = static_cast<std::size_t>(blockIdx.y) * T::heads + static_cast<std::size_t>(warp);
  const bool active = h < a.heads;
  const int per_lane = static_cast<int>(D / 32);
  const std::int64_t pos = a.pos[t];
  float q[T::max_per_lane], o[T::max_per_lane];
#pragma unroll
  for (int j = 0; j < T::max_per_lane; ++j) {
    q[j] = j < per_lane && active ? a.q[(t * a.heads + h) * D + static_cast<std::size_t>(j * 32 + lane)] * a.scale : 0.0f;
    o[j] = 0.0f;
  }
  // The sink is a logit with value zero: it starts the running max and adds exp(0) to the sum.
  const bool has_sink = blockIdx.z == 0;
  float m = active && has_sink ? a.sinks[h] : -INFINITY, l = has_sink ? 1.0f : 0.0f;
  // Slots: the raw rows, then the selected entries (CSA) or the visible prefix of them (HCA).
  const std::size_t visible = a.ratio > 0 && pos >= 0 ? static_cast<std::size_t>(pos + 1) / a.ratio : 0;
  const std::size_t candidates = a.raw_count + (a.selected != nullptr ? a.top_k : min(a.entry_count, visible));
  const std::size_t first = split.split_len * blockIdx.z;
  const std::size_t last = split.split_len > 0 ? min(candidates, first + split.split_len) : candidates;
  for (std::size_t s0 = first; s0 < last; s0 += T::keys) {
    for (int i = warp; i < T::keys; i += T::heads) {
      const std::size_t s = s0 + static_cast<std::size_t>(i);
      const float* key = s < last ? sparse_key(a, t, pos, s) : nullptr;
      if (lane == 0) seen[i] = key != nullptr;
      if (key != nullptr)
        for (std::size_t d = static_cast<std::size_t>(lane); d < D; d += 32) sparse_keys[static_cast<std::size_t>(i) * D + d] = key[d];
    }
    __syncthreads();
    if (active) {
      float logit[T::keys];
      float chunk_max = m;
#pragma unroll
      for (int i = 0; i < T::keys; ++i) {
        float part = 0.0f;
#pragma unroll
        for (int j = 0; j < T::max_per_lane; ++j)
          if (j < per_lane) part += q[j] * sparse_keys[static_cast<std::size_t>(i) * D + static_cast<std::size_t>(j * 32 + lane)];
        for (int off = 16; off > 0; off /= 2) part += __shfl_xor_sync(0xffffffffu, part, off);
        logit[i] = seen[i] ? part : -INFINITY;
        chunk_max = fmaxf(chunk_max, logit[i]);
      }
      // A split without its sink sees nothing until its first visible key.
      const float correction = chunk_max == -INFINITY ? 1.0f : expf(m - chunk_max);
      l *= correction;
#pragma unroll
      for (int j = 0; j < T::max_per_lane; ++j) o[j] *= correction;
#pragma unroll
      for (int i = 0; i < T::keys; ++i) {
        if (!seen[i]) continue;  // (so chunk_max is finite below)
        const float p = expf(logit[i] - chunk_max);
        l += p;
#pragma unroll
        for (int j = 0; j < T::max_per_lane; ++j)
          if (j < per_lane) o[j] += p * sparse_keys[static_cast<std::size_t>(i) * D + static_cast<std::size_t>(j * 32 + lane)];
      }
      m = chunk_max;
    }
    __syncthreads();
  }
  if (!active) return;
  if (split.split_len > 0) {
    float* mine = partial + ((t * a.heads + h) * split.splits + blockIdx.z) * (D + 2);
#pragma unroll
    for (int j = 0; j < T::max_per_lane; ++j)
      if (j < per_lane) mine[j * 32 + lane] = o[j];
    if (lane == 0) {
      mine[D] = m;
      mine[D + 1] = l;
    }
    return;
  }
#pragma unroll
  for (int j = 0; j < T::max_per_lane; ++j)
    if (j < per_lane) a.out[(t * a.heads + h) * D + static_cast<std::size_t>(j * 32 + lane)] = o[j] / l;
  if (a.probs == nullptr) return;
  // The weights themselves, for checks: a second pass over the keys with the final max and sum.
  const std::size_t cols = a.raw_count + a.entry_count;
  for (std::size_t s = 0; s < candidates; ++s) {
    const float* key = sparse_key(a, t, pos, s);
    if (key == nullptr) continue;
    float part = 0.0f;
#pragma unroll
    for (int j = 0; j < T::max_per_lane; ++j)
      if (j < per_lane) part += q[j] * key[j * 32 + lane];
    for (int off = 16; off > 0; off /= 2) part += __shfl_xor_sync(0xffffffffu, part, off);
    const std::size_t col = s < a.raw_count ? s : a.raw_count + static_cast<std::size_t>((key - a.entries) / static_cast<std::ptrdiff_t>(D));
    if (lane == 0) a.probs[(h * a.queries + t) * cols + col] = expf(part - m) / l;
  }
}

//! Merges the splits of one (query, head): the largest max rescales every split's sum and output.
VPRIM_KERNEL void sparse_attention_merge_kernel(sparse_attention_args a, sparse_attention_split split, const float* partial) {
  const std::size_t row = blockIdx.x, D = a.head_dim;  // row = query * heads + head
  const float* p = partial + row * split.splits * (D + 2);
  float top = -INFINITY;
  for (std::size_t z = 0; z < split.splits; ++z) top = fmaxf(top, p[z * (D + 2) + D]);
  float total = 0.0f;
  for (std::size_t z = 0; z < split.splits; ++z) total += p[z * (D + 2) + D + 1] * expf(p[z * (D + 2) + D] - top);
  for (std::size_t d = threadIdx.x; d < D; d += blockDim.x) {
    float acc = 0.0f;
    for (std::size_t z = 0; z < split.splits; ++z) acc += p[z * (D + 2) + d] * expf(p[z * (D + 2) + D] - top);
    a.out[row * D + d] = acc / total;
  }
}

//! The split for `a` on a device with `sms` multiprocessors: none when the queries fill the
//! device, when the weights are asked for, or when the keys are too few to share; otherwise
//! enough splits for two blocks per SM, each at least min_split_keys slots.
[[nodiscard]] inline sparse_attention_split plan_sparse_split(const sparse_attention_args& a, std::size_t sms) noexcept {
  using T = sparse_attention_tile;
  const std::size_t blocks = a.queries * ceil_div(a.heads, T::heads), target = 2 * sms;
  const std::size_t slots = a.raw_count + (a.selected != nullptr ? a.top_k : a.entry_count);
  if (a.probs != nullptr || blocks >= target) return {};
  const std::size_t splits = std::min({ceil_div(target, blocks), ceil_div(slots, T::min_split_keys), T::max_splits});
  if (splits <= 1) return {};
  const std::size_t len = ceil_div(ceil_div(slots, splits), T::keys) * T::keys;
  return {ceil_div(slots, len), len};
}

[[nodiscard]] inline std::size_t multiprocessors() noexcept {
  int device = 0, sms = 0;
  if (cudaGetDevice(&device) != cudaSuccess || cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, device) != cudaSuccess)
    return 1;
  return static_cast<std::size_t>(std::max(sms, 1));
}

[[nodiscard]] inline status launch_sparse_attention(const sparse_attention_args& a, sparse_attention_split split, float* partial,
                                                    cudaStream_t stream) {
  using T = sparse_attention_tile;
  const dim3 grid(static_cast<unsigned>(a.queries), static_cast<unsigned>(ceil_div(a.heads, T::heads)),
                  static_cast<unsigned>(split.splits));
  sparse_attention_kernel<<<grid, T::threads, T::keys * a.head_dim * sizeof(float), stream>>>(a, split, partial);
  if (const status s = launched(); s != status::ok || split.split_len == 0) return s;
  sparse_attention_merge_kernel<<<static_cast<unsigned>(a.queries * a.heads), 128, 0, stream>>>(a, split, partial);
  return launched();
}

//! The peer's block bias [queries, entries]: 0 where a query sees an entry, -inf elsewhere.
VPRIM_KERNEL void sparse_attention_bias_kernel(sparse_attention_args a, float* bias) {
  const std::size_t t = blockIdx.x, T = a.entry_count;
  const std::int64_t pos = a.pos[t];
  const std::size_t visible = a.ratio > 0 && pos >= 0 ? static_cast<std::size_t>(pos + 1) / a.ratio : 0;
  for (std::size_t i = threadIdx.x; i < T; i += blockDim.x) bias[t * T + i] = a.selected == nullptr && i < visible ? 0.0f : -INFINITY;
  __syncthreads();
  if (a.selected != nullptr && threadIdx.x == 0)
    for (std::size_t j = 0; j < a.top_k; ++j)
      if (const std::int64_t e = a.selected[t * a.top_k + j]; e >= 0 && static_cast<std::size_t>(e) < T) bias[t * T + static_cast<std::size_t>(e)] = 0.0f;
}
}  // namespace detail

//! Every query's attention on `stream`, one block per query and 8 heads.
[[nodiscard]] inline status sparse_attention(const sparse_attention_args& a, cudaStream_t stream) {
  if (const status s = sparse_attention_can_implement(a); s != status::ok || a.queries == 0 || a.heads == 0) return s;
  return detail::launch_sparse_attention(a, {}, nullptr, stream);
}

//! The same, with each query's keys split across blocks when the queries are too few to fill
//! the device (decoding). Two-phase workspace; the query needs only queries, heads and
//! head_dim, and a workspace sized for some number of queries serves every smaller call.
[[nodiscard]] inline status sparse_attention(const sparse_attention_args& a, workspace& ws, cudaStream_t stream) {
  using T = detail::sparse_attention_tile;
  const std::size_t sms = detail::multiprocessors();
  const std::size_t blocks = a.queries * ceil_div(a.heads, T::heads);
  const std::size_t most = blocks >= 2 * sms ? 0 : std::min(ceil_div(2 * sms, std::max<std::size_t>(blocks, 1)), T::max_splits);
  detail::carve cv(ws);
  float* partial = cv.take<float>(most > 1 ? a.queries * a.heads * most * (a.head_dim + 2) : 0);
  if (cv.query()) {
    ws.bytes = cv.need();
    return status::ok;
  }
  if (const status s = sparse_attention_can_implement(a); s != status::ok || a.queries == 0 || a.heads == 0) return s;
  const detail::sparse_attention_split split = detail::plan_sparse_split(a, sms);
  if (split.split_len > 0 && (!cv.fits() || partial == nullptr)) return status::invalid_argument;
  return detail::launch_sparse_attention(a, split, partial, stream);
}

//! Which entries each query sees, as the peer's block bias [queries, entry_count] (0 seen, -inf
//! not), on `stream`: for checks against a peer that records it.
[[nodiscard]] inline status sparse_attention_bias(const sparse_attention_args& a, float* bias, cudaStream_t stream) {
  if (const status s = sparse_attention_can_implement(a); s != status::ok || a.queries == 0 || a.entry_count == 0) return s;
  if (bias == nullptr) return status::invalid_argument;
  detail::sparse_attention_bias_kernel<<<static_cast<unsigned>(a.queries), 128, 0, stream>>>(a, bias);
  return detail::launched();
}

}  // namespace cuda
VPRIM_NAMESPACE_END

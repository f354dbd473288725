// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file topk.cuh
//! Per-row top-k of the lightning indexer: scores [rows, n] -> indices [rows, k] (int64),
//! highest first, ties to the lower index; a row sees only its first visible[r] entries (the
//! causal rule), and slots past them hold -1, the contract of the CPU top_k_indices.
//! This version sorts each row with cub::DeviceSegmentedRadixSort (stable, descending); a
//! radix select that stops at k is the planned faster path.

#include <cub/device/device_segmented_radix_sort.cuh>

#include "vprim/cuda/launch.cuh"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

struct topk_args {
  const float* scores = nullptr;         //!< [rows, n]
  const std::int32_t* visible = nullptr;  //!< [rows] or null (every entry visible)
  std::int64_t* indices = nullptr;       //!< [rows, k]
  std::size_t rows = 0, n = 0, k = 0;
};

[[nodiscard]] inline status topk_can_implement(const topk_args& a) noexcept {
  if (a.rows == 0 || a.k == 0) return status::ok;
  if (a.scores == nullptr || a.indices == nullptr) return status::invalid_argument;
  if (a.n == 0 || a.n > 0x7fffffffu || a.rows * a.n > 0x7fffffffu) return status::not_supported;
  return status::ok;
}

namespace detail {
//! Keys (score, or -inf where not visible) and values (the column) for the sort.
VPRIM_KERNEL void topk_prepare_kernel(topk_args a, float* keys, std::int32_t* values, std::int32_t* offsets) {
  const std::size_t r = blockIdx.x;
  const std::size_t vis = a.visible != nullptr ? static_cast<std::size_t>(max(a.visible[r], 0)) : a.n;
  for (std::size_t j = threadIdx.x; j < a.n; j += blockDim.x) {
    const float s = a.scores[r * a.n + j];
    keys[r * a.n + j] = j < vis ? s : -INFINITY;
    values[r * a.n + j] = static_cast<std::int32_t>(j);
  }
  if (threadIdx.x == 0) {
    offsets[r] = static_cast<std::int32_t>(r * a.n);
    if (r + 1 == a.rows) offsets[a.rows] = static_cast<std::int32_t>(a.rows * a.n);
  }
}

VPRIM_KERNEL void topk_emit_kernel(topk_args a, const std::int32_t* sorted) {
  const std::size_t r = blockIdx.x;
  const std::size_t vis = a.visible != nullptr ? min(static_cast<std::size_t>(max(a.visible[r], 0)), a.n) : a.n;
  for (std::size_t i = threadIdx.x; i < a.k; i += blockDim.x)
    a.indices[r * a.k + i] = i < vis && i < a.n ? static_cast<std::int64_t>(sorted[r * a.n + i]) : -1;
}
}  // namespace detail

//! Top-k on `stream`, two-phase workspace (see launch.cuh).
[[nodiscard]] inline status topk(const topk_args& a, workspace& ws, cudaStream_t stream) {
  if (const status s = topk_can_implement(a); s != status::ok) return s;
  const std::size_t total = a.rows * a.n;
  const int items = static_cast<int>(total), segments = static_cast<int>(a.rows);
  detail::carve c(ws);
  float* keys_in = c.take<float>(total);
  float* keys_out = c.take<float>(total);
  auto* values_in = c.take<std::int32_t>(total);
  auto* values_out = c.take<std::int32_t>(total);
  auto* offsets = c.take<std::int32_t>(a.rows + 1);
  std::size_t cub_bytes = 0;
  if (cudaError_t e = cub::DeviceSegmentedRadixSort::SortPairsDescending(nullptr, cub_bytes, keys_in, keys_out, values_in,
                                                                          values_out, items, segments, offsets, offsets + 1,
                                                                          0, 32, stream);
      e != cudaSuccess)
    return to_status(e);
  void* cub_scratch = c.take_bytes(cub_bytes);
  if (c.query()) {
    ws.bytes = c.need();
    return status::ok;
  }
  if (!c.fits()) return status::invalid_argument;
  if (a.rows == 0 || a.k == 0) return status::ok;
  detail::topk_prepare_kernel<<<segments, 256, 0, stream>>>(a, keys_in, values_in, offsets);
  if (const status s = detail::launched(); s != status::ok) return s;
  if (cudaError_t e = cub::DeviceSegmentedRadixSort::SortPairsDescending(cub_scratch, cub_bytes, keys_in, keys_out, values_in,
                                                                          values_out, items, segments, offsets, offsets + 1,
                                                                          0, 32, stream);
      e != cudaSuccess)
    return to_status(e);
  detail::topk_emit_kernel<<<segments, 128, 0, stream>>>(a, values_out);
  return detail::launched();
}

}  // namespace cuda
VPRIM_NAMESPACE_END

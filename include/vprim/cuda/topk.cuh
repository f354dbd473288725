// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file topk.cuh
//! Per-row top-k of the lightning indexer: scores [rows, n] -> indices [rows, k] (int64),
//! highest first, ties to the lower index; a row sees only its first visible[r] entries (the
//! causal rule), and slots past them hold -1, the contract of the CPU top_k_indices.
//! Two paths, tested against the same reference:
//! - topk_select (k <= 1024, no workspace): a radix select, one block a row. Three histogram
//!   passes over 11-, 11- and 10-bit digits of the order-preserving integer image of each score
//!   find the k-th largest value exactly; one more pass gathers everything above it and, in
//!   index order, as many of its ties as k still needs; a block radix sort orders those k.
//!   NaN ranks below every number: a row gives one only when it has fewer than k numbers.
//! - topk_sort (any k): cub::DeviceSegmentedRadixSort of every row, stable, descending.
//! topk() takes the select whenever it can.

#include <cub/block/block_radix_sort.cuh>
#include <cub/block/block_scan.cuh>
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

//! Top-k by sorting every row on `stream`, two-phase workspace (see launch.cuh).
[[nodiscard]] inline status topk_sort(const topk_args& a, workspace& ws, cudaStream_t stream) {
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

namespace detail {
struct topk_select_tile {
  static constexpr int threads = 1024, max_k = 1024, bins = 2048;
};

//! The order-preserving image of a float (larger float, larger integer); NaN maps below all.
__device__ inline std::uint32_t ordered_bits(float f) {
  if (isnan(f)) return 0u;
  const std::uint32_t u = __float_as_uint(f);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

VPRIM_KERNEL void __launch_bounds__(topk_select_tile::threads) topk_select_kernel(topk_args a) {
  using T = topk_select_tile;
  using scan = cub::BlockScan<std::uint32_t, T::threads>;
  using sort = cub::BlockRadixSort<std::uint64_t, T::threads, 1>;
  // The chosen keys live only until they are loaded for the final sort, so they share storage
  // with the sort's: the block stays within 48 KB of static shared memory.
  __shared__ union {
    struct {
      typename scan::TempStorage scan;
      std::uint64_t chosen[T::max_k];
    } select;
    typename sort::TempStorage sort;
  } temp;
  __shared__ std::uint32_t hist[T::bins];
  std::uint64_t* chosen = temp.select.chosen;
  __shared__ std::uint32_t s_prefix, s_need, s_above, s_ties;
  const std::size_t r = blockIdx.x;
  const int tid = static_cast<int>(threadIdx.x);
  const std::size_t n = a.visible != nullptr ? min(static_cast<std::size_t>(max(a.visible[r], 0)), a.n) : a.n;
  const float* row = a.scores + r * a.n;
  const auto take = static_cast<std::uint32_t>(min(a.k, n));  // how many the row yields
  // Find the take-th largest image, digit by digit from the top: prefix holds the digits fixed
  // so far, need how many of the elements matching it must still be taken.
  std::uint32_t prefix = 0, mask = 0, need = take;
  constexpr int shifts[3] = {21, 10, 0}, widths[3] = {11, 11, 10};
  for (int pass = 0; pass < 3 && take > 0; ++pass) {
    const int shift = shifts[pass];
    const std::uint32_t digit_mask = (1u << widths[pass]) - 1u;
    for (int b = tid; b < T::bins; b += T::threads) hist[b] = 0;
    __syncthreads();
    for (std::size_t i = static_cast<std::size_t>(tid); i < n; i += T::threads) {
      const std::uint32_t u = ordered_bits(row[i]);
      if ((u & mask) == prefix) atomicAdd(&hist[(u >> shift) & digit_mask], 1u);
    }
    __syncthreads();
    // Counts from the highest digit down: the digit where the running count reaches `need`.
    std::uint32_t items[2], sums[2];
    for (int j = 0; j < 2; ++j) items[j] = hist[T::bins - 1 - (2 * tid + j)];
    scan(temp.select.scan).InclusiveSum(items, sums);
    for (int j = 0; j < 2; ++j)
      if (sums[j] >= need && sums[j] - items[j] < need) {
        s_prefix = prefix | (static_cast<std::uint32_t>(T::bins - 1 - (2 * tid + j)) << shift);
        s_need = need - (sums[j] - items[j]);
      }
    __syncthreads();
    prefix = s_prefix;
    need = s_need;
    mask |= digit_mask << shift;
    __syncthreads();
  }
  // prefix is now the take-th largest image exactly: take every element above it and the first
  // `need` of its ties, in index order (a block scan per tile numbers them).
  if (tid == 0) {
    s_above = 0;
    s_ties = 0;
  }
  __syncthreads();
  for (std::size_t base = 0; base < n && take > 0; base += T::threads) {
    const std::size_t i = base + static_cast<std::size_t>(tid);
    const std::uint32_t u = i < n ? ordered_bits(row[i]) : 0u;
    const std::uint32_t above = i < n && u > prefix ? 1u : 0u, tie = i < n && u == prefix ? 1u : 0u;
    std::uint32_t above_at = 0, tie_at = 0, above_total = 0, tie_total = 0;
    scan(temp.select.scan).ExclusiveSum(above, above_at, above_total);
    __syncthreads();
    scan(temp.select.scan).ExclusiveSum(tie, tie_at, tie_total);
    const std::uint32_t ties_before = s_ties, above_before = s_above;
    // Above-threshold elements fill the first take - need slots; ties the last need.
    const std::uint64_t key = (static_cast<std::uint64_t>(~u) << 32) | static_cast<std::uint32_t>(i);
    if (above) chosen[above_before + above_at] = key;
    if (tie && ties_before + tie_at < need) chosen[(take - need) + ties_before + tie_at] = key;
    __syncthreads();
    if (tid == 0) {
      s_above = above_before + above_total;
      s_ties = ties_before + tie_total;
    }
    __syncthreads();
  }
  // Descending value, then ascending index: ascending order of (~image, index).
  std::uint64_t item[1] = {tid < static_cast<int>(take) ? chosen[tid] : ~std::uint64_t{0}};
  __syncthreads();  // every key is read before the sort reuses their storage
  sort(temp.sort).Sort(item);
  if (static_cast<std::size_t>(tid) < a.k)  // k <= threads: thread j writes slot j
    a.indices[r * a.k + static_cast<std::size_t>(tid)] =
        tid < static_cast<int>(take) ? static_cast<std::int64_t>(item[0] & 0xffffffffu) : std::int64_t{-1};
}
}  // namespace detail

//! Top-k by radix select on `stream` (k <= 1024; no workspace).
[[nodiscard]] inline status topk_select(const topk_args& a, cudaStream_t stream) {
  if (const status s = topk_can_implement(a); s != status::ok || a.rows == 0 || a.k == 0) return s;
  if (a.k > detail::topk_select_tile::max_k || a.rows > 0x7fffffffu) return status::not_supported;
  detail::topk_select_kernel<<<static_cast<unsigned>(a.rows), detail::topk_select_tile::threads, 0, stream>>>(a);
  return detail::launched();
}

//! Top-k on `stream`: the radix select where k allows, else the sort. Two-phase workspace; the
//! select uses none of it but still asks for one byte, so that the run (a non-null pointer) is
//! told apart from the query.
[[nodiscard]] inline status topk(const topk_args& a, workspace& ws, cudaStream_t stream) {
  if (a.k > detail::topk_select_tile::max_k) return topk_sort(a, ws, stream);
  if (ws.ptr == nullptr) {  // the query needs no pointers
    ws.bytes = 1;
    return status::ok;
  }
  return topk_select(a, stream);
}

}  // namespace cuda
VPRIM_NAMESPACE_END

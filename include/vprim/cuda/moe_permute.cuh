// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file moe_permute.cuh
//! Groups a MoE layer's (token, slot) pairs by expert (contract: kernels/moe_permute.hpp, twin
//! of cpu/moe_permute.hpp):
//! from indices [tokens * top_k] (expert ids) to
//! - order [tokens * top_k]: slot ids (token * top_k + k) sorted by expert, stable, so each
//!   expert's rows keep token order;
//! - offsets [experts + 1]: expert e owns order[offsets[e] .. offsets[e+1]).
//! cub::DeviceRadixSort sorts the (expert, slot) pairs over just the bits the expert count
//! needs; a histogram and cub::DeviceScan give the offsets. An id outside [0, experts) counts
//! as expert `experts` (sorted last, owned by nobody) and is reported through the workspace flag
//! like embedding_check.

#include <algorithm>
#include <bit>

#include <cub/device/device_radix_sort.cuh>
#include <cub/device/device_scan.cuh>

#include "vprim/cuda/launch.cuh"
#include "vprim/kernels/moe_permute.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

using kernels::moe_permute_args;

[[nodiscard]] inline status moe_permute_can_implement(const moe_permute_args& a) noexcept {
  if (const status s = kernels::moe_permute_can_implement(a); s != status::ok) return s;
  return a.slots > 0x7fffffffu || a.experts > 0x7ffffffeu ? status::not_supported : status::ok;
}

namespace detail {
VPRIM_KERNEL void moe_keys_kernel(moe_permute_args a, std::int32_t* keys, std::int32_t* slots, std::int32_t* counts,
                                  unsigned long long* first_bad) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < a.slots;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x) {
    const std::int64_t e = a.indices[i];
    const bool ok = e >= 0 && static_cast<std::size_t>(e) < a.experts;
    if (!ok) atomicMin(first_bad, static_cast<unsigned long long>(i));
    const auto key = static_cast<std::int32_t>(ok ? e : static_cast<std::int64_t>(a.experts));
    keys[i] = key;
    slots[i] = static_cast<std::int32_t>(i);
    if (ok) atomicAdd(counts + key, 1);
  }
}

VPRIM_KERNEL void moe_reset_kernel(std::int32_t* counts, std::size_t n, unsigned long long* first_bad) {
  for (std::size_t i = static_cast<std::size_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    counts[i] = 0;
  if (blockIdx.x == 0 && threadIdx.x == 0) *first_bad = ~0ull;
}
}  // namespace detail

//! The permutation on `stream`, two-phase workspace (see launch.cuh). The first 8 bytes of the
//! workspace are the bad-id flag (read it as embedding_check reads its own).
[[nodiscard]] inline status moe_permute(const moe_permute_args& a, workspace& ws, cudaStream_t stream) {
  // The size query needs only the sizes; the pointers are checked when it runs.
  if (a.experts == 0) return status::invalid_argument;
  if (a.slots > 0x7fffffffu || a.experts > 0x7ffffffeu) return status::not_supported;
  const int n = static_cast<int>(a.slots);
  const int bits = std::bit_width(a.experts);  // ids 0..experts, the last for bad ones
  detail::carve c(ws);
  auto* first_bad = c.take<unsigned long long>(1);
  auto* keys = c.take<std::int32_t>(a.slots);
  auto* keys_sorted = c.take<std::int32_t>(a.slots);
  auto* slot_ids = c.take<std::int32_t>(a.slots);
  auto* counts = c.take<std::int32_t>(a.experts + 1);
  std::size_t sort_bytes = 0, scan_bytes = 0;
  if (cudaError_t e = cub::DeviceRadixSort::SortPairs(nullptr, sort_bytes, keys, keys_sorted, slot_ids, a.order, n, 0, bits, stream);
      e != cudaSuccess)
    return to_status(e);
  if (cudaError_t e = cub::DeviceScan::ExclusiveSum(nullptr, scan_bytes, counts, a.offsets, static_cast<int>(a.experts + 1), stream);
      e != cudaSuccess)
    return to_status(e);
  void* sort_scratch = c.take_bytes(sort_bytes);
  void* scan_scratch = c.take_bytes(scan_bytes);
  if (c.query()) {
    ws.bytes = c.need();
    return status::ok;
  }
  if (!c.fits()) return status::invalid_argument;
  if (const status s = cuda::moe_permute_can_implement(a); s != status::ok) return s;
  const auto blocks = static_cast<unsigned>(std::max<std::size_t>(1, std::min<std::size_t>(ceil_div(a.slots + a.experts + 1, 256), 4096)));
  detail::moe_reset_kernel<<<blocks, 256, 0, stream>>>(counts, a.experts + 1, first_bad);
  if (const status s = detail::launched(); s != status::ok) return s;
  if (n > 0) {
    detail::moe_keys_kernel<<<blocks, 256, 0, stream>>>(a, keys, slot_ids, counts, first_bad);
    if (const status s = detail::launched(); s != status::ok) return s;
    if (cudaError_t e = cub::DeviceRadixSort::SortPairs(sort_scratch, sort_bytes, keys, keys_sorted, slot_ids, a.order, n, 0, bits,
                                                        stream);
        e != cudaSuccess)
      return to_status(e);
  }
  // counts[experts] stays 0, so offsets[experts] is the number of valid slots.
  if (cudaError_t e = cub::DeviceScan::ExclusiveSum(scan_scratch, scan_bytes, counts, a.offsets, static_cast<int>(a.experts + 1), stream);
      e != cudaSuccess)
    return to_status(e);
  return status::ok;
}

}  // namespace cuda
VPRIM_NAMESPACE_END

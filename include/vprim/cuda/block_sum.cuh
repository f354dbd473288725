// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file block_sum.cuh
//! The sum of one float per thread over a block, handed back to every thread: the reduction
//! the norms, the hyper-connection and the compressor share.

#include <cub/block/block_reduce.cuh>

#include "vprim/cuda/launch.cuh"

VPRIM_NAMESPACE_BEGIN
namespace cuda::detail {

//! Every thread of a block of `Threads` must call it. cub::BlockReduce, then a broadcast through
//! shared memory; it synchronises twice, so calls may follow each other directly.
template <int Threads>
__device__ float block_sum(float v) {
  using reduce = cub::BlockReduce<float, Threads>;
  __shared__ typename reduce::TempStorage scratch;
  __shared__ float total;
  const float s = reduce(scratch).Sum(v);
  if (threadIdx.x == 0) total = s;
  __syncthreads();
  const float out = total;
  __syncthreads();
  return out;
}

}  // namespace cuda::detail
VPRIM_NAMESPACE_END

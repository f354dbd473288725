// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file gemm_sm90.cuh
//! The Hopper engine of gemm_bf16 (sm_90a): TMA copies the tiles of A and W into shared memory
//! in the 128-byte swizzle, and wgmma multiplies them from there asynchronously.
//! - One CTA computes a 128 x 128 tile of C with three warpgroups. One thread of the first
//!   issues the copies into a ring of `stages` buffers; the other two each multiply 64 rows
//!   with m64n128k16 instructions and run the epilogue from their registers.
//! - Two mbarriers per buffer hand it back and forth: full[s] completes when both copies of a
//!   stage have landed (TMA counts the bytes), empty[s] when every consumer thread has finished
//!   the wgmma that read it (each consumer keeps one tile's wgmma in flight and hands back the
//!   buffer before it).
//! - TMA fills what lies outside the tensors with zeros, so ragged M, N and K need no checks in
//!   the main loop; the epilogue checks rows and columns.
//! - Grouped (the MoE experts): blockIdx.z is the expert. W's tile comes by TMA from the stacked
//!   [E * n, k] weights; A's rows are gathered (token or slot rows), which TMA cannot do on
//!   sm_90, so the producer warpgroup copies them with cp.async into the same swizzled layout,
//!   one row a thread, and each thread's copies arrive on full[s] when they land. C's rows are
//!   scattered to the slots in the epilogue.
//! The kernel body exists only in an sm_90a build (__CUDA_ARCH_FEAT_SM90_ALL). The host asks
//! the runtime, for the binary it would launch on the current device, whether it is that build
//! (`available`): only that build puts the barriers in static shared memory.

#include <cstdint>

#include <cuda.h>           // CUtensorMap and its enums; no libcuda link: the encoder comes from the runtime
#include <cudaTypedefs.h>   // PFN_cuTensorMapEncodeTiled_v12000

#include "vprim/cuda/gemm_args.cuh"

VPRIM_NAMESPACE_BEGIN
namespace cuda::detail::sm90 {

constexpr int bm = 128, bn = 128, bk = 64;  // bk: 64 bf16 = one 128-byte swizzle row
constexpr int stages = 6, consumers = 2, threads = 128 * (1 + consumers);
constexpr unsigned a_tile_bytes = bm * bk * 2, w_tile_bytes = bn * bk * 2, stage_bytes = a_tile_bytes + w_tile_bytes;
constexpr unsigned consumer_rows_bytes = 64 * bk * 2;  // one consumer's 64 rows of the A tile
constexpr std::size_t swizzle_atom = 1024;             // 8 rows of 128 bytes: tiles start on one
constexpr std::size_t smem_bytes = stages * std::size_t{stage_bytes} + swizzle_atom;  // + slack to align
constexpr std::size_t barrier_bytes = 2 * stages * sizeof(std::uint64_t);
// The swizzle is a function of address bits 4-9, the same for TMA, the gathered rows and wgmma
// only where every tile (and each consumer's half of A) starts on a 1024-byte boundary.
static_assert(a_tile_bytes % swizzle_atom == 0 && stage_bytes % swizzle_atom == 0 && consumer_rows_bytes % swizzle_atom == 0);
static_assert(bk * 2 == 128, "a tile row is one 128-byte swizzle row");

//! Where TMA's 128-byte swizzle puts byte `offset` of a tile that starts on a 1024-byte
//! boundary: the 16-byte chunk (address bits 4-6) XOR the row within the 8-row atom (bits 7-9).
//! wgmma applies the same function to the addresses it generates.
__host__ __device__ constexpr unsigned swizzle_128b(unsigned offset) noexcept { return offset ^ (((offset >> 7) & 7u) << 4); }

//! Row r of a 128 x bk tile, chunk c of its 8 16-byte chunks, where TMA would put it (the
//! grouped kernel's gathered rows go there too).
__host__ __device__ constexpr unsigned swizzled_chunk(unsigned r, unsigned c) noexcept { return swizzle_128b(r * 128 + c * 16); }

//! wgmma's descriptor of a K-major operand at shared address `address` in the 128-byte
//! swizzle: rows of 128 bytes, groups of 8 rows 1024 bytes apart (the stride offset, bits
//! 32-45); the leading offset (bits 16-29) is unused in this mode; mode 1 (bits 62-63).
__host__ __device__ constexpr std::uint64_t tile_descriptor_at(std::uint32_t address) noexcept {
  return ((address & 0x3ffffu) >> 4) | (std::uint64_t{16 >> 4} << 16) | (std::uint64_t{1024 >> 4} << 32) | (std::uint64_t{1} << 62);
}

#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
__device__ inline std::uint32_t smem_address(const void* p) { return static_cast<std::uint32_t>(__cvta_generic_to_shared(p)); }

__device__ inline void barrier_init(std::uint64_t* bar, unsigned arrivals) {
  asm volatile("mbarrier.init.shared::cta.b64 [%0], %1;" ::"r"(smem_address(bar)), "r"(arrivals) : "memory");
}
__device__ inline void barrier_arrive(std::uint64_t* bar) {
  asm volatile("mbarrier.arrive.shared::cta.b64 _, [%0];" ::"r"(smem_address(bar)) : "memory");
}
//! The producer's arrival, announcing the bytes its copies will bring.
__device__ inline void barrier_arrive_expect(std::uint64_t* bar, unsigned bytes) {
  asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;" ::"r"(smem_address(bar)), "r"(bytes) : "memory");
}
//! Returns once the barrier's phase of the given parity has completed.
__device__ inline void barrier_wait(std::uint64_t* bar, unsigned parity) {
  const std::uint32_t at = smem_address(bar);
  std::uint32_t done = 0;
  while (done == 0)
    asm volatile(
        "{\n .reg .pred p;\n mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2;\n selp.u32 %0, 1, 0, p;\n}"
        : "=r"(done)
        : "r"(at), "r"(parity)
        : "memory");
}

//! The box at (inner, outer) of a 2-D tensor map into shared memory; completes on `bar`.
__device__ inline void tma_load(void* dst, const CUtensorMap* map, std::uint64_t* bar, int inner, int outer) {
  asm volatile(
      "cp.async.bulk.tensor.2d.shared::cluster.global.tile.mbarrier::complete_tx::bytes [%0], [%1, {%3, %4}], [%2];" ::"r"(
          smem_address(dst)),
      "l"(reinterpret_cast<std::uint64_t>(map)), "r"(smem_address(bar)), "r"(inner), "r"(outer)
      : "memory");
}

//! 16 bytes from global memory into shared memory, or 16 zero bytes when !valid.
__device__ inline void copy_16(void* dst, const void* src, bool valid) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;" ::"r"(smem_address(dst)), "l"(src), "r"(valid ? 16 : 0) : "memory");
}
//! An arrival on `bar` once this thread's earlier cp.async copies have landed (counted in the
//! barrier's initial arrivals).
__device__ inline void barrier_arrive_on_copies(std::uint64_t* bar) {
  asm volatile("cp.async.mbarrier.arrive.noinc.shared::cta.b64 [%0];" ::"r"(smem_address(bar)) : "memory");
}

__device__ inline std::uint64_t tile_descriptor(const void* tile) { return tile_descriptor_at(smem_address(tile)); }

//! Keeps the compiler from moving accesses of an accumulator across the asynchronous wgmma.
__device__ inline void fence_register(float& r) { asm volatile("" : "+f"(r)::"memory"); }

#define VPRIM_ACC8(i) \
  "+f"(d[i]), "+f"(d[i + 1]), "+f"(d[i + 2]), "+f"(d[i + 3]), "+f"(d[i + 4]), "+f"(d[i + 5]), "+f"(d[i + 6]), "+f"(d[i + 7])
//! d[64] += A(64 x 16, descriptor a) * B(16 x 128, descriptor b), both K-major bf16.
__device__ inline void wgmma_m64n128k16(float (&d)[64], std::uint64_t a, std::uint64_t b) {
  asm volatile(
      "{\n .reg .pred accumulate;\n setp.ne.b32 accumulate, %66, 0;\n"
      " wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16\n"
      " {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15,\n"
      "  %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31,\n"
      "  %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47,\n"
      "  %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63},\n"
      " %64, %65, accumulate, 1, 1, 0, 0;\n}"
      : VPRIM_ACC8(0), VPRIM_ACC8(8), VPRIM_ACC8(16), VPRIM_ACC8(24), VPRIM_ACC8(32), VPRIM_ACC8(40), VPRIM_ACC8(48), VPRIM_ACC8(56)
      : "l"(a), "l"(b), "r"(1));
}
#undef VPRIM_ACC8
#endif  // __CUDA_ARCH_FEAT_SM90_ALL

//! The dense GEMM (Grouped = false: gg.base is the problem) or every expert's (true).
template <bool Grouped>
VPRIM_KERNEL void __launch_bounds__(threads, 1)
    gemm_kernel(const __grid_constant__ CUtensorMap a_map, const __grid_constant__ CUtensorMap w_map, grouped_gemm_args gg) {
#if defined(__CUDA_ARCH_FEAT_SM90_ALL)
  __shared__ std::uint64_t full[stages], empty[stages];
  extern __shared__ unsigned char sm90_dynamic_smem[];
  gemm_args g = gg.base;
  const int row0 = static_cast<int>(blockIdx.x) * bm, col0 = static_cast<int>(blockIdx.y) * bn;
  int w_row0 = col0;                         // W's tile row in the stacked weights
  const std::int32_t* slots = nullptr;       // grouped: the expert's rows, as slot ids
  if constexpr (Grouped) {
    const auto e = static_cast<std::size_t>(blockIdx.z);
    const auto begin = static_cast<std::size_t>(gg.offsets[e]);
    g.m = static_cast<std::size_t>(gg.offsets[e + 1]) - begin;
    if (static_cast<std::size_t>(row0) >= g.m) return;  // the grid covers max_rows; most experts have fewer
    g.bias = g.bias != nullptr ? g.bias + e * g.n : nullptr;
    slots = gg.order + begin;
    w_row0 = static_cast<int>(e * g.n) + col0;
  }
  // the swizzle is applied to address bits, so each tile must start on a 1024-byte boundary
  unsigned char* const tiles = sm90_dynamic_smem + ((swizzle_atom - smem_address(sm90_dynamic_smem) % swizzle_atom) % swizzle_atom);
  const int warpgroup = static_cast<int>(threadIdx.x) / 128, lane_in_group = static_cast<int>(threadIdx.x) % 128;
  const int ktiles = static_cast<int>((g.k + bk - 1) / bk);
  if (threadIdx.x == 0) {
    for (int s = 0; s < stages; ++s) {
      barrier_init(&full[s], Grouped ? 1 + 128 : 1);  // the TMA arrival (+ each gathering thread's)
      barrier_init(&empty[s], consumers * 128);
    }
    asm volatile("fence.mbarrier_init.release.cluster;" ::: "memory");  // visible to the async proxy (TMA)
  }
  __syncthreads();

  if (warpgroup == 0) {  // the producer
    const __nv_bfloat16* a_row = nullptr;  // grouped: this thread's row of A, null past the expert's rows
    if constexpr (Grouped) {
      const std::size_t r = static_cast<std::size_t>(row0 + lane_in_group), per = gg.a_by_token ? gg.top_k : 1;
      if (r < g.m) a_row = g.a + static_cast<std::size_t>(slots[r]) / per * g.lda;
    } else if (lane_in_group != 0) {
      return;  // one thread issues the dense copies
    }
    for (int t = 0; t < ktiles; ++t) {
      const int s = t % stages, round = t / stages;
      if (round > 0) barrier_wait(&empty[s], static_cast<unsigned>(round - 1) & 1u);
      unsigned char* stage = tiles + static_cast<std::size_t>(s) * stage_bytes;
      if (lane_in_group == 0) {
        barrier_arrive_expect(&full[s], Grouped ? w_tile_bytes : stage_bytes);
        if constexpr (!Grouped) tma_load(stage, &a_map, &full[s], t * bk, row0);
        tma_load(stage + a_tile_bytes, &w_map, &full[s], t * bk, w_row0);
      }
      if constexpr (Grouped) {
        const auto r = static_cast<unsigned>(lane_in_group);
        for (unsigned c = 0; c < bk / 8; ++c) {
          const std::size_t k = static_cast<std::size_t>(t) * bk + c * 8;  // g.k % 8 == 0: a chunk is all in or all out
          const bool valid = a_row != nullptr && k < g.k;
          copy_16(stage + swizzled_chunk(r, c), valid ? a_row + k : g.a, valid);
        }
        barrier_arrive_on_copies(&full[s]);
      }
    }
    return;
  }

  const int consumer = warpgroup - 1;
  float d[64];
#pragma unroll
  for (int i = 0; i < 64; ++i) d[i] = 0.0f;
  for (int t = 0; t < ktiles; ++t) {
    const int s = t % stages;
    barrier_wait(&full[s], static_cast<unsigned>(t / stages) & 1u);
    // cp.async wrote A through the generic proxy; wgmma reads through the async one
    if constexpr (Grouped) asm volatile("fence.proxy.async.shared::cta;" ::: "memory");
    const unsigned char* a_tile = tiles + static_cast<std::size_t>(s) * stage_bytes + consumer * consumer_rows_bytes;
    const unsigned char* w_tile = tiles + static_cast<std::size_t>(s) * stage_bytes + a_tile_bytes;
#pragma unroll
    for (int i = 0; i < 64; ++i) fence_register(d[i]);
    asm volatile("wgmma.fence.sync.aligned;" ::: "memory");
#pragma unroll
    for (int kk = 0; kk < bk / 16; ++kk)  // 16 bf16 = 32 bytes along the swizzled row
      wgmma_m64n128k16(d, tile_descriptor(a_tile + kk * 32), tile_descriptor(w_tile + kk * 32));
    asm volatile("wgmma.commit_group.sync.aligned;" ::: "memory");
    // Keep this tile's group in flight while waiting for the next tile: once at most one group
    // is pending, the previous tile's wgmma have read their buffer, which goes back.
    asm volatile("wgmma.wait_group.sync.aligned 1;" ::: "memory");
#pragma unroll
    for (int i = 0; i < 64; ++i) fence_register(d[i]);
    if (t > 0) barrier_arrive(&empty[(t - 1) % stages]);
  }
  asm volatile("wgmma.wait_group.sync.aligned 0;" ::: "memory");
#pragma unroll
  for (int i = 0; i < 64; ++i) fence_register(d[i]);

  // The accumulator layout of m64nNk16: warp w of the group holds rows 16w..16w+15; in each
  // 8-column block j, a lane holds (lane/4, 2(lane%4) + {0,1}) and the same 8 rows lower.
  const int warp = lane_in_group / 32, lane = lane_in_group % 32;
  const std::size_t row_base = static_cast<std::size_t>(row0 + consumer * 64 + warp * 16 + lane / 4);
  const std::size_t col_base = static_cast<std::size_t>(col0 + 2 * (lane % 4));
  const auto c_row = [&](std::size_t r) {
    if constexpr (Grouped) return static_cast<std::size_t>(slots[r]);
    else return r;
  };
#pragma unroll
  for (int i = 0; i < 64; ++i)
    store_epilogue(g, row_base + static_cast<std::size_t>(8 * ((i >> 1) & 1)), col_base + static_cast<std::size_t>(8 * (i >> 2) + (i & 1)),
                   d[i], c_row);
#else
  (void)a_map;
  (void)w_map;
  (void)gg;  // never launched: `available` refuses a binary without the sm_90a body
#endif
}

//! What the kernel needs of the operands besides gemm_can_implement: TMA's 16-byte aligned
//! bases and row strides, and coordinates that fit its 32-bit ints.
[[nodiscard]] inline status can_implement(const gemm_args& g) noexcept {
  if (!aligned_to(g.a, 16) || !aligned_to(g.w, 16) || g.lda % 8 != 0 || g.ldw % 8 != 0) return status::not_supported;
  if (g.m > 0x7fffffffu || g.k > 0x7fffffffu || ceil_div(g.n, bn) > 65535u) return status::not_supported;
  return status::ok;
}

//! The same for the experts, whose gathered rows of A are copied in whole 16-byte chunks (k a
//! multiple of 8), and whose stacked weights must be addressable as one [E * n, k] tensor.
[[nodiscard]] inline status can_implement(const grouped_gemm_args& gg) noexcept {
  gemm_args one = gg.base;
  one.m = gg.max_rows;
  if (const status s = can_implement(one); s != status::ok) return s;
  if (gg.base.k % 8 != 0 || gg.experts * gg.base.n > 0x7fffffffu) return status::not_supported;
  return status::ok;
}

//! cuTensorMapEncodeTiled through the runtime's driver entry point; null where the driver is
//! older than CUDA 12.
[[nodiscard]] inline PFN_cuTensorMapEncodeTiled_v12000 tensor_map_encoder() noexcept {
  static const auto encoder = [] {
    void* fn = nullptr;
    cudaDriverEntryPointQueryResult found{};
    if (cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &fn, 12000, cudaEnableDefault, &found) != cudaSuccess ||
        found != cudaDriverEntryPointSuccess) {
      (void)cudaGetLastError();
      fn = nullptr;
    }
    return reinterpret_cast<PFN_cuTensorMapEncodeTiled_v12000>(fn);
  }();
  return encoder;
}

//! Whether the binary the runtime would launch on the current device is the sm_90a build,
//! and tensor maps can be made.
[[nodiscard]] inline bool available() noexcept {
  cudaFuncAttributes attributes{};
  if (cudaFuncGetAttributes(&attributes, gemm_kernel<false>) != cudaSuccess) {
    (void)cudaGetLastError();  // no image for this device: not an error of the caller's
    return false;
  }
  return attributes.sharedSizeBytes >= barrier_bytes && tensor_map_encoder() != nullptr;
}

//! The map of a row-major bf16 operand [rows, k] (row stride ld) read in boxes of
//! box_rows x bk, 128-byte swizzled, zeros outside.
[[nodiscard]] inline bool operand_map(CUtensorMap& map, const __nv_bfloat16* base, std::size_t rows, std::size_t k, std::size_t ld,
                                      unsigned box_rows) noexcept {
  const cuuint64_t dims[2] = {k, rows};
  const cuuint64_t row_stride[1] = {ld * sizeof(__nv_bfloat16)};
  const cuuint32_t box[2] = {bk, box_rows};
  const cuuint32_t step[2] = {1, 1};
  return tensor_map_encoder()(&map, CU_TENSOR_MAP_DATA_TYPE_BFLOAT16, 2, const_cast<__nv_bfloat16*>(base), dims, row_stride, box, step,
                              CU_TENSOR_MAP_INTERLEAVE_NONE, CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B,
                              CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE) == CUDA_SUCCESS;
}

//! Launches the dense kernel (Grouped = false, gg.base the problem) or the grouped one for a
//! call that can_implement and `available` accepted.
template <bool Grouped>
[[nodiscard]] status launch(const grouped_gemm_args& gg, cudaStream_t stream) {
  const gemm_args& g = gg.base;
  CUtensorMap a_map{}, w_map{};
  if (!operand_map(w_map, g.w, Grouped ? gg.experts * g.n : g.n, g.k, g.ldw, bn)) return status::not_supported;
  if (Grouped) a_map = w_map;  // the grouped kernel gathers A itself; the parameter must still be a valid map
  else if (!operand_map(a_map, g.a, g.m, g.k, g.lda, bm)) return status::not_supported;
  if (const cudaError_t e =
          cudaFuncSetAttribute(gemm_kernel<Grouped>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem_bytes));
      e != cudaSuccess)
    return to_status(e);
  const dim3 grid(static_cast<unsigned>(ceil_div(Grouped ? gg.max_rows : g.m, bm)), static_cast<unsigned>(ceil_div(g.n, bn)),
                  Grouped ? static_cast<unsigned>(gg.experts) : 1u);
  gemm_kernel<Grouped><<<grid, threads, smem_bytes, stream>>>(a_map, w_map, gg);
  return launched();
}

}  // namespace cuda::detail::sm90
VPRIM_NAMESPACE_END

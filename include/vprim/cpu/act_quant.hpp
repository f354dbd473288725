// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file act_quant.hpp
//! The reference's activation rounding before low-bit products on the CPU (contract:
//! kernels/act_quant.hpp). Per block of 128 values: the scale by the shared rule (amax floored,
//! the power of two at or above amax / 448), then each value rounded to the e4m3 grid in fp32
//! registers, no codes: at or above e4m3's smallest normal (2^-6) the fp32 mantissa is rounded
//! to 3 bits (nearest even, on the bit pattern), below it to a multiple of 2^-9 (adding and
//! taking off 1.5 x 2^14, whose ulp is 2^-9). |x| / scale <= 448 by the scale's choice, so
//! nothing saturates. Equal to encoding to e4m3 and widening, without the byte codes.
//! Non-finite activations give non-finite outputs. Rows split over the executor.

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>

#include <xsimd/xsimd.hpp>

#include "vprim/core/dtype.hpp"
#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
#include "vprim/kernels/act_quant.hpp"
#include "vprim/kernels/kv_entry.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

using act_quant_args = kernels::basic_act_quant_args<float>;

namespace detail {

//! One block of n (<= 128) values rounded to e4m3 under its E8M0 scale, as fp32.
template <class Arch>
inline void act_quant_block(const float* x, std::size_t n, float* out) noexcept {
  using B = xsimd::batch<float, Arch>;
  using U = xsimd::batch<std::uint32_t, Arch>;
  constexpr std::size_t V = B::size;
  alignas(64) float lanes[kernels::act_quant_block];  // the block, zero past n: whole vectors only
  const std::size_t whole = (n + V - 1) / V * V;
  std::memcpy(lanes, x, n * sizeof(float));
  std::fill(lanes + n, lanes + whole, 0.0f);
  B most(kernels::fp8_kv_amax_floor);
  for (std::size_t j = 0; j < whole; j += V) most = xsimd::max(most, xsimd::abs(B::load_aligned(lanes + j)));
  alignas(64) float per_lane[V];
  most.store_aligned(per_lane);
  const float amax = *std::max_element(per_lane, per_lane + V);
  const float scale = e8m0_bits_to_float(float_to_e8m0_bits(amax / kernels::e4m3_max));
  const B inv(1.0f / scale), times(scale);  // powers of two: exact
  for (std::size_t j = 0; j < whole; j += V) {
    const B v = B::load_aligned(lanes + j), a = xsimd::abs(v) * inv;
    const U bits = xsimd::bitwise_cast<U>(a);
    const U normal = (bits + U(0x7FFFFu) + ((bits >> 20) & U(1u))) & U(0xFFF00000u);
    const B subnormal = (a + B(24576.0f)) - B(24576.0f);
    const B rounded = xsimd::select(a < B(0.015625f), subnormal, xsimd::bitwise_cast<B>(normal)) * times;
    const U sign = xsimd::bitwise_cast<U>(v) & U(0x80000000u);
    xsimd::bitwise_cast<B>(xsimd::bitwise_cast<U>(rounded) | sign).store_aligned(lanes + j);
  }
  std::memcpy(out, lanes, n * sizeof(float));
}

}  // namespace detail

//! out = each 128-value block of x's rows rounded to e4m3 under its E8M0 scale, as fp32.
template <class Arch, executor Exec>
[[nodiscard]] status act_quant(Arch, const act_quant_args& a, Exec& exec) {
  if (const status s = kernels::act_quant_can_implement(a); s != status::ok) return s;
  if (a.rows == 0 || a.k == 0) return status::ok;
  exec.parallel_for(static_cast<std::int64_t>(a.rows), [&](std::int64_t r0, std::int64_t r1) {
    for (auto r = static_cast<std::size_t>(r0); r < static_cast<std::size_t>(r1); ++r)
      for (std::size_t j = 0; j < a.k; j += kernels::act_quant_block)
        detail::act_quant_block<Arch>(a.x + r * a.ldx + j, std::min(kernels::act_quant_block, a.k - j), a.out + r * a.ldo + j);
  });
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file arch.hpp
//! Which SIMD instruction set a CPU kernel runs with. Every kernel is a template on an xsimd
//! arch tag; `dispatch_cpu(f)` calls f(Arch{}) with the best arch that is both compiled into
//! this translation unit (xsimd enables an arch when the compiler flags allow it, e.g.
//! -mavx2 -mfma or -mavx512bw) and present on the running CPU. Build the code that calls vprim
//! with the flags of the oldest CPU you deploy to; tests build the same kernels once per arch.

#include <string_view>
#include <type_traits>

#include <xsimd/xsimd.hpp>

#include "vprim/core/config.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! The archs vprim considers, best first. Those not enabled by the compile flags drop out.
using candidate_archs = xsimd::arch_list<xsimd::avx512bw, xsimd::fma3<xsimd::avx2>, xsimd::avx2, xsimd::sse4_2,
                                         xsimd::sse2, xsimd::neon64, xsimd::neon>;

namespace detail {
template <class Arch>
constexpr bool compiled() {
  return xsimd::supported_architectures::contains<Arch>();
}
template <class Arch>
bool present_at_runtime() {
  const auto cpu = xsimd::available_architectures();
  if constexpr (std::is_same_v<Arch, xsimd::avx512bw>) return cpu.avx512bw && cpu.avx512dq && cpu.avx512cd && cpu.avx512f;
  else if constexpr (std::is_same_v<Arch, xsimd::fma3<xsimd::avx2>>) return cpu.fma3_avx2;
  else if constexpr (std::is_same_v<Arch, xsimd::avx2>) return cpu.avx2;
  else if constexpr (std::is_same_v<Arch, xsimd::sse4_2>) return cpu.sse4_2;
  else if constexpr (std::is_same_v<Arch, xsimd::sse2>) return cpu.sse2;
  else if constexpr (std::is_same_v<Arch, xsimd::neon64>) return cpu.neon64;
  else if constexpr (std::is_same_v<Arch, xsimd::neon>) return cpu.neon;
  else return false;
}
//! The candidates this translation unit was compiled for, best first.
template <class Kept, class Rest>
struct compiled_only;
template <class... Kept>
struct compiled_only<xsimd::arch_list<Kept...>, xsimd::arch_list<>> {
  using type = xsimd::arch_list<Kept...>;
};
template <class... Kept, class Arch, class... Rest>
struct compiled_only<xsimd::arch_list<Kept...>, xsimd::arch_list<Arch, Rest...>> {
  using type = typename compiled_only<std::conditional_t<compiled<Arch>(), xsimd::arch_list<Kept..., Arch>,
                                                         xsimd::arch_list<Kept...>>,
                                      xsimd::arch_list<Rest...>>::type;
};

//! Tries each compiled arch in order; the last one (the baseline the flags guarantee) is taken
//! without a runtime check.
template <class F, class Arch, class... Rest>
decltype(auto) dispatch_in(F&& f, xsimd::arch_list<Arch, Rest...>) {
  if constexpr (sizeof...(Rest) == 0) {
    return f(Arch{});
  } else {
    if (present_at_runtime<Arch>()) return f(Arch{});
    return dispatch_in(f, xsimd::arch_list<Rest...>{});
  }
}
}  // namespace detail

//! Calls f(Arch{}) with the best compiled arch the CPU has.
template <class F>
decltype(auto) dispatch_cpu(F&& f) {
  using archs = typename detail::compiled_only<xsimd::arch_list<>, candidate_archs>::type;
  static_assert(!std::is_same_v<archs, xsimd::arch_list<>>, "vprim::cpu: no SIMD arch is enabled for this target");
  return detail::dispatch_in(f, archs{});
}

//! True when Arch is compiled in and the CPU can run it (tests use this to skip archs).
template <class Arch>
[[nodiscard]] bool arch_usable() {
  if constexpr (detail::compiled<Arch>()) return detail::present_at_runtime<Arch>();
  else return false;
}

//! Floats per register for Arch.
template <class Arch>
inline constexpr std::size_t lanes = xsimd::batch<float, Arch>::size;

}  // namespace cpu
VPRIM_NAMESPACE_END

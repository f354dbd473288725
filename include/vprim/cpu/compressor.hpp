// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file compressor.hpp
//! The CSA/HCA compressor's update for one sequence on the CPU (contract: kernels/compressor.hpp).
//! Windows are pooled one after another in the order the reference pools them (slot order in
//! the softmax, double-precision sum of squares in the RMSNorm), so an entry does not depend
//! on how the sequence was split into calls.

#include <algorithm>
#include <cmath>
#include <limits>

#include "vprim/cpu/kv_entry.hpp"
#include "vprim/cpu/rope.hpp"
#include "vprim/kernels/compressor.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

template <class Arch>
[[nodiscard]] status compressor_update(Arch arch, const kernels::compressor_update_args& a, workspace_arena& ws) {
  if (status s = kernels::compressor_update_can_implement(a); s != status::ok) return s;
  const std::size_t r = a.ratio, c = a.width, P = a.proj();
  const auto L = static_cast<std::size_t>(a.first_position), end = L + a.rows;
  workspace_arena::frame scratch(ws);
  float* slot_kv = ws.take<float>(2 * r * c);
  float* slot_gate = ws.take<float>(2 * r * c);
  float* entry = ws.take<float>(c);
  if (slot_kv == nullptr || slot_gate == nullptr || entry == nullptr) return status::out_of_memory;
  const auto& st = a.state;
  // Row of position p: the buffer before the call, this call's projections after.
  auto kv_row = [&](std::size_t p) { return p < L ? st.buffer_kv + (p % r) * P : a.kv + (p - L) * a.ld; };
  auto gate_row = [&](std::size_t p) { return p < L ? st.buffer_gate + (p % r) * P : a.gate + (p - L) * a.ld; };

  const std::size_t nslots = a.overlap ? 2 * r : r;
  float* own_kv = slot_kv + (a.overlap ? r * c : 0);
  float* own_gate = slot_gate + (a.overlap ? r * c : 0);
  for (std::size_t w = L / r; (w + 1) * r <= end; ++w) {
    for (std::size_t j = 0; j < r; ++j) {
      const float* kv = kv_row(w * r + j);
      const float* gate = gate_row(w * r + j);
      const float* bias = a.position_bias + j * P;
      const std::size_t ch = a.overlap ? c : 0;
      for (std::size_t e = 0; e < c; ++e) {
        own_kv[j * c + e] = kv[ch + e];
        own_gate[j * c + e] = gate[ch + e] + bias[ch + e];
      }
    }
    if (a.overlap) {
      if (w > 0) {
        std::copy_n(st.overlap_kv, r * c, slot_kv);
        std::copy_n(st.overlap_gate, r * c, slot_gate);
      } else {
        std::fill_n(slot_kv, r * c, 0.0f);
        std::fill_n(slot_gate, r * c, -std::numeric_limits<float>::infinity());
      }
      for (std::size_t j = 0; j < r; ++j) {  // this window's [0, c) half is the next one's overlap
        const float* kv = kv_row(w * r + j);
        const float* gate = gate_row(w * r + j);
        const float* bias = a.position_bias + j * P;
        for (std::size_t e = 0; e < c; ++e) {
          st.overlap_kv[j * c + e] = kv[e];
          st.overlap_gate[j * c + e] = gate[e] + bias[e];
        }
      }
    }
    for (std::size_t e = 0; e < c; ++e) {  // per-channel softmax over the slots
      float mx = -std::numeric_limits<float>::infinity();
      for (std::size_t j = 0; j < nslots; ++j) mx = std::max(mx, slot_gate[j * c + e]);
      float sum = 0.0f, acc = 0.0f;
      for (std::size_t j = 0; j < nslots; ++j) {
        const float p = std::exp(slot_gate[j * c + e] - mx);
        sum += p;
        acc += p * slot_kv[j * c + e];
      }
      entry[e] = acc / sum;
    }
    double ss = 0.0;
    for (std::size_t e = 0; e < c; ++e) ss += static_cast<double>(entry[e]) * entry[e];
    const float inv = 1.0f / std::sqrt(static_cast<float>(ss / static_cast<double>(c)) + a.eps);
    for (std::size_t e = 0; e < c; ++e) entry[e] = a.norm_weight[e] * (entry[e] * inv);
    partial_rope(entry, 1, c, a.inv_freq, a.rope_pairs, static_cast<double>(w * r));
    store_kv_row(arch, a.format.is_fp32() ? kernels::kv_row_format::fp32_rows(c) : a.format, entry, a.entries.row(w));
  }
  // Tokens of the window still open wait in the buffer (earlier ones of it are there already).
  for (std::size_t p = std::max(L, end / r * r); p < end; ++p) {
    std::copy_n(a.kv + (p - L) * a.ld, P, st.buffer_kv + (p % r) * P);
    std::copy_n(a.gate + (p - L) * a.ld, P, st.buffer_gate + (p % r) * P);
  }
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file moe.hpp
//! The routed experts of a MoE layer on the CPU (contract: kernels/moe.hpp). The (token, slot)
//! pairs are grouped by expert (moe_permute); each expert runs one GEMM chain over its gathered
//! rows (gate | up, the clamped SwiGLU, down); each token then sums its slots, weighted.
//! Experts are views (cpu/linear.hpp), so fp32, bf16, FP8 and MXFP4 experts take the same path;
//! every expert of a call is expected in one form (the scratch is sized from expert 0's).

#include <algorithm>
#include <atomic>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <span>

#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
#include "vprim/core/workspace.hpp"
#include "vprim/cpu/activation.hpp"
#include "vprim/cpu/linear.hpp"
#include "vprim/cpu/moe_permute.hpp"
#include "vprim/kernels/moe.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cpu {

//! What holds a call's experts: w[e] is expert e's weight as a view. An array of views is one;
//! a model with its own storage passes a small adapter instead of building an array per call.
template <class E>
concept expert_weights = std::copyable<E> && requires(const E& w, std::size_t e) {
  { w[e] } -> std::convertible_to<linear_view>;
};

//! The experts as arrays of views, expert e at gate_up[e] and down[e].
using moe_experts_args = kernels::basic_moe_experts_args<float, const linear_view*>;
template <class Experts>
using basic_moe_experts_args = kernels::basic_moe_experts_args<float, Experts>;

namespace detail {
//! One thread's scratch for an expert of up to `rows` rows: gathered rows, gate | up,
//! activation, output, and the Linears' own.
template <class Experts>
[[nodiscard]] std::size_t moe_expert_scratch_bytes(const basic_moe_experts_args<Experts>& a, std::size_t rows) {
  const linear_view gate_up = a.gate_up[0], down = a.down[0];
  const std::size_t dim = a.dim, inter = a.inter;
  return workspace_size{}.add<float>(rows * dim).add<float>(rows * 2 * inter).add<float>(rows * inter).add<float>(rows * dim).bytes +
         std::max(linear_scratch_bytes(gate_up, rows), linear_scratch_bytes(down, rows));
}
}  // namespace detail

//! Scratch of moe_experts on an executor of `threads` threads, when no expert gets more than
//! `expert_rows` rows: the token count when each token names distinct experts (top-k routing),
//! tokens * top_k when a token may name one expert twice (a hash layer's table).
template <class Experts>
  requires expert_weights<Experts>
[[nodiscard]] workspace_size moe_experts_workspace(const basic_moe_experts_args<Experts>& a, std::size_t threads,
                                                   std::size_t expert_rows) {
  if (a.tokens == 0) return {};
  const std::size_t slots = a.tokens * a.top_k, experts = a.experts, dim = a.dim;
  workspace_size ws;  // one statement each: nvcc's front end misparses the chain in a constrained template
  ws.add<std::int32_t>(experts + 1);
  ws.add<std::int32_t>(slots);
  ws.add<std::size_t>(experts);
  ws.add<float>(slots * dim);
  ws.add<status>(threads);
  ws.add<std::byte>(threads * detail::moe_expert_scratch_bytes(a, expert_rows));
  return ws;
}

namespace detail {
//! Expert e over the n rows of x named by `slots` (token * top_k + k); row r's output goes to
//! slot_out[slots[r]]. `scratch` holds moe_expert_scratch_bytes(a, n) or more.
template <class Arch, class Experts, executor Exec>
status run_expert(Arch arch, const basic_moe_experts_args<Experts>& a, std::size_t e, const std::int32_t* slots, std::size_t n,
                  float* slot_out, std::span<std::byte> scratch, Exec& exec) {
  workspace_arena b(scratch);
  float* rows = b.take<float>(n * a.dim);
  float* hidden = b.take<float>(n * 2 * a.inter);
  float* act = b.take<float>(n * a.inter);
  float* out = b.take<float>(n * a.dim);
  if (out == nullptr) return status::out_of_memory;
  for (std::size_t r = 0; r < n; ++r) {
    const std::size_t t = static_cast<std::size_t>(slots[r]) / a.top_k;
    std::copy(a.x + t * a.dim, a.x + (t + 1) * a.dim, rows + r * a.dim);
  }
  if (status s = linear(arch, a.gate_up[e], rows, n, hidden, exec, &b); s != status::ok) return s;
  swiglu_clamped(arch, hidden, hidden + a.inter, 2 * a.inter, act, n, a.inter, a.limit, exec);
  if (status s = linear(arch, a.down[e], act, n, out, exec, &b); s != status::ok) return s;
  for (std::size_t r = 0; r < n; ++r)
    std::copy(out + r * a.dim, out + (r + 1) * a.dim, slot_out + static_cast<std::size_t>(slots[r]) * a.dim);
  return status::ok;
}
}  // namespace detail

//! y (+)= the routed experts of the contract, scratch from `ws` (moe_experts_workspace; short:
//! out_of_memory). Errors: the contract's checks; an expert id outside [0, experts)
//! (out_of_range); an expert whose weight is not [2 * inter, dim] / [dim, inter]
//! (shape_mismatch). The result does not depend on the executor's thread count.
template <class Arch, class Experts, executor Exec>
  requires expert_weights<Experts>
[[nodiscard]] status moe_experts(Arch arch, const basic_moe_experts_args<Experts>& a, Exec& exec, workspace_arena& ws) {
  if (const status s = kernels::moe_experts_can_implement(a); s != status::ok || a.tokens == 0) return s;
  workspace_arena::frame frame(ws);
  const std::size_t slots = a.tokens * a.top_k;
  auto* offsets = ws.take<std::int32_t>(a.experts + 1);
  auto* order = ws.take<std::int32_t>(slots);
  auto* active = ws.take<std::size_t>(a.experts);
  float* slot_out = ws.take<float>(slots * a.dim);
  const auto parts = static_cast<std::size_t>(std::max(1, exec.concurrency()));
  auto* failed = ws.take<status>(parts);
  if (failed == nullptr) return status::out_of_memory;
  if (status s = moe_permute({a.indices, order, offsets, slots, a.experts}); s != status::ok) return s;
  std::size_t most_rows = 0, n_active = 0;
  for (std::size_t e = 0; e < a.experts; ++e) {
    const auto rows = static_cast<std::size_t>(offsets[e + 1] - offsets[e]);
    most_rows = std::max(most_rows, rows);
    if (rows == 0) continue;
    const linear_view gate_up = a.gate_up[e], down = a.down[e];
    if (gate_up.out_features() != 2 * a.inter || gate_up.in_features() != a.dim || down.out_features() != a.dim ||
        down.in_features() != a.inter)
      return status::shape_mismatch;
    active[n_active++] = e;
  }
  const std::size_t per_part = detail::moe_expert_scratch_bytes(a, most_rows);
  auto* scratch = ws.take<std::byte>(parts * per_part);
  if (scratch == nullptr) return status::out_of_memory;
  auto run = [&](std::size_t e, std::size_t part, auto& ex) {
    return detail::run_expert(arch, a, e, order + offsets[e], static_cast<std::size_t>(offsets[e + 1] - offsets[e]), slot_out,
                              std::span<std::byte>(scratch + part * per_part, per_part), ex);
  };
  if (parts > 1 && n_active >= 2 * parts) {
    // Threads take whole experts. A prefill sends ~8 rows to each of 256 experts and is bound
    // by reading 12.9 GB of weights: each thread streams one expert after another with no
    // barrier between them, instead of all threads splitting every small GEMM. Experts are
    // claimed from a shared counter, so a thread slowed by the machine takes fewer; which
    // thread runs an expert does not change its result.
    std::atomic<std::size_t> next{0};
    std::fill(failed, failed + parts, status::ok);
    exec.parallel_for(static_cast<std::int64_t>(parts), [&](std::int64_t b, std::int64_t e) {
      for (auto p = static_cast<std::size_t>(b); p < static_cast<std::size_t>(e); ++p) {
        serial_executor one;
        status& mine = failed[p];
        for (std::size_t i = next++; i < n_active && mine == status::ok; i = next++) mine = run(active[i], p, one);
      }
    });
    for (std::size_t p = 0; p < parts; ++p)
      if (failed[p] != status::ok) return failed[p];
  } else {
    for (std::size_t i = 0; i < n_active; ++i)
      if (status s = run(active[i], 0, exec); s != status::ok) return s;
  }
  exec.parallel_for(static_cast<std::int64_t>(a.tokens), [&](std::int64_t t0, std::int64_t t1) {
    for (auto t = static_cast<std::size_t>(t0); t < static_cast<std::size_t>(t1); ++t) {
      float* yt = a.y + t * a.dim;
      if (!a.accumulate) std::fill(yt, yt + a.dim, 0.0f);
      for (std::size_t k = 0; k < a.top_k; ++k) {
        const float w = a.weights[t * a.top_k + k];
        const float* o = slot_out + (t * a.top_k + k) * a.dim;
        for (std::size_t d = 0; d < a.dim; ++d) yt[d] += w * o[d];
      }
    }
  });
  return status::ok;
}

}  // namespace cpu
VPRIM_NAMESPACE_END

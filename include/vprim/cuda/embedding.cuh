// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file embedding.cuh
//! Embedding gather: out[t, :] = table[ids[t], :] for fp32 tables; and scatter_rows, which
//! writes image features over their placeholders' rows. An id outside [0, vocab)
//! writes a zero row and is reported: the kernel keeps the first bad token index in a word of the
//! caller's workspace, and embedding_check() turns it into an error that names the token and
//! its id (it synchronises the stream; call it where a check is wanted).

#include <cstdint>
#include <string>

#include "vprim/cuda/launch.cuh"
#include "vprim/kernels/embedding.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

using kernels::embedding_args;

[[nodiscard]] inline status embedding_can_implement(const embedding_args& a) noexcept {
  if (const status s = kernels::embedding_can_implement(a); s != status::ok) return s;
  if (a.table_bf16 != nullptr) return status::not_supported;  // the CPU's bf16 table waits for a GPU-run twin
  return a.tokens > 0x7fffffffu ? status::invalid_argument : status::ok;
}

namespace detail {
inline constexpr unsigned long long no_bad_token = ~0ull;

VPRIM_KERNEL void embedding_kernel(embedding_args a, unsigned long long* first_bad) {
  const std::size_t t = blockIdx.x;
  const std::int64_t id = a.ids[t];
  const bool ok = id >= 0 && static_cast<std::size_t>(id) < a.vocab;
  if (!ok && threadIdx.x == 0) atomicMin(first_bad, static_cast<unsigned long long>(t));
  const float* src = ok ? a.table + static_cast<std::size_t>(id) * a.dim : nullptr;
  float* dst = a.out + t * a.dim;
  for (std::size_t i = threadIdx.x; i < a.dim; i += blockDim.x) dst[i] = ok ? src[i] : 0.0f;
}

VPRIM_KERNEL void reset_word_kernel(unsigned long long* word) { *word = no_bad_token; }
}  // namespace detail

//! Gathers on `stream`. Workspace: 8 bytes (query with ws.ptr == nullptr).
[[nodiscard]] inline status embedding_gather(const embedding_args& a, workspace& ws, cudaStream_t stream) {
  detail::carve c(ws);
  auto* first_bad = c.take<unsigned long long>(1);
  if (c.query()) {
    ws.bytes = c.need();
    return status::ok;
  }
  if (!c.fits()) return status::invalid_argument;
  if (const status s = cuda::embedding_can_implement(a); s != status::ok) return s;
  detail::reset_word_kernel<<<1, 1, 0, stream>>>(first_bad);
  if (const status s = detail::launched(); s != status::ok || a.tokens == 0) return s;
  detail::embedding_kernel<<<static_cast<unsigned>(a.tokens), 128, 0, stream>>>(a, first_bad);
  return detail::launched();
}

//! After embedding_gather on the same workspace: ok, or an error naming the first token whose
//! id is out of range. Synchronises `stream`.
[[nodiscard]] inline result<bool> embedding_check(const embedding_args& a, const workspace& ws, cudaStream_t stream) {
  unsigned long long first_bad = detail::no_bad_token;
  std::int64_t id = 0;
  if (cudaError_t e = cudaMemcpyAsync(&first_bad, ws.ptr, sizeof first_bad, cudaMemcpyDeviceToHost, stream); e != cudaSuccess)
    return to_error(e, "embedding_check: reading the flag");
  if (cudaError_t e = cudaStreamSynchronize(stream); e != cudaSuccess) return to_error(e, "embedding_check");
  if (first_bad == detail::no_bad_token) return true;
  if (cudaError_t e = cudaMemcpy(&id, a.ids + first_bad, sizeof id, cudaMemcpyDeviceToHost); e != cudaSuccess)
    return to_error(e, "embedding_check: reading the bad id");
  return make_error(status::out_of_range, "embedding: token index " + std::to_string(first_bad) + " has id " +
                                              std::to_string(id) + ", outside [0, " + std::to_string(a.vocab) + ")");
}

struct scatter_rows_args {
  const float* src = nullptr;          //!< [count, dim]
  const std::int64_t* rows = nullptr;  //!< [count], device memory; the caller checked them against dst
  float* dst = nullptr;                //!< dst[rows[i], :] = src[i, :]
  std::size_t count = 0, dim = 0;
};

namespace detail {
VPRIM_KERNEL void scatter_rows_kernel(scatter_rows_args a) {
  const float* src = a.src + static_cast<std::size_t>(blockIdx.x) * a.dim;
  float* dst = a.dst + static_cast<std::size_t>(a.rows[blockIdx.x]) * a.dim;
  for (std::size_t i = threadIdx.x; i < a.dim; i += blockDim.x) dst[i] = src[i];
}
}  // namespace detail

[[nodiscard]] inline status scatter_rows(const scatter_rows_args& a, cudaStream_t stream) {
  if (a.count == 0) return status::ok;
  if (a.src == nullptr || a.rows == nullptr || a.dst == nullptr || a.dim == 0 || a.count > 0x7fffffffu) return status::invalid_argument;
  detail::scatter_rows_kernel<<<static_cast<unsigned>(a.count), 128, 0, stream>>>(a);
  return detail::launched();
}

}  // namespace cuda
VPRIM_NAMESPACE_END

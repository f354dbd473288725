// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file device_buffer.cuh
//! Device memory that a model object owns for its lifetime (weights, a sequence's cache). The
//! library never uses it for per-call scratch, which is the caller's workspace. Move-only; freed
//! on destruction. Allocation and upload failures come back as errors that name the buffer.

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include <cuda_bf16.h>

#include "vprim/core/dtype.hpp"
#include "vprim/cuda/error.cuh"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

template <class T>
class device_buffer {
 public:
  device_buffer() = default;

  //! A copy of `host` on the device; `what` names it in errors.
  [[nodiscard]] static result<device_buffer> upload(const std::vector<T>& host, const std::string& what) {
    auto b = allocate(host.size(), what);
    if (!b) return b;
    if (const cudaError_t e = cudaMemcpy(b->data(), host.data(), host.size() * sizeof(T), cudaMemcpyHostToDevice); e != cudaSuccess)
      return to_error(e, ("copying " + what + " to the device").c_str());
    return b;
  }

  //! `count` zeroed values on the device (state a model keeps across calls: caches).
  [[nodiscard]] static result<device_buffer> zeros(std::size_t count, const std::string& what) {
    auto b = allocate(count, what);
    if (!b) return b;
    if (const cudaError_t e = cudaMemset(b->data(), 0, std::max<std::size_t>(count, 1) * sizeof(T)); e != cudaSuccess)
      return to_error(e, ("clearing " + what).c_str());
    return b;
  }

  [[nodiscard]] T* data() const noexcept { return ptr_.get(); }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }

 private:
  struct release {
    void operator()(T* p) const noexcept { cudaFree(p); }
  };
  //! `count` values (at least one, so that the pointer is never null), uninitialised.
  [[nodiscard]] static result<device_buffer> allocate(std::size_t count, const std::string& what) {
    device_buffer b;
    void* p = nullptr;
    const std::size_t bytes = std::max<std::size_t>(count, 1) * sizeof(T);
    if (const cudaError_t e = cudaMalloc(&p, bytes); e != cudaSuccess)
      return to_error(e, ("allocating " + std::to_string(bytes) + " bytes for " + what).c_str());
    b.ptr_.reset(static_cast<T*>(p));
    b.size_ = count;
    return result<device_buffer>(std::move(b));
  }

  std::unique_ptr<T, release> ptr_;
  std::size_t size_ = 0;
};

//! fp32 values rounded to bf16 (nearest even) on the host, then uploaded.
[[nodiscard]] inline result<device_buffer<__nv_bfloat16>> upload_bf16(const std::vector<float>& values, const std::string& what) {
  std::vector<__nv_bfloat16> bits(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) bits[i] = __nv_bfloat16_raw{float_to_bf16_bits(values[i])};
  return device_buffer<__nv_bfloat16>::upload(bits, what);
}

}  // namespace cuda
VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// Device memory for the GPU golden checks (vprim's own device_buffer, its failures reported),
// and the copy of a device result back once the default stream has drained.

#include <optional>
#include <string>
#include <vector>

#include "report.hpp"
#include "vprim/cuda/device_buffer.cuh"

namespace vprim_golden {

//! `count` zeroed values on the device, or nullopt after reporting why not.
template <class T>
std::optional<vprim::cuda::device_buffer<T>> device_zeros(std::size_t count, report& rep, const std::string& what) {
  auto b = vprim::cuda::device_buffer<T>::zeros(count, what);
  if (!b) {
    rep.problem(b.err().describe());
    return std::nullopt;
  }
  return std::move(*b);
}

//! The first `count` values of `device` into `host`, after the work queued on the default
//! stream (where the checks run) has finished.
template <class T>
vprim::status copy_back(const T* device, std::size_t count, std::vector<T>& host) {
  host.resize(count);
  cudaError_t e = cudaStreamSynchronize(nullptr);
  if (e == cudaSuccess && count > 0) e = cudaMemcpy(host.data(), device, count * sizeof(T), cudaMemcpyDeviceToHost);
  return vprim::cuda::to_status(e);
}

}  // namespace vprim_golden

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
#include "vprim/cuda/launch.cuh"

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

//! CUB's two-phase protocol for `run(ws)`, which returns a status: the query, a zeroed
//! workspace of the size it asked for, the run. Reports a failure with `what`; true on success.
template <class Run>
bool run_with_workspace(report& rep, const std::string& what, Run run) {
  vprim::cuda::workspace ws;
  if (const auto s = run(ws); s != vprim::status::ok) {
    rep.problem(what + ": the workspace query failed with " + std::string(vprim::to_string(s)));
    return false;
  }
  auto scratch = device_zeros<char>(ws.bytes, rep, what + "'s workspace");
  if (!scratch) return false;
  ws.ptr = scratch->data();
  if (const auto s = run(ws); s != vprim::status::ok) {
    rep.problem(what + " failed with " + std::string(vprim::to_string(s)));
    return false;
  }
  return true;
}

}  // namespace vprim_golden

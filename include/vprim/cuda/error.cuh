// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file error.cuh
//! CUDA runtime errors as vprim statuses. Launch errors are surfaced, never printed: the host
//! decides what to log.

#include <cuda_runtime_api.h>

#include <string>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

//! Maps a CUDA runtime error to the closest vprim status.
[[nodiscard]] inline status to_status(cudaError_t e) noexcept {
  switch (e) {
    case cudaSuccess: return status::ok;
    case cudaErrorMemoryAllocation: return status::out_of_memory;
    case cudaErrorInvalidValue:
    case cudaErrorInvalidConfiguration:
    case cudaErrorInvalidDevicePointer: return status::invalid_argument;
    case cudaErrorMisalignedAddress: return status::misaligned;
    case cudaErrorNoKernelImageForDevice:
    case cudaErrorInvalidDeviceFunction:
    case cudaErrorNoDevice:
    case cudaErrorInsufficientDriver: return status::not_supported;
    default: return status::io_error;
  }
}

//! An error with the CUDA error's own name and text in the message.
[[nodiscard]] inline error to_error(cudaError_t e, const char* what) {
  return make_error(to_status(e), std::string(what) + ": " + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")");
}

//! Why no CUDA device can be used here, in words, or "" when one can: no NVIDIA driver, a driver
//! older than the runtime this program was built with (with both versions), no device, or the
//! runtime's own error. A driver too old is not the same as no GPU, and says so.
[[nodiscard]] inline std::string device_problem() {
  int devices = 0, driver = 0, runtime = 0;
  const cudaError_t e = cudaGetDeviceCount(&devices);
  if (e == cudaSuccess) return devices > 0 ? "" : "no CUDA device here";
  (void)cudaDriverGetVersion(&driver);
  (void)cudaRuntimeGetVersion(&runtime);
  auto version = [](int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); };
  if (driver == 0) return "no NVIDIA driver here";
  if (e == cudaErrorInsufficientDriver)
    return "the NVIDIA driver (CUDA " + version(driver) + ") is older than the runtime this program was built with (CUDA " +
           version(runtime) + ")";
  return std::string("the CUDA runtime cannot use a device: ") + cudaGetErrorName(e) + " (" + cudaGetErrorString(e) + ")";
}

//! Status of the most recent kernel launch on this thread (clears the sticky-free error state).
[[nodiscard]] inline status last_launch_status() noexcept { return to_status(cudaGetLastError()); }

}  // namespace cuda
VPRIM_NAMESPACE_END

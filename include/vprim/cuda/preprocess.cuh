// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file preprocess.cuh
//! The pixel path on the GPU, bit-identical to image/preprocess.hpp: an 8-bit HWC image in
//! device memory -> bicubic resize with the chosen peer's fixed-point arithmetic -> placed on a
//! canvas (ImageOps.pad's letterbox, or the whole canvas) -> planar CHW floats normalised per
//! channel. The taps come from the CPU's own bicubic_taps on the host. Two kernels: the
//! horizontal pass into an 8-bit intermediate in the workspace, then the vertical pass, the
//! placement and the normalisation fused, writing each canvas value once. The upload is the
//! 8-bit image: a quarter of the bytes of the float tensor the tower reads.

#include <cstdint>
#include <vector>

#include "vprim/cuda/launch.cuh"
#include "vprim/image/preprocess.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

struct resize_normalize_args {
  const std::uint8_t* src = nullptr;  //!< [src_h, src_w, 3] RGB, device memory
  int src_w = 0, src_h = 0;
  letterbox_fit fit{};                //!< the resized image's size and its corner on the canvas
  int out_w = 0, out_h = 0;           //!< the canvas
  std::uint8_t fill = 0;              //!< canvas outside the fitted image
  resample_flavor flavor = resample_flavor::pil;
  channel_stats stats = deepseek_pixel_stats;
  float* chw = nullptr;               //!< [3, out_h, out_w]
};

//! invalid_argument for null pointers (unless only the sizes are asked about, as a workspace
//! query does) or non-positive sizes, shape_mismatch when the fitted image does not lie inside
//! the canvas, not_supported past 2^31 canvas or source values.
[[nodiscard]] inline status resize_normalize_can_implement(const resize_normalize_args& a, bool pointers = true) noexcept {
  if (pointers && (a.src == nullptr || a.chw == nullptr)) return status::invalid_argument;
  if (a.src_w <= 0 || a.src_h <= 0 || a.out_w <= 0 || a.out_h <= 0) return status::invalid_argument;
  if (a.fit.width <= 0 || a.fit.height <= 0 || a.fit.x0 < 0 || a.fit.y0 < 0 || a.fit.x0 + a.fit.width > a.out_w ||
      a.fit.y0 + a.fit.height > a.out_h)
    return status::shape_mismatch;
  constexpr std::size_t limit = 0x7fffffffu;
  const auto canvas = static_cast<std::size_t>(a.out_w) * static_cast<std::size_t>(a.out_h) * 3;
  const auto source = static_cast<std::size_t>(a.src_w) * static_cast<std::size_t>(a.src_h) * 3;
  const auto mid = static_cast<std::size_t>(a.fit.width) * static_cast<std::size_t>(a.src_h) * 3;
  return canvas > limit || source > limit || mid > limit ? status::not_supported : status::ok;
}

namespace detail {
//! One axis's taps in the workspace: per output index the first input, the tap count and
//! `ksize` fixed-point weights.
struct device_taps {
  const int* first = nullptr;
  const int* count = nullptr;
  const std::int32_t* weights = nullptr;
  int ksize = 0, precision = 0;
};

struct pixel_stats {
  float mean[3], std[3];
};

__device__ __forceinline__ int resample_clip8(std::int32_t v, int precision) {
  const std::int32_t s = v >> precision;
  return s < 0 ? 0 : (s > 255 ? 255 : s);
}

//! mid[y, xx, c] = the horizontal taps of output column xx over source row y.
VPRIM_KERNEL void resample_rows_kernel(const std::uint8_t* src, int src_w, int rows, int out_w, device_taps t, std::uint8_t* mid) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= static_cast<long long>(rows) * out_w) return;
  const int y = static_cast<int>(i / out_w), xx = static_cast<int>(i % out_w);
  const std::int32_t* k = t.weights + static_cast<std::size_t>(xx) * static_cast<std::size_t>(t.ksize);
  const std::uint8_t* p = src + (static_cast<std::size_t>(y) * static_cast<std::size_t>(src_w) + static_cast<std::size_t>(t.first[xx])) * 3;
  const std::int32_t half = 1 << (t.precision - 1);
  std::int32_t s0 = half, s1 = half, s2 = half;
  for (int x = 0; x < t.count[xx]; ++x) {
    s0 += p[3 * x + 0] * k[x];
    s1 += p[3 * x + 1] * k[x];
    s2 += p[3 * x + 2] * k[x];
  }
  std::uint8_t* out = mid + static_cast<std::size_t>(i) * 3;
  out[0] = static_cast<std::uint8_t>(resample_clip8(s0, t.precision));
  out[1] = static_cast<std::uint8_t>(resample_clip8(s1, t.precision));
  out[2] = static_cast<std::uint8_t>(resample_clip8(s2, t.precision));
}

//! One canvas pixel: the vertical taps over `mid` [src_h, fit.width, 3] (or mid's row itself
//! when the height does not change) inside the fitted image, the fill outside; normalised.
VPRIM_KERNEL void resample_columns_normalize_kernel(const std::uint8_t* mid, letterbox_fit fit, int out_w, int out_h,
                                                    bool vertical, device_taps t, std::uint8_t fill, pixel_stats st, float* chw) {
  const long long i = static_cast<long long>(blockIdx.x) * blockDim.x + threadIdx.x;
  const auto plane = static_cast<long long>(out_w) * out_h;
  if (i >= plane) return;
  const int y = static_cast<int>(i / out_w), x = static_cast<int>(i % out_w);
  const int xx = x - fit.x0, yy = y - fit.y0;
  int v[3] = {fill, fill, fill};
  if (xx >= 0 && xx < fit.width && yy >= 0 && yy < fit.height) {
    const std::size_t row_bytes = static_cast<std::size_t>(fit.width) * 3, at = static_cast<std::size_t>(xx) * 3;
    if (vertical) {
      const std::int32_t* k = t.weights + static_cast<std::size_t>(yy) * static_cast<std::size_t>(t.ksize);
      const std::uint8_t* p = mid + static_cast<std::size_t>(t.first[yy]) * row_bytes + at;
      const std::int32_t half = 1 << (t.precision - 1);
      std::int32_t s[3] = {half, half, half};
      for (int r = 0; r < t.count[yy]; ++r)
        for (int c = 0; c < 3; ++c) s[c] += p[static_cast<std::size_t>(r) * row_bytes + static_cast<std::size_t>(c)] * k[r];
      for (int c = 0; c < 3; ++c) v[c] = resample_clip8(s[c], t.precision);
    } else {
      for (int c = 0; c < 3; ++c) v[c] = mid[static_cast<std::size_t>(yy) * row_bytes + at + static_cast<std::size_t>(c)];
    }
  }
  // The CPU's expression, in IEEE float division: the values match bit for bit.
  for (int c = 0; c < 3; ++c) chw[c * plane + i] = (static_cast<float>(v[c]) / 255.0f - st.mean[c]) / st.std[c];
}

//! Carves one axis's taps and, in the run phase, copies them from the host. Pageable copies
//! return once the host data is staged, so the temporary may go.
[[nodiscard]] inline status place_taps(carve& cv, const vprim::detail::resample_taps& h, device_taps& d, cudaStream_t stream) {
  const std::size_t n = h.first.size();
  int* first = cv.take<int>(n);
  int* count = cv.take<int>(n);
  auto* weights = cv.take<std::int32_t>(h.weights.size());
  d = {first, count, weights, h.ksize, h.precision};
  if (cv.query() || !cv.fits()) return status::ok;
  cudaError_t e = cudaMemcpyAsync(first, h.first.data(), n * sizeof(int), cudaMemcpyHostToDevice, stream);
  if (e == cudaSuccess) e = cudaMemcpyAsync(count, h.count.data(), n * sizeof(int), cudaMemcpyHostToDevice, stream);
  if (e == cudaSuccess)
    e = cudaMemcpyAsync(weights, h.weights.data(), h.weights.size() * sizeof(std::int32_t), cudaMemcpyHostToDevice, stream);
  return to_status(e);
}
}  // namespace detail

//! Resize, place and normalise on `stream`. Two-phase workspace: the taps of both axes and the
//! 8-bit horizontal intermediate; the query needs only the sizes.
[[nodiscard]] inline status resize_normalize(const resize_normalize_args& a, workspace& ws, cudaStream_t stream) {
  if (const status s = resize_normalize_can_implement(a, ws.ptr != nullptr); s != status::ok) return s;
  const bool horizontal = a.fit.width != a.src_w, vertical = a.fit.height != a.src_h;
  detail::carve cv(ws);
  detail::device_taps th, tv;
  std::uint8_t* mid = nullptr;
  if (horizontal) {
    if (const status s = detail::place_taps(cv, vprim::detail::bicubic_taps(a.src_w, a.fit.width, a.flavor), th, stream); s != status::ok)
      return s;
    mid = cv.take<std::uint8_t>(static_cast<std::size_t>(a.fit.width) * static_cast<std::size_t>(a.src_h) * 3);
  }
  if (vertical)
    if (const status s = detail::place_taps(cv, vprim::detail::bicubic_taps(a.src_h, a.fit.height, a.flavor), tv, stream); s != status::ok)
      return s;
  if (cv.query()) {
    ws.bytes = cv.need();
    return status::ok;
  }
  if (!cv.fits()) return status::invalid_argument;
  constexpr int threads = 256;
  if (horizontal) {
    const auto n = static_cast<std::size_t>(a.fit.width) * static_cast<std::size_t>(a.src_h);
    detail::resample_rows_kernel<<<static_cast<unsigned>(ceil_div(n, threads)), threads, 0, stream>>>(a.src, a.src_w, a.src_h,
                                                                                                    a.fit.width, th, mid);
    if (const status s = detail::launched(); s != status::ok) return s;
  }
  const detail::pixel_stats st{{a.stats.mean[0], a.stats.mean[1], a.stats.mean[2]}, {a.stats.std[0], a.stats.std[1], a.stats.std[2]}};
  const auto plane = static_cast<std::size_t>(a.out_w) * static_cast<std::size_t>(a.out_h);
  detail::resample_columns_normalize_kernel<<<static_cast<unsigned>(ceil_div(plane, threads)), threads, 0, stream>>>(
      horizontal ? mid : a.src, a.fit, a.out_w, a.out_h, vertical, tv, a.fill, st, a.chw);
  return detail::launched();
}

//! The Vision-Exp pixel path of preprocess_vision_exp: letterboxed with fill 127 (images of
//! max_aspect:1 and wider
//! stretched to the whole canvas), values in [-1, 1]; chw is [3, plan.target_height,
//! plan.target_width]. The plan must be the one made for this src_w x src_h.
[[nodiscard]] inline status preprocess_vision_exp(const std::uint8_t* src, int src_w, int src_h, const vision_exp_plan& plan,
                                                  float* chw, workspace& ws, cudaStream_t stream) {
  if (plan.width != src_w || plan.height != src_h) return status::shape_mismatch;
  const int W = plan.target_width, H = plan.target_height;
  const letterbox_fit fit = plan.stretch ? letterbox_fit{W, H, 0, 0} : letterbox_geometry(src_w, src_h, W, H);
  return resize_normalize({src, src_w, src_h, fit, W, H, 127, resample_flavor::pil, deepseek_pixel_stats, chw}, ws, stream);
}

//! Qwen2-VL's pixel path of preprocess_smart_resize: a plain resize to the plan's target, CLIP
//! statistics; chw is [3, plan.target_height, plan.target_width].
[[nodiscard]] inline status preprocess_smart_resize(const std::uint8_t* src, int src_w, int src_h, const smart_resize_plan& plan,
                                                    float* chw, workspace& ws, cudaStream_t stream,
                                                    resample_flavor flavor = resample_flavor::torch) {
  if (plan.width != src_w || plan.height != src_h) return status::shape_mismatch;
  const int W = plan.target_width, H = plan.target_height;
  return resize_normalize({src, src_w, src_h, letterbox_fit{W, H, 0, 0}, W, H, 0, flavor, clip_pixel_stats, chw}, ws, stream);
}

}  // namespace cuda
VPRIM_NAMESPACE_END

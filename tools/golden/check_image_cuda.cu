// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The GPU pixel paths for the golden image checks (see cuda_backend.hpp): the 8-bit image
// uploaded, resized, placed and normalised by cuda/preprocess.cuh, the floats copied back.
#include <string>
#include <vector>

#include "check_image.hpp"
#include "cuda_backend.hpp"
#include "cuda_memory.cuh"
#include "vprim/cuda/preprocess.cuh"

namespace vprim_golden {

namespace {
//! Uploads `img`, runs `run(src, chw, ws)` through the workspace protocol, returns the pixels.
template <class Run>
vprim::result<vprim::tower_input> pixels_on_gpu(const vprim::rgb_image& img, int height, int width, Run run) {
  auto src = vprim::cuda::device_buffer<std::uint8_t>::upload(img.pixels, "the 8-bit image");
  if (!src) return src.err();
  const std::size_t values = 3 * static_cast<std::size_t>(height) * static_cast<std::size_t>(width);
  auto chw = vprim::cuda::device_buffer<float>::zeros(values, "the pixel tensor");
  if (!chw) return chw.err();
  vprim::cuda::workspace ws;
  if (const auto s = run(src->data(), chw->data(), ws); s != vprim::status::ok)
    return vprim::make_error(s, "GPU pixel path: workspace query");
  auto scratch = vprim::cuda::device_buffer<char>::zeros(ws.bytes, "the pixel path's workspace");
  if (!scratch) return scratch.err();
  ws.ptr = scratch->data();
  if (const auto s = run(src->data(), chw->data(), ws); s != vprim::status::ok)
    return vprim::make_error(s, "GPU pixel path on a " + std::to_string(img.width) + "x" + std::to_string(img.height) + " image");
  vprim::tower_input out{height, width, {}};
  if (const auto s = copy_back(chw->data(), values, out.chw); s != vprim::status::ok)
    return vprim::make_error(s, "GPU pixel path: reading the pixels back");
  return out;
}

vprim::result<vprim::tower_input> gpu_vision_exp_pixels(const vprim::rgb_image& img, const vprim::vision_exp_plan& plan) {
  return pixels_on_gpu(img, plan.target_height, plan.target_width, [&](const std::uint8_t* src, float* chw, vprim::cuda::workspace& ws) {
    return vprim::cuda::preprocess_vision_exp(src, img.width, img.height, plan, chw, ws, nullptr);
  });
}

vprim::result<vprim::tower_input> gpu_smart_resize_pixels(const vprim::rgb_image& img, const vprim::smart_resize_plan& plan) {
  return pixels_on_gpu(img, plan.target_height, plan.target_width, [&](const std::uint8_t* src, float* chw, vprim::cuda::workspace& ws) {
    return vprim::cuda::preprocess_smart_resize(src, img.width, img.height, plan, chw, ws, nullptr);
  });
}
}  // namespace

void check_vision_exp_image_cuda(const golden_file& g, report& rep) {
  check_resize_table(g, rep);
  check_nlayouts(g, rep);
  check_vision_exp_pixels(g, rep, gpu_vision_exp_pixels);
}

void check_qwen2_vl_preprocess_cuda(const golden_file& g, report& rep) { check_qwen2_vl_preprocess(g, rep, gpu_smart_resize_pixels); }

}  // namespace vprim_golden

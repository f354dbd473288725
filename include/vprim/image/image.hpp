// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file image.hpp
//! An owning 8-bit RGB image in HWC order, the form every decoder hands us.

#include <cstdint>
#include <string>
#include <vector>

#include "vprim/core/status.hpp"
#include "vprim/core/tensor_view.hpp"

VPRIM_NAMESPACE_BEGIN

struct rgb_image {
  int width = 0;
  int height = 0;
  std::vector<std::uint8_t> pixels;  //!< height * width * 3, row-major, RGB interleaved

  [[nodiscard]] static rgb_image filled(int w, int h, std::uint8_t value) {
    return {w, h, std::vector<std::uint8_t>(static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3, value)};
  }
  [[nodiscard]] std::uint8_t* row(int y) noexcept { return pixels.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(width) * 3; }
  [[nodiscard]] const std::uint8_t* row(int y) const noexcept {
    return pixels.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(width) * 3;
  }
  //! ok, or shape_mismatch when the buffer does not hold width * height RGB pixels.
  [[nodiscard]] status check() const noexcept {
    if (width <= 0 || height <= 0) return status::shape_mismatch;
    return pixels.size() == static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3 ? status::ok
                                                                                                : status::shape_mismatch;
  }
};

//! A copy of an HWC u8 view (H, W, 3) as an rgb_image.
[[nodiscard]] inline result<rgb_image> to_rgb_image(dview<const std::uint8_t, 3> hwc) {
  if (hwc.extent(2) != 3 || hwc.extent(0) <= 0 || hwc.extent(1) <= 0)
    return make_error(status::shape_mismatch, "to_rgb_image: expected an (H, W, 3) image with H, W > 0, got (" +
                                                  std::to_string(hwc.extent(0)) + ", " + std::to_string(hwc.extent(1)) +
                                                  ", " + std::to_string(hwc.extent(2)) + ")");
  rgb_image img{static_cast<int>(hwc.extent(1)), static_cast<int>(hwc.extent(0)), {}};
  img.pixels.resize(static_cast<std::size_t>(hwc.size()));
  std::size_t i = 0;
  for (index_t y = 0; y < hwc.extent(0); ++y)
    for (index_t x = 0; x < hwc.extent(1); ++x)
      for (index_t c = 0; c < 3; ++c) img.pixels[i++] = hwc(y, x, c);
  return img;
}

VPRIM_NAMESPACE_END

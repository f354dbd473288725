// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// PNG/JPEG in and PNG out for the examples, through stb (libstb-dev). vprim's headers do not
// depend on stb: an engine brings its own codec and hands vprim an rgb_image.
#include <string>
#include <vector>

#include <stb_image.h>
#include <stb_image_write.h>

#include "vprim/core/status.hpp"
#include "vprim/image/image.hpp"

namespace examples {

inline vprim::result<vprim::rgb_image> load_image(const std::string& path) {
  int w = 0, h = 0, channels = 0;
  unsigned char* data = stbi_load(path.c_str(), &w, &h, &channels, 3);
  if (data == nullptr)
    return vprim::make_error(vprim::status::io_error, "cannot decode image '" + path + "': " + stbi_failure_reason());
  vprim::rgb_image img{w, h, std::vector<std::uint8_t>(data, data + static_cast<std::size_t>(w) * static_cast<std::size_t>(h) * 3)};
  stbi_image_free(data);
  return img;
}

inline vprim::status save_png(const vprim::rgb_image& img, const std::string& path) {
  if (img.check() != vprim::status::ok) return vprim::status::shape_mismatch;
  return stbi_write_png(path.c_str(), img.width, img.height, 3, img.pixels.data(), img.width * 3) ? vprim::status::ok
                                                                                                 : vprim::status::io_error;
}

}  // namespace examples

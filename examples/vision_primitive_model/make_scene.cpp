// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// Writes the sample scene that ships with the example (sample_scene.png): a sky, a ground, a
// sun and three coloured boxes, drawn procedurally so the file can be regenerated exactly.
//   make_scene OUT.png
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <vector>

#include <stb_image_write.h>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_scene OUT.png\n");
    return 2;
  }
  const int w = 336, h = 252;
  std::vector<std::uint8_t> px(static_cast<std::size_t>(w * h * 3));
  auto put = [&](int x, int y, int r, int g, int b) {
    auto* p = px.data() + (static_cast<std::size_t>(y) * w + static_cast<std::size_t>(x)) * 3;
    p[0] = static_cast<std::uint8_t>(r);
    p[1] = static_cast<std::uint8_t>(g);
    p[2] = static_cast<std::uint8_t>(b);
  };
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) {
      if (y < 160) put(x, y, 120 + y / 3, 170 + y / 4, 235);    // sky
      else put(x, y, 70 + (x * 7 + y * 3) % 23, 140 - (y - 160) / 3, 60);  // grass
      const double dx = x - 270.0, dy = y - 50.0;
      if (dx * dx + dy * dy < 26.0 * 26.0) put(x, y, 250, 215, 70);  // sun
    }
  struct box {
    int x0, y0, x1, y1, r, g, b;
  };
  for (const box& b : {box{30, 120, 110, 200, 150, 90, 50}, box{140, 135, 200, 195, 200, 60, 60}, box{225, 150, 300, 215, 70, 70, 170}})
    for (int y = b.y0; y < b.y1; ++y)
      for (int x = b.x0; x < b.x1; ++x) put(x, y, b.r, b.g, b.b);
  return stbi_write_png(argv[1], w, h, 3, px.data(), w * 3) ? 0 : 1;
}

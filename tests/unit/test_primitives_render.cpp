// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// Drawing (image/draw.hpp, image/font.hpp) and the transcript overlay (primitives/render.hpp).
#include <cmath>
#include <limits>
#include <set>
#include <string>

#include <catch2/catch.hpp>

#include "vprim/primitives/render.hpp"

using namespace vprim;
using namespace vprim::primitives;

namespace {
draw::colour at(const rgb_image& img, int x, int y) {
  const auto* p = img.row(y) + static_cast<std::size_t>(x) * 3;
  return {p[0], p[1], p[2]};
}
// how much of `c` the image holds, in pixels: sum over pixels of the red channel / 255 on black
double ink(const rgb_image& img) {
  double s = 0;
  for (std::size_t i = 0; i < img.pixels.size(); i += 3) s += img.pixels[i] / 255.0;
  return s;
}
constexpr draw::colour red{255, 0, 0};
}  // namespace

TEST_CASE("the font has a distinct, well-formed glyph for every printable character", "[render][font]") {
  std::set<std::string_view> seen;
  for (int ch = 32; ch <= 126; ++ch) {
    CAPTURE(ch);
    const auto g = font5x7::glyph(static_cast<unsigned char>(ch));
    REQUIRE(g.size() == 41);
    for (std::size_t i = 0; i < g.size(); ++i) REQUIRE(g[i] == ((i + 1) % 6 == 0 ? ' ' : g[i] == '#' ? '#' : '.'));
    REQUIRE(seen.insert(g).second);
    REQUIRE((ch == ' ') == (g.find('#') == std::string_view::npos));
  }
  REQUIRE(font5x7::glyph(0x07) == font5x7::glyph(0xE4));  // unknown bytes share the hollow box
  REQUIRE(font5x7::pixel('T', 0, 0));
  REQUIRE_FALSE(font5x7::pixel('T', 6, 0));
  REQUIRE_FALSE(font5x7::pixel('T', 7, 0));  // outside the cell grid
  // one glyph per UTF-8 sequence: "ｂ" (3 bytes) and "é" (2 bytes) are one box each
  REQUIRE(draw::glyphs_of("a\xEF\xBD\x82\xC3\xA9z").size() == 4);
  REQUIRE(draw::text_width("ab", 2) == (2 * 6 - 1) * 2);
}

TEST_CASE("shapes cover the area they should, antialiased and clipped", "[render][draw]") {
  rgb_image img = rgb_image::filled(200, 200, 0);
  draw::disc(img, {100, 100}, 30, red);
  REQUIRE(ink(img) == Approx(3.14159265 * 30 * 30).epsilon(0.01));
  REQUIRE(at(img, 100, 100) == red);
  REQUIRE(at(img, 100, 140) == draw::colour{});

  img = rgb_image::filled(200, 200, 0);
  draw::line(img, {20, 50}, {180, 50}, 6, red);  // a 160 x 6 capsule: rectangle plus two half discs
  REQUIRE(ink(img) == Approx(160 * 6 + 3.14159265 * 9).epsilon(0.02));

  img = rgb_image::filled(200, 200, 0);
  draw::polyline(img, {{20, 20}, {100, 20}, {100, 100}}, 4, red);  // the joint is not drawn twice
  const double joined = ink(img);
  REQUIRE(joined == Approx(80 * 4 * 2 + 3.14159265 * 4).epsilon(0.03));

  img = rgb_image::filled(200, 200, 0);
  draw::ring(img, {100, 100}, 50, 2, red);
  REQUIRE(ink(img) == Approx(2 * 3.14159265 * 50 * 2).epsilon(0.02));
  img = rgb_image::filled(200, 200, 0);
  draw::arc(img, {100, 100}, 50, 0, 3.14159265 / 2, 2, red);  // a quarter of the ring, plus round caps
  REQUIRE(ink(img) == Approx(3.14159265 * 50 / 2 * 2 + 3.14159265).epsilon(0.03));

  img = rgb_image::filled(200, 200, 0);
  draw::rect(img, 10, 10, 60, 40, 3, red);
  REQUIRE(ink(img) == Approx(50 * 30 - 44 * 24));
  REQUIRE(at(img, 10, 10) == red);
  REQUIRE(at(img, 30, 25) == draw::colour{});

  // off the image, huge or not finite: nothing is drawn and nothing breaks
  img = rgb_image::filled(50, 50, 0);
  const double inf = std::numeric_limits<double>::infinity(), nan = std::numeric_limits<double>::quiet_NaN();
  draw::line(img, {-1e9, -1e9}, {-1e8, -1e8}, 5, red);
  draw::disc(img, {1e300, 5}, 10, red);
  draw::line(img, {nan, 0}, {10, 10}, 5, red);
  draw::polyline(img, {{inf, 0}, {10, 10}}, 5, red);
  draw::fill_rect(img, -1e12, -1e12, -5, 1e12, red);
  draw::text(img, -1000, -1000, "hidden", 3, red);
  REQUIRE(ink(img) == 0.0);
  // partly on the image: clipped, not wrapped
  draw::fill_rect(img, -10, -10, 5, 5, red);
  REQUIRE(ink(img) == 25.0);
}

TEST_CASE("text draws each glyph's cells at the given scale", "[render][draw]") {
  rgb_image img = rgb_image::filled(100, 40, 0);
  draw::text(img, 3, 4, "H", 2, red);
  int cells = 0;
  for (int r = 0; r < 7; ++r)
    for (int c = 0; c < 5; ++c) {
      cells += font5x7::pixel('H', r, c);
      REQUIRE((at(img, 3 + 2 * c, 4 + 2 * r) == red) == font5x7::pixel('H', r, c));
      REQUIRE((at(img, 3 + 2 * c + 1, 4 + 2 * r + 1) == red) == font5x7::pixel('H', r, c));
    }
  REQUIRE(ink(img) == 4.0 * cells);
  REQUIRE(draw::contrasting({255, 255, 0}) == draw::colour{0, 0, 0});
  REQUIRE(draw::contrasting({0, 0, 128}) == draw::colour{255, 255, 255});
}

TEST_CASE("a transcript's boxes, labels and points land where its coordinates say", "[render][primitives]") {
  rgb_image img = rgb_image::filled(1000, 800, 0);
  const auto r = parse_text("I spot a <｜ref｜>bear<｜/ref｜><｜box｜>[[452,230,804,611]]<｜/box｜> and a path "
                            "<｜point｜>[[100,100],[100,500],[300,500]]<｜/point｜> to <｜point｜>[[900,900]]<｜/point｜>.");
  REQUIRE(r.errors.empty());
  draw_transcript(img, r, overlay_style{4, 2});
  const auto x = [&](int v) { return static_cast<int>(to_pixel(v, 1000)); };
  const auto y = [&](int v) { return static_cast<int>(to_pixel(v, 800)); };
  const draw::colour box_colour = palette_colour(0), line_colour = palette_colour(1), point_colour = palette_colour(2);
  // the box outline, inside corner and edges; the interior untouched
  REQUIRE(at(img, x(452) + 1, y(230) + 1) == box_colour);
  REQUIRE(at(img, x(804) - 2, y(420)) == box_colour);
  REQUIRE(at(img, x(600), y(611) - 2) == box_colour);
  REQUIRE(at(img, x(600), y(420)) == draw::colour{});
  // the label tag sits right above the box's top-left corner, in the box colour
  REQUIRE(at(img, x(452) + 1, y(230) - 2) == box_colour);
  REQUIRE(at(img, x(452) + 1, y(230) - draw::text_height(2) - 2 * 2) == box_colour);
  REQUIRE(at(img, x(452) + 1, y(230) - draw::text_height(2) - 2 * 2 - 2) == draw::colour{});
  // the polyline passes halfway along each segment; the single point is a dot with a ring
  REQUIRE(at(img, x(100), y(300)) == line_colour);
  REQUIRE(at(img, x(200), y(500)) == line_colour);
  REQUIRE(at(img, x(900), y(900)) == point_colour);
  REQUIRE(at(img, x(900) + 16, y(900)) == point_colour);  // on the ring: 2 * dot = 16 px out
  REQUIRE(at(img, x(900) + 12, y(900)) == draw::colour{});  // between dot and ring
  // nothing elsewhere
  REQUIRE(at(img, 5, 790) == draw::colour{});
}

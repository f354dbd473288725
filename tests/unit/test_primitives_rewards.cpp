// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <cmath>

#include <catch2/catch.hpp>

#include "vprim/primitives/rewards.hpp"

using namespace vprim::primitives;

TEST_CASE("counting reward follows Eq. 1, y = 0 included", "[primitives][rewards]") {
  REQUIRE(counting_reward(5, 5) == Approx(0.7));
  REQUIRE(counting_reward(4, 5) == Approx(0.7 * std::exp(-3.0 / 6.0)));
  REQUIRE(counting_reward(7, 5) == Approx(0.7 * std::exp(-6.0 / 6.0)));
  REQUIRE(counting_reward(0, 0) == Approx(0.7));
  REQUIRE(counting_reward(2, 0) == Approx(0.7 * std::exp(-6.0)));  // 0.7 e^(-3 yhat)
  REQUIRE(counting_reward(3, 4, 1.0, 1.0) == Approx(std::exp(-0.2)));
}

TEST_CASE("format reward: malformed, duplicates, runaway", "[primitives][rewards]") {
  REQUIRE(format_reward(parse_text("<|ref|>a<|/ref|><|box|>[[1,2,3,4]]<|/box|> and <|point|>[[5,6]]<|/point|>")) == 1.0);
  REQUIRE(format_reward(parse_text("no primitives at all")) == 1.0);
  REQUIRE(format_reward(parse_text("<|point|>[660,750]]<|/point|>")) == 0.0);
  // 4 boxes, one repeats the first: 1 - 1/4
  REQUIRE(format_reward(parse_text("<|ref|>a<|/ref|><|box|>[[0,0,10,10],[0,0,10,10],[50,50,60,60],[80,80,90,90]]<|/box|>")) ==
          Approx(0.75));
  std::string runaway;
  for (int i = 0; i < 10; ++i) runaway += "<|point|>[[1,1]]<|/point|>";
  REQUIRE(format_reward(parse_text(runaway), format_params{0.9, 5}) == 0.0);
  REQUIRE(format_reward(parse_text(runaway), format_params{0.9, 10}) == 1.0);
}

TEST_CASE("path-tracing reward terms", "[primitives][rewards]") {
  path_reference ref{{{0, 0}, {100, 0}, {100, 100}}, {0, 0, 10, 10}, {90, 90, 110, 110}, "octopus"};
  path_prediction exact{{{0, 0}, {100, 0}, {100, 100}}, {5, 5}, {100, 100}, "octopus"};
  const auto t = path_reward(exact, ref);
  REQUIRE(t.trajectory == 1.0);
  REQUIRE(t.endpoints == 1.0);
  REQUIRE(t.continuity == 1.0);
  REQUIRE(t.answer == 1.0);
  REQUIRE(t.total == Approx(1.0));
  // the trajectory shifted down by 5 (bidirectional distance 10/3, as in the geometry test), a
  // wrong answer, and an end point 20 units below its box centre
  path_prediction off{{{0, 5}, {100, 5}, {100, 105}}, {5, 5}, {100, 120}, "5"};
  const auto u = path_reward(off, ref);
  REQUIRE(u.trajectory == Approx(std::exp(-(10.0 / 3.0) / 50.0)));
  REQUIRE(u.endpoints == Approx(0.5 * (1.0 + (1.0 - 20.0 / 40.0))));
  REQUIRE(u.continuity == 1.0);  // 15 units from the end point: within the threshold
  REQUIRE(u.answer == 0.0);
  path_prediction jump = off;
  jump.end = {200, 200};
  REQUIRE(path_reward(jump, ref).continuity == 0.0);
  REQUIRE(path_reward(path_prediction{}, ref).trajectory == 0.0);
}

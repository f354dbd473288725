// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "vprim/primitives/codec.hpp"

using namespace vprim::primitives;

TEST_CASE("the paper's transcripts parse to the right primitives", "[primitives][codec]") {
  SECTION("fine-grained counting, full-width bars") {
    const auto r = parse_text("I spot a <｜ref｜>bear<｜/ref｜><｜box｜>[[452,23,804,411]]<｜/box｜> clinging vertically to a tall, dead tree trunk.");
    REQUIRE(r.errors.empty());
    REQUIRE(r.refs.size() == 1);
    REQUIRE(r.refs[0].label == "bear");
    REQUIRE(r.refs[0].boxes == std::vector<box>{{452, 23, 804, 411}});
    REQUIRE(r.prose == "I spot a bear clinging vertically to a tall, dead tree trunk.");
    REQUIRE(r.refs[0].begin == 9);
  }
  SECTION("maze: start, destination, a step and the final path") {
    const auto r = parse_text(
        "First locate the starting point: <｜point｜>[[309,512]]<｜/point｜>, and the destination: <｜point｜>[[652,644]]<｜/point｜>. "
        "**Step2**: Moving left: <｜point｜>[[357,369],[260,372]]<｜/point｜> ... "
        "<｜point｜>[[310,513],[357,369],[408,510],[457,650],[554,648],[506,507],[603,507],[652,645]]<｜/point｜> [\\boxed{True}]");
    REQUIRE(r.errors.empty());
    REQUIRE(r.points.size() == 4);
    REQUIRE(r.points[0].points == std::vector<point>{{309, 512}});
    REQUIRE(r.points[2].points.size() == 2);
    REQUIRE(r.points[3].points.size() == 8);
    REQUIRE(r.points[3].points.back() == point{652, 645});
    REQUIRE(r.answer == "True");
  }
  SECTION("path tracing with an answer") {
    const auto r = parse_text("start <｜point｜>[[176,759],[230,779],[822,419]]<｜/point｜> end <｜point｜>[[821,419]]<｜/point｜> [\\boxed{octopus}]");
    REQUIRE(r.points.size() == 2);
    REQUIRE(r.answer == "octopus");
  }
  SECTION("the lineage's <|det|> form, with spaces") {
    const auto r = parse_text("<|ref|>The giraffe at the back.<|/ref|><|det|>[[580, 270, 999, 900]]<|/det|>");
    REQUIRE(r.errors.empty());
    REQUIRE(r.refs.size() == 1);
    REQUIRE(r.refs[0].label == "The giraffe at the back.");
    REQUIRE(r.refs[0].boxes == std::vector<box>{{580, 270, 999, 900}});
  }
  SECTION("several boxes in one list, whitespace inside") {
    const auto r = parse_text("<|ref|>pokemons<|/ref|><|box|>[ [30,40,50,60] ,\n [203, 10, 300, 90],[1,2,3,4] ]<|/box|>");
    REQUIRE(r.errors.empty());
    REQUIRE(r.refs[0].boxes.size() == 3);
  }
  SECTION("a box without a label and a label without a box") {
    const auto r = parse_text("<|box|>[[1,2,3,4]]<|/box|> and <|ref|>cat<|/ref|> sits");
    REQUIRE(r.errors.empty());
    REQUIRE(r.refs.size() == 2);
    REQUIRE(r.refs[0].label.empty());
    REQUIRE(r.refs[1].label == "cat");
    REQUIRE(r.refs[1].boxes.empty());
  }
}

TEST_CASE("malformed primitives are reported with offset and kind, never crash", "[primitives][codec]") {
  struct bad {
    std::string text;
    std::size_t offset;
    error_kind kind;
  };
  const bad cases[] = {
      {"<｜point｜>[660,750]]<｜/point｜>", 14, error_kind::malformed_list},  // the paper's own Fig. 10: "6" where "[" belongs
      {"x <|ref|>bear", 2, error_kind::unclosed_tag},
      {"<|ref|>a<|box|>[[1,2,3,4]]<|/box|>", 8, error_kind::nested_tag},
      {"<|point|>[[1000,5]]<|/point|>", 11, error_kind::value_out_of_range},
      {"<|point|>[[-3,5]]<|/point|>", 11, error_kind::value_out_of_range},
      {"<|box|>[[500,5,400,9]]<|/box|>", 8, error_kind::inverted_box},
      {"<|box|>[[a,1,2,3]]<|/box|>", 9, error_kind::malformed_list},
      {"<|box|>[[1,2,3]]<|/box|>", 8, error_kind::wrong_arity},
      {"text <|/box|>", 5, error_kind::unexpected_closing},
      {"<|point|><|/point|>", 9, error_kind::missing_list},
      {"<|point|>[[1,2]] x<|/point|>", 17, error_kind::malformed_list},
      {"<|point|>[[[1,2]]]<|/point|>", 11, error_kind::too_large},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    const auto r = parse_text(c.text);
    REQUIRE_FALSE(r.errors.empty());
    const bool found = std::any_of(r.errors.begin(), r.errors.end(),
                                   [&](const parse_error& e) { return e.kind == c.kind && e.offset == c.offset; });
    CAPTURE(to_string(r.errors[0].kind), r.errors[0].offset);
    CHECK(found);
    CHECK(r.points.empty());
  }
  // very long and very deep input stays bounded
  std::string deep = "<|point|>" + std::string(200000, '[') + std::string(200000, ']') + "<|/point|>";
  REQUIRE(parse_text(deep).errors.size() == 1);
  std::string many = "<|point|>[";
  for (int i = 0; i < 5000; ++i) many += (i ? ",[1,2]" : "[1,2]");
  many += "]<|/point|>";
  const auto r = parse_text(many);
  REQUIRE(r.points.empty());
  REQUIRE(r.errors.at(0).kind == error_kind::too_large);
  const auto huge = parse_text("<|point|>" + std::string(3 << 20, '1') + "<|/point|>");
  REQUIRE(huge.errors.at(0).kind == error_kind::too_large);
}

TEST_CASE("the streaming parser emits each primitive as its closing token arrives", "[primitives][stream]") {
  const tag_ids ids;
  // a toy vocabulary: 0 "I see ", 1 "a dog", 2 "[[1,2,3,4]]", 3 " and ", 4 "[[5,6]]"
  const std::vector<std::string> vocab = {"I see ", "a dog", "[[1,2,3,4]]", " and ", "[[5,6]]"};
  const std::vector<std::int64_t> tokens = {0, ids.ref, 1, ids.ref_end, ids.box, 2, ids.box_end, 3, ids.point, 4, ids.point_end};
  stream_parser p;
  std::vector<std::size_t> refs_after, points_after;
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    if (auto t = ids.lookup(tokens[i])) p.feed_tag(*t, i);
    else p.feed_text(vocab[static_cast<std::size_t>(tokens[i])], i);
    refs_after.push_back(p.result().refs.size());
    points_after.push_back(p.result().points.size());
  }
  REQUIRE(refs_after == std::vector<std::size_t>{0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1});
  REQUIRE(points_after.back() == 1);
  REQUIRE(points_after[9] == 0);
  const auto r = parse_tokens(tokens, [&](std::int64_t id) { return vocab[static_cast<std::size_t>(id)]; });
  REQUIRE(r.refs.at(0).label == "a dog");
  REQUIRE(r.refs[0].begin == 1);  // token index
  REQUIRE(r.prose == "I see a dog and ");
  // an error inside a list points at the token holding the bad text, not at a byte count
  const std::vector<std::string> pieces = {"[[1,", "2]", ",[x", ",4]]"};
  const std::vector<std::int64_t> bad = {ids.point, 0, 1, 2, 3, ids.point_end};
  const auto e = parse_tokens(bad, [&](std::int64_t id) { return pieces[static_cast<std::size_t>(id)]; });
  REQUIRE(e.errors.size() == 1);
  REQUIRE(e.errors[0].kind == error_kind::malformed_list);
  REQUIRE(e.errors[0].offset == 3);  // the token ",[x"
}

TEST_CASE("canonical formatting sorts boxes and round-trips", "[primitives][format]") {
  const std::vector<box> boxes = {{500, 5, 600, 9}, {10, 50, 20, 60}, {10, 5, 20, 9}};
  const auto text = format_ref("men", boxes);
  REQUIRE(text == "<|ref|>men<|/ref|><|box|>[[10,5,20,9],[10,50,20,60],[500,5,600,9]]<|/box|>");
  const auto back = parse_text(text);
  REQUIRE(back.errors.empty());
  REQUIRE(back.refs.at(0).boxes.size() == 3);
  REQUIRE(format_points({{1, 2}, {3, 4}}) == "<|point|>[[1,2],[3,4]]<|/point|>");
  REQUIRE(stream_parser::last_boxed("a \\boxed{x{1}} then \\boxed{{5}}") == "{5}");
  REQUIRE_FALSE(stream_parser::last_boxed("\\boxed{unclosed").has_value());
}

TEST_CASE("random mixtures of tags, brackets and digits never break the parser", "[primitives][robust]") {
  const std::string pieces[] = {"<|ref|>", "<|/ref|>", "<|box|>", "<|/box|>", "<|point|>", "<|/point|>", "<｜det｜>",
                                "<|/det|>", "[", "]", ",", "12", "999", "1000", " ", "x", "<", "|", "\xEF\xBD", "\\boxed{"};
  std::mt19937 rng(7);
  for (int round = 0; round < 3000; ++round) {
    std::string s;
    const int n = static_cast<int>(rng() % 40);
    for (int i = 0; i < n; ++i) s += pieces[rng() % std::size(pieces)];
    const auto r = parse_text(s);
    for (const auto& e : r.errors) REQUIRE(e.offset <= s.size());
    for (const auto& ref : r.refs)
      for (const auto& b : ref.boxes) REQUIRE((b.x1 <= b.x2 && b.y1 <= b.y2 && b.x2 <= 999 && b.y2 <= 999));
  }
}

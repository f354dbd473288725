// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <string>

#include <catch2/catch.hpp>

#include "vprim/io/json.hpp"

TEST_CASE("JSON values parse with types, order and offsets", "[io][json]") {
  auto r = vprim::parse_json(R"( {"a": [1, -2.5e3, true, null], "b": "x\u00e9\ud83d\ude00\n", "c": {}} )");
  REQUIRE(r);
  const auto& v = *r;
  REQUIRE(v.is_object());
  REQUIRE(v.members().size() == 3);
  const auto* a = v.find("a");
  REQUIRE(a != nullptr);
  REQUIRE(a->items().size() == 4);
  REQUIRE(a->items()[0].as_int() == 1);
  REQUIRE(a->items()[1].as_double() == -2500.0);
  REQUIRE_FALSE(a->items()[1].as_int().has_value());
  REQUIRE(a->items()[2].as_bool());
  REQUIRE(a->items()[3].is_null());
  REQUIRE(a->offset() == 7);
  REQUIRE(v.find("b")->as_string() == "x\xc3\xa9\xf0\x9f\x98\x80\n");
  REQUIRE(v.find("c")->is_object());
  REQUIRE(v.find("zzz") == nullptr);
  REQUIRE(vprim::parse_json("9223372036854775807")->as_int() == INT64_MAX);
  REQUIRE_FALSE(vprim::parse_json("9223372036854775808")->as_int().has_value());  // too big for int64
}

TEST_CASE("malformed JSON is rejected with the byte offset", "[io][json]") {
  struct bad_case {
    const char* text;
    std::size_t offset;
    const char* what;
  };
  const bad_case cases[] = {
      {"", 0, "unexpected end"},
      {"{", 1, "expected a string key"},
      {"{\"a\" 1}", 5, "expected ':'"},
      {"{\"a\":1,}", 7, "expected a string key"},
      {"[1 2]", 3, "expected ',' or ']'"},
      {"[01]", 2, "expected ',' or ']'"},
      {"-", 1, "expected a digit"},
      {"1.", 2, "expected digits after '.'"},
      {"1e+", 3, "expected digits in exponent"},
      {"\"abc", 4, "unterminated string"},
      {"\"a\tb\"", 2, "control character"},
      {"\"\\x\"", 2, "invalid escape"},
      {"\"\\ud800\"", 7, "unpaired UTF-16 surrogate"},
      {"\"\\u12g4\"", 3, "invalid hex digit"},
      {"tru", 0, "invalid literal"},
      {"{} x", 3, "unexpected text after"},
      {"1e999", 0, "out of range"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto r = vprim::parse_json(c.text, 100);
    REQUIRE_FALSE(r);
    REQUIRE(r.code() == vprim::status::parse_error);
    CHECK(r.err().offset == 100 + c.offset);
    CHECK_THAT(r.err().message, Catch::Contains(c.what));
  }
}

TEST_CASE("JSON nesting is bounded", "[io][json]") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  auto r = vprim::parse_json(deep);
  REQUIRE_FALSE(r);
  REQUIRE_THAT(r.err().message, Catch::Contains("nesting deeper than 64"));
  REQUIRE(vprim::parse_json(std::string(60, '[') + std::string(60, ']')));
}

TEST_CASE("JSON string writer escapes what the reader unescapes", "[io][json]") {
  const std::string raw = std::string("q\"b\\s/\n\t\x01 \xc3\xa9", 13);
  std::string lit;
  vprim::append_json_string(lit, raw);
  auto back = vprim::parse_json(lit);
  REQUIRE(back);
  REQUIRE(back->as_string() == raw);
}

TEST_CASE("strings must be UTF-8; the writer never emits anything else", "[json][utf8]") {
  REQUIRE(vprim::parse_json("\"caf\xC3\xA9 \xEF\xBD\x9C \xF0\x9F\x90\xBB\"")->as_string() == "caf\xC3\xA9 \xEF\xBD\x9C \xF0\x9F\x90\xBB");
  for (const char* bad : {"\"\xC3\"", "\"\xC0\xAF\"", "\"\xED\xA0\x80\"", "\"\xF4\x90\x80\x80\"", "\"a\xFF\"", "\"\x80\""}) {
    CAPTURE(bad);
    const auto r = vprim::parse_json(bad);
    REQUIRE_FALSE(r);
    REQUIRE_THAT(r.err().message, Catch::Contains("invalid UTF-8"));
  }
  std::string lit;
  vprim::append_json_string(lit, "ok \xC3\xA9, bad \xFF\xC3 end");
  REQUIRE(lit == "\"ok \xC3\xA9, bad \\ufffd\\ufffd end\"");
  REQUIRE(vprim::parse_json(lit)->as_string() == "ok \xC3\xA9, bad \xEF\xBF\xBD\xEF\xBF\xBD end");
}

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The byte-level BPE encoder on a vocabulary of our own (tests/data/tokenizer/tiny_tokenizer.json):
// ids 0..255 are the single bytes (id = byte value), 256..263 the merges
//   h e, l l, he ll, hell o, Ġ w, o r, Ġw or, 1 2
// in that rank order, 300..310 added tokens (the chat tags, <｜deepseek_image｜>, the primitive
// tags, and "<｜ref" to test the longest match). Every expected id below is worked out by hand.
#include <catch2/catch.hpp>

#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "vprim/io/tokenizer.hpp"
#include "vprim/io/vocabulary.hpp"

namespace {

std::string tiny_json() {
  std::ifstream in(std::string(VPRIM_TEST_DATA_DIR) + "/tokenizer/tiny_tokenizer.json", std::ios::binary);
  REQUIRE(in);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

vprim::bpe_tokenizer tiny() {
  auto t = vprim::bpe_tokenizer::from_json(tiny_json());
  REQUIRE(t);
  return std::move(*t);
}

std::vector<std::int64_t> ids(std::initializer_list<std::int64_t> l) { return l; }

}  // namespace

TEST_CASE("the pre-tokenizer cuts text as DeepSeek's three splits do", "[tokenizer]") {
  using P = std::vector<std::string>;
  auto pre = [](std::string_view s) {
    auto r = vprim::bpe_tokenizer::pre_tokenize(s);
    REQUIRE(r);
    return *r;
  };
  CHECK(pre("Hello world") == P{"Hello", " world"});
  CHECK(pre("12345") == P{"123", "45"});                       // \p{N}{1,3}
  CHECK(pre("a1b2") == P{"a", "1", "b", "2"});
  CHECK(pre("价格是100元") == P{"价格是", "100", "元"});       // CJK runs, then digits
  CHECK(pre("x_y") == P{"x", "_y"});                            // ASCII punctuation + letters
  CHECK(pre("Hi!!\n\nBye") == P{"Hi", "!!\n\n", "Bye"});        // punctuation run takes the newlines
  CHECK(pre("a  b") == P{"a", " ", " b"});                      // \s+(?!\S) leaves one space to the word
  CHECK(pre("end  ") == P{"end", "  "});                        // trailing spaces: one piece
  CHECK(pre("a\r\nb") == P{"a", "\r\n", "b"});                  // \s*[\r\n]+
  CHECK(pre("a \n b") == P{"a", " \n", " b"});                  // \s* gives back to the last newline
  CHECK(pre(" (x)") == P{" (", "x", ")"});                      // ' '?[\p{P}\p{S}]+
  CHECK(pre("café") == P{"café"});                              // é is a letter
  CHECK(pre("e\u0301t\u00e9") == P{"e\u0301t\u00e9"});          // a combining mark stays in the word
  CHECK(pre("[[12,3]]") == P{"[[", "12", ",", "3", "]]"});      // a box's coordinates
  CHECK(pre("").empty());
}

TEST_CASE("BPE merges by rank, leftmost first, and added tokens are cut out longest first", "[tokenizer]") {
  const auto t = tiny();
  auto enc = [&](std::string_view s) {
    auto r = t.encode(s);
    REQUIRE(r);
    return *r;
  };
  // hello: (h e) -> he l l o -> (l l) -> he ll o -> (he ll) -> hell o -> (hell o) -> hello = 259
  // " world" = Ġ w o r l d: (Ġ w) rank 4, (o r) rank 5, (Ġw or) rank 6 -> Ġwor l d = 262 108 100
  CHECK(enc("hello world") == ids({259, 262, 108, 100}));
  // 123 | 45: (1 2) -> 12 3 = 263 51; 4 5 = 52 53
  CHECK(enc("12345") == ids({263, 51, 52, 53}));
  // "he" alone: one merge; "lo": none
  CHECK(enc("helo") == ids({256, 108, 111}));
  // 你 = E4 BD A0: no merges, one id per byte
  CHECK(enc("你") == ids({0xE4, 0xBD, 0xA0}));
  // Primitive tags are added tokens; "<｜ref｜>" wins over its prefix "<｜ref" (310).
  CHECK(enc("<｜ref｜>hello<｜/ref｜><｜box｜>[[1,2]]<｜/box｜>") ==
        ids({304, 259, 305, 306, '[', '[', '1', ',', '2', ']', ']', 307}));
  CHECK(enc("<｜ref") == ids({310}));
  CHECK(enc("<｜begin▁of▁sentence｜><｜User｜><｜deepseek_image｜>\n\nhello<｜Assistant｜>") ==
        ids({300, 301, 303, 10, 10, 259, 302}));  // "\n\n": one piece, bytes 0A 0A
  CHECK(t.token_id("<｜deepseek_image｜>") == 303);
  CHECK(t.token_id("hello") == 259);
  CHECK_FALSE(t.token_id("nope"));
}

TEST_CASE("encoding then decoding gives the text back", "[tokenizer]") {
  const auto t = tiny();
  auto v = vprim::vocabulary::from_json(tiny_json());
  REQUIRE(v);
  for (std::string_view text : {"hello world", "价格是100元!", "<｜ref｜>bear<｜/ref｜><｜box｜>[[452,23,804,411]]<｜/box｜>",
                                "tabs\tand\r\nnewlines  ", "emoji \xF0\x9F\x98\x80 and e\xCC\x81"}) {
    CAPTURE(text);
    auto r = t.encode(text);
    REQUIRE(r);
    std::string back;
    for (auto id : *r) back += std::string(*v->text(id));
    CHECK(back == text);
  }
}

TEST_CASE("text the tokenizer cannot encode, and tokenizer files it cannot use, are named", "[tokenizer][errors]") {
  const auto t = tiny();
  auto bad_utf8 = t.encode("ab\xFF\xFE" "cd");
  REQUIRE_FALSE(bad_utf8);
  CHECK(bad_utf8.err().offset == 2);
  CHECK_THAT(bad_utf8.err().message, Catch::Contains("not UTF-8 at byte 2"));
  auto cut = t.encode("<｜User｜>ok\xE4\xBD");  // a truncated sequence after an added token
  REQUIRE_FALSE(cut);
  CHECK(cut.err().offset == 14);  // "<｜User｜>" is 12 bytes (｜ is 3), "ok" 2

  std::string json = tiny_json();
  // Without the byte piece for 'z' (id 122), "zz" cannot be spelled: the offset names it.
  const std::string z = "\"z\": 122,";
  REQUIRE(json.find(z) != std::string::npos);
  auto no_z = vprim::bpe_tokenizer::from_json(std::string(json).replace(json.find(z), z.size(), ""));
  REQUIRE(no_z);
  auto missing = no_z->encode("hello zz");
  REQUIRE_FALSE(missing);
  CHECK(missing.err().offset == 6);
  CHECK_THAT(missing.err().message, Catch::Contains("no piece 'z' for the text at byte 6"));

  auto edit = [&](const std::string& from, const std::string& to) {
    std::string j = json;
    const auto at = j.find(from);
    REQUIRE(at != std::string::npos);
    return vprim::bpe_tokenizer::from_json(j.replace(at, from.size(), to));
  };
  auto other_split = edit("\\p{N}{1,3}", "\\p{N}{1,4}");
  REQUIRE_FALSE(other_split);
  CHECK(other_split.code() == vprim::status::not_supported);
  CHECK_THAT(other_split.err().message, Catch::Contains("pre_tokenizer"));
  CHECK_FALSE(edit("\"use_regex\": false", "\"use_regex\": true"));
  CHECK_FALSE(edit("\"normalizer\": null", "\"normalizer\": {\"type\": \"NFC\"}"));
  CHECK_THAT(edit("\"h e\"", "\"h e x\"").err().message, Catch::Contains("merge 0"));
  CHECK_THAT(edit("\"byte_fallback\": false", "\"byte_fallback\": true").err().message, Catch::Contains("byte_fallback"));
  CHECK_FALSE(vprim::bpe_tokenizer::from_json("{\"model\": "));
  // Merges as pairs (newer tokenizers.json) read the same.
  auto pairs = edit("\"h e\"", "[\"h\", \"e\"]");
  REQUIRE(pairs);
  CHECK(*pairs->encode("hello") == std::vector<std::int64_t>{259});
}

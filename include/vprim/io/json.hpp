// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file json.hpp
//! A small, strict RFC 8259 JSON reader (strings must be well-formed UTF-8) for safetensors headers and golden-file metadata.
//! Bounded: nesting is limited (default 64 levels), so hostile input cannot exhaust the stack;
//! every error names the byte offset. Objects keep their keys in order and keep duplicates, so
//! callers can reject them with a precise message.

#include <charconv>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN

class json_value {
 public:
  enum class kind : std::uint8_t { null, boolean, number, string, array, object };
  using member = std::pair<std::string, json_value>;

  [[nodiscard]] kind type() const noexcept { return kind_; }
  [[nodiscard]] bool is_null() const noexcept { return kind_ == kind::null; }
  [[nodiscard]] bool is_bool() const noexcept { return kind_ == kind::boolean; }
  [[nodiscard]] bool is_number() const noexcept { return kind_ == kind::number; }
  [[nodiscard]] bool is_string() const noexcept { return kind_ == kind::string; }
  [[nodiscard]] bool is_array() const noexcept { return kind_ == kind::array; }
  [[nodiscard]] bool is_object() const noexcept { return kind_ == kind::object; }

  //! Byte offset of the value's first character in the parsed text (plus the caller's base).
  [[nodiscard]] std::size_t offset() const noexcept { return offset_; }

  [[nodiscard]] bool as_bool() const noexcept { return boolean_; }
  [[nodiscard]] double as_double() const noexcept { return number_; }
  //! The number as an exact int64 when it was written as an integer in range.
  [[nodiscard]] std::optional<std::int64_t> as_int() const noexcept {
    if (kind_ != kind::number || !integral_) return std::nullopt;
    return integer_;
  }
  [[nodiscard]] const std::string& as_string() const noexcept { return text_; }
  [[nodiscard]] const std::vector<json_value>& items() const noexcept { return items_; }
  [[nodiscard]] const std::vector<member>& members() const noexcept { return members_; }

  //! First member named `key`, or nullptr (also when this is not an object).
  [[nodiscard]] const json_value* find(std::string_view key) const noexcept {
    for (const auto& m : members_)
      if (m.first == key) return &m.second;
    return nullptr;
  }

 private:
  friend class json_parser;
  kind kind_ = kind::null;
  bool boolean_ = false;
  bool integral_ = false;
  double number_ = 0.0;
  std::int64_t integer_ = 0;
  std::string text_;
  std::vector<json_value> items_;
  std::vector<member> members_;
  std::size_t offset_ = 0;
};

//! Parses one JSON document (surrounding whitespace allowed, nothing else). `base_offset` is
//! added to every reported offset, so a header embedded in a file reports file offsets.
[[nodiscard]] result<json_value> parse_json(std::string_view text, std::size_t base_offset = 0, int max_depth = 64);

//! Length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629: no overlongs, no
//! surrogates, nothing past U+10FFFF), or 0 when the bytes there are not one.
[[nodiscard]] inline std::size_t utf8_sequence_length(std::string_view s, std::size_t i) noexcept {
  const auto b = [&](std::size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  const unsigned c = b(0);
  const auto cont = [&](std::size_t k) { return (b(k) & 0xC0u) == 0x80u; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return b(1) >= lo && b(1) <= hi && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return b(1) >= lo && b(1) <= hi && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

//! Writes `s` as a JSON string literal (quotes included), escaping what RFC 8259 requires.
//! Bytes that are not well-formed UTF-8 become U+FFFD, so the output is always valid JSON.
inline void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const std::size_t n = utf8_sequence_length(s, i);
      if (n == 0) out += "\\ufffd", ++i;
      else out.append(s.substr(i, n)), i += n;
      continue;
    }
    ++i;
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

class json_parser {
 public:
  json_parser(std::string_view text, std::size_t base, int max_depth) noexcept
      : text_(text), base_(base), max_depth_(max_depth) {}

  result<json_value> run() {
    json_value root;
    skip_ws();
    if (!parse_value(root, 0)) return std::move(*err_);
    skip_ws();
    if (pos_ != text_.size()) return fail("unexpected text after the JSON value");
    return result<json_value>(std::move(root));
  }

 private:
  error fail(std::string what) { return make_error(status::parse_error, "JSON: " + std::move(what), base_ + pos_); }
  bool set_fail(std::string what) {
    err_ = fail(std::move(what));
    return false;
  }
  [[nodiscard]] bool at_end() const noexcept { return pos_ >= text_.size(); }
  [[nodiscard]] char peek() const noexcept { return text_[pos_]; }
  void skip_ws() noexcept {
    while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r')) ++pos_;
  }
  bool literal(std::string_view word) {
    if (text_.substr(pos_, word.size()) != word) return set_fail("invalid literal");
    pos_ += word.size();
    return true;
  }

  bool parse_value(json_value& v, int depth) {
    if (at_end()) return set_fail("unexpected end of input, expected a value");
    v.offset_ = base_ + pos_;
    switch (peek()) {
      case '{': return parse_object(v, depth);
      case '[': return parse_array(v, depth);
      case '"': v.kind_ = json_value::kind::string; return parse_string(v.text_);
      case 't': v.kind_ = json_value::kind::boolean; v.boolean_ = true; return literal("true");
      case 'f': v.kind_ = json_value::kind::boolean; v.boolean_ = false; return literal("false");
      case 'n': v.kind_ = json_value::kind::null; return literal("null");
      default: return parse_number(v);
    }
  }

  bool parse_object(json_value& v, int depth) {
    if (depth >= max_depth_) return set_fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
    v.kind_ = json_value::kind::object;
    ++pos_;
    skip_ws();
    if (!at_end() && peek() == '}') {
      ++pos_;
      return true;
    }
    for (;;) {
      skip_ws();
      if (at_end() || peek() != '"') return set_fail("expected a string key in object");
      std::string key;
      if (!parse_string(key)) return false;
      skip_ws();
      if (at_end() || peek() != ':') return set_fail("expected ':' after object key");
      ++pos_;
      skip_ws();
      json_value child;
      if (!parse_value(child, depth + 1)) return false;
      v.members_.emplace_back(std::move(key), std::move(child));
      skip_ws();
      if (at_end()) return set_fail("unexpected end of input inside object");
      if (peek() == ',') { ++pos_; continue; }
      if (peek() == '}') { ++pos_; return true; }
      return set_fail("expected ',' or '}' in object");
    }
  }

  bool parse_array(json_value& v, int depth) {
    if (depth >= max_depth_) return set_fail("nesting deeper than " + std::to_string(max_depth_) + " levels");
    v.kind_ = json_value::kind::array;
    ++pos_;
    skip_ws();
    if (!at_end() && peek() == ']') {
      ++pos_;
      return true;
    }
    for (;;) {
      skip_ws();
      json_value child;
      if (!parse_value(child, depth + 1)) return false;
      v.items_.push_back(std::move(child));
      skip_ws();
      if (at_end()) return set_fail("unexpected end of input inside array");
      if (peek() == ',') { ++pos_; continue; }
      if (peek() == ']') { ++pos_; return true; }
      return set_fail("expected ',' or ']' in array");
    }
  }

  static int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
  bool read_hex4(std::uint32_t& out) {
    if (text_.size() - pos_ < 4) return set_fail("truncated \\u escape");
    out = 0;
    for (int i = 0; i < 4; ++i) {
      const int h = hex_value(text_[pos_ + static_cast<std::size_t>(i)]);
      if (h < 0) return set_fail("invalid hex digit in \\u escape");
      out = out * 16 + static_cast<std::uint32_t>(h);
    }
    pos_ += 4;
    return true;
  }
  static void append_utf8(std::string& s, std::uint32_t cp) {
    if (cp < 0x80) {
      s += static_cast<char>(cp);
    } else if (cp < 0x800) {
      s += static_cast<char>(0xc0 | (cp >> 6));
      s += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      s += static_cast<char>(0xe0 | (cp >> 12));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      s += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
      s += static_cast<char>(0xf0 | (cp >> 18));
      s += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
      s += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
      s += static_cast<char>(0x80 | (cp & 0x3f));
    }
  }

  bool parse_string(std::string& out) {
    ++pos_;  // opening quote
    for (;;) {
      if (at_end()) return set_fail("unterminated string");
      const char c = peek();
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return set_fail("control character inside string");
      if (static_cast<unsigned char>(c) >= 0x80) {  // RFC 8259: JSON text is UTF-8
        const std::size_t n = utf8_sequence_length(text_, pos_);
        if (n == 0) return set_fail("invalid UTF-8 inside string");
        out.append(text_.substr(pos_, n));
        pos_ += n;
        continue;
      }
      if (c != '\\') {
        out += c;
        ++pos_;
        continue;
      }
      ++pos_;
      if (at_end()) return set_fail("unterminated escape");
      const char e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          std::uint32_t cp = 0;
          if (!read_hex4(cp)) return false;
          if (cp >= 0xd800 && cp <= 0xdbff) {  // high surrogate: a low one must follow
            if (text_.substr(pos_, 2) != "\\u") return set_fail("unpaired UTF-16 surrogate");
            pos_ += 2;
            std::uint32_t lo = 0;
            if (!read_hex4(lo)) return false;
            if (lo < 0xdc00 || lo > 0xdfff) return set_fail("invalid UTF-16 low surrogate");
            cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
          } else if (cp >= 0xdc00 && cp <= 0xdfff) {
            return set_fail("unpaired UTF-16 surrogate");
          }
          append_utf8(out, cp);
          break;
        }
        default: --pos_; return set_fail("invalid escape character");
      }
    }
  }

  bool parse_number(json_value& v) {
    const std::size_t start = pos_;
    bool integral = true;
    if (!at_end() && peek() == '-') {
      ++pos_;
      if (at_end() || peek() < '0' || peek() > '9') return set_fail("expected a digit after '-'");
    }
    if (at_end() || peek() < '0' || peek() > '9') return set_fail("expected a value");
    if (peek() == '0') {
      ++pos_;
    } else {
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    }
    if (!at_end() && peek() == '.') {
      integral = false;
      ++pos_;
      if (at_end() || peek() < '0' || peek() > '9') return set_fail("expected digits after '.'");
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    }
    if (!at_end() && (peek() == 'e' || peek() == 'E')) {
      integral = false;
      ++pos_;
      if (!at_end() && (peek() == '+' || peek() == '-')) ++pos_;
      if (at_end() || peek() < '0' || peek() > '9') return set_fail("expected digits in exponent");
      while (!at_end() && peek() >= '0' && peek() <= '9') ++pos_;
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    v.kind_ = json_value::kind::number;
    double d = 0.0;
    const auto rd = std::from_chars(first, last, d);
    if (rd.ec == std::errc::result_out_of_range) {
      pos_ = start;
      return set_fail("number out of range");
    }
    v.number_ = d;
    if (integral) {
      std::int64_t i = 0;
      const auto ri = std::from_chars(first, last, i);
      v.integral_ = ri.ec == std::errc{} && ri.ptr == last;
      v.integer_ = i;
    }
    return true;
  }

  std::string_view text_;
  std::size_t base_;
  int max_depth_;
  std::size_t pos_ = 0;
  std::optional<error> err_;
};

inline result<json_value> parse_json(std::string_view text, std::size_t base_offset, int max_depth) {
  return json_parser(text, base_offset, max_depth).run();
}

//! Reads and parses a JSON file (config.json, tokenizer.json); errors name the path.
[[nodiscard]] inline result<json_value> read_json_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(status::io_error, "cannot open '" + path + "'");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto j = parse_json(text);
  if (!j) {
    error e = j.err();
    e.message = "'" + path + "': " + e.message;
    return e;
  }
  return j;
}

VPRIM_NAMESPACE_END

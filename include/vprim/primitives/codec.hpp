// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file codec.hpp
//! The visual-primitive syntax of the model's output (research/visual_primitives.md §1):
//!   <|ref|>label<|/ref|><|box|>[[x1,y1,x2,y2],...]<|/box|>    boxes of a referred object
//!   <|point|>[[x,y],...]<|/point|>                           a point or a polyline
//!   <|det|>...<|/det|>                                       the lineage's name for <|box|>
//! with ASCII `|` or the full-width `｜` (U+FF5C) of DeepSeek's tokenizer, whitespace allowed
//! inside lists, coordinates integers in 0..999.
//!
//! Three layers share one state machine: a lexer turns text into events (text runs and tags with
//! byte offsets); a stream_parser consumes events one at a time (from text, or from token ids
//! through a tag-id map) and emits each primitive the moment it closes; parse_text runs the two
//! over a whole string. Malformed input never throws: each problem is recorded with its offset
//! and kind, lists are parsed under explicit limits (items, bracket depth, digits), and memory is
//! bounded by the input size.

#include <algorithm>
#include <initializer_list>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vprim/core/config.hpp"

VPRIM_NAMESPACE_BEGIN
namespace primitives {

enum class tag : std::uint8_t { ref, ref_end, box, box_end, point, point_end, det, det_end, polygon, polygon_end };

[[nodiscard]] constexpr std::string_view tag_name(tag t) noexcept {
  constexpr std::string_view names[] = {"ref", "/ref", "box", "/box", "point", "/point", "det", "/det", "polygon", "/polygon"};
  return names[static_cast<int>(t)];
}

struct box {
  int x1 = 0, y1 = 0, x2 = 0, y2 = 0;
  friend bool operator==(const box&, const box&) = default;
};
struct point {
  int x = 0, y = 0;
  friend bool operator==(const point&, const point&) = default;
};

//! A referred object: its label and boxes; offsets are byte offsets in the parsed text (or token
//! indices when parsing tokens).
struct reference {
  std::string label;
  std::vector<box> boxes;
  std::size_t begin = 0, end = 0;
};
struct point_list {
  std::vector<point> points;
  std::size_t begin = 0, end = 0;
};

enum class error_kind : std::uint8_t {
  unclosed_tag,           //!< input ended inside a tag pair
  unexpected_closing,     //!< a closing tag with no matching opener
  nested_tag,             //!< an opening tag inside another primitive
  malformed_list,         //!< not [[int,...],...]: stray characters, missing brackets or commas
  wrong_arity,            //!< a box without 4 values or a point without 2
  value_out_of_range,     //!< a coordinate outside 0..999
  inverted_box,           //!< x1 > x2 or y1 > y2
  too_large,              //!< more items, depth or label bytes than the limits allow
  missing_list,           //!< <|box|>/<|point|> closed with nothing inside
};

[[nodiscard]] constexpr std::string_view to_string(error_kind k) noexcept {
  constexpr std::string_view names[] = {"unclosed_tag", "unexpected_closing", "nested_tag", "malformed_list", "wrong_arity",
                                        "value_out_of_range", "inverted_box", "too_large", "missing_list"};
  return names[static_cast<int>(k)];
}

struct parse_error {
  std::size_t offset = 0;
  error_kind kind = error_kind::malformed_list;
};

struct limits {
  std::size_t max_items = 4096;         //!< coordinates tuples per list
  std::size_t max_label_bytes = 1024;
  std::size_t max_list_bytes = 1 << 20;  //!< longer lists are refused, not buffered
};

//! Everything read from one transcript. `prose` is the text with the primitive markup removed
//! (labels kept, lists dropped); `answer` is the content of the last \boxed{...}.
struct parse_result {
  std::string prose;
  std::vector<reference> refs;
  std::vector<point_list> points;
  std::vector<parse_error> errors;
  std::optional<std::string> answer;
};

// ---------------------------------------------------------------------------------------------
// Lexing: text -> events.

struct event {
  enum class kind : std::uint8_t { text, tag } type = kind::text;
  std::string_view text;  //!< for text events
  primitives::tag which = tag::ref;
  std::size_t offset = 0;
};

namespace detail {
//! A label without the spaces a tokenizer leaves around it ("<|ref|> bear<|/ref|>").
inline std::string trim_spaces(std::string_view s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return {};
  return std::string(s.substr(first, s.find_last_not_of(" \t\r\n") - first + 1));
}
}  // namespace detail

namespace detail {
inline constexpr std::string_view fullwidth_bar = "\xEF\xBD\x9C";  // U+FF5C

//! If a tag starts at s[i], its kind and byte length.
inline std::optional<std::pair<tag, std::size_t>> tag_at(std::string_view s, std::size_t i) {
  if (i >= s.size() || s[i] != '<') return std::nullopt;
  std::size_t j = i + 1;
  auto bar = [&](std::size_t at) -> std::size_t {
    if (at < s.size() && s[at] == '|') return 1;
    if (s.substr(at, 3) == fullwidth_bar) return 3;
    return 0;
  };
  const std::size_t b1 = bar(j);
  if (b1 == 0) return std::nullopt;
  j += b1;
  for (int t = 0; t <= static_cast<int>(tag::polygon_end); ++t) {
    const auto name = tag_name(static_cast<tag>(t));
    if (s.substr(j, name.size()) != name) continue;
    const std::size_t k = j + name.size();
    const std::size_t b2 = bar(k);
    if (b2 != 0 && k + b2 < s.size() && s[k + b2] == '>') return std::pair{static_cast<tag>(t), k + b2 + 1 - i};
  }
  return std::nullopt;
}
}  // namespace detail

//! Splits text into text runs and tags (offsets are byte offsets in `text`).
[[nodiscard]] inline std::vector<event> lex(std::string_view text) {
  std::vector<event> out;
  std::size_t run = 0;
  for (std::size_t i = 0; i < text.size();) {
    if (text[i] == '<') {
      if (auto t = detail::tag_at(text, i)) {
        if (i > run) out.push_back({event::kind::text, text.substr(run, i - run), tag::ref, run});
        out.push_back({event::kind::tag, {}, t->first, i});
        i += t->second;
        run = i;
        continue;
      }
    }
    ++i;
  }
  if (run < text.size()) out.push_back({event::kind::text, text.substr(run), tag::ref, run});
  return out;
}

// ---------------------------------------------------------------------------------------------
// Lists: "[[1,2,3,4], [5,6,7,8]]" -> tuples of `arity` ints.

namespace detail {
template <class T>
bool parse_list(std::string_view s, std::size_t base, std::size_t arity, const limits& lim, std::vector<T>& out,
                std::vector<parse_error>& errors) {
  std::size_t i = 0;
  auto ws = [&] {
    while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
  };
  auto fail = [&](error_kind k) {
    errors.push_back({base + std::min(i, s.size()), k});
    return false;
  };
  // After an element: ',' means another follows, ']' closes the current list.
  enum class after { more, closed, bad };
  auto separator = [&] {
    ws();
    if (i < s.size() && s[i] == ',') {
      ++i;
      return after::more;
    }
    if (i < s.size() && s[i] == ']') {
      ++i;
      return after::closed;
    }
    return after::bad;
  };
  ws();
  if (i == s.size()) return fail(error_kind::missing_list);
  if (s[i] != '[') return fail(error_kind::malformed_list);
  ++i;
  ws();
  std::vector<T> items;
  if (i < s.size() && s[i] == ']') {
    ++i;
  } else {
    for (;;) {
      ws();
      if (i >= s.size() || s[i] != '[') return fail(error_kind::malformed_list);
      const std::size_t item_at = i;
      ++i;
      int values[4] = {0, 0, 0, 0};
      std::size_t n = 0;
      for (;;) {
        ws();
        if (i < s.size() && s[i] == '[') return fail(error_kind::too_large);  // deeper than [[...]]
        const std::size_t num_at = i;
        bool negative = false;
        if (i < s.size() && s[i] == '-') {
          negative = true;
          ++i;
        }
        std::size_t digits = 0;
        long v = 0;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
          if (digits < 9) v = v * 10 + (s[i] - '0');
          ++digits;
          ++i;
        }
        if (digits == 0) return fail(error_kind::malformed_list);
        if (negative || digits > 3 || v > 999) {
          errors.push_back({base + num_at, error_kind::value_out_of_range});
          return false;
        }
        if (n < 4) values[n] = static_cast<int>(v);
        ++n;
        const after next = separator();
        if (next == after::more) continue;
        if (next == after::closed) break;
        return fail(error_kind::malformed_list);
      }
      if (n != arity) {
        errors.push_back({base + item_at, error_kind::wrong_arity});
        return false;
      }
      if (items.size() >= lim.max_items) {
        errors.push_back({base + item_at, error_kind::too_large});
        return false;
      }
      if constexpr (std::is_same_v<T, box>) {
        const box b{values[0], values[1], values[2], values[3]};
        if (b.x1 > b.x2 || b.y1 > b.y2) {
          errors.push_back({base + item_at, error_kind::inverted_box});
          return false;
        }
        items.push_back(b);
      } else {
        items.push_back(T{values[0], values[1]});
      }
      const after next = separator();
      if (next == after::more) continue;
      if (next == after::closed) break;
      return fail(error_kind::malformed_list);
    }
  }
  ws();
  if (i != s.size()) return fail(error_kind::malformed_list);
  out = std::move(items);
  return true;
}
}  // namespace detail

// ---------------------------------------------------------------------------------------------
// The streaming parser.

//! Feed events (text runs and tags) one at a time; completed primitives are appended to the
//! result as soon as their closing tag arrives (callers can watch refs/points grow), and
//! finish() reports what is still open.
class stream_parser {
 public:
  //! byte_offsets: offsets are byte offsets (text); otherwise the indices of the fed pieces
  //! (tokens), and an error inside a list points at the token that holds the offending text.
  explicit stream_parser(limits lim = {}, bool byte_offsets = true) : lim_(lim), byte_offsets_(byte_offsets) {}

  void feed_text(std::string_view text, std::size_t offset) {
    switch (state_) {
      case state::prose: res_.prose.append(text); break;
      case state::label:
        if (label_.size() + text.size() > lim_.max_label_bytes) {
          if (!label_overflow_) res_.errors.push_back({offset, error_kind::too_large});
          label_overflow_ = true;
        } else {
          label_.append(text);
        }
        res_.prose.append(text);
        break;
      case state::after_label: res_.prose.append(text); break;
      case state::box_list:
      case state::point_list:
        if (list_.size() + text.size() > lim_.max_list_bytes) {
          if (!list_overflow_) res_.errors.push_back({offset, error_kind::too_large});
          list_overflow_ = true;
        } else {
          if (list_.empty()) list_at_ = offset;
          segments_.emplace_back(list_.size(), offset);
          list_.append(text);
        }
        break;
    }
    if (state_ == state::after_label && text.find_first_not_of(" \t\r\n") != std::string_view::npos) {
      close_ref_without_boxes();  // prose after a label: the ref had no box list
    }
  }

  void feed_tag(tag t, std::size_t offset) {
    const bool opening = t == tag::ref || t == tag::box || t == tag::det || t == tag::point || t == tag::polygon;
    if (state_ == state::after_label && !(t == tag::box || t == tag::det)) close_ref_without_boxes();
    if (state_ == state::prose || state_ == state::after_label) {
      if (!opening) {
        res_.errors.push_back({offset, error_kind::unexpected_closing});
        return;
      }
      open_at_ = offset;
      switch (t) {
        case tag::ref:
          state_ = state::label;
          label_.clear();
          label_overflow_ = false;
          ref_at_ = offset;
          break;
        case tag::box:
        case tag::det:
        case tag::polygon:
          if (state_ != state::after_label) {
            label_.clear();
            ref_at_ = offset;
          }
          start_list(state::box_list, t == tag::box ? tag::box_end : t == tag::det ? tag::det_end : tag::polygon_end, offset);
          break;
        default:  // point
          start_list(state::point_list, tag::point_end, offset);
          break;
      }
      return;
    }
    if (state_ == state::label) {
      if (t == tag::ref_end) {
        state_ = state::after_label;
        return;
      }
      res_.errors.push_back({offset, opening ? error_kind::nested_tag : error_kind::unexpected_closing});
      return;
    }
    // inside a list
    if (t == closing_) {
      close_list(offset);
      return;
    }
    res_.errors.push_back({offset, opening ? error_kind::nested_tag : error_kind::unexpected_closing});
  }

  //! Ends the input: anything still open is an unclosed_tag; fills the final answer.
  parse_result& finish() {
    if (state_ == state::after_label) close_ref_without_boxes();
    if (state_ != state::prose) res_.errors.push_back({open_at_, error_kind::unclosed_tag});
    state_ = state::prose;
    res_.answer = last_boxed(res_.prose);
    std::stable_sort(res_.errors.begin(), res_.errors.end(),
                     [](const parse_error& a, const parse_error& b) { return a.offset < b.offset; });
    return res_;
  }

  [[nodiscard]] const parse_result& result() const noexcept { return res_; }

  //! Content of the last \boxed{...} (braces balanced), if any.
  [[nodiscard]] static std::optional<std::string> last_boxed(std::string_view text) {
    const std::string_view key = "\\boxed{";
    const auto at = text.rfind(key);
    if (at == std::string_view::npos) return std::nullopt;
    int depth = 1;
    for (std::size_t i = at + key.size(); i < text.size(); ++i) {
      if (text[i] == '{') ++depth;
      if (text[i] == '}' && --depth == 0) return std::string(text.substr(at + key.size(), i - at - key.size()));
    }
    return std::nullopt;
  }

 private:
  enum class state : std::uint8_t { prose, label, after_label, box_list, point_list };

  void start_list(state list_state, tag closing, std::size_t offset) {
    state_ = list_state;
    closing_ = closing;
    list_.clear();
    segments_.clear();
    list_at_ = offset;
    list_overflow_ = false;
  }
  void close_ref_without_boxes() {
    res_.refs.push_back({detail::trim_spaces(label_), {}, ref_at_, ref_at_});
    state_ = state::prose;
  }
  void close_list(std::size_t offset) {
    if (list_overflow_) {
      state_ = state::prose;
      return;
    }
    if (list_.empty()) {  // nothing between the tags: point at the closing tag
      res_.errors.push_back({offset, error_kind::missing_list});
      state_ = state::prose;
      return;
    }
    std::vector<parse_error> errors;  // offsets relative to list_, mapped back below
    if (state_ == state::box_list) {
      std::vector<box> boxes;
      if (detail::parse_list(list_, 0, 4, lim_, boxes, errors)) res_.refs.push_back({detail::trim_spaces(label_), std::move(boxes), ref_at_, offset});
    } else {
      std::vector<point> pts;
      if (detail::parse_list(list_, 0, 2, lim_, pts, errors)) res_.points.push_back({std::move(pts), open_at_, offset});
    }
    for (parse_error e : errors) {
      // the piece that holds list position e.offset
      auto seg = std::upper_bound(segments_.begin(), segments_.end(), std::pair{e.offset, ~std::size_t{0}}) - 1;
      e.offset = byte_offsets_ ? seg->second + (e.offset - seg->first) : seg->second;
      res_.errors.push_back(e);
    }
    state_ = state::prose;
  }

  limits lim_;
  parse_result res_;
  state state_ = state::prose;
  tag closing_ = tag::box_end;
  std::string label_, list_;
  std::size_t open_at_ = 0, ref_at_ = 0, list_at_ = 0;
  bool label_overflow_ = false, list_overflow_ = false;
  bool byte_offsets_ = true;
  std::vector<std::pair<std::size_t, std::size_t>> segments_;  //!< (position in list_, offset of the piece)
};

//! Parses a whole transcript.
[[nodiscard]] inline parse_result parse_text(std::string_view text, const limits& lim = {}) {
  stream_parser p(lim);
  for (const event& e : lex(text)) {
    if (e.type == event::kind::text) p.feed_text(e.text, e.offset);
    else p.feed_tag(e.which, e.offset);
  }
  return std::move(p.finish());
}

//! Tag ids of a tokenizer; defaults are the released DeepSeek-V4 tokenizer's.
struct tag_ids {
  std::int64_t ref = 129278, ref_end = 129277, box = 129276, box_end = 129275, point = 129274, point_end = 129273,
               polygon = 129272, polygon_end = 129271;
  [[nodiscard]] std::optional<tag> lookup(std::int64_t id) const noexcept {
    if (id == ref) return tag::ref;
    if (id == ref_end) return tag::ref_end;
    if (id == box) return tag::box;
    if (id == box_end) return tag::box_end;
    if (id == point) return tag::point;
    if (id == point_end) return tag::point_end;
    if (id == polygon) return tag::polygon;
    if (id == polygon_end) return tag::polygon_end;
    return std::nullopt;
  }
};

//! Parses token ids: tag ids become tags, every other id is turned into text by `decode` (a
//! tokenizer's piece lookup). Offsets in the result are token indices.
template <class Decode>
[[nodiscard]] parse_result parse_tokens(const std::vector<std::int64_t>& ids, Decode&& decode, const tag_ids& tags = {},
                                        const limits& lim = {}) {
  stream_parser p(lim, /*byte_offsets=*/false);
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (auto t = tags.lookup(ids[i])) p.feed_tag(*t, i);
    else p.feed_text(decode(ids[i]), i);
  }
  return std::move(p.finish());
}

namespace detail {
inline void append_tuple(std::string& s, std::initializer_list<int> values) {
  s += '[';
  bool first = true;
  for (int v : values) {
    if (!first) s += ',';
    first = false;
    s += std::to_string(v);
  }
  s += ']';
}
}  // namespace detail

//! The canonical form: ASCII bars, no spaces, boxes ordered left to right (then top to bottom).
[[nodiscard]] inline std::string format_ref(std::string_view label, std::vector<box> boxes) {
  std::stable_sort(boxes.begin(), boxes.end(),
                   [](const box& a, const box& b) { return a.x1 != b.x1 ? a.x1 < b.x1 : a.y1 < b.y1; });
  std::string s = "<|ref|>";
  s += label;
  s += "<|/ref|><|box|>[";
  for (std::size_t i = 0; i < boxes.size(); ++i) {
    if (i) s += ',';
    detail::append_tuple(s, {boxes[i].x1, boxes[i].y1, boxes[i].x2, boxes[i].y2});
  }
  s += "]<|/box|>";
  return s;
}
[[nodiscard]] inline std::string format_points(const std::vector<point>& pts) {
  std::string s = "<|point|>[";
  for (std::size_t i = 0; i < pts.size(); ++i) {
    if (i) s += ',';
    detail::append_tuple(s, {pts[i].x, pts[i].y});
  }
  s += "]<|/point|>";
  return s;
}

}  // namespace primitives
VPRIM_NAMESPACE_END

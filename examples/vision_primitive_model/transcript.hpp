// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// The decoder's tokens as a transcript: each token goes into vprim's streaming primitive parser
// the moment it is generated, and every primitive is announced as its closing tag arrives.
// Afterwards the transcript prints with its primitives highlighted in the colours the overlay
// draws them in (24-bit ANSI colour on a terminal, ⟦ ⟧ brackets otherwise).
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "vprim/io/json.hpp"
#include "vprim/io/vocabulary.hpp"
#include "vprim/primitives/codec.hpp"
#include "vprim/primitives/render.hpp"

namespace examples {

class transcript {
 public:
  transcript(const vprim::vocabulary* vocab, vprim::primitives::tag_ids tags, bool announce)
      : vocab_(vocab), tags_(tags), parser_({}, /*byte_offsets=*/false), announce_(announce) {}

  //! One generated token: parse it now, announce what it closes.
  void feed(std::int64_t id) {
    const std::size_t index = ids_.size();
    ids_.push_back(id);
    if (auto t = tags_.lookup(id)) {
      pieces_.push_back("<|" + std::string(vprim::primitives::tag_name(*t)) + "|>");
      parser_.feed_tag(*t, index);
    } else {
      pieces_.push_back(text_of(id));
      parser_.feed_text(pieces_.back(), index);
    }
    announce_new();
  }

  //! Ends the stream: open tags become errors.
  const vprim::primitives::parse_result& finish() { return parser_.finish(); }
  [[nodiscard]] const vprim::primitives::parse_result& result() const { return parser_.result(); }
  [[nodiscard]] std::size_t undecoded() const noexcept { return undecoded_; }
  //! The transcript as plain text (tags spelled <|ref|> and so on).
  [[nodiscard]] std::string text() const {
    std::string out;
    for (const auto& p : pieces_) out += p;
    return out;
  }

  //! The transcript, primitives highlighted.
  void print(std::FILE* out, bool colour) const {
    const auto& r = parser_.result();
    for (std::size_t i = 0; i < pieces_.size(); ++i) {
      const auto span = primitive_at(r, i);
      const bool starts = span && (i == 0 || primitive_at(r, i - 1) != span);
      const bool ends = span && (i + 1 == pieces_.size() || primitive_at(r, i + 1) != span);
      if (starts) {
        if (colour) {
          const auto c = vprim::primitives::palette_colour(*span);
          std::fprintf(out, "\x1b[1;38;2;%d;%d;%dm", c.r, c.g, c.b);
        } else {
          std::fputs("\u27e6", out);
        }
      }
      std::fputs(printable(pieces_[i]).c_str(), out);
      if (ends) std::fputs(colour ? "\x1b[0m" : "\u27e7", out);
    }
    std::fputc('\n', out);
  }

 private:
  //! A piece for the terminal: bytes that are not well-formed UTF-8 within it (a byte-level
  //! token can hold part of a character) become U+FFFD, as in the JSON summary.
  static std::string printable(const std::string& piece) {
    std::string out;
    for (std::size_t i = 0; i < piece.size();) {
      const std::size_t n = vprim::utf8_sequence_length(piece, i);
      if (n == 0) {
        out += "\uFFFD";
        ++i;
      } else {
        out.append(piece, i, n);
        i += n;
      }
    }
    return out;
  }

  std::string text_of(std::int64_t id) {
    if (vocab_ != nullptr)
      if (auto t = vocab_->text(id)) return std::string(*t);
    ++undecoded_;
    return "<" + std::to_string(id) + ">";  // no tokenizer: show the id
  }

  //! The palette index of the primitive whose token span holds token i (refs first, then point
  //! lists, as draw_transcript colours them).
  static std::optional<std::size_t> primitive_at(const vprim::primitives::parse_result& r, std::size_t i) {
    for (std::size_t k = 0; k < r.refs.size(); ++k)
      if (i >= r.refs[k].begin && i <= r.refs[k].end) return k;
    for (std::size_t k = 0; k < r.points.size(); ++k)
      if (i >= r.points[k].begin && i <= r.points[k].end) return r.refs.size() + k;
    return std::nullopt;
  }

  void announce_new() {
    const auto& r = parser_.result();
    for (; refs_seen_ < r.refs.size(); ++refs_seen_) {
      const auto& ref = r.refs[refs_seen_];
      if (announce_) std::fprintf(stderr, "\n  [primitive] ref '%s', %zu box(es), tokens %zu..%zu", ref.label.c_str(), ref.boxes.size(), ref.begin, ref.end);
    }
    for (; points_seen_ < r.points.size(); ++points_seen_) {
      const auto& p = r.points[points_seen_];
      if (announce_) std::fprintf(stderr, "\n  [primitive] %zu point(s), tokens %zu..%zu", p.points.size(), p.begin, p.end);
    }
  }

  const vprim::vocabulary* vocab_;
  vprim::primitives::tag_ids tags_;
  vprim::primitives::stream_parser parser_;
  bool announce_;
  std::vector<std::int64_t> ids_;
  std::vector<std::string> pieces_;
  std::size_t undecoded_ = 0, refs_seen_ = 0, points_seen_ = 0;
};

}  // namespace examples

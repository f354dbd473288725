// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file vocabulary.hpp
//! Token id -> text for byte-level BPE tokenizers (DeepSeek's and GPT-2's family), read from a
//! Hugging Face tokenizer.json (`model.vocab` plus `added_tokens`) or from a flat
//! {"piece": id} object. Byte-level pieces spell each byte as one printable code point
//! (printable Latin-1 bytes as themselves, the other 68 bytes as U+0100.. in byte order);
//! decoding maps them back. Added tokens, and pieces that are not byte-level spellings, decode
//! to their own text.

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "vprim/core/status.hpp"
#include "vprim/io/json.hpp"

VPRIM_NAMESPACE_BEGIN

//! The byte-level alphabet's code point for byte b: printable Latin-1 bytes as themselves, the
//! other 68 as U+0100.. in byte order (shared by the decoder below and the encoder,
//! tokenizer.hpp).
[[nodiscard]] constexpr unsigned byte_level_code_point(unsigned b) noexcept {
  auto printable = [](unsigned x) { return (x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174; };
  if (printable(b)) return b;
  unsigned before = 0;  // non-printable bytes below b
  for (unsigned x = 0; x < b; ++x) before += printable(x) ? 0u : 1u;
  return 256 + before;
}

class vocabulary {
 public:
  //! Reads tokenizer.json or a flat piece -> id object. Errors name the offending entry.
  [[nodiscard]] static result<vocabulary> from_json(std::string_view text) {
    auto doc = parse_json(text);
    if (!doc) return make_error(doc.err().code, "vocabulary: " + doc.err().message, doc.err().offset);
    const json_value* model = doc->find("model");
    const json_value* vocab = model != nullptr ? model->find("vocab") : &*doc;
    if (vocab == nullptr || !vocab->is_object())
      return make_error(status::invalid_argument, "vocabulary: expected an object of piece -> id (or tokenizer.json with model.vocab)");
    vocabulary v;
    for (const auto& [piece, id] : vocab->members()) {
      if (!id.as_int() || *id.as_int() < 0)
        return make_error(status::invalid_argument, "vocabulary: the id of piece '" + piece + "' is not a non-negative integer",
                          id.offset());
      v.text_[*id.as_int()] = decode_piece(piece);
    }
    if (const json_value* added = doc->find("added_tokens"); added != nullptr && added->is_array())
      for (const json_value& t : added->items()) {
        const json_value* id = t.find("id");
        const json_value* content = t.find("content");
        if (id == nullptr || !id->as_int() || content == nullptr || !content->is_string())
          return make_error(status::invalid_argument, "vocabulary: an added token needs an integer id and a string content",
                            t.offset());
        v.text_[*id->as_int()] = content->as_string();
      }
    return v;
  }

  [[nodiscard]] std::size_t size() const noexcept { return text_.size(); }
  //! The text of a token, or nullopt for an id the vocabulary does not have.
  [[nodiscard]] std::optional<std::string_view> text(std::int64_t id) const {
    const auto it = text_.find(id);
    if (it == text_.end()) return std::nullopt;
    return std::string_view(it->second);
  }

  //! A byte-level piece back to its bytes; other text unchanged.
  [[nodiscard]] static std::string decode_piece(std::string_view piece) {
    static const std::array<int, 324> byte_of = [] {
      std::array<int, 324> t{};
      t.fill(-1);
      for (unsigned b = 0; b < 256; ++b) t[byte_level_code_point(b)] = static_cast<int>(b);
      return t;
    }();
    std::string bytes;
    for (std::size_t i = 0; i < piece.size();) {
      const std::size_t n = utf8_sequence_length(piece, i);
      if (n == 0 || n > 2) return std::string(piece);  // byte-level spellings stay below U+0144
      const auto c0 = static_cast<unsigned char>(piece[i]);
      const unsigned cp = n == 1 ? c0 : ((c0 & 0x1Fu) << 6) | (static_cast<unsigned char>(piece[i + 1]) & 0x3Fu);
      if (cp >= byte_of.size() || byte_of[cp] < 0) return std::string(piece);
      bytes += static_cast<char>(byte_of[cp]);
      i += n;
    }
    return bytes;
  }

 private:
  std::unordered_map<std::int64_t, std::string> text_;
};

VPRIM_NAMESPACE_END

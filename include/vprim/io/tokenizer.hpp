// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file tokenizer.hpp
//! Text -> token ids with the DeepSeek-V3/V4 byte-level BPE of a Hugging Face tokenizer.json
//! (vocabulary.hpp is the way back). Four steps, as the tokenizers library runs them:
//! 1. Added tokens (`added_tokens`: the chat and primitive tags, `<｜deepseek_image｜>`, ...) are
//!    cut out of the text first, leftmost, longest first; each is its own id.
//! 2. The pre-tokenizer, a Sequence of three isolating splits and ByteLevel(use_regex=false),
//!    the only one accepted (anything else is refused, never approximated):
//!      `\p{N}{1,3}`, then `[一-龥぀-ゟ゠-ヿ]+`, then
//!      `[!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|
//!       ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`.
//!    Each split re-splits every piece the previous one left, on that piece alone (a lookahead
//!    at a piece's end sees the end of input); matches and the unmatched runs between them are
//!    pieces. Alternatives are tried in order at the leftmost position (a backtracking regex's
//!    semantics). `\s` is Unicode White_Space; `\p{..}` the general category of
//!    unicode_categories.hpp (its Unicode version may trail the peer's for new code points).
//! 3. Each piece's UTF-8 bytes are spelled in the byte-level alphabet.
//! 4. BPE: the pair of lowest merge rank is merged first (the leftmost on a tie) until no ranked
//!    pair is left; with `ignore_merges`, a piece found whole in the vocabulary is taken as is.
//! Errors name what is wrong: the JSON entry, or the byte offset of text that is not UTF-8 or
//! that the vocabulary cannot spell.

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "vprim/core/status.hpp"
#include "vprim/io/json.hpp"
#include "vprim/io/unicode_categories.hpp"
#include "vprim/io/vocabulary.hpp"

VPRIM_NAMESPACE_BEGIN

namespace unicode {

[[nodiscard]] inline major_category category_of(char32_t cp) noexcept {
  const auto it = std::upper_bound(category_ranges.begin(), category_ranges.end(), static_cast<std::uint32_t>(cp),
                                   [](std::uint32_t c, const category_range& r) { return c < r.first; });
  if (it == category_ranges.begin()) return major_category::other;
  const auto& r = *(it - 1);
  return cp <= r.last ? r.category : major_category::other;
}

//! The White_Space property (a fixed list in the Unicode standard).
[[nodiscard]] constexpr bool is_white_space(char32_t c) noexcept {
  return (c >= 0x09 && c <= 0x0D) || c == 0x20 || c == 0x85 || c == 0xA0 || c == 0x1680 || (c >= 0x2000 && c <= 0x200A) ||
         c == 0x2028 || c == 0x2029 || c == 0x202F || c == 0x205F || c == 0x3000;
}

//! The code point of the well-formed UTF-8 sequence of length n at s[i] (utf8_sequence_length).
[[nodiscard]] inline char32_t decode_utf8(std::string_view s, std::size_t i, std::size_t n) noexcept {
  const auto b = [&](std::size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k])); };
  if (n == 1) return b(0);
  if (n == 2) return ((b(0) & 0x1F) << 6) | (b(1) & 0x3F);
  if (n == 3) return ((b(0) & 0x0F) << 12) | ((b(1) & 0x3F) << 6) | (b(2) & 0x3F);
  return ((b(0) & 0x07) << 18) | ((b(1) & 0x3F) << 12) | ((b(2) & 0x3F) << 6) | (b(3) & 0x3F);
}

}  // namespace unicode

namespace detail {

//! A piece of text as code points, with the byte offset of each (and one past the end).
struct code_points {
  std::vector<char32_t> cp;
  std::vector<std::size_t> at;  // at[i]: byte offset of cp[i]; at[cp.size()]: the end
};

using cp_matcher = std::size_t (*)(const char32_t* c, std::size_t i, std::size_t n);

//! `\p{N}{1,3}`
inline std::size_t match_digits(const char32_t* c, std::size_t i, std::size_t n) {
  std::size_t j = i;
  while (j < n && j - i < 3 && unicode::category_of(c[j]) == unicode::major_category::number) ++j;
  return j - i;
}

//! `[一-龥぀-ゟ゠-ヿ]+`
inline std::size_t match_cjk(const char32_t* c, std::size_t i, std::size_t n) {
  auto cjk = [](char32_t x) { return (x >= 0x4E00 && x <= 0x9FA5) || (x >= 0x3040 && x <= 0x30FF); };
  std::size_t j = i;
  while (j < n && cjk(c[j])) ++j;
  return j - i;
}

//! The third split's alternation, first alternative that matches at i.
inline std::size_t match_words(const char32_t* c, std::size_t i, std::size_t n) {
  using unicode::major_category;
  auto cat = [&](std::size_t k) { return unicode::category_of(c[k]); };
  auto ascii_letter = [](char32_t x) { return (x >= 'A' && x <= 'Z') || (x >= 'a' && x <= 'z'); };
  auto ascii_punct = [](char32_t x) {
    return x < 0x80 && std::string_view("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~").find(static_cast<char>(x)) != std::string_view::npos;
  };
  auto letter_or_mark = [&](std::size_t k) { return cat(k) == major_category::letter || cat(k) == major_category::mark; };
  auto punct_or_symbol = [&](std::size_t k) { return cat(k) == major_category::punctuation || cat(k) == major_category::symbol; };
  auto newline = [](char32_t x) { return x == '\r' || x == '\n'; };
  auto space = [&](std::size_t k) { return unicode::is_white_space(c[k]); };
  // [!"#...~][A-Za-z]+
  if (ascii_punct(c[i]) && i + 1 < n && ascii_letter(c[i + 1])) {
    std::size_t j = i + 1;
    while (j < n && ascii_letter(c[j])) ++j;
    return j - i;
  }
  // [^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+ : the optional character taken first, then given back
  for (std::size_t skip = 1;; --skip) {
    const bool can_skip = skip == 0 || (!newline(c[i]) && cat(i) != major_category::letter && !punct_or_symbol(i));
    if (can_skip && i + skip < n && letter_or_mark(i + skip)) {
      std::size_t j = i + skip;
      while (j < n && letter_or_mark(j)) ++j;
      return j - i;
    }
    if (skip == 0) break;
  }
  // ' '?[\p{P}\p{S}]+[\r\n]*
  for (std::size_t lead = c[i] == ' ' ? 1 : 0;; --lead) {
    if (i + lead < n && punct_or_symbol(i + lead)) {
      std::size_t j = i + lead;
      while (j < n && punct_or_symbol(j)) ++j;
      while (j < n && newline(c[j])) ++j;
      return j - i;
    }
    if (lead == 0) break;
  }
  if (!space(i)) return 0;
  std::size_t run = i;  // the whitespace run [i, run)
  while (run < n && space(run)) ++run;
  // \s*[\r\n]+ : \s* gives back up to the run's last CR or LF
  for (std::size_t k = run; k-- > i;)
    if (newline(c[k])) return k + 1 - i;
  // \s+(?!\S) : the whole run at the end, else all but its last character
  if (run == n) return run - i;
  if (run - i >= 2) return run - 1 - i;
  return run - i;  // \s+
}

//! Splits each piece at every match of `m` (leftmost first): matches and the runs between them.
inline void split_isolated(const code_points& text, std::vector<std::pair<std::size_t, std::size_t>>& pieces, cp_matcher m) {
  std::vector<std::pair<std::size_t, std::size_t>> out;
  for (auto [begin, end] : pieces) {
    std::size_t gap = begin;
    for (std::size_t i = begin; i < end;) {
      const std::size_t len = m(text.cp.data() + begin, i - begin, end - begin);
      if (len == 0) {
        ++i;
        continue;
      }
      if (gap < i) out.emplace_back(gap, i);
      out.emplace_back(i, i + len);
      i += len;
      gap = i;
    }
    if (gap < end) out.emplace_back(gap, end);
  }
  pieces = std::move(out);
}

//! The byte-level alphabet (byte_level_code_point), each code point as UTF-8.
inline const std::array<std::string, 256>& byte_level_alphabet() {
  static const std::array<std::string, 256> table = [] {
    std::array<std::string, 256> t;
    for (unsigned b = 0; b < 256; ++b) {
      const unsigned cp = byte_level_code_point(b);
      if (cp < 0x80) t[b] = std::string(1, static_cast<char>(cp));
      else t[b] = {static_cast<char>(0xC0 | (cp >> 6)), static_cast<char>(0x80 | (cp & 0x3F))};
    }
    return t;
  }();
  return table;
}

inline constexpr std::string_view deepseek_split_patterns[3] = {
    R"(\p{N}{1,3})",
    "[\u4e00-\u9fa5\u3040-\u309f\u30a0-\u30ff]+",
    R"([!"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+| ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"};

}  // namespace detail

class bpe_tokenizer {
 public:
  //! Reads tokenizer.json. Refuses a normalizer, a model other than BPE, byte fallback, and any
  //! pre-tokenizer but DeepSeek's, naming the entry.
  [[nodiscard]] static result<bpe_tokenizer> from_json(std::string_view text) {
    auto doc = parse_json(text);
    if (!doc) return make_error(doc.err().code, "tokenizer.json: " + doc.err().message, doc.err().offset);
    auto bad = [](const std::string& what, const json_value* at = nullptr) {
      return make_error(status::invalid_argument, "tokenizer.json: " + what, at ? at->offset() : error::no_offset);
    };
    if (const json_value* n = doc->find("normalizer"); n != nullptr && !n->is_null())
      return make_error(status::not_supported, "tokenizer.json: a normalizer is not supported (DeepSeek's has none)", n->offset());
    if (status s = check_pre_tokenizer(doc->find("pre_tokenizer")); s != status::ok)
      return make_error(s, "tokenizer.json: pre_tokenizer is not DeepSeek-V3/V4's Sequence of the three Split regexes and "
                           "ByteLevel(use_regex=false)");
    const json_value* model = doc->find("model");
    if (model == nullptr || !model->is_object()) return bad("no model object");
    if (const json_value* t = model->find("type"); t != nullptr && (!t->is_string() || t->as_string() != "BPE"))
      return make_error(status::not_supported, "tokenizer.json: model.type must be \"BPE\"", t->offset());
    if (const json_value* bf = model->find("byte_fallback"); bf != nullptr && bf->is_bool() && bf->as_bool())
      return make_error(status::not_supported, "tokenizer.json: model.byte_fallback is not supported", bf->offset());
    bpe_tokenizer tok;
    if (const json_value* im = model->find("ignore_merges"); im != nullptr && im->is_bool()) tok.ignore_merges_ = im->as_bool();
    const json_value* vocab = model->find("vocab");
    if (vocab == nullptr || !vocab->is_object()) return bad("model.vocab must be an object of piece -> id", model);
    for (const auto& [piece, id] : vocab->members()) {
      if (!id.as_int() || *id.as_int() < 0) return bad("the id of piece '" + piece + "' is not a non-negative integer", &id);
      tok.ids_[piece] = *id.as_int();
    }
    const json_value* merges = model->find("merges");
    if (merges == nullptr || !merges->is_array()) return bad("model.merges must be an array", model);
    for (std::size_t r = 0; r < merges->items().size(); ++r) {
      const json_value& m = merges->items()[r];
      std::string a, b;
      if (m.is_string()) {  // "a b"
        const auto sp = m.as_string().find(' ');
        if (sp == std::string::npos || m.as_string().find(' ', sp + 1) != std::string::npos)
          return bad("merge " + std::to_string(r) + " is not two pieces separated by one space", &m);
        a = m.as_string().substr(0, sp);
        b = m.as_string().substr(sp + 1);
      } else if (m.is_array() && m.items().size() == 2 && m.items()[0].is_string() && m.items()[1].is_string()) {  // ["a", "b"]
        a = m.items()[0].as_string();
        b = m.items()[1].as_string();
      } else {
        return bad("merge " + std::to_string(r) + " is neither \"a b\" nor [\"a\", \"b\"]", &m);
      }
      tok.ranks_.emplace(pair_key(a, b), static_cast<std::int64_t>(r));  // a repeated pair keeps its first rank
    }
    if (const json_value* added = doc->find("added_tokens"); added != nullptr && added->is_array())
      for (const json_value& t : added->items()) {
        const json_value* id = t.find("id");
        const json_value* content = t.find("content");
        if (id == nullptr || !id->as_int() || *id->as_int() < 0 || content == nullptr || !content->is_string() ||
            content->as_string().empty())
          return bad("an added token needs a non-negative integer id and a non-empty string content", &t);
        tok.added_.emplace_back(content->as_string(), *id->as_int());
      }
    // Longest first, so that the leftmost match is also the longest there.
    std::stable_sort(tok.added_.begin(), tok.added_.end(),
                     [](const auto& x, const auto& y) { return x.first.size() > y.first.size(); });
    for (std::size_t k = 0; k < tok.added_.size(); ++k)
      tok.added_by_first_byte_[static_cast<unsigned char>(tok.added_[k].first[0])].push_back(k);
    return tok;
  }

  //! The id of a piece or added token spelled exactly `text`, if there is one.
  [[nodiscard]] std::optional<std::int64_t> token_id(std::string_view text) const {
    for (const auto& [content, id] : added_)
      if (content == text) return id;
    const auto it = ids_.find(std::string(text));
    if (it == ids_.end()) return std::nullopt;
    return it->second;
  }

  //! The pieces the pre-tokenizer cuts plain text (no added tokens) into, before BPE.
  [[nodiscard]] static result<std::vector<std::string>> pre_tokenize(std::string_view text) {
    detail::code_points cps;
    if (auto e = decode(text, 0, text.size(), cps)) return *e;
    std::vector<std::string> out;
    for (auto [a, b] : split(cps)) out.emplace_back(text.substr(cps.at[a], cps.at[b] - cps.at[a]));
    return out;
  }

  //! The ids of `text`. Errors: bytes that are not UTF-8, or a piece the vocabulary cannot spell
  //! (with its byte offset).
  [[nodiscard]] result<std::vector<std::int64_t>> encode(std::string_view text) const {
    std::vector<std::int64_t> out;
    std::size_t plain = 0;  // start of the text since the last added token
    for (std::size_t i = 0; i <= text.size();) {
      const std::pair<std::string, std::int64_t>* hit = i < text.size() ? added_at(text, i) : nullptr;
      if (hit == nullptr && i < text.size()) {
        ++i;
        continue;
      }
      if (auto e = encode_plain(text, plain, i, out)) return *e;
      if (hit == nullptr) break;
      out.push_back(hit->second);
      i += hit->first.size();
      plain = i;
    }
    return out;
  }

 private:
  static std::string pair_key(const std::string& a, const std::string& b) { return a + '\0' + b; }

  //! The longest added token spelled at text[i], or null.
  const std::pair<std::string, std::int64_t>* added_at(std::string_view text, std::size_t i) const {
    for (std::size_t k : added_by_first_byte_[static_cast<unsigned char>(text[i])])
      if (text.compare(i, added_[k].first.size(), added_[k].first) == 0) return &added_[k];
    return nullptr;
  }

  static status check_pre_tokenizer(const json_value* p) {
    if (p == nullptr || p->find("type") == nullptr || p->find("type")->as_string() != "Sequence") return status::not_supported;
    const json_value* list = p->find("pretokenizers");
    if (list == nullptr || !list->is_array() || list->items().size() != 4) return status::not_supported;
    for (std::size_t k = 0; k < 3; ++k) {
      const json_value& s = list->items()[k];
      const json_value* type = s.find("type");
      const json_value* pattern = s.find("pattern");
      const json_value* regex = pattern ? pattern->find("Regex") : nullptr;
      const json_value* behavior = s.find("behavior");
      const json_value* invert = s.find("invert");
      if (type == nullptr || type->as_string() != "Split" || regex == nullptr || !regex->is_string() ||
          regex->as_string() != detail::deepseek_split_patterns[k] || behavior == nullptr || behavior->as_string() != "Isolated" ||
          (invert != nullptr && invert->is_bool() && invert->as_bool()))
        return status::not_supported;
    }
    const json_value& bl = list->items()[3];
    const json_value* type = bl.find("type");
    const json_value* use_regex = bl.find("use_regex");
    const json_value* prefix = bl.find("add_prefix_space");
    if (type == nullptr || type->as_string() != "ByteLevel" || use_regex == nullptr || !use_regex->is_bool() ||
        use_regex->as_bool() || (prefix != nullptr && prefix->is_bool() && prefix->as_bool()))
      return status::not_supported;
    return status::ok;
  }

  static std::optional<error> decode(std::string_view text, std::size_t begin, std::size_t end, detail::code_points& cps) {
    for (std::size_t i = begin; i < end;) {
      const std::size_t n = utf8_sequence_length(text, i);
      if (n == 0 || i + n > end)
        return make_error(status::invalid_argument, "tokenizer: the text is not UTF-8 at byte " + std::to_string(i), i);
      cps.cp.push_back(unicode::decode_utf8(text, i, n));
      cps.at.push_back(i);
      i += n;
    }
    cps.at.push_back(end);
    return std::nullopt;
  }

  static std::vector<std::pair<std::size_t, std::size_t>> split(const detail::code_points& cps) {
    std::vector<std::pair<std::size_t, std::size_t>> pieces;
    if (cps.cp.empty()) return pieces;
    pieces.emplace_back(0, cps.cp.size());
    detail::split_isolated(cps, pieces, detail::match_digits);
    detail::split_isolated(cps, pieces, detail::match_cjk);
    detail::split_isolated(cps, pieces, detail::match_words);
    return pieces;
  }

  //! Pre-tokenizes and encodes text[begin, end) (no added tokens in it), appending to `out`.
  std::optional<error> encode_plain(std::string_view text, std::size_t begin, std::size_t end,
                                    std::vector<std::int64_t>& out) const {
    detail::code_points cps;
    if (auto e = decode(text, begin, end, cps)) return e;
    for (auto [a, b] : split(cps))
      if (auto e = encode_piece(text.substr(cps.at[a], cps.at[b] - cps.at[a]), cps.at[a], out)) return e;
    return std::nullopt;
  }

  //! BPE over one piece's bytes in the byte-level alphabet.
  std::optional<error> encode_piece(std::string_view bytes, std::size_t offset, std::vector<std::int64_t>& out) const {
    const auto& alphabet = detail::byte_level_alphabet();
    std::vector<std::string> symbols;
    std::vector<std::size_t> starts;  // byte offset of each symbol in `bytes`
    for (std::size_t i = 0; i < bytes.size(); ++i) {
      symbols.push_back(alphabet[static_cast<unsigned char>(bytes[i])]);
      starts.push_back(i);
    }
    std::string whole;
    for (const auto& s : symbols) whole += s;
    if (ignore_merges_)
      if (const auto it = ids_.find(whole); it != ids_.end()) {
        out.push_back(it->second);
        return std::nullopt;
      }
    for (;;) {
      std::int64_t best = std::numeric_limits<std::int64_t>::max();
      std::size_t at = 0;
      for (std::size_t k = 0; k + 1 < symbols.size(); ++k) {
        const auto it = ranks_.find(pair_key(symbols[k], symbols[k + 1]));
        if (it != ranks_.end() && it->second < best) {
          best = it->second;
          at = k;
        }
      }
      if (best == std::numeric_limits<std::int64_t>::max()) break;
      symbols[at] += symbols[at + 1];
      symbols.erase(symbols.begin() + static_cast<std::ptrdiff_t>(at) + 1);
      starts.erase(starts.begin() + static_cast<std::ptrdiff_t>(at) + 1);
    }
    for (std::size_t k = 0; k < symbols.size(); ++k) {
      const auto it = ids_.find(symbols[k]);
      if (it == ids_.end())
        return make_error(status::not_found,
                          "tokenizer: the vocabulary has no piece '" + symbols[k] + "' for the text at byte " +
                              std::to_string(offset + starts[k]),
                          offset + starts[k]);
      out.push_back(it->second);
    }
    return std::nullopt;
  }

  std::unordered_map<std::string, std::int64_t> ids_, ranks_;
  std::vector<std::pair<std::string, std::int64_t>> added_;  // longest first
  std::array<std::vector<std::size_t>, 256> added_by_first_byte_;  // indices into added_, longest first
  bool ignore_merges_ = false;
};

VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// libFuzzer harness for the primitive codec: the bytes as a transcript, and as token ids (two
// bytes per id, small ids decoding to fixed text pieces, the rest to the default tag ids).
// Properties: no crash or unbounded work (sanitizers watch), every error offset inside the
// input, every box ordered and in range, every point in range.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "vprim/primitives/codec.hpp"

namespace {
void check(const vprim::primitives::parse_result& r, std::size_t size) {
  for (const auto& e : r.errors)
    if (e.offset > size) std::abort();
  for (const auto& ref : r.refs)
    for (const auto& b : ref.boxes)
      if (b.x1 > b.x2 || b.y1 > b.y2 || b.x1 < 0 || b.y1 < 0 || b.x2 > 999 || b.y2 > 999) std::abort();
  for (const auto& pl : r.points)
    for (const auto& p : pl.points)
      if (p.x < 0 || p.y < 0 || p.x > 999 || p.y > 999) std::abort();
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check(vprim::primitives::parse_text(text), size);
  static const char* pieces[] = {"[", "]", ",", "1", "99", "999", " ", "bear", "\\boxed{", "}"};
  const vprim::primitives::tag_ids ids;
  std::vector<std::int64_t> tokens;
  for (std::size_t i = 0; i + 1 < size; i += 2) {
    const int v = data[i] | (data[i + 1] << 8);
    tokens.push_back(v % 20 < 10 ? v % 10 : ids.ref - v % 8);  // text pieces and the 8 tag ids
  }
  check(vprim::primitives::parse_tokens(tokens, [](std::int64_t id) { return std::string(pieces[id]); }), tokens.size());
  return 0;
}

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file nlayout.hpp
//! The Vision-Exp image block ("N-layout"), research/visual_primitives.md §2.3:
//!
//!   [lead pad x PAD] START <body> [pad_last x PAD] END
//!
//! The body is n_llm_h rows of n_llm_w IMAGE tokens plus one NEWLINE each, with one extra row of
//! PADs when n_llm_h is odd. Rows are taken in pairs and interleaved column by column, so four
//! consecutive tokens are a 2x2 neighbourhood. The lead pad puts START at a position = 3 mod
//! `align` (so the first body token sits on a CSA block boundary); pad_last makes the body a
//! multiple of 4.

#include <cstdint>
#include <string>
#include <vector>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN

enum class image_token : std::int8_t { start = 0, pad = 1, image = 2, newline = 3, end = 4 };
inline constexpr int image_token_kinds = 5;

//! The reference's out-of-vocabulary token id of an image-block position: vocab_size + type
//! (START vocab, PAD vocab+1, IMAGE vocab+2, NEWLINE vocab+3, END vocab+4). The router tells
//! image-block tokens from text by these ids (research/release_format.md, "Image block").
[[nodiscard]] constexpr std::int64_t image_block_token_id(std::int64_t vocab, image_token t) noexcept {
  return vocab + static_cast<std::int64_t>(t);
}
[[nodiscard]] constexpr bool is_image_block_token_id(std::int64_t id, std::int64_t vocab) noexcept {
  return id >= vocab && id < vocab + image_token_kinds;
}

struct image_block {
  std::vector<image_token> types;  //!< one per sequence position, lead pad included
  //! perm[j]: the row-major aligner output placed at the j-th IMAGE position.
  std::vector<std::int64_t> perm;
  int lead_pad = 0;
  int pad_last = 0;
};

//! Builds the block for an n_llm_h x n_llm_w merged grid whose first position (the first lead
//! pad, or START) is sequence position `start_pos`; `align` is the CSA ratio (4 in the model).
[[nodiscard]] inline result<image_block> build_image_block(int n_llm_h, int n_llm_w, std::int64_t start_pos,
                                                           int align = 4) {
  if (n_llm_h <= 0 || n_llm_w <= 0 || start_pos < 0 || align <= 0)
    return make_error(status::invalid_argument, "build_image_block: grid " + std::to_string(n_llm_h) + "x" +
                                                    std::to_string(n_llm_w) + ", start " + std::to_string(start_pos) +
                                                    " and align " + std::to_string(align) +
                                                    " must be positive (start >= 0)");
  image_block b;
  b.lead_pad = static_cast<int>((align - 1) - start_pos % align);
  const int rows = n_llm_h + (n_llm_h % 2);  // an odd grid gets one row of PADs
  const int cols = n_llm_w + 1;              // IMAGE tokens plus NEWLINE
  b.pad_last = ((rows / 2) * cols) % 2 == 1 ? 2 : 0;
  b.types.reserve(static_cast<std::size_t>(b.lead_pad + 2 + rows * cols + b.pad_last));
  b.perm.reserve(static_cast<std::size_t>(n_llm_h) * static_cast<std::size_t>(n_llm_w));
  b.types.insert(b.types.end(), static_cast<std::size_t>(b.lead_pad), image_token::pad);
  b.types.push_back(image_token::start);
  for (int pair = 0; pair < rows; pair += 2) {
    for (int c = 0; c < cols; ++c) {
      for (int r = pair; r < pair + 2; ++r) {
        if (r >= n_llm_h) {
          b.types.push_back(image_token::pad);
        } else if (c == n_llm_w) {
          b.types.push_back(image_token::newline);
        } else {
          b.types.push_back(image_token::image);
          b.perm.push_back(static_cast<std::int64_t>(r) * n_llm_w + c);
        }
      }
    }
  }
  b.types.insert(b.types.end(), static_cast<std::size_t>(b.pad_last), image_token::pad);
  b.types.push_back(image_token::end);
  return b;
}


//! A prompt whose image placeholder became the release's image block.
struct expanded_prompt {
  std::vector<std::int64_t> ids;  //!< text ids, then the block's out-of-vocabulary ids, then text
  std::size_t block_begin = 0;    //!< position of the block's first token (its lead pad, or START)
  image_block block;
};

//! Replaces the one `placeholder` id of `ids` (`<｜deepseek_image｜>`) with the image block of an
//! n_llm_h x n_llm_w merged grid, as the reference processor does: the lead pad depends on the
//! placeholder's position (START lands at 3 mod `align`), and every block token takes the id
//! vocab + type. Errors: no placeholder, more than one (one image per call; expand again for
//! the next), a bad grid.
[[nodiscard]] inline result<expanded_prompt> expand_image_placeholder(const std::vector<std::int64_t>& ids,
                                                                      std::int64_t placeholder, int n_llm_h, int n_llm_w,
                                                                      std::int64_t vocab, int align = 4) {
  std::size_t at = ids.size();
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] != placeholder) continue;
    if (at != ids.size())
      return make_error(status::invalid_argument, "the prompt has a second image placeholder (id " +
                                                      std::to_string(placeholder) + ") at token " + std::to_string(i) +
                                                      "; expand one image at a time",
                        i);
    at = i;
  }
  if (at == ids.size())
    return make_error(status::invalid_argument, "the prompt has no image placeholder (id " + std::to_string(placeholder) + ")");
  auto block = build_image_block(n_llm_h, n_llm_w, static_cast<std::int64_t>(at), align);
  if (!block) return block.err();
  expanded_prompt out;
  out.block_begin = at;
  out.ids.reserve(ids.size() - 1 + block->types.size());
  out.ids.insert(out.ids.end(), ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(at));
  for (image_token t : block->types) out.ids.push_back(image_block_token_id(vocab, t));
  out.ids.insert(out.ids.end(), ids.begin() + static_cast<std::ptrdiff_t>(at) + 1, ids.end());
  out.block = std::move(*block);
  return out;
}

VPRIM_NAMESPACE_END

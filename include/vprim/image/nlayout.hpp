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

VPRIM_NAMESPACE_END

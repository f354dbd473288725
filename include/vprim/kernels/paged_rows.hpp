// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file paged_rows.hpp
//! Rows of one sequence stored in a pool of pages and found through its block table, as an
//! engine's paged KV cache holds them: row i lives in page block_table[i / rows_per_page], slot
//! i % rows_per_page. One view per kind of row and layer (compressed entries, indexer keys);
//! the same view serves the CPU and the CUDA kernels.

#include <cstddef>
#include <cstdint>

#include "vprim/core/config.hpp"

VPRIM_NAMESPACE_BEGIN
namespace kernels {

template <class T>
struct paged_rows {
  T* pages = nullptr;             //!< page 0 of this kind of row, for this layer
  std::size_t page_stride = 0;    //!< elements from one page to the next
  std::size_t rows_per_page = 0;  //!< rows a page holds
  std::size_t width = 0;          //!< elements of a row (rows are packed inside a page)
  const std::int32_t* block_table = nullptr;  //!< the sequence's pages, in order

  [[nodiscard]] VPRIM_HOST_DEVICE T* row(std::size_t i) const noexcept {
    const auto page = static_cast<std::size_t>(block_table[i / rows_per_page]);
    return pages + page * page_stride + (i % rows_per_page) * width;
  }
  //! The same rows, read-only.
  [[nodiscard]] VPRIM_HOST_DEVICE paged_rows<const T> as_const() const noexcept {
    return {pages, page_stride, rows_per_page, width, block_table};
  }
  [[nodiscard]] VPRIM_HOST_DEVICE bool valid() const noexcept {
    return pages != nullptr && rows_per_page > 0 && width > 0 && page_stride >= rows_per_page * width && block_table != nullptr;
  }
};

}  // namespace kernels
VPRIM_NAMESPACE_END

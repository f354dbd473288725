// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file kv_pool.hpp
//! The KV cache of DeepSeek-V4 as an engine holds it: one pool of memory for a batch of
//! sequences, in two parts.
//!   - Pages of `page_size` token positions, found through each sequence's block table (vLLM
//!     uses 256-position blocks for V4). A page holds, for every compressed layer, the entries
//!     of its positions (page_size / ratio rows of head_dim) and, in CSA layers, the indexer's
//!     keys (page_size / csa_ratio rows of index_head_dim). Block ids are shared by the layers.
//!   - State slots of fixed size, one per running sequence: per layer the ring of the last
//!     `window` raw kv rows (position p at row p % window) and the compressors' partial window
//!     and overlap half (kernels/compressor.hpp).
//! Rows are stored fp32, or FP8 (kv_cache_dtype::fp8) as serving engines hold the release's cache:
//! window rows and compressed entries as FP8 entries (448 e4m3 + 64 bf16 + scales = 584 bytes
//! for V4-Flash), indexer keys as e4m3 codes with an fp32 scale (132 bytes); compressor state
//! stays fp32. What a sequence holds follows from its length alone; the engine keeps lengths, block tables
//! and slot numbers, and hands them in with each call (batch_view). The pool's memory may be
//! the caller's (kv_pool_view) or owned (kv_pool).

#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "vprim/core/aligned_buffer.hpp"
#include "vprim/kernels/compressor.hpp"
#include "vprim/kernels/kv_entry.hpp"
#include "vprim/kernels/paged_rows.hpp"
#include "vprim/model/v4/config.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

//! How the pool stores KV rows.
enum class kv_cache_dtype : std::uint8_t { fp32, fp8 };

//! Where each layer's rows sit inside a state slot and inside a page (offsets in floats).
struct kv_pool_layout {
  struct compressor_slot {
    std::size_t ratio = 0, width = 0, proj = 0;
    std::size_t buffer_kv = 0, buffer_gate = 0, overlap_kv = 0, overlap_gate = 0;
  };
  struct layer {
    attention_kind kind = attention_kind::sliding;
    std::size_t ring = 0;                     //!< slot offset of [window, head_dim]
    std::optional<compressor_slot> main, index;
    std::size_t entries = 0, index_keys = 0;  //!< page offsets of [page_size / ratio, width]
  };
  std::size_t page_size = 0, pages = 0, slots = 0;
  std::size_t window = 0, head_dim = 0;
  kv_cache_dtype dtype = kv_cache_dtype::fp32;
  kernels::kv_row_format row_format, key_format;  //!< window rows and entries; indexer keys
  std::size_t slot_floats = 0, page_floats = 0;
  std::vector<layer> layers;

  //! The layout of `c` with `pages` pages of `page_size` positions and `slots` state slots.
  //! page_size must be a multiple of every compressed layer's ratio.
  [[nodiscard]] static result<kv_pool_layout> make(const config& c, std::size_t page_size, std::size_t pages, std::size_t slots,
                                                   kv_cache_dtype dtype = kv_cache_dtype::fp32) {
    kv_pool_layout L;
    L.page_size = page_size;
    L.pages = pages;
    L.slots = slots;
    L.window = static_cast<std::size_t>(c.sliding_window);
    L.head_dim = static_cast<std::size_t>(c.head_dim);
    L.dtype = dtype;
    const auto index_width = static_cast<std::size_t>(c.index_head_dim);
    if (dtype == kv_cache_dtype::fp8) {
      L.row_format = kernels::kv_row_format::fp8_entries(kernels::fp8_kv_layout_for(L.head_dim, static_cast<std::size_t>(c.rope_dim)));
      L.key_format = kernels::kv_row_format::fp8_keys(index_width);
      if (kernels::kv_row_format_can_implement(L.row_format) != status::ok)
        return make_error(status::invalid_argument, "kv pool: FP8 entries need head_dim - rope_dim (" + std::to_string(L.head_dim) +
                                                        " - " + std::to_string(c.rope_dim) + ") in whole tiles and an even rope_dim");
    } else {
      L.row_format = kernels::kv_row_format::fp32_rows(L.head_dim);
      L.key_format = kernels::kv_row_format::fp32_rows(index_width);
    }
    if (page_size == 0) return make_error(status::invalid_argument, "kv pool: page_size must be > 0");
    if (L.window == 0) return make_error(status::invalid_argument, "kv pool: sliding_window must be > 0");
    auto compressor_in_slot = [&](std::size_t ratio, std::size_t width, bool overlap) {
      compressor_slot s;
      s.ratio = ratio;
      s.width = width;
      s.proj = overlap ? 2 * width : width;
      s.buffer_kv = L.slot_floats;
      s.buffer_gate = s.buffer_kv + ratio * s.proj;
      s.overlap_kv = s.buffer_gate + ratio * s.proj;
      s.overlap_gate = s.overlap_kv + (overlap ? ratio * width : 0);
      L.slot_floats = s.overlap_gate + (overlap ? ratio * width : 0);
      return s;
    };
    for (std::size_t l = 0; l < c.layers.size(); ++l) {
      layer y;
      y.kind = c.layers[l];
      y.ring = L.slot_floats;
      L.slot_floats += L.window * L.row_floats();
      if (y.kind != attention_kind::sliding) {
        const auto ratio = static_cast<std::size_t>(c.ratio(y.kind));
        if (ratio == 0 || page_size % ratio != 0)
          return make_error(status::invalid_argument, "kv pool: page_size " + std::to_string(page_size) +
                                                          " is not a multiple of layer " + std::to_string(l) + "'s ratio " +
                                                          std::to_string(ratio));
        y.main = compressor_in_slot(ratio, L.head_dim, y.kind == attention_kind::csa);
        y.entries = L.page_floats;
        L.page_floats += page_size / ratio * L.row_floats();
      }
      if (y.kind == attention_kind::csa) {
        const auto ratio = static_cast<std::size_t>(c.csa_ratio), width = static_cast<std::size_t>(c.index_head_dim);
        y.index = compressor_in_slot(ratio, width, true);
        y.index_keys = L.page_floats;
        L.page_floats += page_size / ratio * L.key_format.stored_floats();
      }
      L.layers.push_back(y);
    }
    return result<kv_pool_layout>(std::move(L));
  }

  //! Floats a stored window row or entry takes; an indexer key.
  [[nodiscard]] std::size_t row_floats() const noexcept { return row_format.stored_floats(); }
  [[nodiscard]] std::size_t key_floats() const noexcept { return key_format.stored_floats(); }
  [[nodiscard]] std::size_t floats() const noexcept { return slots * slot_floats + pages * page_floats; }
  [[nodiscard]] std::size_t bytes() const noexcept { return floats() * sizeof(float); }
  //! Pages a sequence of `tokens` positions needs.
  [[nodiscard]] std::size_t pages_for(std::size_t tokens) const noexcept { return (tokens + page_size - 1) / page_size; }
};

//! One sequence of a call: what it holds already, its state slot and its block table.
struct sequence_ref {
  std::int64_t length = 0;  //!< positions cached before this call
  std::int32_t slot = 0;
  const std::int32_t* block_table = nullptr;
  std::size_t table_size = 0;  //!< entries of block_table
};

//! The sequences of one call; the rows of sequence s are [cu_rows[s], cu_rows[s+1]) of the
//! call's inputs (varlen: a decode gives each one row, a prefill any number).
struct batch_view {
  std::span<const sequence_ref> sequences;
  std::span<const std::size_t> cu_rows;  //!< sequences.size() + 1 offsets, cu_rows[0] == 0

  [[nodiscard]] std::size_t rows() const noexcept { return cu_rows.empty() ? 0 : cu_rows.back(); }
  [[nodiscard]] std::size_t rows_of(std::size_t s) const noexcept { return cu_rows[s + 1] - cu_rows[s]; }
};

//! The pool over memory the caller owns (layout.floats() floats, 64-byte aligned for speed).
struct kv_pool_view {
  const kv_pool_layout* layout = nullptr;
  float* memory = nullptr;

  [[nodiscard]] float* slot(std::int32_t s) const noexcept { return memory + static_cast<std::size_t>(s) * layout->slot_floats; }
  [[nodiscard]] float* ring(std::size_t l, std::int32_t s) const noexcept { return slot(s) + layout->layers[l].ring; }
  [[nodiscard]] kernels::compressor_state_view compressor_state(const kv_pool_layout::compressor_slot& c, std::int32_t s) const noexcept {
    float* base = slot(s);
    return {base + c.buffer_kv, base + c.buffer_gate, base + c.overlap_kv, base + c.overlap_gate};
  }
  [[nodiscard]] kernels::paged_rows<float> rows(std::size_t page_offset, std::size_t ratio, std::size_t width,
                                                const sequence_ref& seq) const noexcept {
    return {memory + layout->slots * layout->slot_floats + page_offset, layout->page_floats, layout->page_size / ratio, width,
            seq.block_table};
  }
  [[nodiscard]] kernels::paged_rows<float> entries(std::size_t l, const sequence_ref& seq) const noexcept {
    const auto& y = layout->layers[l];
    return rows(y.entries, y.main->ratio, layout->row_floats(), seq);
  }
  [[nodiscard]] kernels::paged_rows<float> index_keys(std::size_t l, const sequence_ref& seq) const noexcept {
    const auto& y = layout->layers[l];
    return rows(y.index_keys, y.index->ratio, layout->key_floats(), seq);
  }
};

//! A pool that owns its memory (zeroed once).
class kv_pool {
 public:
  [[nodiscard]] static result<kv_pool> allocate(kv_pool_layout layout) {
    auto mem = aligned_buffer<float>::allocate(std::max<std::size_t>(layout.floats(), 1));
    if (!mem) return mem.err();
    kv_pool p;
    p.layout_ = std::move(layout);
    p.memory_ = std::move(*mem);
    return result<kv_pool>(std::move(p));
  }
  [[nodiscard]] const kv_pool_layout& layout() const noexcept { return layout_; }
  [[nodiscard]] kv_pool_view view() noexcept { return {&layout_, memory_.data()}; }

 private:
  kv_pool_layout layout_;
  aligned_buffer<float> memory_;
};

//! Checks a call's sequences against the pool before anything is written: cumulative rows,
//! state slots in range and not shared, block tables long enough for the positions after the
//! call and naming pages of the pool. The error names the sequence (and block).
[[nodiscard]] inline std::optional<error> check_batch(const kv_pool_layout& L, const batch_view& b) {
  const auto& seqs = b.sequences;
  if (b.cu_rows.size() != seqs.size() + 1 || b.cu_rows.front() != 0)
    return make_error(status::invalid_argument, "batch: cu_rows must hold sequences + 1 offsets starting at 0");
  for (std::size_t s = 0; s < seqs.size(); ++s) {
    auto who = [s] { return "sequence " + std::to_string(s); };  // built only for an error: checking allocates nothing
    if (b.cu_rows[s + 1] < b.cu_rows[s]) return make_error(status::invalid_argument, "batch: cu_rows decreases at " + who());
    const sequence_ref& q = seqs[s];
    if (q.length < 0) return make_error(status::out_of_range, who() + " has negative length " + std::to_string(q.length));
    if (q.slot < 0 || static_cast<std::size_t>(q.slot) >= L.slots)
      return make_error(status::out_of_range, who() + " uses state slot " + std::to_string(q.slot) + " of a pool with " +
                                                  std::to_string(L.slots) + " slots");
    for (std::size_t e = 0; e < s; ++e)
      if (seqs[e].slot == q.slot)
        return make_error(status::invalid_argument, who() + " shares state slot " + std::to_string(q.slot) + " with sequence " +
                                                        std::to_string(e));
    const std::size_t tokens = static_cast<std::size_t>(q.length) + b.rows_of(s), need = L.pages_for(tokens);
    if (need > q.table_size || (need > 0 && q.block_table == nullptr))
      return make_error(status::out_of_range, who() + ": " + std::to_string(tokens) + " positions need " + std::to_string(need) +
                                                  " pages of " + std::to_string(L.page_size) + ", its block table has " +
                                                  std::to_string(q.table_size));
    for (std::size_t k = 0; k < need; ++k)
      if (q.block_table[k] < 0 || static_cast<std::size_t>(q.block_table[k]) >= L.pages)
        return make_error(status::out_of_range, who() + ", block " + std::to_string(k) + ": page " + std::to_string(q.block_table[k]) +
                                                    " is outside the pool of " + std::to_string(L.pages) + " pages");
  }
  return std::nullopt;
}

}  // namespace v4
VPRIM_NAMESPACE_END

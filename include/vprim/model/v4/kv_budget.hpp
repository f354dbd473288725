// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file kv_budget.hpp
//! What the KV cache holds, per layer kind, after n tokens (research/deepseek_v4.md §11):
//! every layer keeps min(n, window) raw entries; CSA adds floor(n/4) compressed entries and as
//! many indexer keys; HCA adds floor(n/128) entries. Entry bytes by format: fp32 and bf16
//! (head_dim values), or the released FP8 record ("MODEL1"): the non-rope dims in e4m3, the
//! rope dims in bf16, one ue8m0 scale per 64 non-rope dims, padded to 8 bytes (584 B at head_dim
//! 512); an FP8 indexer key is index_head_dim bytes plus a 4-byte scale (132 B): the bytes a
//! kv_pool with kv_cache_dtype::fp8 stores (kernels/kv_entry.hpp).
//! And the paper's chain for one image: pixels -> patches -> merged tokens -> CSA entries.

#include <cstdint>
#include <string>
#include <vector>

#include "vprim/image/resize_plan.hpp"
#include "vprim/kernels/kv_entry.hpp"
#include "vprim/model/v4/config.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

enum class kv_format : std::uint8_t { fp32, bf16, fp8 };

[[nodiscard]] constexpr const char* to_string(kv_format f) noexcept {
  return f == kv_format::fp32 ? "fp32" : f == kv_format::bf16 ? "bf16" : "fp8";
}

//! Bytes of one main (key = value) entry.
[[nodiscard]] constexpr std::int64_t entry_bytes(const config& c, kv_format f) noexcept {
  if (f == kv_format::fp32) return 4LL * c.head_dim;
  if (f == kv_format::bf16) return 2LL * c.head_dim;
  return static_cast<std::int64_t>(
      kernels::fp8_kv_layout_for(static_cast<std::size_t>(c.head_dim), static_cast<std::size_t>(c.rope_dim)).bytes());
}

//! Bytes of one indexer key.
[[nodiscard]] constexpr std::int64_t index_key_bytes(const config& c, kv_format f) noexcept {
  if (f == kv_format::fp32) return 4LL * c.index_head_dim;
  if (f == kv_format::bf16) return 2LL * c.index_head_dim;
  return static_cast<std::int64_t>(kernels::kv_row_format::fp8_keys(static_cast<std::size_t>(c.index_head_dim)).bytes());
}

struct kv_kind_usage {
  attention_kind kind = attention_kind::sliding;
  int layers = 0;
  std::int64_t raw_per_layer = 0, compressed_per_layer = 0, index_keys_per_layer = 0;
  std::int64_t bytes = 0;  //!< over all layers of this kind
};

struct kv_usage {
  std::int64_t tokens = 0;
  kv_format format = kv_format::bf16;
  std::vector<kv_kind_usage> kinds;  //!< sliding, csa, hca (those present)
  std::int64_t total_bytes = 0;
};

[[nodiscard]] inline kv_usage kv_usage_for(const config& c, std::int64_t tokens, kv_format f) {
  kv_usage u{tokens, f, {}, 0};
  for (attention_kind k : {attention_kind::sliding, attention_kind::csa, attention_kind::hca}) {
    kv_kind_usage ku;
    ku.kind = k;
    for (attention_kind l : c.layers) ku.layers += l == k ? 1 : 0;
    if (ku.layers == 0) continue;
    ku.raw_per_layer = std::min<std::int64_t>(tokens, c.sliding_window);
    if (k != attention_kind::sliding) ku.compressed_per_layer = tokens / c.ratio(k);
    if (k == attention_kind::csa) ku.index_keys_per_layer = ku.compressed_per_layer;
    ku.bytes = ku.layers * ((ku.raw_per_layer + ku.compressed_per_layer) * entry_bytes(c, f) +
                            ku.index_keys_per_layer * index_key_bytes(c, f));
    u.total_bytes += ku.bytes;
    u.kinds.push_back(ku);
  }
  return u;
}

//! The paper's chain for one image under a token-budget rule.
struct image_chain {
  std::int64_t pixels = 0, patches = 0, merged_tokens = 0, csa_entries = 0, hca_entries = 0;
  int resized_width = 0, resized_height = 0;
  [[nodiscard]] double compression() const noexcept {
    return csa_entries > 0 ? static_cast<double>(pixels) / static_cast<double>(csa_entries) : 0.0;
  }
};

//! CSA entries count an image block that starts on a ratio boundary (N-layout aligns it there).
[[nodiscard]] inline result<image_chain> chain_for_image(int width, int height, const token_budget_policy& budget,
                                                         int csa_ratio = 4, int hca_ratio = 128, int patch = 14,
                                                         int merge = 3) {
  image_chain ch;
  ch.pixels = static_cast<std::int64_t>(width) * height;
  if (budget.rule == budget_rule::vision_exp) {
    auto p = plan_vision_exp(width, height, budget, patch, merge);
    if (!p) return p.err();
    ch.resized_width = p->target_width;
    ch.resized_height = p->target_height;
    ch.patches = p->patches();
    ch.merged_tokens = p->merged_tokens();
  } else {
    auto p = plan_smart_resize(height, width, budget, patch, merge);
    if (!p) return p.err();
    ch.resized_width = p->target_width;
    ch.resized_height = p->target_height;
    ch.patches = static_cast<std::int64_t>(p->target_width / patch) * (p->target_height / patch);
    ch.merged_tokens = p->merged_tokens;
  }
  ch.csa_entries = ch.merged_tokens / csa_ratio;
  ch.hca_entries = ch.merged_tokens / hca_ratio;
  return ch;
}

}  // namespace v4
VPRIM_NAMESPACE_END

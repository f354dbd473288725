// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// kv_budget [WxH ...]: for each image size, the paper's chain (pixels -> patches -> merged
// tokens -> compressed KV entries) under both token-budget rules, and what the released
// DeepSeek-V4-Flash cache holds for the image's tokens per layer kind, in bf16 and in the FP8
// entry format, next to dense caches of the same depth (MLA: 512 + 64 values per token and
// layer; GQA: 8 KV heads x 128 x K,V).
#include <cstdio>
#include <string>
#include <vector>

#include "vprim/model/v4/kv_budget.hpp"

namespace {

std::string bytes(double b) {
  char buf[32];
  if (b >= 1 << 20) std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1 << 20));
  else if (b >= 1 << 10) std::snprintf(buf, sizeof buf, "%.1f KiB", b / (1 << 10));
  else std::snprintf(buf, sizeof buf, "%.0f B", b);
  return buf;
}

void report(int w, int h, const vprim::v4::config& cfg) {
  std::printf("\n%d x %d image (%lld pixels)\n", w, h, static_cast<long long>(w) * h);
  struct rule {
    const char* name;
    vprim::token_budget_policy budget;
  };
  for (const rule& r : {rule{"Vision-Exp (released)", vprim::presets::vision_exp_budget},
                        rule{"paper 81..384 (smart resize)", vprim::presets::paper_budget}}) {
    auto chain = vprim::v4::chain_for_image(w, h, r.budget, cfg.csa_ratio, cfg.hca_ratio);
    if (!chain) {
      std::printf("  %-30s %s\n", r.name, chain.err().describe().c_str());
      continue;
    }
    // LLM positions the image takes: the sentinel block for Vision-Exp, the merged tokens otherwise.
    std::int64_t positions = chain->merged_tokens;
    if (r.budget.rule == vprim::budget_rule::vision_exp)
      positions = vprim::plan_vision_exp(w, h, r.budget)->block_tokens;
    std::printf("  %-30s resized %dx%d: %lld patches -> %lld tokens -> %lld CSA entries (1 per %d), %lld HCA; "
                "%.0fx fewer KV entries than pixels\n",
                r.name, chain->resized_width, chain->resized_height, static_cast<long long>(chain->patches),
                static_cast<long long>(chain->merged_tokens), static_cast<long long>(chain->csa_entries), cfg.csa_ratio,
                static_cast<long long>(chain->hca_entries), chain->compression());
    for (auto f : {vprim::v4::kv_format::bf16, vprim::v4::kv_format::fp8}) {
      // Long-term cache: compressed entries and indexer keys (the 128-token raw window is transient).
      const auto u = vprim::v4::kv_usage_for(cfg, positions, f);
      double long_term = 0;
      std::printf("    %-4s", vprim::v4::to_string(f));
      for (const auto& k : u.kinds) {
        const double b = static_cast<double>(k.layers) *
                         static_cast<double>(k.compressed_per_layer * vprim::v4::entry_bytes(cfg, f) +
                                             k.index_keys_per_layer * vprim::v4::index_key_bytes(cfg, f));
        long_term += b;
        if (k.kind == vprim::v4::attention_kind::sliding) continue;
        std::printf("  %s x%d: %lld entries/layer%s = %s;", k.kind == vprim::v4::attention_kind::csa ? "CSA" : "HCA",
                    k.layers, static_cast<long long>(k.compressed_per_layer),
                    k.kind == vprim::v4::attention_kind::csa ? " + indexer keys" : "", bytes(b).c_str());
      }
      const double layers = static_cast<double>(cfg.layers.size());
      const double elem = f == vprim::v4::kv_format::fp8 ? 1.0 : 2.0;
      const double mla = static_cast<double>(positions) * layers * (512 + 64) * elem;
      const double gqa = static_cast<double>(positions) * layers * 8 * 128 * 2 * elem;
      std::printf("  total %s for %lld tokens (dense MLA %s, dense GQA %s)\n", bytes(long_term).c_str(),
                  static_cast<long long>(positions), bytes(mla).c_str(), bytes(gqa).c_str());
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const auto cfg = vprim::v4::flash_config();
  std::vector<std::pair<int, int>> sizes;
  for (int i = 1; i < argc; ++i) {
    int w = 0, h = 0;
    if (std::sscanf(argv[i], "%dx%d", &w, &h) != 2 || w <= 0 || h <= 0) {
      std::fprintf(stderr, "kv_budget: '%s' is not WIDTHxHEIGHT\nusage: kv_budget [WxH ...]\n", argv[i]);
      return 2;
    }
    sizes.emplace_back(w, h);
  }
  if (sizes.empty()) sizes = {{756, 756}, {800, 800}, {1920, 1080}, {4000, 3000}};
  std::printf("DeepSeek-V4-Flash KV cache: %zu layers, window %d, CSA 1 entry per %d tokens (+indexer key), HCA 1 per %d;\n"
              "entry %lld B bf16 / %lld B fp8, indexer key %lld B bf16 / %lld B fp8\n",
              cfg.layers.size(), cfg.sliding_window, cfg.csa_ratio, cfg.hca_ratio,
              static_cast<long long>(vprim::v4::entry_bytes(cfg, vprim::v4::kv_format::bf16)),
              static_cast<long long>(vprim::v4::entry_bytes(cfg, vprim::v4::kv_format::fp8)),
              static_cast<long long>(vprim::v4::index_key_bytes(cfg, vprim::v4::kv_format::bf16)),
              static_cast<long long>(vprim::v4::index_key_bytes(cfg, vprim::v4::kv_format::fp8)));
  for (auto [w, h] : sizes) report(w, h, cfg);
  return 0;
}

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// kv_budget [--config config.json] [--json] [WxH ...]: for each image size, the paper's chain
// (pixels -> patches -> merged tokens -> compressed KV entries), and what the DeepSeek-V4 cache
// holds for the image's tokens per layer kind, in bf16 and in the FP8 entry format, next to
// dense caches of the same depth (MLA: 512 + 64 values per token and layer; GQA: 8 KV heads x
// 128 x K,V).
// Without --config: the released V4-Flash dimensions under both token-budget rules. With
// --config: the checkpoint's own layer kinds, image budget (vision_* keys) and patch/merge sizes.
// --json: one object per image size (resized size, merged grid, image block tokens, CSA entries).
#include <cstdio>
#include <string>
#include <vector>

#include "vprim/model/v4/kv_budget.hpp"
#include "vprim/model/vision_budget.hpp"
#include "vprim/model/vision_tower.hpp"

namespace {

std::string bytes(double b) {
  char buf[32];
  if (b >= 1 << 20) std::snprintf(buf, sizeof buf, "%.2f MiB", b / (1 << 20));
  else if (b >= 1 << 10) std::snprintf(buf, sizeof buf, "%.1f KiB", b / (1 << 10));
  else std::snprintf(buf, sizeof buf, "%.0f B", b);
  return buf;
}

struct rule {
  std::string name;
  vprim::token_budget_policy budget;
};

//! What the tool reports on: a decoder, its image budget rules and the tower's patch and merge.
struct model {
  vprim::v4::config cfg;
  std::vector<rule> rules;
  int patch = 14, merge = 3;
};

void report(int w, int h, const model& m) {
  const auto& cfg = m.cfg;
  std::printf("\n%d x %d image (%lld pixels)\n", w, h, static_cast<long long>(w) * h);
  for (const rule& r : m.rules) {
    auto chain = vprim::v4::chain_for_image(w, h, r.budget, cfg.csa_ratio, cfg.hca_ratio, m.patch, m.merge);
    if (!chain) {
      std::printf("  %-30s %s\n", r.name.c_str(), chain.err().describe().c_str());
      continue;
    }
    // LLM positions the image takes: the sentinel block for Vision-Exp, the merged tokens otherwise.
    std::int64_t positions = chain->merged_tokens;
    if (r.budget.rule == vprim::budget_rule::vision_exp)
      positions = vprim::plan_vision_exp(w, h, r.budget, m.patch, m.merge)->block_tokens;
    std::printf("  %-30s resized %dx%d: %lld patches -> %lld tokens -> %lld CSA entries (1 per %d), %lld HCA; "
                "%.0fx fewer KV entries than pixels\n",
                r.name.c_str(), chain->resized_width, chain->resized_height, static_cast<long long>(chain->patches),
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

//! One JSON object per image size under the model's first (Vision-Exp) rule.
int report_json(const std::vector<std::pair<int, int>>& sizes, const model& m) {
  std::printf("[");
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    const auto [w, h] = sizes[i];
    auto p = vprim::plan_vision_exp(w, h, m.rules.front().budget, m.patch, m.merge);
    if (!p) {
      std::fprintf(stderr, "kv_budget: %dx%d: %s\n", w, h, p.err().describe().c_str());
      return 1;
    }
    std::printf("%s\n  {\"width\": %d, \"height\": %d, \"resized_width\": %d, \"resized_height\": %d, "
                "\"stretched\": %s, \"patch_rows\": %d, \"patch_cols\": %d, \"grid_rows\": %d, \"grid_cols\": %d, "
                "\"image_tokens\": %d, \"block_tokens\": %d, \"csa_entries\": %d, \"hca_entries\": %d}",
                i == 0 ? "" : ",", w, h, p->target_width, p->target_height, p->stretch ? "true" : "false", p->n_vit_h,
                p->n_vit_w, p->n_llm_h, p->n_llm_w, p->merged_tokens(), p->block_tokens,
                p->merged_tokens() / m.cfg.csa_ratio, p->merged_tokens() / m.cfg.hca_ratio);
  }
  std::printf("\n]\n");
  return 0;
}

//! The checkpoint's config.json: decoder, image budget, tower patch and merge.
vprim::result<model> model_from_file(const std::string& path) {
  auto j = vprim::read_json_file(path);
  if (!j) return j.err();
  auto cfg = vprim::v4::config_from_json(*j);
  if (!cfg) return cfg.err();
  model m{*cfg, {}, 14, 3};
  auto budget = vprim::vision_budget_from_json(*j);
  if (!budget) return budget.err();
  m.rules.push_back({"Vision-Exp (" + path + ")", *budget});
  auto tower = vprim::tower_config_from_json(*j, vprim::tower_kind::deepseek_vit);
  if (!tower) return tower.err();
  m.patch = tower->patch;
  m.merge = tower->merge;
  return m;
}

void print_layers(const vprim::v4::config& cfg) {
  int kinds[3] = {0, 0, 0}, hash = 0;
  std::string pattern;
  for (std::size_t l = 0; l < cfg.layers.size(); ++l) {
    ++kinds[static_cast<int>(cfg.layers[l])];
    pattern += cfg.layers[l] == vprim::v4::attention_kind::sliding ? 'S' : cfg.layers[l] == vprim::v4::attention_kind::csa ? 'C' : 'H';
    hash += cfg.mlps[l] == vprim::v4::mlp_kind::hash_moe ? 1 : 0;
  }
  std::printf("layers: %zu = %d sliding, %d CSA (1 entry per %d, indexer top-%d), %d HCA (1 per %d); %d hash-routed; "
              "experts %d (top-%d, %d shared)%s\n  kinds: %s\n",
              cfg.layers.size(), kinds[0], kinds[1], cfg.csa_ratio, cfg.index_topk, kinds[2], cfg.hca_ratio, hash,
              cfg.routed_experts, cfg.top_k, cfg.shared_experts, cfg.mxfp4_experts ? ", MXFP4" : "", pattern.c_str());
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::pair<int, int>> sizes;
  std::string config_path;
  bool json = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      json = true;
      continue;
    }
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
      continue;
    }
    int w = 0, h = 0;
    if (std::sscanf(argv[i], "%dx%d", &w, &h) != 2 || w <= 0 || h <= 0) {
      std::fprintf(stderr, "kv_budget: '%s' is not WIDTHxHEIGHT\nusage: kv_budget [--config config.json] [--json] [WxH ...]\n",
                   argv[i]);
      return 2;
    }
    sizes.emplace_back(w, h);
  }
  if (sizes.empty()) sizes = {{756, 756}, {800, 800}, {1920, 1080}, {4000, 3000}};
  model m{vprim::v4::flash_config(),
          {{"Vision-Exp (released)", vprim::presets::vision_exp_budget},
           {"paper 81..384 (smart resize)", vprim::presets::paper_budget}},
          14,
          3};
  if (!config_path.empty()) {
    auto loaded = model_from_file(config_path);
    if (!loaded) {
      std::fprintf(stderr, "kv_budget: %s\n", loaded.err().describe().c_str());
      return 1;
    }
    m = std::move(*loaded);
  }
  if (json) return report_json(sizes, m);
  const auto& cfg = m.cfg;
  std::printf("%s KV cache: %zu layers, window %d, CSA 1 entry per %d tokens (+indexer key), HCA 1 per %d;\n"
              "entry %lld B bf16 / %lld B fp8, indexer key %lld B bf16 / %lld B fp8\n",
              config_path.empty() ? "DeepSeek-V4-Flash" : config_path.c_str(), cfg.layers.size(), cfg.sliding_window,
              cfg.csa_ratio, cfg.hca_ratio,
              static_cast<long long>(vprim::v4::entry_bytes(cfg, vprim::v4::kv_format::bf16)),
              static_cast<long long>(vprim::v4::entry_bytes(cfg, vprim::v4::kv_format::fp8)),
              static_cast<long long>(vprim::v4::index_key_bytes(cfg, vprim::v4::kv_format::bf16)),
              static_cast<long long>(vprim::v4::index_key_bytes(cfg, vprim::v4::kv_format::fp8)));
  print_layers(cfg);
  if (!config_path.empty())
    std::printf("image budget: %d tokens per block (%d kept for the alignment pad), min %d pixels, max %d:1, "
                "patch %d, merge %dx%d\n",
                m.rules.front().budget.max_tokens, m.rules.front().budget.reserved_pad, m.rules.front().budget.min_pixels,
                m.rules.front().budget.max_aspect, m.patch, m.merge, m.merge);
  for (auto [w, h] : sizes) report(w, h, m);
  return 0;
}

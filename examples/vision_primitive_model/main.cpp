// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The vision-primitive model assembled from vprim's public headers, as an engine would do it:
//
//   image -> resize plan -> pixels -> vision tower -> merger -> image features spliced into the
//   prompt -> DeepSeek-V4 decoder with its streaming KV cache -> greedy decoding
//
// Default: the bundled model (tests/data: the Qwen2-VL tower of vision_public and the
// DeepSeek-V4 decoder of deepseek_v4_public, small random weights written by the peers) on the
// bundled image tensor, checked against the tokens transformers generated (vlm_public).
// --image FILE runs a PNG/JPEG through the same model; the image span grows to its token count.
//
//   vision_primitive_model [--data DIR] [--image FILE] [--tokens N] [--threads N] [--json]
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "../common/image_files.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/image/preprocess.hpp"
#include "vprim/model/v4/generate.hpp"
#include "vprim/model/v4/kv_budget.hpp"
#include "vprim/model/vision_tower.hpp"

namespace {

struct options {
  std::string data = VPRIM_EXAMPLE_DATA_DIR;
  std::string image;
  int tokens = -1;  // -1: as many as the golden recorded
  int threads = 2;
  bool json = false;
};

using clock_type = std::chrono::steady_clock;
double ms_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count();
}

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "vision_primitive_model: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T need(vprim::result<T> r, const char* what) {
  if (!r) fail(std::string(what) + ": " + r.err().describe());
  return std::move(*r);
}

vprim::safetensors_file open(const std::string& path) { return need(vprim::safetensors_file::open(path), "reading weights"); }

vprim::json_value config_of(const vprim::safetensors_file& f, const std::string& path) {
  const auto text = f.meta("config");
  if (!text) fail(path + " has no config in its metadata");
  return need(vprim::parse_json(*text), "parsing config");
}

vprim::rgb_image load_image(const std::string& path) { return need(examples::load_image(path), "reading the image"); }

const char* kind_name(vprim::v4::attention_kind k) {
  return k == vprim::v4::attention_kind::sliding ? "sliding" : k == vprim::v4::attention_kind::csa ? "CSA" : "HCA";
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail("option " + a + " needs a value");
      return argv[++i];
    };
    if (a == "--data") opt.data = value();
    else if (a == "--image") opt.image = value();
    else if (a == "--tokens") opt.tokens = std::stoi(value());
    else if (a == "--threads") opt.threads = std::stoi(value());
    else if (a == "--json") opt.json = true;
    else if (a == "--help" || a == "-h") {
      std::printf("usage: vision_primitive_model [--data DIR] [--image FILE] [--tokens N] [--threads N] [--json]\n");
      return 0;
    } else {
      fail("unknown option '" + a + "' (see --help)");
    }
  }
  const auto t_start = clock_type::now();
  const auto vlm = open(opt.data + "/vlm_public.safetensors");
  const auto vision_file = open(opt.data + "/vision_public.safetensors");
  const auto llm_file = open(opt.data + "/deepseek_v4_public.safetensors");
  const auto tower_cfg = need(vprim::tower_config_from_json(config_of(vision_file, "vision_public"), vprim::tower_kind::qwen2_vl),
                              "vision config");
  const auto llm_cfg = need(vprim::v4::config_from_json(config_of(llm_file, "deepseek_v4_public")), "decoder config");
  const auto golden_ids = need(vlm.to_i64("input_ids"), "prompt");
  const auto placeholder = need(vlm.to_i64("image_token_id"), "image token id")[0];
  const auto golden_tokens = need(vlm.to_i64("generated"), "golden tokens");
  const std::size_t steps = opt.tokens > 0 ? static_cast<std::size_t>(opt.tokens) : golden_tokens.size();
  const double t_load = ms_since(t_start);

  // Pixels: the bundled (already normalised) tensor, or a decoded image through Qwen2-VL's path.
  auto t0 = clock_type::now();
  std::vector<float> chw;
  int height = 0, width = 0, src_w = 0, src_h = 0;
  if (opt.image.empty()) {
    chw = need(vision_file.to_f32("pixels_chw"), "bundled pixels");
    const auto* e = vision_file.find("pixels_chw");
    height = static_cast<int>(e->shape[1]);
    width = static_cast<int>(e->shape[2]);
    src_w = width;
    src_h = height;
  } else {
    const auto img = load_image(opt.image);
    src_w = img.width;
    src_h = img.height;
    const auto plan = need(vprim::plan_smart_resize(img.height, img.width, vprim::presets::paper_budget, tower_cfg.patch,
                                                    tower_cfg.merge),
                           "resize plan");
    auto px = need(vprim::preprocess_smart_resize(img, plan), "preprocessing");
    chw = std::move(px.chw);
    height = px.height;
    width = px.width;
  }
  const int gh = height / tower_cfg.patch, gw = width / tower_cfg.patch;
  const auto patches = need(vprim::patchify(chw, tower_cfg.channels, height, width, tower_cfg.patch), "patchify");
  const double t_pixels = ms_since(t0);

  vprim::thread_pool_executor pool(opt.threads);
  std::vector<float> features, merged;
  double t_tower = 0, t_merge = 0, t_prefill = 0, t_decode = 0, t_weights = 0;
  std::vector<std::int64_t> prompt, generated;
  std::vector<vprim::v4::layer_cache> layer_state;
  const char* arch_name = "";
  vprim::cpu::dispatch_cpu([&](auto arch) {
    arch_name = decltype(arch)::name();
    auto tw = clock_type::now();
    const auto tower = need(vprim::vision_tower<vprim::presets::deepseek_vit_patch, vprim::presets::qwen2_vl_merge>::load(
                                arch, vision_file, tower_cfg, "weight.", "weight.merger."),
                            "loading the vision tower");
    const vprim::weight_source src = vprim::weights_from(llm_file, "weight.");
    const vprim::v4::index_source ids = [&](const std::string& name) { return llm_file.to_i64("weight." + name); };
    const auto model = need(vprim::v4::decoder::load(arch, src, ids, llm_cfg), "loading the decoder");
    t_weights = ms_since(tw);

    t0 = clock_type::now();
    if (tower.encode(arch, patches.data(), gh, gw, features, pool) != vprim::status::ok) fail("the vision tower failed");
    t_tower = ms_since(t0);
    t0 = clock_type::now();
    if (tower.merge(arch, features, gh, gw, merged, pool) != vprim::status::ok) fail("the merger failed");
    t_merge = ms_since(t0);

    // The prompt: the recorded prompt's text tokens around one placeholder per image feature.
    const std::size_t n_image = merged.size() / static_cast<std::size_t>(llm_cfg.hidden);
    std::size_t first = 0, last = golden_ids.size();
    while (first < golden_ids.size() && golden_ids[first] != placeholder) ++first;
    while (last > first && golden_ids[last - 1] != placeholder) --last;
    prompt.assign(golden_ids.begin(), golden_ids.begin() + static_cast<std::ptrdiff_t>(first));
    prompt.insert(prompt.end(), n_image, placeholder);
    prompt.insert(prompt.end(), golden_ids.begin() + static_cast<std::ptrdiff_t>(last), golden_ids.end());

    auto emb = need(model.embed(prompt.data(), prompt.size()), "embedding the prompt");
    vprim::error why;
    if (vprim::v4::splice_features(emb, prompt.data(), prompt.size(), static_cast<std::size_t>(llm_cfg.hidden), placeholder,
                                   merged.data(), n_image, &why) != vprim::status::ok)
      fail(why.describe());
    auto cache = model.new_cache();
    t0 = clock_type::now();
    std::size_t produced = 0;
    auto t_first = clock_type::now();
    auto gen = need(vprim::v4::greedy_generate(arch, model, cache, emb, prompt, steps, pool,
                                               [&](std::int64_t) {
                                                 if (produced++ == 0) {
                                                   t_prefill = ms_since(t0);
                                                   t_first = clock_type::now();
                                                 }
                                                 if (!opt.json) std::fprintf(stderr, "\rdecoding %zu/%zu", produced, steps);
                                                 return true;
                                               }),
                    "generation");
    if (!opt.json) std::fprintf(stderr, "\n");
    t_decode = ms_since(t_first);
    generated = gen.tokens;
    layer_state = cache.layers;
  });

  const bool bundled = opt.image.empty();
  const bool matches = bundled && generated == golden_tokens;
  const std::int64_t merged_tokens = static_cast<std::int64_t>(merged.size()) / llm_cfg.hidden;
  if (opt.json) {
    std::string image_json;
    vprim::append_json_string(image_json, bundled ? "bundled" : opt.image);
    std::printf("{\"image\":%s,\"arch\":\"%s\",\"threads\":%d,\"source\":[%d,%d],\"resized\":[%d,%d],"
                "\"patches\":%d,\"merged_tokens\":%lld,\"prompt_tokens\":%zu,\"generated\":[",
                image_json.c_str(), arch_name, opt.threads, src_w, src_h, width, height, gh * gw,
                static_cast<long long>(merged_tokens), prompt.size());
    for (std::size_t i = 0; i < generated.size(); ++i) std::printf("%s%lld", i ? "," : "", static_cast<long long>(generated[i]));
    std::printf("],\"matches_golden\":%s,\"kv\":[", bundled ? (matches ? "true" : "false") : "null");
    for (std::size_t l = 0; l < layer_state.size(); ++l)
      std::printf("%s{\"layer\":%zu,\"kind\":\"%s\",\"raw\":%zu,\"entries\":%zu,\"indexer_keys\":%zu}", l ? "," : "", l,
                  kind_name(llm_cfg.layers[l]), layer_state[l].window.size(), layer_state[l].main.count, layer_state[l].index.count);
    std::printf("],\"ms\":{\"load\":%.3f,\"weights\":%.3f,\"pixels\":%.3f,\"tower\":%.3f,\"merger\":%.3f,\"prefill\":%.3f,"
                "\"decode\":%.3f}}\n",
                t_load, t_weights, t_pixels, t_tower, t_merge, t_prefill, t_decode);
    return bundled && !matches ? 1 : 0;
  }
  std::printf("vprim %d.%d.%d: vision-primitive model on %s, %d threads\n", VPRIM_VERSION_MAJOR, VPRIM_VERSION_MINOR,
              VPRIM_VERSION_PATCH, arch_name, opt.threads);
  std::printf("  tower    Qwen2-VL, %d layers, width %d, %d heads, %dx%d merge (token-major)\n", tower_cfg.layers,
              tower_cfg.width, tower_cfg.heads, tower_cfg.merge, tower_cfg.merge);
  std::printf("  decoder  DeepSeek-V4, %zu layers [", llm_cfg.layers.size());
  for (std::size_t l = 0; l < llm_cfg.layers.size(); ++l)
    std::printf("%s%s%s", l ? ", " : "", kind_name(llm_cfg.layers[l]),
                llm_cfg.layers[l] == vprim::v4::attention_kind::sliding ? "" : (" " + std::to_string(llm_cfg.ratio(llm_cfg.layers[l]))).c_str());
  std::printf("], hidden %d, %d experts top-%d, window %d\n", llm_cfg.hidden, llm_cfg.routed_experts, llm_cfg.top_k,
              llm_cfg.sliding_window);
  std::printf("\n  stage                                  size                     time\n");
  std::printf("  image %-32s %5d x %-5d px      %8.2f ms (decode + resize + normalise)\n",
              bundled ? "(bundled tensor, normalised)" : opt.image.c_str(), src_w, src_h, t_pixels);
  std::printf("  resized to                             %5d x %-5d px\n", width, height);
  std::printf("  patches (%dx%d)                        %5d x %-5d = %-5d  %8.2f ms (tower)\n", tower_cfg.patch,
              tower_cfg.patch, gw, gh, gw * gh, t_tower);
  std::printf("  merged tokens (%dx%d)                   %5d x %-5d = %-5lld  %8.2f ms (merger)\n", tower_cfg.merge,
              tower_cfg.merge, gw / tower_cfg.merge, gh / tower_cfg.merge, static_cast<long long>(merged_tokens), t_merge);
  std::printf("  prompt                                 %zu tokens (%lld image)   %8.2f ms (prefill)\n", prompt.size(),
              static_cast<long long>(merged_tokens), t_prefill);
  std::printf("  decode                                 %zu tokens            %8.2f ms/token\n", generated.size(),
              generated.empty() ? 0.0 : t_decode / static_cast<double>(generated.size()));
  std::printf("\n  KV cache after %zu tokens (per layer):\n", prompt.size() + generated.size());
  for (std::size_t l = 0; l < layer_state.size(); ++l) {
    std::printf("    layer %zu %-8s %3zu raw", l, kind_name(llm_cfg.layers[l]), layer_state[l].window.size());
    if (llm_cfg.layers[l] != vprim::v4::attention_kind::sliding)
      std::printf(" + %zu compressed (1 per %d tokens)", layer_state[l].main.count, llm_cfg.ratio(llm_cfg.layers[l]));
    if (llm_cfg.layers[l] == vprim::v4::attention_kind::csa) std::printf(" + %zu indexer keys", layer_state[l].index.count);
    std::printf("\n");
  }
  std::printf("\n  generated:");
  for (auto t : generated) std::printf(" %lld", static_cast<long long>(t));
  std::printf("\n");
  if (bundled) {
    std::printf("  golden:   ");
    for (auto t : golden_tokens) std::printf(" %lld", static_cast<long long>(t));
    std::printf("\n  %s\n", matches ? "identical to the tokens transformers generated (vlm_public)"
                                     : "DIFFERENT from the tokens transformers generated");
  }
  std::printf("  (the bundled weights are random, so the tokens are ids without a tokenizer; reading primitives\n"
              "   out of real transcripts and drawing them comes with the primitive toolkit)\n");
  return bundled && !matches ? 1 : 0;
}

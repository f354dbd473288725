// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The vision-primitive model assembled from vprim's public headers, as an engine would do it:
//
//   image -> resize plan -> pixels -> vision tower -> merger/aligner -> image features in the
//   prompt -> DeepSeek-V4 decoder with its streaming KV cache -> greedy or top-p decoding ->
//   streaming primitive parser -> overlay PNG of every box and point -> final answer
//
// Default: the trained shapes model (shapes_model/, trained by tools/shapes/train.py, written in
// the release's layout) on the bundled shapes scene with "How many shapes?" (--image FILE and
// --prompt TEXT change them): it answers in boxes and a count, drawn on the overlay.
// --golden: the bundled peer model (tests/data: the Qwen2-VL tower of vision_public and the
// DeepSeek-V4 decoder of deepseek_v4_public, small random weights written by the peers) on the
// bundled image tensor, checked against the tokens transformers generated (vlm_public). The
// features replace the prompt's placeholder tokens (the golden's arrangement). With --image FILE
// a PNG/JPEG goes through the same model; the placeholder span grows to fit.
// --checkpoint DIR runs a checkpoint in the release's own layout (config.json with the release's
// keys, sharded safetensors with DeepSeek's names, FP8/MXFP4 weights, tokenizer.json): the
// image goes through the checkpoint's own Vision-Exp budget into the release's image block
// (out-of-vocabulary ids, named sentinels, bias_vl routing); the prompt is --prompt TEXT (the
// user's turn, after the image, in the release's chat format) or --prompt-ids with the
// placeholder id <｜deepseek_image｜> where the image goes. Checkpoint runs stop at the config's
// eos_token_id (or after --tokens, 256 by default).
// --random-weights builds the released dimensions instead (DeepSeek-ViT + aligner, V4-Flash
// decoder layers with 256 bf16 experts) with invented weights, for timing: the image goes
// through the Vision-Exp resize rule and into the N-layout image block with sentinels (the
// DeepSeek arrangement).
//
//   vision_primitive_model [--image FILE] [--prompt TEXT] [--tokens N] [--threads N] [--json]
//                          [--temperature T] [--top-p P] [--seed S] [--vocab tokenizer.json]
//                          [--overlay OUT.png] [--colour auto|always|never]
//                          [--golden [--data DIR]]
//                          [--random-weights [--preset released|golden] [--layers N] [--vit-layers N]]
//                          [--checkpoint DIR (--prompt TEXT | --prompt-ids 0,523,...)]
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "../common/image_files.hpp"
#include "transcript.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/image/preprocess.hpp"
#include "vprim/io/checkpoint.hpp"
#include "vprim/io/tokenizer.hpp"
#include "vprim/model/quantized_weights.hpp"
#include "vprim/model/v4/checkpoint_names.hpp"
#include "vprim/model/vision_budget.hpp"
#include "vprim/model/random_weights.hpp"
#include "vprim/model/v4/kv_budget.hpp"
#include "vprim/model/vision_language.hpp"
#include "vprim/primitives/json_report.hpp"
#include "vprim/primitives/render.hpp"

namespace {

struct options {
  std::string data = VPRIM_EXAMPLE_DATA_DIR;
  std::string image;
  std::string vocab;
  std::string overlay = "vision_primitive_model_overlay.png";
  std::string colour = "auto";
  int tokens = -1;  // -1: as many as the golden recorded (8 with random weights, 256 or EOS with a checkpoint)
  int threads = 2;
  bool json = false;
  bool random_weights = false;
  bool golden = false;   // the bundled peer model instead of the trained shapes model
  bool shapes = false;   // the default: the trained shapes model
  int layers = 1;       // random weights: decoder layers (CSA, HCA, CSA, ...)
  int vit_layers = -1;  // random weights: ViT depth (-1: the preset's)
  std::string preset = "released";  // random weights: released | golden (the tiny test dimensions)
  std::string checkpoint;           // a release-layout directory
  std::string prompt;               // with --checkpoint: the user's text
  std::vector<std::int64_t> prompt_ids;  // with --checkpoint: ids, the image placeholder where the image goes
  bool dequantize = false;               // with a checkpoint: widen FP8/MXFP4 weights to fp32 at load
  bool act_quant = false;                // with a checkpoint as shipped: the reference's e4m3 activations
  vprim::v4::kv_cache_dtype kv_cache = vprim::v4::kv_cache_dtype::fp32;  // --kv-cache fp8: the release's FP8 entries
  vprim::v4::sampling_params sampling;
};

using clock_type = std::chrono::steady_clock;
double ms_since(clock_type::time_point t0) { return std::chrono::duration<double, std::milli>(clock_type::now() - t0).count(); }

[[noreturn]] void fail(const std::string& what) {
  std::fprintf(stderr, "vision_primitive_model: %s\n", what.c_str());
  std::exit(1);
}

template <class T>
T need(vprim::result<T> r, const char* what) {
  if (!r) fail(std::string(what) + ": " + r.err().describe());
  return std::move(*r);
}

double peak_rss_gib() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / (1024.0 * 1024.0);  // ru_maxrss is in KiB on Linux
}

const char* kind_name(vprim::v4::attention_kind k) {
  return k == vprim::v4::attention_kind::sliding ? "sliding" : k == vprim::v4::attention_kind::csa ? "CSA" : "HCA";
}

options parse_options(int argc, char** argv) {
  options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) fail("option " + a + " needs a value");
      return argv[++i];
    };
    auto number = [&](auto parse) {
      const std::string v = value();
      try {
        std::size_t used = 0;
        auto x = parse(v, &used);
        if (used != v.size()) throw std::invalid_argument(v);
        return x;
      } catch (const std::exception&) {
        fail("option " + a + " expects a number, got '" + v + "'");
      }
    };
    auto to_int = [](const std::string& s, std::size_t* used) { return std::stoi(s, used); };
    auto to_double = [](const std::string& s, std::size_t* used) { return std::stod(s, used); };
    if (a == "--data") opt.data = value();
    else if (a == "--image") opt.image = value();
    else if (a == "--vocab") opt.vocab = value();
    else if (a == "--overlay") opt.overlay = value();
    else if (a == "--colour" || a == "--color") opt.colour = value();
    else if (a == "--preset") opt.preset = value();
    else if (a == "--tokens") opt.tokens = number(to_int);
    else if (a == "--threads") opt.threads = number(to_int);
    else if (a == "--layers") opt.layers = number(to_int);
    else if (a == "--vit-layers") opt.vit_layers = number(to_int);
    else if (a == "--temperature") opt.sampling.temperature = number(to_double);
    else if (a == "--top-p") opt.sampling.top_p = number(to_double);
    else if (a == "--seed") opt.sampling.seed = static_cast<std::uint64_t>(number(to_int));
    else if (a == "--json") opt.json = true;
    else if (a == "--random-weights") opt.random_weights = true;
    else if (a == "--golden") opt.golden = true;
    else if (a == "--dequantize") opt.dequantize = true;
    else if (a == "--act-quant") opt.act_quant = true;
    else if (a == "--kv-cache") {
      const std::string v = value();
      if (v != "fp32" && v != "fp8") fail("--kv-cache expects fp32 or fp8, got '" + v + "'");
      opt.kv_cache = v == "fp8" ? vprim::v4::kv_cache_dtype::fp8 : vprim::v4::kv_cache_dtype::fp32;
    }
    else if (a == "--checkpoint") opt.checkpoint = value();
    else if (a == "--prompt") opt.prompt = value();
    else if (a == "--prompt-ids") {
      const std::string v = value();
      for (std::size_t at = 0; at < v.size();) {
        const std::size_t comma = std::min(v.find(',', at), v.size());
        try {
          std::size_t used = 0;
          const std::string item = v.substr(at, comma - at);
          opt.prompt_ids.push_back(std::stoll(item, &used));
          if (used != item.size() || opt.prompt_ids.back() < 0) throw std::invalid_argument(item);
        } catch (const std::exception&) {
          fail("--prompt-ids expects non-negative integers separated by commas, got '" + v + "'");
        }
        at = comma + 1;
      }
    } else if (a == "--help" || a == "-h") {
      std::printf(
          "usage: vision_primitive_model [--image FILE] [--prompt TEXT] [--tokens N] [--threads N] [--json]\n"
          "                              [--temperature T] [--top-p P] [--seed S] [--vocab tokenizer.json]\n"
          "                              [--overlay OUT.png] [--colour auto|always|never]\n"
          "                              [--golden [--data DIR]]\n"
          "                              [--random-weights [--preset released|golden] [--layers N] [--vit-layers N]]\n"
          "                              [--checkpoint DIR (--prompt TEXT | --prompt-ids 0,523,...)]\n"
          "                              [--dequantize | --act-quant]\n"
          "                              [--kv-cache fp32|fp8]\n");
      std::exit(0);
    } else {
      fail("unknown option '" + a + "' (see --help)");
    }
  }
  if (std::string why; vprim::v4::check(opt.sampling, &why) != vprim::status::ok) fail(why);
  if (opt.threads < 1 || opt.threads > 256) fail("--threads must be within 1..256");
  if (opt.layers < 1 || opt.layers > 43) fail("--layers must be within 1..43");
  if (opt.colour != "auto" && opt.colour != "always" && opt.colour != "never") fail("--colour must be auto, always or never");
  if (opt.preset != "released" && opt.preset != "golden") fail("--preset must be released or golden");
  if (!opt.checkpoint.empty() && opt.random_weights) fail("--checkpoint and --random-weights exclude each other");
  if (opt.golden && (opt.random_weights || !opt.checkpoint.empty())) fail("--golden excludes --random-weights and --checkpoint");
  if (!opt.checkpoint.empty() && opt.prompt.empty() == opt.prompt_ids.empty())
    fail("--checkpoint needs one of --prompt TEXT and --prompt-ids");
  if (opt.act_quant && (opt.dequantize || opt.golden || opt.random_weights))
    fail("--act-quant rounds the activations of FP8/MXFP4 weights as shipped: it goes with a checkpoint, not with "
         "--dequantize, --golden or --random-weights");
  if ((opt.golden || opt.random_weights) && (!opt.prompt.empty() || !opt.prompt_ids.empty()))
    fail("--prompt and --prompt-ids go with a checkpoint (the default shapes model or --checkpoint)");
  if (!opt.golden && !opt.random_weights && opt.checkpoint.empty()) {  // the default: the trained shapes model
    opt.shapes = true;
    opt.checkpoint = VPRIM_SHAPES_MODEL_DIR;
    if (opt.prompt.empty() && opt.prompt_ids.empty()) opt.prompt = "How many shapes?";
    if (opt.image.empty()) opt.image = VPRIM_SHAPES_SCENE;
  }
  return opt;
}

//! What a run produced, for the report.
struct run {
  std::string tower, decoder_desc, arrangement;
  vprim::rgb_image picture;  // the image the overlay is drawn on
  int src_w = 0, src_h = 0, width = 0, height = 0, grid_h = 0, grid_w = 0, merge = 0;
  std::int64_t merged = 0;
  std::size_t prompt = 0, block_begin = 0, block_size = 0;
  vprim::v4::config cfg;
  std::vector<std::int64_t> generated, golden;
  std::vector<vprim::v4::layer_held> kv;
  std::size_t kv_row_bytes = 0, kv_key_bytes = 0, kv_pool_bytes = 0;  // as the cache stores them
  const char* kv_dtype = "fp32";
  double ms_weights = 0, ms_pixels = 0, ms_tower = 0, ms_prefill = 0, ms_decode = 0;
  std::size_t decoder_resident = 0, decoder_file = 0;  // checkpoints: the decoder's weight bytes held / as stored
  std::size_t decoder_lowbit = 0;                      // of decoder_file, the FP8 / packed-FP4 codes
  const char* arch = "";
};

//! What the cache holds after a run: rows per layer, and the bytes of a row as its pool stores them.
void record_kv(run& r, const vprim::v4::decoder& d, const vprim::v4::sequence_cache& cache) {
  r.kv = d.held(cache.next_position);
  const auto& L = cache.pool.layout();
  r.kv_row_bytes = L.row_format.bytes();
  r.kv_key_bytes = L.key_format.bytes();
  r.kv_pool_bytes = L.bytes();
  r.kv_dtype = L.dtype == vprim::v4::kv_cache_dtype::fp8 ? "fp8" : "fp32";
}

//! Generation with the streaming parser attached and a progress line.
template <class Model, class Arch, class Exec>
vprim::v4::generation generate_streaming(Arch arch, const Model& model, const std::vector<float>& embeddings,
                                         const std::vector<std::int64_t>& ids, std::size_t steps, const options& opt,
                                         examples::transcript& text, vprim::v4::sequence_cache& cache, Exec& pool, run& r,
                                         std::int64_t eos = -1) {
  vprim::v4::sampler choose(opt.sampling);
  std::size_t produced = 0;
  const auto t0 = clock_type::now();
  auto t_first = t0;
  auto gen = need(vprim::v4::generate(arch, model, cache, embeddings, ids, steps, choose, pool,
                                      [&](std::int64_t id) {
                                        if (produced++ == 0) {
                                          r.ms_prefill = ms_since(t0);
                                          t_first = clock_type::now();
                                        }
                                        text.feed(id);
                                        if (!opt.json) std::fprintf(stderr, "\rdecoding %zu/%zu", produced, steps);
                                        return id != eos;
                                      }),
                  "generation");
  if (!opt.json) std::fprintf(stderr, "\n");
  r.ms_decode = ms_since(t_first);
  return gen;
}

//! The tower and merger on the image's patches, timed; fills r.merged.
template <class Model, class Arch, class Exec>
std::vector<float> image_features(Arch arch, const Model& model, const std::vector<float>& patches, Exec& pool, run& r) {
  const auto t0 = clock_type::now();
  auto features = need(model.image_features(arch, patches.data(), r.grid_h, r.grid_w, pool), "image features");
  r.ms_tower = ms_since(t0);
  r.merged = static_cast<std::int64_t>(features.size() / model.hidden());
  return features;
}

// --- the bundled golden model: Qwen2-VL tower, placeholder arrangement --------------------------

run run_bundled(const options& opt, examples::transcript& text, vprim::thread_pool_executor& pool) {
  auto open = [](const std::string& path) { return need(vprim::safetensors_file::open(path), "reading weights"); };
  auto config_of = [](const vprim::safetensors_file& f, const char* what) {
    const auto cfg = f.meta("config");
    if (!cfg) fail(std::string(what) + " has no config in its metadata");
    return need(vprim::parse_json(*cfg), "parsing a config");
  };
  const auto vlm = open(opt.data + "/vlm_public.safetensors");
  const auto vision_file = open(opt.data + "/vision_public.safetensors");
  const auto llm_file = open(opt.data + "/deepseek_v4_public.safetensors");
  const auto tcfg = need(vprim::tower_config_from_json(config_of(vision_file, "vision_public"), vprim::tower_kind::qwen2_vl),
                         "vision config");
  run r;
  r.cfg = need(vprim::v4::config_from_json(config_of(llm_file, "deepseek_v4_public")), "decoder config");
  const auto golden_ids = need(vlm.to_i64("input_ids"), "prompt");
  const auto placeholder = need(vlm.to_i64("image_token_id"), "image token id").at(0);
  r.golden = need(vlm.to_i64("generated"), "golden tokens");
  const std::size_t steps = opt.tokens > 0 ? static_cast<std::size_t>(opt.tokens) : r.golden.size();
  r.tower = "Qwen2-VL, " + std::to_string(tcfg.layers) + " layers, width " + std::to_string(tcfg.width) + ", " +
            std::to_string(tcfg.heads) + " heads, " + std::to_string(tcfg.merge) + "x" + std::to_string(tcfg.merge) +
            " merge (token-major)";
  r.arrangement = "image features replace the prompt's placeholder tokens (the golden's arrangement)";
  r.merge = tcfg.merge;

  // Pixels: the bundled (already normalised) tensor, or a decoded image through Qwen2-VL's path.
  auto t0 = clock_type::now();
  std::vector<float> chw;
  if (opt.image.empty()) {
    chw = need(vision_file.to_f32("pixels_chw"), "bundled pixels");
    const auto* e = vision_file.find("pixels_chw");
    r.height = r.src_h = static_cast<int>(e->shape[1]);
    r.width = r.src_w = static_cast<int>(e->shape[2]);
    // The overlay needs RGB: undo the CLIP normalisation.
    r.picture = vprim::rgb_image::filled(r.width, r.height, 0);
    const std::size_t plane = static_cast<std::size_t>(r.width) * static_cast<std::size_t>(r.height);
    for (std::size_t i = 0; i < plane; ++i)
      for (std::size_t c = 0; c < 3; ++c) {
        const float v = (chw[c * plane + i] * vprim::clip_pixel_stats.std[c] + vprim::clip_pixel_stats.mean[c]) * 255.0f;
        r.picture.pixels[i * 3 + c] = static_cast<std::uint8_t>(std::clamp(std::lround(v), 0L, 255L));
      }
  } else {
    r.picture = need(examples::load_image(opt.image), "reading the image");
    r.src_w = r.picture.width;
    r.src_h = r.picture.height;
    const auto plan = need(vprim::plan_smart_resize(r.src_h, r.src_w, vprim::presets::paper_budget, tcfg.patch, tcfg.merge),
                           "resize plan");
    auto px = need(vprim::preprocess_smart_resize(r.picture, plan), "preprocessing");
    chw = std::move(px.chw);
    r.height = px.height;
    r.width = px.width;
  }
  r.grid_h = r.height / tcfg.patch;
  r.grid_w = r.width / tcfg.patch;
  const auto patches = need(vprim::patchify(chw, tcfg.channels, r.height, r.width, tcfg.patch), "patchify");
  r.ms_pixels = ms_since(t0);

  vprim::cpu::dispatch_cpu([&](auto arch) {
    r.arch = decltype(arch)::name();
    auto tw = clock_type::now();
    using model_t = vprim::vision_language_model<vprim::presets::deepseek_vit_patch, vprim::presets::qwen2_vl_merge>;
    const auto model = need(model_t::load(arch, vprim::weights_from(vision_file, "weight."), tcfg, "", "merger.",
                                          vprim::weights_from(llm_file, "weight."),
                                          [&](const std::string& name) { return llm_file.to_i64("weight." + name); }, r.cfg),
                            "loading the model");
    r.ms_weights = ms_since(tw);
    const auto features = image_features(arch, model, patches, pool, r);
    const auto ids = need(vprim::fit_placeholders(golden_ids, placeholder, static_cast<std::size_t>(r.merged)), "prompt");
    r.prompt = ids.size();
    r.block_begin = static_cast<std::size_t>(std::find(ids.begin(), ids.end(), placeholder) - ids.begin());
    r.block_size = static_cast<std::size_t>(r.merged);
    auto emb = need(model.decoder().embed(ids.data(), ids.size()), "embedding the prompt");
    vprim::error why;
    if (vprim::v4::splice_features(emb, ids.data(), ids.size(), model.hidden(), placeholder, features.data(),
                                   static_cast<std::size_t>(r.merged), &why) != vprim::status::ok)
      fail(why.describe());
    auto cache = model.decoder().new_cache(ids.size() + steps, opt.kv_cache);
    r.generated = generate_streaming(arch, model.decoder(), emb, ids, steps, opt, text, cache, pool, r).tokens;
    record_kv(r, model.decoder(), cache);
  });
  return r;
}

// --- released dimensions with invented weights: DeepSeek-ViT, N-layout block --------------------

run run_random(const options& opt, examples::transcript& text, vprim::thread_pool_executor& pool) {
  const bool released = opt.preset == "released";
  const auto& vit = released ? vprim::presets::deepseek_vit : vprim::presets::golden_dsvit;
  vprim::tower_config tcfg{vprim::tower_kind::deepseek_vit, 14, 3, 3, vit.width, vit.heads,
                           opt.vit_layers > 0 ? opt.vit_layers : vit.layers, vit.intermediate, vit.aligner_out,
                           vit.rope_theta, vit.norm_eps, vprim::weight_precision::bfloat16};
  run r;
  r.cfg = released ? vprim::v4::flash_config() : vprim::v4::golden_config();
  r.cfg.layers.clear();
  r.cfg.mlps.clear();
  for (int l = 0; l < opt.layers; ++l) {  // CSA first, then alternating as in the released stack
    r.cfg.layers.push_back(l % 2 == 0 ? vprim::v4::attention_kind::csa : vprim::v4::attention_kind::hca);
    r.cfg.mlps.push_back(vprim::v4::mlp_kind::moe);
  }
  r.cfg.expert_precision = vprim::weight_precision::bfloat16;
  r.cfg.head_precision = vprim::weight_precision::bfloat16;
  const std::size_t steps = opt.tokens > 0 ? static_cast<std::size_t>(opt.tokens) : 8;
  r.tower = "DeepSeek-ViT, " + std::to_string(tcfg.layers) + " layers, width " + std::to_string(tcfg.width) + ", " +
            std::to_string(tcfg.heads) + " heads, 3x3 aligner (channel-major) to " + std::to_string(tcfg.out_dim) + ", bf16";
  r.arrangement = "N-layout image block with START/PAD/NEWLINE/END sentinels, CSA-aligned (the DeepSeek arrangement)";
  r.merge = 3;

  auto t0 = clock_type::now();
  r.picture = need(examples::load_image(opt.image.empty() ? std::string(VPRIM_EXAMPLE_SCENE) : opt.image), "reading the image");
  r.src_w = r.picture.width;
  r.src_h = r.picture.height;
  const auto plan = need(vprim::plan_vision_exp(r.src_w, r.src_h), "Vision-Exp resize plan");
  const auto px = need(vprim::preprocess_vision_exp(r.picture, plan), "preprocessing");
  r.width = px.width;
  r.height = px.height;
  r.grid_h = r.height / 14;
  r.grid_w = r.width / 14;
  const auto patches = need(vprim::patchify(px.chw, 3, r.height, r.width, 14), "patchify");
  r.ms_pixels = ms_since(t0);

  vprim::cpu::dispatch_cpu([&](auto arch) {
    r.arch = decltype(arch)::name();
    auto tw = clock_type::now();
    using model_t = vprim::vision_language_model<vprim::presets::deepseek_vit_patch, vprim::presets::deepseek_vit_merge>;
    const auto no_tables = [](const std::string& name) -> vprim::result<std::vector<std::int64_t>> {
      return vprim::make_error(vprim::status::not_found, "no hash table '" + name + "' without a checkpoint");
    };
    const auto model = need(model_t::load(arch, vprim::random_weights(), tcfg, "vision.", "aligner.", vprim::random_weights(),
                                          no_tables, r.cfg),
                            "building the model");
    r.ms_weights = ms_since(tw);
    const auto features = image_features(arch, model, patches, pool, r);
    // Prompt: BOS, the image block, then a question's worth of text tokens (invented ids).
    // <｜image｜> (a valid id in any vocabulary); the block's rows are overwritten below
    const std::int64_t image_id = std::min<std::int64_t>(129279, r.cfg.vocab - 1);
    const auto block = need(vprim::build_image_block((r.grid_h + 2) / 3, (r.grid_w + 2) / 3, 1, r.cfg.csa_ratio), "image block");
    std::vector<std::int64_t> ids = {0};
    ids.insert(ids.end(), block.types.size(), image_id);
    for (std::int64_t t = 0; t < 8; ++t) ids.push_back((2000 + t) % r.cfg.vocab);
    r.prompt = ids.size();
    r.block_begin = 1;
    r.block_size = block.types.size();
    auto emb = need(model.decoder().embed(ids.data(), ids.size()), "embedding the prompt");
    std::vector<float> sentinels(4 * model.hidden());
    vprim::fill_pattern(sentinels.data(), sentinels.size(), 4242, 0.02f);
    vprim::error why;
    if (vprim::splice_image_block(emb, model.hidden(), 1, block, features, sentinels, &why) != vprim::status::ok)
      fail(why.describe());
    auto cache = model.decoder().new_cache(ids.size() + steps, opt.kv_cache);
    r.generated = generate_streaming(arch, model.decoder(), emb, ids, steps, opt, text, cache, pool, r).tokens;
    record_kv(r, model.decoder(), cache);
  });
  return r;
}

// --- a checkpoint in the release's own layout ---------------------------------------------------

//! The checkpoint's tokenizer.json, for prompts (encoder) and transcripts (vocabulary).
struct release_tokenizer {
  vprim::bpe_tokenizer encoder;
  vprim::vocabulary vocab;
  vprim::primitives::tag_ids tags;
  std::int64_t image_placeholder = -1;
};

release_tokenizer read_release_tokenizer(const std::string& dir) {
  std::FILE* f = std::fopen((dir + "/tokenizer.json").c_str(), "rb");
  if (f == nullptr) fail("cannot open '" + dir + "/tokenizer.json'");
  std::string bytes;
  char buf[1 << 16];
  for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) bytes.append(buf, n);
  std::fclose(f);
  release_tokenizer t{need(vprim::bpe_tokenizer::from_json(bytes), "reading tokenizer.json"),
                      need(vprim::vocabulary::from_json(bytes), "reading tokenizer.json"), {}, -1};
  auto tag = [&](const char* text, std::int64_t& id) {
    if (auto found = t.encoder.token_id(text)) id = *found;
  };
  tag("<｜ref｜>", t.tags.ref);
  tag("<｜/ref｜>", t.tags.ref_end);
  tag("<｜box｜>", t.tags.box);
  tag("<｜/box｜>", t.tags.box_end);
  tag("<｜point｜>", t.tags.point);
  tag("<｜/point｜>", t.tags.point_end);
  tag("<｜deepseek_image｜>", t.image_placeholder);
  return t;
}

run run_checkpoint(const options& opt, const release_tokenizer& tok, examples::transcript& text,
                   vprim::thread_pool_executor& pool) {
  const auto config = need(vprim::read_json_file(opt.checkpoint + "/config.json"), "reading config.json");
  run r;
  r.cfg = need(vprim::v4::config_from_json(config), "config.json");
  const auto budget = need(vprim::vision_budget_from_json(config), "config.json");
  const auto tcfg = need(vprim::tower_config_from_json(config, vprim::tower_kind::deepseek_vit), "config.json");
  const auto ckpt = need(vprim::checkpoint::open(opt.checkpoint), "opening the checkpoint");
  if (tok.image_placeholder < 0) fail("tokenizer.json has no <｜deepseek_image｜> token");
  std::vector<std::int64_t> ids = opt.prompt_ids;
  if (ids.empty())  // the release's chat format: the image, a blank line, the question
    ids = need(tok.encoder.encode("<｜begin▁of▁sentence｜><｜User｜><｜deepseek_image｜>\n\n" + opt.prompt +
                                  "<｜Assistant｜></think>"),
               "encoding the prompt");
  const std::size_t steps = opt.tokens > 0 ? static_cast<std::size_t>(opt.tokens) : 256;
  std::int64_t eos = -1;  // generation stops after it
  if (const vprim::json_value* e = config.find("eos_token_id"); e != nullptr && e->as_int()) eos = *e->as_int();
  r.tower = "DeepSeek-ViT, " + std::to_string(tcfg.layers) + " layers, width " + std::to_string(tcfg.width) + ", " +
            std::to_string(tcfg.heads) + " heads, " + std::to_string(tcfg.merge) + "x" + std::to_string(tcfg.merge) +
            " aligner to " + std::to_string(tcfg.out_dim) + " (vision., aligner.)";
  r.arrangement = "the release's image block: out-of-vocabulary ids, named sentinels, bias_vl routing (" +
                  std::to_string(ckpt.shards()) + " shard(s) of " + opt.checkpoint + ")";
  r.merge = tcfg.merge;

  auto t0 = clock_type::now();
  r.picture = need(examples::load_image(opt.image.empty() ? std::string(VPRIM_EXAMPLE_SCENE) : opt.image), "reading the image");
  r.src_w = r.picture.width;
  r.src_h = r.picture.height;
  const auto plan = need(vprim::plan_vision_exp(r.src_w, r.src_h, budget, tcfg.patch, tcfg.merge), "Vision-Exp resize plan");
  const auto px = need(vprim::preprocess_vision_exp(r.picture, plan), "preprocessing");
  r.width = px.width;
  r.height = px.height;
  r.grid_h = plan.n_vit_h;
  r.grid_w = plan.n_vit_w;
  const auto patches = need(vprim::patchify(px.chw, tcfg.channels, r.height, r.width, tcfg.patch), "patchify");
  r.ms_pixels = ms_since(t0);

  vprim::cpu::dispatch_cpu([&](auto arch) {
    r.arch = decltype(arch)::name();
    auto tw = clock_type::now();
    using model_t = vprim::vision_language_model<vprim::presets::deepseek_vit_patch, vprim::presets::deepseek_vit_merge>;
    // FP8/MXFP4 weights stay as shipped and run in place, unless --dequantize widens them;
    // --act-quant rounds their activations as the reference does (e4m3 per 128), not to bf16.
    const auto activations = opt.act_quant ? vprim::lowbit_activations::e4m3_per_128 : vprim::lowbit_activations::bfloat16;
    const auto weights = opt.dequantize ? vprim::dequantized_weights_from(ckpt) : vprim::shipped_weights_from(ckpt, {}, activations);
    const vprim::v4::index_source tables = [&](const std::string& name) { return ckpt.to_i64(name); };
    const auto model = need(model_t::load(arch, weights, tcfg, "vision.", "aligner.", vprim::v4::from_official_layout(weights),
                                          vprim::v4::ids_from_official_layout(tables), r.cfg),
                            "loading the checkpoint");
    const auto sentinels = need(vprim::read_image_sentinels(weights, r.cfg.hidden), "the image sentinels");
    r.ms_weights = ms_since(tw);
    r.decoder_resident = model.decoder().resident_bytes();
    const auto in_decoder = [](const vprim::tensor_entry& e) {
      for (const char* other : {"vision.", "aligner.", "mtp.", "image_"})
        if (e.name.rfind(other, 0) == 0) return false;
      return true;
    };
    r.decoder_file = ckpt.tensor_bytes(in_decoder);
    r.decoder_lowbit = ckpt.tensor_bytes([&](const vprim::tensor_entry& e) {
      return in_decoder(e) && (e.type == vprim::dtype::f8_e4m3 || e.type == vprim::dtype::i8 || e.type == vprim::dtype::u8);
    });
    const auto features = image_features(arch, model, patches, pool, r);
    const auto prompt = need(vprim::expand_image_placeholder(ids, tok.image_placeholder, plan.n_llm_h, plan.n_llm_w,
                                                             r.cfg.vocab, r.cfg.csa_ratio),
                             "the image block");
    const auto emb = need(vprim::embed_expanded_prompt(model.decoder(), prompt, features, sentinels), "embedding the prompt");
    r.prompt = prompt.ids.size();
    r.block_begin = prompt.block_begin;
    r.block_size = prompt.block.types.size();
    auto cache = model.decoder().new_cache(prompt.ids.size() + steps, opt.kv_cache);
    r.generated = generate_streaming(arch, model.decoder(), emb, prompt.ids, steps, opt, text, cache, pool, r, eos).tokens;
    record_kv(r, model.decoder(), cache);
  });
  return r;
}

const char* weights_kind(const options& opt) {
  return opt.random_weights ? "random" : opt.golden ? "bundled" : opt.shapes ? "trained" : "checkpoint";
}

//! The bundled golden run, whose tokens are checked against transformers'.
bool is_bundled_golden(const options& opt) { return opt.golden && opt.image.empty(); }

void print_json(const options& opt, const run& r, const examples::transcript& text, bool overlay_written) {
  const auto& parsed = text.result();
  const bool bundled = is_bundled_golden(opt);
  std::string image_json, overlay_json;
  const bool scene = opt.random_weights || !opt.checkpoint.empty();
  vprim::append_json_string(image_json, opt.image.empty() ? (scene ? VPRIM_EXAMPLE_SCENE : "bundled") : opt.image);
  std::string transcript_json;
  vprim::append_json_string(transcript_json, text.text());
  vprim::append_json_string(overlay_json, opt.overlay);
  std::printf("{\"image\":%s,\"weights\":\"%s\",\"arch\":\"%s\",\"threads\":%d,\"source\":[%d,%d],\"resized\":[%d,%d],"
              "\"patches\":%d,\"merged_tokens\":%lld,\"prompt_tokens\":%zu,\"generated\":[",
              image_json.c_str(), weights_kind(opt), r.arch, opt.threads, r.src_w, r.src_h, r.width,
              r.height, r.grid_h * r.grid_w, static_cast<long long>(r.merged), r.prompt);
  for (std::size_t i = 0; i < r.generated.size(); ++i) std::printf("%s%lld", i ? "," : "", static_cast<long long>(r.generated[i]));
  std::printf("],\"transcript\":%s,\"matches_golden\":%s,\"primitives\":%s,\"overlay\":%s,\"kv\":[",
              transcript_json.c_str(), bundled ? (r.generated == r.golden ? "true" : "false") : "null",
              vprim::primitives::to_json(parsed).c_str(),
              overlay_written ? overlay_json.c_str() : "null");
  for (std::size_t l = 0; l < r.kv.size(); ++l)
    std::printf("%s{\"layer\":%zu,\"kind\":\"%s\",\"raw\":%zu,\"entries\":%zu,\"indexer_keys\":%zu}", l ? "," : "", l,
                kind_name(r.cfg.layers[l]), r.kv[l].raw, r.kv[l].entries, r.kv[l].indexer_keys);
  std::printf("],\"ms\":{\"weights\":%.3f,\"pixels\":%.3f,\"tower\":%.3f,\"prefill\":%.3f,\"decode\":%.3f},"
              "\"decoder_weight_bytes\":{\"resident\":%zu,\"checkpoint\":%zu},\"peak_rss_gib\":%.3f}\n",
              r.ms_weights, r.ms_pixels, r.ms_tower, r.ms_prefill, r.ms_decode, r.decoder_resident, r.decoder_file,
              peak_rss_gib());
}

void print_text(const options& opt, const run& r, const examples::transcript& text, bool overlay_written, bool colour) {
  const auto& c = r.cfg;
  std::printf("vprim %d.%d.%d: vision-primitive model on %s, %d threads, %s weights\n", VPRIM_VERSION_MAJOR,
              VPRIM_VERSION_MINOR, VPRIM_VERSION_PATCH, r.arch, opt.threads, weights_kind(opt));
  std::printf("  tower    %s\n", r.tower.c_str());
  std::printf("  decoder  DeepSeek-V4, %zu layer(s) [", c.layers.size());
  for (std::size_t l = 0; l < c.layers.size(); ++l)
    std::printf("%s%s%s", l ? ", " : "", kind_name(c.layers[l]),
                c.layers[l] == vprim::v4::attention_kind::sliding ? "" : (" 1/" + std::to_string(c.ratio(c.layers[l]))).c_str());
  std::printf("], hidden %d, %d experts top-%d%s, window %d, vocab %d\n", c.hidden, c.routed_experts, c.top_k,
              c.expert_precision == vprim::weight_precision::bfloat16 ? " (bf16)" : "", c.sliding_window, c.vocab);
  std::printf("  prompt   %s\n", r.arrangement.c_str());
  const std::string image =
      opt.image.empty() ? (is_bundled_golden(opt) ? "(bundled tensor)" : VPRIM_EXAMPLE_SCENE) : opt.image;
  std::printf("\n  stage                      size                                time\n");
  const std::string weights = opt.random_weights        ? "invented, " + opt.preset + " dimensions"
                              : opt.checkpoint.empty() ? "read from tests/data"
                                                       : "as shipped, from " + opt.checkpoint;
  std::printf("  weights                    %-35s %9.1f ms\n", weights.c_str(), r.ms_weights);
  if (r.decoder_file > 0)
    std::printf("  decoder weights held       %.2f MiB (%s; its tensors in the checkpoint: %.2f MiB)\n",
                static_cast<double>(r.decoder_resident) / 1048576.0,
                opt.dequantize            ? "widened to fp32"
                : r.decoder_lowbit == 0   ? "no FP8/MXFP4 tensors in it; held as fp32"
                : opt.act_quant           ? "FP8/MXFP4 as shipped, e4m3 activations, the rest as fp32"
                                          : "FP8/MXFP4 as shipped, the rest as fp32",
                static_cast<double>(r.decoder_file) / 1048576.0);
  std::printf("  image                      %d x %d px  %-22s %9.1f ms (decode, resize, normalise)\n", r.src_w, r.src_h,
              "", r.ms_pixels);
  std::printf("  resized                    %d x %d px\n", r.width, r.height);
  std::printf("  patches (14x14)            %d x %d = %d\n", r.grid_w, r.grid_h, r.grid_w * r.grid_h);
  std::printf("  merged tokens (%dx%d)        %lld  (%.1f patches per token)  %13.1f ms (tower + merger)\n", r.merge, r.merge,
              static_cast<long long>(r.merged), static_cast<double>(r.grid_w * r.grid_h) / static_cast<double>(r.merged),
              r.ms_tower);
  std::printf("  prompt                     %zu tokens, image positions %zu..%zu %10.1f ms (prefill)\n", r.prompt,
              r.block_begin, r.block_begin + r.block_size - 1, r.ms_prefill);
  std::printf("  decode                     %zu tokens  %-23s %9.1f ms/token (%.2f tokens/s)\n", r.generated.size(), "",
              r.generated.empty() ? 0.0 : r.ms_decode / static_cast<double>(r.generated.size()),
              r.ms_decode > 0 ? 1000.0 * static_cast<double>(r.generated.size()) / r.ms_decode : 0.0);
  std::printf("  peak resident memory       %.2f GiB\n", peak_rss_gib());

  const std::size_t total = r.prompt + r.generated.size();
  std::printf("\n  KV cache after %zu tokens (%zu of them image):\n", total, r.block_size);
  for (std::size_t l = 0; l < r.kv.size(); ++l) {
    std::printf("    layer %zu %-7s %4zu raw (window)", l, kind_name(c.layers[l]), r.kv[l].raw);
    if (c.layers[l] != vprim::v4::attention_kind::sliding)
      std::printf(" + %zu compressed entries (1 per %d tokens: %.1fx fewer)", r.kv[l].entries, c.ratio(c.layers[l]),
                  r.kv[l].entries ? static_cast<double>(total) / static_cast<double>(r.kv[l].entries) : 0.0);
    if (c.layers[l] == vprim::v4::attention_kind::csa) std::printf(" + %zu indexer keys", r.kv[l].indexer_keys);
    std::printf("\n");
  }
  std::printf("    (a dense cache would hold all %zu tokens in every layer; the window keeps the last %d)\n", total,
              c.sliding_window);
  std::size_t held = 0;
  for (const auto& h : r.kv) held += (h.raw + h.entries) * r.kv_row_bytes + h.indexer_keys * r.kv_key_bytes;
  std::printf("    rows stored as %s: %zu B per window row or entry, %zu B per indexer key; %zu B held in rows,\n"
              "    %zu B in the cache's pool (its pages, window rings and fp32 compressor state)\n",
              r.kv_dtype, r.kv_row_bytes, r.kv_key_bytes, held, r.kv_pool_bytes);

  std::printf("\n  transcript (%zu tokens%s):\n  ", r.generated.size(),
              text.undecoded() ? ", ids in <> for want of a tokenizer: pass --vocab tokenizer.json" : "");
  text.print(stdout, colour);
  const auto& parsed = text.result();
  std::size_t boxes = 0;
  for (const auto& ref : parsed.refs) boxes += ref.boxes.size();
  std::printf("  primitives: %zu reference(s) with %zu box(es), %zu point list(s), %zu error(s); answer: %s\n",
              parsed.refs.size(), boxes, parsed.points.size(), parsed.errors.size(),
              parsed.answer ? parsed.answer->c_str() : "(none)");
  if (overlay_written) std::printf("  overlay: %s (%d x %d)\n", opt.overlay.c_str(), r.picture.width, r.picture.height);
  if (is_bundled_golden(opt)) {
    std::printf("\n  generated:");
    for (auto t : r.generated) std::printf(" %lld", static_cast<long long>(t));
    std::printf("\n  golden:   ");
    for (auto t : r.golden) std::printf(" %lld", static_cast<long long>(t));
    std::printf("\n  %s\n", r.generated == r.golden ? "identical to the tokens transformers generated (vlm_public)"
                                                     : "DIFFERENT from the tokens transformers generated");
  }
  if (parsed.refs.empty() && parsed.points.empty())
    std::printf("  (%s wrote no primitives, so the overlay shows the image as the model saw it; a model that\n"
                "   points has every box and point drawn as its closing tag streams in)\n",
                opt.checkpoint.empty() ? "random weights" : "this checkpoint");
}

}  // namespace

int main(int argc, char** argv) {
  const options opt = parse_options(argc, argv);
  std::optional<vprim::vocabulary> vocab;
  std::optional<release_tokenizer> release;
  vprim::primitives::tag_ids tags;
  if (!opt.checkpoint.empty()) {  // its own tokenizer.json decodes the transcript too
    release = read_release_tokenizer(opt.checkpoint);
    tags = release->tags;
  }
  if (!opt.vocab.empty()) {
    std::FILE* f = std::fopen(opt.vocab.c_str(), "rb");
    if (f == nullptr) fail("cannot open '" + opt.vocab + "'");
    std::string bytes;
    char buf[1 << 16];
    for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) bytes.append(buf, n);
    std::fclose(f);
    vocab = need(vprim::vocabulary::from_json(bytes), "reading the vocabulary");
  }
  const vprim::vocabulary* decode = vocab ? &*vocab : release ? &release->vocab : nullptr;
  examples::transcript text(decode, tags, !opt.json);
  vprim::thread_pool_executor pool(opt.threads);
  const run r = opt.random_weights ? run_random(opt, text, pool)
                : opt.golden     ? run_bundled(opt, text, pool)
                                 : run_checkpoint(opt, *release, text, pool);
  text.finish();

  vprim::rgb_image overlay = r.picture;
  vprim::primitives::draw_transcript(overlay, text.result());
  const bool written = !opt.overlay.empty() && examples::save_png(overlay, opt.overlay) == vprim::status::ok;
  if (!opt.overlay.empty() && !written) std::fprintf(stderr, "vision_primitive_model: cannot write '%s'\n", opt.overlay.c_str());

  const bool colour = opt.colour == "always" || (opt.colour == "auto" && isatty(STDOUT_FILENO));
  if (opt.json) print_json(opt, r, text, written);
  else print_text(opt, r, text, written, colour);
  return is_bundled_golden(opt) && r.generated != r.golden ? 1 : 0;
}

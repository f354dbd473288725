// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The release as shipped: its own config.json keys (research/release_format.md), read as the
// decoder config, the image budget and the tower config.
#include <catch2/catch.hpp>

#include <cmath>
#include <fstream>
#include <map>
#include <random>
#include <span>
#include <initializer_list>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "../reference/dtype_reference.hpp"
#include "../reference/quant_reference.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/io/checkpoint.hpp"
#include "vprim/io/safetensors.hpp"
#include "vprim/io/tokenizer.hpp"
#include "vprim/model/quantized_weights.hpp"
#include "vprim/model/v4/checkpoint_names.hpp"
#include "vprim/model/v4/release_layout.hpp"
#include "vprim/model/vision_language.hpp"
#include "vprim/image/nlayout.hpp"
#include "vprim/io/json.hpp"
#include "vprim/model/v4/moe.hpp"
#include "vprim/model/v4/config.hpp"
#include "vprim/model/vision_budget.hpp"
#include "vprim/model/vision_tower.hpp"

namespace {

const std::string release_dir = std::string(VPRIM_TEST_DATA_DIR) + "/release";

vprim::json_value release_config() {
  auto j = vprim::read_json_file(release_dir + "/flash_vision_exp_config.json");
  REQUIRE(j);
  return *j;
}

//! The release config's text with each key's value replaced (JSON text for the value).
vprim::json_value with(std::initializer_list<std::pair<std::string, std::string>> changes) {
  std::ifstream in(release_dir + "/flash_vision_exp_config.json");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const auto& [key, value] : changes) {
    const std::string quoted = "\"" + key + "\": ";
    const auto at = text.find(quoted);
    REQUIRE(at != std::string::npos);
    const auto begin = at + quoted.size();
    std::size_t end = begin;
    for (int depth = 0; end < text.size(); ++end) {  // the value ends at the ',' or bracket closing its level
      const char c = text[end];
      if (c == '[' || c == '{') ++depth;
      if ((c == ']' || c == '}') && depth-- == 0) break;
      if (c == ',' && depth == 0) break;
    }
    text.replace(begin, end - begin, value);
  }
  auto j = vprim::parse_json(text);
  REQUIRE(j);
  return *j;
}

std::string error_of(const vprim::json_value& j) {
  auto c = vprim::v4::config_from_json(j);
  REQUIRE_FALSE(c);
  return c.err().message;
}

}  // namespace

TEST_CASE("the release's config.json gives the released decoder", "[release][config]") {
  auto c = vprim::v4::config_from_json(release_config());
  REQUIRE(c);
  const auto flash = vprim::v4::flash_config();
  CHECK(c->layers == flash.layers);  // compress_ratios cut to 43: SS then CSA/HCA, CSA last
  CHECK(c->mlps == flash.mlps);      // num_hash_layers = 3
  CHECK(c->layers.size() == 43);
  CHECK(c->vocab == 129280);
  CHECK(c->hidden == 4096);
  CHECK(c->heads == 64);
  CHECK(c->head_dim == 512);
  CHECK(c->rope_dim == 64);
  CHECK(c->q_lora_rank == 1024);
  CHECK(c->o_lora_rank == 1024);
  CHECK(c->o_groups == 8);
  CHECK(c->sliding_window == 128);
  CHECK(c->csa_ratio == 4);
  CHECK(c->hca_ratio == 128);
  CHECK(c->index_heads == 64);
  CHECK(c->index_head_dim == 128);
  CHECK(c->index_topk == 512);
  CHECK(c->routed_experts == 256);
  CHECK(c->shared_experts == 1);
  CHECK(c->top_k == 6);
  CHECK(c->moe_intermediate == 2048);
  CHECK(c->scoring == vprim::scoring_func::sqrtsoftplus);
  CHECK(c->norm_topk);
  CHECK(c->routed_scale == 1.5f);
  CHECK(c->swiglu_limit == 10.0f);
  CHECK(c->hc_mult == 4);
  CHECK(c->hc_sinkhorn_iters == 20);
  CHECK(c->hc_eps == 1e-6f);
  CHECK(c->norm_eps == 1e-6f);
  CHECK(c->mxfp4_experts);
  CHECK(c->fp8_block_rows == 128);
  CHECK(c->fp8_block_cols == 128);
  // YaRN from rope_scaling on the compressed layers' rope (compress_rope_theta), never on the
  // sliding layers' (rope_theta).
  CHECK(c->main_rope.theta == 10000.0f);
  CHECK_FALSE(c->main_rope.yarn);
  CHECK(c->compress_rope.theta == 160000.0f);
  CHECK(c->compress_rope.yarn);
  CHECK(c->compress_rope.factor == 16.0f);
  CHECK(c->compress_rope.original_max_position == 65536);
  CHECK(c->compress_rope.beta_fast == 32.0f);
  CHECK(c->compress_rope.beta_slow == 1.0f);
}

TEST_CASE("release configs vary as the shipped files do: 46 ratios, eps 1e-20, no YaRN, another HCA ratio",
          "[release][config]") {
  std::string ratios = "[0, 0";  // -0731 ships 46 entries (MTP / DSpark tails)
  for (int i = 0; i < 20; ++i) ratios += ", 4, 128";
  ratios += ", 4, 0, 0, 0]";
  auto c46 = vprim::v4::config_from_json(with({{"compress_ratios", ratios}}));
  REQUIRE(c46);
  CHECK(c46->layers == vprim::v4::flash_config().layers);
  auto tiny_eps = vprim::v4::config_from_json(with({{"rms_norm_eps", "1e-20"}}));
  REQUIRE(tiny_eps);
  CHECK(tiny_eps->norm_eps == 1e-20f);  // read, never assumed
  auto no_yarn = vprim::v4::config_from_json(with({{"rope_scaling", "null"}}));
  REQUIRE(no_yarn);
  CHECK_FALSE(no_yarn->compress_rope.yarn);
  CHECK(no_yarn->compress_rope.theta == 160000.0f);
  // A small decoder: HCA ratio 16, CSA, sliding, CSA; two hash layers; one MTP entry after.
  auto small = vprim::v4::config_from_json(
      with({{"num_hidden_layers", "4"}, {"compress_ratios", "[16, 4, 0, 4, 0]"}, {"num_hash_layers", "2"}}));
  REQUIRE(small);
  using k = vprim::v4::attention_kind;
  using m = vprim::v4::mlp_kind;
  CHECK(small->layers == std::vector<k>{k::hca, k::csa, k::sliding, k::csa});
  CHECK(small->mlps == std::vector<m>{m::hash_moe, m::hash_moe, m::moe, m::moe});
  CHECK(small->hca_ratio == 16);
}

TEST_CASE("a missing or inconsistent release key is named", "[release][config][errors]") {
  CHECK_THAT(error_of(with({{"compress_ratios", "[0, 0, 4, 128, 4, 128, 4, 128, 4, 128, 4, 0]"}})),
             Catch::Contains("compress_ratios has 12 entries, num_hidden_layers is 43"));
  CHECK_THAT(error_of(with({{"compress_ratios", "[0, 0, 4, 128, 4, 64" + std::string(38, ' ') + "]"},
                            {"num_hidden_layers", "6"}})),
             Catch::Contains("compress_ratios[5] is 64 but an earlier HCA layer has 128"));
  CHECK_THAT(error_of(with({{"num_hidden_layers", "3"}, {"compress_ratios", "[0, 0, -4]"}})),
             Catch::Contains("compress_ratios[2] must be a non-negative integer"));
  CHECK_THAT(error_of(with({{"num_hash_layers", "44"}})), Catch::Contains("num_hash_layers 44 exceeds num_hidden_layers 43"));
  CHECK_THAT(error_of(with({{"rms_norm_eps", "\"small\""}})), Catch::Contains("rms_norm_eps"));
  CHECK_THAT(error_of(with({{"rope_scaling", "{\"type\": \"linear\", \"factor\": 2}"}})),
             Catch::Contains("rope_scaling.type must be \"yarn\""));
  CHECK_THAT(error_of(with({{"rope_scaling", "{\"type\": \"yarn\", \"factor\": 16}"}})),
             Catch::Contains("original_max_position_embeddings"));
  CHECK_THAT(error_of(with({{"expert_dtype", "\"int3\""}})), Catch::Contains("expert_dtype 'int3'"));
  CHECK_THAT(error_of(with({{"quantization_config", "{\"weight_block_size\": [128]}"}})),
             Catch::Contains("weight_block_size"));
  CHECK_THAT(error_of(with({{"num_key_value_heads", "8"}})), Catch::Contains("num_key_value_heads is 8"));
  CHECK_THAT(error_of(with({{"qk_rope_head_dim", "0"}})), Catch::Contains("qk_rope_head_dim"));
  CHECK_THAT(error_of(with({{"hidden_size", "\"4096\""}})), Catch::Contains("hidden_size"));
  CHECK_THAT(error_of(with({{"compress_ratios", "4"}})), Catch::Contains("compress_ratios must be an array"));
}

TEST_CASE("the release's vision keys fill the image budget and the tower, with no preset standing in",
          "[release][config][image]") {
  const auto j = release_config();
  auto budget = vprim::vision_budget_from_json(j);
  REQUIRE(budget);
  CHECK(budget->max_tokens == 384);
  CHECK(budget->min_pixels == 147456);
  CHECK(budget->max_aspect == 8);
  CHECK(budget->reserved_pad == 3);
  CHECK(budget->rule == vprim::budget_rule::vision_exp);
  auto other = vprim::vision_budget_from_json(
      with({{"vision_max_n_token", "100"}, {"vision_min_pixels", "1000"}, {"vision_max_wh_ratio", "4.0"}}));
  REQUIRE(other);
  CHECK(other->max_tokens == 100);
  CHECK(other->min_pixels == 1000);
  CHECK(other->max_aspect == 4);
  auto text_only = vprim::vision_budget_from_json(*vprim::parse_json(R"({"hidden_size": 8})"));
  REQUIRE_FALSE(text_only);
  CHECK_THAT(text_only.err().message, Catch::Contains("vision_max_n_token, vision_min_pixels, vision_max_wh_ratio"));
  CHECK_FALSE(vprim::vision_budget_from_json(with({{"vision_max_wh_ratio", "8.5"}})));
  CHECK_FALSE(vprim::vision_budget_from_json(with({{"vision_max_n_token", "5"}})));

  auto tower = vprim::tower_config_from_json(j, vprim::tower_kind::deepseek_vit);
  REQUIRE(tower);
  CHECK(tower->layers == 32);
  CHECK(tower->width == 1024);
  CHECK(tower->heads == 16);
  CHECK(tower->intermediate == 2816);
  CHECK(tower->patch == 14);
  CHECK(tower->merge == 3);
  CHECK(tower->out_dim == 4096);
  CHECK(tower->rope_theta == 10000.0f);
}

TEST_CASE("the image placeholder becomes the release's block with out-of-vocabulary ids and a position-dependent pad",
          "[release][image]") {
  constexpr std::int64_t vocab = 1000, placeholder = 77;
  for (std::size_t before = 0; before < 8; ++before) {
    CAPTURE(before);
    std::vector<std::int64_t> ids(before, 5);
    ids.push_back(placeholder);
    ids.insert(ids.end(), {6, 7});
    auto e = vprim::expand_image_placeholder(ids, placeholder, 3, 2, vocab);
    REQUIRE(e);
    CHECK(e->block_begin == before);
    const auto& b = e->block;
    CHECK(b.lead_pad == static_cast<int>((3 - before % 4) % 4));
    // START lands at 3 mod 4, so the first body token starts a CSA block.
    CHECK((before + static_cast<std::size_t>(b.lead_pad)) % 4 == 3);
    REQUIRE(e->ids.size() == before + b.types.size() + 2);
    for (std::size_t i = 0; i < before; ++i) CHECK(e->ids[i] == 5);
    for (std::size_t i = 0; i < b.types.size(); ++i)
      CHECK(e->ids[before + i] == vocab + static_cast<std::int64_t>(b.types[i]));
    CHECK(e->ids[e->ids.size() - 2] == 6);
    CHECK(e->ids.back() == 7);
    CHECK(b.types[static_cast<std::size_t>(b.lead_pad)] == vprim::image_token::start);
    CHECK(b.types.back() == vprim::image_token::end);
    CHECK(b.perm.size() == 6);
  }
  CHECK(vprim::image_block_token_id(vocab, vprim::image_token::newline) == vocab + 3);
  CHECK(vprim::is_image_block_token_id(vocab + 4, vocab));
  CHECK_FALSE(vprim::is_image_block_token_id(vocab + 5, vocab));
  CHECK_FALSE(vprim::is_image_block_token_id(vocab - 1, vocab));
  auto none = vprim::expand_image_placeholder({1, 2, 3}, placeholder, 2, 2, vocab);
  REQUIRE_FALSE(none);
  CHECK_THAT(none.err().message, Catch::Contains("no image placeholder (id 77)"));
  auto two = vprim::expand_image_placeholder({1, placeholder, 3, placeholder}, placeholder, 2, 2, vocab);
  REQUIRE_FALSE(two);
  CHECK(two.err().offset == 3);
  CHECK_THAT(two.err().message, Catch::Contains("second image placeholder"));
  CHECK_FALSE(vprim::expand_image_placeholder({placeholder}, placeholder, 0, 2, vocab));
}

namespace {

//! A router of E experts over D inputs with random weights; text tokens select with `bias`,
//! which keeps them off expert `favoured`.
struct small_router {
  static constexpr int E = 12, D = 16, K = 3;
  static constexpr std::int64_t vocab = 50;
  static constexpr std::size_t favoured = 7;
  vprim::v4::config cfg;
  std::vector<float> weights, x;
  small_router() {
    cfg.vocab = static_cast<int>(vocab);
    cfg.hidden = D;
    cfg.routed_experts = E;
    cfg.top_k = K;
    cfg.moe_intermediate = 4;
    cfg.routed_scale = 1.5f;
    std::mt19937 rng(11);
    std::normal_distribution<float> n(0.0f, 1.0f);
    weights.resize(E * D);
    for (auto& w : weights) w = n(rng);
    x.resize(10 * D);
    for (auto& v : x) v = n(rng);
  }
  template <class Arch>
  vprim::v4::moe_layer layer(Arch arch, vprim::v4::mlp_kind kind, bool with_vision_bias) const {
    auto m = vprim::v4::moe_layer::describe(cfg, kind);
    auto r = vprim::linear_layer::from_values(arch, weights, E, D);
    REQUIRE(r);
    m.router = std::move(*r);
    m.selection_bias.assign(E, 0.0f);
    m.selection_bias[favoured] = -100.0f;  // text never picks it
    if (kind == vprim::v4::mlp_kind::hash_moe)
      for (std::int64_t t = 0; t < vocab; ++t)
        for (int k = 0; k < K; ++k) m.tid2eid.push_back((t + k) % 5);  // experts 0..4 only
    if (with_vision_bias) {
      m.vision_bias.assign(E, 0.0f);
      m.vision_bias[favoured] = 100.0f;
    }
    return m;
  }
};

}  // namespace

TEST_CASE("bias_vl routes exactly the image-block tokens: top-k and hash layers, unbiased weights", "[release][routing]") {
  const small_router R;
  using vprim::image_token;
  // text, START, IMAGE, text, NEWLINE, IMAGE, PAD, END, text, text
  const std::vector<std::int64_t> ids = {3,
                                         R.vocab + 0,
                                         R.vocab + 2,
                                         9,
                                         R.vocab + 3,
                                         R.vocab + 2,
                                         R.vocab + 1,
                                         R.vocab + 4,
                                         49,
                                         0};
  const std::size_t S = ids.size(), K = small_router::K, E = small_router::E;
  vprim::cpu::dispatch_cpu([&](auto arch) {
    vprim::serial_executor exec;
    for (auto kind : {vprim::v4::mlp_kind::moe, vprim::v4::mlp_kind::hash_moe}) {
      CAPTURE(kind == vprim::v4::mlp_kind::hash_moe);
      const auto m = R.layer(arch, kind, true);
      std::vector<float> logits(S * E), w(S * K);
      std::vector<std::int64_t> idx(S * K);
      REQUIRE(m.route(arch, R.x.data(), S, ids.data(), logits.data(), w.data(), idx.data(), exec) == vprim::status::ok);
      for (std::size_t t = 0; t < S; ++t) {
        CAPTURE(t, ids[t]);
        const bool image = vprim::is_image_block_token_id(ids[t], R.vocab);
        const auto* chosen = idx.data() + t * K;
        const bool has_favoured = std::find(chosen, chosen + K, std::int64_t{small_router::favoured}) != chosen + K;
        CHECK(has_favoured == image);
        if (image) CHECK(chosen[0] == static_cast<std::int64_t>(small_router::favoured));
        if (!image && kind == vprim::v4::mlp_kind::hash_moe)
          for (std::size_t k = 0; k < K; ++k) CHECK(chosen[k] == (ids[t] + static_cast<std::int64_t>(k)) % 5);
        // Weights from the unbiased sqrtsoftplus scores, renormalised and scaled as for text.
        double sum = 0;
        std::vector<double> score(K);
        for (std::size_t k = 0; k < K; ++k) {
          const double lg = logits[t * E + static_cast<std::size_t>(chosen[k])];
          score[k] = std::sqrt(lg > 20 ? lg : std::log1p(std::exp(lg)));
          sum += score[k];
        }
        for (std::size_t k = 0; k < K; ++k) CHECK(w[t * K + k] == Approx(score[k] / sum * 1.5).epsilon(1e-5));
      }
    }
    // Text-only (no bias_vl): image tokens select like text on top-k layers, and hash layers
    // refuse them, having no table row for them.
    const auto plain = R.layer(arch, vprim::v4::mlp_kind::moe, false);
    std::vector<float> logits(S * E), w(S * K);
    std::vector<std::int64_t> idx(S * K);
    REQUIRE(plain.route(arch, R.x.data(), S, ids.data(), logits.data(), w.data(), idx.data(), exec) == vprim::status::ok);
    CHECK(std::find(idx.begin(), idx.end(), std::int64_t{small_router::favoured}) == idx.end());
    const auto hash = R.layer(arch, vprim::v4::mlp_kind::hash_moe, false);
    CHECK(hash.route(arch, R.x.data(), S, ids.data(), logits.data(), w.data(), idx.data(), exec) ==
          vprim::status::not_supported);
  });
}

// --- the release miniature (tests/data/release_mini, tests/tools/make_release_miniature.cpp) ----

namespace {

const std::string mini_dir = std::string(VPRIM_TEST_DATA_DIR) + "/release_mini";

//! A tensor of the miniature as fp32, dequantised naively (dtype_reference's e4m3 decoder, a table
//! for e2m1, 2^(code-127) for E8M0), independently of vprim's dequantiser.
std::vector<float> naive_dequantized(const vprim::checkpoint& c, const std::string& name) {
  const vprim::safetensors_file* f = c.shard_of(name);
  REQUIRE(f != nullptr);
  const auto* e = f->find(name);
  if (e->type != vprim::dtype::f8_e4m3 && e->type != vprim::dtype::i8) {
    auto v = f->to_f32(name);
    REQUIRE(v);
    return *v;
  }
  const std::string scale_name = name.substr(0, name.size() - 7) + ".scale";
  const vprim::safetensors_file* sf = c.shard_of(scale_name);
  REQUIRE(sf != nullptr);
  const auto* s = sf->find(scale_name);
  REQUIRE(s->type == vprim::dtype::f8_e8m0);
  const auto codes = f->bytes(*e);
  const auto scales = sf->bytes(*s);
  auto scale = [&](std::size_t i) { return std::ldexp(1.0, static_cast<int>(std::to_integer<unsigned>(scales[i])) - 127); };
  const auto n = static_cast<std::size_t>(e->shape[0]);
  std::vector<float> out;
  if (e->type == vprim::dtype::f8_e4m3) {
    const auto k = static_cast<std::size_t>(e->shape[1]), bk = (k + 127) / 128;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < k; ++j) {
        const unsigned code = std::to_integer<unsigned>(codes[i * k + j]);  // sign bit, then the magnitude's code
        const double magnitude = vprim_ref::decode(vprim_ref::e4m3_fmt, code & 0x7Fu);
        out.push_back(static_cast<float>((code & 0x80u ? -magnitude : magnitude) * scale((i / 128) * bk + j / 128)));
      }
    return out;
  }
  static const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  const auto k = static_cast<std::size_t>(e->shape[1]) * 2;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < k; ++j) {
      const unsigned byte = std::to_integer<unsigned>(codes[(i * k + j) / 2]);
      out.push_back(static_cast<float>(e2m1[j % 2 == 0 ? byte & 15u : byte >> 4] * scale(i * (k / 32) + j / 32)));
    }
  return out;
}

struct mini_model {
  vprim::checkpoint ckpt;
  vprim::v4::config cfg;
};

mini_model open_mini() {
  auto c = vprim::checkpoint::open(mini_dir);
  REQUIRE(c);
  auto j = vprim::read_json_file(mini_dir + "/config.json");
  REQUIRE(j);
  auto cfg = vprim::v4::config_from_json(*j);
  REQUIRE(cfg);
  return {std::move(*c), *cfg};
}

}  // namespace

TEST_CASE("the release miniature loads as shipped and gives the logits of its numbers dequantised into the transformers layout",
          "[release][miniature]") {
  auto mini = open_mini();
  CHECK(mini.ckpt.shards() == 2);
  CHECK(mini.cfg.mxfp4_experts);
  auto golden = vprim::safetensors_file::open(std::string(VPRIM_TEST_DATA_DIR) + "/deepseek_v4_public.safetensors");
  REQUIRE(golden);
  auto golden_cfg = vprim::v4::config_from_json(*vprim::parse_json(*golden->meta("config")));
  REQUIRE(golden_cfg);
  // The release's keys give the same decoder as transformers' converted keys.
  CHECK(mini.cfg.layers == golden_cfg->layers);
  CHECK(mini.cfg.mlps == golden_cfg->mlps);
  CHECK(mini.cfg.hca_ratio == golden_cfg->hca_ratio);
  CHECK(mini.cfg.rope_dim == golden_cfg->rope_dim);
  CHECK(mini.cfg.compress_rope.yarn == golden_cfg->compress_rope.yarn);
  CHECK(mini.cfg.compress_rope.factor == golden_cfg->compress_rope.factor);

  // The twin: every transformers tensor of the golden decoder, from the miniature's numbers.
  vprim::safetensors_writer twin;
  std::size_t fp8 = 0, fp4 = 0;
  for (const auto& e : golden->tensors()) {
    if (e.name.rfind("weight.", 0) != 0) continue;
    const std::string hf = e.name.substr(7);
    CAPTURE(hf);
    if (e.type == vprim::dtype::i64) {
      auto t = mini.ckpt.to_i64(*vprim::v4::official_name(hf));
      REQUIRE(t);
      REQUIRE(twin.add<std::int64_t>(hf, e.shape, *t) == vprim::status::ok);
      continue;
    }
    std::vector<float> v;
    if (hf.ends_with("mlp.experts.gate_up_proj") || hf.ends_with("mlp.experts.down_proj")) {
      const auto layer = vprim::v4::detail::split_layer(hf);
      for (vprim::index_t x = 0; x < e.shape[0]; ++x) {
        const std::string p = "layers." + layer->first + ".ffn.experts." + std::to_string(x) + ".";
        for (const char* w : hf.ends_with("down_proj") ? std::vector<const char*>{"w2"} : std::vector<const char*>{"w1", "w3"}) {
          const auto part = naive_dequantized(mini.ckpt, p + w + ".weight");
          v.insert(v.end(), part.begin(), part.end());
          ++fp4;
        }
      }
    } else {
      const auto name = vprim::v4::official_name(hf);
      REQUIRE(name);
      v = naive_dequantized(mini.ckpt, *name);
      fp8 += mini.ckpt.shard_of(*name)->find(*name)->type == vprim::dtype::f8_e4m3 ? 1 : 0;
    }
    REQUIRE(twin.add<float>(hf, e.shape, v) == vprim::status::ok);
  }
  CHECK(fp8 == 3 * 8);      // 5 attention and 3 shared-expert Linears per layer
  CHECK(fp4 == 3 * 8 * 3);  // 8 experts x w1/w2/w3 per layer
  auto tf = vprim::safetensors_file::parse(twin.serialize());
  REQUIRE(tf);
  auto tokens = golden->to_i64("prefill.input_ids");
  REQUIRE(tokens);
  vprim::cpu::dispatch_cpu([&](auto arch) {
    const vprim::v4::index_source mini_ids = [&](const std::string& n) { return mini.ckpt.to_i64(n); };
    auto shipped = vprim::v4::decoder::load(arch, vprim::v4::from_official_layout(vprim::dequantized_weights_from(mini.ckpt)),
                                            vprim::v4::ids_from_official_layout(mini_ids), mini.cfg);
    auto widened = vprim::v4::decoder::load(arch, vprim::weights_from(*tf),
                                            [&](const std::string& n) { return tf->to_i64(n); }, *golden_cfg);
    REQUIRE(shipped);
    REQUIRE(widened);
    vprim::serial_executor exec;
    auto run = [&](const vprim::v4::decoder& m) {
      auto cache = m.new_cache();
      auto emb = m.embed(tokens->data(), tokens->size());
      REQUIRE(emb);
      std::vector<float> logits;
      REQUIRE(m.forward(arch, emb->data(), tokens->data(), tokens->size(), cache, logits, exec) == vprim::status::ok);
      return logits;
    };
    CHECK(run(*shipped) == run(*widened));  // the same fp32 numbers: bit for bit
  });
}

TEST_CASE("in the miniature, a bias_vl that favours one expert takes every image-block token there and no text token",
          "[release][miniature][routing]") {
  auto mini = open_mini();
  constexpr std::int64_t favoured = 5;
  const auto base = vprim::v4::from_official_layout(vprim::dequantized_weights_from(mini.ckpt));
  auto source = [&](bool with_vision_bias) -> vprim::weight_source {
    return [&, with_vision_bias](const std::string& name, const std::vector<vprim::index_t>& shape) -> vprim::result<std::vector<float>> {
      auto v = base(name, shape);
      if (!v) return v;
      if (name.ends_with("mlp.gate.bias_vl")) {
        if (!with_vision_bias) return vprim::make_error(vprim::status::not_found, "no bias_vl (text-only)");
        std::fill(v->begin(), v->end(), 0.0f);
        (*v)[favoured] = 50.0f;
      }
      if (name.ends_with("mlp.gate.e_score_correction_bias")) (*v)[favoured] = -50.0f;  // text stays away
      return v;
    };
  };
  const vprim::v4::index_source ids = vprim::v4::ids_from_official_layout([&](const std::string& n) { return mini.ckpt.to_i64(n); });
  std::ifstream tok_file(mini_dir + "/tokenizer.json", std::ios::binary);
  auto tok = vprim::bpe_tokenizer::from_json(std::string(std::istreambuf_iterator<char>(tok_file), {}));
  REQUIRE(tok);
  auto text = tok->encode("<｜begin▁of▁sentence｜><｜User｜><｜deepseek_image｜>\n\nhello world<｜Assistant｜>");
  REQUIRE(text);
  auto prompt = vprim::expand_image_placeholder(*text, *tok->token_id("<｜deepseek_image｜>"), 3, 2, mini.cfg.vocab);
  REQUIRE(prompt);
  vprim::cpu::dispatch_cpu([&](auto arch) {
    auto m = vprim::v4::decoder::load(arch, source(true), ids, mini.cfg);
    REQUIRE(m);
    auto sentinels = vprim::read_image_sentinels(vprim::weights_from(mini.ckpt), mini.cfg.hidden);
    REQUIRE(sentinels);
    std::vector<float> features(6 * static_cast<std::size_t>(mini.cfg.hidden));
    for (std::size_t i = 0; i < features.size(); ++i) features[i] = std::sin(static_cast<float>(i));
    auto emb = vprim::embed_expanded_prompt(*m, *prompt, features, *sentinels);
    REQUIRE(emb);
    std::map<std::string, std::vector<std::int64_t>> chosen;
    vprim::v4::observer obs;
    obs.floats = [](std::string_view, std::string_view, const float*, std::vector<std::int64_t>) {};
    obs.indices = [&](std::string_view path, std::string_view slot, const std::int64_t* p, std::vector<std::int64_t> shape) {
      if (slot == "out2" && path.ends_with(".mlp.gate")) chosen[std::string(path)] = std::vector<std::int64_t>(p, p + shape[0] * shape[1]);
    };
    auto cache = m->new_cache();
    std::vector<float> logits;
    vprim::serial_executor exec;
    REQUIRE(m->forward(arch, emb->data(), prompt->ids.data(), prompt->ids.size(), cache, logits, exec, obs) == vprim::status::ok);
    REQUIRE(chosen.size() == mini.cfg.layers.size());
    const auto K = static_cast<std::size_t>(mini.cfg.top_k);
    auto table = mini.ckpt.to_i64("layers.0.ffn.gate.tid2eid");
    REQUIRE(table);
    for (const auto& [path, idx] : chosen) {
      const bool hash = path == "layers.0.mlp.gate";
      for (std::size_t t = 0; t < prompt->ids.size(); ++t) {
        CAPTURE(path, t, prompt->ids[t]);
        const bool image = vprim::is_image_block_token_id(prompt->ids[t], mini.cfg.vocab);
        const std::int64_t* row = idx.data() + t * K;
        const bool has = std::find(row, row + K, favoured) != row + K;
        if (image) CHECK(row[0] == favoured);
        else if (hash) CHECK(std::equal(row, row + K, table->begin() + prompt->ids[t] * static_cast<std::int64_t>(K)));
        else CHECK_FALSE(has);
      }
    }
    // Text-only (no bias_vl): the hash layer has no table row for an image-block id.
    auto text_only = vprim::v4::decoder::load(arch, source(false), ids, mini.cfg);
    REQUIRE(text_only);
    auto cache2 = text_only->new_cache();
    CHECK(text_only->forward(arch, emb->data(), prompt->ids.data(), prompt->ids.size(), cache2, logits, exec) ==
          vprim::status::not_supported);
  });
}

TEST_CASE("the release miniature loaded as shipped keeps its FP8 and MXFP4 weights in their bytes and runs them in place",
          "[release][miniature][lowbit]") {
  auto mini = open_mini();
  const auto shipped_src = vprim::shipped_weights_from(mini.ckpt);
  const auto file_bytes = [&](const std::string& name) {
    const auto* e = mini.ckpt.shard_of(name)->find(name);
    return e->end - e->begin;
  };
  vprim::cpu::dispatch_cpu([&](auto arch) {
    // One FP8 Linear and one MXFP4 expert (its w1 rows over its w3 rows): the file's bytes, no more.
    auto fp8 = vprim::linear_layer::load(arch, shipped_src, "layers.1.attn.wq_b", 128, 32, false);
    REQUIRE(fp8);
    CHECK(fp8->is_quantized());
    CHECK(fp8->resident_bytes() == file_bytes("layers.1.attn.wq_b.weight") + file_bytes("layers.1.attn.wq_b.scale"));
    const auto official = vprim::v4::from_official_layout(shipped_src);
    auto gate_up = official.quantized(vprim::slice_name("model.layers.2.mlp.experts.gate_up_proj", 3), {64, 64});
    REQUIRE(gate_up);
    REQUIRE(*gate_up);
    CHECK((*gate_up)->fmt == vprim::quantized_tensor::format::mxfp4);
    CHECK((*gate_up)->bytes() == file_bytes("layers.2.ffn.experts.3.w1.weight") + file_bytes("layers.2.ffn.experts.3.w1.scale") +
                                     file_bytes("layers.2.ffn.experts.3.w3.weight") + file_bytes("layers.2.ffn.experts.3.w3.scale"));
    // A bad shape is refused with the tensor named.
    auto bad = vprim::linear_layer::load(arch, shipped_src, "layers.1.attn.wq_b", 127, 32, false);
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.err().message, Catch::Contains("layers.1.attn.wq_b") && Catch::Contains("[128,32]") && Catch::Contains("[127,32]"));

    // The whole decoder, as shipped and widened: the same numbers, but the shipped one multiplies
    // them with A rounded to bf16, so its logits differ by bf16 rounding only.
    const vprim::v4::index_source ids = vprim::v4::ids_from_official_layout([&](const std::string& n) { return mini.ckpt.to_i64(n); });
    auto shipped = vprim::v4::decoder::load(arch, official, ids, mini.cfg);
    auto widened = vprim::v4::decoder::load(arch, vprim::v4::from_official_layout(vprim::dequantized_weights_from(mini.ckpt)), ids, mini.cfg);
    REQUIRE(shipped);
    REQUIRE(widened);
    CHECK(shipped->resident_bytes() < widened->resident_bytes());
    INFO("resident bytes: shipped " << shipped->resident_bytes() << ", widened " << widened->resident_bytes());
    std::vector<std::int64_t> tokens(23);
    for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::int64_t>((i * 37 + 11) % 300);
    vprim::serial_executor exec;
    auto run = [&](const vprim::v4::decoder& m) {
      auto cache = m.new_cache();
      auto emb = m.embed(tokens.data(), tokens.size());
      REQUIRE(emb);
      std::vector<float> logits;
      REQUIRE(m.forward(arch, emb->data(), tokens.data(), tokens.size(), cache, logits, exec) == vprim::status::ok);
      return logits;
    };
    const auto a = run(*shipped), b = run(*widened);
    REQUIRE(a.size() == b.size());
    float err = 0.0f, peak = 1.0f;
    for (std::size_t i = 0; i < a.size(); ++i) {
      err = std::max(err, std::fabs(a[i] - b[i]));
      peak = std::max(peak, std::fabs(b[i]));
    }
    INFO("max |shipped - widened| " << err << " of max |logit| " << peak);
    CHECK(err > 0.0f);             // the low-bit GEMMs ran (bf16 activations)
    CHECK(err <= 3e-2f * peak);    // bf16 rounding of activations (2^-9 relative) through 3 layers

    // With the reference's activation rounding (e4m3 per 128, `act_quant`) every low-bit Linear
    // and expert takes it (their views say so), and the logits move further from the widened
    // model's than the bf16 run's: e4m3 rounds 32x coarser (2^-4 relative against 2^-9), so the
    // bound is the bf16 one scaled by 32. (cpu kernels: act_quant equals the naive reference bit
    // for bit, and a Linear with it equals the GEMM on act_quant(x).)
    const auto act_src = vprim::shipped_weights_from(mini.ckpt, {}, vprim::lowbit_activations::e4m3_per_128);
    const auto act_official = vprim::v4::from_official_layout(act_src);
    auto act_fp8 = vprim::linear_layer::load(arch, act_src, "layers.1.attn.wq_b", 128, 32, false);
    REQUIRE(act_fp8);
    CHECK(act_fp8->view().e4m3_activations);
    CHECK_FALSE(fp8->view().e4m3_activations);
    auto act_expert = act_official.quantized(vprim::slice_name("model.layers.2.mlp.experts.gate_up_proj", 3), {64, 64});
    REQUIRE(act_expert);
    REQUIRE(*act_expert);
    CHECK((*act_expert)->e4m3_activations);
    auto act = vprim::v4::decoder::load(arch, act_official, ids, mini.cfg);
    REQUIRE(act);
    const auto q = run(*act);
    float act_err = 0.0f;
    for (std::size_t i = 0; i < q.size(); ++i) act_err = std::max(act_err, std::fabs(q[i] - b[i]));
    INFO("max |act_quant - widened| " << act_err);
    CHECK(act_err > err);
    CHECK(act_err <= 32 * 3e-2f * peak);
  });
}

TEST_CASE("the release layout lists exactly the miniature's decoder tensors, with their shapes and low-bit formats",
          "[release][miniature][layout]") {
  const auto mini = open_mini();
  std::vector<vprim::v4::release_tensor> listed = vprim::v4::release_global_tensors(mini.cfg);
  for (std::size_t l = 0; l < mini.cfg.layers.size(); ++l) {
    const auto layer = vprim::v4::release_layer_tensors(mini.cfg, l);
    listed.insert(listed.end(), layer.begin(), layer.end());
  }
  std::map<std::string, bool> seen;
  for (const auto& t : listed) {
    CAPTURE(t.name);
    const vprim::safetensors_file* f = mini.ckpt.shard_of(t.name);
    REQUIRE(f != nullptr);
    const auto* e = f->find(t.name);
    const bool low_bit = e->type == vprim::dtype::f8_e4m3 || e->type == vprim::dtype::i8;
    // The miniature keeps its small tensors in F32 (and the indexer's wq_b unquantised); where
    // it stores a low-bit weight, the layout names the same format.
    if (low_bit) {
      CHECK((e->type == vprim::dtype::i8) == (t.storage == vprim::v4::release_storage::mxfp4));
      CHECK(e->shape == t.codes_shape());
      const auto* s = mini.ckpt.shard_of(t.scale_name())->find(t.scale_name());
      REQUIRE(s != nullptr);
      CHECK(s->shape == t.scale_shape());
      seen[t.scale_name()] = true;
    } else {
      CHECK(e->shape == t.shape);
    }
    seen[t.name] = true;
  }
  const std::size_t decoder_tensors = mini.ckpt.tensor_bytes([&](const vprim::tensor_entry& e) {
    for (const char* other : {"vision.", "aligner.", "mtp.", "image_"})
      if (e.name.rfind(other, 0) == 0) return false;
    CAPTURE(e.name);
    CHECK(seen.count(e.name) == 1);  // every decoder tensor of the file is listed
    return true;
  });
  CHECK(decoder_tensors > 0);
}

TEST_CASE("wo_a stays FP8 as shipped when each output group is whole 128-row scale blocks, else it is read as values",
          "[release][lowbit]") {
  const std::size_t n = 256, k = 64;
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.0f, 0.05f);
  std::vector<float> w(n * k);
  for (auto& x : w) x = g(rng);
  const auto q = vprim_ref::fp8_blocks(w, n, k);
  vprim::safetensors_writer out;
  REQUIRE(out.add("o.weight", vprim::dtype::f8_e4m3, {256, 64}, std::as_bytes(std::span(q.values))) == vprim::status::ok);
  REQUIRE(out.add("o.scale", vprim::dtype::f8_e8m0, {2, 1}, std::as_bytes(std::span(q.scales))) == vprim::status::ok);
  auto file = vprim::safetensors_file::parse(out.serialize());
  REQUIRE(file);
  const vprim::weight_source shipped(
      [&](const std::string& name, const std::vector<vprim::index_t>& shape) { return vprim::detail::read_dequantized(*file, name, shape); },
      [&](const std::string& name, const std::vector<vprim::index_t>& shape) { return vprim::detail::read_quantized(*file, name, shape); });
  const vprim::linear_spec spec{"o", 256, 64};
  vprim::cpu::dispatch_cpu([&](auto arch) {
    vprim::v4::config c;
    c.o_groups = 2;
    c.o_lora_rank = 128;
    auto whole_blocks = vprim::v4::attention_layer::load_output_groups(arch, shipped, spec, c);
    REQUIRE(whole_blocks);
    REQUIRE(whole_blocks->size() == 2);
    for (std::size_t grp = 0; grp < 2; ++grp) {
      REQUIRE((*whole_blocks)[grp].is_quantized());
      CHECK((*whole_blocks)[grp].q->codes == std::vector<std::uint8_t>(q.values.begin() + static_cast<std::ptrdiff_t>(grp * 128 * k),
                                                                       q.values.begin() + static_cast<std::ptrdiff_t>((grp + 1) * 128 * k)));
      CHECK((*whole_blocks)[grp].resident_bytes() == 128 * k + 1);
    }
    c.o_groups = 4;  // 64-row groups would split the scale blocks: values
    c.o_lora_rank = 64;
    auto split = vprim::v4::attention_layer::load_output_groups(arch, shipped, spec, c);
    REQUIRE(split);
    REQUIRE(split->size() == 4);
    for (const auto& l : *split) CHECK_FALSE(l.is_quantized());
  });
}

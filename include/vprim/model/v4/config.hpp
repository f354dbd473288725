// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file config.hpp
//! DeepSeek-V4 decoder configuration, read from either form of `config.json` and checked: every
//! size positive, heads divisible by groups, the rope slice inside the head.
//! - The release's own file (research/release_format.md): layer kinds from `compress_ratios`
//!   (cut to `num_hidden_layers`; 0 sliding, 4 CSA with indexer, any other ratio HCA), hash
//!   routing in the first `num_hash_layers`, `qk_rope_head_dim`, `rope_theta` for the sliding
//!   layers and `compress_rope_theta` with `rope_scaling` (YaRN) for the compressed ones.
//! - transformers' converted file: `layer_types`, `mlp_layer_types`, `compress_rates`,
//!   `rope_parameters`.
//! Unknown keys are ignored; a missing or inconsistent key is named in the error.

#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vprim/core/status.hpp"
#include "vprim/io/json.hpp"
#include "vprim/model/precision.hpp"
#include "vprim/policy/dispatch.hpp"
#include "vprim/policy/policies.hpp"
#include "vprim/policy/presets.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

//! Reads an int64 tensor by name (the hash router's table), for loaders of either backend.
using index_source = std::function<result<std::vector<std::int64_t>>(const std::string&)>;

enum class attention_kind : std::uint8_t { sliding, csa, hca };
enum class mlp_kind : std::uint8_t { hash_moe, moe };

//! YaRN-scaled rope parameters (the "compress" rope of CSA/HCA layers).
struct rope_params {
  float theta = 10000.0f;
  bool yarn = false;
  float factor = 1.0f;
  int original_max_position = 0;
  float beta_fast = 32.0f, beta_slow = 1.0f;
};

struct config {
  int vocab = 0, hidden = 0, heads = 0, head_dim = 0, rope_dim = 0;
  int q_lora_rank = 0, o_groups = 0, o_lora_rank = 0, sliding_window = 0;
  std::vector<attention_kind> layers;
  std::vector<mlp_kind> mlps;
  int csa_ratio = 4, hca_ratio = 128;
  int index_heads = 0, index_head_dim = 0, index_topk = 0;
  int routed_experts = 0, shared_experts = 0, top_k = 0, moe_intermediate = 0;
  scoring_func scoring = scoring_func::sqrtsoftplus;
  bool norm_topk = true;
  float routed_scale = 1.0f, swiglu_limit = 0.0f;
  int hc_mult = 1, hc_sinkhorn_iters = 1;
  float hc_eps = 1e-6f, norm_eps = 1e-6f;
  //! Storage of the routed and shared experts, and of the output head (not from the checkpoint's
  //! config: a choice of the engine; bf16 halves the bytes that decoding streams).
  weight_precision expert_precision = weight_precision::float32;
  weight_precision head_precision = weight_precision::float32;
  rope_params main_rope, compress_rope;
  //! How the checkpoint stores its weights (release form only; informational for loaders):
  //! routed experts in MXFP4 (`expert_dtype` "fp4"), FP8 Linears with one scale per
  //! fp8_block_rows x fp8_block_cols block (`quantization_config.weight_block_size`).
  bool mxfp4_experts = false;
  int fp8_block_rows = 0, fp8_block_cols = 0;

  [[nodiscard]] int ratio(attention_kind k) const noexcept {
    return k == attention_kind::csa ? csa_ratio : k == attention_kind::hca ? hca_ratio : 0;
  }
};

namespace detail {
struct json_reader {
  const json_value& j;
  std::string missing;
  int integer(const char* key, int lo = 1) {
    const json_value* v = j.find(key);
    if (v == nullptr || !v->as_int() || *v->as_int() < lo || *v->as_int() > (1 << 30)) {
      missing += (missing.empty() ? "" : ", ") + std::string(key);
      return 0;
    }
    return static_cast<int>(*v->as_int());
  }
  float number(const json_value* v, const char* key, float fallback) {
    if (v == nullptr) return fallback;
    const json_value* f = v->find(key);
    if (f == nullptr) return fallback;
    if (!f->is_number()) {
      missing += (missing.empty() ? "" : ", ") + std::string(key);
      return fallback;
    }
    return static_cast<float>(f->as_double());
  }
};

using status_error = std::optional<error>;

inline error config_error(status code, const std::string& what) {
  return make_error(code, "DeepSeek-V4 config: " + what);
}

//! The release's form: compress_ratios, num_hash_layers, rope_theta / compress_rope_theta /
//! rope_scaling (YaRN for the compressed layers only).
inline status_error read_release_layers(const json_value& j, json_reader& r, config& c) {
  const int layers = r.integer("num_hidden_layers");
  const int hash_layers = r.integer("num_hash_layers", 0);
  const json_value* cr = j.find("compress_ratios");
  if (!cr->is_array()) return config_error(status::invalid_argument, "compress_ratios must be an array");
  if (layers <= 0) return std::nullopt;  // reported with the other missing keys
  // The released files differ here (1e-6 in V4-Flash-0731, 1e-20 checked by a Vision-Exp
  // loader): it is read, never assumed.
  if (const json_value* eps = j.find("rms_norm_eps"); eps == nullptr || !eps->is_number() || eps->as_double() <= 0.0)
    return config_error(status::invalid_argument, "rms_norm_eps is missing or not a positive number");
  if (cr->items().size() < static_cast<std::size_t>(layers))
    return config_error(status::invalid_argument, "compress_ratios has " + std::to_string(cr->items().size()) +
                                                      " entries, num_hidden_layers is " + std::to_string(layers));
  if (hash_layers > layers)
    return config_error(status::invalid_argument, "num_hash_layers " + std::to_string(hash_layers) +
                                                      " exceeds num_hidden_layers " + std::to_string(layers));
  int hca_ratio = 0;
  for (int l = 0; l < layers; ++l) {  // trailing entries belong to the MTP / DSpark stages
    const auto v = cr->items()[static_cast<std::size_t>(l)].as_int();
    if (!v || *v < 0 || *v > (1 << 20))
      return config_error(status::invalid_argument, "compress_ratios[" + std::to_string(l) +
                                                        "] must be a non-negative integer (0 sliding, 4 CSA, else HCA)");
    const int ratio = static_cast<int>(*v);
    if (ratio == 0) {
      c.layers.push_back(attention_kind::sliding);
    } else if (ratio == 4) {  // the reference builds the indexer iff the ratio is 4
      c.layers.push_back(attention_kind::csa);
    } else {
      if (hca_ratio != 0 && ratio != hca_ratio)
        return config_error(status::not_supported, "compress_ratios[" + std::to_string(l) + "] is " +
                                                       std::to_string(ratio) + " but an earlier HCA layer has " +
                                                       std::to_string(hca_ratio) + "; vprim holds one HCA ratio");
      hca_ratio = ratio;
      c.layers.push_back(attention_kind::hca);
    }
    c.mlps.push_back(l < hash_layers ? mlp_kind::hash_moe : mlp_kind::moe);
  }
  c.csa_ratio = 4;
  if (hca_ratio != 0) c.hca_ratio = hca_ratio;
  c.main_rope.theta = r.number(&j, "rope_theta", 10000.0f);
  c.compress_rope.theta = r.number(&j, "compress_rope_theta", c.main_rope.theta);
  if (const json_value* ys = j.find("rope_scaling"); ys != nullptr && !ys->is_null()) {
    const json_value* type = ys->find("type");
    if (type == nullptr) type = ys->find("rope_type");
    if (type == nullptr || !type->is_string() || type->as_string() != "yarn")
      return config_error(status::not_supported, "rope_scaling.type must be \"yarn\"");
    c.compress_rope.yarn = true;
    c.compress_rope.factor = r.number(ys, "factor", 1.0f);
    c.compress_rope.beta_fast = r.number(ys, "beta_fast", 32.0f);
    c.compress_rope.beta_slow = r.number(ys, "beta_slow", 1.0f);
    c.compress_rope.original_max_position = static_cast<int>(r.number(ys, "original_max_position_embeddings", 0.0f));
    if (c.compress_rope.original_max_position <= 0 || c.compress_rope.factor < 1.0f)
      return config_error(status::invalid_argument,
                          "rope_scaling needs factor >= 1 and a positive original_max_position_embeddings");
  }
  if (const json_value* d = j.find("expert_dtype"); d && d->is_string()) {
    if (d->as_string() != "fp4" && d->as_string() != "bf16" && d->as_string() != "fp8")
      return config_error(status::not_supported, "expert_dtype '" + d->as_string() + "' is not supported (fp4, fp8, bf16)");
    c.mxfp4_experts = d->as_string() == "fp4";
  }
  if (const json_value* q = j.find("quantization_config"); q && q->is_object()) {
    const json_value* bs = q->find("weight_block_size");
    if (bs == nullptr || !bs->is_array() || bs->items().size() != 2 || !bs->items()[0].as_int() ||
        !bs->items()[1].as_int() || *bs->items()[0].as_int() <= 0 || *bs->items()[1].as_int() <= 0)
      return config_error(status::invalid_argument, "quantization_config.weight_block_size must be two positive integers");
    c.fp8_block_rows = static_cast<int>(*bs->items()[0].as_int());
    c.fp8_block_cols = static_cast<int>(*bs->items()[1].as_int());
  }
  return std::nullopt;
}

//! transformers' converted form: layer_types, mlp_layer_types, compress_rates, rope_parameters.
inline status_error read_transformers_layers(const json_value& j, json_reader& r, config& c) {
  const json_value* lt = j.find("layer_types");
  const json_value* mt = j.find("mlp_layer_types");
  if (lt == nullptr || !lt->is_array() || mt == nullptr || !mt->is_array() || lt->items().size() != mt->items().size())
    return config_error(status::invalid_argument,
                        "needs compress_ratios (the release's form) or layer_types and mlp_layer_types of the same "
                        "length (transformers' form)");
  for (std::size_t i = 0; i < lt->items().size(); ++i) {
    const std::string& a = lt->items()[i].as_string();
    const std::string& m = mt->items()[i].as_string();
    if (a == "sliding_attention") c.layers.push_back(attention_kind::sliding);
    else if (a == "compressed_sparse_attention") c.layers.push_back(attention_kind::csa);
    else if (a == "heavily_compressed_attention") c.layers.push_back(attention_kind::hca);
    else return config_error(status::not_supported, "layer_types[" + std::to_string(i) + "] is unknown: '" + a + "'");
    if (m == "hash_moe") c.mlps.push_back(mlp_kind::hash_moe);
    else if (m == "moe") c.mlps.push_back(mlp_kind::moe);
    else return config_error(status::not_supported, "mlp_layer_types[" + std::to_string(i) + "] is unknown: '" + m + "'");
  }
  if (const json_value* cr = j.find("compress_rates")) {
    if (const json_value* v = cr->find("compressed_sparse_attention"); v && v->as_int()) c.csa_ratio = static_cast<int>(*v->as_int());
    if (const json_value* v = cr->find("heavily_compressed_attention"); v && v->as_int()) c.hca_ratio = static_cast<int>(*v->as_int());
  }
  const json_value* rp = j.find("rope_parameters");
  const json_value* main = rp ? rp->find("main") : nullptr;
  const json_value* comp = rp ? rp->find("compress") : nullptr;
  c.main_rope.theta = r.number(main, "rope_theta", r.number(&j, "rope_theta", 10000.0f));
  c.compress_rope.theta = r.number(comp, "rope_theta", r.number(&j, "compress_rope_theta", 160000.0f));
  if (comp != nullptr) {
    const json_value* type = comp->find("rope_type");
    c.compress_rope.yarn = type && type->is_string() && type->as_string() == "yarn";
    c.compress_rope.factor = r.number(comp, "factor", 1.0f);
    c.compress_rope.beta_fast = r.number(comp, "beta_fast", 32.0f);
    c.compress_rope.beta_slow = r.number(comp, "beta_slow", 1.0f);
    c.compress_rope.original_max_position = static_cast<int>(r.number(comp, "original_max_position_embeddings", 0.0f));
  }
  return std::nullopt;
}
}  // namespace detail

//! Parses and checks a DeepSeek-V4 config.json, in the release's form or transformers'.
[[nodiscard]] inline result<config> config_from_json(const json_value& j) {
  config c;
  detail::json_reader r{j, {}};
  c.vocab = r.integer("vocab_size");
  c.hidden = r.integer("hidden_size");
  c.heads = r.integer("num_attention_heads");
  c.head_dim = r.integer("head_dim");
  c.q_lora_rank = r.integer("q_lora_rank");
  c.o_groups = r.integer("o_groups");
  c.o_lora_rank = r.integer("o_lora_rank");
  c.sliding_window = r.integer("sliding_window");
  c.index_heads = r.integer("index_n_heads");
  c.index_head_dim = r.integer("index_head_dim");
  c.index_topk = r.integer("index_topk");
  c.routed_experts = r.integer("n_routed_experts");
  c.shared_experts = r.integer("n_shared_experts", 0);
  c.top_k = r.integer("num_experts_per_tok");
  c.moe_intermediate = r.integer("moe_intermediate_size");
  c.hc_mult = r.integer("hc_mult");
  c.hc_sinkhorn_iters = r.integer("hc_sinkhorn_iters");
  c.routed_scale = r.number(&j, "routed_scaling_factor", 1.0f);
  c.swiglu_limit = r.number(&j, "swiglu_limit", 0.0f);
  c.hc_eps = r.number(&j, "hc_eps", 1e-6f);
  c.norm_eps = r.number(&j, "rms_norm_eps", 1e-6f);
  if (j.find("qk_rope_head_dim") != nullptr) {
    c.rope_dim = r.integer("qk_rope_head_dim");
  } else {
    const float partial = r.number(&j, "partial_rotary_factor", 1.0f);
    c.rope_dim = static_cast<int>(static_cast<float>(c.head_dim) * partial);
  }
  if (const json_value* kv = j.find("num_key_value_heads"); kv && kv->as_int() && *kv->as_int() != 1)
    return make_error(status::not_supported, "DeepSeek-V4 config: num_key_value_heads is " + std::to_string(*kv->as_int()) +
                                                 "; the decoder has one shared K=V head");
  if (const json_value* v = j.find("norm_topk_prob"); v && v->is_bool()) c.norm_topk = v->as_bool();
  if (const json_value* v = j.find("scoring_func"); v && v->is_string()) {
    if (v->as_string() == "sqrtsoftplus") c.scoring = scoring_func::sqrtsoftplus;
    else if (v->as_string() == "sigmoid") c.scoring = scoring_func::sigmoid;
    else if (v->as_string() == "softmax") c.scoring = scoring_func::softmax;
    else return make_error(status::not_supported, "DeepSeek-V4 config: scoring_func '" + v->as_string() + "' is not supported");
  }
  const bool release_form = j.find("compress_ratios") != nullptr;
  if (detail::status_error e = release_form ? detail::read_release_layers(j, r, c) : detail::read_transformers_layers(j, r, c); e)
    return *e;
  if (!r.missing.empty()) return make_error(status::invalid_argument, "DeepSeek-V4 config: missing or invalid " + r.missing);
  if (c.heads % c.o_groups != 0)
    return make_error(status::invalid_argument, "DeepSeek-V4 config: num_attention_heads " + std::to_string(c.heads) +
                                                    " is not divisible by o_groups " + std::to_string(c.o_groups));
  if (c.rope_dim <= 0 || c.rope_dim % 2 != 0 || c.rope_dim > c.head_dim || c.rope_dim > c.index_head_dim)
    return make_error(status::invalid_argument, "DeepSeek-V4 config: rope slice of " + std::to_string(c.rope_dim) +
                                                    " dims must be even and fit the heads");
  if (!supported_expert_topk::contains(c.top_k))
    return make_error(status::not_supported, "DeepSeek-V4 config: num_experts_per_tok " + std::to_string(c.top_k) +
                                                 " is outside the supported 1..8");
  if (c.top_k > c.routed_experts || c.csa_ratio <= 0 || c.hca_ratio <= 0 || c.layers.empty())
    return make_error(status::invalid_argument, "DeepSeek-V4 config: top-k, compression ratios or layer count invalid");
  return c;
}

//! A decoder of preset dimensions and policies. Layer kinds follow the released stack: 2 sliding,
//! then CSA and HCA alternating from layer 2; hash routing in the first experts.hash_layers.
[[nodiscard]] inline config preset_config(const v4_dims& d, const compression_policy& csa,
                                          const compression_policy& hca, const sliding_window_policy& window,
                                          const expert_policy& experts) {
  config c;
  c.vocab = d.vocab;
  c.hidden = d.hidden;
  c.heads = d.heads;
  c.head_dim = d.head_dim;
  c.rope_dim = d.rope_dim;
  c.q_lora_rank = d.q_lora_rank;
  c.o_groups = d.o_groups;
  c.o_lora_rank = d.o_lora_rank;
  c.sliding_window = window.window;
  c.csa_ratio = csa.ratio;
  c.hca_ratio = hca.ratio;
  c.index_heads = d.index_heads;
  c.index_head_dim = d.index_head_dim;
  c.index_topk = csa.index_topk;
  c.routed_experts = experts.routed;
  c.shared_experts = experts.shared;
  c.top_k = experts.top_k;
  c.moe_intermediate = d.moe_intermediate;
  c.scoring = experts.scoring;
  c.routed_scale = experts.routed_scale;
  c.swiglu_limit = d.swiglu_limit;
  c.hc_mult = d.hc_mult;
  c.hc_sinkhorn_iters = d.hc_sinkhorn_iters;
  c.hc_eps = d.hc_eps;
  c.norm_eps = d.norm_eps;
  c.main_rope = {d.rope_theta, false, 1.0f, 0, 32.0f, 1.0f};
  c.compress_rope = {d.compress_rope_theta, true, d.yarn_factor, d.yarn_original_max_position, d.yarn_beta_fast,
                     d.yarn_beta_slow};
  for (int l = 0; l < d.layers; ++l) {
    c.layers.push_back(l < 2 ? attention_kind::sliding : (l % 2 == 0 ? attention_kind::csa : attention_kind::hca));
    c.mlps.push_back(l < experts.hash_layers ? mlp_kind::hash_moe : mlp_kind::moe);
  }
  return c;
}

//! The released DeepSeek-V4-Flash decoder (research/deepseek_v4.md §1): 43 layers ending with CSA.
[[nodiscard]] inline config flash_config() {
  return preset_config(presets::v4_flash, presets::v4_flash_csa, presets::v4_flash_hca, presets::v4_flash_window,
                       presets::v4_flash_experts);
}

//! The golden files' tiny decoder dimensions (deepseek_v4_public), with the released layer pattern.
[[nodiscard]] inline config golden_config() {
  return preset_config(presets::golden_v4, presets::golden_v4_csa, presets::golden_v4_hca, presets::golden_v4_window,
                       presets::golden_v4_experts);
}

//! A hash layer's token-to-experts table `name`, read through `ids` and checked for either
//! backend: [vocab, top_k], every entry an expert of the config.
[[nodiscard]] inline result<std::vector<std::int64_t>> read_hash_table(const index_source& ids, const std::string& name,
                                                                       const config& c) {
  auto t = ids(name);
  if (!t) return t.err();
  if (t->size() != static_cast<std::size_t>(c.vocab) * static_cast<std::size_t>(c.top_k))
    return make_error(status::shape_mismatch,
                      "weight '" + name + "' must be [" + std::to_string(c.vocab) + "," + std::to_string(c.top_k) + "]");
  for (std::size_t i = 0; i < t->size(); ++i)
    if ((*t)[i] < 0 || (*t)[i] >= c.routed_experts)
      return make_error(status::out_of_range, "weight '" + name + "' element " + std::to_string(i) + " names expert " +
                                                  std::to_string((*t)[i]) + " of " + std::to_string(c.routed_experts));
  return t;
}

}  // namespace v4
VPRIM_NAMESPACE_END

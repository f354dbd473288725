// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file vision_tower.hpp
//! A native-resolution vision tower plus its token merger, in two arrangements:
//! - deepseek_vit (released DeepSeek-ViT + aligner): Linear patch embed with bias; blocks of
//!   [RMSNorm, fused QKV+bias, 2D RoPE, attention, out proj+bias; RMSNorm, SwiGLU ([gate|up])];
//!   final RMSNorm; aligner: zero pad to the merge factor, channel-major unfold,
//!   Linear+bias, exact GELU, Linear+bias.
//! - qwen2_vl (transformers' Qwen2-VL vision tower): Conv3d patch embed without bias; blocks of
//!   [LayerNorm, QKV+bias, 2D RoPE, attention, proj+bias; LayerNorm, fc1, quick-GELU, fc2];
//!   merger: LayerNorm, token-major merge, Linear, exact GELU, Linear.
//! The class is templated on the patch and merge policies: a static field is checked against
//! the checkpoint's configuration at load time; a vprim::dynamic field takes the checkpoint's.
//! Activations take O(tokens x width) memory besides the weights.

#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "vprim/core/aligned_buffer.hpp"
#include "vprim/core/executor.hpp"
#include "vprim/cpu/activation.hpp"
#include "vprim/cpu/attention.hpp"
#include "vprim/cpu/attention_bf16.hpp"
#include "vprim/cpu/gemm.hpp"
#include "vprim/cpu/norm.hpp"
#include "vprim/cpu/rope.hpp"
#include "vprim/cpu/unfold.hpp"
#include "vprim/io/json.hpp"
#include "vprim/io/safetensors.hpp"
#include "vprim/model/tower_config.hpp"
#include "vprim/model/tower_tensor_table.hpp"
#include "vprim/model/weights.hpp"
#include "vprim/policy/concepts.hpp"

VPRIM_NAMESPACE_BEGIN

//! Called with (stage name, data, rows, cols) after each stage: patch_embed, block<i>, vit_out,
//! unfold, aligned. Used by the golden checker; leave empty in production.
using tower_observer = std::function<void(std::string_view, const float*, std::size_t, std::size_t)>;

//! The activations of encode() and merge(). Pass the same workspace to every call of a stream of
//! images (one per concurrent caller): its buffers grow to the largest grid seen and are then
//! reused, so no image pays for faulting in fresh pages (6-9% of an image on the development VM).
struct tower_workspace {
  aligned_buffer<float> h, qkv, attn, mid, act, unfolded, hidden;
  cpu::attention_bf16_scratch attention;
};

template <patch_policy P = patch_policy{dynamic, dynamic}, merge_policy M = merge_policy{dynamic, dynamic}>
  requires patch_policy_value<P> && merge_policy_value<M>
class vision_tower {
 public:
  //! Loads and packs the weights for Arch. The prefixes precede the peer names (for example
  //! "weight.vit." / "weight.aligner." for DeepSeek, "weight." for Qwen in the golden files).
  template <class Arch>
  [[nodiscard]] static result<vision_tower> load(Arch arch, const weight_source& source, const tower_config& cfg,
                                                 const std::string& tower_prefix, const std::string& merger_prefix);
  template <class Arch>
  [[nodiscard]] static result<vision_tower> load(Arch arch, const safetensors_file& file, const tower_config& cfg,
                                                 const std::string& tower_prefix, const std::string& merger_prefix);

  //! features[grid_h*grid_w, width] from patches[grid_h*grid_w, channels*patch*patch] (row-major
  //! patch grid, channel-major features).
  template <class Arch, executor Exec>
  [[nodiscard]] status encode(Arch arch, const float* patches, int grid_h, int grid_w, std::vector<float>& features,
                              tower_workspace& ws, Exec& exec, const tower_observer& observe = {}) const;

  //! merged[ceil(grid_h/m)*ceil(grid_w/m), out_dim] from encode()'s features.
  template <class Arch, executor Exec>
  [[nodiscard]] status merge(Arch arch, const std::vector<float>& features, int grid_h, int grid_w,
                             std::vector<float>& merged, tower_workspace& ws, Exec& exec,
                             const tower_observer& observe = {}) const;

  //! The two calls above with a workspace of their own (for one-off images).
  template <class Arch, executor Exec>
  [[nodiscard]] status encode(Arch arch, const float* patches, int grid_h, int grid_w, std::vector<float>& features,
                              Exec& exec, const tower_observer& observe = {}) const {
    tower_workspace ws;
    return encode(arch, patches, grid_h, grid_w, features, ws, exec, observe);
  }
  template <class Arch, executor Exec>
  [[nodiscard]] status merge(Arch arch, const std::vector<float>& features, int grid_h, int grid_w,
                             std::vector<float>& merged, Exec& exec, const tower_observer& observe = {}) const {
    tower_workspace ws;
    return merge(arch, features, grid_h, grid_w, merged, ws, exec, observe);
  }

  [[nodiscard]] const tower_config& config() const noexcept { return cfg_; }

 private:
  template <class Tower, class Lin, class Vec>
  friend std::optional<error> load_tower_tensors(Tower&, const tower_tensors&, Lin&&, Vec&&);
  using linear = linear_layer;
  struct block {
    std::vector<float> norm1_w, norm1_b, norm2_w, norm2_b;
    linear qkv, proj, fc1, fc2;
  };
  tower_config cfg_;
  linear patch_embed_;
  std::vector<block> blocks_;
  std::vector<float> final_norm_w_;            // deepseek only
  std::vector<float> merger_norm_w_, merger_norm_b_;  // qwen only
  linear merger1_, merger2_;
};

//! Tower dimensions from a checkpoint's JSON config: DeepSeek's keys (vision_dim, vision_n_heads,
//! vision_inter_dim, vision_n_layers, vision_patch_size, vision_rope_theta,
//! vision_downsample_ratio, hidden_size) or transformers' Qwen2-VL vision config (embed_dim,
//! num_heads, depth, mlp_ratio, patch_size, spatial_merge_size, in_channels, hidden_size).
[[nodiscard]] inline result<tower_config> tower_config_from_json(const json_value& j, tower_kind kind) {
  tower_config c;
  c.kind = kind;
  std::string missing;
  auto get_int = [&](const char* key, int& out) {
    const json_value* v = j.find(key);
    if (v == nullptr || !v->as_int() || *v->as_int() <= 0 || *v->as_int() > (1 << 24)) {
      missing += missing.empty() ? key : std::string(", ") + key;
      return;
    }
    out = static_cast<int>(*v->as_int());
  };
  auto get_float = [&](const char* key, float& out) {
    const json_value* v = j.find(key);
    if (v == nullptr || !v->is_number()) {
      missing += missing.empty() ? key : std::string(", ") + key;
      return;
    }
    out = static_cast<float>(v->as_double());
  };
  if (kind == tower_kind::deepseek_vit) {
    get_int("vision_dim", c.width);
    get_int("vision_n_heads", c.heads);
    get_int("vision_inter_dim", c.intermediate);
    get_int("vision_n_layers", c.layers);
    get_int("vision_patch_size", c.patch);
    get_int("vision_downsample_ratio", c.merge);
    get_int("hidden_size", c.out_dim);
    get_float("vision_rope_theta", c.rope_theta);
  } else {
    int ratio = 4;
    get_int("embed_dim", c.width);
    get_int("num_heads", c.heads);
    get_int("depth", c.layers);
    get_int("mlp_ratio", ratio);
    get_int("patch_size", c.patch);
    get_int("spatial_merge_size", c.merge);
    get_int("in_channels", c.channels);
    get_int("hidden_size", c.out_dim);
    c.intermediate = c.width * ratio;
    if (const json_value* rp = j.find("rope_parameters"); rp && rp->find("rope_theta") && rp->find("rope_theta")->is_number())
      c.rope_theta = static_cast<float>(rp->find("rope_theta")->as_double());
    if (const json_value* act = j.find("hidden_act"); act && act->is_string() && act->as_string() != "quick_gelu")
      return make_error(status::not_supported, "Qwen2-VL vision config: hidden_act '" + act->as_string() +
                                                   "' is not supported (quick_gelu is)");
  }
  if (!missing.empty())
    return make_error(status::invalid_argument, "vision config: missing or invalid field(s) " + missing);
  return c;
}

template <patch_policy P, merge_policy M>
  requires patch_policy_value<P> && merge_policy_value<M>
template <class Arch>
result<vision_tower<P, M>> vision_tower<P, M>::load(Arch arch, const safetensors_file& file, const tower_config& cfg,
                                                    const std::string& tp, const std::string& mp) {
  return load(arch, weights_from(file), cfg, tp, mp);
}

template <patch_policy P, merge_policy M>
  requires patch_policy_value<P> && merge_policy_value<M>
template <class Arch>
result<vision_tower<P, M>> vision_tower<P, M>::load(Arch arch, const weight_source& source, const tower_config& cfg,
                                                    const std::string& tp, const std::string& mp) {
  if (!is_dynamic(P.size) && P.size != cfg.patch)
    return make_error(status::shape_mismatch, "checkpoint patch size " + std::to_string(cfg.patch) +
                                                  " does not match the policy's " + std::to_string(P.size));
  if (!is_dynamic(P.channels) && P.channels != cfg.channels)
    return make_error(status::shape_mismatch, "checkpoint has " + std::to_string(cfg.channels) +
                                                  " input channels, the policy " + std::to_string(P.channels));
  if (!is_dynamic(M.factor) && M.factor != cfg.merge)
    return make_error(status::shape_mismatch, "checkpoint merge factor " + std::to_string(cfg.merge) +
                                                  " does not match the policy's " + std::to_string(M.factor));
  if (!is_dynamic(M.layout) && M.layout != cfg.layout())
    return make_error(status::shape_mismatch, "the policy's merge layout differs from this tower's arrangement");
  if (cfg.width <= 0 || cfg.heads <= 0 || cfg.width % cfg.heads != 0 || cfg.head_dim() % 4 != 0 || cfg.layers < 0 ||
      cfg.intermediate <= 0 || cfg.out_dim <= 0 || cfg.patch <= 0 || cfg.merge <= 0 || cfg.channels <= 0)
    return make_error(status::invalid_argument, "tower config: width " + std::to_string(cfg.width) + ", heads " +
                                                    std::to_string(cfg.heads) +
                                                    " (head_dim must be a multiple of 4) or another size is invalid");
  vision_tower t;
  t.cfg_ = cfg;
  const tower_tensors tt = tower_tensors_of(cfg, tp, mp);
  auto lin = [&](linear& out, const linear_spec& spec) -> std::optional<error> {
    auto l = linear::load(arch, source, spec.name, spec.out, spec.in, spec.bias, spec.stored, cfg.precision);
    if (!l) return l.err();
    out = std::move(*l);
    return std::nullopt;
  };
  auto vec = [&](std::vector<float>& out, const std::optional<tensor_spec>& spec) -> std::optional<error> {
    if (!spec) return std::nullopt;
    auto v = source(spec->name, spec->shape);
    if (!v) return v.err();
    out = std::move(*v);
    return std::nullopt;
  };
  if (auto e = load_tower_tensors(t, tt, lin, vec)) return *e;
  return result<vision_tower>(std::move(t));
}

template <patch_policy P, merge_policy M>
  requires patch_policy_value<P> && merge_policy_value<M>
template <class Arch, executor Exec>
status vision_tower<P, M>::encode(Arch arch, const float* patches, int grid_h, int grid_w, std::vector<float>& x,
                                  tower_workspace& ws, Exec& exec, const tower_observer& observe) const {
  if (grid_h <= 0 || grid_w <= 0 || patches == nullptr) return status::invalid_argument;
  const auto N = static_cast<std::size_t>(grid_h) * static_cast<std::size_t>(grid_w);
  const auto D = static_cast<std::size_t>(cfg_.width), I = static_cast<std::size_t>(cfg_.intermediate);
  const auto H = static_cast<std::size_t>(cfg_.heads), hd = static_cast<std::size_t>(cfg_.head_dim());
  const bool ds = cfg_.kind == tower_kind::deepseek_vit;
  auto run = [&](const linear& l, const float* in, float* out, bool accumulate) {
    return l.apply(arch, in, N, out, exec, accumulate);
  };
  auto note = [&](std::string_view name, const float* p, std::size_t cols) {
    if (observe) observe(name, p, N, cols);
  };
  x.resize(N * D);  // the patch embedding writes every value
  for (auto [buf, count] : {std::pair{&ws.h, N * D}, {&ws.qkv, N * 3 * D}, {&ws.attn, N * D},
                            {&ws.mid, N * (ds ? 2 * I : I)}, {&ws.act, ds ? N * I : 0}})
    if (status s = buf->ensure_size(count); s != status::ok) return s;
  float *const h = ws.h.data(), *const qkv = ws.qkv.data(), *const attn = ws.attn.data(), *const mid = ws.mid.data(),
               *const act = ws.act.data();
  if (status s = run(patch_embed_, patches, x.data(), false); s != status::ok) return s;
  note("patch_embed", x.data(), D);
  auto rope = cpu::make_rope_2d(static_cast<std::size_t>(grid_h), static_cast<std::size_t>(grid_w), hd, cfg_.rope_theta);
  if (!rope) return rope.code();
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  for (std::size_t l = 0; l < blocks_.size(); ++l) {
    const block& b = blocks_[l];
    auto norm = [&](const std::vector<float>& w, const std::vector<float>& bias) {
      if (ds) cpu::rmsnorm(arch, x.data(), h, w.data(), N, D, cfg_.norm_eps, exec);
      else cpu::layernorm(arch, x.data(), h, w.data(), bias.data(), N, D, cfg_.norm_eps, exec);
    };
    norm(b.norm1_w, b.norm1_b);
    if (status s = run(b.qkv, h, qkv, false); s != status::ok) return s;
    cpu::apply_rope_2d(arch, qkv, N, 2 * H, 3 * D, *rope, exec);  // q and k heads are adjacent
    cpu::attention_args a{N, H, hd, qkv, qkv + D, qkv + 2 * D, 3 * D, 3 * D, 3 * D, attn, D, scale};
    const status att = cfg_.precision == weight_precision::bfloat16
                           ? cpu::attention_bidirectional_bf16(arch, a, exec, ws.attention)
                           : cpu::attention_bidirectional(arch, a, exec);
    if (att != status::ok) return att;
    if (status s = run(b.proj, attn, x.data(), true); s != status::ok) return s;  // residual
    norm(b.norm2_w, b.norm2_b);
    if (status s = run(b.fc1, h, mid, false); s != status::ok) return s;
    if (ds) {
      cpu::swiglu(arch, mid, act, N, I, exec);
      if (status s = run(b.fc2, act, x.data(), true); s != status::ok) return s;
    } else {
      cpu::gelu(arch, mid, N * I, cpu::gelu_kind::quick, exec);
      if (status s = run(b.fc2, mid, x.data(), true); s != status::ok) return s;
    }
    note("block" + std::to_string(l), x.data(), D);
  }
  if (ds) {
    cpu::rmsnorm(arch, x.data(), x.data(), final_norm_w_.data(), N, D, cfg_.norm_eps, exec);
    note("vit_out", x.data(), D);
  }
  return status::ok;
}

template <patch_policy P, merge_policy M>
  requires patch_policy_value<P> && merge_policy_value<M>
template <class Arch, executor Exec>
status vision_tower<P, M>::merge(Arch arch, const std::vector<float>& features, int grid_h, int grid_w,
                                 std::vector<float>& merged, tower_workspace& ws, Exec& exec,
                                 const tower_observer& observe) const {
  const auto D = static_cast<std::size_t>(cfg_.width);
  const cpu::unfold_shape shape{static_cast<std::size_t>(grid_h), static_cast<std::size_t>(grid_w), D,
                                static_cast<std::size_t>(cfg_.merge)};
  if (grid_h <= 0 || grid_w <= 0 || features.size() != shape.grid_h * shape.grid_w * D) return status::shape_mismatch;
  const float* src = features.data();
  std::vector<float> normed;
  if (cfg_.kind == tower_kind::qwen2_vl) {
    normed.resize(features.size());
    cpu::layernorm(arch, features.data(), normed.data(), merger_norm_w_.data(), merger_norm_b_.data(),
                   shape.grid_h * shape.grid_w, D, cfg_.norm_eps, exec);
    src = normed.data();
  }
  const std::size_t T = shape.out_tokens(), F = shape.out_features();
  const std::size_t hidden_size = T * merger1_.out_features();
  if (status s = ws.unfolded.ensure_size(T * F); s != status::ok) return s;
  if (status s = ws.hidden.ensure_size(hidden_size); s != status::ok) return s;
  float *const unfolded = ws.unfolded.data(), *const hidden = ws.hidden.data();
  if (status s = cpu::merge_unfold(src, unfolded, shape, cfg_.layout(), exec); s != status::ok) return s;
  if (observe) observe("unfold", unfolded, T, F);
  if (status s = merger1_.apply(arch, unfolded, T, hidden, exec); s != status::ok) return s;
  cpu::gelu(arch, hidden, hidden_size, cpu::gelu_kind::exact, exec);
  merged.resize(T * merger2_.out_features());  // the second Linear writes every value
  if (status s = merger2_.apply(arch, hidden, T, merged.data(), exec); s != status::ok) return s;
  if (observe) observe("aligned", merged.data(), T, merger2_.out_features());
  return status::ok;
}

VPRIM_NAMESPACE_END

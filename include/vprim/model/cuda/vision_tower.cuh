// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file vision_tower.cuh
//! The vision towers and their mergers on the GPU, assembled from this directory's kernels with
//! the numerics of the CPU tower at the config's precision:
//! - bfloat16: bf16 weights, activations rounded to bf16 as each GEMM reads them (patchify and
//!   the unfold fused into the GEMMs' loads), tensor-core GEMMs and attention, fp32 sums;
//! - float32 (the golden path): fp32 weights, the fp32 GEMM and attention, the patches and the
//!   unfolded tokens materialised in the workspace.
//! DeepSeek-ViT:
//!   x = patch_embed(image)                        (patchify fused into the GEMM)
//!   per block: x += wo(attn(rope2d(wqkv(rms1(x)))));  x += w2(swiglu(w1(rms2(x))))
//!   x = rms(x); out = w2'(gelu(w1'(unfold3x3(x))))  (the unfold fused into the GEMM)
//! Qwen2-VL: LayerNorms with bias, a GELU-quick MLP (fused into fc1's epilogue), no final norm;
//! the merger is LayerNorm, the 2x2 token-major unfold fused into mlp.0 with GELU, then mlp.2.
//! Weights live on the device for the tower's lifetime; activations live in the caller's
//! workspace (two-phase, see launch.cuh), so a stream of images allocates nothing.

#include <algorithm>
#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "vprim/cuda/activation.cuh"
#include "vprim/cuda/attention.cuh"
#include "vprim/model/cuda/device_weights.cuh"
#include "vprim/cuda/norm.cuh"
#include "vprim/cuda/rope.cuh"
#include "vprim/cuda/vision_gemm.cuh"
#include "vprim/model/tower_tensor_table.hpp"
#include "vprim/model/vision_tower.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

//! Called after a stage with its name (patch_embed, block<i>, vit_out, unfold, aligned; in bf16
//! the unfold is fused into the aligner's GEMM and has no stage), its device data and shape, in
//! stream order: the observer synchronises before reading. For golden checks; leave empty
//! otherwise.
using device_observer = std::function<status(std::string_view, const float*, std::size_t rows, std::size_t cols)>;

class vision_tower {
 public:
  //! The tower and its merger from a weight source, with the CPU tower's names and shapes.
  [[nodiscard]] static result<vision_tower> load(const weight_source& source, const tower_config& cfg, const std::string& tp,
                                                 const std::string& mp) {
    if (cfg.width <= 0 || cfg.heads <= 0 || cfg.width % cfg.heads != 0 || cfg.head_dim() % 16 != 0 || cfg.head_dim() > 128 ||
        cfg.layers < 0 || cfg.intermediate <= 0 || cfg.out_dim <= 0 || cfg.patch <= 0 || cfg.merge <= 0 || cfg.channels <= 0)
      return make_error(status::not_supported, "cuda::vision_tower: width " + std::to_string(cfg.width) + ", heads " +
                                                   std::to_string(cfg.heads) + " (head_dim a multiple of 16 up to 128) or another size");
    if (cfg.precision != weight_precision::float32 && cfg.precision != weight_precision::bfloat16)
      return make_error(status::not_supported, "cuda::vision_tower: weights in float32 or bfloat16");
    vision_tower t;
    t.cfg_ = cfg;
    const tower_tensors tt = tower_tensors_of(cfg, tp, mp);
    auto lin = [&](linear& out, const linear_spec& spec) -> std::optional<error> {
      if (cfg.precision == weight_precision::float32) {
        auto dw = load_weight(source, spec.weight(), spec.weight_shape());
        if (!dw) return dw.err();
        out.w32 = std::move(*dw);
      } else {
        auto dw = load_weight_bf16(source, spec.weight(), spec.weight_shape());
        if (!dw) return dw.err();
        out.w = std::move(*dw);
      }
      out.n = static_cast<std::size_t>(spec.out);
      out.k = static_cast<std::size_t>(spec.in);
      if (spec.bias) {
        auto db = load_weight(source, spec.name + ".bias", {spec.out});
        if (!db) return db.err();
        out.bias = std::move(*db);
      }
      return std::nullopt;
    };
    auto vec = [&](device_buffer<float>& out, const std::optional<tensor_spec>& spec) -> std::optional<error> {
      if (!spec) return std::nullopt;
      auto d = load_weight(source, spec->name, spec->shape);
      if (!d) return d.err();
      out = std::move(*d);
      return std::nullopt;
    };
    if (auto e = load_tower_tensors(t, tt, lin, vec)) return *e;
    return result<vision_tower>(std::move(t));
  }

  //! Merged tokens out[tokens(height, width), out_dim] (fp32, device) of one normalised image
  //! [channels, height, width] (fp32, device) on `stream`; height and width multiples of the
  //! patch. Two-phase workspace.
  [[nodiscard]] status encode(const float* image, std::size_t height, std::size_t width, float* out, workspace& ws,
                              cudaStream_t stream, const device_observer& observe = {}) const {
    const bool ds = cfg_.kind == tower_kind::deepseek_vit, f32 = cfg_.precision == weight_precision::float32;
    const auto P = static_cast<std::size_t>(cfg_.patch), D = static_cast<std::size_t>(cfg_.width),
               I = static_cast<std::size_t>(cfg_.intermediate), H = static_cast<std::size_t>(cfg_.heads), hd = D / H,
               O = static_cast<std::size_t>(cfg_.out_dim), M1 = merger1_.n;
    if (height == 0 || width == 0 || height % P != 0 || width % P != 0) return status::shape_mismatch;
    const std::size_t gh = height / P, gw = width / P, N = gh * gw;
    const kernels::unfold_shape shape{gh, gw, D, static_cast<std::size_t>(cfg_.merge)};
    const std::size_t T = shape.out_tokens();
    detail::carve c(ws);
    float* x = c.take<float>(N * D);
    float* h = c.take<float>(N * D);
    float* qkv = c.take<float>(N * 3 * D);
    float* attn = c.take<float>(N * D);
    float* mid = c.take<float>(N * 2 * I);
    float* act = c.take<float>(N * I);
    float* hidden = c.take<float>(T * M1);
    auto* hb = f32 ? nullptr : c.take<__nv_bfloat16>(std::max({N * D, N * I, T * M1}));
    float* operand = f32 ? c.take<float>(std::max(N * patch_embed_.k, T * merger1_.k)) : nullptr;  // patches, then the unfold
    if (c.query()) {
      ws.bytes = c.need();
      return status::ok;
    }
    if (!c.fits()) return status::invalid_argument;
    if (image == nullptr || out == nullptr) return status::invalid_argument;
    // A Linear over fp32 rows: the fp32 GEMM, or the rows rounded to bf16 once for the tensor cores.
    auto run = [&](const linear& l, const float* in, std::size_t rows, float* dst, bool accumulate, epilogue act = epilogue::none) {
      if (f32) return gemm_f32({rows, l.n, l.k, in, l.k, l.w32.data(), l.k, l.bias.data(), dst, l.n, act, accumulate}, stream);
      if (const status s = to_bf16(in, hb, rows * l.k, stream); s != status::ok) return s;
      const gemm_args g{rows, l.n, l.k, hb, l.k, l.w.data(), l.k, l.bias.data(), dst, l.n, act, accumulate};
      return gemm_bf16(g, stream);
    };
    auto norm = [&](const device_buffer<float>& w, const device_buffer<float>& b, const float* in, float* out) {
      const norm_args a{in, out, w.data(), b.data(), N, D, cfg_.norm_eps};
      return ds ? rmsnorm(a, stream) : layernorm(a, stream);
    };
    patch_embed_args pe;
    pe.base = {0, D, 0, nullptr, 0, patch_embed_.w.data(), patch_embed_.k, patch_embed_.bias.data(), x, D};
    pe.image = image;
    pe.channels = static_cast<std::size_t>(cfg_.channels);
    pe.height = height;
    pe.width = width;
    pe.patch = P;
    auto note = [&](std::string_view stage, const float* data, std::size_t rows, std::size_t cols) {
      return observe ? observe(stage, data, rows, cols) : status::ok;
    };
    if (f32) {
      if (const status s = patchify_f32(pe, operand, stream); s != status::ok) return s;
      if (const status s = run(patch_embed_, operand, N, x, false); s != status::ok) return s;
    } else if (const status s = patch_embed_bf16(pe, stream); s != status::ok) {
      return s;
    }
    if (const status s = note("patch_embed", x, N, D); s != status::ok) return s;
    const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
    for (std::size_t l = 0; l < blocks_.size(); ++l) {
      const block& b = blocks_[l];
      status s = norm(b.norm1_w, b.norm1_b, x, h);
      if (s == status::ok) s = run(b.qkv, h, N, qkv, false);
      if (s == status::ok) s = rope_2d({qkv, N, 2 * H, hd, 3 * D, gw, static_cast<double>(cfg_.rope_theta)}, stream);  // q, k adjacent
      const attention_args heads{N, H, hd, qkv, qkv + D, qkv + 2 * D, 3 * D, 3 * D, 3 * D, attn, D, scale};
      if (s == status::ok) s = f32 ? attention_bidirectional(heads, stream) : attention_bidirectional_bf16(heads, stream);
      if (s == status::ok) s = run(b.proj, attn, N, x, true);  // the residual
      if (s == status::ok) s = norm(b.norm2_w, b.norm2_b, x, h);
      if (ds) {
        if (s == status::ok) s = run(b.fc1, h, N, mid, false);
        if (s == status::ok) s = swiglu({mid, mid + I, 2 * I, act, N, I}, stream);
        if (s == status::ok) s = run(b.fc2, act, N, x, true);
      } else {
        if (s == status::ok) s = run(b.fc1, h, N, act, false, epilogue::gelu_quick);
        if (s == status::ok) s = run(b.fc2, act, N, x, true);
      }
      if (s == status::ok) s = note("block" + std::to_string(l), x, N, D);
      if (s != status::ok) return s;
    }
    if (ds) {
      if (const status s = rmsnorm({x, x, final_norm_w_.data(), nullptr, N, D, cfg_.norm_eps}, stream); s != status::ok) return s;
      if (const status s = note("vit_out", x, N, D); s != status::ok) return s;
    } else if (const status s = layernorm({x, h, merger_norm_w_.data(), merger_norm_b_.data(), N, D, cfg_.norm_eps}, stream);
               s != status::ok) {
      return s;
    }
    merge_gemm_args mg;
    mg.base = {0, M1, 0, nullptr, 0, merger1_.w.data(), merger1_.k, merger1_.bias.data(), hidden, M1, epilogue::gelu_exact};  // bf16 only
    mg.tokens = ds ? x : h;
    mg.shape = shape;
    mg.layout = cfg_.layout();
    if (f32) {
      if (const status s = merge_unfold_f32(mg, operand, stream); s != status::ok) return s;
      if (const status s = note("unfold", operand, T, merger1_.k); s != status::ok) return s;
      if (const status s = run(merger1_, operand, T, hidden, false, epilogue::gelu_exact); s != status::ok) return s;
    } else if (const status s = merge_gemm_bf16(mg, stream); s != status::ok) {
      return s;
    }
    if (const status s = run(merger2_, hidden, T, out, false); s != status::ok) return s;
    return note("aligned", out, T, O);
  }

  [[nodiscard]] const tower_config& config() const noexcept { return cfg_; }
  //! The rows encode() writes for a height x width image (multiples of the patch).
  [[nodiscard]] std::size_t merged_tokens(std::size_t height, std::size_t width) const noexcept {
    const auto P = static_cast<std::size_t>(cfg_.patch);
    return kernels::unfold_shape{height / P, width / P, static_cast<std::size_t>(cfg_.width), static_cast<std::size_t>(cfg_.merge)}
        .out_tokens();
  }

 private:
  template <class Tower, class Lin, class Vec>
  friend std::optional<error> VPRIM_ABI_NAMESPACE::load_tower_tensors(Tower&, const tower_tensors&, Lin&&, Vec&&);
  struct linear {
    device_buffer<__nv_bfloat16> w;  //!< [n, k] (bfloat16 towers)
    device_buffer<float> w32;        //!< [n, k] (float32 towers)
    device_buffer<float> bias;       //!< [n] or empty
    std::size_t n = 0, k = 0;
  };
  struct block {
    device_buffer<float> norm1_w, norm2_w, norm1_b, norm2_b;  // the biases: Qwen2-VL's LayerNorms only
    linear qkv, proj, fc1, fc2;
  };
  tower_config cfg_;
  linear patch_embed_;
  std::vector<block> blocks_;
  device_buffer<float> final_norm_w_;                 // DeepSeek-ViT only
  device_buffer<float> merger_norm_w_, merger_norm_b_;  // Qwen2-VL only
  linear merger1_, merger2_;
};

}  // namespace cuda
VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file model.hpp
//! The DeepSeek-V4 decoder: embeddings copied into hc_mult streams; per layer
//! [mHC collapse -> RMSNorm -> attention -> mHC expand, mHC collapse -> RMSNorm -> MoE -> mHC
//! expand]; hyper-head collapse -> RMSNorm -> LM head. A `sequence_cache` carries everything a
//! later call needs (window rings, compressor buffers and overlap halves, entries, indexer keys),
//! so any split of a sequence into calls gives the logits of one long prefill.

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "vprim/model/v4/attention.hpp"
#include "vprim/model/v4/mhc.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

struct sequence_cache {
  std::vector<layer_cache> layers;
  std::int64_t next_position = 0;
};

class decoder {
 public:
  template <class Arch>
  [[nodiscard]] static result<decoder> load(Arch arch, const weight_source& src, const index_source& ids,
                                            const config& c, const std::string& prefix = "model.",
                                            const std::string& head_name = "lm_head") {
    decoder m;
    m.cfg_ = c;
    const auto V = static_cast<index_t>(c.vocab), D = static_cast<index_t>(c.hidden);
    auto emb = src(prefix + "embed_tokens.weight", {V, D});
    if (!emb) return emb.err();
    m.embed_ = std::move(*emb);
    auto norm = src(prefix + "norm.weight", {D});
    if (!norm) return norm.err();
    m.norm_ = std::move(*norm);
    auto head = linear_layer::load(arch, src, head_name, V, D, false, {}, c.head_precision);
    if (!head) return head.err();
    m.lm_head_ = std::move(*head);
    auto hh = hyper_head::load(src, prefix + "hc_head", static_cast<std::size_t>(c.hc_mult), static_cast<std::size_t>(c.hidden));
    if (!hh) return hh.err();
    m.hc_head_ = std::move(*hh);
    for (std::size_t l = 0; l < c.layers.size(); ++l) {
      const std::string p = prefix + "layers." + std::to_string(l) + ".";
      layer L;
      auto attn = attention_layer::load(arch, src, p + "self_attn.", c, c.layers[l]);
      if (!attn) return attn.err();
      L.attn = std::move(*attn);
      auto moe = moe_layer::load(arch, src, p + "mlp.", c, c.mlps[l], ids);
      if (!moe) return moe.err();
      L.moe = std::move(*moe);
      for (auto [dst, name] : {std::pair{&L.attn_hc, "attn_hc"}, std::pair{&L.ffn_hc, "ffn_hc"}}) {
        auto h = hyper_connection::load(src, p + name, static_cast<std::size_t>(c.hc_mult), static_cast<std::size_t>(c.hidden));
        if (!h) return h.err();
        *dst = std::move(*h);
      }
      for (auto [dst, name] : {std::pair{&L.attn_norm, "input_layernorm.weight"}, std::pair{&L.ffn_norm, "post_attention_layernorm.weight"}}) {
        auto w = src(p + name, {D});
        if (!w) return w.err();
        *dst = std::move(*w);
      }
      m.layers_.push_back(std::move(L));
    }
    return result<decoder>(std::move(m));
  }

  //! A cache for one sequence; with `max_tokens` the compressed entries are reserved up front, so
  //! decoding never reallocates (and copies) the history.
  [[nodiscard]] sequence_cache new_cache(std::size_t max_tokens = 0) const {
    sequence_cache c;
    c.layers.resize(layers_.size());
    for (std::size_t l = 0; l < layers_.size() && max_tokens > 0; ++l) {
      const auto& a = layers_[l].attn;
      if (a.comp) c.layers[l].main.reserve(max_tokens, a.comp->ratio, a.comp->width);
      if (a.index) c.layers[l].index.reserve(max_tokens, a.index->keys.ratio, a.index->keys.width);
    }
    return c;
  }
  [[nodiscard]] const config& cfg() const noexcept { return cfg_; }

  //! Token ids -> embeddings [S, hidden]; errors name the offending token index.
  [[nodiscard]] result<std::vector<float>> embed(const std::int64_t* ids, std::size_t S) const {
    const auto D = static_cast<std::size_t>(cfg_.hidden);
    std::vector<float> out(S * D);
    for (std::size_t t = 0; t < S; ++t) {
      if (ids[t] < 0 || ids[t] >= cfg_.vocab)
        return make_error(status::out_of_range, "token " + std::to_string(t) + " has id " + std::to_string(ids[t]) +
                                                    " outside the vocabulary of " + std::to_string(cfg_.vocab), t);
      std::copy_n(embed_.data() + static_cast<std::size_t>(ids[t]) * D, D, out.data() + t * D);
    }
    return out;
  }

  //! One call: S tokens continuing `cache`. `embeddings` [S, hidden] are the layer inputs (from
  //! embed(), or with image features spliced in); `ids` feed the routers: the hash layers'
  //! tables, and `bias_vl` for image-block ids (vocab + type, see moe.hpp). logits [S, vocab].
  //! With `first_position` >= 0 the call states where it starts; a call that does not continue
  //! the cache (e.g. a decode at position 5 on an empty cache) is refused with out_of_range.
  //! Non-finite embeddings are refused with non_finite. With `last_logits_only` the head runs on
  //! the last position alone and logits is [1, vocab] (a prefill that only continues decoding).
  template <class Arch, executor Exec>
  [[nodiscard]] status forward(Arch arch, const float* embeddings, const std::int64_t* ids, std::size_t S,
                               sequence_cache& cache, std::vector<float>& logits, Exec& exec, const observer& obs = {},
                               std::int64_t first_position = -1, bool last_logits_only = false) const {
    if (S == 0 || embeddings == nullptr) return status::invalid_argument;
    if (cache.layers.size() != layers_.size()) return status::invalid_argument;
    if (first_position >= 0 && first_position != cache.next_position) return status::out_of_range;
    const auto D = static_cast<std::size_t>(cfg_.hidden), n = static_cast<std::size_t>(cfg_.hc_mult);
    for (std::size_t i = 0; i < S * D; ++i)
      if (!std::isfinite(embeddings[i])) return status::non_finite;
    std::vector<std::int64_t> pos(S);
    for (std::size_t t = 0; t < S; ++t) pos[t] = cache.next_position + static_cast<std::int64_t>(t);
    std::vector<float> X(S * n * D), post(S * n), comb(S * n * n), collapsed(S * D), normed(S * D), f(S * D);
    for (std::size_t t = 0; t < S; ++t)
      for (std::size_t k = 0; k < n; ++k) std::copy_n(embeddings + t * D, D, X.data() + (t * n + k) * D);
    serial_executor serial;
    const auto s64 = static_cast<std::int64_t>(S), n64 = static_cast<std::int64_t>(n), d64 = static_cast<std::int64_t>(D);
    for (std::size_t l = 0; l < layers_.size(); ++l) {
      const layer& L = layers_[l];
      const std::string path = "layers." + std::to_string(l);
      for (int sub = 0; sub < 2; ++sub) {
        const hyper_connection& hc = sub == 0 ? L.attn_hc : L.ffn_hc;
        const std::string hc_path = path + (sub == 0 ? ".attn_hc" : ".ffn_hc");
        hc.compute(X.data(), S, cfg_.norm_eps, cfg_.hc_eps, cfg_.hc_sinkhorn_iters, post.data(), comb.data(), collapsed.data());
        if (obs) {
          obs.floats(hc_path, "out0", post.data(), {1, s64, n64});
          obs.floats(hc_path, "out1", comb.data(), {1, s64, n64, n64});
          obs.floats(hc_path, "out2", collapsed.data(), {1, s64, d64});
        }
        cpu::rmsnorm(arch, collapsed.data(), normed.data(), (sub == 0 ? L.attn_norm : L.ffn_norm).data(), S, D,
                     cfg_.norm_eps, serial);
        if (sub == 0) {
          if (status s = L.attn.forward(arch, normed.data(), S, pos.data(), cache.layers[l], f.data(), exec, obs,
                                        path + ".self_attn");
              s != status::ok)
            return s;
          if (obs) obs.floats(path + ".self_attn", "out0", f.data(), {1, s64, d64});
        } else {
          std::vector<float> router_logits(S * L.moe.experts), weights(S * L.moe.top_k);
          std::vector<std::int64_t> experts(S * L.moe.top_k);
          if (status s = L.moe.route(arch, normed.data(), S, ids, router_logits.data(), weights.data(), experts.data(), exec);
              s != status::ok)
            return s;
          if (obs) {
            const auto E = static_cast<std::int64_t>(L.moe.experts), K = static_cast<std::int64_t>(L.moe.top_k);
            obs.floats(path + ".mlp.gate", "out0", router_logits.data(), {s64, E});
            obs.floats(path + ".mlp.gate", "out1", weights.data(), {s64, K});
            obs.indices(path + ".mlp.gate", "out2", experts.data(), {s64, K});
          }
          if (status s = L.moe.apply(arch, normed.data(), S, weights.data(), experts.data(), f.data(), exec); s != status::ok)
            return s;
          if (obs) obs.floats(path + ".mlp", "out0", f.data(), {1, s64, d64});
        }
        hc.expand(X.data(), S, f.data(), post.data(), comb.data());
      }
    }
    hc_head_.collapse(X.data(), S, cfg_.norm_eps, cfg_.hc_eps, collapsed.data());
    if (obs) obs.floats("hc_head", "out0", collapsed.data(), {1, s64, d64});
    cpu::rmsnorm(arch, collapsed.data(), normed.data(), norm_.data(), S, D, cfg_.norm_eps, serial);
    const std::size_t rows = last_logits_only ? 1 : S;
    logits.resize(rows * static_cast<std::size_t>(cfg_.vocab));
    if (status s = lm_head_.apply(arch, normed.data() + (S - rows) * D, rows, logits.data(), exec); s != status::ok) return s;
    cache.next_position += s64;
    return status::ok;
  }

 private:
  struct layer {
    attention_layer attn;
    moe_layer moe;
    hyper_connection attn_hc, ffn_hc;
    std::vector<float> attn_norm, ffn_norm;
  };
  config cfg_;
  std::vector<float> embed_, norm_;
  linear_layer lm_head_;
  hyper_head hc_head_;
  std::vector<layer> layers_;
};

}  // namespace v4
VPRIM_NAMESPACE_END

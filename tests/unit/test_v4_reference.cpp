// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The DeepSeek-V4 modules against naive double-precision references (tests/reference/
// v4_reference.hpp) on a random configuration unlike the golden file's: CSA ratio 2, HCA ratio 3,
// hc_mult 2 with 3 Sinkhorn iterations, 5 experts top-3 with selection bias, three scoring
// functions. The compressor is fed in uneven chunks, so its streaming state is checked too.
#include <cmath>
#include <map>
#include <random>
#include <string>
#include <set>
#include <vector>

#include <catch2/catch.hpp>

#include "../reference/compare.hpp"
#include "../reference/v4_reference.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/model/v4/model.hpp"

namespace {

const char* config_json = R"({"vocab_size": 40, "hidden_size": 24, "num_attention_heads": 3, "head_dim": 16,
  "partial_rotary_factor": 0.25, "q_lora_rank": 12, "o_groups": 3, "o_lora_rank": 8, "sliding_window": 5,
  "layer_types": ["compressed_sparse_attention", "heavily_compressed_attention"], "mlp_layer_types": ["moe", "moe"],
  "compress_rates": {"compressed_sparse_attention": 2, "heavily_compressed_attention": 3},
  "index_n_heads": 2, "index_head_dim": 8, "index_topk": 2, "n_routed_experts": 5, "n_shared_experts": 1,
  "num_experts_per_tok": 3, "moe_intermediate_size": 10, "scoring_func": "sigmoid", "routed_scaling_factor": 2.0,
  "swiglu_limit": 3.0, "hc_mult": 2, "hc_sinkhorn_iters": 3, "hc_eps": 1e-6, "rms_norm_eps": 1e-6,
  "rope_parameters": {"main": {"rope_type": "default", "rope_theta": 10000.0},
                      "compress": {"rope_type": "yarn", "rope_theta": 160000.0, "factor": 16.0,
                                   "original_max_position_embeddings": 64, "beta_fast": 32.0, "beta_slow": 1.0}}})";

vprim::v4::config make_config(const std::string& scoring = "sigmoid") {
  std::string text = config_json;
  text.replace(text.find("\"sigmoid\""), 9, "\"" + scoring + "\"");
  auto c = vprim::v4::config_from_json(*vprim::parse_json(text));
  REQUIRE(c);
  return *c;
}

// Random tensors by name (created on first request), so module and reference share values.
struct random_weights {
  std::map<std::string, std::vector<float>> tensors;
  std::vector<float>& get(const std::string& name, std::size_t n) {
    auto& t = tensors[name];
    if (t.empty()) {
      std::mt19937 rng(static_cast<unsigned>(std::hash<std::string>{}(name)));
      std::uniform_real_distribution<float> u(-0.6f, 0.6f);
      t.resize(n);
      const bool norm = name.find("norm") != std::string::npos;
      for (auto& x : t) x = norm ? 1.0f + 0.2f * u(rng) : u(rng);
    }
    return t;
  }
  //! The packed [count, slice] tensor the loader reads one slice ("name[e]") at a time.
  std::vector<float> packed(const std::string& name, std::size_t count, std::size_t slice) {
    std::vector<float> all;
    for (std::size_t e = 0; e < count; ++e) {
      const auto& part = get(vprim::slice_name(name, static_cast<vprim::index_t>(e)), slice);
      all.insert(all.end(), part.begin(), part.end());
    }
    return all;
  }
  vprim::weight_source source() {
    return [this](const std::string& name, const std::vector<vprim::index_t>& shape) -> vprim::result<std::vector<float>> {
      std::size_t n = 1;
      for (auto d : shape) n *= static_cast<std::size_t>(d);
      return get(name, n);
    };
  }
};

std::vector<float> random_input(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(n);
  for (auto& x : v) x = u(rng);
  return v;
}

}  // namespace

TEST_CASE("mHC pre/post/comb/collapse equal the naive Sinkhorn", "[v4][reference][mhc]") {
  const auto c = make_config();
  random_weights w;
  auto hc = vprim::v4::hyper_connection::load(w.source(), vprim::v4::hyper_connection_tensors_of(c, "hc"), 2, 24);
  REQUIRE(hc);
  const std::size_t S = 4, n = 2, D = 24;
  auto x = random_input(S * n * D, 1);
  std::vector<float> post(S * n), comb(S * n * n), collapsed(S * D);
  REQUIRE(hc->compute(x.data(), S, c.norm_eps, c.hc_eps, c.hc_sinkhorn_iters, post.data(), comb.data(), collapsed.data()) ==
          vprim::status::ok);
  for (std::size_t t = 0; t < S; ++t) {
    const std::vector<float> xt(x.begin() + static_cast<std::ptrdiff_t>(t * n * D), x.begin() + static_cast<std::ptrdiff_t>((t + 1) * n * D));
    const auto ref = vprim_ref::mhc(xt, n, D, hc->fn, hc->base, hc->scale, c.hc_sinkhorn_iters, c.norm_eps, c.hc_eps);
    CAPTURE(t);
    vprim_ref::require_close("post", std::vector<float>(post.begin() + static_cast<std::ptrdiff_t>(t * n), post.begin() + static_cast<std::ptrdiff_t>((t + 1) * n)), ref.post, [](std::size_t) { return 1e-5; });
    vprim_ref::require_close("comb", std::vector<float>(comb.begin() + static_cast<std::ptrdiff_t>(t * n * n), comb.begin() + static_cast<std::ptrdiff_t>((t + 1) * n * n)), ref.comb, [](std::size_t) { return 1e-5; });
    vprim_ref::require_close("collapsed", std::vector<float>(collapsed.begin() + static_cast<std::ptrdiff_t>(t * D), collapsed.begin() + static_cast<std::ptrdiff_t>((t + 1) * D)), ref.collapsed, [](std::size_t) { return 1e-5; });
  }
}

// One sequence in a pool of the config's layout: pages of 6 positions (a multiple of both
// ratios), handed out in a scrambled order so entries cross pages through the block table.
struct one_sequence {
  vprim::v4::kv_pool pool;
  std::vector<std::int32_t> table;
  std::vector<std::byte> memory = std::vector<std::byte>(1 << 20);
  vprim::workspace_arena ws{memory};
  vprim::v4::sequence_ref seq{};

  explicit one_sequence(const vprim::v4::config& c) {
    auto layout = vprim::v4::kv_pool_layout::make(c, 6, 8, 1);
    REQUIRE(layout);
    auto p = vprim::v4::kv_pool::allocate(std::move(*layout));
    REQUIRE(p);
    pool = std::move(*p);
    table = {5, 2, 7, 0, 3, 6, 1, 4};
    seq.block_table = table.data();
    seq.table_size = table.size();
  }
  //! A call of `rows` rows continuing the sequence; returns its batch (valid until the next call).
  vprim::v4::batch_view call(std::size_t rows) {
    cu[0] = 0;
    cu[1] = rows;
    return {std::span<const vprim::v4::sequence_ref>(&seq, 1), std::span<const std::size_t>(cu, 2)};
  }
  std::size_t cu[2] = {0, 0};
};

TEST_CASE("compressor entries equal the per-window formula, fed in uneven chunks", "[v4][reference][compressor]") {
  const auto c = make_config();
  for (const bool overlap : {true, false}) {
    CAPTURE(overlap);
    const std::size_t ratio = overlap ? 2 : 3, width = 16, D = 24, T = 13;
    random_weights w;
    vprim::serial_executor exec;
    vprim::cpu::dispatch_cpu([&](auto arch) {
      auto comp = vprim::v4::compressor::load(arch, w.source(), "comp.", ratio, width, overlap, c);
      REQUIRE(comp);
      const auto x = random_input(T * D, 2);
      one_sequence one(c);
      const std::size_t layer = overlap ? 0 : 1;  // the config's CSA layer has ratio 2, its HCA layer ratio 3
      const auto& lay = one.pool.layout().layers[layer];
      for (std::size_t len : {3u, 1u, 5u, 2u, 2u}) {
        const auto batch = one.call(len);
        REQUIRE(comp->update(arch, x.data() + static_cast<std::size_t>(one.seq.length) * D, batch, one.pool.view(), *lay.main,
                             lay.entries, one.pool.layout().row_format, exec, one.ws) == vprim::status::ok);
        one.seq.length += static_cast<std::int64_t>(len);
      }
      const std::size_t P = overlap ? 2 * width : width;
      std::vector<double> inv(comp->inv_freq.begin(), comp->inv_freq.end());
      const auto entries = one.pool.view().entries(layer, one.seq);
      for (std::size_t e = 0; e < T / ratio; ++e) {
        const auto ref = vprim_ref::compressed_entry(x, D, e, ratio, width, overlap, w.get("comp.kv_proj.weight", P * D),
                                                     w.get("comp.gate_proj.weight", P * D), w.get("comp.position_bias", ratio * P),
                                                     w.get("comp.kv_norm.weight", width), inv, c.norm_eps);
        CAPTURE(e);
        vprim_ref::require_close("entry", std::vector<float>(entries.row(e), entries.row(e) + width), ref,
                                 [](std::size_t) { return 2e-5; });
      }
    });
  }
}

TEST_CASE("the indexer picks the top-k of the naive scores", "[v4][reference][indexer]") {
  const auto c = make_config();
  random_weights w;
  vprim::serial_executor exec;
  vprim::cpu::dispatch_cpu([&](auto arch) {
    auto ix = vprim::v4::indexer::load(arch, w.source(), "ix.", c);
    REQUIRE(ix);
    const std::size_t S = 11, D = 24, R = 12, H = 2, d = 8;
    const auto x = random_input(S * D, 3), qres = random_input(S * R, 4);
    one_sequence one(c);
    const auto& lay = one.pool.layout().layers[0];
    const auto batch = one.call(S);
    REQUIRE(ix->keys.update(arch, x.data(), batch, one.pool.view(), *lay.index, lay.index_keys, one.pool.layout().key_format, exec,
                            one.ws) == vprim::status::ok);
    std::vector<std::int64_t> pos(S), picks(S * 2);
    std::vector<std::uint32_t> seq_of(S, 0);
    std::iota(pos.begin(), pos.end(), 0);
    REQUIRE(ix->select(arch, x.data(), qres.data(), batch, pos.data(), seq_of.data(), lay, one.pool.view(), picks.data(), exec,
                       one.ws, {}, {}) == vprim::status::ok);
    const auto key_rows = one.pool.view().index_keys(0, one.seq);
    std::vector<float> keys;
    for (std::size_t i = 0; i < S / 2; ++i) keys.insert(keys.end(), key_rows.row(i), key_rows.row(i) + d);
    const auto& wq = w.get("ix.q_b_proj.weight", H * d * R);
    const auto& ww = w.get("ix.scorer.weights_proj.weight", H * D);
    for (std::size_t t = 0; t < S; ++t) {
      std::vector<float> q(H * d, 0.0f), hw(H, 0.0f);
      for (std::size_t o = 0; o < H * d; ++o) {
        double s = 0;
        for (std::size_t r = 0; r < R; ++r) s += static_cast<double>(wq[o * R + r]) * qres[t * R + r];
        q[o] = static_cast<float>(s);
      }
      for (std::size_t h = 0; h < H; ++h)
        for (std::size_t e = 0; e < D; ++e) hw[h] += ww[h * D + e] * x[t * D + e];
      for (std::size_t h = 0; h < H; ++h)  // RoPE on the trailing rope dims of each head
        for (std::size_t i = 0; i < ix->inv_freq.size(); ++i) {
          const double a = static_cast<double>(t) * ix->inv_freq[i];
          float* p = q.data() + h * d + d - 2 * ix->inv_freq.size() + 2 * i;
          const double x0 = p[0], x1 = p[1];
          p[0] = static_cast<float>(x0 * std::cos(a) - x1 * std::sin(a));
          p[1] = static_cast<float>(x1 * std::cos(a) + x0 * std::sin(a));
        }
      const std::size_t visible = (t + 1) / 2;
      const auto scores = vprim_ref::indexer_scores(q, hw, keys, visible, H, d);
      std::vector<std::int64_t> order(visible);
      std::iota(order.begin(), order.end(), 0);
      std::stable_sort(order.begin(), order.end(), [&](auto a, auto b) { return scores[static_cast<std::size_t>(a)] > scores[static_cast<std::size_t>(b)]; });
      std::vector<std::int64_t> want(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(2, visible)));
      while (want.size() < 2) want.push_back(-1);
      std::vector<std::int64_t> got(picks.begin() + static_cast<std::ptrdiff_t>(t * 2), picks.begin() + static_cast<std::ptrdiff_t>(t * 2 + 2));
      std::sort(want.begin(), want.end());
      std::sort(got.begin(), got.end());
      CAPTURE(t, scores);
      REQUIRE(got == want);
    }
  });
}

TEST_CASE("MoE routing and experts equal the naive mixture for every scoring function", "[v4][reference][moe]") {
  for (const std::string scoring : {"sigmoid", "softmax", "sqrtsoftplus"}) {
    CAPTURE(scoring);
    const auto c = make_config(scoring);
    random_weights w;
    vprim::serial_executor exec;
    vprim::cpu::dispatch_cpu([&](auto arch) {
      const vprim::v4::index_source no_ids = [](const std::string&) -> vprim::result<std::vector<std::int64_t>> {
        return vprim::make_error(vprim::status::not_found, "no hash table");
      };
      auto moe = vprim::v4::moe_layer::load(arch, w.source(), "mlp.", c, vprim::v4::mlp_kind::moe, no_ids);
      REQUIRE(moe);
      const std::size_t S = 6, D = 24, E = 5, K = 3, I = 10;
      const auto x = random_input(S * D, 5);
      std::vector<float> logits(S * E), weights(S * K), y(S * D);
      std::vector<std::int64_t> idx(S * K);
      REQUIRE(moe->route(arch, x.data(), S, nullptr, logits.data(), weights.data(), idx.data(), exec) == vprim::status::ok);
      REQUIRE(moe->apply(arch, x.data(), S, weights.data(), idx.data(), y.data(), exec) == vprim::status::ok);
      // Two threads with all 5 experts in play take the expert-parallel path (each thread runs
      // whole experts); the arithmetic per element is the same, so the result is identical.
      std::vector<float> y_parallel(S * D);
      vprim::thread_pool_executor two(2);
      REQUIRE(std::set<std::int64_t>(idx.begin(), idx.end()).size() == E);
      REQUIRE(moe->apply(arch, x.data(), S, weights.data(), idx.data(), y_parallel.data(), two) == vprim::status::ok);
      REQUIRE(y_parallel == y);
      const int code = scoring == "sigmoid" ? 1 : scoring == "softmax" ? 2 : 0;
      for (std::size_t t = 0; t < S; ++t) {
        const std::vector<float> xt(x.begin() + static_cast<std::ptrdiff_t>(t * D), x.begin() + static_cast<std::ptrdiff_t>((t + 1) * D));
        std::vector<std::int64_t> chosen;
        const auto ref = vprim_ref::moe(xt, D, E, K, I, code, c.routed_scale, c.swiglu_limit, w.get("mlp.gate.weight", E * D),
                                        w.get("mlp.gate.e_score_correction_bias", E), w.packed("mlp.experts.gate_up_proj", E, 2 * I * D),
                                        w.packed("mlp.experts.down_proj", E, D * I), w.get("mlp.shared_experts.gate_proj.weight", I * D),
                                        w.get("mlp.shared_experts.up_proj.weight", I * D), w.get("mlp.shared_experts.down_proj.weight", D * I),
                                        &chosen);
        CAPTURE(t);
        std::vector<std::int64_t> got(idx.begin() + static_cast<std::ptrdiff_t>(t * K), idx.begin() + static_cast<std::ptrdiff_t>((t + 1) * K));
        REQUIRE(got == chosen);
        vprim_ref::require_close("moe", std::vector<float>(y.begin() + static_cast<std::ptrdiff_t>(t * D), y.begin() + static_cast<std::ptrdiff_t>((t + 1) * D)), ref,
                                 vprim_ref::scaled_tolerance(ref, 2e-5));
      }
    });
  }
}

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The DeepSeek-V4 kernels of cpu/ against naive double-precision references, with their rows in
// pages handed out in a scrambled order: sparse attention (window, selected and visible entries,
// sinks), the compressor's update fed in uneven chunks, the indexer's scores, top-k (ties, NaN,
// the large-input path), the router (three scorings, hash tables, bias_vl), the grouping of
// slots by expert, the routed experts (fp32 and MXFP4 weights), mHC, the partial RoPE and the embedding gather. Compiled once per SIMD arch, like
// test_cpu_kernels.cpp; on a CPU without the arch the cases warn and check nothing.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "../reference/compare.hpp"
#include "../reference/dtype_reference.hpp"
#include "../reference/test_inputs.hpp"
#include "../reference/v4_reference.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/cpu/activation.hpp"
#include "vprim/cpu/compressor.hpp"
#include "vprim/cpu/embedding.hpp"
#include "vprim/cpu/indexer.hpp"
#include "vprim/cpu/kv_entry.hpp"
#include "vprim/cpu/mhc.hpp"
#include "vprim/cpu/norm.hpp"
#include "vprim/cpu/moe.hpp"
#include "vprim/cpu/moe_permute.hpp"
#include "vprim/cpu/router.hpp"
#include "vprim/cpu/rope.hpp"
#include "vprim/cpu/sparse_attention.hpp"
#include "vprim/cpu/topk.hpp"

#ifndef VPRIM_TEST_ARCH
#error "define VPRIM_TEST_ARCH, e.g. xsimd::avx2"
#endif

namespace {

using arch = VPRIM_TEST_ARCH;
using vprim_ref::random_vector;

//! Sparse-attention arguments for one query over raw window rows; callers add the entries,
//! sinks and output.
vprim::kernels::sparse_attention_args window_attention(std::size_t heads, std::size_t head_dim, const float* q,
                                                       std::int64_t position, std::size_t raw_count, const float* const* raw_rows,
                                                       const std::int64_t* raw_positions, std::size_t window) {
  vprim::kernels::sparse_attention_args a{};
  a.heads = heads;
  a.head_dim = head_dim;
  a.q = q;
  a.position = position;
  a.raw_count = raw_count;
  a.raw_rows = raw_rows;
  a.raw_positions = raw_positions;
  a.window = window;
  return a;
}

bool usable() {
  if (vprim::cpu::arch_usable<arch>()) return true;
  WARN("SIMD arch " << arch::name() << " is not available on this CPU: nothing checked");
  return false;
}

// Rows of `width` in pages of `per_page` rows, 3 floats of gap after each page; the block table
// hands the pages out last first, so consecutive rows cross pages out of order.
struct paged_store {
  std::size_t per_page, width, pages, stride;
  std::vector<float> memory;
  std::vector<std::int32_t> table;
  paged_store(std::size_t rows, std::size_t per_page_, std::size_t width_)
      : per_page(per_page_), width(width_), pages((rows + per_page_ - 1) / per_page_ + 1), stride(per_page_ * width_ + 3) {
    memory.assign(pages * stride, -7.0f);
    for (std::size_t k = 0; k < pages; ++k) table.push_back(static_cast<std::int32_t>(pages - 1 - k));
  }
  [[nodiscard]] vprim::kernels::paged_rows<float> rows() { return {memory.data(), stride, per_page, width, table.data()}; }
};

std::vector<char> scratch(std::size_t bytes) { return std::vector<char>(bytes + vprim::workspace_arena::alignment); }

}  // namespace

TEST_CASE("sparse attention over window rows and paged entries equals the naive softmax with sinks", "[cpu][v4][sparse_attention]") {
  if (!usable()) return;
  unsigned seed = 100;
  for (std::size_t heads : {1u, 3u, 8u})
    for (std::size_t D : {5u, 16u, 67u})
      for (int mode = 0; mode < 3; ++mode) {  // 0 sliding only, 1 CSA (selected), 2 HCA (all visible)
        CAPTURE(heads, D, mode, arch::name());
        const std::size_t window = 6, raw_n = 9, entries_n = mode ? 23 : 0, ratio = 4;
        const std::int64_t position = 70;
        const auto q = random_vector(heads * D, seed++), sinks = random_vector(heads, seed++, -1.0f, 2.0f);
        const auto raw = random_vector(raw_n * D, seed++);
        std::vector<const float*> raw_rows;
        std::vector<std::int64_t> raw_pos;
        for (std::size_t r = 0; r < raw_n; ++r) {
          raw_rows.push_back(raw.data() + r * D);
          raw_pos.push_back(position - static_cast<std::int64_t>(raw_n) + 1 + static_cast<std::int64_t>(r));  // 3 fall out of the window
        }
        paged_store store(entries_n, 5, D);
        const auto ev = random_vector(entries_n * D, seed++);
        for (std::size_t i = 0; i < entries_n; ++i) std::copy_n(ev.data() + i * D, D, store.rows().row(i));
        // CSA picks: some visible, a -1, one past the causal limit (71 / 4 = 17 visible), one past the entries
        const std::vector<std::int64_t> picks = {2, 16, -1, 17, 9, 0, 22, 30};
        auto a = window_attention(heads, D, q.data(), position, raw_n, raw_rows.data(), raw_pos.data(), window);
        if (mode) {
          a.entries = store.rows().as_const();
          a.entry_count = entries_n;
          a.ratio = static_cast<std::int64_t>(ratio);
        }
        if (mode == 1) {
          a.selected = picks.data();
          a.selected_count = picks.size();
        }
        a.sinks = sinks.data();
        a.scale = 1.0f / std::sqrt(static_cast<float>(D));
        std::vector<float> out(heads * D, 99.0f), probs(heads * (raw_n + entries_n), -1.0f);
        a.out = out.data();
        a.probs = probs.data();
        REQUIRE(vprim::kernels::sparse_attention_can_implement(a) == vprim::status::ok);
        auto memory = scratch(vprim::kernels::sparse_attention_workspace(a).bytes);
        vprim::workspace_arena ws(std::span<std::byte>(reinterpret_cast<std::byte*>(memory.data()), memory.size()));
        REQUIRE(vprim::cpu::sparse_attention(arch{}, a, ws) == vprim::status::ok);

        // The naive key set: window rows, then the entries (selected, or all visible).
        std::vector<std::pair<const float*, std::size_t>> keys;  // (row, probs column)
        for (std::size_t r = 0; r < raw_n; ++r)
          if (raw_pos[r] > position - static_cast<std::int64_t>(window)) keys.push_back({raw.data() + r * D, r});
        const std::size_t visible = std::min<std::size_t>(entries_n, static_cast<std::size_t>(position + 1) / ratio);
        if (mode == 1) {
          for (auto e : picks)
            if (e >= 0 && static_cast<std::size_t>(e) < visible) keys.push_back({ev.data() + static_cast<std::size_t>(e) * D, raw_n + static_cast<std::size_t>(e)});
        } else if (mode == 2) {
          for (std::size_t e = 0; e < visible; ++e) keys.push_back({ev.data() + e * D, raw_n + e});
        }
        REQUIRE(keys.size() == window + (mode == 1 ? 4 : mode == 2 ? 17 : 0));
        std::vector<double> want(heads * D, 0.0), want_probs(heads * (raw_n + entries_n), 0.0);
        for (std::size_t h = 0; h < heads; ++h) {
          std::vector<double> lg;
          double mx = sinks[h];
          for (auto [row, col] : keys) {
            double dot = 0;
            for (std::size_t d = 0; d < D; ++d) dot += static_cast<double>(q[h * D + d]) * row[d];
            lg.push_back(dot / std::sqrt(static_cast<double>(D)));
            mx = std::max(mx, lg.back());
          }
          double denom = std::exp(sinks[h] - mx);
          for (double v : lg) denom += std::exp(v - mx);
          for (std::size_t j = 0; j < keys.size(); ++j) {
            const double p = std::exp(lg[j] - mx) / denom;
            want_probs[h * (raw_n + entries_n) + keys[j].second] = p;
            for (std::size_t d = 0; d < D; ++d) want[h * D + d] += p * keys[j].first[d];
          }
        }
        vprim_ref::require_close("out", out, want, [](std::size_t) { return 2e-6; });
        vprim_ref::require_close("probs", probs, want_probs, [](std::size_t) { return 1e-6; });
      }
}

TEST_CASE("sparse attention refuses what it cannot do and reports a short workspace", "[cpu][v4][sparse_attention][errors]") {
  if (!usable()) return;
  std::vector<float> q(8, 0.5f), out(8), sinks(1, 0.0f), row(8, 1.0f);
  const float* rows[1] = {row.data()};
  const std::int64_t pos[1] = {0};
  auto a = window_attention(1, 8, q.data(), 0, 1, rows, pos, 4);
  a.sinks = sinks.data();
  a.out = out.data();
  vprim::workspace_arena none;
  CHECK(vprim::cpu::sparse_attention(arch{}, a, none) == vprim::status::out_of_memory);
  CHECK(none.short_by() > 0);
  a.entry_count = 3;  // entries without pages
  CHECK(vprim::cpu::sparse_attention(arch{}, a, none) == vprim::status::invalid_argument);
  a.entry_count = 0;
  a.sinks = nullptr;
  CHECK(vprim::cpu::sparse_attention(arch{}, a, none) == vprim::status::invalid_argument);
}

TEST_CASE("the compressor's update, fed in uneven chunks, gives every window's entry", "[cpu][v4][compressor]") {
  if (!usable()) return;
  for (const bool overlap : {true, false})
    for (std::size_t ratio : {1u, 3u, 4u}) {
      CAPTURE(overlap, ratio, arch::name());
      const std::size_t c = 12, P = overlap ? 2 * c : c, T = 29, pairs = 2;
      // Inputs are projections already; the reference projects x = [kv | gate] with [I | 0] and [0 | I].
      const auto kv = random_vector(T * P, 7), gate = random_vector(T * P, 8, -2.0f, 2.0f);
      const auto bias = random_vector(ratio * P, 9), norm = random_vector(c, 10, 0.5f, 1.5f);
      const std::vector<float> inv_freq = {0.5f, 0.03f};
      std::vector<float> x(T * 2 * P), wkv(P * 2 * P, 0.0f), wgate(P * 2 * P, 0.0f);
      for (std::size_t t = 0; t < T; ++t) {
        std::copy_n(kv.data() + t * P, P, x.data() + t * 2 * P);
        std::copy_n(gate.data() + t * P, P, x.data() + t * 2 * P + P);
      }
      for (std::size_t ch = 0; ch < P; ++ch) {
        wkv[ch * 2 * P + ch] = 1.0f;
        wgate[ch * 2 * P + P + ch] = 1.0f;
      }
      paged_store entries(T / ratio, 2, c);
      std::vector<float> buffer_kv(ratio * P), buffer_gate(ratio * P), overlap_kv(ratio * c), overlap_gate(ratio * c);
      vprim::kernels::compressor_update_args a{};
      a.ratio = ratio;
      a.width = c;
      a.overlap = overlap;
      a.ld = P;
      a.position_bias = bias.data();
      a.norm_weight = norm.data();
      a.eps = 1e-6f;
      a.inv_freq = inv_freq.data();
      a.rope_pairs = pairs;
      a.state = {buffer_kv.data(), buffer_gate.data(), overlap_kv.data(), overlap_gate.data()};
      a.entries = entries.rows();
      auto memory = scratch(vprim::kernels::compressor_update_workspace(a).bytes);
      vprim::workspace_arena ws(std::span<std::byte>(reinterpret_cast<std::byte*>(memory.data()), memory.size()));
      std::size_t fed = 0;
      for (std::size_t len : {1u, 5u, 0u, 2u, 9u, 1u, 1u, 10u}) {
        a.first_position = static_cast<std::int64_t>(fed);
        a.rows = len;
        a.kv = kv.data() + fed * P;
        a.gate = gate.data() + fed * P;
        REQUIRE(vprim::cpu::compressor_update(arch{}, a, ws) == vprim::status::ok);
        fed += len;
      }
      REQUIRE(fed == T);
      const std::vector<double> inv(inv_freq.begin(), inv_freq.end());
      for (std::size_t w = 0; w < T / ratio; ++w) {
        CAPTURE(w);
        const auto ref = vprim_ref::compressed_entry(x, 2 * P, w, ratio, c, overlap, wkv, wgate, bias, norm, inv, 1e-6);
        const float* got = entries.rows().row(w);
        vprim_ref::require_close("entry", std::vector<float>(got, got + c), ref, [](std::size_t) { return 3e-6; });
      }
    }
}

TEST_CASE("indexer scores over paged keys equal the naive weighted ReLU sum, in any split of the keys", "[cpu][v4][indexer]") {
  if (!usable()) return;
  unsigned seed = 300;
  for (std::size_t heads : {1u, 4u, 9u})
    for (std::size_t d : {8u, 19u, 128u}) {
      CAPTURE(heads, d, arch::name());
      const std::size_t visible = 37;
      const auto q = random_vector(heads * d, seed++), w = random_vector(heads, seed++), kv = random_vector(visible * d, seed++);
      paged_store keys(visible, 4, d);
      for (std::size_t i = 0; i < visible; ++i) std::copy_n(kv.data() + i * d, d, keys.rows().row(i));
      std::vector<float> scores(visible, -5.0f);
      const vprim::kernels::indexer_scores_args a{heads, d, q.data(), w.data(), keys.rows().as_const(), visible, scores.data()};
      REQUIRE(vprim::cpu::indexer_scores(arch{}, a, 0, 13) == vprim::status::ok);
      REQUIRE(vprim::cpu::indexer_scores(arch{}, a, 13, 1000) == vprim::status::ok);
      // The reference folds 1/sqrt(d) and 1/sqrt(H) in; the kernel takes them in the weights.
      std::vector<float> hw(heads);
      for (std::size_t h = 0; h < heads; ++h) hw[h] = w[h];
      auto ref = vprim_ref::indexer_scores(q, hw, kv, visible, heads, d);
      for (auto& r : ref) r *= std::sqrt(static_cast<double>(d)) * std::sqrt(static_cast<double>(heads));
      vprim_ref::require_close("scores", scores, ref, [&](std::size_t) { return 1e-5 * static_cast<double>(heads); });
    }
}

TEST_CASE("top-k equals a stable full sort: ties to the lower index, NaN last, large inputs exact", "[cpu][v4][topk]") {
  if (!usable()) return;
  std::mt19937 rng(5);
  for (std::size_t n : {1u, 7u, 100u, 4096u, 10000u, 262144u})
    for (std::size_t k : {1u, 6u, 512u}) {
      CAPTURE(n, k, arch::name());
      std::vector<float> v(n);
      for (auto& x : v) x = static_cast<float>(static_cast<int>(rng() % 50)) * 0.5f;  // many ties
      if (n > 5000) {
        for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<float>(static_cast<int>(rng() % 100000)) * 0.001f;
        std::fill(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n / 4), -INFINITY);
        for (std::size_t i = n - 700; i < n; ++i) v[i] = 1000.0f + static_cast<float>(i % 7);
      }
      if (n > 3) v[n / 2] = NAN;
      std::vector<std::int64_t> ref(n);
      std::iota(ref.begin(), ref.end(), 0);
      std::stable_sort(ref.begin(), ref.end(), [&](auto a, auto b) {
        const float x = v[static_cast<std::size_t>(a)], y = v[static_cast<std::size_t>(b)];
        if (std::isnan(x) || std::isnan(y)) return !std::isnan(x) && std::isnan(y);
        return x > y;
      });
      ref.resize(std::min(k, n));
      std::vector<std::int64_t> got(ref.size(), -2);
      const vprim::kernels::topk_args a{v.data(), n, k, got.data()};
      auto memory = scratch(vprim::kernels::topk_workspace(a).bytes);
      vprim::workspace_arena ws(std::span<std::byte>(reinterpret_cast<std::byte*>(memory.data()), memory.size()));
      REQUIRE(vprim::cpu::top_k(arch{}, a, ws) == vprim::status::ok);
      REQUIRE(got == ref);
      REQUIRE(ws.used() == 0);  // the workspace is given back
    }
}

TEST_CASE("partial RoPE rotates the trailing pairs of each head and its inverse undoes it", "[cpu][v4][rope]") {
  const std::size_t heads = 3, hd = 10, pairs = 2;
  const std::vector<float> inv = {1.0f, 0.01f};
  auto x = random_vector(heads * hd, 77);
  const auto orig = x;
  vprim::cpu::partial_rope(x.data(), heads, hd, inv.data(), pairs, 37.0);
  for (std::size_t h = 0; h < heads; ++h) {
    for (std::size_t e = 0; e < hd - 2 * pairs; ++e) REQUIRE(x[h * hd + e] == orig[h * hd + e]);  // NoPE part untouched
    for (std::size_t i = 0; i < pairs; ++i) {
      const double a = 37.0 * inv[i];
      const std::size_t at = h * hd + hd - 2 * pairs + 2 * i;
      CHECK(x[at] == Approx(orig[at] * std::cos(a) - orig[at + 1] * std::sin(a)).margin(1e-5));
      CHECK(x[at + 1] == Approx(orig[at + 1] * std::cos(a) + orig[at] * std::sin(a)).margin(1e-5));
    }
  }
  vprim::cpu::partial_rope(x.data(), heads, hd, inv.data(), pairs, 37.0, /*inverse=*/true);
  vprim_ref::require_close("round trip", x, orig, [](std::size_t) { return 1e-5; });
}

TEST_CASE("the router equals the naive top-k of score + bias for every scoring, and routes image tokens by bias_vl", "[cpu][v4][router]") {
  if (!usable()) return;
  const std::size_t T = 9, E = 37, K = 5, vocab = 100;
  const auto logits = random_vector(T * E, 11, -3.0f, 3.0f), bias = random_vector(E, 12, -0.2f, 0.2f),
             vision = random_vector(E, 13, -0.5f, 0.5f);
  std::vector<std::int64_t> ids(T), table(vocab * K);
  for (std::size_t t = 0; t < T; ++t) ids[t] = t % 3 == 2 ? static_cast<std::int64_t>(vocab + t % 2) : static_cast<std::int64_t>(t * 7);
  for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<std::int64_t>((i * 13) % E);
  std::vector<char> memory;
  for (int scoring = 0; scoring < 3; ++scoring)
    for (const bool hash : {false, true}) {
      CAPTURE(scoring, hash, arch::name());
      std::vector<float> weights(T * K, -1.0f);
      std::vector<std::int64_t> experts(T * K, -2);
      vprim::kernels::router_args a{};
      a.logits = logits.data();
      a.selection_bias = hash ? nullptr : bias.data();
      a.tid2eid = hash ? table.data() : nullptr;
      a.token_ids = ids.data();
      a.weights = weights.data();
      a.indices = experts.data();
      a.tokens = T;
      a.experts = E;
      a.top_k = K;
      a.vocab = vocab;
      a.scoring = static_cast<vprim::scoring_func>(scoring);
      a.routed_scale = 2.5f;
      a.vision_bias = vision.data();
      memory = scratch(vprim::kernels::router_workspace(a).bytes);
      vprim::workspace_arena ws(std::span<std::byte>(reinterpret_cast<std::byte*>(memory.data()), memory.size()));
      REQUIRE(vprim::cpu::route(arch{}, a, ws) == vprim::status::ok);
      for (std::size_t t = 0; t < T; ++t) {
        CAPTURE(t);
        const bool image = ids[t] >= static_cast<std::int64_t>(vocab);
        const vprim_ref::vec lg(logits.begin() + static_cast<std::ptrdiff_t>(t * E), logits.begin() + static_cast<std::ptrdiff_t>((t + 1) * E));
        const std::vector<float> zero(E, 0.0f);
        auto want = vprim_ref::route(lg, image ? vision : (hash ? zero : bias), scoring, 2.5, K);
        if (hash && !image) {  // the table's row, weighted by the unbiased scores
          want.experts.assign(table.begin() + ids[t] * static_cast<std::ptrdiff_t>(K), table.begin() + (ids[t] + 1) * static_cast<std::ptrdiff_t>(K));
          auto scored = vprim_ref::route(lg, zero, scoring, 1.0, E);  // every expert's score, in order of score
          std::vector<double> score(E);
          double sum = 0;
          for (std::size_t e = 0; e < E; ++e) score[static_cast<std::size_t>(scored.experts[e])] = scored.weights[e];
          for (auto e : want.experts) sum += score[static_cast<std::size_t>(e)];
          want.weights.clear();
          for (auto e : want.experts) want.weights.push_back(score[static_cast<std::size_t>(e)] / sum * 2.5);
        }
        REQUIRE(std::vector<std::int64_t>(experts.begin() + static_cast<std::ptrdiff_t>(t * K), experts.begin() + static_cast<std::ptrdiff_t>((t + 1) * K)) ==
                want.experts);
        vprim_ref::require_close("weights", std::vector<float>(weights.begin() + static_cast<std::ptrdiff_t>(t * K), weights.begin() + static_cast<std::ptrdiff_t>((t + 1) * K)),
                                 want.weights, [](std::size_t) { return 2e-6; });
      }
      if (hash) {
        a.vision_bias = nullptr;  // a text-only checkpoint: its table has no row for an image token
        CHECK(vprim::cpu::route(arch{}, a, ws) == vprim::status::not_supported);
        a.tokens = 2;  // text tokens only, token 1 with an id no row of the table has
        ids[1] = -1;
        CHECK(vprim::cpu::route(arch{}, a, ws) == vprim::status::out_of_range);
        ids[1] = 7;
      }
    }
}

TEST_CASE("mHC: pre/post/comb by Sinkhorn, the collapse, the expand and the hyper head equal their definitions", "[cpu][v4][mhc]") {
  if (!usable()) return;
  for (std::size_t n : {1u, 2u, 4u})
    for (std::size_t D : {3u, 24u}) {
      CAPTURE(n, D);
      const std::size_t T = 3, rows = (2 + n) * n;
      const auto x = random_vector(T * n * D, 21), fn = random_vector(rows * n * D, 22, -0.3f, 0.3f),
                 base = random_vector(rows, 23), scale = random_vector(3, 24, 0.5f, 1.5f), f = random_vector(T * D, 25);
      std::vector<float> post(T * n), comb(T * n * n), collapsed(T * D);
      const vprim::kernels::hc_args a{x.data(), fn.data(), base.data(), scale.data(), post.data(), comb.data(), collapsed.data(),
                                      T, n, D, 1e-6f, 1e-6f, 5};
      REQUIRE(vprim::cpu::hc_compute(a) == vprim::status::ok);
      auto y = x;
      REQUIRE(vprim::cpu::hc_expand(y.data(), f.data(), post.data(), comb.data(), T, n, D) == vprim::status::ok);
      for (std::size_t t = 0; t < T; ++t) {
        CAPTURE(t);
        const std::vector<float> xt(x.begin() + static_cast<std::ptrdiff_t>(t * n * D), x.begin() + static_cast<std::ptrdiff_t>((t + 1) * n * D));
        const auto ref = vprim_ref::mhc(xt, n, D, fn, base, scale, 5, 1e-6, 1e-6);
        auto part = [&](const std::vector<float>& v, std::size_t w) {
          return std::vector<float>(v.begin() + static_cast<std::ptrdiff_t>(t * w), v.begin() + static_cast<std::ptrdiff_t>((t + 1) * w));
        };
        vprim_ref::require_close("post", part(post, n), ref.post, [](std::size_t) { return 1e-5; });
        vprim_ref::require_close("comb", part(comb, n * n), ref.comb, [](std::size_t) { return 1e-5; });
        vprim_ref::require_close("collapsed", part(collapsed, D), ref.collapsed, [](std::size_t) { return 1e-5; });
        std::vector<double> want(n * D);
        for (std::size_t k = 0; k < n; ++k)
          for (std::size_t d = 0; d < D; ++d) {
            double acc = static_cast<double>(post[t * n + k]) * f[t * D + d];
            for (std::size_t j = 0; j < n; ++j) acc += static_cast<double>(comb[t * n * n + j * n + k]) * xt[j * D + d];
            want[k * D + d] = acc;
          }
        vprim_ref::require_close("expanded", part(y, n * D), want, [](std::size_t) { return 1e-5; });
      }
      // The hyper head: pre weights from n rows of fn and one scale.
      std::vector<float> head(T * D);
      const vprim::kernels::hc_args h{x.data(), fn.data(), base.data(), scale.data(), nullptr, nullptr, head.data(), T, n, D, 1e-6f, 1e-6f, 1};
      REQUIRE(vprim::cpu::hc_head_collapse(h) == vprim::status::ok);
      for (std::size_t t = 0; t < T; ++t) {
        const float* xt = x.data() + t * n * D;
        double ss = 0;
        for (std::size_t i = 0; i < n * D; ++i) ss += static_cast<double>(xt[i]) * xt[i];
        const double rho = 1.0 / std::sqrt(ss / static_cast<double>(n * D) + 1e-6);
        std::vector<double> want(D, 0.0);
        for (std::size_t j = 0; j < n; ++j) {
          double mix = 0;
          for (std::size_t i = 0; i < n * D; ++i) mix += static_cast<double>(fn[j * n * D + i]) * xt[i];
          const double pre = vprim_ref::sigmoid(mix * rho * scale[0] + base[j]) + 1e-6;
          for (std::size_t d = 0; d < D; ++d) want[d] += pre * xt[j * D + d];
        }
        vprim_ref::require_close("head", std::vector<float>(head.begin() + static_cast<std::ptrdiff_t>(t * D), head.begin() + static_cast<std::ptrdiff_t>((t + 1) * D)),
                                 want, [](std::size_t) { return 1e-5; });
      }
    }
  std::vector<float> big(17 * 19 * 17 * 4, 0.5f), out(17 * 17 + 17 + 4);
  const vprim::kernels::hc_args too_many{big.data(), big.data(), big.data(), big.data(), out.data(), out.data(), out.data(), 1, 17, 4,
                                         1e-6f, 1e-6f, 1};
  CHECK(vprim::cpu::hc_compute(too_many) == vprim::status::not_supported);  // more streams than the contract allows
}

TEST_CASE("the embedding gather copies each id's row and names the first id outside the vocabulary", "[cpu][v4][embedding]") {
  const std::size_t V = 11, D = 7;
  const auto table = random_vector(V * D, 31);
  std::vector<std::int64_t> ids = {3, 0, 10, 3};
  std::vector<float> out(ids.size() * D, -1.0f);
  REQUIRE_FALSE(vprim::cpu::embedding({table.data(), ids.data(), out.data(), ids.size(), V, D}));
  for (std::size_t t = 0; t < ids.size(); ++t)
    for (std::size_t d = 0; d < D; ++d) REQUIRE(out[t * D + d] == table[static_cast<std::size_t>(ids[t]) * D + d]);
  ids[2] = 11;
  const auto e = vprim::cpu::embedding({table.data(), ids.data(), out.data(), ids.size(), V, D});
  REQUIRE(e);
  CHECK(e->describe().find("token 2 has id 11 outside the vocabulary of 11") != std::string::npos);
  // A bf16 table gathers the rows widened: the same numbers as the fp32 table of its values.
  std::vector<std::uint16_t> half(V * D);
  std::vector<float> widened(V * D);
  for (std::size_t i = 0; i < half.size(); ++i) {
    half[i] = vprim::float_to_bf16_bits(table[i]);
    widened[i] = vprim::bf16_bits_to_float(half[i]);
  }
  ids[2] = 10;
  std::vector<float> from_half(out.size(), -1.0f);
  REQUIRE_FALSE(vprim::cpu::embedding({nullptr, ids.data(), from_half.data(), ids.size(), V, D, half.data()}));
  REQUIRE_FALSE(vprim::cpu::embedding({widened.data(), ids.data(), out.data(), ids.size(), V, D}));
  CHECK(from_half == out);
  CHECK(vprim::cpu::embedding({table.data(), ids.data(), out.data(), ids.size(), V, D, half.data()}).has_value());  // two tables
  CHECK(vprim::cpu::embedding({nullptr, ids.data(), out.data(), ids.size(), V, D}).has_value());                     // none
}

TEST_CASE("slots grouped by expert: a stable sort of the slots by expert id, with each expert's range", "[cpu][v4][moe]") {
  std::mt19937 rng(41);
  for (std::size_t experts : {1u, 5u, 64u})
    for (std::size_t slots : {0u, 1u, 17u, 600u}) {
      CAPTURE(experts, slots);
      std::vector<std::int64_t> ids(slots);
      for (auto& e : ids) e = static_cast<std::int64_t>(rng() % experts);
      std::vector<std::int32_t> order(slots, -1), offsets(experts + 1, -1);
      REQUIRE(vprim::cpu::moe_permute({ids.data(), order.data(), offsets.data(), slots, experts}) == vprim::status::ok);
      std::vector<std::int32_t> want(slots);
      std::iota(want.begin(), want.end(), 0);
      std::stable_sort(want.begin(), want.end(), [&](auto a, auto b) { return ids[static_cast<std::size_t>(a)] < ids[static_cast<std::size_t>(b)]; });
      REQUIRE(order == want);
      REQUIRE(offsets.front() == 0);
      REQUIRE(static_cast<std::size_t>(offsets.back()) == slots);
      for (std::size_t e = 0; e < experts; ++e)
        for (auto i = offsets[e]; i < offsets[e + 1]; ++i) REQUIRE(ids[static_cast<std::size_t>(order[static_cast<std::size_t>(i)])] == static_cast<std::int64_t>(e));
    }
  std::vector<std::int64_t> bad = {0, 3, 1};
  std::vector<std::int32_t> order(3), offsets(4);
  CHECK(vprim::cpu::moe_permute({bad.data(), order.data(), offsets.data(), 3, 3}) == vprim::status::out_of_range);
}

namespace {

//! Experts of one form for the routed-experts test: their views, and each one's value at (row,
//! column) as the kernel multiplies it.
struct test_experts {
  std::vector<vprim::cpu::packed_weight> f32;
  std::vector<std::vector<std::uint8_t>> codes, scales;
  std::vector<std::vector<float>> values;  // [2 * inter, dim] then [dim, inter], per expert
  std::vector<vprim::cpu::linear_view> gate_up, down;
};

test_experts make_experts(bool mxfp4, std::size_t E, std::size_t D, std::size_t I, std::mt19937& rng) {
  static const float e2m1[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  test_experts t;
  for (std::size_t e = 0; e < 2 * E; ++e) {
    const bool up = e % 2 == 0;
    const std::size_t n = up ? 2 * I : D, k = up ? D : I;
    std::vector<float> w(n * k);
    if (mxfp4) {
      std::vector<std::uint8_t> c(n * k / 2), s(n * k / 32);
      for (auto& b : c) b = static_cast<std::uint8_t>(rng());
      for (auto& b : s) b = static_cast<std::uint8_t>(120 + rng() % 6);
      for (std::size_t j = 0; j < n; ++j)
        for (std::size_t x = 0; x < k; ++x) {
          const std::uint8_t byte = c[j * (k / 2) + x / 2];
          w[j * k + x] = e2m1[x % 2 == 0 ? byte & 15u : byte >> 4] * std::ldexp(1.0f, s[j * (k / 32) + x / 32] - 127);
        }
      t.codes.push_back(std::move(c));
      t.scales.push_back(std::move(s));
    } else {
      w = random_vector(n * k, static_cast<unsigned>(rng()), -0.3f, 0.3f);
      auto packed = vprim::cpu::pack_weight(arch{}, w.data(), n, k, k);
      REQUIRE(packed.has_value());
      t.f32.push_back(std::move(*packed));
    }
    t.values.push_back(std::move(w));
  }
  for (std::size_t i = 0; i < 2 * E; ++i) {
    const bool up = i % 2 == 0;
    vprim::cpu::linear_view v;
    if (mxfp4)
      v.mxfp4 = {t.codes[i].data(), t.scales[i].data(), up ? 2 * I : D, up ? D : I};
    else
      v.f32 = &t.f32[i];
    (up ? t.gate_up : t.down).push_back(v);
  }
  return t;
}

double bf16_round(double x) { return vprim::bf16_bits_to_float(vprim::float_to_bf16_bits(static_cast<float>(x))); }

}  // namespace

TEST_CASE("the routed experts equal each token's weighted sum of its experts' clamped SwiGLU, in any thread count", "[cpu][v4][moe]") {
  if (!usable()) return;
  constexpr std::size_t E = 6, K = 2, D = 64, I = 32;
  constexpr float limit = 1.5f;
  std::mt19937 rng(58);
  vprim::serial_executor serial;
  vprim::thread_pool_executor two(2), three(3);
  for (bool mxfp4 : {false, true})
    for (std::size_t T : {1u, 5u, 40u})
      for (bool repeat : {false, true}) {  // repeat: one token names an expert twice (a hash table may)
        CAPTURE(mxfp4, T, repeat);
        const test_experts ex = make_experts(mxfp4, E, D, I, rng);
        const auto x = random_vector(T * D, static_cast<unsigned>(rng()), -1.0f, 1.0f);
        const auto w = random_vector(T * K, static_cast<unsigned>(rng()), 0.1f, 1.0f);
        std::vector<std::int64_t> idx(T * K);
        for (std::size_t t = 0; t < T; ++t) {
          idx[t * K] = static_cast<std::int64_t>(rng() % E);
          idx[t * K + 1] = repeat && t == 0 ? idx[t * K] : (idx[t * K] + 1 + static_cast<std::int64_t>(rng() % (E - 1))) % static_cast<std::int64_t>(E);
        }
        const auto y0 = random_vector(T * D, static_cast<unsigned>(rng()), -1.0f, 1.0f);
        vprim::cpu::moe_experts_args a{x.data(), idx.data(), w.data(), ex.gate_up.data(), ex.down.data(), nullptr, T, D, I, E, K, limit};
        const std::size_t bound_rows = repeat ? T * K : T;
        std::vector<std::vector<float>> outs;
        for (bool accumulate : {false, true})
          for (int threads : {1, 2, 3}) {
            std::vector<float> y = y0;
            a.y = y.data();
            a.accumulate = accumulate;
            auto mem = scratch(vprim::cpu::moe_experts_workspace(a, static_cast<std::size_t>(threads), bound_rows).bytes);
            vprim::workspace_arena ws(std::span<std::byte>(reinterpret_cast<std::byte*>(mem.data()), mem.size()));
            const vprim::status s = threads == 1 ? vprim::cpu::moe_experts(arch{}, a, serial, ws)
                                                 : vprim::cpu::moe_experts(arch{}, a, threads == 2 ? two : three, ws);
            REQUIRE(s == vprim::status::ok);
            outs.push_back(y);
          }
        REQUIRE(outs[0] == outs[1]);  // the thread count changes nothing, bit for bit
        REQUIRE(outs[0] == outs[2]);
        REQUIRE(outs[3] == outs[4]);
        REQUIRE(outs[3] == outs[5]);
        // The naive sum in double. The MXFP4 kernels round their inputs (x, and the activation
        // between the GEMMs) to bf16: x rounded here too; the activation's rounding, up to 2^-8
        // of each term of the down product, is in the bound.
        for (std::size_t t = 0; t < T; ++t) {
          std::vector<double> ref(D, 0.0), mag(D, 0.0);
          for (std::size_t k = 0; k < K; ++k) {
            const auto e = static_cast<std::size_t>(idx[t * K + k]);
            const std::vector<float>& gu = ex.values[2 * e];
            const std::vector<float>& dn = ex.values[2 * e + 1];
            for (std::size_t d = 0; d < D; ++d) {
              double sum = 0.0, m = 0.0;
              for (std::size_t i = 0; i < I; ++i) {
                double g = 0.0, u = 0.0;
                for (std::size_t c = 0; c < D; ++c) {
                  const double xc = mxfp4 ? bf16_round(x[t * D + c]) : x[t * D + c];
                  g += static_cast<double>(gu[i * D + c]) * xc;
                  u += static_cast<double>(gu[(I + i) * D + c]) * xc;
                }
                g = std::min(g, double{limit});
                u = std::clamp(u, -double{limit}, double{limit});
                const double act = g / (1.0 + std::exp(-g)) * u;
                sum += static_cast<double>(dn[d * I + i]) * act;
                m += std::fabs(static_cast<double>(dn[d * I + i]) * act);
              }
              ref[d] += w[t * K + k] * sum;
              mag[d] += w[t * K + k] * m;
            }
          }
          for (std::size_t d = 0; d < D; ++d) {
            CAPTURE(t, d);
            const double rel = mxfp4 ? 0x1p-8 + 1e-5 : 1e-5;
            REQUIRE(std::fabs(outs[0][t * D + d] - ref[d]) <= rel * mag[d] + 1e-6);
            REQUIRE(std::fabs(outs[3][t * D + d] - (ref[d] + y0[t * D + d])) <= rel * mag[d] + 1e-5);
          }
        }
      }
}

TEST_CASE("the routed experts refuse bad ids, wrong expert shapes and a short workspace", "[cpu][v4][moe][errors]") {
  if (!usable()) return;
  constexpr std::size_t E = 3, K = 2, D = 64, I = 32, T = 2;
  std::mt19937 rng(59);
  vprim::serial_executor serial;
  test_experts ex = make_experts(false, E, D, I, rng);
  const auto x = random_vector(T * D, 1u, -1.0f, 1.0f);
  const std::vector<float> w(T * K, 0.5f);
  std::vector<std::int64_t> idx = {0, 1, 2, 3};  // 3: no such expert
  std::vector<float> y(T * D);
  vprim::cpu::moe_experts_args a{x.data(), idx.data(), w.data(), ex.gate_up.data(), ex.down.data(), y.data(), T, D, I, E, K, 1.0f};
  auto mem = scratch(vprim::cpu::moe_experts_workspace(a, 1, T).bytes);
  vprim::workspace_arena ws(std::span<std::byte>(reinterpret_cast<std::byte*>(mem.data()), mem.size()));
  CHECK(vprim::cpu::moe_experts(arch{}, a, serial, ws) == vprim::status::out_of_range);
  idx[3] = 0;
  ex.down[1] = ex.gate_up[1];  // expert 1's down projection has the gate_up's shape
  CHECK(vprim::cpu::moe_experts(arch{}, a, serial, ws) == vprim::status::shape_mismatch);
  ex.down[1] = ex.down[0];
  CHECK(vprim::cpu::moe_experts(arch{}, a, serial, ws) == vprim::status::ok);
  auto little = scratch(vprim::cpu::moe_experts_workspace(a, 1, T).bytes / 2);
  vprim::workspace_arena short_ws(std::span<std::byte>(reinterpret_cast<std::byte*>(little.data()), little.size()));
  CHECK(vprim::cpu::moe_experts(arch{}, a, serial, short_ws) == vprim::status::out_of_memory);
  a.top_k = E + 1;
  CHECK(vprim::cpu::moe_experts(arch{}, a, serial, ws) == vprim::status::invalid_argument);
  a.top_k = K;
  a.down = nullptr;
  CHECK(vprim::cpu::moe_experts(arch{}, a, serial, ws) == vprim::status::invalid_argument);
}

TEST_CASE("norm, SwiGLU and the partial RoPE through their shared contracts equal the direct calls and refuse bad arguments", "[cpu][contracts]") {
  if (!usable()) return;
  vprim::serial_executor exec;
  // Sizes the compiler cannot fold: GCC 12 at -O3 warns of undefined behaviour in the vector
  // loops' never-taken iterations when it sees them as constants (a false positive).
  volatile std::size_t rows_at_runtime = 5, dim_at_runtime = 24;
  const std::size_t rows = rows_at_runtime, dim = dim_at_runtime;
  const auto x = random_vector(rows * dim, 51), w = random_vector(dim, 52), b = random_vector(dim, 53);
  std::vector<float> direct(rows * dim), via(rows * dim);
  vprim::cpu::rmsnorm(arch{}, x.data(), direct.data(), w.data(), rows, dim, 1e-6f, exec);
  REQUIRE(vprim::cpu::rmsnorm(arch{}, vprim::kernels::norm_args{x.data(), via.data(), w.data(), nullptr, rows, dim, 1e-6f}, exec) == vprim::status::ok);
  const auto same = [](std::size_t) { return 1e-6; };  // inlined twice, GCC may contract a*b+c differently
  vprim_ref::require_close("rmsnorm", via, direct, same);
  vprim::cpu::layernorm(arch{}, x.data(), direct.data(), w.data(), b.data(), rows, dim, 1e-6f, exec);
  REQUIRE(vprim::cpu::layernorm(arch{}, vprim::kernels::norm_args{x.data(), via.data(), w.data(), b.data(), rows, dim, 1e-6f}, exec) == vprim::status::ok);
  vprim_ref::require_close("layernorm", via, direct, same);
  CHECK(vprim::cpu::layernorm(arch{}, vprim::kernels::norm_args{x.data(), via.data(), w.data(), nullptr, rows, dim, 1e-6f}, exec) ==
        vprim::status::invalid_argument);  // LayerNorm needs its bias
  const std::size_t width = 10;
  std::vector<float> act_direct(rows * width), act_via(rows * width);
  vprim::cpu::swiglu_clamped(arch{}, x.data(), x.data() + width, dim, act_direct.data(), rows, width, 0.7f, exec);
  REQUIRE(vprim::cpu::swiglu_clamped(arch{}, vprim::kernels::swiglu_args{x.data(), x.data() + width, dim, act_via.data(), rows, width, 0.7f}, exec) ==
          vprim::status::ok);
  vprim_ref::require_close("swiglu", act_via, act_direct, same);
  CHECK(vprim::cpu::swiglu_clamped(arch{}, vprim::kernels::swiglu_args{x.data(), x.data() + width, 5, act_via.data(), rows, width, 0.7f}, exec) ==
        vprim::status::shape_mismatch);  // rows of 5 cannot hold 10 values
  const std::vector<float> inv = {0.9f, 0.05f};
  const std::vector<std::int64_t> pos = {0, 3, 11, 4, 100};
  auto roped = x, want = x;
  for (std::size_t t = 0; t < rows; ++t) vprim::cpu::partial_rope(want.data() + t * dim, 3, 8, inv.data(), 2, static_cast<double>(pos[t]));
  REQUIRE(vprim::cpu::partial_rope(vprim::kernels::rope_partial_args{roped.data(), pos.data(), inv.data(), rows, 3, 8, dim, 2, false}) ==
          vprim::status::ok);
  vprim_ref::require_close("partial rope", roped, want, same);
  CHECK(vprim::cpu::partial_rope(vprim::kernels::rope_partial_args{roped.data(), pos.data(), inv.data(), rows, 3, 8, 20, 2, false}) ==
        vprim::status::shape_mismatch);  // a row stride shorter than 3 heads of 8
}

// --- FP8 KV entries (kernels/kv_entry.hpp, cpu/kv_entry.hpp) --------------------------------------

namespace {

//! e4m3's value of a code by the naive reference (dtype_reference.hpp: ldexp, sign bit 0x80).
double e4m3_value(unsigned code) {
  return ((code & 0x80u) ? -1.0 : 1.0) * vprim_ref::decode(vprim_ref::e4m3_fmt, code & 0x7Fu);
}

}  // namespace

TEST_CASE("FP8 KV entries: the reference's quantiser and exact widening", "[cpu][v4][kv_entry]") {
  if (!usable()) return;
  using vprim::kernels::fp8_kv_layout;
  CHECK(vprim::kernels::v4_flash_kv_layout.bytes() == 584);
  CHECK(fp8_kv_layout{32, 8, 8}.bytes() == 48);  // 24 codes + 16 B of RoPE + 3 scales, padded
  CHECK(vprim::kernels::fp8_kv_can_implement({32, 8, 0}) == vprim::status::invalid_argument);
  CHECK(vprim::kernels::fp8_kv_can_implement({32, 8, 7}) == vprim::status::invalid_argument);
  CHECK(vprim::kernels::fp8_kv_can_implement({32, 7, 5}) == vprim::status::invalid_argument);

  // Every e4m3 code but NaN widens to its value.
  std::vector<std::byte> codes;
  for (unsigned c = 0; c < 256; ++c)
    if ((c & 0x7Fu) != 0x7Fu) codes.push_back(std::byte(c));
  std::vector<float> widened(codes.size());
  vprim::cpu::detail::widen_e4m3<arch>(codes.data(), codes.size(), widened.data());
  for (std::size_t i = 0; i < codes.size(); ++i) {
    const unsigned c = std::to_integer<unsigned>(codes[i]);
    CAPTURE(c);
    CHECK(static_cast<double>(widened[i]) == e4m3_value(c));
  }

  for (const fp8_kv_layout l : {vprim::kernels::v4_flash_kv_layout, fp8_kv_layout{32, 8, 8}, fp8_kv_layout{40, 10, 6}}) {
    CAPTURE(l.head_dim, l.rope_dim, l.tile);
    const std::size_t rows = 5, ld = l.head_dim + 3;
    std::vector<float> x = random_vector(rows * ld, static_cast<unsigned>(11 + l.head_dim), -2.0f, 2.0f);
    for (std::size_t j = 0; j < l.tile; ++j) x[j] = 0.0f;                        // an all-zero tile: the 1e-4 floor
    for (std::size_t j = 0; j < l.tile; ++j) x[ld + j] *= 1e-3f;                 // small values: subnormal codes
    x[2 * ld + 1] = 448.0f * 4.0f;                                               // amax an exact power of two times 448
    std::vector<std::byte> e(rows * l.bytes(), std::byte{0xAB});
    REQUIRE(vprim::cpu::quantize_kv_entries(l, x.data(), ld, rows, e.data()) == vprim::status::ok);
    std::vector<float> out(l.head_dim);
    for (std::size_t r = 0; r < rows; ++r) {
      const std::byte* entry = e.data() + r * l.bytes();
      const float* v = x.data() + r * ld;
      std::vector<double> want(l.head_dim);
      for (std::size_t t = 0; t < l.tiles(); ++t) {
        double amax = 1e-4;
        for (std::size_t j = 0; j < l.tile; ++j) amax = std::max(amax, std::fabs(static_cast<double>(v[t * l.tile + j])));
        const int exponent = static_cast<int>(std::ceil(std::log2(static_cast<float>(amax) / 448.0f)));
        CHECK(std::to_integer<int>(entry[l.scale_offset() + t]) == exponent + 127);
        const double scale = std::ldexp(1.0, exponent);
        for (std::size_t j = 0; j < l.tile; ++j) {
          const std::uint32_t code = vprim_ref::encode(vprim_ref::e4m3_fmt, static_cast<double>(v[t * l.tile + j]) / scale);
          CHECK(std::to_integer<unsigned>(entry[t * l.tile + j]) == code);
          want[t * l.tile + j] = e4m3_value(code) * scale;
        }
      }
      for (std::size_t j = 0; j < l.rope_dim; ++j)
        want[l.nope() + j] = vprim::bf16_bits_to_float(vprim::float_to_bf16_bits(v[l.nope() + j]));
      for (std::size_t p = l.scale_offset() + l.tiles(); p < l.bytes(); ++p) CHECK(entry[p] == std::byte{0});

      vprim::cpu::dequantize_kv_entry(arch{}, l, entry, out.data());
      for (std::size_t j = 0; j < l.head_dim; ++j) CHECK(static_cast<double>(out[j]) == want[j]);
    }
  }
  CHECK(vprim::cpu::quantize_kv_entries(vprim::kernels::v4_flash_kv_layout, nullptr, 512, 1, nullptr) ==
        vprim::status::invalid_argument);
}

TEST_CASE("FP8 KV rows: keys with an fp32 scale, and attention, the indexer and the compressor on FP8 rows", "[cpu][v4][kv_entry]") {
  if (!usable()) return;
  using vprim::kernels::kv_row_format;
  CHECK(kv_row_format::fp8_entries(vprim::kernels::v4_flash_kv_layout).bytes() == 584);
  CHECK(kv_row_format::fp8_keys(128).bytes() == 132);  // vLLM's V4 indexer key
  CHECK(kv_row_format::fp32_rows(512).bytes() == 2048);
  CHECK(vprim::kernels::fp8_kv_layout_for(512, 64).tile == 64);
  CHECK(vprim::kernels::fp8_kv_layout_for(64, 16).tile == 16);

  // An FP8 key: codes of x / scale, scale the power of two at or above max(amax, 1e-4) / 448.
  for (std::size_t width : {5u, 16u, 128u}) {
    CAPTURE(width);
    const kv_row_format f = kv_row_format::fp8_keys(width);
    auto x = random_vector(width, static_cast<unsigned>(40 + width), -3.0f, 3.0f);
    x[0] *= 1e-4f;
    std::vector<float> row(f.stored_floats(), -1.0f), back(width);
    vprim::cpu::store_kv_row(arch{}, f, x.data(), row.data());
    vprim::cpu::widen_kv_row(arch{}, f, row.data(), back.data());
    double amax = 1e-4;
    for (float v : x) amax = std::max(amax, std::fabs(static_cast<double>(v)));
    const double scale = std::ldexp(1.0, static_cast<int>(std::ceil(std::log2(static_cast<float>(amax) / 448.0f))));
    const auto* bytes = reinterpret_cast<const std::byte*>(row.data());
    for (std::size_t j = 0; j < width; ++j) {
      const std::uint32_t code = vprim_ref::encode(vprim_ref::e4m3_fmt, static_cast<double>(x[j]) / scale);
      CHECK(std::to_integer<unsigned>(bytes[j]) == code);
      CHECK(static_cast<double>(back[j]) == e4m3_value(code) * scale);
    }
  }

  // The kernels on FP8 rows equal the same kernels on the rows' widened values, bit for bit: an
  // FP8 row is read as exactly its widened values.
  const vprim::kernels::fp8_kv_layout layout = vprim::kernels::fp8_kv_layout_for(64, 16);
  const kv_row_format entry = kv_row_format::fp8_entries(layout);
  const std::size_t D = 64, heads = 5, raw_n = 7, entries_n = 30;
  const std::int64_t position = 100;
  auto stored_and_widened = [&](std::size_t n, unsigned seed, const kv_row_format& f, paged_store& fp8, paged_store& fp32) {
    const auto v = random_vector(n * f.width, seed, -4.0f, 4.0f);
    for (std::size_t i = 0; i < n; ++i) {
      vprim::cpu::store_kv_row(arch{}, f, v.data() + i * f.width, fp8.rows().row(i));
      vprim::cpu::widen_kv_row(arch{}, f, fp8.rows().row(i), fp32.rows().row(i));
    }
  };
  paged_store raw8(raw_n, raw_n, entry.stored_floats()), raw32(raw_n, raw_n, D);
  paged_store ent8(entries_n, 4, entry.stored_floats()), ent32(entries_n, 4, D);
  stored_and_widened(raw_n, 61, entry, raw8, raw32);
  stored_and_widened(entries_n, 62, entry, ent8, ent32);
  const auto q = random_vector(heads * D, 63), sinks = random_vector(heads, 64);
  const std::vector<std::int64_t> picks = {3, 20, -1, 7, 24};
  for (const bool csa : {true, false}) {
    CAPTURE(csa);
    std::vector<float> out8(heads * D), out32(heads * D);
    for (const bool fp8 : {true, false}) {
      std::vector<const float*> rows;
      std::vector<std::int64_t> pos;
      for (std::size_t r = 0; r < raw_n; ++r) {
        rows.push_back(fp8 ? raw8.rows().row(r) : raw32.rows().row(r));
        pos.push_back(position - static_cast<std::int64_t>(raw_n - 1 - r));
      }
      auto a = window_attention(heads, D, q.data(), position, raw_n, rows.data(), pos.data(), 8);
      a.entries = (fp8 ? ent8 : ent32).rows().as_const();
      a.entry_count = entries_n;
      a.ratio = 4;
      if (csa) {
        a.selected = picks.data();
        a.selected_count = picks.size();
      }
      a.sinks = sinks.data();
      a.scale = 0.125f;
      a.out = fp8 ? out8.data() : out32.data();
      if (fp8) a.format = entry;
      auto memory = scratch(vprim::kernels::sparse_attention_workspace(a).bytes);
      vprim::workspace_arena ws(std::span<std::byte>(reinterpret_cast<std::byte*>(memory.data()), memory.size()));
      REQUIRE(vprim::cpu::sparse_attention(arch{}, a, ws) == vprim::status::ok);
    }
    for (std::size_t i = 0; i < out8.size(); ++i) REQUIRE(out8[i] == out32[i]);
  }
  {  // a format of another width, or entries of the wrong stride, are refused
    vprim::kernels::sparse_attention_args a{};
    a.heads = 1;
    a.head_dim = 32;
    a.q = q.data();
    a.sinks = sinks.data();
    std::vector<float> out(32);
    a.out = out.data();
    a.format = entry;
    CHECK(vprim::kernels::sparse_attention_can_implement(a) == vprim::status::shape_mismatch);
    a.head_dim = D;
    a.entries = ent32.rows().as_const();
    a.entry_count = 1;
    CHECK(vprim::kernels::sparse_attention_can_implement(a) == vprim::status::shape_mismatch);
  }

  const kv_row_format key = kv_row_format::fp8_keys(32);
  paged_store key8(entries_n, 4, key.stored_floats()), key32(entries_n, 4, 32);
  stored_and_widened(entries_n, 65, key, key8, key32);
  const auto iq = random_vector(3 * 32, 66), iw = random_vector(3, 67);
  std::vector<float> s8(entries_n), s32(entries_n);
  vprim::kernels::indexer_scores_args ia{3, 32, iq.data(), iw.data(), key8.rows().as_const(), entries_n, s8.data(), key};
  REQUIRE(vprim::cpu::indexer_scores(arch{}, ia) == vprim::status::ok);
  ia.keys = key32.rows().as_const();
  ia.scores = s32.data();
  ia.format = kv_row_format{};
  REQUIRE(vprim::cpu::indexer_scores(arch{}, ia) == vprim::status::ok);
  for (std::size_t i = 0; i < entries_n; ++i) REQUIRE(s8[i] == s32[i]);
  ia.format = key;  // FP8 keys through fp32-wide rows
  CHECK(vprim::cpu::indexer_scores(arch{}, ia) == vprim::status::shape_mismatch);

  // The compressor stores each finished entry in the pool's format: the fp32 entry, quantised.
  const std::size_t c = 32, ratio = 4, T = 21;
  const auto kv = random_vector(T * 2 * c, 68), gate = random_vector(T * 2 * c, 69), bias = random_vector(ratio * 2 * c, 70);
  const auto norm = random_vector(c, 71, 0.5f, 1.5f);
  const std::vector<float> inv_freq = {0.5f, 0.03f};
  const kv_row_format f8 = kv_row_format::fp8_entries(vprim::kernels::fp8_kv_layout_for(c, 4));
  paged_store got8(T / ratio, 2, f8.stored_floats()), got32(T / ratio, 2, c);
  for (const bool fp8 : {true, false}) {
    std::vector<float> buffer_kv(ratio * 2 * c), buffer_gate(ratio * 2 * c), overlap_kv(ratio * c), overlap_gate(ratio * c);
    vprim::kernels::compressor_update_args a{};
    a.ratio = ratio;
    a.width = c;
    a.overlap = true;
    a.ld = 2 * c;
    a.position_bias = bias.data();
    a.norm_weight = norm.data();
    a.inv_freq = inv_freq.data();
    a.rope_pairs = 2;
    a.state = {buffer_kv.data(), buffer_gate.data(), overlap_kv.data(), overlap_gate.data()};
    a.entries = fp8 ? got8.rows() : got32.rows();
    if (fp8) a.format = f8;
    a.rows = T;
    a.kv = kv.data();
    a.gate = gate.data();
    auto memory = scratch(vprim::kernels::compressor_update_workspace(a).bytes);
    vprim::workspace_arena ws(std::span<std::byte>(reinterpret_cast<std::byte*>(memory.data()), memory.size()));
    REQUIRE(vprim::cpu::compressor_update(arch{}, a, ws) == vprim::status::ok);
  }
  for (std::size_t w = 0; w < T / ratio; ++w) {
    std::vector<float> want(f8.stored_floats());
    vprim::cpu::store_kv_row(arch{}, f8, got32.rows().row(w), want.data());
    REQUIRE(std::memcmp(want.data(), got8.rows().row(w), f8.bytes()) == 0);
  }
}

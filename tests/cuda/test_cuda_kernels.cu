// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The CUDA kernels against the same naive references as the CPU kernels. Without a device the
// binary says so and exits with 77, which CTest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "../reference/compare.hpp"
#include "../reference/kernels_reference.hpp"
#include "../reference/test_inputs.hpp"
#include "../reference/v4_reference.hpp"
#include "vprim/core/dtype.hpp"
#include "vprim/model/v4/mhc.hpp"
#include "vprim/model/v4/rope.hpp"
#include "vprim/vprim.cuh"

namespace {

// Device memory holding a copy of a host vector; freed on scope exit.
template <class T>
struct device_vector {
  T* ptr = nullptr;
  std::size_t size = 0;
  explicit device_vector(std::size_t n) : size(n) { REQUIRE(cudaMalloc(&ptr, std::max<std::size_t>(n, 1) * sizeof(T)) == cudaSuccess); }
  explicit device_vector(const std::vector<T>& h) : device_vector(h.size()) {
    REQUIRE(cudaMemcpy(ptr, h.data(), h.size() * sizeof(T), cudaMemcpyHostToDevice) == cudaSuccess);
  }
  device_vector(const device_vector&) = delete;
  device_vector& operator=(const device_vector&) = delete;
  ~device_vector() { cudaFree(ptr); }
  std::vector<T> get() const {
    std::vector<T> h(size);
    REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
    REQUIRE(cudaMemcpy(h.data(), ptr, size * sizeof(T), cudaMemcpyDeviceToHost) == cudaSuccess);
    return h;
  }
};

using vprim_ref::random_vector;
using vprim_ref::round_bf16;

// The workspace protocol: query, allocate, run.
template <class Call>
vprim::status with_workspace(Call call) {
  vprim::cuda::workspace ws;
  if (const auto s = call(ws); s != vprim::status::ok) return s;
  void* p = nullptr;
  REQUIRE(cudaMalloc(&p, std::max<std::size_t>(ws.bytes, 1)) == cudaSuccess);
  ws.ptr = p;
  const auto s = call(ws);
  REQUIRE(cudaDeviceSynchronize() == cudaSuccess);
  cudaFree(p);
  return s;
}

}  // namespace

TEST_CASE("cuda RMSNorm and LayerNorm equal the naive norms", "[cuda][norm]") {
  for (std::size_t rows : {1u, 7u, 100u})
    for (std::size_t dim : {1u, 13u, 256u, 1000u}) {
      CAPTURE(rows, dim);
      const auto x = random_vector(rows * dim, 1, -3.0f, 3.0f), w = random_vector(dim, 2), b = random_vector(dim, 3);
      device_vector<float> dx(x), dw(w), db(b), out(rows * dim);
      REQUIRE(vprim::cuda::rmsnorm({dx.ptr, out.ptr, dw.ptr, nullptr, rows, dim, 1e-6f}, nullptr) == vprim::status::ok);
      vprim_ref::require_close("rmsnorm", out.get(), vprim_ref::rmsnorm(x, w, rows, dim, 1e-6), [](std::size_t) { return 1e-5; });
      REQUIRE(vprim::cuda::rmsnorm({dx.ptr, out.ptr, nullptr, nullptr, rows, dim, 1e-6f}, nullptr) == vprim::status::ok);
      vprim_ref::require_close("rmsnorm unweighted", out.get(), vprim_ref::rmsnorm(x, {}, rows, dim, 1e-6),
                               [](std::size_t) { return 1e-5; });
      REQUIRE(vprim::cuda::layernorm({dx.ptr, out.ptr, dw.ptr, db.ptr, rows, dim, 1e-6f}, nullptr) == vprim::status::ok);
      vprim_ref::require_close("layernorm", out.get(), vprim_ref::layernorm(x, w, b, rows, dim, 1e-6), [](std::size_t) { return 1e-5; });
    }
  REQUIRE(vprim::cuda::layernorm({nullptr, nullptr, nullptr, nullptr, 2, 4, 1e-6f}, nullptr) == vprim::status::invalid_argument);
}

TEST_CASE("cuda GEMMs (bf16 tensor cores, fp32) equal the naive product, every epilogue", "[cuda][gemm]") {
  for (std::size_t m : {1u, 13u, 100u})
    for (std::size_t n : {1u, 33u, 130u})
      for (std::size_t k : {0u, 7u, 16u, 100u})
        for (auto act : {vprim::cuda::epilogue::none, vprim::cuda::epilogue::gelu_exact, vprim::cuda::epilogue::gelu_quick,
                         vprim::cuda::epilogue::silu})
          for (bool accumulate : {false, true})
            for (bool f32 : {false, true}) {
              CAPTURE(m, n, k, static_cast<int>(act), accumulate, f32);
              // the bf16 kernel sees bf16 operands, so the reference takes them rounded
              auto a = random_vector(m * k, 4), w = random_vector(n * k, 5);
              if (!f32) {
                a = round_bf16(a);
                w = round_bf16(w);
              }
              const auto bias = random_vector(n, 6), c0 = random_vector(m * n, 7);
              device_vector<float> da(a), dw(w), dbias(bias), dc(c0);
              if (f32) {
                const vprim::cuda::gemm_f32_args g{m, n, k, da.ptr, k, dw.ptr, k, dbias.ptr, dc.ptr, n, act, accumulate};
                REQUIRE(vprim::cuda::gemm_f32(g, nullptr) == vprim::status::ok);
              } else {
                device_vector<__nv_bfloat16> ab(m * k), wb(n * k);
                REQUIRE(vprim::cuda::to_bf16(da.ptr, ab.ptr, m * k, nullptr) == vprim::status::ok);
                REQUIRE(vprim::cuda::to_bf16(dw.ptr, wb.ptr, n * k, nullptr) == vprim::status::ok);
                const vprim::cuda::gemm_args g{m, n, k, ab.ptr, k, wb.ptr, k, dbias.ptr, dc.ptr, n, act, accumulate};
                REQUIRE(vprim::cuda::gemm_bf16(g, nullptr) == vprim::status::ok);
              }
              std::vector<double> ref, mag;
              vprim_ref::gemm_nt(a, w, bias.data(), m, n, k, ref, mag);
              for (std::size_t i = 0; i < ref.size(); ++i) {
                double v = ref[i];
                if (act == vprim::cuda::epilogue::gelu_exact) v = vprim_ref::gelu_exact(v);
                if (act == vprim::cuda::epilogue::gelu_quick) v = vprim_ref::gelu_quick(v);
                if (act == vprim::cuda::epilogue::silu) v = vprim_ref::silu(v);
                ref[i] = accumulate ? v + c0[i] : v;
              }
              // fp32 sums (and fp32 products in the fp32 kernel): below K ulps of the magnitude
              // sum, plus the activation's few ulps
              vprim_ref::require_close("gemm", dc.get(), ref,
                                       [&](std::size_t i) { return 1e-6 * (static_cast<double>(k) + 4) * (mag[i] + 1.0) + 1e-6; });
            }
  vprim::cuda::gemm_args bad{4, 4, 4, nullptr, 4, nullptr, 4, nullptr, nullptr, 4};
  REQUIRE(vprim::cuda::gemm_bf16(bad, nullptr) == vprim::status::invalid_argument);
  vprim::cuda::gemm_f32_args bad32{4, 4, 4, nullptr, 4, nullptr, 4, nullptr, nullptr, 4};
  REQUIRE(vprim::cuda::gemm_f32(bad32, nullptr) == vprim::status::invalid_argument);
}

TEST_CASE("cuda embedding gather, and an out-of-range id named with its token", "[cuda][embedding]") {
  const std::size_t vocab = 50, dim = 37;
  const auto table = random_vector(vocab * dim, 8);
  std::vector<std::int64_t> ids = {3, 0, 49, 7, 7};
  device_vector<float> dt(table), out(ids.size() * dim);
  device_vector<std::int64_t> did(ids);
  vprim::cuda::embedding_args a{dt.ptr, did.ptr, out.ptr, ids.size(), vocab, dim};
  vprim::cuda::workspace ws;
  REQUIRE(vprim::cuda::embedding_gather(a, ws, nullptr) == vprim::status::ok);
  device_vector<char> scratch(ws.bytes);
  ws.ptr = scratch.ptr;
  REQUIRE(vprim::cuda::embedding_gather(a, ws, nullptr) == vprim::status::ok);
  REQUIRE(vprim::cuda::embedding_check(a, ws, nullptr));
  const auto got = out.get();
  for (std::size_t t = 0; t < ids.size(); ++t)
    for (std::size_t d = 0; d < dim; ++d) REQUIRE(got[t * dim + d] == table[static_cast<std::size_t>(ids[t]) * dim + d]);
  ids[3] = 50;
  device_vector<std::int64_t> bad_ids(ids);
  a.ids = bad_ids.ptr;
  REQUIRE(vprim::cuda::embedding_gather(a, ws, nullptr) == vprim::status::ok);
  const auto check = vprim::cuda::embedding_check(a, ws, nullptr);
  REQUIRE_FALSE(check);
  REQUIRE_THAT(check.err().message, Catch::Contains("token index 3 has id 50"));
}

TEST_CASE("cuda top-k equals a stable descending sort, with the causal limit and -1 slots", "[cuda][topk]") {
  for (std::size_t rows : {1u, 5u})
    for (std::size_t n : {1u, 100u, 5000u})
      for (std::size_t k : {1u, 64u, 512u}) {
        CAPTURE(rows, n, k);
        auto scores = random_vector(rows * n, 9, -10.0f, 10.0f);
        if (n > 10) scores[3] = scores[7];  // a tie: the lower index wins
        std::vector<std::int32_t> visible(rows);
        for (std::size_t r = 0; r < rows; ++r) visible[r] = static_cast<std::int32_t>((r * 37 + n / 2) % (n + 1));
        device_vector<float> ds(scores);
        device_vector<std::int32_t> dv(visible);
        device_vector<std::int64_t> di(rows * k);
        const vprim::cuda::topk_args a{ds.ptr, dv.ptr, di.ptr, rows, n, k};
        REQUIRE(with_workspace([&](vprim::cuda::workspace& ws) { return vprim::cuda::topk(a, ws, nullptr); }) == vprim::status::ok);
        const auto got = di.get();
        for (std::size_t r = 0; r < rows; ++r) {
          std::vector<std::int64_t> order(static_cast<std::size_t>(visible[r]));
          std::iota(order.begin(), order.end(), 0);
          std::stable_sort(order.begin(), order.end(),
                           [&](auto x, auto y) { return scores[r * n + static_cast<std::size_t>(x)] > scores[r * n + static_cast<std::size_t>(y)]; });
          order.resize(k, -1);
          REQUIRE(std::vector<std::int64_t>(got.begin() + static_cast<std::ptrdiff_t>(r * k),
                                            got.begin() + static_cast<std::ptrdiff_t>((r + 1) * k)) == order);
        }
      }
}

TEST_CASE("cuda MoE permutation equals the counting sort of the CPU layer", "[cuda][moe]") {
  for (std::size_t experts : {1u, 5u, 256u})
    for (std::size_t slots : {0u, 6u, 1944u}) {
      CAPTURE(experts, slots);
      std::mt19937 rng(10);
      std::vector<std::int64_t> idx(slots);
      for (auto& e : idx) e = static_cast<std::int64_t>(rng() % experts);
      device_vector<std::int64_t> di(idx);
      device_vector<std::int32_t> order(slots), offsets(experts + 1);
      const vprim::cuda::moe_permute_args a{di.ptr, order.ptr, offsets.ptr, slots, experts};
      REQUIRE(with_workspace([&](vprim::cuda::workspace& ws) { return vprim::cuda::moe_permute(a, ws, nullptr); }) ==
              vprim::status::ok);
      std::vector<std::int32_t> count(experts + 1, 0), want(slots);
      for (auto e : idx) ++count[static_cast<std::size_t>(e) + 1];
      for (std::size_t e = 0; e < experts; ++e) count[e + 1] += count[e];
      std::vector<std::int32_t> fill(count.begin(), count.end() - 1);
      for (std::size_t i = 0; i < slots; ++i) want[static_cast<std::size_t>(fill[static_cast<std::size_t>(idx[i])]++)] = static_cast<std::int32_t>(i);
      REQUIRE(offsets.get() == count);
      REQUIRE(order.get() == want);
    }
}

TEST_CASE("cuda bf16 attention equals softmax(QK^T)V of bf16-rounded operands", "[cuda][attention]") {
  for (std::size_t tokens : {1u, 7u, 65u, 130u})
    for (std::size_t heads : {1u, 3u})
      for (std::size_t d : {16u, 64u, 128u}) {
        CAPTURE(tokens, heads, d);
        const auto q = random_vector(tokens * heads * d, 61, -2.0f, 2.0f), k = random_vector(tokens * heads * d, 62, -2.0f, 2.0f),
                   v = random_vector(tokens * heads * d, 63);
        const float scale = 1.0f / std::sqrt(static_cast<float>(d));
        device_vector<float> dq(q), dk(k), dv(v), out(q.size());
        const vprim::cuda::attention_args a{tokens, heads, d, dq.ptr, dk.ptr, dv.ptr, heads * d, heads * d, heads * d,
                                            out.ptr, heads * d, scale};
        REQUIRE(vprim::cuda::attention_bidirectional_bf16(a, nullptr) == vprim::status::ok);
        // probabilities are rounded to bf16 for P*V: at most 2^-9 of each weight, |v| <= 1
        vprim_ref::require_close("attention_bf16", out.get(),
                                 vprim_ref::attention(round_bf16(q, scale), round_bf16(k), round_bf16(v), tokens, heads, d, 1.0),
                                 [](std::size_t) { return 4e-3; });
      }
  const vprim::cuda::attention_args odd{4, 1, 24, nullptr, nullptr, nullptr, 24, 24, 24, nullptr, 24, 1.0f};
  REQUIRE(vprim::cuda::attention_bidirectional_bf16(odd, nullptr) == vprim::status::invalid_argument);
}

TEST_CASE("cuda 2D RoPE equals the naive rotation", "[cuda][rope]") {
  for (auto [gh, gw] : {std::pair<std::size_t, std::size_t>{1, 1}, {3, 5}, {54, 54}})
    for (std::size_t d : {4u, 64u}) {
      CAPTURE(gh, gw, d);
      const std::size_t heads = 3, tokens = gh * gw;
      const auto x = random_vector(tokens * heads * d, 11, -2.0f, 2.0f);
      device_vector<float> dx(x);
      REQUIRE(vprim::cuda::rope_2d({dx.ptr, tokens, heads, d, heads * d, gw, 10000.0}, nullptr) == vprim::status::ok);
      vprim_ref::require_close("rope_2d", dx.get(), vprim_ref::rope_2d(x, gh, gw, heads, d, 10000.0),
                               [](std::size_t) { return 2e-6; });
    }
}

TEST_CASE("cuda interleaved partial RoPE equals the CPU rotation, forward and inverse", "[cuda][rope]") {
  const std::size_t tokens = 9, heads = 3, d = 24, half = 4;
  const auto x = random_vector(tokens * heads * d, 13, -2.0f, 2.0f);
  const std::vector<float> inv_freq = {1.0f, 0.3f, 0.01f, 1e-4f};
  const std::vector<std::int64_t> pos = {0, 1, 2, 3, 127, 128, 4095, 65536, 1000000};
  for (bool inverse : {false, true}) {
    CAPTURE(inverse);
    std::vector<float> ref(x);
    for (std::size_t t = 0; t < tokens; ++t)
      vprim::v4::apply_rope(ref.data() + t * heads * d, heads, d, inv_freq, static_cast<double>(pos[t]), inverse);
    device_vector<float> dx(x), dfreq(inv_freq);
    device_vector<std::int64_t> dpos(pos);
    REQUIRE(vprim::cuda::rope_partial({dx.ptr, dpos.ptr, dfreq.ptr, tokens, heads, d, heads * d, half, inverse}, nullptr) ==
            vprim::status::ok);
    vprim_ref::require_close("rope_partial", dx.get(), ref, [](std::size_t) { return 2e-6; });
  }
}

TEST_CASE("cuda SwiGLU, plain and clamped", "[cuda][activation]") {
  const std::size_t rows = 7, width = 300;
  const auto hidden = random_vector(rows * 2 * width, 12, -15.0f, 15.0f);
  device_vector<float> dh(hidden), out(rows * width);
  for (float limit : {INFINITY, 10.0f}) {
    CAPTURE(limit);
    REQUIRE(vprim::cuda::swiglu({dh.ptr, dh.ptr + width, 2 * width, out.ptr, rows, width, limit}, nullptr) == vprim::status::ok);
    std::vector<double> ref(rows * width);
    for (std::size_t r = 0; r < rows; ++r)
      for (std::size_t i = 0; i < width; ++i) {
        const double g = std::min<double>(hidden[r * 2 * width + i], limit);
        const double u = std::clamp<double>(hidden[r * 2 * width + width + i], -limit, limit);
        ref[r * width + i] = vprim_ref::silu(g) * u;
      }
    vprim_ref::require_close("swiglu", out.get(), ref, [&](std::size_t i) { return 1e-6 * (std::fabs(ref[i]) + 1.0); });
  }
}

TEST_CASE("cuda routed experts equal the naive mixture of bf16 experts", "[cuda][moe]") {
  const std::size_t tokens = 37, dim = 40, inter = 24, experts = 5, top_k = 2;
  for (float limit : {INFINITY, 1.5f}) {
    CAPTURE(limit);
    const auto x = round_bf16(random_vector(tokens * dim, 20)), gate_up = round_bf16(random_vector(experts * 2 * inter * dim, 21)),
               down = round_bf16(random_vector(experts * dim * inter, 22)), weights = random_vector(tokens * top_k, 23, 0.0f, 1.0f);
    std::vector<std::int64_t> idx(tokens * top_k);
    for (std::size_t t = 0; t < tokens; ++t) {
      idx[t * top_k] = static_cast<std::int64_t>(t % experts);
      idx[t * top_k + 1] = static_cast<std::int64_t>((t * 3 + 1) % experts == t % experts ? (t + 1) % experts : (t * 3 + 1) % experts);
    }
    device_vector<float> dx(x), dgu(gate_up), ddown(down), dw(weights), y(tokens * dim);
    device_vector<__nv_bfloat16> xb(x.size()), gub(gate_up.size()), downb(down.size());
    REQUIRE(vprim::cuda::to_bf16(dx.ptr, xb.ptr, x.size(), nullptr) == vprim::status::ok);
    REQUIRE(vprim::cuda::to_bf16(dgu.ptr, gub.ptr, gate_up.size(), nullptr) == vprim::status::ok);
    REQUIRE(vprim::cuda::to_bf16(ddown.ptr, downb.ptr, down.size(), nullptr) == vprim::status::ok);
    device_vector<std::int64_t> didx(idx);
    const vprim::cuda::moe_experts_args a{xb.ptr, didx.ptr, dw.ptr, gub.ptr, downb.ptr, y.ptr, tokens, dim, inter, experts, top_k, limit};
    REQUIRE(with_workspace([&](vprim::cuda::workspace& ws) { return vprim::cuda::moe_experts(a, ws, nullptr); }) == vprim::status::ok);
    std::vector<double> ref(tokens * dim, 0.0), mag(tokens * dim, 0.0);
    for (std::size_t t = 0; t < tokens; ++t)
      for (std::size_t k = 0; k < top_k; ++k) {
        const auto e = static_cast<std::size_t>(idx[t * top_k + k]);
        std::vector<double> act(inter);
        for (std::size_t i = 0; i < inter; ++i) {
          double g = 0, u = 0;
          for (std::size_t d = 0; d < dim; ++d) {
            g += static_cast<double>(gate_up[(e * 2 * inter + i) * dim + d]) * x[t * dim + d];
            u += static_cast<double>(gate_up[(e * 2 * inter + inter + i) * dim + d]) * x[t * dim + d];
          }
          act[i] = vprim_ref::silu(std::min<double>(g, limit)) * std::clamp<double>(u, -limit, limit);
        }
        for (std::size_t d = 0; d < dim; ++d)
          for (std::size_t i = 0; i < inter; ++i) {
            const double p = static_cast<double>(down[(e * dim + d) * inter + i]) * act[i] * weights[t * top_k + k];
            ref[t * dim + d] += p;
            mag[t * dim + d] += std::fabs(p);
          }
      }
    // the activations are rounded to bf16 before the down projection: 2^-9 of each term
    vprim_ref::require_close("moe_experts", y.get(), ref, [&](std::size_t i) { return 4e-3 * mag[i] + 1e-5; });
  }
}

TEST_CASE("cuda hyper-connection equals the CPU one: post, Sinkhorn comb, collapse, expand", "[cuda][mhc]") {
  for (std::size_t n : {1u, 4u})
    for (std::size_t dim : {7u, 300u}) {
      CAPTURE(n, dim);
      const std::size_t tokens = 5, rows = (2 + n) * n;
      vprim::v4::hyper_connection hc;
      hc.n = n;
      hc.dim = dim;
      hc.fn = random_vector(rows * n * dim, 30, -0.2f, 0.2f);
      hc.base = random_vector(rows, 31);
      hc.scale = random_vector(3, 32, 0.5f, 2.0f);
      const auto x = random_vector(tokens * n * dim, 33, -2.0f, 2.0f), f = random_vector(tokens * dim, 34);
      std::vector<float> post(tokens * n), comb(tokens * n * n), collapsed(tokens * dim);
      hc.compute(x.data(), tokens, 1e-6f, 1e-6f, 20, post.data(), comb.data(), collapsed.data());
      std::vector<float> expanded(x);
      hc.expand(expanded.data(), tokens, f.data(), post.data(), comb.data());
      device_vector<float> dx(x), dfn(hc.fn), dbase(hc.base), dscale(hc.scale), dpost(post.size()), dcomb(comb.size()),
          dcol(collapsed.size()), df(f);
      const vprim::cuda::hc_args a{dx.ptr, dfn.ptr, dbase.ptr, dscale.ptr, dpost.ptr, dcomb.ptr, dcol.ptr, tokens, n, dim,
                                   1e-6f, 1e-6f, 20};
      REQUIRE(vprim::cuda::hc_compute(a, nullptr) == vprim::status::ok);
      const auto rel = [](const std::vector<float>& ref) { return vprim_ref::scaled_tolerance(ref, 1e-5); };
      vprim_ref::require_close("post", dpost.get(), post, rel(post));
      vprim_ref::require_close("comb", dcomb.get(), comb, rel(comb));
      vprim_ref::require_close("collapsed", dcol.get(), collapsed, rel(collapsed));
      REQUIRE(vprim::cuda::hc_expand(dx.ptr, df.ptr, dpost.ptr, dcomb.ptr, tokens, n, dim, nullptr) == vprim::status::ok);
      vprim_ref::require_close("expanded", dx.get(), expanded, rel(expanded));
    }
}

TEST_CASE("cuda compressor windows equal the naive compressed entries, CSA and HCA", "[cuda][compressor]") {
  const std::size_t D = 16, m = 4, c = 8, windows = 5, T = windows * m;
  for (bool overlap : {true, false}) {
    CAPTURE(overlap);
    const std::size_t P = overlap ? 2 * c : c;
    const auto x = random_vector(T * D, 40), wkv = random_vector(P * D, 41), wgate = random_vector(P * D, 42),
               bias = random_vector(m * P, 43), norm_w = random_vector(c, 44, 0.5f, 1.5f);
    const std::vector<float> inv_freq = {1.0f, 0.05f};
    std::vector<float> kv(T * P), gate(T * P);
    for (std::size_t t = 0; t < T; ++t)
      for (std::size_t ch = 0; ch < P; ++ch) {
        double sk = 0, sg = 0;
        for (std::size_t d = 0; d < D; ++d) {
          sk += static_cast<double>(wkv[ch * D + d]) * x[t * D + d];
          sg += static_cast<double>(wgate[ch * D + d]) * x[t * D + d];
        }
        kv[t * P + ch] = static_cast<float>(sk);
        gate[t * P + ch] = static_cast<float>(sg);
      }
    device_vector<float> dkv(kv), dgate(gate), dbias(bias), dnorm(norm_w), dfreq(inv_freq), out(windows * c);
    vprim::cuda::compress_args a{dkv.ptr, dgate.ptr, dbias.ptr, dnorm.ptr, dfreq.ptr, nullptr, nullptr, out.ptr,
                                 windows, m, c, inv_freq.size(), 0, overlap, 1e-6f};
    REQUIRE(vprim::cuda::compress_windows(a, nullptr) == vprim::status::ok);
    const auto got = out.get();
    const std::vector<double> freq(inv_freq.begin(), inv_freq.end());
    for (std::size_t w = 0; w < windows; ++w) {
      CAPTURE(w);
      const auto ref = vprim_ref::compressed_entry(x, D, w, m, c, overlap, wkv, wgate, bias, norm_w, freq, 1e-6);
      vprim_ref::require_close("entry", std::vector<float>(got.begin() + static_cast<std::ptrdiff_t>(w * c),
                                                           got.begin() + static_cast<std::ptrdiff_t>((w + 1) * c)),
                               ref, vprim_ref::scaled_tolerance(ref, 1e-5));
    }
  }
}

TEST_CASE("cuda indexer scores equal the naive weighted ReLU sums", "[cuda][indexer]") {
  for (std::size_t visible : {1u, 31u, 33u, 300u}) {
    CAPTURE(visible);
    const std::size_t queries = 3, heads = 5, d = 24;
    const auto q = random_vector(queries * heads * d, 50), keys = random_vector(visible * d, 51), w = random_vector(queries * heads, 52);
    std::vector<float> hw(w);  // the CPU folds d^-1/2 H^-1/2 into the head weights; so does this input
    for (auto& v : hw) v = v / std::sqrt(static_cast<float>(d)) / std::sqrt(static_cast<float>(heads));
    device_vector<float> dq(q), dk(keys), dhw(hw), scores(queries * visible);
    REQUIRE(vprim::cuda::indexer_scores({dq.ptr, dhw.ptr, dk.ptr, scores.ptr, queries, heads, d, visible}, nullptr) ==
            vprim::status::ok);
    const auto got = scores.get();
    for (std::size_t t = 0; t < queries; ++t) {
      CAPTURE(t);
      const std::vector<float> qt(q.begin() + static_cast<std::ptrdiff_t>(t * heads * d), q.begin() + static_cast<std::ptrdiff_t>((t + 1) * heads * d));
      const std::vector<float> wt(w.begin() + static_cast<std::ptrdiff_t>(t * heads), w.begin() + static_cast<std::ptrdiff_t>((t + 1) * heads));
      const auto ref = vprim_ref::indexer_scores(qt, wt, keys, visible, heads, d);
      vprim_ref::require_close("indexer", std::vector<float>(got.begin() + static_cast<std::ptrdiff_t>(t * visible),
                                                             got.begin() + static_cast<std::ptrdiff_t>((t + 1) * visible)),
                               ref, vprim_ref::scaled_tolerance(ref, 1e-5));
    }
  }
}

int main(int argc, char** argv) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("vprim CUDA tests: no CUDA device here, so every GPU test is SKIPPED (compiled for this build only)\n");
    return 77;
  }
  return Catch::Session().run(argc, argv);
}

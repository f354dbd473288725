// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The CUDA kernels against the same naive references as the CPU kernels. Without a device the
// binary says so and exits with 77, which CTest reports as skipped.
#define CATCH_CONFIG_RUNNER
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <string_view>
#include <vector>

#include <catch2/catch.hpp>

#include "../reference/compare.hpp"
#include "cpu_models.hpp"
#include "../reference/kernels_reference.hpp"
#include "../reference/test_inputs.hpp"
#include "../reference/v4_reference.hpp"
#include "vprim/core/dtype.hpp"
#include "vprim/image/preprocess.hpp"
#include "vprim/model/v4/mhc.hpp"
#include "vprim/model/v4/rope.hpp"
#include "vprim/vprim.cuh"

namespace {

// The bundled goldens: $VPRIM_TEST_DATA_DIR when set (a binary built on one machine and run on
// a GPU machine, scripts/gpu-check.sh), else the source tree's tests/data.
std::string test_data_dir() {
  const char* dir = std::getenv("VPRIM_TEST_DATA_DIR");
  return dir != nullptr && *dir != '\0' ? std::string(dir) : std::string(VPRIM_TEST_DATA_DIR);
}

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
  device_vector(device_vector&& o) noexcept : ptr(std::exchange(o.ptr, nullptr)), size(o.size) {}
  device_vector& operator=(device_vector&&) = delete;
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

// `h` uploaded and rounded to bf16 on the device by to_bf16, the rounding the kernels use.
device_vector<__nv_bfloat16> bf16_on_device(const std::vector<float>& h) {
  device_vector<float> f(h);
  device_vector<__nv_bfloat16> b(h.size());
  REQUIRE(vprim::cuda::to_bf16(f.ptr, b.ptr, h.size(), nullptr) == vprim::status::ok);
  return b;
}

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

// The compressor's projections of T tokens x [T, D] by W [P, D], summed in double.
std::vector<float> project(const std::vector<float>& x, const std::vector<float>& w, std::size_t T, std::size_t D, std::size_t P) {
  std::vector<float> out(T * P);
  for (std::size_t t = 0; t < T; ++t)
    for (std::size_t ch = 0; ch < P; ++ch) {
      double s = 0;
      for (std::size_t d = 0; d < D; ++d) s += static_cast<double>(w[ch * D + d]) * x[t * D + d];
      out[t * P + ch] = static_cast<float>(s);
    }
  return out;
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
                const auto ab = bf16_on_device(a), wb = bf16_on_device(w);
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

TEST_CASE("cuda GEMM engines: wgmma and mma_sync equal the naive product and agree to fp32 rounding", "[cuda][gemm]") {
  namespace c = vprim::cuda;
  const std::size_t probe_k = 64;
  const device_vector<__nv_bfloat16> probe(8 * probe_k);
  device_vector<float> probe_c(8 * 8);
  const c::gemm_args probe_g{8, 8, probe_k, probe.ptr, probe_k, probe.ptr, probe_k, nullptr, probe_c.ptr, 8};
  if (c::gemm_engine_for(probe_g) != c::gemm_engine::wgmma) {
    WARN("this device or build has no sm_90a wgmma: only its refusal is tested");
    REQUIRE(c::gemm_bf16(probe_g, nullptr, c::gemm_engine::wgmma) == vprim::status::not_supported);
    return;
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  // Tails in every dimension, M below one tile, K below one 64-wide step and many of them.
  for (std::size_t m : {1u, 100u, 300u})
    for (std::size_t n : {1u, 130u, 257u})
      for (std::size_t k : {7u, 64u, 200u, 1000u}) {
        CAPTURE(m, n, k);
        // Row strides padded to 8 elements; the padding is NaN, which must never be read.
        const std::size_t ld = (k + 7) / 8 * 8;
        auto a = round_bf16(random_vector(m * k, 11)), w = round_bf16(random_vector(n * k, 12));
        std::vector<float> a_padded(m * ld, nan), w_padded(n * ld, nan);
        for (std::size_t r = 0; r < m; ++r) std::copy_n(a.begin() + static_cast<std::ptrdiff_t>(r * k), k, a_padded.begin() + static_cast<std::ptrdiff_t>(r * ld));
        for (std::size_t r = 0; r < n; ++r) std::copy_n(w.begin() + static_cast<std::ptrdiff_t>(r * k), k, w_padded.begin() + static_cast<std::ptrdiff_t>(r * ld));
        const auto ab = bf16_on_device(a_padded), wb = bf16_on_device(w_padded);
        const auto bias = random_vector(n, 13), c0 = random_vector(m * n, 14);
        std::vector<double> ref, mag;
        vprim_ref::gemm_nt(a, w, bias.data(), m, n, k, ref, mag);
        for (std::size_t i = 0; i < ref.size(); ++i) ref[i] = vprim_ref::gelu_exact(ref[i]) + c0[i];
        std::vector<std::vector<float>> results;
        for (auto engine : {c::gemm_engine::mma_sync, c::gemm_engine::wgmma}) {
          device_vector<float> dbias(bias), dc(c0);
          const c::gemm_args g{m, n, k, ab.ptr, ld, wb.ptr, ld, dbias.ptr, dc.ptr, n, c::epilogue::gelu_exact, true};
          REQUIRE(c::gemm_bf16(g, nullptr, engine) == vprim::status::ok);
          results.push_back(dc.get());
          vprim_ref::require_close(engine == c::gemm_engine::wgmma ? "wgmma" : "mma_sync", results.back(), ref,
                                   [&](std::size_t i) { return 1e-6 * (static_cast<double>(k) + 4) * (mag[i] + 1.0) + 1e-6; });
        }
        std::vector<double> first(results[0].begin(), results[0].end());
        vprim_ref::require_close("wgmma vs mma_sync", results[1], first,
                                 [&](std::size_t i) { return 2e-6 * (static_cast<double>(k) + 4) * (mag[i] + 1.0) + 1e-6; });
      }
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

TEST_CASE("cuda top-k (radix select and sort) equals a stable descending sort, with the causal limit and -1 slots",
          "[cuda][topk]") {
  enum class path { automatic, sort, select };
  for (std::size_t rows : {1u, 5u})
    for (std::size_t n : {1u, 100u, 5000u, 70000u})
      for (std::size_t k : {1u, 64u, 512u, 1024u})
        for (bool heavy_ties : {false, true})
          for (path p : {path::automatic, path::sort, path::select}) {
            CAPTURE(rows, n, k, heavy_ties, static_cast<int>(p));
            auto scores = random_vector(rows * n, 9, -10.0f, 10.0f);
            if (heavy_ties)  // 21 distinct values: ties everywhere, across the select's tiles
              for (auto& v : scores) v = std::round(v);
            if (n > 10) scores[3] = scores[7];  // a tie: the lower index wins
            std::vector<std::int32_t> visible(rows);
            for (std::size_t r = 0; r < rows; ++r) visible[r] = static_cast<std::int32_t>((r * 37 + n / 2) % (n + 1));
            device_vector<float> ds(scores);
            device_vector<std::int32_t> dv(visible);
            device_vector<std::int64_t> di(rows * k);
            const vprim::cuda::topk_args a{ds.ptr, dv.ptr, di.ptr, rows, n, k};
            vprim::status st = vprim::status::ok;
            if (p == path::select) st = vprim::cuda::topk_select(a, nullptr);
            else
              st = with_workspace([&](vprim::cuda::workspace& ws) {
                return p == path::sort ? vprim::cuda::topk_sort(a, ws, nullptr) : vprim::cuda::topk(a, ws, nullptr);
              });
            REQUIRE(st == vprim::status::ok);
            const auto got = di.get();
            for (std::size_t r = 0; r < rows; ++r) {
              std::vector<std::int64_t> order(static_cast<std::size_t>(visible[r]));
              std::iota(order.begin(), order.end(), 0);
              std::stable_sort(order.begin(), order.end(), [&](auto x, auto y) {
                return scores[r * n + static_cast<std::size_t>(x)] > scores[r * n + static_cast<std::size_t>(y)];
              });
              order.resize(k, -1);
              REQUIRE(std::vector<std::int64_t>(got.begin() + static_cast<std::ptrdiff_t>(r * k),
                                                got.begin() + static_cast<std::ptrdiff_t>((r + 1) * k)) == order);
            }
          }
  // NaN is never picked by the select (the CPU's rule); the sort path makes no such promise.
  std::vector<float> with_nan = {1.0f, NAN, 3.0f, -2.0f};
  device_vector<float> dn(with_nan);
  device_vector<std::int64_t> dk(3);
  REQUIRE(vprim::cuda::topk_select({dn.ptr, nullptr, dk.ptr, 1, 4, 3}, nullptr) == vprim::status::ok);
  REQUIRE(dk.get() == std::vector<std::int64_t>{2, 0, 3});
  REQUIRE(vprim::cuda::topk_select({dn.ptr, nullptr, dk.ptr, 1, 4, 1025}, nullptr) == vprim::status::not_supported);
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

TEST_CASE("cuda attention equals softmax(QK^T)V: fp32, and bf16 of bf16-rounded operands", "[cuda][attention]") {
  for (bool bf16 : {false, true})
    for (std::size_t tokens : {1u, 7u, 65u, 130u})
      for (std::size_t heads : {1u, 3u})
        for (std::size_t d : {16u, 40u, 64u, 128u}) {
          if (bf16 && d % 16 != 0) continue;  // the tensor-core kernel takes multiples of 16
          CAPTURE(bf16, tokens, heads, d);
          const auto q = random_vector(tokens * heads * d, 61, -2.0f, 2.0f), k = random_vector(tokens * heads * d, 62, -2.0f, 2.0f),
                     v = random_vector(tokens * heads * d, 63);
          const float scale = 1.0f / std::sqrt(static_cast<float>(d));
          device_vector<float> dq(q), dk(k), dv(v), out(q.size());
          const vprim::cuda::attention_args a{tokens, heads, d, dq.ptr, dk.ptr, dv.ptr, heads * d, heads * d, heads * d,
                                              out.ptr, heads * d, scale};
          if (bf16) {
            const auto ref = vprim_ref::attention(round_bf16(q, scale), round_bf16(k), round_bf16(v), tokens, heads, d, 1.0);
            using engine = vprim::cuda::attention_engine;
            for (auto e : {engine::wmma, engine::flash}) {
              CAPTURE(e == engine::flash);
              if (e == engine::flash && d != 64 && d != 128) {  // the register kernel's head dims
                REQUIRE(vprim::cuda::attention_bidirectional_bf16(a, nullptr, e) == vprim::status::not_supported);
                continue;
              }
              REQUIRE(cudaMemset(out.ptr, 0xff, out.size * sizeof(float)) == cudaSuccess);  // NaN: each kernel writes all of O
              REQUIRE(vprim::cuda::attention_bidirectional_bf16(a, nullptr, e) == vprim::status::ok);
              // probabilities are rounded to bf16 for P*V: at most 2^-9 of each weight, |v| <= 1
              vprim_ref::require_close("attention_bf16", out.get(), ref, [](std::size_t) { return 4e-3; });
            }
          } else {
            REQUIRE(vprim::cuda::attention_bidirectional(a, nullptr) == vprim::status::ok);
            vprim_ref::require_close("attention_f32", out.get(), vprim_ref::attention(q, k, v, tokens, heads, d, scale),
                                     [](std::size_t) { return 2e-6; });
          }
        }
  device_vector<float> row(160);  // a head dim past either kernel's limit
  const vprim::cuda::attention_args odd{1, 1, 160, row.ptr, row.ptr, row.ptr, 160, 160, 160, row.ptr, 160, 1.0f};
  REQUIRE(vprim::cuda::attention_bidirectional(odd, nullptr) == vprim::status::not_supported);
  REQUIRE(vprim::cuda::attention_bidirectional_bf16(odd, nullptr) == vprim::status::not_supported);
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

TEST_CASE("cuda grouped GEMM engines: each expert's rows gathered, multiplied and scattered, wgmma as mma_sync", "[cuda][moe][gemm]") {
  namespace c = vprim::cuda;
  // 150 tokens, top-2 of 5 experts where expert 4 is never chosen and expert 0 gets 150 rows
  // (two row tiles); n and k with tails; row strides padded with NaN that must never be read.
  const std::size_t tokens = 150, top_k = 2, experts = 5, n = 136, k = 200, ld = 208;
  std::vector<std::int32_t> chosen(tokens * top_k);
  for (std::size_t t = 0; t < tokens; ++t) {
    chosen[t * top_k] = 0;
    chosen[t * top_k + 1] = static_cast<std::int32_t>(1 + t % 3);
  }
  std::vector<std::int32_t> order, offsets{0};  // slots by expert, in slot order (the counting sort)
  for (std::size_t e = 0; e < experts; ++e) {
    for (std::size_t s = 0; s < chosen.size(); ++s)
      if (static_cast<std::size_t>(chosen[s]) == e) order.push_back(static_cast<std::int32_t>(s));
    offsets.push_back(static_cast<std::int32_t>(order.size()));
  }
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (bool by_token : {true, false}) {
    CAPTURE(by_token);
    const std::size_t a_rows = by_token ? tokens : tokens * top_k;
    const auto a = round_bf16(random_vector(a_rows * k, 31)), w = round_bf16(random_vector(experts * n * k, 32));
    std::vector<float> a_padded(a_rows * ld, nan), w_padded(experts * n * ld, nan);
    for (std::size_t r = 0; r < a_rows; ++r) std::copy_n(a.begin() + static_cast<std::ptrdiff_t>(r * k), k, a_padded.begin() + static_cast<std::ptrdiff_t>(r * ld));
    for (std::size_t r = 0; r < experts * n; ++r) std::copy_n(w.begin() + static_cast<std::ptrdiff_t>(r * k), k, w_padded.begin() + static_cast<std::ptrdiff_t>(r * ld));
    const auto ab = bf16_on_device(a_padded), wb = bf16_on_device(w_padded);
    const auto bias = random_vector(experts * n, 33);
    device_vector<float> dbias(bias);
    device_vector<std::int32_t> dorder(order), doffsets(offsets);
    std::vector<double> ref(tokens * top_k * n), mag(ref.size());
    for (std::size_t s = 0; s < tokens * top_k; ++s) {
      const auto e = static_cast<std::size_t>(chosen[s]);
      const std::size_t row = by_token ? s / top_k : s;
      for (std::size_t j = 0; j < n; ++j) {
        double sum = bias[e * n + j], m = std::fabs(bias[e * n + j]);
        for (std::size_t i = 0; i < k; ++i) {
          const double p = static_cast<double>(a[row * k + i]) * w[(e * n + j) * k + i];
          sum += p;
          m += std::fabs(p);
        }
        ref[s * n + j] = vprim_ref::silu(sum);
        mag[s * n + j] = m;
      }
    }
    const auto tol = [&](std::size_t i) { return 1e-6 * (static_cast<double>(k) + 4) * (mag[i] + 1.0) + 1e-6; };
    for (auto engine : {c::gemm_engine::mma_sync, c::gemm_engine::wgmma}) {
      device_vector<float> out(tokens * top_k * n);
      REQUIRE(cudaMemset(out.ptr, 0xff, out.size * sizeof(float)) == cudaSuccess);  // NaN: every slot must be written
      c::grouped_gemm_args gg;
      gg.base = c::gemm_args{0, n, k, ab.ptr, ld, wb.ptr, ld, dbias.ptr, out.ptr, n, c::epilogue::silu, false};
      gg.order = dorder.ptr;
      gg.offsets = doffsets.ptr;
      gg.experts = experts;
      gg.top_k = top_k;
      gg.max_rows = tokens;
      gg.a_by_token = by_token;
      if (engine == c::gemm_engine::wgmma && c::grouped_gemm_engine_for(gg) != c::gemm_engine::wgmma) {
        WARN("this device or build has no sm_90a wgmma: only its refusal is tested");
        REQUIRE(c::grouped_gemm_bf16(gg, nullptr, engine) == vprim::status::not_supported);
        continue;
      }
      REQUIRE(c::grouped_gemm_bf16(gg, nullptr, engine) == vprim::status::ok);
      vprim_ref::require_close(engine == c::gemm_engine::wgmma ? "grouped wgmma" : "grouped mma_sync", out.get(), ref, tol);
    }
  }
}

TEST_CASE("cuda routed experts equal the naive mixture of experts, bf16 and fp32", "[cuda][moe]") {
  const std::size_t tokens = 37, dim = 40, inter = 24, experts = 5, top_k = 2;
  for (bool fp32 : {false, true})
    for (float limit : {INFINITY, 1.5f}) {
      CAPTURE(fp32, limit);
      auto x = random_vector(tokens * dim, 20), gate_up = random_vector(experts * 2 * inter * dim, 21),
           down = random_vector(experts * dim * inter, 22);
      if (!fp32) {  // the bf16 experts see bf16 operands, so the reference takes them rounded
        x = round_bf16(x);
        gate_up = round_bf16(gate_up);
        down = round_bf16(down);
      }
      const auto weights = random_vector(tokens * top_k, 23, 0.0f, 1.0f);
      std::vector<std::int64_t> idx(tokens * top_k);
      for (std::size_t t = 0; t < tokens; ++t) {
        idx[t * top_k] = static_cast<std::int64_t>(t % experts);
        idx[t * top_k + 1] = static_cast<std::int64_t>((t * 3 + 1) % experts == t % experts ? (t + 1) % experts : (t * 3 + 1) % experts);
      }
      device_vector<float> dx(x), dgu(gate_up), ddown(down), dw(weights), y(tokens * dim);
      device_vector<std::int64_t> didx(idx);
      if (fp32) {
        const vprim::cuda::moe_experts_f32_args a{dx.ptr, didx.ptr, dw.ptr, dgu.ptr, ddown.ptr, y.ptr, tokens, dim, inter, experts, top_k, limit};
        REQUIRE(with_workspace([&](vprim::cuda::workspace& ws) { return vprim::cuda::moe_experts(a, ws, nullptr); }) == vprim::status::ok);
      } else {
        const auto xb = bf16_on_device(x), gub = bf16_on_device(gate_up), downb = bf16_on_device(down);
        const vprim::cuda::moe_experts_args a{xb.ptr, didx.ptr, dw.ptr, gub.ptr, downb.ptr, y.ptr, tokens, dim, inter, experts, top_k, limit};
        REQUIRE(with_workspace([&](vprim::cuda::workspace& ws) { return vprim::cuda::moe_experts(a, ws, nullptr); }) == vprim::status::ok);
      }
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
      // bf16: the activations are rounded before the down projection, 2^-9 of each term;
      // fp32: sums of fp32 products, a few ulps per term
      const double rel = fp32 ? 1e-5 : 4e-3;
      vprim_ref::require_close("moe_experts", y.get(), ref, [&](std::size_t i) { return rel * mag[i] + 1e-6; });
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
      REQUIRE(hc.compute(x.data(), tokens, 1e-6f, 1e-6f, 20, post.data(), comb.data(), collapsed.data()) == vprim::status::ok);
      std::vector<float> expanded(x);
      REQUIRE(hc.expand(expanded.data(), tokens, f.data(), post.data(), comb.data()) == vprim::status::ok);
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
    const auto kv = project(x, wkv, T, D, P), gate = project(x, wgate, T, D, P);
    device_vector<float> dkv(kv), dgate(gate), dbias(bias), dnorm(norm_w), dfreq(inv_freq), out(windows * c);
    vprim::cuda::compress_args a{dkv.ptr, dgate.ptr, nullptr, nullptr, 0, dbias.ptr, dnorm.ptr, dfreq.ptr, nullptr, nullptr,
                                 out.ptr, windows, m, c, inv_freq.size(), 0, overlap, 1e-6f};
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

TEST_CASE("cuda compressor streaming update: any split of the tokens makes the same entries as one call",
          "[cuda][compressor]") {
  const std::size_t D = 16, m = 4, c = 8, T = 23;  // 5 windows and 3 tokens left over
  for (bool overlap : {true, false}) {
    const std::size_t P = overlap ? 2 * c : c;
    const auto x = random_vector(T * D, 45), wkv = random_vector(P * D, 46), wgate = random_vector(P * D, 47),
               bias = random_vector(m * P, 48), norm_w = random_vector(c, 49, 0.5f, 1.5f);
    const std::vector<float> inv_freq = {1.0f, 0.05f};
    const auto kv = project(x, wkv, T, D, P), gate = project(x, wgate, T, D, P);
    device_vector<float> dkv(kv), dgate(gate), dbias(bias), dnorm(norm_w), dfreq(inv_freq);
    vprim::cuda::compress_args layer{};
    layer.position_bias = dbias.ptr;
    layer.norm_w = dnorm.ptr;
    layer.inv_freq = dfreq.ptr;
    layer.ratio = m;
    layer.width = c;
    layer.rope_half = inv_freq.size();
    layer.overlap = overlap;
    std::vector<float> first;
    for (const std::vector<std::size_t>& split : {std::vector<std::size_t>{23}, std::vector<std::size_t>(23, 1), {4, 19}, {7, 16}, {3, 1, 2, 17}}) {
      CAPTURE(overlap, split);
      device_vector<float> buffer_kv(m * P), buffer_gate(m * P), overlap_kv(m * c), overlap_gate(m * c), entries(5 * c);
      vprim::cuda::compressor_stream st{buffer_kv.ptr, buffer_gate.ptr, overlap_kv.ptr, overlap_gate.ptr, entries.ptr, 5};
      std::size_t done = 0;
      for (std::size_t rows : split) {
        REQUIRE(vprim::cuda::compress_update(layer, dkv.ptr + done * P, dgate.ptr + done * P, rows, st, nullptr) == vprim::status::ok);
        done += rows;
      }
      REQUIRE(st.count == 5);
      REQUIRE(st.buffered == 3);
      const auto got = entries.get();
      if (first.empty()) {
        first = got;
        const std::vector<double> freq(inv_freq.begin(), inv_freq.end());
        for (std::size_t w = 0; w < 5; ++w) {
          const auto ref = vprim_ref::compressed_entry(x, D, w, m, c, overlap, wkv, wgate, bias, norm_w, freq, 1e-6);
          vprim_ref::require_close("streamed entry", std::vector<float>(got.begin() + static_cast<std::ptrdiff_t>(w * c),
                                                                        got.begin() + static_cast<std::ptrdiff_t>((w + 1) * c)),
                                   ref, vprim_ref::scaled_tolerance(ref, 1e-5));
        }
      }
      REQUIRE(got == first);  // the same sums in the same order, whatever the split
      // One more window would pass the capacity: refused, and the state is left as it was.
      REQUIRE(vprim::cuda::compress_update(layer, dkv.ptr, dgate.ptr, 1, st, nullptr) == vprim::status::out_of_range);
      REQUIRE(st.count == 5);
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

namespace {
// C of gemm_bf16's mma_sync engine, whose tile the fused kernels share, over an A materialised
// on the host (rounded to bf16 on the device, as the fused kernels round it), for comparing a
// fused-operand GEMM with it bit for bit.
std::vector<float> gemm_bf16_of(const std::vector<float>& a, std::size_t m, std::size_t k, const device_vector<__nv_bfloat16>& w,
                                std::size_t n, const float* bias, vprim::cuda::epilogue act) {
  device_vector<float> dc(m * n);
  const auto ab = bf16_on_device(a);
  const vprim::cuda::gemm_args g{m, n, k, ab.ptr, k, w.ptr, k, bias, dc.ptr, n, act, false};
  REQUIRE(vprim::cuda::gemm_bf16(g, nullptr, vprim::cuda::gemm_engine::mma_sync) == vprim::status::ok);
  return dc.get();
}
}  // namespace

TEST_CASE("cuda patch embedding with patchify fused into the GEMM equals GEMM(patchify(image)); patchify_f32 equals patchify",
          "[cuda][gemm][vision]") {
  for (auto [h, w] : {std::pair<std::size_t, std::size_t>{14, 14}, {28, 42}, {140, 70}}) {
    CAPTURE(h, w);
    const std::size_t C = 3, P = 14, n = 70, feat = C * P * P;
    const auto image = random_vector(C * h * w, 70, -2.0f, 2.0f), weight = random_vector(n * feat, 71), bias = random_vector(n, 72);
    auto patches = vprim::patchify(image, static_cast<int>(C), static_cast<int>(h), static_cast<int>(w), static_cast<int>(P));
    REQUIRE(patches);
    const std::size_t m = patches->size() / feat;
    device_vector<float> dimage(image), dbias(bias), dc(m * n);
    const auto wb = bf16_on_device(weight);
    vprim::cuda::patch_embed_args p;
    p.base = {0, n, 0, nullptr, 0, wb.ptr, feat, dbias.ptr, dc.ptr, n, vprim::cuda::epilogue::none, false};
    p.image = dimage.ptr;
    p.channels = C;
    p.height = h;
    p.width = w;
    p.patch = P;
    REQUIRE(vprim::cuda::patch_embed_bf16(p, nullptr) == vprim::status::ok);
    REQUIRE(dc.get() == gemm_bf16_of(*patches, m, feat, wb, n, dbias.ptr, vprim::cuda::epilogue::none));
    device_vector<float> materialised(patches->size());  // the fp32 path's operand, the same index math
    REQUIRE(vprim::cuda::patchify_f32(p, materialised.ptr, nullptr) == vprim::status::ok);
    REQUIRE(materialised.get() == *patches);
    p.height = h + 1;  // not a whole number of patches
    REQUIRE(vprim::cuda::patch_embed_bf16(p, nullptr) == vprim::status::shape_mismatch);
  }
}

TEST_CASE("cuda aligner GEMM with the merge unfold fused into it equals GEMM(merge_unfold(tokens)); so does merge_unfold_f32",
          "[cuda][gemm][vision]") {
  for (auto layout : {vprim::merge_layout::channel_major, vprim::merge_layout::token_major})
    for (auto [gh, gw] : {std::pair<std::size_t, std::size_t>{3, 3}, {5, 7}, {12, 9}}) {
      CAPTURE(static_cast<int>(layout), gh, gw);
      const vprim::cpu::unfold_shape shape{gh, gw, 20, 3};
      const std::size_t n = 33, F = shape.out_features(), m = shape.out_tokens();
      const auto tokens = random_vector(gh * gw * 20, 73), weight = random_vector(n * F, 74), bias = random_vector(n, 75);
      std::vector<float> unfolded(m * F);
      vprim::serial_executor serial;
      REQUIRE(vprim::cpu::merge_unfold(tokens.data(), unfolded.data(), shape, layout, serial) == vprim::status::ok);
      device_vector<float> dtokens(tokens), dbias(bias), dc(m * n);
      const auto wb = bf16_on_device(weight);
      vprim::cuda::merge_gemm_args u;
      u.base = {0, n, 0, nullptr, 0, wb.ptr, F, dbias.ptr, dc.ptr, n, vprim::cuda::epilogue::gelu_exact, false};
      u.tokens = dtokens.ptr;
      u.shape = shape;
      u.layout = layout;
      REQUIRE(vprim::cuda::merge_gemm_bf16(u, nullptr) == vprim::status::ok);
      REQUIRE(dc.get() == gemm_bf16_of(unfolded, m, F, wb, n, dbias.ptr, vprim::cuda::epilogue::gelu_exact));
      device_vector<float> materialised(unfolded.size());  // the fp32 path's operand, the same index math
      REQUIRE(vprim::cuda::merge_unfold_f32(u, materialised.ptr, nullptr) == vprim::status::ok);
      REQUIRE(materialised.get() == unfolded);
    }
}

namespace {
vprim::rgb_image random_image(int w, int h, std::uint32_t seed) {
  std::mt19937 rng(seed);
  vprim::rgb_image img = vprim::rgb_image::filled(w, h, 0);
  for (auto& v : img.pixels) v = static_cast<std::uint8_t>(rng() & 0xff);
  return img;
}
}  // namespace

TEST_CASE("cuda pixel path equals the CPU preprocessing bit for bit: letterbox, panorama, smart resize, both resamplers",
          "[cuda][preprocess]") {
  for (auto [w, h] : {std::pair<int, int>{37, 23}, {640, 480}, {300, 900}, {1400, 90}, {756, 756}}) {
    CAPTURE(w, h);
    const auto img = random_image(w, h, static_cast<std::uint32_t>(w * 131 + h));
    device_vector<std::uint8_t> src(img.pixels);
    auto ds_plan = vprim::plan_vision_exp(w, h);
    REQUIRE(ds_plan);
    CAPTURE(ds_plan->stretch, ds_plan->target_width, ds_plan->target_height);
    auto ds_cpu = vprim::preprocess_vision_exp(img, *ds_plan);
    REQUIRE(ds_cpu);
    device_vector<float> ds_gpu(ds_cpu->chw.size());
    REQUIRE(with_workspace([&](vprim::cuda::workspace& ws) {
              return vprim::cuda::preprocess_vision_exp(src.ptr, w, h, *ds_plan, ds_gpu.ptr, ws, nullptr);
            }) == vprim::status::ok);
    REQUIRE(ds_gpu.get() == ds_cpu->chw);
    auto qwen_plan = vprim::plan_smart_resize(h, w);
    REQUIRE(qwen_plan);
    for (auto flavor : {vprim::resample_flavor::torch, vprim::resample_flavor::pil}) {
      auto qwen_cpu = vprim::preprocess_smart_resize(img, *qwen_plan, flavor);
      REQUIRE(qwen_cpu);
      device_vector<float> qwen_gpu(qwen_cpu->chw.size());
      REQUIRE(with_workspace([&](vprim::cuda::workspace& ws) {
                return vprim::cuda::preprocess_smart_resize(src.ptr, w, h, *qwen_plan, qwen_gpu.ptr, ws, nullptr, flavor);
              }) == vprim::status::ok);
      REQUIRE(qwen_gpu.get() == qwen_cpu->chw);
    }
    // One axis unchanged (each pass skipped alone, as the CPU does), and no resize at all.
    for (auto [ow, oh] : {std::pair<int, int>{w, h / 2 + 1}, {w * 2, h}, {w, h}}) {
      auto sized = vprim::resize_bicubic(img, ow, oh, vprim::resample_flavor::pil);
      REQUIRE(sized);
      const auto expected = vprim::normalize_chw(*sized, vprim::deepseek_pixel_stats);
      device_vector<float> out(expected.size());
      const vprim::cuda::resize_normalize_args a{src.ptr, w, h, {ow, oh, 0, 0}, ow, oh, 0, vprim::resample_flavor::pil,
                                                 vprim::deepseek_pixel_stats, out.ptr};
      REQUIRE(with_workspace([&](vprim::cuda::workspace& ws) { return vprim::cuda::resize_normalize(a, ws, nullptr); }) ==
              vprim::status::ok);
      REQUIRE(out.get() == expected);
    }
  }
  // Misuse: a fitted image past the canvas, a plan made for another size.
  device_vector<std::uint8_t> src(std::vector<std::uint8_t>(10 * 10 * 3, 7));
  device_vector<float> out(3 * 8 * 8);
  vprim::cuda::workspace ws;
  const vprim::cuda::resize_normalize_args past{src.ptr, 10, 10, {8, 8, 1, 0}, 8, 8, 0, vprim::resample_flavor::pil,
                                                vprim::deepseek_pixel_stats, out.ptr};
  REQUIRE(vprim::cuda::resize_normalize(past, ws, nullptr) == vprim::status::shape_mismatch);
  auto other = vprim::plan_vision_exp(20, 10);
  REQUIRE(other);
  REQUIRE(vprim::cuda::preprocess_vision_exp(src.ptr, 10, 10, *other, out.ptr, ws, nullptr) == vprim::status::shape_mismatch);
}

TEST_CASE("cuda sparse attention equals the naive softmax over window and compressed entries with sinks",
          "[cuda][attention][v4]") {
  // Raw rows: a cached window then this call's tokens, consecutive positions. Window 8, ratio 4:
  // queries at positions 0, m - 1, m, 2m - 1, window - 1, window and beyond are all covered.
  const std::size_t heads = 11, window = 8, ratio = 4, top_k = 3;
  for (std::size_t d : {32u, 64u, 512u})
    for (std::size_t first : {0u, 5u, 21u})
      for (bool hca : {false, true}) {
        const std::size_t queries = 9, cached = std::min(first, window - 1), raw_count = cached + queries;
        const std::size_t entries = (first + queries) / ratio;
        CAPTURE(d, first, hca);
        const auto q = random_vector(queries * heads * d, 80, -1.0f, 1.0f), raw = random_vector(raw_count * d, 81, -1.0f, 1.0f),
                   ent = random_vector(std::max<std::size_t>(entries, 1) * d, 82, -1.0f, 1.0f), sinks = random_vector(heads, 83);
        std::vector<std::int64_t> raw_pos(raw_count), pos(queries), selected(queries * top_k, -1);
        for (std::size_t i = 0; i < raw_count; ++i) raw_pos[i] = static_cast<std::int64_t>(first - cached + i);
        std::mt19937 rng(84);
        for (std::size_t t = 0; t < queries; ++t) {
          pos[t] = static_cast<std::int64_t>(first + t);
          const auto visible = static_cast<std::size_t>(pos[t] + 1) / ratio;
          std::vector<std::int64_t> ids(visible);  // distinct picks, as top-k makes them
          std::iota(ids.begin(), ids.end(), 0);
          std::shuffle(ids.begin(), ids.end(), rng);
          for (std::size_t j = 0; j < std::min(visible, top_k); ++j) selected[t * top_k + j] = ids[j];
        }
        device_vector<float> dq(q), draw(raw), dent(ent), dsinks(sinks), out(queries * heads * d);
        device_vector<std::int64_t> drp(raw_pos), dpos(pos), dsel(selected);
        const float scale = 1.0f / std::sqrt(static_cast<float>(d));
        const std::size_t cols = raw_count + entries;
        device_vector<float> probs(heads * queries * cols);
        REQUIRE(cudaMemset(probs.ptr, 0, probs.size * sizeof(float)) == cudaSuccess);
        const vprim::cuda::sparse_attention_args a{dq.ptr,   draw.ptr,   drp.ptr, dent.ptr,  hca ? nullptr : dsel.ptr,
                                                   dpos.ptr, dsinks.ptr, out.ptr, probs.ptr, queries,
                                                   heads,    d,          raw_count, entries, top_k,
                                                   ratio,    window,     scale};
        REQUIRE(vprim::cuda::sparse_attention(a, nullptr) == vprim::status::ok);
        std::vector<double> ref(queries * heads * d, 0.0), ref_probs(heads * queries * cols, 0.0);
        std::vector<float> bias_ref(queries * entries, -INFINITY);
        for (std::size_t t = 0; t < queries; ++t) {
          std::vector<const float*> keys;
          std::vector<std::size_t> key_cols;
          for (std::size_t i = 0; i < raw_count; ++i)
            if (raw_pos[i] <= pos[t] && raw_pos[i] > pos[t] - static_cast<std::int64_t>(window)) {
              keys.push_back(raw.data() + i * d);
              key_cols.push_back(i);
            }
          for (std::size_t e = 0; e < entries; ++e) {
            const bool seen = hca ? e < static_cast<std::size_t>(pos[t] + 1) / ratio
                                  : std::count(selected.begin() + static_cast<std::ptrdiff_t>(t * top_k),
                                               selected.begin() + static_cast<std::ptrdiff_t>((t + 1) * top_k), static_cast<std::int64_t>(e)) > 0;
            if (!seen) continue;
            keys.push_back(ent.data() + e * d);
            key_cols.push_back(raw_count + e);
            bias_ref[t * entries + e] = 0.0f;
          }
          for (std::size_t h = 0; h < heads; ++h) {
            const float* qh = q.data() + (t * heads + h) * d;
            std::vector<double> logit(keys.size());
            double mx = sinks[h];
            for (std::size_t j = 0; j < keys.size(); ++j) {
              for (std::size_t e = 0; e < d; ++e) logit[j] += static_cast<double>(qh[e]) * keys[j][e];
              mx = std::max(mx, logit[j] *= scale);
            }
            double denom = std::exp(sinks[h] - mx);
            for (double& l : logit) denom += (l = std::exp(l - mx));
            for (std::size_t j = 0; j < keys.size(); ++j) {
              ref_probs[(h * queries + t) * cols + key_cols[j]] = logit[j] / denom;
              for (std::size_t e = 0; e < d; ++e) ref[(t * heads + h) * d + e] += logit[j] / denom * keys[j][e];
            }
          }
        }
        vprim_ref::require_close("sparse attention", out.get(), ref, [](std::size_t) { return 2e-6; });
        vprim_ref::require_close("sparse attention weights", probs.get(), ref_probs, [](std::size_t) { return 1e-6; });
        device_vector<float> bias(std::max<std::size_t>(queries * entries, 1));
        REQUIRE(vprim::cuda::sparse_attention_bias(a, bias.ptr, nullptr) == vprim::status::ok);
        if (entries > 0) {
          auto got_bias = bias.get();
          got_bias.resize(queries * entries);
          REQUIRE(got_bias == bias_ref);
        }
      }
  vprim::cuda::sparse_attention_args odd{};
  odd.queries = odd.heads = 1;
  odd.head_dim = 48;
  REQUIRE(vprim::cuda::sparse_attention(odd, nullptr) == vprim::status::invalid_argument);
}

TEST_CASE("cuda sparse attention split across blocks for decoding equals the naive softmax and the unsplit kernel",
          "[cuda][attention][v4]") {
  // Few queries over many keys: the workspace overload splits them (flash-decoding). HCA sees a
  // causal prefix of 3000 entries, so late splits may see nothing; CSA picks 600 of them.
  const std::size_t heads = 11, d = 64, window = 128, ratio = 4, entries = 3000, top_k = 600;
  for (std::size_t queries : {1u, 3u})
    for (bool hca : {true, false}) {
      CAPTURE(queries, hca);
      const std::size_t raw_count = window, first = entries * ratio - queries;  // the last positions
      const auto q = random_vector(queries * heads * d, 90, -1.0f, 1.0f), raw = random_vector(raw_count * d, 91, -1.0f, 1.0f),
                 ent = random_vector(entries * d, 92, -1.0f, 1.0f), sinks = random_vector(heads, 93);
      std::vector<std::int64_t> raw_pos(raw_count), pos(queries), selected(queries * top_k);
      for (std::size_t i = 0; i < raw_count; ++i) raw_pos[i] = static_cast<std::int64_t>(first + queries - raw_count + i);
      std::mt19937 rng(94);
      for (std::size_t t = 0; t < queries; ++t) {
        pos[t] = static_cast<std::int64_t>(first + t);
        std::vector<std::int64_t> ids(static_cast<std::size_t>(pos[t] + 1) / ratio);
        std::iota(ids.begin(), ids.end(), 0);
        std::shuffle(ids.begin(), ids.end(), rng);
        std::copy_n(ids.begin(), top_k, selected.begin() + static_cast<std::ptrdiff_t>(t * top_k));
      }
      device_vector<float> dq(q), draw(raw), dent(ent), dsinks(sinks), split_out(queries * heads * d), whole_out(queries * heads * d);
      device_vector<std::int64_t> drp(raw_pos), dpos(pos), dsel(selected);
      vprim::cuda::sparse_attention_args a{dq.ptr,   draw.ptr,   drp.ptr,       dent.ptr,  hca ? nullptr : dsel.ptr,
                                           dpos.ptr, dsinks.ptr, split_out.ptr, nullptr,   queries,
                                           heads,    d,          raw_count,     entries,   top_k,
                                           ratio,    window,     1.0f / std::sqrt(static_cast<float>(d))};
      // 2 or 6 blocks of heads leave an H100's 132 SMs idle: the keys are split.
      const auto plan = vprim::cuda::detail::plan_sparse_split(a, 132);
      REQUIRE(plan.split_len > 0);
      REQUIRE(plan.splits > 1);
      vprim::cuda::workspace ws;
      REQUIRE(vprim::cuda::sparse_attention(a, ws, nullptr) == vprim::status::ok);
      device_vector<char> scratch(ws.bytes);
      ws.ptr = scratch.ptr;
      REQUIRE(vprim::cuda::sparse_attention(a, ws, nullptr) == vprim::status::ok);
      a.out = whole_out.ptr;
      REQUIRE(vprim::cuda::sparse_attention(a, nullptr) == vprim::status::ok);
      std::vector<double> ref(queries * heads * d, 0.0);
      for (std::size_t t = 0; t < queries; ++t) {
        std::vector<const float*> keys;
        for (std::size_t i = 0; i < raw_count; ++i)
          if (raw_pos[i] <= pos[t] && raw_pos[i] > pos[t] - static_cast<std::int64_t>(window)) keys.push_back(raw.data() + i * d);
        if (hca)
          for (std::size_t e = 0; e < static_cast<std::size_t>(pos[t] + 1) / ratio; ++e) keys.push_back(ent.data() + e * d);
        else
          for (std::size_t j = 0; j < top_k; ++j) keys.push_back(ent.data() + static_cast<std::size_t>(selected[t * top_k + j]) * d);
        for (std::size_t h = 0; h < heads; ++h) {
          const float* qh = q.data() + (t * heads + h) * d;
          std::vector<double> logit(keys.size(), 0.0);
          double mx = sinks[h];
          for (std::size_t j = 0; j < keys.size(); ++j) {
            for (std::size_t e = 0; e < d; ++e) logit[j] += static_cast<double>(qh[e]) * keys[j][e];
            mx = std::max(mx, logit[j] /= std::sqrt(static_cast<double>(d)));
          }
          double denom = std::exp(sinks[h] - mx);
          for (double& l : logit) denom += (l = std::exp(l - mx));
          for (std::size_t j = 0; j < keys.size(); ++j)
            for (std::size_t e = 0; e < d; ++e) ref[(t * heads + h) * d + e] += logit[j] / denom * keys[j][e];
        }
      }
      // fp32 online sums over up to 3128 weighted values in [-1, 1]: a few ulps of the
      // largest term per key in the worst case, far less in practice.
      vprim_ref::require_close("split sparse attention", split_out.get(), ref, [](std::size_t) { return 2e-5; });
      vprim_ref::require_close("unsplit sparse attention", whole_out.get(), ref, [](std::size_t) { return 2e-5; });
    }
}

TEST_CASE("cuda router equals the CPU routing rule: scores, biased top-k with ties, renormalised weights, hash",
          "[cuda][moe][router]") {
  const std::size_t tokens = 37, K = 6;
  for (std::size_t E : {8u, 64u, 256u})
    for (int scoring : {0, 1, 2}) {
      CAPTURE(E, scoring);
      auto logits = random_vector(tokens * E, 90, -4.0f, 4.0f);
      for (std::size_t e = 0; e < 4; ++e) logits[e] = logits[4];  // token 0: a five-way tie, the lower experts win
      const auto bias = random_vector(E, 91, -0.1f, 0.1f);
      std::vector<float> bias_tied = bias;
      for (std::size_t e = 0; e < 4; ++e) bias_tied[e] = bias_tied[4];
      device_vector<float> dl(logits), db(bias_tied), dw(tokens * K);
      device_vector<std::int64_t> di(tokens * K);
      const auto f = std::array{vprim::scoring_func::sqrtsoftplus, vprim::scoring_func::sigmoid,
                                vprim::scoring_func::softmax}[static_cast<std::size_t>(scoring)];
      vprim::cuda::router_args a{dl.ptr, db.ptr, nullptr, nullptr, dw.ptr, di.ptr, tokens, E, K, 0, f, 2.5f};
      REQUIRE(vprim::cuda::route(a, nullptr) == vprim::status::ok);
      const auto idx = di.get();
      const auto w = dw.get();
      for (std::size_t t = 0; t < tokens; ++t) {
        CAPTURE(t);
        const std::vector<double> lt(logits.begin() + static_cast<std::ptrdiff_t>(t * E), logits.begin() + static_cast<std::ptrdiff_t>((t + 1) * E));
        const auto r = vprim_ref::route(lt, bias_tied, scoring, 2.5, K);
        REQUIRE(std::vector<std::int64_t>(idx.begin() + static_cast<std::ptrdiff_t>(t * K), idx.begin() + static_cast<std::ptrdiff_t>((t + 1) * K)) ==
                r.experts);
        vprim_ref::require_close("router weights",
                                 std::vector<float>(w.begin() + static_cast<std::ptrdiff_t>(t * K), w.begin() + static_cast<std::ptrdiff_t>((t + 1) * K)),
                                 r.weights, [](std::size_t) { return 1e-5; });
      }
      // Hash routing: the token's row of tid2eid; a token outside the table gets -1 slots.
      std::vector<std::int64_t> table(10 * K), ids(tokens);
      for (std::size_t i = 0; i < table.size(); ++i) table[i] = static_cast<std::int64_t>((i * 7) % E);
      for (std::size_t t = 0; t < tokens; ++t) ids[t] = static_cast<std::int64_t>(t % 11);  // id 10 is outside
      device_vector<std::int64_t> dt(table), dids(ids);
      a.tid2eid = dt.ptr;
      a.token_ids = dids.ptr;
      a.vocab = 10;
      REQUIRE(vprim::cuda::route(a, nullptr) == vprim::status::ok);
      const auto hidx = di.get();
      for (std::size_t t = 0; t < tokens; ++t)
        for (std::size_t k = 0; k < K; ++k)
          REQUIRE(hidx[t * K + k] == (ids[t] < 10 ? table[static_cast<std::size_t>(ids[t]) * K + k] : -1));
      // bias_vl: ids from vocab on are image-block tokens; they select by score + vision bias (on
      // this hash layer too), weighted by the unbiased scores; text keeps its table row.
      const auto vision_bias = random_vector(E, 92, -0.5f, 0.5f);
      device_vector<float> dvb(vision_bias);
      a.vision_bias = dvb.ptr;
      REQUIRE(vprim::cuda::route(a, nullptr) == vprim::status::ok);
      const auto vidx = di.get();
      const auto vw = dw.get();
      for (std::size_t t = 0; t < tokens; ++t) {
        CAPTURE(t, ids[t]);
        const std::vector<std::int64_t> got(vidx.begin() + static_cast<std::ptrdiff_t>(t * K), vidx.begin() + static_cast<std::ptrdiff_t>((t + 1) * K));
        if (ids[t] < 10) {
          REQUIRE(got == std::vector<std::int64_t>(table.begin() + ids[t] * static_cast<std::int64_t>(K), table.begin() + (ids[t] + 1) * static_cast<std::int64_t>(K)));
          continue;
        }
        const std::vector<double> lt(logits.begin() + static_cast<std::ptrdiff_t>(t * E), logits.begin() + static_cast<std::ptrdiff_t>((t + 1) * E));
        const auto r = vprim_ref::route(lt, vision_bias, scoring, 2.5, K);
        REQUIRE(got == r.experts);
        vprim_ref::require_close("image-token router weights",
                                 std::vector<float>(vw.begin() + static_cast<std::ptrdiff_t>(t * K), vw.begin() + static_cast<std::ptrdiff_t>((t + 1) * K)),
                                 r.weights, [](std::size_t) { return 1e-5; });
      }
    }
  vprim::cuda::router_args too_many{};
  too_many.tokens = 1;
  too_many.logits = too_many.weights = reinterpret_cast<float*>(8);
  too_many.indices = reinterpret_cast<std::int64_t*>(8);
  too_many.experts = 4;
  too_many.top_k = 5;
  REQUIRE(vprim::cuda::route(too_many, nullptr) == vprim::status::invalid_argument);
}

TEST_CASE("cuda vision towers (DeepSeek-ViT, Qwen2-VL) equal the CPU towers on the public goldens, fp32 and bf16",
          "[cuda][tower]") {
  struct tower_case {
    const char* file;
    vprim::tower_kind kind;
    const char *tower_prefix, *merger_prefix, *peer_output;
  };
  for (const auto& tc : {tower_case{"dsvit_public", vprim::tower_kind::deepseek_vit, "weight.vit.", "weight.aligner.", "aligned"},
                         tower_case{"vision_public", vprim::tower_kind::qwen2_vl, "weight.", "weight.merger.", "merged"}}) {
    CAPTURE(tc.file);
    auto file = vprim::safetensors_file::open(test_data_dir() + "/" + tc.file + ".safetensors");
    REQUIRE(file);
    auto json = vprim::parse_json(*file->meta("config"));
    REQUIRE(json);
    auto cfg = vprim::tower_config_from_json(*json, tc.kind);
    REQUIRE(cfg);
    const auto pixels = file->to_f32("pixels_chw");
    const auto peer = file->to_f32(tc.peer_output);
    REQUIRE(pixels);
    REQUIRE(peer);
    const auto* shape = file->find("pixels_chw");
    REQUIRE(shape);
    const auto H = static_cast<std::size_t>(shape->shape[1]), W = static_cast<std::size_t>(shape->shape[2]);
    for (auto precision : {vprim::weight_precision::float32, vprim::weight_precision::bfloat16}) {
      CAPTURE(static_cast<int>(precision));
      cfg->precision = precision;
      std::vector<float> cpu_out;  // the CPU tower at the same precision
      REQUIRE(vprim_test::cpu_tower_merged(*file, *cfg, tc.tower_prefix, tc.merger_prefix, *pixels, static_cast<int>(H),
                                           static_cast<int>(W), cpu_out) == vprim::status::ok);
      auto gpu = vprim::cuda::vision_tower::load(vprim::weights_from(*file), *cfg, tc.tower_prefix, tc.merger_prefix);
      REQUIRE(gpu);
      device_vector<float> image(*pixels), out(cpu_out.size());
      REQUIRE(with_workspace([&](vprim::cuda::workspace& ws) { return gpu->encode(image.ptr, H, W, out.ptr, ws, nullptr); }) ==
              vprim::status::ok);
      const auto got = out.get();
      REQUIRE(peer->size() == got.size());
      double scale = 1.0, cpu_vs_peer = 0, gpu_vs_cpu = 0;
      for (std::size_t i = 0; i < got.size(); ++i) {
        REQUIRE(std::isfinite(got[i]));
        scale = std::max(scale, std::fabs(static_cast<double>((*peer)[i])));
        cpu_vs_peer = std::max(cpu_vs_peer, std::fabs(static_cast<double>(cpu_out[i]) - (*peer)[i]));
        gpu_vs_cpu = std::max(gpu_vs_cpu, std::fabs(static_cast<double>(got[i]) - cpu_out[i]));
      }
      CAPTURE(cpu_vs_peer, gpu_vs_cpu, scale);
      if (precision == vprim::weight_precision::float32) {
        REQUIRE(gpu_vs_cpu <= 1e-4 * scale);  // the golden rule: fp32 sums in other orders only
      } else {
        // Both backends round the same operands to bf16 and differ only in the order of fp32
        // sums, so the GPU must sit at least as close to the CPU bf16 tower as that tower sits to
        // the fp32 peer.
        REQUIRE(cpu_vs_peer > 0.0);
        REQUIRE(gpu_vs_cpu <= cpu_vs_peer);
      }
    }
    auto gpu = vprim::cuda::vision_tower::load(vprim::weights_from(*file), *cfg, tc.tower_prefix, tc.merger_prefix);
    REQUIRE(gpu);
    device_vector<float> image(*pixels), out(1);
    // An image that does not tile into patches is refused before anything runs.
    vprim::cuda::workspace none;
    REQUIRE(gpu->encode(image.ptr, H + 1, W, out.ptr, none, nullptr) == vprim::status::shape_mismatch);
  }
}

TEST_CASE("cuda DeepSeek-V4 decoder gives the CPU decoder's logits, in one call or streamed", "[cuda][v4]") {
  auto file = vprim::safetensors_file::open(test_data_dir() + "/deepseek_v4_public.safetensors");
  REQUIRE(file);
  auto json = vprim::parse_json(*file->meta("config"));
  REQUIRE(json);
  auto cfg = vprim::v4::config_from_json(*json);
  REQUIRE(cfg);
  const auto tokens = file->to_i64("prefill.input_ids");
  REQUIRE(tokens);
  const std::size_t S = tokens->size();
  std::vector<float> cpu;
  REQUIRE(vprim_test::cpu_v4_logits(*file, *cfg, *tokens, {S}, cpu) == vprim::status::ok);
  double scale = 1.0;
  for (float v : cpu) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  const vprim::v4::index_source ids = [&](const std::string& name) { return file->to_i64("weight." + name); };
  auto gpu = vprim::cuda::v4_decoder::load(vprim::weights_from(*file, "weight."), ids, *cfg);
  REQUIRE(gpu);
  const std::size_t V = static_cast<std::size_t>(cfg->vocab);
  for (const auto& split : {std::vector<std::size_t>{S}, std::vector<std::size_t>(S, 1), std::vector<std::size_t>{4, S - 4},
                            std::vector<std::size_t>{7, 1, S - 8}}) {
    CAPTURE(split);
    auto cache = gpu->new_cache(S);
    REQUIRE(cache);
    std::vector<float> got;
    std::size_t begin = 0;
    for (std::size_t len : split) {
      device_vector<float> logits(len * V);
      vprim::cuda::workspace ws;
      REQUIRE(gpu->forward(tokens->data() + begin, len, *cache, logits.ptr, ws, nullptr));
      device_vector<char> scratch(ws.bytes);
      ws.ptr = scratch.ptr;
      auto ran = gpu->forward(tokens->data() + begin, len, *cache, logits.ptr, ws, nullptr);
      INFO((ran ? std::string("ok") : ran.err().describe()));
      REQUIRE(ran);
      const auto part = logits.get();
      got.insert(got.end(), part.begin(), part.end());
      begin += len;
    }
    // the golden rule for fp32: within 1e-4 of the largest logit (different sum orders only)
    vprim_ref::require_close("v4 logits", got, std::vector<double>(cpu.begin(), cpu.end()), [&](std::size_t) { return 1e-4 * scale; });
  }
  {  // last_logits_only: the last row of the full logits, and nothing else
    auto cache = gpu->new_cache(S);
    REQUIRE(cache);
    device_vector<float> last(V);
    const vprim::cuda::v4_forward_options only_last{nullptr, nullptr, 0, true};
    vprim::cuda::workspace ws;
    REQUIRE(gpu->forward(tokens->data(), S, *cache, last.ptr, ws, nullptr, {}, only_last));
    device_vector<char> scratch(ws.bytes);
    ws.ptr = scratch.ptr;
    REQUIRE(gpu->forward(tokens->data(), S, *cache, last.ptr, ws, nullptr, {}, only_last));
    vprim_ref::require_close("last logits", last.get(), std::vector<double>(cpu.end() - static_cast<std::ptrdiff_t>(V), cpu.end()),
                             [&](std::size_t) { return 1e-4 * scale; });
  }
  // A token outside the vocabulary is named; a call past the cache's size is refused.
  auto cache = gpu->new_cache(4);
  REQUIRE(cache);
  const std::vector<std::int64_t> bad = {1, 2, static_cast<std::int64_t>(cfg->vocab) + 5};
  device_vector<float> logits(3 * V);
  vprim::cuda::workspace ws;
  REQUIRE(gpu->forward(bad.data(), 3, *cache, logits.ptr, ws, nullptr));
  device_vector<char> scratch(ws.bytes);
  ws.ptr = scratch.ptr;
  auto refused = gpu->forward(bad.data(), 3, *cache, logits.ptr, ws, nullptr);
  REQUIRE_FALSE(refused);
  REQUIRE_THAT(refused.err().message, Catch::Contains("token index 2"));
  const std::vector<std::int64_t> five = {1, 2, 3, 4, 5};
  device_vector<float> logits5(5 * V);
  vprim::cuda::workspace ws5;
  REQUIRE(gpu->forward(five.data(), 5, *cache, logits5.ptr, ws5, nullptr));
  device_vector<char> scratch5(ws5.bytes);
  ws5.ptr = scratch5.ptr;
  auto past = gpu->forward(five.data(), 5, *cache, logits5.ptr, ws5, nullptr);
  REQUIRE_FALSE(past);
  REQUIRE(past.code() == vprim::status::out_of_range);
}

TEST_CASE("cuda vision-language model generates the CPU model's tokens and logits; placeholders are checked",
          "[cuda][vlm]") {
  const std::string dir = test_data_dir();
  auto e2e = vprim::safetensors_file::open(dir + "/vlm_public.safetensors");
  REQUIRE(e2e);
  auto vision = vprim::safetensors_file::open(dir + "/" + std::string(*e2e->meta("vision_weights")));
  auto llm = vprim::safetensors_file::open(dir + "/" + std::string(*e2e->meta("llm_weights")));
  REQUIRE(vision);
  REQUIRE(llm);
  auto vjson = vprim::parse_json(*vision->meta("config"));
  auto ljson = vprim::parse_json(*llm->meta("config"));
  REQUIRE(vjson);
  REQUIRE(ljson);
  auto tcfg = vprim::tower_config_from_json(*vjson, vprim::tower_kind::qwen2_vl);
  auto cfg = vprim::v4::config_from_json(*ljson);
  REQUIRE(tcfg);
  REQUIRE(cfg);
  const auto pixels = vision->to_f32("pixels_chw");
  const auto ids = e2e->to_i64("input_ids");
  const auto placeholder = e2e->to_i64("image_token_id");
  REQUIRE(pixels);
  REQUIRE(ids);
  REQUIRE(placeholder);
  const auto* shape = vision->find("pixels_chw");
  const int H = static_cast<int>(shape->shape[1]), W = static_cast<int>(shape->shape[2]);
  const std::size_t steps = 8;
  std::vector<float> cpu_features, cpu_logits;
  std::vector<std::int64_t> cpu_tokens;
  REQUIRE(vprim_test::cpu_vlm_generate(*vision, *tcfg, *llm, *cfg, *pixels, H, W, *ids, (*placeholder)[0], steps, cpu_features,
                                       cpu_tokens, cpu_logits) == vprim::status::ok);

  const vprim::v4::index_source tables = [&](const std::string& name) { return llm->to_i64("weight." + name); };
  auto model = vprim::cuda::vision_language_model::load(vprim::weights_from(*vision, "weight."), *tcfg, "", "merger.",
                                                        vprim::weights_from(*llm, "weight."), tables, *cfg);
  REQUIRE(model);
  const std::size_t count = model->tower().merged_tokens(static_cast<std::size_t>(H), static_cast<std::size_t>(W));
  REQUIRE(count * static_cast<std::size_t>(cfg->hidden) == cpu_features.size());
  device_vector<float> image(*pixels), features(cpu_features.size());
  REQUIRE(with_workspace([&](vprim::cuda::workspace& ws) {
            return model->image_features(image.ptr, static_cast<std::size_t>(H), static_cast<std::size_t>(W), features.ptr, ws, nullptr);
          }) == vprim::status::ok);
  double fscale = 1.0;
  for (float v : cpu_features) fscale = std::max(fscale, std::fabs(static_cast<double>(v)));
  vprim_ref::require_close("image features", features.get(), std::vector<double>(cpu_features.begin(), cpu_features.end()),
                           [&](std::size_t) { return 1e-4 * fscale; });

  auto run = [&](const std::vector<std::int64_t>& prompt, std::size_t n) {
    auto cache = model->decoder().new_cache(prompt.size() + n);
    REQUIRE(cache);
    vprim::v4::sampler greedy;
    vprim::cuda::workspace ws;
    auto q = model->generate(prompt, (*placeholder)[0], features.ptr, count, n, greedy, *cache, ws, nullptr);
    if (!q) return q;
    device_vector<char> scratch(ws.bytes);
    ws.ptr = scratch.ptr;
    return model->generate(prompt, (*placeholder)[0], features.ptr, count, n, greedy, *cache, ws, nullptr);
  };
  auto gpu = run(*ids, steps);
  INFO((gpu ? std::string("ok") : gpu.err().describe()));
  REQUIRE(gpu);
  REQUIRE(gpu->tokens == cpu_tokens);
  double scale = 1.0;
  for (float v : cpu_logits) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  vprim_ref::require_close("step logits", gpu->step_logits, std::vector<double>(cpu_logits.begin(), cpu_logits.end()),
                           [&](std::size_t) { return 1e-4 * scale; });

  // One placeholder too many: refused before anything runs, naming the token.
  auto extra = *ids;
  const auto last = std::find(extra.rbegin(), extra.rend(), (*placeholder)[0]);
  REQUIRE(last != extra.rend());
  const auto at = static_cast<std::size_t>(extra.rend() - last);  // the token after the last placeholder
  extra.insert(extra.begin() + static_cast<std::ptrdiff_t>(at), (*placeholder)[0]);
  auto refused = run(extra, 1);
  REQUIRE_FALSE(refused);
  REQUIRE(refused.code() == vprim::status::shape_mismatch);
  REQUIRE_THAT(refused.err().message, Catch::Contains("token " + std::to_string(at)));
}

int main(int argc, char** argv) {
  bool listing = false;  // --list-*: Catch lists the cases without running them, no device needed
  for (int i = 1; i < argc; ++i) listing = listing || std::string_view(argv[i]).rfind("--list", 0) == 0;
  if (const std::string why = vprim::cuda::device_problem(); !listing && !why.empty()) {
    std::printf("vprim CUDA tests: %s, so every GPU test is SKIPPED (compiled for this build only)\n", why.c_str());
    return 77;
  }
  return Catch::Session().run(argc, argv);
}

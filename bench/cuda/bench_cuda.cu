// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The CUDA kernels at the issue's shapes, timed with CUDA events (median of 20 runs after 3
// warm-ups), one line per case: name, milliseconds, TFLOP/s or GB/s. The torch peers for the
// same shapes are bench/cuda/torch_peers.py; run both in one script for the ratios. Exits 77
// without a device.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <vector>

#include "vprim/model/random_weights.hpp"
#include "vprim/vprim.cuh"

namespace {

template <class T>
T* device_alloc(std::size_t n) {
  void* p = nullptr;
  if (cudaMalloc(&p, std::max<std::size_t>(n, 1) * sizeof(T)) != cudaSuccess) {
    std::fprintf(stderr, "cudaMalloc of %zu bytes failed\n", n * sizeof(T));
    std::exit(1);
  }
  cudaMemset(p, 0, n * sizeof(T));
  return static_cast<T*>(p);
}

// A deterministic fill in [-1, 1) so that no kernel runs on zeros only.
__global__ void fill_kernel(float* x, std::size_t n, unsigned seed) {
  for (std::size_t i = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; i < n; i += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    x[i] = static_cast<float>(((i * 2654435761u + seed) >> 8) & 0xffff) / 32768.0f - 1.0f;
}

float* random_floats(std::size_t n, unsigned seed) {
  float* p = device_alloc<float>(n);
  fill_kernel<<<1024, 256>>>(p, n, seed);
  return p;
}

__nv_bfloat16* random_bf16(std::size_t n, unsigned seed) {
  float* f = random_floats(n, seed);
  auto* b = device_alloc<__nv_bfloat16>(n);
  (void)vprim::cuda::to_bf16(f, b, n, nullptr);
  cudaFree(f);
  return b;
}

// Median milliseconds of `run` over 20 timed calls after 3 untimed ones.
double time_ms(const std::function<vprim::status()>& run) {
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  for (int i = 0; i < 3; ++i)
    if (run() != vprim::status::ok) return -1.0;
  std::vector<float> ms;
  for (int i = 0; i < 20; ++i) {
    cudaEventRecord(start);
    if (run() != vprim::status::ok) return -1.0;
    cudaEventRecord(stop);
    cudaEventSynchronize(stop);
    float t = 0;
    cudaEventElapsedTime(&t, start, stop);
    ms.push_back(t);
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

void report(const char* name, double ms, double flops, double bytes) {
  if (ms < 0) {
    std::printf("%-44s refused (not supported for this shape, device or build)\n", name);
    return;
  }
  std::printf("%-44s %9.3f ms", name, ms);
  if (flops > 0) std::printf("  %8.1f TFLOP/s", flops / ms / 1e9);
  if (bytes > 0) std::printf("  %8.1f GB/s", bytes / ms / 1e6);
  std::printf("\n");
}

void bench_gemm() {
  const std::size_t m = 2916;
  for (auto [k, n] : {std::pair<std::size_t, std::size_t>{588, 1024}, {1024, 3072}, {1024, 1024}, {1024, 5632}, {2816, 1024}, {9216, 4096}}) {
    auto* a = random_bf16(m * k, 1);
    auto* w = random_bf16(n * k, 2);
    float* c = device_alloc<float>(m * n);
    const vprim::cuda::gemm_args g{m, n, k, a, k, w, k, nullptr, c, n};
    for (auto engine : {vprim::cuda::gemm_engine::mma_sync, vprim::cuda::gemm_engine::wgmma}) {
      char name[64];
      std::snprintf(name, sizeof name, "gemm_bf16 %s %zux%zux%zu", engine == vprim::cuda::gemm_engine::wgmma ? "wgmma" : "mma_sync",
                    m, k, n);
      report(name, time_ms([&] { return vprim::cuda::gemm_bf16(g, nullptr, engine); }), 2.0 * m * n * k, 0);
    }
    cudaFree(a);
    cudaFree(w);
    cudaFree(c);
  }
}

void bench_attention() {
  const std::size_t n = 2916, heads = 16, d = 64;
  float* qkv = random_floats(n * 3 * heads * d, 3);
  float* o = device_alloc<float>(n * heads * d);
  const vprim::cuda::attention_args a{n, heads, d, qkv, qkv + heads * d, qkv + 2 * heads * d, 3 * heads * d, 3 * heads * d,
                                      3 * heads * d, o, heads * d, 0.125f};
  for (auto engine : {vprim::cuda::attention_engine::wmma, vprim::cuda::attention_engine::flash})
    report(engine == vprim::cuda::attention_engine::flash ? "attention_bf16 flash N=2916 16x64" : "attention_bf16 wmma N=2916 16x64",
           time_ms([&] { return vprim::cuda::attention_bidirectional_bf16(a, nullptr, engine); }), 4.0 * n * n * d * heads, 0);
  cudaFree(qkv);
  cudaFree(o);
}

void bench_topk() {
  const std::size_t n = (std::size_t{1} << 20) / 4, k = 512;  // L = 1M tokens, CSA ratio 4
  for (std::size_t rows : {64u, 1024u}) {
    float* scores = random_floats(rows * n, 4);
    auto* idx = device_alloc<std::int64_t>(rows * k);
    const vprim::cuda::topk_args a{scores, nullptr, idx, rows, n, k};
    vprim::cuda::workspace ws;
    (void)vprim::cuda::topk_sort(a, ws, nullptr);
    ws.ptr = device_alloc<char>(ws.bytes);
    char name[64];
    std::snprintf(name, sizeof name, "topk 512 of %zu, %zu rows (select)", n, rows);
    report(name, time_ms([&] { return vprim::cuda::topk_select(a, nullptr); }), 0, 4.0 * rows * n);
    std::snprintf(name, sizeof name, "topk by sorting, %zu rows", rows);
    report(name, time_ms([&] { return vprim::cuda::topk_sort(a, ws, nullptr); }), 0, 4.0 * rows * n);
    cudaFree(ws.ptr);
    cudaFree(scores);
    cudaFree(idx);
  }
}

__global__ void spread_experts_kernel(std::int64_t* idx, std::size_t tokens, std::size_t top_k, std::size_t experts) {
  for (std::size_t t = blockIdx.x * static_cast<std::size_t>(blockDim.x) + threadIdx.x; t < tokens; t += static_cast<std::size_t>(gridDim.x) * blockDim.x)
    for (std::size_t k = 0; k < top_k; ++k) idx[t * top_k + k] = static_cast<std::int64_t>((t * 7919 + k * (experts / top_k)) % experts);
}

void bench_moe() {
  const std::size_t dim = 4096, inter = 2048, experts = 256, top_k = 6;
  auto* gate_up = random_bf16(experts * 2 * inter * dim, 5);
  auto* down = random_bf16(experts * dim * inter, 6);
  for (std::size_t tokens : {324u, 4096u}) {
    auto* x = random_bf16(tokens * dim, 7);
    float* w = random_floats(tokens * top_k, 8);
    auto* idx = device_alloc<std::int64_t>(tokens * top_k);
    spread_experts_kernel<<<64, 256>>>(idx, tokens, top_k, experts);
    float* y = device_alloc<float>(tokens * dim);
    const vprim::cuda::moe_experts_args a{x, idx, w, gate_up, down, y, tokens, dim, inter, experts, top_k, 10.0f};
    vprim::cuda::workspace ws;
    (void)vprim::cuda::moe_experts(a, ws, nullptr);
    ws.ptr = device_alloc<char>(ws.bytes);
    char name[64];
    std::snprintf(name, sizeof name, "moe_experts 256 x top-6, %zu tokens", tokens);
    report(name, time_ms([&] { return vprim::cuda::moe_experts(a, ws, nullptr); }), 2.0 * tokens * top_k * 3 * dim * inter, 0);
    // the dense rate at the same FLOPs: [tokens*top_k, dim] x [dim, 2*inter], then [.., inter] x [inter, dim]
    const std::size_t rows = tokens * top_k;
    auto* a1 = random_bf16(rows * dim, 9);
    auto* a2 = random_bf16(rows * inter, 10);
    float* c1 = device_alloc<float>(rows * 2 * inter);
    float* c2 = device_alloc<float>(rows * dim);
    const vprim::cuda::gemm_args g1{rows, 2 * inter, dim, a1, dim, gate_up, dim, nullptr, c1, 2 * inter};
    const vprim::cuda::gemm_args g2{rows, dim, inter, a2, inter, down, inter, nullptr, c2, dim};
    std::snprintf(name, sizeof name, "dense gemm_bf16, same FLOPs, %zu tokens", tokens);
    report(name, time_ms([&] {
             const auto s = vprim::cuda::gemm_bf16(g1, nullptr);
             return s != vprim::status::ok ? s : vprim::cuda::gemm_bf16(g2, nullptr);
           }),
           2.0 * rows * 3 * dim * inter, 0);
    for (void* p : {static_cast<void*>(x), static_cast<void*>(w), static_cast<void*>(idx), static_cast<void*>(y), ws.ptr,
                    static_cast<void*>(a1), static_cast<void*>(a2), static_cast<void*>(c1), static_cast<void*>(c2)})
      cudaFree(p);
  }
  cudaFree(gate_up);
  cudaFree(down);
}

// The copy rate of this device (1 GiB device to device): the ceiling for the memory-bound cases.
double bench_hbm() {
  const std::size_t bytes = std::size_t{1} << 30;
  auto* src = device_alloc<char>(bytes);
  auto* dst = device_alloc<char>(bytes);
  const double ms = time_ms([&] {
    return vprim::cuda::to_status(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice));
  });
  report("device copy 1 GiB (read + write)", ms, 0, 2.0 * bytes);
  cudaFree(src);
  cudaFree(dst);
  return 2.0 * bytes / ms / 1e6;
}

// The vision GEMMs with their operand built in the tile loads, at the 756 x 756 image's shapes.
void bench_vision_gemm() {
  const std::size_t side = 756, patch = 14, width = 1024, grid = side / patch;
  float* image = random_floats(3 * side * side, 11);
  auto* w = random_bf16(width * 3 * patch * patch, 12);
  float* c = device_alloc<float>(grid * grid * width);
  vprim::cuda::patch_embed_args p;
  p.base = {0, width, 0, nullptr, 0, w, 3 * patch * patch, nullptr, c, width};
  p.image = image;
  p.channels = 3;
  p.height = p.width = side;
  p.patch = patch;
  report("patch_embed_bf16 756x756 -> 2916x1024", time_ms([&] { return vprim::cuda::patch_embed_bf16(p, nullptr); }),
         2.0 * grid * grid * width * 3 * patch * patch, 0);
  float* tokens = random_floats(grid * grid * width, 13);
  auto* w1 = random_bf16(4096 * 9 * width, 14);
  float* c1 = device_alloc<float>(324 * 4096);
  vprim::cuda::merge_gemm_args u;
  u.base = {0, 4096, 0, nullptr, 0, w1, 9 * width, nullptr, c1, 4096};
  u.tokens = tokens;
  u.shape = {grid, grid, width, 3};
  report("merge_gemm_bf16 324x9216x4096 (unfold fused)", time_ms([&] { return vprim::cuda::merge_gemm_bf16(u, nullptr); }),
         2.0 * 324 * 4096 * 9 * width, 0);
  for (void* q : {static_cast<void*>(image), static_cast<void*>(w), static_cast<void*>(c), static_cast<void*>(tokens),
                  static_cast<void*>(w1), static_cast<void*>(c1)})
    cudaFree(q);
}

// The pixel path of one photo: a 1920 x 1080 8-bit image letterboxed to the Vision-Exp target
// and normalised, and the same image through Qwen2-VL's smart resize. Bytes: the 8-bit image
// read, the float tensor written.
void bench_pixel_path() {
  const int w = 1920, h = 1080;
  auto plan = vprim::plan_vision_exp(w, h);
  auto qwen = vprim::plan_smart_resize(h, w);
  if (!plan || !qwen) return;
  std::vector<std::uint8_t> host(static_cast<std::size_t>(w) * h * 3);
  for (std::size_t i = 0; i < host.size(); ++i) host[i] = static_cast<std::uint8_t>((i * 2654435761u) >> 24);
  auto* src = device_alloc<std::uint8_t>(host.size());
  cudaMemcpy(src, host.data(), host.size(), cudaMemcpyHostToDevice);
  auto run = [&](const char* name, int out_w, int out_h, auto call) {
    float* chw = device_alloc<float>(3 * static_cast<std::size_t>(out_w) * out_h);
    vprim::cuda::workspace ws;
    (void)call(chw, ws);
    ws.ptr = device_alloc<char>(ws.bytes);
    const double bytes = static_cast<double>(host.size()) + 12.0 * out_w * out_h;
    report(name, time_ms([&] { return call(chw, ws); }), 0, bytes);
    cudaFree(chw);
    cudaFree(ws.ptr);
  };
  run("pixels: 1920x1080 letterbox (Vision-Exp)", plan->target_width, plan->target_height,
      [&](float* chw, vprim::cuda::workspace& ws) { return vprim::cuda::preprocess_vision_exp(src, w, h, *plan, chw, ws, nullptr); });
  run("pixels: 1920x1080 smart resize (Qwen2-VL)", qwen->target_width, qwen->target_height,
      [&](float* chw, vprim::cuda::workspace& ws) { return vprim::cuda::preprocess_smart_resize(src, w, h, *qwen, chw, ws, nullptr); });
  std::printf("%-44s target %dx%d and %dx%d\n", "", plan->target_width, plan->target_height, qwen->target_width, qwen->target_height);
  cudaFree(src);
}

// One CSA decode step's attention at V4-Flash sizes (64 heads x 512, window 128, indexer 64 x 128,
// top-512): indexer scores over the L/4 visible keys, top-k, then the sparse attention. Bytes
// touched: the indexer keys, the scores written and read back, the selected entries and window.
void bench_csa_decode(double hbm_gbps) {
  const std::size_t heads = 64, d = 512, window = 128, ih = 64, id = 128, k = 512, ratio = 4;
  for (std::size_t context : {std::size_t{1} << 16, std::size_t{1} << 20}) {
    const std::size_t entries = context / ratio;
    float* iq = random_floats(ih * id, 20);
    float* hw = random_floats(ih, 21);
    float* ikeys = random_floats(entries * id, 22);
    float* scores = device_alloc<float>(entries);
    auto* selected = device_alloc<std::int64_t>(k);
    float* q = random_floats(heads * d, 23);
    float* raw = random_floats(window * d, 24);
    float* ent = random_floats(entries * d, 25);
    float* sinks = random_floats(heads, 26);
    float* out = device_alloc<float>(heads * d);
    std::vector<std::int64_t> raw_pos(window), pos{static_cast<std::int64_t>(context - 1)};
    for (std::size_t i = 0; i < window; ++i) raw_pos[i] = static_cast<std::int64_t>(context - window + i);
    auto* draw_pos = device_alloc<std::int64_t>(window);
    auto* dpos = device_alloc<std::int64_t>(1);
    cudaMemcpy(draw_pos, raw_pos.data(), window * sizeof(std::int64_t), cudaMemcpyHostToDevice);
    cudaMemcpy(dpos, pos.data(), sizeof(std::int64_t), cudaMemcpyHostToDevice);
    const vprim::cuda::indexer_args ia{iq, hw, ikeys, scores, 1, ih, id, entries};
    const vprim::cuda::topk_args ta{scores, nullptr, selected, 1, entries, k};
    vprim::cuda::workspace ws, attn_ws;
    (void)vprim::cuda::topk(ta, ws, nullptr);
    ws.ptr = device_alloc<char>(ws.bytes);
    const vprim::cuda::sparse_attention_args sa{q,     raw,    draw_pos, ent, selected, dpos,   sinks, out, nullptr, 1,
                                                heads, d,      window,   entries, k,   ratio,  window, 1.0f / std::sqrt(static_cast<float>(d))};
    (void)vprim::cuda::sparse_attention(sa, attn_ws, nullptr);
    attn_ws.ptr = device_alloc<char>(attn_ws.bytes);
    const double bytes = 4.0 * (entries * id + 2.0 * entries + (k + window) * d + 2.0 * heads * d);
    const double ms = time_ms([&] {
      vprim::status s = vprim::cuda::indexer_scores(ia, nullptr);
      if (s == vprim::status::ok) s = vprim::cuda::topk(ta, ws, nullptr);
      return s == vprim::status::ok ? vprim::cuda::sparse_attention(sa, attn_ws, nullptr) : s;
    });
    char name[80];
    std::snprintf(name, sizeof name, "CSA decode step, context %zuK", context >> 10);
    report(name, ms, 0, bytes);
    std::printf("%-44s %9.1f %% of the device copy rate\n", "", 100.0 * bytes / ms / 1e6 / hbm_gbps);
    // An HCA layer's decode attention at this context (all L/128 entries visible): one block per
    // 8 heads, then split across blocks.
    const std::size_t hca_entries = context / 128;
    vprim::cuda::sparse_attention_args hca = sa;
    hca.selected = nullptr;
    hca.entry_count = hca_entries;
    hca.ratio = 128;
    const double hca_bytes = 4.0 * ((hca_entries + window) * d + 2.0 * heads * d);
    std::snprintf(name, sizeof name, "HCA decode attention %zuK, unsplit", context >> 10);
    report(name, time_ms([&] { return vprim::cuda::sparse_attention(hca, nullptr); }), 0, hca_bytes);
    std::snprintf(name, sizeof name, "HCA decode attention %zuK, split", context >> 10);
    report(name, time_ms([&] { return vprim::cuda::sparse_attention(hca, attn_ws, nullptr); }), 0, hca_bytes);
    for (void* p : {static_cast<void*>(iq), static_cast<void*>(hw), static_cast<void*>(ikeys), static_cast<void*>(scores),
                    static_cast<void*>(selected), static_cast<void*>(q), static_cast<void*>(raw), static_cast<void*>(ent),
                    static_cast<void*>(sinks), static_cast<void*>(out), static_cast<void*>(draw_pos), static_cast<void*>(dpos), ws.ptr,
                    attn_ws.ptr})
      cudaFree(p);
  }
}

// The whole DeepSeek-ViT + aligner at released sizes (random weights) on one 756 x 756 image.
void bench_tower() {
  vprim::tower_config cfg;  // the released sizes: 1024 wide, 16 heads, 32 blocks, SwiGLU 2816, out 4096
  cfg.precision = vprim::weight_precision::bfloat16;
  auto tower = vprim::cuda::vision_tower::load(vprim::random_weights(), cfg, "vit.", "aligner.");
  if (!tower) {
    std::printf("tower: %s\n", tower.err().describe().c_str());
    return;
  }
  const std::size_t side = 756, N = (side / 14) * (side / 14), T = N / 9, D = 1024, I = 2816, O = 4096;
  float* image = random_floats(3 * side * side, 30);
  float* out = device_alloc<float>(T * O);
  vprim::cuda::workspace ws;
  (void)tower->encode(image, side, side, out, ws, nullptr);
  ws.ptr = device_alloc<char>(ws.bytes);
  const double per_block = 2.0 * N * D * (3 * D + D + 2 * I) + 2.0 * N * I * D + 4.0 * N * N * D;
  const double flops = 2.0 * N * 588 * D + 32 * per_block + 2.0 * T * 9 * D * O + 2.0 * T * O * O;
  const double ms = time_ms([&] { return tower->encode(image, side, side, out, ws, nullptr); });
  report("DeepSeek-ViT + aligner, 756x756 image", ms, flops, 0);
  std::printf("%-44s %9.1f images/s\n", "", 1000.0 / ms);
  cudaFree(image);
  cudaFree(out);
  cudaFree(ws.ptr);
}

}  // namespace

int main() {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::printf("bench_cuda: no CUDA device here; nothing measured\n");
    return 77;
  }
  cudaDeviceProp prop{};
  cudaGetDeviceProperties(&prop, 0);
  std::printf("device: %s\n", prop.name);
  const double hbm_gbps = bench_hbm();
  bench_gemm();
  bench_pixel_path();
  bench_vision_gemm();
  bench_attention();
  bench_tower();
  bench_csa_decode(hbm_gbps);
  bench_topk();
  bench_moe();
  return 0;
}

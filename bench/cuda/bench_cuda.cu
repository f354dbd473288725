// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The CUDA kernels at the issue's shapes, timed with CUDA events (median of 20 runs after 3
// warm-ups), one line per case: name, milliseconds, TFLOP/s or GB/s. The torch peers for the
// same shapes are bench/cuda/torch_peers.py; run both in one script for the ratios. Exits 77
// without a device.
#include <algorithm>
#include <cstdio>
#include <functional>
#include <vector>

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
    char name[64];
    std::snprintf(name, sizeof name, "gemm_bf16 %zux%zux%zu", m, k, n);
    report(name, time_ms([&] { return vprim::cuda::gemm_bf16(g, nullptr); }), 2.0 * m * n * k, 0);
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
  report("attention_bf16 N=2916 16x64", time_ms([&] { return vprim::cuda::attention_bidirectional_bf16(a, nullptr); }),
         4.0 * n * n * d * heads, 0);
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
    (void)vprim::cuda::topk(a, ws, nullptr);
    ws.ptr = device_alloc<char>(ws.bytes);
    char name[64];
    std::snprintf(name, sizeof name, "topk 512 of %zu, %zu rows", n, rows);
    report(name, time_ms([&] { return vprim::cuda::topk(a, ws, nullptr); }), 0, 4.0 * rows * n);
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
  bench_gemm();
  bench_attention();
  bench_topk();
  bench_moe();
  return 0;
}

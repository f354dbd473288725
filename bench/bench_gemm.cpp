// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// fp32 GEMM on the DeepSeek-ViT shapes (M = 2916 patches of a 756x756 image), one thread:
// vprim, Eigen, OpenBLAS and oneDNN side by side. C[M,N] = A[M,K] * W[N,K]^T, the Linear layout.
// Run with OPENBLAS_CORETYPE=SkylakeX OMP_NUM_THREADS=1 (OpenBLAS 0.3.21 does not know Zen 5).
#include <Eigen/Core>
#include <cblas.h>
#include <dnnl.h>
#include <oneapi/dnnl/dnnl.hpp>

#include "bench_common.hpp"
#include "vprim/cpu/gemm.hpp"
#include "vprim/cpu/gemm_bf16.hpp"

extern "C" void openblas_set_num_threads(int);

namespace {

struct shape {
  std::size_t m, k, n;
};
// The six shapes of the issue (M = 2916 throughout), then the aligner's real M = 324.
constexpr shape shapes[] = {{2916, 588, 1024},  {2916, 1024, 3072}, {2916, 1024, 1024}, {2916, 1024, 5632},
                            {2916, 2816, 1024}, {2916, 9216, 4096}, {324, 9216, 4096}};

void apply_shapes(benchmark::internal::Benchmark* b) {
  for (const auto& s : shapes) b->Args({static_cast<long>(s.m), static_cast<long>(s.k), static_cast<long>(s.n)});
  b->ArgNames({"M", "K", "N"})->Unit(benchmark::kMillisecond)->MinTime(0.5)->UseRealTime();
}

void BM_vprim(benchmark::State& state) {
  const auto m = static_cast<std::size_t>(state.range(0)), k = static_cast<std::size_t>(state.range(1)),
             n = static_cast<std::size_t>(state.range(2));
  const auto a = vprim_bench::random_floats(m * k, 1), w = vprim_bench::random_floats(n * k, 2);
  std::vector<float> c(m * n);
  vprim::serial_executor one_thread;
  vprim::cpu::dispatch_cpu([&](auto arch) {
    auto packed = vprim::cpu::pack_weight(arch, w.data(), n, k, k);  // done once at load time
    const vprim::cpu::gemm_args g{m, a.data(), k, &*packed, nullptr, c.data(), n, false};
    for (auto _ : state) {
      if (vprim::cpu::gemm(arch, g, one_thread) != vprim::status::ok) state.SkipWithError("gemm failed");
      benchmark::DoNotOptimize(c.data());
    }
    state.SetLabel(decltype(arch)::name());
  });
  vprim_bench::report_flops(state, 2.0 * static_cast<double>(m * n * k));
}

void BM_eigen(benchmark::State& state) {
  const auto m = state.range(0), k = state.range(1), n = state.range(2);
  using mat = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  Eigen::setNbThreads(1);
  const mat a = mat::Random(m, k), w = mat::Random(n, k);
  mat c(m, n);
  for (auto _ : state) {
    c.noalias() = a * w.transpose();
    benchmark::DoNotOptimize(c.data());
  }
  vprim_bench::report_flops(state, 2.0 * static_cast<double>(m * n * k));
}

void BM_openblas(benchmark::State& state) {
  const auto m = static_cast<int>(state.range(0)), k = static_cast<int>(state.range(1)), n = static_cast<int>(state.range(2));
  openblas_set_num_threads(1);
  const auto a = vprim_bench::random_floats(static_cast<std::size_t>(m) * static_cast<std::size_t>(k), 1);
  const auto w = vprim_bench::random_floats(static_cast<std::size_t>(n) * static_cast<std::size_t>(k), 2);
  std::vector<float> c(static_cast<std::size_t>(m) * static_cast<std::size_t>(n));
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, a.data(), k, w.data(), k, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  vprim_bench::report_flops(state, 2.0 * static_cast<double>(m) * n * k);
}

void BM_onednn(benchmark::State& state) {
  const auto m = state.range(0), k = state.range(1), n = state.range(2);
  const auto a = vprim_bench::random_floats(static_cast<std::size_t>(m * k), 1);
  const auto w = vprim_bench::random_floats(static_cast<std::size_t>(n * k), 2);
  std::vector<float> c(static_cast<std::size_t>(m * n));
  for (auto _ : state) {  // dnnl_sgemm is row-major
    if (dnnl_sgemm('N', 'T', m, n, k, 1.0f, a.data(), k, w.data(), k, 0.0f, c.data(), n) != dnnl_success)
      state.SkipWithError("dnnl_sgemm failed");
    benchmark::DoNotOptimize(c.data());
  }
  vprim_bench::report_flops(state, 2.0 * static_cast<double>(m * n * k));
}

// bf16 storage, fp32 accumulation. vprim takes fp32 A and rounds it while packing (inside the
// timing); oneDNN is handed A already in bf16.
void BM_vprim_bf16(benchmark::State& state) {
  const auto m = static_cast<std::size_t>(state.range(0)), k = static_cast<std::size_t>(state.range(1)),
             n = static_cast<std::size_t>(state.range(2));
  const auto a = vprim_bench::random_floats(m * k, 1), w = vprim_bench::random_floats(n * k, 2);
  std::vector<float> c(m * n);
  vprim::serial_executor one_thread;
  auto packed = vprim::cpu::pack_weight_bf16(w.data(), n, k, k);
  const vprim::cpu::gemm_bf16_args g{m, a.data(), k, &*packed, nullptr, c.data(), n, false};
  vprim::cpu::dispatch_cpu([&](auto arch) {
    for (auto _ : state) {
      if (vprim::cpu::gemm_bf16(arch, g, one_thread) != vprim::status::ok) state.SkipWithError("gemm_bf16 failed");
      benchmark::DoNotOptimize(c.data());
    }
    const bool fast = vprim::cpu::detail::bf16_kernels_for<decltype(arch)> && vprim::cpu::cpu_has_bf16_kernels();
    state.SetLabel(fast ? "vdpbf16ps" : "fallback");
  });
  vprim_bench::report_flops(state, 2.0 * static_cast<double>(m * n * k));
}

// oneDNN 2.6 has no bf16 GEMM in its C API; its bf16 path is the matmul primitive.
void BM_onednn_bf16(benchmark::State& state) {
  using dt = dnnl::memory::data_type;
  using tag = dnnl::memory::format_tag;
  const auto m = state.range(0), k = state.range(1), n = state.range(2);
  const auto af = vprim_bench::random_floats(static_cast<std::size_t>(m * k), 1);
  const auto wf = vprim_bench::random_floats(static_cast<std::size_t>(n * k), 2);
  std::vector<std::uint16_t> a(af.size()), w(wf.size());
  for (std::size_t i = 0; i < af.size(); ++i) a[i] = vprim::float_to_bf16_bits(af[i]);
  for (std::size_t i = 0; i < wf.size(); ++i) w[i] = vprim::float_to_bf16_bits(wf[i]);
  std::vector<float> c(static_cast<std::size_t>(m * n));
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream strm(eng);
  const dnnl::memory::desc a_md({m, k}, dt::bf16, tag::ab), w_md({k, n}, dt::bf16, tag::ba), c_md({m, n}, dt::f32, tag::ab);
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, w_md, c_md), eng);
  const dnnl::matmul mm(pd);
  dnnl::memory a_mem(a_md, eng, a.data()), w_mem(w_md, eng, w.data()), c_mem(c_md, eng, c.data());
  for (auto _ : state) {
    mm.execute(strm, {{DNNL_ARG_SRC, a_mem}, {DNNL_ARG_WEIGHTS, w_mem}, {DNNL_ARG_DST, c_mem}});
    strm.wait();
    benchmark::DoNotOptimize(c.data());
  }
  state.SetLabel(dnnl_get_effective_cpu_isa() >= dnnl_cpu_isa_avx512_core_bf16 ? "avx512_core_bf16" : "no bf16 isa");
  vprim_bench::report_flops(state, 2.0 * static_cast<double>(m * n * k));
}

}  // namespace

BENCHMARK(BM_vprim)->Apply(apply_shapes);
BENCHMARK(BM_vprim_bf16)->Apply(apply_shapes);
BENCHMARK(BM_onednn_bf16)->Apply(apply_shapes);
BENCHMARK(BM_eigen)->Apply(apply_shapes);
BENCHMARK(BM_openblas)->Apply(apply_shapes);
BENCHMARK(BM_onednn)->Apply(apply_shapes);
BENCHMARK_MAIN();

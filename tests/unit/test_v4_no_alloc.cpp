// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// Steady-state decoding allocates nothing: with the pool and the workspace sized once (the
// two-phase protocol), 100 decode steps of a batch of sequences through the whole decoder, on
// one thread and on a pool of two, with fp32 and with bf16 weights, make no heap allocation.
// This binary counts every allocation of the process at the C library's door (malloc, calloc,
// realloc and the aligned forms, interposed over glibc's), so operator new and aligned
// allocators (xsimd's) are seen alike.
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <new>
#include <numeric>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "vprim/cpu/arch.hpp"
#include "vprim/io/checkpoint.hpp"
#include "vprim/io/json.hpp"
#include "vprim/model/quantized_weights.hpp"
#include "vprim/model/v4/checkpoint_names.hpp"
#include "vprim/model/v4/model.hpp"

namespace {
std::atomic<long> allocations{0};
void count() noexcept { allocations.fetch_add(1, std::memory_order_relaxed); }
}  // namespace

extern "C" {
void* __libc_malloc(std::size_t) noexcept;
void* __libc_calloc(std::size_t, std::size_t) noexcept;
void* __libc_realloc(void*, std::size_t) noexcept;
void* __libc_memalign(std::size_t, std::size_t) noexcept;
void __libc_free(void*) noexcept;

void* malloc(std::size_t n) noexcept {
  count();
  return __libc_malloc(n);
}
void* calloc(std::size_t n, std::size_t size) noexcept {
  count();
  return __libc_calloc(n, size);
}
void* realloc(void* p, std::size_t n) noexcept {
  count();
  return __libc_realloc(p, n);
}
void* aligned_alloc(std::size_t alignment, std::size_t n) noexcept {
  count();
  return __libc_memalign(alignment, n);
}
void* memalign(std::size_t alignment, std::size_t n) noexcept {
  count();
  return __libc_memalign(alignment, n);
}
int posix_memalign(void** out, std::size_t alignment, std::size_t n) noexcept {
  count();
  void* p = __libc_memalign(alignment, n);
  if (p == nullptr) return ENOMEM;
  *out = p;
  return 0;
}
void free(void* p) noexcept { __libc_free(p); }
}

TEST_CASE("100 decode steps of a batch allocate nothing once the pool and workspace are sized, fp32, bf16 or shipped weights, "
          "fp32 or FP8 KV",
          "[v4][batch][alloc]") {
  auto f = vprim::safetensors_file::open(std::string(VPRIM_TEST_DATA_DIR) + "/deepseek_v4_public.safetensors");
  REQUIRE(f);
  auto cfg = vprim::v4::config_from_json(*vprim::parse_json(*f->meta("config")));
  REQUIRE(cfg);
  const auto& file = *f;
  auto mini = vprim::checkpoint::open(std::string(VPRIM_TEST_DATA_DIR) + "/release_mini");
  REQUIRE(mini);
  auto mini_json = vprim::read_json_file(std::string(VPRIM_TEST_DATA_DIR) + "/release_mini/config.json");
  REQUIRE(mini_json);
  auto mini_cfg = vprim::v4::config_from_json(*mini_json);
  REQUIRE(mini_cfg);
  REQUIRE((mini_cfg->vocab == cfg->vocab && mini_cfg->hidden == cfg->hidden));  // the miniature is this decoder, as shipped
  const std::size_t B = 3, prompt = 13, steps = 100, page = 16;
  const auto V = static_cast<std::size_t>(cfg->vocab), D = static_cast<std::size_t>(cfg->hidden);
  vprim::thread_pool_executor two(2);
  vprim::serial_executor one;
  vprim::cpu::dispatch_cpu([&](auto arch) {
   INFO("arch " << decltype(arch)::name() << ", AVX512-BF16 GEMMs: "
                << (vprim::cpu::detail::bf16_kernels_for<decltype(arch)> && vprim::cpu::cpu_has_bf16_kernels()));
   // bf16: the experts and the head, whose skinny GEMMs take scratch; shipped: the release
   // miniature's FP8 and MXFP4 weights in place, whose low-bit GEMMs take A's buffer.
   for (const int weights : {0, 1, 2}) {
    const bool bf16 = weights == 1, shipped = weights == 2;
    vprim::v4::config c = shipped ? *mini_cfg : *cfg;
    if (bf16) c.expert_precision = c.head_precision = vprim::weight_precision::bfloat16;
    auto m = shipped ? vprim::v4::decoder::load(arch, vprim::v4::from_official_layout(vprim::shipped_weights_from(*mini)),
                                                vprim::v4::ids_from_official_layout([&](const std::string& n) { return mini->to_i64(n); }), c)
                     : vprim::v4::decoder::load(arch, vprim::weights_from(file, "weight."),
                                                [&file](const std::string& name) { return file.to_i64("weight." + name); }, c);
    REQUIRE(m);
    for (const int run : {0, 1, 2}) {
      const bool threaded = run == 1;
      const auto dtype = run == 2 ? vprim::v4::kv_cache_dtype::fp8 : vprim::v4::kv_cache_dtype::fp32;
      CAPTURE(bf16, shipped, threaded, run == 2);
      const std::size_t positions = prompt + steps + 1, per_seq = (positions + page - 1) / page;
      auto layout = vprim::v4::kv_pool_layout::make(c, page, B * per_seq, B, dtype);
      REQUIRE(layout);
      auto kv = vprim::v4::kv_pool::allocate(std::move(*layout));
      REQUIRE(kv);
      std::vector<std::int32_t> table(B * per_seq);
      std::iota(table.begin(), table.end(), 0);
      std::vector<vprim::v4::sequence_ref> seqs;
      for (std::size_t s = 0; s < B; ++s)
        seqs.push_back({0, static_cast<std::int32_t>(s), table.data() + s * per_seq, per_seq});
      const vprim::v4::call_limits lim{B * prompt, B, positions, threaded ? 2u : 1u, false, dtype};
      vprim::workspace_memory memory(m->workspace(lim).bytes);
      vprim::workspace_arena ws(memory);
      std::vector<std::int64_t> ids(B * prompt);
      for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = static_cast<std::int64_t>((i * 7 + 3) % V);
      std::vector<float> emb(B * prompt * D), logits(B * prompt * V);
      std::vector<std::size_t> cu(B + 1);
      for (std::size_t s = 0; s <= B; ++s) cu[s] = s * prompt;
      auto step = [&](std::size_t rows_each) {
        for (std::size_t s = 0; s <= B; ++s) cu[s] = s * rows_each;
        if (m->embed_into(ids.data(), B * rows_each, emb.data())) return false;
        const vprim::v4::batch_view batch{seqs, cu};
        const bool ok = !(threaded ? m->forward_batch(arch, emb.data(), ids.data(), batch, kv->view(), logits.data(), two, ws)
                                   : m->forward_batch(arch, emb.data(), ids.data(), batch, kv->view(), logits.data(), one, ws));
        for (auto& q : seqs) q.length += static_cast<std::int64_t>(rows_each);
        for (std::size_t s = 0; s < B; ++s) ids[s] = static_cast<std::int64_t>(logits[s * V] > logits[s * V + 1] ? 5 : 9);
        return ok;
      };
      REQUIRE(step(prompt));  // the prefill of all three
      {
        const long probe_before = allocations.load();
        const std::vector<int> probe(3);  // the counter sees the library's allocations too
        REQUIRE(allocations.load() - probe_before == 1);
      }
      const long before = allocations.load();
      bool ok = true;
      for (std::size_t i = 0; i < steps; ++i) ok = step(1) && ok;
      const long made = allocations.load() - before;
      REQUIRE(ok);
      CHECK(made == 0);
      CHECK(ws.peak() <= ws.capacity());
    }
   }
  });
}

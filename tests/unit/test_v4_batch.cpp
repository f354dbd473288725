// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The engine's API of the DeepSeek-V4 decoder: sequences of different lengths share one paged
// pool and one call (continuous batching, varlen prefill), and every row's logits equal the
// same sequence run alone through the single-sequence cache, bit for bit, for random lengths,
// page sizes, page orders and split points. Bad batches are refused, naming the sequence and
// the block, before anything is written.
#include <algorithm>
#include <numeric>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "vprim/cpu/arch.hpp"
#include "vprim/model/v4/model.hpp"

namespace {

struct golden {
  vprim::safetensors_file file;
  vprim::v4::config cfg;
};

golden open_golden() {
  auto f = vprim::safetensors_file::open(std::string(VPRIM_TEST_DATA_DIR) + "/deepseek_v4_public.safetensors");
  REQUIRE(f);
  auto cfg = vprim::v4::config_from_json(*vprim::parse_json(*f->meta("config")));
  REQUIRE(cfg);
  return {std::move(*f), *cfg};
}

template <class Arch>
vprim::v4::decoder load(Arch arch, const golden& g) {
  const auto& file = g.file;
  auto m = vprim::v4::decoder::load(arch, vprim::weights_from(file, "weight."),
                                    [&file](const std::string& name) { return file.to_i64("weight." + name); }, g.cfg);
  REQUIRE(m);
  return std::move(*m);
}

// One sequence's plan: its tokens and the lengths of the calls it is fed in.
struct plan {
  std::vector<std::int64_t> tokens;
  std::vector<std::size_t> calls;
};

std::vector<plan> random_plans(std::mt19937& rng, std::size_t count, std::int64_t vocab) {
  std::vector<plan> plans(count);
  for (auto& p : plans) {
    const std::size_t n = 1 + rng() % 70;
    for (std::size_t i = 0; i < n; ++i) p.tokens.push_back(static_cast<std::int64_t>(rng() % static_cast<unsigned>(vocab)));
    for (std::size_t done = 0; done < n;) {  // a prefill of any length, then mostly single tokens
      const std::size_t len = std::min(n - done, done == 0 || rng() % 4 == 0 ? 1 + rng() % 20 : std::size_t{1});
      p.calls.push_back(len);
      done += len;
    }
  }
  return plans;
}

// Each sequence alone, through the single-sequence cache: all its logits, row after row.
template <class Arch, class Exec>
std::vector<float> run_alone(Arch arch, const vprim::v4::decoder& m, const plan& p, Exec& exec,
                             vprim::v4::kv_cache_dtype dtype = vprim::v4::kv_cache_dtype::fp32) {
  auto cache = m.new_cache(0, dtype);
  std::vector<float> all, logits;
  std::size_t at = 0;
  for (std::size_t len : p.calls) {
    auto emb = m.embed(p.tokens.data() + at, len);
    REQUIRE(emb);
    REQUIRE(m.forward(arch, emb->data(), p.tokens.data() + at, len, cache, logits, exec) == vprim::status::ok);
    all.insert(all.end(), logits.begin(), logits.end());
    at += len;
  }
  return all;
}

}  // namespace

TEST_CASE("a batch of sequences in one paged pool gives each sequence's logits bit for bit, fp32 or FP8 KV", "[v4][batch]") {
  const auto g = open_golden();
  const auto V = static_cast<std::size_t>(g.cfg.vocab), D = static_cast<std::size_t>(g.cfg.hidden);
  vprim::thread_pool_executor pool2(2);
  vprim::serial_executor serial;
  vprim::cpu::dispatch_cpu([&](auto arch) {
    const auto m = load(arch, g);
    std::mt19937 rng(20261206);
    for (int round = 0; round < 8; ++round) {
      const std::size_t B = 1 + rng() % 7;
      const std::size_t page = 8 * (1 + rng() % 4);  // a multiple of the CSA (4) and HCA (8) ratios
      const bool threaded = round % 2 == 1;
      const auto dtype = round >= 4 ? vprim::v4::kv_cache_dtype::fp8 : vprim::v4::kv_cache_dtype::fp32;
      CAPTURE(round, B, page, threaded, dtype == vprim::v4::kv_cache_dtype::fp8);
      const auto plans = random_plans(rng, B, g.cfg.vocab);
      std::vector<std::vector<float>> want;
      for (const auto& p : plans) want.push_back(threaded ? run_alone(arch, m, p, pool2, dtype) : run_alone(arch, m, p, serial, dtype));
      // Two threads split a decode step's heads (one query, two jobs); a head's arithmetic is the
      // same in either split, so one sequence's logits are the serial run's, bit for bit.
      if (threaded) REQUIRE(run_alone(arch, m, plans[0], serial, dtype) == want[0]);

      // One pool: B slots in a shuffled order, pages shuffled over the sequences.
      std::size_t pages = 0;
      for (const auto& p : plans) pages += (p.tokens.size() + page - 1) / page;
      auto layout = vprim::v4::kv_pool_layout::make(g.cfg, page, pages + 3, B + 2, dtype);
      REQUIRE(layout);
      auto kv = vprim::v4::kv_pool::allocate(std::move(*layout));
      REQUIRE(kv);
      std::vector<std::int32_t> page_ids(pages + 3), slots(B + 2);
      std::iota(page_ids.begin(), page_ids.end(), 0);
      std::iota(slots.begin(), slots.end(), 0);
      std::shuffle(page_ids.begin(), page_ids.end(), rng);
      std::shuffle(slots.begin(), slots.end(), rng);
      std::vector<std::vector<std::int32_t>> tables(B);
      std::vector<vprim::v4::sequence_ref> all(B);
      std::size_t next_page = 0;
      for (std::size_t s = 0; s < B; ++s) {
        tables[s].assign(page_ids.begin() + static_cast<std::ptrdiff_t>(next_page),
                         page_ids.begin() + static_cast<std::ptrdiff_t>(next_page + (plans[s].tokens.size() + page - 1) / page));
        next_page += tables[s].size();
        all[s] = {0, slots[s], tables[s].data(), tables[s].size()};
      }
      const vprim::v4::call_limits lim{70 * B, B, 70, static_cast<std::size_t>(threaded ? 2 : 1), false, dtype};
      std::vector<std::byte> memory(m.workspace(lim).bytes);
      vprim::workspace_arena ws(memory);

      // Steps: every sequence with calls left sends its next call; the batch changes as they end.
      std::vector<std::size_t> call_of(B, 0), at(B, 0);
      std::vector<std::vector<float>> got(B);
      for (;;) {
        std::vector<vprim::v4::sequence_ref> batch;
        std::vector<std::size_t> who, cu{0};
        std::vector<std::int64_t> ids;
        for (std::size_t s = 0; s < B; ++s) {
          if (call_of[s] == plans[s].calls.size() || rng() % 5 == 0) continue;  // some sit a step out
          const std::size_t len = plans[s].calls[call_of[s]];
          ids.insert(ids.end(), plans[s].tokens.begin() + static_cast<std::ptrdiff_t>(at[s]),
                     plans[s].tokens.begin() + static_cast<std::ptrdiff_t>(at[s] + len));
          batch.push_back(all[s]);
          who.push_back(s);
          cu.push_back(cu.back() + len);
        }
        if (batch.empty()) {
          if (std::all_of(call_of.begin(), call_of.end(), [&, s = std::size_t{0}](std::size_t c) mutable { return c == plans[s++].calls.size(); }))
            break;
          continue;
        }
        std::vector<float> emb(ids.size() * D), logits(ids.size() * V);
        REQUIRE_FALSE(m.embed_into(ids.data(), ids.size(), emb.data()));
        const vprim::v4::batch_view view{batch, cu};
        const auto err = threaded ? m.forward_batch(arch, emb.data(), ids.data(), view, kv->view(), logits.data(), pool2, ws)
                                  : m.forward_batch(arch, emb.data(), ids.data(), view, kv->view(), logits.data(), serial, ws);
        INFO((err ? err->describe() : std::string()));
        REQUIRE_FALSE(err);
        for (std::size_t i = 0; i < who.size(); ++i) {
          const std::size_t s = who[i], len = cu[i + 1] - cu[i];
          got[s].insert(got[s].end(), logits.begin() + static_cast<std::ptrdiff_t>(cu[i] * V),
                        logits.begin() + static_cast<std::ptrdiff_t>(cu[i + 1] * V));
          at[s] += len;
          all[s].length += static_cast<std::int64_t>(len);
          ++call_of[s];
        }
      }
      for (std::size_t s = 0; s < B; ++s) {
        CAPTURE(s, plans[s].calls);
        REQUIRE(got[s].size() == want[s].size());
        std::size_t differ = 0;
        for (std::size_t i = 0; i < got[s].size(); ++i) differ += got[s][i] != want[s][i] ? 1 : 0;
        REQUIRE(differ == 0);
      }
    }
  });
}

TEST_CASE("a batch whose block table, slot or rows do not fit the pool is refused, naming the sequence", "[v4][batch][errors]") {
  const auto g = open_golden();
  vprim::serial_executor exec;
  vprim::cpu::dispatch_cpu([&](auto arch) {
    const auto m = load(arch, g);
    auto layout = vprim::v4::kv_pool_layout::make(g.cfg, 8, 6, 3);
    REQUIRE(layout);
    auto kv = vprim::v4::kv_pool::allocate(std::move(*layout));
    REQUIRE(kv);
    const std::vector<float> before(kv->view().memory, kv->view().memory + kv->layout().floats());
    std::vector<std::int32_t> t0 = {0, 1}, t1 = {2, 3, 9}, t2 = {4};
    std::vector<vprim::v4::sequence_ref> seqs = {{0, 0, t0.data(), t0.size()}, {8, 1, t1.data(), t1.size()}, {0, 2, t2.data(), t2.size()}};
    std::vector<std::size_t> cu = {0, 5, 6, 7};
    std::vector<std::int64_t> ids(7, 3);
    std::vector<float> emb(7 * static_cast<std::size_t>(g.cfg.hidden), 0.1f), logits(7 * static_cast<std::size_t>(g.cfg.vocab));
    std::vector<std::byte> memory(m.workspace({7, 3, 24, 1}).bytes);
    vprim::workspace_arena ws(memory);
    auto call = [&] { return m.forward_batch(arch, emb.data(), ids.data(), {seqs, cu}, kv->view(), logits.data(), exec, ws); };
    auto refused = [&](const std::string& words) {
      const auto e = call();
      REQUIRE(e);
      CAPTURE(e->describe());
      CHECK(e->describe().find(words) != std::string::npos);
    };
    REQUIRE_FALSE(call());  // the batch as it stands is fine; undo what it wrote
    std::copy(before.begin(), before.end(), kv->view().memory);

    t1[1] = 9;  // sequence 1 reaches position 8 of 9: its second block names a page outside the pool
    refused("sequence 1, block 1: page 9 is outside the pool of 6 pages");
    t1[1] = 3;
    cu = {0, 17, 18, 19};  // sequence 0 grows to 17 positions: 3 pages, its table has 2
    ids.resize(19, 3);
    emb.resize(19 * static_cast<std::size_t>(g.cfg.hidden), 0.1f);
    logits.resize(19 * static_cast<std::size_t>(g.cfg.vocab));
    refused("sequence 0: 17 positions need 3 pages of 8, its block table has 2");
    cu = {0, 5, 6, 7};
    seqs[2].slot = 1;
    refused("sequence 2 shares state slot 1 with sequence 1");
    seqs[2].slot = 3;
    refused("sequence 2 uses state slot 3 of a pool with 3 slots");
    seqs[2].slot = 2;
    cu = {0, 5, 4, 7};
    refused("cu_rows decreases at sequence 1");
    cu = {0, 5, 6, 7};
    emb[5 * static_cast<std::size_t>(g.cfg.hidden) + 2] = NAN;
    refused("embedding of row 5 has a non-finite value");
    emb[5 * static_cast<std::size_t>(g.cfg.hidden) + 2] = 0.1f;
    // Refused calls wrote nothing.
    CHECK(std::equal(before.begin(), before.end(), kv->view().memory));
    // A workspace too small is an error that says how short it is, not a crash.
    std::vector<std::byte> tiny(1024);
    vprim::workspace_arena small(tiny);
    const auto e = m.forward_batch(arch, emb.data(), ids.data(), {seqs, cu}, kv->view(), logits.data(), exec, small);
    REQUIRE(e);
    CHECK(e->describe().find("bytes short") != std::string::npos);
  });
}

TEST_CASE("a page size that is not a multiple of every ratio is refused, naming the layer", "[v4][batch][errors]") {
  const auto g = open_golden();
  auto layout = vprim::v4::kv_pool_layout::make(g.cfg, 12, 4, 1);  // CSA 4 divides it, HCA 8 does not
  REQUIRE_FALSE(layout);
  CHECK(layout.err().describe().find("page_size 12 is not a multiple of layer 2's ratio 8") != std::string::npos);
}

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The golden checker tells an exact top-k tie from a defect: the decoder reports where the
// indexer's choice cut through equal scores, and outputs that differ only there are TIE; a
// mismatch anywhere a tie does not reach still fails.
#include <catch2/catch.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "golden/check_v4.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/io/json.hpp"
#include "vprim/io/safetensors.hpp"
#include "vprim/model/v4/model.hpp"

TEST_CASE("boundary_tie finds a run of equal values cut by the top-k choice", "[golden][ties]") {
  const std::vector<float> v = {5, 3, 3, 3, 1, std::numeric_limits<float>::quiet_NaN()};
  const auto best2 = vprim::v4::top_k_indices(xsimd::default_arch{}, v.data(), v.size(), 2);
  REQUIRE(best2 == std::vector<std::int64_t>{0, 1});  // lower index first among the 3s
  const auto tie = vprim::v4::boundary_tie(v.data(), v.size(), best2);
  REQUIRE(tie);
  CHECK(tie->value == 3.0f);
  CHECK(tie->chosen == 1);
  CHECK(tie->left_out == 2);
  CHECK_FALSE(vprim::v4::boundary_tie(v.data(), v.size(), vprim::v4::top_k_indices(xsimd::default_arch{}, v.data(), v.size(), 4)));
  CHECK_FALSE(vprim::v4::boundary_tie(v.data(), v.size(), vprim::v4::top_k_indices(xsimd::default_arch{}, v.data(), v.size(), 1)));
  const auto all = vprim::v4::top_k_indices(xsimd::default_arch{}, v.data(), 5, 5);
  CHECK_FALSE(vprim::v4::boundary_tie(v.data(), 5, all));
}

TEST_CASE("top_k_indices ranks NaN below every number, on the small and the sampled path", "[golden][ties][topk]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  for (std::size_t n : {6u, 20000u}) {
    CAPTURE(n);
    std::vector<float> v(n);
    for (std::size_t i = 0; i < n; ++i) v[i] = i % 3 == 0 ? nan : static_cast<float>((i * 7919) % 1000);
    const std::size_t numbers = n - (n + 2) / 3;
    for (std::size_t k : {std::size_t{1}, numbers / 2, numbers, numbers + 1, n}) {
      CAPTURE(k);
      const auto best = vprim::v4::top_k_indices(xsimd::default_arch{}, v.data(), n, k);
      REQUIRE(best.size() == k);
      for (std::size_t j = 0; j < k; ++j) {
        CHECK(std::isnan(v[static_cast<std::size_t>(best[j])]) == (j >= numbers));  // numbers first
        if (j > 0 && j < numbers) CHECK(v[static_cast<std::size_t>(best[j - 1])] >= v[static_cast<std::size_t>(best[j])]);
      }
    }
  }
}

TEST_CASE("the decoder reports indexer ties: every score 0 once the indexer's head weights are 0", "[golden][ties]") {
  auto f = vprim::safetensors_file::open(std::string(VPRIM_TEST_DATA_DIR) + "/deepseek_v4_public.safetensors");
  REQUIRE(f);
  auto cfg = vprim::v4::config_from_json(*vprim::parse_json(*f->meta("config")));
  REQUIRE(cfg);
  auto tokens = f->to_i64("prefill.input_ids");
  REQUIRE(tokens);
  const auto& file = *f;
  auto ids = [&file](const std::string& name) { return file.to_i64("weight." + name); };
  for (bool zero_heads : {false, true}) {
    CAPTURE(zero_heads);
    auto base = vprim::weights_from(file, "weight.");
    vprim::weight_source src = [&](const std::string& name, const std::vector<vprim::index_t>& shape) {
      auto w = base(name, shape);
      if (w && zero_heads && name.find("indexer.scorer.weights_proj") != std::string::npos) std::fill(w->begin(), w->end(), 0.0f);
      return w;
    };
    vprim_golden::tie_map ties;
    vprim::cpu::dispatch_cpu([&](auto arch) {
      auto m = vprim::v4::decoder::load(arch, src, ids, *cfg);
      REQUIRE(m);
      auto cache = m->new_cache();
      auto emb = m->embed(tokens->data(), tokens->size());
      REQUIRE(emb);
      std::vector<float> logits;
      vprim::serial_executor exec;
      REQUIRE(m->forward(arch, emb->data(), tokens->data(), tokens->size(), cache, logits, exec,
                         vprim_golden::tie_recorder(ties)) == vprim::status::ok);
    });
    if (!zero_heads) {
      CHECK(ties.empty());  // random scores: no exact ties
      continue;
    }
    REQUIRE_FALSE(ties.empty());
    for (const auto& t : ties.ties()) {
      CAPTURE(t.layer, t.position);
      CHECK(cfg->layers[static_cast<std::size_t>(t.layer)] == vprim::v4::attention_kind::csa);
      CHECK(t.value == 0.0f);
      // Every visible entry scores 0: the choice keeps k of them and leaves the rest.
      const auto visible = static_cast<std::size_t>((t.position + 1) / cfg->csa_ratio);
      CHECK(t.chosen == static_cast<std::size_t>(cfg->index_topk));
      CHECK(t.chosen + t.left_out == visible);
    }
  }
}

TEST_CASE("outputs a tie touches differ as TIE; a mismatch no tie reaches still fails", "[golden][ties]") {
  vprim_golden::tie_map ties;
  ties.add({1, 5, 0.0f, 2, 1});  // layer 1, position 5
  CHECK(ties.touches(1, 5));
  CHECK_FALSE(ties.touches(1, 6));  // layer 1's later positions read layer 0's outputs only
  CHECK(ties.touches(2, 6));
  CHECK_FALSE(ties.touches(2, 4));
  CHECK_FALSE(ties.touches(0, 9));
  CHECK(ties.touches(std::nullopt, 5));
  CHECK_FALSE(ties.touches(std::nullopt, 4));

  const std::size_t V = 4;
  std::vector<float> ref(5 * V);  // logits of positions 3..7
  for (std::size_t i = 0; i < ref.size(); ++i) ref[i] = std::sin(static_cast<float>(i));
  auto run = [&](std::size_t bad_row, const vprim_golden::tie_map& m) {
    auto ours = ref;
    ours[bad_row * V + 1] += 0.5f;
    vprim_golden::report rep;
    vprim_golden::close_rows(rep, "logits", ours, ref, {5, 4}, V, 3, std::nullopt, m);
    return std::pair{rep.failed(), rep.tied()};
  };
  CHECK(run(3, ties) == std::pair{0, 1});                       // position 6: after the tie
  CHECK(run(1, ties) == std::pair{1, 0});                       // position 4: before it, a defect
  CHECK(run(3, vprim_golden::tie_map{}) == std::pair{1, 0});   // no tie: a defect
  {
    vprim_golden::report rep;  // agreeing rows pass, tie or not
    vprim_golden::close_rows(rep, "logits", ref, ref, {5, 4}, V, 3, std::nullopt, ties);
    CHECK(rep.failed() == 0);
    CHECK(rep.tied() == 0);
    CHECK(rep.passed() > 0);
  }
  // Generated tokens: token i is chosen from the logits of position 3 + i.
  const std::vector<std::int64_t> ref_tokens = {10, 11, 12, 13}, ours_after = {10, 11, 12, 99}, ours_before = {10, 98, 12, 13};
  vprim_golden::report rep;
  vprim_golden::exact_positions(rep, "generated", ours_after, ref_tokens, {4}, 3, ties);
  CHECK(rep.tied() == 1);
  CHECK(rep.failed() == 0);
  vprim_golden::exact_positions(rep, "generated", ours_before, ref_tokens, {4}, 3, ties);
  CHECK(rep.failed() == 1);
}

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The trained shapes model (examples/vision_primitive_model/shapes_model, written by
// tools/shapes/export.py in the release's layout) against its trainer's own forward pass
// (tests/data/shapes_model/trainer_forward.safetensors): the same loader, tokenizer, image block and
// decoder as a release checkpoint. Logits within 1e-4 relative at every prompt position and every
// decode step; the greedy answer token for token.
#include <algorithm>
#include <cmath>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "vprim/core/executor.hpp"
#include "vprim/cpu/arch.hpp"
#include "vprim/image/resize_plan.hpp"
#include "vprim/io/checkpoint.hpp"
#include "vprim/io/tokenizer.hpp"
#include "vprim/io/vocabulary.hpp"
#include "vprim/model/quantized_weights.hpp"
#include "vprim/model/v4/checkpoint_names.hpp"
#include "vprim/model/vision_budget.hpp"
#include "vprim/model/vision_language.hpp"

namespace {

const std::string model_dir = VPRIM_SHAPES_MODEL_DIR;

//! max |ours - ref| over rows [first, first + rows) of `ref` [.., V], against the golden files'
//! bound 1e-4 * max(1, max |ref|) of those rows.
void check_rows(const std::vector<float>& ours, const std::vector<float>& ref, std::size_t first, std::size_t rows,
                std::size_t V, const std::string& what) {
  REQUIRE(ours.size() == rows * V);
  float err = 0.0f, peak = 1.0f;
  for (std::size_t i = 0; i < rows * V; ++i) {
    err = std::max(err, std::fabs(ours[i] - ref[first * V + i]));
    peak = std::max(peak, std::fabs(ref[first * V + i]));
  }
  INFO(what << ": max |diff| " << err << ", bound " << 1e-4f * peak);
  CHECK(err <= 1e-4f * peak);
}

std::size_t argmax(const float* row, std::size_t V) { return static_cast<std::size_t>(std::max_element(row, row + V) - row); }

}  // namespace

TEST_CASE("the shipped shapes model equals its trainer's forward pass, logits and greedy answer", "[shapes][release]") {
  auto golden = vprim::safetensors_file::open(std::string(VPRIM_TEST_DATA_DIR) + "/shapes_model/trainer_forward.safetensors");
  REQUIRE(golden);
  auto config = vprim::read_json_file(model_dir + "/config.json");
  REQUIRE(config);
  auto cfg = vprim::v4::config_from_json(*config);
  REQUIRE(cfg);
  auto tcfg = vprim::tower_config_from_json(*config, vprim::tower_kind::deepseek_vit);
  REQUIRE(tcfg);
  auto budget = vprim::vision_budget_from_json(*config);
  REQUIRE(budget);
  auto ckpt = vprim::checkpoint::open(model_dir);
  REQUIRE(ckpt);
  std::ifstream tok_file(model_dir + "/tokenizer.json", std::ios::binary);
  const std::string tok_json(std::istreambuf_iterator<char>(tok_file), {});
  auto tok = vprim::bpe_tokenizer::from_json(tok_json);
  REQUIRE(tok);
  auto vocab = vprim::vocabulary::from_json(tok_json);
  REQUIRE(vocab);

  const auto grid = golden->to_i64("grid");  // n_vit_h, n_vit_w, n_llm_h, n_llm_w
  const auto patches = golden->to_f32("patches");
  const auto text_ids = golden->to_i64("prompt_text_ids");
  const auto prompt_ids = golden->to_i64("prompt_ids");
  const auto generated = golden->to_i64("generated");
  const auto logits = golden->to_f32("logits");
  const auto pixels = golden->find("pixels_hwc");
  REQUIRE((grid && patches && text_ids && prompt_ids && generated && logits && pixels));
  const auto V = static_cast<std::size_t>(cfg->vocab);

  // The pixel path plans the golden's grid from the scene's size.
  auto plan = vprim::plan_vision_exp(static_cast<int>(pixels->shape[1]), static_cast<int>(pixels->shape[0]), *budget, tcfg->patch,
                                     tcfg->merge);
  REQUIRE(plan);
  const std::vector<std::int64_t> planned{plan->n_vit_h, plan->n_vit_w, plan->n_llm_h, plan->n_llm_w};
  CHECK(planned == *grid);

  // vprim's codec cuts the prompt as the trainer did, and expands the image block alike.
  const std::string question(*golden->meta("question"));
  auto encoded = tok->encode("<｜begin▁of▁sentence｜><｜User｜><｜deepseek_image｜>\n\n" + question + "<｜Assistant｜></think>");
  REQUIRE(encoded);
  CHECK(*encoded == *text_ids);
  auto prompt = vprim::expand_image_placeholder(*encoded, *tok->token_id("<｜deepseek_image｜>"), static_cast<int>((*grid)[2]),
                                                static_cast<int>((*grid)[3]), cfg->vocab, cfg->csa_ratio);
  REQUIRE(prompt);
  CHECK(prompt->ids == *prompt_ids);
  // The trainer spelled its answers as the codec does: the golden answer, decoded to text and
  // encoded again, gives the same ids (its end-of-sentence token aside).
  std::string answer;
  for (std::size_t k = 0; k + 1 < generated->size(); ++k) {
    auto piece = vocab->text((*generated)[k]);
    REQUIRE(piece);
    answer += *piece;
  }
  CHECK(generated->back() == *tok->token_id("<｜end▁of▁sentence｜>"));
  auto answer_ids = tok->encode(answer);
  REQUIRE(answer_ids);
  CHECK(*answer_ids == std::vector<std::int64_t>(generated->begin(), generated->end() - 1));
  const std::size_t P = prompt->ids.size();
  REQUIRE(logits->size() == (P + generated->size() - 1) * V);

  vprim::cpu::dispatch_cpu([&](auto arch) {
    using model_t = vprim::vision_language_model<vprim::presets::deepseek_vit_patch, vprim::presets::deepseek_vit_merge>;
    const auto weights = vprim::dequantized_weights_from(*ckpt);
    const vprim::v4::index_source tables = [&](const std::string& name) { return ckpt->to_i64(name); };
    auto model = model_t::load(arch, weights, *tcfg, "vision.", "aligner.", vprim::v4::from_official_layout(weights),
                               vprim::v4::ids_from_official_layout(tables), *cfg);
    REQUIRE(model);
    auto sentinels = vprim::read_image_sentinels(weights, cfg->hidden);
    REQUIRE(sentinels);
    vprim::thread_pool_executor pool(2);
    auto features = model->image_features(arch, patches->data(), static_cast<int>((*grid)[0]), static_cast<int>((*grid)[1]), pool);
    REQUIRE(features);
    auto emb = vprim::embed_expanded_prompt(model->decoder(), *prompt, *features, *sentinels);
    REQUIRE(emb);
    auto cache = model->decoder().new_cache(P + generated->size());
    std::vector<float> out;
    REQUIRE(model->decoder().forward(arch, emb->data(), prompt->ids.data(), P, cache, out, pool) == vprim::status::ok);
    check_rows(out, *logits, 0, P, V, "prefill of " + std::to_string(P) + " positions");
    CHECK(static_cast<std::int64_t>(argmax(out.data() + (P - 1) * V, V)) == (*generated)[0]);
    // Teacher-forced decode of the trainer's greedy answer: each step's logits, and its argmax is
    // the next token the trainer chose.
    for (std::size_t k = 0; k + 1 < generated->size(); ++k) {
      const std::int64_t id = (*generated)[k];
      auto e = model->decoder().embed(&id, 1);
      REQUIRE(e);
      REQUIRE(model->decoder().forward(arch, e->data(), &id, 1, cache, out, pool) == vprim::status::ok);
      check_rows(out, *logits, P + k, 1, V, "decode step " + std::to_string(k));
      CHECK(static_cast<std::int64_t>(argmax(out.data(), V)) == (*generated)[k + 1]);
    }
  });
}

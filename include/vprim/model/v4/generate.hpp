// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file generate.hpp
//! Prompt assembly and decoding on top of the decoder:
//! - splice_features: embeddings of a prompt with image features written over the positions of
//!   a placeholder token (the hash routers still see the placeholder id);
//! - generate: prefill the prompt, then feed back `steps` tokens chosen by a sampler (greedy or
//!   temperature/top-p, sampling.hpp) through the cache; greedy_generate is the greedy case.
//!   A token callback sees every token as it is produced (a streaming parser's feed).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vprim/model/v4/model.hpp"
#include "vprim/model/v4/sampling.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

//! The token indices of `ids` [S] holding `placeholder`, which must number exactly `count`:
//! the rows the image features replace, in order. Errors name the first extra placeholder's token
//! index, or the two counts.
[[nodiscard]] inline result<std::vector<std::size_t>> placeholder_positions(const std::int64_t* ids, std::size_t S,
                                                                           std::int64_t placeholder, std::size_t count) {
  std::vector<std::size_t> rows;
  rows.reserve(count);
  for (std::size_t t = 0; t < S; ++t) {
    if (ids[t] != placeholder) continue;
    if (rows.size() == count)
      return make_error(status::shape_mismatch, "more image placeholders than the " + std::to_string(count) +
                                                    " image features (extra placeholder at token " + std::to_string(t) + ")", t);
    rows.push_back(t);
  }
  if (rows.size() != count)
    return make_error(status::shape_mismatch, "the prompt has " + std::to_string(rows.size()) + " image placeholders for " +
                                                  std::to_string(count) + " image features");
  return rows;
}

//! Overwrites the rows of `embeddings` [S, dim] whose id is `placeholder` with consecutive rows of
//! `features` [count, dim]. The number of placeholders must equal `count`.
[[nodiscard]] inline status splice_features(std::vector<float>& embeddings, const std::int64_t* ids, std::size_t S,
                                            std::size_t dim, std::int64_t placeholder, const float* features,
                                            std::size_t count, error* why = nullptr) {
  auto rows = placeholder_positions(ids, S, placeholder, count);
  if (!rows) {
    if (why) *why = rows.err();
    return rows.code();
  }
  for (std::size_t i = 0; i < count; ++i) std::copy_n(features + i * dim, dim, embeddings.data() + (*rows)[i] * dim);
  return status::ok;
}

struct generation {
  std::vector<std::int64_t> tokens;  //!< generated ids
  //! [tokens + 1, vocab]: the logits at the end of the prompt, then after each generated token
  //! was fed back (every generated token is in the cache, ready to continue).
  std::vector<float> step_logits;
};

//! Prefills `prompt` (embeddings [S, dim] and ids) into `cache`, then generates `steps` tokens
//! with `choose`; stops early when `on_token` returns false. `obs` sees every call (the golden
//! checker's indexer ties).
template <class Arch, executor Exec>
[[nodiscard]] result<generation> generate(Arch arch, const decoder& model, sequence_cache& cache,
                                          const std::vector<float>& prompt, const std::vector<std::int64_t>& ids,
                                          std::size_t steps, sampler& choose, Exec& exec,
                                          const std::function<bool(std::int64_t)>& on_token = {}, const observer& obs = {}) {
  if (std::string why; check(choose.params(), &why) != status::ok) return make_error(status::invalid_argument, "sampling: " + why);
  const auto V = static_cast<std::size_t>(model.cfg().vocab);
  std::vector<float> logits;
  if (status s = model.forward(arch, prompt.data(), ids.data(), ids.size(), cache, logits, exec, obs, -1, /*last_logits_only=*/true);
      s != status::ok)
    return make_error(s, "prefill of " + std::to_string(ids.size()) + " tokens failed");
  generation g;
  g.step_logits.assign(logits.end() - static_cast<std::ptrdiff_t>(V), logits.end());
  for (std::size_t step = 0; step < steps; ++step) {
    const std::int64_t next = choose(g.step_logits.data() + step * V, V);
    g.tokens.push_back(next);
    if (on_token && !on_token(next)) break;
    auto emb = model.embed(&next, 1);
    if (!emb) return emb.err();
    if (status s = model.forward(arch, emb->data(), &next, 1, cache, logits, exec, obs); s != status::ok)
      return make_error(s, "decode step " + std::to_string(step) + " failed");
    g.step_logits.insert(g.step_logits.end(), logits.begin(), logits.end());
  }
  return g;
}

//! generate() with the argmax token at every step.
template <class Arch, executor Exec>
[[nodiscard]] result<generation> greedy_generate(Arch arch, const decoder& model, sequence_cache& cache,
                                                 const std::vector<float>& prompt, const std::vector<std::int64_t>& ids,
                                                 std::size_t steps, Exec& exec,
                                                 const std::function<bool(std::int64_t)>& on_token = {}) {
  sampler greedy;
  return generate(arch, model, cache, prompt, ids, steps, greedy, exec, on_token);
}

}  // namespace v4
VPRIM_NAMESPACE_END

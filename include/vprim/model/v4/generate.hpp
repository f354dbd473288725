// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file generate.hpp
//! Prompt assembly and decoding on top of the decoder:
//! - splice_features: embeddings of a prompt with image features written over the positions of
//!   a placeholder token (the hash routers still see the placeholder id);
//! - greedy_generate: prefill the prompt, then feed back the argmax token `steps` times through
//!   the cache. A token callback sees every token as it is produced (a streaming parser's feed).

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vprim/model/v4/model.hpp"

VPRIM_NAMESPACE_BEGIN
namespace v4 {

//! Overwrites the rows of `embeddings` [S, dim] whose id is `placeholder` with consecutive rows of
//! `features` [count, dim]. The number of placeholders must equal `count`.
[[nodiscard]] inline status splice_features(std::vector<float>& embeddings, const std::int64_t* ids, std::size_t S,
                                            std::size_t dim, std::int64_t placeholder, const float* features,
                                            std::size_t count, error* why = nullptr) {
  std::size_t used = 0;
  for (std::size_t t = 0; t < S; ++t) {
    if (ids[t] != placeholder) continue;
    if (used == count) {
      if (why) *why = make_error(status::shape_mismatch, "more image placeholders than the " + std::to_string(count) +
                                                             " image features (extra placeholder at token " + std::to_string(t) + ")", t);
      return status::shape_mismatch;
    }
    std::copy_n(features + used * dim, dim, embeddings.data() + t * dim);
    ++used;
  }
  if (used != count) {
    if (why) *why = make_error(status::shape_mismatch, "the prompt has " + std::to_string(used) + " image placeholders for " +
                                                           std::to_string(count) + " image features");
    return status::shape_mismatch;
  }
  return status::ok;
}

[[nodiscard]] inline std::int64_t argmax(const float* logits, std::size_t n) {
  std::size_t best = 0;
  for (std::size_t i = 1; i < n; ++i)
    if (logits[i] > logits[best]) best = i;
  return static_cast<std::int64_t>(best);
}

struct generation {
  std::vector<std::int64_t> tokens;  //!< generated ids
  //! [tokens + 1, vocab]: the logits at the end of the prompt, then after each generated token
  //! was fed back (every generated token is in the cache, ready to continue).
  std::vector<float> step_logits;
};

//! Prefills `prompt` (embeddings [S, dim] and ids) into `cache`, then generates `steps` tokens
//! greedily; stops early when `on_token` returns false.
template <class Arch, executor Exec>
[[nodiscard]] result<generation> greedy_generate(Arch arch, const decoder& model, sequence_cache& cache,
                                                 const std::vector<float>& prompt, const std::vector<std::int64_t>& ids,
                                                 std::size_t steps, Exec& exec,
                                                 const std::function<bool(std::int64_t)>& on_token = {}) {
  const auto V = static_cast<std::size_t>(model.cfg().vocab);
  std::vector<float> logits;
  if (status s = model.forward(arch, prompt.data(), ids.data(), ids.size(), cache, logits, exec); s != status::ok)
    return make_error(s, "prefill of " + std::to_string(ids.size()) + " tokens failed");
  generation g;
  g.step_logits.assign(logits.end() - static_cast<std::ptrdiff_t>(V), logits.end());
  for (std::size_t step = 0; step < steps; ++step) {
    const std::int64_t next = argmax(g.step_logits.data() + step * V, V);
    g.tokens.push_back(next);
    if (on_token && !on_token(next)) break;
    auto emb = model.embed(&next, 1);
    if (!emb) return emb.err();
    if (status s = model.forward(arch, emb->data(), &next, 1, cache, logits, exec); s != status::ok)
      return make_error(s, "decode step " + std::to_string(step) + " failed");
    g.step_logits.insert(g.step_logits.end(), logits.begin(), logits.end());
  }
  return g;
}

}  // namespace v4
VPRIM_NAMESPACE_END

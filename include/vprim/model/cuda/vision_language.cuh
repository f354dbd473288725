// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file vision_language.cuh
//! The vision-primitive model on the GPU, the contract of model/vision_language.hpp: the
//! tower's merged features stay on the device and replace the embeddings of the prompt's
//! placeholders (the hash routers still see the placeholder id); the decoder prefills and
//! generates through its device cache. Each step's last logits come back to the host for the
//! caller's sampler (greedy, or temperature/top-p), the same sampler the CPU model uses.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vprim/model/cuda/v4_decoder.cuh"
#include "vprim/model/cuda/vision_tower.cuh"
#include "vprim/model/v4/generate.hpp"

VPRIM_NAMESPACE_BEGIN
namespace cuda {

class vision_language_model {
 public:
  //! The tower + merger and the decoder, with the CPU model's names; the merger's width must be
  //! the decoder's hidden size.
  [[nodiscard]] static result<vision_language_model> load(const weight_source& vision, const tower_config& tcfg,
                                                          const std::string& tower_prefix, const std::string& merger_prefix,
                                                          const weight_source& llm, const v4::index_source& ids,
                                                          const v4::config& lcfg) {
    if (tcfg.out_dim != lcfg.hidden)
      return make_error(status::shape_mismatch, "cuda::vision_language_model: the merger writes " + std::to_string(tcfg.out_dim) +
                                                    " features per token, the decoder's hidden size is " + std::to_string(lcfg.hidden));
    auto t = vision_tower::load(vision, tcfg, tower_prefix, merger_prefix);
    if (!t) return t.err();
    auto d = v4_decoder::load(llm, ids, lcfg);
    if (!d) return d.err();
    return vision_language_model(std::move(*t), std::move(*d));
  }

  [[nodiscard]] const vision_tower& tower() const noexcept { return tower_; }
  [[nodiscard]] const v4_decoder& decoder() const noexcept { return decoder_; }

  //! Merged features [tower().merged_tokens(height, width), hidden] (device) of one normalised
  //! image [channels, height, width] (device). Two-phase workspace.
  [[nodiscard]] status image_features(const float* image, std::size_t height, std::size_t width, float* features, workspace& ws,
                                      cudaStream_t stream) const {
    return tower_.encode(image, height, width, features, ws, stream);
  }

  //! The prompt `ids`, whose placeholders are exactly the `count` features' positions, with
  //! `features` [count, hidden] (device) spliced in, prefilled into `c`; then `steps` tokens
  //! from `choose`, stopping early when `on_token` returns false. Two-phase workspace: the
  //! query (ws.ptr == nullptr) needs the prompt, the count and the cache; the decoder's
  //! workspace for the prompt and one row of logits. Errors: placeholders that do not match
  //! the features (with the token index), the decoder's errors.
  [[nodiscard]] result<v4::generation> generate(const std::vector<std::int64_t>& ids, std::int64_t placeholder, const float* features,
                                                std::size_t count, std::size_t steps, v4::sampler& choose, v4_decoder::cache& c,
                                                workspace& ws, cudaStream_t stream,
                                                const std::function<bool(std::int64_t)>& on_token = {}) const {
    const auto V = static_cast<std::size_t>(decoder_.config().vocab);
    auto rows = v4::placeholder_positions(ids.data(), ids.size(), placeholder, count);
    if (!rows) return rows.err();
    const v4_forward_options prefill{features, rows->data(), count, /*last_logits_only=*/true};
    detail::carve cv(ws);
    float* logits = cv.take<float>(V);
    workspace step;
    if (auto q = decoder_.forward(ids.data(), ids.size(), c, nullptr, step, stream, {}, prefill); !q) return q.err();
    step.ptr = cv.take_bytes(step.bytes);
    if (cv.query()) {
      ws.bytes = cv.need();
      return v4::generation{};
    }
    if (!cv.fits()) return make_error(status::invalid_argument, "cuda::vision_language_model: the workspace is smaller than its query said");
    if (std::string why; check(choose.params(), &why) != status::ok) return make_error(status::invalid_argument, "sampling: " + why);
    v4::generation g;
    g.step_logits.resize(V);
    auto logits_back = [&](float* host) {
      cudaError_t e = cudaMemcpyAsync(host, logits, V * sizeof(float), cudaMemcpyDeviceToHost, stream);
      if (e == cudaSuccess) e = cudaStreamSynchronize(stream);
      return e == cudaSuccess ? result<bool>(true) : result<bool>(to_error(e, "cuda::vision_language_model: reading the logits"));
    };
    if (auto ran = decoder_.forward(ids.data(), ids.size(), c, logits, step, stream, {}, prefill); !ran)
      return make_error(ran.code(), "prefill of " + std::to_string(ids.size()) + " tokens: " + ran.err().message);
    if (auto back = logits_back(g.step_logits.data()); !back) return back.err();
    const v4_forward_options decode{nullptr, nullptr, 0, true};
    for (std::size_t s = 0; s < steps; ++s) {
      const std::int64_t next = choose(g.step_logits.data() + s * V, V);
      g.tokens.push_back(next);
      if (on_token && !on_token(next)) break;
      if (auto ran = decoder_.forward(&next, 1, c, logits, step, stream, {}, decode); !ran)
        return make_error(ran.code(), "decode step " + std::to_string(s) + ": " + ran.err().message);
      g.step_logits.resize(g.step_logits.size() + V);
      if (auto back = logits_back(g.step_logits.data() + (s + 1) * V); !back) return back.err();
    }
    return g;
  }

 private:
  vision_language_model(vision_tower t, v4_decoder d) : tower_(std::move(t)), decoder_(std::move(d)) {}
  vision_tower tower_;
  v4_decoder decoder_;
};

}  // namespace cuda
VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file vision_language.hpp
//! The vision-primitive model as one object: a vision tower with its merger (or aligner) and a
//! DeepSeek-V4 decoder. An image's patches become merged features; the prompt's placeholder
//! span is resized to one placeholder per feature; the features replace the placeholder
//! embeddings (the hash routers still see the placeholder id); the decoder prefills and
//! generates through its streaming KV cache. The example and the golden checker both run the
//! model through this class.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "vprim/image/nlayout.hpp"
#include "vprim/model/v4/generate.hpp"
#include "vprim/model/vision_tower.hpp"

VPRIM_NAMESPACE_BEGIN

//! A prompt with one placeholder per image feature: the text before the first placeholder of
//! `ids`, `count` placeholders, then the text after the last one. Errors when `ids` has none.
[[nodiscard]] inline result<std::vector<std::int64_t>> fit_placeholders(const std::vector<std::int64_t>& ids,
                                                                       std::int64_t placeholder, std::size_t count) {
  std::size_t first = 0, last = ids.size();
  while (first < ids.size() && ids[first] != placeholder) ++first;
  if (first == ids.size())
    return make_error(status::invalid_argument, "the prompt has no image placeholder (token id " + std::to_string(placeholder) + ")");
  while (last > first && ids[last - 1] != placeholder) --last;
  std::vector<std::int64_t> out(ids.begin(), ids.begin() + static_cast<std::ptrdiff_t>(first));
  out.insert(out.end(), count, placeholder);
  out.insert(out.end(), ids.begin() + static_cast<std::ptrdiff_t>(last), ids.end());
  return out;
}

//! The DeepSeek arrangement (research/visual_primitives.md §2.3): rows [start, start + block
//! size) of `embeddings` [S, dim] become the image block. IMAGE positions take the merged
//! features [count, dim] in N-layout order (block.perm); START, PAD, NEWLINE and END take the
//! learned sentinel vectors, `sentinels` [4, dim] in that order.
[[nodiscard]] inline status splice_image_block(std::vector<float>& embeddings, std::size_t dim, std::size_t start,
                                               const image_block& block, const std::vector<float>& features,
                                               const std::vector<float>& sentinels, error* why = nullptr) {
  const std::size_t S = embeddings.size() / dim, count = features.size() / dim;
  auto fail = [&](std::string msg) {
    if (why) *why = make_error(status::shape_mismatch, "image block: " + std::move(msg));
    return status::shape_mismatch;
  };
  if (sentinels.size() != 4 * dim) return fail("expected 4 sentinel vectors of " + std::to_string(dim));
  if (start + block.types.size() > S)
    return fail("positions " + std::to_string(start) + ".." + std::to_string(start + block.types.size()) +
                " run past the " + std::to_string(S) + "-token prompt");
  if (block.perm.size() != count)
    return fail(std::to_string(block.perm.size()) + " image positions for " + std::to_string(count) + " features");
  std::size_t next_image = 0;
  for (std::size_t i = 0; i < block.types.size(); ++i) {
    float* row = embeddings.data() + (start + i) * dim;
    const image_token t = block.types[i];
    if (t == image_token::image) {
      const auto src = static_cast<std::size_t>(block.perm[next_image++]);
      if (src >= count) return fail("perm names feature " + std::to_string(src) + " of " + std::to_string(count));
      std::copy_n(features.data() + src * dim, dim, row);
    } else {
      const std::size_t k = t == image_token::start ? 0 : t == image_token::pad ? 1 : t == image_token::newline ? 2 : 3;
      std::copy_n(sentinels.data() + k * dim, dim, row);
    }
  }
  return status::ok;
}

//! The release's four learned sentinel vectors, top-level tensors `image_start`, `image_pad`,
//! `image_newline` and `image_end` ([hidden] each), as splice_image_block's [4, hidden].
[[nodiscard]] inline result<std::vector<float>> read_image_sentinels(const weight_source& src, index_t hidden) {
  std::vector<float> out;
  out.reserve(4 * static_cast<std::size_t>(hidden));
  for (const char* name : {"image_start", "image_pad", "image_newline", "image_end"}) {
    auto v = src(name, {hidden});
    if (!v) return v.err();
    out.insert(out.end(), v->begin(), v->end());
  }
  return out;
}

//! The layer inputs of a prompt whose placeholder became the release's image block
//! (expand_image_placeholder): text ids from the decoder's table, the block's IMAGE positions
//! from `features` [count, hidden] in N-layout order, the others from `sentinels` [4, hidden].
//! An image-block id outside the block is refused with its token index.
[[nodiscard]] inline result<std::vector<float>> embed_expanded_prompt(const v4::decoder& decoder, const expanded_prompt& prompt,
                                                                     const std::vector<float>& features,
                                                                     const std::vector<float>& sentinels) {
  const std::size_t begin = prompt.block_begin, end = begin + prompt.block.types.size();
  const std::int64_t vocab = decoder.cfg().vocab;
  std::vector<std::int64_t> text = prompt.ids;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool in_block = i >= begin && i < end;
    if (in_block != is_image_block_token_id(text[i], vocab))
      return make_error(status::invalid_argument,
                        "token " + std::to_string(i) + " (id " + std::to_string(text[i]) + ") " +
                            (in_block ? "lies in the image block but is not an image-block id"
                                      : "is an image-block id outside the image block"),
                        i);
    if (in_block) text[i] = 0;  // any row: the splice overwrites it
  }
  auto emb = decoder.embed(text.data(), text.size());
  if (!emb) return emb.err();
  error why;
  if (splice_image_block(*emb, static_cast<std::size_t>(decoder.cfg().hidden), begin, prompt.block, features, sentinels,
                         &why) != status::ok)
    return why;
  return emb;
}

template <patch_policy P = patch_policy{dynamic, dynamic}, merge_policy M = merge_policy{dynamic, dynamic}>
  requires patch_policy_value<P> && merge_policy_value<M>
class vision_language_model {
 public:
  using tower_type = vision_tower<P, M>;

  vision_language_model(tower_type t, v4::decoder d) : tower_(std::move(t)), decoder_(std::move(d)) {}

  template <class Arch>
  [[nodiscard]] static result<vision_language_model> load(Arch arch, const weight_source& vision, const tower_config& tcfg,
                                                          const std::string& tower_prefix, const std::string& merger_prefix,
                                                          const weight_source& llm, const v4::index_source& ids,
                                                          const v4::config& lcfg) {
    auto t = tower_type::load(arch, vision, tcfg, tower_prefix, merger_prefix);
    if (!t) return t.err();
    auto d = v4::decoder::load(arch, llm, ids, lcfg);
    if (!d) return d.err();
    return vision_language_model(std::move(*t), std::move(*d));
  }

  [[nodiscard]] const tower_type& tower() const noexcept { return tower_; }
  [[nodiscard]] const v4::decoder& decoder() const noexcept { return decoder_; }
  [[nodiscard]] std::size_t hidden() const noexcept { return static_cast<std::size_t>(decoder_.cfg().hidden); }

  //! Patches [grid_h * grid_w, patch values] -> merged image features [count, hidden]. Pass one
  //! workspace to every image of a stream (see tower_workspace).
  template <class Arch, executor Exec>
  [[nodiscard]] result<std::vector<float>> image_features(Arch arch, const float* patches, int grid_h, int grid_w,
                                                          tower_workspace& ws, Exec& exec) const {
    std::vector<float> features, merged;
    if (status s = tower_.encode(arch, patches, grid_h, grid_w, features, ws, exec); s != status::ok)
      return make_error(s, "vision tower on a " + std::to_string(grid_h) + "x" + std::to_string(grid_w) + " patch grid");
    if (status s = tower_.merge(arch, features, grid_h, grid_w, merged, ws, exec); s != status::ok)
      return make_error(s, "merger on a " + std::to_string(grid_h) + "x" + std::to_string(grid_w) + " patch grid");
    if (merged.size() % hidden() != 0)
      return make_error(status::shape_mismatch, "the merger's width (" + std::to_string(merged.size()) +
                                                    " values) is not a multiple of the decoder's hidden size " +
                                                    std::to_string(hidden()));
    return merged;
  }
  template <class Arch, executor Exec>
  [[nodiscard]] result<std::vector<float>> image_features(Arch arch, const float* patches, int grid_h, int grid_w,
                                                          Exec& exec) const {
    tower_workspace ws;
    return image_features(arch, patches, grid_h, grid_w, ws, exec);
  }

  //! The prompt `ids` (whose placeholders are exactly the features' positions) with `features`
  //! spliced in, prefilled into `cache`; then `steps` tokens from `choose`.
  template <class Arch, executor Exec>
  [[nodiscard]] result<v4::generation> generate(Arch arch, const std::vector<std::int64_t>& ids, std::int64_t placeholder,
                                                const std::vector<float>& features, std::size_t steps, v4::sampler& choose,
                                                v4::sequence_cache& cache, Exec& exec,
                                                const std::function<bool(std::int64_t)>& on_token = {},
                                                const v4::observer& obs = {}) const {
    auto emb = decoder_.embed(ids.data(), ids.size());
    if (!emb) return emb.err();
    error why;
    if (v4::splice_features(*emb, ids.data(), ids.size(), hidden(), placeholder, features.data(), features.size() / hidden(),
                            &why) != status::ok)
      return why;
    return v4::generate(arch, decoder_, cache, *emb, ids, steps, choose, exec, on_token, obs);
  }

 private:
  tower_type tower_;
  v4::decoder decoder_;
};

VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The GPU golden check of the whole vision-language path (see cuda_backend.hpp): the fp32 GPU
// tower's features stay on the device, are spliced over the prompt's placeholders by the GPU
// decoder, which prefills and decodes greedily; the same four checks as the CPU backend.
#include <string>
#include <vector>

#include "cuda_backend.hpp"
#include "cuda_memory.cuh"
#include "vlm_inputs.hpp"
#include "vprim/model/cuda/vision_language.cuh"

namespace vprim_golden {

void check_vlm_end_to_end_cuda(const golden_file& g, report& rep) {
  auto in = read_vlm_inputs(g, rep);
  if (!in) return;
  auto model = vprim::cuda::vision_language_model::load(vprim::weights_from(in->vision.file, "weight."), in->tower, "", "merger.",
                                                        in->llm_weights(), in->llm_tables(), in->decoder);
  if (!model) return rep.problem(g.path + ": " + model.err().describe());
  const auto H = static_cast<std::size_t>(in->height), W = static_cast<std::size_t>(in->width);
  const std::size_t count = model->tower().merged_tokens(H, W), D = static_cast<std::size_t>(in->decoder.hidden);
  auto image = vprim::cuda::device_buffer<float>::upload(in->pixels, "pixels_chw");
  if (!image) return rep.problem(image.err().describe());
  auto features = device_zeros<float>(count * D, rep, "the image features");
  if (!features) return;
  if (!run_with_workspace(rep, g.path + ": the GPU tower", [&](vprim::cuda::workspace& ws) {
        return model->image_features(image->data(), H, W, features->data(), ws, nullptr);
      }))
    return;
  std::vector<float> host_features;
  if (copy_back(features->data(), count * D, host_features) != vprim::status::ok)
    return rep.problem(g.path + ": reading the image features back");

  auto cache = model->decoder().new_cache(in->ids.size() + in->generated.size());
  if (!cache) return rep.problem(g.path + ": " + cache.err().describe());
  vprim::v4::sampler greedy;
  vprim::cuda::workspace ws;
  auto generate = [&] {
    return model->generate(in->ids, in->placeholder, features->data(), count, in->generated.size(), greedy, *cache, ws, nullptr);
  };
  if (auto q = generate(); !q) return rep.problem(g.path + ": " + q.err().describe());
  auto scratch = device_zeros<char>(ws.bytes, rep, "the generation workspace");
  if (!scratch) return;
  ws.ptr = scratch->data();
  auto out = generate();
  if (!out) return rep.problem(g.path + ": " + out.err().describe());
  compare_vlm(g, rep, *in, host_features, out->tokens, out->step_logits);
}

}  // namespace vprim_golden

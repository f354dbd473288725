// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The GPU golden check of the DeepSeek-V4 decoder (see cuda_backend.hpp): the same scopes and
// rules as the CPU check, with every module output copied back from the device.
#include <string>
#include <vector>

#include "compare_v4.hpp"
#include "cuda_backend.hpp"
#include "cuda_memory.cuh"
#include "vprim/model/cuda/v4_decoder.cuh"

namespace vprim_golden {

void check_deepseek_v4_cuda(const golden_file& g, report& rep) {
  const auto in = read_v4_inputs(g, rep);
  if (!in) return;
  auto model = vprim::cuda::v4_decoder::load(vprim::weights_from(g.file, "weight."), in->ids, in->cfg);
  if (!model) return rep.problem(g.path + ": " + model.err().describe());
  const std::size_t V = static_cast<std::size_t>(in->cfg.vocab);
  v4_recording rec;
  for (const std::string scope : {"prefill", "stream"}) {
    auto cache = model->new_cache(in->tokens.size());
    if (!cache) return rep.problem(g.path + ": " + cache.err().describe());
    int call = 0;
    vprim::cuda::v4_device_observer obs;
    auto elements = [](const std::vector<std::int64_t>& shape) {
      std::size_t n = 1;
      for (auto d : shape) n *= static_cast<std::size_t>(d);
      return n;
    };
    obs.floats = [&](std::string_view path, std::string_view slot, const float* p, std::vector<std::int64_t> shape) {
      return copy_back(p, elements(shape), rec.floats[v4_key(scope, path, call, slot)]);
    };
    obs.indices = [&](std::string_view path, std::string_view slot, const std::int64_t* p, std::vector<std::int64_t> shape) {
      return copy_back(p, elements(shape), rec.indices[v4_key(scope, path, call, slot)]);
    };
    std::vector<float> all_logits;
    std::size_t begin = 0;
    for (std::size_t len : in->calls(scope)) {
      const std::int64_t* ids = in->tokens.data() + begin;
      vprim::cuda::workspace ws;
      if (auto q = model->forward(ids, len, *cache, nullptr, ws, nullptr, obs); !q) return rep.problem(g.path + ": " + q.err().describe());
      auto scratch = device_zeros<char>(ws.bytes, rep, "the decoder's workspace");
      auto logits = device_zeros<float>(len * V, rep, "the logits");
      if (!scratch || !logits) return;
      ws.ptr = scratch->data();
      if (auto ran = model->forward(ids, len, *cache, logits->data(), ws, nullptr, obs); !ran)
        return rep.problem(g.path + ": the GPU decoder failed: " + ran.err().describe());
      std::vector<float> part;
      if (copy_back(logits->data(), len * V, part) != vprim::status::ok) return rep.problem(g.path + ": reading the logits back");
      all_logits.insert(all_logits.end(), part.begin(), part.end());
      begin += len;
      ++call;
    }
    rec.floats[scope + ".logits"] = all_logits;
  }
  compare_v4_recording(g, rep, rec, *in);
}

}  // namespace vprim_golden

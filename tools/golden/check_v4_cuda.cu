// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The GPU golden check of the DeepSeek-V4 decoder (see cuda_backend.hpp): the same scopes and
// rules as the CPU check, with every module output copied back from the device.
#include <string>
#include <vector>

#include "compare_v4.hpp"
#include "cuda_backend.hpp"
#include "vprim/cuda/v4_decoder.cuh"

namespace vprim_golden {

namespace {
template <class T>
vprim::status copy_back(const T* device, const std::vector<std::int64_t>& shape, std::vector<T>& host) {
  std::size_t n = 1;
  for (auto d : shape) n *= static_cast<std::size_t>(d);
  host.resize(n);
  cudaError_t e = cudaStreamSynchronize(nullptr);
  if (e == cudaSuccess && n > 0) e = cudaMemcpy(host.data(), device, n * sizeof(T), cudaMemcpyDeviceToHost);
  return vprim::cuda::to_status(e);
}
}  // namespace

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
    obs.floats = [&](std::string_view path, std::string_view slot, const float* p, std::vector<std::int64_t> shape) {
      return copy_back(p, shape, rec.floats[v4_key(scope, path, call, slot)]);
    };
    obs.indices = [&](std::string_view path, std::string_view slot, const std::int64_t* p, std::vector<std::int64_t> shape) {
      return copy_back(p, shape, rec.indices[v4_key(scope, path, call, slot)]);
    };
    std::vector<float> all_logits;
    std::size_t begin = 0;
    for (std::size_t len : in->calls(scope)) {
      const std::int64_t* ids = in->tokens.data() + begin;
      vprim::cuda::workspace ws;
      if (auto q = model->forward(ids, len, *cache, nullptr, ws, nullptr, obs); !q) return rep.problem(g.path + ": " + q.err().describe());
      void* scratch = nullptr;
      float* logits = nullptr;
      if (cudaMalloc(&scratch, std::max<std::size_t>(ws.bytes, 1)) != cudaSuccess ||
          cudaMalloc(reinterpret_cast<void**>(&logits), len * V * sizeof(float)) != cudaSuccess) {
        cudaFree(scratch);
        return rep.problem(g.path + ": device memory for the decoder's workspace");
      }
      ws.ptr = scratch;
      auto ran = model->forward(ids, len, *cache, logits, ws, nullptr, obs);
      std::vector<float> part;
      const auto copied = ran ? copy_back(logits, {static_cast<std::int64_t>(len * V)}, part) : ran.code();
      cudaFree(scratch);
      cudaFree(logits);
      if (!ran) return rep.problem(g.path + ": the GPU decoder failed: " + ran.err().describe());
      if (copied != vprim::status::ok) return rep.problem(g.path + ": reading the logits back");
      all_logits.insert(all_logits.end(), part.begin(), part.end());
      begin += len;
      ++call;
    }
    rec.floats[scope + ".logits"] = all_logits;
  }
  compare_v4_recording(g, rep, rec);
}

}  // namespace vprim_golden

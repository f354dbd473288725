// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// The golden checks that run on the GPU (`vprim_golden --backend cuda`), built when nvcc is
// found (VPRIM_GOLDEN_CUDA). The V4 decoder runs in fp32 and is held to the fp32 rules. The GPU
// tower computes in bf16, so its stages are held to a bf16 rule: max|ours - ref| <= 2e-2 *
// max(1, max|ref|), about four times the worst the CPU bf16 towers measure against the fp32 peers
// (5.4e-3 on dsvit_public, 3.2e-3 on vision_public).

#include <string_view>

#include "golden_file.hpp"

namespace vprim_golden {

inline constexpr double bf16_rel_tol = 2e-2;

//! Whether a CUDA device is present (false without one, or in a build without CUDA).
bool cuda_device_present();

//! Kind deepseek_vit on the GPU: every stage of the tower + aligner (the unfold is fused into
//! the aligner's GEMM there, so it is covered by `aligned`).
void check_deepseek_vit_cuda(const golden_file& g, report& rep);

//! Kind qwen2_vl_vision on the GPU tower: patch_embed, every block and the merger's output.
void check_qwen2_vl_vision_cuda(const golden_file& g, report& rep);

//! Kind deepseek_v4 on the GPU decoder (fp32): both scopes, every module output, the CPU rules.
void check_deepseek_v4_cuda(const golden_file& g, report& rep);

//! Checks `g` on the GPU when its kind has a GPU path; otherwise reports that it has none.
inline void check_on_cuda(const golden_file& g, report& rep) {
  if (g.kind == "deepseek_vit") return check_deepseek_vit_cuda(g, rep);
  if (g.kind == "qwen2_vl_vision") return check_qwen2_vl_vision_cuda(g, rep);
  if (g.kind == "deepseek_v4") return check_deepseek_v4_cuda(g, rep);
  rep.problem(g.path + ": kind '" + g.kind + "' has no CUDA path yet");
}

}  // namespace vprim_golden

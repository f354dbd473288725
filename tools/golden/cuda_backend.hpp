// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// The golden checks that run on the GPU (`vprim_golden --backend cuda`), built when nvcc is
// found (VPRIM_GOLDEN_CUDA). Towers and decoder run in fp32, as the golden configs ask, and are
// held to the same rules as the CPU backend.

#include <string>
#include <string_view>

#include "golden_file.hpp"

namespace vprim_golden {

//! Whether a CUDA device is present (false without one, or in a build without CUDA).
//! Why the CUDA backend cannot run here (no device, a driver too old for the runtime), or "".
std::string cuda_device_problem();

//! Kind deepseek_vit's image path with the GPU pixels: the resize and N-layout tables (host
//! planning, shared with the CPU backend) and every image's pixels_chw.
void check_vision_exp_image_cuda(const golden_file& g, report& rep);

//! Kind deepseek_vit on the GPU: every stage of the tower + aligner.
void check_deepseek_vit_cuda(const golden_file& g, report& rep);

//! Kind qwen2_vl_preprocess with the GPU pixels: smart_resize_table (host planning) and every
//! image's CLIP-normalised pixels.
void check_qwen2_vl_preprocess_cuda(const golden_file& g, report& rep);

//! Kind qwen2_vl_vision on the GPU tower: patch_embed, every block and the merger's output.
void check_qwen2_vl_vision_cuda(const golden_file& g, report& rep);

//! Kind deepseek_v4 on the GPU decoder (fp32): both scopes, every module output, the CPU rules.
void check_deepseek_v4_cuda(const golden_file& g, report& rep);

//! Kind vlm_end_to_end on the GPU model (fp32 tower and decoder, greedy): image_features,
//! prefill and step logits, the generated tokens.
void check_vlm_end_to_end_cuda(const golden_file& g, report& rep);

//! Checks `g` on the GPU; an unknown kind is a problem, as on the CPU.
inline void check_on_cuda(const golden_file& g, report& rep) {
  if (g.kind == "qwen2_vl_preprocess") return check_qwen2_vl_preprocess_cuda(g, rep);
  if (g.kind == "deepseek_vit") {
    check_vision_exp_image_cuda(g, rep);
    return check_deepseek_vit_cuda(g, rep);
  }
  if (g.kind == "qwen2_vl_vision") return check_qwen2_vl_vision_cuda(g, rep);
  if (g.kind == "deepseek_v4") return check_deepseek_v4_cuda(g, rep);
  if (g.kind == "vlm_end_to_end") return check_vlm_end_to_end_cuda(g, rep);
  rep.problem(g.path + ": unknown kind '" + g.kind + "'");
}

}  // namespace vprim_golden

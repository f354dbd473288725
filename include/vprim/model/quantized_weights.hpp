// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file quantized_weights.hpp
//! Weights as DeepSeek's released checkpoints store them (research/deepseek_v4.md §1, §10),
//! dequantised to fp32 as they are read:
//! - FP8 e4m3 Linear weights [n, k] with a `<name>.scale` tensor of one scale per 128 x 128
//!   block, [ceil(n / 128), ceil(k / 128)];
//! - MXFP4 routed experts: two e2m1 values per byte (the low nibble holds the even column),
//!   stored as I8/U8 [n, k / 2], with one scale per 32 inputs, [n, k / 32].
//! Scales may be F8_E8M0 (the released files), F32 or BF16. Any other tensor is read as stored
//! (bf16, f16, f32, plain e4m3). Errors name the tensor and the shapes involved.

#include <array>
#include <cmath>
#include <string>
#include <vector>

#include "vprim/model/weights.hpp"

VPRIM_NAMESPACE_BEGIN

//! e2m1 (FP4) values by nibble; bit 3 is the sign.
inline constexpr std::array<float, 16> e2m1_values = {0.0f,  0.5f,  1.0f,  1.5f,  2.0f,  3.0f,  4.0f,  6.0f,
                                                      -0.0f, -0.5f, -1.0f, -1.5f, -2.0f, -3.0f, -4.0f, -6.0f};

namespace detail {

inline std::string scale_name_of(const std::string& name) {
  constexpr std::string_view suffix = ".weight";
  return name.ends_with(suffix) ? name.substr(0, name.size() - suffix.size()) + ".scale" : name + ".scale";
}

inline result<std::vector<float>> read_scales(const safetensors_file& f, const tensor_entry& s, const std::string& weight,
                                              const std::vector<index_t>& expected) {
  if (s.shape != expected)
    return make_error(status::shape_mismatch, "scale '" + s.name + "' of '" + weight + "' has shape " + s.shape_string() +
                                                  ", expected " + shape_string(expected),
                      f.file_offset(s));
  return f.to_f32(s.name);
}

inline result<std::vector<float>> read_dequantized(const safetensors_file& f, const std::string& name,
                                                   const std::vector<index_t>& shape) {
  const auto [base, slice] = split_slice(name);
  const tensor_entry* w = f.find(base);
  const tensor_entry* s = f.find(scale_name_of(base));
  const bool fp8 = w != nullptr && s != nullptr && w->type == dtype::f8_e4m3;
  const bool fp4 = w != nullptr && s != nullptr && (w->type == dtype::i8 || w->type == dtype::u8);
  if (!fp8 && !fp4) return read_weight(f, name, shape);
  if (slice >= 0 || shape.size() != 2)
    return make_error(status::not_supported, "weight '" + base + "' is block-quantised: it can be read whole as a 2-D matrix only");
  const auto n = static_cast<std::size_t>(shape[0]), k = static_cast<std::size_t>(shape[1]);
  const auto raw = f.bytes(*w);
  std::vector<float> out = large_vector<float>(n * k);
  if (fp8) {
    if (w->shape != shape)
      return make_error(status::shape_mismatch, "weight '" + base + "' has shape " + w->shape_string() + ", expected " +
                                                    shape_string(shape),
                        f.file_offset(*w));
    const std::size_t bn = (n + 127) / 128, bk = (k + 127) / 128;
    auto sc = read_scales(f, *s, base, {static_cast<index_t>(bn), static_cast<index_t>(bk)});
    if (!sc) return sc.err();
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < k; ++j)
        out[i * k + j] = e4m3_bits_to_float(static_cast<std::uint8_t>(raw[i * k + j])) * (*sc)[(i / 128) * bk + j / 128];
  } else {
    if (k % 32 != 0 || w->shape != std::vector<index_t>{shape[0], shape[1] / 2})
      return make_error(status::shape_mismatch, "MXFP4 weight '" + base + "' has shape " + w->shape_string() +
                                                    ", expected " + shape_string({shape[0], shape[1] / 2}) +
                                                    " (two values per byte; " + std::to_string(k) +
                                                    " inputs must be a multiple of 32)",
                        f.file_offset(*w));
    auto sc = read_scales(f, *s, base, {shape[0], shape[1] / 32});
    if (!sc) return sc.err();
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t c = 0; c < k / 2; ++c) {
        const auto byte = static_cast<std::uint8_t>(raw[i * (k / 2) + c]);
        const float scale = (*sc)[i * (k / 32) + (2 * c) / 32];
        out[i * k + 2 * c] = e2m1_values[byte & 15u] * scale;
        out[i * k + 2 * c + 1] = e2m1_values[byte >> 4] * scale;
      }
  }
  for (std::size_t i = 0; i < out.size(); ++i)
    if (!std::isfinite(out[i]))
      return make_error(status::non_finite, "weight '" + base + "' dequantises to a non-finite value at element " +
                                                std::to_string(i) + " (check its scale)",
                        f.file_offset(*w));
  return out;
}

}  // namespace detail

//! A weight source over a checkpoint with block-quantised weights; `prefix` goes in front of
//! every name asked for.
[[nodiscard]] inline weight_source dequantized_weights_from(const safetensors_file& file, std::string prefix = {}) {
  return [&file, prefix = std::move(prefix)](const std::string& name, const std::vector<index_t>& shape) {
    return detail::read_dequantized(file, prefix + name, shape);
  };
}

//! The same over a sharded checkpoint. A block-quantised weight's scale must sit in the same
//! shard (it does in DeepSeek's files); otherwise the read is refused rather than guessed.
[[nodiscard]] inline weight_source dequantized_weights_from(const checkpoint& ckpt, std::string prefix = {}) {
  return [&ckpt, prefix = std::move(prefix)](const std::string& name, const std::vector<index_t>& shape) -> result<std::vector<float>> {
    const std::string full = prefix + name, base = detail::split_slice(full).first;
    auto shard = detail::shard_of_weight(ckpt, base);
    if (!shard) return shard.err();
    const safetensors_file* scales = ckpt.shard_of(detail::scale_name_of(base));
    if (scales != nullptr && scales != *shard)
      return make_error(status::not_supported, "weight '" + base + "' is in " + ckpt.shard_name(*shard) + " but its scale is in " +
                                                   ckpt.shard_name(scales));
    return detail::read_dequantized(**shard, full, shape);
  };
}

VPRIM_NAMESPACE_END

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

#include <algorithm>
#include <array>
#include <cstring>
#include <optional>
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

//! A block-quantised weight found in a file: its codes and scales entries, checked against the
//! shape the loader expects.
struct quantized_entries {
  quantized_tensor::format fmt;
  const tensor_entry* codes;
  const tensor_entry* scales;
};

//! `name` (a 2-D weight the loader expects as `shape`) if the file stores it FP8 or MXFP4 with its
//! `.scale`; nullopt if it is stored otherwise. Errors name the tensor and the shapes involved.
inline result<std::optional<quantized_entries>> find_quantized(const safetensors_file& f, const std::string& name,
                                                               const std::vector<index_t>& shape) {
  const auto [base, slice] = split_slice(name);
  const tensor_entry* w = f.find(base);
  const tensor_entry* s = f.find(scale_name_of(base));
  const bool fp8 = w != nullptr && s != nullptr && w->type == dtype::f8_e4m3;
  const bool fp4 = w != nullptr && s != nullptr && (w->type == dtype::i8 || w->type == dtype::u8);
  if (!fp8 && !fp4) return std::optional<quantized_entries>{};
  if (slice >= 0 || shape.size() != 2)
    return make_error(status::not_supported, "weight '" + base + "' is block-quantised: it can be read whole as a 2-D matrix only");
  if (fp8) {
    if (w->shape != shape)
      return make_error(status::shape_mismatch, "weight '" + base + "' has shape " + w->shape_string() + ", expected " +
                                                    shape_string(shape),
                        f.file_offset(*w));
    const std::vector<index_t> blocks{(shape[0] + 127) / 128, (shape[1] + 127) / 128};
    if (s->shape != blocks)
      return make_error(status::shape_mismatch, "scale '" + s->name + "' of '" + base + "' has shape " + s->shape_string() +
                                                    ", expected " + shape_string(blocks),
                        f.file_offset(*s));
    return std::optional<quantized_entries>{{quantized_tensor::format::fp8_block128, w, s}};
  }
  if (shape[1] % 32 != 0 || w->shape != std::vector<index_t>{shape[0], shape[1] / 2})
    return make_error(status::shape_mismatch, "MXFP4 weight '" + base + "' has shape " + w->shape_string() + ", expected " +
                                                  shape_string({shape[0], shape[1] / 2}) + " (two values per byte; " +
                                                  std::to_string(shape[1]) + " inputs must be a multiple of 32)",
                      f.file_offset(*w));
  if (s->shape != std::vector<index_t>{shape[0], shape[1] / 32})
    return make_error(status::shape_mismatch, "scale '" + s->name + "' of '" + base + "' has shape " + s->shape_string() +
                                                  ", expected " + shape_string({shape[0], shape[1] / 32}),
                      f.file_offset(*s));
  return std::optional<quantized_entries>{{quantized_tensor::format::mxfp4, w, s}};
}

inline result<std::vector<float>> read_dequantized(const safetensors_file& f, const std::string& name,
                                                   const std::vector<index_t>& shape) {
  auto found = find_quantized(f, name, shape);
  if (!found) return found.err();
  if (!*found) return read_weight(f, name, shape);
  const tensor_entry* w = (*found)->codes;
  const tensor_entry* s = (*found)->scales;
  const std::string& base = w->name;
  const auto n = static_cast<std::size_t>(shape[0]), k = static_cast<std::size_t>(shape[1]);
  const auto raw = f.bytes(*w);
  auto sc = f.to_f32(s->name);
  if (!sc) return sc.err();
  std::vector<float> out = large_vector<float>(n * k);
  if ((*found)->fmt == quantized_tensor::format::fp8_block128) {
    const std::size_t bk = (k + 127) / 128;
    for (std::size_t i = 0; i < n; ++i)
      for (std::size_t j = 0; j < k; ++j)
        out[i * k + j] = e4m3_bits_to_float(static_cast<std::uint8_t>(raw[i * k + j])) * (*sc)[(i / 128) * bk + j / 128];
  } else {
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

//! The weight as shipped: its codes and E8M0 scales copied once. Scales stored F32 or BF16 (a
//! converted checkpoint) must be powers of two, which E8M0 holds exactly; a scale E8M0 cannot
//! hold (0, negative, NaN, not a power of two) is refused with its index.
inline result<std::optional<quantized_tensor>> read_quantized(const safetensors_file& f, const std::string& name,
                                                              const std::vector<index_t>& shape) {
  auto found = find_quantized(f, name, shape);
  if (!found) return found.err();
  if (!*found) return std::optional<quantized_tensor>{};
  const tensor_entry* w = (*found)->codes;
  const tensor_entry* s = (*found)->scales;
  quantized_tensor t;
  t.fmt = (*found)->fmt;
  t.n = static_cast<std::size_t>(shape[0]);
  t.k = static_cast<std::size_t>(shape[1]);
  const auto codes = f.bytes(*w);
  t.codes.resize(codes.size());
  std::memcpy(t.codes.data(), codes.data(), codes.size());
  if (s->type == dtype::f8_e8m0) {
    const auto scales = f.bytes(*s);
    t.scales.resize(scales.size());
    std::memcpy(t.scales.data(), scales.data(), scales.size());
  } else {
    auto values = f.to_f32(s->name);
    if (!values) return values.err();
    t.scales.resize(values->size());
    for (std::size_t i = 0; i < values->size(); ++i) {
      const std::uint8_t code = float_to_e8m0_bits((*values)[i]);
      if (code == 0xFFu || (*values)[i] <= 0.0f || e8m0_bits_to_float(code) != (*values)[i])
        return make_error(status::invalid_argument, "scale '" + s->name + "' element " + std::to_string(i) + " (" +
                                                        std::to_string((*values)[i]) + ") is not a power of two an E8M0 scale holds",
                          f.file_offset(*s));
      t.scales[i] = code;
    }
  }
  if (std::find(t.scales.begin(), t.scales.end(), std::uint8_t{0xFF}) != t.scales.end())
    return make_error(status::non_finite, "scale '" + s->name + "' holds the E8M0 NaN code 0xFF", f.file_offset(*s));
  return std::optional<quantized_tensor>(std::move(t));
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

//! How the low-bit GEMMs round a Linear's activations: to bf16 (vprim's default: closer to the
//! widened model), or per 128 values to e4m3 with an E8M0 scale, the reference's `act_quant`.
enum class lowbit_activations : std::uint8_t { bfloat16, e4m3_per_128 };

//! A weight source over a sharded checkpoint that keeps its FP8 and MXFP4 weights as shipped
//! (linear_layer runs them with the low-bit GEMMs, never widened, their activations rounded as
//! `activations` says); every other tensor is read as stored. Resident weight bytes then equal
//! the checkpoint's, up to the fp32 widening of its small unquantised tensors.
[[nodiscard]] inline weight_source shipped_weights_from(const checkpoint& ckpt, std::string prefix = {},
                                                        lowbit_activations activations = lowbit_activations::bfloat16) {
  auto values = dequantized_weights_from(ckpt, prefix);
  return weight_source(
      [values](const std::string& name, const std::vector<index_t>& shape) { return values(name, shape); },
      [&ckpt, prefix = std::move(prefix), activations](const std::string& name,
                                                       const std::vector<index_t>& shape) -> result<std::optional<quantized_tensor>> {
        const std::string full = prefix + name, base = detail::split_slice(full).first;
        auto shard = detail::shard_of_weight(ckpt, base);
        if (!shard) return shard.err();
        const safetensors_file* scales = ckpt.shard_of(detail::scale_name_of(base));
        if (scales != nullptr && scales != *shard)
          return make_error(status::not_supported, "weight '" + base + "' is in " + ckpt.shard_name(*shard) +
                                                       " but its scale is in " + ckpt.shard_name(scales));
        auto t = detail::read_quantized(**shard, full, shape);
        if (t && *t) (*t)->e4m3_activations = activations == lowbit_activations::e4m3_per_128;
        return t;
      });
}

VPRIM_NAMESPACE_END

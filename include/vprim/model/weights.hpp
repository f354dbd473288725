// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file weights.hpp
//! Where model weights come from, and the Linear layer built from them. A weight_source
//! returns a tensor by name given the shape the config implies; errors name the tensor. A
//! checkpoint file is one source (weights_from()); random weights for timing are another.

#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vprim/core/executor.hpp"
#include "vprim/cpu/gemm.hpp"
#include "vprim/cpu/gemm_bf16.hpp"
#include "vprim/io/checkpoint.hpp"
#include "vprim/io/safetensors.hpp"
#include "vprim/model/precision.hpp"

VPRIM_NAMESPACE_BEGIN

using weight_source = std::function<result<std::vector<float>>(const std::string& name, const std::vector<index_t>& shape)>;

//! The name of slice k along the first dimension of a stored tensor: "name[k]". Loaders ask
//! for one expert at a time out of a packed [experts, ...] tensor this way, so a checkpoint is
//! never converted whole; the shape they pass is the slice's.
[[nodiscard]] inline std::string slice_name(const std::string& name, index_t k) { return name + "[" + std::to_string(k) + "]"; }

namespace detail {

//! Splits "name[k]" into ("name", k); plain names give (name, -1).
inline std::pair<std::string, index_t> split_slice(const std::string& name) {
  if (name.empty() || name.back() != ']') return {name, -1};
  const auto open = name.rfind('[');
  if (open == std::string::npos || open + 2 > name.size() - 1) return {name, -1};
  index_t k = 0;
  for (std::size_t i = open + 1; i + 1 < name.size(); ++i) {
    if (name[i] < '0' || name[i] > '9' || k > (index_t{1} << 40)) return {name, -1};
    k = k * 10 + (name[i] - '0');
  }
  return {name.substr(0, open), k};
}

//! Reads a float tensor (or a slice "name[k]") and checks its shape and values, naming the
//! tensor in every error.
inline result<std::vector<float>> read_weight(const safetensors_file& f, const std::string& name,
                                              const std::vector<index_t>& shape) {
  const auto [base, slice] = split_slice(name);
  const tensor_entry* e = f.find(base);
  if (e == nullptr) return make_error(status::not_found, "missing weight '" + base + "'");
  std::vector<index_t> expected = shape;
  if (slice >= 0) expected.insert(expected.begin(), e->shape.empty() ? 0 : e->shape[0]);
  if (e->shape != expected)
    return make_error(status::shape_mismatch,
                      "weight '" + base + "' has shape " + e->shape_string() + ", expected " + shape_string(expected) +
                          (slice >= 0 ? " (reading slice " + std::to_string(slice) + ")" : ""),
                      f.file_offset(*e));
  if (slice >= e->shape[0])
    return make_error(status::out_of_range, "weight '" + base + "' has " + std::to_string(e->shape[0]) +
                                                " slices, slice " + std::to_string(slice) + " was asked for",
                      f.file_offset(*e));
  std::size_t count = 1;
  for (index_t d : shape) count *= static_cast<std::size_t>(d);
  const std::size_t first = slice >= 0 ? static_cast<std::size_t>(slice) * count : 0;
  auto v = f.to_f32(base, first, count);
  if (!v) return v.err();
  for (std::size_t i = 0; i < v->size(); ++i)
    if (!std::isfinite((*v)[i]))
      return make_error(status::non_finite, "weight '" + name + "' has a non-finite value at element " + std::to_string(first + i),
                        f.file_offset(*e) + (first + i) * static_cast<std::size_t>(size_of(e->type)));
  return v;
}

}  // namespace detail

//! A weight source over a checkpoint file (which must outlive the source); `prefix` is put in
//! front of every name asked for (e.g. "weight." in the golden files).
[[nodiscard]] inline weight_source weights_from(const safetensors_file& file, std::string prefix = {}) {
  return [&file, prefix = std::move(prefix)](const std::string& name, const std::vector<index_t>& shape) {
    return detail::read_weight(file, prefix + name, shape);
  };
}

namespace detail {
//! The shard of a checkpoint that holds weight `base` (a name without its [slice]).
[[nodiscard]] inline result<const safetensors_file*> shard_of_weight(const checkpoint& ckpt, const std::string& base) {
  const safetensors_file* shard = ckpt.shard_of(base);
  if (shard == nullptr) return make_error(status::not_found, "missing weight '" + base + "'");
  return shard;
}
}  // namespace detail

//! The same over a sharded checkpoint (which must outlive the source).
[[nodiscard]] inline weight_source weights_from(const checkpoint& ckpt, std::string prefix = {}) {
  return [&ckpt, prefix = std::move(prefix)](const std::string& name, const std::vector<index_t>& shape) -> result<std::vector<float>> {
    const std::string full = prefix + name;
    auto shard = detail::shard_of_weight(ckpt, detail::split_slice(full).first);
    if (!shard) return shard.err();
    return detail::read_weight(**shard, full, shape);
  };
}


//! y[rows, n] = x[rows, k] * W^T (+ bias) (+ y), W packed for one arch at load time.
struct linear_layer {
  cpu::packed_weight w;            //!< fp32 storage
  cpu::packed_weight_bf16 w_bf16;  //!< bf16 storage (used when w is empty)
  std::vector<float> bias;         //!< empty: no bias

  //! Loads `<name>.weight` ([n, k], or `stored` when the checkpoint keeps the same numbers in
  //! another shape, like a Conv3d kernel) and, if has_bias, `<name>.bias`.
  template <class Arch>
  [[nodiscard]] static result<linear_layer> load(Arch arch, const weight_source& source, const std::string& name,
                                                 index_t n, index_t k, bool has_bias, std::vector<index_t> stored = {},
                                                 weight_precision precision = weight_precision::float32) {
    auto w = source(name + ".weight", stored.empty() ? std::vector<index_t>{n, k} : stored);
    if (!w) return w.err();
    return from_values(arch, *w, n, k, has_bias ? source(name + ".bias", {n}) : result<std::vector<float>>(std::vector<float>{}),
                       precision);
  }

  //! From row-major values already in memory (and a bias result, possibly empty).
  template <class Arch>
  [[nodiscard]] static result<linear_layer> from_values(Arch arch, const std::vector<float>& w, index_t n, index_t k,
                                                        result<std::vector<float>> bias = std::vector<float>{},
                                                        weight_precision precision = weight_precision::float32) {
    if (!bias) return bias.err();
    linear_layer l;
    const auto un = static_cast<std::size_t>(n), uk = static_cast<std::size_t>(k);
    if (precision == weight_precision::bfloat16) {
      auto packed = cpu::pack_weight_bf16(w.data(), un, uk, uk);
      if (!packed) return packed.err();
      l.w_bf16 = std::move(*packed);
    } else {
      auto packed = cpu::pack_weight(arch, w.data(), un, uk, uk);
      if (!packed) return packed.err();
      l.w = std::move(*packed);
    }
    l.bias = std::move(*bias);
    return result<linear_layer>(std::move(l));
  }

  [[nodiscard]] bool is_bf16() const noexcept { return w.empty() && w_bf16.n > 0; }
  [[nodiscard]] std::size_t out_features() const noexcept { return is_bf16() ? w_bf16.n : w.n; }
  [[nodiscard]] std::size_t in_features() const noexcept { return is_bf16() ? w_bf16.k : w.k; }

  template <class Arch, executor Exec>
  [[nodiscard]] status apply(Arch arch, const float* x, std::size_t rows, float* y, Exec& exec,
                             bool accumulate = false) const {
    const float* b = bias.empty() ? nullptr : bias.data();
    if (is_bf16()) {
      const cpu::gemm_bf16_args g{rows, x, w_bf16.k, &w_bf16, b, y, w_bf16.n, accumulate};
      return cpu::gemm_bf16(arch, g, exec);
    }
    const cpu::gemm_args g{rows, x, w.k, &w, b, y, w.n, accumulate};
    return cpu::gemm(arch, g, exec);
  }
};

VPRIM_NAMESPACE_END

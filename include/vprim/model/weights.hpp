// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file weights.hpp
//! Where model weights come from, and the Linear layer built from them. A weight_source
//! returns a tensor by name given the shape the config implies; errors name the tensor. A
//! checkpoint file is one source (weights_from()); random weights for timing are another.

#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "vprim/core/executor.hpp"
#include "vprim/cpu/gemm.hpp"
#include "vprim/io/safetensors.hpp"

VPRIM_NAMESPACE_BEGIN

using weight_source = std::function<result<std::vector<float>>(const std::string& name, const std::vector<index_t>& shape)>;

namespace detail {

//! Reads a float tensor and checks its shape and values, naming the tensor in every error.
inline result<std::vector<float>> read_weight(const safetensors_file& f, const std::string& name,
                                              const std::vector<index_t>& shape) {
  const tensor_entry* e = f.find(name);
  if (e == nullptr) return make_error(status::not_found, "missing weight '" + name + "'");
  if (e->shape != shape)
    return make_error(status::shape_mismatch,
                      "weight '" + name + "' has shape " + e->shape_string() + ", expected " + shape_string(shape),
                      f.file_offset(*e));
  auto v = f.to_f32(name);
  if (!v) return v.err();
  for (std::size_t i = 0; i < v->size(); ++i)
    if (!std::isfinite((*v)[i]))
      return make_error(status::non_finite, "weight '" + name + "' has a non-finite value at element " + std::to_string(i),
                        f.file_offset(*e) + i * static_cast<std::size_t>(size_of(e->type)));
  return v;
}

}  // namespace detail

//! A weight source over a checkpoint file (which must outlive the source).
[[nodiscard]] inline weight_source weights_from(const safetensors_file& file) {
  return [&file](const std::string& name, const std::vector<index_t>& shape) { return detail::read_weight(file, name, shape); };
}

//! y[rows, n] = x[rows, k] * W^T (+ bias) (+ y), W packed for one arch at load time.
struct linear_layer {
  cpu::packed_weight w;
  std::vector<float> bias;  //!< empty: no bias

  //! Loads `<name>.weight` ([n, k], or `stored` when the checkpoint keeps the same numbers in
  //! another shape, like a Conv3d kernel) and, if has_bias, `<name>.bias`.
  template <class Arch>
  [[nodiscard]] static result<linear_layer> load(Arch arch, const weight_source& source, const std::string& name,
                                                 index_t n, index_t k, bool has_bias, std::vector<index_t> stored = {}) {
    auto w = source(name + ".weight", stored.empty() ? std::vector<index_t>{n, k} : stored);
    if (!w) return w.err();
    return from_values(arch, *w, n, k, has_bias ? source(name + ".bias", {n}) : result<std::vector<float>>(std::vector<float>{}));
  }

  //! From row-major values already in memory (and a bias result, possibly empty).
  template <class Arch>
  [[nodiscard]] static result<linear_layer> from_values(Arch arch, const std::vector<float>& w, index_t n, index_t k,
                                                        result<std::vector<float>> bias = std::vector<float>{}) {
    if (!bias) return bias.err();
    auto packed = cpu::pack_weight(arch, w.data(), static_cast<std::size_t>(n), static_cast<std::size_t>(k),
                                   static_cast<std::size_t>(k));
    if (!packed) return packed.err();
    linear_layer l;
    l.w = std::move(*packed);
    l.bias = std::move(*bias);
    return result<linear_layer>(std::move(l));
  }

  [[nodiscard]] std::size_t out_features() const noexcept { return w.n; }
  [[nodiscard]] std::size_t in_features() const noexcept { return w.k; }

  template <class Arch, executor Exec>
  [[nodiscard]] status apply(Arch arch, const float* x, std::size_t rows, float* y, Exec& exec,
                             bool accumulate = false) const {
    const cpu::gemm_args g{rows, x, w.k, &w, bias.empty() ? nullptr : bias.data(), y, w.n, accumulate};
    return cpu::gemm(arch, g, exec);
  }
};

VPRIM_NAMESPACE_END

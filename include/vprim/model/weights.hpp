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
#include <type_traits>
#include <utility>
#include <vector>

#include "vprim/core/executor.hpp"
#include "vprim/core/workspace.hpp"
#include "vprim/cpu/linear.hpp"
#include "vprim/io/checkpoint.hpp"
#include "vprim/io/safetensors.hpp"
#include "vprim/model/precision.hpp"

VPRIM_NAMESPACE_BEGIN

//! A Linear's weight kept as a release stores it, in its own bytes (copied once, never widened):
//! FP8 e4m3 [n, k] with E8M0 scales per 128 x 128 block, or MXFP4 e2m1 pairs [n, k/2] with an
//! E8M0 scale per 32 inputs (research/release_format.md, "Quantised weights").
struct quantized_tensor {
  enum class format : std::uint8_t { fp8_block128, mxfp4 };
  format fmt = format::fp8_block128;
  std::size_t n = 0, k = 0;
  std::vector<std::uint8_t> codes, scales;
  //! Products with it round the activations per 128 to e4m3 first, as the reference does
  //! (cpu/act_quant.hpp); else to bf16.
  bool e4m3_activations = false;
  [[nodiscard]] std::size_t bytes() const noexcept { return codes.size() + scales.size(); }
};

//! Rows [first, first + count) of a low-bit weight; nullopt when the range would split FP8's
//! 128-row scale blocks (the caller then reads the values instead).
[[nodiscard]] inline std::optional<quantized_tensor> quantized_rows(const quantized_tensor& t, std::size_t first, std::size_t count) {
  if (t.n == 0 || first + count > t.n) return std::nullopt;
  const bool fp8 = t.fmt == quantized_tensor::format::fp8_block128;
  if (fp8 && (first % 128 != 0 || (count % 128 != 0 && first + count != t.n))) return std::nullopt;
  const std::size_t code_row = t.codes.size() / t.n;
  const std::size_t scale_rows = fp8 ? (t.n + 127) / 128 : t.n, scale_row = t.scales.size() / scale_rows;
  const std::size_t scale_first = fp8 ? first / 128 : first, scale_count = fp8 ? (count + 127) / 128 : count;
  quantized_tensor out{t.fmt, count, t.k, {}, {}, t.e4m3_activations};
  const auto codes = t.codes.begin() + static_cast<std::ptrdiff_t>(first * code_row);
  out.codes.assign(codes, codes + static_cast<std::ptrdiff_t>(count * code_row));
  const auto scales = t.scales.begin() + static_cast<std::ptrdiff_t>(scale_first * scale_row);
  out.scales.assign(scales, scales + static_cast<std::ptrdiff_t>(scale_count * scale_row));
  return out;
}

//! Where a model's weights come from: values by name given the shape the config implies
//! (errors name the tensor), and, from a source that keeps the release's low-bit weights as
//! shipped, those weights in their own bytes (quantized(): nullopt for a tensor stored otherwise,
//! and always from a source that widens everything). Any callable returning the values converts
//! to a source, so adapters and test sources stay plain lambdas.
class weight_source {
 public:
  using values_fn = std::function<result<std::vector<float>>(const std::string& name, const std::vector<index_t>& shape)>;
  using quantized_fn = std::function<result<std::optional<quantized_tensor>>(const std::string& name, const std::vector<index_t>& shape)>;

  weight_source() = default;
  template <class F>
    requires(!std::is_same_v<std::decay_t<F>, weight_source> && std::is_constructible_v<values_fn, F>)
  weight_source(F&& values) : values_(std::forward<F>(values)) {}  // NOLINT: implicit, as a std::function is
  weight_source(values_fn values, quantized_fn quantized) : values_(std::move(values)), quantized_(std::move(quantized)) {}

  [[nodiscard]] result<std::vector<float>> operator()(const std::string& name, const std::vector<index_t>& shape) const {
    return values_(name, shape);
  }
  //! `name`'s weight [shape] as shipped when it is stored FP8 or MXFP4 and this source keeps
  //! such weights; nullopt otherwise (read it with operator()).
  [[nodiscard]] result<std::optional<quantized_tensor>> quantized(const std::string& name, const std::vector<index_t>& shape) const {
    if (!quantized_) return std::optional<quantized_tensor>{};
    return quantized_(name, shape);
  }
  [[nodiscard]] bool keeps_quantized() const noexcept { return static_cast<bool>(quantized_); }
  explicit operator bool() const noexcept { return static_cast<bool>(values_); }

 private:
  values_fn values_;
  quantized_fn quantized_;
};

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
//! Bytes held by vectors of weights (a model's norms, biases, tables).
template <class... V>
[[nodiscard]] std::size_t vector_bytes(const V&... v) noexcept {
  return (std::size_t{0} + ... + (v.size() * sizeof(typename V::value_type)));
}

struct linear_layer {
  cpu::packed_weight w;            //!< fp32 storage
  cpu::packed_weight_bf16 w_bf16;  //!< bf16 storage (used when w is empty)
  std::optional<quantized_tensor> q;  //!< FP8 / MXFP4 as shipped (used when set)
  std::vector<float> bias;         //!< empty: no bias

  //! Loads `<name>.weight` ([n, k], or `stored` when the checkpoint keeps the same numbers in
  //! another shape, like a Conv3d kernel) and, if has_bias, `<name>.bias`.
  //! A source that keeps low-bit weights as shipped gives an FP8 or MXFP4 `<name>.weight` in its
  //! own bytes (used in place by the low-bit GEMMs; `precision` does not apply to it).
  template <class Arch>
  [[nodiscard]] static result<linear_layer> load(Arch arch, const weight_source& source, const std::string& name,
                                                 index_t n, index_t k, bool has_bias, std::vector<index_t> stored = {},
                                                 weight_precision precision = weight_precision::float32) {
    if (stored.empty()) {
      auto shipped = source.quantized(name + ".weight", {n, k});
      if (!shipped) return shipped.err();
      if (*shipped)
        return from_quantized(std::move(**shipped), has_bias ? source(name + ".bias", {n}) : result<std::vector<float>>(std::vector<float>{}));
    }
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

  //! From a low-bit weight as shipped (and a bias result, possibly empty).
  [[nodiscard]] static result<linear_layer> from_quantized(quantized_tensor t, result<std::vector<float>> bias = std::vector<float>{}) {
    if (!bias) return bias.err();
    linear_layer l;
    l.q = std::move(t);
    l.bias = std::move(*bias);
    return result<linear_layer>(std::move(l));
  }

  [[nodiscard]] bool is_quantized() const noexcept { return q.has_value(); }
  [[nodiscard]] bool is_bf16() const noexcept { return !q && w.empty() && w_bf16.n > 0; }
  [[nodiscard]] std::size_t out_features() const noexcept { return q ? q->n : is_bf16() ? w_bf16.n : w.n; }
  [[nodiscard]] std::size_t in_features() const noexcept { return q ? q->k : is_bf16() ? w_bf16.k : w.k; }
  //! Bytes the layer holds: its weight in whatever form it keeps, and its bias.
  [[nodiscard]] std::size_t resident_bytes() const noexcept {
    const std::size_t weight = q ? q->bytes() : is_bf16() ? w_bf16.data.size() * 2 : w.data.size() * sizeof(float);
    return weight + bias.size() * sizeof(float);
  }

  //! The weight and bias as the CPU kernels take them (valid while the layer lives, unmoved).
  [[nodiscard]] cpu::linear_view view() const noexcept {
    cpu::linear_view v;
    v.bias = bias.empty() ? nullptr : bias.data();
    if (q) {
      v.e4m3_activations = q->e4m3_activations;
      if (q->fmt == quantized_tensor::format::fp8_block128)
        v.fp8 = {q->codes.data(), q->scales.data(), q->n, q->k};
      else
        v.mxfp4 = {q->codes.data(), q->scales.data(), q->n, q->k};
    } else if (is_bf16()) {
      v.bf16 = &w_bf16;
    } else {
      v.f32 = &w;
    }
    return v;
  }

  //! Scratch bytes apply() takes from its arena for `rows` rows (A as bf16 for a low-bit
  //! weight, a bf16 weight's skinny operand).
  [[nodiscard]] std::size_t scratch_bytes(std::size_t rows) const noexcept { return cpu::linear_scratch_bytes(view(), rows); }

  template <class Arch, executor Exec>
  [[nodiscard]] status apply(Arch arch, const float* x, std::size_t rows, float* y, Exec& exec,
                             bool accumulate = false) const {
    return cpu::linear(arch, view(), x, rows, y, exec, nullptr, accumulate);
  }
  //! The same with its scratch (scratch_bytes) from `ws`: a decode-sized call allocates nothing.
  template <class Arch, executor Exec>
  [[nodiscard]] status apply(Arch arch, const float* x, std::size_t rows, float* y, Exec& exec, workspace_arena& ws,
                             bool accumulate = false) const {
    return cpu::linear(arch, view(), x, rows, y, exec, &ws, accumulate);
  }
};

VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file tensor_view.hpp
//! Non-owning strided views. The rank is a template parameter; each extent is either a
//! compile-time constant or `vprim::dynamic`, as in std::mdspan. Indices and strides are signed
//! 64-bit and counted in elements.

#include <array>
#include <cstdint>
#include <type_traits>

#include "vprim/core/dynamic.hpp"
#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN

using index_t = std::int64_t;

//! Extents of a rank-sizeof...(E) tensor; each E is a non-negative constant or vprim::dynamic.
template <index_t... E>
class extents {
 public:
  static constexpr std::size_t rank = sizeof...(E);
  static constexpr std::array<index_t, rank> static_values{E...};
  static_assert(((E >= 0 || E == dynamic) && ...), "vprim::extents: an extent must be >= 0 or vprim::dynamic");

  //! Static extents are filled in; dynamic ones start at 0.
  constexpr extents() noexcept {
    for (std::size_t i = 0; i < rank; ++i) values_[i] = is_dynamic(static_values[i]) ? 0 : static_values[i];
  }

  //! One value per dimension. A value that disagrees with a static extent is recorded and
  //! reported by `check()` (constructors cannot return a status).
  template <class... I>
    requires(sizeof...(I) == rank && (std::is_integral_v<I> && ...))
  constexpr explicit extents(I... values) noexcept : values_{static_cast<index_t>(values)...} {}

  constexpr explicit extents(const std::array<index_t, rank>& values) noexcept : values_(values) {}

  [[nodiscard]] static constexpr index_t static_extent(std::size_t i) noexcept { return static_values[i]; }
  [[nodiscard]] constexpr index_t extent(std::size_t i) const noexcept {
    return is_dynamic(static_values[i]) ? values_[i] : static_values[i];
  }
  [[nodiscard]] constexpr index_t size() const noexcept {
    index_t n = 1;
    for (std::size_t i = 0; i < rank; ++i) n *= extent(i);
    return n;
  }
  //! ok, or shape_mismatch when a runtime value contradicts a static extent or is negative.
  [[nodiscard]] constexpr status check() const noexcept {
    for (std::size_t i = 0; i < rank; ++i) {
      if (values_[i] < 0) return status::shape_mismatch;
      if (!is_dynamic(static_values[i]) && values_[i] != static_values[i]) return status::shape_mismatch;
    }
    return status::ok;
  }
  [[nodiscard]] constexpr const std::array<index_t, rank>& values() const noexcept { return values_; }

 private:
  std::array<index_t, rank> values_{};
};

//! All-dynamic extents of rank R.
namespace detail {
template <std::size_t R, class Seq = std::make_index_sequence<R>>
struct dextents_impl;
template <std::size_t R, std::size_t... I>
struct dextents_impl<R, std::index_sequence<I...>> {
  using type = extents<((void)I, index_t{dynamic})...>;
};
}  // namespace detail
template <std::size_t R>
using dextents = typename detail::dextents_impl<R>::type;

//! A strided view of T. Row-major contiguous unless strides are given.
template <class T, class Extents>
class tensor_view {
 public:
  using element_type = T;
  using extents_type = Extents;
  static constexpr std::size_t rank = Extents::rank;

  constexpr tensor_view() noexcept = default;

  //! Row-major contiguous view.
  constexpr tensor_view(T* data, Extents ext) noexcept : data_(data), ext_(ext) {
    index_t s = 1;
    for (std::size_t i = rank; i-- > 0;) {
      strides_[i] = s;
      s *= ext_.extent(i);
    }
  }
  constexpr tensor_view(T* data, Extents ext, const std::array<index_t, rank>& strides) noexcept
      : data_(data), ext_(ext), strides_(strides) {}

  //! A view of const T from a view of T.
  template <class U>
    requires(std::is_same_v<const U, T> && !std::is_same_v<U, T>)
  constexpr tensor_view(const tensor_view<U, Extents>& other) noexcept  // NOLINT: implicit like span
      : data_(other.data()), ext_(other.extents_()), strides_(other.strides()) {}

  [[nodiscard]] constexpr T* data() const noexcept { return data_; }
  [[nodiscard]] constexpr const Extents& extents_() const noexcept { return ext_; }
  [[nodiscard]] constexpr index_t extent(std::size_t i) const noexcept { return ext_.extent(i); }
  [[nodiscard]] constexpr index_t stride(std::size_t i) const noexcept { return strides_[i]; }
  [[nodiscard]] constexpr const std::array<index_t, rank>& strides() const noexcept { return strides_; }
  [[nodiscard]] constexpr index_t size() const noexcept { return ext_.size(); }
  [[nodiscard]] constexpr bool empty() const noexcept { return size() == 0; }

  //! True when the elements are dense and row-major.
  [[nodiscard]] constexpr bool is_contiguous() const noexcept {
    index_t s = 1;
    for (std::size_t i = rank; i-- > 0;) {
      if (ext_.extent(i) != 1 && strides_[i] != s) return false;
      s *= ext_.extent(i);
    }
    return true;
  }

  template <class... I>
    requires(sizeof...(I) == rank && (std::is_integral_v<I> && ...))
  [[nodiscard]] constexpr T& operator()(I... idx) const noexcept {
    const std::array<index_t, rank> at{static_cast<index_t>(idx)...};
    index_t off = 0;
    for (std::size_t i = 0; i < rank; ++i) {
      VPRIM_ASSERT(at[i] >= 0 && at[i] < ext_.extent(i));
      off += at[i] * strides_[i];
    }
    return data_[off];
  }

  //! Pointer to the first element of row `i` of a rank-2 view.
  [[nodiscard]] constexpr T* row(index_t i) const noexcept
    requires(rank == 2)
  {
    return data_ + i * strides_[0];
  }

 private:
  T* data_ = nullptr;
  Extents ext_{};
  std::array<index_t, rank> strides_{};
};

//! Views with every extent dynamic.
template <class T, std::size_t R>
using dview = tensor_view<T, dextents<R>>;

//! make_view(ptr, rows, cols): a contiguous all-dynamic view.
template <class T, class... I>
  requires(std::is_integral_v<I> && ...)
[[nodiscard]] constexpr dview<T, sizeof...(I)> make_view(T* data, I... ext) noexcept {
  return dview<T, sizeof...(I)>(data, dextents<sizeof...(I)>(ext...));
}

//! Shape check with a message, for can_implement() functions.
template <class T, class Extents>
[[nodiscard]] inline status check_view(const tensor_view<T, Extents>& v) noexcept {
  if (v.extents_().check() != status::ok) return status::shape_mismatch;
  if (v.data() == nullptr && v.size() != 0) return status::invalid_argument;
  return status::ok;
}

VPRIM_NAMESPACE_END

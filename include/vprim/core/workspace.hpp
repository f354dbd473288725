// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file workspace.hpp
//! Caller-owned scratch memory, handed out by a bump arena: the two-phase protocol of CUTLASS
//! (ask `workspace_size`, allocate once, pass the bytes in) for code that needs many buffers.
//! A call that needs more than it was given fails with out_of_memory; it never allocates.
//! Frames give back what a step took, so a layer's scratch is reused by the next layer.

#include <cstddef>
#include <cstdint>
#include <new>
#include <span>
#include <vector>

#include "vprim/core/status.hpp"

VPRIM_NAMESPACE_BEGIN

class workspace_arena {
 public:
  static constexpr std::size_t alignment = 64;

  workspace_arena() = default;
  explicit workspace_arena(std::span<std::byte> memory) noexcept : memory_(memory) {}

  //! n objects of trivial type T, 64 bytes apart from the memory's start (so 64-byte aligned
  //! when the memory is: workspace_memory), uninitialised; nullptr (and exhausted()) when the
  //! memory is too small. n == 0 gives a non-null pointer that must not be read.
  template <class T>
  [[nodiscard]] T* take(std::size_t n) noexcept {
    const std::size_t start = round_up(used_);
    const std::size_t bytes = round_up(n * sizeof(T));
    if (start > memory_.size() || bytes > memory_.size() - start) {
      short_by_ = start + bytes - memory_.size();
      return nullptr;
    }
    used_ = start + bytes;
    peak_ = used_ > peak_ ? used_ : peak_;
    return reinterpret_cast<T*>(memory_.data() + start);
  }

  [[nodiscard]] bool exhausted() const noexcept { return short_by_ != 0; }
  //! Bytes the largest failed request lacked (0: none failed).
  [[nodiscard]] std::size_t short_by() const noexcept { return short_by_; }
  [[nodiscard]] std::size_t used() const noexcept { return used_; }
  [[nodiscard]] std::size_t peak() const noexcept { return peak_; }
  [[nodiscard]] std::size_t capacity() const noexcept { return memory_.size(); }

  //! Gives back, when it ends, everything taken since it began.
  class frame {
   public:
    explicit frame(workspace_arena& a) noexcept : arena_(a), mark_(a.used_) {}
    ~frame() { arena_.used_ = mark_; }
    frame(const frame&) = delete;
    frame& operator=(const frame&) = delete;

   private:
    workspace_arena& arena_;
    std::size_t mark_;
  };

  [[nodiscard]] static constexpr std::size_t round_up(std::size_t bytes) noexcept {
    return (bytes + alignment - 1) / alignment * alignment;
  }

 private:
  std::span<std::byte> memory_;
  std::size_t used_ = 0, peak_ = 0, short_by_ = 0;
};

//! Allocates 64-byte-aligned storage: on memory from plain new or malloc (16-byte aligned) every
//! take() of an arena would straddle cache lines, and the AVX-512 kernels run up to 1.6x slower.
template <class T>
struct cache_line_allocator {
  using value_type = T;
  cache_line_allocator() = default;
  template <class U>
  constexpr cache_line_allocator(const cache_line_allocator<U>&) noexcept {}  // NOLINT: allocator rebinding
  [[nodiscard]] T* allocate(std::size_t n) {
    return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{workspace_arena::alignment}));
  }
  void deallocate(T* p, std::size_t) noexcept { ::operator delete(p, std::align_val_t{workspace_arena::alignment}); }
  template <class U>
  constexpr bool operator==(const cache_line_allocator<U>&) const noexcept { return true; }
};

//! Memory to hand a workspace_arena: its takes are then 64-byte aligned in address.
using workspace_memory = std::vector<std::byte, cache_line_allocator<std::byte>>;

//! Adds up the bytes of the buffers a step will take from an arena (each rounded as take() does).
struct workspace_size {
  std::size_t bytes = 0;
  template <class T>
  constexpr workspace_size& add(std::size_t n) noexcept {
    bytes += workspace_arena::round_up(n * sizeof(T));
    return *this;
  }
  constexpr workspace_size& add(const workspace_size& other) noexcept {
    bytes += other.bytes;
    return *this;
  }
};

VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file status.hpp
//! The error model: every kernel returns a status; functions that produce a value return a
//! result<T> holding either the value or an error that says what was wrong and where.

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "vprim/core/config.hpp"

VPRIM_NAMESPACE_BEGIN

//! Outcome of a kernel or of a parser. `ok` is the only success value.
enum class status : int {
  ok = 0,
  invalid_argument,  //!< a value outside its documented domain
  shape_mismatch,    //!< extents that do not agree with each other or with a policy
  dtype_mismatch,    //!< a tensor of the wrong element type
  misaligned,        //!< a pointer or stride that breaks the kernel's alignment contract
  not_supported,     //!< a valid value the dispatcher has no instantiation for
  out_of_range,      //!< an index, offset or size past the end of its container
  parse_error,       //!< malformed text or bytes (JSON, safetensors, primitive syntax)
  io_error,          //!< a file that could not be opened or read
  non_finite,        //!< NaN or Inf where finite values are required
  out_of_memory,     //!< an allocation failed
  not_found,         //!< a named entity (tensor, metadata key) is absent
};

//! A stable, lower-case name for a status, for logs and test output.
[[nodiscard]] constexpr std::string_view to_string(status s) noexcept {
  switch (s) {
    case status::ok: return "ok";
    case status::invalid_argument: return "invalid_argument";
    case status::shape_mismatch: return "shape_mismatch";
    case status::dtype_mismatch: return "dtype_mismatch";
    case status::misaligned: return "misaligned";
    case status::not_supported: return "not_supported";
    case status::out_of_range: return "out_of_range";
    case status::parse_error: return "parse_error";
    case status::io_error: return "io_error";
    case status::non_finite: return "non_finite";
    case status::out_of_memory: return "out_of_memory";
    case status::not_found: return "not_found";
  }
  return "unknown_status";
}

//! A failed operation: the status class, a human-readable message, and (for byte or token
//! streams) the offset where the problem was found.
struct error {
  static constexpr std::size_t no_offset = static_cast<std::size_t>(-1);

  status code = status::invalid_argument;
  std::string message;
  std::size_t offset = no_offset;

  //! "parse_error at byte 17: expected ':' after object key"
  [[nodiscard]] std::string describe() const {
    std::string out(to_string(code));
    if (offset != no_offset) out += " at byte " + std::to_string(offset);
    out += ": ";
    out += message;
    return out;
  }
};

[[nodiscard]] inline error make_error(status code, std::string message,
                                      std::size_t offset = error::no_offset) {
  return error{code, std::move(message), offset};
}

//! Either a T or an error (std::expected is C++23; this is the subset we need).
template <class T>
class [[nodiscard]] result {
 public:
  result(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit by design
  result(error e) : state_(std::in_place_index<1>, std::move(e)) {}      // NOLINT

  [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
  explicit operator bool() const noexcept { return has_value(); }

  [[nodiscard]] T& value() & { return std::get<0>(state_); }
  [[nodiscard]] const T& value() const& { return std::get<0>(state_); }
  [[nodiscard]] T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &std::get<0>(state_); }
  const T* operator->() const { return &std::get<0>(state_); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

  [[nodiscard]] const error& err() const& { return std::get<1>(state_); }
  [[nodiscard]] status code() const noexcept {
    return has_value() ? status::ok : std::get<1>(state_).code;
  }

 private:
  std::variant<T, error> state_;
};

VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file safetensors.hpp
//! Reading and writing safetensors files: 8-byte little-endian header length N, N bytes of JSON
//! ({name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}}), then the
//! data section. The reader validates everything before any tensor is touched: each problem
//! is reported with the file offset where it was found and what was expected. Offsets must tile
//! the data section exactly (no overlap, no gap, no trailing bytes), as the reference
//! implementation requires.

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#define VPRIM_SAFETENSORS_MMAP 1
#else
#define VPRIM_SAFETENSORS_MMAP 0
#endif

#include "vprim/core/aligned_buffer.hpp"
#include "vprim/core/dtype.hpp"
#include "vprim/core/tensor_view.hpp"
#include "vprim/io/json.hpp"

VPRIM_NAMESPACE_BEGIN

//! Largest header accepted (the reference implementation's limit).
inline constexpr std::uint64_t safetensors_max_header = 100u * 1000u * 1000u;

//! "[2,3,4]"
[[nodiscard]] inline std::string shape_string(const std::vector<index_t>& shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(shape[i]);
  }
  s += ']';
  return s;
}

//! One tensor's description; begin/end are byte offsets into the data section.
struct tensor_entry {
  std::string name;
  dtype type = dtype::f32;
  std::vector<index_t> shape;
  std::size_t begin = 0;
  std::size_t end = 0;

  [[nodiscard]] index_t numel() const noexcept {
    index_t n = 1;
    for (index_t e : shape) n *= e;
    return n;
  }
  [[nodiscard]] std::string shape_string() const { return vprim::shape_string(shape); }
};

//! A parsed safetensors file that keeps its bytes alive: an aligned copy, or (open() on
//! POSIX) a read-only mapping of the file, so that a checkpoint of any size costs address space,
//! not memory, until its tensors are read. Views into it stay valid while the object lives.
class safetensors_file {
 public:
  //! Parses a copy of `bytes`.
  [[nodiscard]] static result<safetensors_file> parse(std::span<const std::byte> bytes);
  //! Parses bytes already held in an aligned buffer (no copy).
  [[nodiscard]] static result<safetensors_file> parse(aligned_buffer<std::byte> bytes);
  //! Parses bytes kept alive by `owner` (no copy).
  [[nodiscard]] static result<safetensors_file> parse(std::span<const std::byte> bytes, std::shared_ptr<const void> owner);
  //! Maps (or, where mapping is unavailable, reads) and parses a file.
  [[nodiscard]] static result<safetensors_file> open(const std::string& path);

  [[nodiscard]] const std::vector<tensor_entry>& tensors() const noexcept { return entries_; }
  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& metadata() const noexcept { return metadata_; }
  [[nodiscard]] std::optional<std::string_view> meta(std::string_view key) const noexcept {
    for (const auto& kv : metadata_)
      if (kv.first == key) return std::string_view(kv.second);
    return std::nullopt;
  }
  [[nodiscard]] const tensor_entry* find(std::string_view name) const noexcept {
    for (const auto& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  }
  //! Raw bytes of a tensor.
  [[nodiscard]] std::span<const std::byte> bytes(const tensor_entry& e) const noexcept {
    return {bytes_.data() + data_start_ + e.begin, e.end - e.begin};
  }
  //! File offset of a tensor's first byte (for error messages).
  [[nodiscard]] std::size_t file_offset(const tensor_entry& e) const noexcept { return data_start_ + e.begin; }

  //! A tensor converted to float (from F64, F32, F16, BF16 or F8_E4M3).
  [[nodiscard]] result<std::vector<float>> to_f32(std::string_view name) const;
  //! Elements [first, first + count) of a tensor (flat, row-major), converted to float.
  [[nodiscard]] result<std::vector<float>> to_f32(std::string_view name, std::size_t first, std::size_t count) const;
  //! A tensor converted to int64 (from any integer or bool dtype).
  [[nodiscard]] result<std::vector<std::int64_t>> to_i64(std::string_view name) const;

  //! A zero-copy typed view of rank R: the dtype and rank must match exactly and the data
  //! must be aligned for T.
  template <class T, std::size_t R>
  [[nodiscard]] result<dview<const T, R>> view(std::string_view name) const;

 private:
  error missing(std::string_view name) const {
    return make_error(status::not_found, "no tensor named '" + std::string(name) + "'");
  }
  std::shared_ptr<const void> owner_;  //!< keeps bytes_ alive
  std::span<const std::byte> bytes_;
  std::size_t data_start_ = 0;
  std::vector<tensor_entry> entries_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

namespace detail {

inline error st_error(std::size_t offset, std::string message) {
  return make_error(status::parse_error, "safetensors: " + std::move(message), offset);
}

//! Validates one header entry and appends it to `out`.
inline std::optional<error> read_entry(const std::string& name, const json_value& v, std::size_t data_size,
                                       std::vector<tensor_entry>& out) {
  const std::string where = "tensor '" + name + "': ";
  if (!v.is_object()) return st_error(v.offset(), where + "entry must be an object");
  const json_value* jd = v.find("dtype");
  const json_value* js = v.find("shape");
  const json_value* jo = v.find("data_offsets");
  if (jd == nullptr || js == nullptr || jo == nullptr)
    return st_error(v.offset(), where + "entry needs 'dtype', 'shape' and 'data_offsets'");
  for (const auto& m : v.members())
    if (m.first != "dtype" && m.first != "shape" && m.first != "data_offsets")
      return st_error(m.second.offset(), where + "unexpected field '" + m.first + "'");
  tensor_entry e;
  e.name = name;
  if (!jd->is_string()) return st_error(jd->offset(), where + "dtype must be a string");
  const auto t = parse_dtype(jd->as_string());
  if (!t) return st_error(jd->offset(), where + "unknown dtype '" + jd->as_string() + "'");
  e.type = *t;
  if (!js->is_array()) return st_error(js->offset(), where + "shape must be an array");
  std::uint64_t numel = 1;
  bool overflow = false;
  for (const auto& d : js->items()) {
    const auto n = d.as_int();
    if (!n || *n < 0) return st_error(d.offset(), where + "shape entries must be non-negative integers");
    e.shape.push_back(*n);
    if (*n != 0 && numel > std::numeric_limits<std::uint64_t>::max() / static_cast<std::uint64_t>(*n))
      overflow = true;
    else
      numel *= static_cast<std::uint64_t>(*n);
  }
  if (!jo->is_array() || jo->items().size() != 2)
    return st_error(jo->offset(), where + "data_offsets must be [begin, end]");
  const auto b = jo->items()[0].as_int();
  const auto en = jo->items()[1].as_int();
  if (!b || !en || *b < 0 || *en < 0) return st_error(jo->offset(), where + "data_offsets must be non-negative integers");
  if (*b > *en) return st_error(jo->offset(), where + "data_offsets begin " + std::to_string(*b) + " > end " + std::to_string(*en));
  if (static_cast<std::uint64_t>(*en) > data_size)
    return st_error(jo->offset(), where + "data_offsets end " + std::to_string(*en) + " is past the data section (" +
                                      std::to_string(data_size) + " bytes)");
  e.begin = static_cast<std::size_t>(*b);
  e.end = static_cast<std::size_t>(*en);
  const auto esize = static_cast<std::uint64_t>(size_of(e.type));
  if (overflow || numel > std::numeric_limits<std::uint64_t>::max() / esize)
    return st_error(js->offset(), where + "shape " + e.shape_string() + " overflows");
  if (numel * esize != e.end - e.begin)
    return st_error(jo->offset(), where + "shape " + e.shape_string() + " of " + std::string(to_string(e.type)) +
                                      " needs " + std::to_string(numel * esize) + " bytes but data_offsets span " +
                                      std::to_string(e.end - e.begin));
  out.push_back(std::move(e));
  return std::nullopt;
}

}  // namespace detail

inline result<safetensors_file> safetensors_file::parse(std::span<const std::byte> bytes) {
  auto buf = aligned_buffer<std::byte>::allocate(bytes.size());
  if (!buf) return buf.err();
  if (!bytes.empty()) std::memcpy(buf->data(), bytes.data(), bytes.size());
  return parse(std::move(*buf));
}

inline result<safetensors_file> safetensors_file::parse(aligned_buffer<std::byte> owned) {
  const std::span<const std::byte> bytes = owned.span();
  return parse(bytes, std::make_shared<const aligned_buffer<std::byte>>(std::move(owned)));
}

inline result<safetensors_file> safetensors_file::parse(std::span<const std::byte> bytes, std::shared_ptr<const void> owner) {
  using detail::st_error;
  if (bytes.size() < 8)
    return st_error(0, "file is " + std::to_string(bytes.size()) + " bytes, shorter than the 8-byte header length");
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<std::uint64_t>(bytes[static_cast<std::size_t>(i)]);
  if (n > safetensors_max_header)
    return st_error(0, "header length " + std::to_string(n) + " exceeds the " + std::to_string(safetensors_max_header) + "-byte limit");
  if (n > bytes.size() - 8)
    return st_error(0, "header length " + std::to_string(n) + " runs past the end of the file (" +
                           std::to_string(bytes.size()) + " bytes)");
  if (n < 2) return st_error(8, "header of " + std::to_string(n) + " bytes cannot hold a JSON object");

  safetensors_file f;
  f.owner_ = std::move(owner);
  f.bytes_ = bytes;
  f.data_start_ = 8 + static_cast<std::size_t>(n);
  const std::size_t data_size = bytes.size() - f.data_start_;

  const std::string_view header(reinterpret_cast<const char*>(bytes.data()) + 8, static_cast<std::size_t>(n));
  auto root = parse_json(header, 8);
  if (!root) return make_error(status::parse_error, "safetensors header: " + root.err().message, root.err().offset);
  if (!root->is_object()) return st_error(8, "header must be a JSON object");

  // Duplicate names, found in O(n log n): sort member indices by name, compare neighbours and
  // report the later occurrence.
  {
    const auto& members = root->members();
    std::vector<std::size_t> idx(members.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = i;
    std::stable_sort(idx.begin(), idx.end(), [&](std::size_t a, std::size_t b) { return members[a].first < members[b].first; });
    for (std::size_t i = 1; i < idx.size(); ++i)
      if (members[idx[i]].first == members[idx[i - 1]].first)
        return st_error(members[idx[i]].second.offset(), "duplicate name '" + members[idx[i]].first + "'");
  }
  for (const auto& [name, v] : root->members()) {
    if (name == "__metadata__") {
      if (!v.is_object()) return st_error(v.offset(), "__metadata__ must be an object of strings");
      for (const auto& [k, mv] : v.members()) {
        if (!mv.is_string()) return st_error(mv.offset(), "__metadata__ value of '" + k + "' must be a string");
        f.metadata_.emplace_back(k, mv.as_string());
      }
      auto sorted = f.metadata_;
      std::sort(sorted.begin(), sorted.end());
      for (std::size_t i = 1; i < sorted.size(); ++i)
        if (sorted[i].first == sorted[i - 1].first)
          return st_error(v.offset(), "duplicate __metadata__ key '" + sorted[i].first + "'");
      continue;
    }
    // The writer refuses an empty name, so the reader does too: what it accepts it can write back.
    if (name.empty()) return st_error(v.offset(), "a tensor has an empty name");
    if (auto e = detail::read_entry(name, v, data_size, f.entries_)) return std::move(*e);
  }

  // The entries must tile [0, data_size) exactly.
  std::vector<const tensor_entry*> order;
  order.reserve(f.entries_.size());
  for (const auto& e : f.entries_) order.push_back(&e);
  std::stable_sort(order.begin(), order.end(), [](const tensor_entry* a, const tensor_entry* b) {
    return a->begin != b->begin ? a->begin < b->begin : a->end < b->end;
  });
  std::size_t expected = 0;
  const tensor_entry* prev = nullptr;
  for (const tensor_entry* e : order) {
    if (e->begin < expected)
      return st_error(f.data_start_ + e->begin, "tensor '" + e->name + "' bytes [" + std::to_string(e->begin) + "," +
                                                    std::to_string(e->end) + ") overlap tensor '" + prev->name + "'");
    if (e->begin > expected)
      return st_error(f.data_start_ + expected, "gap of " + std::to_string(e->begin - expected) +
                                                    " unused bytes before tensor '" + e->name + "'");
    expected = e->end;
    prev = e;
  }
  if (expected != data_size)
    return st_error(f.data_start_ + expected, std::to_string(data_size - expected) +
                                                  " trailing bytes after the last tensor");
  return result<safetensors_file>(std::move(f));
}

namespace detail {
//! The whole file in an aligned buffer (where it cannot be mapped).
inline result<aligned_buffer<std::byte>> read_whole_file(const std::string& path) {
  std::FILE* fp = std::fopen(path.c_str(), "rb");
  if (fp == nullptr) return make_error(status::io_error, "cannot open '" + path + "': " + std::strerror(errno));
  // Read straight into the aligned buffer the parsed file will own: one copy of the bytes.
  long size = -1;
  if (std::fseek(fp, 0, SEEK_END) == 0) size = std::ftell(fp);
  if (size < 0 || std::fseek(fp, 0, SEEK_SET) != 0) {
    std::fclose(fp);
    return make_error(status::io_error, "cannot determine the size of '" + path + "' (not a regular file?)");
  }
  auto buf = aligned_buffer<std::byte>::allocate(static_cast<std::size_t>(size));
  if (!buf) {
    std::fclose(fp);
    return buf.err();
  }
  const std::size_t got = buf->empty() ? 0 : std::fread(buf->data(), 1, buf->size(), fp);
  const bool failed = got != buf->size() || std::ferror(fp) != 0;
  std::fclose(fp);
  if (failed) return make_error(status::io_error, "short read from '" + path + "'");
  return std::move(*buf);
}

inline error with_path(const std::string& path, error e) {
  e.message = path + ": " + e.message;
  return e;
}
}  // namespace detail

inline result<safetensors_file> safetensors_file::open(const std::string& path) {
#if VPRIM_SAFETENSORS_MMAP
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(status::io_error, "cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    return make_error(status::io_error, "cannot determine the size of '" + path + "' (not a regular file?)");
  }
  const auto size = static_cast<std::size_t>(st.st_size);
  void* p = size == 0 ? MAP_FAILED : ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (p != MAP_FAILED) {
    std::shared_ptr<const void> mapping(p, [size](const void* q) { ::munmap(const_cast<void*>(q), size); });
    auto r = parse(std::span<const std::byte>(static_cast<const std::byte*>(p), size), std::move(mapping));
    if (!r) return detail::with_path(path, r.err());
    return r;
  }
#endif
  auto buf = detail::read_whole_file(path);
  if (!buf) return buf.err();
  auto r = parse(std::move(*buf));
  if (!r) return detail::with_path(path, r.err());
  return r;
}

inline result<std::vector<float>> safetensors_file::to_f32(std::string_view name) const {
  const tensor_entry* e = find(name);
  if (e == nullptr) return missing(name);
  return to_f32(name, 0, static_cast<std::size_t>(e->numel()));
}

inline result<std::vector<float>> safetensors_file::to_f32(std::string_view name, std::size_t first, std::size_t count) const {
  const tensor_entry* e = find(name);
  if (e == nullptr) return missing(name);
  const auto numel = static_cast<std::size_t>(e->numel());
  if (first > numel || count > numel - first)
    return make_error(status::out_of_range, "tensor '" + e->name + "': elements [" + std::to_string(first) + ", " +
                                                std::to_string(first) + " + " + std::to_string(count) + ") are past its " +
                                                std::to_string(numel) + " elements",
                      file_offset(*e));
  const auto raw = bytes(*e);
  auto out = detail::large_vector<float>(count);
  auto load = [&]<class U>(U) {
    const std::byte* src = raw.data() + first * sizeof(U);
    for (std::size_t i = 0; i < count; ++i) {
      U u;
      std::memcpy(&u, src + i * sizeof(U), sizeof(U));
      if constexpr (std::is_same_v<U, double> || std::is_same_v<U, float>) out[i] = static_cast<float>(u);
      else out[i] = u.to_float();
    }
  };
  switch (e->type) {
    case dtype::f64: load(double{}); break;
    case dtype::f32: load(float{}); break;
    case dtype::f16: load(f16{}); break;
    case dtype::bf16: load(bf16{}); break;
    case dtype::f8_e4m3: load(e4m3{}); break;
    case dtype::f8_e8m0: load(e8m0{}); break;
    default:
      return make_error(status::dtype_mismatch, "tensor '" + e->name + "' has dtype " + std::string(to_string(e->type)) +
                                                    ", expected a floating type (F64, F32, F16, BF16, F8_E4M3, F8_E8M0)",
                        file_offset(*e));
  }
  return result<std::vector<float>>(std::move(out));
}

inline result<std::vector<std::int64_t>> safetensors_file::to_i64(std::string_view name) const {
  const tensor_entry* e = find(name);
  if (e == nullptr) return missing(name);
  const auto raw = bytes(*e);
  const auto count = static_cast<std::size_t>(e->numel());
  std::vector<std::int64_t> out(count);
  auto load = [&]<class U>(U) {
    for (std::size_t i = 0; i < count; ++i) {
      U u;
      std::memcpy(&u, raw.data() + i * sizeof(U), sizeof(U));
      out[i] = static_cast<std::int64_t>(u);
    }
  };
  switch (e->type) {
    case dtype::i64: load(std::int64_t{}); break;
    case dtype::i32: load(std::int32_t{}); break;
    case dtype::i16: load(std::int16_t{}); break;
    case dtype::i8: load(std::int8_t{}); break;
    case dtype::u32: load(std::uint32_t{}); break;
    case dtype::u16: load(std::uint16_t{}); break;
    case dtype::u8: case dtype::boolean: load(std::uint8_t{}); break;
    default:
      return make_error(status::dtype_mismatch, "tensor '" + e->name + "' has dtype " + std::string(to_string(e->type)) +
                                                    ", expected an integer type",
                        file_offset(*e));
  }
  return result<std::vector<std::int64_t>>(std::move(out));
}

template <class T, std::size_t R>
result<dview<const T, R>> safetensors_file::view(std::string_view name) const {
  static_assert(dtype_of<T>.has_value(), "vprim::safetensors_file::view: T has no safetensors dtype");
  const tensor_entry* e = find(name);
  if (e == nullptr) return missing(name);
  if (e->type != *dtype_of<T>)
    return make_error(status::dtype_mismatch, "tensor '" + e->name + "' is " + std::string(to_string(e->type)) +
                                                  ", expected " + std::string(to_string(*dtype_of<T>)),
                      file_offset(*e));
  if (e->shape.size() != R)
    return make_error(status::shape_mismatch, "tensor '" + e->name + "' has shape " + e->shape_string() + " (rank " +
                                                  std::to_string(e->shape.size()) + "), expected rank " + std::to_string(R),
                      file_offset(*e));
  const std::byte* p = bytes(*e).data();
  if (reinterpret_cast<std::uintptr_t>(p) % alignof(T) != 0)
    return make_error(status::misaligned, "tensor '" + e->name + "' data is not aligned for its dtype; use to_f32/to_i64",
                      file_offset(*e));
  std::array<index_t, R> ext{};
  std::copy(e->shape.begin(), e->shape.end(), ext.begin());
  return dview<const T, R>(reinterpret_cast<const T*>(p), dextents<R>(ext));
}

//! Builds a safetensors file in memory. Tensors are laid out largest element size first, so
//! every tensor's data stays aligned for its dtype when the file is read into aligned memory.
class safetensors_writer {
 public:
  //! Adds a tensor; fails on a duplicate or reserved name, or bytes that do not match the shape.
  [[nodiscard]] status add(std::string name, dtype type, std::vector<index_t> shape, std::span<const std::byte> data) {
    if (name == "__metadata__" || name.empty()) return status::invalid_argument;
    for (const auto& t : pending_)
      if (t.entry.name == name) return status::invalid_argument;
    tensor_entry e{std::move(name), type, std::move(shape), 0, 0};
    for (index_t d : e.shape)
      if (d < 0) return status::shape_mismatch;
    if (static_cast<std::size_t>(e.numel()) * static_cast<std::size_t>(size_of(type)) != data.size())
      return status::shape_mismatch;
    pending_.push_back({std::move(e), std::vector<std::byte>(data.begin(), data.end())});
    return status::ok;
  }
  template <class T>
  [[nodiscard]] status add(std::string name, std::vector<index_t> shape, std::span<const T> values) {
    static_assert(dtype_of<T>.has_value(), "vprim::safetensors_writer::add: T has no safetensors dtype");
    return add(std::move(name), *dtype_of<T>, std::move(shape), std::as_bytes(values));
  }
  void add_metadata(std::string key, std::string value) { metadata_.emplace_back(std::move(key), std::move(value)); }

  //! The whole file.
  [[nodiscard]] std::vector<std::byte> serialize() const {
    const auto [header, order] = layout();
    std::size_t bytes = header.size();
    for (const pending* p : order) bytes += p->data.size();
    std::vector<std::byte> out(bytes);
    std::memcpy(out.data(), header.data(), header.size());
    std::size_t at = header.size();
    for (const pending* p : order) {
      if (!p->data.empty()) std::memcpy(out.data() + at, p->data.data(), p->data.size());
      at += p->data.size();
    }
    return out;
  }

  //! Writes the file, a tensor at a time (no second copy of a multi-GB file in memory);
  //! io_error when it cannot be written.
  [[nodiscard]] status write(const std::string& path) const {
    const auto [header, order] = layout();
    std::FILE* fp = std::fopen(path.c_str(), "wb");
    if (fp == nullptr) return status::io_error;
    bool ok = std::fwrite(header.data(), 1, header.size(), fp) == header.size();
    for (const pending* p : order) ok = ok && std::fwrite(p->data.data(), 1, p->data.size(), fp) == p->data.size();
    return (std::fclose(fp) == 0 && ok) ? status::ok : status::io_error;
  }

 private:
  struct pending {
    tensor_entry entry;
    std::vector<std::byte> data;
  };
  //! The 8-byte length and JSON header, then the tensors in the order their data follows.
  [[nodiscard]] std::pair<std::string, std::vector<const pending*>> layout() const {
    std::vector<const pending*> order;
    for (const auto& p : pending_) order.push_back(&p);
    std::stable_sort(order.begin(), order.end(),
                     [](const pending* a, const pending* b) { return size_of(a->entry.type) > size_of(b->entry.type); });
    std::string header = "{";
    bool first = true;
    if (!metadata_.empty()) {
      header += "\"__metadata__\":{";
      for (std::size_t i = 0; i < metadata_.size(); ++i) {
        if (i) header += ',';
        append_json_string(header, metadata_[i].first);
        header += ':';
        append_json_string(header, metadata_[i].second);
      }
      header += '}';
      first = false;
    }
    std::size_t offset = 0;
    for (const pending* p : order) {
      if (!first) header += ',';
      first = false;
      append_json_string(header, p->entry.name);
      header += ":{\"dtype\":\"";
      header += to_string(p->entry.type);
      header += "\",\"shape\":";
      header += p->entry.shape_string();
      header += ",\"data_offsets\":[";
      header += std::to_string(offset);
      header += ',';
      header += std::to_string(offset + p->data.size());
      header += "]}";
      offset += p->data.size();
    }
    header += '}';
    while (header.size() % 8 != 0) header += ' ';  // keeps the data section 8-byte aligned
    std::string out(8, '\0');
    const std::uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<char>((n >> (8 * i)) & 0xffu);
    return {out + header, std::move(order)};
  }

  std::vector<pending> pending_;
  std::vector<std::pair<std::string, std::string>> metadata_;
};

VPRIM_NAMESPACE_END

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file checkpoint.hpp
//! A checkpoint as Hugging Face ships large models: one `.safetensors` file, or shards listed
//! by `model.safetensors.index.json` ({"weight_map": {tensor: shard file}}), or a folder holding
//! either. Shards are mapped, not read, so opening a 150 GB checkpoint costs address space only.
//! Every tensor name resolves to the shard that holds it; a name the index lists in one shard
//! but that shard lacks is reported with both names.

#include <filesystem>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "vprim/core/status.hpp"
#include "vprim/io/json.hpp"
#include "vprim/io/safetensors.hpp"

VPRIM_NAMESPACE_BEGIN

class checkpoint {
 public:
  //! `path`: a .safetensors file, an index .json, or a folder with model.safetensors.index.json
  //! or model.safetensors.
  [[nodiscard]] static result<checkpoint> open(const std::string& path) {
    std::string p = path;
    if (is_directory(p)) {
      const std::string index = p + "/model.safetensors.index.json";
      p = std::ifstream(index).good() ? index : p + "/model.safetensors";
    }
    checkpoint c;
    if (!p.ends_with(".json")) {
      auto f = safetensors_file::open(p);
      if (!f) return f.err();
      c.shards_.push_back(std::move(*f));
      c.shard_names_.push_back(p);
      for (const auto& e : c.shards_[0].tensors()) c.where_[e.name] = 0;
      return c;
    }
    std::ifstream in(p, std::ios::binary);
    if (!in) return make_error(status::io_error, "cannot open '" + p + "'");
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto entries = parse_weight_map(text, p);
    if (!entries) return entries.err();
    const std::string dir = p.find('/') == std::string::npos ? "." : p.substr(0, p.rfind('/'));
    std::map<std::string, std::size_t> shard_of_file;
    for (const auto& [tensor, file] : *entries) {
      auto [it, fresh] = shard_of_file.emplace(file, c.shards_.size());
      if (fresh) {
        auto f = safetensors_file::open(dir + "/" + file);
        if (!f) return f.err();
        c.shards_.push_back(std::move(*f));
        c.shard_names_.push_back(dir + "/" + file);
      }
      if (c.shards_[it->second].find(tensor) == nullptr)
        return make_error(status::not_found, p + " lists '" + tensor + "' in " + file + ", which does not hold it");
      c.where_[tensor] = it->second;
    }
    return c;
  }

  //! The (tensor, shard file) pairs of a model.safetensors.index.json's text; `path` names it in
  //! errors. Every shard must be a plain file name (the same folder), every tensor listed once.
  [[nodiscard]] static result<std::vector<std::pair<std::string, std::string>>> parse_weight_map(std::string_view text,
                                                                                                 const std::string& path) {
    auto doc = parse_json(text);
    if (!doc) return make_error(doc.err().code, path + ": " + doc.err().message, doc.err().offset);
    const json_value* map = doc->find("weight_map");
    if (map == nullptr || !map->is_object()) return make_error(status::parse_error, path + ": no \"weight_map\" object");
    std::vector<std::pair<std::string, std::string>> out;
    std::map<std::string, std::size_t, std::less<>> seen;
    for (const auto& [tensor, file] : map->members()) {
      if (!file.is_string() || file.as_string().empty() || file.as_string().find('/') != std::string::npos ||
          file.as_string() == "." || file.as_string() == "..")
        return make_error(status::parse_error, path + ": the shard of '" + tensor + "' must be a file name in the same folder",
                          file.offset());
      if (!seen.emplace(tensor, out.size()).second)
        return make_error(status::parse_error, path + ": '" + tensor + "' is listed twice", file.offset());
      out.emplace_back(tensor, file.as_string());
    }
    return out;
  }

  [[nodiscard]] std::size_t shards() const noexcept { return shards_.size(); }
  [[nodiscard]] std::size_t tensors() const noexcept { return where_.size(); }
  //! The shard holding `name`, or nullptr.
  [[nodiscard]] const safetensors_file* shard_of(const std::string& name) const {
    const auto it = where_.find(name);
    return it == where_.end() ? nullptr : &shards_[it->second];
  }
  //! An integer tensor from whichever shard holds it.
  [[nodiscard]] result<std::vector<std::int64_t>> to_i64(const std::string& name) const {
    const safetensors_file* f = shard_of(name);
    if (f == nullptr) return make_error(status::not_found, "no tensor named '" + name + "' in the checkpoint");
    return f->to_i64(name);
  }
  //! Bytes of the tensors that `keep(const tensor_entry&)` accepts, as stored, over all shards.
  template <class Keep>
  [[nodiscard]] std::size_t tensor_bytes(Keep&& keep) const {
    std::size_t bytes = 0;
    for (const auto& f : shards_)
      for (const auto& e : f.tensors())
        if (keep(e)) bytes += e.end - e.begin;
    return bytes;
  }
  [[nodiscard]] const std::string& shard_name(const safetensors_file* f) const {
    return shard_names_[static_cast<std::size_t>(f - shards_.data())];
  }

 private:
  static bool is_directory(const std::string& p) {
    std::error_code ec;
    return std::filesystem::is_directory(p, ec);
  }

  std::vector<safetensors_file> shards_;
  std::vector<std::string> shard_names_;
  std::map<std::string, std::size_t, std::less<>> where_;
};

VPRIM_NAMESPACE_END

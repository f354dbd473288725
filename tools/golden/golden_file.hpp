// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once
// A golden file opened for checking: its tensors, its kind and its parsed JSON config, plus
// helpers that fetch a reference tensor or report why it cannot be fetched.

#include <optional>
#include <string>
#include <vector>

#include "report.hpp"
#include "vprim/io.hpp"

namespace vprim_golden {

struct golden_file {
  std::string path;
  std::string dir;  //!< folder of the file: companion weight files are looked up here
  vprim::safetensors_file file;
  std::string kind;
  vprim::json_value config;  //!< metadata "config" parsed (null when absent)

  [[nodiscard]] std::vector<std::int64_t> shape(const std::string& name) const {
    const auto* e = file.find(name);
    return e ? std::vector<std::int64_t>(e->shape.begin(), e->shape.end()) : std::vector<std::int64_t>{};
  }
  //! A float tensor, or nullopt after reporting the problem.
  std::optional<std::vector<float>> f32(const std::string& name, report& rep) const {
    auto r = file.to_f32(name);
    if (!r) {
      rep.problem(name + ": " + r.err().describe());
      return std::nullopt;
    }
    return std::move(*r);
  }
  std::optional<std::vector<std::int64_t>> i64(const std::string& name, report& rep) const {
    auto r = file.to_i64(name);
    if (!r) {
      rep.problem(name + ": " + r.err().describe());
      return std::nullopt;
    }
    return std::move(*r);
  }
  //! An integer config field, or nullopt after reporting it missing.
  std::optional<std::int64_t> config_int(const std::string& key, report& rep) const {
    const auto* v = config.find(key);
    if (v == nullptr || !v->as_int()) {
      rep.problem(path + ": config field '" + key + "' is missing or not an integer");
      return std::nullopt;
    }
    return *v->as_int();
  }
};

}  // namespace vprim_golden

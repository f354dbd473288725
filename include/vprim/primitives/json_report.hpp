// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file json_report.hpp
//! A parse result as one JSON object, the form scripts consume:
//! {"refs":[{"label":"...","boxes":[[x1,y1,x2,y2],...]}],"points":[[[x,y],...],...],
//!  "answer":"..."|null,"errors":[{"offset":N,"kind":"..."}]}

#include <string>

#include "vprim/io/json.hpp"
#include "vprim/primitives/codec.hpp"

VPRIM_NAMESPACE_BEGIN
namespace primitives {

[[nodiscard]] inline std::string to_json(const parse_result& r) {
  std::string out = "{\"refs\":[";
  auto tuple = [&](std::initializer_list<int> v) { detail::append_tuple(out, v); };
  for (std::size_t i = 0; i < r.refs.size(); ++i) {
    if (i) out += ',';
    out += "{\"label\":";
    append_json_string(out, r.refs[i].label);
    out += ",\"boxes\":[";
    for (std::size_t k = 0; k < r.refs[i].boxes.size(); ++k) {
      if (k) out += ',';
      const box& b = r.refs[i].boxes[k];
      tuple({b.x1, b.y1, b.x2, b.y2});
    }
    out += "]}";
  }
  out += "],\"points\":[";
  for (std::size_t j = 0; j < r.points.size(); ++j) {
    if (j) out += ',';
    out += '[';
    for (std::size_t k = 0; k < r.points[j].points.size(); ++k) {
      if (k) out += ',';
      tuple({r.points[j].points[k].x, r.points[j].points[k].y});
    }
    out += ']';
  }
  out += "],\"answer\":";
  if (r.answer) append_json_string(out, *r.answer);
  else out += "null";
  out += ",\"errors\":[";
  for (std::size_t e = 0; e < r.errors.size(); ++e) {
    if (e) out += ',';
    out += "{\"offset\":" + std::to_string(r.errors[e].offset) + ",\"kind\":\"";
    out += to_string(r.errors[e].kind);
    out += "\"}";
  }
  out += "]}";
  return out;
}

}  // namespace primitives
VPRIM_NAMESPACE_END

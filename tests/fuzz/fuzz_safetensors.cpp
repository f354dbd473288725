// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// libFuzzer harness for the safetensors reader. Properties checked on every input:
//  - parsing never crashes, hangs or reads out of bounds (sanitizers watch);
//  - an accepted file has every tensor readable through to_f32/to_i64 or a clean dtype error;
//  - an accepted file re-serialised by the writer parses again to the same tensors.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>

#include "vprim/io/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto bytes = std::as_bytes(std::span<const std::uint8_t>(data, size));
  auto parsed = vprim::safetensors_file::parse(bytes);
  if (!parsed) {
    if (parsed.err().message.empty()) std::abort();  // every rejection must say why
    return 0;
  }
  const auto& f = *parsed;
  vprim::safetensors_writer w;
  for (const auto& e : f.tensors()) {
    if (vprim::is_floating(e.type) && e.type != vprim::dtype::f8_e5m2) {
      if (!f.to_f32(e.name)) std::abort();
    } else if (!vprim::is_floating(e.type) && e.type != vprim::dtype::u64) {
      if (!f.to_i64(e.name)) std::abort();
    }
    if (w.add(e.name, e.type, e.shape, f.bytes(e)) != vprim::status::ok) std::abort();
  }
  for (const auto& [k, v] : f.metadata()) w.add_metadata(k, v);
  auto again = vprim::safetensors_file::parse(w.serialize());
  if (!again || again->tensors().size() != f.tensors().size()) std::abort();
  for (const auto& e : f.tensors()) {
    const auto* e2 = again->find(e.name);
    if (e2 == nullptr || e2->type != e.type || e2->shape != e.shape) std::abort();
    const auto a = f.bytes(e), b = again->bytes(*e2);
    if (a.size() != b.size() || (a.size() != 0 && std::memcmp(a.data(), b.data(), a.size()) != 0)) std::abort();
  }
  return 0;
}

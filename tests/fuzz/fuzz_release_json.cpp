// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// libFuzzer harness for the readers of a release's JSON files and for the tokenizer's encoder.
// Properties checked on every input:
//  - as config.json: the decoder config, image budget and tower readers accept it or say why;
//  - as model.safetensors.index.json: the weight-map reader accepts it or says why, and an
//    accepted map names each tensor once, each shard as a plain file name;
//  - as tokenizer.json: the tokenizer reader accepts it or says why; an accepted one encodes
//    the input itself or says why, with an offset inside it;
//  - as text for the bundled tiny tokenizer (every byte spelled): UTF-8 encodes and decodes back
//    to itself; anything else is refused at the offset of the first byte that is not UTF-8.
// Nothing crashes, hangs or reads out of bounds (the sanitizers watch).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <string_view>

#include "vprim/io/checkpoint.hpp"
#include "vprim/io/tokenizer.hpp"
#include "vprim/io/vocabulary.hpp"
#include "vprim/model/v4/config.hpp"
#include "vprim/model/vision_budget.hpp"
#include "vprim/model/vision_tower.hpp"

namespace {

std::string read(const char* path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) std::abort();
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

struct tiny {
  vprim::bpe_tokenizer tok;
  vprim::vocabulary vocab;
};

const tiny& bundled() {
  static const tiny t = [] {
    const std::string json = read(VPRIM_FUZZ_TOKENIZER);
    auto tok = vprim::bpe_tokenizer::from_json(json);
    auto vocab = vprim::vocabulary::from_json(json);
    if (!tok || !vocab) std::abort();
    return tiny{std::move(*tok), std::move(*vocab)};
  }();
  return t;
}

template <class R>
void must_say_why(const R& r) {
  if (!r && r.err().message.empty()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto j = vprim::parse_json(text)) {
    must_say_why(vprim::v4::config_from_json(*j));
    must_say_why(vprim::vision_budget_from_json(*j));
    must_say_why(vprim::tower_config_from_json(*j, vprim::tower_kind::deepseek_vit));
  }
  auto map = vprim::checkpoint::parse_weight_map(text, "fuzz.index.json");
  must_say_why(map);
  if (map) {
    std::set<std::string> names;
    for (const auto& [tensor, file] : *map)
      if (!names.insert(tensor).second || file.empty() || file.find('/') != std::string::npos) std::abort();
  }
  auto tok = vprim::bpe_tokenizer::from_json(text);
  must_say_why(tok);
  if (tok) {
    auto ids = tok->encode(text);
    if (!ids && (ids.err().message.empty() || ids.err().offset >= size)) std::abort();
  }
  const auto& t = bundled();
  auto ids = t.tok.encode(text);
  if (ids) {
    std::string back;
    for (auto id : *ids) {
      auto piece = t.vocab.text(id);
      if (!piece) std::abort();
      back += *piece;
    }
    if (back != text) std::abort();
  } else {
    std::size_t first_bad = 0;
    while (first_bad < size) {
      const std::size_t n = vprim::utf8_sequence_length(text, first_bad);
      if (n == 0) break;
      first_bad += n;
    }
    if (ids.err().offset != first_bad) std::abort();
  }
  return 0;
}

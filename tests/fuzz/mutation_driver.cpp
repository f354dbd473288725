// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// A portable stand-in for libFuzzer's driver, for compilers without -fsanitize=fuzzer (g++):
// replays every seed file, then applies a fixed-seed sequence of mutations (bit flips, byte
// sets, insertions, deletions, header-length edits, JSON-token splices) to them and feeds each
// result to LLVMFuzzerTestOneInput. Deterministic, so a failure reproduces with the same args.
//
//   mutation_driver [-runs=N] [-seed=S] CORPUS_DIR...
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {

using bytes = std::vector<std::uint8_t>;

const char* const tokens[] = {"{", "}", "[", "]", ",", ":", "\"", "\"dtype\"", "\"shape\"", "\"data_offsets\"",
                              "\"F32\"", "\"BF16\"", "\"I64\"", "\"U8\"", "\"F8_E4M3\"", "0", "-1", "4", "1e9",
                              "18446744073709551615", "\"__metadata__\"", "null", "true", "\\u0000", "\\ud800"};

void mutate(bytes& b, std::mt19937_64& rng) {
  auto pick = [&](std::size_t n) { return n == 0 ? std::size_t{0} : static_cast<std::size_t>(rng() % n); };
  switch (rng() % 7) {
    case 0:
      if (!b.empty()) b[pick(b.size())] ^= static_cast<std::uint8_t>(1u << (rng() % 8));
      break;
    case 1:
      if (!b.empty()) b[pick(b.size())] = static_cast<std::uint8_t>(rng());
      break;
    case 2:
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(pick(b.size() + 1)), static_cast<std::uint8_t>(rng()));
      break;
    case 3:
      if (!b.empty()) {
        const std::size_t at = pick(b.size());
        const std::size_t len = std::min<std::size_t>(1 + pick(16), b.size() - at);
        b.erase(b.begin() + static_cast<std::ptrdiff_t>(at), b.begin() + static_cast<std::ptrdiff_t>(at + len));
      }
      break;
    case 4:  // header length edits: off by small amounts, or wild
      if (b.size() >= 8) {
        std::uint64_t n = 0;
        std::memcpy(&n, b.data(), 8);
        const std::uint64_t choices[] = {n + 1, n - 1, n + 8, 0, ~0ull, n * 2, static_cast<std::uint64_t>(b.size())};
        n = choices[rng() % 7];
        std::memcpy(b.data(), &n, 8);
      }
      break;
    case 5: {  // splice a JSON token into the header
      const std::string t = tokens[rng() % std::size(tokens)];
      const std::size_t hdr_end = b.size() >= 8 ? std::min<std::size_t>(b.size(), 8 + 256) : b.size();
      const std::size_t at = hdr_end > 8 ? 8 + pick(hdr_end - 8) : pick(b.size() + 1);
      b.insert(b.begin() + static_cast<std::ptrdiff_t>(at), t.begin(), t.end());
      break;
    }
    default:  // truncate
      if (!b.empty()) b.resize(pick(b.size()));
      break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  long runs = 20000;
  std::uint64_t seed = 1;
  std::vector<bytes> corpus;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("-runs=", 0) == 0) {
      runs = std::stol(a.substr(6));
    } else if (a.rfind("-seed=", 0) == 0) {
      seed = std::stoull(a.substr(6));
    } else {
      for (const auto& entry : std::filesystem::directory_iterator(a)) {
        std::ifstream in(entry.path(), std::ios::binary);
        corpus.emplace_back(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
      }
    }
  }
  if (corpus.empty()) {
    std::fprintf(stderr, "mutation_driver: no seed files given\n");
    return 2;
  }
  for (const auto& c : corpus) LLVMFuzzerTestOneInput(c.data(), c.size());
  std::mt19937_64 rng(seed);
  for (long r = 0; r < runs; ++r) {
    bytes b = corpus[rng() % corpus.size()];
    const int depth = 1 + static_cast<int>(rng() % 4);
    for (int d = 0; d < depth; ++d) mutate(b, rng);
    LLVMFuzzerTestOneInput(b.data(), b.size());
  }
  std::printf("mutation_driver: %zu seeds, %ld mutated inputs, seed %llu, no crash\n", corpus.size(), runs,
              static_cast<unsigned long long>(seed));
  return 0;
}

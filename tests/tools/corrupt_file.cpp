// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// corrupt_file IN OUT (truncate N | xor OFFSET | set-header-length N): writes a damaged copy of
// a file, for tests that check how damage is reported.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: corrupt_file IN OUT (truncate N | xor OFFSET | set-header-length N)\n");
    return 2;
  }
  std::ifstream in(argv[1], std::ios::binary);
  std::vector<char> b((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string mode = argv[3];
  const auto n = static_cast<std::size_t>(std::stoull(argv[4]));
  if (mode == "truncate" && n <= b.size()) {
    b.resize(b.size() - n);
  } else if (mode == "xor" && n < b.size()) {
    b[n] = static_cast<char>(b[n] ^ 0x5a);
  } else if (mode == "set-header-length" && b.size() >= 8) {
    const std::uint64_t len = n;
    std::memcpy(b.data(), &len, 8);  // little-endian hosts only, like the format
  } else {
    std::fprintf(stderr, "corrupt_file: bad mode or argument\n");
    return 2;
  }
  std::ofstream out(argv[2], std::ios::binary);
  out.write(b.data(), static_cast<std::streamsize>(b.size()));
  return out ? 0 : 1;
}

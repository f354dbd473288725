// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <cstdio>

#include "vprim/vprim.hpp"

int odr_from_a();

int main() {
  auto r = vprim::parse_json("{\"a\":1}");
  const int a = odr_from_a();
  const bool ok = r && a == 4 && vprim::to_string(vprim::status::ok) == "ok" && vprim::bf16(1.0f).bits == 0x3f80;
  std::printf("odr: %s\n", ok ? "ok" : "FAILED");
  return ok ? 0 : 1;
}

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// Two translation units include every header and use the same entities; linking them into one
// program fails if a header defines a non-inline function or variable.
#include "vprim/vprim.hpp"

int odr_from_a() {
  auto r = vprim::parse_json("[1,2,3]");
  vprim::thread_pool_executor ex(2);
  std::int64_t n = 0;
  ex.parallel_for(1, [&](std::int64_t b, std::int64_t e) { n += e - b; });
  return r ? static_cast<int>(r->items().size() + static_cast<std::size_t>(n)) : -1;
}

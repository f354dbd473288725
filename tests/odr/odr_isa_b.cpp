// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// Built for AVX-512 with AVX512-BF16 (see odr_isa_case.hpp).
#include <vector>

#include "odr_isa_case.hpp"

std::vector<float> odr_isa_from_b() { return odr_isa::run_kernels(); }

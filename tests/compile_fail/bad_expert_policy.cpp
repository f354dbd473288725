// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// Must NOT compile: top_k larger than the number of routed experts.
#include "vprim/policy.hpp"
static_assert(vprim::assert_valid<vprim::expert_policy{.routed = 4, .top_k = 6}>());

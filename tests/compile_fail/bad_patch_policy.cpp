// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// Must NOT compile: a zero patch size must be rejected with a message naming the field.
#include "vprim/policy.hpp"
static_assert(vprim::assert_valid<vprim::patch_policy{.size = 0, .channels = 3}>());

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file policy.hpp
//! Policies, their concepts, the runtime-to-static dispatcher and the named presets.

#include "vprim/policy/concepts.hpp"
#include "vprim/policy/dispatch.hpp"
#include "vprim/policy/policies.hpp"
#include "vprim/policy/presets.hpp"

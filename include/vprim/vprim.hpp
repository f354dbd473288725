// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file vprim.hpp
//! The core, policies, I/O and the primitive toolkit; kernels and models are included one
//! header each. Includes no CUDA header; see vprim.cuh for the GPU side.

#include "vprim/core.hpp"
#include "vprim/io.hpp"
#include "vprim/policy.hpp"
#include "vprim/primitives.hpp"
#include "vprim/version.hpp"

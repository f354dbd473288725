// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file vprim.hpp
//! Everything vprim offers on the host. Includes no CUDA header; see vprim.cuh for the GPU side.

#include "vprim/core.hpp"
#include "vprim/io.hpp"
#include "vprim/policy.hpp"
#include "vprim/version.hpp"

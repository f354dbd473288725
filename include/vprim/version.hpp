// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file version.hpp
//! The single source of vprim's version; CMake parses these three lines.

#define VPRIM_VERSION_MAJOR 0
#define VPRIM_VERSION_MINOR 1
#define VPRIM_VERSION_PATCH 0

//! major * 1000000 + minor * 1000 + patch (the CCCL encoding).
#define VPRIM_VERSION (VPRIM_VERSION_MAJOR * 1000000 + VPRIM_VERSION_MINOR * 1000 + VPRIM_VERSION_PATCH)

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file io.hpp
//! The JSON reader and the safetensors reader/writer.

#include "vprim/io/json.hpp"
#include "vprim/io/safetensors.hpp"
#include "vprim/io/vocabulary.hpp"

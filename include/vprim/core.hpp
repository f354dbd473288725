// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file core.hpp
//! Macros, status/result, dtypes, tensor views, aligned buffers and executors.

#include "vprim/core/aligned_buffer.hpp"
#include "vprim/core/config.hpp"
#include "vprim/core/dtype.hpp"
#include "vprim/core/dynamic.hpp"
#include "vprim/core/executor.hpp"
#include "vprim/core/status.hpp"
#include "vprim/core/tensor_view.hpp"

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file vprim.cuh
//! The host library plus the CUDA backend. Include from .cu files compiled by nvcc.

#include "vprim/cuda/error.cuh"
#include "vprim/vprim.hpp"

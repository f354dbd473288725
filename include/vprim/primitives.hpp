// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file primitives.hpp
//! The visual-primitive toolkit in one include: codec, coordinates, geometry, rewards, maze and
//! path-tracing tasks, and drawing. Pure C++20; no SIMD, CUDA or third-party dependency.

#include "vprim/primitives/codec.hpp"
#include "vprim/primitives/coordinates.hpp"
#include "vprim/primitives/geometry.hpp"
#include "vprim/primitives/json_report.hpp"
#include "vprim/primitives/maze.hpp"
#include "vprim/primitives/path_task.hpp"
#include "vprim/primitives/render.hpp"
#include "vprim/primitives/rewards.hpp"
#include "vprim/primitives/task_render.hpp"

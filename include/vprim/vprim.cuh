// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#pragma once

//! \file vprim.cuh
//! The host library plus the CUDA backend. Include from .cu files compiled by nvcc.

#include "vprim/cuda/activation.cuh"
#include "vprim/cuda/attention.cuh"
#include "vprim/cuda/block_sum.cuh"
#include "vprim/cuda/compressor.cuh"
#include "vprim/cuda/device_buffer.cuh"
#include "vprim/model/cuda/device_weights.cuh"
#include "vprim/cuda/embedding.cuh"
#include "vprim/cuda/error.cuh"
#include "vprim/cuda/gemm.cuh"
#include "vprim/cuda/indexer.cuh"
#include "vprim/cuda/launch.cuh"
#include "vprim/cuda/mhc.cuh"
#include "vprim/cuda/moe.cuh"
#include "vprim/cuda/moe_permute.cuh"
#include "vprim/cuda/norm.cuh"
#include "vprim/cuda/preprocess.cuh"
#include "vprim/cuda/rope.cuh"
#include "vprim/cuda/router.cuh"
#include "vprim/cuda/sparse_attention.cuh"
#include "vprim/cuda/topk.cuh"
#include "vprim/model/cuda/v4_decoder.cuh"
#include "vprim/cuda/vision_gemm.cuh"
#include "vprim/model/cuda/vision_language.cuh"
#include "vprim/model/cuda/vision_tower.cuh"
#include "vprim/vprim.hpp"

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// The host half of the CUDA backend, which runs without a device (so in CI): the argument
// checks that refuse a call before anything is launched, the split plan of the decode
// attention, workspace queries that need no device, and the index maps of the tensor-core
// kernels (swizzles, descriptors, ldmatrix addresses) against the PTX ISA's layouts. The
// pointers below are host addresses standing in for device ones: these paths compare them with
// null and never dereference them.
#define CATCH_CONFIG_MAIN
#include <algorithm>
#include <array>
#include <cmath>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "vprim/vprim.cuh"

namespace {
float stand_in[4];
const float* const some = stand_in;

// The status `check` gives a copy of `args` after `change`: each refusal is tested on its own,
// so no change leaks into the next check and nothing needs restoring.
template <class Args, class Change, class Check>
vprim::status changed(const Args& args, Change change, Check check) {
  Args copy = args;
  change(copy);
  return check(copy);
}
}  // namespace

TEST_CASE("cuda argument checks refuse bad calls with the status that says why", "[cuda][host]") {
  using vprim::status;
  namespace c = vprim::cuda;
  SECTION("norms") {
    const c::norm_args n{some, stand_in, some, some, 4, 8, 1e-6f};
    const auto layer_norm = [](const c::norm_args& x) { return c::norm_can_implement(x, true); };
    const auto rms_norm = [](const c::norm_args& x) { return c::norm_can_implement(x, false); };
    REQUIRE(layer_norm(n) == status::ok);
    REQUIRE(changed(n, [](auto& x) { x.bias = nullptr; }, rms_norm) == status::ok);  // RMSNorm has no bias
    REQUIRE(changed(n, [](auto& x) { x.bias = nullptr; }, layer_norm) == status::invalid_argument);
    REQUIRE(changed(n, [](auto& x) { x.eps = -1.0f; }, rms_norm) == status::invalid_argument);
    const c::norm_args no_input{nullptr, stand_in, some, nullptr, 4, 8, 1e-6f};
    REQUIRE(rms_norm(no_input) == status::invalid_argument);
    REQUIRE(changed(no_input, [](auto& x) { x.rows = 0; }, rms_norm) == status::ok);  // nothing to do is never an error
  }
  SECTION("GEMM strides and operands") {
    const c::basic_gemm_args<float> g{4, 8, 16, some, 16, some, 16, nullptr, stand_in, 8};
    const auto check = [](const auto& x) { return c::gemm_can_implement(x); };
    REQUIRE(check(g) == status::ok);
    REQUIRE(changed(g, [](auto& x) { x.lda = 15; }, check) == status::shape_mismatch);
    REQUIRE(changed(g, [](auto& x) { x.ldc = 7; }, check) == status::shape_mismatch);
    REQUIRE(changed(g, [](auto& x) { x.w = nullptr; }, check) == status::invalid_argument);
  }
  SECTION("GEMM engines: wgmma needs operands TMA can address") {
    alignas(16) static __nv_bfloat16 operand[64];
    const c::gemm_args g{4, 8, 16, operand, 16, operand, 16, nullptr, stand_in, 8};
    const auto on = [](c::gemm_engine e) { return [e](const auto& x) { return c::gemm_can_implement(x, e); }; };
    for (auto e : {c::gemm_engine::automatic, c::gemm_engine::mma_sync, c::gemm_engine::wgmma}) REQUIRE(on(e)(g) == status::ok);
    const auto lda_20 = [](auto& x) { x.lda = 20; };  // 40-byte rows: fine for mma_sync, not a TMA stride
    REQUIRE(changed(g, lda_20, on(c::gemm_engine::mma_sync)) == status::ok);
    REQUIRE(changed(g, lda_20, on(c::gemm_engine::wgmma)) == status::not_supported);
    REQUIRE(changed(g, [](auto& x) { x.w = operand + 1; }, on(c::gemm_engine::wgmma)) == status::not_supported);  // 2-byte aligned
    REQUIRE(changed(g, [](auto& x) { x.ldw = 12; }, on(c::gemm_engine::wgmma)) == status::shape_mismatch);  // shared checks first
    static const std::int32_t order[2] = {0, 1}, offsets[3] = {0, 1, 2};
    const c::grouped_gemm_args gg{g, order, offsets, 2, 1, 4, true};
    const auto grouped_on = [](c::gemm_engine e) { return [e](const auto& x) { return c::grouped_gemm_can_implement(x, e); }; };
    REQUIRE(grouped_on(c::gemm_engine::wgmma)(gg) == status::ok);
    const auto k_12 = [](auto& x) { x.base.k = 12; };  // gathered rows are copied in whole 16-byte chunks
    REQUIRE(changed(gg, k_12, grouped_on(c::gemm_engine::mma_sync)) == status::ok);
    REQUIRE(changed(gg, k_12, grouped_on(c::gemm_engine::wgmma)) == status::not_supported);
  }
  SECTION("patch embedding: whole patches only") {
    c::patch_embed_args p;
    p.base = {0, 8, 0, nullptr, 0, reinterpret_cast<const __nv_bfloat16*>(stand_in), 3 * 14 * 14, nullptr, stand_in, 8};
    p.image = some;
    p.channels = 3;
    p.height = 28;
    p.width = 42;
    p.patch = 14;
    const auto check = [](const c::patch_embed_args& x) { return c::patch_embed_can_implement(x); };
    REQUIRE(check(p) == status::ok);
    REQUIRE(changed(p, [](auto& x) { x.width = 43; }, check) == status::shape_mismatch);
    REQUIRE(changed(p, [](auto& x) { x.image = nullptr; }, check) == status::invalid_argument);
  }
  SECTION("sparse attention") {
    c::sparse_attention_args a{};
    a.q = a.raw_kv = a.entries = a.sinks = some;
    a.out = stand_in;
    static const std::int64_t ids[1] = {0};
    a.raw_pos = a.pos = ids;
    a.queries = 1;
    a.heads = 64;
    a.head_dim = 512;
    a.raw_count = 128;
    a.entry_count = 100;
    a.ratio = 128;
    const auto check = [](const c::sparse_attention_args& x) { return c::sparse_attention_can_implement(x); };
    REQUIRE(check(a) == status::ok);
    REQUIRE(changed(a, [](auto& x) { x.head_dim = 48; }, check) == status::not_supported);    // not a multiple of a warp
    REQUIRE(changed(a, [](auto& x) { x.head_dim = 1024; }, check) == status::not_supported);  // past 16 values a lane
    REQUIRE(changed(a, [](auto& x) { x.ratio = 0; }, check) == status::invalid_argument);     // HCA entries without their ratio
    REQUIRE(changed(a, [](auto& x) { x.ratio = 0; x.selected = ids; }, check) == status::invalid_argument);  // CSA selections without k
  }
  SECTION("top-k") {
    const c::topk_args t{some, nullptr, reinterpret_cast<std::int64_t*>(stand_in), 64, 1 << 18, 512};
    const auto check = [](const c::topk_args& x) { return c::topk_can_implement(x); };
    REQUIRE(check(t) == status::ok);
    REQUIRE(changed(t, [](auto& x) { x.rows = 1 << 14; }, check) == status::not_supported);  // 2^32 scores
    REQUIRE(changed(t, [](auto& x) { x.rows = 1; x.indices = nullptr; }, check) == status::invalid_argument);
    const c::topk_args too_many{some, nullptr, reinterpret_cast<std::int64_t*>(stand_in), 1, 16, 1025};
    REQUIRE(c::topk_select(too_many, nullptr) == status::not_supported);  // refused before the launch
  }
  SECTION("pixel path") {
    const std::uint8_t bytes[3] = {};
    const c::resize_normalize_args r{bytes, 640, 480, {756, 567, 0, 94}, 756, 756, 127, vprim::resample_flavor::pil,
                                     vprim::deepseek_pixel_stats, stand_in};
    const auto check = [](const c::resize_normalize_args& x) { return c::resize_normalize_can_implement(x); };
    const auto query = [](const c::resize_normalize_args& x) { return c::resize_normalize_can_implement(x, /*pointers=*/false); };
    REQUIRE(check(r) == status::ok);
    REQUIRE(changed(r, [](auto& x) { x.fit.y0 = 190; }, check) == status::shape_mismatch);  // ends below the canvas
    const auto no_source = [](auto& x) { x.src = nullptr; };
    REQUIRE(changed(r, no_source, check) == status::invalid_argument);
    REQUIRE(changed(r, no_source, query) == status::ok);  // a workspace query
    REQUIRE(changed(r, [](auto& x) { x.src = nullptr; x.src_w = 0; }, query) == status::invalid_argument);
    const c::resize_normalize_args huge{bytes, 640, 480, {65536, 32768, 0, 0}, 65536, 32768, 0, vprim::resample_flavor::pil,
                                        vprim::deepseek_pixel_stats, stand_in};
    REQUIRE(check(huge) == status::not_supported);  // 6.4e9 canvas values
    // A plan made for another image is refused before anything runs.
    auto plan = vprim::plan_vision_exp(640, 480);
    REQUIRE(plan);
    c::workspace ws;
    REQUIRE(c::preprocess_vision_exp(bytes, 480, 640, *plan, stand_in, ws, nullptr) == status::shape_mismatch);
  }
}

TEST_CASE("cuda pixel path workspace: both tap tables and the 8-bit intermediate, only when each pass runs", "[cuda][host]") {
  namespace c = vprim::cuda;
  auto query = [](int src_w, int src_h, int fit_w, int fit_h) {
    c::resize_normalize_args r{nullptr, src_w, src_h, {fit_w, fit_h, 0, 0}, fit_w, fit_h, 0, vprim::resample_flavor::torch,
                               vprim::clip_pixel_stats, nullptr};
    c::workspace ws;
    REQUIRE(c::resize_normalize(r, ws, nullptr) == vprim::status::ok);
    return ws.bytes;
  };
  REQUIRE(query(640, 480, 640, 480) == 0);  // no resize: a copy with normalisation, no workspace
  const std::size_t mid = 320 * 480 * 3;
  const std::size_t both = query(640, 480, 320, 240), across = query(640, 480, 320, 480), down = query(640, 480, 640, 240);
  REQUIRE(across >= mid);                   // horizontal taps and the intermediate
  REQUIRE(down > 0);
  REQUIRE(down < mid);                      // vertical taps only
  REQUIRE(both >= across + down);           // both, the vertical slices after the 256-byte aligned rest
  REQUIRE(both < across + down + 256);
}

TEST_CASE("cuda decode attention splits its keys only when the queries leave SMs idle", "[cuda][host]") {
  namespace c = vprim::cuda;
  c::sparse_attention_args a{};
  a.queries = 1;
  a.heads = 64;  // 8 blocks of 8 heads
  a.head_dim = 512;
  a.raw_count = 128;
  a.entry_count = 8192;  // an HCA layer at 1M tokens
  a.ratio = 128;
  const auto plan = c::detail::plan_sparse_split(a, 132);
  REQUIRE(plan.splits == 33);  // two blocks per SM: 264 / 8
  REQUIRE(plan.split_len % 16 == 0);
  REQUIRE(plan.splits * plan.split_len >= 128 + 8192);
  REQUIRE((plan.splits - 1) * plan.split_len < 128 + 8192);  // no split is empty by construction
  a.entry_count = 100;  // 228 keys: too few to share
  REQUIRE(c::detail::plan_sparse_split(a, 132).split_len == 0);
  a.entry_count = 8192;
  a.queries = 33;  // 264 blocks already
  REQUIRE(c::detail::plan_sparse_split(a, 132).split_len == 0);
  a.queries = 1;
  a.probs = stand_in;  // the weights need the whole softmax in one block
  REQUIRE(c::detail::plan_sparse_split(a, 132).split_len == 0);
  a.probs = nullptr;
  a.selected = reinterpret_cast<const std::int64_t*>(stand_in);  // CSA: window + top-512
  a.top_k = 512;
  const auto csa = c::detail::plan_sparse_split(a, 132);
  REQUIRE(csa.splits == 3);  // 640 keys, at least 256 a split
  REQUIRE(csa.split_len * csa.splits >= 640);
}

// The wgmma engine's shared-memory contract, modelled on the host: TMA (and the grouped
// kernel's gathered rows) store element (row, col) of a 128 x 64 bf16 tile at
// swizzle(row * 128 + 2 col); each m64n128k16 reads an operand through a descriptor whose
// start moves 32 bytes a k step. The PTX ISA's canonical K-major layout in the 128-byte
// swizzle puts operand element (m, k) at start + (m % 8) * 128 + (m / 8) * SBO + 2k, swizzled
// on the absolute address. Both must name the same byte for every element either reads.
TEST_CASE("wgmma descriptors read the bytes TMA's swizzle and the row gather wrote", "[cuda][host][wgmma]") {
  namespace sm90 = vprim::cuda::detail::sm90;
  constexpr std::uint32_t tiles = 3 * 1024;  // a 1024-aligned dynamic shared-memory base
  const auto wgmma_byte = [](std::uint64_t descriptor, unsigned m, unsigned k) {
    REQUIRE((descriptor >> 62) == 1);  // the 128-byte swizzle
    const auto start = static_cast<std::uint32_t>((descriptor & 0x3fff) << 4);
    const auto stride = static_cast<std::uint32_t>(((descriptor >> 32) & 0x3fff) << 4);
    const std::uint32_t linear = start + (m % 8) * 128 + (m / 8) * stride + 2 * k;
    return linear ^ (((linear >> 7) & 7u) << 4);
  };
  for (unsigned stage = 0; stage < sm90::stages; ++stage) {
    const std::uint32_t a_tile = tiles + stage * sm90::stage_bytes, w_tile = a_tile + sm90::a_tile_bytes;
    for (unsigned kk = 0; kk < sm90::bk / 16; ++kk)
      for (unsigned k = 0; k < 16; ++k) {
        const unsigned col = kk * 16 + k;
        for (unsigned consumer = 0; consumer < sm90::consumers; ++consumer)
          for (unsigned m = 0; m < 64; ++m) {  // A: each consumer's 64 rows
            const unsigned row = consumer * 64 + m;
            const std::uint64_t d = sm90::tile_descriptor_at(a_tile + consumer * sm90::consumer_rows_bytes + kk * 32);
            REQUIRE(wgmma_byte(d, m, k) == a_tile + sm90::swizzle_128b(row * 128 + 2 * col));
            REQUIRE(sm90::swizzled_chunk(row, col / 8) + 2 * (col % 8) == sm90::swizzle_128b(row * 128 + 2 * col));
          }
        for (unsigned n = 0; n < sm90::bn; ++n)  // W: all 128 rows in one instruction
          REQUIRE(wgmma_byte(sm90::tile_descriptor_at(w_tile + kk * 32), n, k) == w_tile + sm90::swizzle_128b(n * 128 + 2 * col));
      }
  }
  // the stage ring fits the dynamic allocation after aligning its base
  REQUIRE(sm90::stages * std::size_t{sm90::stage_bytes} + sm90::swizzle_atom - 16 <= sm90::smem_bytes);
}

// The register-resident attention's ldmatrix addresses, checked on the host against the PTX
// ISA's fragment layouts: ldmatrix (x4) gives lane L row L/4, columns 2(L%4) and 2(L%4)+1 of
// matrix i (the .trans form: rows 2(L%4) and 2(L%4)+1, column L/4), where lane 8i + r gave
// the address of matrix i's row r; mma.m16n8k16 takes A (16 x 16) as a0 (g, 2t), a1 (g + 8,
// 2t), a2 (g, 2t + 8), a3 (g + 8, 2t + 8) and B (16 x 8) as b0 (k 2t, n g), b1 (k 2t + 8, n g),
// and returns C as c0 c1 (g, 2t), c2 c3 (g + 8, 2t), with g = lane / 4, t = lane % 4; every
// register a pair of adjacent bf16. Integer data keeps every product exact.
namespace {
using pair = std::array<float, 2>;
using warp_x4 = std::array<std::array<pair, 4>, 32>;

warp_x4 ldmatrix_x4(const std::vector<float>& tile, const std::array<int, 32>& address, bool trans) {
  warp_x4 r{};
  for (int lane = 0; lane < 32; ++lane)
    for (int i = 0; i < 4; ++i) {
      const int g = lane / 4, t = lane % 4;
      r[lane][i] = trans ? pair{tile[address[8 * i + 2 * t] + g], tile[address[8 * i + 2 * t + 1] + g]}
                         : pair{tile[address[8 * i + g] + 2 * t], tile[address[8 * i + g] + 2 * t + 1]};
    }
  return r;
}

// d (per lane, c0..c3) += A B from the lanes' fragments.
void mma_16816(std::array<std::array<float, 4>, 32>& d, const warp_x4& a, const std::array<std::array<pair, 2>, 32>& b) {
  float A[16][16] = {}, B[16][8] = {};
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int h = 0; h < 2; ++h) {
      A[g][2 * t + h] = a[lane][0][h];
      A[g + 8][2 * t + h] = a[lane][1][h];
      A[g][2 * t + 8 + h] = a[lane][2][h];
      A[g + 8][2 * t + 8 + h] = a[lane][3][h];
      B[2 * t + h][g] = b[lane][0][h];
      B[2 * t + 8 + h][g] = b[lane][1][h];
    }
  }
  for (int lane = 0; lane < 32; ++lane) {
    const int g = lane / 4, t = lane % 4;
    for (int i = 0; i < 4; ++i)
      for (int k = 0; k < 16; ++k) d[lane][i] += A[g + 8 * (i / 2)][k] * B[k][2 * t + (i % 2)];
  }
}

// The kernel's pair of mma: registers 0-1 of an ldmatrix x4 are one B fragment, 2-3 the next.
void mma_x2(std::array<std::array<float, 4>, 32>& d0, std::array<std::array<float, 4>, 32>& d1, const warp_x4& a, const warp_x4& b) {
  std::array<std::array<pair, 2>, 32> b0{}, b1{};
  for (int lane = 0; lane < 32; ++lane) {
    b0[lane] = {b[lane][0], b[lane][1]};
    b1[lane] = {b[lane][2], b[lane][3]};
  }
  mma_16816(d0, a, b0);
  mma_16816(d1, a, b1);
}

// C tiles t (16 x 8 each, side by side) hold the row-major 16-row matrix `expect`.
template <std::size_t Tiles>
void require_c_tiles(const std::array<std::array<std::array<float, 4>, 32>, Tiles>& tiles, const std::vector<float>& expect) {
  const int cols = static_cast<int>(8 * Tiles);
  for (int t = 0; t < static_cast<int>(Tiles); ++t)
    for (int lane = 0; lane < 32; ++lane)
      for (int i = 0; i < 4; ++i)
        REQUIRE(tiles[t][lane][i] == expect[(lane / 4 + 8 * (i / 2)) * cols + 8 * t + 2 * (lane % 4) + (i % 2)]);
}

template <int D>
void check_flash_fragments() {
  namespace fl = vprim::cuda::detail::flash;
  constexpr int keys = fl::bk, ld = fl::ld<D>;
  std::mt19937 rng(7);
  std::uniform_int_distribution<int> small(-4, 4);
  std::vector<float> q(16 * D), k_tile(keys * ld, NAN), v_tile(keys * ld, NAN);  // NaN padding: reading it shows
  for (auto& x : q) x = static_cast<float>(small(rng));
  for (int r = 0; r < keys; ++r)
    for (int c = 0; c < D; ++c) {
      k_tile[r * ld + c] = static_cast<float>(small(rng));
      v_tile[r * ld + c] = static_cast<float>(small(rng));
    }
  // S = Q K^T through the kernel's addresses, as 8 C tiles of 8 keys
  std::array<std::array<std::array<float, 4>, 32>, keys / 8> s{};
  for (int j = 0; j < keys / 8; j += 2)
    for (int c = 0; c < D / 16; ++c) {
      std::array<int, 32> address{};
      for (int lane = 0; lane < 32; ++lane) address[lane] = fl::k_fragment_offset<D>(lane, j, c);
      const warp_x4 b = ldmatrix_x4(k_tile, address, false);
      warp_x4 a{};
      for (int lane = 0; lane < 32; ++lane)
        for (int i = 0; i < 4; ++i)
          for (int h = 0; h < 2; ++h) a[lane][i][h] = q[(lane / 4 + 8 * (i % 2)) * D + 16 * c + 2 * (lane % 4) + 8 * (i / 2) + h];
      mma_x2(s[j], s[j + 1], a, b);
    }
  std::vector<float> s_full(16 * keys, 0.0f);  // the plain product
  for (int row = 0; row < 16; ++row)
    for (int key = 0; key < keys; ++key)
      for (int c = 0; c < D; ++c) s_full[row * keys + key] += q[row * D + c] * k_tile[key * ld + c];
  require_c_tiles(s, s_full);
  // O = S V through the kernel's addresses; S's C tiles 2kk and 2kk + 1 are P's A fragment
  std::array<std::array<std::array<float, 4>, 32>, D / 8> o{};
  for (int kk = 0; kk < keys / 16; ++kk) {
    warp_x4 p{};
    for (int lane = 0; lane < 32; ++lane) {
      const auto& lo = s[2 * kk][lane];
      const auto& hi = s[2 * kk + 1][lane];
      p[lane] = {pair{lo[0], lo[1]}, pair{lo[2], lo[3]}, pair{hi[0], hi[1]}, pair{hi[2], hi[3]}};
    }
    for (int jd = 0; jd < D / 8; jd += 2) {
      std::array<int, 32> address{};
      for (int lane = 0; lane < 32; ++lane) address[lane] = fl::v_fragment_offset<D>(lane, kk, jd);
      const warp_x4 b = ldmatrix_x4(v_tile, address, true);
      mma_x2(o[jd], o[jd + 1], p, b);
    }
  }
  std::vector<float> o_full(16 * D, 0.0f);
  for (int row = 0; row < 16; ++row)
    for (int col = 0; col < D; ++col)
      for (int key = 0; key < keys; ++key) o_full[row * D + col] += s_full[row * keys + key] * v_tile[key * ld + col];
  require_c_tiles(o, o_full);
}
}  // namespace

TEST_CASE("register-resident attention: its ldmatrix addresses give mma.sync the fragments of Q K^T and P V", "[cuda][host][flash]") {
  check_flash_fragments<64>();
  check_flash_fragments<128>();
}

TEST_CASE("dynamic shared memory: launches without the attribute stay below 48 KB, raised ones below 227 KB",
          "[cuda][host][resources]") {
  namespace c = vprim::cuda;
  namespace d = vprim::cuda::detail;
  constexpr std::size_t default_limit = 48 * 1024, device_limit = 227 * 1024;
  // Launched without cudaFuncSetAttribute (scripts/cuda-resources.sh checks that list): their
  // largest request, at the limits of their can_implement, fits the default.
  STATIC_REQUIRE(d::router_tile::warps * 2 * d::router_tile::max_experts * sizeof(float) <= default_limit);
  STATIC_REQUIRE(d::sparse_attention_tile::keys * 32 * d::sparse_attention_tile::max_per_lane * sizeof(float) <=
                 default_limit);
  c::compress_args comp{};
  comp.kv = comp.gate = comp.position_bias = comp.norm_w = some;
  comp.entries = stand_in;
  comp.windows = comp.ratio = 1;
  comp.width = default_limit / sizeof(float);
  REQUIRE(c::compress_can_implement(comp) == vprim::status::ok);
  comp.width += 1;  // one float more than the default allows
  REQUIRE(c::compress_can_implement(comp) == vprim::status::not_supported);
  // Raised with cudaFuncSetAttribute: within what the device can give a block.
  c::indexer_args idx{some, some, some, stand_in, 1, 1, 1, 1};
  std::size_t largest = 0;
  for (std::size_t heads = 1; heads <= 128; ++heads)
    for (std::size_t dim = 1; dim <= 1024; ++dim) {
      idx.heads = heads;
      idx.dim = dim;
      if (c::indexer_can_implement(idx) == vprim::status::ok)
        largest = std::max(largest, (heads * dim + d::indexer_keys * (dim + 1)) * sizeof(float));
    }
  CHECK(largest > default_limit);
  CHECK(largest <= device_limit);
  CHECK(d::attention_tile{128}.bytes() <= device_limit);
  CHECK(d::flash::smem_bytes<64> <= device_limit);
  CHECK(d::flash::smem_bytes<128> <= device_limit);
  CHECK(d::sm90::smem_bytes + d::sm90::barrier_bytes <= device_limit);
}

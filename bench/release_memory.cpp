// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// release_memory [--config CONFIG_JSON] [--dir DIR]
//
// The whole-model memory table: for each kind of decoder layer in the config (default:
// DeepSeek-V4-Flash), one layer is written at full size exactly as the release stores it
// (release_layout.hpp: DeepSeek's names, FP8 / MXFP4 / BF16 / F32 / I32, random values), read
// back through the loader a release goes through (shipped_weights_from + from_official_layout,
// FP8 and MXFP4 kept as shipped), and its resident bytes compared with its bytes in the file;
// the same for the tensors outside the layers. The 43-layer totals are those per-kind
// measurements times the number of layers of each kind. One file exists at a time (V4-Flash:
// about 3.6 GB in DIR, default the system's temporary folder); peak memory about twice that.
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "vprim/cpu/arch.hpp"
#include "vprim/io/checkpoint.hpp"
#include "vprim/io/json.hpp"
#include "vprim/io/safetensors.hpp"
#include "vprim/model/quantized_weights.hpp"
#include "vprim/model/v4/checkpoint_names.hpp"
#include "vprim/model/v4/release_layout.hpp"

namespace {

using vprim::v4::release_storage;
using vprim::v4::release_tensor;

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "release_memory: %s\n", why.c_str());
  std::exit(1);
}

//! Random bytes, fast enough for gigabytes (splitmix64).
struct byte_noise {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  template <class T, class Make>
  std::vector<std::byte> fill(std::size_t n, Make make) {
    std::vector<std::byte> out(n * sizeof(T));
    auto* p = reinterpret_cast<T*>(out.data());
    for (std::size_t i = 0; i < n; ++i) p[i] = make(next());
    return out;
  }
};

//! Adds `t` to `w` with random values valid for its storage (finite FP8 codes, scales near
//! 2^-6, small BF16 / F32 values, expert ids below `experts`).
void add_random(vprim::safetensors_writer& w, const release_tensor& t, byte_noise& noise, int experts) {
  using vprim::dtype;
  auto put = [&](const std::string& name, dtype type, std::vector<vprim::index_t> shape, const std::vector<std::byte>& bytes) {
    if (w.add(name, type, std::move(shape), bytes) != vprim::status::ok) fail("cannot add " + name);
  };
  const std::size_t n = t.values();
  auto scale_codes = [](std::uint64_t r) { return static_cast<std::uint8_t>(118 + (r & 7)); };
  auto small_bf16 = [](std::uint64_t r) { return static_cast<std::uint16_t>((r & 0x807f) | ((120 + (r >> 16) % 5) << 7)); };
  auto small_f32 = [](std::uint64_t r) { return static_cast<std::uint32_t>((r & 0x807fffff) | ((120 + (r >> 32) % 5) << 23)); };
  switch (t.storage) {
    case release_storage::fp8_block128:
    case release_storage::mxfp4: {
      const bool fp8 = t.storage == release_storage::fp8_block128;
      const auto codes = t.codes_shape(), scales = t.scale_shape();
      const std::size_t code_bytes = static_cast<std::size_t>(codes[0]) * static_cast<std::size_t>(codes[1]);
      put(t.name, fp8 ? dtype::f8_e4m3 : dtype::i8, codes, noise.fill<std::uint8_t>(code_bytes, [fp8](std::uint64_t r) {
        const auto b = static_cast<std::uint8_t>(r);
        return fp8 && (b & 0x7f) == 0x7f ? static_cast<std::uint8_t>(b ^ 1) : b;  // e4m3 has no NaN here
      }));
      put(t.scale_name(), dtype::f8_e8m0, scales,
          noise.fill<std::uint8_t>(static_cast<std::size_t>(scales[0]) * static_cast<std::size_t>(scales[1]), scale_codes));
      return;
    }
    case release_storage::bf16: return put(t.name, dtype::bf16, t.shape, noise.fill<std::uint16_t>(n, small_bf16));
    case release_storage::f32: return put(t.name, dtype::f32, t.shape, noise.fill<std::uint32_t>(n, small_f32));
    case release_storage::i32:
      return put(t.name, dtype::i32, t.shape, noise.fill<std::int32_t>(n, [experts](std::uint64_t r) {
        return static_cast<std::int32_t>(r % static_cast<std::uint64_t>(experts));
      }));
  }
}

//! Writes `tensors` to `path` as one safetensors file.
void write_release_file(const std::string& path, const std::vector<release_tensor>& tensors, std::uint64_t seed, int experts) {
  vprim::safetensors_writer w;
  byte_noise noise{seed};
  for (const auto& t : tensors) add_random(w, t, noise, experts);
  if (w.write(path) != vprim::status::ok) fail("cannot write " + path);
}

struct measured {
  std::string part;
  std::size_t layers = 0, file = 0, resident = 0;
  double seconds = 0;
};

std::string kind_name(const vprim::v4::config& c, std::size_t l) {
  using vprim::v4::attention_kind;
  std::string s = c.layers[l] == attention_kind::sliding ? "sliding window"
                  : c.layers[l] == attention_kind::csa   ? "CSA 1/" + std::to_string(c.csa_ratio) + " + indexer"
                                                         : "HCA 1/" + std::to_string(c.hca_ratio);
  return s + (c.mlps[l] == vprim::v4::mlp_kind::hash_moe ? ", hash routing" : "");
}

std::string gib(double bytes) {
  char buf[32];
  if (bytes >= 1 << 30) std::snprintf(buf, sizeof buf, "%.3f GiB", bytes / (1 << 30));
  else std::snprintf(buf, sizeof buf, "%.2f MiB", bytes / (1 << 20));
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  std::string config_path, dir = std::filesystem::temp_directory_path().string();
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if ((a == "--config" || a == "--dir") && i + 1 < argc) (a == "--config" ? config_path : dir) = argv[++i];
    else fail("usage: release_memory [--config CONFIG_JSON] [--dir DIR]");
  }
  vprim::v4::config c = vprim::v4::flash_config();
  if (!config_path.empty()) {
    std::ifstream in(config_path, std::ios::binary);
    if (!in) fail("cannot read " + config_path);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto j = vprim::parse_json(text);
    if (!j) fail(config_path + ": " + j.err().describe());
    auto parsed = vprim::v4::config_from_json(*j);
    if (!parsed) fail(config_path + ": " + parsed.err().describe());
    c = *parsed;
  }
  std::filesystem::create_directories(dir);

  // Layers grouped by kind; each kind measured on its first layer.
  std::map<std::string, std::vector<std::size_t>> kinds;
  std::vector<std::string> order;
  for (std::size_t l = 0; l < c.layers.size(); ++l) {
    auto& v = kinds[kind_name(c, l)];
    if (v.empty()) order.push_back(kind_name(c, l));
    v.push_back(l);
  }

  std::vector<measured> rows;
  vprim::cpu::dispatch_cpu([&](auto arch) {
    auto measure = [&](const std::string& part, const std::vector<release_tensor>& tensors, std::size_t layers, auto load) {
      const std::string path = dir + "/release_memory_part.safetensors";
      const auto t0 = std::chrono::steady_clock::now();
      write_release_file(path, tensors, 20261207 + rows.size(), c.routed_experts);
      std::size_t resident = 0, file = 0;
      {
        auto ckpt = vprim::checkpoint::open(path);
        if (!ckpt) fail(part + ": " + ckpt.err().describe());
        file = ckpt->tensor_bytes([](const vprim::tensor_entry&) { return true; });
        if (file != vprim::v4::release_file_bytes(tensors)) fail(part + ": the file holds other bytes than the layout lists");
        const auto weights = vprim::v4::from_official_layout(vprim::shipped_weights_from(*ckpt));
        const auto ids = vprim::v4::ids_from_official_layout([&](const std::string& name) { return ckpt->to_i64(name); });
        resident = load(weights, ids);
      }
      std::filesystem::remove(path);
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      rows.push_back({part, layers, file, resident, s});
      std::fprintf(stderr, "release_memory: %s measured in %.1f s\n", part.c_str(), s);
    };
    for (const auto& kind : order) {
      const std::size_t l = kinds[kind].front();
      measure(kind, vprim::v4::release_layer_tensors(c, l), kinds[kind].size(), [&](const auto& weights, const auto& ids) {
        auto layer = vprim::v4::decoder::load_layer(arch, weights, ids, c, l);
        if (!layer) fail(kind + ": " + layer.err().describe());
        return layer->resident_bytes();
      });
    }
    vprim::v4::config outside = c;  // a decoder of no layers: embedding, final norm, head, hyper head
    outside.layers.clear();
    outside.mlps.clear();
    measure("outside the layers (embedding, head, norm, hyper head)", vprim::v4::release_global_tensors(c), 1,
            [&](const auto& weights, const auto& ids) {
              auto d = vprim::v4::decoder::load(arch, weights, ids, outside);
              if (!d) fail("outside the layers: " + d.err().describe());
              return d->resident_bytes();
            });
  });

  std::printf("| part | layers | file, one | vprim, one | vprim / file | file, all | vprim, all |\n");
  std::printf("|---|---:|---:|---:|---:|---:|---:|\n");
  double file_all = 0, resident_all = 0;
  for (const auto& r : rows) {
    const double fa = static_cast<double>(r.file) * static_cast<double>(r.layers),
                 ra = static_cast<double>(r.resident) * static_cast<double>(r.layers);
    file_all += fa;
    resident_all += ra;
    std::printf("| %s | %zu | %s | %s | %.3f | %s | %s |\n", r.part.c_str(), r.layers, gib(static_cast<double>(r.file)).c_str(),
                gib(static_cast<double>(r.resident)).c_str(), static_cast<double>(r.resident) / static_cast<double>(r.file),
                gib(fa).c_str(), gib(ra).c_str());
  }
  std::printf("| **the decoder, %zu layers** | %zu | | | %.3f | %s | %s |\n", c.layers.size(), c.layers.size(), resident_all / file_all,
              gib(file_all).c_str(), gib(resident_all).c_str());
  return 0;
}

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// make_release_miniature DECODER_GOLDEN VIT_GOLDEN TOKENIZER_JSON OUT_DIR
//
// Writes a miniature of DeepSeek-V4-Flash-Vision-Exp exactly in the release's layout, from the
// golden files' tiny decoder (deepseek_v4_public) and DeepSeek-ViT (dsvit_public):
//  - config.json with the release's own keys (compress_ratios with a trailing MTP entry,
//    num_hash_layers, rope_scaling, expert_dtype, quantization_config, the vision_* keys);
//  - two shards and model.safetensors.index.json, under DeepSeek's tensor names;
//  - attention and shared-expert Linears in FP8 e4m3 with one F8_E8M0 scale per 128x128 block
//    ([ceil(n/128), ceil(k/128)]), routed experts in MXFP4 (I8 [n, k/2], low nibble = even
//    column, F8_E8M0 [n, k/32]), the rest as the golden stores it (F32; tid2eid I64);
//  - `ffn.gate.bias_vl` on every layer, the sentinels image_start/pad/newline/end, the tower
//    under `vision.` and the aligner under `aligner.` in BF16;
//  - tokenizer.json (a small vocabulary of our own with the chat, image and primitive tags).
// Deterministic: ctest regenerates it and compares with tests/data/release_mini byte for byte.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <random>
#include <span>
#include <string>
#include <vector>

#include "../reference/quant_reference.hpp"
#include "vprim/io/json.hpp"
#include "vprim/io/safetensors.hpp"
#include "vprim/model/v4/checkpoint_names.hpp"

namespace {

[[noreturn]] void fail(const std::string& why) {
  std::fprintf(stderr, "make_release_miniature: %s\n", why.c_str());
  std::exit(1);
}

template <class T>
T need(vprim::result<T> r, const std::string& what) {
  if (!r) fail(what + ": " + r.err().describe());
  return std::move(*r);
}

void ok(vprim::status s, const std::string& what) {
  if (s != vprim::status::ok) fail(what + ": " + std::string(vprim::to_string(s)));
}

//! Which shard a tensor goes to: the first holds the embedding, layer 0 and the image path.
int shard_of(const std::string& name) {
  return name.rfind("layers.0.", 0) == 0 || name == "embed.weight" || name.rfind("vision.", 0) == 0 ||
                 name.rfind("aligner.", 0) == 0 || name.rfind("image_", 0) == 0
             ? 0
             : 1;
}

struct miniature {
  vprim::safetensors_writer shards[2];
  std::map<std::string, int> where;
  std::uint64_t bytes = 0;
  std::mt19937 rng{20261206};

  void add(const std::string& name, vprim::dtype type, std::vector<vprim::index_t> shape, std::span<const std::byte> data) {
    const int s = shard_of(name);
    ok(shards[s].add(name, type, std::move(shape), data), name);
    where[name] = s;
    bytes += data.size();
  }
  void add_f32(const std::string& name, std::vector<vprim::index_t> shape, const std::vector<float>& v) {
    add(name, vprim::dtype::f32, std::move(shape), std::as_bytes(std::span(v)));
  }
  std::vector<float> noise(std::size_t n, float scale) {
    std::normal_distribution<float> d(0.0f, scale);
    std::vector<float> v(n);
    for (auto& x : v) x = d(rng);
    return v;
  }

  //! A decoder weight under its DeepSeek name, quantised as the release stores it.
  void add_decoder_weight(const std::string& name, const vprim::tensor_entry& e, std::span<const std::byte> bytes_in,
                          const std::vector<float>& values) {
    const bool expert = name.find(".ffn.experts.") != std::string::npos;
    const bool fp8 = e.shape.size() == 2 && name.ends_with(".weight") &&
                     (name.find(".attn.w") != std::string::npos || name.find(".shared_experts.") != std::string::npos);
    if (!expert && !fp8) return add(name, e.type, e.shape, bytes_in);
    const auto n = static_cast<std::size_t>(e.shape[0]), k = static_cast<std::size_t>(e.shape[1]);
    const auto q = expert ? vprim_ref::mxfp4(values, n, k) : vprim_ref::fp8_blocks(values, n, k);
    const std::string scale = name.substr(0, name.size() - 7) + ".scale";
    if (expert) {
      add(name, vprim::dtype::i8, {e.shape[0], e.shape[1] / 2}, std::as_bytes(std::span(q.values)));
      add(scale, vprim::dtype::f8_e8m0, {e.shape[0], e.shape[1] / 32}, std::as_bytes(std::span(q.scales)));
    } else {
      add(name, vprim::dtype::f8_e4m3, e.shape, std::as_bytes(std::span(q.values)));
      add(scale, vprim::dtype::f8_e8m0,
          {static_cast<vprim::index_t>((n + 127) / 128), static_cast<vprim::index_t>((k + 127) / 128)},
          std::as_bytes(std::span(q.scales)));
    }
  }
};

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read " + path);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

//! The release's config.json for the golden decoder and tower sizes.
std::string release_config(const vprim::json_value& llm, const vprim::json_value& vit) {
  auto num = [](const vprim::json_value& j, const char* k) {
    const vprim::json_value* v = j.find(k);
    if (v == nullptr || !v->is_number()) fail(std::string("golden config has no number ") + k);
    char buf[64];
    if (v->as_int()) std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(*v->as_int()));
    else std::snprintf(buf, sizeof buf, "%.9g", v->as_double());
    return std::string(buf);
  };
  // The golden's layer_types (sliding, CSA, HCA) as ratios, then one MTP entry.
  const std::string hca = num(*llm.find("compress_rates"), "heavily_compressed_attention");
  std::string c = "{\n";
  c += "  \"architectures\": [\"DeepseekV4ForCausalLM\"],\n  \"model_type\": \"deepseek_v4\",\n";
  for (const char* k : {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
                        "head_dim", "qk_rope_head_dim", "q_lora_rank", "o_lora_rank", "o_groups", "sliding_window",
                        "index_n_heads", "index_head_dim", "index_topk", "n_routed_experts", "num_experts_per_tok",
                        "n_shared_experts", "moe_intermediate_size", "routed_scaling_factor", "swiglu_limit", "hc_mult",
                        "hc_sinkhorn_iters", "hc_eps", "rms_norm_eps", "rope_theta", "compress_rope_theta"})
    c += "  \"" + std::string(k) + "\": " + num(llm, k) + ",\n";
  c += "  \"compress_ratios\": [0, 4, " + hca + ", 0],\n  \"num_hash_layers\": 1,\n";
  c += "  \"scoring_func\": \"sqrtsoftplus\",\n  \"topk_method\": \"noaux_tc\",\n  \"norm_topk_prob\": true,\n";
  c += "  \"rope_scaling\": {\"type\": \"yarn\", \"factor\": 16, \"original_max_position_embeddings\": 65536, "
       "\"beta_fast\": 32, \"beta_slow\": 1},\n";
  c += "  \"max_position_embeddings\": 1048576,\n  \"expert_dtype\": \"fp4\",\n";
  c += "  \"quantization_config\": {\"quant_method\": \"fp8\", \"fmt\": \"e4m3\", \"activation_scheme\": \"dynamic\", "
       "\"scale_fmt\": \"ue8m0\", \"weight_block_size\": [128, 128]},\n";
  c += "  \"num_nextn_predict_layers\": 1,\n  \"tie_word_embeddings\": false,\n  \"bos_token_id\": 300,\n"
       "  \"eos_token_id\": 1,\n  \"torch_dtype\": \"bfloat16\",\n";
  for (const char* k : {"vision_n_layers", "vision_dim", "vision_n_heads", "vision_inter_dim", "vision_patch_size",
                        "vision_rope_theta", "vision_downsample_ratio"})
    c += "  \"" + std::string(k) + "\": " + num(vit, k) + ",\n";
  c += "  \"vision_max_n_token\": 64,\n  \"vision_min_pixels\": 3136,\n  \"vision_max_wh_ratio\": 8\n}\n";
  return c;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: make_release_miniature DECODER_GOLDEN VIT_GOLDEN TOKENIZER_JSON OUT_DIR\n");
    return 2;
  }
  const auto llm = need(vprim::safetensors_file::open(argv[1]), argv[1]);
  const auto vit = need(vprim::safetensors_file::open(argv[2]), argv[2]);
  const std::string out = argv[4];
  std::filesystem::create_directories(out);
  miniature m;

  // Decoder: DeepSeek's names, packed experts split into w1 / w3 / w2 per expert.
  std::size_t layers = 0;
  for (const auto& e : llm.tensors()) {
    if (e.name.rfind("weight.", 0) != 0) continue;
    const std::string hf = e.name.substr(7);
    const auto values = e.type == vprim::dtype::i64 ? std::vector<float>{} : need(llm.to_f32(e.name), e.name);
    const auto layer = vprim::v4::detail::split_layer(hf);
    if (layer) layers = std::max<std::size_t>(layers, std::stoul(layer->first) + 1);
    const bool gate_up = hf.ends_with("mlp.experts.gate_up_proj"), down = hf.ends_with("mlp.experts.down_proj");
    if (gate_up || down) {
      const std::size_t E = static_cast<std::size_t>(e.shape[0]), per = values.size() / E;
      for (std::size_t x = 0; x < E; ++x) {
        const std::string p = "layers." + layer->first + ".ffn.experts." + std::to_string(x) + ".";
        const auto begin = values.begin() + static_cast<std::ptrdiff_t>(x * per);
        if (down) {
          const std::vector<float> w(begin, begin + static_cast<std::ptrdiff_t>(per));
          vprim::tensor_entry t{p + "w2.weight", e.type, {e.shape[1], e.shape[2]}, 0, 0};
          m.add_decoder_weight(t.name, t, {}, w);
        } else {
          const auto half = static_cast<std::ptrdiff_t>(per / 2);
          vprim::tensor_entry t{"", e.type, {e.shape[1] / 2, e.shape[2]}, 0, 0};
          m.add_decoder_weight(p + "w1.weight", t, {}, std::vector<float>(begin, begin + half));
          m.add_decoder_weight(p + "w3.weight", t, {}, std::vector<float>(begin + half, begin + 2 * half));
        }
      }
      continue;
    }
    const auto name = vprim::v4::official_name(hf);
    if (!name) fail("no DeepSeek name for " + hf);
    m.add_decoder_weight(*name, e, llm.bytes(e), values);
  }
  const auto config = need(vprim::parse_json(*llm.meta("config")), "decoder config");
  const auto hidden = static_cast<vprim::index_t>(*config.find("hidden_size")->as_int());
  const auto experts = static_cast<vprim::index_t>(*config.find("n_routed_experts")->as_int());
  for (std::size_t l = 0; l < layers; ++l)  // every layer, the hash layer too
    m.add_f32("layers." + std::to_string(l) + ".ffn.gate.bias_vl", {experts}, m.noise(static_cast<std::size_t>(experts), 0.05f));
  for (const char* s : {"image_start", "image_pad", "image_newline", "image_end"})
    m.add_f32(s, {hidden}, m.noise(static_cast<std::size_t>(hidden), 0.5f));

  // Tower and aligner in BF16 under the release's prefixes.
  for (const auto& e : vit.tensors()) {
    std::string name = e.name;
    if (name.rfind("weight.vit.", 0) == 0) name = "vision." + name.substr(11);
    else if (name.rfind("weight.aligner.", 0) == 0) name = "aligner." + name.substr(15);
    else continue;
    const auto values = need(vit.to_f32(e.name), e.name);
    std::vector<std::uint16_t> b(values.size());
    for (std::size_t i = 0; i < values.size(); ++i) b[i] = vprim::float_to_bf16_bits(values[i]);
    m.add(name, vprim::dtype::bf16, e.shape, std::as_bytes(std::span(b)));
  }

  const std::string files[2] = {"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"};
  for (int s = 0; s < 2; ++s) ok(m.shards[s].write(out + "/" + files[s]), files[s]);
  std::string index = "{\n  \"metadata\": {\"total_size\": " + std::to_string(m.bytes) + "},\n  \"weight_map\": {\n";
  bool first = true;
  for (const auto& [name, s] : m.where) {
    index += std::string(first ? "" : ",\n") + "    \"" + name + "\": \"" + files[s] + "\"";
    first = false;
  }
  index += "\n  }\n}\n";
  std::ofstream(out + "/model.safetensors.index.json", std::ios::binary) << index;
  std::ofstream(out + "/config.json", std::ios::binary)
      << release_config(config, need(vprim::parse_json(*vit.meta("config")), "tower config"));
  std::ofstream(out + "/tokenizer.json", std::ios::binary) << read_text(argv[3]);
  std::printf("make_release_miniature: %zu tensors, %llu bytes in 2 shards, in %s\n", m.where.size(),
              static_cast<unsigned long long>(m.bytes), out.c_str());
  return 0;
}

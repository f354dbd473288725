// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "vprim/io/safetensors.hpp"

#ifndef VPRIM_TEST_DATA_DIR
#error "VPRIM_TEST_DATA_DIR must point at tests/data"
#endif

namespace {

// A file from a raw header string and a data section.
std::vector<std::byte> raw_file(const std::string& header, std::size_t data_bytes, std::uint64_t declared = ~0ull) {
  const std::uint64_t n = declared == ~0ull ? header.size() : declared;
  std::vector<std::byte> out(8 + header.size() + data_bytes, std::byte{0});
  for (int i = 0; i < 8; ++i) out[static_cast<std::size_t>(i)] = static_cast<std::byte>((n >> (8 * i)) & 0xff);
  std::memcpy(out.data() + 8, header.data(), header.size());
  return out;
}

// Where an error must point: the byte of `anchor` (its first occurrence after `skip` earlier
// ones) inside the header, or `data_byte` bytes into the data section.
struct expected_failure {
  const char* name;
  std::string header;
  std::size_t data_bytes;
  std::string anchor;  // empty: the offset is in the data section
  int skip;
  std::size_t data_byte;
  const char* what;

  [[nodiscard]] std::size_t offset() const {
    if (anchor.empty()) return 8 + header.size() + data_byte;
    std::size_t at = header.find(anchor);
    for (int i = 0; i < skip; ++i) at = header.find(anchor, at + 1);
    return 8 + at;
  }
};

}  // namespace

TEST_CASE("safetensors round trip through the writer", "[io][safetensors]") {
  vprim::safetensors_writer w;
  const std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 1e-3f, 7.0f};
  const std::vector<std::int64_t> ids = {1, -2, 3};
  const std::vector<std::uint8_t> px = {0, 127, 255};
  std::vector<vprim::bf16> b;
  for (float x : f) b.emplace_back(x);
  REQUIRE(w.add<std::uint8_t>("pixels", {3}, px) == vprim::status::ok);
  REQUIRE(w.add<float>("w.f32", {2, 3}, f) == vprim::status::ok);
  REQUIRE(w.add<vprim::bf16>("w.bf16", {3, 2}, b) == vprim::status::ok);
  REQUIRE(w.add<std::int64_t>("ids", {1, 3}, ids) == vprim::status::ok);
  REQUIRE(w.add<float>("empty", {0, 4}, std::span<const float>{}) == vprim::status::ok);
  REQUIRE(w.add<float>("ids", {1}, std::span<const float>(f.data(), 1)) == vprim::status::invalid_argument);
  REQUIRE(w.add<float>("short", {7}, f) == vprim::status::shape_mismatch);
  w.add_metadata("kind", "test \"quoted\"");

  auto r = vprim::safetensors_file::parse(w.serialize());
  REQUIRE(r);
  const auto& st = *r;
  REQUIRE(st.tensors().size() == 5);
  REQUIRE(st.meta("kind") == "test \"quoted\"");
  REQUIRE_FALSE(st.meta("nope").has_value());
  REQUIRE(*st.to_f32("w.f32") == f);
  auto bf = st.to_f32("w.bf16");
  REQUIRE(bf);
  for (std::size_t i = 0; i < f.size(); ++i) REQUIRE((*bf)[i] == vprim::bf16(f[i]).to_float());
  REQUIRE(*st.to_i64("ids") == ids);
  REQUIRE(*st.to_i64("pixels") == std::vector<std::int64_t>{0, 127, 255});
  REQUIRE(st.find("empty")->numel() == 0);

  auto v = st.view<float, 2>("w.f32");
  REQUIRE(v);
  REQUIRE((*v)(1, 2) == 7.0f);
  REQUIRE(st.view<float, 3>("w.f32").code() == vprim::status::shape_mismatch);
  REQUIRE(st.view<std::int64_t, 2>("w.f32").code() == vprim::status::dtype_mismatch);
  REQUIRE(st.view<float, 2>("missing").code() == vprim::status::not_found);
  REQUIRE(st.to_f32("ids").code() == vprim::status::dtype_mismatch);
  REQUIRE(st.to_i64("w.f32").code() == vprim::status::dtype_mismatch);
}

TEST_CASE("every malformed safetensors file is rejected with its byte offset", "[io][safetensors]") {
  const std::string ok_entry = R"("t":{"dtype":"F32","shape":[2],"data_offsets":[0,8]})";
  const expected_failure cases[] = {
      {"bad JSON", R"({"t":{"dtype" "F32"}})", 0, "\"F32", 0, 0, "expected ':'"},
      {"header not an object", "[1,2]", 0, "[", 0, 0, "must be a JSON object"},
      {"unknown dtype", R"({"t":{"dtype":"F9","shape":[1],"data_offsets":[0,1]}})", 1, "\"F9", 0, 0, "unknown dtype 'F9'"},
      {"empty tensor name", R"({"":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}})", 4, "{\"dtype", 0, 0, "a tensor has an empty name"},
      {"missing field", R"({"t":{"dtype":"F32","shape":[1]}})", 4, "{\"dtype", 0, 0, "needs 'dtype', 'shape' and 'data_offsets'"},
      {"extra field", R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":1}})", 4, "1}", 0, 0, "unexpected field 'x'"},
      {"negative shape", R"({"t":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", 4, "-1", 0, 0, "non-negative integers"},
      {"fractional shape", R"({"t":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}})", 4, "1.5", 0, 0, "non-negative integers"},
      {"shape/size mismatch", R"({"t":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8, "[0,8]", 0, 0, "needs 12 bytes but data_offsets span 8"},
      {"begin > end", R"({"t":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 8, "[8,4]", 0, 0, "begin 8 > end 4"},
      {"end past data", R"({"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8, "[0,16]", 0, 0, "past the data section (8 bytes)"},
      {"overflowing shape", R"({"t":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4, "[4294967296", 0, 0, "overflows"},
      {"offsets not ints", R"({"t":{"dtype":"F32","shape":[1],"data_offsets":["0",4]}})", 4, "[\"0\"", 0, 0, "non-negative integers"},
      {"overlap", "{" + ok_entry + R"(,"u":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8, "", 0, 4, "overlap tensor 't'"},
      {"gap", R"({"t":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8, "", 0, 0, "gap of 4 unused bytes before tensor 't'"},
      {"trailing bytes", "{" + ok_entry + "}", 12, "", 0, 8, "4 trailing bytes"},
      {"duplicate name", "{" + ok_entry + "," + ok_entry + "}", 8, "{\"dtype", 1, 0, "duplicate name 't'"},
      {"metadata not strings", R"({"__metadata__":{"k":1}})", 0, "1}", 0, 0, "value of 'k' must be a string"},
      {"duplicate metadata key", R"({"__metadata__":{"k":"a","k":"b"}})", 0, "{\"k", 0, 0, "duplicate __metadata__ key 'k'"},
      {"entry not an object", R"({"t":[1]})", 0, "[1]", 0, 0, "entry must be an object"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name, c.header);
    auto r = vprim::safetensors_file::parse(raw_file(c.header, c.data_bytes));
    REQUIRE_FALSE(r);
    CHECK(r.code() == vprim::status::parse_error);
    CHECK(r.err().offset == c.offset());
    CHECK_THAT(r.err().message, Catch::Contains(c.what));
  }
}

TEST_CASE("header-length problems are caught before any parsing", "[io][safetensors]") {
  auto tiny = vprim::safetensors_file::parse(std::vector<std::byte>(5));
  REQUIRE_FALSE(tiny);
  REQUIRE_THAT(tiny.err().message, Catch::Contains("shorter than the 8-byte header length"));

  auto past = vprim::safetensors_file::parse(raw_file("{}", 0, 1000));
  REQUIRE_FALSE(past);
  REQUIRE(past.err().offset == 0);
  REQUIRE_THAT(past.err().message, Catch::Contains("header length 1000 runs past the end of the file (10 bytes)"));

  auto huge = vprim::safetensors_file::parse(raw_file("{}", 0, 1ull << 40));
  REQUIRE_FALSE(huge);
  REQUIRE_THAT(huge.err().message, Catch::Contains("exceeds the 100000000-byte limit"));

  auto empty_ok = vprim::safetensors_file::parse(raw_file("{}", 0));
  REQUIRE(empty_ok);
  REQUIRE(empty_ok->tensors().empty());
}

TEST_CASE("the bundled golden files read, and truncation is reported", "[io][safetensors]") {
  const std::string dir = VPRIM_TEST_DATA_DIR;
  auto f = vprim::safetensors_file::open(dir + "/deepseek_v4_public.safetensors");
  REQUIRE(f);
  REQUIRE(f->meta("kind") == "deepseek_v4");
  REQUIRE(f->tensors().size() == 854);
  const auto* logits = f->find("prefill.logits");
  REQUIRE(logits != nullptr);
  REQUIRE(logits->shape == std::vector<vprim::index_t>{1, 23, 512});
  auto v = f->view<float, 3>("prefill.logits");
  REQUIRE(v);
  REQUIRE(std::isfinite((*v)(0, 22, 511)));

  auto missing = vprim::safetensors_file::open(dir + "/no_such_file.safetensors");
  REQUIRE(missing.code() == vprim::status::io_error);
  REQUIRE_THAT(missing.err().message, Catch::Contains("no_such_file.safetensors"));

  // The same bytes cut short by one byte: the last tensor's end is past the data section.
  std::FILE* fp = std::fopen((dir + "/vlm_public.safetensors").c_str(), "rb");
  REQUIRE(fp != nullptr);
  std::vector<std::byte> bytes(1 << 20);
  bytes.resize(std::fread(bytes.data(), 1, bytes.size(), fp));
  std::fclose(fp);
  REQUIRE(vprim::safetensors_file::parse(bytes));
  bytes.pop_back();
  auto cut = vprim::safetensors_file::parse(bytes);
  REQUIRE_FALSE(cut);
  REQUIRE_THAT(cut.err().message, Catch::Contains("past the data section"));
}

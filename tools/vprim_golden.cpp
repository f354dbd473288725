// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// vprim_golden FILE... : re-checks vprim against golden files written by real peer code.
// For each file: reads `kind` and `config` from the metadata, recomputes every recorded tensor
// of the kinds deepseek_vit, qwen2_vl_vision, qwen2_vl_preprocess, deepseek_v4 and
// vlm_end_to_end for the configuration the metadata describes, prints
// `PASS|FAIL <tensor> max_abs=.. max_rel=.. worst_index=..` per check, then `N passed, M failed`.
// Exit status 1 if any check failed or a file could not be read or understood (an unknown kind
// included), 2 for bad arguments.

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "golden/kinds.hpp"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: vprim_golden [--backend cpu] FILE.safetensors...\n"
               "Recomputes every recorded tensor of each golden file with vprim and compares.\n");
}

void check_one(const std::string& path, vprim_golden::report& rep) {
  auto opened = vprim::safetensors_file::open(path);
  if (!opened) {
    rep.problem("cannot read " + opened.err().describe());
    return;
  }
  vprim_golden::golden_file g{path, "", std::move(*opened), "", {}};
  const auto slash = path.find_last_of('/');
  g.dir = slash == std::string::npos ? "." : path.substr(0, slash);
  const auto kind = g.file.meta("kind");
  if (!kind) {
    rep.problem(path + ": metadata has no 'kind'; not a golden file");
    return;
  }
  g.kind = std::string(*kind);
  if (const auto cfg = g.file.meta("config")) {
    auto parsed = vprim::parse_json(*cfg);
    if (!parsed) {
      rep.problem(path + ": metadata 'config' is not valid JSON: " + parsed.err().describe());
      return;
    }
    g.config = std::move(*parsed);
  }
  for (const auto& k : vprim_golden::known_kinds) {
    if (k.kind == g.kind) {
      k.check(g, rep);
      return;
    }
  }
  rep.problem(path + ": unknown kind '" + g.kind + "'");
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help" || a == "-h") {
      usage();
      return 0;
    }
    if (a == "--backend") {
      if (i + 1 >= argc) {
        usage();
        return 2;
      }
      const std::string b = argv[++i];
      if (b != "cpu") {
        std::fprintf(stderr, "vprim_golden: backend '%s' is not available in this build (only 'cpu')\n", b.c_str());
        return 2;
      }
      continue;
    }
    if (!a.empty() && a[0] == '-') {
      std::fprintf(stderr, "vprim_golden: unknown option '%s'\n", a.c_str());
      usage();
      return 2;
    }
    files.push_back(a);
  }
  if (files.empty()) {
    usage();
    return 2;
  }
  vprim_golden::report rep;
  for (const auto& f : files) check_one(f, rep);
  std::printf("%d passed, %d failed\n", rep.passed(), rep.failed());
  std::fflush(stdout);
  return rep.failed() == 0 ? 0 : 1;
}

// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// vprim_golden FILE... : re-checks vprim against golden files written by real peer code.
// For each file: reads `kind` and `config` from the metadata, recomputes every recorded tensor
// of the kinds deepseek_vit, qwen2_vl_vision, qwen2_vl_preprocess, deepseek_v4 and
// vlm_end_to_end for the configuration the metadata describes, prints
// `PASS|FAIL <tensor> max_abs=.. max_rel=.. worst_index=..` per check, then `N passed, M failed`.
// --backend cuda runs the kinds that have a GPU path on the GPU (builds with nvcc only); it
// exits 77 when no device is present.
// Exit status 1 if any check failed or a file could not be read or understood (an unknown kind
// included), 2 for bad arguments.

#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "golden/kinds.hpp"
#if VPRIM_GOLDEN_CUDA
#include "golden/cuda_backend.hpp"
#endif

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: vprim_golden [--backend cpu|cuda] FILE.safetensors...\n"
               "Recomputes every recorded tensor of each golden file with vprim and compares.\n");
}

enum class backend { cpu, cuda };

void check_one(const std::string& path, backend where, vprim_golden::report& rep) {
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
#if VPRIM_GOLDEN_CUDA
  if (where == backend::cuda) return vprim_golden::check_on_cuda(g, rep);
#else
  (void)where;
#endif
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
  backend where = backend::cpu;
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
      if (b == "cpu") continue;
#if VPRIM_GOLDEN_CUDA
      if (b == "cuda") {
        if (const std::string why = vprim_golden::cuda_device_problem(); !why.empty()) {
          std::printf("vprim_golden: %s; the cuda backend checks nothing (SKIPPED)\n", why.c_str());
          return 77;
        }
        where = backend::cuda;
        continue;
      }
#endif
      std::fprintf(stderr, "vprim_golden: backend '%s' is not available in this build\n", b.c_str());
      return 2;
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
  for (const auto& f : files) check_one(f, where, rep);
  if (rep.tied() > 0)
    std::printf("vprim_golden: %d outputs differ only where an exact indexer tie made another choice equally right (TIE)\n",
                rep.tied());
  std::printf("%d passed, %d failed\n", rep.passed(), rep.failed());
  std::fflush(stdout);
  return rep.failed() == 0 ? 0 : 1;
}

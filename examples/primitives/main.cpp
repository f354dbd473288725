// SPDX-FileCopyrightText: 2026 vprim developers
// SPDX-License-Identifier: Apache-2.0
// vprim-primitives: the visual-primitive toolkit from the command line.
//
//   vprim-primitives render IMAGE TRANSCRIPT OUT.png
//   vprim-primitives maze [--kind rect|circular|hex] [--algo dfs|prim|kruskal] [--seed N]
//                         [--rows R] [--cols C] [--width W] [--height H] [--unsolvable] OUT.png
//   vprim-primitives path [--seed N] [--curves K] [--curvature C] [--uniform] [--width W] [--height H] OUT.png
//   vprim-primitives score --task counting --truth N TRANSCRIPT
//   vprim-primitives score --task maze <maze options> TRANSCRIPT
//   vprim-primitives score --task path <path options> TRANSCRIPT
//   vprim-primitives parse [--tokens [--vocab tokenizer.json]] FILE
//
// maze and path write OUT.png and, next to it, OUT.txt with the question and the reference
// answer. Results go to stdout as one JSON object. A TRANSCRIPT or FILE of "-" is stdin.
// Exit status: 0 (also when a transcript has errors: they are in the output), 2 for bad
// arguments and unreadable files.
#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "../common/image_files.hpp"
#include "vprim/io/vocabulary.hpp"
#include "vprim/primitives/json_report.hpp"
#include "vprim/primitives/render.hpp"
#include "vprim/primitives/rewards.hpp"
#include "vprim/primitives/task_render.hpp"

namespace {

namespace vp = vprim::primitives;

constexpr const char* usage =
    "usage: vprim-primitives render IMAGE TRANSCRIPT OUT.png\n"
    "       vprim-primitives maze [--kind rect|circular|hex] [--algo dfs|prim|kruskal] [--seed N]\n"
    "                             [--rows R] [--cols C] [--width W] [--height H] [--unsolvable] OUT.png\n"
    "       vprim-primitives path [--seed N] [--curves K] [--curvature C] [--uniform] [--width W] [--height H] OUT.png\n"
    "       vprim-primitives score --task counting|maze|path [--truth N | maze or path options] TRANSCRIPT\n"
    "       vprim-primitives parse [--tokens [--vocab tokenizer.json]] FILE\n";

[[noreturn]] void bad_usage(const std::string& why) {
  std::fprintf(stderr, "vprim-primitives: %s\n%s", why.c_str(), usage);
  std::exit(2);
}

//! Options (--name value, or --flag) and positional arguments of one command.
struct arguments {
  std::map<std::string, std::string> options;
  std::vector<std::string> positional;

  static arguments parse(int argc, char** argv, int first, const std::vector<std::string>& flags) {
    arguments a;
    for (int i = first; i < argc; ++i) {
      const std::string s = argv[i];
      if (s.size() > 2 && s.rfind("--", 0) == 0) {
        const std::string name = s.substr(2);
        if (std::find(flags.begin(), flags.end(), name) != flags.end()) a.options[name] = "1";
        else if (i + 1 < argc) a.options[name] = argv[++i];
        else bad_usage("option " + s + " needs a value");
      } else {
        a.positional.push_back(s);
      }
    }
    return a;
  }
  [[nodiscard]] bool has(const std::string& name) const { return options.count(name) != 0; }
  [[nodiscard]] std::string text(const std::string& name, const std::string& fallback) const {
    const auto it = options.find(name);
    return it == options.end() ? fallback : it->second;
  }
  template <class T>
  [[nodiscard]] T number(const std::string& name, T fallback) const {
    const auto it = options.find(name);
    if (it == options.end()) return fallback;
    T v{};
    const auto& s = it->second;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || end != s.data() + s.size()) bad_usage("--" + name + " expects a number, got '" + s + "'");
    return v;
  }
  void expect_positional(std::size_t n, const char* what) const {
    if (positional.size() != n) bad_usage(std::string("expected ") + what);
  }
  //! Every option given must be one the command knows.
  void only(const std::vector<std::string>& known) const {
    for (const auto& [name, value] : options)
      if (std::find(known.begin(), known.end(), name) == known.end()) bad_usage("unknown option --" + name);
  }
};

std::string read_file(const std::string& path) {
  constexpr std::size_t max_bytes = std::size_t{64} << 20;
  std::string text;
  if (path == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>());
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) bad_usage("cannot open '" + path + "'");
    text.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    if (in.bad()) bad_usage("cannot read '" + path + "'");
  }
  if (text.size() > max_bytes) bad_usage("'" + path + "' is larger than 64 MiB");
  return text;
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  if (!out) bad_usage("cannot write '" + path + "'");
}

void write_png(const vprim::rgb_image& img, const std::string& path) {
  if (examples::save_png(img, path) != vprim::status::ok) bad_usage("cannot write '" + path + "'");
}

std::string json_string(std::string_view s) {
  std::string out;
  vprim::append_json_string(out, s);
  return out;
}
std::string json_number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string sibling_txt(const std::string& png) {
  const auto dot = png.rfind('.');
  const auto slash = png.rfind('/');
  return (dot != std::string::npos && (slash == std::string::npos || dot > slash) ? png.substr(0, dot) : png) + ".txt";
}

// --- task options shared by the generating and the scoring commands -----------------------------
const std::vector<std::string> maze_options = {"kind", "algo", "seed", "rows", "cols", "width", "height", "unsolvable"};
const std::vector<std::string> path_options = {"seed", "curves", "curvature", "uniform", "width", "height"};

vp::maze make_maze(const arguments& a) {
  const std::string kind = a.text("kind", "rect"), algo = a.text("algo", "dfs");
  vp::maze_shape shape;
  if (kind == "rect") shape.kind = vp::maze_kind::rectangular;
  else if (kind == "circular") shape.kind = vp::maze_kind::circular;
  else if (kind == "hex") shape.kind = vp::maze_kind::hexagonal;
  else bad_usage("--kind must be rect, circular or hex, got '" + kind + "'");
  vp::maze_algorithm al = vp::maze_algorithm::dfs;
  if (algo == "prim") al = vp::maze_algorithm::prim;
  else if (algo == "kruskal") al = vp::maze_algorithm::kruskal;
  else if (algo != "dfs") bad_usage("--algo must be dfs, prim or kruskal, got '" + algo + "'");
  shape.rows = a.number("rows", 8);
  shape.cols = a.number("cols", shape.kind == vp::maze_kind::circular ? 16 : 8);
  shape.width = a.number("width", 768);
  shape.height = a.number("height", 768);
  auto m = vp::generate_maze(shape, al, a.number<std::uint32_t>("seed", 1), !a.has("unsolvable"));
  if (!m) bad_usage(m.err().message);
  return std::move(*m);
}

vp::path_task make_path_task(const arguments& a) {
  vp::path_task_params p;
  p.curves = a.number("curves", 4);
  p.curvature = a.number("curvature", 0.35);
  p.uniform_style = a.has("uniform");
  p.width = a.number("width", 768);
  p.height = a.number("height", 768);
  auto t = vp::generate_path_task(p, a.number<std::uint32_t>("seed", 1));
  if (!t) bad_usage(t.err().message);
  return std::move(*t);
}

std::string maze_question(const vp::maze& m) {
  const char* moves = m.shape().kind == vp::maze_kind::circular ? "clockwise, counter-clockwise, inward or outward"
                      : m.shape().kind == vp::maze_kind::hexagonal ? "to any of the six neighbouring cells"
                                                                   : "up, down, left or right";
  return std::string("Find a path from the green marker to the red marker, moving ") + moves +
         " through open passages only. Display \\boxed{True} at the end if there is a path, else display \\boxed{False}.";
}

// --- commands ---------------------------------------------------------------------------------

int cmd_render(const arguments& a) {
  a.only({});
  a.expect_positional(3, "IMAGE TRANSCRIPT OUT.png");
  auto img = examples::load_image(a.positional[0]);
  if (!img) bad_usage(img.err().message);
  const auto parsed = vp::parse_text(read_file(a.positional[1]));
  vp::draw_transcript(*img, parsed);
  write_png(*img, a.positional[2]);
  std::size_t boxes = 0;
  for (const auto& r : parsed.refs) boxes += r.boxes.size();
  std::printf("{\"image\":%s,\"width\":%d,\"height\":%d,\"refs\":%zu,\"boxes\":%zu,\"point_lists\":%zu,\"errors\":%zu}\n",
              json_string(a.positional[2]).c_str(), img->width, img->height, parsed.refs.size(), boxes,
              parsed.points.size(), parsed.errors.size());
  return 0;
}

int cmd_maze(const arguments& a) {
  a.only(maze_options);
  a.expect_positional(1, "OUT.png");
  const auto m = make_maze(a);
  write_png(vp::render_maze(m, vp::random_maze_style(a.number<std::uint32_t>("seed", 1))), a.positional[0]);
  const std::string question = maze_question(m), answer = vp::reference_answer(m);
  write_text(sibling_txt(a.positional[0]), question + "\n" + answer + "\n");
  std::printf("{\"image\":%s,\"cells\":%d,\"solvable\":%s,\"question\":%s,\"reference\":%s}\n", json_string(a.positional[0]).c_str(),
              m.cells(), vp::solve(m).empty() ? "false" : "true", json_string(question).c_str(), json_string(answer).c_str());
  return 0;
}

int cmd_path(const arguments& a) {
  a.only(path_options);
  a.expect_positional(1, "OUT.png");
  const auto t = make_path_task(a);
  write_png(vp::render_path_task(t), a.positional[0]);
  write_text(sibling_txt(a.positional[0]), t.question + "\n" + t.reference + "\n");
  std::printf("{\"image\":%s,\"curves\":%zu,\"question\":%s,\"reference\":%s}\n", json_string(a.positional[0]).c_str(),
              t.curves.size(), json_string(t.question).c_str(), json_string(t.reference).c_str());
  return 0;
}

//! The count a transcript commits to: its \boxed{} answer when that is an integer, otherwise
//! the last integer of its prose.
std::optional<long> predicted_count(const vp::parse_result& r) {
  auto integer = [](std::string_view s) -> std::optional<long> {
    long v = 0;
    const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    return ec == std::errc() && end == s.data() + s.size() ? std::optional<long>(v) : std::nullopt;
  };
  if (r.answer)
    if (auto v = integer(*r.answer)) return v;
  std::optional<long> last;
  for (std::size_t i = 0; i < r.prose.size();) {
    if (r.prose[i] < '0' || r.prose[i] > '9') {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < r.prose.size() && r.prose[j] >= '0' && r.prose[j] <= '9') ++j;
    if (auto v = integer(std::string_view(r.prose).substr(i, std::min<std::size_t>(j - i, 18)))) last = v;
    i = j;
  }
  return last;
}

int cmd_score(const arguments& a) {
  const std::string task = a.text("task", "");
  const auto parsed = [&] {
    a.expect_positional(1, "TRANSCRIPT");
    return vp::parse_text(read_file(a.positional[0]));
  };
  const auto with_task = [](std::vector<std::string> options) {
    options.push_back("task");
    return options;
  };
  std::string out = "{\"task\":" + json_string(task);
  if (task == "counting") {
    a.only({"task", "truth"});
    if (!a.has("truth")) bad_usage("score --task counting needs --truth N");
    const long truth = a.number("truth", 0L);
    const auto r = parsed();
    const auto pred = predicted_count(r);
    out += ",\"truth\":" + std::to_string(truth) + ",\"predicted\":" + (pred ? std::to_string(*pred) : "null") +
           ",\"accuracy\":" + json_number(pred ? vp::counting_reward(static_cast<double>(*pred), static_cast<double>(truth)) : 0.0) +
           ",\"format\":" + json_number(vp::format_reward(r));
  } else if (task == "maze") {
    a.only(with_task(maze_options));
    const auto m = make_maze(a);
    const auto r = parsed();
    const auto t = vp::maze_reward(m, vp::maze_prediction_from(r));
    out += ",\"progress\":" + json_number(t.progress) + ",\"completeness\":" + json_number(t.completeness) +
           ",\"wall\":" + json_number(t.wall) + ",\"path\":" + json_number(t.path) + ",\"answer\":" + json_number(t.answer) +
           ",\"explored_cells\":" + std::to_string(t.explored_cells) + ",\"violations\":" + std::to_string(t.violations) +
           ",\"accuracy\":" + json_number(t.total) + ",\"format\":" + json_number(vp::format_reward(r));
  } else if (task == "path") {
    a.only(with_task(path_options));
    const auto t = make_path_task(a);
    const auto r = parsed();
    const auto s = vp::path_reward(vp::path_prediction_from(r), t.as_reference());
    out += ",\"trajectory\":" + json_number(s.trajectory) + ",\"endpoints\":" + json_number(s.endpoints) +
           ",\"continuity\":" + json_number(s.continuity) + ",\"answer\":" + json_number(s.answer) +
           ",\"accuracy\":" + json_number(s.total) + ",\"format\":" + json_number(vp::format_reward(r));
  } else {
    bad_usage("score needs --task counting, maze or path");
  }
  std::printf("%s}\n", out.c_str());
  return 0;
}

int cmd_parse(const arguments& a) {
  a.only({"tokens", "vocab"});
  a.expect_positional(1, "FILE");
  const std::string text = read_file(a.positional[0]);
  if (!a.has("tokens")) {
    if (a.has("vocab")) bad_usage("--vocab only applies with --tokens");
    std::printf("%s\n", vp::to_json(vp::parse_text(text)).c_str());
    return 0;
  }
  std::optional<vprim::vocabulary> vocab;
  if (a.has("vocab")) {
    auto v = vprim::vocabulary::from_json(read_file(a.text("vocab", "")));
    if (!v) bad_usage(a.text("vocab", "") + ": " + v.err().describe());
    vocab = std::move(*v);
  }
  std::vector<std::int64_t> ids;
  for (std::size_t i = 0; i < text.size();) {
    if (std::isspace(static_cast<unsigned char>(text[i]))) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < text.size() && !std::isspace(static_cast<unsigned char>(text[j]))) ++j;
    std::int64_t id = 0;
    const auto [end, ec] = std::from_chars(text.data() + i, text.data() + j, id);
    if (ec != std::errc() || end != text.data() + j || id < 0)
      bad_usage("'" + text.substr(i, std::min<std::size_t>(j - i, 40)) + "' at byte " + std::to_string(i) +
                " of " + a.positional[0] + " is not a token id");
    ids.push_back(id);
    i = j;
  }
  std::size_t undecoded = 0;
  const vp::tag_ids tags;
  const auto result = vp::parse_tokens(ids, [&](std::int64_t id) -> std::string_view {
    if (vocab)
      if (auto t = vocab->text(id)) return *t;
    ++undecoded;
    return {};
  }, tags);
  if (undecoded > 0)
    std::fprintf(stderr, "vprim-primitives: %zu text tokens had no text (%s); lists made of them read as empty\n", undecoded,
                 vocab ? "not in the vocabulary" : "pass --vocab tokenizer.json to decode them");
  std::printf("%s\n", vp::to_json(result).c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) bad_usage("no command");
  const std::string cmd = argv[1];
  if (cmd == "--help" || cmd == "-h" || cmd == "help") {
    std::printf("%s", usage);
    return 0;
  }
  if (cmd == "render") return cmd_render(arguments::parse(argc, argv, 2, {}));
  if (cmd == "maze") return cmd_maze(arguments::parse(argc, argv, 2, {"unsolvable"}));
  if (cmd == "path") return cmd_path(arguments::parse(argc, argv, 2, {"uniform"}));
  if (cmd == "score") return cmd_score(arguments::parse(argc, argv, 2, {"unsolvable", "uniform"}));
  if (cmd == "parse") return cmd_parse(arguments::parse(argc, argv, 2, {"tokens"}));
  bad_usage("unknown command '" + cmd + "'");
}

// The layers of lib/ as the README's layer table states them, checked against the code:
// every folder of lib/ is a row of the table, and no file includes a header of a layer
// above its own. The table is the source of truth; this test keeps the code to it.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

const fs::path source_dir = CARTGATE_SOURCE_DIR;

std::string read_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Folder → rank, from README.md rows like "| 3 | `lib/wire/` | … |".
std::map<std::string, int> layer_table() {
  std::map<std::string, int> ranks;
  std::istringstream readme(read_file(source_dir / "README.md"));
  static const std::regex row(R"(^\|\s*(\d+)\s*\|\s*`lib/([a-z_]+)/`\s*\|)");
  std::string line;
  std::smatch m;
  while (std::getline(readme, line)) {
    if (std::regex_search(line, m, row)) ranks[m[2]] = std::stoi(m[1]);
  }
  return ranks;
}

struct include_line {
  fs::path file;
  int line;
  std::string target;
};

std::vector<include_line> project_includes(const fs::path& dir) {
  std::vector<include_line> out;
  static const std::regex inc(R"re(^\s*#\s*include\s+"([^"]+)")re");
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    auto ext = e.path().extension();
    if (ext != ".h" && ext != ".cc") continue;
    std::istringstream in(read_file(e.path()));
    std::string text;
    std::smatch m;
    for (int n = 1; std::getline(in, text); ++n) {
      if (std::regex_search(text, m, inc)) out.push_back({e.path(), n, m[1]});
    }
  }
  return out;
}

// "rules/chain.h" → "rules"; "" for an include without a folder.
std::string folder_of(const std::string& include) {
  auto slash = include.find('/');
  return slash == std::string::npos ? std::string() : include.substr(0, slash);
}

TEST(Architecture, ReadmeLayerTableListsEveryFolderOfLibAndNothingElse) {
  auto ranks = layer_table();
  ASSERT_GE(ranks.size(), 5u) << "README.md has no layer table (| N | `lib/x/` | … |)";
  for (const auto& e : fs::directory_iterator(source_dir / "lib")) {
    if (!e.is_directory()) continue;
    EXPECT_TRUE(ranks.count(e.path().filename().string()))
        << "lib/" << e.path().filename().string() << "/ is not in README.md's layer table";
  }
  for (const auto& [folder, rank] : ranks) {
    EXPECT_TRUE(fs::is_directory(source_dir / "lib" / folder)) << "README.md lists lib/" << folder << "/";
  }
  for (const auto& e : fs::directory_iterator(source_dir / "lib")) {
    EXPECT_TRUE(e.is_directory()) << e.path() << ": every file of lib/ belongs to a layer's folder";
  }
}

TEST(Architecture, NoLibFileIncludesALayerAboveItsOwn) {
  auto ranks = layer_table();
  ASSERT_FALSE(ranks.empty());
  int checked = 0;
  for (const auto& inc : project_includes(source_dir / "lib")) {
    std::string own = fs::relative(inc.file, source_dir / "lib").begin()->string();
    std::string where = fs::relative(inc.file, source_dir).string() + ":" + std::to_string(inc.line);
    std::string target = folder_of(inc.target);
    // lib/ includes by folder, so a bare name would be a header of app/ (or a typo).
    if (target.empty()) {
      ADD_FAILURE() << where << " includes \"" << inc.target << "\" without its folder";
      continue;
    }
    if (!ranks.count(target)) {
      ADD_FAILURE() << where << " includes \"" << inc.target << "\": no such layer";
      continue;
    }
    EXPECT_LE(ranks[target], ranks[own])
        << where << ": lib/" << own << "/ (layer " << ranks[own] << ") includes \"" << inc.target
        << "\" (layer " << ranks[target] << ")";
    ++checked;
  }
  EXPECT_GT(checked, 100) << "the walk found too few includes to mean anything";
}

TEST(Architecture, PluginsSeeOnlyThePluginAbi) {
  for (const auto& inc : project_includes(source_dir / "plugins")) {
    EXPECT_EQ(inc.target, "rules/plugin_api.h")
        << fs::relative(inc.file, source_dir).string() << ":" << inc.line << " includes \"" << inc.target << "\"";
  }
}

// jwt.failure_status is applied in one place: every answer lib/api/ gives for a failure
// goes through api::services::refuse, which hands the live policy's status to
// to_response. A handler calling to_response itself would answer a Bearer failure 401
// whatever the option says.
TEST(Architecture, ApiAnswersFailuresThroughRefuse) {
  static const std::regex direct(R"(\bto_response\s*\()");
  int files = 0;
  for (const auto& e : fs::directory_iterator(source_dir / "lib" / "api")) {
    if (e.path().extension() != ".cc") continue;
    ++files;
    std::istringstream in(read_file(e.path()));
    std::string text;
    for (int n = 1; std::getline(in, text); ++n) {
      EXPECT_FALSE(std::regex_search(text, direct))
          << fs::relative(e.path(), source_dir).string() << ":" << n
          << " answers with to_response; use s.refuse (jwt.failure_status)";
    }
  }
  EXPECT_GE(files, 5);
}

}  // namespace

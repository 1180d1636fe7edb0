// The README's configuration and option tables are the code's tables written out: every
// key, default and doc line of config_keys() and option_table() appears in README.md
// exactly as below, in the same order, and nothing else does. Change the code and the
// README together; this test names the first row that drifted.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "infra/config.h"
#include "policy/options.h"

namespace cartgate {
namespace {

std::string readme() {
  std::ifstream in(std::string(CARTGATE_SOURCE_DIR) + "/README.md");
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The rows of the table whose header line is `header`, up to the first line that is not
// a table row.
std::vector<std::string> table_rows(const std::string& text, const std::string& header) {
  std::vector<std::string> rows;
  auto at = text.find(header + "\n");
  if (at == std::string::npos) return rows;
  std::istringstream in(text.substr(at));
  std::string line;
  std::getline(in, line);  // header
  std::getline(in, line);  // |---|
  while (std::getline(in, line) && line.rfind("| ", 0) == 0) rows.push_back(line);
  return rows;
}

std::string shown(std::string_view value) {
  std::ostringstream out;
  if (value.empty()) {
    out << "(empty)";
  } else {
    out << '`' << value << '`';
  }
  return out.str();
}

std::string type_text(const option_def& d) {
  switch (d.type) {
    case option_type::boolean: return "boolean";
    case option_type::integer: {
      std::ostringstream out;
      out << "integer (" << d.min << ".." << d.max << ")";
      return out.str();
    }
    case option_type::text: return "text";
    case option_type::country_list: return "country_list";
    case option_type::role_list_or_mode: return "role_list_or_mode";
    case option_type::timezone: return "timezone";
    case option_type::proxy_list: return "proxy_list";
    case option_type::header_name: return "header_name";
    case option_type::choice: return "choice (" + std::string(d.choices) + ")";
  }
  return "?";
}

void expect_same_rows(const std::vector<std::string>& expected, const std::vector<std::string>& actual,
                      const char* table) {
  ASSERT_FALSE(actual.empty()) << "README.md has no " << table << " table";
  for (std::size_t i = 0; i < std::max(expected.size(), actual.size()); ++i) {
    std::string want = i < expected.size() ? expected[i] : "(no row)";
    std::string have = i < actual.size() ? actual[i] : "(no row)";
    ASSERT_EQ(want, have) << table << " row " << i + 1 << " drifted from the code";
  }
}

TEST(Docs, ReadmeConfigurationTableIsConfigKeys) {
  std::vector<std::string> expected;
  for (const auto& k : config_keys()) {
    std::ostringstream row;
    row << "| `" << k.key << "` | " << shown(k.default_value) << " | " << k.doc << " |";
    expected.push_back(row.str());
  }
  expect_same_rows(expected, table_rows(readme(), "| key | default | meaning |"), "configuration");
}

TEST(Docs, ReadmeOptionTableIsTheOptionTable) {
  std::vector<std::string> expected;
  for (const auto& d : option_table()) {
    std::ostringstream row;
    row << "| `" << d.key << "` | " << type_text(d) << " | " << shown(d.default_value) << " | " << d.doc << " |";
    expected.push_back(row.str());
  }
  expect_same_rows(expected, table_rows(readme(), "| key | type | default | meaning |"), "option");
}

}  // namespace
}  // namespace cartgate

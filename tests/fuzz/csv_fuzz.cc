// Fuzzes csv::read_record (`cartgate user import`): reading a whole file never loops or
// loses a newline from the line count, and the records read, written back with every
// field quoted, read back as the same records.
#include <cstddef>
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "base/csv.h"
#include "fuzz_check.h"

namespace csv = cartgate::csv;
using fuzz::check;

namespace {

std::vector<std::vector<std::string>> read_all(const std::string& text, std::size_t& line) {
  std::istringstream in(text);
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> fields;
  line = 1;
  while (csv::read_record(in, fields, line)) {
    check(!fields.empty());
    records.push_back(fields);
    check(records.size() <= text.size());  // every record consumes at least one byte
  }
  return records;
}

std::string quoted(const std::vector<std::vector<std::string>>& records) {
  std::string out;
  for (const auto& r : records) {
    for (std::size_t i = 0; i < r.size(); ++i) {
      if (i > 0) out += ',';
      out += '"';
      for (char c : r[i]) {
        if (c == '"') out += '"';
        out += c;
      }
      out += '"';
    }
    out += '\n';
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string text(reinterpret_cast<const char*>(data), size);
  std::size_t line = 0;
  auto records = read_all(text, line);
  std::size_t newlines = 0;
  for (char c : text) newlines += c == '\n';
  check(line == 1 + newlines);
  check(records.empty() == text.empty());

  std::size_t again_line = 0;
  check(read_all(quoted(records), again_line) == records);
  return 0;
}

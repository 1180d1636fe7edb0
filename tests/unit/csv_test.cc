#include "base/csv.h"

#include <gtest/gtest.h>

#include <sstream>

namespace cartgate::csv {
namespace {

std::vector<std::vector<std::string>> read_all(const std::string& text, std::size_t* lines = nullptr) {
  std::istringstream in(text);
  std::vector<std::vector<std::string>> out;
  std::vector<std::string> fields;
  std::size_t line = 1;
  while (read_record(in, fields, line)) out.push_back(fields);
  if (lines) *lines = line;
  return out;
}

using records = std::vector<std::vector<std::string>>;

TEST(Csv, QuotedFieldsDoubledQuotesAndCrlf) {
  EXPECT_EQ(read_all("a,\"b,c\",\"say \"\"hi\"\"\"\r\n1,,3\n"),
            (records{{"a", "b,c", "say \"hi\""}, {"1", "", "3"}}));
}

TEST(Csv, NewlineInsideQuotesStaysInTheFieldAndIsCounted) {
  std::size_t line = 0;
  EXPECT_EQ(read_all("\"two\nlines\",x\ny\n", &line), (records{{"two\nlines", "x"}, {"y"}}));
  EXPECT_EQ(line, 4u);  // three newlines read, counting from 1
}

TEST(Csv, LastRecordWithoutNewlineAndEmptyLines) {
  EXPECT_EQ(read_all("\n,\nend"), (records{{""}, {"", ""}, {"end"}}));
  EXPECT_TRUE(read_all("").empty());
}

TEST(Csv, UnclosedQuoteKeepsTheRestOfTheInput) {
  EXPECT_EQ(read_all("a,\"open\nb,c"), (records{{"a", "open\nb,c"}}));
}

}  // namespace
}  // namespace cartgate::csv

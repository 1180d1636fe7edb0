// RFC 4180 CSV records, as `cartgate user import` reads a WordPress users export: quoted
// fields, doubled quotes inside them, newlines inside quotes, CRLF or LF line ends.
//
//   std::vector<std::string> fields;
//   std::size_t line = 1;
//   while (cartgate::csv::read_record(in, fields, line)) use(fields);
#pragma once

#include <cstddef>
#include <istream>
#include <string>
#include <vector>

namespace cartgate::csv {

// Reads one record into fields (cleared first). line counts the newlines consumed,
// those inside quoted fields included, so the caller can name the line a record
// started on. A CR outside quotes is dropped; a quote not closed before the end keeps
// what followed it. False only at the end of input with nothing read.
bool read_record(std::istream& in, std::vector<std::string>& fields, std::size_t& line);

}  // namespace cartgate::csv

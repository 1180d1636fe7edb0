// Fuzzes fastcgi::parser with the input fed in data-driven chunks: request bounds, sticky
// errors, well-formed management replies, and the same result as one whole feed. Also
// checks that encode_response(id, input) reads back as STDOUT records + END_REQUEST.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chunker.h"
#include "wire/fastcgi.h"

namespace fastcgi = cartgate::fastcgi;

namespace {

constexpr std::size_t body_limit = 64 * 1024;

// Every violated invariant is a crash, so libFuzzer keeps the input as a reproducer.
void check(bool ok) {
  if (!ok) __builtin_trap();
}

struct record {
  std::uint8_t type = 0;
  std::uint16_t id = 0;
  std::string_view content;
};

// A reader independent of the parser under test, so both sides of the wire are checked
// against the specification rather than against each other. false: not a clean sequence
// of whole records (bad version, truncated, or padding that breaks 8-byte alignment).
bool read_records(std::string_view in, std::vector<record>& out) {
  std::size_t pos = 0;
  while (pos < in.size()) {
    if (in.size() - pos < 8) return false;
    const auto* h = reinterpret_cast<const unsigned char*>(in.data() + pos);
    if (h[0] != 1) return false;
    std::size_t length = (std::size_t{h[4]} << 8) | h[5];
    std::size_t padding = h[6];
    std::size_t total = 8 + length + padding;
    if (total % 8 != 0 || in.size() - pos < total) return false;
    for (std::size_t i = 0; i < padding; ++i) {
      if (in[pos + 8 + length + i] != '\0') return false;
    }
    out.push_back({h[1], static_cast<std::uint16_t>((h[2] << 8) | h[3]),
                   in.substr(pos + 8, length)});
    pos += total;
  }
  return true;
}

// The bytes of an END_REQUEST body: app status (4), protocol status (1), reserved (3).
bool is_end_request_body(std::string_view c) {
  return c.size() == 8 && c[5] == 0 && c[6] == 0 && c[7] == 0;
}

void check_replies(std::string_view replies) {
  std::vector<record> records;
  check(read_records(replies, records));
  for (const auto& r : records) {
    switch (r.type) {
      case fastcgi::get_values_result:
        check(r.id == 0);
        check(fastcgi::decode_pairs(r.content).has_value());
        break;
      case fastcgi::unknown_type:
        check(r.id == 0 && r.content.size() == 8);
        break;
      case fastcgi::end_request:
        // Refused or aborted requests only, never the management id.
        check(r.id != 0 && is_end_request_body(r.content));
        break;
      default:
        check(false);  // the parser owes the peer nothing else
    }
  }
}

void check_request(const fastcgi::request& r) {
  check(r.id != 0);
  check(r.body.size() <= body_limit);
  check(r.body.size() <= r.body_bytes);
  check(r.body_truncated() == (r.body_bytes > r.body.size()));
  // Params came from a decodable stream; encoding them again must decode to the same.
  std::string again;
  for (const auto& [name, value] : r.params) fastcgi::encode_pair(again, name, value);
  auto decoded = fastcgi::decode_pairs(again);
  check(decoded.has_value() && *decoded == r.params);
}

bool same_request(const fastcgi::request& a, const fastcgi::request& b) {
  return a.id == b.id && a.keep_conn == b.keep_conn && a.params == b.params && a.body == b.body &&
         a.body_bytes == b.body_bytes;
}

struct outcome {
  std::vector<fastcgi::request> requests;
  std::string replies;
  fastcgi::error error = fastcgi::error::none;
};

void drain(fastcgi::parser& p, outcome& out) {
  while (auto r = p.next_request()) {
    check_request(*r);
    out.requests.push_back(std::move(*r));
  }
  std::string replies = p.take_replies();
  // Each take_replies() is a whole number of records: front.cc writes it as it is.
  check_replies(replies);
  out.replies += replies;
}


// Where each record of the stream ends, read from the headers alone: a feed that stops
// anywhere else leaves part of a record buffered.
std::vector<bool> record_ends(std::string_view stream) {
  std::vector<bool> ends(stream.size() + 1, false);
  ends[0] = true;
  std::size_t pos = 0;
  while (stream.size() - pos >= 8) {
    const auto* h = reinterpret_cast<const unsigned char*>(stream.data() + pos);
    pos += 8 + ((std::size_t{h[4]} << 8) | h[5]) + h[6];
    if (pos > stream.size()) break;
    ends[pos] = true;
  }
  return ends;
}

void fuzz_parser(std::uint8_t control, std::string_view stream) {
  const std::vector<bool> ends = record_ends(stream);
  outcome chunked;
  {
    fastcgi::parser p(body_limit);
    chunker sizes(control);
    bool failed = false;
    std::size_t pos = 0;
    do {
      std::size_t n = std::min(sizes.next(), stream.size() - pos);
      bool ok = p.feed(stream.data() + pos, n);
      pos += n;
      if (failed) check(!ok);  // nothing is parsed after an error
      if (!ok) failed = true;
      check(ok == (p.last_error() == fastcgi::error::none));
      // front.cc reads mid_request() to tell an idle connection from a slow peer.
      if (!failed && !ends[pos]) check(p.mid_request());
      drain(p, chunked);
    } while (pos < stream.size());
    if (failed) {
      // Once failed, even an empty or a perfectly valid feed is refused.
      check(!p.feed("", 0));
      check(!p.feed("\1\11\0\0\0\0\0\0", 8));
      check(p.last_error() != fastcgi::error::none);
    }
    chunked.error = p.last_error();
  }

  outcome whole;
  {
    fastcgi::parser p(body_limit);
    bool ok = p.feed(stream.data(), stream.size());
    check(ok == (p.last_error() == fastcgi::error::none));
    drain(p, whole);
    whole.error = p.last_error();
  }

  // How the stream was split must not change what it means.
  check(chunked.error == whole.error);
  check(chunked.replies == whole.replies);
  check(chunked.requests.size() == whole.requests.size());
  for (std::size_t i = 0; i < whole.requests.size(); ++i)
    check(same_request(chunked.requests[i], whole.requests[i]));
}

void fuzz_encoder(std::uint16_t id, std::string_view data) {
  std::string wire = fastcgi::encode_response(id, data);
  std::vector<record> records;
  check(read_records(wire, records));
  check(records.size() >= 2);
  std::string body;
  for (std::size_t i = 0; i + 2 < records.size(); ++i) {
    const auto& r = records[i];
    // An empty STDOUT would end the stream early, so every data record carries bytes.
    check(r.type == fastcgi::stdout_record && r.id == id && !r.content.empty());
    body.append(r.content);
  }
  check(body == data);
  const auto& end_stdout = records[records.size() - 2];
  check(end_stdout.type == fastcgi::stdout_record && end_stdout.id == id &&
        end_stdout.content.empty());
  const auto& end = records.back();
  check(end.type == fastcgi::end_request && end.id == id && is_end_request_body(end.content));
  // app status 0, FCGI_REQUEST_COMPLETE
  check(end.content.substr(0, 5) == std::string_view("\0\0\0\0\0", 5));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::uint8_t control = size > 0 ? data[0] : 0;
  fuzz_parser(control, size > 0 ? input.substr(1) : input);
  std::uint16_t id = size >= 2 ? static_cast<std::uint16_t>((data[0] << 8) | data[1]) : 1;
  fuzz_encoder(id, input);
  return 0;
}

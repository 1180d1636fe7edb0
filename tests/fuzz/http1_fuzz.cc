// Fuzzes http1::parser with the input fed in data-driven chunks: every request it returns
// has a clean method, path, header names and values and a bounded body; a failure is
// sticky; and a whole feed yields the same requests and the same final error.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "chunker.h"
#include "http/message.h"
#include "wire/http1.h"

namespace http = cartgate::http;
namespace http1 = cartgate::http1;

namespace {

// Every violated invariant is a crash, so libFuzzer keeps the input as a reproducer.
void check(bool ok) {
  if (!ok) __builtin_trap();
}

// RFC 9110 §5.6.2 tchar, written out again rather than shared with the parser, so a
// mistake in the parser's table is not repeated here.
bool is_lower_token_char(unsigned char c) {
  if (c >= 'a' && c <= 'z') return true;
  if (c >= '0' && c <= '9') return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

void check_request(const http1::request& req) {
  const http::request& r = req.http;
  check(!r.method.empty());
  for (char c : r.method) check(c >= 'A' && c <= 'Z');
  check(!r.path.empty() && r.path.front() == '/');
  for (char ch : r.path) {
    auto c = static_cast<unsigned char>(ch);
    check(c >= 0x21 && c != 0x7f);
  }
  for (const auto& [name, value] : r.headers) {
    check(!name.empty());
    for (char c : name) check(is_lower_token_char(static_cast<unsigned char>(c)));
    for (char c : value) check(c != '\r' && c != '\n' && c != '\0');
  }
  check(r.body.size() <= http::max_body_bytes);
  // A body comes only with Content-Length, and is exactly that long.
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    std::string_view v = it->second;
    while (v.size() > 1 && v.front() == '0') v.remove_prefix(1);
    check(!v.empty() && v.size() <= 9 && std::stoul(std::string(v)) == r.body.size());
  } else {
    check(r.body.empty());
  }
  check(r.headers.count("transfer-encoding") == 0);
}

// What a request means to the routes; a split of the stream must not change any of it.
bool same_request(const http1::request& a, const http1::request& b) {
  return a.http.method == b.http.method && a.http.path == b.http.path &&
         a.http.query == b.http.query && a.http.body == b.http.body &&
         a.http.headers == b.http.headers && a.http.content_type == b.http.content_type &&
         a.keep_alive == b.keep_alive;
}

struct outcome {
  std::vector<http1::request> requests;
  http1::error error = http1::error::none;
};

// Calls next() until it has nothing more, checking that a failure, once there, stays.
void drain(http1::parser& p, outcome& out) {
  while (true) {
    bool was_failed = p.failed();
    http1::error was_error = p.last_error();
    auto r = p.next();
    if (was_failed) {
      check(!r && p.failed() && p.last_error() == was_error);
    }
    check(p.failed() == (p.last_error() != http1::error::none));
    if (!r) break;
    check(!p.failed());  // a request and a failure never come from one call
    check_request(*r);
    out.requests.push_back(std::move(*r));
  }
}


// The encoder, fed what the parser returned: the body goes out whole, its length stated.
void check_encoder(const http1::request& req, std::uint8_t control) {
  http::response res;
  static constexpr int statuses[] = {200, 204, 304, 401, 403, 500};
  res.status = statuses[control % 6];
  res.body = req.http.body;
  std::string out = http1::encode_response(res, req.keep_alive);
  check(out.rfind("HTTP/1.1 ", 0) == 0);
  std::size_t head_end = out.find("\r\n\r\n");
  check(head_end != std::string::npos);
  std::string_view head(out.data(), head_end + 2);
  bool has_body = res.status != 204 && res.status != 304;
  if (has_body) {
    check(out.size() == head_end + 4 + res.body.size());
    check(out.compare(head_end + 4, std::string::npos, res.body) == 0);
    check(head.find("\r\nContent-Length: " + std::to_string(res.body.size()) + "\r\n") !=
          std::string_view::npos);
  } else {
    check(out.size() == head_end + 4);
  }
  check((head.find("\r\nConnection: close\r\n") != std::string_view::npos) == !req.keep_alive);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::uint8_t control = size > 0 ? data[0] : 0;
  std::string_view stream(reinterpret_cast<const char*>(data), size);
  if (size > 0) stream.remove_prefix(1);

  outcome chunked;
  {
    http1::parser p;
    chunker sizes(control);
    std::size_t pos = 0;
    do {
      std::size_t n = std::min(sizes.next(), stream.size() - pos);
      p.feed(stream.data() + pos, n);
      pos += n;
      drain(p, chunked);
    } while (pos < stream.size());
    chunked.error = p.last_error();
    if (p.failed()) {
      // Even a perfectly good request is not parsed after a failure.
      p.feed("GET / HTTP/1.1\r\n\r\n", 18);
      check(!p.next() && p.last_error() == chunked.error);
    }
  }

  outcome whole;
  {
    http1::parser p;
    p.feed(stream.data(), stream.size());
    drain(p, whole);
    whole.error = p.last_error();
  }

  check(chunked.error == whole.error);
  check(chunked.requests.size() == whole.requests.size());
  for (std::size_t i = 0; i < whole.requests.size(); ++i)
    check(same_request(chunked.requests[i], whole.requests[i]));
  for (const auto& r : whole.requests) check_encoder(r, control);
  return 0;
}

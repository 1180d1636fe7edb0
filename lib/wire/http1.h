// HTTP/1.1 as nginx's proxy module speaks it to an upstream, for the one route that
// needs it: the auth subrequest. nginx reuses a FastCGI connection only after reading
// the response's END_REQUEST, and it never reads past the headers of an auth_request
// subrequest (a header-only request), so over FastCGI every storefront request would
// cost a connect, an accept and a close. Over HTTP nginx keeps the connection for a
// 204 or a Content-Length answer. So `/_cartgate/auth` is proxied to a second socket
// (server.auth_socket) that speaks this small subset:
//
//   - one request at a time (nginx does not pipeline to upstreams);
//   - a request head of at most max_head_bytes; a body only with Content-Length, at most
//     max_body_bytes; Transfer-Encoding is refused (nginx sends no body here);
//   - keep-alive unless HTTP/1.0 or "Connection: close".
//
//   http1::parser p;
//   p.feed(bytes, n);
//   if (auto req = p.next()) …;          // p.failed(): answer 400 and close
//   send(fd, http1::encode_response(res, keep_alive));
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "http/message.h"

namespace cartgate::http1 {

inline constexpr std::size_t max_head_bytes = 64 * 1024;

struct request {
  http::request http;  // method, path, query, headers (lower-case names), body
  bool keep_alive = true;
};

enum class error { none, head_too_large, bad_request_line, bad_header, body_too_large, chunked };
std::string_view error_name(error e);

class parser {
 public:
  void feed(const char* bytes, std::size_t n);
  // The next complete request, or nullopt (need more bytes, or failed()).
  std::optional<request> next();
  bool failed() const { return error_ != error::none; }
  error last_error() const { return error_; }
  // Bytes of an unfinished request are buffered.
  bool mid_request() const { return buffer_.size() > offset_; }
  // Bytes received and not yet returned as a request.
  std::size_t buffered() const { return buffer_.size() - offset_; }

 private:
  std::string buffer_;
  std::size_t offset_ = 0;
  // How much of the unparsed head has been searched for its blank line already, so a
  // head arriving a byte at a time is scanned once, not once per byte.
  std::size_t scanned_ = 0;
  error error_ = error::none;
};

// "HTTP/1.1 <status> <text>", the response's headers, Content-Length, Connection:
// close when !keep_alive, the blank line and the body (none for 204).
std::string encode_response(const http::response& res, bool keep_alive);

}  // namespace cartgate::http1

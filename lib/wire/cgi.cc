#include "wire/cgi.h"

#include "base/text.h"

namespace cartgate::cgi {

http::request to_request(fastcgi::request& in, bool& too_large) {
  http::request r;
  std::string length_text;
  std::string request_uri;
  // One branch per CGI variable cartgate reads (RFC 3875 §4.1); the rest are ignored.
  for (auto& [name, value] : in.params) {
    if (name.rfind("HTTP_", 0) == 0) {
      std::string h = text::ascii_lower(std::string_view(name).substr(5));
      for (auto& c : h) {
        if (c == '_') c = '-';
      }
      r.headers[std::move(h)] = std::move(value);
    } else if (name == "REQUEST_METHOD") {
      r.method = std::move(value);
    } else if (name == "DOCUMENT_URI") {
      r.path = std::move(value);
    } else if (name == "REQUEST_URI") {
      request_uri = std::move(value);
    } else if (name == "QUERY_STRING") {
      r.query = std::move(value);
    } else if (name == "REMOTE_ADDR") {
      r.remote_addr = std::move(value);
    } else if (name == "CONTENT_TYPE") {
      r.content_type = http::media_type(value);
    } else if (name == "CONTENT_LENGTH") {
      length_text = std::move(value);
    }
  }
  if (r.path.empty()) r.path = request_uri.substr(0, request_uri.find('?'));
  std::size_t declared = 0;
  if (!length_text.empty()) {
    try {
      declared = std::stoull(length_text);
    } catch (...) {
      declared = http::max_body_bytes + 1;
    }
  }
  too_large = declared > http::max_body_bytes || in.body_truncated();
  r.body = std::move(in.body);
  return r;
}

std::string response_text(const http::response& res) {
  std::string out;
  out.reserve(128 + res.body.size());
  http::append_head(out, "Status: ", res, /*length=*/false);
  out += "\r\n";
  if (http::has_body(res.status)) out += res.body;
  return out;
}

}  // namespace cartgate::cgi

#include "wire/http1.h"

#include <algorithm>
#include <array>

#include "base/text.h"

namespace cartgate::http1 {
namespace {

// RFC 9110 §5.6.2 tchar, as a table: the parser asks once per byte of every header name.
constexpr std::array<bool, 256> token_chars = [] {
  std::array<bool, 256> t{};
  for (int c = '0'; c <= '9'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'a'; c <= 'z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (int c = 'A'; c <= 'Z'; ++c) t[static_cast<std::size_t>(c)] = true;
  for (char c : std::string_view("!#$%&'*+-.^_`|~")) t[static_cast<unsigned char>(c)] = true;
  return t;
}();

bool is_token_char(unsigned char c) { return token_chars[c]; }

// ASCII only: header names and tokens are ASCII, and no locale is consulted.
using text::ascii_lower;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}


bool has_token(std::string_view list, std::string_view token) {
  std::size_t pos = 0;
  while (pos <= list.size()) {
    std::size_t comma = list.find(',', pos);
    if (comma == std::string_view::npos) comma = list.size();
    if (ascii_lower(trim(list.substr(pos, comma - pos))) == token) return true;
    pos = comma + 1;
  }
  return false;
}


}  // namespace

// An enum's names for logs and metrics, one case each: these switches share a shape
// across the codecs by design (a name never shifts the way a number would).
std::string_view error_name(error e) {
  switch (e) {
    case error::none:
      return "none";
    case error::head_too_large:
      return "head_too_large";
    case error::bad_request_line:
      return "bad_request_line";
    case error::bad_header:
      return "bad_header";
    case error::body_too_large:
      return "body_too_large";
    case error::chunked:
      return "chunked";
  }
  return "unknown";
}

void parser::feed(const char* bytes, std::size_t n) {
  if (failed()) return;
  if (offset_ > 0 && offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  buffer_.append(bytes, n);
}

std::optional<request> parser::next() {
  if (failed()) return std::nullopt;
  std::string_view rest(buffer_.data() + offset_, buffer_.size() - offset_);
  // Resume 3 bytes before where the last search stopped: the terminator may straddle.
  std::size_t head_end = rest.find("\r\n\r\n", scanned_ > 3 ? scanned_ - 3 : 0);
  if (head_end == std::string_view::npos) {
    scanned_ = rest.size();
    if (rest.size() > max_head_bytes) error_ = error::head_too_large;
    return std::nullopt;
  }
  if (head_end + 4 > max_head_bytes) {
    error_ = error::head_too_large;
    return std::nullopt;
  }
  std::string_view head = rest.substr(0, head_end);

  request out;
  http::request& r = out.http;
  // Request line: method SP target SP version (RFC 9112 §3).
  std::size_t line_end = head.find("\r\n");
  std::string_view line = head.substr(0, line_end);
  std::size_t sp1 = line.find(' ');
  std::size_t sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || sp1 == 0) {
    error_ = error::bad_request_line;
    return std::nullopt;
  }
  std::string_view method = line.substr(0, sp1);
  std::string_view target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  bool methods_ok =
      std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
  // The target is visible ASCII only (RFC 9112 §3.2): no control bytes, no spaces.
  bool target_ok = !target.empty() && target.front() == '/' &&
                   std::all_of(target.begin(), target.end(), [](char ch) {
                     auto c = static_cast<unsigned char>(ch);
                     return c > 0x20 && c < 0x7f;
                   });
  if (!methods_ok || !target_ok || (version != "HTTP/1.1" && version != "HTTP/1.0")) {
    error_ = error::bad_request_line;
    return std::nullopt;
  }
  r.method = std::string(method);
  std::size_t q = target.find('?');
  r.path = std::string(target.substr(0, q));
  if (q != std::string_view::npos) r.query = std::string(target.substr(q + 1));
  out.keep_alive = version == "HTTP/1.1";

  // Header fields (RFC 9112 §5): no obsolete line folding, no whitespace before ':'.
  std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view field = head.substr(pos, end - pos);
    pos = end + 2;
    std::size_t colon = field.find(':');
    if (colon == 0 || colon == std::string_view::npos ||
        !std::all_of(field.begin(), field.begin() + static_cast<std::ptrdiff_t>(colon),
                     [](char c) { return is_token_char(static_cast<unsigned char>(c)); })) {
      error_ = error::bad_header;
      return std::nullopt;
    }
    std::string name = ascii_lower(field.substr(0, colon));
    std::string_view value = trim(field.substr(colon + 1));
    // A bare CR or LF, or a NUL, inside a value (one plain pass: values are short).
    if (std::any_of(value.begin(), value.end(),
                    [](char ch) { return ch == '\r' || ch == '\n' || ch == '\0'; })) {
      error_ = error::bad_header;
      return std::nullopt;
    }
    auto [it, fresh] = r.headers.try_emplace(name, value);
    if (!fresh) {
      // Repeated fields combine into one list (RFC 9110 §5.3); Content-Length may not.
      if (name == "content-length") {
        error_ = error::bad_header;
        return std::nullopt;
      }
      it->second += ", ";
      it->second += value;
    }
  }
  if (r.headers.count("transfer-encoding")) {
    error_ = error::chunked;
    return std::nullopt;
  }
  std::size_t length = 0;
  if (auto it = r.headers.find("content-length"); it != r.headers.end()) {
    std::string_view v = it->second;
    if (v.empty() ||
        !std::all_of(v.begin(), v.end(), [](char c) { return c >= '0' && c <= '9'; })) {
      error_ = error::bad_header;
      return std::nullopt;
    }
    // 1*DIGIT (RFC 9110 §8.6): leading zeros are allowed, and a number too long to read
    // is simply too large.
    while (v.size() > 1 && v.front() == '0') v.remove_prefix(1);
    length = v.size() > 9 ? http::max_body_bytes + 1 : std::stoul(std::string(v));
    if (length > http::max_body_bytes) {
      error_ = error::body_too_large;
      return std::nullopt;
    }
  }
  if (rest.size() < head_end + 4 + length) return std::nullopt;  // the body is still arriving
  r.body = std::string(rest.substr(head_end + 4, length));
  if (auto it = r.headers.find("connection"); it != r.headers.end()) {
    if (has_token(it->second, "close"))
      out.keep_alive = false;
    else if (has_token(it->second, "keep-alive"))
      out.keep_alive = true;
  }
  if (auto it = r.headers.find("content-type"); it != r.headers.end())
    r.content_type = http::media_type(it->second);
  offset_ += head_end + 4 + length;
  scanned_ = 0;
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  return out;
}

std::string encode_response(const http::response& res, bool keep_alive) {
  std::string out;
  out.reserve(160 + res.body.size());
  http::append_head(out, "HTTP/1.1 ", res, /*length=*/true);
  if (!keep_alive) out += "Connection: close\r\n";
  out += "\r\n";
  if (http::has_body(res.status)) out += res.body;
  return out;
}

}  // namespace cartgate::http1

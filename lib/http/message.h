// The request and response cartgate's routes see: plain values, independent of FastCGI,
// so handlers and tests never touch the transport.
//
//   http::request r = cgi::to_request(…);   // or http1::parser: lib/wire/
//   auto creds = r.basic_credentials();     // Authorization: Basic …
//   http::response res = http::json_response(200, body);
#pragma once

#include <json/json.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cartgate::http {

// Bodies larger than this are refused with 413 before they are read (contract §1).
inline constexpr std::size_t max_body_bytes = 64 * 1024;

struct request {
  std::string method;        // "GET", "POST", …
  std::string path;          // decoded path, no query string
  std::string query;         // raw query string
  std::string remote_addr;   // the peer nginx saw
  std::string client_ip;     // resolved once, from the trusted-proxy list
  std::string content_type;  // lower-cased media type, parameters dropped
  std::string body;
  std::map<std::string, std::string> headers;  // lower-case names, e.g. "user-agent"
  // Came on cartgate's internal HTTP socket (server.auth_socket), which only nginx's auth
  // subrequest and the storefront's own PHP reach; false for every FastCGI request.
  bool internal = false;
  // The {name} segments of the route's path (api/routes.h), filled when it is answered.
  std::map<std::string, std::string, std::less<>> path_params;

  std::string header(std::string_view name) const;  // "" when absent
  std::string query_param(std::string_view name) const;
  std::string path_param(std::string_view name) const;  // "" when the route has none
  bool query_flag(std::string_view name) const;  // "true"/"1"/"yes"
  std::optional<std::pair<std::string, std::string>> basic_credentials() const;
  // The token of a `Bearer …` value in that header (Authorization unless named).
  std::optional<std::string> bearer_token(std::string_view header_name = "authorization") const;
};

struct header {
  std::string name;
  std::string value;
};

struct response {
  int status = 200;
  std::vector<header> headers;
  std::string content_type = "application/json; charset=UTF-8";
  std::string body;

  void set_header(std::string name, std::string value);
};

// Parses a request body into a flat object of parameters: JSON objects as they are, form
// bodies as strings. Anything else that claims to be JSON yields std::nullopt (400
// rest_invalid_json); an empty body yields an empty object.
std::optional<Json::Value> parse_params(const request& r);

// One body parameter as text: a string as it is, a non-negative JSON integer as its
// digits (clients send device_id or 2fa_code as numbers), anything else "". Every handler
// reads its parameters through this, so they all follow the same rule.
std::string param_text(const Json::Value& params, std::string_view name);

std::string url_decode(std::string_view in, bool plus_as_space);
std::map<std::string, std::string> parse_form(std::string_view in);

std::string to_json(const Json::Value& v);  // compact, UTF-8 kept as is
std::optional<Json::Value> parse_json(std::string_view text);
response json_response(int status, const Json::Value& body);

std::string_view status_text(int status);

// "type/subtype" of a Content-Type value, lower-cased, parameters dropped.
std::string media_type(std::string_view content_type);

// False for the statuses whose answers carry no body (and no Content-Type): 1xx, 204,
// 304. Both transports frame answers by this one rule.
bool has_body(int status);

// The head of an answer as both transports write it: `lead` ("HTTP/1.1 " or "Status: ")
// with the status and its text; Content-Type (and Content-Length when `length` is set)
// when the status has a body; then append_header_lines. The blank line is the caller's.
void append_head(std::string& out, std::string_view lead, const response& res, bool length);

// The header lines every answer carries, whatever the transport: Cache-Control: no-store
// and the response's own headers, each ending in CRLF. A header whose name or value holds
// CR, LF or NUL (see safe_header_line) is left out: no value can split the answer.
void append_header_lines(std::string& out, const response& res);

// False when the header's name is empty or its name or value holds CR, LF or NUL.
bool safe_header_line(const header& h);

}  // namespace cartgate::http

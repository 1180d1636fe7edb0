// Fuzzes request-body parsing (http::parse_params): JSON and form bodies, and the codecs
// under them. A body either fails as JSON (400 rest_invalid_json) or yields an object;
// a JSON object printed by to_json parses back equal; param_text of any key is a string
// or a number's digits; url_decode undoes percent-encoding of any bytes.
// Byte 0 picks the Content-Type.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "http/message.h"

namespace http = cartgate::http;
using fuzz::check;

namespace {

std::string percent_encode(std::string_view in) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    out += '%';
    out += hex[c >> 4];
    out += hex[c & 15];
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > http::max_body_bytes + 1) return -1;
  fuzz::reader in(data, size);
  std::uint8_t control = in.byte();
  http::request r;
  r.method = "POST";
  r.path = "/wp-json/cocart/jwt/login";
  static const char* const types[] = {"application/x-www-form-urlencoded", "application/json",
                                      "text/plain", ""};
  r.content_type = types[control & 3];
  r.body = std::string(in.rest());

  auto params = http::parse_params(r);
  if (r.content_type == types[0] || r.body.empty()) check(params.has_value());
  if (params) {
    check(params->isObject());
    for (const auto& name : params->getMemberNames()) {
      std::string text = http::param_text(*params, name);
      const Json::Value& v = (*params)[name];
      if (v.isString()) check(text == v.asString());
    }
    auto again = http::parse_json(http::to_json(*params));
    check(again.has_value() && *again == *params);
  }
  if (r.content_type == types[0]) {
    for (const auto& [k, v] : http::parse_form(r.body)) {
      check(http::url_decode(percent_encode(k), true) == k);
      check(http::url_decode(percent_encode(v), false) == v);
    }
  }
  return 0;
}

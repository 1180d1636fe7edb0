#include "crypto/request_signature.h"

#include <charconv>

#include "crypto/codes.h"

namespace cartgate::request_signature {

std::string signed_text(std::int64_t t, std::string_view method, std::string_view path, std::string_view body) {
  std::string text = std::to_string(t);
  text += '\n';
  text += method;
  text += '\n';
  text += path;
  text += '\n';
  text += body;
  return text;
}

std::string sign(std::string_view key, std::int64_t t, std::string_view method, std::string_view path,
                 std::string_view body) {
  return "t=" + std::to_string(t) + ",v1=" + codes::hash(key, signed_text(t, method, path, body));
}

std::string_view verdict_name(verdict v) {
  switch (v) {
    case verdict::ok: return "ok";
    case verdict::missing: return "missing";
    case verdict::malformed: return "malformed";
    case verdict::stale: return "stale";
    case verdict::bad_signature: return "bad_signature";
  }
  return "unknown";
}

verdict check(std::string_view key, std::string_view header, std::string_view method, std::string_view path,
              std::string_view body, std::int64_t now) {
  if (header.empty()) return verdict::missing;
  // Exactly "t=<digits>,v1=<64 hex>": one spelling, nothing to normalise.
  if (header.substr(0, 2) != "t=") return verdict::malformed;
  auto comma = header.find(',');
  if (comma == std::string_view::npos) return verdict::malformed;
  std::string_view t_text = header.substr(2, comma - 2);
  std::string_view mac = header.substr(comma + 1);
  if (mac.substr(0, 3) != "v1=") return verdict::malformed;
  mac.remove_prefix(3);
  std::int64_t t = 0;
  auto [end, ec] = std::from_chars(t_text.data(), t_text.data() + t_text.size(), t);
  if (t_text.empty() || t_text.size() > 12 || t_text.find_first_not_of("0123456789") != std::string_view::npos ||
      ec != std::errc() || end != t_text.data() + t_text.size()) {
    return verdict::malformed;
  }
  if (mac.size() != 64 || mac.find_first_not_of("0123456789abcdef") != std::string_view::npos) {
    return verdict::malformed;
  }
  if (t < now - max_skew_seconds || t > now + max_skew_seconds) return verdict::stale;
  if (key.empty()) return verdict::bad_signature;
  if (!codes::equal(codes::hash(key, signed_text(t, method, path, body)), mac)) return verdict::bad_signature;
  return verdict::ok;
}

}  // namespace cartgate::request_signature

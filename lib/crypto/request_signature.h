// Requests the storefront signs for cartgate (cookie → token, on the internal socket):
// HMAC-SHA256, with a key only the two hold, over the time, the method, the path and the
// body. cartgate acts on such a request only when it comes from a holder of the key, for
// this route, with exactly this body, made within the last minute (or the next: clocks
// of one host agree). The clock is a parameter.
//
//   X-Cartgate-Signature: t=1767225600,v1=<64 lower-case hex>
//   std::string h = request_signature::sign(key, now, "POST", "/_cartgate/storefront/token", body);
//   auto v = request_signature::check(key, h, "POST", "/_cartgate/storefront/token", body, now);
//   if (v != request_signature::verdict::ok) …   // request_signature::verdict_name(v) for logs
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cartgate::request_signature {

inline constexpr std::int64_t max_skew_seconds = 60;
// Keys shorter than this are refused when the configuration is read.
inline constexpr std::size_t min_key_bytes = 32;

// The text that is signed: "<t>\n<METHOD>\n<path>\n<body>".
std::string signed_text(std::int64_t t, std::string_view method, std::string_view path, std::string_view body);

// The header value "t=<t>,v1=<hex HMAC-SHA256(key, signed_text)>".
std::string sign(std::string_view key, std::int64_t t, std::string_view method, std::string_view path,
                 std::string_view body);

enum class verdict { ok, missing, malformed, stale, bad_signature };
std::string_view verdict_name(verdict v);

// Checks a header value against the request; the MAC is compared in constant time.
// stale: t more than max_skew_seconds away from now (either way).
verdict check(std::string_view key, std::string_view header, std::string_view method, std::string_view path,
              std::string_view body, std::int64_t now);

}  // namespace cartgate::request_signature

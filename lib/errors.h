// Why a request failed, and the one place that turns a reason into what the client sees.
// Code keeps the precise reason (for logs and metrics); the client gets the contract's
// WordPress-shaped answer {"code","message","data":{"status",…}}.
//
//   return to_response(failure{reason::token_expired});
//   failure f{reason::rate_limited}; f.data["retry_after"] = 60; f.headers.push_back(...);
#pragma once

#include <json/json.h>

#include <string>
#include <string_view>
#include <vector>

#include "http.h"

namespace cartgate {

enum class reason {
  // Generic (contract §1).
  invalid_json,
  invalid_param,
  no_route,
  request_too_large,
  bad_request,  // a request the transport could not parse
  service_unavailable,
  busy,  // too many password computations in flight
  internal_error,
  // Credentials.
  missing_credentials,
  bad_credentials,  // unknown user and wrong password: one reason, one answer
  // Bearer tokens (keep them together: is_token_failure() relies on the order).
  token_missing,
  token_malformed,
  token_bad_signature,
  token_alg_mismatch,
  token_expired,
  token_not_yet_valid,
  token_issuer_mismatch,
  token_ip_mismatch,
  token_device_mismatch,
  session_revoked,
  user_deleted,
  // Refresh tokens.
  refresh_missing,
  refresh_unknown,
  refresh_expired,
  refresh_reused,
  // Two-factor.
  twofactor_required,
  twofactor_invalid_code,
  twofactor_invalid_provider,
  // Permission rules (contract §4).
  rate_limited,
  geo_blocked,
  geo_restricted,
  time_restricted,
  device_id_required,
  device_not_registered,
  unknown_client,
  outdated_client,
  plugin_denied,
  plugin_failed,
};

std::string_view reason_name(reason r);

struct failure {
  failure(reason r) : why(r) {}  // NOLINT: implicit, so `return reason::x;` reads well

  reason why;
  Json::Value data = Json::Value(Json::objectValue);  // extra keys beside "status"
  std::string message;                                // overrides the default text
  std::string code;                                   // overrides the default code (plugins)
  int status = 0;                                     // overrides the default status (plugins)
  std::vector<http::header> headers;
};

// The single mapping from reason to HTTP status, cocart_* code, message and headers.
http::response to_response(const failure& f);

// True for reasons a Bearer check can end in; they share one client-facing answer.
bool is_token_failure(reason r);

}  // namespace cartgate

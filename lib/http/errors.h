// Why a request failed, and the one place that turns a reason into what the client sees.
// Code keeps the precise reason (for logs and metrics, by name); the client gets the
// contract's WordPress-shaped answer {"code","message","data":{"status",…}}.
//
//   return to_response(failure{reason::token_expired});
//   failure f{reason::rate_limited}; f.data["retry_after"] = 60; f.headers.push_back(...);
//
// Every reason is one row of CARTGATE_REASONS below: its name, HTTP status, code, message
// and whether it ends a Bearer check. The enum, the mapping and the names are all made
// from that one list, so adding a reason is adding a row.
#pragma once

#include <json/json.h>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "http/message.h"

namespace cartgate {

// X(name, status, code, message, bearer)
//   bearer: a way a Bearer check can fail. All of them share one client-facing answer
//   (and WWW-Authenticate), so the client cannot tell an expired token from a revoked one.
//   A message with "{}" takes failure::detail there (a provider list, a provider name).
// The rows share one shape by design: this list is the single definition of every reason.
#define CARTGATE_REASONS(X)                                                                           \
  /* Generic (contract §1). */                                                                       \
  X(invalid_json, 400, "rest_invalid_json", "Invalid JSON body passed.", false)                       \
  X(invalid_param, 400, "rest_invalid_param", "Invalid parameter(s).", false)                         \
  X(no_route, 404, "rest_no_route", "No route was found matching the URL and request method.", false) \
  X(request_too_large, 413, "cocart_request_too_large", "The request body is too large.", false)      \
  X(bad_request, 400, "cocart_bad_request", "The request could not be understood.", false)            \
  X(service_unavailable, 503, "cocart_service_unavailable",                                           \
    "The service is temporarily unavailable. Please try again shortly.", false)                       \
  /* Too many password computations in flight: the same answer as the database away. */              \
  X(busy, 503, "cocart_service_unavailable",                                                          \
    "The service is temporarily unavailable. Please try again shortly.", false)                       \
  X(internal_error, 500, "cocart_internal_error", "An unexpected error occurred.", false)             \
  /* Credentials: an unknown user and a wrong password are one reason, one answer. */                \
  X(missing_credentials, 401, "cocart_authentication_error",                                          \
    "Authentication failed. Missing credentials.", false)                                             \
  X(bad_credentials, 401, "cocart_authentication_error",                                              \
    "Authentication failed. The username or password is incorrect.", false)                          \
  /* Bearer tokens. */                                                                               \
  X(token_missing, 401, "cocart_authentication_error", "Authentication failed.", true)                \
  X(token_malformed, 401, "cocart_authentication_error", "Authentication failed.", true)              \
  X(token_bad_signature, 401, "cocart_authentication_error", "Authentication failed.", true)          \
  X(token_alg_mismatch, 401, "cocart_authentication_error", "Authentication failed.", true)           \
  X(token_expired, 401, "cocart_authentication_error", "Authentication failed.", true)                \
  X(token_not_yet_valid, 401, "cocart_authentication_error", "Authentication failed.", true)          \
  X(token_issuer_mismatch, 401, "cocart_authentication_error", "Authentication failed.", true)        \
  X(token_ip_mismatch, 401, "cocart_authentication_error", "Authentication failed.", true)            \
  X(token_device_mismatch, 401, "cocart_authentication_error", "Authentication failed.", true)        \
  X(session_revoked, 401, "cocart_authentication_error", "Authentication failed.", true)              \
  X(user_deleted, 401, "cocart_authentication_error", "Authentication failed.", true)                 \
  /* Own sessions (contract §2.4): another user's session is answered as an unknown one. */           \
  X(session_not_found, 404, "cartgate_session_not_found", "No session with that id.", false)          \
  X(sessions_others_required, 400, "rest_invalid_param",                                              \
    "Invalid parameter(s): others. Use others=true to end every other session.", false)               \
  /* Refresh tokens. */                                                                              \
  X(refresh_missing, 400, "cocart_jwt_auth_missing_refresh_token", "Refresh token is required.", false) \
  /* A refresh token in the URL would land in access logs: refused, never read. */                 \
  X(refresh_in_query, 400, "rest_invalid_param",                                                      \
    "Invalid parameter(s): refresh_token. Send it in the request body, never in the URL.", false)      \
  X(refresh_unknown, 401, "cocart_authentication_error", "Invalid refresh token.", false)             \
  X(refresh_expired, 401, "cocart_authentication_error", "Refresh token expired.", false)             \
  X(refresh_reused, 401, "cocart_jwt_auth_refresh_token_reused",                                      \
    "Refresh token has already been used. The session has been revoked.", false)                      \
  /* Two-factor login (contract §3). */                                                              \
  X(twofactor_required, 401, "cocart_2fa_required",                                                   \
    "2FA verification required. Please provide a 2FA code using one of these providers: {}", false)  \
  X(twofactor_invalid_code, 401, "cocart_2fa_invalid_code", "Invalid 2FA code provided.", false)      \
  X(twofactor_invalid_provider, 400, "cocart_2fa_invalid_provider", "Invalid 2FA provider: {}", false) \
  /* Two-factor enrolment (the Two Factor plugin's routes): a bad request, not a login failure. */   \
  X(totp_key_invalid, 400, "rest_invalid_param", "Invalid TOTP key.", false)                          \
  X(totp_enrol_code_invalid, 400, "cocart_2fa_invalid_code", "Invalid 2FA code provided.", false)     \
  X(twofactor_revalidation_required, 403, "cocart_2fa_revalidation_required",                         \
    "Changing two-factor settings requires a recent two-factor login or a current 2FA code.", false)  \
  /* Permission rules (contract §4). */                                                              \
  X(rate_limited, 429, "cocart_rate_limited", "Too many requests. Please try again later.", false)   \
  X(login_rate_limited, 429, "cocart_rate_limited", "Too many login attempts. Please try again later.", false) \
  X(geo_blocked, 403, "cocart_geo_blocked", "Access from your location is not permitted", false)     \
  X(geo_restricted, 403, "cocart_geo_restricted", "Access is restricted to approved regions only", false) \
  X(time_restricted, 403, "cocart_time_restricted", "Access is not permitted at this time", false)   \
  X(device_id_required, 400, "cocart_device_id_required", "Device ID is required for authentication", false) \
  X(device_not_registered, 403, "cocart_device_not_registered",                                       \
    "This device is not registered for this account", false)                                          \
  X(unknown_client, 400, "cocart_unknown_client", "Unknown client identifier.", false)                \
  X(outdated_client, 426, "cocart_outdated_client", "Client version is outdated and no longer supported.", false) \
  /* A plugin said no; its own code, message and status may replace these (plugin_answer). */        \
  X(plugin_denied, 403, "cocart_permission_denied", "Access denied.", false)                          \
  X(plugin_failed, 500, "cocart_internal_error", "An unexpected error occurred.", false)              \
  /* Cookie → token (the storefront's signed request on the internal socket). Seen by the      */    \
  /* must-use plugin, which passes them on to the customer as they are.                        */    \
  X(storefront_unauthenticated, 401, "cartgate_storefront_unauthenticated",                           \
    "The storefront's request could not be authenticated.", false)                                    \
  X(storefront_replayed, 401, "cartgate_storefront_unauthenticated",                                  \
    "The storefront's request could not be authenticated.", false)                                    \
  X(storefront_account_unknown, 403, "cartgate_account_not_linked",                                   \
    "This WordPress account has no matching account for tokens.", false)                              \
  X(storefront_second_factor_missing, 403, "cartgate_2fa_login_required",                             \
    "This account uses two-factor authentication, and this login did not pass it. "                   \
    "Log in with your password and a 2FA code instead.", false)

enum class reason {
#define CARTGATE_REASON_ENUM(name, status, code, message, bearer) name,
  CARTGATE_REASONS(CARTGATE_REASON_ENUM)
#undef CARTGATE_REASON_ENUM
};

// Every reason, in table order (tests walk it).
const std::vector<reason>& all_reasons();

std::string_view reason_name(reason r);

// True for reasons a Bearer check can end in; they share one client-facing answer.
bool is_token_failure(reason r);

// What a plugin may say instead of plugin_denied's default answer (contract §4.6).
struct plugin_answer {
  std::string code;     // "" keeps cocart_permission_denied
  std::string message;  // "" keeps "Access denied."
  int status = 0;       // 0 keeps 403; otherwise 400–599
};

struct failure {
  failure(reason r) : why(r) {}  // NOLINT: implicit, so `return reason::x;` reads well

  reason why;
  Json::Value data = Json::Value(Json::objectValue);  // extra keys beside "status"
  std::string detail;  // fills the "{}" of the reason's message
  std::vector<http::header> headers;
  std::optional<plugin_answer> plugin;  // plugin_denied only
};

// The single mapping from reason to HTTP status, cocart_* code, message and headers.
// bearer_status is the status every Bearer failure answers with (jwt.failure_status: 401,
// or 403 as CoCart JWT 3.x answers): the same code, message and WWW-Authenticate either
// way, and data.status follows the status. lib/api/ passes the live policy's value
// (api::services::refuse); other statuses are the reasons' own.
http::response to_response(const failure& f, int bearer_status = 401);

}  // namespace cartgate

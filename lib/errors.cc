#include "errors.h"

namespace cartgate {
namespace {

struct answer {
  int status;
  const char* code;
  const char* message;
};

answer answer_for(reason r) {
  switch (r) {
    case reason::invalid_json: return {400, "rest_invalid_json", "Invalid JSON body passed."};
    case reason::invalid_param: return {400, "rest_invalid_param", "Invalid parameter(s)."};
    case reason::no_route:
      return {404, "rest_no_route", "No route was found matching the URL and request method."};
    case reason::request_too_large:
      return {413, "cocart_request_too_large", "The request body is too large."};
    case reason::bad_request: return {400, "cocart_bad_request", "The request could not be understood."};
    case reason::service_unavailable:
    case reason::busy:
      return {503, "cocart_service_unavailable",
              "The service is temporarily unavailable. Please try again shortly."};
    case reason::internal_error:
    case reason::plugin_failed:
      return {500, "cocart_internal_error", "An unexpected error occurred."};
    case reason::missing_credentials:
      return {401, "cocart_authentication_error", "Authentication failed. Missing credentials."};
    case reason::bad_credentials:
      return {401, "cocart_authentication_error",
              "Authentication failed. The username or password is incorrect."};
    case reason::token_missing:
    case reason::token_malformed:
    case reason::token_bad_signature:
    case reason::token_alg_mismatch:
    case reason::token_expired:
    case reason::token_not_yet_valid:
    case reason::token_issuer_mismatch:
    case reason::token_ip_mismatch:
    case reason::token_device_mismatch:
    case reason::session_revoked:
    case reason::user_deleted:
      return {401, "cocart_authentication_error", "Authentication failed."};
    case reason::refresh_missing:
      return {400, "cocart_jwt_auth_missing_refresh_token", "Refresh token is required."};
    case reason::refresh_unknown:
      return {401, "cocart_authentication_error", "Invalid refresh token."};
    case reason::refresh_expired:
      return {401, "cocart_authentication_error", "Refresh token expired."};
    case reason::refresh_reused:
      return {401, "cocart_jwt_auth_refresh_token_reused",
              "Refresh token has already been used. The session has been revoked."};
    case reason::twofactor_required:
      return {401, "cocart_2fa_required", "2FA verification required."};
    case reason::twofactor_invalid_code:
      return {401, "cocart_2fa_invalid_code", "Invalid 2FA code provided."};
    case reason::twofactor_invalid_provider:
      return {400, "cocart_2fa_invalid_provider", "Invalid 2FA provider."};
    case reason::rate_limited:
      return {429, "cocart_rate_limited", "Too many requests. Please try again later."};
    case reason::geo_blocked:
      return {403, "cocart_geo_blocked", "Access from your location is not permitted"};
    case reason::geo_restricted:
      return {403, "cocart_geo_restricted", "Access is restricted to approved regions only"};
    case reason::time_restricted:
      return {403, "cocart_time_restricted", "Access is not permitted at this time"};
    case reason::device_id_required:
      return {400, "cocart_device_id_required", "Device ID is required for authentication"};
    case reason::device_not_registered:
      return {403, "cocart_device_not_registered", "This device is not registered for this account"};
    case reason::unknown_client:
      return {400, "cocart_unknown_client", "Unknown client identifier."};
    case reason::outdated_client:
      return {426, "cocart_outdated_client", "Client version is outdated and no longer supported."};
    case reason::plugin_denied:
      return {403, "cocart_permission_denied", "Access denied."};
  }
  return {500, "cocart_internal_error", "An unexpected error occurred."};
}

}  // namespace

std::string_view reason_name(reason r) {
  switch (r) {
#define CARTGATE_REASON(x) \
  case reason::x:          \
    return #x;
    CARTGATE_REASON(invalid_json)
    CARTGATE_REASON(invalid_param)
    CARTGATE_REASON(no_route)
    CARTGATE_REASON(request_too_large)
    CARTGATE_REASON(bad_request)
    CARTGATE_REASON(service_unavailable)
    CARTGATE_REASON(busy)
    CARTGATE_REASON(internal_error)
    CARTGATE_REASON(missing_credentials)
    CARTGATE_REASON(bad_credentials)
    CARTGATE_REASON(token_missing)
    CARTGATE_REASON(token_malformed)
    CARTGATE_REASON(token_bad_signature)
    CARTGATE_REASON(token_alg_mismatch)
    CARTGATE_REASON(token_expired)
    CARTGATE_REASON(token_not_yet_valid)
    CARTGATE_REASON(token_issuer_mismatch)
    CARTGATE_REASON(token_ip_mismatch)
    CARTGATE_REASON(token_device_mismatch)
    CARTGATE_REASON(session_revoked)
    CARTGATE_REASON(user_deleted)
    CARTGATE_REASON(refresh_missing)
    CARTGATE_REASON(refresh_unknown)
    CARTGATE_REASON(refresh_expired)
    CARTGATE_REASON(refresh_reused)
    CARTGATE_REASON(twofactor_required)
    CARTGATE_REASON(twofactor_invalid_code)
    CARTGATE_REASON(twofactor_invalid_provider)
    CARTGATE_REASON(rate_limited)
    CARTGATE_REASON(geo_blocked)
    CARTGATE_REASON(geo_restricted)
    CARTGATE_REASON(time_restricted)
    CARTGATE_REASON(device_id_required)
    CARTGATE_REASON(device_not_registered)
    CARTGATE_REASON(unknown_client)
    CARTGATE_REASON(outdated_client)
    CARTGATE_REASON(plugin_denied)
    CARTGATE_REASON(plugin_failed)
#undef CARTGATE_REASON
  }
  return "unknown";
}

bool is_token_failure(reason r) {
  // The Bearer reasons stand together in the enum, from token_missing to user_deleted.
  return r >= reason::token_missing && r <= reason::user_deleted;
}

http::response to_response(const failure& f) {
  answer a = answer_for(f.why);
  int status = f.status ? f.status : a.status;
  Json::Value body(Json::objectValue);
  body["code"] = f.code.empty() ? a.code : f.code;
  body["message"] = f.message.empty() ? a.message : f.message;
  Json::Value data = f.data.isObject() ? f.data : Json::Value(Json::objectValue);
  data["status"] = status;
  body["data"] = data;
  auto res = http::json_response(status, body);
  if (is_token_failure(f.why)) {
    res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  }
  for (auto& h : f.headers) res.set_header(h.name, h.value);
  return res;
}

}  // namespace cartgate

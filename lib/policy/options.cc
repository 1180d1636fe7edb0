#include "policy/options.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "base/text.h"
#include "policy/country_codes.h"
#include "policy/schedule.h"

namespace cartgate {
namespace {

constexpr std::int64_t day = 86400;

// RFC 9110 §5.6.2: a field name is a token.
bool is_token_char(unsigned char c) {
  return std::isalnum(c) || std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_role_slug(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  return std::all_of(s.begin(), s.end(), [](unsigned char c) {
    return std::islower(c) || std::isdigit(c) || c == '_' || c == '-';
  });
}

using text::join;
using text::split_list;
using text::trim;

}  // namespace

const std::vector<option_def>& option_table() {
  // One row per option, all of one shape by design: this table is the single definition
  // (parsing, validation, `option list` and the README table, tests/unit/docs_test.cc).
  static const std::vector<option_def> table = {
      {"jwt.access_ttl", option_type::integer, "864000", 60, 365 * day,
       "Lifetime of an access token, in seconds."},
      {"jwt.refresh_ttl", option_type::integer, "2592000", 60, 3650 * day,
       "Lifetime of a refresh token (and of its session), in seconds."},
      {"jwt.max_sessions", option_type::integer, "5", -1, 1000,
       "Sessions per user; the oldest is evicted past it. -1 means unlimited; 0 is refused."},
      {"jwt.bind_ip", option_type::boolean, "true", 0, 0,
       "Reject an access token presented from another client IP than it was issued to."},
      {"jwt.bind_device", option_type::boolean, "true", 0, 0,
       "Reject an access token presented with another User-Agent than it was issued to."},
      {"jwt.prefix", option_type::text, "", 0, 64,
       "Prefix written before issued access tokens (and stripped when they are presented)."},
      {"twofactor.email_ttl", option_type::integer, "900", 60, day,
       "Seconds an emailed two-factor code stays valid."},
      {"twofactor.email_max", option_type::integer, "5", -1, 1000,
       "Emailed two-factor codes per user per twofactor.email_ttl; past it a challenge mails nothing (email_sent false). -1 disables."},
      {"rate_limit.login.max", option_type::integer, "5", -1, 1000000,
       "Failed logins allowed per IP (and, separately, per account) per window. -1 disables."},
      {"rate_limit.login.window", option_type::integer, "900", 1, day,
       "Length of the login rate-limit window, in seconds."},
      {"rate_limit.refresh.max", option_type::integer, "10", -1, 1000000,
       "refresh-token calls allowed per IP per window. -1 disables."},
      {"rate_limit.refresh.window", option_type::integer, "60", 1, day,
       "Length of the refresh-token rate-limit window, in seconds."},
      {"rate_limit.validate.max", option_type::integer, "2", -1, 1000000,
       "validate-token calls allowed per IP per window. -1 disables."},
      {"rate_limit.validate.window", option_type::integer, "60", 1, day,
       "Length of the validate-token rate-limit window, in seconds."},
      {"rate_limit.ipv6_prefix", option_type::integer, "64", 1, 128,
       "Per-IP rate limits count an IPv6 client by its network of this many bits (IPv4: by address)."},
      {"geo.blocked_countries", option_type::country_list, "", 0, 0,
       "Comma list of ISO 3166-1 alpha-2 codes whose logins are refused (cocart_geo_blocked)."},
      {"geo.allowed_countries", option_type::country_list, "", 0, 0,
       "Comma list of the only countries allowed to log in; empty allows everyone."},
      {"device.required", option_type::role_list_or_mode, "off", 0, 0,
       "Require a registered device_id at login: off, all, or a comma list of role slugs."},
      {"site.timezone", option_type::timezone, "UTC", 0, 0,
       "IANA time zone that login schedules are written in."},
      {"net.trusted_proxies", option_type::proxy_list, "127.0.0.1,::1", 0, 0,
       "Addresses/CIDRs whose X-Forwarded-For header is believed for the client IP."},
      {"events.stream_per_request", option_type::boolean, "false", 0, 0,
       "Also publish token_validated and authenticated on cartgate_events (asynchronously)."},
      {"rules.on_refresh", option_type::boolean, "false", 0, 0,
       "Also run the permission rules (geo, schedule, device, client, plugins) on refresh-token."},
      {"rules.on_validate", option_type::boolean, "false", 0, 0,
       "Also run the permission rules on validate-token."},
      {"jwt.auth_header", option_type::header_name, "", 0, 64,
       "Another request header a Bearer token is also read from (e.g. X-Auth-Token, @cocart/sdk's authHeaderName); Authorization is read first. nginx must pass it to the auth subrequest (nginx/cartgate-auth-header.conf)."},
      {"jwt.failure_status", option_type::choice, "401", 0, 0,
       "Status of every Bearer failure, with the same code, message and WWW-Authenticate: 401, or 403 as CoCart JWT 3.x answers.",
       "401,403"},
      {"retention.interval_s", option_type::integer, "300", 1, day,
       "Seconds between pruning passes; one worker per database runs them (lib/store/retention.h)."},
      {"retention.batch_rows", option_type::integer, "5000", 1, 1000000,
       "Rows deleted per batch, each batch a short transaction of its own."},
      {"retention.lock_timeout_ms", option_type::integer, "200", 1, 60000,
       "lock_timeout of a pruning batch: a table lock not had by then skips that table until the next pass."},
      {"retention.audit_days", option_type::integer, "90", -1, 36500,
       "Days audit_events rows are kept. -1 keeps them forever."},
      {"retention.sessions_days", option_type::integer, "7", 0, 3650,
       "Days an expired session or refresh token is kept after it expired (a session with an unexpired refresh token always stays)."},
      {"retention.twofactor_days", option_type::integer, "1", 0, 3650,
       "Days a spent two-factor code (email code used or expired, backup code used) is kept."},
      {"retention.rate_limit_s", option_type::integer, "0", 0, 30 * day,
       "Seconds a rate-limit window's row is kept after the window ended."},
  };
  return table;
}

const option_def* find_option(std::string_view key) {
  for (auto& d : option_table()) {
    if (d.key == key) return &d;
  }
  return nullptr;
}

std::string validate_option(std::string_view key, std::string_view raw) {
  const option_def* def = find_option(key);
  if (!def) throw option_error("unknown option '" + std::string(key) + "'");
  std::string value = trim(raw);
  auto bad = [&](const std::string& why) {
    return option_error("invalid value for " + std::string(key) + ": " + why);
  };
  switch (def->type) {
    case option_type::boolean:
      if (value == "true" || value == "false") return value;
      throw bad("expected true or false");
    case option_type::integer: {
      std::int64_t n = 0;
      auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
      if (value.empty() || ec != std::errc() || ptr != value.data() + value.size()) {
        throw bad("expected a whole number");
      }
      if (n < def->min || n > def->max) {
        throw bad("must be between " + std::to_string(def->min) + " and " +
                  std::to_string(def->max));
      }
      // Zero sessions per user would let nobody log in, and was read as "unlimited":
      // neither is what anyone means by it. Unlimited is spelled -1.
      if (n == 0 && key == "jwt.max_sessions") throw bad("0 is not allowed; use -1 for unlimited");
      return std::to_string(n);
    }
    case option_type::text:
      if (static_cast<std::int64_t>(value.size()) > def->max) {
        throw bad("at most " + std::to_string(def->max) + " characters");
      }
      for (unsigned char c : value) {
        if (c < 0x21 || c > 0x7e) throw bad("printable ASCII without spaces only");
      }
      return value;
    case option_type::country_list: {
      auto items = split_list(value);
      for (auto& c : items) {
        c = text::ascii_upper(c);
        if (!geo::is_country_code(c)) throw bad("'" + c + "' is not an ISO 3166-1 alpha-2 code");
      }
      return join(items);
    }
    case option_type::role_list_or_mode: {
      if (value == "off" || value == "all") return value;
      auto items = split_list(value);
      if (items.empty()) throw bad("expected off, all, or a comma list of role slugs");
      for (auto& r : items) {
        if (!is_role_slug(r)) throw bad("'" + r + "' is not a role slug");
      }
      return join(items);
    }
    case option_type::timezone:
      if (!schedule::valid_timezone(value)) throw bad("'" + value + "' is not an IANA time zone");
      return value;
    case option_type::proxy_list: {
      std::string error;
      if (!net::proxy_list::parse(value, &error)) throw bad(error);
      return value;
    }
    case option_type::header_name: {
      if (value.empty()) return value;
      if (static_cast<std::int64_t>(value.size()) > def->max) {
        throw bad("at most " + std::to_string(def->max) + " characters");
      }
      for (unsigned char c : value) {
        if (!is_token_char(c)) throw bad("'" + value + "' is not a header name");
      }
      // Headers that carry something else, or that nginx sets for cartgate itself: a
      // token read from one of them would be a token the client did not send as one.
      std::string lower = text::ascii_lower(value);
      if (lower == "cookie" || lower == "host" || lower == "content-length" || lower == "content-type" ||
          lower == "user-agent" || lower == "x-forwarded-for" || lower.rfind("x-cartgate-", 0) == 0) {
        throw bad("'" + value + "' cannot carry a token");
      }
      return value;
    }
    case option_type::choice:
      for (auto& allowed : split_list(def->choices)) {
        if (value == allowed) return value;
      }
      throw bad("expected one of " + std::string(def->choices));
  }
  throw bad("unsupported type");
}

policy policy::from_values(const std::map<std::string, std::string>& stored) {
  policy p;
  for (auto& d : option_table()) p.values[std::string(d.key)] = std::string(d.default_value);
  for (auto& [k, v] : stored) p.values[k] = validate_option(k, v);

  auto num = [&](const char* k) { return std::stoll(p.values.at(k)); };
  auto flag = [&](const char* k) { return p.values.at(k) == "true"; };
  // One line per member of policy, from its option: a list of one shape by design.
  p.access_ttl = num("jwt.access_ttl");
  p.refresh_ttl = num("jwt.refresh_ttl");
  p.max_sessions = num("jwt.max_sessions");
  p.bind_ip = flag("jwt.bind_ip");
  p.bind_device = flag("jwt.bind_device");
  p.prefix = p.values.at("jwt.prefix");
  p.email_ttl = num("twofactor.email_ttl");
  p.email_max = num("twofactor.email_max");
  p.login_max = num("rate_limit.login.max");
  p.login_window = num("rate_limit.login.window");
  p.refresh_max = num("rate_limit.refresh.max");
  p.refresh_window = num("rate_limit.refresh.window");
  p.validate_max = num("rate_limit.validate.max");
  p.validate_window = num("rate_limit.validate.window");
  p.ipv6_prefix = static_cast<int>(num("rate_limit.ipv6_prefix"));
  p.blocked_countries = split_list(p.values.at("geo.blocked_countries"));
  p.allowed_countries = split_list(p.values.at("geo.allowed_countries"));
  p.device_required = p.values.at("device.required");
  if (p.device_required != "off" && p.device_required != "all") {
    p.device_required_roles = split_list(p.device_required);
  }
  p.timezone = p.values.at("site.timezone");
  p.trusted_proxies = *net::proxy_list::parse(p.values.at("net.trusted_proxies"), nullptr);
  p.stream_per_request = flag("events.stream_per_request");
  p.rules_on_refresh = flag("rules.on_refresh");
  p.rules_on_validate = flag("rules.on_validate");
  p.auth_header = text::ascii_lower(p.values.at("jwt.auth_header"));
  p.failure_status = static_cast<int>(num("jwt.failure_status"));
  return p;
}

const policy& policy::defaults() {
  static const policy p = from_values({});
  return p;
}

bool policy::device_required_for(const std::vector<std::string>& roles) const {
  if (device_required == "off") return false;
  if (device_required == "all") return true;
  for (auto& r : roles) {
    if (std::find(device_required_roles.begin(), device_required_roles.end(), r) !=
        device_required_roles.end()) {
      return true;
    }
  }
  return false;
}

}  // namespace cartgate

// Runtime policy: the options of contract §7, stored in PostgreSQL and seen by every worker
// within a second. One table (option_table()) defines each key's type, default, bounds and
// doc line; parsing, validation, `cartgate option list` and the README's option table
// (checked by tests/unit/docs_test.cc) all come from it.
//
//   auto p = policy::from_values({{"jwt.max_sessions", "3"}});   // throws option_error
//   if (p.bind_ip) …
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "http/client_ip.h"

namespace cartgate {

enum class option_type {
  boolean,
  integer,
  text,
  country_list,
  role_list_or_mode,
  timezone,
  proxy_list,
  header_name,  // an HTTP request header's name (RFC 9110 token), or empty
  choice,       // one of option_def::choices
};

struct option_def {
  std::string_view key;
  option_type type;
  std::string_view default_value;
  std::int64_t min = 0;  // integers only
  std::int64_t max = 0;
  std::string_view doc;
  std::string_view choices = {};  // choice only: the allowed values, comma-separated
};

const std::vector<option_def>& option_table();
const option_def* find_option(std::string_view key);

class option_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Checks one value against its definition; returns the value in canonical form
// (e.g. country codes upper-cased, booleans as true/false). Throws option_error.
std::string validate_option(std::string_view key, std::string_view value);

// The typed snapshot every request reads. Immutable once built.
struct policy {
  std::int64_t access_ttl = 864000;
  std::int64_t refresh_ttl = 2592000;
  std::int64_t max_sessions = 5;
  bool bind_ip = true;
  bool bind_device = true;
  std::string prefix;
  std::int64_t email_ttl = 900;
  std::int64_t email_max = 5;
  std::int64_t login_max = 5, login_window = 900;
  std::int64_t refresh_max = 10, refresh_window = 60;
  std::int64_t validate_max = 2, validate_window = 60;
  int ipv6_prefix = 64;  // per-IP rate-limit buckets count an IPv6 client by this network
  std::vector<std::string> blocked_countries;
  std::vector<std::string> allowed_countries;
  std::string device_required = "off";  // "off", "all", or a comma list of roles
  std::vector<std::string> device_required_roles;
  std::string timezone = "UTC";
  net::proxy_list trusted_proxies;
  bool stream_per_request = false;
  bool rules_on_refresh = false;   // run the permission chain on refresh-token too
  bool rules_on_validate = false;  // … and on validate-token
  std::string auth_header;         // lower case; "" = only Authorization carries a token
  int failure_status = 401;        // what a Bearer failure answers: 401 or 403
  std::map<std::string, std::string> values;  // every key, canonical text (defaults filled)

  // Builds a snapshot from stored values; unknown keys and bad values throw option_error,
  // so a failed reload keeps the previous snapshot.
  static policy from_values(const std::map<std::string, std::string>& stored);
  static const policy& defaults();

  bool device_required_for(const std::vector<std::string>& roles) const;
};


}  // namespace cartgate

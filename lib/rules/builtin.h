// The built-in permission rules of contract §4 (2–5), each split into a pure decision
// (tested as tables in tests/unit/rules_test.cc) and a rule that gathers its inputs from
// the request, the policy and the database.
//
//   auto f = rules::decide_geo(pol, "CN");          // 403 cocart_geo_blocked when listed
//   auto g = rules::make_geo_rule(shared_db, "X-Country-Code");
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "policy/schedule.h"
#include "rules/geo_db.h"
#include "rules/rule.h"

namespace cartgate::rules {

// Geolocation: blocked list first, then the allow list (empty = everyone). An unknown
// country (loopback, private, unallocated) is never blocked but is outside any allow
// list, so an allow list fails closed; data.country_code is then null.
std::optional<failure> decide_geo(const policy& pol, const std::optional<std::string>& country);

// Time windows: no windows = unrestricted.
std::optional<failure> decide_schedule(const std::vector<schedule::window>& windows,
                                       std::string_view timezone, std::int64_t now);

// Devices: only when device.required applies to the user's roles.
std::optional<failure> decide_device(bool required, std::string_view device_id, bool registered);

// Client headers: no X-Client-ID = no check; unknown id 400; X-App-Version below the
// client's minimum 426 (SemVer precedence; an unparseable version counts as outdated).
struct client_row {
  std::string min_version;  // "" = no minimum
};
std::optional<failure> decide_client(std::string_view client_id, std::string_view app_version,
                                     const std::optional<client_row>& known);

// The country of a request: the configured header when nginx sent it, else the database.
std::optional<std::string> request_country(const http::request& req, std::string_view header_name,
                                           const geo::country_db& db);

// The geo database for this process, loaded once (mmdb when configured, else the tor
// files) and shared by every chain. Missing tor files give an empty database and a
// warning; an unreadable mmdb throws.
std::shared_ptr<const geo::country_db> shared_country_db(const config& cfg);

std::unique_ptr<rule> make_geo_rule(std::shared_ptr<const geo::country_db> db, std::string header);
// The same rule with its database loaded the first time a country option asks for it:
// the tor files' ~14 MiB of ranges stay out of every worker that never checks a country
// (docs/benchmarks.md, "Worker memory").
using country_db_loader = std::function<std::shared_ptr<const geo::country_db>()>;
std::unique_ptr<rule> make_geo_rule(country_db_loader load, std::string header);
std::unique_ptr<rule> make_schedule_rule();
std::unique_ptr<rule> make_device_rule();
std::unique_ptr<rule> make_client_rule();

}  // namespace cartgate::rules

// ISO 3166-1 alpha-2 country codes: the vocabulary of geo.blocked_countries and
// geo.allowed_countries. Used to reject typos in options before they silently match
// no one.
//
//   if (!cartgate::geo::is_country_code("DE")) { /* reject the option value */ }
#pragma once

#include <string_view>

namespace cartgate::geo {

// True for the 249 officially assigned codes, upper case only: lookups return upper
// case, so accepting "de" here would let an option pass validation and then never
// match. Callers that want to be lenient upper-case first. Reserved and user-assigned
// codes ("UK", "EU", "AP", "ZZ", "XK") are not assigned codes and return false.
bool is_country_code(std::string_view code);

}  // namespace cartgate::geo

// Semantic versions (SemVer 2.0.0) for the client-header rule: X-App-Version is
// compared with the client's minimum_version, and older clients get 426.
//
//   auto have = cartgate::semver::parse("1.2.9"), need = cartgate::semver::parse("1.2.10");
//   if (have && need && cartgate::semver::compare(*have, *need) < 0) { /* outdated */ }
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartgate::semver {

struct version {
  std::uint64_t major = 0;
  std::uint64_t minor = 0;
  std::uint64_t patch = 0;
  std::vector<std::string> prerelease;  // "alpha.1" -> {"alpha", "1"}
  std::vector<std::string> build;       // kept for display; never affects precedence

  std::string to_string() const;  // always X.Y.Z[-pre][+build]
};

// "X", "X.Y" or "X.Y.Z", each optionally followed by -prerelease and/or +build as in
// SemVer 2.0.0; missing minor/patch are 0, so "2" is 2.0.0 (app stores and the seed's
// version_compare both treat short versions that way). Strict otherwise: no leading
// "v", no spaces, no leading zeros in numbers, identifiers of [0-9A-Za-z-] only.
std::optional<version> parse(std::string_view text);

// SemVer §11 precedence: negative, zero or positive. Build metadata is ignored, so
// 1.0.0+a and 1.0.0+b compare equal.
int compare(const version& a, const version& b);

bool is_valid(std::string_view text);

}  // namespace cartgate::semver

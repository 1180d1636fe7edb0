#include "policy/semver.h"

#include <charconv>

namespace cartgate::semver {
namespace {

bool is_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

bool is_identifier(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    bool ok =
        (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-';
    if (!ok) return false;
  }
  return true;
}

// A numeric field: digits, no leading zero (SemVer §2), fits in 64 bits.
std::optional<std::uint64_t> parse_number(std::string_view s) {
  if (!is_digits(s) || (s.size() > 1 && s.front() == '0')) return std::nullopt;
  std::uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
  return value;
}

std::optional<std::vector<std::string>> split_identifiers(std::string_view s, bool numeric_rules) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    auto dot = s.find('.', start);
    auto id = s.substr(start, dot == std::string_view::npos ? s.npos : dot - start);
    if (!is_identifier(id)) return std::nullopt;
    // §9: numeric prerelease identifiers must not have leading zeros; §10 allows them
    // in build metadata.
    if (numeric_rules && is_digits(id) && id.size() > 1 && id.front() == '0') return std::nullopt;
    out.emplace_back(id);
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return out;
}

// §11.4: numeric identifiers compare numerically and sort before alphanumeric ones;
// alphanumeric ones compare in ASCII order.
int compare_identifier(const std::string& a, const std::string& b) {
  bool an = is_digits(a), bn = is_digits(b);
  if (an && bn) {
    // No leading zeros, so the longer number is the bigger one; this also works for
    // numbers beyond 64 bits.
    if (a.size() != b.size()) return a.size() < b.size() ? -1 : 1;
    return a.compare(b) < 0 ? -1 : a.compare(b) > 0 ? 1 : 0;
  }
  if (an != bn) return an ? -1 : 1;
  int c = a.compare(b);
  return c < 0 ? -1 : c > 0 ? 1 : 0;
}

template <typename T>
int three_way(T a, T b) {
  return a < b ? -1 : a > b ? 1 : 0;
}

std::string join(const std::vector<std::string>& ids) {
  std::string out;
  for (const auto& id : ids) {
    if (!out.empty()) out += '.';
    out += id;
  }
  return out;
}

}  // namespace

std::optional<version> parse(std::string_view text) {
  version v;
  // Build metadata (after '+', SemVer §10) and the pre-release (after '-', §9) are split
  // off the same way, each by its own separator and rules.
  auto plus = text.find('+');
  if (plus != std::string_view::npos) {
    auto build = split_identifiers(text.substr(plus + 1), false);
    if (!build) return std::nullopt;
    v.build = std::move(*build);
    text = text.substr(0, plus);
  }
  // The first '-' ends the core: numbers never contain one, identifiers may.
  auto dash = text.find('-');
  if (dash != std::string_view::npos) {
    auto pre = split_identifiers(text.substr(dash + 1), true);
    if (!pre) return std::nullopt;
    v.prerelease = std::move(*pre);
    text = text.substr(0, dash);
  }
  std::uint64_t* fields[] = {&v.major, &v.minor, &v.patch};
  std::size_t start = 0;
  for (int i = 0;; ++i) {
    if (i == 3) return std::nullopt;  // a fourth numeric part
    auto dot = text.find('.', start);
    auto n =
        parse_number(text.substr(start, dot == std::string_view::npos ? text.npos : dot - start));
    if (!n) return std::nullopt;
    *fields[i] = *n;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return v;
}

int compare(const version& a, const version& b) {
  if (int c = three_way(a.major, b.major)) return c;
  if (int c = three_way(a.minor, b.minor)) return c;
  if (int c = three_way(a.patch, b.patch)) return c;
  // §11.3: a prerelease ranks below the release it precedes.
  if (a.prerelease.empty() != b.prerelease.empty()) return a.prerelease.empty() ? 1 : -1;
  for (std::size_t i = 0; i < a.prerelease.size() && i < b.prerelease.size(); ++i)
    if (int c = compare_identifier(a.prerelease[i], b.prerelease[i])) return c;
  return three_way(a.prerelease.size(), b.prerelease.size());
}

bool is_valid(std::string_view text) { return parse(text).has_value(); }

std::string version::to_string() const {
  std::string out =
      std::to_string(major) + '.' + std::to_string(minor) + '.' + std::to_string(patch);
  if (!prerelease.empty()) out += '-' + join(prerelease);
  if (!build.empty()) out += '+' + join(build);
  return out;
}

}  // namespace cartgate::semver

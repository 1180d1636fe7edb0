// Small text helpers every layer uses: ASCII case folding (header names, identifiers,
// emails — never locale-dependent), trimming, comma lists and hex. Pure functions.
//
//   text::ascii_lower("Bearer")            // "bearer"
//   text::split_list(" a, b,,c ")          // {"a", "b", "c"}
//   auto key = text::hex_decode(hex);      // nullopt unless every pair is a hex digit
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cartgate::text {

std::string ascii_lower(std::string_view s);
std::string ascii_upper(std::string_view s);
char ascii_lower(char c);

// Spaces and tabs removed from both ends.
std::string trim(std::string_view s);

// Comma-separated items, each trimmed; empty items dropped.
std::vector<std::string> split_list(std::string_view csv);
// The reverse: items joined by ",".
std::string join(const std::vector<std::string>& items, std::string_view separator = ",");

// The bytes a hex string spells (either case); nullopt for an odd length or a non-hex
// character.
std::optional<std::string> hex_decode(std::string_view hex);
// Lower-case hex of the bytes.
std::string hex_encode(std::string_view bytes);

}  // namespace cartgate::text

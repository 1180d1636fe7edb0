// Fuzzes the option validators (validate_option for every key of option_table(), and
// policy::from_values): a value is refused only with option_error; an accepted value's
// canonical form is accepted again unchanged, and a snapshot built from it holds it.
// Byte 0 picks the key; the rest is the value.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "fuzz_check.h"
#include "policy/options.h"

using cartgate::option_error;
using fuzz::check;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return -1;
  fuzz::reader in(data, size);
  const auto& table = cartgate::option_table();
  const auto& def = table[in.byte() % table.size()];
  std::string key(def.key);
  std::string_view value = in.rest();

  std::string canonical;
  try {
    canonical = cartgate::validate_option(key, value);
  } catch (const option_error&) {
    return 0;  // any other exception escapes and is reported
  }
  check(cartgate::validate_option(key, canonical) == canonical);
  auto p = cartgate::policy::from_values({{key, std::string(value)}});
  check(p.values.at(key) == canonical);
  check(cartgate::find_option(key) == &def);
  return 0;
}

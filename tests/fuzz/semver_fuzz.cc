// Fuzzes semver::parse and compare (the X-App-Version rule): a parsed version prints
// as text that parses back to an equal version; is_valid agrees with parse; compare is
// a total order (reflexive, antisymmetric) that ignores build metadata.
#include <cstddef>
#include <cstdint>

#include "fuzz_check.h"
#include "policy/semver.h"

namespace semver = cartgate::semver;
using fuzz::check;

namespace {
int sign(int v) { return (v > 0) - (v < 0); }
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::reader in(data, size);
  std::string_view a_text = in.field(), b_text = in.rest();
  auto a = semver::parse(a_text);
  auto b = semver::parse(b_text);
  check(semver::is_valid(a_text) == a.has_value());
  check(semver::is_valid(b_text) == b.has_value());
  for (const auto* v : {&a, &b}) {
    if (!*v) continue;
    auto again = semver::parse((*v)->to_string());
    check(again.has_value());
    check(again->major == (*v)->major && again->minor == (*v)->minor &&
          again->patch == (*v)->patch && again->prerelease == (*v)->prerelease &&
          again->build == (*v)->build);
    check(semver::compare(**v, *again) == 0);
    semver::version stripped = **v;
    stripped.build.clear();
    check(semver::compare(**v, stripped) == 0);
  }
  if (a && b) {
    check(sign(semver::compare(*a, *b)) == -sign(semver::compare(*b, *a)));
    if (semver::compare(*a, *b) == 0) {
      check(a->major == b->major && a->minor == b->minor && a->patch == b->patch &&
            a->prerelease == b->prerelease);
    }
  }
  return 0;
}

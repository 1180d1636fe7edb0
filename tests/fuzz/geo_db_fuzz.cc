// Fuzzes the tor-geoipdb loader (geo::country_db::load_tor): a file is either refused
// with std::runtime_error or loaded; lookups on a loaded db answer an upper-case code
// (never "??", "UK" folded into "GB") or nothing.
// Input: the IPv4 file, a NUL, the IPv6 file, a NUL, then addresses to look up, one a line.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "fuzz_check.h"
#include "rules/geo_db.h"

namespace geo = cartgate::geo;
using fuzz::check;

namespace {

// An in-memory file the loader opens by path, as it would /usr/share/tor/geoip.
class memory_file {
 public:
  explicit memory_file(const char* name) : fd_(memfd_create(name, 0)) { check(fd_ >= 0); }
  ~memory_file() { close(fd_); }
  std::string write(std::string_view text) {
    check(ftruncate(fd_, 0) == 0 && lseek(fd_, 0, SEEK_SET) == 0);
    for (std::size_t done = 0; done < text.size();) {
      ssize_t n = ::write(fd_, text.data() + done, text.size() - done);
      check(n > 0);
      done += static_cast<std::size_t>(n);
    }
    return "/proc/self/fd/" + std::to_string(fd_);
  }

 private:
  int fd_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 16384) return -1;
  static memory_file v4_file("geoip"), v6_file("geoip6");
  fuzz::reader in(data, size);
  std::string_view v4 = in.field('\0'), v6 = in.field('\0');
  geo::country_db db;
  try {
    db = geo::country_db::load_tor(v4_file.write(v4), v6_file.write(v6));
  } catch (const std::runtime_error& e) {
    check(std::string(e.what()).rfind("/proc/self/fd/", 0) == 0);
    return 0;
  }
  std::size_t lines = 0;
  for (char c : v4) lines += c == '\n';
  for (char c : v6) lines += c == '\n';
  check(db.size() <= lines + 2);
  while (!in.empty()) {
    auto cc = db.lookup(in.field());
    if (!cc) continue;
    check(cc->size() == 2 && *cc != "??" && *cc != "UK");
    for (char c : *cc) check(c >= 'A' && c <= 'Z');
  }
  return 0;
}

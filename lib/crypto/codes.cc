#include "crypto/codes.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <set>
#include <stdexcept>

#include "crypto/random.h"

namespace cartgate::codes {

std::string hash(std::string_view pepper, std::string_view code) {
  if (pepper.empty()) throw std::invalid_argument("codes::hash: empty pepper");
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha256(), pepper.data(), static_cast<int>(pepper.size()),
           reinterpret_cast<const unsigned char*>(code.data()), code.size(), mac,
           &mac_len) == nullptr) {
    throw std::runtime_error("codes::hash: HMAC failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(mac_len * 2);
  for (unsigned int i = 0; i < mac_len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 0x0f]);
  }
  return out;
}

bool equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::vector<std::string> backup_set(int count) {
  if (count < 0 || count > 1000) throw std::invalid_argument("codes::backup_set: bad count");
  // Distinct so that using one code never silently uses up its twin. With 10^8 codes a
  // repeat is rare; drawing again is simpler than reasoning about it.
  std::set<std::string> seen;
  std::vector<std::string> out;
  out.reserve(static_cast<std::size_t>(count));
  while (out.size() < static_cast<std::size_t>(count)) {
    std::string code = random::digits(kCodeDigits);
    if (seen.insert(code).second) out.push_back(std::move(code));
  }
  return out;
}

std::string email_code() { return random::digits(kCodeDigits); }

}  // namespace cartgate::codes

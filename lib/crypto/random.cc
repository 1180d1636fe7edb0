#include "crypto/random.h"

#include <openssl/rand.h>

#include <algorithm>
#include <climits>
#include <stdexcept>

#include "base/text.h"

namespace cartgate::random {

std::string bytes(std::size_t n) {
  std::string out(n, '\0');
  std::size_t done = 0;
  // RAND_bytes takes an int length; chunk so any size_t request works.
  while (done < n) {
    const std::size_t chunk = std::min<std::size_t>(n - done, INT_MAX);
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data() + done), static_cast<int>(chunk)) !=
        1) {
      throw std::runtime_error("random: RAND_bytes failed");
    }
    done += chunk;
  }
  return out;
}

std::string hex(std::size_t n_bytes) {
  return text::hex_encode(bytes(n_bytes));
}

std::string digits(int n) {
  if (n < 0) throw std::invalid_argument("random::digits: negative length");
  // Rejection sampling: 250 is the largest multiple of 10 that fits in a byte, so bytes
  // 250..255 are dropped and every digit keeps probability exactly 1/10. Taking b % 10
  // of every byte would favour 0..5.
  std::string out;
  out.reserve(static_cast<std::size_t>(n));
  while (out.size() < static_cast<std::size_t>(n)) {
    const std::string pool = bytes(static_cast<std::size_t>(n) - out.size() + 4);
    for (unsigned char b : pool) {
      if (b >= 250) continue;
      out.push_back(static_cast<char>('0' + b % 10));
      if (out.size() == static_cast<std::size_t>(n)) break;
    }
  }
  return out;
}

}  // namespace cartgate::random

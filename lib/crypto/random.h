// Cryptographically secure randomness from OpenSSL's RAND_bytes, in the shapes the
// service needs: raw key bytes, hex tokens, and decimal one-time codes.
//
//   std::string refresh = cartgate::random::hex(64);   // 128 hex characters
//   std::string code = cartgate::random::digits(8);    // "04918273"
#pragma once

#include <cstddef>
#include <string>

namespace cartgate::random {

// n raw random bytes. Throws std::runtime_error if the generator fails; never falls
// back to a weaker source.
std::string bytes(std::size_t n);

// Lowercase hex of n_bytes random bytes (2 * n_bytes characters).
std::string hex(std::size_t n_bytes);

// n uniformly distributed decimal digits (leading zeros kept). Throws
// std::invalid_argument for n < 0.
std::string digits(int n);

}  // namespace cartgate::random

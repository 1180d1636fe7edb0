// Each thread's memory of access tokens it has already verified, so the same token
// presented again (a storefront sends one token with every request) costs a hash lookup
// instead of base64 decoding, two JSON parses and an HMAC, ECDSA or RSA verification.
// Only what cannot change is remembered: the token's bytes were signed by our key and
// carry our issuer. The clock (exp, nbf/iat), the request (IP and User-Agent bindings)
// and the session are checked on every use, so revocation and expiry are as immediate
// as without the memo.
//
//   token_memo& memo = token_memo::for_this_thread(owner);
//   if (const auto* c = memo.find(token)) { …c->exp… }
//   else if (verified) memo.remember(token, claims_from(payload));
#pragma once

#include <json/json.h>

#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace cartgate {

struct token_claims {
  std::int64_t user_id = 0;
  std::string username;
  std::string pat;
  std::string ip;      // empty: no IP binding
  std::string device;  // empty: no User-Agent binding
  std::int64_t exp = 0;
  std::int64_t not_before = std::numeric_limits<std::int64_t>::min();  // max(nbf, iat)
  std::shared_ptr<const Json::Value> payload;                          // for events and plugins
};

class token_memo {
 public:
  // Direct-mapped: a new token takes its slot from whichever token was there. A memo
  // starts with first_slot_count slots and doubles (forgetting what it held) each time
  // half of them are taken, up to slot_count: a thread that sees a few tokens holds a few
  // KiB, not slot_count slots (~400 KiB) in every thread of every worker.
  static constexpr std::size_t slot_count = 8192;
  static constexpr std::size_t first_slot_count = 64;

  // The calling thread's memo for this owner (one worker's token_keys, i.e. one key and issuer); a
  // different owner on the same thread starts from empty.
  static token_memo& for_this_thread(const void* owner);

  // The claims of a token remembered byte for byte (compared in constant time), or null.
  const token_claims* find(std::string_view token) const;
  void remember(std::string_view token, token_claims claims);
  void clear();
  std::size_t slots_allocated() const { return slots_.size(); }

 private:
  struct slot {
    std::size_t hash = 0;
    std::string token;
    std::unique_ptr<const token_claims> claims;
  };
  std::vector<slot> slots_;
  std::size_t taken_ = 0;
};

}  // namespace cartgate

#include "auth/token_memo.h"

#include <openssl/crypto.h>

#include <functional>

namespace cartgate {

token_memo& token_memo::for_this_thread(const void* owner) {
  thread_local token_memo memo;
  thread_local const void* memo_owner = nullptr;
  if (memo_owner != owner) {
    memo.clear();
    memo_owner = owner;
  }
  return memo;
}

const token_claims* token_memo::find(std::string_view token) const {
  if (slots_.empty()) return nullptr;
  std::size_t h = std::hash<std::string_view>{}(token);
  const slot& s = slots_[h % slots_.size()];
  // The hash only picks the slot; equality is decided in constant time, so how long a
  // lookup takes says nothing about how much of a remembered token a guess matched.
  if (!s.claims || s.hash != h || s.token.size() != token.size()) return nullptr;
  if (CRYPTO_memcmp(s.token.data(), token.data(), token.size()) != 0) return nullptr;
  return s.claims.get();
}

void token_memo::remember(std::string_view token, token_claims claims) {
  if (slots_.empty()) slots_.resize(first_slot_count);
  if (taken_ * 2 >= slots_.size() && slots_.size() < slot_count) {
    const std::size_t bigger = slots_.size() * 2;
    slots_.clear();
    slots_.resize(bigger);
    taken_ = 0;
  }
  std::size_t h = std::hash<std::string_view>{}(token);
  slot& s = slots_[h % slots_.size()];
  if (!s.claims) ++taken_;
  s.hash = h;
  s.token.assign(token);
  s.claims = std::make_unique<const token_claims>(std::move(claims));
}

void token_memo::clear() {
  slots_.clear();
  slots_.shrink_to_fit();
  taken_ = 0;
}

}  // namespace cartgate

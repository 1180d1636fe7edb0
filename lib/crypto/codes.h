// One-time codes for two-factor login (emailed codes, backup codes): generated here,
// stored only as HMAC-SHA256(pepper, code), so a database dump alone does not reveal
// them — the pepper lives in the server's configuration, not the database.
//
//   std::string code = cartgate::codes::email_code();         // mail this
//   db.store(cartgate::codes::hash(pepper, code));            // keep this
//   bool ok = cartgate::codes::equal(stored, cartgate::codes::hash(pepper, typed));
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cartgate::codes {

inline constexpr int kCodeDigits = 8;
inline constexpr int kBackupSetSize = 10;

// Lowercase hex HMAC-SHA256 of code keyed with pepper (64 characters). Throws
// std::invalid_argument for an empty pepper: hashing without one is a configuration bug.
std::string hash(std::string_view pepper, std::string_view code);

// Constant-time equality for hashes (CRYPTO_memcmp). Different lengths are unequal;
// only the length, never the contents, affects timing.
bool equal(std::string_view a, std::string_view b);

// count distinct 8-digit codes (default 10). Throws std::invalid_argument unless
// 0 <= count <= 1000.
std::vector<std::string> backup_set(int count = kBackupSetSize);

// One 8-digit code for the email provider.
std::string email_code();

}  // namespace cartgate::codes

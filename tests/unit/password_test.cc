// Tests for lib/password: known vectors for every stored-hash format, cross-checks against
// independent implementations (Debian's python3-passlib and python3-bcrypt, run through
// /usr/bin/python3), hostile stored strings, needs_rehash, dummy_hash and the limiter.
#include "crypto/password.h"

#include <argon2.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace {

namespace pw = cartgate::password;
using namespace std::chrono_literals;

// Cheap parameters for tests that only need *an* argon2id hash; defaults cost ~50 ms a call.
constexpr pw::argon2_params cheap{.memory_kib = 64, .iterations = 1, .parallelism = 1};

// ---- known vectors ------------------------------------------------------------------------

// phpass portable hash of "test12345" from Solar Designer's phpass test.php (also in passlib's
// phpass test vectors). `$P$` + '9' (2^11 rounds) + salt "IQRaTwmf" + 22-char MD5 encoding.
constexpr std::string_view phpass_vector = "$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0";
constexpr std::string_view phpass_vector_password = "test12345";

// PHP manual, password_verify() example: password_hash("rasmuslerdorf", PASSWORD_DEFAULT).
constexpr std::string_view bcrypt_vector =
    "$2y$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a";
constexpr std::string_view bcrypt_vector_password = "rasmuslerdorf";

// WordPress 6.8 format, generated once the way wp_hash_password() does it:
//   import base64, bcrypt, hashlib, hmac
//   pre = base64.b64encode(hmac.new(b"wp-sha384", b"correct horse battery staple",
//                                   hashlib.sha384).digest())
//   # pre == b"ZdE8Fj+Jstdnfuy8gfBS5jYzA2ol4jygxc4hw2ZGfODU1BN7mOF8KA5pkAMhnf37"
//   h = bcrypt.hashpw(pre, bcrypt.gensalt(10)).decode()   # "$2b$10$..."
//   stored = "$wp$2y$" + h[4:]                              # PHP writes $2y$
constexpr std::string_view wp_vector =
    "$wp$2y$10$MBOflrd0P5VGNfMvObZcpO8qSbCK6seFLZ5dpFBy3jXBLtMPaNvy.";
constexpr std::string_view wp_vector_password = "correct horse battery staple";
constexpr std::string_view wp_vector_prehash =
    "ZdE8Fj+Jstdnfuy8gfBS5jYzA2ol4jygxc4hw2ZGfODU1BN7mOF8KA5pkAMhnf37";

// Reference argon2id vector from the Argon2 reference implementation (phc-winner-argon2
// src/test.c): t=2, m=2^8 KiB, p=1, password "password", salt "somesalt".
constexpr std::string_view argon2_vector =
    "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4";
constexpr std::string_view argon2_vector_password = "password";

// Low-cost vectors for the hostile-input sweeps (hundreds of verifications each), made with
// python3-bcrypt: bcrypt.hashpw(b"hostile-input", bcrypt.gensalt(4)), and for the WordPress one
// the same over base64(HMAC-SHA384("wp-sha384", "hostile-input")) with "$2b$" -> "$wp$2y$".
constexpr std::string_view hostile_password = "hostile-input";
constexpr std::string_view bcrypt_cost4 =
    "$2b$04$1Chf/0KZI/R/HLooF0zS1ey4hLccblifHBbK5Z2jar40ScboxTHYu";
constexpr std::string_view wp_cost4 =
    "$wp$2y$04$67NFjTNMvCnCqzwJUlvuAO01rvvdfphSOC.W9nngFkRPWBDph0l0K";

// ---- helpers --------------------------------------------------------------------------------

// Calls check() with every truncation of `s` and every single-bit flip of every byte outside
// [skip_begin, skip_end). The skip range lets a caller leave a cost field alone, where a flip
// yields a valid but slower hash (e.g. bcrypt cost 04 -> 14) rather than a hostile one.
template <class Check>
void for_each_mutation(std::string_view s, Check check, std::size_t skip_begin = 0,
                       std::size_t skip_end = 0) {
  for (std::size_t len = 0; len < s.size(); ++len) check(std::string(s.substr(0, len)));
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (i >= skip_begin && i < skip_end) continue;
    for (int bit = 0; bit < 8; ++bit) {
      std::string mutant(s);
      mutant[i] = static_cast<char>(mutant[i] ^ (1 << bit));
      check(mutant);
    }
  }
}

std::string from_hex(std::string_view hex) {  // "-" (odd length) decodes to ""
  std::string out;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2)
    out += static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16));
  return out;
}

// Runs `script` with Debian's /usr/bin/python3 and returns its lines of "<hex password> <hash>".
// Returns nullopt when the interpreter or the modules are missing, so the caller can skip.
std::optional<std::vector<std::pair<std::string, std::string>>> python_pairs(
    const std::string& script) {
  char path[] = "/tmp/cartgate_password_test_XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return std::nullopt;
  close(fd);
  std::ofstream(path) << script;
  const std::string command = std::string("/usr/bin/python3 ") + path + " 2>/dev/null";
  std::unique_ptr<FILE, int (*)(FILE*)> pipe(popen(command.c_str(), "r"), pclose);
  std::string output;
  if (pipe) {
    char buffer[4096];
    std::size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, pipe.get())) > 0) output.append(buffer, n);
  }
  const int status = pipe ? pclose(pipe.release()) : -1;
  std::remove(path);
  if (status != 0) return std::nullopt;

  std::vector<std::pair<std::string, std::string>> pairs;
  std::istringstream lines(output);
  std::string hex, stored;
  while (lines >> hex >> stored) pairs.emplace_back(from_hex(hex), stored);
  return pairs;
}

// Passwords the cross-check scripts hash: empty, ASCII, UTF-8, a tab, long ones, random ones.
constexpr const char* python_passwords = R"py(
import os, secrets
passwords = [b"", b"a", b"password", b"correct horse battery staple", b"tab\there",
             "pässwörd-€-密码".encode(), b"x" * 100, b"y" * 4096]
passwords += [secrets.token_bytes(n).replace(b"\0", b"0") for n in (8, 16, 33, 71, 72)]
def emit(password, stored):
    print(password.hex() or "-", stored)  # "-" stands for the empty password
)py";

}  // namespace

// ---- known vectors, each with a failing twin ------------------------------------------------

TEST(PasswordPhpass, PublishedVectorVerifies) {
  EXPECT_TRUE(pw::verify(phpass_vector_password, phpass_vector));
}

TEST(PasswordPhpass, PublishedVectorRejectsWrongPassword) {
  EXPECT_FALSE(pw::verify("test12346", phpass_vector));
  EXPECT_FALSE(pw::verify("", phpass_vector));
  EXPECT_FALSE(pw::verify("test12345 ", phpass_vector));
}

TEST(PasswordPhpass, PhpbbPrefixVerifiesSameDigest) {
  // $H$ (phpBB) differs from $P$ only in the prefix, which crypt_private copies verbatim.
  std::string h(phpass_vector);
  h[1] = 'H';
  EXPECT_TRUE(pw::verify(phpass_vector_password, h));
  EXPECT_FALSE(pw::verify("wrong", h));
}

TEST(PasswordPhpass, RoundCountOutsideWordPressRangeFails) {
  std::string h(phpass_vector);
  h[3] = '4';  // 2^6 rounds: below phpass's minimum of 7
  EXPECT_FALSE(pw::verify(phpass_vector_password, h));
  h[3] = 'z';  // 2^63: beyond any bound
  EXPECT_FALSE(pw::verify(phpass_vector_password, h));
}

TEST(PasswordBcrypt, PhpManualVectorVerifies) {
  EXPECT_TRUE(pw::verify(bcrypt_vector_password, bcrypt_vector));
}

TEST(PasswordBcrypt, PhpManualVectorRejectsWrongPassword) {
  EXPECT_FALSE(pw::verify("rasmuslerdorF", bcrypt_vector));
  EXPECT_FALSE(pw::verify("", bcrypt_vector));
}

TEST(PasswordBcrypt, TwoBAndTwoAPrefixesVerifySameDigest) {
  for (char variant : {'b', 'a'}) {
    std::string h(bcrypt_vector);
    h[2] = variant;
    EXPECT_TRUE(pw::verify(bcrypt_vector_password, h)) << h;
    EXPECT_FALSE(pw::verify("rasmus", h)) << h;
  }
}

TEST(PasswordBcrypt, PasswordWithNulByteFailsInsteadOfTruncating) {
  // crypt_r would read "rasmuslerdorf\0junk" as "rasmuslerdorf".
  const std::string with_nul = std::string(bcrypt_vector_password) + std::string("\0junk", 5);
  EXPECT_FALSE(pw::verify(with_nul, bcrypt_vector));
}

TEST(PasswordBcrypt, OnlyFirst72BytesCountEvenPastLibxcryptPassphraseLimit) {
  // python3-bcrypt: bcrypt.hashpw(b"y" * 72, b"$2b$04$DPa1IIguTxtz5ur0wgn1GO"). bcrypt (and PHP)
  // ignores bytes past 72; libxcrypt's crypt_r would refuse a passphrase over 512 bytes outright.
  constexpr std::string_view y72 = "$2b$04$DPa1IIguTxtz5ur0wgn1GOugUPK5DylU0Z75h7oRLCTAyEgu1SYNi";
  EXPECT_TRUE(pw::verify(std::string(72, 'y'), y72));
  EXPECT_TRUE(pw::verify(std::string(600, 'y'), y72));
  EXPECT_FALSE(pw::verify(std::string(71, 'y'), y72));
}

TEST(PasswordBcrypt, CostAboveBoundFailsWithoutHashing) {
  std::string h(bcrypt_cost4);
  h[4] = '3';
  h[5] = '1';  // cost 31 would run for hours
  EXPECT_FALSE(pw::verify(hostile_password, h));
  h[4] = '0';
  h[5] = '3';  // below bcrypt's minimum
  EXPECT_FALSE(pw::verify(hostile_password, h));
}

TEST(PasswordWpBcrypt, GeneratedVectorVerifies) {
  EXPECT_TRUE(pw::verify(wp_vector_password, wp_vector));
}

TEST(PasswordWpBcrypt, GeneratedVectorRejectsWrongPassword) {
  EXPECT_FALSE(pw::verify("correct horse battery stapler", wp_vector));
  EXPECT_FALSE(pw::verify("", wp_vector));
}

TEST(PasswordWpBcrypt, InnerBcryptIsOverThePrehashNotThePassword) {
  // Without "$wp" the string is plain bcrypt of the base64 HMAC, not of the password.
  const std::string inner(wp_vector.substr(3));
  EXPECT_TRUE(pw::verify(wp_vector_prehash, inner));
  EXPECT_FALSE(pw::verify(wp_vector_password, inner));
  // And the $wp form does not accept the prehash itself as a password.
  EXPECT_FALSE(pw::verify(wp_vector_prehash, wp_vector));
}

TEST(PasswordArgon2id, ReferenceVectorVerifies) {
  EXPECT_TRUE(pw::verify(argon2_vector_password, argon2_vector));
}

TEST(PasswordArgon2id, ReferenceVectorRejectsWrongPassword) {
  EXPECT_FALSE(pw::verify("Password", argon2_vector));
  EXPECT_FALSE(pw::verify("", argon2_vector));
}

// ---- cross-checks against independent implementations --------------------------------------

TEST(PasswordCrossCheck, PasslibPhpassHashesVerify) {
  auto pairs = python_pairs(std::string(python_passwords) + R"py(
from passlib.hash import phpass
for p in passwords:
    for ident in ("P", "H"):
        for rounds in (7, 8, 11):
            emit(p, phpass.using(ident=ident, rounds=rounds).hash(p))
)py");
  if (!pairs) GTEST_SKIP() << "/usr/bin/python3 with python3-passlib not available";
  ASSERT_GE(pairs->size(), 60u);
  for (const auto& [raw, stored] : *pairs) {
    const std::string& password = raw;
    EXPECT_EQ(pw::scheme_of(stored), pw::scheme::phpass) << stored;
    EXPECT_TRUE(pw::verify(password, stored)) << stored;
    EXPECT_FALSE(pw::verify(password + "!", stored)) << stored;
  }
}

TEST(PasswordCrossCheck, PythonBcryptHashesVerifyAsTwoBAndTwoY) {
  auto pairs = python_pairs(std::string(python_passwords) + R"py(
import bcrypt
for p in passwords:
    emit(p, bcrypt.hashpw(p, bcrypt.gensalt(4)).decode())
)py");
  if (!pairs) GTEST_SKIP() << "/usr/bin/python3 with python3-bcrypt not available";
  ASSERT_GE(pairs->size(), 10u);
  for (const auto& [raw, stored] : *pairs) {
    const std::string& password = raw;
    ASSERT_EQ(stored.substr(0, 4), "$2b$");
    std::string as_2y = stored;
    as_2y[2] = 'y';
    for (const std::string& h : {stored, as_2y}) {
      EXPECT_EQ(pw::scheme_of(h), pw::scheme::bcrypt) << h;
      EXPECT_TRUE(pw::verify(password, h)) << h;
      // bcrypt reads only 72 bytes (as PHP does), so the twin changes the first byte.
      std::string wrong = password.empty() ? "x" : password;
      wrong[0] = static_cast<char>(wrong[0] ^ 1);
      EXPECT_FALSE(pw::verify(wrong, h)) << h;
    }
  }
}

TEST(PasswordCrossCheck, PythonBuiltWordPress68HashesVerify) {
  auto pairs = python_pairs(std::string(python_passwords) + R"py(
import base64, bcrypt, hashlib, hmac
for p in passwords:
    pre = base64.b64encode(hmac.new(b"wp-sha384", p, hashlib.sha384).digest())
    emit(p, "$wp$2y$" + bcrypt.hashpw(pre, bcrypt.gensalt(4)).decode()[4:])
)py");
  if (!pairs) GTEST_SKIP() << "/usr/bin/python3 with python3-bcrypt not available";
  ASSERT_GE(pairs->size(), 10u);
  for (const auto& [raw, stored] : *pairs) {
    const std::string& password = raw;
    EXPECT_EQ(pw::scheme_of(stored), pw::scheme::wp_bcrypt) << stored;
    EXPECT_TRUE(pw::verify(password, stored)) << stored;
    // The HMAC prehash makes every byte count, including the last of a 4096-byte password.
    std::string wrong = password.empty() ? "x" : password;
    wrong.back() = static_cast<char>(wrong.back() ^ 1);
    EXPECT_FALSE(pw::verify(wrong, stored)) << stored;
  }
}

// ---- hostile stored strings -----------------------------------------------------------------

TEST(PasswordHostile, GarbledPhpassNeverVerifies) {
  for_each_mutation(phpass_vector, [](const std::string& m) {
    EXPECT_FALSE(pw::verify(phpass_vector_password, m)) << m;
  });
}

TEST(PasswordHostile, GarbledBcryptNeverVerifies) {
  for_each_mutation(
      bcrypt_cost4,
      [](const std::string& m) { EXPECT_FALSE(pw::verify(hostile_password, m)) << m; }, 4, 6);
}

TEST(PasswordHostile, GarbledWordPress68NeverVerifies) {
  ASSERT_TRUE(pw::verify(hostile_password, wp_cost4));
  for_each_mutation(
      wp_cost4, [](const std::string& m) { EXPECT_FALSE(pw::verify(hostile_password, m)) << m; }, 7,
      9);
}

TEST(PasswordHostile, GarbledArgon2idNeverVerifies) {
  for_each_mutation(argon2_vector, [](const std::string& m) {
    EXPECT_FALSE(pw::verify(argon2_vector_password, m)) << m;
  });
}

TEST(PasswordHostile, UnknownAndMalformedStringsFail) {
  const std::vector<std::string> garbage = {
      "",
      "$",
      "password",                            // plaintext in the column
      "5f4dcc3b5aa765d61d8327deb882cf99",    // pre-2.5 WordPress raw MD5: unsupported
      "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/",  // MD5-crypt: crypt_r must never see it
      "$5$rounds=5000$salt$abc",             // SHA-crypt
      "$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=4294967295,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=4294967295,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/"
      "4",
      "$argon2id$v=19$m=256,t=2,p=255$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=99999999999,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/"
      "4",
      "$argon2id$v=19$m=0256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=-256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$",
      "$argon2id$v=19$m=256,t=2,p=1$$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4$",
      "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4=",
      [] {
        std::string s(argon2_vector);
        s[s.size() - 3] = '\0';  // embedded NUL inside the tag
        return s;
      }(),
      std::string(phpass_vector) + "x",
      std::string(bcrypt_vector) + "x",
      "$wp" + std::string(phpass_vector),
      "$wp$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
      std::string(100000, '$'),
  };
  for (const auto& stored : garbage) {
    EXPECT_FALSE(pw::verify("password", stored)) << stored;
    EXPECT_FALSE(pw::verify(argon2_vector_password, stored)) << stored;
  }
}

// ---- hashing and the password length bound ---------------------------------------------------

TEST(PasswordHash, DefaultParamsProduceArgon2idPhcStringThatVerifies) {
  const pw::argon2_params defaults;
  const std::string h = pw::hash("hunter2", defaults);
  EXPECT_EQ(h.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << h;
  EXPECT_EQ(pw::scheme_of(h), pw::scheme::argon2id);
  EXPECT_TRUE(pw::verify("hunter2", h));
  EXPECT_FALSE(pw::verify("hunter3", h));
}

// hash() writes the PHC string itself (it hashes on memory of its own, see below); libargon2's
// own decoder must read it, and verify() must read what libargon2's encoder writes.
TEST(PasswordHash, PhcStringsAgreeWithLibargon2BothWays) {
  const pw::argon2_params params{.memory_kib = 256, .iterations = 2, .parallelism = 2};
  for (std::string password : {std::string("hunter2"), std::string(""), std::string("a\0b", 3), std::string(200, 'x')}) {
    const std::string ours = pw::hash(password, params);
    EXPECT_EQ(argon2id_verify(ours.c_str(), password.data(), password.size()), ARGON2_OK) << ours;
    for (std::size_t salt_bytes : {8u, 16u, 17u, 33u}) {
      const std::string salt(salt_bytes, 's');
      char theirs[256] = {};
      ASSERT_EQ(argon2id_hash_encoded(2, 256, 2, password.data(), password.size(), salt.data(), salt.size(), 31,
                                      theirs, sizeof theirs),
                ARGON2_OK);
      EXPECT_TRUE(pw::verify(password, theirs)) << theirs;
      EXPECT_FALSE(pw::verify(password + "!", theirs)) << theirs;
    }
  }
}

long resident_kib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// A burst of logins must not leave argon2's working memory (19 MiB a hash by default) in
// the allocator of every thread that hashed: through malloc, glibc keeps each block.
TEST(PasswordHash, WorkingMemoryIsGivenBackAfterEveryHash) {
  const pw::argon2_params defaults;
  const long before = resident_kib();
  ASSERT_GT(before, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 3; ++i) (void)pw::hash("burst", defaults);
    });
  }
  for (auto& t : threads) t.join();
  const long after = resident_kib();
  // Four threads × 19 MiB would stay resident if the blocks were kept.
  EXPECT_LT(after - before, 8 * 1024) << "resident before " << before << " KiB, after " << after << " KiB";
}

TEST(PasswordHash, SamePasswordGetsFreshSaltEachTime) {
  EXPECT_NE(pw::hash("same", cheap), pw::hash("same", cheap));
}

TEST(PasswordHash, SaltIsSixteenAndTagThirtyTwoBytes) {
  const std::string h = pw::hash("x", cheap);
  const auto tag_start = h.rfind('$');
  const auto salt_start = h.rfind('$', tag_start - 1);
  EXPECT_EQ(tag_start - salt_start - 1, 22u);  // ceil(16 * 4 / 3), unpadded
  EXPECT_EQ(h.size() - tag_start - 1, 43u);    // ceil(32 * 4 / 3), unpadded
}

TEST(PasswordHash, EmbeddedNulBytesAreHashedNotTruncated) {
  const std::string with_nul("a\0b", 3);
  const std::string h = pw::hash(with_nul, cheap);
  EXPECT_TRUE(pw::verify(with_nul, h));
  EXPECT_FALSE(pw::verify("a", h));
}

TEST(PasswordHash, PasswordAtLimitIsAccepted) {
  const std::string longest(pw::max_password_bytes, 'p');
  const std::string h = pw::hash(longest, cheap);
  EXPECT_TRUE(pw::verify(longest, h));
}

TEST(PasswordHash, PasswordOverLimitThrows) {
  EXPECT_THROW(pw::hash(std::string(pw::max_password_bytes + 1, 'p'), cheap),
               std::invalid_argument);
}

TEST(PasswordHash, PasswordOverLimitNeverVerifies) {
  // Even against a hash that (hypothetically) matched: the bound is checked before any work.
  const std::string too_long(pw::max_password_bytes + 1, 'p');
  EXPECT_FALSE(pw::verify(too_long, pw::hash("p", cheap)));
  EXPECT_FALSE(pw::verify(too_long, phpass_vector));
  EXPECT_FALSE(pw::verify(too_long, bcrypt_vector));
  EXPECT_FALSE(pw::verify(too_long, wp_vector));
}

TEST(PasswordHash, OutOfBoundsParamsThrow) {
  EXPECT_THROW(pw::hash("p", {.memory_kib = 4, .iterations = 1, .parallelism = 1}),
               std::invalid_argument);
  EXPECT_THROW(pw::hash("p", {.memory_kib = 64, .iterations = 0, .parallelism = 1}),
               std::invalid_argument);
  EXPECT_THROW(pw::hash("p", {.memory_kib = 64, .iterations = 1, .parallelism = 0}),
               std::invalid_argument);
  EXPECT_THROW(pw::hash("p", {.memory_kib = 64, .iterations = 1, .parallelism = 9}),
               std::invalid_argument);  // needs 8 KiB per lane
  EXPECT_THROW(
      pw::hash("p",
               {.memory_kib = pw::max_argon2_memory_kib + 1, .iterations = 1, .parallelism = 1}),
      std::invalid_argument);
}

// ---- scheme_of and needs_rehash --------------------------------------------------------------

TEST(PasswordScheme, ClassifiesEveryStoredFormat) {
  const std::vector<std::pair<std::string, pw::scheme>> table = {
      {std::string(argon2_vector), pw::scheme::argon2id},
      {std::string(phpass_vector), pw::scheme::phpass},
      {"$H$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L0", pw::scheme::phpass},
      {std::string(bcrypt_vector), pw::scheme::bcrypt},
      {std::string(bcrypt_cost4), pw::scheme::bcrypt},
      {std::string(wp_vector), pw::scheme::wp_bcrypt},
      {"", pw::scheme::unknown},
      {"$P$9IQRaTwmfeRo7ud9Fh4E2PdI0S3r.L", pw::scheme::unknown},  // one short
      {std::string(bcrypt_vector.substr(0, 59)), pw::scheme::unknown},
      {"$2x$10$.vGA1O9wmRjrwAVXD98HNOgsNpDczlqm3Jq7KnEd1rVAGv3Fykk1a", pw::scheme::unknown},
      {"$wp$2y$10$short", pw::scheme::unknown},
      {"$argon2id$garbage", pw::scheme::unknown},
      {"$argon2i$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
       pw::scheme::unknown},
      {"5f4dcc3b5aa765d61d8327deb882cf99", pw::scheme::unknown},
  };
  for (const auto& [stored, expected] : table) EXPECT_EQ(pw::scheme_of(stored), expected) << stored;
}

TEST(PasswordRehash, LegacySchemesNeedRehash) {
  const pw::argon2_params defaults;
  EXPECT_TRUE(pw::needs_rehash(phpass_vector, defaults));
  EXPECT_TRUE(pw::needs_rehash(bcrypt_vector, defaults));
  EXPECT_TRUE(pw::needs_rehash(wp_vector, defaults));
  EXPECT_TRUE(pw::needs_rehash("", defaults));
  EXPECT_TRUE(pw::needs_rehash("$argon2id$garbage", defaults));
}

TEST(PasswordRehash, WeakerArgon2idNeedsRehash) {
  const pw::argon2_params defaults;
  EXPECT_TRUE(pw::needs_rehash(argon2_vector, defaults));  // m=256, 8-byte salt
  // Same work factors as asked, but an 8-byte salt: still upgraded.
  EXPECT_TRUE(
      pw::needs_rehash(argon2_vector, {.memory_kib = 256, .iterations = 2, .parallelism = 1}));
  // Made with cheap params, checked against stronger ones: memory, then iterations.
  const std::string h = pw::hash("p", cheap);
  EXPECT_TRUE(pw::needs_rehash(h, {.memory_kib = 65, .iterations = 1, .parallelism = 1}));
  EXPECT_TRUE(pw::needs_rehash(h, {.memory_kib = 64, .iterations = 2, .parallelism = 1}));
  // Version 0x10 (no "v=") is upgraded whatever its parameters.
  EXPECT_TRUE(
      pw::needs_rehash("$argon2id$m=65536,t=4,p=1$c29tZXNhbHRzYWx0c2FsdA$nf65EOgLrQMR/"
                       "uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4",
                       cheap));
}

TEST(PasswordRehash, CurrentArgon2idDoesNotNeedRehash) {
  const std::string h = pw::hash("p", cheap);
  EXPECT_FALSE(pw::needs_rehash(h, cheap));
  // Stronger than asked (e.g. after an operator lowered the params) is kept, not downgraded.
  EXPECT_FALSE(pw::needs_rehash(h, {.memory_kib = 32, .iterations = 1, .parallelism = 1}));
}

// ---- dummy_hash -------------------------------------------------------------------------------

TEST(PasswordDummy, NoPasswordVerifiesAgainstDummy) {
  const pw::argon2_params defaults;
  const std::string& dummy = pw::dummy_hash(defaults);
  EXPECT_FALSE(pw::verify("", dummy));
  EXPECT_FALSE(pw::verify("password", dummy));
}

TEST(PasswordDummy, DummyIsComputedOnceWithTheGivenParams) {
  const pw::argon2_params defaults;
  const std::string& first = pw::dummy_hash(defaults);
  const std::string& second = pw::dummy_hash(defaults);
  EXPECT_EQ(&first, &second);
  // Costs exactly what a current user's hash costs.
  EXPECT_FALSE(pw::needs_rehash(first, defaults));
  EXPECT_EQ(first.rfind("$argon2id$v=19$m=19456,t=2,p=1$", 0), 0u) << first;
  // Other params get their own dummy.
  const std::string& other = pw::dummy_hash(cheap);
  EXPECT_NE(&other, &first);
  EXPECT_EQ(other.rfind("$argon2id$v=19$m=64,t=1,p=1$", 0), 0u) << other;
}

TEST(PasswordDummy, ConcurrentFirstCallsAgreeOnOneDummy) {
  const pw::argon2_params params{.memory_kib = 72, .iterations = 1, .parallelism = 1};
  std::vector<const std::string*> seen(8);
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < seen.size(); ++i)
    threads.emplace_back([&, i] { seen[i] = &pw::dummy_hash(params); });
  for (auto& t : threads) t.join();
  for (const auto* s : seen) EXPECT_EQ(s, seen[0]);
}

// ---- verify_for_login: the same work on every path ---------------------------------------

// WordPress's own phpass setting ($P$B: 2^13 rounds), computed with phpass's crypt_private
// (class-phpass.php) re-implemented in Python for "timing-equal" and salt "cartgate"; the
// same script reproduces phpass_vector above.
constexpr std::string_view phpass_b_vector = "$P$Bcartgatex5oc04GZuJPw8yjhxnIR10";
constexpr std::string_view phpass_b_vector_password = "timing-equal";

struct login_path {
  const char* what;
  std::optional<std::string> stored;  // nullopt: no such user
  std::string password;
  bool expected;
};

// verify_for_login with a slot of its own, so the answer is never busy.
bool login_check(std::string_view password, const std::string* stored) {
  static pw::limiter slots(1);
  auto ok = pw::verify_for_login(password, stored, cheap, slots, 1000ms);
  if (!ok) throw std::runtime_error("no argon2 slot");
  return *ok;
}

pw::work_counters delta(const pw::work_counters& before, const pw::work_counters& after) {
  return {after.argon2id - before.argon2id, after.bcrypt - before.bcrypt,
          after.phpass_rounds - before.phpass_rounds};
}

TEST(PasswordLoginWork, EveryPathRunsOneHashOfEachScheme) {
  const std::vector<login_path> paths = {
      {"unknown user", std::nullopt, "anything", false},
      {"argon2id, wrong password", std::string(argon2_vector), "wrong", false},
      {"argon2id, right password", std::string(argon2_vector), std::string(argon2_vector_password), true},
      {"bcrypt, wrong password", std::string(bcrypt_vector), "wrong", false},
      {"bcrypt, right password", std::string(bcrypt_vector), std::string(bcrypt_vector_password), true},
      {"$wp$ bcrypt, wrong password", std::string(wp_vector), "wrong", false},
      {"$wp$ bcrypt, right password", std::string(wp_vector), std::string(wp_vector_password), true},
      {"phpass, wrong password", std::string(phpass_b_vector), "wrong", false},
      {"phpass, right password", std::string(phpass_b_vector), std::string(phpass_b_vector_password), true},
      {"garbled stored hash", std::string("$P$Bshort"), "anything", false},
      {"bcrypt, password with a NUL", std::string(bcrypt_vector),
       std::string(bcrypt_vector_password) + std::string("\0x", 2), false},
  };
  (void)login_check("warm-up", nullptr);  // the dummies are made once
  for (const auto& p : paths) {
    const auto before = pw::work_done();
    const bool ok = login_check(p.password, p.stored ? &*p.stored : nullptr);
    const auto did = delta(before, pw::work_done());
    EXPECT_EQ(ok, p.expected) << p.what;
    EXPECT_EQ(did.argon2id, 1u) << p.what;
    EXPECT_EQ(did.bcrypt, 1u) << p.what;
    EXPECT_EQ(did.phpass_rounds, 8192u) << p.what;  // WordPress's 2^13
  }
}

// ---- verify_for_login: dummies only for the legacy schemes present --------------------

bool login_check(std::string_view password, const std::string* stored, pw::legacy_schemes present) {
  static pw::limiter slots(1);
  auto ok = pw::verify_for_login(password, stored, cheap, present, slots, 1000ms);
  if (!ok) throw std::runtime_error("no argon2 slot");
  return *ok;
}

TEST(PasswordLoginWork, DummiesRunOnlyForTheLegacySchemesPresent) {
  (void)login_check("warm-up", nullptr, pw::legacy_schemes::all());
  const std::string argon2(argon2_vector);
  struct expectation {
    pw::legacy_schemes present;
    std::uint64_t bcrypt, phpass_rounds;
  };
  const std::vector<expectation> cases = {
      {pw::legacy_schemes::none(), 0, 0},
      {{.bcrypt = true, .phpass = false}, 1, 0},
      {{.bcrypt = false, .phpass = true}, 0, 8192},
      {pw::legacy_schemes::all(), 1, 8192},
  };
  for (const auto& c : cases) {
    for (const std::string* stored : {static_cast<const std::string*>(nullptr), &argon2}) {
      const auto before = pw::work_done();
      EXPECT_FALSE(login_check("wrong", stored, c.present));
      const auto did = delta(before, pw::work_done());
      const std::string what = std::string(stored ? "argon2id account" : "unknown user") +
                               ", bcrypt present " + (c.present.bcrypt ? "yes" : "no") +
                               ", phpass present " + (c.present.phpass ? "yes" : "no");
      EXPECT_EQ(did.argon2id, 1u) << what;
      EXPECT_EQ(did.bcrypt, c.bcrypt) << what;
      EXPECT_EQ(did.phpass_rounds, c.phpass_rounds) << what;
    }
  }
}

TEST(PasswordLoginWork, WithTheAccountsSchemePresentEveryPathCostsTheSame) {
  // What a consistent store gives: a legacy account's scheme is among the present ones,
  // and its path (real scheme, dummy argon2id, dummies of the other present schemes)
  // does what the unknown user's does.
  const std::vector<login_path> paths = {
      {"unknown user", std::nullopt, "anything", false},
      {"argon2id, right password", std::string(argon2_vector), std::string(argon2_vector_password), true},
      {"bcrypt, right password", std::string(bcrypt_vector), std::string(bcrypt_vector_password), true},
      {"$wp$ bcrypt, wrong password", std::string(wp_vector), "wrong", false},
      {"phpass, right password", std::string(phpass_b_vector), std::string(phpass_b_vector_password), true},
      {"garbled stored hash", std::string("$P$Bshort"), "anything", false},
  };
  for (const pw::legacy_schemes present :
       {pw::legacy_schemes{.bcrypt = true, .phpass = false}, pw::legacy_schemes{.bcrypt = false, .phpass = true},
        pw::legacy_schemes::all()}) {
    for (const auto& p : paths) {
      const auto s = p.stored ? pw::scheme_of(*p.stored) : pw::scheme::unknown;
      if ((s == pw::scheme::bcrypt || s == pw::scheme::wp_bcrypt) && !present.bcrypt) continue;
      if (s == pw::scheme::phpass && !present.phpass) continue;
      const auto before = pw::work_done();
      EXPECT_EQ(login_check(p.password, p.stored ? &*p.stored : nullptr, present), p.expected) << p.what;
      const auto did = delta(before, pw::work_done());
      EXPECT_EQ(did.argon2id, 1u) << p.what;
      EXPECT_EQ(did.bcrypt, present.bcrypt ? 1u : 0u) << p.what;
      EXPECT_EQ(did.phpass_rounds, present.phpass ? 8192u : 0u) << p.what;
    }
  }
}

TEST(PasswordLoginWork, AnAccountsOwnSchemeRunsEvenWhenNotYetPresent) {
  // A store read before an import: the imported account still verifies, with its real
  // hash, and runs nothing else legacy.
  const std::string bcrypt(bcrypt_vector), phpass(phpass_b_vector);
  auto before = pw::work_done();
  EXPECT_TRUE(login_check(bcrypt_vector_password, &bcrypt, pw::legacy_schemes::none()));
  auto did = delta(before, pw::work_done());
  EXPECT_EQ(did.argon2id, 1u);
  EXPECT_EQ(did.bcrypt, 1u);
  EXPECT_EQ(did.phpass_rounds, 0u);
  before = pw::work_done();
  EXPECT_TRUE(login_check(phpass_b_vector_password, &phpass, pw::legacy_schemes::none()));
  did = delta(before, pw::work_done());
  EXPECT_EQ(did.argon2id, 1u);
  EXPECT_EQ(did.bcrypt, 0u);
  EXPECT_EQ(did.phpass_rounds, 8192u);
}

TEST(PasswordLegacyWatch, EverySchemeUntilTheFirstReading) {
  pw::legacy_watch w;
  EXPECT_FALSE(w.known());
  EXPECT_EQ(w.current(), pw::legacy_schemes::all());
  w.set(pw::legacy_schemes::none());
  EXPECT_TRUE(w.known());
  EXPECT_EQ(w.current(), pw::legacy_schemes::none());
  w.set({.bcrypt = false, .phpass = true});
  EXPECT_EQ(w.current(), (pw::legacy_schemes{.bcrypt = false, .phpass = true}));
}

TEST(PasswordLegacyWatch, EverySchemeWhileTheReadingsAreNotTrusted) {
  pw::legacy_watch w;
  bool live = true;
  w.trust_while([&] { return live; });
  w.set(pw::legacy_schemes::none());
  EXPECT_EQ(w.current(), pw::legacy_schemes::none());
  live = false;
  EXPECT_EQ(w.current(), pw::legacy_schemes::all());
  live = true;
  EXPECT_EQ(w.current(), pw::legacy_schemes::none());
}

TEST(PasswordLegacyWatch, AnAccountSeenAtLoginTurnsItsSchemeOn) {
  pw::legacy_watch w;
  w.set(pw::legacy_schemes::none());
  w.saw(pw::scheme::argon2id);
  w.saw(pw::scheme::unknown);
  EXPECT_EQ(w.current(), pw::legacy_schemes::none());
  w.saw(pw::scheme::wp_bcrypt);
  EXPECT_EQ(w.current(), (pw::legacy_schemes{.bcrypt = true, .phpass = false}));
  w.saw(pw::scheme::phpass);
  EXPECT_EQ(w.current(), pw::legacy_schemes::all());
  w.set(pw::legacy_schemes::none());  // the next reading: their accounts were rehashed
  EXPECT_EQ(w.current(), pw::legacy_schemes::none());
}

TEST(PasswordLoginWork, UnknownUserUsesTheDummyAtTheGivenParams) {
  // The argon2 dummy is the one login always used: no password verifies against it.
  EXPECT_FALSE(login_check("", nullptr));
  EXPECT_FALSE(login_check("password", nullptr));
  const std::string dummy = pw::dummy_hash(cheap);
  EXPECT_FALSE(login_check("password", &dummy));
}

TEST(PasswordLoginWork, OverlongPasswordRunsNothingForAnyAccount) {
  const std::string overlong(pw::max_password_bytes + 1, 'x');
  const std::string stored(bcrypt_vector);
  for (const std::string* s : {static_cast<const std::string*>(nullptr), &stored}) {
    const auto before = pw::work_done();
    EXPECT_FALSE(login_check(overlong, s));
    const auto did = delta(before, pw::work_done());
    EXPECT_EQ(did.argon2id + did.bcrypt + did.phpass_rounds, 0u);
  }
}

TEST(PasswordLoginWork, NoFreeSlotIsBusyBeforeAnyWork) {
  pw::limiter slots(1);
  auto held = slots.acquire(0ms);
  ASSERT_TRUE(held);
  const std::string stored(bcrypt_vector);
  const auto before = pw::work_done();
  EXPECT_FALSE(pw::verify_for_login("x", &stored, cheap, slots, 0ms).has_value());
  const auto did = delta(before, pw::work_done());
  EXPECT_EQ(did.argon2id + did.bcrypt + did.phpass_rounds, 0u);
}

TEST(PasswordLoginWork, PlainVerifyCountsOnlyItsOwnScheme) {
  // The counters see real work: a plain verify of one scheme moves only its counter.
  auto before = pw::work_done();
  EXPECT_TRUE(pw::verify(phpass_b_vector_password, phpass_b_vector));
  auto did = delta(before, pw::work_done());
  EXPECT_EQ(did.phpass_rounds, 8192u);
  EXPECT_EQ(did.argon2id + did.bcrypt, 0u);
}

// ---- limiter --------------------------------------------------------------------------------

TEST(PasswordLimiter, ZeroSlotsIsRejected) { EXPECT_THROW(pw::limiter(0), std::invalid_argument); }

TEST(PasswordLimiter, ThirdAcquireTimesOutWhileTwoAreHeld) {
  pw::limiter limit(2);
  auto a = limit.acquire(0ms);
  auto b = limit.acquire(0ms);
  ASSERT_TRUE(a && b);
  EXPECT_EQ(limit.in_use(), 2u);
  EXPECT_FALSE(limit.acquire(20ms).has_value());
  EXPECT_FALSE(limit.acquire(0ms).has_value());
  EXPECT_EQ(limit.in_use(), 2u);
}

TEST(PasswordLimiter, ReleasedPermitLetsNextAcquireThrough) {
  pw::limiter limit(2);
  auto a = limit.acquire(0ms);
  auto b = limit.acquire(0ms);
  ASSERT_FALSE(limit.acquire(0ms).has_value());
  a.reset();
  EXPECT_EQ(limit.in_use(), 1u);
  EXPECT_TRUE(limit.acquire(0ms).has_value());
}

TEST(PasswordLimiter, WaiterWakesWhenPermitIsReleased) {
  pw::limiter limit(1);
  auto held = limit.acquire(0ms);
  ASSERT_TRUE(held);
  std::atomic<bool> got{false};
  std::thread waiter([&] { got = limit.acquire(10s).has_value(); });
  held.reset();  // whichever runs first, the waiter must get the slot well before 10 s
  waiter.join();
  EXPECT_TRUE(got);
  EXPECT_EQ(limit.in_use(), 0u);
}

TEST(PasswordLimiter, MovedPermitReleasesExactlyOnce) {
  pw::limiter limit(2);
  {
    auto a = limit.acquire(0ms);
    ASSERT_TRUE(a);
    pw::limiter::permit moved = std::move(*a);
    a.reset();  // the moved-from permit must not release
    EXPECT_EQ(limit.in_use(), 1u);
    auto b = limit.acquire(0ms);
    ASSERT_TRUE(b);
    moved = std::move(*b);  // assignment releases the slot `moved` held
    EXPECT_EQ(limit.in_use(), 1u);
  }
  EXPECT_EQ(limit.in_use(), 0u);
}

TEST(PasswordLimiter, ConcurrentThreadsNeverExceedMax) {
  constexpr unsigned max = 3;
  pw::limiter limit(max);
  std::atomic<unsigned> running{0}, peak{0}, granted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        auto p = limit.acquire(5s);
        if (!p) continue;
        ++granted;
        const unsigned now = ++running;
        unsigned seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
        EXPECT_LE(limit.in_use(), max);
        std::this_thread::yield();
        --running;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(peak.load(), max);
  EXPECT_GE(peak.load(), 1u);
  EXPECT_EQ(granted.load(), 8u * 300u);
  EXPECT_EQ(limit.in_use(), 0u);
}

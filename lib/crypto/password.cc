#include "crypto/password.h"

#include <argon2.h>
#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/mman.h>

#include <array>
#include <atomic>
#include <charconv>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <tuple>

#include "crypto/random.h"

namespace cartgate::password {
namespace {

constexpr std::string_view argon2id_prefix = "$argon2id$";
constexpr std::size_t argon2_salt_bytes = 16;
constexpr std::size_t argon2_tag_bytes = 32;
// Stored salts and tags beyond this are garbage, not a stronger hash; refuse to allocate for them.
constexpr std::size_t max_argon2_field_bytes = 1024;

constexpr std::size_t phpass_length = 34;  // "$P$" + count + 8 salt + 22 hash
constexpr std::size_t bcrypt_length = 60;  // "$2y$" + "10" + "$" + 22 salt + 31 hash
constexpr std::string_view wp_prefix = "$wp";

// phpass and bcrypt both use this alphabet, in different orders.
constexpr std::string_view phpass_itoa64 =
    "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

// What verification has computed so far (work_done()): the real work, counted where it runs.
std::atomic<std::uint64_t> argon2id_runs{0};
std::atomic<std::uint64_t> bcrypt_runs{0};
std::atomic<std::uint64_t> phpass_rounds_run{0};

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

bool secret_equal(std::string_view a, std::string_view b) {
  // The lengths of our outputs are public (fixed by the format); only the bytes are secret.
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// ---- argon2id -------------------------------------------------------------------------------

struct argon2_phc {
  std::uint32_t version = ARGON2_VERSION_10;  // a PHC string without "v=" is version 0x10
  std::uint32_t memory_kib = 0;
  std::uint32_t iterations = 0;
  std::uint32_t parallelism = 0;
  std::size_t salt_bytes = 0;
  std::size_t tag_bytes = 0;
};

// Reads "<name>=<decimal>" from the front of `s`, advancing it.
bool take_decimal(std::string_view& s, std::string_view name, std::uint32_t& out) {
  if (!starts_with(s, name) || s.size() <= name.size() || s[name.size()] != '=') return false;
  s.remove_prefix(name.size() + 1);
  const char* end = s.data() + s.size();
  if (s.empty() || s[0] < '0' || s[0] > '9' ||
      (s[0] == '0' && s.size() > 1 && s[1] >= '0' && s[1] <= '9')) {
    return false;  // no sign, no leading zeros: one spelling per value
  }
  auto [ptr, ec] = std::from_chars(s.data(), end, out);
  if (ec != std::errc()) return false;
  s.remove_prefix(static_cast<std::size_t>(ptr - s.data()));
  return true;
}

bool take_char(std::string_view& s, char c) {
  if (s.empty() || s[0] != c) return false;
  s.remove_prefix(1);
  return true;
}

// Length in bytes of an unpadded standard-base64 field, or nullopt if it is not one.
std::optional<std::size_t> base64_field_bytes(std::string_view field) {
  if (field.empty() || field.size() % 4 == 1) return std::nullopt;
  for (char c : field) {
    bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/';
    if (!ok) return std::nullopt;
  }
  return field.size() * 6 / 8;
}

// Parses the shape of an argon2id PHC string. libargon2 decodes it again when verifying; this
// pass exists so that needs_rehash can read the parameters and verify can bound them before
// libargon2 allocates memory_kib.
std::optional<argon2_phc> parse_argon2id(std::string_view s) {
  if (!starts_with(s, argon2id_prefix)) return std::nullopt;
  s.remove_prefix(argon2id_prefix.size());
  argon2_phc phc;
  if (starts_with(s, "v=")) {
    if (!take_decimal(s, "v", phc.version) || !take_char(s, '$')) return std::nullopt;
  }
  if (!take_decimal(s, "m", phc.memory_kib) || !take_char(s, ',') ||
      !take_decimal(s, "t", phc.iterations) || !take_char(s, ',') ||
      !take_decimal(s, "p", phc.parallelism) || !take_char(s, '$')) {
    return std::nullopt;
  }
  auto dollar = s.find('$');
  if (dollar == std::string_view::npos) return std::nullopt;
  auto salt = base64_field_bytes(s.substr(0, dollar));
  auto tag = base64_field_bytes(s.substr(dollar + 1));
  if (!salt || !tag) return std::nullopt;
  phc.salt_bytes = *salt;
  phc.tag_bytes = *tag;
  return phc;
}

bool argon2_params_in_bounds(std::uint32_t m, std::uint32_t t, std::uint32_t p) {
  return p >= ARGON2_MIN_LANES && p <= max_argon2_parallelism && t >= ARGON2_MIN_TIME &&
         t <= max_argon2_iterations && m >= ARGON2_MIN_MEMORY && m >= 8 * p &&
         m <= max_argon2_memory_kib;
}

// argon2's working memory (m = 19 MiB by default) is mapped for each hash and unmapped
// after it, so a burst of logins leaves nothing behind: through malloc, glibc's dynamic
// mmap threshold rises past 19 MiB after the first free and every thread's arena keeps
// its block for good (8 threads × 19 MiB). Asking for transparent huge pages makes the
// fresh mapping cost ~10 page faults rather than ~5 000, so a hash costs what it does on
// memory malloc kept warm (docs/benchmarks.md, "Worker memory").
constexpr std::size_t huge_page_bytes = std::size_t{2} << 20;

std::size_t mapped_size(std::size_t bytes) {
  return (bytes + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes;
}

int map_argon2_memory(std::uint8_t** memory, std::size_t bytes) {
  const std::size_t size = mapped_size(bytes);
  // One huge page more than asked for, so the block can start on a huge-page boundary.
  void* raw = mmap(nullptr, size + huge_page_bytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (raw == MAP_FAILED) return ARGON2_MEMORY_ALLOCATION_ERROR;
  auto start = reinterpret_cast<std::uintptr_t>(raw);
  auto aligned = (start + huge_page_bytes - 1) / huge_page_bytes * huge_page_bytes;
  // Give back the slack on either side; only [aligned, aligned + size) stays mapped.
  if (aligned > start) munmap(raw, aligned - start);
  std::size_t tail = (start + size + huge_page_bytes) - (aligned + size);
  if (tail > 0) munmap(reinterpret_cast<void*>(aligned + size), tail);
  madvise(reinterpret_cast<void*>(aligned), size, MADV_HUGEPAGE);  // a hint: fine if refused
  *memory = reinterpret_cast<std::uint8_t*>(aligned);
  return ARGON2_OK;
}

void unmap_argon2_memory(std::uint8_t* memory, std::size_t bytes) {
  // libargon2 has wiped the block already (ARGON2_FLAG_CLEAR_MEMORY is its default).
  munmap(memory, mapped_size(bytes));
}

// Standard base64 without padding, as PHC strings write salts and tags.
std::string base64_unpadded(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data, static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::optional<std::string> decode_base64_unpadded(std::string_view field, std::size_t bytes) {
  std::string padded(field);
  while (padded.size() % 4 != 0) padded.push_back('=');
  std::string out(padded.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(padded.data()), static_cast<int>(padded.size()));
  if (n < 0 || static_cast<std::size_t>(n) < bytes) return std::nullopt;
  out.resize(bytes);  // EVP_DecodeBlock counts the padding as zero bytes
  // One spelling per value, as libargon2 decodes: the unused low bits of the last
  // character must be zero.
  if (base64_unpadded(reinterpret_cast<const unsigned char*>(out.data()), out.size()) != field) return std::nullopt;
  return out;
}

// One argon2id over `password`, into `tag` (its size is the tag length), on mapped memory.
int argon2id_raw(std::string_view password, std::string_view salt, std::uint32_t version,
                 std::uint32_t m, std::uint32_t t, std::uint32_t p, std::string& tag) {
  argon2_context ctx{};
  ctx.out = reinterpret_cast<std::uint8_t*>(tag.data());
  ctx.outlen = static_cast<std::uint32_t>(tag.size());
  // libargon2 only reads the password and salt; its struct has no const.
  ctx.pwd = reinterpret_cast<std::uint8_t*>(const_cast<char*>(password.data()));
  ctx.pwdlen = static_cast<std::uint32_t>(password.size());
  ctx.salt = reinterpret_cast<std::uint8_t*>(const_cast<char*>(salt.data()));
  ctx.saltlen = static_cast<std::uint32_t>(salt.size());
  ctx.t_cost = t;
  ctx.m_cost = m;
  ctx.lanes = p;
  ctx.threads = p;
  ctx.version = version;
  ctx.allocate_cbk = map_argon2_memory;
  ctx.free_cbk = unmap_argon2_memory;
  ctx.flags = ARGON2_DEFAULT_FLAGS;
  return argon2_ctx(&ctx, Argon2_id);
}

bool verify_argon2id(std::string_view password, std::string_view stored) {
  auto phc = parse_argon2id(stored);
  if (!phc || !argon2_params_in_bounds(phc->memory_kib, phc->iterations, phc->parallelism) ||
      (phc->version != ARGON2_VERSION_10 && phc->version != ARGON2_VERSION_13) ||
      phc->salt_bytes < ARGON2_MIN_SALT_LENGTH || phc->salt_bytes > max_argon2_field_bytes ||
      phc->tag_bytes < ARGON2_MIN_OUTLEN || phc->tag_bytes > max_argon2_field_bytes) {
    return false;
  }
  // The salt and tag fields, decoded (parse_argon2id checked their alphabet and length).
  std::string_view fields = stored.substr(stored.rfind('$', stored.rfind('$') - 1) + 1);
  auto cut = fields.find('$');
  auto salt = decode_base64_unpadded(fields.substr(0, cut), phc->salt_bytes);
  auto expected = decode_base64_unpadded(fields.substr(cut + 1), phc->tag_bytes);
  if (!salt || !expected) return false;
  argon2id_runs.fetch_add(1, std::memory_order_relaxed);
  std::string tag(phc->tag_bytes, '\0');
  if (argon2id_raw(password, *salt, phc->version, phc->memory_kib, phc->iterations, phc->parallelism, tag) !=
      ARGON2_OK) {
    return false;
  }
  return secret_equal(tag, *expected);
}

// ---- phpass ---------------------------------------------------------------------------------

// phpass's encode64: little-endian groups of 3 bytes, 6 bits at a time, itoa64 alphabet.
std::string phpass_encode64(const unsigned char* in, std::size_t count) {
  std::string out;
  std::size_t i = 0;
  do {
    unsigned value = in[i++];
    out += phpass_itoa64[value & 0x3f];
    if (i < count) value |= static_cast<unsigned>(in[i]) << 8;
    out += phpass_itoa64[(value >> 6) & 0x3f];
    if (i++ >= count) break;
    if (i < count) value |= static_cast<unsigned>(in[i]) << 16;
    out += phpass_itoa64[(value >> 12) & 0x3f];
    if (i++ >= count) break;
    out += phpass_itoa64[(value >> 18) & 0x3f];
  } while (i < count);
  return out;
}

struct md_deleter {
  void operator()(EVP_MD* md) const { EVP_MD_free(md); }
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

// WordPress's PasswordHash::crypt_private followed by hash_equals (class-phpass.php).
bool verify_phpass(std::string_view password, std::string_view stored) {
  if (stored.size() != phpass_length || !(starts_with(stored, "$P$") || starts_with(stored, "$H$")))
    return false;
  const auto log2_rounds = phpass_itoa64.find(stored[3]);
  if (log2_rounds == std::string_view::npos || log2_rounds < 7 ||
      log2_rounds > max_phpass_log2_rounds) {
    return false;
  }
  const std::string_view salt = stored.substr(4, 8);

  // Fetch MD5 once rather than letting every EVP_DigestInit_ex look it up by name. In a
  // FIPS-only configuration MD5 is unavailable and phpass hashes cannot verify.
  std::unique_ptr<EVP_MD, md_deleter> md5(EVP_MD_fetch(nullptr, "MD5", nullptr));
  std::unique_ptr<EVP_MD_CTX, md_deleter> ctx(EVP_MD_CTX_new());
  if (!md5 || !ctx) return false;

  std::array<unsigned char, 16> digest{};
  auto md5_of = [&](const void* head, std::size_t head_len) {
    unsigned int len = 0;
    return EVP_DigestInit_ex2(ctx.get(), md5.get(), nullptr) == 1 &&
           EVP_DigestUpdate(ctx.get(), head, head_len) == 1 &&
           EVP_DigestUpdate(ctx.get(), password.data(), password.size()) == 1 &&
           EVP_DigestFinal_ex(ctx.get(), digest.data(), &len) == 1 && len == digest.size();
  };
  if (!md5_of(salt.data(), salt.size())) return false;
  const std::size_t rounds = std::size_t{1} << log2_rounds;
  for (std::size_t round = 0; round < rounds; ++round) {
    const auto previous = digest;
    if (!md5_of(previous.data(), previous.size())) return false;
  }
  phpass_rounds_run.fetch_add(rounds, std::memory_order_relaxed);

  std::string computed(stored.substr(0, 12));
  computed += phpass_encode64(digest.data(), digest.size());
  return secret_equal(computed, stored);
}

// ---- bcrypt ---------------------------------------------------------------------------------

bool is_bcrypt_char(char c) {
  return c == '.' || c == '/' || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
         (c >= '0' && c <= '9');
}

// "$2y$NN$" + 53 characters of bcrypt's base64. Checked here, before crypt_r, so that a string
// of another shape can never reach crypt_r's other algorithms (DES, MD5-crypt...).
bool is_bcrypt_shape(std::string_view s) {
  if (s.size() != bcrypt_length || s[0] != '$' || s[1] != '2' ||
      (s[2] != 'y' && s[2] != 'b' && s[2] != 'a') || s[3] != '$' || s[6] != '$') {
    return false;
  }
  if (s[4] < '0' || s[4] > '9' || s[5] < '0' || s[5] > '9') return false;
  for (char c : s.substr(7)) {
    if (!is_bcrypt_char(c)) return false;
  }
  return true;
}

bool verify_bcrypt(std::string_view password, std::string_view stored) {
  if (!is_bcrypt_shape(stored)) return false;
  const unsigned cost = static_cast<unsigned>((stored[4] - '0') * 10 + (stored[5] - '0'));
  if (cost < 4 || cost > max_bcrypt_cost) return false;
  // crypt_r reads a C string: "abc\0def" would be checked as "abc". PHP refuses such passwords
  // for bcrypt, so no stored hash can legitimately need one. The hash still runs (over the
  // bytes before the NUL), so such a password costs what any other does.
  const bool has_nul = password.find('\0') != std::string_view::npos;

  // bcrypt reads at most 72 bytes of key, and libxcrypt refuses passphrases over 512 bytes
  // (CRYPT_MAX_PASSPHRASE_SIZE), so pass only the bytes bcrypt uses. Same result as PHP.
  const std::string key(password.substr(0, 72));
  const std::string setting(stored);
  auto data = std::make_unique<crypt_data>();  // ~32 KiB: keep it off the stack; zeroed
  bcrypt_runs.fetch_add(1, std::memory_order_relaxed);
  const char* result = crypt_r(key.c_str(), setting.c_str(), data.get());
  // "*0"/"*1" (or NULL) are libxcrypt's failure tokens; they never equal a well-shaped hash.
  const bool ok = !has_nul && result != nullptr && secret_equal(std::string_view(result), stored);
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return ok;
}

}  // namespace

std::string hash_bcrypt(std::string_view password) {
  if (password.size() > max_password_bytes || password.find('\0') != std::string_view::npos) {
    throw std::invalid_argument("password: not hashable with bcrypt");
  }
  const std::string salt_bytes = random::bytes(16);
  char setting[CRYPT_GENSALT_OUTPUT_SIZE];
  if (crypt_gensalt_rn("$2y$", 10, salt_bytes.data(), static_cast<int>(salt_bytes.size()), setting,
                       sizeof setting) == nullptr) {
    throw std::runtime_error("password: crypt_gensalt_rn failed");
  }
  const std::string key(password.substr(0, 72));
  auto data = std::make_unique<crypt_data>();
  const char* result = crypt_r(key.c_str(), setting, data.get());
  std::string out = result != nullptr && result[0] != '*' ? std::string(result) : std::string();
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  if (!is_bcrypt_shape(out)) throw std::runtime_error("password: bcrypt hashing failed");
  return out;
}

namespace {

// WordPress 6.8 (wp_check_password): bcrypt over base64(HMAC-SHA384(key "wp-sha384", password)),
// so passwords longer than bcrypt's 72 bytes still count in full.
bool verify_wp_bcrypt(std::string_view password, std::string_view stored) {
  if (!starts_with(stored, wp_prefix)) return false;
  constexpr std::string_view key = "wp-sha384";
  std::array<unsigned char, 48> mac{};
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha384(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(password.data()), password.size(), mac.data(),
           &mac_len) == nullptr ||
      mac_len != mac.size()) {
    return false;
  }
  std::array<char, 4 * 48 / 3 + 1> prehash{};  // 64 characters + NUL, padding not needed for 48
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(prehash.data()), mac.data(),
                                static_cast<int>(mac.size()));
  OPENSSL_cleanse(mac.data(), mac.size());
  const bool ok = n == 64 && verify_bcrypt(std::string_view(prehash.data(), 64),
                                           stored.substr(wp_prefix.size()));
  OPENSSL_cleanse(prehash.data(), prehash.size());
  return ok;
}

}  // namespace

// ---- public API -----------------------------------------------------------------------------

std::string hash(std::string_view password, const argon2_params& params) {
  if (password.size() > max_password_bytes)
    throw std::invalid_argument("password: longer than max_password_bytes");
  if (!argon2_params_in_bounds(params.memory_kib, params.iterations, params.parallelism))
    throw std::invalid_argument("password: argon2 parameters out of bounds");

  std::array<unsigned char, argon2_salt_bytes> salt{};
  if (RAND_bytes(salt.data(), static_cast<int>(salt.size())) != 1)
    throw std::runtime_error("password: RAND_bytes failed");

  std::string tag(argon2_tag_bytes, '\0');
  const std::string_view salt_view(reinterpret_cast<const char*>(salt.data()), salt.size());
  const int rc = argon2id_raw(password, salt_view, ARGON2_VERSION_13, params.memory_kib, params.iterations,
                              params.parallelism, tag);
  if (rc != ARGON2_OK)
    throw std::runtime_error(std::string("password: argon2id failed: ") + argon2_error_message(rc));
  return std::string(argon2id_prefix) + "v=" + std::to_string(ARGON2_VERSION_13) +
         "$m=" + std::to_string(params.memory_kib) + ",t=" + std::to_string(params.iterations) +
         ",p=" + std::to_string(params.parallelism) + "$" + base64_unpadded(salt.data(), salt.size()) + "$" +
         base64_unpadded(reinterpret_cast<const unsigned char*>(tag.data()), tag.size());
}

scheme scheme_of(std::string_view stored) {
  if (starts_with(stored, argon2id_prefix))
    return parse_argon2id(stored) ? scheme::argon2id : scheme::unknown;
  if (starts_with(stored, "$P$") || starts_with(stored, "$H$"))
    return stored.size() == phpass_length ? scheme::phpass : scheme::unknown;
  if (starts_with(stored, "$2")) return is_bcrypt_shape(stored) ? scheme::bcrypt : scheme::unknown;
  if (starts_with(stored, "$wp$2"))
    return is_bcrypt_shape(stored.substr(wp_prefix.size())) ? scheme::wp_bcrypt : scheme::unknown;
  return scheme::unknown;
}

bool verify(std::string_view password, std::string_view stored) {
  if (password.size() > max_password_bytes) return false;
  try {
    switch (scheme_of(stored)) {
      case scheme::argon2id:
        return verify_argon2id(password, stored);
      case scheme::phpass:
        return verify_phpass(password, stored);
      case scheme::bcrypt:
        return verify_bcrypt(password, stored);
      case scheme::wp_bcrypt:
        return verify_wp_bcrypt(password, stored);
      case scheme::unknown:
        return false;
    }
  } catch (...) {
    // Only allocation can throw here; failing closed is the right answer to a login.
  }
  return false;
}

bool needs_rehash(std::string_view stored, const argon2_params& params) {
  auto phc = parse_argon2id(stored);
  if (!phc) return true;
  return phc->version != ARGON2_VERSION_13 || phc->memory_kib < params.memory_kib ||
         phc->iterations < params.iterations || phc->salt_bytes < argon2_salt_bytes ||
         phc->tag_bytes < argon2_tag_bytes;
}

const std::string& dummy_hash(const argon2_params& params) {
  // One entry per distinct params, so a reload that changes them gets a matching dummy and the
  // unknown-user path keeps costing what a real user's check costs. std::map never moves its
  // values, so returned references stay valid. The first call for given params hashes under
  // the lock; that happens once per params value.
  static std::mutex mutex;
  static std::map<std::tuple<std::uint32_t, std::uint32_t, std::uint32_t>, std::string> cache;
  const auto key = std::make_tuple(params.memory_kib, params.iterations, params.parallelism);
  std::lock_guard lock(mutex);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;

  // A random secret nobody knows, so no password can verify against the dummy.
  std::array<unsigned char, 32> secret{};
  if (RAND_bytes(secret.data(), static_cast<int>(secret.size())) != 1)
    throw std::runtime_error("password: RAND_bytes failed");
  std::string h =
      hash(std::string_view(reinterpret_cast<const char*>(secret.data()), secret.size()), params);
  OPENSSL_cleanse(secret.data(), secret.size());
  return cache.emplace(key, std::move(h)).first->second;
}

namespace {

// WordPress's phpass setting, `$P$B`: 2^13 MD5 rounds.
constexpr unsigned wordpress_phpass_log2_rounds = 13;

// A well-shaped phpass hash with a random salt and digest: verifying against it runs the
// full 2^13 rounds over the password, so its cost follows the password's length exactly
// as a real one's does.
std::string make_dummy_phpass() {
  const std::string noise = random::bytes(8 + 22);
  std::string h = "$P$";
  h += phpass_itoa64[wordpress_phpass_log2_rounds];
  for (unsigned char c : noise) h += phpass_itoa64[c & 0x3f];
  return h;
}

// A WordPress 6.8 hash (HMAC prehash, then bcrypt at cost 10) of a random secret.
std::string make_dummy_wp_bcrypt() {
  const std::string secret = random::bytes(32);
  std::string printable;
  for (unsigned char c : secret) printable += phpass_itoa64[c & 0x3f];
  return std::string(wp_prefix) + hash_bcrypt(printable);
}

const std::string& dummy_phpass() {
  static const std::string h = make_dummy_phpass();
  return h;
}

const std::string& dummy_wp_bcrypt() {
  static const std::string h = make_dummy_wp_bcrypt();
  return h;
}

// One slot of login's work: the stored hash when it is of this slot's kind, else the dummy.
// A dummy's answer is thrown away.
bool run_slot(std::string_view password, bool real, std::string_view stored, const std::string& dummy) {
  if (real) return verify(password, stored);
  (void)verify(password, dummy);
  return false;
}

}  // namespace

std::optional<bool> verify_for_login(std::string_view password, const std::string* stored,
                                     const argon2_params& params, legacy_schemes present,
                                     limiter& slots, std::chrono::milliseconds max_wait) {
  // Refused before any work whoever the account is, so this reveals nothing about it.
  if (password.size() > max_password_bytes) return false;
  const scheme s = stored != nullptr ? scheme_of(*stored) : scheme::unknown;
  const std::string_view real = stored != nullptr ? std::string_view(*stored) : std::string_view();
  const bool is_bcrypt = s == scheme::bcrypt || s == scheme::wp_bcrypt;
  const bool is_phpass = s == scheme::phpass;
  bool ok = false;
  {
    // Only argon2id holds a slot: the slots bound its memory, and bcrypt and phpass need
    // next to none, so they run after it is released and a queue of logins drains as fast
    // as it did when argon2id was all there was.
    auto permit = slots.acquire(max_wait);
    if (!permit) return std::nullopt;
    ok = run_slot(password, s == scheme::argon2id, real, dummy_hash(params));
  }
  if (is_bcrypt || present.bcrypt) ok |= run_slot(password, is_bcrypt, real, dummy_wp_bcrypt());
  if (is_phpass || present.phpass) ok |= run_slot(password, is_phpass, real, dummy_phpass());
  return ok;
}

std::optional<bool> verify_for_login(std::string_view password, const std::string* stored,
                                     const argon2_params& params, limiter& slots,
                                     std::chrono::milliseconds max_wait) {
  return verify_for_login(password, stored, params, legacy_schemes::all(), slots, max_wait);
}

// ---- legacy_watch ---------------------------------------------------------------------------

void legacy_watch::set(legacy_schemes present) noexcept {
  bcrypt_.store(present.bcrypt, std::memory_order_relaxed);
  phpass_.store(present.phpass, std::memory_order_relaxed);
  known_.store(true, std::memory_order_release);
}

void legacy_watch::saw(scheme s) noexcept {
  if (s == scheme::bcrypt || s == scheme::wp_bcrypt) bcrypt_.store(true, std::memory_order_relaxed);
  if (s == scheme::phpass) phpass_.store(true, std::memory_order_relaxed);
}

void legacy_watch::trust_while(std::function<bool()> trust) { trust_ = std::move(trust); }

legacy_schemes legacy_watch::current() const {
  if (!known_.load(std::memory_order_acquire)) return legacy_schemes::all();
  if (trust_ && !trust_()) return legacy_schemes::all();
  return legacy_schemes{bcrypt_.load(std::memory_order_relaxed), phpass_.load(std::memory_order_relaxed)};
}

work_counters work_done() {
  return work_counters{argon2id_runs.load(std::memory_order_relaxed), bcrypt_runs.load(std::memory_order_relaxed),
                       phpass_rounds_run.load(std::memory_order_relaxed)};
}

// ---- limiter --------------------------------------------------------------------------------

limiter::limiter(unsigned max_concurrent) : max_(max_concurrent) {
  if (max_concurrent == 0) throw std::invalid_argument("password::limiter: max_concurrent is 0");
}

std::optional<limiter::permit> limiter::acquire(std::chrono::milliseconds max_wait) {
  std::unique_lock lock(mutex_);
  if (!freed_.wait_for(lock, max_wait, [this] { return in_use_ < max_; })) return std::nullopt;
  ++in_use_;
  return permit(this);
}

unsigned limiter::in_use() const {
  std::lock_guard lock(mutex_);
  return in_use_;
}

void limiter::release_one() noexcept {
  {
    std::lock_guard lock(mutex_);
    --in_use_;
  }
  freed_.notify_one();
}

limiter::permit::permit(permit&& other) noexcept : owner_(other.owner_) { other.owner_ = nullptr; }

limiter::permit& limiter::permit::operator=(permit&& other) noexcept {
  if (this != &other) {
    release();
    owner_ = other.owner_;
    other.owner_ = nullptr;
  }
  return *this;
}

limiter::permit::~permit() { release(); }

void limiter::permit::release() noexcept {
  if (owner_ != nullptr) {
    owner_->release_one();
    owner_ = nullptr;
  }
}

}  // namespace cartgate::password

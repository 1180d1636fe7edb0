// Password hashing and verification. New hashes are argon2id; stored hashes imported from
// WordPress (phpass `$P$`/`$H$`, bcrypt `$2y$`, WordPress 6.8 `$wp$2y$`) still verify, and
// needs_rehash() tells login to upgrade them to argon2id after a successful check.
//
//   namespace pw = cartgate::password;
//   pw::argon2_params params;                       // from options
//   auto ok = pw::verify_for_login(given, user ? &user->hash : nullptr, params, limiter,
//                                  std::chrono::milliseconds(500));
//   if (!ok) return busy;                           // 503: too many logins hashing at once
//   if (ok && pw::needs_rehash(user->hash, params)) store(pw::hash(given, params));
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace cartgate::password {

// Passwords longer than this are rejected before any hashing, so the work per request is
// bounded (WordPress uses the same limit in wp_check_password).
inline constexpr std::size_t max_password_bytes = 4096;

// Work factors found in a stored hash are bounded too: a garbled or hostile row must not pin a
// worker for minutes. WordPress writes phpass with 2^8 rounds and bcrypt with cost 10, so these
// limits only reject hashes no real store produces. Hashes beyond them verify as false.
inline constexpr unsigned max_phpass_log2_rounds = 20;                    // 2^20 MD5s, ~0.3 s
inline constexpr unsigned max_bcrypt_cost = 16;                           // ~4 s
inline constexpr std::uint32_t max_argon2_memory_kib = 4u * 1024 * 1024;  // 4 GiB
inline constexpr std::uint32_t max_argon2_iterations = 64;
inline constexpr std::uint32_t max_argon2_parallelism = 64;

// OWASP's argon2id recommendation (19 MiB, 2 passes, 1 lane): ~30-60 ms per hash.
struct argon2_params {
  std::uint32_t memory_kib = 19456;
  std::uint32_t iterations = 2;
  std::uint32_t parallelism = 1;
};

// An argon2id PHC string ($argon2id$v=19$m=..,t=..,p=..$salt$tag) with a 16-byte random salt and
// a 32-byte tag. Throws std::invalid_argument if the password is longer than max_password_bytes
// or the params are outside libargon2's or the limits above; std::runtime_error if the salt
// cannot be drawn or libargon2 fails (e.g. out of memory).
std::string hash(std::string_view password, const argon2_params& params);

// A bcrypt `$2y$` hash (cost 10, 16 random salt bytes) of the first 72 bytes of the
// password: what a WordPress store verifies itself (its phpass falls back to crypt()), for
// a password set through cartgate on an account WordPress owns. Throws
// std::invalid_argument for a password with a NUL byte or over max_password_bytes,
// std::runtime_error when libcrypt fails.
std::string hash_bcrypt(std::string_view password);

enum class scheme {
  argon2id,   // $argon2id$v=19$m=..,t=..,p=..$salt$tag
  phpass,     // $P$ / $H$ portable hashes: WordPress before 6.8, phpBB
  bcrypt,     // $2y$ / $2b$ / $2a$: PHP password_hash, WordPress bcrypt plugins
  wp_bcrypt,  // $wp$2y$: WordPress 6.8+, bcrypt over base64(HMAC-SHA384("wp-sha384", password))
  unknown,
};

// Classifies by prefix and shape (fixed lengths for phpass/bcrypt, a parseable parameter block
// for argon2id). A string that has the right prefix but the wrong shape is `unknown`.
scheme scheme_of(std::string_view stored);

// True only if `password` matches `stored`. Any unknown, garbled or out-of-bounds stored string,
// or a password longer than max_password_bytes, gives false; never throws for bad input.
bool verify(std::string_view password, std::string_view stored);

// True unless `stored` is an argon2id v19 hash at least as strong as `params` (memory and
// iterations no lower, salt >= 16 bytes, tag >= 32 bytes). Parallelism is not compared: with
// memory and passes fixed it changes wall-clock time, not an attacker's cost per guess.
bool needs_rehash(std::string_view stored, const argon2_params& params);

// A fixed argon2id hash of a random secret, computed once per distinct params (thread-safe) and
// kept for the life of the process. Login verifies unknown users against it so that "no such
// user" and "wrong password" take the same time. No password verifies against it.
const std::string& dummy_hash(const argon2_params& params);

// The legacy schemes some account in the store holds (store/users.h legacy_schemes). A
// login needs a dummy of a legacy scheme only when some account could take that scheme's
// real path: with none, no path runs it and all paths still cost the same.
struct legacy_schemes {
  bool bcrypt = true;  // $2y$ / $2b$ / $2a$ or $wp$2y$ (one dummy covers both)
  bool phpass = true;  // $P$ / $H$
  static constexpr legacy_schemes all() { return {true, true}; }
  static constexpr legacy_schemes none() { return {false, false}; }
  bool operator==(const legacy_schemes&) const = default;
};

// Login's check (contract §2.1: an unknown user and a wrong password answer alike, in the
// same time). Every call does one argon2id (at `params`, or the stored hash's own), plus
// one bcrypt at WordPress's cost 10 behind 6.8's HMAC prehash when `present.bcrypt`, plus
// phpass's 2^13 MD5 rounds over the password (so length-matched) when `present.phpass` —
// the stored hash for its own scheme, fixed dummies for the others. The stored hash's own
// scheme always runs, present or not, so a store whose `present` lags behind an import
// costs a legacy account what it costs and never verifies it wrongly (the lag is timing
// only: docs/benchmarks.md, "Login timing"). stored == nullptr (no such user) or an
// unusable string runs only dummies and gives false. True only if `password` matches
// `stored`; nullopt, before any work, when no slot of `slots` freed within max_wait
// (busy: argon2id runs in a slot, the others after it). The dummies are made once per
// process (thread-safe). Without `present`, every scheme's dummy runs.
class limiter;
std::optional<bool> verify_for_login(std::string_view password, const std::string* stored,
                                     const argon2_params& params, legacy_schemes present,
                                     limiter& slots, std::chrono::milliseconds max_wait);
std::optional<bool> verify_for_login(std::string_view password, const std::string* stored,
                                     const argon2_params& params, limiter& slots,
                                     std::chrono::milliseconds max_wait);

// Which legacy schemes login's dummies cover in this process: what the store held when it
// was last read (set), trusted only while `trust` says the readings are current (the
// worker's LISTEN connection is live, so an import's notification would have arrived);
// otherwise, and until the first set(), every scheme. Thread-safe, lock-free to read.
class legacy_watch {
 public:
  void set(legacy_schemes present) noexcept;
  // An account of `s` was seen (a login found one): its scheme is present from now on,
  // until the next set(), without waiting for the next reading.
  void saw(scheme s) noexcept;
  void trust_while(std::function<bool()> trust);  // before the first current(); not thread-safe
  legacy_schemes current() const;
  bool known() const noexcept { return known_.load(std::memory_order_acquire); }

 private:
  std::atomic<bool> known_{false};
  std::atomic<bool> bcrypt_{true};
  std::atomic<bool> phpass_{true};
  std::function<bool()> trust_;
};

// What verification has computed in this process so far: argon2id hashes, bcrypt hashes
// and phpass MD5 rounds, counted where the work runs. Tests read them to see that every
// login path does each scheme's work.
struct work_counters {
  std::uint64_t argon2id = 0;
  std::uint64_t bcrypt = 0;
  std::uint64_t phpass_rounds = 0;
};
work_counters work_done();

// Bounds how many argon2 computations run at once in this process, so a login flood cannot
// exhaust memory (each argon2id call holds memory_kib for its whole duration). A permit must not
// outlive the limiter that issued it.
class limiter {
 public:
  // Throws std::invalid_argument if max_concurrent is 0.
  explicit limiter(unsigned max_concurrent);
  limiter(const limiter&) = delete;
  limiter& operator=(const limiter&) = delete;

  class permit {
   public:
    permit(permit&& other) noexcept;
    permit& operator=(permit&& other) noexcept;
    permit(const permit&) = delete;
    permit& operator=(const permit&) = delete;
    ~permit();

   private:
    friend class limiter;
    explicit permit(limiter* owner) noexcept : owner_(owner) {}
    void release() noexcept;
    limiter* owner_;
  };

  // A permit, or nullopt if no slot freed within max_wait (zero or negative: try once).
  std::optional<permit> acquire(std::chrono::milliseconds max_wait);
  unsigned in_use() const;
  unsigned max_concurrent() const noexcept { return max_; }

 private:
  void release_one() noexcept;

  const unsigned max_;
  mutable std::mutex mutex_;
  std::condition_variable freed_;
  unsigned in_use_ = 0;
};

}  // namespace cartgate::password

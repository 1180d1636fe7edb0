/* The revocation state file: what cartgate knows of revocations, laid out for the nginx
 * module (nginx/module/) to read without a lock. C and C++ alike include this header,
 * so it is plain C.
 *
 * One cartgate worker writes it (the one holding an flock on it: auth/revocation_file.h);
 * nginx's workers map it read-only. The tables are guarded by a seqlock: `seq` is odd
 * while the writer changes them, and a reader that saw the same even value before and
 * after its look-up read a consistent table; otherwise it tries again, and after a few
 * tries treats the state as unknown (never as "not revoked"). `heard_at_ns` is outside
 * the seqlock: every revocation committed before that instant (CLOCK_MONOTONIC, ns) is
 * in the tables, so a reader trusts the tables only while it is recent.
 *
 *   [header][pat slots × pat_slots][user slots × user_slots]
 *
 * Times are unix seconds except heard_at_ns. A token (its iat `t`, its session `pat`,
 * its user `id`) is decided by the tables only when t > covered_since + skew: then it is
 * revoked when its pat is in the pat table, or t < (cut-off − skew) for its user's
 * cut-off or the global one; a t within skew of a cut-off is left to cartgate. */
#ifndef CARTGATE_REVOCATION_LAYOUT_H
#define CARTGATE_REVOCATION_LAYOUT_H

#include <stdint.h>

#define CARTGATE_STATE_MAGIC UINT64_C(0x314b4f5645524743) /* "CGREVOK1" */
#define CARTGATE_STATE_VERSION 1u
#define CARTGATE_STATE_PAT_SLOTS 65536u  /* power of two */
#define CARTGATE_STATE_USER_SLOTS 16384u /* power of two */
#define CARTGATE_STATE_PAT_MAX 31u       /* longest pat stored (pat_ + 24 hex is 28) */
/* Seconds of clock difference between the hosts that issue tokens and the one that
 * writes the file (and of NOTIFY delay) tolerated around every cut-off. */
#define CARTGATE_STATE_SKEW 2

struct cartgate_state_header {
  uint64_t magic;
  uint32_t version;
  uint32_t header_size;
  uint64_t seq;          /* seqlock over everything below heard_at_ns */
  int64_t heard_at_ns;   /* CLOCK_MONOTONIC; 0: never live */
  int64_t covered_since; /* every revocation since this time is in the tables */
  int64_t global_cutoff; /* `jwt cleanup --force`: tokens issued before it are revoked */
  uint32_t pat_slots;
  uint32_t user_slots;
  uint32_t pat_count;
  uint32_t user_count;
  int64_t writer_pid;
  int64_t reserved[4];
};

struct cartgate_state_pat {
  char pat[CARTGATE_STATE_PAT_MAX + 1]; /* NUL-padded; empty: free slot */
  int64_t until;                        /* revoked at least until then (its tokens' expiry) */
};

struct cartgate_state_user {
  int64_t user_id; /* 0: free slot */
  int64_t cutoff;  /* tokens issued before it are revoked (password change, deletion…) */
  int64_t until;   /* kept until then (every token issued before the cut-off has expired) */
};

#define CARTGATE_STATE_SIZE                                                  \
  (sizeof(struct cartgate_state_header) +                                   \
   (uint64_t)CARTGATE_STATE_PAT_SLOTS * sizeof(struct cartgate_state_pat) + \
   (uint64_t)CARTGATE_STATE_USER_SLOTS * sizeof(struct cartgate_state_user))

/* FNV-1a, the pat table's hash (linear probing). */
static inline uint64_t cartgate_state_hash(const char* s, uint64_t n) {
  uint64_t h = UINT64_C(1469598103934665603);
  for (uint64_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= UINT64_C(1099511628211);
  }
  return h;
}

static inline uint64_t cartgate_state_user_hash(int64_t id) {
  return (uint64_t)id * UINT64_C(0x9E3779B97F4A7C15);
}

/* What the tables say of one token; `now_ns` is CLOCK_MONOTONIC, `max_age_ns` how old
 * heard_at_ns may be (1 s: revocation within 1 s). Readers call only this. */
enum cartgate_state_verdict {
  CARTGATE_STATE_UNKNOWN = 0, /* stale, being rewritten, or not covered: ask cartgate */
  CARTGATE_STATE_REVOKED = 1,
  CARTGATE_STATE_ALLOWED = 2
};

static inline const struct cartgate_state_pat* cartgate_state_pats(const struct cartgate_state_header* h) {
  return (const struct cartgate_state_pat*)(const void*)((const char*)h + sizeof(*h));
}
static inline const struct cartgate_state_user* cartgate_state_users(const struct cartgate_state_header* h) {
  return (const struct cartgate_state_user*)(const void*)((const char*)cartgate_state_pats(h) +
                                                         (uint64_t)h->pat_slots * sizeof(struct cartgate_state_pat));
}

/* Whether a mapping of `size` bytes holds a state file of this version. */
static inline int cartgate_state_valid(const struct cartgate_state_header* h, uint64_t size) {
  return size >= CARTGATE_STATE_SIZE && h->magic == CARTGATE_STATE_MAGIC && h->version == CARTGATE_STATE_VERSION &&
         h->header_size == sizeof(*h) && h->pat_slots == CARTGATE_STATE_PAT_SLOTS &&
         h->user_slots == CARTGATE_STATE_USER_SLOTS;
}

static inline enum cartgate_state_verdict cartgate_state_look_up(const struct cartgate_state_header* h,
                                                                 const char* pat, uint64_t pat_len,
                                                                 int64_t user_id, int64_t iat) {
  int64_t covered = __atomic_load_n(&h->covered_since, __ATOMIC_RELAXED);
  int64_t global = __atomic_load_n(&h->global_cutoff, __ATOMIC_RELAXED);
  if (iat <= covered + CARTGATE_STATE_SKEW) return CARTGATE_STATE_UNKNOWN;
  if (global != 0) {
    if (iat < global - CARTGATE_STATE_SKEW) return CARTGATE_STATE_REVOKED;
    if (iat <= global + CARTGATE_STATE_SKEW) return CARTGATE_STATE_UNKNOWN;
  }
  if (pat_len == 0 || pat_len > CARTGATE_STATE_PAT_MAX) return CARTGATE_STATE_UNKNOWN;
  const struct cartgate_state_pat* pats = cartgate_state_pats(h);
  uint64_t mask = CARTGATE_STATE_PAT_SLOTS - 1;
  uint64_t i = cartgate_state_hash(pat, pat_len) & mask;
  for (uint64_t n = 0; n < CARTGATE_STATE_PAT_SLOTS; n++, i = (i + 1) & mask) {
    const char* slot = pats[i].pat;
    if (slot[0] == 0) break;
    uint64_t k = 0;
    while (k < pat_len && slot[k] == pat[k]) k++;
    if (k == pat_len && slot[k] == 0) return CARTGATE_STATE_REVOKED;
  }
  const struct cartgate_state_user* users = cartgate_state_users(h);
  uint64_t umask = CARTGATE_STATE_USER_SLOTS - 1;
  uint64_t j = cartgate_state_user_hash(user_id) & umask;
  for (uint64_t n = 0; n < CARTGATE_STATE_USER_SLOTS; n++, j = (j + 1) & umask) {
    int64_t id = __atomic_load_n(&users[j].user_id, __ATOMIC_RELAXED);
    if (id == 0) break;
    if (id != user_id) continue;
    int64_t cut = __atomic_load_n(&users[j].cutoff, __ATOMIC_RELAXED);
    if (iat < cut - CARTGATE_STATE_SKEW) return CARTGATE_STATE_REVOKED;
    if (iat <= cut + CARTGATE_STATE_SKEW) return CARTGATE_STATE_UNKNOWN;
    break;
  }
  return CARTGATE_STATE_ALLOWED;
}

/* The reader's whole check: fresh heartbeat, then a look-up under the seqlock. */
static inline enum cartgate_state_verdict cartgate_state_decide(const struct cartgate_state_header* h,
                                                                const char* pat, uint64_t pat_len,
                                                                int64_t user_id, int64_t iat, int64_t now_ns,
                                                                int64_t max_age_ns) {
  int64_t heard = __atomic_load_n(&h->heard_at_ns, __ATOMIC_ACQUIRE);
  if (heard == 0 || now_ns - heard > max_age_ns) return CARTGATE_STATE_UNKNOWN;
  for (int attempt = 0; attempt < 8; attempt++) {
    uint64_t before = __atomic_load_n(&h->seq, __ATOMIC_ACQUIRE);
    if (before & 1) continue;
    enum cartgate_state_verdict v = cartgate_state_look_up(h, pat, pat_len, user_id, iat);
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    if (__atomic_load_n(&h->seq, __ATOMIC_RELAXED) == before) return v;
  }
  return CARTGATE_STATE_UNKNOWN;
}

#endif

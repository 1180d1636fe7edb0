#include "auth/revocation_file.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "infra/log.h"

namespace cartgate {

revocation_file::revocation_file(std::string path, std::string group)
    : path_(std::move(path)), group_(std::move(group)) {}

revocation_file::~revocation_file() {
  if (map_ != nullptr) ::munmap(map_, CARTGATE_STATE_SIZE);
  if (fd_ >= 0) ::close(fd_);  // drops the lock
}

bool revocation_file::try_take() {
  if (map_ != nullptr) return true;
  if (fd_ < 0) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    if (fd_ < 0) {
      log::warn("revocation_state_unavailable", {{"path", path_}, {"error", std::strerror(errno)}});
      return false;
    }
  }
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) return false;  // another worker writes it
  // nginx's workers read it: its group, no other access.
  if (!group_.empty()) {
    if (struct group* g = ::getgrnam(group_.c_str())) (void)::fchown(fd_, static_cast<uid_t>(-1), g->gr_gid);
  }
  (void)::fchmod(fd_, 0640);
  if (::ftruncate(fd_, static_cast<off_t>(CARTGATE_STATE_SIZE)) != 0) {
    log::warn("revocation_state_unavailable", {{"path", path_}, {"error", std::strerror(errno)}});
    ::flock(fd_, LOCK_UN);
    return false;
  }
  void* m = ::mmap(nullptr, CARTGATE_STATE_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, 0);
  if (m == MAP_FAILED) {
    ::flock(fd_, LOCK_UN);
    return false;
  }
  map_ = static_cast<cartgate_state_header*>(m);
  // Readers see "never live" until the first heard(), whatever an earlier writer left.
  __atomic_store_n(&map_->heard_at_ns, 0, __ATOMIC_RELEASE);
  begin();
  map_->magic = CARTGATE_STATE_MAGIC;
  map_->version = CARTGATE_STATE_VERSION;
  map_->header_size = sizeof(cartgate_state_header);
  map_->pat_slots = CARTGATE_STATE_PAT_SLOTS;
  map_->user_slots = CARTGATE_STATE_USER_SLOTS;
  map_->writer_pid = ::getpid();
  end();
  log::info("revocation_state_writer", {{"path", path_}});
  return true;
}

cartgate_state_pat* revocation_file::pats() {
  return reinterpret_cast<cartgate_state_pat*>(reinterpret_cast<char*>(map_) + sizeof(cartgate_state_header));
}

cartgate_state_user* revocation_file::users() {
  return reinterpret_cast<cartgate_state_user*>(reinterpret_cast<char*>(pats()) +
                                                CARTGATE_STATE_PAT_SLOTS * sizeof(cartgate_state_pat));
}

// The seqlock: odd while writing; the fences order the tables' stores inside it.
void revocation_file::begin() {
  std::uint64_t s = __atomic_load_n(&map_->seq, __ATOMIC_RELAXED);
  if (s & 1) ++s;  // an earlier writer died mid-write
  __atomic_store_n(&map_->seq, s + 1, __ATOMIC_RELAXED);
  __atomic_thread_fence(__ATOMIC_RELEASE);
}

void revocation_file::end() {
  std::uint64_t s = __atomic_load_n(&map_->seq, __ATOMIC_RELAXED);
  __atomic_store_n(&map_->seq, s + 1, __ATOMIC_RELEASE);
}

void revocation_file::clear_tables() {
  std::memset(pats(), 0, CARTGATE_STATE_PAT_SLOTS * sizeof(cartgate_state_pat));
  std::memset(users(), 0, CARTGATE_STATE_USER_SLOTS * sizeof(cartgate_state_user));
  map_->pat_count = 0;
  map_->user_count = 0;
  map_->global_cutoff = 0;
}

void revocation_file::reset(std::int64_t now) {
  if (map_ == nullptr) return;
  begin();
  clear_tables();
  map_->covered_since = now;
  end();
}

bool revocation_file::insert_pat(std::string_view pat, std::int64_t until) {
  if (pat.empty() || pat.size() > CARTGATE_STATE_PAT_MAX) return false;
  if (map_->pat_count >= CARTGATE_STATE_PAT_SLOTS / 4 * 3) return false;
  std::uint64_t mask = CARTGATE_STATE_PAT_SLOTS - 1;
  auto* t = pats();
  for (std::uint64_t i = cartgate_state_hash(pat.data(), pat.size()) & mask;; i = (i + 1) & mask) {
    if (t[i].pat[0] == 0) {
      std::memcpy(t[i].pat, pat.data(), pat.size());
      t[i].until = until;
      ++map_->pat_count;
      return true;
    }
    if (std::string_view(t[i].pat) == pat) {
      if (until > t[i].until) t[i].until = until;
      return true;
    }
  }
}

bool revocation_file::insert_user(std::int64_t id, std::int64_t cutoff, std::int64_t until) {
  if (id == 0 || map_->user_count >= CARTGATE_STATE_USER_SLOTS / 4 * 3) return false;
  std::uint64_t mask = CARTGATE_STATE_USER_SLOTS - 1;
  auto* t = users();
  for (std::uint64_t i = cartgate_state_user_hash(id) & mask;; i = (i + 1) & mask) {
    if (t[i].user_id == 0) {
      t[i].cutoff = cutoff;
      t[i].until = until;
      __atomic_store_n(&t[i].user_id, id, __ATOMIC_RELAXED);
      ++map_->user_count;
      return true;
    }
    if (t[i].user_id == id) {
      if (cutoff > t[i].cutoff) t[i].cutoff = cutoff;
      if (until > t[i].until) t[i].until = until;
      return true;
    }
  }
}

void revocation_file::apply(std::string_view payload, std::int64_t now, std::int64_t token_ttl) {
  if (map_ == nullptr) return;
  // A revoked session's tokens were all issued by now, so all expire by now + ttl.
  std::int64_t until = now + token_ttl + CARTGATE_STATE_SKEW;
  bool kept = true;
  begin();
  if (payload == "all") {
    map_->global_cutoff = now;
  } else if (payload.rfind("pat:", 0) == 0) {
    kept = insert_pat(payload.substr(4), until);
  } else if (payload.rfind("user:", 0) == 0) {
    std::int64_t id = 0;
    try {
      id = std::stoll(std::string(payload.substr(5)));
    } catch (...) {
      kept = false;
    }
    kept = kept && insert_user(id, now, until);
  } else {
    kept = false;
  }
  if (!kept) {
    // Full, or not understood: start over, so tokens issued before now go to cartgate
    // (never "allowed" on a revocation the tables could not hold).
    clear_tables();
    map_->covered_since = now;
  }
  end();
}

void revocation_file::heard(std::int64_t heard_at_ns) {
  if (map_ == nullptr) return;
  __atomic_store_n(&map_->heard_at_ns, heard_at_ns, __ATOMIC_RELEASE);
}

void revocation_file::purge(std::int64_t now) {
  if (map_ == nullptr) return;
  std::vector<cartgate_state_pat> keep_pats;
  std::vector<cartgate_state_user> keep_users;
  std::size_t before = map_->pat_count + map_->user_count;
  for (std::uint32_t i = 0; i < CARTGATE_STATE_PAT_SLOTS; ++i) {
    if (pats()[i].pat[0] != 0 && pats()[i].until > now) keep_pats.push_back(pats()[i]);
  }
  for (std::uint32_t i = 0; i < CARTGATE_STATE_USER_SLOTS; ++i) {
    if (users()[i].user_id != 0 && users()[i].until > now) keep_users.push_back(users()[i]);
  }
  if (keep_pats.size() + keep_users.size() == before) return;
  begin();
  std::int64_t global = map_->global_cutoff;
  clear_tables();
  map_->global_cutoff = global;
  for (auto& p : keep_pats) insert_pat(std::string_view(p.pat), p.until);
  for (auto& u : keep_users) insert_user(u.user_id, u.cutoff, u.until);
  end();
}

}  // namespace cartgate

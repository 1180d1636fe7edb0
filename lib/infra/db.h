// PostgreSQL access for one process: a small pool of libpqxx connections, and the one
// place that sorts database errors by what to do next.
//
//   db::pool pool(url, 8);
//   auto conn = pool.acquire();                 // throws db::unavailable when down
//   pqxx::work w(*conn); w.exec_params(…); w.commit();
#pragma once

#include <pqxx/pqxx>

#include <chrono>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace cartgate::db {

// What to do after a database error.
//  retry:       nothing was committed and trying again is safe (serialization failure,
//               deadlock) — only inside a transaction we restart from scratch.
//  unavailable: the server is away or the commit's outcome is unknown; answer 503.
//               A commit in doubt is never retried: a retried refresh rotation would
//               look like reuse and revoke the session.
//  conflict:    a uniqueness or foreign-key constraint said no; the caller decides.
//  bug:         anything else; answer 500 and log it.
enum class outcome { retry, unavailable, conflict, bug };
outcome classify(const std::exception& e);

// Thrown when no connection can be had; handlers turn it into 503.
class unavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by pool::acquire on a thread inside a no_wait_scope: the event loop runs the
// hot routes inline, and the first thing that would wait on PostgreSQL (a session not
// yet cached, a rate-limit counter) sends the request to a thread that may wait instead.
// Deliberately not a std::exception, so no handler's catch-all turns it into an answer.
struct would_block {};

// While one is alive on a thread, pool::acquire on that thread throws would_block.
class no_wait_scope {
 public:
  no_wait_scope();
  ~no_wait_scope();
  no_wait_scope(const no_wait_scope&) = delete;
  no_wait_scope& operator=(const no_wait_scope&) = delete;

 private:
  bool previous_;
};

class pool {
 public:
  pool(std::string url, std::size_t max_idle, int connect_timeout_seconds = 2);
  pool(const pool&) = delete;
  pool& operator=(const pool&) = delete;

  class lease {
   public:
    lease(pool* owner, std::unique_ptr<pqxx::connection> c) : owner_(owner), conn_(std::move(c)) {}
    lease(lease&&) = default;
    lease& operator=(lease&&) = default;
    ~lease();
    pqxx::connection& operator*() { return *conn_; }
    pqxx::connection* operator->() { return conn_.get(); }
    // Drop the connection instead of returning it (after a connection-level error).
    void discard() { conn_.reset(); }

   private:
    pool* owner_;
    std::unique_ptr<pqxx::connection> conn_;
  };

  lease acquire();
  const std::string& url() const { return url_; }
  std::unique_ptr<pqxx::connection> connect() const;  // a fresh, unpooled connection

 private:
  void give_back(std::unique_ptr<pqxx::connection> c);

  std::string url_;
  std::size_t max_idle_;
  std::mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;
};

// Runs fn(work) in a transaction, retrying only on outcome::retry (up to 3 times).
// Connection-level failures mark the lease for discard and surface as db::unavailable.
template <typename Fn>
auto with_transaction(pool& p, Fn&& fn) -> decltype(fn(std::declval<pqxx::work&>())) {
  for (int attempt = 0;; ++attempt) {
    auto conn = p.acquire();
    try {
      pqxx::work w(*conn);
      if constexpr (std::is_void_v<decltype(fn(w))>) {
        fn(w);
        w.commit();
        return;
      } else {
        auto result = fn(w);
        w.commit();
        return result;
      }
    } catch (const std::exception& e) {
      auto what = classify(e);
      // A connection that died before commit (typically an idle pooled connection after
      // a database restart) committed nothing: one retry on a fresh connection is safe.
      // A commit in doubt is not.
      bool broken = dynamic_cast<const pqxx::broken_connection*>(&e) &&
                    !dynamic_cast<const pqxx::in_doubt_error*>(&e);
      if (broken && attempt == 0) {
        conn.discard();
        continue;
      }
      if (what == outcome::unavailable) {
        conn.discard();
        throw unavailable(e.what());
      }
      if (what == outcome::retry && attempt < 2) continue;
      throw;
    }
  }
}

}  // namespace cartgate::db

#include "infra/db.h"

namespace cartgate::db {

outcome classify(const std::exception& e) {
  if (dynamic_cast<const unavailable*>(&e)) return outcome::unavailable;
  if (dynamic_cast<const pqxx::in_doubt_error*>(&e)) return outcome::unavailable;
  if (dynamic_cast<const pqxx::broken_connection*>(&e)) return outcome::unavailable;
  if (dynamic_cast<const pqxx::serialization_failure*>(&e)) return outcome::retry;
  if (dynamic_cast<const pqxx::deadlock_detected*>(&e)) return outcome::retry;
  if (dynamic_cast<const pqxx::unique_violation*>(&e)) return outcome::conflict;
  if (dynamic_cast<const pqxx::foreign_key_violation*>(&e)) return outcome::conflict;
  if (auto* sql = dynamic_cast<const pqxx::sql_error*>(&e)) {
    const std::string& state = sql->sqlstate();
    // Class 08: connection exception; 57P01..03: admin shutdown, crash shutdown,
    // cannot connect now (server starting up or shutting down).
    if (state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03") {
      return outcome::unavailable;
    }
    // The database is up but refuses the work: 25006, writes refused (a read-only server,
    // default_transaction_read_only, a standby); class 53, insufficient resources (disk
    // full, out of memory, too many connections). Nothing was committed; the client may
    // try again later, so 503 rather than 500.
    if (state == "25006" || state.rfind("53", 0) == 0) return outcome::unavailable;
    if (state == "40001" || state == "40P01") return outcome::retry;
    if (state == "23505" || state == "23503") return outcome::conflict;
    return outcome::bug;
  }
  return outcome::bug;
}

pool::pool(std::string url, std::size_t max_idle, int connect_timeout_seconds)
    : url_(std::move(url)), max_idle_(max_idle) {
  // libpq honours connect_timeout from the conninfo; append it so a database that is
  // down or unreachable costs a bounded wait, never a hung worker.
  if (url_.find("connect_timeout") == std::string::npos) {
    bool is_uri = url_.rfind("postgres", 0) == 0 && url_.find("://") != std::string::npos;
    if (is_uri) {
      url_ += (url_.find('?') == std::string::npos ? "?" : "&");
      url_ += "connect_timeout=" + std::to_string(connect_timeout_seconds);
    } else {
      url_ += " connect_timeout=" + std::to_string(connect_timeout_seconds);
    }
  }
}

std::unique_ptr<pqxx::connection> pool::connect() const {
  try {
    return std::make_unique<pqxx::connection>(url_);
  } catch (const std::exception& e) {
    throw unavailable(std::string("database connection failed: ") + e.what());
  }
}

namespace {
thread_local bool must_not_wait = false;
}

no_wait_scope::no_wait_scope() : previous_(must_not_wait) { must_not_wait = true; }
no_wait_scope::~no_wait_scope() { must_not_wait = previous_; }

pool::lease pool::acquire() {
  if (must_not_wait) throw would_block{};
  {
    std::lock_guard lock(mu_);
    while (!idle_.empty()) {
      auto c = std::move(idle_.back());
      idle_.pop_back();
      if (c && c->is_open()) return lease(this, std::move(c));
    }
  }
  return lease(this, connect());
}

void pool::give_back(std::unique_ptr<pqxx::connection> c) {
  if (!c || !c->is_open()) return;
  std::lock_guard lock(mu_);
  if (idle_.size() < max_idle_) idle_.push_back(std::move(c));
}

pool::lease::~lease() {
  if (owner_ && conn_) owner_->give_back(std::move(conn_));
}

}  // namespace cartgate::db

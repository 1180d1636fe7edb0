#include "infra/outbox.h"

#include <algorithm>

#include "infra/db.h"
#include "infra/listener.h"
#include "infra/log.h"
#include "infra/metrics.h"

namespace cartgate {
namespace {

std::string associated_data(std::string_view recipient) {
  return "mail_outbox:" + std::string(recipient);
}

struct claimed {
  std::int64_t id;
  int attempts;
  std::string from, recipient, subject, body_sealed;
};

// Claims one due row: a short transaction that sets a lease, so the slow SMTP exchange
// happens with no transaction open and no row lock held. SKIP LOCKED lets the senders of
// every worker (and host) share the queue; the lease (locked_until) keeps a claimed row
// away from the others while it is being sent, and makes it due again if this process
// dies mid-send — at worst a message goes out twice, never zero times.
std::optional<claimed> claim_one(pqxx::connection& conn) {
  pqxx::work w(conn);
  auto r = w.exec_params(
      "UPDATE mail_outbox SET attempts = attempts + 1,"
      "  locked_until = now() + make_interval(secs => $1)"
      " WHERE id = (SELECT id FROM mail_outbox"
      "              WHERE next_attempt_at <= now()"
      "                AND (locked_until IS NULL OR locked_until <= now())"
      "              ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED)"
      " RETURNING id, attempts, sender, recipient, subject, body_sealed",
      static_cast<double>(outbox::kLease.count()));
  w.commit();
  if (r.empty()) return std::nullopt;
  auto row = r[0];
  return claimed{row[0].as<std::int64_t>(), row[1].as<int>(), row[2].is_null() ? "" : row[2].c_str(),
                 row[3].c_str(), row[4].c_str(), row[5].c_str()};
}

}  // namespace

void outbox::enqueue(pqxx::transaction_base& tx, const secretbox& box, const mail::message& msg) {
  tx.exec_params(
      "INSERT INTO mail_outbox (sender, recipient, subject, body_sealed) VALUES ($1, $2, $3, $4)",
      msg.from, msg.to, msg.subject, box.seal(msg.text, associated_data(msg.to)));
  // Delivered at commit, so the sender never wakes up before the row is visible.
  tx.exec_params("SELECT pg_notify($1, '')", std::string(kChannel));
}

std::int64_t outbox::backoff_seconds(int attempts) {
  if (attempts < 1) attempts = 1;
  if (attempts > 6) return 60;
  return std::min<std::int64_t>(60, std::int64_t{1} << attempts);
}

outbox::outbox(db::pool& pool, secretbox box, mail::smtp_settings smtp, std::string default_from,
               std::chrono::milliseconds tick)
    : pool_(pool),
      box_(std::move(box)),
      smtp_(std::move(smtp)),
      default_from_(std::move(default_from)),
      tick_(tick) {}

outbox::~outbox() { stop(); }

void outbox::attach(listener& l) {
  l.on_channel(kChannel, [this](std::string_view) { wake(); });
  // Notifications may have been missed while the listener was away.
  l.on_reconnect([this](pqxx::connection&) { wake(); });
}

void outbox::start() {
  {
    std::lock_guard lock(mu_);
    stopping_ = false;
    woken_ = true;  // look at the queue once at start: rows left by a previous run
  }
  thread_ = std::thread([this] { run(); });
}

void outbox::stop() {
  if (!thread_.joinable()) return;
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void outbox::wake() {
  {
    std::lock_guard lock(mu_);
    woken_ = true;
  }
  cv_.notify_all();
}

int outbox::drain(pqxx::connection& conn) {
  int sent = 0;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) break;
    }
    auto c = claim_one(conn);
    if (!c) break;
    auto text = box_.open(c->body_sealed, associated_data(c->recipient));
    if (!text) {
      // Sealed under another key (rotated) or altered: it can never be sent.
      log::error("outbox_undecryptable_dropped", {{"id", std::to_string(c->id)}});
      pqxx::work w(conn);
      w.exec_params("DELETE FROM mail_outbox WHERE id = $1", c->id);
      w.commit();
      continue;
    }
    mail::message msg{c->from.empty() ? default_from_ : c->from, c->recipient, c->subject, std::move(*text)};
    auto result = mail::send(smtp_, msg);
    pqxx::work w(conn);
    if (result.ok) {
      w.exec_params("DELETE FROM mail_outbox WHERE id = $1", c->id);
      w.commit();
      metrics::add("cartgate_mail_sent_total");
      log::info("mail_sent", {{"id", std::to_string(c->id)}, {"attempts", std::to_string(c->attempts)}});
      ++sent;
    } else if (c->attempts >= kMaxAttempts) {
      w.exec_params("DELETE FROM mail_outbox WHERE id = $1", c->id);
      w.commit();
      metrics::add("cartgate_mail_dropped_total");
      log::error("mail_dropped", {{"id", std::to_string(c->id)}, {"attempts", std::to_string(c->attempts)},
                                  {"error", result.error}});
    } else {
      std::int64_t wait = backoff_seconds(c->attempts);
      w.exec_params(
          "UPDATE mail_outbox SET locked_until = NULL, last_error = $2,"
          "  next_attempt_at = now() + make_interval(secs => $3) WHERE id = $1",
          c->id, result.error, static_cast<double>(wait));
      w.commit();
      metrics::add("cartgate_mail_failures_total");
      log::warn("mail_send_failed", {{"id", std::to_string(c->id)}, {"attempts", std::to_string(c->attempts)},
                                     {"retry_in", std::to_string(wait)}, {"error", result.error}});
    }
  }
  return sent;
}

void outbox::run() {
  std::unique_ptr<pqxx::connection> conn;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, tick_, [this] { return woken_ || stopping_; });
      if (stopping_) break;
      woken_ = false;
    }
    try {
      if (!conn || !conn->is_open()) conn = pool_.connect();
      drain(*conn);
    } catch (const std::exception& e) {
      // Database away: the periodic tick tries again with a fresh connection.
      log::warn("outbox_drain_failed", {{"error", e.what()}});
      conn.reset();
    }
  }
}

}  // namespace cartgate

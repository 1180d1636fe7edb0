// outbox: mail that must not be lost and must not hold up a request. A request queues a
// message in its own transaction (body sealed, NOTIFY cartgate_outbox); a sender thread
// in every worker process claims due rows, sends them over SMTP and deletes them, or
// retries later with backoff. A slow or absent SMTP server delays the mail, never the
// login; a restart loses nothing (an unsent row stays, a claimed row's lease runs out).
//
//   outbox::enqueue(tx, box, {from, to, "Your verification code", "12345678\n"});
//   outbox ob(pool, box, smtp, from);  ob.attach(listener);  ob.start();  …  ob.stop();
#pragma once

#include <pqxx/pqxx>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "crypto/secretbox.h"
#include "infra/mailer.h"

namespace cartgate {

namespace db {
class pool;
}
class listener;

class outbox {
 public:
  static constexpr const char* kChannel = "cartgate_outbox";
  // A claimed row is left alone by other senders this long (covers the SMTP timeout).
  static constexpr std::chrono::seconds kLease{120};
  static constexpr int kMaxAttempts = 40;  // then the row is dropped (and logged)

  // Queues msg in tx; it goes out only if tx commits. The body is sealed with box,
  // the recipient as associated data.
  static void enqueue(pqxx::transaction_base& tx, const secretbox& box, const mail::message& msg);

  // Seconds to wait after the n-th failed attempt (n >= 1): 2, 4, 8, … capped at 60.
  static std::int64_t backoff_seconds(int attempts);

  // default_from is used for rows queued without a sender.
  outbox(db::pool& pool, secretbox box, mail::smtp_settings smtp, std::string default_from,
         std::chrono::milliseconds tick = std::chrono::seconds(5));
  ~outbox();
  outbox(const outbox&) = delete;
  outbox& operator=(const outbox&) = delete;

  // Wakes the sender on NOTIFY cartgate_outbox. Call before the listener starts. The
  // listener thread only signals; sending happens on the outbox's own thread.
  void attach(listener& l);

  void start();
  void stop();  // finishes the message in flight, then joins
  void wake();

  // Sends every due row once (claim → send → delete or reschedule) on conn; returns the
  // number sent. The sender thread calls this; tests and the CLI may too.
  int drain(pqxx::connection& conn);

 private:
  void run();

  db::pool& pool_;
  secretbox box_;
  mail::smtp_settings smtp_;
  std::string default_from_;
  std::chrono::milliseconds tick_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool woken_ = false;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace cartgate

// mail: sends one plain-text message over SMTP with libcurl (used for two-factor email
// codes). Each call opens its own connection; there is no queue and no retry — the
// caller decides what a failure means for the login in progress.
//
//   cartgate::mail::smtp_settings smtp;                     // smtp://127.0.0.1:2525
//   auto r = cartgate::mail::send(smtp, {"Shop <no-reply@shop.example>", user.email,
//                                        "Your verification code", "12345678\n"});
//   if (!r.ok) log.warn("mail", r.error);
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace cartgate::mail {

struct message {
  std::string from;     // "addr@host" or "Display Name <addr@host>"
  std::string to;       // same forms; one recipient
  std::string subject;  // UTF-8; encoded per RFC 2047 when not plain ASCII
  std::string text;     // UTF-8 body; any line endings (sent as CRLF)
};

struct smtp_settings {
  std::string url = "smtp://127.0.0.1:2525";  // smtp:// or smtps://
  // When a username is set, TLS is required (smtps://, or STARTTLS on smtp://) so the
  // password never crosses the network in clear; without one STARTTLS is used if offered.
  std::string username, password;
  long timeout_ms = 5000;  // bounds connect and the whole exchange
  // A server that is not on this machine gets mail (two-factor codes) over TLS only:
  // smtps://, or STARTTLS on smtp:// that must succeed. True lets such a server be spoken
  // to in clear text (mail.allow_plaintext, for a relay on a trusted private network).
  bool allow_plaintext = false;
};

// True when send() insists on TLS: a username is set, or the URL's host is not a
// loopback address (localhost, 127.0.0.0/8, ::1) and allow_plaintext is false.
bool requires_tls(const smtp_settings& settings);

// True for localhost, 127.0.0.0/8 and ::1 (with or without brackets).
bool is_loopback_host(std::string_view host);

struct send_result {
  bool ok = false;
  std::string error;  // short reason for logs; never contains credentials or the body
};

// Never throws for bad input or network failures; those come back as ok == false.
// From, To and Subject containing CR, LF or NUL are refused (header injection).
send_result send(const smtp_settings& settings, const message& msg);

// The RFC 5322 text send() uploads: Date (from unix_time, UTC), Message-ID, From, To,
// Subject, MIME-Version, Content-Type text/plain; charset=UTF-8, then the body, all with
// CRLF line endings. Dot-stuffing is left to libcurl. Throws std::invalid_argument for
// CR/LF/NUL in from, to or subject, or an address without '@'.
std::string render(const message& msg, std::int64_t unix_time);

}  // namespace cartgate::mail

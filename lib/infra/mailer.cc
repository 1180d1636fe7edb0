#include "infra/mailer.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <stdexcept>
#include <string_view>

#include "crypto/random.h"

namespace cartgate::mail {
namespace {

bool has_line_break(std::string_view s) {
  return s.find_first_of(std::string_view("\r\n\0", 3)) != std::string_view::npos;
}

// The bare address for the SMTP envelope: what is inside <...> if present, else the
// whole (trimmed) value.
std::string envelope_address(std::string_view value) {
  const auto lt = value.find('<');
  if (lt != std::string_view::npos) {
    const auto gt = value.find('>', lt);
    if (gt == std::string_view::npos) throw std::invalid_argument("unterminated <address>");
    value = value.substr(lt + 1, gt - lt - 1);
  }
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  const auto at = value.rfind('@');
  if (at == std::string_view::npos || at == 0 || at + 1 == value.size()) {
    throw std::invalid_argument("address without user@domain");
  }
  for (unsigned char c : value) {
    if (c <= ' ' || c == '<' || c == '>' || c == 0x7f) {
      throw std::invalid_argument("address with space or control character");
    }
  }
  return std::string(value);
}

std::string domain_of(std::string_view address) {
  const std::string_view domain = address.substr(address.rfind('@') + 1);
  const bool plain = std::all_of(domain.begin(), domain.end(), [](unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
  });
  return plain ? std::string(domain) : std::string("cartgate.invalid");
}

// RFC 5322 §3.3 date in UTC. Formatted by hand: strftime's %a/%b follow the locale.
std::string rfc5322_date(std::int64_t unix_time) {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const std::time_t t = static_cast<std::time_t>(unix_time);
  std::tm tm{};
  if (gmtime_r(&t, &tm) == nullptr) throw std::invalid_argument("date out of range");
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday],
                tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                tm.tm_sec);
  return buf;
}

bool is_ascii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](unsigned char c) { return c < 0x80; });
}

// RFC 2047 "B" encoded words, each under 76 characters, split on UTF-8 character
// boundaries and folded onto continuation lines.
std::string encode_subject(std::string_view subject) {
  if (is_ascii(subject)) return std::string(subject);
  constexpr std::size_t kChunk = 45;  // 45 bytes -> 60 base64 characters + 12 framing
  std::string out;
  while (!subject.empty()) {
    std::size_t n = std::min(kChunk, subject.size());
    while (n < subject.size() && n > 0 && (static_cast<unsigned char>(subject[n]) & 0xc0) == 0x80) {
      --n;  // don't cut inside a multi-byte character
    }
    if (n == 0) n = std::min(kChunk, subject.size());  // not UTF-8; cut anyway
    unsigned char b64[4 * ((kChunk + 2) / 3) + 1];
    const int len = EVP_EncodeBlock(b64, reinterpret_cast<const unsigned char*>(subject.data()),
                                    static_cast<int>(n));
    if (!out.empty()) out += "\r\n ";
    out += "=?UTF-8?B?";
    out.append(reinterpret_cast<const char*>(b64), static_cast<std::size_t>(len));
    out += "?=";
    subject.remove_prefix(n);
  }
  return out;
}

// Any mix of CRLF, LF and CR becomes CRLF; the body always ends with a line break.
std::string crlf_body(std::string_view text) {
  std::string out;
  out.reserve(text.size() + text.size() / 16 + 2);
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '\r') {
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
      out += "\r\n";
    } else if (c == '\n') {
      out += "\r\n";
    } else {
      out.push_back(c);
    }
  }
  if (out.size() < 2 || out.compare(out.size() - 2, 2, "\r\n") != 0) out += "\r\n";
  return out;
}

struct upload {
  std::string_view data;
  std::size_t offset = 0;
};

std::size_t read_upload(char* buffer, std::size_t size, std::size_t nitems, void* userdata) {
  auto* up = static_cast<upload*>(userdata);
  const std::size_t n = std::min(size * nitems, up->data.size() - up->offset);
  std::memcpy(buffer, up->data.data() + up->offset, n);
  up->offset += n;
  return n;
}

void ensure_curl() {
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) throw std::runtime_error("curl_global_init failed");
}

// The host of an smtp:// or smtps:// URL, as libcurl will read it; "" when unparsable.
std::string url_host(const std::string& url) {
  std::unique_ptr<CURLU, decltype(&curl_url_cleanup)> u(curl_url(), &curl_url_cleanup);
  if (!u || curl_url_set(u.get(), CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return {};
  char* host = nullptr;
  if (curl_url_get(u.get(), CURLUPART_HOST, &host, 0) != CURLUE_OK || !host) return {};
  std::string out(host);
  curl_free(host);
  return out;
}

}  // namespace

bool is_loopback_host(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  if (host == "localhost") return true;
  std::string h(host);
  in_addr v4{};
  if (inet_pton(AF_INET, h.c_str(), &v4) == 1) return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  return inet_pton(AF_INET6, h.c_str(), &v6) == 1 && IN6_IS_ADDR_LOOPBACK(&v6);
}

bool requires_tls(const smtp_settings& settings) {
  if (!settings.username.empty()) return true;
  return !settings.allow_plaintext && !is_loopback_host(url_host(settings.url));
}

std::string render(const message& msg, std::int64_t unix_time) {
  if (has_line_break(msg.from) || has_line_break(msg.to) || has_line_break(msg.subject)) {
    throw std::invalid_argument("CR, LF or NUL in a header field");
  }
  const std::string from_addr = envelope_address(msg.from);
  envelope_address(msg.to);
  std::string out;
  out += "Date: " + rfc5322_date(unix_time) + "\r\n";
  out += "Message-ID: <" + random::hex(16) + "@" + domain_of(from_addr) + ">\r\n";
  out += "From: " + msg.from + "\r\n";
  out += "To: " + msg.to + "\r\n";
  out += "Subject: " + encode_subject(msg.subject) + "\r\n";
  out += "MIME-Version: 1.0\r\n";
  out += "Content-Type: text/plain; charset=UTF-8\r\n";
  out +=
      std::string("Content-Transfer-Encoding: ") + (is_ascii(msg.text) ? "7bit" : "8bit") + "\r\n";
  out += "\r\n";
  out += crlf_body(msg.text);
  return out;
}

send_result send(const smtp_settings& settings, const message& msg) {
  std::string payload, from_addr, to_addr;
  try {
    payload = render(msg, static_cast<std::int64_t>(std::time(nullptr)));
    // Built by append: GCC 12 misreports `"<" + std::string&&` under -Wrestrict.
    from_addr.append("<").append(envelope_address(msg.from)).append(">");
    to_addr.append("<").append(envelope_address(msg.to)).append(">");
    ensure_curl();
  } catch (const std::exception& e) {
    return {false, std::string("invalid message: ") + e.what()};
  }

  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) return {false, "curl_easy_init failed"};
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> rcpt(
      curl_slist_append(nullptr, to_addr.c_str()), &curl_slist_free_all);
  if (!rcpt) return {false, "out of memory"};

  upload up{payload};
  CURL* h = curl.get();
  curl_easy_setopt(h, CURLOPT_URL, settings.url.c_str());
  // Only mail protocols: a mistyped URL must not make us read files or fetch HTTP.
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM; thread-safe
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, settings.timeout_ms);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, settings.timeout_ms);
  if (!settings.username.empty()) {
    curl_easy_setopt(h, CURLOPT_USERNAME, settings.username.c_str());
    curl_easy_setopt(h, CURLOPT_PASSWORD, settings.password.c_str());
  }
  // A code mailed in clear text to another machine could be read on the way.
  const long tls = requires_tls(settings) ? CURLUSESSL_ALL : CURLUSESSL_TRY;
  curl_easy_setopt(h, CURLOPT_USE_SSL, tls);
  curl_easy_setopt(h, CURLOPT_MAIL_FROM, from_addr.c_str());
  curl_easy_setopt(h, CURLOPT_MAIL_RCPT, rcpt.get());
  curl_easy_setopt(h, CURLOPT_READFUNCTION, &read_upload);
  curl_easy_setopt(h, CURLOPT_READDATA, &up);
  curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);

  const CURLcode rc = curl_easy_perform(h);
  if (rc == CURLE_OK) return {true, {}};
  std::string error = curl_easy_strerror(rc);
  long smtp_code = 0;
  if (curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &smtp_code) == CURLE_OK && smtp_code > 0) {
    error += " (SMTP " + std::to_string(smtp_code) + ")";
  }
  return {false, std::move(error)};
}

}  // namespace cartgate::mail

#include "support/secrets.h"

#include <fcntl.h>
#include <json/json.h>
#include <unistd.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <regex>
#include <set>

namespace cartgate::test {
namespace {

// Field name → kind, for request bodies and for answers. "code" is only a request
// field: in answers it is the error code ("cocart_…"), which is no secret.
const std::map<std::string, std::string>& request_fields() {
  static const std::map<std::string, std::string> m = {
      {"password", "password"},         {"new_password", "password"},
      {"current_password", "password"}, {"2fa_code", "code"},
      {"code", "code"},                 {"current_code", "code"},
      {"refresh_token", "refresh_token"}, {"key", "totp_key"},
      {"token", "access_token"}};
  return m;
}
const std::map<std::string, std::string>& response_fields() {
  static const std::map<std::string, std::string> m = {
      {"jwt_token", "access_token"},    {"jwt_refresh", "refresh_token"},
      {"refresh_token", "refresh_token"}, {"token", "access_token"},
      {"key", "totp_key"},              {"otpauth_uri", "totp_uri"},
      {"codes", "backup_code"},         {"password", "application_password"}};
  return m;
}

void record_value(const std::string& kind, const Json::Value& v) {
  if (v.isString()) {
    std::string s = v.asString();
    if (kind == "totp_uri") {
      // otpauth://totp/…?secret=KEY&issuer=…: the key is the secret.
      static const std::regex secret_param("[?&]secret=([A-Za-z0-9]+)");
      std::smatch m;
      if (std::regex_search(s, m, secret_param)) record_secret("totp_key", m[1].str());
      return;
    }
    record_secret(kind, s);
  } else if (v.isArray()) {
    for (const auto& e : v) record_value(kind, e);
  }
}

void walk(const Json::Value& v, const std::map<std::string, std::string>& fields) {
  if (v.isObject()) {
    for (const auto& name : v.getMemberNames()) {
      auto it = fields.find(name);
      if (it != fields.end()) record_value(it->second, v[name]);
      walk(v[name], fields);
    }
  } else if (v.isArray()) {
    for (const auto& e : v) walk(e, fields);
  }
}

std::string form_decode(std::string_view in) {
  std::string out;
  for (std::size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '+') {
      out.push_back(' ');
    } else if (in[i] == '%' && i + 2 < in.size()) {
      out.push_back(static_cast<char>(std::strtol(std::string(in.substr(i + 1, 2)).c_str(), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(in[i]);
    }
  }
  return out;
}

void record_body(std::string_view body, const std::map<std::string, std::string>& fields) {
  if (body.empty()) return;
  Json::CharReaderBuilder b;
  Json::Value v;
  std::string errs;
  std::unique_ptr<Json::CharReader> reader(b.newCharReader());
  if (reader->parse(body.data(), body.data() + body.size(), &v, &errs)) {
    walk(v, fields);
    return;
  }
  // application/x-www-form-urlencoded: name=value&…
  std::size_t start = 0;
  while (start <= body.size()) {
    auto amp = body.find('&', start);
    auto pair = body.substr(start, amp == std::string_view::npos ? std::string_view::npos : amp - start);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos) {
      auto it = fields.find(form_decode(pair.substr(0, eq)));
      if (it != fields.end()) record_secret(it->second, form_decode(pair.substr(eq + 1)));
    }
    if (amp == std::string_view::npos) break;
    start = amp + 1;
  }
}

}  // namespace

void record_secret(std::string_view kind, std::string_view value) {
  const char* path = std::getenv("CARTGATE_TEST_SECRETS_FILE");
  if (!path || !*path || value.size() < 4) return;
  if (value.find_first_of("\r\n\t") != std::string_view::npos) return;
  std::string line(kind);
  line += '\t';
  line += value;
  line += '\n';
  // One write() of a short line on an O_APPEND descriptor: lines of concurrent test
  // processes never interleave.
  int fd = ::open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return;
  ssize_t n = ::write(fd, line.data(), line.size());
  (void)n;
  ::close(fd);
}

void record_request_secrets(std::string_view body) { record_body(body, request_fields()); }
void record_response_secrets(std::string_view body) { record_body(body, response_fields()); }

void record_cli_secrets(const std::vector<std::string>& args, std::string_view stdin_text,
                        std::string_view out) {
  bool reads_password = args.size() >= 2 && args[0] == "user" && (args[1] == "add" || args[1] == "passwd");
  if (reads_password) {
    auto nl = stdin_text.find('\n');
    record_secret("password", stdin_text.substr(0, nl));
  }
  // `2fa totp enable` prints the base32 key, then its otpauth URI; `2fa
  // backup-codes` prints one code a line.
  bool twofactor = args.size() >= 3 && args[0] == "2fa";
  if (twofactor && args[1] == "totp" && args[2] == "enable") {
    record_secret("totp_key", out.substr(0, out.find('\n')));
  }
  if (twofactor && args[1] == "backup-codes") {
    std::size_t start = 0;
    while (start < out.size()) {
      auto nl = out.find('\n', start);
      record_secret("backup_code", out.substr(start, nl == std::string_view::npos ? std::string_view::npos : nl - start));
      if (nl == std::string_view::npos) break;
      start = nl + 1;
    }
  }
  // `jwt create` and anything else printing tokens: compact JWS and 128-hex refresh tokens.
  static const std::regex jws("eyJ[A-Za-z0-9_-]+\\.eyJ[A-Za-z0-9_-]+\\.[A-Za-z0-9_-]+");
  static const std::regex refresh("(^|[^0-9a-f])([0-9a-f]{128})($|[^0-9a-f])");
  std::string text(out);
  for (std::sregex_iterator it(text.begin(), text.end(), jws), end; it != end; ++it)
    record_secret("access_token", it->str());
  for (std::sregex_iterator it(text.begin(), text.end(), refresh), end; it != end; ++it)
    record_secret("refresh_token", (*it)[2].str());
}

}  // namespace cartgate::test

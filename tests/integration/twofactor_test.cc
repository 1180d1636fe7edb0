// Issue 4's "done when", through nginx: two-factor login with TOTP codes from an
// independent tool (oathtool), email codes read from the real SMTP sink (aiosmtpd), and
// backup codes; provider memory; enrolment over REST; mail that waits for a stopped
// SMTP server without holding up the login.
#include <signal.h>

#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include "support/stack.h"

namespace cartgate::test {
namespace {

using namespace std::chrono_literals;

const char* kTotpPath = "/wp-json/two-factor/1.0/totp";
const char* kBackupPath = "/wp-json/two-factor/1.0/generate-backup-codes";

// Each account logs in from an address of its own, so wrong codes counted by the login
// rate limit (per IP) in one test never spill into another.
std::string fresh_ip() {
  static int n = 0;
  int i = n++;
  return "10.44." + std::to_string((getpid() + i / 250) % 250) + "." + std::to_string(1 + (i % 250));
}

struct account {
  test_user u;
  std::string ip = fresh_ip();
};

account new_account() { return account{make_user()}; }

http_result login(const account& a, const Json::Value& extra = Json::Value(Json::objectValue)) {
  Json::Value body = extra;
  body["username"] = a.u.login;
  body["password"] = a.u.password;
  http_options o;
  o.forwarded_for = a.ip;
  return post_json(login_path, body, o);
}

http_result login_with(const account& a, const std::string& code, const std::string& provider = "") {
  Json::Value extra(Json::objectValue);
  extra["2fa_code"] = code;
  if (!provider.empty()) extra["2fa_provider"] = provider;
  return login(a, extra);
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

cli_result must(const std::vector<std::string>& args) {
  auto r = cli(args);
  if (r.status != 0) throw std::runtime_error("cartgate failed: " + r.err);
  return r;
}

// `cartgate 2fa totp enable`: returns the base32 key (first line).
std::string enable_totp(const account& a) {
  auto out = lines(must({"2fa", "totp", "enable", a.u.login}).out);
  if (out.size() < 2) throw std::runtime_error("2fa totp enable printed too little");
  return out[0];
}

// oathtool's code for unix time t.
std::string oath(const std::string& key, std::int64_t t) {
  auto r = run({"/usr/bin/oathtool", "--totp", "--base32", "--now=@" + std::to_string(t), key});
  if (r.status != 0) throw std::runtime_error("oathtool failed: " + r.err);
  return lines(r.out).at(0);
}

// Waits until at least 8 s remain in the current 30 s step, so "this step", "next step"
// and "two steps away" mean the same to the test and to the server.
std::int64_t steady_now() {
  for (;;) {
    std::int64_t t = std::time(nullptr);
    if (t % 30 < 22) return t;
    std::this_thread::sleep_for(500ms);
  }
}

bool has(const Json::Value& list, const std::string& v) {
  for (const auto& x : list) {
    if (x.asString() == v) return true;
  }
  return false;
}

// The newest mail to `to`, or "" when none arrived within `limit`.
std::string mail_to(const std::string& to, std::size_t skip = 0, std::chrono::milliseconds limit = 15000ms) {
  std::string found;
  eventually(
      [&] {
        std::size_t seen = 0;
        for (const auto& m : mails()) {
          if (m.find("To: " + to) == std::string::npos) continue;
          if (seen++ >= skip) found = m;
        }
        return !found.empty();
      },
      limit);
  return found;
}

std::size_t mails_to(const std::string& to) {
  std::size_t n = 0;
  for (const auto& m : mails()) n += m.find("To: " + to) != std::string::npos;
  return n;
}

// The 8-digit code standing on a line of its own.
std::string code_in(const std::string& mail) {
  static const std::regex line_re("(^|\r?\n)([0-9]{8})\r?\n");
  std::smatch m;
  if (!std::regex_search(mail, m, line_re)) return "";
  return m[2].str();
}

std::string bearer_for(const account& a) {
  return lines(must({"jwt", "create", "--user=" + a.u.login}).out).at(0);
}

// Options for a request with the access token of a login answer, from the account's
// address and User-Agent (the token is bound to both).
http_options as(const account& a, const http_result& login_answer) {
  http_options o;
  o.bearer = login_answer.json()["extras"]["jwt_token"].asString();
  o.forwarded_for = a.ip;
  return o;
}

std::vector<std::string> backup_codes(const account& a) { return lines(must({"2fa", "backup-codes", a.u.login}).out); }

// ---- the challenge, per default provider --------------------------------------------------

TEST(TwoFactorLogin, NoSecondFactorLogsInWithPassword) {
  auto a = new_account();
  EXPECT_EQ(login(a).status, 200);
}

TEST(TwoFactorLogin, TotpDefaultChallengesWithoutSendingMail) {
  auto a = new_account();
  enable_totp(a);
  must({"2fa", "email", "enable", a.u.login});
  must({"2fa", "primary", a.u.login, "totp"});
  auto r = login(a);
  ASSERT_TRUE(is_error(r, 401, "cocart_2fa_required")) << r.body;
  auto j = r.json();
  EXPECT_EQ(j["message"].asString(),
            "2FA verification required. Please provide a 2FA code using one of these providers: email, totp");
  EXPECT_TRUE(j["data"]["2fa_required"].asBool());
  ASSERT_EQ(j["data"]["available_providers"].size(), 2u);
  EXPECT_EQ(j["data"]["available_providers"][0].asString(), "email");
  EXPECT_EQ(j["data"]["available_providers"][1].asString(), "totp");
  EXPECT_EQ(j["data"]["default_provider"].asString(), "totp");
  EXPECT_FALSE(j["data"]["email_sent"].asBool());
  EXPECT_TRUE(j["data"]["email_sent"].isBool());
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(mails_to(a.u.email), 0u);
  EXPECT_FALSE(r.body.find("jwt_token") != std::string::npos);
}

TEST(TwoFactorLogin, EmailDefaultSendsCodeThatLogsIn) {
  auto a = new_account();
  must({"2fa", "email", "enable", a.u.login});
  auto r = login(a);
  ASSERT_TRUE(is_error(r, 401, "cocart_2fa_required")) << r.body;
  EXPECT_EQ(r.json()["data"]["default_provider"].asString(), "email");
  EXPECT_TRUE(r.json()["data"]["email_sent"].asBool());
  auto mail = mail_to(a.u.email);
  ASSERT_FALSE(mail.empty()) << "no mail reached the SMTP sink";
  EXPECT_NE(mail.find("verification code"), std::string::npos);
  auto code = code_in(mail);
  ASSERT_EQ(code.size(), 8u) << mail;
  auto ok = login_with(a, code, "email");
  EXPECT_EQ(ok.status, 200) << ok.body;
  EXPECT_FALSE(ok.json()["extras"]["jwt_token"].asString().empty());
  // Single use.
  EXPECT_TRUE(is_error(login_with(a, code, "email"), 401, "cocart_2fa_invalid_code"));
}

TEST(TwoFactorLogin, BackupOnlyDefaultIsBackup) {
  auto a = new_account();
  auto set = backup_codes(a);
  ASSERT_EQ(set.size(), 10u);
  auto r = login(a);
  ASSERT_TRUE(is_error(r, 401, "cocart_2fa_required")) << r.body;
  EXPECT_EQ(r.json()["data"]["default_provider"].asString(), "backup");
  EXPECT_FALSE(r.json()["data"]["email_sent"].asBool());
  EXPECT_EQ(login_with(a, set[3]).status, 200);  // default provider: backup
}

// ---- codes per provider --------------------------------------------------------------------

TEST(TwoFactorTotp, CurrentCodeFromOathtoolLogsInAndIsNotAcceptedTwice) {
  auto a = new_account();
  auto key = enable_totp(a);
  std::int64_t now = steady_now();
  auto code = oath(key, now);
  auto r = login_with(a, code, "totp");
  EXPECT_EQ(r.status, 200) << r.body;
  auto again = login_with(a, code, "totp");
  EXPECT_TRUE(is_error(again, 401, "cocart_2fa_invalid_code")) << again.body;
  EXPECT_EQ(again.json()["message"].asString(), "Invalid 2FA code provided.");
}

TEST(TwoFactorTotp, NeighbourStepsAcceptedTwoStepsAwayRefused) {
  auto a = new_account();
  auto key = enable_totp(a);
  std::int64_t now = steady_now();
  EXPECT_TRUE(is_error(login_with(a, oath(key, now - 60), "totp"), 401, "cocart_2fa_invalid_code"));
  EXPECT_TRUE(is_error(login_with(a, oath(key, now + 60), "totp"), 401, "cocart_2fa_invalid_code"));
  EXPECT_EQ(login_with(a, oath(key, now - 30), "totp").status, 200);
  EXPECT_EQ(login_with(a, oath(key, now + 30), "totp").status, 200);
  // After the next step's code, the current one is older than the last accepted step.
  EXPECT_TRUE(is_error(login_with(a, oath(key, now), "totp"), 401, "cocart_2fa_invalid_code"));
}

TEST(TwoFactorTotp, WrongCodeRefused) {
  auto a = new_account();
  auto key = enable_totp(a);
  std::int64_t now = steady_now();
  std::string wrong = oath(key, now) == "000000" ? "111111" : "000000";
  auto r = login_with(a, wrong);
  EXPECT_TRUE(is_error(r, 401, "cocart_2fa_invalid_code")) << r.body;
  EXPECT_TRUE(is_error(login_with(a, "not-a-code"), 401, "cocart_2fa_invalid_code"));
}

TEST(TwoFactorEmail, ExpiredCodeRefused) {
  auto a = new_account();
  must({"2fa", "email", "enable", a.u.login});
  ASSERT_TRUE(login(a).json()["data"]["email_sent"].asBool());
  auto code = code_in(mail_to(a.u.email));
  ASSERT_EQ(code.size(), 8u);
  {
    auto c = db();
    pqxx::work w(c);
    w.exec_params("UPDATE twofactor_email_codes SET expires_at = now() - interval '1 second' WHERE user_id = $1",
                  a.u.id);
    w.commit();
  }
  EXPECT_TRUE(is_error(login_with(a, code, "email"), 401, "cocart_2fa_invalid_code"));
}

// twofactor.email_max bounds the mails one account's challenges can cause.
TEST(TwoFactorEmail, ChallengesPastTheMailLimitSendNothing) {
  set_option("twofactor.email_max", "2");
  struct restore {
    ~restore() { unset_option("twofactor.email_max"); }
  } restore_option;
  auto a = new_account();
  must({"2fa", "email", "enable", a.u.login});
  EXPECT_TRUE(login(a).json()["data"]["email_sent"].asBool());
  EXPECT_TRUE(login(a).json()["data"]["email_sent"].asBool());
  auto third = login(a);
  ASSERT_TRUE(is_error(third, 401, "cocart_2fa_required")) << third.body;
  EXPECT_FALSE(third.json()["data"]["email_sent"].asBool());
  ASSERT_FALSE(mail_to(a.u.email, 1).empty()) << "the second code never arrived";
  std::this_thread::sleep_for(1s);
  EXPECT_EQ(mails_to(a.u.email), 2u);
}

TEST(TwoFactorEmail, ExplicitProviderSendsCodeWhenDefaultIsTotp) {
  auto a = new_account();
  enable_totp(a);
  must({"2fa", "email", "enable", a.u.login});
  must({"2fa", "primary", a.u.login, "totp"});
  Json::Value extra(Json::objectValue);
  extra["2fa_provider"] = "email";
  auto r = login(a, extra);
  ASSERT_TRUE(is_error(r, 401, "cocart_2fa_required"));
  EXPECT_EQ(r.json()["data"]["default_provider"].asString(), "totp");
  EXPECT_TRUE(r.json()["data"]["email_sent"].asBool());
  auto code = code_in(mail_to(a.u.email));
  EXPECT_EQ(login_with(a, code, "email").status, 200);
}

TEST(TwoFactorBackup, CodeWorksOnceAndNewSetKillsOldOne) {
  auto a = new_account();
  enable_totp(a);
  auto set = backup_codes(a);
  ASSERT_EQ(set.size(), 10u);
  EXPECT_EQ(login_with(a, set[0], "backup").status, 200);
  EXPECT_TRUE(is_error(login_with(a, set[0], "backup"), 401, "cocart_2fa_invalid_code"));
  auto fresh = backup_codes(a);
  EXPECT_TRUE(is_error(login_with(a, set[1], "backup"), 401, "cocart_2fa_invalid_code"));
  EXPECT_EQ(login_with(a, fresh[1], "backup").status, 200);
}

TEST(TwoFactorProvider, UnknownOrNotEnabledProviderIs400) {
  auto a = new_account();
  enable_totp(a);
  auto r = login_with(a, "123456", "invalid_provider_name");
  ASSERT_TRUE(is_error(r, 400, "cocart_2fa_invalid_provider")) << r.body;
  EXPECT_EQ(r.json()["message"].asString(), "Invalid 2FA provider: invalid_provider_name");
  EXPECT_TRUE(is_error(login_with(a, "12345678", "email"), 400, "cocart_2fa_invalid_provider"));
  auto hostile = login_with(a, "123456", "<b>x</b>\"y");
  ASSERT_TRUE(is_error(hostile, 400, "cocart_2fa_invalid_provider"));
  EXPECT_EQ(hostile.json()["message"].asString(), "Invalid 2FA provider: bxby");
}

// ---- provider memory -------------------------------------------------------------------------

TEST(TwoFactorMemory, LastUsedProviderBecomesDefaultUntilDisabled) {
  auto a = new_account();
  auto key = enable_totp(a);
  must({"2fa", "email", "enable", a.u.login});
  auto set = backup_codes(a);
  must({"2fa", "primary", a.u.login, "totp"});
  EXPECT_EQ(login(a).json()["data"]["default_provider"].asString(), "totp");

  ASSERT_EQ(login_with(a, set[0], "backup").status, 200);
  EXPECT_EQ(login(a).json()["data"]["default_provider"].asString(), "backup");
  {
    auto c = db();
    pqxx::work w(c);
    auto r = w.exec_params("SELECT last_used_provider, last_used_at IS NOT NULL FROM twofactor WHERE user_id = $1",
                           a.u.id);
    EXPECT_EQ(std::string(r[0][0].c_str()), "backup");
    EXPECT_TRUE(r[0][1].as<bool>());
  }

  // The remembered provider is disabled: back to the primary.
  must({"2fa", "disable", a.u.login, "backup"});
  auto after = login(a).json();
  EXPECT_EQ(after["data"]["default_provider"].asString(), "totp");
  EXPECT_FALSE(has(after["data"]["available_providers"], "backup"));

  // Primary disabled too: the first enabled provider (email), which mails a code.
  must({"2fa", "disable", a.u.login, "totp"});
  auto last = login(a).json();
  EXPECT_EQ(last["data"]["default_provider"].asString(), "email");
  EXPECT_TRUE(last["data"]["email_sent"].asBool());
  (void)key;

  must({"2fa", "disable", a.u.login});
  EXPECT_EQ(login(a).status, 200);
}

// ---- enrolment over REST ----------------------------------------------------------------------

TEST(TwoFactorRest, TotpEnrolmentNeedsAGoodCodeForTheKey) {
  auto a = new_account();
  http_options o;
  o.bearer = bearer_for(a);
  auto g = http(kTotpPath, o);
  ASSERT_EQ(g.status, 200) << g.body;
  std::string key = g.json()["key"].asString();
  EXPECT_EQ(g.json()["otpauth_uri"].asString().rfind("otpauth://totp/", 0), 0u);
  EXPECT_NE(g.json()["otpauth_uri"].asString().find("secret=" + key), std::string::npos);
  EXPECT_EQ(login(a).status, 200);  // pending only

  std::int64_t now = steady_now();
  Json::Value bad(Json::objectValue);
  bad["key"] = key;
  bad["code"] = oath(key, now) == "000000" ? "111111" : "000000";
  EXPECT_TRUE(is_error(post_json(kTotpPath, bad, o), 400, "cocart_2fa_invalid_code"));
  EXPECT_EQ(login(a).status, 200);

  Json::Value good(Json::objectValue);
  good["key"] = key;
  good["code"] = oath(key, now);
  auto p = post_json(kTotpPath, good, o);
  ASSERT_EQ(p.status, 200) << p.body;
  EXPECT_TRUE(p.json()["success"].asBool());
  EXPECT_EQ(login(a).json()["data"]["default_provider"].asString(), "totp");
  // The enrolment code cannot log in again; the next step's can.
  EXPECT_TRUE(is_error(login_with(a, oath(key, now), "totp"), 401, "cocart_2fa_invalid_code"));
  auto again = login_with(a, oath(key, now + 30), "totp");
  ASSERT_EQ(again.status, 200);

  // TOTP is on now: removing it takes the session of a login with a second factor.
  http_options d = as(a, again);
  d.method = "DELETE";
  auto del = http(kTotpPath, d);
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_TRUE(del.json()["success"].asBool());
  EXPECT_EQ(login(a).status, 200);
}

TEST(TwoFactorRest, RoutesNeedABearerToken) {
  EXPECT_TRUE(is_error(http(kTotpPath), 401, "cocart_authentication_error"));
  http_options o;
  o.method = "POST";
  EXPECT_TRUE(is_error(http(kBackupPath, o), 401, "cocart_authentication_error"));
}

TEST(TwoFactorRest, GenerateBackupCodesReturnsTenAndRetiresOldSet) {
  auto a = new_account();
  http_options o;
  o.bearer = bearer_for(a);
  auto first = post_json(kBackupPath, Json::Value(Json::objectValue), o);
  ASSERT_EQ(first.status, 200) << first.body;
  ASSERT_EQ(first.json()["codes"].size(), 10u);
  EXPECT_EQ(first.json()["remaining"].asInt(), 10);
  // The account has a factor now: a new set takes a current code (here one of the set).
  Json::Value proof(Json::objectValue);
  proof["current_code"] = first.json()["codes"][1].asString();
  auto second = post_json(kBackupPath, proof, o);
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_TRUE(is_error(login_with(a, first.json()["codes"][0].asString(), "backup"), 401,
                       "cocart_2fa_invalid_code"));
  EXPECT_EQ(login_with(a, second.json()["codes"][0].asString(), "backup").status, 200);
}

// ---- revalidation: changing a factor needs a fresh proof of one (contract §3) ------------

const char* kRevalidation = "cocart_2fa_revalidation_required";

// The three changes, each with an optional current_code.
http_result post_totp(const http_options& o, const std::string& key, const std::string& code,
                      const std::string& current_code = "") {
  Json::Value body(Json::objectValue);
  body["key"] = key;
  body["code"] = code;
  if (!current_code.empty()) body["current_code"] = current_code;
  return post_json(kTotpPath, body, o);
}

http_result delete_totp(http_options o, const std::string& current_code = "") {
  o.method = "DELETE";
  if (!current_code.empty()) {
    Json::Value body(Json::objectValue);
    body["current_code"] = current_code;
    o.body = Json::writeString(Json::StreamWriterBuilder(), body);
    o.content_type = "application/json";
  }
  return http(kTotpPath, o);
}

http_result new_backup_set(const http_options& o, const std::string& current_code = "") {
  Json::Value body(Json::objectValue);
  if (!current_code.empty()) body["current_code"] = current_code;
  return post_json(kBackupPath, body, o);
}

// Moves the time of the session's second-factor login back by `seconds`.
void age_second_factor_login(const account& a, int seconds) {
  auto c = db();
  pqxx::work w(c);
  auto r = w.exec_params(
      "UPDATE sessions SET second_factor_at = second_factor_at - make_interval(secs => $2)"
      " WHERE user_id = $1 AND second_factor_at IS NOT NULL",
      a.u.id, seconds);
  w.commit();
  if (r.affected_rows() == 0) throw std::runtime_error("no session logged in with a second factor");
}

// An account with TOTP on (from the CLI) and a session of a login with a backup code.
struct enrolled {
  account a = new_account();
  std::string key;
  std::vector<std::string> backup;
  http_result session;
};

enrolled enrolled_account() {
  enrolled e;
  e.key = enable_totp(e.a);
  e.backup = backup_codes(e.a);
  e.session = login_with(e.a, e.backup[9], "backup");
  if (e.session.status != 200) throw std::runtime_error("backup-code login failed: " + e.session.body);
  return e;
}

// A well-formed 160-bit key of the client's own (the plugin accepts any): "BBBB…" in base32.
std::string fresh_key() { return "IJBEEQSCIJBEEQSCIJBEEQSCIJBEEQSC"; }

TEST(TwoFactorRevalidation, NoFactorYetEnrolsWithTheTokenAlone) {
  auto a = new_account();
  http_options o;
  o.bearer = bearer_for(a);  // `jwt create`: no login, no second factor
  std::string key = fresh_key();
  std::int64_t now = steady_now();
  auto enrol = post_totp(o, key, oath(key, now));
  ASSERT_EQ(enrol.status, 200) << enrol.body;

  auto b = new_account();
  http_options ob;
  ob.bearer = bearer_for(b);
  EXPECT_EQ(delete_totp(ob).status, 200);  // nothing to remove, nothing to prove
  auto set = new_backup_set(ob);
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(set.json()["codes"].size(), 10u);
}

TEST(TwoFactorRevalidation, FreshSecondFactorLoginAllowsEveryChange) {
  auto e = enrolled_account();
  auto o = as(e.a, e.session);
  auto set = new_backup_set(o);
  ASSERT_EQ(set.status, 200) << set.body;

  std::string key = fresh_key();
  std::int64_t now = steady_now();
  auto replaced = post_totp(o, key, oath(key, now));
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_EQ(login_with(e.a, oath(key, now + 30), "totp").status, 200);

  auto removed = delete_totp(o);
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_FALSE(has(login(e.a).json()["data"]["available_providers"], "totp"));
}

TEST(TwoFactorRevalidation, SecondFactorLoginOlderThanTenMinutesIsRefused) {
  auto e = enrolled_account();
  auto o = as(e.a, e.session);
  age_second_factor_login(e.a, 601);

  std::string key = fresh_key();
  std::int64_t now = steady_now();
  EXPECT_TRUE(is_error(new_backup_set(o), 403, kRevalidation));
  EXPECT_TRUE(is_error(post_totp(o, key, oath(key, now)), 403, kRevalidation));
  EXPECT_TRUE(is_error(delete_totp(o), 403, kRevalidation));

  // Nothing changed: the old key and the old backup codes still log in.
  EXPECT_EQ(login_with(e.a, oath(e.key, now), "totp").status, 200);
  EXPECT_EQ(login_with(e.a, e.backup[0], "backup").status, 200);
}

TEST(TwoFactorRevalidation, TokenWithoutSecondFactorLoginIsRefused) {
  auto a = new_account();
  auto old_key = enable_totp(a);
  http_options o;
  o.bearer = bearer_for(a);  // a stolen token, say: never passed a second factor
  std::string key = fresh_key();
  std::int64_t now = steady_now();
  EXPECT_TRUE(is_error(post_totp(o, key, oath(key, now)), 403, kRevalidation));
  EXPECT_TRUE(is_error(delete_totp(o), 403, kRevalidation));
  EXPECT_TRUE(is_error(new_backup_set(o), 403, kRevalidation));
  EXPECT_EQ(login_with(a, oath(old_key, now), "totp").status, 200);
  EXPECT_FALSE(has(login(a).json()["data"]["available_providers"], "backup"));
}

TEST(TwoFactorRevalidation, CurrentCodeAllowsEachChangeAndIsSpent) {
  auto a = new_account();
  auto old_key = enable_totp(a);
  http_options o;
  o.bearer = bearer_for(a);
  std::int64_t now = steady_now();

  // generate-backup-codes with a TOTP code: the code is then spent for login too.
  std::string totp_code = oath(old_key, now);
  auto set = new_backup_set(o, totp_code);
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_TRUE(is_error(login_with(a, totp_code, "totp"), 401, "cocart_2fa_invalid_code"));

  // POST totp (a new key) with a backup code, which is then spent.
  std::string spent = set.json()["codes"][0].asString();
  std::string key = fresh_key();
  auto replaced = post_totp(o, key, oath(key, now), spent);
  ASSERT_EQ(replaced.status, 200) << replaced.body;
  EXPECT_TRUE(is_error(login_with(a, spent, "backup"), 401, "cocart_2fa_invalid_code"));

  // DELETE totp with another backup code, spent too (backup stays on: 8 codes are left).
  std::string second = set.json()["codes"][1].asString();
  auto removed = delete_totp(o, second);
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_FALSE(has(login(a).json()["data"]["available_providers"], "totp"));
  EXPECT_TRUE(is_error(login_with(a, second, "backup"), 401, "cocart_2fa_invalid_code"));
  EXPECT_EQ(login_with(a, set.json()["codes"][2].asString(), "backup").status, 200);
}

TEST(TwoFactorRevalidation, WrongCurrentCodeIsRefusedAndCountsTowardTheLoginLimit) {
  auto a = new_account();
  auto key = enable_totp(a);
  http_options o;
  o.bearer = bearer_for(a);
  o.forwarded_for = a.ip;
  std::int64_t now = steady_now();
  std::string wrong = oath(key, now) == "000000" ? "111111" : "000000";
  for (int i = 0; i < 5; ++i) {  // rate_limit.login.max
    EXPECT_TRUE(is_error(delete_totp(o, wrong), 403, kRevalidation)) << "attempt " << i + 1;
  }
  // The limit is reached: neither a right code here nor the password at login gets in.
  EXPECT_TRUE(is_error(delete_totp(o, oath(key, now)), 429, "cocart_rate_limited"));
  EXPECT_TRUE(is_error(login(a), 429, "cocart_rate_limited"));
  EXPECT_EQ(login_with(account{a.u, fresh_ip()}, oath(key, now), "totp").status, 429);  // per account too
}

// ---- the outbox ---------------------------------------------------------------------------------

// Stops the test stack's SMTP sink for its lifetime; starts it again when it ends.
class smtp_outage {
 public:
  smtp_outage() {
    pid_file_ = env("CARTGATE_TEST_STATE") + "/run/smtp.pid";
    std::ifstream in(pid_file_);
    int pid = 0;
    in >> pid;
    if (pid <= 0) throw std::runtime_error("no SMTP sink pid in " + pid_file_);
    kill(pid, SIGTERM);
    eventually([&] { return !process_alive(pid); }, 5000ms);
  }
  ~smtp_outage() { end(); }
  void end() {
    if (ended_) return;
    ended_ = true;
    std::string cmd = "setsid /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:" + env("CARTGATE_TEST_SMTP_PORT") +
                      " -c aiosmtpd.handlers.Mailbox '" + env("CARTGATE_TEST_MAIL_DIR") + "' >>'" +
                      env("CARTGATE_TEST_LOG_DIR") + "/smtp.log' 2>&1 & echo $! >'" + pid_file_ + "'";
    if (std::system(cmd.c_str()) != 0) ADD_FAILURE() << "could not restart the SMTP sink";
  }

 private:
  std::string pid_file_;
  bool ended_ = false;
};

TEST(TwoFactorOutbox, LoginAnswersWhileSmtpIsDownAndMailArrivesLater) {
  auto a = new_account();
  must({"2fa", "email", "enable", a.u.login});
  {
    smtp_outage down;
    auto r = login(a);
    ASSERT_TRUE(is_error(r, 401, "cocart_2fa_required")) << r.body;
    EXPECT_TRUE(r.json()["data"]["email_sent"].asBool());
    // The sender has tried and failed at least once: the row is waiting, with its error.
    EXPECT_TRUE(eventually([&] {
      auto c = db();
      pqxx::work w(c);
      return w.exec_params("SELECT 1 FROM mail_outbox WHERE recipient = $1 AND attempts > 0", a.u.email).size() == 1;
    }));
    EXPECT_EQ(mails_to(a.u.email), 0u);
  }
  auto mail = mail_to(a.u.email, 0, 30000ms);
  ASSERT_FALSE(mail.empty()) << "the queued mail never arrived after the SMTP sink came back";
  EXPECT_EQ(login_with(a, code_in(mail), "email").status, 200);
  auto c = db();
  pqxx::work w(c);
  EXPECT_TRUE(w.exec_params("SELECT 1 FROM mail_outbox WHERE recipient = $1", a.u.email).empty());
}

// ---- secrets stay secret -------------------------------------------------------------------------

TEST(TwoFactorSecrets, NoCodeOrKeyInLogsAuditOrDatabase) {
  auto a = new_account();
  auto key = enable_totp(a);
  must({"2fa", "email", "enable", a.u.login});
  auto set = backup_codes(a);
  ASSERT_TRUE(login(a).json()["data"]["email_sent"].asBool());
  auto email_code = code_in(mail_to(a.u.email));
  ASSERT_EQ(email_code.size(), 8u);
  std::int64_t now = steady_now();
  auto totp_code = oath(key, now);
  EXPECT_EQ(login_with(a, totp_code, "totp").status, 200);
  EXPECT_EQ(login_with(a, email_code, "email").status, 200);
  EXPECT_EQ(login_with(a, set[0], "backup").status, 200);
  login_with(a, set[0], "backup");  // a failure too

  std::string logs;
  for (auto& e : std::filesystem::directory_iterator(env("CARTGATE_TEST_LOG_DIR"))) {
    if (e.path().filename().string().rfind("cartgate", 0) != 0) continue;  // the pools' logs
    std::ifstream in(e.path());
    logs += std::string(std::istreambuf_iterator<char>(in), {});
  }
  auto c = db();
  pqxx::work w(c);
  std::string audit;
  for (auto row : w.exec_params("SELECT event, coalesce(detail::text, '') FROM audit_events WHERE user_id = $1", a.u.id)) {
    audit += std::string(row[0].c_str()) + row[1].c_str() + "\n";
  }
  auto secrets_row = w.exec_params(
      "SELECT coalesce(totp_secret, '') || ' ' || coalesce(last_used_provider, '') FROM twofactor WHERE user_id = $1",
      a.u.id);
  std::string stored = secrets_row[0][0].c_str();
  for (const std::string& s : {key, email_code, set[0], set[5]}) {
    EXPECT_EQ(logs.find(s), std::string::npos) << "a secret appears in the logs";
    EXPECT_EQ(audit.find(s), std::string::npos) << "a secret appears in the audit trail";
    EXPECT_EQ(stored.find(s), std::string::npos) << "a secret is stored in clear";
  }
  for (auto row : w.exec_params("SELECT code_hash FROM twofactor_backup_codes WHERE user_id = $1", a.u.id)) {
    for (const auto& s : set) EXPECT_NE(std::string(row[0].c_str()), s);
  }
}

}  // namespace
}  // namespace cartgate::test

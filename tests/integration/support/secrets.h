// Every secret the integration tests hand to cartgate or get from it — passwords, access
// and refresh tokens, TOTP keys, TOTP / email / backup codes, application passwords — is
// written down, so that tests/secrets_audit.sh can look for each of them, after the run,
// where none may be: logs, the audit table, NOTIFY payloads, the mail outbox, a dump of
// the database (docs/testing.md, "Secrets audit").
//
// The file is $CARTGATE_TEST_SECRETS_FILE (tests/run.sh sets it; unset: nothing is
// written), one "KIND<TAB>VALUE" a line. The central helpers call these — http() and
// fastcgi() for what goes over HTTP, cli() for what goes through the CLI — so a test
// records nothing by hand unless it makes a secret some other way.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace cartgate::test {

// Appends one secret (values shorter than 4 characters, or holding a line break, are
// not secrets worth looking for and are skipped).
void record_secret(std::string_view kind, std::string_view value);

// The secrets in a request body and in an answer's body (JSON or form-encoded): the
// fields that carry one (password, 2fa_code, code, current_code, refresh_token, key…;
// extras.jwt_token, jwt_refresh, key, otpauth_uri's secret, codes[] in answers).
void record_request_secrets(std::string_view body);
void record_response_secrets(std::string_view body);

// What a CLI run carried: the password on stdin of `user add` / `user passwd`, the
// tokens `jwt create` prints, the key of `2fa totp enable`, the codes of
// `2fa backup-codes`.
void record_cli_secrets(const std::vector<std::string>& args, std::string_view stdin_text,
                        std::string_view out);

}  // namespace cartgate::test

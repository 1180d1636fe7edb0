#include "http/errors.h"

namespace cartgate {
namespace {

struct row {
  reason why;
  std::string_view name;
  int status;
  std::string_view code;
  std::string_view message;
  bool bearer;
};

const std::vector<row>& table() {
  static const std::vector<row> rows = {
#define CARTGATE_REASON_ROW(name, status, code, message, bearer) \
  {reason::name, #name, status, code, message, bearer},
      CARTGATE_REASONS(CARTGATE_REASON_ROW)
#undef CARTGATE_REASON_ROW
  };
  return rows;
}

const row& row_of(reason r) { return table()[static_cast<std::size_t>(r)]; }

std::string message_of(const row& a, const failure& f) {
  std::string text(a.message);
  auto slot = text.find("{}");
  if (slot != std::string::npos) text.replace(slot, 2, f.detail);
  return text;
}

}  // namespace

const std::vector<reason>& all_reasons() {
  static const std::vector<reason> all = [] {
    std::vector<reason> out;
    for (const auto& r : table()) out.push_back(r.why);
    return out;
  }();
  return all;
}

std::string_view reason_name(reason r) { return row_of(r).name; }

bool is_token_failure(reason r) { return row_of(r).bearer; }

http::response to_response(const failure& f, int bearer_status) {
  const row& a = row_of(f.why);
  // Only the two statuses jwt.failure_status allows; anything else keeps the row's 401.
  int status = a.bearer && (bearer_status == 401 || bearer_status == 403) ? bearer_status : a.status;
  std::string code(a.code);
  std::string message = message_of(a, f);
  if (f.why == reason::plugin_denied && f.plugin) {
    if (!f.plugin->code.empty()) code = f.plugin->code;
    if (!f.plugin->message.empty()) message = f.plugin->message;
    if (f.plugin->status >= 400 && f.plugin->status <= 599) status = f.plugin->status;
  }
  Json::Value body(Json::objectValue);
  body["code"] = code;
  body["message"] = message;
  Json::Value data = f.data.isObject() ? f.data : Json::Value(Json::objectValue);
  data["status"] = status;
  body["data"] = data;
  auto res = http::json_response(status, body);
  if (a.bearer) res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  if (f.why == reason::busy) res.set_header("Retry-After", "1");  // a moment, not a window
  for (auto& h : f.headers) res.set_header(h.name, h.value);
  return res;
}

}  // namespace cartgate

// The security audit trail (table audit_events) and the external event stream (NOTIFY
// cartgate_events). Both are written inside the caller's transaction, so an event is
// recorded exactly when what it describes is committed. Neither ever holds a token,
// code, password or secret: payloads carry ids, reasons and times only.
//
//   audit::record(tx, "login_failed", 0, "", ip, {{"reason","bad_credentials"}});
//   audit::publish(tx, event);     // {"event","user_id","pat","time"}
#pragma once

#include <json/json.h>
#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <string_view>

#include "events.h"

namespace cartgate::audit {

void record(pqxx::transaction_base& tx, std::string_view event, std::int64_t user_id, const std::string& pat,
            const std::string& ip, const Json::Value& detail = Json::Value(Json::objectValue));

void publish(pqxx::transaction_base& tx, const events::event& e);

}  // namespace cartgate::audit

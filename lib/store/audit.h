// The security audit trail (table audit_events) and, beside it, the external event
// stream (store/event_stream.h). Both are written inside the caller's transaction, so an
// event is recorded exactly when what it describes is committed. Neither ever holds a
// token, code, password or secret: payloads carry ids, reasons and times only.
//
//   audit::record(tx, "login_failed", 0, "", ip, {{"reason","bad_credentials"}});
//   audit::publish(tx, event);     // {"event","user_id","pat","time"} on cartgate_events
#pragma once

#include <json/json.h>
#include <pqxx/pqxx>

#include <cstdint>
#include <string>
#include <string_view>

#include "infra/events.h"

namespace cartgate::audit {

void record(pqxx::transaction_base& tx, std::string_view event, std::int64_t user_id, const std::string& pat,
            const std::string& ip, const Json::Value& detail = Json::Value(Json::objectValue));

// The same as event_stream::publish, for code that records and publishes together.
void publish(pqxx::transaction_base& tx, const events::event& e);

}  // namespace cartgate::audit

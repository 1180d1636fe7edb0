#include "store/audit.h"

#include "http/message.h"
#include "store/event_stream.h"

namespace cartgate::audit {

void record(pqxx::transaction_base& tx, std::string_view event, std::int64_t user_id, const std::string& pat,
            const std::string& ip, const Json::Value& detail) {
  tx.exec_params(
      "INSERT INTO audit_events (event, user_id, pat, ip, detail)"
      " VALUES ($1, nullif($2::bigint, 0), nullif($3, ''), nullif($4, ''), $5::jsonb)",
      std::string(event), user_id, pat, ip, http::to_json(detail.isObject() ? detail : Json::Value(Json::objectValue)));
}

void publish(pqxx::transaction_base& tx, const events::event& e) { event_stream::publish(tx, e); }

}  // namespace cartgate::audit

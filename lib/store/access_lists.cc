#include "store/access_lists.h"

namespace cartgate::access_lists {

void add_device(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& device_id,
                const std::string& label) {
  tx.exec_params(
      "INSERT INTO devices (user_id, device_id, label) VALUES ($1, $2, $3) "
      "ON CONFLICT (user_id, device_id) DO UPDATE SET label = EXCLUDED.label",
      user_id, device_id, label);
}

bool remove_device(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& device_id) {
  auto r = tx.exec_params("DELETE FROM devices WHERE user_id = $1 AND device_id = $2", user_id, device_id);
  return r.affected_rows() > 0;
}

std::vector<device> devices_of(pqxx::transaction_base& tx, std::int64_t user_id) {
  std::vector<device> out;
  for (auto row : tx.exec_params(
           "SELECT device_id, label, to_char(created_at AT TIME ZONE 'UTC', "
           "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM devices WHERE user_id = $1 ORDER BY created_at",
           user_id)) {
    out.push_back({row[0].c_str(), row[1].c_str(), row[2].c_str()});
  }
  return out;
}

bool device_registered(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& device_id) {
  return !tx.exec_params("SELECT 1 FROM devices WHERE user_id = $1 AND device_id = $2", user_id, device_id)
              .empty();
}

void add_window(pqxx::transaction_base& tx, std::int64_t user_id, const schedule::window& w) {
  tx.exec_params("INSERT INTO schedules (user_id, day, from_minute, to_minute) VALUES ($1, $2, $3, $4)",
                 user_id, w.day, w.from_minute, w.to_minute);
}

void clear_windows(pqxx::transaction_base& tx, std::int64_t user_id) {
  tx.exec_params("DELETE FROM schedules WHERE user_id = $1", user_id);
}

std::vector<schedule::window> windows_of(pqxx::transaction_base& tx, std::int64_t user_id,
                                         window_order order) {
  std::vector<schedule::window> out;
  const char* sql = order == window_order::added
                        ? "SELECT day, from_minute, to_minute FROM schedules WHERE user_id = $1 ORDER BY id"
                        : "SELECT day, from_minute, to_minute FROM schedules WHERE user_id = $1"
                          " ORDER BY day, from_minute";
  for (auto row : tx.exec_params(sql, user_id)) {
    out.push_back({row[0].as<int>(), row[1].as<int>(), row[2].as<int>()});
  }
  return out;
}

void add_client(pqxx::transaction_base& tx, const client& c) {
  tx.exec_params(
      "INSERT INTO clients (client_id, min_version) VALUES ($1, nullif($2, '')) "
      "ON CONFLICT (client_id) DO UPDATE SET min_version = EXCLUDED.min_version",
      c.id, c.min_version);
}

bool remove_client(pqxx::transaction_base& tx, const std::string& client_id) {
  return tx.exec_params("DELETE FROM clients WHERE client_id = $1", client_id).affected_rows() > 0;
}

std::vector<client> clients(pqxx::transaction_base& tx) {
  std::vector<client> out;
  for (auto row : tx.exec("SELECT client_id, coalesce(min_version, '') FROM clients ORDER BY client_id")) {
    out.push_back({row[0].c_str(), row[1].c_str()});
  }
  return out;
}

std::optional<client> find_client(pqxx::transaction_base& tx, const std::string& client_id) {
  auto rows = tx.exec_params("SELECT client_id, coalesce(min_version, '') FROM clients WHERE client_id = $1",
                             client_id);
  if (rows.empty()) return std::nullopt;
  return client{rows[0][0].c_str(), rows[0][1].c_str()};
}

void record_client_use(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& client_id,
                       const std::string& app_version, std::int64_t now) {
  tx.exec_params(
      "INSERT INTO client_info (user_id, client_id, app_version, login_time) "
      "VALUES ($1, $2, nullif($3, ''), to_timestamp($4)) "
      "ON CONFLICT (user_id) DO UPDATE SET client_id = EXCLUDED.client_id, "
      "app_version = EXCLUDED.app_version, login_time = EXCLUDED.login_time",
      user_id, client_id, app_version, now);
}

}  // namespace cartgate::access_lists

// The tables behind the permission rules (contract §4–5): devices registered per user,
// weekly login windows per user, known app clients, and each user's last client. The CLI
// writes them, the built-in rules read them; this file is the only one with their SQL.
//
//   access_lists::add_device(tx, user_id, "ios-7f3a", "Alice's iPhone");
//   bool ok = access_lists::device_registered(tx, user_id, "ios-7f3a");
//   auto windows = access_lists::windows_of(tx, user_id);       // ordered by id
#pragma once

#include <pqxx/pqxx>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "policy/schedule.h"

namespace cartgate::access_lists {

// ---- devices (device.required) ----
struct device {
  std::string id, label, created_at;  // created_at: ISO 8601, UTC
};
void add_device(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& device_id,
                const std::string& label);  // again: updates the label
bool remove_device(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& device_id);
std::vector<device> devices_of(pqxx::transaction_base& tx, std::int64_t user_id);  // oldest first
bool device_registered(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& device_id);

// ---- schedules (time windows, site.timezone) ----
void add_window(pqxx::transaction_base& tx, std::int64_t user_id, const schedule::window& w);
void clear_windows(pqxx::transaction_base& tx, std::int64_t user_id);
// In the order they were added (the rule), or by day and start (the CLI's listing).
enum class window_order { added, by_day };
std::vector<schedule::window> windows_of(pqxx::transaction_base& tx, std::int64_t user_id,
                                         window_order order = window_order::added);

// ---- clients (X-Client-ID, X-App-Version) ----
struct client {
  std::string id;
  std::string min_version;  // "" = no minimum
};
void add_client(pqxx::transaction_base& tx, const client& c);  // again: updates the minimum
bool remove_client(pqxx::transaction_base& tx, const std::string& client_id);
std::vector<client> clients(pqxx::transaction_base& tx);  // by id
std::optional<client> find_client(pqxx::transaction_base& tx, const std::string& client_id);
// The seed's update_user_meta('last_client_info'): one row per user, latest wins.
void record_client_use(pqxx::transaction_base& tx, std::int64_t user_id, const std::string& client_id,
                       const std::string& app_version, std::int64_t now);

}  // namespace cartgate::access_lists

#include "rules/builtin.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <map>
#include <mutex>

#include "base/text.h"
#include "infra/log.h"
#include "policy/semver.h"
#include "store/access_lists.h"

namespace cartgate::rules {
namespace {

bool listed(const std::vector<std::string>& list, const std::string& cc) {
  return std::find(list.begin(), list.end(), cc) != list.end();
}

bool file_exists(const std::string& path) {
  struct stat st{};
  return !path.empty() && ::stat(path.c_str(), &st) == 0;
}

std::string upper_trimmed(std::string_view s) { return text::ascii_upper(text::trim(s)); }

}  // namespace

std::optional<failure> decide_geo(const policy& pol, const std::optional<std::string>& country) {
  auto denied = [&](reason r) {
    failure f{r};
    f.data["country_code"] = country ? Json::Value(*country) : Json::Value(Json::nullValue);
    return f;
  };
  if (country && listed(pol.blocked_countries, *country)) return denied(reason::geo_blocked);
  if (!pol.allowed_countries.empty() && (!country || !listed(pol.allowed_countries, *country))) {
    return denied(reason::geo_restricted);
  }
  return std::nullopt;
}

std::optional<failure> decide_schedule(const std::vector<schedule::window>& windows,
                                       std::string_view timezone, std::int64_t now) {
  if (windows.empty()) return std::nullopt;
  auto d = schedule::evaluate(windows, timezone, now);
  if (d.allowed) return std::nullopt;
  failure f{reason::time_restricted};
  f.data["current_time"] = d.current_time;
  f.data["next_available"] =
      d.next_available ? Json::Value(*d.next_available) : Json::Value(Json::nullValue);
  return f;
}

std::optional<failure> decide_device(bool required, std::string_view device_id, bool registered) {
  if (!required) return std::nullopt;
  if (device_id.empty()) return failure{reason::device_id_required};
  if (!registered) {
    failure f{reason::device_not_registered};
    f.data["device_registration_required"] = true;
    return f;
  }
  return std::nullopt;
}

std::optional<failure> decide_client(std::string_view client_id, std::string_view app_version,
                                     const std::optional<client_row>& known) {
  if (client_id.empty()) return std::nullopt;
  if (!known) return failure{reason::unknown_client};
  if (app_version.empty() || known->min_version.empty()) return std::nullopt;
  auto have = semver::parse(app_version);
  auto need = semver::parse(known->min_version);
  if (!need) return std::nullopt;  // the CLI validates minimums; an old bad row never denies
  if (!have || semver::compare(*have, *need) < 0) {
    failure f{reason::outdated_client};
    f.data["current_version"] = std::string(app_version);
    f.data["minimum_version"] = known->min_version;
    return f;
  }
  return std::nullopt;
}

std::optional<std::string> request_country(const http::request& req, std::string_view header_name,
                                           const geo::country_db& db) {
  if (!header_name.empty()) {
    auto v = upper_trimmed(req.header(header_name));
    // nginx's geoip2 module sends "" (or "--" from old geoip) when it has no answer.
    if (v.size() == 2 && std::isalpha(static_cast<unsigned char>(v[0])) &&
        std::isalpha(static_cast<unsigned char>(v[1]))) {
      return v == "UK" ? std::string("GB") : v;
    }
  }
  return db.lookup(req.client_ip);
}

std::shared_ptr<const geo::country_db> shared_country_db(const config& cfg) {
  // Loading the tor files takes ~0.2 s and ~10 MB; one copy per process, keyed by the
  // paths so a test with another configuration gets its own.
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const geo::country_db>> loaded;
  std::string key = cfg.mmdb_file + '\n' + cfg.geoip_v4_file + '\n' + cfg.geoip_v6_file;
  std::lock_guard lock(mu);
  if (auto it = loaded.find(key); it != loaded.end()) return it->second;
  std::shared_ptr<const geo::country_db> db;
  if (!cfg.mmdb_file.empty()) {
    db = std::make_shared<const geo::country_db>(geo::country_db::load_mmdb(cfg.mmdb_file));
  } else {
    std::string v4 = file_exists(cfg.geoip_v4_file) ? cfg.geoip_v4_file : "";
    std::string v6 = file_exists(cfg.geoip_v6_file) ? cfg.geoip_v6_file : "";
    if (v4.empty() && v6.empty()) {
      log::warn("geoip_database_missing",
                {{"ipv4", cfg.geoip_v4_file}, {"ipv6", cfg.geoip_v6_file}});
      db = std::make_shared<const geo::country_db>();
    } else {
      db = std::make_shared<const geo::country_db>(geo::country_db::load_tor(v4, v6));
    }
  }
  loaded[key] = db;
  return db;
}

namespace {

class geo_rule : public rule {
 public:
  geo_rule(country_db_loader load, std::string header) : load_(std::move(load)), header_(std::move(header)) {}
  std::string_view name() const override { return "geo"; }
  std::optional<failure> check(context& c) override {
    if (c.pol.blocked_countries.empty() && c.pol.allowed_countries.empty()) return std::nullopt;
    std::call_once(loaded_, [this] { db_ = load_(); });
    return decide_geo(c.pol, request_country(c.req, header_, *db_));
  }

 private:
  country_db_loader load_;
  std::once_flag loaded_;
  std::shared_ptr<const geo::country_db> db_;
  std::string header_;
};

class schedule_rule : public rule {
 public:
  std::string_view name() const override { return "schedule"; }
  std::optional<failure> check(context& c) override {
    return decide_schedule(access_lists::windows_of(c.tx, c.subject.id), c.pol.timezone, c.now);
  }
};

class device_rule : public rule {
 public:
  std::string_view name() const override { return "device"; }
  std::optional<failure> check(context& c) override {
    bool required = c.pol.device_required_for(c.subject.roles);
    if (!required) return std::nullopt;
    auto device_id = http::param_text(c.params, "device_id");
    bool registered = !device_id.empty() && access_lists::device_registered(c.tx, c.subject.id, device_id);
    return decide_device(required, device_id, registered);
  }
};

class client_rule : public rule {
 public:
  std::string_view name() const override { return "client"; }
  std::optional<failure> check(context& c) override {
    auto client_id = c.req.header("x-client-id");
    if (client_id.empty()) return std::nullopt;
    auto app_version = c.req.header("x-app-version");
    std::optional<client_row> known;
    if (auto row = access_lists::find_client(c.tx, client_id)) known = client_row{row->min_version};
    if (auto f = decide_client(client_id, app_version, known)) return f;
    access_lists::record_client_use(c.tx, c.subject.id, client_id, app_version, c.now);
    return std::nullopt;
  }
};

}  // namespace

std::unique_ptr<rule> make_geo_rule(std::shared_ptr<const geo::country_db> db, std::string header) {
  return std::make_unique<geo_rule>([db = std::move(db)] { return db; }, std::move(header));
}
std::unique_ptr<rule> make_geo_rule(country_db_loader load, std::string header) {
  return std::make_unique<geo_rule>(std::move(load), std::move(header));
}
std::unique_ptr<rule> make_schedule_rule() { return std::make_unique<schedule_rule>(); }
std::unique_ptr<rule> make_device_rule() { return std::make_unique<device_rule>(); }
std::unique_ptr<rule> make_client_rule() { return std::make_unique<client_rule>(); }

}  // namespace cartgate::rules

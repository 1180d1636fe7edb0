// Example event plugin (seed 000, "Send admin notification for VIP customers"): when a
// user with the vip_customer role is authenticated by a token, mails the site's
// admin_email "VIP Customer Login" over SMTP (libcurl, the smtp_url cartgate uses).
// Unlike the PHP example it mails once per session, not on every request: a marker file
// <data_dir>/vip_notified/<pat>, created with O_EXCL, decides across worker processes.
// Sending happens on the plugin's own thread, so the request never waits for SMTP.
#include <curl/curl.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json/json.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "rules/plugin_api.h"

namespace {

struct mail {
  std::string subject, body;
};

struct state {
  std::string admin, from, smtp_url, marker_dir, site;
  std::mutex mu;
  std::condition_variable cv;
  std::deque<mail> queue;
  bool stopping = false;
  std::thread sender;
};

// Each example plugin is one self-contained file that a plugin author can copy, seeing
// only rules/plugin_api.h, so small helpers like this one repeat from plugin to plugin.
bool parse(const char* text, Json::Value* out) {
  Json::CharReaderBuilder b;
  std::string errs;
  std::unique_ptr<Json::CharReader> r(b.newCharReader());
  std::string s(text);
  return r->parse(s.data(), s.data() + s.size(), out, &errs);
}

struct reader {
  std::string data;
  size_t pos = 0;
};

size_t read_cb(char* buf, size_t size, size_t n, void* p) {
  auto* r = static_cast<reader*>(p);
  size_t left = r->data.size() - r->pos;
  size_t k = std::min(left, size * n);
  memcpy(buf, r->data.data() + r->pos, k);
  r->pos += k;
  return k;
}

// Header and body lines must not carry CR/LF from user data (display names).
std::string one_line(std::string s) {
  for (auto& c : s) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return s;
}

void send(const state& st, const mail& m) {
  CURL* curl = curl_easy_init();
  if (!curl) return;
  char date[64];
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  reader r;
  r.data = "Date: " + std::string(date) + "\r\nFrom: " + st.from + "\r\nTo: " + st.admin +
           "\r\nSubject: " + m.subject +
           "\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=UTF-8\r\n\r\n" + m.body +
           "\r\n";
  curl_slist* rcpt = curl_slist_append(nullptr, ("<" + st.admin + ">").c_str());
  curl_easy_setopt(curl, CURLOPT_URL, st.smtp_url.c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_FROM, ("<" + st.from + ">").c_str());
  curl_easy_setopt(curl, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(curl, CURLOPT_READFUNCTION, read_cb);
  curl_easy_setopt(curl, CURLOPT_READDATA, &r);
  curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_USE_SSL, static_cast<long>(CURLUSESSL_TRY));
  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    fprintf(stderr, "level=warn event=vip_notify_mail_failed error=\"%s\"\n", curl_easy_strerror(rc));
  }
  curl_slist_free_all(rcpt);
  curl_easy_cleanup(curl);
}

void run_sender(state* st) {
  std::unique_lock lock(st->mu);
  while (true) {
    st->cv.wait(lock, [&] { return st->stopping || !st->queue.empty(); });
    if (st->queue.empty()) return;  // stopping, and everything queued went out
    mail m = std::move(st->queue.front());
    st->queue.pop_front();
    lock.unlock();
    send(*st, m);
    lock.lock();
  }
}

// The from address inside "Name <addr>" forms.
std::string bare_address(const std::string& s) {
  auto lt = s.find('<'), gt = s.find('>');
  if (lt != std::string::npos && gt != std::string::npos && gt > lt) return s.substr(lt + 1, gt - lt - 1);
  return s;
}

int start(const char* config_json, void** out) {
  Json::Value cfg;
  if (!parse(config_json, &cfg)) return 1;
  auto* st = new state;
  st->admin = one_line(cfg["admin_email"].asString());
  st->from = one_line(bare_address(cfg["mail_from"].asString()));
  st->smtp_url = cfg["smtp_url"].asString();
  st->site = one_line(cfg["site_name"].asString());
  std::string dir = cfg["data_dir"].asString();
  if (!dir.empty()) {
    ::mkdir(dir.c_str(), 0750);
    st->marker_dir = dir + "/vip_notified";
    ::mkdir(st->marker_dir.c_str(), 0750);
  }
  if (st->admin.empty()) {
    fprintf(stderr, "level=warn event=vip_notify_disabled reason=no_admin_email\n");
  }
  st->sender = std::thread(run_sender, st);
  *out = st;
  return CARTGATE_OK;
}

void stop(void* s) {
  auto* st = static_cast<state*>(s);
  if (!st) return;
  {
    std::lock_guard lock(st->mu);
    st->stopping = true;
  }
  st->cv.notify_all();
  if (st->sender.joinable()) st->sender.join();
  delete st;
}

bool first_time_for(const state& st, const std::string& pat) {
  if (st.marker_dir.empty() || pat.empty()) return true;
  if (pat.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") != std::string::npos) return false;
  int fd = ::open((st.marker_dir + "/" + pat).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

// Only `authenticated` is subscribed (ABI version 2); a batch is scanned for vip_customer
// users without any JSON, and its mails are queued under one lock.
void on_events(void* s, const cartgate_event* evs, size_t n) {
  auto* st = static_cast<state*>(s);
  if (st->admin.empty()) return;
  std::deque<mail> found;
  for (size_t i = 0; i < n; ++i) {
    const cartgate_event& e = evs[i];
    if (e.kind != CARTGATE_EVENT_AUTHENTICATED || !e.user) continue;
    bool vip = false;
    for (size_t r = 0; r < e.user->role_count; ++r) vip = vip || strcmp(e.user->roles[r], "vip_customer") == 0;
    if (!vip || !first_time_for(*st, e.pat)) continue;
    std::string who = one_line(e.user->display_name);
    if (who.empty()) who = one_line(e.user->login);
    found.push_back(mail{"VIP Customer Login", "VIP customer " + who + " has logged in via API.\r\n\r\nUser ID: " +
                                                   std::to_string(e.user_id) + "\r\nSite: " + st->site});
  }
  if (found.empty()) return;
  {
    std::lock_guard lock(st->mu);
    for (auto& m : found) st->queue.push_back(std::move(m));
  }
  st->cv.notify_one();
}

const cartgate_plugin plugin = {CARTGATE_PLUGIN_ABI_VERSION, "vip_notify", start, stop, nullptr,
                                nullptr, sizeof(cartgate_plugin), CARTGATE_EVENT_AUTHENTICATED, 0,
                                on_events};

}  // namespace

extern "C" CARTGATE_EXPORT const cartgate_plugin* cartgate_plugin_entry(void) { return &plugin; }

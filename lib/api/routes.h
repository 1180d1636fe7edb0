// The routing table: every (method, path) cartgate answers, its handler, which thread
// answers it and which socket may reach it — decided here and nowhere else. Unknown paths
// and known paths with another method both get 404 rest_no_route, as WordPress answers
// them. A path segment written `{name}` matches one non-empty segment, which the handler
// reads as r.path_param("name") (DELETE /wp-json/cartgate/v1/sessions/{pat}).
//
//   const route* rt = find_route(req);                  // nullptr: rest_no_route
//   if (rt == nullptr || rt->runs == runs_on::loop) …   // try it on the event loop
//   http::response res = answer(services, req, rt);
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "api/services.h"
#include "http/message.h"

namespace cartgate::api {

using handler = http::response (*)(services&, http::request&);

// Where a route is answered.
//  loop:     on the event loop, when everything it needs is in memory (a cached session,
//            no rate-limit counter to bump). Its first database access throws
//            db::would_block (the loop runs it under a db::no_wait_scope) before it has
//            done anything, and the request moves to a blocking thread, as if it had
//            never been tried. Only for routes with no side effect before that access.
//  blocking: on one of the worker's blocking threads (transactions).
//  password: on one of the worker's login threads, as many as argon2 slots, with a queue
//            of its own (password.queue_max): routes that hash a password, so a login
//            flood waits there and never for the threads everything else uses.
enum class runs_on { loop, blocking, password };

// Which socket a route is answered on.
//  site:     the FastCGI socket: whatever nginx passes on of the storefront's requests.
//  internal: the internal HTTP socket alone (http::request::internal), which nginx only
//            ever proxies its auth subrequest to: the storefront's signed requests. No
//            URL a client sends can reach such a route.
//  both:     the auth subrequest (over FastCGI too, for an nginx set up without the HTTP
//            socket).
enum class reach { site, internal, both };

struct route {
  std::string_view method;
  std::string_view path;
  std::string_view name;  // metrics label
  handler fn;
  runs_on runs = runs_on::blocking;
  api::reach reach = reach::site;
};

// Whether `path` matches the pattern, each `{name}` segment one non-empty segment;
// captured (when not null) receives them by name.
bool path_matches(std::string_view pattern, std::string_view path,
                  std::map<std::string, std::string, std::less<>>* captured = nullptr);

const std::vector<route>& route_table();

// The route a request goes to, or nullptr (rest_no_route). A request nginx sent as
// /_cartgate/rest-route (a cartgate route named by WordPress's rest_route query argument,
// nginx/cartgate.conf) goes to the route its rest_route names, as WordPress would serve it.
const route* find_route(const http::request& r);

// The /wp-json/… path a rest_route query names, read the way PHP and WordPress read it
// (the argument's name may be spelled rest.route, "rest route" or rest[route; the value is
// percent-decoded, matched case-insensitively, extra and trailing slashes dropped); "" when
// the query has none.
std::string rest_route_path(std::string_view query);

// Answers r with the route find_route gave for it (nullptr: rest_no_route): resolves the
// client IP once (from the trusted proxies), runs the handler and maps every exception to
// the contract's error shape — database away → 503, anything else → 500 — and counts it.
// db::would_block passes through (see runs_on::loop).
http::response answer(services& s, http::request& r, const route* rt);

}  // namespace cartgate::api

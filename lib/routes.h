// The routing table: every (method, path) cartgate answers, and the handler for it.
// Unknown paths and known paths with another method both get 404 rest_no_route, as
// WordPress answers them.
//
//   http::response res = dispatch(svc, req, find_route(req), &route_name);
#pragma once

#include <string_view>

#include "http.h"

namespace cartgate {

class service;

using handler = http::response (*)(service&, http::request&);

struct route {
  std::string_view method;
  std::string_view path;
  std::string_view name;  // metrics label
  handler fn;
  // Answered on the event loop when everything it needs is in memory (a cached session,
  // no rate-limit counter to bump); its first database access moves it to a thread that
  // may wait (db::would_block). Only routes with no side effect before that access.
  bool hot = false;
};

const std::vector<route>& route_table();

// The route a request goes to, or nullptr (rest_no_route).
const route* find_route(const http::request& r);

// Runs the route find_route gave for r (nullptr: rest_no_route); *route_name receives the
// metrics label.
http::response dispatch(service& svc, http::request& r, const route* rt, std::string_view* route_name);

}  // namespace cartgate

// Handlers behind the routing table, grouped by concept: health.cc (health, metrics),
// auth.cc (login, logout, tokens), twofactor.cc (the Two Factor plugin's routes).
#pragma once

#include "http.h"

namespace cartgate {
class service;
}

namespace cartgate::api {

http::response health(service& svc, http::request& r);
http::response metrics(service& svc, http::request& r);

}  // namespace cartgate::api

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

http::response login(service& svc, http::request& r);
http::response logout(service& svc, http::request& r);
http::response refresh_token(service& svc, http::request& r);
http::response validate_token(service& svc, http::request& r);
http::response me(service& svc, http::request& r);
http::response auth_subrequest(service& svc, http::request& r);
http::response jwks(service& svc, http::request& r);

// twofactor.cc: the Two Factor plugin's routes (Bearer).
http::response totp_key(service& svc, http::request& r);
http::response totp_enable(service& svc, http::request& r);
http::response totp_disable(service& svc, http::request& r);
http::response generate_backup_codes(service& svc, http::request& r);

}  // namespace cartgate::api

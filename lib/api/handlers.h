// Handlers behind the routing table, grouped by concept: health.cc (health, metrics),
// login.cc (login, refresh-token, the storefront's cookie → token), tokens.cc (logout,
// validate-token, me, the auth subrequest, JWKS), sessions.cc (the caller's own
// sessions), twofactor.cc (the Two Factor plugin's routes). Each is thin: it reads
// the request, runs a flow from auth/, and turns the outcome into the answer.
#pragma once

#include "api/services.h"
#include "http/message.h"

namespace cartgate::api {

// One declaration per row of the route table (api/routes.cc), hence one shape.
http::response health(services& s, http::request& r);
http::response metrics(services& s, http::request& r);

http::response login(services& s, http::request& r);
http::response refresh_token(services& s, http::request& r);
http::response storefront_token(services& s, http::request& r);

http::response logout(services& s, http::request& r);
http::response validate_token(services& s, http::request& r);
http::response me(services& s, http::request& r);
http::response auth_subrequest(services& s, http::request& r);
http::response auth_subrequest_optional(services& s, http::request& r);
http::response jwks(services& s, http::request& r);

http::response list_sessions(services& s, http::request& r);
http::response end_session(services& s, http::request& r);
http::response end_other_sessions(services& s, http::request& r);

http::response totp_key(services& s, http::request& r);
http::response totp_enable(services& s, http::request& r);
http::response totp_disable(services& s, http::request& r);
http::response generate_backup_codes(services& s, http::request& r);

}  // namespace cartgate::api

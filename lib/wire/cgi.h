// The CGI view of a FastCGI request, as nginx's fastcgi_params describe it (RFC 3875):
// the params become the http::request the routes see, and an answer becomes the CGI
// response text (Status line, headers, blank line, body) that FastCGI's STDOUT carries.
// The HTTP/1.1 socket needs no such step: wire/http1.h parses straight to a request.
//
//   bool too_large = false;
//   http::request r = cgi::to_request(fastcgi_request, too_large);   // 413 when too_large
//   std::string out = cgi::response_text(res);
#pragma once

#include <string>

#include "http/message.h"
#include "wire/fastcgi.h"

namespace cartgate::cgi {

// HTTP_* params become lower-case header names ("HTTP_USER_AGENT" → "user-agent"); the
// path is DOCUMENT_URI (REQUEST_URI without its query when absent). too_large: the body
// is over the contract's bound (declared or received). Moves the body out of `in`.
http::request to_request(fastcgi::request& in, bool& too_large);

// "Status: 200 OK", Content-Type (when the status has a body), the shared header lines,
// a blank line, then the body.
std::string response_text(const http::response& res);

}  // namespace cartgate::cgi

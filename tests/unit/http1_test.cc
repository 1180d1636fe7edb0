// HTTP/1.1 for the auth subrequest (lib/http1.h): the parser fed what nginx's proxy module
// sends, in every split, with every malformed line we could think of and with hostile
// bytes, and the response encoder read back by a response reader of our own. Section
// numbers cite RFC 9112 (HTTP/1.1) unless RFC 9110 (HTTP semantics) is named.
#include "wire/http1.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "http/message.h"

namespace cartgate::http1 {
namespace {

using namespace std::string_literals;

// ---- driving the parser --------------------------------------------------------------

void feed(parser& p, std::string_view bytes) { p.feed(bytes.data(), bytes.size()); }

// Every request the parser can return now.
std::vector<request> drain(parser& p) {
  std::vector<request> out;
  while (auto r = p.next()) out.push_back(std::move(*r));
  return out;
}

// Everything a parsed request carries, as one comparable, printable string.
std::string describe(const request& r) {
  const http::request& h = r.http;
  std::string out = "method=" + h.method + " path=" + h.path + " query=" + h.query +
                    " keep_alive=" + (r.keep_alive ? "1" : "0") + " content_type=" + h.content_type +
                    " body=" + h.body + " headers:";
  for (auto& [name, value] : h.headers) out += " [" + name + "=" + value + "]";
  return out;
}

// The only request a fresh parser makes of `in` fed in one piece; fails the test when
// there is more than one.
std::optional<request> parse_one(std::string_view in) {
  parser p;
  feed(p, in);
  auto all = drain(p);
  EXPECT_LE(all.size(), 1u);
  if (all.empty()) return std::nullopt;
  return std::move(all.front());
}

// The error a fresh parser reports for `in` fed in one piece: "none" when it did not fail.
std::string error_of(std::string_view in) {
  parser p;
  feed(p, in);
  drain(p);
  return std::string(error_name(p.last_error()));
}

// A request head: the request line and each field line with its CRLF, then the empty
// line that ends the head (§2.1), then the body.
std::string request_text(std::string_view request_line, const std::vector<std::string>& fields,
                         std::string_view body = {}) {
  std::string out(request_line);
  out += "\r\n";
  for (auto& f : fields) out += f + "\r\n";
  out += "\r\n";
  out += body;
  return out;
}

// A GET whose head, blank line included, is exactly `size` bytes: one X-Pad field whose
// value fills what the request line and the Host field leave.
std::string head_of_size(std::size_t size) {
  const std::string prefix = "GET /_cartgate/auth HTTP/1.1\r\nHost: h\r\nX-Pad: ";
  const std::string suffix = "\r\n\r\n";
  return prefix + std::string(size - prefix.size() - suffix.size(), 'p') + suffix;
}

// ---- an independent response reader (§2.1, §4, §6.3) ---------------------------------

struct parsed_response {
  bool framed = false;  // a status line, "name: value" lines and the blank line were found
  std::string status_line;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string after_head;  // every byte after the blank line
};

parsed_response read_response(std::string_view in) {
  parsed_response out;
  std::size_t head_end = in.find("\r\n\r\n");
  if (head_end == std::string_view::npos) return out;
  std::string_view head = in.substr(0, head_end);
  out.after_head = std::string(in.substr(head_end + 4));
  std::size_t line_end = head.find("\r\n");
  out.status_line = std::string(head.substr(0, line_end));
  std::size_t pos = line_end == std::string_view::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    std::size_t end = head.find("\r\n", pos);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(pos, end - pos);
    pos = end + 2;
    std::size_t sep = line.find(": ");
    if (sep == std::string_view::npos || sep == 0) return out;
    out.headers.emplace_back(std::string(line.substr(0, sep)), std::string(line.substr(sep + 2)));
  }
  out.framed = true;
  return out;
}

std::string ascii_lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// The values of every header line named `name` (case-insensitive, RFC 9110 §5.1).
std::vector<std::string> values_of(const parsed_response& r, std::string_view name) {
  std::vector<std::string> out;
  for (auto& [n, v] : r.headers) {
    if (ascii_lower(n) == ascii_lower(name)) out.push_back(v);
  }
  return out;
}

// ---- hand-written fixtures -----------------------------------------------------------

// The auth subrequest exactly as nginx's proxy module sends it (proxy_http_version 1.1,
// the body not passed), written out by hand.
const std::string nginx_auth_request =
    // Request line (§3): method SP request-target SP HTTP-version CRLF; origin-form
    // target (§3.2.1).
    "GET /_cartgate/auth HTTP/1.1\r\n"
    // Field lines (§5): field-name ":" OWS field-value OWS, each ended by CRLF.
    "Host: cartgate_auth\r\n"
    "X-Cartgate-Remote-Addr: 127.0.0.1\r\n"
    "Authorization: Bearer abc\r\n"
    "User-Agent: ua\r\n"
    // The empty line ends the head; no Content-Length and no Transfer-Encoding, so the
    // body is empty (§6.3 rule 7) and nothing after it belongs to this request.
    "\r\n";

// A POST with a query string, mixed-case names, a media type with a parameter and a
// five-byte body framed by Content-Length (§6.3 rule 6).
const std::string hand_written_post =
    // Request line (§3); the target's query follows '?' (§3.2.1).
    "POST /_cartgate/auth?redirect=%2F&x=1 HTTP/1.1\r\n"
    // Field lines (§5); "Connection: keep-alive" is redundant in HTTP/1.1 (§9.3).
    "Host: h\r\n"
    "Connection: keep-alive\r\n"
    "Content-Type: Text/Plain; charset=utf-8\r\n"
    "Content-Length: 5\r\n"
    "\r\n"
    // The body: exactly Content-Length bytes.
    "hello";

// ======================================================================================
// parser: the request nginx sends
// ======================================================================================

TEST(Http1Parser, NginxAuthSubrequestParsesToMethodPathAndLowerCaseHeaders) {
  parser p;
  feed(p, nginx_auth_request);
  auto req = p.next();
  ASSERT_TRUE(req);
  EXPECT_FALSE(p.failed());
  EXPECT_EQ(p.last_error(), error::none);
  const http::request& r = req->http;
  EXPECT_EQ(r.method, "GET");
  EXPECT_EQ(r.path, "/_cartgate/auth");
  EXPECT_EQ(r.query, "");
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(r.content_type, "");
  EXPECT_TRUE(req->keep_alive);
  const std::map<std::string, std::string> expected = {{"host", "cartgate_auth"},
                                                       {"x-cartgate-remote-addr", "127.0.0.1"},
                                                       {"authorization", "Bearer abc"},
                                                       {"user-agent", "ua"}};
  EXPECT_EQ(r.headers, expected);
  EXPECT_EQ(r.bearer_token(), "abc");
  EXPECT_EQ(r.header("User-Agent"), "ua");
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.mid_request());
}

TEST(Http1Parser, NginxAuthSubrequestWithoutItsBlankLineIsNotYetARequest) {
  parser p;
  feed(p, std::string_view(nginx_auth_request).substr(0, nginx_auth_request.size() - 2));
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.failed());
  EXPECT_TRUE(p.mid_request());
  feed(p, "\r\n");
  EXPECT_TRUE(p.next());
}

TEST(Http1Parser, HandWrittenPostParsesQueryContentTypeAndBody) {
  auto req = parse_one(hand_written_post);
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.method, "POST");
  EXPECT_EQ(req->http.path, "/_cartgate/auth");
  EXPECT_EQ(req->http.query, "redirect=%2F&x=1");  // raw, not decoded
  EXPECT_EQ(req->http.query_param("redirect"), "/");
  EXPECT_EQ(req->http.content_type, "text/plain");
  EXPECT_EQ(req->http.header("content-type"), "Text/Plain; charset=utf-8");
  EXPECT_EQ(req->http.body, "hello");
  EXPECT_TRUE(req->keep_alive);
}

TEST(Http1Parser, QueryStringIsSplitFromThePath) {
  struct example {
    std::string target, path, query;
  };
  const std::vector<example> examples = {
      {"/a/b?x=1&y=2", "/a/b", "x=1&y=2"},
      {"/a?", "/a", ""},                 // an empty query
      {"/?q", "/", "q"},
      {"/a?x=1?y=2", "/a", "x=1?y=2"},   // only the first '?' splits (RFC 3986 §3.4)
      {"/a/b", "/a/b", ""},              // no query at all
      {"/a%20b?c%20d", "/a%20b", "c%20d"},
  };
  for (auto& e : examples) {
    auto req = parse_one(request_text("GET " + e.target + " HTTP/1.1", {"Host: h"}));
    ASSERT_TRUE(req) << e.target;
    EXPECT_EQ(req->http.path, e.path) << e.target;
    EXPECT_EQ(req->http.query, e.query) << e.target;
  }
}

// ======================================================================================
// parser: splits and sequences
// ======================================================================================

TEST(Http1Parser, RequestSplitAtEveryByteParsesTheSame) {
  for (const std::string& in : {nginx_auth_request, hand_written_post}) {
    auto expected = parse_one(in);
    ASSERT_TRUE(expected);
    const std::string want = describe(*expected);
    for (std::size_t split = 0; split <= in.size(); ++split) {
      parser p;
      feed(p, std::string_view(in).substr(0, split));
      if (split < in.size()) {
        EXPECT_FALSE(p.next()) << "emitted early, split at " << split;
        EXPECT_EQ(p.mid_request(), split > 0) << "split at " << split;
      }
      feed(p, std::string_view(in).substr(split));
      auto reqs = drain(p);
      ASSERT_EQ(reqs.size(), 1u) << "split at " << split;
      EXPECT_EQ(describe(reqs[0]), want) << "split at " << split;
      EXPECT_FALSE(p.failed()) << "split at " << split;
      EXPECT_FALSE(p.mid_request()) << "split at " << split;
    }
  }
}

TEST(Http1Parser, RequestFedOneByteAtATimeIsReturnedOnlyAtItsLastByte) {
  parser p;
  for (std::size_t i = 0; i < hand_written_post.size(); ++i) {
    feed(p, std::string_view(hand_written_post).substr(i, 1));
    auto req = p.next();
    if (i + 1 < hand_written_post.size()) {
      EXPECT_FALSE(req) << "emitted early at byte " << i;
      EXPECT_TRUE(p.mid_request()) << "byte " << i;
    } else {
      ASSERT_TRUE(req);
      EXPECT_EQ(describe(*req), describe(*parse_one(hand_written_post)));
    }
  }
  EXPECT_FALSE(p.failed());
  EXPECT_FALSE(p.mid_request());
}

TEST(Http1Parser, TwoRequestsBackToBackInOneFeedAreReturnedOneAfterTheOther) {
  const std::string second = request_text("POST /second?b HTTP/1.1", {"Host: h", "Content-Length: 3"}, "two");
  parser p;
  feed(p, nginx_auth_request + second);
  auto a = p.next();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->http.path, "/_cartgate/auth");
  EXPECT_EQ(a->http.body, "");
  EXPECT_TRUE(p.mid_request());  // the second request is buffered
  auto b = p.next();
  ASSERT_TRUE(b);
  EXPECT_EQ(b->http.method, "POST");
  EXPECT_EQ(b->http.path, "/second");
  EXPECT_EQ(b->http.query, "b");
  EXPECT_EQ(b->http.body, "two");
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.mid_request());
  EXPECT_FALSE(p.failed());
}

TEST(Http1Parser, RequestsTakenBetweenFeedsKeepTheirOrder) {
  const std::string b = request_text("GET /b HTTP/1.1", {"Host: h"});
  const std::string c = request_text("GET /c HTTP/1.1", {"Host: h"});
  parser p;
  feed(p, nginx_auth_request + b.substr(0, 7));
  auto first = p.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->http.path, "/_cartgate/auth");
  EXPECT_FALSE(p.next());
  EXPECT_TRUE(p.mid_request());
  feed(p, b.substr(7) + c);
  auto second = p.next();
  auto third = p.next();
  ASSERT_TRUE(second);
  ASSERT_TRUE(third);
  EXPECT_EQ(second->http.path, "/b");
  EXPECT_EQ(third->http.path, "/c");
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.mid_request());
}

TEST(Http1Parser, ManyRequestsOnOneConnectionAreAllReturned) {
  parser p;
  for (int i = 0; i < 200; ++i) {
    const std::string body = std::to_string(i);
    feed(p, request_text("POST /n HTTP/1.1", {"Content-Length: " + std::to_string(body.size())}, body));
    auto req = p.next();
    ASSERT_TRUE(req) << i;
    EXPECT_EQ(req->http.body, body);
    EXPECT_FALSE(p.mid_request()) << i;
  }
}

TEST(Http1Parser, NextOnAFreshParserReturnsNothingAndDoesNotFail) {
  parser p;
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.failed());
  EXPECT_EQ(p.last_error(), error::none);
  EXPECT_FALSE(p.mid_request());
  feed(p, "");
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.mid_request());
}

TEST(Http1Parser, MidRequestIsFalseWhenIdleAndAfterACompleteRequest) {
  parser p;
  EXPECT_FALSE(p.mid_request());
  feed(p, nginx_auth_request);
  ASSERT_TRUE(p.next());
  EXPECT_FALSE(p.mid_request());
  feed(p, hand_written_post);
  ASSERT_TRUE(p.next());
  EXPECT_FALSE(p.mid_request());
}

TEST(Http1Parser, MidRequestIsTrueWhileTheHeadOrTheBodyIsIncomplete) {
  parser p;
  feed(p, "G");
  EXPECT_FALSE(p.next());
  EXPECT_TRUE(p.mid_request());  // one byte of a request line
  const std::string head = hand_written_post.substr(0, hand_written_post.size() - 5);
  feed(p, head.substr(1));
  EXPECT_FALSE(p.next());
  EXPECT_TRUE(p.mid_request());  // the whole head, none of the body
  feed(p, "hell");
  EXPECT_FALSE(p.next());
  EXPECT_TRUE(p.mid_request());  // all but one byte of the body
  feed(p, "o");
  EXPECT_TRUE(p.next());
  EXPECT_FALSE(p.mid_request());
}

// ======================================================================================
// parser: persistence (§9.3)
// ======================================================================================

bool keep_alive_of(std::string_view version, const std::vector<std::string>& fields) {
  std::vector<std::string> all = {"Host: h"};
  all.insert(all.end(), fields.begin(), fields.end());
  auto req = parse_one(request_text("GET / " + std::string(version), all));
  EXPECT_TRUE(req) << version;
  return req && req->keep_alive;
}

TEST(Http1Parser, Http11IsKeptAliveByDefault) {
  // §9.3: HTTP/1.1 defaults to persistent connections.
  EXPECT_TRUE(keep_alive_of("HTTP/1.1", {}));
  EXPECT_TRUE(keep_alive_of("HTTP/1.1", {"Connection: keep-alive"}));
  EXPECT_TRUE(keep_alive_of("HTTP/1.1", {"Connection: Upgrade"}));
}

TEST(Http1Parser, Http10IsNotKeptAlive) {
  // §9.3: HTTP/1.0 persists only with the keep-alive connection option.
  EXPECT_FALSE(keep_alive_of("HTTP/1.0", {}));
  EXPECT_FALSE(keep_alive_of("HTTP/1.0", {"Connection: Upgrade"}));
}

TEST(Http1Parser, Http10WithConnectionKeepAliveIsKeptAlive) {
  EXPECT_TRUE(keep_alive_of("HTTP/1.0", {"Connection: keep-alive"}));
  EXPECT_TRUE(keep_alive_of("HTTP/1.0", {"Connection: Keep-Alive"}));
  EXPECT_TRUE(keep_alive_of("HTTP/1.0", {"Connection: foo, keep-alive"}));
}

TEST(Http1Parser, Http10WithKeepAliveAndCloseIsNotKeptAlive) {
  EXPECT_FALSE(keep_alive_of("HTTP/1.0", {"Connection: keep-alive, close"}));
}

TEST(Http1Parser, Http11WithConnectionCloseIsNotKeptAlive) {
  EXPECT_FALSE(keep_alive_of("HTTP/1.1", {"Connection: close"}));
  EXPECT_FALSE(keep_alive_of("HTTP/1.1", {"Connection: CLOSE"}));
  EXPECT_FALSE(keep_alive_of("HTTP/1.1", {"connection:close"}));
}

TEST(Http1Parser, CloseAmongOtherConnectionOptionsIsNotKeptAlive) {
  // Connection is a comma-separated list of options (RFC 9110 §7.6.1).
  EXPECT_FALSE(keep_alive_of("HTTP/1.1", {"Connection: Keep-Alive, close"}));
  EXPECT_FALSE(keep_alive_of("HTTP/1.1", {"Connection: close, keep-alive"}));
  EXPECT_FALSE(keep_alive_of("HTTP/1.1", {"Connection: upgrade ,  Close\t"}));
  EXPECT_FALSE(keep_alive_of("HTTP/1.1", {"Connection: ,,close,"}));
}

TEST(Http1Parser, CloseInRepeatedConnectionFieldsIsNotKeptAlive) {
  // Repeated fields form one list (RFC 9110 §5.3).
  EXPECT_FALSE(keep_alive_of("HTTP/1.1", {"Connection: keep-alive", "Connection: close"}));
}

TEST(Http1Parser, OptionsThatMerelyContainCloseAreKeptAlive) {
  EXPECT_TRUE(keep_alive_of("HTTP/1.1", {"Connection: closed"}));
  EXPECT_TRUE(keep_alive_of("HTTP/1.1", {"Connection: do-not-close"}));
  EXPECT_TRUE(keep_alive_of("HTTP/1.1", {"X-Connection: close"}));
  EXPECT_TRUE(keep_alive_of("HTTP/1.1", {"Connection: \"close\""}));
}

// ======================================================================================
// parser: field lines (§5)
// ======================================================================================

TEST(Http1Parser, HeaderNamesAreLowerCasedAndValuesKeptAsSent) {
  auto req = parse_one(request_text("GET / HTTP/1.1", {"HOST: Example.COM", "X-Mixed-CASE: VaLuE"}));
  ASSERT_TRUE(req);
  const std::map<std::string, std::string> expected = {{"host", "Example.COM"}, {"x-mixed-case", "VaLuE"}};
  EXPECT_EQ(req->http.headers, expected);
}

TEST(Http1Parser, RepeatedHeaderFieldsAreJoinedWithCommaSpace) {
  // RFC 9110 §5.3: field lines of one name combine, in order, into a comma-separated list.
  auto req = parse_one(request_text("GET / HTTP/1.1",
                                    {"Accept: a", "X-Other: o", "accept: b", "ACCEPT:  c  ", "Accept:"}));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.header("accept"), "a, b, c, ");
  EXPECT_EQ(req->http.header("x-other"), "o");
  EXPECT_EQ(req->http.headers.size(), 2u);
}

TEST(Http1Parser, SingleHeaderFieldIsNotJoinedWithAnything) {
  auto req = parse_one(request_text("GET / HTTP/1.1", {"Accept: a, b"}));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.header("accept"), "a, b");
}

TEST(Http1Parser, WhitespaceAroundFieldValuesIsTrimmed) {
  // §5.1: OWS before and after the value is not part of it; inside it, it is kept.
  auto req = parse_one(request_text("GET / HTTP/1.1", {"A:v", "B: \t v w \t ", "C:\t", "D: "}));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.header("a"), "v");
  EXPECT_EQ(req->http.header("b"), "v w");
  EXPECT_EQ(req->http.header("c"), "");
  EXPECT_EQ(req->http.header("d"), "");
  EXPECT_EQ(req->http.headers.count("c"), 1u);
}

TEST(Http1Parser, EveryTokenCharacterIsAllowedInAHeaderName) {
  // RFC 9110 §5.6.2: field-name = token; tchar is ALPHA / DIGIT and these 15 marks.
  auto req = parse_one(request_text("GET / HTTP/1.1", {"Az09!#$%&'*+-.^_`|~: v"}));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.header("az09!#$%&'*+-.^_`|~"), "v");
}

TEST(Http1Parser, ColonsInsideAFieldValueAreKept) {
  auto req = parse_one(request_text("GET / HTTP/1.1", {"X-Time: 12:34:56", "X-Empty-Then::"}));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.header("x-time"), "12:34:56");
  EXPECT_EQ(req->http.header("x-empty-then"), ":");
}

TEST(Http1Parser, HeaderWithoutColonIsABadHeader) {
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {"Host: h", "NoColonHere"})), "bad_header");
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {"Host h"})), "bad_header");
}

TEST(Http1Parser, WhitespaceBeforeTheColonIsABadHeader) {
  // §5.1: no whitespace is allowed between the field name and the colon; a server MUST
  // reject such a request with 400.
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {"Host : h"})), "bad_header");
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {"Host\t: h"})), "bad_header");
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {"Content-Length : 0"})), "bad_header");
}

TEST(Http1Parser, EmptyHeaderNameIsABadHeader) {
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {": v"})), "bad_header");
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {":"})), "bad_header");
}

TEST(Http1Parser, NonTokenCharacterInAHeaderNameIsABadHeader) {
  for (std::string name : {"Na me", "Na(me", "Na\"me", "Na/me", "Na@me", "Na[me", "Na{me", "Na,me",
                           "Na\x7fme", "Na\xc3\xa9me"}) {
    EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {name + ": v"})), "bad_header") << name;
  }
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {"Na\0me: v"s})), "bad_header");
}

TEST(Http1Parser, ObsoleteLineFoldingIsABadHeader) {
  // §5.2: obs-fold (a field line continued by a line starting with SP or HTAB) is refused.
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {"X-Long: a", " b"})), "bad_header");
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {"X-Long: a", "\tb"})), "bad_header");
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {"X-Long: a", " b: c"})), "bad_header");
  // A field line that starts with whitespace right after the request line (§2.2).
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {" Host: h"})), "bad_header");
}

TEST(Http1Parser, BareCrLfOrNulInAFieldValueIsABadHeader) {
  // §2.2: a bare CR is invalid; RFC 9110 §5.5: CR, LF and NUL in a value MUST be refused.
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {"X: a\rb"})), "bad_header");
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {"X: a\nb"})), "bad_header");
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {"X: a\0b"s})), "bad_header");
  EXPECT_EQ(error_of(request_text("GET / HTTP/1.1", {"X: a\r"})), "bad_header");
  // A bare LF as a line end: §2.2 lets a recipient accept one, this parser does not.
  EXPECT_EQ(error_of("GET / HTTP/1.1\r\nA: 1\nB: 2\r\n\r\n"), "bad_header");
}

TEST(Http1Parser, OtherBytesInAFieldValueAreKept) {
  // obs-text and HTAB are allowed in a value (RFC 9110 §5.5).
  auto req = parse_one(request_text("GET / HTTP/1.1", {"X: caf\xc3\xa9\tau lait"}));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.header("x"), "caf\xc3\xa9\tau lait");
}

TEST(Http1Parser, ContentTypeParametersAreDroppedAndTheMediaTypeLowerCased) {
  struct example {
    std::string field, media_type;
  };
  for (auto& e : std::vector<example>{{"application/json", "application/json"},
                                      {"Application/JSON; charset=UTF-8", "application/json"},
                                      {"application/x-www-form-urlencoded;charset=utf-8",
                                       "application/x-www-form-urlencoded"},
                                      {"TEXT/plain ; a=b; c=d", "text/plain"},
                                      {";charset=utf-8", ""}}) {
    auto req = parse_one(request_text("POST / HTTP/1.1", {"Content-Type: " + e.field}));
    ASSERT_TRUE(req) << e.field;
    EXPECT_EQ(req->http.content_type, e.media_type) << e.field;
    EXPECT_EQ(req->http.header("content-type"), e.field) << e.field;  // the field itself is kept
  }
}

TEST(Http1Parser, RequestWithoutContentTypeHasEmptyContentType) {
  auto req = parse_one(request_text("POST / HTTP/1.1", {"Content-Length: 2"}, "{}"));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.content_type, "");
}

// ======================================================================================
// parser: message body length (§6.3)
// ======================================================================================

TEST(Http1Parser, ContentLengthBodyIsReadFully) {
  const std::string body = "{\"a\":1}\r\n\r\nafter a blank line\0end"s;
  auto req = parse_one(request_text("POST /b HTTP/1.1", {"Content-Length: " + std::to_string(body.size())}, body));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.body, body);
}

TEST(Http1Parser, ContentLengthBodyArrivingInALaterFeedIsWaitedFor) {
  parser p;
  feed(p, request_text("POST /b HTTP/1.1", {"Host: h", "Content-Length: 10"}));
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.failed());
  EXPECT_TRUE(p.mid_request());
  feed(p, "01234");
  EXPECT_FALSE(p.next());
  EXPECT_TRUE(p.mid_request());
  feed(p, "56789");
  auto req = p.next();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.body, "0123456789");
  EXPECT_FALSE(p.mid_request());
}

TEST(Http1Parser, BytesAfterTheContentLengthBodyBelongToTheNextRequest) {
  parser p;
  feed(p, request_text("POST /b HTTP/1.1", {"Content-Length: 3"}, "abc") + "GET /next HTTP/1.1\r\n");
  auto req = p.next();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.body, "abc");
  EXPECT_FALSE(p.next());
  EXPECT_TRUE(p.mid_request());
  feed(p, "\r\n");
  auto next = p.next();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->http.path, "/next");
  EXPECT_EQ(next->http.body, "");
}

TEST(Http1Parser, NoContentLengthMeansAnEmptyBody) {
  // §6.3 rule 7: a request with neither Content-Length nor Transfer-Encoding has no body;
  // what follows is the next request.
  parser p;
  feed(p, request_text("POST /b HTTP/1.1", {"Host: h"}) + "x");
  auto req = p.next();
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.body, "");
  EXPECT_TRUE(p.mid_request());
}

TEST(Http1Parser, ContentLengthZeroIsAnEmptyBody) {
  auto req = parse_one(request_text("POST /b HTTP/1.1", {"Content-Length: 0"}));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.body, "");
}

TEST(Http1Parser, ContentLengthWithSurroundingWhitespaceIsAccepted) {
  auto req = parse_one(request_text("POST /b HTTP/1.1", {"Content-Length: \t 3 \t"}, "abc"));
  ASSERT_TRUE(req);
  EXPECT_EQ(req->http.body, "abc");
}

TEST(Http1Parser, ContentLengthAtMaxBodyBytesIsAccepted) {
  const std::string body(http::max_body_bytes, 'b');
  auto req = parse_one(request_text("POST /b HTTP/1.1", {"Content-Length: " + std::to_string(body.size())}, body));
  ASSERT_TRUE(req);
  EXPECT_TRUE(req->http.body == body);
}

TEST(Http1Parser, ContentLengthOverMaxBodyBytesIsBodyTooLargeBeforeTheBodyArrives) {
  parser p;
  feed(p, request_text("POST /b HTTP/1.1", {"Content-Length: " + std::to_string(http::max_body_bytes + 1)}));
  EXPECT_FALSE(p.next());
  EXPECT_TRUE(p.failed());
  EXPECT_EQ(p.last_error(), error::body_too_large);
  EXPECT_EQ(error_of(request_text("POST /b HTTP/1.1", {"Content-Length: 999999999"})), "body_too_large");
}

TEST(Http1Parser, ContentLengthTooLongToReadIsStillBodyTooLarge) {
  // A length of ten or more digits is far over max_body_bytes: it must be answered 413
  // (body_too_large) like any other length over the limit, as the FastCGI path does, not
  // 400 (bad_header).
  EXPECT_EQ(error_of(request_text("POST /b HTTP/1.1", {"Content-Length: 1000000000"})), "body_too_large");
  EXPECT_EQ(error_of(request_text("POST /b HTTP/1.1", {"Content-Length: 99999999999999999999999"})),
            "body_too_large");
}

TEST(Http1Parser, ContentLengthWithLeadingZerosIsReadByItsValue) {
  // RFC 9110 §8.6: Content-Length = 1*DIGIT; leading zeros do not change the value.
  auto short_zeros = parse_one(request_text("POST /b HTTP/1.1", {"Content-Length: 005"}, "hello"));
  ASSERT_TRUE(short_zeros);
  EXPECT_EQ(short_zeros->http.body, "hello");
  auto long_zeros = parse_one(request_text("POST /b HTTP/1.1", {"Content-Length: 0000000000005"}, "hello"));
  ASSERT_TRUE(long_zeros);
  EXPECT_EQ(long_zeros->http.body, "hello");
}

TEST(Http1Parser, ContentLengthThatIsNotADecimalNumberIsABadHeader) {
  for (std::string v : {"abc", "-1", "-0", "+5", "1 0", "1\t0", "0x10", "1.5", "5,5", "5, 5", "1e3", "", " ",
                        "\xd9\xa5"}) {
    EXPECT_EQ(error_of(request_text("POST /b HTTP/1.1", {"Content-Length: " + v}, "hello")), "bad_header")
        << "Content-Length: " << v;
  }
}

TEST(Http1Parser, RepeatedContentLengthIsABadHeader) {
  // §6.3 rule 5: differing lengths are unrecoverable; this parser refuses any repeat.
  EXPECT_EQ(error_of(request_text("POST /b HTTP/1.1", {"Content-Length: 3", "Content-Length: 4"}, "abcd")),
            "bad_header");
  EXPECT_EQ(error_of(request_text("POST /b HTTP/1.1", {"Content-Length: 3", "content-length: 3"}, "abc")),
            "bad_header");
}

TEST(Http1Parser, TransferEncodingIsRefusedAsChunked) {
  // §6.1, §6.3 rule 4: the subset speaks no transfer coding; any value is refused.
  for (std::string v : {"chunked", "Chunked", "gzip, chunked", "identity", ""}) {
    EXPECT_EQ(error_of(request_text("POST /b HTTP/1.1", {"Transfer-Encoding: " + v}, "0\r\n\r\n")), "chunked")
        << "Transfer-Encoding: " << v;
  }
  EXPECT_EQ(error_of(request_text("POST /b HTTP/1.1", {"TRANSFER-ENCODING: chunked"}, "0\r\n\r\n")), "chunked");
}

TEST(Http1Parser, TransferEncodingWithContentLengthIsRefusedAsChunked) {
  // §6.3 rule 3: both together may be a smuggling attempt; the Content-Length is never used.
  EXPECT_EQ(error_of(request_text("POST /b HTTP/1.1", {"Content-Length: 5", "Transfer-Encoding: chunked"},
                                  "0\r\n\r\n")),
            "chunked");
  EXPECT_EQ(error_of(request_text("POST /b HTTP/1.1", {"Transfer-Encoding: chunked", "Content-Length: 5"},
                                  "0\r\n\r\n")),
            "chunked");
}

TEST(Http1Parser, TransferEncodingIsRefusedBeforeTheBodyArrives) {
  parser p;
  feed(p, request_text("POST /b HTTP/1.1", {"Transfer-Encoding: chunked"}));
  EXPECT_FALSE(p.next());
  EXPECT_EQ(p.last_error(), error::chunked);
}

// ======================================================================================
// parser: request line (§3)
// ======================================================================================

TEST(Http1Parser, WellFormedRequestLinesAreAccepted) {
  for (std::string line : {"GET / HTTP/1.1", "GET / HTTP/1.0", "POST /a/b?c=d HTTP/1.1", "DELETE /x HTTP/1.1",
                           "OPTIONS /x HTTP/1.1", "PATCH /x HTTP/1.1", "HEAD /x HTTP/1.1", "CUSTOM /x HTTP/1.1",
                           "GET /%7Euser/a;p=1?q=%20&r=/? HTTP/1.1"}) {
    auto req = parse_one(request_text(line, {"Host: h"}));
    EXPECT_TRUE(req) << line;
    EXPECT_EQ(error_of(request_text(line, {"Host: h"})), "none") << line;
  }
}

TEST(Http1Parser, MissingVersionIsABadRequestLine) {
  EXPECT_EQ(error_of(request_text("GET /", {"Host: h"})), "bad_request_line");
  EXPECT_EQ(error_of(request_text("GET / ", {"Host: h"})), "bad_request_line");
  EXPECT_EQ(error_of(request_text("GET", {"Host: h"})), "bad_request_line");
}

TEST(Http1Parser, LowerCaseMethodIsABadRequestLine) {
  EXPECT_EQ(error_of(request_text("get / HTTP/1.1", {"Host: h"})), "bad_request_line");
  EXPECT_EQ(error_of(request_text("Get / HTTP/1.1", {"Host: h"})), "bad_request_line");
  EXPECT_EQ(error_of(request_text("G3T / HTTP/1.1", {"Host: h"})), "bad_request_line");
  EXPECT_EQ(error_of(request_text("GE-T / HTTP/1.1", {"Host: h"})), "bad_request_line");
}

TEST(Http1Parser, TargetNotStartingWithSlashIsABadRequestLine) {
  // Only origin-form (§3.2.1) is served: nginx sends nothing else to an upstream.
  EXPECT_EQ(error_of(request_text("GET x HTTP/1.1", {"Host: h"})), "bad_request_line");
  EXPECT_EQ(error_of(request_text("GET http://h/ HTTP/1.1", {"Host: h"})), "bad_request_line");
  EXPECT_EQ(error_of(request_text("OPTIONS * HTTP/1.1", {"Host: h"})), "bad_request_line");
  EXPECT_EQ(error_of(request_text("CONNECT h:443 HTTP/1.1", {"Host: h"})), "bad_request_line");
  EXPECT_EQ(error_of(request_text("GET ?a=b HTTP/1.1", {"Host: h"})), "bad_request_line");
}

TEST(Http1Parser, VersionOtherThan10Or11IsABadRequestLine) {
  // §2.3: HTTP-version is case-sensitive.
  for (std::string v : {"HTTP/2.0", "HTTP/2", "HTTP/1.2", "HTTP/0.9", "HTTP/1", "http/1.1", "HTTP/1.1x", "HTTP/11",
                        "HTTP/1.1\t", "HTTPS/1.1"}) {
    EXPECT_EQ(error_of(request_text("GET / " + v, {"Host: h"})), "bad_request_line") << v;
  }
}

TEST(Http1Parser, ExtraSpacesInTheRequestLineAreABadRequestLine) {
  // §3: exactly one SP between the three parts.
  for (std::string line : {"GET  / HTTP/1.1", "GET /  HTTP/1.1", " GET / HTTP/1.1", "GET / HTTP/1.1 ",
                           "GET /a b HTTP/1.1", "GET\t/\tHTTP/1.1", "GET /\t HTTP/1.1", "GET / HTTP/1.1 extra"}) {
    EXPECT_EQ(error_of(request_text(line, {"Host: h"})), "bad_request_line") << "[" << line << "]";
  }
}

TEST(Http1Parser, EmptyRequestLineIsABadRequestLine) {
  EXPECT_EQ(error_of("\r\n\r\n"), "bad_request_line");
  EXPECT_EQ(error_of("\r\nHost: h\r\n\r\n"), "bad_request_line");
}

TEST(Http1Parser, RequestLineEndedByABareLfIsABadRequestLine) {
  // §2.2 lets a recipient accept a bare LF as a line end; this parser does not, so
  // "GET / HTTP/1.1\nHost: h" is one malformed request line.
  EXPECT_EQ(error_of("GET / HTTP/1.1\nHost: h\r\n\r\n"), "bad_request_line");
}

TEST(Http1Parser, ControlBytesInTheTargetAreABadRequestLine) {
  // §2.2: a bare CR MUST be treated as invalid (or replaced by SP, which would make the
  // line invalid too); CR, LF and NUL are no part of any request-target (§3.2, RFC 3986).
  EXPECT_EQ(error_of(request_text("GET /a\rb HTTP/1.1", {"Host: h"})), "bad_request_line");
  EXPECT_EQ(error_of(request_text("GET /a\nb HTTP/1.1", {"Host: h"})), "bad_request_line");
  EXPECT_EQ(error_of(request_text("GET /a\0b HTTP/1.1"s, {"Host: h"})), "bad_request_line");
  EXPECT_EQ(error_of(request_text("GET /?a=\r HTTP/1.1", {"Host: h"})), "bad_request_line");
}

// ======================================================================================
// parser: bounds
// ======================================================================================

TEST(Http1Parser, HeadAtTheLimitIsAccepted) {
  for (std::size_t size : {max_head_bytes, max_head_bytes - 1}) {
    const std::string in = head_of_size(size);
    ASSERT_EQ(in.size(), size);
    auto req = parse_one(in);
    ASSERT_TRUE(req) << size;
    const std::size_t pad = size - in.find("X-Pad: ") - 7 - 4;  // the value ends at the blank line
    EXPECT_EQ(req->http.header("x-pad"), std::string(pad, 'p')) << size;
  }
}

TEST(Http1Parser, CompleteHeadOneByteOverTheLimitIsTooLarge) {
  const std::string in = head_of_size(max_head_bytes + 1);
  ASSERT_EQ(in.size(), max_head_bytes + 1);
  EXPECT_EQ(error_of(in), "head_too_large");
}

TEST(Http1Parser, IncompleteHeadUnderTheLimitWaitsForMore) {
  // All but the blank line's four bytes of a head of exactly max_head_bytes.
  const std::string in = head_of_size(max_head_bytes);
  parser p;
  feed(p, std::string_view(in).substr(0, in.size() - 4));
  EXPECT_FALSE(p.next());
  EXPECT_FALSE(p.failed());
  EXPECT_TRUE(p.mid_request());
  feed(p, "\r\n\r\n");
  EXPECT_TRUE(p.next());
  EXPECT_FALSE(p.failed());
}

TEST(Http1Parser, HeadOverTheLimitWithoutABlankLineIsTooLarge) {
  std::string in = "GET / HTTP/1.1\r\nX-Pad: ";
  in += std::string(max_head_bytes + 1 - in.size(), 'p');
  ASSERT_EQ(in.size(), max_head_bytes + 1);
  parser p;
  feed(p, in);
  EXPECT_FALSE(p.next());
  EXPECT_TRUE(p.failed());
  EXPECT_EQ(p.last_error(), error::head_too_large);
}

TEST(Http1Parser, EndlessHeadFedInPiecesIsTooLargeOnceItPassesTheLimit) {
  // A peer that never ends its head: next() after each piece, as the server does.
  parser p;
  feed(p, "GET / HTTP/1.1\r\nX-Pad: ");
  std::size_t fed = 23;
  const std::string piece(4096, 'p');
  while (!p.failed() && fed <= 2 * max_head_bytes) {
    EXPECT_FALSE(p.next());
    if (p.failed()) break;
    feed(p, piece);
    fed += piece.size();
  }
  EXPECT_TRUE(p.failed());
  EXPECT_EQ(p.last_error(), error::head_too_large);
  EXPECT_GT(fed, max_head_bytes);
  EXPECT_LE(fed, max_head_bytes + piece.size());
}

TEST(Http1Parser, HeadLimitIsPerRequest) {
  // Two heads each near the limit, back to back, are each within it.
  const std::string one = head_of_size(max_head_bytes);
  parser p;
  feed(p, one + one);
  EXPECT_TRUE(p.next());
  EXPECT_TRUE(p.next());
  EXPECT_FALSE(p.failed());
}

// ======================================================================================
// parser: errors are final
// ======================================================================================

TEST(Http1Parser, AfterAnyErrorFailedStaysTrueAndNextReturnsNothing) {
  struct example {
    std::string in;
    error err;
  };
  std::string endless = "GET / HTTP/1.1\r\nX: " + std::string(max_head_bytes, 'p');
  const std::vector<example> examples = {
      {endless, error::head_too_large},
      {head_of_size(max_head_bytes + 1), error::head_too_large},
      {request_text("get / HTTP/1.1", {}), error::bad_request_line},
      {request_text("GET / HTTP/1.1", {"NoColon"}), error::bad_header},
      {request_text("POST / HTTP/1.1", {"Content-Length: " + std::to_string(http::max_body_bytes + 1)}),
       error::body_too_large},
      {request_text("POST / HTTP/1.1", {"Transfer-Encoding: chunked"}), error::chunked},
  };
  for (auto& e : examples) {
    const std::string what(error_name(e.err));
    parser p;
    feed(p, e.in);
    EXPECT_FALSE(p.next()) << what;
    ASSERT_TRUE(p.failed()) << what;
    EXPECT_EQ(p.last_error(), e.err) << what;
    for (int i = 0; i < 3; ++i) {
      feed(p, nginx_auth_request);
      EXPECT_FALSE(p.next()) << what;
      EXPECT_TRUE(p.failed()) << what;
      EXPECT_EQ(p.last_error(), e.err) << what;
    }
  }
}

TEST(Http1Parser, RequestBeforeAnErrorIsStillReturned) {
  parser p;
  feed(p, nginx_auth_request + request_text("get / HTTP/1.1", {}) + nginx_auth_request);
  auto first = p.next();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->http.path, "/_cartgate/auth");
  EXPECT_FALSE(p.failed());
  EXPECT_FALSE(p.next());
  EXPECT_TRUE(p.failed());
  EXPECT_EQ(p.last_error(), error::bad_request_line);
  EXPECT_FALSE(p.next());
}

TEST(Http1Parser, ErrorNamesAreStable) {
  EXPECT_EQ(error_name(error::none), "none");
  EXPECT_EQ(error_name(error::head_too_large), "head_too_large");
  EXPECT_EQ(error_name(error::bad_request_line), "bad_request_line");
  EXPECT_EQ(error_name(error::bad_header), "bad_header");
  EXPECT_EQ(error_name(error::body_too_large), "body_too_large");
  EXPECT_EQ(error_name(error::chunked), "chunked");
}

// ======================================================================================
// encoder
// ======================================================================================

TEST(Http1Encoder, NoContentIsExactlyTheStatusLineCacheControlAndTheBlankLine) {
  http::response res;
  res.status = 204;
  EXPECT_EQ(encode_response(res, true),
            // Status line (§4): HTTP-version SP status-code SP reason-phrase CRLF.
            "HTTP/1.1 204 No Content\r\n"
            "Cache-Control: no-store\r\n"
            // The blank line; a 204 has no body and no Content-Length (RFC 9110 §8.6, §15.3.5).
            "\r\n");
}

TEST(Http1Encoder, NoContentHasNoContentTypeNoContentLengthAndNoBody) {
  http::response res;
  res.status = 204;
  res.body = "must not be sent";
  res.set_header("X-Cartgate-User", "42");
  auto r = read_response(encode_response(res, true));
  ASSERT_TRUE(r.framed);
  EXPECT_EQ(r.status_line, "HTTP/1.1 204 No Content");
  EXPECT_TRUE(values_of(r, "content-type").empty());
  EXPECT_TRUE(values_of(r, "content-length").empty());
  EXPECT_TRUE(values_of(r, "connection").empty());
  EXPECT_EQ(values_of(r, "x-cartgate-user"), std::vector<std::string>{"42"});
  EXPECT_EQ(r.after_head, "");
}

TEST(Http1Encoder, JsonUnauthorizedCarriesTypeLengthCustomHeadersAndBody) {
  Json::Value body;
  body["code"] = "cartgate_invalid_token";
  body["message"] = "The token is invalid.";
  http::response res = http::json_response(401, body);
  res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  const std::string out = encode_response(res, true);
  auto r = read_response(out);
  ASSERT_TRUE(r.framed);
  EXPECT_EQ(r.status_line, "HTTP/1.1 401 Unauthorized");
  EXPECT_EQ(values_of(r, "content-type"), std::vector<std::string>{"application/json; charset=UTF-8"});
  EXPECT_EQ(values_of(r, "content-length"), std::vector<std::string>{std::to_string(res.body.size())});
  EXPECT_EQ(values_of(r, "www-authenticate"), std::vector<std::string>{"Bearer error=\"invalid_token\""});
  EXPECT_EQ(values_of(r, "cache-control"), std::vector<std::string>{"no-store"});
  EXPECT_TRUE(values_of(r, "connection").empty());
  EXPECT_EQ(r.after_head, res.body);
  auto parsed = http::parse_json(r.after_head);
  ASSERT_TRUE(parsed);
  EXPECT_TRUE(*parsed == body);
}

TEST(Http1Encoder, EmptyBodyHasContentLengthZero) {
  http::response res;
  res.status = 200;
  auto r = read_response(encode_response(res, true));
  ASSERT_TRUE(r.framed);
  EXPECT_EQ(values_of(r, "content-length"), std::vector<std::string>{"0"});
  EXPECT_EQ(r.after_head, "");
}

TEST(Http1Encoder, ContentLengthCountsBytesNotCharacters) {
  http::response res;
  res.content_type = "text/plain; charset=UTF-8";
  res.body = "caf\xc3\xa9 \xe2\x82\xac";  // "café €": 6 characters, 9 bytes
  auto r = read_response(encode_response(res, true));
  ASSERT_TRUE(r.framed);
  EXPECT_EQ(values_of(r, "content-length"), std::vector<std::string>{"9"});
  EXPECT_EQ(values_of(r, "content-type"), std::vector<std::string>{"text/plain; charset=UTF-8"});
  EXPECT_EQ(r.after_head, res.body);
}

TEST(Http1Encoder, BodyWithABlankLineInsideIsFramedByItsContentLength) {
  http::response res;
  res.body = "a\r\n\r\nb\0c"s;
  const std::string out = encode_response(res, true);
  auto r = read_response(out);
  ASSERT_TRUE(r.framed);
  EXPECT_EQ(values_of(r, "content-length"), std::vector<std::string>{"8"});
  EXPECT_EQ(r.after_head, res.body);
  EXPECT_EQ(out.substr(out.size() - res.body.size()), res.body);
}

TEST(Http1Encoder, KeepAliveFalseAddsConnectionClose) {
  for (int status : {200, 204, 400, 401, 413}) {
    http::response res;
    res.status = status;
    res.body = "{}";
    auto r = read_response(encode_response(res, false));
    ASSERT_TRUE(r.framed) << status;
    EXPECT_EQ(values_of(r, "connection"), std::vector<std::string>{"close"}) << status;
  }
}

TEST(Http1Encoder, KeepAliveTrueSendsNoConnectionHeader) {
  // §9.3: an HTTP/1.1 response persists by default; nothing needs saying.
  for (int status : {200, 204, 400, 401, 413}) {
    http::response res;
    res.status = status;
    auto r = read_response(encode_response(res, true));
    ASSERT_TRUE(r.framed) << status;
    EXPECT_TRUE(values_of(r, "connection").empty()) << status;
  }
}

TEST(Http1Encoder, ConnectionCloseComesBeforeTheBlankLineAndTheBody) {
  http::response res;
  res.status = 400;
  res.body = "{\"code\":\"bad\"}";
  const std::string out = encode_response(res, false);
  ASSERT_GE(out.size(), res.body.size() + 4);
  EXPECT_EQ(out.substr(out.size() - res.body.size() - 4), "\r\n\r\n" + res.body);
  EXPECT_NE(out.find("\r\nConnection: close\r\n"), std::string::npos);
}

TEST(Http1Encoder, StatusLineUsesTheReasonPhraseFromStatusText) {
  for (int status : {200, 201, 204, 400, 401, 403, 404, 405, 409, 413, 426, 429, 500, 503, 299}) {
    http::response res;
    res.status = status;
    auto r = read_response(encode_response(res, true));
    ASSERT_TRUE(r.framed) << status;
    EXPECT_EQ(r.status_line, "HTTP/1.1 " + std::to_string(status) + " " + std::string(http::status_text(status)))
        << status;
  }
  http::response res;
  res.status = 413;
  EXPECT_EQ(read_response(encode_response(res, true)).status_line, "HTTP/1.1 413 Payload Too Large");
}

TEST(Http1Encoder, CustomHeadersKeepTheirOrderAndSpelling) {
  http::response res;
  res.set_header("X-B", "2");
  res.set_header("x-a", "1");
  res.set_header("Set-Cookie", "s=1; HttpOnly");
  auto r = read_response(encode_response(res, true));
  ASSERT_TRUE(r.framed);
  std::vector<std::pair<std::string, std::string>> custom;
  for (auto& h : r.headers) {
    if (h.first == "X-B" || h.first == "x-a" || h.first == "Set-Cookie") custom.push_back(h);
  }
  const std::vector<std::pair<std::string, std::string>> expected = {
      {"X-B", "2"}, {"x-a", "1"}, {"Set-Cookie", "s=1; HttpOnly"}};
  EXPECT_EQ(custom, expected);
}

TEST(Http1Encoder, EncodedResponseIsWholeAndEndsExactlyAtItsBody) {
  http::response res = http::json_response(200, Json::Value("ok"));
  const std::string out = encode_response(res, true);
  auto r = read_response(out);
  ASSERT_TRUE(r.framed);
  auto lengths = values_of(r, "content-length");
  ASSERT_EQ(lengths.size(), 1u);
  EXPECT_EQ(r.after_head.size(), std::stoul(lengths[0]));
  EXPECT_EQ(out.rfind("HTTP/1.1 ", 0), 0u);
}

// ======================================================================================
// hostile input
// ======================================================================================

// What one parser made of an input.
struct outcome {
  error err = error::none;
  bool mid_request = false;
  std::vector<std::string> requests;
};

// Feeds `in` to a fresh parser in pieces of `piece` bytes, taking requests after each
// piece as the server does, and checks every request it returns.
outcome parse_in_pieces(std::string_view in, std::size_t piece, const std::string& what) {
  outcome out;
  parser p;
  auto take = [&] {
    while (auto r = p.next()) {
      const http::request& h = r->http;
      EXPECT_LE(h.body.size(), http::max_body_bytes) << what;
      EXPECT_FALSE(h.method.empty()) << what;
      for (char c : h.method) EXPECT_TRUE(c >= 'A' && c <= 'Z') << what;
      EXPECT_EQ(h.path.rfind('/', 0), 0u) << what;
      for (auto& [name, value] : h.headers) {
        EXPECT_FALSE(name.empty()) << what;
        EXPECT_EQ(name, ascii_lower(name)) << what;
        EXPECT_EQ(value.find_first_of("\r\n"s + '\0'), std::string::npos) << what;
      }
      out.requests.push_back(describe(*r));
    }
  };
  for (std::size_t pos = 0; pos < in.size(); pos += piece) {
    feed(p, in.substr(pos, piece));
    take();
  }
  take();
  out.err = p.last_error();
  EXPECT_EQ(p.failed(), out.err != error::none) << what;
  out.mid_request = p.mid_request();
  return out;
}

// Feeds an input to fresh parsers, whole and in 3-byte pieces: neither may crash or
// return more than one request, and both must agree. Returns how many requests came out.
std::size_t expect_survives(std::string_view in, const std::string& what) {
  outcome whole = parse_in_pieces(in, in.size() + 1, what);
  outcome pieces = parse_in_pieces(in, 3, what);
  EXPECT_LE(whole.requests.size(), 1u) << what;
  EXPECT_EQ(error_name(whole.err), error_name(pieces.err)) << what;
  EXPECT_EQ(whole.requests, pieces.requests) << what;
  if (whole.err == error::none) {
    // After an error a parser drops later feeds, so only error-free runs buffer alike.
    EXPECT_EQ(whole.mid_request, pieces.mid_request) << what;
  }
  return whole.requests.size();
}

const std::vector<std::string>& hostile_bases() {
  static const std::vector<std::string> bases = {nginx_auth_request, hand_written_post};
  return bases;
}

TEST(Http1Parser, EveryBitFlipOfAValidRequestIsHandledSafely) {
  for (const std::string& base : hostile_bases()) {
    ASSERT_EQ(expect_survives(base, "unmodified"), 1u);
    for (std::size_t i = 0; i < base.size(); ++i) {
      for (int bit = 0; bit < 8; ++bit) {
        std::string flipped = base;
        flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
        expect_survives(flipped, "byte " + std::to_string(i) + " bit " + std::to_string(bit) + " of " +
                                     base.substr(0, base.find('\r')));
      }
    }
  }
}

TEST(Http1Parser, EveryTruncationOfAValidRequestWaitsForMoreAndEmitsNothing) {
  for (const std::string& base : hostile_bases()) {
    for (std::size_t len = 0; len < base.size(); ++len) {
      const std::string what = "truncated to " + std::to_string(len) + " of " + base.substr(0, base.find('\r'));
      const std::string_view prefix = std::string_view(base).substr(0, len);
      EXPECT_EQ(expect_survives(prefix, what), 0u) << what;
      parser p;
      feed(p, prefix);
      EXPECT_FALSE(p.next()) << what;
      EXPECT_FALSE(p.failed()) << what;
      EXPECT_EQ(p.mid_request(), len > 0) << what;
    }
  }
}

TEST(Http1Parser, EverySyntaxByteAtEveryPositionIsHandledSafely) {
  // Beyond single bit flips: each position of both requests replaced by each byte that
  // means something to the grammar (line ends, separators, NUL, DEL, obs-text).
  const std::string syntax_bytes = " \t\r\n:;,?/%\"\x7f\x80\xff"s + '\0';
  for (const std::string& base : hostile_bases()) {
    for (std::size_t i = 0; i < base.size(); ++i) {
      for (char b : syntax_bytes) {
        std::string mutated = base;
        mutated[i] = b;
        expect_survives(mutated, "byte " + std::to_string(i) + " = " +
                                     std::to_string(static_cast<unsigned char>(b)) + " of " +
                                     base.substr(0, base.find('\r')));
      }
    }
  }
}

}  // namespace
}  // namespace cartgate::http1

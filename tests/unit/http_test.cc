// Request parsing that every route relies on: credentials, query flags, bodies.
#include "http/message.h"

#include <gtest/gtest.h>

namespace cartgate::http {
namespace {

request with_header(const std::string& name, const std::string& value) {
  request r;
  r.headers[name] = value;
  return r;
}

TEST(Http, BasicCredentialsAreDecoded) {
  // "alice:s3cr:et" — a colon inside the password belongs to the password.
  auto creds = with_header("authorization", "Basic YWxpY2U6czNjcjpldA==").basic_credentials();
  ASSERT_TRUE(creds);
  EXPECT_EQ(creds->first, "alice");
  EXPECT_EQ(creds->second, "s3cr:et");
}

TEST(Http, MalformedBasicCredentialsAreIgnored) {
  EXPECT_FALSE(with_header("authorization", "Basic !!!!").basic_credentials());
  EXPECT_FALSE(with_header("authorization", "Basic YWxpY2U=").basic_credentials());  // no colon
  EXPECT_FALSE(with_header("authorization", "Bearer abc").basic_credentials());
  EXPECT_FALSE(request().basic_credentials());
}

TEST(Http, BearerTokenIsTrimmedAndSchemeIsCaseInsensitive) {
  EXPECT_EQ(with_header("authorization", "bearer   abc.def.ghi  ").bearer_token(), "abc.def.ghi");
  EXPECT_FALSE(with_header("authorization", "Bearer    ").bearer_token());
  EXPECT_FALSE(with_header("authorization", "Basic abc").bearer_token());
}

TEST(Http, QueryFlagsAndParams) {
  request r;
  r.query = "avatars=true&all=0&name=a%20b+c";
  EXPECT_TRUE(r.query_flag("avatars"));
  EXPECT_FALSE(r.query_flag("all"));
  EXPECT_FALSE(r.query_flag("missing"));
  EXPECT_EQ(r.query_param("name"), "a b c");
}

// Found by tests/fuzz/body_fuzz.cc: JSON nested deeper than the reader's limit of 64
// made jsoncpp throw out of parse_json instead of giving rest_invalid_json.
TEST(Http, JsonNestedTooDeepIsInvalidNotThrown) {
  request r;
  r.method = "POST";
  r.content_type = "application/json";
  r.body = std::string(100, '[');
  EXPECT_EQ(parse_json(r.body), std::nullopt);
  EXPECT_EQ(parse_params(r), std::nullopt);
  r.body = "{\"a\":" + std::string(70, '[') + std::string(70, ']') + "}";
  EXPECT_EQ(parse_params(r), std::nullopt);
  EXPECT_TRUE(parse_json(std::string(10, '[') + std::string(10, ']')).has_value());
}

TEST(Http, FormBodyBecomesParams) {
  request r;
  r.content_type = "application/x-www-form-urlencoded";
  r.body = "username=alice%40example.com&password=p%26ss&2fa_code=123456";
  auto p = parse_params(r);
  ASSERT_TRUE(p);
  EXPECT_EQ((*p)["username"].asString(), "alice@example.com");
  EXPECT_EQ((*p)["password"].asString(), "p&ss");
  EXPECT_EQ((*p)["2fa_code"].asString(), "123456");
}

TEST(Http, JsonBodyIsParsedLabelledOrNot) {
  request r;
  r.body = R"({"username":"alice","password":"x"})";
  auto p = parse_params(r);
  ASSERT_TRUE(p);
  EXPECT_EQ((*p)["username"].asString(), "alice");
  r.content_type = "application/json";
  EXPECT_TRUE(parse_params(r));
}

TEST(Http, InvalidJsonBodyIsRefused) {
  request r;
  r.content_type = "application/json";
  r.body = R"({"username": )";
  EXPECT_FALSE(parse_params(r));
}

TEST(Http, EmptyBodyIsAnEmptyObject) {
  auto p = parse_params(request());
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->isObject());
  EXPECT_EQ(p->size(), 0u);
}

TEST(Http, UrlDecodeLeavesBrokenEscapesAlone) {
  EXPECT_EQ(url_decode("100%", false), "100%");
  EXPECT_EQ(url_decode("%zz%41", false), "%zzA");
  EXPECT_EQ(url_decode("a+b", false), "a+b");
  EXPECT_EQ(url_decode("a+b", true), "a b");
}

TEST(Http, MediaTypeIsLowerCasedWithoutParameters) {
  EXPECT_EQ(media_type("Application/JSON; charset=UTF-8"), "application/json");
  EXPECT_EQ(media_type("  application/x-www-form-urlencoded  "), "application/x-www-form-urlencoded");
  EXPECT_EQ(media_type(""), "");
  EXPECT_EQ(media_type("; charset=utf-8"), "");
}

TEST(Http, EveryAnswerCarriesNoStoreAndItsOwnHeadersInOrder) {
  response res;
  res.set_header("WWW-Authenticate", "Bearer error=\"invalid_token\"");
  res.set_header("X-RateLimit-Limit", "2");
  std::string out;
  append_header_lines(out, res);
  EXPECT_EQ(out,
            "Cache-Control: no-store\r\nWWW-Authenticate: Bearer error=\"invalid_token\"\r\n"
            "X-RateLimit-Limit: 2\r\n");
}

TEST(Http, HeaderWithCrOrLfInValueOrNameIsNeverWritten) {
  response res;
  res.set_header("X-Cartgate-User-Login", "eve\r\nSet-Cookie: stolen=1");
  res.set_header("X-A", "line\nbreak");
  res.set_header("X-B", "carriage\rreturn");
  res.set_header("X-C", std::string("nul\0byte", 8));
  res.set_header("X-Bad\r\nName", "v");
  res.set_header("X-Kept", "fine");
  std::string out;
  append_header_lines(out, res);
  EXPECT_EQ(out, "Cache-Control: no-store\r\nX-Kept: fine\r\n");
  std::string head;
  append_head(head, "HTTP/1.1 ", res, true);
  EXPECT_EQ(head.find("Set-Cookie"), std::string::npos) << head;
  EXPECT_FALSE(safe_header_line({"X-A", "a\nb"}));
  EXPECT_TRUE(safe_header_line({"X-A", "a b"}));
}

}  // namespace
}  // namespace cartgate::http

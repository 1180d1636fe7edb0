// FastCGI 1.0 responder role (lib/fastcgi.h): the parser fed what nginx sends, in every
// split and with hostile bytes, and the encoder read back by a record reader of our own.
// Section numbers cite the FastCGI 1.0 specification.
#include "wire/fastcgi.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cartgate::fastcgi {
namespace {

using namespace std::string_literals;
using pair_list = std::vector<std::pair<std::string, std::string>>;

constexpr std::size_t default_body_limit = 64 * 1024;

// ---- building what nginx sends -------------------------------------------------------

// BEGIN_REQUEST (5.1): roleB1, roleB0, flags, five reserved bytes.
std::string begin_record(std::uint16_t id, std::uint16_t role, std::uint8_t flags) {
  std::string body(8, '\0');
  body[0] = static_cast<char>(role >> 8);
  body[1] = static_cast<char>(role & 0xff);
  body[2] = static_cast<char>(flags);
  std::string out;
  append_record(out, begin_request, id, body);
  return out;
}

// A stream (PARAMS or STDIN, 3.3) as records of at most `chunk` content bytes, then the
// empty record that ends it.
std::string stream_records(record_type type, std::uint16_t id, std::string_view bytes,
                           std::size_t chunk = 65535) {
  std::string out;
  for (std::size_t pos = 0; pos < bytes.size(); pos += chunk) {
    append_record(out, type, id, bytes.substr(pos, chunk));
  }
  append_record(out, type, id, {});
  return out;
}

std::string encode_pairs(const pair_list& pairs) {
  std::string out;
  for (auto& [name, value] : pairs) encode_pair(out, name, value);
  return out;
}

std::string params_records(std::uint16_t id, const pair_list& pairs, std::size_t chunk = 65535) {
  return stream_records(params, id, encode_pairs(pairs), chunk);
}

std::string stdin_records(std::uint16_t id, std::string_view body, std::size_t chunk = 65535) {
  return stream_records(stdin_record, id, body, chunk);
}

// One whole request as nginx sends it: BEGIN_REQUEST (role 1), PARAMS, empty PARAMS,
// STDIN records, empty STDIN.
std::string nginx_request(std::uint16_t id, bool keep_conn, const pair_list& pairs,
                          std::string_view body, std::size_t stdin_chunk = 65535) {
  return begin_record(id, role_responder, keep_conn ? flag_keep_conn : 0) +
         params_records(id, pairs) + stdin_records(id, body, stdin_chunk);
}

std::string record_of(record_type type, std::uint16_t id, std::string_view content) {
  std::string out;
  append_record(out, type, id, content);
  return out;
}

// The CGI params of a typical nginx request, one with a value long enough to need the
// four-byte length form of 3.4.
pair_list typical_params() {
  return {{"REQUEST_METHOD", "POST"},
          {"SCRIPT_NAME", "/auth/login"},
          {"CONTENT_TYPE", "application/x-www-form-urlencoded"},
          {"HTTP_COOKIE", "session=" + std::string(300, 'k')},
          {"EMPTY", ""}};
}

// ---- driving the parser --------------------------------------------------------------

bool feed(parser& p, std::string_view bytes) { return p.feed(bytes.data(), bytes.size()); }

std::vector<request> drain(parser& p) {
  std::vector<request> out;
  while (auto r = p.next_request()) out.push_back(std::move(*r));
  return out;
}

// Everything a request carries, as one comparable, printable string.
std::string describe(const request& r) {
  std::string out = "id=" + std::to_string(r.id) + " keep_conn=" + (r.keep_conn ? "1" : "0") +
                    " body_bytes=" + std::to_string(r.body_bytes) + " body=" + r.body + " params:";
  for (auto& [name, value] : r.params) out += " [" + name + "=" + value + "]";
  return out;
}

// ---- an independent record reader (3.3) ----------------------------------------------

struct record {
  int version = 0;
  int type = 0;
  unsigned id = 0;
  std::string content;
  std::string padding;
};

struct record_stream {
  std::vector<record> records;
  bool whole = true;  // the bytes were exactly a sequence of complete records
};

record_stream read_records(std::string_view in) {
  record_stream out;
  std::size_t pos = 0;
  while (pos < in.size()) {
    if (in.size() - pos < 8) {
      out.whole = false;
      break;
    }
    auto byte = [&](std::size_t i) { return static_cast<unsigned>(static_cast<unsigned char>(in[pos + i])); };
    record r;
    r.version = static_cast<int>(byte(0));
    r.type = static_cast<int>(byte(1));
    r.id = (byte(2) << 8) | byte(3);
    std::size_t content_length = (byte(4) << 8) | byte(5);
    std::size_t padding_length = byte(6);
    if (in.size() - pos - 8 < content_length + padding_length) {
      out.whole = false;
      break;
    }
    r.content = std::string(in.substr(pos + 8, content_length));
    r.padding = std::string(in.substr(pos + 8 + content_length, padding_length));
    out.records.push_back(std::move(r));
    pos += 8 + content_length + padding_length;
  }
  return out;
}

// END_REQUEST body (5.5): appStatus (4 bytes, high first), protocolStatus, 3 reserved.
struct end_request_body {
  std::uint32_t app_status = 0;
  int protocol_status = -1;
  bool reserved_zero = false;
};

end_request_body read_end_request(const record& r) {
  end_request_body out;
  if (r.content.size() != 8) return out;
  auto byte = [&](std::size_t i) { return static_cast<std::uint32_t>(static_cast<unsigned char>(r.content[i])); };
  out.app_status = (byte(0) << 24) | (byte(1) << 16) | (byte(2) << 8) | byte(3);
  out.protocol_status = static_cast<int>(byte(4));
  out.reserved_zero = byte(5) == 0 && byte(6) == 0 && byte(7) == 0;
  return out;
}

// The replies must be exactly one END_REQUEST for `id` with `protocol_status`.
void expect_single_end_request(const std::string& replies, unsigned id, int protocol_status) {
  auto stream = read_records(replies);
  ASSERT_TRUE(stream.whole);
  ASSERT_EQ(stream.records.size(), 1u);
  const record& r = stream.records[0];
  EXPECT_EQ(r.version, 1);
  EXPECT_EQ(r.type, 3);
  EXPECT_EQ(r.id, id);
  ASSERT_EQ(r.content.size(), 8u);
  auto body = read_end_request(r);
  EXPECT_EQ(body.app_status, 0u);
  EXPECT_EQ(body.protocol_status, protocol_status);
  EXPECT_TRUE(body.reserved_zero);
}

// ---- hand-written fixtures (not produced by the module's encoder) ---------------------

// A POST as nginx sends it, written out byte by byte. 96 bytes.
const std::string hand_written_request =
    // BEGIN_REQUEST (5.1): version 1, type 1, id 1, contentLength 8, padding 0;
    // body: role 1 (FCGI_RESPONDER), flags 1 (FCGI_KEEP_CONN), 5 reserved.
    "\x01\x01\x00\x01\x00\x08\x00\x00"
    "\x00\x01\x01\x00\x00\x00\x00\x00"
    // PARAMS (3.3, 3.4): type 4, id 1, contentLength 37 (0x25), padding 3; two pairs with
    // one-byte lengths: REQUEST_METHOD=POST (14, 4) and CONTENT_LENGTH=5 (14, 1).
    "\x01\x04\x00\x01\x00\x25\x03\x00"
    "\x0e\x04"
    "REQUEST_METHOD"
    "POST"
    "\x0e\x01"
    "CONTENT_LENGTH"
    "5"
    "\x00\x00\x00"
    // empty PARAMS: type 4, id 1, contentLength 0 — the end of the params stream.
    "\x01\x04\x00\x01\x00\x00\x00\x00"
    // STDIN: type 5, id 1, contentLength 5, padding 3: "hello".
    "\x01\x05\x00\x01\x00\x05\x03\x00"
    "hello"
    "\x00\x00\x00"
    // empty STDIN: type 5, id 1, contentLength 0 — the end of the body.
    "\x01\x05\x00\x01\x00\x00\x00\x00"s;

// A request with id 0x0102 (high byte first, 3.3), no FCGI_KEEP_CONN, a param whose value
// needs the four-byte length form (3.4) and a padding of a whole 8 bytes (allowed, 3.3).
std::string hand_written_long_param_request() {
  return
      // BEGIN_REQUEST (5.1): type 1, id 0x0102, contentLength 8; role 1, flags 0.
      "\x01\x01\x01\x02\x00\x08\x00\x00"
      "\x00\x01\x00\x00\x00\x00\x00\x00"
      // PARAMS (3.4): type 4, id 0x0102, contentLength 216 (0xd8), padding 8; one pair,
      // nameLength 11 in one byte, valueLength 200 in four bytes (0x800000c8).
      "\x01\x04\x01\x02\x00\xd8\x08\x00"
      "\x0b"
      "\x80\x00\x00\xc8"
      "HTTP_COOKIE"s +
      std::string(200, 'c') + std::string(8, '\0') +
      // empty PARAMS, then empty STDIN: no body.
      "\x01\x04\x01\x02\x00\x00\x00\x00"
      "\x01\x05\x01\x02\x00\x00\x00\x00"s;
}

// ======================================================================================
// decode_pairs / encode_pair (3.4)
// ======================================================================================

TEST(FastcgiPairs, HandWrittenPairsDecode) {
  // Two pairs: "A"="b" with one-byte lengths, then "K" with a 130-byte value whose length
  // is four bytes (0x80000082), then a pair with an empty name and empty value.
  std::string in = "\x01\x01"
                   "Ab"
                   "\x01\x80\x00\x00\x82"
                   "K"s +
                   std::string(130, 'v') + "\x00\x00"s;
  auto pairs = decode_pairs(in);
  ASSERT_TRUE(pairs);
  ASSERT_EQ(pairs->size(), 3u);
  EXPECT_EQ((*pairs)[0], (std::pair<std::string, std::string>{"A", "b"}));
  EXPECT_EQ((*pairs)[1], (std::pair<std::string, std::string>{"K", std::string(130, 'v')}));
  EXPECT_EQ((*pairs)[2], (std::pair<std::string, std::string>{"", ""}));
}

TEST(FastcgiPairs, EmptyInputDecodesToNoPairs) {
  auto pairs = decode_pairs("");
  ASSERT_TRUE(pairs);
  EXPECT_TRUE(pairs->empty());
}

TEST(FastcgiPairs, NameLengthRunningPastTheDataIsRejected) {
  // nameLength 5, valueLength 0, but only 4 name bytes follow.
  EXPECT_FALSE(decode_pairs("\x05\x00"
                            "abcd"s));
  // Exactly enough is fine.
  EXPECT_TRUE(decode_pairs("\x05\x00"
                           "abcde"s));
}

TEST(FastcgiPairs, ValueLengthRunningPastTheDataIsRejected) {
  // nameLength 1, valueLength 3, but only 2 value bytes follow.
  EXPECT_FALSE(decode_pairs("\x01\x03"
                            "nvv"s));
  // A four-byte value length of 0x7fffffff (the largest) over 1 byte of data.
  EXPECT_FALSE(decode_pairs("\x01\xff\xff\xff\xff"
                            "nv"s));
  // A four-byte name length of 0x7fffffff.
  EXPECT_FALSE(decode_pairs("\xff\xff\xff\xff\x00"
                            "n"s));
}

TEST(FastcgiPairs, TruncatedLengthIsRejected) {
  // A four-byte name length cut after two bytes.
  EXPECT_FALSE(decode_pairs("\x80\x00"s));
  // A name length with no value length after it.
  EXPECT_FALSE(decode_pairs("\x01"s));
  // A one-byte name length then a four-byte value length cut after three bytes.
  EXPECT_FALSE(decode_pairs("\x01\x80\x00\x00"s));
}

TEST(FastcgiPairs, EveryPrefixOfAPairStreamDecodesOnlyAtPairBoundaries) {
  pair_list pairs = {{"A", "1"}, {std::string(200, 'N'), std::string(300, 'V')}, {"B", ""}};
  std::vector<std::size_t> boundaries = {0};
  std::string in;
  for (auto& [name, value] : pairs) {
    encode_pair(in, name, value);
    boundaries.push_back(in.size());
  }
  std::size_t complete = 0;
  for (std::size_t len = 0; len <= in.size(); ++len) {
    auto decoded = decode_pairs(std::string_view(in).substr(0, len));
    bool at_boundary = boundaries[complete] == len;
    EXPECT_EQ(decoded.has_value(), at_boundary) << "prefix of " << len << " bytes";
    if (at_boundary) {
      ASSERT_TRUE(decoded);
      EXPECT_EQ(decoded->size(), complete);
      if (complete + 1 < boundaries.size()) ++complete;
    }
  }
}

TEST(FastcgiPairs, LengthsBelow128AreOneByteAndFromThereFourBytes) {
  std::string out;
  encode_pair(out, "n", std::string(127, 'v'));
  EXPECT_EQ(out.substr(0, 2), "\x01\x7f"s);
  EXPECT_EQ(out.size(), 2u + 1 + 127);

  out.clear();
  encode_pair(out, "n", std::string(128, 'v'));
  // nameLength 1; valueLength 128 as B3..B0 with the high bit of B3 set (3.4).
  EXPECT_EQ(out.substr(0, 5), "\x01\x80\x00\x00\x80"s);
  EXPECT_EQ(out.size(), 5u + 1 + 128);

  out.clear();
  encode_pair(out, std::string(0x10203, 'n'), "");
  EXPECT_EQ(out.substr(0, 5), "\x80\x01\x02\x03\x00"s);
}

TEST(FastcgiPairs, EncodedPairsRoundTripThroughDecode) {
  pair_list pairs = {{"", ""},
                     {"a", std::string(127, 'x')},
                     {std::string(128, 'b'), std::string(128, 'y')},
                     {"bin", "\0\x80\xff"s},
                     {"big", std::string(70000, 'z')}};
  auto decoded = decode_pairs(encode_pairs(pairs));
  ASSERT_TRUE(decoded);
  EXPECT_EQ(*decoded, pairs);
}

// ======================================================================================
// parser: whole requests
// ======================================================================================

TEST(FastcgiParser, HandWrittenRequestParses) {
  ASSERT_EQ(hand_written_request.size(), 96u);
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, hand_written_request));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].id, 1);
  EXPECT_TRUE(reqs[0].keep_conn);
  EXPECT_EQ(reqs[0].params, (pair_list{{"REQUEST_METHOD", "POST"}, {"CONTENT_LENGTH", "5"}}));
  EXPECT_EQ(reqs[0].body, "hello");
  EXPECT_EQ(reqs[0].body_bytes, 5u);
  EXPECT_FALSE(reqs[0].body_truncated());
  EXPECT_EQ(p.take_replies(), "");
  EXPECT_EQ(p.last_error(), error::none);
}

TEST(FastcgiParser, HandWrittenRequestWithoutEmptyStdinIsNotEmitted) {
  parser p(default_body_limit);
  // Everything but the final empty STDIN record: the body has not ended.
  ASSERT_TRUE(feed(p, std::string_view(hand_written_request).substr(0, 88)));
  EXPECT_FALSE(p.next_request());
  EXPECT_TRUE(p.mid_request());
}

TEST(FastcgiParser, HandWrittenFourByteLengthParamAndWidePaddingParse) {
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, hand_written_long_param_request()));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].id, 0x0102);
  EXPECT_FALSE(reqs[0].keep_conn);
  EXPECT_EQ(reqs[0].params, (pair_list{{"HTTP_COOKIE", std::string(200, 'c')}}));
  EXPECT_EQ(reqs[0].body, "");
  EXPECT_EQ(reqs[0].body_bytes, 0u);
  EXPECT_FALSE(p.mid_request());
}

TEST(FastcgiParser, FullRequestWithKeepConnParsesIdParamsAndBody) {
  parser p(default_body_limit);
  const std::string body = "username=alice&password=" + std::string(500, 'p');
  ASSERT_TRUE(feed(p, nginx_request(7, true, typical_params(), body, 100)));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  const request& r = reqs[0];
  EXPECT_EQ(r.id, 7);
  EXPECT_TRUE(r.keep_conn);
  EXPECT_EQ(r.params, typical_params());
  ASSERT_NE(r.param("HTTP_COOKIE"), nullptr);
  EXPECT_EQ(r.param("HTTP_COOKIE")->size(), 308u);  // four-byte valueLength (3.4)
  ASSERT_NE(r.param("EMPTY"), nullptr);
  EXPECT_EQ(*r.param("EMPTY"), "");
  EXPECT_EQ(r.param("NOT_SENT"), nullptr);
  EXPECT_EQ(r.body, body);
  EXPECT_EQ(r.body_bytes, body.size());
  EXPECT_FALSE(r.body_truncated());
  EXPECT_FALSE(p.mid_request());
}

TEST(FastcgiParser, FullRequestWithoutKeepConnReportsKeepConnOff) {
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, nginx_request(1, false, typical_params(), "x")));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_FALSE(reqs[0].keep_conn);
  EXPECT_EQ(reqs[0].body, "x");
}

TEST(FastcgiParser, FlagBitsOtherThanKeepConnAreIgnored) {
  parser p(default_body_limit);
  // flags 0xfe: every bit but FCGI_KEEP_CONN (5.1).
  std::string in = begin_record(1, role_responder, 0xfe) + params_records(1, {}) + stdin_records(1, "");
  ASSERT_TRUE(feed(p, in));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_FALSE(reqs[0].keep_conn);
}

TEST(FastcgiParser, LongNameAndValueBothWithFourByteLengthsParse) {
  pair_list pairs = {{std::string(1000, 'N'), std::string(128, 'V')}, {"SHORT", std::string(70000, 'L')}};
  parser p(default_body_limit);
  // 70 KB of params do not fit one record: nginx splits the stream (3.3).
  std::string in = begin_record(3, role_responder, 0) + params_records(3, pairs) + stdin_records(3, "");
  ASSERT_TRUE(feed(p, in));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].params, pairs);
}

TEST(FastcgiParser, PairSplitAcrossTwoParamsRecordsParses) {
  pair_list pairs = {{"HTTP_USER_AGENT", std::string(150, 'u')}, {"A", "B"}};
  // Records of 3 content bytes: every length field and name straddles record boundaries.
  std::string in = begin_record(1, role_responder, 0) + params_records(1, pairs, 3) + stdin_records(1, "b");
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].params, pairs);
}

TEST(FastcgiParser, RequestSplitAtEveryByteParsesTheSame) {
  const std::string in = nginx_request(5, true, typical_params(), "field=" + std::string(40, 'b'), 9);
  parser whole(default_body_limit);
  ASSERT_TRUE(feed(whole, in));
  auto expected = drain(whole);
  ASSERT_EQ(expected.size(), 1u);
  const std::string want = describe(expected[0]);

  for (std::size_t split = 0; split <= in.size(); ++split) {
    parser p(default_body_limit);
    ASSERT_TRUE(feed(p, std::string_view(in).substr(0, split))) << "split at " << split;
    if (split > 0 && split < in.size()) {
      EXPECT_TRUE(p.mid_request()) << "split at " << split;
    }
    ASSERT_TRUE(feed(p, std::string_view(in).substr(split))) << "split at " << split;
    auto reqs = drain(p);
    ASSERT_EQ(reqs.size(), 1u) << "split at " << split;
    EXPECT_EQ(describe(reqs[0]), want) << "split at " << split;
    EXPECT_FALSE(p.mid_request());
  }
}

TEST(FastcgiParser, RequestFedOneByteAtATimeParsesTheSame) {
  const std::string in = nginx_request(5, false, typical_params(), "abcdefghij", 3);
  parser p(default_body_limit);
  for (std::size_t i = 0; i < in.size(); ++i) {
    ASSERT_TRUE(p.feed(in.data() + i, 1)) << "byte " << i;
    if (i + 1 < in.size()) {
      EXPECT_FALSE(p.next_request()) << "emitted early at byte " << i;
    }
  }
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].params, typical_params());
  EXPECT_EQ(reqs[0].body, "abcdefghij");
}

TEST(FastcgiParser, LargeBodyFedInOddChunksParsesTheSame) {
  std::string body(200000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i) body[i] = static_cast<char>(i * 31 % 251);
  const std::string in = nginx_request(1, true, typical_params(), body);
  for (std::size_t chunk : {std::size_t{1} << 20, std::size_t{70001}, std::size_t{4999}, std::size_t{8}}) {
    parser p(256 * 1024);
    for (std::size_t pos = 0; pos < in.size(); pos += chunk) {
      auto piece = std::string_view(in).substr(pos, chunk);
      ASSERT_TRUE(feed(p, piece)) << "chunk " << chunk << " at " << pos;
    }
    auto reqs = drain(p);
    ASSERT_EQ(reqs.size(), 1u) << "chunk " << chunk;
    EXPECT_TRUE(reqs[0].body == body) << "chunk " << chunk;
    EXPECT_EQ(reqs[0].body_bytes, body.size());
    EXPECT_EQ(reqs[0].params, typical_params());
  }
}

TEST(FastcgiParser, TwoRequestsBackToBackOnOneKeepAliveConnectionInOneFeed) {
  const std::string in = nginx_request(1, true, {{"REQUEST_URI", "/first"}}, "one") +
                         nginx_request(1, false, {{"REQUEST_URI", "/second"}}, "two");
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  auto first = p.next_request();
  auto second = p.next_request();
  EXPECT_FALSE(p.next_request());
  ASSERT_TRUE(first);
  ASSERT_TRUE(second);
  EXPECT_EQ(*first->param("REQUEST_URI"), "/first");
  EXPECT_EQ(first->body, "one");
  EXPECT_TRUE(first->keep_conn);
  EXPECT_EQ(*second->param("REQUEST_URI"), "/second");
  EXPECT_EQ(second->body, "two");
  EXPECT_FALSE(second->keep_conn);
  EXPECT_EQ(p.take_replies(), "");
}

TEST(FastcgiParser, RequestsTakenBetweenFeedsKeepTheirOrder) {
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, nginx_request(1, true, {}, "a") + nginx_request(2, true, {}, "b")));
  auto a = p.next_request();
  ASSERT_TRUE(a);
  EXPECT_EQ(a->body, "a");
  ASSERT_TRUE(feed(p, nginx_request(3, true, {}, "c")));
  auto b = p.next_request();
  auto c = p.next_request();
  ASSERT_TRUE(b);
  ASSERT_TRUE(c);
  EXPECT_EQ(b->body, "b");
  EXPECT_EQ(c->body, "c");
  EXPECT_FALSE(p.next_request());
}

// ======================================================================================
// parser: bounds
// ======================================================================================

TEST(FastcgiParser, BodyOverTheLimitIsTruncatedButEveryByteIsCounted) {
  std::string body;
  for (int i = 0; i < 11; ++i) body += static_cast<char>('a' + i);
  parser p(10);
  // STDIN in records of 4, 4 and 3 bytes: the limit falls inside the last one.
  ASSERT_TRUE(feed(p, nginx_request(1, false, {}, body, 4)));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, body.substr(0, 10));
  EXPECT_EQ(reqs[0].body_bytes, 11u);
  EXPECT_TRUE(reqs[0].body_truncated());
}

TEST(FastcgiParser, BodyFarOverTheLimitKeepsOnlyTheLimit) {
  parser p(100);
  ASSERT_TRUE(feed(p, nginx_request(1, false, {}, std::string(150000, 'z'))));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, std::string(100, 'z'));
  EXPECT_EQ(reqs[0].body_bytes, 150000u);
  EXPECT_TRUE(reqs[0].body_truncated());
}

TEST(FastcgiParser, BodyExactlyAtTheLimitIsNotTruncated) {
  parser p(10);
  ASSERT_TRUE(feed(p, nginx_request(1, false, {}, "0123456789", 4)));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "0123456789");
  EXPECT_EQ(reqs[0].body_bytes, 10u);
  EXPECT_FALSE(reqs[0].body_truncated());
}

TEST(FastcgiParser, ZeroBodyLimitKeepsNoBodyButCountsIt) {
  parser p(0);
  ASSERT_TRUE(feed(p, nginx_request(1, false, {}, "abc")));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "");
  EXPECT_EQ(reqs[0].body_bytes, 3u);
  EXPECT_TRUE(reqs[0].body_truncated());
}

TEST(FastcgiParser, ParamsOverMaxParamsBytesFailWithParamsTooLarge) {
  // One pair of 1 + 4 + 1 + value bytes: one byte over max_params_bytes in all.
  pair_list pairs = {{"X", std::string(max_params_bytes - 6 + 1, 'v')}};
  ASSERT_EQ(encode_pairs(pairs).size(), max_params_bytes + 1);
  parser p(default_body_limit);
  EXPECT_FALSE(feed(p, nginx_request(1, false, pairs, "")));
  EXPECT_EQ(p.last_error(), error::params_too_large);
  EXPECT_FALSE(p.next_request());
}

TEST(FastcgiParser, ParamsExactlyAtMaxParamsBytesAreAccepted) {
  pair_list pairs = {{"X", std::string(max_params_bytes - 6, 'v')}};
  ASSERT_EQ(encode_pairs(pairs).size(), max_params_bytes);
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, nginx_request(1, false, pairs, "")));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].params, pairs);
}

TEST(FastcgiParser, AfterAnErrorLaterFeedsKeepReturningFalse) {
  pair_list pairs = {{"X", std::string(max_params_bytes, 'v')}};
  parser p(default_body_limit);
  EXPECT_FALSE(feed(p, nginx_request(1, false, pairs, "")));
  ASSERT_EQ(p.last_error(), error::params_too_large);
  // A perfectly valid request afterwards is not parsed: the connection is done.
  EXPECT_FALSE(feed(p, nginx_request(2, false, {}, "ok")));
  EXPECT_FALSE(feed(p, nginx_request(3, false, {}, "ok")));
  EXPECT_EQ(p.last_error(), error::params_too_large);
  EXPECT_FALSE(p.next_request());
  EXPECT_EQ(p.take_replies(), "");
}

TEST(FastcgiParser, ParamsLimitIsPerRequest) {
  // Two requests on one connection, each with params just under the limit.
  pair_list pairs = {{"X", std::string(max_params_bytes - 6, 'v')}};
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, nginx_request(1, true, pairs, "")));
  ASSERT_TRUE(feed(p, nginx_request(1, true, pairs, "")));
  EXPECT_EQ(drain(p).size(), 2u);
}

// ======================================================================================
// parser: protocol errors
// ======================================================================================

TEST(FastcgiParser, BadVersionByteFailsWithBadVersion) {
  // A record header (3.3) with version 0 instead of 1: type 1, id 1, contentLength 8.
  const std::string in = "\x00\x01\x00\x01\x00\x08\x00\x00"
                         "\x00\x01\x00\x00\x00\x00\x00\x00"s;
  parser p(default_body_limit);
  EXPECT_FALSE(feed(p, in));
  EXPECT_EQ(p.last_error(), error::bad_version);
  EXPECT_FALSE(feed(p, hand_written_request));
  EXPECT_EQ(p.last_error(), error::bad_version);
}

TEST(FastcgiParser, BadVersionInALaterRecordFailsAndKeepsEarlierRequests) {
  std::string in = nginx_request(1, true, {}, "first");
  std::string bad = nginx_request(1, true, {}, "second");
  bad[0] = 2;  // version 2 in the next BEGIN_REQUEST header
  parser p(default_body_limit);
  EXPECT_FALSE(feed(p, in + bad));
  EXPECT_EQ(p.last_error(), error::bad_version);
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "first");
}

TEST(FastcgiParser, PairLengthPastTheDataFailsWithBadParams) {
  // PARAMS (3.4): type 4, id 1, contentLength 4, padding 4: nameLength 9, valueLength 1,
  // but only 2 bytes follow; then the empty PARAMS that makes the parser decode the stream.
  const std::string in = begin_record(1, role_responder, 0) +
                         "\x01\x04\x00\x01\x00\x04\x04\x00"
                         "\x09\x01"
                         "ab"
                         "\x00\x00\x00\x00"
                         "\x01\x04\x00\x01\x00\x00\x00\x00"s;
  EXPECT_FALSE(decode_pairs("\x09\x01"
                            "ab"s));
  parser p(default_body_limit);
  EXPECT_FALSE(feed(p, in));
  EXPECT_EQ(p.last_error(), error::bad_params);
  EXPECT_FALSE(p.next_request());
}

TEST(FastcgiParser, ParamsStreamEndingInsideALengthFailsWithBadParams) {
  // A four-byte length cut after two bytes at the end of the params stream.
  parser p(default_body_limit);
  EXPECT_FALSE(feed(p, begin_record(1, role_responder, 0) + stream_records(params, 1, "\x80\x00"s)));
  EXPECT_EQ(p.last_error(), error::bad_params);
}

TEST(FastcgiParser, StdinBeforeParamsEndedFailsWithUnexpectedRecord) {
  // BEGIN_REQUEST, one PARAMS record, but no empty PARAMS before STDIN.
  std::string in = begin_record(1, role_responder, 0) + record_of(params, 1, encode_pairs({{"A", "b"}})) +
                   stdin_records(1, "body");
  parser p(default_body_limit);
  EXPECT_FALSE(feed(p, in));
  EXPECT_EQ(p.last_error(), error::unexpected_record);
  EXPECT_FALSE(p.next_request());
}

TEST(FastcgiParser, ParamsAfterParamsEndedFailsWithUnexpectedRecord) {
  std::string in = begin_record(1, role_responder, 0) + params_records(1, {{"A", "b"}}) +
                   record_of(params, 1, encode_pairs({{"C", "d"}}));
  parser p(default_body_limit);
  EXPECT_FALSE(feed(p, in));
  EXPECT_EQ(p.last_error(), error::unexpected_record);
}

TEST(FastcgiParser, BeginRequestShorterThanEightBytesFailsWithBadBeginRequest) {
  // BEGIN_REQUEST (5.1): type 1, id 1, contentLength 7 (one short), padding 1.
  const std::string in = "\x01\x01\x00\x01\x00\x07\x01\x00"
                         "\x00\x01\x00\x00\x00\x00\x00"
                         "\x00"s;
  parser p(default_body_limit);
  EXPECT_FALSE(feed(p, in));
  EXPECT_EQ(p.last_error(), error::bad_begin_request);
  EXPECT_FALSE(p.next_request());
}

TEST(FastcgiParser, BeginRequestWithEmptyBodyFailsWithBadBeginRequest) {
  parser p(default_body_limit);
  EXPECT_FALSE(feed(p, record_of(begin_request, 1, "")));
  EXPECT_EQ(p.last_error(), error::bad_begin_request);
}

TEST(FastcgiParser, BeginRequestLongerThanEightBytesIsAccepted) {
  // A body of 16 bytes: the first 8 are the FCGI_BeginRequestBody, the rest unused.
  std::string body = "\x00\x01\x01\x00\x00\x00\x00\x00"s + std::string(8, 'x');
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, record_of(begin_request, 1, body) + params_records(1, {}) + stdin_records(1, "")));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_TRUE(reqs[0].keep_conn);
}

TEST(FastcgiParser, BeginRequestWithIdZeroFailsWithBadBeginRequest) {
  // BEGIN_REQUEST (5.1) with requestId 0, which is reserved for management records (4).
  const std::string in = "\x01\x01\x00\x00\x00\x08\x00\x00"
                         "\x00\x01\x00\x00\x00\x00\x00\x00"s;
  parser p(default_body_limit);
  EXPECT_FALSE(feed(p, in));
  EXPECT_EQ(p.last_error(), error::bad_begin_request);
}

TEST(FastcgiParser, ErrorNamesAreStable) {
  EXPECT_EQ(error_name(error::none), "none");
  EXPECT_EQ(error_name(error::bad_version), "bad_version");
  EXPECT_EQ(error_name(error::params_too_large), "params_too_large");
  EXPECT_EQ(error_name(error::bad_params), "bad_params");
  EXPECT_EQ(error_name(error::unexpected_record), "unexpected_record");
  EXPECT_EQ(error_name(error::bad_begin_request), "bad_begin_request");
}

// ======================================================================================
// parser: refused and aborted requests
// ======================================================================================

TEST(FastcgiParser, SecondBeginRequestIsRefusedWithCantMpxConn) {
  // Request 1 opens; request 2 begins while it is open and sends its own records
  // interleaved; then request 1 finishes.
  std::string in = begin_record(1, role_responder, flag_keep_conn) + params_records(1, {{"WHO", "one"}}) +
                   begin_record(2, role_responder, 0) + params_records(2, {{"WHO", "two"}}) +
                   stdin_records(2, "intruder") + stdin_records(1, "mine");
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  expect_single_end_request(p.take_replies(), 2, status_cant_mpx_conn);
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].id, 1);
  EXPECT_EQ(reqs[0].params, (pair_list{{"WHO", "one"}}));
  EXPECT_EQ(reqs[0].body, "mine");
  EXPECT_EQ(p.take_replies(), "");
}

TEST(FastcgiParser, BeginRequestAfterTheFirstCompletedIsNotRefused) {
  std::string in = nginx_request(1, true, {}, "a") + nginx_request(2, true, {}, "b");
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  EXPECT_EQ(p.take_replies(), "");
  EXPECT_EQ(drain(p).size(), 2u);
}

TEST(FastcgiParser, UnknownRoleIsRefusedWithUnknownRoleAndItsRecordsIgnored) {
  // BEGIN_REQUEST with role 2 (FCGI_AUTHORIZER), then its params and stdin.
  std::string in = begin_record(1, 2, flag_keep_conn) + params_records(1, {{"A", "b"}}) + stdin_records(1, "x");
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  expect_single_end_request(p.take_replies(), 1, status_unknown_role);
  EXPECT_FALSE(p.next_request());
  EXPECT_FALSE(p.mid_request());
}

TEST(FastcgiParser, FilterRoleIsRefusedAndItsDataIgnored) {
  // Role 3 (FCGI_FILTER) also sends a DATA stream (type 8).
  std::string in = begin_record(4, 3, 0) + params_records(4, {}) + stdin_records(4, "x") +
                   stream_records(data, 4, "filedata");
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  expect_single_end_request(p.take_replies(), 4, status_unknown_role);
  EXPECT_FALSE(p.next_request());
}

TEST(FastcgiParser, ResponderRequestAfterARefusedRoleIsAccepted) {
  std::string in = begin_record(1, 2, flag_keep_conn) + params_records(1, {{"A", "b"}}) + stdin_records(1, "x") +
                   nginx_request(1, true, {{"C", "d"}}, "y");
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  expect_single_end_request(p.take_replies(), 1, status_unknown_role);
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].params, (pair_list{{"C", "d"}}));
  EXPECT_EQ(reqs[0].body, "y");
}

TEST(FastcgiParser, AbortRequestForTheOpenRequestEndsItAndEmitsNothing) {
  // ABORT_REQUEST (5.4): type 2, id 1, contentLength 0, after part of the body.
  std::string in = begin_record(1, role_responder, flag_keep_conn) + params_records(1, typical_params()) +
                   record_of(stdin_record, 1, "partial") + "\x01\x02\x00\x01\x00\x00\x00\x00"s;
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  expect_single_end_request(p.take_replies(), 1, status_request_complete);
  EXPECT_FALSE(p.next_request());
  EXPECT_FALSE(p.mid_request());
  // The rest of the aborted request's STDIN is dropped; the connection carries the next.
  ASSERT_TRUE(feed(p, stdin_records(1, "late") + nginx_request(1, false, {}, "next")));
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "next");
  EXPECT_EQ(p.take_replies(), "");
}

TEST(FastcgiParser, AbortRequestForAnotherIdIsIgnored) {
  std::string in = begin_record(1, role_responder, 0) + params_records(1, {}) + record_of(abort_request, 9, "") +
                   stdin_records(1, "kept");
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  EXPECT_EQ(p.take_replies(), "");
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "kept");
}

TEST(FastcgiParser, AbortRequestAfterTheRequestCompletedAddsNoReply) {
  // The request was handed out; its own response answers the abort.
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, nginx_request(1, true, {}, "a") + record_of(abort_request, 1, "")));
  EXPECT_EQ(drain(p).size(), 1u);
  EXPECT_EQ(p.take_replies(), "");
}

// ======================================================================================
// parser: management records (4) and unknown types
// ======================================================================================

TEST(FastcgiParser, GetValuesIsAnsweredWithMpxsConnsMaxConnsMaxReqs) {
  // GET_VALUES (4.1): type 9, id 0, contentLength 60 (0x3c), padding 4; names with empty
  // values: FCGI_MPXS_CONNS (15), FCGI_MAX_CONNS (14), FCGI_MAX_REQS (13) and an unknown
  // FCGI_EXTRA (10).
  const std::string in = "\x01\x09\x00\x00\x00\x3c\x04\x00"
                         "\x0f\x00"
                         "FCGI_MPXS_CONNS"
                         "\x0e\x00"
                         "FCGI_MAX_CONNS"
                         "\x0d\x00"
                         "FCGI_MAX_REQS"
                         "\x0a\x00"
                         "FCGI_EXTRA"
                         "\x00\x00\x00\x00"s;
  ASSERT_EQ(in.size(), 72u);
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  EXPECT_FALSE(p.mid_request());
  EXPECT_FALSE(p.next_request());
  auto stream = read_records(p.take_replies());
  ASSERT_TRUE(stream.whole);
  ASSERT_EQ(stream.records.size(), 1u);
  const record& r = stream.records[0];
  EXPECT_EQ(r.version, 1);
  EXPECT_EQ(r.type, 10);  // FCGI_GET_VALUES_RESULT
  EXPECT_EQ(r.id, 0u);
  EXPECT_EQ((8 + r.content.size() + r.padding.size()) % 8, 0u);
  auto values = decode_pairs(r.content);
  ASSERT_TRUE(values);
  EXPECT_EQ(*values, (pair_list{{"FCGI_MPXS_CONNS", "0"}, {"FCGI_MAX_CONNS", "1024"}, {"FCGI_MAX_REQS", "1024"}}));
  // The same content, byte by byte (3.4): lengths then name then value.
  EXPECT_EQ(r.content,
            "\x0f\x01"
            "FCGI_MPXS_CONNS"
            "0"
            "\x0e\x04"
            "FCGI_MAX_CONNS"
            "1024"
            "\x0d\x04"
            "FCGI_MAX_REQS"
            "1024"s);
}

TEST(FastcgiParser, GetValuesForOnlyUnknownNamesIsAnsweredWithNoPairs) {
  std::string q;
  encode_pair(q, "FCGI_SOMETHING_ELSE", "");
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, record_of(get_values, 0, q)));
  auto stream = read_records(p.take_replies());
  ASSERT_TRUE(stream.whole);
  ASSERT_EQ(stream.records.size(), 1u);
  EXPECT_EQ(stream.records[0].type, 10);
  EXPECT_EQ(stream.records[0].content, "");
}

TEST(FastcgiParser, GetValuesWithAMalformedPairFailsWithBadParams) {
  // GET_VALUES: type 9, id 0, contentLength 2, padding 6: nameLength 20, valueLength 0,
  // no name bytes.
  const std::string in = "\x01\x09\x00\x00\x00\x02\x06\x00"
                         "\x14\x00"
                         "\x00\x00\x00\x00\x00\x00"s;
  parser p(default_body_limit);
  EXPECT_FALSE(feed(p, in));
  EXPECT_EQ(p.last_error(), error::bad_params);
}

TEST(FastcgiParser, GetValuesDuringARequestDoesNotDisturbIt) {
  std::string q;
  encode_pair(q, "FCGI_MPXS_CONNS", "");
  std::string in = begin_record(1, role_responder, 0) + params_records(1, {{"A", "b"}}) + record_of(get_values, 0, q) +
                   stdin_records(1, "body");
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  auto stream = read_records(p.take_replies());
  ASSERT_EQ(stream.records.size(), 1u);
  EXPECT_EQ(stream.records[0].type, 10);
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "body");
}

TEST(FastcgiParser, GetValuesResultForAHugeQueryIsStillOneWellFormedRecord) {
  // A GET_VALUES record filled to 65520 content bytes with the same name 4095 times: the
  // answer must still be a record whose header describes its content (3.3), and each
  // pair in it a known name with its value; content past 65535 bytes cannot be framed.
  std::string q;
  for (int i = 0; i < 4095; ++i) encode_pair(q, "FCGI_MAX_CONNS", "");
  ASSERT_LE(q.size(), 65535u);
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, record_of(get_values, 0, q)));
  auto stream = read_records(p.take_replies());
  EXPECT_TRUE(stream.whole);
  ASSERT_EQ(stream.records.size(), 1u);
  const record& r = stream.records[0];
  EXPECT_EQ(r.type, 10);
  EXPECT_EQ(r.id, 0u);
  auto values = decode_pairs(r.content);
  ASSERT_TRUE(values);
  ASSERT_FALSE(values->empty());
  for (auto& [name, value] : *values) {
    EXPECT_EQ(name, "FCGI_MAX_CONNS");
    EXPECT_EQ(value, "1024");
  }
}

TEST(FastcgiParser, UnknownManagementTypeIsAnsweredWithUnknownType) {
  // A management record (4.2) of type 42, id 0, contentLength 3, padding 5.
  const std::string in = "\x01\x2a\x00\x00\x00\x03\x05\x00"
                         "abc"
                         "\x00\x00\x00\x00\x00"s;
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  EXPECT_FALSE(p.mid_request());
  auto stream = read_records(p.take_replies());
  ASSERT_TRUE(stream.whole);
  ASSERT_EQ(stream.records.size(), 1u);
  const record& r = stream.records[0];
  EXPECT_EQ(r.type, 11);  // FCGI_UNKNOWN_TYPE
  EXPECT_EQ(r.id, 0u);
  // FCGI_UnknownTypeBody: type, then 7 reserved bytes.
  EXPECT_EQ(r.content, "\x2a\x00\x00\x00\x00\x00\x00\x00"s);
  EXPECT_EQ(p.take_replies(), "");  // taken once
}

TEST(FastcgiParser, UnknownTypeDuringARequestDoesNotDisturbIt) {
  std::string in = begin_record(1, role_responder, 0) + params_records(1, {}) + record_of(static_cast<record_type>(42), 1, "zz") +
                   stdin_records(1, "body");
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  auto stream = read_records(p.take_replies());
  ASSERT_TRUE(stream.whole);
  ASSERT_EQ(stream.records.size(), 1u);
  EXPECT_EQ(stream.records[0].type, 11);
  ASSERT_FALSE(stream.records[0].content.empty());
  EXPECT_EQ(static_cast<unsigned char>(stream.records[0].content[0]), 42);
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "body");
}

TEST(FastcgiParser, DataRecordsOfAResponderAreIgnored) {
  std::string in = begin_record(1, role_responder, 0) + params_records(1, {}) + stream_records(data, 1, "ignored") +
                   stdin_records(1, "body");
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, in));
  EXPECT_EQ(p.take_replies(), "");
  auto reqs = drain(p);
  ASSERT_EQ(reqs.size(), 1u);
  EXPECT_EQ(reqs[0].body, "body");
}

// ======================================================================================
// parser: mid_request
// ======================================================================================

TEST(FastcgiParser, MidRequestFollowsTheRequestLifecycle) {
  const std::string in = nginx_request(1, true, {{"A", "b"}}, "body");
  parser p(default_body_limit);
  EXPECT_FALSE(p.mid_request());  // idle
  ASSERT_TRUE(feed(p, std::string_view(in).substr(0, 3)));
  EXPECT_TRUE(p.mid_request());  // a partial record header
  ASSERT_TRUE(feed(p, std::string_view(in).substr(3, 13)));
  EXPECT_TRUE(p.mid_request());  // exactly the BEGIN_REQUEST record, nothing buffered
  ASSERT_TRUE(feed(p, std::string_view(in).substr(16)));
  EXPECT_FALSE(p.mid_request());  // complete, even before it is taken
  EXPECT_TRUE(p.next_request());
  EXPECT_FALSE(p.mid_request());
}

TEST(FastcgiParser, MidRequestIsFalseAfterACompleteRequestWithoutKeepConn) {
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, nginx_request(1, false, {}, "")));
  EXPECT_FALSE(p.mid_request());
}

TEST(FastcgiParser, MidRequestIsTrueWhileARecordBodyIsIncomplete) {
  // A management record header announcing 10 content bytes, of which 4 have arrived.
  parser p(default_body_limit);
  ASSERT_TRUE(feed(p, "\x01\x09\x00\x00\x00\x0a\x06\x00"
                      "abcd"s));
  EXPECT_TRUE(p.mid_request());
}

// ======================================================================================
// encoder
// ======================================================================================

TEST(FastcgiEncoder, SmallResponseIsExactStdoutThenEmptyStdoutThenEndRequest) {
  const std::string cgi = "Status: 200 OK\r\n\r\nok";  // 20 bytes
  const std::string expected =
      // STDOUT (3.3): type 6, id 0x0102, contentLength 20 (0x14), padding 4.
      "\x01\x06\x01\x02\x00\x14\x04\x00"
      "Status: 200 OK\r\n\r\nok"
      "\x00\x00\x00\x00"
      // empty STDOUT: the end of the stream.
      "\x01\x06\x01\x02\x00\x00\x00\x00"
      // END_REQUEST (5.5): type 3, id 0x0102, contentLength 8; appStatus 0,
      // protocolStatus 0 (FCGI_REQUEST_COMPLETE), 3 reserved.
      "\x01\x03\x01\x02\x00\x08\x00\x00"
      "\x00\x00\x00\x00\x00\x00\x00\x00"s;
  EXPECT_EQ(encode_response(0x0102, cgi), expected);
}

TEST(FastcgiEncoder, EmptyResponseIsOnlyEmptyStdoutAndEndRequest) {
  const std::string expected =
      // empty STDOUT, id 1.
      "\x01\x06\x00\x01\x00\x00\x00\x00"
      // END_REQUEST (5.5), id 1: appStatus 0, protocolStatus 0.
      "\x01\x03\x00\x01\x00\x08\x00\x00"
      "\x00\x00\x00\x00\x00\x00\x00\x00"s;
  EXPECT_EQ(encode_response(1, ""), expected);
}

TEST(FastcgiEncoder, ResponseReadsBackAsStdoutStreamAndEndRequest) {
  const std::string cgi = "Status: 302 Found\r\nLocation: /login\r\nContent-Length: 0\r\n\r\n";
  auto stream = read_records(encode_response(9, cgi));
  ASSERT_TRUE(stream.whole);
  ASSERT_EQ(stream.records.size(), 3u);
  std::string stdout_bytes;
  for (std::size_t i = 0; i + 1 < stream.records.size(); ++i) {
    const record& r = stream.records[i];
    EXPECT_EQ(r.version, 1);
    EXPECT_EQ(r.type, 6);
    EXPECT_EQ(r.id, 9u);
    stdout_bytes += r.content;
  }
  EXPECT_EQ(stdout_bytes, cgi);
  EXPECT_TRUE(stream.records[1].content.empty());
  const record& end = stream.records.back();
  EXPECT_EQ(end.type, 3);
  EXPECT_EQ(end.id, 9u);
  auto body = read_end_request(end);
  EXPECT_EQ(body.app_status, 0u);
  EXPECT_EQ(body.protocol_status, 0);
  EXPECT_TRUE(body.reserved_zero);
}

TEST(FastcgiEncoder, EveryRecordIsPaddedToAMultipleOfEight) {
  std::vector<std::size_t> sizes;
  for (std::size_t n = 0; n <= 40; ++n) sizes.push_back(n);
  for (std::size_t n = 65528; n <= 65545; ++n) sizes.push_back(n);
  for (std::size_t n = 131068; n <= 131074; ++n) sizes.push_back(n);
  for (std::size_t n : sizes) {
    std::string out = encode_response(1, std::string(n, 'r'));
    EXPECT_EQ(out.size() % 8, 0u) << n;
    auto stream = read_records(out);
    ASSERT_TRUE(stream.whole) << n;
    for (auto& r : stream.records) {
      EXPECT_EQ((8 + r.content.size() + r.padding.size()) % 8, 0u) << n;
      EXPECT_LT(r.padding.size(), 8u) << n;
      EXPECT_EQ(r.padding, std::string(r.padding.size(), '\0')) << n;
    }
  }
}

TEST(FastcgiEncoder, LargeResponseIsSplitIntoRecordsOfAtMost65535Bytes) {
  std::string cgi(200000, '\0');
  for (std::size_t i = 0; i < cgi.size(); ++i) cgi[i] = static_cast<char>(i * 7 % 253);
  auto stream = read_records(encode_response(3, cgi));
  ASSERT_TRUE(stream.whole);
  // 65535 * 3 + 3395, the empty STDOUT, END_REQUEST.
  ASSERT_EQ(stream.records.size(), 6u);
  std::string joined;
  for (std::size_t i = 0; i < 5; ++i) {
    const record& r = stream.records[i];
    EXPECT_EQ(r.type, 6);
    EXPECT_EQ(r.id, 3u);
    EXPECT_LE(r.content.size(), 65535u);
    if (i < 4) {
      EXPECT_FALSE(r.content.empty()) << "an empty STDOUT before the end of the stream";
    }
    joined += r.content;
  }
  EXPECT_EQ(stream.records[0].content.size(), 65535u);
  EXPECT_EQ(stream.records[3].content.size(), 3395u);
  EXPECT_TRUE(stream.records[4].content.empty());
  EXPECT_TRUE(joined == cgi);
  EXPECT_EQ(stream.records[5].type, 3);
}

TEST(FastcgiEncoder, ResponseOfExactlyTwoFullRecordsHasNoEmptyRecordBeforeTheEnd) {
  auto stream = read_records(encode_response(1, std::string(2 * 65535, 'f')));
  ASSERT_TRUE(stream.whole);
  ASSERT_EQ(stream.records.size(), 4u);
  EXPECT_EQ(stream.records[0].content.size(), 65535u);
  EXPECT_EQ(stream.records[1].content.size(), 65535u);
  EXPECT_TRUE(stream.records[2].content.empty());
  EXPECT_EQ(stream.records[3].type, 3);
}

TEST(FastcgiEncoder, FullRecordHeaderCarriesLength65535AndPaddingOne) {
  std::string out;
  append_record(out, stdout_record, 0xabcd, std::string(65535, 'q'));
  // STDOUT: type 6, id 0xabcd, contentLength 0xffff, padding 1 (8 + 65535 + 1 = 8 * 8193).
  EXPECT_EQ(out.substr(0, 8), "\x01\x06\xab\xcd\xff\xff\x01\x00"s);
  EXPECT_EQ(out.size(), 8u + 65535 + 1);
  EXPECT_EQ(out.back(), '\0');
}

TEST(FastcgiEncoder, EndRequestCarriesAppStatusHighByteFirst) {
  std::string out;
  append_end_request(out, 5, status_unknown_role, 0x01020304);
  // END_REQUEST (5.5): type 3, id 5, contentLength 8; appStatus 0x01020304,
  // protocolStatus 3 (FCGI_UNKNOWN_ROLE), 3 reserved.
  EXPECT_EQ(out, "\x01\x03\x00\x05\x00\x08\x00\x00"
                 "\x01\x02\x03\x04\x03\x00\x00\x00"s);
}

TEST(FastcgiEncoder, EncodedRequestRecordsMatchTheHandWrittenBytes) {
  // The helpers that build nginx's stream, built on append_record/encode_pair, give the
  // same bytes as the hand-written fixture.
  EXPECT_EQ(nginx_request(1, true, {{"REQUEST_METHOD", "POST"}, {"CONTENT_LENGTH", "5"}}, "hello"),
            hand_written_request);
}

// ======================================================================================
// hostile input
// ======================================================================================

// What one parser made of a stream.
struct outcome {
  bool ok = false;
  error err = error::none;
  std::vector<std::string> requests;
  std::string replies;
};

outcome parse_in_pieces(std::string_view in, std::size_t body_limit, std::size_t piece) {
  outcome out;
  parser p(body_limit);
  out.ok = true;
  for (std::size_t pos = 0; pos < in.size() && out.ok; pos += piece) {
    out.ok = feed(p, in.substr(pos, piece));
  }
  if (in.empty()) out.ok = feed(p, in);
  out.err = p.last_error();
  for (auto& r : drain(p)) {
    EXPECT_LE(r.body.size(), body_limit);
    EXPECT_GE(r.body_bytes, r.body.size());
    EXPECT_NE(r.id, 0);
    out.requests.push_back(describe(r));
  }
  out.replies = p.take_replies();
  return out;
}

// Feeds a stream to fresh parsers, whole and in 5-byte pieces: neither may crash, emit
// more than one request, keep more body than the limit or answer with malformed records,
// and both must agree. Returns how many requests were emitted.
std::size_t expect_survives(std::string_view in, std::size_t body_limit, const std::string& what) {
  outcome whole = parse_in_pieces(in, body_limit, in.size() + 1);
  outcome pieces = parse_in_pieces(in, body_limit, 5);
  EXPECT_EQ(whole.ok, whole.err == error::none) << what;
  EXPECT_LE(whole.requests.size(), 1u) << what;
  EXPECT_EQ(whole.ok, pieces.ok) << what;
  EXPECT_EQ(whole.err, pieces.err) << what;
  EXPECT_EQ(whole.requests, pieces.requests) << what;
  EXPECT_EQ(whole.replies, pieces.replies) << what;
  auto replies = read_records(whole.replies);
  EXPECT_TRUE(replies.whole) << what;
  for (auto& r : replies.records) EXPECT_EQ(r.version, 1) << what;
  return whole.requests.size();
}

std::string hostile_base() {
  // A management query, then a request with a four-byte-length param and a body over the
  // limit in two STDIN records.
  std::string q;
  encode_pair(q, "FCGI_MAX_REQS", "");
  return record_of(get_values, 0, q) +
         nginx_request(1, true, {{"REQUEST_METHOD", "POST"}, {"HTTP_X", std::string(130, 'h')}},
                       std::string(40, 'b'), 24);
}

TEST(FastcgiParser, EveryBitFlipOfAValidStreamIsHandledSafely) {
  const std::string base = hostile_base();
  constexpr std::size_t limit = 16;
  ASSERT_EQ(expect_survives(base, limit, "unmodified"), 1u);
  for (std::size_t i = 0; i < base.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string flipped = base;
      flipped[i] = static_cast<char>(flipped[i] ^ (1 << bit));
      expect_survives(flipped, limit, "byte " + std::to_string(i) + " bit " + std::to_string(bit));
    }
  }
}

TEST(FastcgiParser, EveryTruncationOfAValidStreamIsHandledSafelyAndEmitsNothing) {
  const std::string base = hostile_base();
  for (std::size_t len = 0; len < base.size(); ++len) {
    std::string what = "truncated to " + std::to_string(len);
    // The empty STDIN is the last record: no prefix holds a complete request.
    EXPECT_EQ(expect_survives(std::string_view(base).substr(0, len), 16, what), 0u) << what;
    parser p(16);
    EXPECT_TRUE(feed(p, std::string_view(base).substr(0, len))) << what;
  }
}

}  // namespace
}  // namespace cartgate::fastcgi

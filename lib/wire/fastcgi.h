// FastCGI, the responder role, as nginx speaks it (FastCGI 1.0 specification): bytes
// from a connection in, complete requests out; a response in, records out. No sockets
// here, so every split of the stream, every hostile record and every bound is tested on
// its own (tests/unit/fastcgi_test.cc); app/front.cc owns the connections.
//
//   fastcgi::parser p(64 * 1024);            // STDIN bytes kept per request
//   if (!p.feed(buf, n)) close(fd);          // protocol error: p.error() says which
//   while (auto req = p.next_request()) handle(*req);
//   write(fd, p.take_replies());             // management answers, refused requests
//   write(fd, fastcgi::encode_response(req->id, "Status: 200 OK\r\n…"));
//
// One request at a time per connection (FCGI_MPXS_CONNS is 0, as nginx expects); a
// second BEGIN_REQUEST while one is open is refused with FCGI_CANT_MPX_CONN. With
// FCGI_KEEP_CONN the connection carries the next request after the answer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace cartgate::fastcgi {

// Record types and constants of the specification (section 8).
enum record_type : std::uint8_t {
  begin_request = 1,
  abort_request = 2,
  end_request = 3,
  params = 4,
  stdin_record = 5,
  stdout_record = 6,
  stderr_record = 7,
  data = 8,
  get_values = 9,
  get_values_result = 10,
  unknown_type = 11,
};
inline constexpr std::uint16_t role_responder = 1;
inline constexpr std::uint8_t flag_keep_conn = 1;
inline constexpr std::uint8_t status_request_complete = 0;
inline constexpr std::uint8_t status_cant_mpx_conn = 1;
inline constexpr std::uint8_t status_unknown_role = 3;

// All the name-value pairs of one request (nginx sends the HTTP headers as params):
// beyond this the connection is dropped rather than buffered without end.
inline constexpr std::size_t max_params_bytes = 256 * 1024;

struct request {
  std::uint16_t id = 0;
  bool keep_conn = false;
  std::vector<std::pair<std::string, std::string>> params;
  std::string body;            // the first body_limit bytes of STDIN
  std::size_t body_bytes = 0;  // every STDIN byte received, kept or not

  // The value of a param, or nullptr.
  const std::string* param(std::string_view name) const;
  bool body_truncated() const { return body_bytes > body.size(); }
};

enum class error {
  none,
  bad_version,        // a record whose version is not 1
  params_too_large,   // past max_params_bytes
  bad_params,         // a name-value pair whose lengths run past the data
  unexpected_record,  // STDIN before PARAMS ended, PARAMS after, or BEGIN_REQUEST for an
                      // id already open (records of a refused request are dropped)
  bad_begin_request,  // a BEGIN_REQUEST body shorter than 8 bytes, or request id 0
};
std::string_view error_name(error e);

class parser {
 public:
  explicit parser(std::size_t body_limit);

  // Appends bytes read from the connection, in any split. false: a protocol error; the
  // connection must be closed (error() says why). Nothing more is parsed after one.
  bool feed(const char* bytes, std::size_t n);

  // Requests whose STDIN has ended, in order.
  std::optional<request> next_request();

  // Records owed to the peer that belong to no handled request: GET_VALUES_RESULT,
  // UNKNOWN_TYPE, END_REQUEST for refused or aborted requests. Empties the buffer.
  std::string take_replies();

  error last_error() const { return error_; }
  // True while a request is being received (BEGIN_REQUEST seen, STDIN not ended) or
  // bytes of an incomplete record are buffered: the connection is not idle.
  bool mid_request() const;

 private:
  bool on_record(std::uint8_t type, std::uint16_t id, std::string_view content);
  bool on_params_done();
  bool fail(error e);

  std::size_t body_limit_;
  std::string buffer_;      // unparsed bytes
  std::size_t offset_ = 0;  // parsed prefix of buffer_
  std::optional<request> open_;
  std::string params_bytes_;  // PARAMS stream of the open request
  bool params_done_ = false;
  std::vector<request> ready_;
  std::size_t ready_head_ = 0;
  std::string replies_;
  error error_ = error::none;
};

// Parses a name-value pair stream (section 3.4). nullopt when a length runs past the end.
std::optional<std::vector<std::pair<std::string, std::string>>> decode_pairs(std::string_view in);
void encode_pair(std::string& out, std::string_view name, std::string_view value);

// One record: 8-byte header, content, padding to a multiple of 8. content ≤ 65535 bytes.
void append_record(std::string& out, record_type type, std::uint16_t id, std::string_view content);

// The whole answer to a request: its CGI response (status line, headers, blank line,
// body) as STDOUT records, the empty STDOUT that ends the stream, and END_REQUEST.
std::string encode_response(std::uint16_t id, std::string_view cgi_response);
void append_end_request(std::string& out, std::uint16_t id, std::uint8_t protocol_status,
                        std::uint32_t app_status = 0);

}  // namespace cartgate::fastcgi

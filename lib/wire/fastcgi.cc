#include "wire/fastcgi.h"

#include <algorithm>

namespace cartgate::fastcgi {
namespace {

constexpr std::size_t header_bytes = 8;
constexpr std::size_t max_content = 65535;

std::uint16_t be16(const unsigned char* p) {
  return static_cast<std::uint16_t>((p[0] << 8) | p[1]);
}

// Section 3.4: a length below 128 is one byte; otherwise four, high bit set.
bool read_length(std::string_view in, std::size_t& pos, std::size_t& length) {
  if (pos >= in.size()) return false;
  auto b0 = static_cast<unsigned char>(in[pos]);
  if ((b0 & 0x80) == 0) {
    length = b0;
    pos += 1;
    return true;
  }
  if (in.size() - pos < 4) return false;
  const auto* p = reinterpret_cast<const unsigned char*>(in.data() + pos);
  length = (static_cast<std::size_t>(p[0] & 0x7f) << 24) | (static_cast<std::size_t>(p[1]) << 16) |
           (static_cast<std::size_t>(p[2]) << 8) | p[3];
  pos += 4;
  return true;
}

void write_length(std::string& out, std::size_t n) {
  if (n < 128) {
    out += static_cast<char>(n);
    return;
  }
  out += static_cast<char>(((n >> 24) & 0x7f) | 0x80);
  out += static_cast<char>((n >> 16) & 0xff);
  out += static_cast<char>((n >> 8) & 0xff);
  out += static_cast<char>(n & 0xff);
}

}  // namespace

// An enum's names for logs and metrics, one case each: these switches share a shape
// across the codecs by design (a name never shifts the way a number would).
std::string_view error_name(error e) {
  switch (e) {
    case error::none:
      return "none";
    case error::bad_version:
      return "bad_version";
    case error::params_too_large:
      return "params_too_large";
    case error::bad_params:
      return "bad_params";
    case error::unexpected_record:
      return "unexpected_record";
    case error::bad_begin_request:
      return "bad_begin_request";
  }
  return "unknown";
}

const std::string* request::param(std::string_view name) const {
  for (auto& [k, v] : params) {
    if (k == name) return &v;
  }
  return nullptr;
}

std::optional<std::vector<std::pair<std::string, std::string>>> decode_pairs(std::string_view in) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t pos = 0;
  while (pos < in.size()) {
    std::size_t name_length = 0, value_length = 0;
    if (!read_length(in, pos, name_length) || !read_length(in, pos, value_length))
      return std::nullopt;
    if (name_length > in.size() - pos || value_length > in.size() - pos - name_length)
      return std::nullopt;
    out.emplace_back(std::string(in.substr(pos, name_length)),
                     std::string(in.substr(pos + name_length, value_length)));
    pos += name_length + value_length;
  }
  return out;
}

void encode_pair(std::string& out, std::string_view name, std::string_view value) {
  write_length(out, name.size());
  write_length(out, value.size());
  out.append(name);
  out.append(value);
}

void append_record(std::string& out, record_type type, std::uint16_t id, std::string_view content) {
  std::size_t padding = (8 - content.size() % 8) % 8;
  char head[header_bytes] = {1,
                             static_cast<char>(type),
                             static_cast<char>(id >> 8),
                             static_cast<char>(id & 0xff),
                             static_cast<char>(content.size() >> 8),
                             static_cast<char>(content.size() & 0xff),
                             static_cast<char>(padding),
                             0};
  out.append(head, header_bytes);
  out.append(content);
  out.append(padding, '\0');
}

void append_end_request(std::string& out, std::uint16_t id, std::uint8_t protocol_status,
                        std::uint32_t app_status) {
  char body[8] = {static_cast<char>(app_status >> 24),
                  static_cast<char>(app_status >> 16),
                  static_cast<char>(app_status >> 8),
                  static_cast<char>(app_status),
                  static_cast<char>(protocol_status),
                  0,
                  0,
                  0};
  append_record(out, end_request, id, std::string_view(body, 8));
}

std::string encode_response(std::uint16_t id, std::string_view cgi_response) {
  std::string out;
  std::size_t records = cgi_response.size() / max_content + 3;
  out.reserve(cgi_response.size() + records * 16);
  for (std::size_t pos = 0; pos < cgi_response.size(); pos += max_content) {
    append_record(out, stdout_record, id, cgi_response.substr(pos, max_content));
  }
  append_record(out, stdout_record, id, {});
  append_end_request(out, id, status_request_complete);
  return out;
}

parser::parser(std::size_t body_limit) : body_limit_(body_limit) {}

bool parser::fail(error e) {
  error_ = e;
  return false;
}

bool parser::mid_request() const { return open_.has_value() || buffer_.size() > offset_; }

std::optional<request> parser::next_request() {
  if (ready_head_ >= ready_.size()) {
    ready_.clear();
    ready_head_ = 0;
    return std::nullopt;
  }
  return std::move(ready_[ready_head_++]);
}

std::string parser::take_replies() {
  std::string out;
  out.swap(replies_);
  return out;
}

bool parser::feed(const char* bytes, std::size_t n) {
  if (error_ != error::none) return false;
  buffer_.append(bytes, n);
  while (buffer_.size() - offset_ >= header_bytes) {
    const auto* h = reinterpret_cast<const unsigned char*>(buffer_.data() + offset_);
    if (h[0] != 1) return fail(error::bad_version);
    std::size_t content_length = be16(h + 4);
    std::size_t total = header_bytes + content_length + h[6];
    if (buffer_.size() - offset_ < total) break;
    std::string_view content(buffer_.data() + offset_ + header_bytes, content_length);
    if (!on_record(h[1], be16(h + 2), content)) return false;
    offset_ += total;
  }
  // Keep the unparsed tail only; compact once the parsed prefix dominates.
  if (offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  } else if (offset_ > 4096 && offset_ * 2 > buffer_.size()) {
    buffer_.erase(0, offset_);
    offset_ = 0;
  }
  return true;
}

bool parser::on_record(std::uint8_t type, std::uint16_t id, std::string_view content) {
  if (id == 0) {
    // Management records (section 4). Only GET_VALUES is defined.
    if (type == get_values) {
      auto asked = decode_pairs(content);
      if (!asked) return fail(error::bad_params);
      // Each known name answered once, however often it was asked: the reply stays one
      // small record.
      std::string values;
      bool mpxs = false, conns = false, reqs = false;
      for (auto& [name, _] : *asked) {
        if (name == "FCGI_MPXS_CONNS" && !mpxs)
          encode_pair(values, name, "0"), mpxs = true;
        else if (name == "FCGI_MAX_CONNS" && !conns)
          encode_pair(values, name, "1024"), conns = true;
        else if (name == "FCGI_MAX_REQS" && !reqs)
          encode_pair(values, name, "1024"), reqs = true;
      }
      append_record(replies_, get_values_result, 0, values);
      return true;
    }
    if (type == begin_request) return fail(error::bad_begin_request);
    char body[8] = {static_cast<char>(type), 0, 0, 0, 0, 0, 0, 0};
    append_record(replies_, unknown_type, 0, std::string_view(body, 8));
    return true;
  }
  switch (type) {
    case begin_request: {
      if (content.size() < 8) return fail(error::bad_begin_request);
      const auto* b = reinterpret_cast<const unsigned char*>(content.data());
      if (open_ && open_->id == id) return fail(error::unexpected_record);  // begun twice
      if (open_) {
        // Multiplexing was not offered; this request is refused, the open one goes on.
        append_end_request(replies_, id, status_cant_mpx_conn);
        return true;
      }
      if (be16(b) != role_responder) {
        append_end_request(replies_, id, status_unknown_role);
        return true;
      }
      open_.emplace();
      open_->id = id;
      open_->keep_conn = (b[2] & flag_keep_conn) != 0;
      params_bytes_.clear();
      params_done_ = false;
      return true;
    }
    case abort_request:
      if (open_ && open_->id == id) {
        open_.reset();
        append_end_request(replies_, id, status_request_complete);
      }
      // An abort for a request already handed out is answered by that request's reply.
      return true;
    case params:
      if (!open_ || open_->id != id) {
        // Records of a refused request (wrong role, multiplexed) are dropped.
        return true;
      }
      if (params_done_) return fail(error::unexpected_record);
      if (content.empty()) return on_params_done();
      if (params_bytes_.size() + content.size() > max_params_bytes)
        return fail(error::params_too_large);
      params_bytes_.append(content);
      return true;
    case stdin_record:
      if (!open_ || open_->id != id) return true;
      if (!params_done_) return fail(error::unexpected_record);
      if (content.empty()) {
        ready_.push_back(std::move(*open_));
        open_.reset();
        return true;
      }
      open_->body_bytes += content.size();
      if (open_->body.size() < body_limit_) {
        open_->body.append(content.substr(0, body_limit_ - open_->body.size()));
      }
      return true;
    case data:
      return true;  // the filter role's stream; a responder ignores it
    default: {
      char body[8] = {static_cast<char>(type), 0, 0, 0, 0, 0, 0, 0};
      append_record(replies_, unknown_type, 0, std::string_view(body, 8));
      return true;
    }
  }
}

bool parser::on_params_done() {
  auto pairs = decode_pairs(params_bytes_);
  if (!pairs) return fail(error::bad_params);
  open_->params = std::move(*pairs);
  params_bytes_.clear();
  params_done_ = true;
  return true;
}

}  // namespace cartgate::fastcgi

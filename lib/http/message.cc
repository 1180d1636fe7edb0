#include "http/message.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <memory>
#include <sstream>

#include "base/text.h"

namespace cartgate::http {
namespace {

using text::ascii_lower;

std::optional<std::string> base64_decode(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0 || in.size() > 8192) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  // EVP_DecodeBlock counts padding bytes as data; drop them.
  std::size_t pad = 0;
  if (in.back() == '=') ++pad;
  if (in.size() > 1 && in[in.size() - 2] == '=') ++pad;
  out.resize(static_cast<std::size_t>(n) - pad);
  return out;
}

}  // namespace

std::string request::header(std::string_view name) const {
  auto it = headers.find(ascii_lower(name));
  return it == headers.end() ? std::string() : it->second;
}

std::string request::query_param(std::string_view name) const {
  auto params = parse_form(query);
  auto it = params.find(std::string(name));
  return it == params.end() ? std::string() : it->second;
}

std::string request::path_param(std::string_view name) const {
  auto it = path_params.find(name);
  return it == path_params.end() ? std::string() : it->second;
}

bool request::query_flag(std::string_view name) const {
  auto v = ascii_lower(query_param(name));
  return v == "true" || v == "1" || v == "yes";
}

std::optional<std::pair<std::string, std::string>> request::basic_credentials() const {
  auto auth = header("authorization");
  if (auth.size() < 6 || ascii_lower(auth.substr(0, 6)) != "basic ") return std::nullopt;
  auto decoded = base64_decode(std::string_view(auth).substr(6));
  if (!decoded) return std::nullopt;
  auto colon = decoded->find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(decoded->substr(0, colon), decoded->substr(colon + 1));
}

std::optional<std::string> request::bearer_token(std::string_view header_name) const {
  auto auth = header(header_name);
  if (auth.size() < 7 || ascii_lower(auth.substr(0, 7)) != "bearer ") return std::nullopt;
  auto token = auth.substr(7);
  auto first = token.find_first_not_of(' ');
  if (first == std::string::npos) return std::nullopt;
  token.erase(0, first);
  while (!token.empty() && token.back() == ' ') token.pop_back();
  if (token.empty()) return std::nullopt;
  return token;
}

void response::set_header(std::string name, std::string value) {
  for (auto& h : headers) {
    if (h.name == name) {
      h.value = std::move(value);
      return;
    }
  }
  headers.push_back({std::move(name), std::move(value)});
}

std::string param_text(const Json::Value& params, std::string_view name) {
  if (!params.isObject()) return {};
  const Json::Value* v = params.find(name.data(), name.data() + name.size());
  if (v == nullptr) return {};
  if (v->isString()) return v->asString();
  if (v->isUInt64()) return std::to_string(v->asUInt64());
  return {};
}

std::string url_decode(std::string_view in, bool plus_as_space) {
  std::string out;
  out.reserve(in.size());
  for (std::size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+' && plus_as_space) {
      out.push_back(' ');
    } else if (c == '%' && i + 2 < in.size() &&
               std::isxdigit(static_cast<unsigned char>(in[i + 1])) &&
               std::isxdigit(static_cast<unsigned char>(in[i + 2]))) {
      out.push_back(static_cast<char>(std::stoi(std::string(in.substr(i + 1, 2)), nullptr, 16)));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::map<std::string, std::string> parse_form(std::string_view in) {
  std::map<std::string, std::string> out;
  while (!in.empty()) {
    auto amp = in.find('&');
    auto pair = in.substr(0, amp);
    in = amp == std::string_view::npos ? std::string_view() : in.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    auto key = url_decode(pair.substr(0, eq), true);
    auto value = eq == std::string_view::npos ? std::string() : url_decode(pair.substr(eq + 1), true);
    out.emplace(std::move(key), std::move(value));  // first occurrence wins
  }
  return out;
}

std::optional<Json::Value> parse_json(std::string_view text) {
  thread_local std::unique_ptr<Json::CharReader> reader = [] {
    Json::CharReaderBuilder b;
    b["collectComments"] = false;
    b["allowSpecialFloats"] = false;
    b["rejectDupKeys"] = false;
    b["stackLimit"] = 64;
    return std::unique_ptr<Json::CharReader>(b.newCharReader());
  }();
  Json::Value v;
  std::string errors;
  // Nesting past stackLimit is reported by a throw, not by parse() returning false.
  try {
    if (!reader->parse(text.data(), text.data() + text.size(), &v, &errors)) return std::nullopt;
  } catch (const Json::Exception&) {
    return std::nullopt;
  }
  return v;
}

std::optional<Json::Value> parse_params(const request& r) {
  if (r.body.empty()) return Json::Value(Json::objectValue);
  if (r.content_type == "application/x-www-form-urlencoded") {
    Json::Value out(Json::objectValue);
    for (auto& [k, v] : parse_form(r.body)) out[k] = v;
    return out;
  }
  // CoCart accepts JSON whether or not the client labels it; WordPress answers
  // rest_invalid_json for a body that is not JSON.
  auto v = parse_json(r.body);
  if (!v) return std::nullopt;
  if (!v->isObject()) return Json::Value(Json::objectValue);
  return v;
}

std::string to_json(const Json::Value& v) {
  thread_local std::unique_ptr<Json::StreamWriter> writer = [] {
    Json::StreamWriterBuilder b;
    b["indentation"] = "";
    b["emitUTF8"] = true;
    return std::unique_ptr<Json::StreamWriter>(b.newStreamWriter());
  }();
  std::ostringstream os;
  writer->write(v, &os);
  return os.str();
}

response json_response(int status, const Json::Value& body) {
  response r;
  r.status = status;
  r.body = to_json(body);
  return r;
}

std::string_view status_text(int status) {
  switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Unknown";
  }
}

std::string media_type(std::string_view content_type) {
  content_type = content_type.substr(0, content_type.find(';'));
  while (!content_type.empty() && (content_type.back() == ' ' || content_type.back() == '\t')) {
    content_type.remove_suffix(1);
  }
  while (!content_type.empty() && (content_type.front() == ' ' || content_type.front() == '\t')) {
    content_type.remove_prefix(1);
  }
  std::string out(content_type);
  for (auto& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + ('a' - 'A'));
  }
  return out;
}

bool has_body(int status) { return status != 204 && status != 304 && !(status >= 100 && status < 200); }

void append_head(std::string& out, std::string_view lead, const response& res, bool length) {
  out += lead;
  out += std::to_string(res.status);
  out += ' ';
  out += status_text(res.status);
  out += "\r\n";
  if (has_body(res.status)) {
    out += "Content-Type: ";
    out += res.content_type;
    out += "\r\n";
    if (length) {
      out += "Content-Length: ";
      out += std::to_string(res.body.size());
      out += "\r\n";
    }
  }
  append_header_lines(out, res);
}

bool safe_header_line(const header& h) {
  auto clean = [](std::string_view s) { return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos; };
  return !h.name.empty() && clean(h.name) && clean(h.value);
}

void append_header_lines(std::string& out, const response& res) {
  out += "Cache-Control: no-store\r\n";
  for (auto& h : res.headers) {
    // A CR or LF would end the line early and let a value (a login, a plugin's header)
    // write headers of its own, or a body: such a header is never written.
    if (!safe_header_line(h)) continue;
    out += h.name;
    out += ": ";
    out += h.value;
    out += "\r\n";
  }
}

}  // namespace cartgate::http

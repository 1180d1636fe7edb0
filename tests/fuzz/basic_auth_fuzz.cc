// Fuzzes the Authorization header readers (http::request::basic_credentials and
// bearer_token). Credentials read from `Basic …` hold no ':' in the user name and,
// encoded again, read back the same; a Bearer token is never empty and carries no
// surrounding spaces.
#include <openssl/evp.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_check.h"
#include "http/message.h"

namespace http = cartgate::http;
using fuzz::check;

namespace {

std::string base64(std::string_view raw) {
  std::string out(4 * ((raw.size() + 2) / 3) + 1, '\0');
  int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(raw.data()),
                          static_cast<int>(raw.size()));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  http::request r;
  r.headers["authorization"] = std::string(reinterpret_cast<const char*>(data), size);
  if (auto creds = r.basic_credentials()) {
    check(creds->first.find(':') == std::string::npos);
    http::request again;
    again.headers["authorization"] = "Basic " + base64(creds->first + ":" + creds->second);
    check(again.basic_credentials() == creds);
  }
  if (auto token = r.bearer_token()) {
    check(!token->empty() && token->front() != ' ' && token->back() != ' ');
    check(r.headers["authorization"].find(*token) != std::string::npos);
  }
  return 0;
}

// Example rule plugin (seed 001, "Custom Headers"): the storefront's sales channel.
// A request may name its channel in X-Store-Channel; when it does, the value must be one
// of the known channels, and the "pos" (point of sale) channel is for staff roles only.
// No header means no check, so ordinary logins are unaffected.
//
//   X-Store-Channel: kiosk          -> 400 cocart_invalid_store_channel
//                                      data: {channel, allowed_channels}
//   X-Store-Channel: pos (customer) -> 403 cocart_store_channel_forbidden
//                                      data: {channel, required_roles}
#include <string.h>

#include <string>

#include "rules/plugin_api.h"

namespace {

const char* const channels[] = {"web", "ios", "android", "pos"};
const char* const staff_roles[] = {"shop_manager", "administrator", "pos_operator"};

bool has_staff_role(const cartgate_user_view* u) {
  for (size_t i = 0; i < u->role_count; ++i) {
    for (auto* r : staff_roles) {
      if (strcmp(u->roles[i], r) == 0) return true;
    }
  }
  return false;
}

int check(void*, const cartgate_permission* so_far, const cartgate_user_view* user,
          const cartgate_request_view* req, cartgate_decision* out) {
  if (!so_far->allowed) return CARTGATE_OK;  // as the seed: respect an earlier denial
  const char* channel = req->header(req->handle, "X-Store-Channel");
  if (!channel || !*channel) return CARTGATE_OK;
  std::string ch(channel);
  bool known = false;
  for (auto* c : channels) known = known || ch == c;
  // The value is echoed back, so only a short token-like value is; anything else is "".
  bool printable = ch.size() <= 32 && ch.find_first_not_of("abcdefghijklmnopqrstuvwxyz"
                                                           "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") ==
                                          std::string::npos;
  std::string shown = printable ? ch : "";
  if (!known) {
    std::string data = "{\"channel\":\"" + shown +
                       "\",\"allowed_channels\":[\"web\",\"ios\",\"android\",\"pos\"]}";
    cartgate_deny(out, "cocart_invalid_store_channel", "Unknown store channel.", 400, data.c_str());
    return CARTGATE_OK;
  }
  if (ch == "pos" && !has_staff_role(user)) {
    cartgate_deny(out, "cocart_store_channel_forbidden",
                  "This account may not sign in on the point-of-sale channel.", 403,
                  "{\"channel\":\"pos\",\"required_roles\":[\"shop_manager\",\"administrator\","
                  "\"pos_operator\"]}");
  }
  return CARTGATE_OK;
}

const cartgate_plugin plugin = {CARTGATE_PLUGIN_ABI_VERSION, "store_channel", nullptr, nullptr,
                                check, nullptr, sizeof(cartgate_plugin), 0, 0, nullptr};

}  // namespace

extern "C" CARTGATE_EXPORT const cartgate_plugin* cartgate_plugin_entry(void) { return &plugin; }

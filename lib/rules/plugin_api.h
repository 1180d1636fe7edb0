/* cartgate plugin ABI, version 2: custom permission rules and event listeners as shared
 * objects, loaded at start from [plugins] directory (config.toml). Plain C so a plugin
 * does not depend on cartgate's C++ types; write it in C or C++.
 *
 * A plugin exports one function, cartgate_plugin_entry(), returning a static description:
 *
 *   #include "rules/plugin_api.h"
 *   static int check(void*, const cartgate_permission* so_far, const cartgate_user_view* u,
 *                    const cartgate_request_view* r, cartgate_decision* out) {
 *     if (!so_far->allowed) return CARTGATE_OK;               // respect earlier denials
 *     const char* channel = r->header(r->handle, "X-Store-Channel");
 *     if (!channel || !*channel)
 *       cartgate_deny(out, "cocart_missing_channel", "X-Store-Channel is required.", 400, NULL);
 *     return CARTGATE_OK;
 *   }
 *   static const cartgate_plugin plugin = {CARTGATE_PLUGIN_ABI_VERSION, "store_channel",
 *                                          NULL, NULL, check, NULL, sizeof(cartgate_plugin)};
 *   CARTGATE_EXPORT const cartgate_plugin* cartgate_plugin_entry(void) { return &plugin; }
 *
 * Contract:
 * - start(config_json, &state) runs once per worker process before any request. The JSON
 *   object holds site_name, admin_email, smtp_url, mail_from, plugin_dir and data_dir (a
 *   writable folder for the plugin's files: $CARTGATE_PLUGIN_DATA_DIR, else "plugins" beside
 *   the FastCGI socket, e.g. /run/cartgate/plugins). A non-zero return stops cartgate's start with that plugin named.
 * - check() is the seed's cocart_login_permission_callback: (permission so far, user,
 *   request, endpoint) -> allow or error. It is called from many threads at once. Leave
 *   `out` untouched (or call cartgate_allow) to allow; call cartgate_deny to refuse. A
 *   non-zero return, or a C++ exception escaping it, refuses that request with 500
 *   cocart_internal_error; it never stops the worker.
 * - Events: the token events of contract §2.3 (token_generated, token_refreshed,
 *   token_validated, token_deleted, authenticated). Never a token or secret. They are
 *   queued by the request that fired them and delivered asynchronously, in order, in
 *   batches, on one thread cartgate runs per worker process for its plugins: at the
 *   latest 50 ms after they were fired (sooner when 256 are waiting), and at shutdown
 *   (SIGTERM) everything queued is delivered before stop(). Do slow work (mail, network)
 *   on a thread of your own, as plugins/vip_notify.cc does: the other plugins' batches
 *   wait for your callback.
 *   Version 2 (struct_size set): `events` names the events wanted (CARTGATE_EVENT_* bits;
 *   0 = none). An event no loaded plugin wants is never built or queued. on_events(state,
 *   events, count) receives a batch as structured views; payload_json is filled only
 *   when `flags` has CARTGATE_PLUGIN_JSON. Without on_events, on_event is called per
 *   event of the batch.
 *   Version 1 (or struct_size 0): on_event(state, name, payload_json) receives every
 *   event, one call each, as JSON: {event, user_id (string), pat?, time, ip?, user?: {id,
 *   login, email, display_name, roles[]}}. Plugins built for version 1 keep working.
 * - At most 10 000 events wait per worker process; past that they are dropped, counted in
 *   cartgate_plugin_events_dropped_total and logged (plugin_events_dropped).
 * - stop(state) runs at shutdown; release what start acquired.
 * - Pointers passed in live only for the duration of the call.
 * Any callback may be NULL.
 */
#ifndef CARTGATE_PLUGIN_API_H
#define CARTGATE_PLUGIN_API_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CARTGATE_PLUGIN_ABI_VERSION 2u
/* The oldest version cartgate still loads (its table ends at on_event). */
#define CARTGATE_PLUGIN_ABI_VERSION_MIN 1u
#define CARTGATE_OK 0
#define CARTGATE_EXPORT __attribute__((visibility("default")))

/* The permission so far: allowed, or the earlier rule's error. */
typedef struct cartgate_permission {
  int allowed;      /* 1 = allowed so far */
  const char* code; /* "" when allowed, else e.g. "cocart_geo_blocked" */
  int status;       /* 0 when allowed */
} cartgate_permission;

/* The user who just passed the password check. */
typedef struct cartgate_user_view {
  int64_t id;
  const char* login;
  const char* email;
  const char* display_name;
  const char* const* roles; /* role slugs, e.g. "customer", "vip_customer" */
  size_t role_count;
} cartgate_user_view;

/* The request. Getters return NULL when absent; header names are case-insensitive. */
typedef struct cartgate_request_view {
  const void* handle;
  const char* (*header)(const void* handle, const char* name);
  const char* (*param)(const void* handle, const char* name); /* body params, as text */
  const char* client_ip; /* resolved from the trusted proxies */
  const char* endpoint;  /* "login" (also cookie → token), "refresh", "validate" */
  const char* method;
  const char* path;
} cartgate_request_view;

/* The rule's answer. Strings are NUL-terminated and truncated to fit. */
typedef struct cartgate_decision {
  int deny;           /* 0 = allow */
  char code[64];      /* e.g. "cocart_missing_channel"; default "cocart_permission_denied" */
  char message[256];  /* default "Access denied." */
  int status;         /* 400..599; default 403 */
  char data_json[1024]; /* optional JSON object merged into the error's "data" */
} cartgate_decision;

/* Event bits: cartgate_plugin.events (what a plugin wants) and cartgate_event.kind. */
#define CARTGATE_EVENT_TOKEN_GENERATED 0x01u
#define CARTGATE_EVENT_TOKEN_REFRESHED 0x02u
#define CARTGATE_EVENT_TOKEN_VALIDATED 0x04u
#define CARTGATE_EVENT_TOKEN_DELETED 0x08u
#define CARTGATE_EVENT_AUTHENTICATED 0x10u
#define CARTGATE_EVENTS_ALL 0x1fu

/* cartgate_plugin.flags */
#define CARTGATE_PLUGIN_JSON 0x01u /* fill cartgate_event.payload_json */

/* One event of a batch (version 2). Strings are NUL-terminated, never NULL. */
typedef struct cartgate_event {
  uint32_t kind;                  /* one CARTGATE_EVENT_* bit */
  const char* name;               /* "token_validated", "authenticated", … */
  int64_t user_id;
  const char* pat;                /* "" when no session is involved */
  int64_t time;                   /* unix seconds */
  const char* ip;                 /* the client's address, "" when unknown */
  const cartgate_user_view* user; /* NULL when the event carries no user */
  const char* payload_json;       /* on_event's JSON with CARTGATE_PLUGIN_JSON, else NULL */
} cartgate_event;

typedef struct cartgate_plugin {
  uint32_t abi_version; /* CARTGATE_PLUGIN_ABI_VERSION */
  const char* name;     /* short, for logs */
  int (*start)(const char* config_json, void** state);
  void (*stop)(void* state);
  int (*check)(void* state, const cartgate_permission* so_far, const cartgate_user_view* user,
               const cartgate_request_view* request, cartgate_decision* out);
  void (*on_event)(void* state, const char* event_name, const char* payload_json);
  /* Version 2. Read only when abi_version >= 2 and struct_size covers the field, so a
   * table written for version 1 (which ends above) stays valid; 0 reads as version 1. */
  size_t struct_size; /* sizeof(cartgate_plugin) */
  uint32_t events;    /* CARTGATE_EVENT_* bits wanted; 0 = none */
  uint32_t flags;     /* CARTGATE_PLUGIN_* */
  void (*on_events)(void* state, const cartgate_event* events, size_t count);
} cartgate_plugin;

/* The one symbol a plugin exports. */
typedef const cartgate_plugin* (*cartgate_plugin_entry_fn)(void);
#define CARTGATE_PLUGIN_ENTRY "cartgate_plugin_entry"

static inline void cartgate_allow(cartgate_decision* out) { out->deny = 0; }

static inline void cartgate_deny(cartgate_decision* out, const char* code, const char* message,
                                 int status, const char* data_json) {
  out->deny = 1;
  snprintf(out->code, sizeof out->code, "%s", code ? code : "");
  snprintf(out->message, sizeof out->message, "%s", message ? message : "");
  out->status = status;
  snprintf(out->data_json, sizeof out->data_json, "%s", data_json ? data_json : "");
}

#ifdef __cplusplus
}
#endif

#endif /* CARTGATE_PLUGIN_API_H */

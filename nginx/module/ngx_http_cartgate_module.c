/*
 * cartgate's token check inside nginx (docs/nginx-module.md): the Bearer token of a
 * guarded request is verified in the worker — signature, expiry, issuer, the IP and
 * User-Agent bindings — and its session is checked against the revocation state that
 * cartgate keeps in a shared file (lib/auth/revocation_layout.h), so the request needs
 * no auth subrequest. When that state is stale (older than 1 s), unreadable, or does not
 * cover the token, the module asks cartgate instead through the auth subrequest
 * (cartgate_fallback), or answers 503: it never allows on state it cannot trust.
 *
 *     cartgate_key ES256 /etc/cartgate/jwt-public.pem;
 *     cartgate_issuer https://shop.example;
 *     cartgate_state /run/cartgate/revocation.state;
 *     location = /wp-json/cocart/v2/cart {
 *         include /etc/nginx/cartgate-verify.conf;   # cartgate_verify on; + error pages
 *         proxy_pass http://storefront;
 *     }
 */
#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/core_names.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <sys/mman.h>
#include <time.h>

#include "revocation_layout.h"

#define CARTGATE_MAX_TOKEN 8192
#define CARTGATE_STATE_MAX_AGE_NS 1000000000LL

enum { CG_ALG_HS256 = 1, CG_ALG_RS256, CG_ALG_ES256 };
enum { CG_VERIFY_OFF = 0, CG_VERIFY_ON, CG_VERIFY_OPTIONAL };

typedef struct {
    ngx_uint_t alg;
    ngx_str_t kid;       /* empty: any kid (or none) */
    ngx_str_t secret;    /* HS256 */
    EVP_PKEY *pkey;      /* RS256 / ES256: public key only */
    EVP_MAC_CTX *hmac;   /* HS256: keyed once at load, re-initialised per token */
} cg_key_t;

static void cg_free_hmac(void *data) { EVP_MAC_CTX_free(data); }

typedef struct {
    ngx_uint_t verify;
    ngx_array_t *keys;   /* cg_key_t */
    ngx_str_t issuer;
    ngx_str_t prefix;
    ngx_str_t auth_header;
    ngx_flag_t bind_ip;
    ngx_flag_t bind_device;
    ngx_str_t fallback;  /* auth subrequest URI; empty: 503 */
    ngx_uint_t failure_status;
    ngx_str_t state_path;
} cg_loc_conf_t;

typedef struct {
    ngx_int_t user_id;
    ngx_int_t user_login;
    ngx_int_t session;
} cg_main_conf_t;

typedef struct {
    ngx_uint_t done;
    ngx_uint_t status;
    ngx_http_request_t *subrequest;
} cg_ctx_t;

/* The worker's mapping of the state file (one per path; a worker has few). */
typedef struct {
    ngx_str_t path;
    const struct cartgate_state_header *map;
    size_t size;
    ino_t ino;
    int64_t tried_ns;
} cg_state_t;

#define CG_MAX_STATES 4
static cg_state_t cg_states[CG_MAX_STATES];
static ngx_uint_t cg_nstates;

static ngx_int_t cg_init(ngx_conf_t *cf);
static void *cg_create_main_conf(ngx_conf_t *cf);
static void *cg_create_loc_conf(ngx_conf_t *cf);
static char *cg_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child);
static char *cg_key_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *cg_verify_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
static char *cg_fallback_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);

static ngx_command_t cg_commands[] = {
    { ngx_string("cartgate_verify"),
      NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
      cg_verify_directive, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL },
    { ngx_string("cartgate_key"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE23,
      cg_key_directive, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL },
    { ngx_string("cartgate_issuer"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
      ngx_conf_set_str_slot, NGX_HTTP_LOC_CONF_OFFSET, offsetof(cg_loc_conf_t, issuer), NULL },
    { ngx_string("cartgate_prefix"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
      ngx_conf_set_str_slot, NGX_HTTP_LOC_CONF_OFFSET, offsetof(cg_loc_conf_t, prefix), NULL },
    { ngx_string("cartgate_auth_header"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
      ngx_conf_set_str_slot, NGX_HTTP_LOC_CONF_OFFSET, offsetof(cg_loc_conf_t, auth_header), NULL },
    { ngx_string("cartgate_bind_ip"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_FLAG,
      ngx_conf_set_flag_slot, NGX_HTTP_LOC_CONF_OFFSET, offsetof(cg_loc_conf_t, bind_ip), NULL },
    { ngx_string("cartgate_bind_device"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_FLAG,
      ngx_conf_set_flag_slot, NGX_HTTP_LOC_CONF_OFFSET, offsetof(cg_loc_conf_t, bind_device), NULL },
    { ngx_string("cartgate_failure_status"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
      ngx_conf_set_num_slot, NGX_HTTP_LOC_CONF_OFFSET, offsetof(cg_loc_conf_t, failure_status), NULL },
    { ngx_string("cartgate_state"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
      ngx_conf_set_str_slot, NGX_HTTP_LOC_CONF_OFFSET, offsetof(cg_loc_conf_t, state_path), NULL },
    { ngx_string("cartgate_fallback"),
      NGX_HTTP_MAIN_CONF | NGX_HTTP_SRV_CONF | NGX_HTTP_LOC_CONF | NGX_CONF_TAKE1,
      cg_fallback_directive, NGX_HTTP_LOC_CONF_OFFSET, 0, NULL },
    ngx_null_command
};

static ngx_http_module_t cg_module_ctx = {
    NULL, cg_init, cg_create_main_conf, NULL, NULL, NULL, cg_create_loc_conf, cg_merge_loc_conf
};

ngx_module_t ngx_http_cartgate_module = {
    NGX_MODULE_V1, &cg_module_ctx, cg_commands, NGX_HTTP_MODULE,
    NULL, NULL, NULL, NULL, NULL, NULL, NULL, NGX_MODULE_V1_PADDING
};

/* ---- configuration ---------------------------------------------------------------- */

static void *cg_create_main_conf(ngx_conf_t *cf) {
    cg_main_conf_t *mc = ngx_pcalloc(cf->pool, sizeof(cg_main_conf_t));
    if (mc == NULL) return NULL;
    mc->user_id = mc->user_login = mc->session = NGX_ERROR;
    return mc;
}

static void *cg_create_loc_conf(ngx_conf_t *cf) {
    cg_loc_conf_t *lc = ngx_pcalloc(cf->pool, sizeof(cg_loc_conf_t));
    if (lc == NULL) return NULL;
    lc->verify = NGX_CONF_UNSET_UINT;
    lc->keys = NGX_CONF_UNSET_PTR;
    lc->bind_ip = NGX_CONF_UNSET;
    lc->bind_device = NGX_CONF_UNSET;
    lc->failure_status = NGX_CONF_UNSET_UINT;
    lc->fallback.data = NULL;
    return lc;
}

static char *cg_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child) {
    cg_loc_conf_t *prev = parent, *conf = child;
    ngx_conf_merge_uint_value(conf->verify, prev->verify, CG_VERIFY_OFF);
    ngx_conf_merge_ptr_value(conf->keys, prev->keys, NULL);
    ngx_conf_merge_str_value(conf->issuer, prev->issuer, "");
    ngx_conf_merge_str_value(conf->prefix, prev->prefix, "");
    ngx_conf_merge_str_value(conf->auth_header, prev->auth_header, "");
    ngx_conf_merge_value(conf->bind_ip, prev->bind_ip, 1);
    ngx_conf_merge_value(conf->bind_device, prev->bind_device, 1);
    ngx_conf_merge_uint_value(conf->failure_status, prev->failure_status, NGX_HTTP_UNAUTHORIZED);
    ngx_conf_merge_str_value(conf->state_path, prev->state_path, "");
    if (conf->fallback.data == NULL) conf->fallback = prev->fallback;
    if (conf->failure_status != NGX_HTTP_UNAUTHORIZED && conf->failure_status != NGX_HTTP_FORBIDDEN) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "cartgate_failure_status must be 401 or 403");
        return NGX_CONF_ERROR;
    }
    if (conf->verify != CG_VERIFY_OFF) {
        if (conf->keys == NULL || conf->keys->nelts == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "cartgate_verify needs a cartgate_key");
            return NGX_CONF_ERROR;
        }
        if (conf->state_path.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "cartgate_verify needs cartgate_state");
            return NGX_CONF_ERROR;
        }
        if (conf->fallback.data == NULL) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "cartgate_verify needs cartgate_fallback (a URI, or off for 503)");
            return NGX_CONF_ERROR;
        }
    }
    return NGX_CONF_OK;
}

static char *cg_verify_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf) {
    cg_loc_conf_t *lc = conf;
    ngx_str_t *v = cf->args->elts;
    (void) cmd;
    if (lc->verify != NGX_CONF_UNSET_UINT) return "is duplicate";
    if (ngx_strcmp(v[1].data, "on") == 0) lc->verify = CG_VERIFY_ON;
    else if (ngx_strcmp(v[1].data, "optional") == 0) lc->verify = CG_VERIFY_OPTIONAL;
    else if (ngx_strcmp(v[1].data, "off") == 0) lc->verify = CG_VERIFY_OFF;
    else return "must be on, optional or off";
    return NGX_CONF_OK;
}

static char *cg_fallback_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf) {
    cg_loc_conf_t *lc = conf;
    ngx_str_t *v = cf->args->elts;
    (void) cmd;
    if (lc->fallback.data != NULL) return "is duplicate";
    if (ngx_strcmp(v[1].data, "off") == 0) {
        lc->fallback.len = 0;
        lc->fallback.data = (u_char *) "";
    } else {
        lc->fallback = v[1];
    }
    return NGX_CONF_OK;
}

static char *cg_key_directive(ngx_conf_t *cf, ngx_command_t *cmd, void *conf) {
    cg_loc_conf_t *lc = conf;
    ngx_str_t *v = cf->args->elts;
    cg_key_t *k;
    ngx_file_t file;
    ngx_file_info_t fi;
    u_char *buf;
    ssize_t n;
    (void) cmd;

    if (lc->keys == NGX_CONF_UNSET_PTR) {
        lc->keys = ngx_array_create(cf->pool, 2, sizeof(cg_key_t));
        if (lc->keys == NULL) return NGX_CONF_ERROR;
    }
    k = ngx_array_push(lc->keys);
    if (k == NULL) return NGX_CONF_ERROR;
    ngx_memzero(k, sizeof(*k));
    if (ngx_strcmp(v[1].data, "HS256") == 0) k->alg = CG_ALG_HS256;
    else if (ngx_strcmp(v[1].data, "RS256") == 0) k->alg = CG_ALG_RS256;
    else if (ngx_strcmp(v[1].data, "ES256") == 0) k->alg = CG_ALG_ES256;
    else return "algorithm must be HS256, RS256 or ES256";
    if (lc->keys->nelts > 1 && ((cg_key_t *) lc->keys->elts)[0].alg != k->alg) {
        return "keys of one location must share one algorithm";
    }
    if (cf->args->nelts == 4) k->kid = v[3];

    /* Read by the master, as root, at start: the file may stay readable by root only. */
    ngx_memzero(&file, sizeof(file));
    file.name = v[2];
    file.log = cf->log;
    if (ngx_conf_full_name(cf->cycle, &file.name, 1) != NGX_OK) return NGX_CONF_ERROR;
    file.fd = ngx_open_file(file.name.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);
    if (file.fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno, "cannot open key file \"%V\"", &file.name);
        return NGX_CONF_ERROR;
    }
    if (ngx_fd_info(file.fd, &fi) == NGX_FILE_ERROR || ngx_file_size(&fi) > 65536) {
        ngx_close_file(file.fd);
        return "key file unreadable or too large";
    }
    buf = ngx_pnalloc(cf->pool, (size_t) ngx_file_size(&fi) + 1);
    if (buf == NULL) {
        ngx_close_file(file.fd);
        return NGX_CONF_ERROR;
    }
    n = ngx_read_file(&file, buf, (size_t) ngx_file_size(&fi), 0);
    ngx_close_file(file.fd);
    if (n < 0) return "cannot read key file";
    buf[n] = '\0';

    if (k->alg == CG_ALG_HS256) {
        /* As cartgate reads jwt.secret_file: raw bytes, trailing newlines dropped. */
        while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) n--;
        if (n < 32) return "HS256 secret must hold at least 32 bytes";
        k->secret.data = buf;
        k->secret.len = (size_t) n;
        /* HMAC() would look the MAC and digest up in OpenSSL's providers for every token;
         * a context keyed here is only re-initialised (same key) per token. */
        EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        k->hmac = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
        EVP_MAC_free(mac);
        OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) "SHA256", 0),
                               OSSL_PARAM_construct_end()};
        if (k->hmac == NULL || EVP_MAC_init(k->hmac, buf, (size_t) n, params) != 1) return "cannot set up HMAC-SHA256";
        ngx_pool_cleanup_t *cln = ngx_pool_cleanup_add(cf->pool, 0);
        if (cln == NULL) return NGX_CONF_ERROR;
        cln->handler = cg_free_hmac;
        cln->data = k->hmac;
    } else {
        BIO *bio = BIO_new_mem_buf(buf, (int) n);
        if (bio == NULL) return NGX_CONF_ERROR;
        k->pkey = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
        BIO_free(bio);
        ngx_explicit_memzero(buf, (size_t) n);
        if (k->pkey == NULL) return "not a PEM public key (nginx holds the public key only)";
        if ((k->alg == CG_ALG_RS256 && EVP_PKEY_base_id(k->pkey) != EVP_PKEY_RSA) ||
            (k->alg == CG_ALG_ES256 && EVP_PKEY_base_id(k->pkey) != EVP_PKEY_EC)) {
            return "the public key is not of the algorithm named";
        }
    }
    return NGX_CONF_OK;
}

/* ---- request-time helpers ---------------------------------------------------------- */

static int64_t cg_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* The mapped state for `path`, reopened when it is missing or stale (at most every
 * 200 ms); NULL when there is none. */
static const struct cartgate_state_header *cg_state(ngx_str_t *path, ngx_log_t *log, int64_t now_ns) {
    cg_state_t *s = NULL;
    ngx_uint_t i;
    for (i = 0; i < cg_nstates; i++) {
        if (cg_states[i].path.len == path->len && ngx_memcmp(cg_states[i].path.data, path->data, path->len) == 0) {
            s = &cg_states[i];
            break;
        }
    }
    if (s == NULL) {
        if (cg_nstates == CG_MAX_STATES) return NULL;
        s = &cg_states[cg_nstates++];
        s->path = *path; /* configuration memory: lives as long as the cycle */
    }
    if (s->map != NULL) {
        int64_t heard = __atomic_load_n(&s->map->heard_at_ns, __ATOMIC_ACQUIRE);
        if (heard != 0 && now_ns - heard <= CARTGATE_STATE_MAX_AGE_NS) return s->map;
    }
    if (now_ns - s->tried_ns < 200000000LL) return s->map;
    s->tried_ns = now_ns;

    /* Missing or stale: the writer may have made a new file; map it if so. */
    int fd = open((const char *) path->data, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        ngx_log_error(NGX_LOG_WARN, log, ngx_errno, "cartgate: cannot open state \"%V\"", path);
        return s->map;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t) st.st_size < CARTGATE_STATE_SIZE) {
        close(fd);
        return s->map;
    }
    if (s->map != NULL && st.st_ino == s->ino) {
        close(fd);
        return s->map;
    }
    void *m = mmap(NULL, CARTGATE_STATE_SIZE, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (m == MAP_FAILED) return s->map;
    if (!cartgate_state_valid(m, CARTGATE_STATE_SIZE)) {
        munmap(m, CARTGATE_STATE_SIZE);
        ngx_log_error(NGX_LOG_WARN, log, 0, "cartgate: \"%V\" is not a revocation state of this version", path);
        return s->map;
    }
    if (s->map != NULL) munmap((void *) s->map, s->size);
    s->map = m;
    s->size = CARTGATE_STATE_SIZE;
    s->ino = st.st_ino;
    return s->map;
}

static ngx_table_elt_t *cg_find_header(ngx_list_t *headers, const char *name, size_t len) {
    ngx_list_part_t *part = &headers->part;
    ngx_table_elt_t *h = part->elts;
    ngx_uint_t i;
    for (i = 0;; i++) {
        if (i >= part->nelts) {
            if (part->next == NULL) return NULL;
            part = part->next;
            h = part->elts;
            i = 0;
        }
        if (h[i].hash != 0 && h[i].key.len == len && ngx_strncasecmp(h[i].key.data, (u_char *) name, len) == 0) {
            return &h[i];
        }
    }
}

/* "Bearer <token>", as cartgate reads it; 0 when the value is not one. */
static ngx_int_t cg_bearer(ngx_str_t *value, ngx_str_t *token) {
    u_char *p, *e;
    if (value->len < 7 || ngx_strncasecmp(value->data, (u_char *) "bearer ", 7) != 0) return 0;
    p = value->data + 7;
    e = value->data + value->len;
    while (p < e && *p == ' ') p++;
    while (e > p && e[-1] == ' ') e--;
    if (p == e) return 0;
    token->data = p;
    token->len = (size_t) (e - p);
    return 1;
}

static ngx_int_t cg_b64url(ngx_pool_t *pool, u_char *src, size_t len, ngx_str_t *out) {
    ngx_str_t in = { len, src };
    out->data = ngx_pnalloc(pool, ngx_base64_decoded_length(len) + 1);
    if (out->data == NULL) return NGX_ERROR;
    if (ngx_decode_base64url(out, &in) != NGX_OK) return NGX_DECLINED;
    out->data[out->len] = '\0';
    return NGX_OK;
}

static int cg_integral(json_t *v, int64_t *out) {
    if (json_is_integer(v)) {
        *out = (int64_t) json_integer_value(v);
        return 1;
    }
    if (json_is_real(v)) {
        double d = json_real_value(v);
        if (d >= -9.2e18 && d <= 9.2e18 && (double) (int64_t) d == d) {
            *out = (int64_t) d;
            return 1;
        }
    }
    return 0;
}

static int cg_signature_ok(cg_key_t *k, u_char *signed_part, size_t signed_len, ngx_str_t *sig) {
    if (k->alg == CG_ALG_HS256) {
        u_char mac[EVP_MAX_MD_SIZE];
        if (sig->len != 32) return 0;
        size_t mac_len = 0;
        if (EVP_MAC_init(k->hmac, NULL, 0, NULL) != 1 || EVP_MAC_update(k->hmac, signed_part, signed_len) != 1 ||
            EVP_MAC_final(k->hmac, mac, &mac_len, sizeof mac) != 1) {
            return 0;
        }
        return mac_len == 32 && CRYPTO_memcmp(mac, sig->data, 32) == 0;
    }
    u_char der[80];
    const u_char *s = sig->data;
    size_t s_len = sig->len;
    if (k->alg == CG_ALG_ES256) {
        /* JOSE's r || s to the DER form OpenSSL verifies. */
        if (sig->len != 64) return 0;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig->data, 32, NULL), *ss = BN_bin2bn(sig->data + 32, 32, NULL);
        if (es == NULL || r == NULL || ss == NULL || !ECDSA_SIG_set0(es, r, ss)) {
            ECDSA_SIG_free(es);
            BN_free(r);
            BN_free(ss);
            return 0;
        }
        u_char *p = der;
        int n = i2d_ECDSA_SIG(es, NULL);
        if (n <= 0 || n > (int) sizeof(der)) {
            ECDSA_SIG_free(es);
            return 0;
        }
        n = i2d_ECDSA_SIG(es, &p);
        ECDSA_SIG_free(es);
        s = der;
        s_len = (size_t) n;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int ok = md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
             EVP_DigestVerify(md, s, s_len, signed_part, signed_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

typedef struct {
    int64_t user_id;
    int64_t iat; /* the latest of iat and nbf; 0 when the token has neither */
    ngx_str_t username;
    ngx_str_t pat;
    ngx_str_t ip;
    ngx_str_t device;
} cg_claims_t;

static ngx_str_t cg_copy(ngx_pool_t *pool, const char *s) {
    ngx_str_t out = { 0, NULL };
    size_t n = ngx_strlen(s);
    out.data = ngx_pnalloc(pool, n + 1);
    if (out.data == NULL) return out;
    ngx_memcpy(out.data, s, n + 1);
    out.len = n;
    return out;
}

/* The checks of cartgate's jwt::verify and bearer_check, up to (not including) the
 * session: NGX_OK with the claims, NGX_DECLINED for a token cartgate would refuse. */
static ngx_int_t cg_verify_token(ngx_http_request_t *r, cg_loc_conf_t *lc, ngx_str_t *token, cg_claims_t *c) {
    u_char *dot1, *dot2, *end;
    ngx_str_t header, payload, sig;
    json_t *h = NULL, *p = NULL, *v;
    json_error_t err;
    ngx_int_t rc = NGX_DECLINED;
    int64_t exp, t, now = (int64_t) ngx_time();

    if (token->len > CARTGATE_MAX_TOKEN) return NGX_DECLINED;
    end = token->data + token->len;
    dot1 = ngx_strlchr(token->data, end, '.');
    if (dot1 == NULL) return NGX_DECLINED;
    dot2 = ngx_strlchr(dot1 + 1, end, '.');
    if (dot2 == NULL || ngx_strlchr(dot2 + 1, end, '.') != NULL) return NGX_DECLINED;
    if (cg_b64url(r->pool, token->data, (size_t) (dot1 - token->data), &header) != NGX_OK ||
        cg_b64url(r->pool, dot2 + 1, (size_t) (end - dot2 - 1), &sig) != NGX_OK) {
        return NGX_DECLINED;
    }
    h = json_loadb((const char *) header.data, header.len, JSON_REJECT_DUPLICATES, &err);
    if (!json_is_object(h)) goto done;
    v = json_object_get(h, "alg");
    if (!json_is_string(v) || json_object_get(h, "crit") != NULL) goto done;
    const char *alg = json_string_value(v);
    cg_key_t *keys = lc->keys->elts;
    ngx_uint_t want = ngx_strcmp(alg, "HS256") == 0 ? CG_ALG_HS256
                      : ngx_strcmp(alg, "RS256") == 0 ? CG_ALG_RS256
                      : ngx_strcmp(alg, "ES256") == 0 ? CG_ALG_ES256 : 0;
    if (want != keys[0].alg) goto done;
    v = json_object_get(h, "kid");
    if (v != NULL && !json_is_string(v)) goto done;
    const char *kid = v != NULL ? json_string_value(v) : NULL;

    /* The key the kid names; otherwise each key without a kid of its own. */
    ngx_uint_t i, good = 0;
    size_t signed_len = (size_t) (dot2 - token->data);
    for (i = 0; i < lc->keys->nelts && !good; i++) {
        if (kid != NULL && keys[i].kid.len == ngx_strlen(kid) && ngx_strncmp(keys[i].kid.data, kid, keys[i].kid.len) == 0) {
            good = cg_signature_ok(&keys[i], token->data, signed_len, &sig);
            if (!good) goto done;
        }
    }
    for (i = 0; i < lc->keys->nelts && !good; i++) {
        if (keys[i].kid.len == 0) good = cg_signature_ok(&keys[i], token->data, signed_len, &sig);
    }
    if (!good) goto done;

    if (cg_b64url(r->pool, dot1 + 1, (size_t) (dot2 - dot1 - 1), &payload) != NGX_OK) goto done;
    p = json_loadb((const char *) payload.data, payload.len, 0, &err);
    if (!json_is_object(p)) goto done;
    if (!cg_integral(json_object_get(p, "exp"), &exp)) goto done;
    if (now >= exp) goto done;
    c->iat = 0;
    for (i = 0; i < 2; i++) {
        v = json_object_get(p, i == 0 ? "nbf" : "iat");
        if (v == NULL) continue;
        if (!cg_integral(v, &t)) goto done;
        if (t > now) goto done;
        if (t > c->iat) c->iat = t;
    }
    v = json_object_get(p, "iss");
    if (lc->issuer.len > 0) {
        if (!json_is_string(v) || json_string_length(v) != lc->issuer.len ||
            ngx_strncmp(json_string_value(v), lc->issuer.data, lc->issuer.len) != 0) {
            goto done;
        }
    }
    json_t *u = json_object_get(json_object_get(p, "data"), "user");
    if (!json_is_object(u) || !cg_integral(json_object_get(u, "id"), &c->user_id) ||
        !json_is_string(json_object_get(u, "pat")) || !json_is_string(json_object_get(u, "username"))) {
        goto done;
    }
    c->pat = cg_copy(r->pool, json_string_value(json_object_get(u, "pat")));
    c->username = cg_copy(r->pool, json_string_value(json_object_get(u, "username")));
    v = json_object_get(u, "ip");
    c->ip = json_is_string(v) ? cg_copy(r->pool, json_string_value(v)) : (ngx_str_t) { 0, NULL };
    v = json_object_get(u, "device");
    c->device = json_is_string(v) ? cg_copy(r->pool, json_string_value(v)) : (ngx_str_t) { 0, NULL };
    if (c->pat.data == NULL || c->username.data == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    /* The bindings, as bearer_check compares them. */
    if (lc->bind_ip && c->ip.len > 0 &&
        (c->ip.len != r->connection->addr_text.len ||
         ngx_strncmp(c->ip.data, r->connection->addr_text.data, c->ip.len) != 0)) {
        goto done;
    }
    if (lc->bind_device && c->device.len > 0) {
        ngx_table_elt_t *ua = r->headers_in.user_agent;
        if (ua == NULL || ua->value.len != c->device.len || ngx_strncmp(ua->value.data, c->device.data, c->device.len) != 0) {
            goto done;
        }
    }
    rc = NGX_OK;
done:
    json_decref(h);
    json_decref(p);
    return rc;
}

static void cg_set(ngx_http_request_t *r, ngx_int_t index, u_char *data, size_t len) {
    if (index == NGX_ERROR) return;
    ngx_http_variable_value_t *vv = &r->variables[index];
    vv->data = data;
    vv->len = len;
    vv->valid = 1;
    vv->no_cacheable = 0;
    vv->not_found = 0;
}

static ngx_int_t cg_refuse(ngx_http_request_t *r, cg_loc_conf_t *lc) {
    if (lc->failure_status == NGX_HTTP_UNAUTHORIZED) {
        /* @cartgate_forbidden sets its own; the 401's comes from here, as from cartgate. */
        ngx_table_elt_t *h = ngx_list_push(&r->headers_out.headers);
        if (h == NULL) return NGX_HTTP_INTERNAL_SERVER_ERROR;
        h->hash = 1;
        ngx_str_set(&h->key, "WWW-Authenticate");
        ngx_str_set(&h->value, "Bearer error=\"invalid_token\"");
        r->headers_out.www_authenticate = h;
    }
    return (ngx_int_t) lc->failure_status;
}

static ngx_int_t cg_subrequest_done(ngx_http_request_t *r, void *data, ngx_int_t rc) {
    cg_ctx_t *ctx = data;
    ctx->done = 1;
    ctx->status = r->headers_out.status;
    return rc;
}

/* What the auth subrequest answered, handled as auth_request + auth_request_set would. */
static ngx_int_t cg_subrequest_result(ngx_http_request_t *r, cg_ctx_t *ctx) {
    cg_main_conf_t *mc = ngx_http_get_module_main_conf(r, ngx_http_cartgate_module);
    ngx_http_request_t *sr = ctx->subrequest;
    if (!ctx->done) return NGX_AGAIN;
    if (ctx->status == NGX_HTTP_FORBIDDEN) return NGX_HTTP_FORBIDDEN;
    if (ctx->status == NGX_HTTP_UNAUTHORIZED) {
        ngx_table_elt_t *h = sr->headers_out.www_authenticate;
        if (h == NULL && sr->upstream) h = sr->upstream->headers_in.www_authenticate;
        if (h) {
            ngx_table_elt_t *ho = ngx_list_push(&r->headers_out.headers);
            if (ho == NULL) return NGX_ERROR;
            *ho = *h;
            r->headers_out.www_authenticate = ho;
        }
        return NGX_HTTP_UNAUTHORIZED;
    }
    if (ctx->status >= NGX_HTTP_OK && ctx->status < NGX_HTTP_SPECIAL_RESPONSE) {
        if (sr->upstream) {
            ngx_list_t *hs = &sr->upstream->headers_in.headers;
            ngx_table_elt_t *h;
            if ((h = cg_find_header(hs, "X-Cartgate-User-Id", 18))) cg_set(r, mc->user_id, h->value.data, h->value.len);
            if ((h = cg_find_header(hs, "X-Cartgate-User-Login", 21))) cg_set(r, mc->user_login, h->value.data, h->value.len);
            if ((h = cg_find_header(hs, "X-Cartgate-Session", 18))) cg_set(r, mc->session, h->value.data, h->value.len);
        }
        return NGX_OK;
    }
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0, "cartgate: auth subrequest answered %ui", ctx->status);
    return NGX_HTTP_INTERNAL_SERVER_ERROR;
}

static ngx_int_t cg_ask_cartgate(ngx_http_request_t *r, cg_loc_conf_t *lc) {
    cg_ctx_t *ctx;
    ngx_http_post_subrequest_t *ps;
    ngx_http_request_t *sr;
    if (lc->fallback.len == 0) return NGX_HTTP_SERVICE_UNAVAILABLE;
    ctx = ngx_pcalloc(r->pool, sizeof(cg_ctx_t));
    ps = ngx_palloc(r->pool, sizeof(ngx_http_post_subrequest_t));
    if (ctx == NULL || ps == NULL) return NGX_ERROR;
    ps->handler = cg_subrequest_done;
    ps->data = ctx;
    if (ngx_http_subrequest(r, &lc->fallback, NULL, &sr, ps, NGX_HTTP_SUBREQUEST_WAITED) != NGX_OK) {
        return NGX_ERROR;
    }
    /* As auth_request: no body for the subrequest, and headers only. */
    sr->request_body = ngx_pcalloc(r->pool, sizeof(ngx_http_request_body_t));
    if (sr->request_body == NULL) return NGX_ERROR;
    sr->header_only = 1;
    ctx->subrequest = sr;
    ngx_http_set_ctx(r, ctx, ngx_http_cartgate_module);
    return NGX_AGAIN;
}

static ngx_int_t cg_handler(ngx_http_request_t *r) {
    cg_loc_conf_t *lc = ngx_http_get_module_loc_conf(r, ngx_http_cartgate_module);
    cg_main_conf_t *mc;
    cg_ctx_t *ctx;
    ngx_str_t token, value;
    ngx_table_elt_t *extra = NULL;
    cg_claims_t c;
    ngx_int_t rc;

    if (lc->verify == CG_VERIFY_OFF) return NGX_DECLINED;
    ctx = ngx_http_get_module_ctx(r, ngx_http_cartgate_module);
    if (ctx != NULL) return cg_subrequest_result(r, ctx);

    if (lc->auth_header.len > 0) {
        extra = cg_find_header(&r->headers_in.headers, (const char *) lc->auth_header.data, lc->auth_header.len);
    }
    if (lc->verify == CG_VERIFY_OPTIONAL && (r->headers_in.authorization == NULL || r->headers_in.authorization->value.len == 0) &&
        (extra == NULL || extra->value.len == 0)) {
        return NGX_OK; /* a guest: no identity */
    }
    if (r->headers_in.authorization != NULL && cg_bearer(&r->headers_in.authorization->value, &token)) {
        /* Authorization first, as presented_token */
    } else if (extra != NULL && cg_bearer(&extra->value, &token)) {
    } else {
        return cg_refuse(r, lc);
    }
    if (lc->prefix.len > 0) {
        if (token.len < lc->prefix.len || ngx_strncmp(token.data, lc->prefix.data, lc->prefix.len) != 0) {
            return cg_refuse(r, lc);
        }
        token.data += lc->prefix.len;
        token.len -= lc->prefix.len;
    }
    ngx_memzero(&c, sizeof(c));
    rc = cg_verify_token(r, lc, &token, &c);
    if (rc == NGX_ERROR) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    if (rc != NGX_OK) return cg_refuse(r, lc);

    int64_t now_ns = cg_monotonic_ns();
    const struct cartgate_state_header *st = cg_state(&lc->state_path, r->connection->log, now_ns);
    enum cartgate_state_verdict verdict = CARTGATE_STATE_UNKNOWN;
    if (st != NULL && c.iat > 0) {
        verdict = cartgate_state_decide(st, (const char *) c.pat.data, c.pat.len, c.user_id, c.iat, now_ns,
                                        CARTGATE_STATE_MAX_AGE_NS);
    }
    if (verdict == CARTGATE_STATE_REVOKED) return cg_refuse(r, lc);
    if (verdict != CARTGATE_STATE_ALLOWED) return cg_ask_cartgate(r, lc);

    mc = ngx_http_get_module_main_conf(r, ngx_http_cartgate_module);
    value.data = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    if (value.data == NULL) return NGX_HTTP_INTERNAL_SERVER_ERROR;
    value.len = (size_t) (ngx_sprintf(value.data, "%L", c.user_id) - value.data);
    cg_set(r, mc->user_id, value.data, value.len);
    cg_set(r, mc->user_login, c.username.data, c.username.len);
    cg_set(r, mc->session, c.pat.data, c.pat.len);
    return NGX_OK;
}

static ngx_int_t cg_empty_variable(ngx_http_request_t *r, ngx_http_variable_value_t *v, uintptr_t data) {
    (void) r;
    (void) data;
    v->not_found = 1;
    return NGX_OK;
}

static ngx_int_t cg_variable(ngx_conf_t *cf, const char *name, ngx_int_t *index) {
    ngx_str_t n;
    n.data = (u_char *) name;
    n.len = ngx_strlen(name);
    ngx_http_variable_t *v = ngx_http_add_variable(cf, &n, NGX_HTTP_VAR_CHANGEABLE);
    if (v == NULL) return NGX_ERROR;
    if (v->get_handler == NULL) v->get_handler = cg_empty_variable;
    *index = ngx_http_get_variable_index(cf, &n);
    return *index == NGX_ERROR ? NGX_ERROR : NGX_OK;
}

static ngx_int_t cg_init(ngx_conf_t *cf) {
    ngx_http_core_main_conf_t *cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);
    cg_main_conf_t *mc = ngx_http_conf_get_module_main_conf(cf, ngx_http_cartgate_module);
    ngx_http_handler_pt *h;
    if (cg_variable(cf, "cartgate_user_id", &mc->user_id) != NGX_OK ||
        cg_variable(cf, "cartgate_user_login", &mc->user_login) != NGX_OK ||
        cg_variable(cf, "cartgate_session", &mc->session) != NGX_OK) {
        return NGX_ERROR;
    }
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_ACCESS_PHASE].handlers);
    if (h == NULL) return NGX_ERROR;
    *h = cg_handler;
    return NGX_OK;
}

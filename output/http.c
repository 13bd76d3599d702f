/*
 * http.c — the HTTP server of Tapir on libevent's evhttp: set-up and listening, request
 * limits, routing, authentication and the headers of every answer. The endpoints are in
 * http_api.c, the per-client rate limit in http_limiter.c, the dashboard in dashboard.c
 * (docs/http.md).
 *
 * It attaches to an event_base the caller runs, so the same code serves inside `tapir
 * run`'s analyzer thread (beside the window pipeline, same store connection) and inside
 * `tapir serve`.
 *
 * What a hostile client can do is bounded: headers at most HTTP_MAX_HEADERS_BYTES, a
 * body at most HTTP_MAX_BODY_BYTES, both within HTTP_REQUEST_DEADLINE_S of the accept
 * however slowly they trickle in, connections capped below the descriptor limit with the
 * oldest slow one evicted (http_conn.c), a body framed twice refused, and
 * each client IP gets a token bucket in a fixed table with LRU eviction (a spoofing
 * flood of new IPs evicts old entries; it never grows the table). Every path is
 * matched exactly after strict percent-decoding (a bad escape or an encoded NUL is a
 * 400), so there is no file system behind it to traverse. The token is compared in
 * time that does not depend on where it differs. Browsers get two more checks: a POST or
 * DELETE whose Origin is another site is refused (a cross-site form needs no preflight),
 * and with auth off the Host header must name a loopback address (DNS rebinding).
 * Rejected: letting evhttp split the request target (evhttp_uri_parse reads "//health"
 * as an authority) and bind the socket (evhttp_bind_socket's failure does not say why);
 * both are done here.
 */
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>

#include "http.h"
#include "http_int.h"
#include "json.h"
#include "log.h"
#include "store.h"

/* ---- small parsers ----------------------------------------------------------------- */

bool http_token_equal(const char *given, const char *expected)
{
    size_t lg = strlen(given), le = strlen(expected);
    unsigned char diff = lg != le;
    /* Walk the expected token's length whatever was given, so the time tells nothing
     * about how much of a guess matched. */
    for (size_t i = 0; i < le; i++)
        diff |=
            (unsigned char)((lg ? (unsigned char)given[i % lg] : 0) ^ (unsigned char)expected[i]);
    return le > 0 && diff == 0;
}

bool http_escapes_valid(const char *src, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (src[i] == '\0')
            return false;
        if (src[i] != '%')
            continue;
        if (len - i < 3 || !isxdigit((unsigned char)src[i + 1]) ||
            !isxdigit((unsigned char)src[i + 2]) || (src[i + 1] == '0' && src[i + 2] == '0'))
            return false;
        i += 2;
    }
    return true;
}

int http_percent_decode(const char *src, size_t len, char *dst, bool plus_is_space)
{
    /* libevent decodes, but keeps a bad escape as it is ("%zz" stays): check first. */
    if (!http_escapes_valid(src, len))
        return -1;
    char *in = strndup(src, len);
    size_t n = 0;
    char *out = in ? evhttp_uridecode(in, plus_is_space, &n) : NULL;
    free(in);
    if (!out)
        return -1;
    memcpy(dst, out, n + 1); /* n <= len: decoding only shortens */
    free(out);
    return 0;
}

int http_parse_listen(const char *listen, char *host, size_t host_len, uint16_t *port, char *errbuf)
{
    const char *colon, *h = listen;
    size_t hl;
    if (!listen || !*listen)
        goto bad;
    if (listen[0] == '[') {
        const char *close = strchr(listen, ']');
        if (!close || close[1] != ':')
            goto bad;
        h = listen + 1;
        hl = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(listen, ':');
        if (!colon || memchr(listen, ':', (size_t)(colon - listen)))
            goto bad; /* a bare IPv6 address needs brackets */
        hl = (size_t)(colon - listen);
    }
    if (hl == 0 || hl >= host_len || hl >= 64)
        goto bad;
    char tmp[64];
    memcpy(tmp, h, hl);
    tmp[hl] = '\0';
    if (!strcmp(tmp, "localhost"))
        strcpy(tmp, "127.0.0.1");
    struct ip_addr a;
    if (ip_addr_parse(tmp, &a) < 0 || (listen[0] == '[') == ip_addr_is_v4(&a))
        goto bad;
    const char *p = colon + 1;
    unsigned long v = 0;
    if (!*p || strlen(p) > 5)
        goto bad;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            goto bad;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535)
        goto bad;
    snprintf(host, host_len, "%s", tmp);
    *port = (uint16_t)v;
    return 0;
bad:
    snprintf(errbuf, TAPIR_ERRBUF_SIZE,
             "bad listen address '%s' (expected HOST:PORT, e.g. 127.0.0.1:8080 or [::1]:8080)",
             listen ? listen : "");
    return -1;
}

bool http_host_is_loopback(const char *host)
{
    struct ip_addr a;
    if (ip_addr_parse(host, &a) < 0)
        return false;
    if (ip_addr_is_v4(&a))
        return a.b[12] == 127;
    static const uint8_t v6_loopback[16] = {[15] = 1};
    return !memcmp(a.b, v6_loopback, 16);
}

int http_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    if (!s || !*s || strlen(s) > 19)
        return -1;
    int64_t v = 0;
    const char *p = s;
    bool neg = *p == '-';
    if (neg)
        p++;
    if (!*p)
        return -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return -1;
        if (v > (INT64_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*p - '0');
    }
    if (neg)
        v = -v;
    if (v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* ---- answers ----------------------------------------------------------------------- */

static const char csp_api[] = "default-src 'none'; frame-ancestors 'none'";
static const char csp_dashboard[] =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

static const char *reason(int code)
{
    switch (code) {
    case 200:
        return "OK";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 429:
        return "Too Many Requests";
    case 500:
        return "Internal Server Error";
    case 503:
        return "Service Unavailable";
    default:
        return "Status";
    }
}

static void count_code(http_t *h, int code)
{
    for (int i = 0; i < HTTP_CODE_SLOTS; i++) {
        if (h->codes[i].code == code || h->codes[i].code == 0) {
            h->codes[i].code = code;
            h->codes[i].n++;
            return;
        }
    }
}

/* Sends body (may be NULL) with the headers every answer carries. */
void http_reply(http_t *h, struct evhttp_request *req, int code, const char *ctype,
                struct evbuffer *body, const char *csp)
{
    struct evkeyvalq *out = evhttp_request_get_output_headers(req);
    evhttp_add_header(out, "Content-Type", ctype);
    evhttp_add_header(out, "X-Content-Type-Options", "nosniff");
    if (!evhttp_find_header(out, "Cache-Control")) /* /static/ sets its own */
        evhttp_add_header(out, "Cache-Control", "no-store");
    evhttp_add_header(out, "Referrer-Policy", "no-referrer");
    evhttp_add_header(out, "X-Frame-Options", "DENY");
    evhttp_add_header(out, "Content-Security-Policy", csp ? csp : csp_api);
    count_code(h, code);
    evhttp_send_reply(req, code, reason(code), body);
}

static int dump_cb(const char *buf, size_t size, void *data)
{
    return evbuffer_add((struct evbuffer *)data, buf, size);
}

/* Sends o (stolen) as JSON. */
void http_reply_json(http_t *h, struct evhttp_request *req, int code, json_t *o)
{
    struct evbuffer *b = evbuffer_new();
    if (!b || !o || json_dump_callback(o, dump_cb, b, ALERT_JSON_FLAGS) < 0) {
        json_decref(o);
        if (b)
            evbuffer_free(b);
        count_code(h, 500);
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    json_decref(o);
    evbuffer_add(b, "\n", 1);
    http_reply(h, req, code, "application/json", b, NULL);
    evbuffer_free(b);
}

void http_reply_error(http_t *h, struct evhttp_request *req, int code, const char *msg)
{
    http_reply_json(h, req, code, json_pack("{s:s}", "error", msg));
}

static void reply_static_len(http_t *h, struct evhttp_request *req, const char *ctype,
                             const char *text, size_t len)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    evbuffer_add_reference(b, text, len, NULL, NULL);
    http_reply(h, req, 200, ctype, b, csp_dashboard);
    evbuffer_free(b);
}

static void reply_static(http_t *h, struct evhttp_request *req, const char *ctype, const char *text)
{
    reply_static_len(h, req, ctype, text, strlen(text));
}

void http_reply_store_error(http_t *h, struct evhttp_request *req)
{
    h->store_errors++;
    char msg[TAPIR_ERRBUF_SIZE + 32];
    snprintf(msg, sizeof(msg), "database error: %s", store_errmsg(h->store));
    log_warn("http: %s", msg);
    http_reply_error(h, req, 500, msg);
}

/* ---- routing ----------------------------------------------------------------------- */

enum route_kind {
    R_NONE,
    R_HEALTH,
    R_DASHBOARD,
    R_DASHBOARD_JS,
    R_DASHBOARD_CSS,
    R_STATIC_CHARTJS,
    R_METRICS,
    R_ALERTS,
    R_ALERT,
    R_ALERT_ACK,
    R_ALERT_SUPPRESS,
    R_SUPPRESSIONS,
    R_SUPPRESSION,
    R_HOSTS,
    R_HOST,
    R_INCIDENTS, /* issue 11 */
    R_INCIDENT,
};

struct route {
    enum route_kind kind;
    uint16_t methods;  /* EVHTTP_REQ_* allowed */
    const char *allow; /* the Allow header for a 405 */
    bool auth;
    int64_t id;      /* R_ALERT, R_ALERT_ACK */
    const char *arg; /* R_HOST: the IP text (points into the decoded path) */
};

#define GET_HEAD (EVHTTP_REQ_GET | EVHTTP_REQ_HEAD)

/* Matches a decoded path. */
static void route_match(const char *path, struct route *r)
{
    memset(r, 0, sizeof(*r));
    r->methods = GET_HEAD;
    r->allow = "GET, HEAD";
    r->auth = true;
    if (!strcmp(path, "/health")) {
        r->kind = R_HEALTH;
        r->auth = false;
    } else if (!strcmp(path, "/") || !strcmp(path, "/dashboard")) {
        r->kind = R_DASHBOARD;
        r->auth = false;
    } else if (!strcmp(path, "/dashboard.js")) {
        r->kind = R_DASHBOARD_JS;
        r->auth = false;
    } else if (!strcmp(path, "/dashboard.css")) {
        r->kind = R_DASHBOARD_CSS;
        r->auth = false;
    } else if (!strcmp(path, "/static/chart.js")) {
        r->kind = R_STATIC_CHARTJS;
        r->auth = false;
    } else if (!strcmp(path, "/metrics")) {
        r->kind = R_METRICS;
    } else if (!strcmp(path, "/api/alerts")) {
        r->kind = R_ALERTS;
    } else if (!strcmp(path, "/api/suppressions")) {
        r->kind = R_SUPPRESSIONS;
    } else if (!strncmp(path, "/api/suppressions/", 18)) {
        const char *p = path + 18;
        if (!*p || strlen(p) > 19 || strspn(p, "0123456789") != strlen(p) ||
            http_parse_int(p, 1, INT64_MAX, &r->id) < 0)
            return;
        r->kind = R_SUPPRESSION;
        r->methods = EVHTTP_REQ_DELETE;
        r->allow = "DELETE";
    } else if (!strcmp(path, "/api/hosts")) {
        r->kind = R_HOSTS;
    } else if (!strncmp(path, "/api/hosts/", 11) && path[11] && !strchr(path + 11, '/')) {
        r->kind = R_HOST;
        r->arg = path + 11;
    } else if (!strcmp(path, "/api/incidents")) {
        r->kind = R_INCIDENTS;
    } else if (!strncmp(path, "/api/incidents/", 15)) {
        const char *p = path + 15;
        size_t n = strlen(p);
        if (n == 0 || n > 19 || strspn(p, "0123456789") != n ||
            http_parse_int(p, 1, INT64_MAX, &r->id) < 0)
            return;
        r->kind = R_INCIDENT;
    } else if (!strncmp(path, "/api/alerts/", 12)) {
        const char *p = path + 12, *slash = strchr(p, '/');
        char idtext[24];
        size_t n = slash ? (size_t)(slash - p) : strlen(p);
        if (n == 0 || n >= sizeof(idtext))
            return;
        memcpy(idtext, p, n);
        idtext[n] = '\0';
        for (size_t i = 0; i < n; i++)
            if (idtext[i] < '0' || idtext[i] > '9')
                return;
        if (http_parse_int(idtext, 1, INT64_MAX, &r->id) < 0)
            return;
        if (!slash) {
            r->kind = R_ALERT;
            r->methods = GET_HEAD | EVHTTP_REQ_DELETE;
            r->allow = "GET, HEAD, DELETE";
        } else if (!strcmp(slash, "/ack")) {
            r->kind = R_ALERT_ACK;
            r->methods = EVHTTP_REQ_POST;
            r->allow = "POST";
        } else if (!strcmp(slash, "/suppress")) {
            r->kind = R_ALERT_SUPPRESS;
            r->methods = EVHTTP_REQ_POST;
            r->allow = "POST";
        }
    }
}

/* Whether the request carries the right bearer token. */
static bool authorized(const http_t *h, struct evhttp_request *req, bool *gave)
{
    *gave = false;
    if (!h->token)
        return true;
    const char *v = evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (!v)
        return false;
    *gave = true;
    if (strncasecmp(v, "Bearer ", 7))
        return false;
    v += 7;
    while (*v == ' ')
        v++;
    char tok[512];
    size_t n = strlen(v);
    while (n && (v[n - 1] == ' ' || v[n - 1] == '\t'))
        n--;
    if (n >= sizeof(tok))
        return false;
    memcpy(tok, v, n);
    tok[n] = '\0';
    return http_token_equal(tok, h->token);
}

/* Whether a Host header names this machine by a loopback literal or "localhost" (with
 * or without a port). NULL (HTTP/1.0 without Host; never a browser) passes. */
static bool host_header_is_local(const char *host)
{
    if (!host)
        return true;
    char buf[64];
    size_t n;
    if (host[0] == '[') {
        const char *close = strchr(host, ']');
        if (!close || (close[1] && close[1] != ':'))
            return false;
        n = (size_t)(close - host - 1);
        host++;
    } else {
        const char *colon = strchr(host, ':');
        n = colon ? (size_t)(colon - host) : strlen(host);
    }
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, host, n);
    buf[n] = '\0';
    return !strcasecmp(buf, "localhost") || http_host_is_loopback(buf);
}

/* Whether a state-changing request comes from a page of this server: no Origin header
 * (curl, scripts) or one naming the same host:port as Host. A cross-site form can POST
 * without a preflight; with auth off, nothing else would stop it. */
static bool origin_ok(struct evkeyvalq *in)
{
    const char *origin = evhttp_find_header(in, "Origin");
    if (!origin)
        return true;
    const char *host = evhttp_find_header(in, "Host");
    if (!host)
        return false;
    if (!strncasecmp(origin, "http://", 7))
        origin += 7;
    else if (!strncasecmp(origin, "https://", 8))
        origin += 8;
    else
        return false; /* "null" (sandboxed frames, file: pages) and the like */
    return !strcasecmp(origin, host);
}

/* Whether the request frames its body ambiguously: Content-Length twice, or beside
 * Transfer-Encoding (RFC 9112 6.3: a smuggling vector; evhttp reads the first one). */
static bool framing_ambiguous(struct evkeyvalq *in)
{
    int cl = 0, te = 0;
    for (struct evkeyval *kv = in->tqh_first; kv; kv = kv->next.tqe_next) {
        cl += !strcasecmp(kv->key, "Content-Length");
        te += !strcasecmp(kv->key, "Transfer-Encoding");
    }
    return cl > 1 || (cl && te);
}

static void handle(struct evhttp_request *req, void *arg)
{
    http_t *h = arg;
    http_conns_request_read(h->conns, req);
    if (framing_ambiguous(evhttp_request_get_input_headers(req))) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Connection", "close");
        http_reply_error(h, req, 400,
                         "ambiguous message length (Content-Length twice, or "
                         "with Transfer-Encoding)");
        return;
    }
    char *peer = NULL;
    ev_uint16_t peer_port = 0;
    struct evhttp_connection *conn = evhttp_request_get_connection(req);
    struct ip_addr ip = {{0}};
    if (conn) {
        evhttp_connection_get_peer(conn, &peer, &peer_port);
        if (!peer || ip_addr_parse(peer, &ip) < 0)
            memset(&ip, 0, sizeof(ip));
    }
    uint32_t retry;
    if (!http_limiter_allow(h->limiter, &ip, ((double)tapir_monotonic_us() / 1e6), &retry)) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%u", retry);
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", ra);
        h->rate_limited++;
        http_reply_error(h, req, 429, "too many requests");
        return;
    }

    /* The request target as sent, split here rather than by evhttp_uri_parse, which
     * reads "//health" as an authority: origin form "/path?query", or absolute form
     * "http://host/path?query" (RFC 9112 3.2); anything else is a 400. */
    const char *target = evhttp_request_get_uri(req), *raw_path = target;
    if (raw_path && !strncasecmp(raw_path, "http://", 7)) {
        raw_path = strchr(raw_path + 7, '/');
        if (!raw_path)
            raw_path = "/";
    }
    if (!raw_path || raw_path[0] != '/') {
        http_reply_error(h, req, 400, "bad request target");
        return;
    }
    size_t plen = strcspn(raw_path, "?#");
    const char *rawq = raw_path[plen] == '?' ? raw_path + plen + 1 : NULL;
    char *path = malloc(strlen(raw_path) + 2);
    if (!path) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    char *query = path + plen + 1; /* the raw query, without a fragment */
    if (rawq) {
        size_t qlen = strcspn(rawq, "#");
        memcpy(query, rawq, qlen);
        query[qlen] = '\0';
    }
    if (http_percent_decode(raw_path, plen, path, false) < 0) {
        free(path);
        http_reply_error(h, req, 400, "bad request path");
        return;
    }
    struct route r;
    route_match(path, &r);
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    if (r.kind == R_NONE) {
        http_reply_error(h, req, 404, "not found");
        goto done;
    }
    if (!(m & r.methods)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", r.allow);
        http_reply_error(h, req, 405, "method not allowed");
        goto done;
    }
    struct evkeyvalq *in = evhttp_request_get_input_headers(req);
    if (!h->token && !host_header_is_local(evhttp_find_header(in, "Host"))) {
        /* Auth is off, so only loopback may talk to us; a browser led here by DNS
         * rebinding still sends the attacker's name as Host. */
        http_reply_error(h, req, 403, "auth is off: the Host header must name a loopback address");
        goto done;
    }
    if ((m & (EVHTTP_REQ_POST | EVHTTP_REQ_DELETE)) && !origin_ok(in)) {
        http_reply_error(h, req, 403, "cross-origin request refused");
        goto done;
    }
    bool gave;
    if (r.auth && !authorized(h, req, &gave)) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                          gave ? "Bearer realm=\"tapir\", error=\"invalid_token\""
                               : "Bearer realm=\"tapir\"");
        http_reply_error(h, req, 401, gave ? "invalid token" : "a bearer token is required");
        goto done;
    }
    if (r.kind >= R_ALERTS && !h->store) {
        http_reply_error(h, req, 503, "no database");
        goto done;
    }
    rawq = rawq ? query : NULL;
    switch (r.kind) {
    case R_HEALTH:
        http_api_health(h, req);
        break;
    case R_DASHBOARD:
        reply_static(h, req, "text/html; charset=utf-8", http_dashboard_html);
        break;
    case R_DASHBOARD_JS:
        reply_static(h, req, "text/javascript; charset=utf-8", http_dashboard_js);
        break;
    case R_DASHBOARD_CSS:
        reply_static(h, req, "text/css; charset=utf-8", http_dashboard_css);
        break;
    case R_STATIC_CHARTJS:
        /* A library that changes only with the binary: cached for a day, so a refresh
         * does not fetch 200 kB again, and an upgrade is seen by the next day at most. */
        evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control",
                          "public, max-age=86400");
        reply_static_len(h, req, "text/javascript; charset=utf-8", http_chartjs,
                         (size_t)http_chartjs_len);
        break;
    case R_METRICS:
        http_api_metrics(h, req);
        break;
    case R_ALERTS:
        http_api_alerts(h, req, rawq);
        break;
    case R_ALERT:
        http_api_alert(h, req, r.id, false);
        break;
    case R_ALERT_ACK:
        http_api_alert(h, req, r.id, true);
        break;
    case R_ALERT_SUPPRESS:
        http_api_alert_suppress(h, req, r.id);
        break;
    case R_SUPPRESSIONS:
        http_api_suppressions(h, req);
        break;
    case R_SUPPRESSION:
        http_api_suppression_end(h, req, r.id);
        break;
    case R_HOSTS:
        http_api_hosts(h, req, rawq);
        break;
    case R_HOST:
        http_api_host(h, req, r.arg);
        break;
    case R_INCIDENTS:
        http_api_incidents(h, req, rawq);
        break;
    case R_INCIDENT:
        http_api_incident(h, req, r.id);
        break;
    case R_NONE:
        break;
    }
done:
    free(path);
}

/* Creates, binds and listens on a non-blocking socket: done here rather than by
 * evhttp_bind_socket so that the error names the cause (address in use, permission). */
static int listen_socket(const char *host, uint16_t port, uint16_t *bound, char *errbuf,
                         const char *listen_text)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE,
                             .ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *res = NULL;
    char portstr[8];
    snprintf(portstr, sizeof(portstr), "%u", port);
    int gai = getaddrinfo(host, portstr, &hints, &res);
    if (gai != 0 || !res) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot listen on %s: %s", listen_text,
                 gai_strerror(gai));
        return -1;
    }
    int one = 1, fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        goto fail;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (res->ai_family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 128) < 0)
        goto fail;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) < 0)
        goto fail;
    *bound = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                            : ((struct sockaddr_in *)&ss)->sin_port);
    freeaddrinfo(res);
    return fd;
fail:;
    int e = errno;
    snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot listen on %s: %s", listen_text,
             e == EADDRINUSE      ? "address in use"
             : e == EACCES        ? "permission denied (ports below 1024 need privileges)"
             : e == EADDRNOTAVAIL ? "no such local address"
                                  : strerror(e));
    if (fd >= 0)
        close(fd);
    freeaddrinfo(res);
    return -1;
}

http_t *http_create(struct event_base *base, const struct http_config *c, store_t *store,
                    http_metrics_fn metrics, void *metrics_ctx, char *errbuf)
{
    const char *listen_text = c && c->listen ? c->listen : HTTP_DEFAULT_LISTEN;
    char host[64];
    uint16_t port;
    int fd = -1;
    if (http_parse_listen(listen_text, host, sizeof(host), &port, errbuf) < 0)
        return NULL;
    bool auth = c && c->token && c->token[0];
    if (!auth && !http_host_is_loopback(host)) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE,
                 "refusing to serve %s without a token: auth may be off only on a loopback "
                 "address (set TAPIR_TOKEN or --token-file)",
                 listen_text);
        return NULL;
    }
    http_t *h = calloc(1, sizeof(*h));
    if (!h) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return NULL;
    }
    h->base = base;
    h->store = store;
    h->metrics = metrics;
    h->metrics_ctx = metrics_ctx;
    snprintf(h->listen, sizeof(h->listen), "%s", listen_text);
    h->started_s = tapir_wall_us() / 1e6;
    double rate = c && c->rate_per_s > 0 ? c->rate_per_s : HTTP_DEFAULT_RATE;
    uint32_t maxc = c && c->max_clients_tracked ? c->max_clients_tracked : HTTP_DEFAULT_MAX_CLIENTS;
    double burst = rate * HTTP_BURST_FACTOR;
    h->limiter = http_limiter_create(rate, burst < 1 ? 1 : burst, maxc);
    if (!h->limiter) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot size the rate limiter (%u clients)", maxc);
        goto fail;
    }
    if (auth && !(h->token = strdup(c->token))) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        goto fail;
    }
    h->evh = evhttp_new(base);
    if (!h->evh) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot create the HTTP server");
        goto fail;
    }
    /* Accept every method evhttp knows, so a wrong one gets our 405 with Allow. */
    evhttp_set_allowed_methods(h->evh, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                           EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS |
                                           EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
                                           EVHTTP_REQ_PATCH);
    evhttp_set_max_headers_size(h->evh, HTTP_MAX_HEADERS_BYTES);
    evhttp_set_max_body_size(h->evh, HTTP_MAX_BODY_BYTES);
    evhttp_set_timeout(h->evh, HTTP_TIMEOUT_S);
    h->conns = http_conns_create(base, c ? c->max_connections : 0);
    if (!h->conns) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        goto fail;
    }
    if (c && c->request_deadline_s > 0)
        http_conns_set_deadline(h->conns, c->request_deadline_s);
    if (c)
        http_conns_set_output_limits(h->conns, c->write_deadline_s, c->output_budget);
    evhttp_set_gencb(h->evh, handle, h);
    fd = listen_socket(host, port, &h->port, errbuf, listen_text);
    if (fd < 0)
        goto fail;
    struct evhttp_bound_socket *bound = evhttp_accept_socket_with_handle(h->evh, fd);
    if (!bound) {
        close(fd);
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot listen on %s: libevent refused the socket",
                 listen_text);
        goto fail;
    }
    if (http_conns_attach(h->conns, h->evh, evhttp_bound_socket_get_listener(bound)) < 0) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "too many HTTP servers in one process");
        goto fail;
    }
    return h;
fail:
    http_destroy(h);
    return NULL;
}

uint16_t http_port(const http_t *h)
{
    return h ? h->port : 0;
}

void http_destroy(http_t *h)
{
    if (!h)
        return;
    http_conns_detach(h->conns);
    if (h->evh)
        evhttp_free(h->evh);
    http_conns_destroy(h->conns); /* after evhttp_free: it closes the connections */
    http_limiter_destroy(h->limiter);
    if (h->token) {
        explicit_bzero(h->token, strlen(h->token));
        free(h->token);
    }
    free(h);
}

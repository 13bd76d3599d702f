/*
 * http.h — Tapir's HTTP side on libevent's evhttp: /health, /metrics (Prometheus text
 * 0.0.4), the JSON API over stored alerts and hosts, and the dashboard (docs/http.md).
 *
 * An http_t attaches to an event_base its caller owns and runs (the analyzer thread in
 * `tapir run`, the main thread in `tapir serve`); every function here, and every
 * callback it makes, runs on that base's thread. The store is borrowed and used from
 * that thread only (store.h: a store_t belongs to one thread). The process must ignore
 * SIGPIPE (libevent writes to sockets a client may have closed); http_create leaves
 * signal dispositions alone.
 */
#ifndef TAPIR_HTTP_H
#define TAPIR_HTTP_H

#include <stdbool.h>
#include <stdint.h>

#include "store.h"
#include "tapir.h"

struct event_base;
struct evbuffer;

#define HTTP_DEFAULT_LISTEN      "127.0.0.1:8080"
#define HTTP_DEFAULT_RATE        20.0  /* requests per second per client IP */
#define HTTP_BURST_FACTOR        2.0   /* bucket size = rate * factor (20/s -> burst 40) */
#define HTTP_DEFAULT_MAX_CLIENTS 4096  /* client IPs the rate limiter remembers */
#define HTTP_MAX_HEADERS_BYTES   8192  /* request line + headers; larger is refused */
#define HTTP_MAX_BODY_BYTES      4096  /* no endpoint takes a body; be small */
#define HTTP_TIMEOUT_S           10    /* evhttp's read/write timeout, restarted by each byte */
#define HTTP_REQUEST_DEADLINE_S  10    /* a request's headers and body, from accept, in all */
#define HTTP_WRITE_DEADLINE_S    60    /* an answer, from its request to its last byte taken */
#define HTTP_SNDBUF_BYTES        65536 /* SO_SNDBUF of a connection (Linux doubles it) */
#define HTTP_OUTPUT_BUDGET                                                                         \
    (32u << 20)                   /* bytes of answers waiting for their clients,                   \
                                     all connections (answers are <= ~3 MiB) */
#define HTTP_MAX_CONNECTIONS 1024 /* open at once, whatever the descriptor limit allows */
#define HTTP_MIN_CONNECTIONS 4    /* however few descriptors are left */
#define HTTP_FD_RESERVE      16   /* descriptors kept for the database, logs, CSVs */
#define HTTP_CONN_SLACK      8    /* slots for evicted connections not yet closed */
#define HTTP_ACCEPT_PAUSE_MS 100  /* accept pauses this long after an accept error */
#define HTTP_ACCEPT_LOG_S    60   /* at most one accept-error line per this */
#define HTTP_DEFAULT_LIMIT   100  /* /api/alerts and /api/hosts page size */
#define HTTP_MAX_LIMIT       1000 /* largest page a client may ask for */

struct http_config {
    const char *listen;           /* "127.0.0.1:8080" (NULL: that), "[::1]:8080"; port 0 = any */
    const char *token;            /* bearer token; NULL or "": auth off (loopback listen only) */
    double rate_per_s;            /* per client IP; <= 0: HTTP_DEFAULT_RATE */
    uint32_t max_clients_tracked; /* rate-limiter table size; 0: HTTP_DEFAULT_MAX_CLIENTS */
    uint32_t max_connections;     /* open at once; 0: from RLIMIT_NOFILE (http_conn.c) */
    int request_deadline_s;       /* 0: HTTP_REQUEST_DEADLINE_S */
    int write_deadline_s;         /* 0: HTTP_WRITE_DEADLINE_S */
    size_t output_budget;         /* bytes; 0: HTTP_OUTPUT_BUDGET */
};

typedef struct http http_t;

/* Appends the caller's live Prometheus lines (with their # HELP and # TYPE) to out.
 * Called on the base's thread for every scrape of /metrics. */
typedef void (*http_metrics_fn)(void *ctx, struct evbuffer *out);

/* Binds c->listen on base and starts answering. Borrows base, store (may be NULL: the
 * API then answers 503) and metrics_ctx; copies c. Returns NULL and fills errbuf
 * (TAPIR_ERRBUF_SIZE) with a sentence: "cannot listen on 127.0.0.1:8080: address in
 * use", a bad address, or no token while listening beyond loopback. */
http_t *http_create(struct event_base *base, const struct http_config *c, store_t *store,
                    http_metrics_fn metrics, void *metrics_ctx, char *errbuf);
/* Closes the listener and every open connection. NULL is a no-op. */
void http_destroy(http_t *h);

/* Reads a bearer token from the first line of path (refusing a file every user can
 * read), into tok of toklen bytes; messages go to stderr. Returns 0 or -1. Used by
 * `tapir serve` and `tapir run --http`. (cli/cmd_serve.c) */
int serve_token_file(const char *path, char *tok, size_t toklen);
/* The port actually bound (useful with port 0). */
uint16_t http_port(const http_t *h);

/* ---- parts exposed for the unit tests -------------------------------------------- */

/* Parses "HOST:PORT" ("127.0.0.1:8080", "[::1]:8080", "localhost:8080") into a
 * numeric host (buf, 46 bytes) and port. Returns 0, or -1 with errbuf filled. */
int http_parse_listen(const char *listen, char *host, size_t host_len, uint16_t *port,
                      char *errbuf);
/* Whether a numeric host is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x). */
bool http_host_is_loopback(const char *host);
/* Compares two NUL-terminated strings in time that depends only on their lengths. */
bool http_token_equal(const char *given, const char *expected);

/* Per-client token buckets in a fixed table: when it is full the least recently seen
 * client is forgotten (it gets a full bucket if it comes back), so memory never grows
 * with the number of clients an attacker can spoof. */
typedef struct http_limiter http_limiter_t;
http_limiter_t *http_limiter_create(double rate_per_s, double burst, uint32_t max_clients);
void http_limiter_destroy(http_limiter_t *l);
/* Takes one token for ip at time now_s (seconds, monotonic). Returns true if allowed;
 * else false and *retry_after_s (whole seconds, >= 1) until a token is back. */
bool http_limiter_allow(http_limiter_t *l, const struct ip_addr *ip, double now_s,
                        uint32_t *retry_after_s);
uint32_t http_limiter_tracked(const http_limiter_t *l); /* clients in the table */

/* Decodes %XX escapes of src (len bytes) into dst (len + 1 bytes), plus as space if
 * plus_is_space, with libevent's evhttp_uridecode. Fails (-1) on a bad or truncated
 * escape and on an encoded NUL (http_escapes_valid), which libevent would pass on. */
int http_percent_decode(const char *src, size_t len, char *dst, bool plus_is_space);
/* Whether every '%' in src (len bytes) starts a %XX escape other than %00, and src has
 * no NUL byte. */
bool http_escapes_valid(const char *src, size_t len);

/* The dashboard (output/dashboard.c). */
extern const char http_dashboard_html[];
extern const char http_dashboard_css[];
extern const char http_dashboard_js[];
/* Chart.js (Debian's libjs-chart.js), served at /static/chart.js; http_chartjs_len
 * bytes (a NUL follows). */
extern const char http_chartjs[];
extern const uint64_t http_chartjs_len;

#endif

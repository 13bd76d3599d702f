/*
 * http_int.h — private to the HTTP server's files (http.c, http_api.c): the server's
 * struct, the answers every endpoint sends, and the endpoints http.c routes to. The
 * contract is http.h. Everything here runs on the server's event_base thread.
 */
#ifndef TAPIR_HTTP_INT_H
#define TAPIR_HTTP_INT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "http.h"
#include "store.h"

struct evhttp;
struct evhttp_request;
struct evconnlistener;

#define HTTP_CODE_SLOTS 16 /* distinct status codes counted for /metrics */

struct code_count {
    int code;
    uint64_t n; /* responses */
};

/* ---- http_conn.c: the connections (cap, request deadline, accept errors) ---------- */

typedef struct http_conns http_conns_t;

struct http_conn_stats {
    uint32_t open;           /* connections open now */
    uint32_t cap;            /* open connections allowed */
    uint64_t accepted;       /* connections accepted */
    uint64_t evicted;        /* closed to make room for a newer one */
    uint64_t timed_out;      /* closed at the request deadline */
    uint64_t write_timeouts; /* closed at the write deadline (a client that does not read) */
    uint64_t output_evicted; /* slow readers closed to keep answers within the budget */
    uint64_t output_bytes;   /* answers' bytes waiting for their clients now */
    uint64_t accept_errors;  /* accept() failures (EMFILE...) */
};

/* The cap when none is configured: the descriptor limit (RLIMIT_NOFILE) less the
 * descriptors open now, HTTP_FD_RESERVE and HTTP_CONN_SLACK, within
 * [HTTP_MIN_CONNECTIONS, HTTP_MAX_CONNECTIONS]. */
uint32_t http_conns_default_cap(void);
/* A table of cap (0: http_conns_default_cap()) connections on base. NULL: no memory. */
http_conns_t *http_conns_create(struct event_base *base, uint32_t cap);
/* Takes over evh's new connections and lev's accept errors. Borrows both. */
int http_conns_attach(http_conns_t *s, struct evhttp *evh, struct evconnlistener *lev);
/* Seconds a request has for its headers and body (<= 0: HTTP_REQUEST_DEADLINE_S). */
void http_conns_set_deadline(http_conns_t *s, int seconds);
/* Seconds an answer has to be taken by its client (<= 0: HTTP_WRITE_DEADLINE_S), and the
 * bytes of answers all connections may hold waiting for their clients (0:
 * HTTP_OUTPUT_BUDGET). */
void http_conns_set_output_limits(http_conns_t *s, int write_deadline_s, size_t budget);
/* The request callback saw req complete: its request deadline stops and its write
 * deadline starts; if the answers waiting for other clients are over the budget, the
 * oldest of those connections are closed first (so the answer about to be made fits). */
void http_conns_request_read(http_conns_t *s, struct evhttp_request *req);
void http_conns_stats(const http_conns_t *s, struct http_conn_stats *st);
/* Appends the tapir_http_connections* and tapir_http_accept_errors_total series. */
void http_conns_metrics(const http_conns_t *s, struct evbuffer *out);
/* Before evhttp_free (which frees the listener, then the connections): stops touching
 * the listener. NULL is a no-op. */
void http_conns_detach(http_conns_t *s);
/* After evhttp_free. NULL is a no-op. */
void http_conns_destroy(http_conns_t *s);

struct http {
    struct event_base *base; /* borrowed */
    struct evhttp *evh;
    http_conns_t *conns;
    store_t *store; /* borrowed; may be NULL */
    http_metrics_fn metrics;
    void *metrics_ctx;
    char *token; /* NULL: auth off */
    char listen[80];
    uint16_t port;
    http_limiter_t *limiter;
    struct code_count codes[HTTP_CODE_SLOTS];
    uint64_t rate_limited; /* 429 answers */
    uint64_t store_errors; /* queries that failed (500) */
    double started_s;      /* wall clock, seconds since the epoch */
};

/* ---- http.c: answers ---------------------------------------------------------------- */

/* Sends body (borrowed; may be NULL) with the headers every answer carries; csp NULL is
 * the API's policy. Counts the code for /metrics. */
void http_reply(http_t *h, struct evhttp_request *req, int code, const char *ctype,
                struct evbuffer *body, const char *csp);
/* Sends o (stolen; NULL answers 500) as JSON and a newline. */
void http_reply_json(http_t *h, struct evhttp_request *req, int code, json_t *o);
/* Sends {"error": msg}. */
void http_reply_error(http_t *h, struct evhttp_request *req, int code, const char *msg);
/* Sends a 500 with the store's error, logs it and counts it. */
void http_reply_store_error(http_t *h, struct evhttp_request *req);
/* Parses a decimal integer in [lo, hi] into *out. Returns 0 or -1. */
int http_parse_int(const char *s, int64_t lo, int64_t hi, int64_t *out);

/* ---- http_api.c: the endpoints (rawq: the raw query string, NULL when none) ---------- */

void http_api_health(http_t *h, struct evhttp_request *req);
void http_api_metrics(http_t *h, struct evhttp_request *req);
void http_api_alerts(http_t *h, struct evhttp_request *req, const char *rawq);
void http_api_hosts(http_t *h, struct evhttp_request *req, const char *rawq);
void http_api_host(http_t *h, struct evhttp_request *req, const char *ip_text);
/* GET /api/incidents (since, ip, category, detector, min_score, limit, offset) and
 * /api/incidents/ID with its alerts (issue 11, docs/http.md). */
void http_api_incidents(http_t *h, struct evhttp_request *req, const char *rawq);
void http_api_incident(http_t *h, struct evhttp_request *req, int64_t id);
/* GET, POST .../ack (ack true) or DELETE one alert. */
void http_api_alert(http_t *h, struct evhttp_request *req, int64_t id, bool ack);
/* POST /api/alerts/ID/suppress with {"reason": TEXT, "for": DURATION (optional)}. */
void http_api_alert_suppress(http_t *h, struct evhttp_request *req, int64_t id);
/* GET /api/suppressions: the database's suppressions in force. */
void http_api_suppressions(http_t *h, struct evhttp_request *req);
/* DELETE /api/suppressions/ID: ends one now. */
void http_api_suppression_end(http_t *h, struct evhttp_request *req, int64_t id);

#endif

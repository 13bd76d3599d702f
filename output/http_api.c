/*
 * http_api.c — the HTTP server's endpoints: /health, /metrics and the JSON API over the
 * store (/api/alerts, /api/alerts/ID, /api/alerts/ID/ack, /api/alerts/ID/suppress,
 * /api/suppressions, /api/suppressions/ID, /api/hosts, /api/hosts/IP, /api/incidents,
 * /api/incidents/ID; docs/http.md). http.c has already routed, rate-limited and
 * authorized the request.
 *
 * Every handler answers synchronously on the server's thread: a store query on an
 * indexed table takes well under a millisecond, and a page is at most HTTP_MAX_LIMIT
 * rows, so a worker pool would buy nothing but a second owner for the store. The
 * rejected alternative, a thread per request over a read-only connection, would break
 * ack/delete (writes) and the one-thread-per-store_t rule. Query strings are parsed
 * strictly: an unknown or repeated parameter, or a bad escape, is a 400 rather than
 * ignored.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "http.h"
#include "http_int.h"
#include "output.h"
#include "rules.h"
#include "store.h"

#define HTTP_HOST_RECENT 20 /* recent alerts in /api/hosts/IP */
#define HTTP_MAX_OFFSET  1000000000LL

/* ---- query strings ----------------------------------------------------------------- */

#define QUERY_MAX_PARAMS 8

struct query {
    struct evkeyvalq kv; /* decoded by libevent (evhttp_parse_query_str) */
};

/* Parses raw (may be NULL) strictly: every key must be in allowed (NULL-terminated) and
 * appear once; values are percent-decoded, '+' as space. Empty segments ("a=1&&b=2")
 * are skipped. Returns 0, or -1 with msg filled. Always query_free afterwards. */
static int query_parse(const char *raw, const char *const *allowed, struct query *q, char *msg,
                       size_t msglen)
{
    q->kv.tqh_first = NULL;
    q->kv.tqh_last = &q->kv.tqh_first;
    if (!raw || !*raw)
        return 0;
    /* libevent keeps a bad escape as it is and refuses an empty segment: check the one,
     * drop the other. */
    if (!http_escapes_valid(raw, strlen(raw))) {
        snprintf(msg, msglen, "bad percent-encoding in the query");
        return -1;
    }
    char *clean = malloc(strlen(raw) + 1), *o = clean;
    if (!clean) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    for (const char *p = raw; *p; p++)
        if (*p != '&' || (o > clean && o[-1] != '&'))
            *o++ = *p;
    *o = '\0';
    int rc = evhttp_parse_query_str(clean, &q->kv);
    free(clean);
    if (rc < 0) {
        snprintf(msg, msglen, "bad query parameter (expected name=value)");
        return -1;
    }
    int n = 0;
    for (struct evkeyval *kv = q->kv.tqh_first; kv; kv = kv->next.tqe_next, n++) {
        bool known = false;
        for (int i = 0; allowed[i]; i++)
            known |= !strcmp(allowed[i], kv->key);
        if (!known) {
            snprintf(msg, msglen, "unknown query parameter '%.40s'", kv->key);
            return -1;
        }
        for (struct evkeyval *e = q->kv.tqh_first; e != kv; e = e->next.tqe_next) {
            if (!strcmp(e->key, kv->key)) {
                snprintf(msg, msglen, "query parameter '%.40s' given twice", kv->key);
                return -1;
            }
        }
        if (n == QUERY_MAX_PARAMS) {
            snprintf(msg, msglen, "too many query parameters");
            return -1;
        }
    }
    return 0;
}

static const char *query_get(const struct query *q, const char *key)
{
    return evhttp_find_header(&q->kv, key);
}

static void query_free(struct query *q)
{
    evhttp_clear_headers(&q->kv);
}

/* Reads limit and offset into *limit / *offset. */
static int page_params(const struct query *q, int64_t *limit, int64_t *offset, char *msg,
                       size_t msglen)
{
    const char *l = query_get(q, "limit"), *o = query_get(q, "offset");
    *limit = HTTP_DEFAULT_LIMIT;
    *offset = 0;
    if (l && http_parse_int(l, 1, HTTP_MAX_LIMIT, limit) < 0) {
        snprintf(msg, msglen, "bad limit (an integer from 1 to %d)", HTTP_MAX_LIMIT);
        return -1;
    }
    if (o && http_parse_int(o, 0, HTTP_MAX_OFFSET, offset) < 0) {
        snprintf(msg, msglen, "bad offset (an integer from 0 to %lld)", HTTP_MAX_OFFSET);
        return -1;
    }
    return 0;
}

/* ---- endpoints --------------------------------------------------------------------- */

void http_api_health(http_t *h, struct evhttp_request *req)
{
    http_reply_json(h, req, 200, json_pack("{s:s,s:s}", "status", "ok", "version", TAPIR_VERSION));
}

static void metric_head(struct evbuffer *b, const char *name, const char *type, const char *help)
{
    evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void http_api_metrics(http_t *h, struct evhttp_request *req)
{
    struct evbuffer *b = evbuffer_new();
    if (!b) {
        evhttp_send_error(req, 500, "out of memory");
        return;
    }
    metric_head(b, "tapir_build_info", "gauge", "Tapir build information; the value is 1.");
    evbuffer_add_printf(b, "tapir_build_info{version=\"%s\"} 1\n", TAPIR_VERSION);
    metric_head(b, "tapir_http_start_time_seconds", "gauge",
                "When the HTTP server started, seconds since the epoch.");
    evbuffer_add_printf(b, "tapir_http_start_time_seconds %.3f\n", h->started_s);
    metric_head(b, "tapir_http_requests_total", "counter",
                "HTTP requests answered by Tapir's handlers, by status code.");
    for (int i = 0; i < HTTP_CODE_SLOTS && h->codes[i].code; i++)
        evbuffer_add_printf(b, "tapir_http_requests_total{code=\"%d\"} %llu\n", h->codes[i].code,
                            (unsigned long long)h->codes[i].n);
    metric_head(b, "tapir_http_rate_limited_total", "counter",
                "HTTP requests refused with 429 by the per-client rate limit.");
    evbuffer_add_printf(b, "tapir_http_rate_limited_total %llu\n",
                        (unsigned long long)h->rate_limited);
    metric_head(b, "tapir_http_rate_limit_clients", "gauge",
                "Client IPs the HTTP rate limiter currently remembers.");
    evbuffer_add_printf(b, "tapir_http_rate_limit_clients %u\n", http_limiter_tracked(h->limiter));
    metric_head(b, "tapir_http_store_errors_total", "counter",
                "HTTP requests that failed on a database error.");
    evbuffer_add_printf(b, "tapir_http_store_errors_total %llu\n",
                        (unsigned long long)h->store_errors);
    http_conns_metrics(h->conns, b);
    output_process_metrics(b);

    static const char *const statuses[] = {"new", "acked", "suppressed"};
    int64_t counts[3];
    bool store_ok = h->store != NULL;
    for (int i = 0; i < 3 && store_ok; i++) {
        struct store_alert_filter f = {.status = statuses[i]};
        store_ok = store_alerts_count(h->store, &f, &counts[i]) == 0;
    }
    metric_head(b, "tapir_store_up", "gauge",
                "1 if the database answered this scrape's queries, else 0.");
    evbuffer_add_printf(b, "tapir_store_up %d\n", store_ok ? 1 : 0);
    if (store_ok) {
        metric_head(b, "tapir_alerts_stored", "gauge", "Alerts in the database, by status.");
        for (int i = 0; i < 3; i++)
            evbuffer_add_printf(b, "tapir_alerts_stored{status=\"%s\"} %lld\n", statuses[i],
                                (long long)counts[i]);
        struct store_alert_filter last = {.limit = 1};
        json_t *arr = NULL;
        uint64_t ts_us;
        const char *ts = NULL;
        if (store_alerts_list(h->store, &last, &arr) == 0)
            ts = json_string_value(json_object_get(json_array_get(arr, 0), "timestamp"));
        if (ts && tapir_parse_time(ts, &ts_us) == 0) {
            metric_head(b, "tapir_alert_last_timestamp_seconds", "gauge",
                        "When the newest stored alert was raised (packet time), seconds since "
                        "the epoch.");
            evbuffer_add_printf(b, "tapir_alert_last_timestamp_seconds %.3f\n", ts_us / 1e6);
        }
        json_decref(arr);
    } else if (h->store) {
        h->store_errors++;
    }
    if (h->metrics)
        h->metrics(h->metrics_ctx, b);
    http_reply(h, req, 200, "text/plain; version=0.0.4; charset=utf-8", b, NULL);
    evbuffer_free(b);
}

/* The alert filters of a query string (since, ip, min_score, status, category, detector,
 * limit, offset: those query_parse let through) into f; ipnorm (64 bytes) holds the
 * normalised ip. 0, or -1 with msg (len bytes) saying what is wrong. /api/alerts and
 * /api/incidents share it. */
static int alert_filter_params(const struct query *q, struct store_alert_filter *f, char *ipnorm,
                               char *msg, size_t len)
{
    const char *v;
    if ((v = query_get(q, "since")) && tapir_parse_time(v, &f->since_us) < 0) {
        snprintf(msg, len,
                 "bad since (ISO-8601 such as 2026-01-31T12:00:00Z, or "
                 "unix seconds)");
        return -1;
    }
    if ((v = query_get(q, "ip"))) {
        struct ip_addr ip;
        unsigned plen;
        if (rules_parse_cidr(v, &ip, &plen) < 0) {
            snprintf(msg, len, "bad ip (an address or a CIDR prefix)");
            return -1;
        }
        f->ip = rules_cidr_str(&ip, plen, ipnorm, 64);
    }
    if ((v = query_get(q, "min_score"))) {
        char *end;
        f->min_score = strtod(v, &end);
        if (end == v || *end || !(f->min_score >= 0 && f->min_score <= 1)) {
            snprintf(msg, len, "bad min_score (a number from 0 to 1)");
            return -1;
        }
    }
    if ((v = query_get(q, "status"))) {
        if (strcmp(v, "new") && strcmp(v, "acked") && strcmp(v, "suppressed")) {
            snprintf(msg, len, "bad status (new, acked or suppressed)");
            return -1;
        }
        f->status = v;
    }
    if ((v = query_get(q, "category"))) {
        if (alert_category_parse(v) < 0) {
            snprintf(msg, len, "bad category (%s)", alert_category_list());
            return -1;
        }
        f->category = v;
    }
    if ((v = query_get(q, "detector"))) {
        if (alert_detector_parse(v) < 0) {
            snprintf(msg, len, "bad detector (%s)", alert_detector_list());
            return -1;
        }
        f->detector = v;
    }
    if (page_params(q, &f->limit, &f->offset, msg, len) < 0)
        return -1;
    return 0;
}

/* What a filtered list reads from its query string: the parsed query (query_free it
 * whatever the outcome), the filter, the normalised ip the filter points into, and the
 * message of a 400. */
struct filter_req {
    struct query q;
    struct store_alert_filter f;
    char ipnorm[64];
    char msg[200];
};

/* Parses rawq, allowing only the keys in allowed, into r's query and filter; 0, or -1
 * with r->msg saying what is wrong. /api/alerts and /api/incidents share it. */
static int filter_req_parse(const char *rawq, const char *const *allowed, struct filter_req *r)
{
    memset(&r->f, 0, sizeof(r->f));
    if (query_parse(rawq, allowed, &r->q, r->msg, sizeof(r->msg)) < 0)
        return -1;
    return alert_filter_params(&r->q, &r->f, r->ipnorm, r->msg, sizeof(r->msg));
}

/* The reply for one object read from the store (rc its status): 200 with o, 404 with
 * not_found, or the store's error. */
static void reply_one(http_t *h, struct evhttp_request *req, int rc, json_t *o,
                      const char *not_found)
{
    if (rc == STORE_ENOTFOUND)
        http_reply_error(h, req, 404, not_found);
    else if (rc < 0)
        http_reply_store_error(h, req);
    else
        http_reply_json(h, req, 200, o);
}

void http_api_alerts(http_t *h, struct evhttp_request *req, const char *rawq)
{
    static const char *const allowed[] = {"since",    "ip",    "min_score", "status", "category",
                                          "detector", "limit", "offset",    NULL};
    struct filter_req r;
    int64_t total;
    json_t *arr;
    if (filter_req_parse(rawq, allowed, &r) < 0)
        http_reply_error(h, req, 400, r.msg);
    else if (store_alerts_count(h->store, &r.f, &total) < 0 ||
             store_alerts_list(h->store, &r.f, &arr) < 0)
        http_reply_store_error(h, req);
    else
        http_reply_json(h, req, 200,
                        json_pack("{s:o,s:I,s:I,s:I}", "alerts", arr, "total", (json_int_t)total,
                                  "limit", (json_int_t)r.f.limit, "offset",
                                  (json_int_t)r.f.offset));
    query_free(&r.q);
}

void http_api_hosts(http_t *h, struct evhttp_request *req, const char *rawq)
{
    static const char *const allowed[] = {"limit", "offset", "flagged", NULL};
    char msg[160];
    struct query q;
    int64_t limit, offset;
    if (query_parse(rawq, allowed, &q, msg, sizeof(msg)) < 0 ||
        page_params(&q, &limit, &offset, msg, sizeof(msg)) < 0) {
        query_free(&q);
        http_reply_error(h, req, 400, msg);
        return;
    }
    const char *fl = query_get(&q, "flagged");
    if (fl && strcmp(fl, "0") && strcmp(fl, "1")) {
        query_free(&q);
        http_reply_error(h, req, 400, "bad flagged (0 or 1)");
        return;
    }
    bool flagged = fl && !strcmp(fl, "1");
    query_free(&q);
    json_t *arr;
    if ((flagged ? store_hosts_flagged : store_hosts_list)(h->store, limit, offset, &arr) < 0) {
        http_reply_store_error(h, req);
        return;
    }
    http_reply_json(h, req, 200,
                    json_pack("{s:o,s:I,s:I}", "hosts", arr, "limit", (json_int_t)limit, "offset",
                              (json_int_t)offset));
}

void http_api_host(http_t *h, struct evhttp_request *req, const char *ip_text)
{
    struct ip_addr a;
    char ipnorm[64];
    if (ip_addr_parse(ip_text, &a) < 0) {
        http_reply_error(h, req, 400, "bad host: not an IP address");
        return;
    }
    json_t *o = NULL;
    int rc =
        store_host_get(h->store, ip_addr_str(&a, ipnorm, sizeof(ipnorm)), HTTP_HOST_RECENT, &o);
    reply_one(h, req, rc, o, "no such host");
}

/* GET, POST .../ack or DELETE one alert. */
void http_api_alert(http_t *h, struct evhttp_request *req, int64_t id, bool ack)
{
    enum evhttp_cmd_type m = evhttp_request_get_command(req);
    int rc = 0;
    if (m == EVHTTP_REQ_DELETE) {
        rc = store_alert_delete(h->store, id);
        if (rc == 0) {
            http_reply_json(h, req, 200,
                            json_pack("{s:I,s:b}", "alert_id", (json_int_t)id, "deleted", 1));
            return;
        }
    } else if (ack) {
        rc = store_alert_ack(h->store, id, tapir_wall_us());
    }
    json_t *o = NULL;
    if (rc == 0)
        rc = store_alert_get(h->store, id, &o);
    reply_one(h, req, rc, o, "no such alert");
}

/* ---- incidents (issue 11) ----------------------------------------------------------
 * /api/incidents lists them newest first with the alerts' filters (since: last seen at
 * or after); /api/incidents/ID is one with its alerts, oldest first. The dashboard's
 * incident list reads these. */

#define HTTP_INCIDENT_ALERTS 1000 /* alerts returned with one incident, oldest first */

void http_api_incidents(http_t *h, struct evhttp_request *req, const char *rawq)
{
    static const char *const allowed[] = {"since",     "ip",    "category", "detector",
                                          "min_score", "limit", "offset",   NULL};
    struct filter_req r;
    json_t *arr;
    if (filter_req_parse(rawq, allowed, &r) < 0)
        http_reply_error(h, req, 400, r.msg);
    else if (store_incidents_list(h->store, &r.f, &arr) < 0)
        http_reply_store_error(h, req);
    else
        http_reply_json(h, req, 200,
                        json_pack("{s:o,s:I,s:I}", "incidents", arr, "limit", (json_int_t)r.f.limit,
                                  "offset", (json_int_t)r.f.offset));
    query_free(&r.q);
}

void http_api_incident(http_t *h, struct evhttp_request *req, int64_t id)
{
    json_t *o = NULL;
    int rc = store_incident_get(h->store, id, HTTP_INCIDENT_ALERTS, &o);
    reply_one(h, req, rc, o, "no such incident");
}

void http_api_alert_suppress(http_t *h, struct evhttp_request *req, int64_t id)
{
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t n = evbuffer_get_length(in);
    json_error_t jerr;
    json_t *body = n ? json_loadb((const char *)evbuffer_pullup(in, -1), n, 0, &jerr) : NULL;
    const char *reason = json_string_value(json_object_get(body, "reason"));
    json_t *forj = json_object_get(body, "for");
    uint64_t dur = 0;
    char msg[160];
    if (!json_is_object(body)) {
        snprintf(msg, sizeof(msg),
                 "the body must be a JSON object: {\"reason\": TEXT, \"for\": "
                 "DURATION}");
        goto bad;
    }
    if (!reason || !*reason || strlen(reason) > STORE_MAX_REASON) {
        snprintf(msg, sizeof(msg), "reason: a string of 1 to %d bytes is required",
                 STORE_MAX_REASON);
        goto bad;
    }
    if (forj && !json_is_null(forj) &&
        (!json_is_string(forj) || store_parse_duration(json_string_value(forj), &dur) < 0)) {
        snprintf(msg, sizeof(msg), "for: a duration such as 90s, 15m, 8h, 7d or 2w (or null)");
        goto bad;
    }
    json_t *a = NULL;
    int rc = store_alert_get(h->store, id, &a);
    if (rc == STORE_ENOTFOUND) {
        json_decref(body);
        http_reply_error(h, req, 404, "no such alert");
        return;
    }
    if (rc < 0) {
        json_decref(body);
        http_reply_store_error(h, req);
        return;
    }
    char net[64], until[32];
    snprintf(net, sizeof(net), "%s", json_string_value(json_object_get(a, "ip")));
    json_decref(a);
    uint64_t now = tapir_wall_us();
    int64_t sid, marked;
    if (store_suppress_add(h->store, net, reason, now, dur ? now + dur : 0, "api", &sid, &marked) <
        0) {
        json_decref(body);
        http_reply_store_error(h, req);
        return;
    }
    json_t *o = json_pack("{s:I,s:s,s:s,s:s?,s:I,s:I}", "suppression_id", (json_int_t)sid,
                          "network", net, "reason", reason, "expires",
                          dur ? tapir_iso8601(now + dur, until, sizeof(until)) : NULL, "alert_id",
                          (json_int_t)id, "alerts_marked", (json_int_t)marked);
    json_decref(body);
    http_reply_json(h, req, 200, o);
    return;
bad:
    json_decref(body);
    http_reply_error(h, req, 400, msg);
}

void http_api_suppressions(http_t *h, struct evhttp_request *req)
{
    json_t *arr;
    if (store_suppressions_list(h->store, false, tapir_wall_us(), &arr) < 0) {
        http_reply_store_error(h, req);
        return;
    }
    http_reply_json(h, req, 200, json_pack("{s:o}", "suppressions", arr));
}

void http_api_suppression_end(http_t *h, struct evhttp_request *req, int64_t id)
{
    int rc = store_suppression_end(h->store, id, tapir_wall_us());
    if (rc == STORE_ENOTFOUND)
        http_reply_error(h, req, 404, "no such suppression in force");
    else if (rc < 0)
        http_reply_store_error(h, req);
    else
        http_reply_json(h, req, 200, json_pack("{s:I,s:b}", "id", (json_int_t)id, "ended", 1));
}

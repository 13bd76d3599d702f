/*
 * test_http.c — the HTTP module's parts (rate limiter, token compare, percent-decoding,
 * listen addresses) and a round trip through http_create on a private event_base with
 * libevent's own HTTP client on the same base (single thread, loopback, port 0), and
 * the connection table (http_conn.c): cap, eviction, request deadline.
 */
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "http.h"
#include "http_int.h"
#include "store.h"

static struct ip_addr v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
    struct ip_addr ip;
    const uint8_t x[4] = {a, b, c, d};
    ip_addr_from_v4(&ip, x);
    return ip;
}

TEST(limiter_burst_and_refill)
{
    http_limiter_t *l = http_limiter_create(10, 20, 16);
    CHECK(l != NULL);
    struct ip_addr a = v4(192, 0, 2, 1), b = v4(192, 0, 2, 2);
    uint32_t retry = 0;
    for (int i = 0; i < 20; i++)
        CHECK(http_limiter_allow(l, &a, 100.0, &retry));
    CHECK(!http_limiter_allow(l, &a, 100.0, &retry));
    CHECK_EQ(retry, 1);
    CHECK(http_limiter_allow(l, &b, 100.0, &retry)); /* another client is not affected */
    CHECK(!http_limiter_allow(l, &a, 100.05, &retry));
    CHECK(http_limiter_allow(l, &a, 100.11, &retry)); /* 0.11 s at 10/s: one token back */
    CHECK(!http_limiter_allow(l, &a, 100.11, &retry));
    for (int i = 0; i < 20; i++) /* a long pause refills to the burst, not beyond */
        CHECK(http_limiter_allow(l, &a, 1000.0, &retry));
    CHECK(!http_limiter_allow(l, &a, 1000.0, &retry));
    CHECK(!http_limiter_allow(l, &a, 999.0, &retry)); /* a clock going back gives nothing */
    http_limiter_destroy(l);

    l = http_limiter_create(0.1, 1, 4);
    CHECK(http_limiter_allow(l, &a, 0, &retry));
    CHECK(!http_limiter_allow(l, &a, 0, &retry));
    CHECK_EQ(retry, 10);
    http_limiter_destroy(l);
    CHECK(http_limiter_create(0, 1, 4) == NULL);
    CHECK(http_limiter_create(1, 1, 0) == NULL);
    http_limiter_destroy(NULL);
}

TEST(limiter_lru_eviction)
{
    http_limiter_t *l = http_limiter_create(1, 1, 4);
    uint32_t retry;
    struct ip_addr ip[6];
    for (int i = 0; i < 6; i++)
        ip[i] = v4(198, 51, 100, (uint8_t)i);
    for (int i = 0; i < 4; i++)
        CHECK(http_limiter_allow(l, &ip[i], 0, &retry));
    CHECK_EQ(http_limiter_tracked(l), 4);
    CHECK(!http_limiter_allow(l, &ip[0], 0, &retry)); /* 0 is now the most recent */
    CHECK(http_limiter_allow(l, &ip[4], 0, &retry));  /* evicts 1, the least recent */
    CHECK_EQ(http_limiter_tracked(l), 4);
    CHECK(!http_limiter_allow(l, &ip[0], 0, &retry)); /* still tracked: still empty */
    CHECK(http_limiter_allow(l, &ip[1], 0, &retry));  /* forgotten: a fresh bucket */
    CHECK(!http_limiter_allow(l, &ip[4], 0, &retry));
    /* Many spoofed clients never grow the table; the earliest are forgotten. */
    for (int i = 0; i < 10000; i++) {
        struct ip_addr x = v4(10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i);
        http_limiter_allow(l, &x, 1, &retry);
    }
    CHECK_EQ(http_limiter_tracked(l), 4);
    CHECK(http_limiter_allow(l, &ip[4], 1, &retry));
    http_limiter_destroy(l);
}

TEST(token_equal)
{
    CHECK(http_token_equal("s3cret-token", "s3cret-token"));
    CHECK(!http_token_equal("s3cret-tokem", "s3cret-token"));
    CHECK(!http_token_equal("s3cret-toke", "s3cret-token"));
    CHECK(!http_token_equal("s3cret-token-", "s3cret-token"));
    CHECK(!http_token_equal("", "s3cret-token"));
    CHECK(!http_token_equal("", ""));
    CHECK(!http_token_equal("s3cret-tokens3cret-token", "s3cret-token"));
}

TEST(percent_decode)
{
    char out[64];
    CHECK_EQ(http_percent_decode("/a%20b+c", 8, out, false), 0);
    CHECK_STR(out, "/a b+c");
    CHECK_EQ(http_percent_decode("a%2Fb+c", 7, out, true), 0);
    CHECK_STR(out, "a/b c");
    CHECK_EQ(http_percent_decode("%zz", 3, out, false), -1);
    CHECK_EQ(http_percent_decode("%2", 2, out, false), -1);
    CHECK_EQ(http_percent_decode("abc%", 4, out, false), -1);
    CHECK_EQ(http_percent_decode("a%00b", 5, out, false), -1);
    CHECK_EQ(http_percent_decode("%41%4a", 3, out, false), 0); /* only len bytes are read */
    CHECK_STR(out, "A");
    CHECK_EQ(http_percent_decode("%41%4a", 4, out, false), -1);
    CHECK_EQ(http_percent_decode("", 0, out, false), 0);
    CHECK_STR(out, "");
    /* The check libevent's evhttp_uridecode does not make (it keeps "%zz" as it is). */
    CHECK(http_escapes_valid("/a%20b%2f", 9));
    CHECK(!http_escapes_valid("%zz", 3));
    CHECK(!http_escapes_valid("%4", 2));
    CHECK(!http_escapes_valid("a%00", 4));
    CHECK(!http_escapes_valid("a\0b", 3));
    CHECK(http_escapes_valid("%41%4", 3)); /* only len bytes */
}

TEST(parse_listen)
{
    char host[64], err[TAPIR_ERRBUF_SIZE];
    uint16_t port;
    CHECK_EQ(http_parse_listen("127.0.0.1:8080", host, sizeof(host), &port, err), 0);
    CHECK_STR(host, "127.0.0.1");
    CHECK_EQ(port, 8080);
    CHECK_EQ(http_parse_listen("[::1]:0", host, sizeof(host), &port, err), 0);
    CHECK_STR(host, "::1");
    CHECK_EQ(port, 0);
    CHECK_EQ(http_parse_listen("localhost:9", host, sizeof(host), &port, err), 0);
    CHECK_STR(host, "127.0.0.1");
    const char *bad[] = {"",           "127.0.0.1",      "127.0.0.1:", "127.0.0.1:65536",
                         "::1:80",     "[127.0.0.1]:80", "[::1]80",    "host.example:80",
                         "1.2.3.4:8x", "1.2.3.4:123456", "[::1:80"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        CHECK_EQ(http_parse_listen(bad[i], host, sizeof(host), &port, err), -1);
        CHECK(strstr(err, "bad listen address") != NULL);
    }
    CHECK(http_host_is_loopback("127.0.0.1"));
    CHECK(http_host_is_loopback("127.1.2.3"));
    CHECK(http_host_is_loopback("::1"));
    CHECK(!http_host_is_loopback("0.0.0.0"));
    CHECK(!http_host_is_loopback("::"));
    CHECK(!http_host_is_loopback("192.0.2.1"));
}

/* ---- a round trip on one base ---- */

struct exchange {
    struct event_base *base;
    int code;
    char body[8192];
    char www_auth[128];
};

static void on_response(struct evhttp_request *req, void *arg)
{
    struct exchange *x = arg;
    x->code = req ? evhttp_request_get_response_code(req) : -1;
    x->body[0] = x->www_auth[0] = '\0';
    if (req) {
        struct evbuffer *b = evhttp_request_get_input_buffer(req);
        size_t n = evbuffer_get_length(b);
        if (n >= sizeof(x->body))
            n = sizeof(x->body) - 1;
        evbuffer_remove(b, x->body, n);
        x->body[n] = '\0';
        const char *w =
            evhttp_find_header(evhttp_request_get_input_headers(req), "WWW-Authenticate");
        snprintf(x->www_auth, sizeof(x->www_auth), "%s", w ? w : "");
    }
    event_base_loopexit(x->base, NULL);
}

static int fetch(struct event_base *base, uint16_t port, const char *path, const char *auth,
                 struct exchange *x)
{
    struct evhttp_connection *c = evhttp_connection_base_new(base, NULL, "127.0.0.1", port);
    struct evhttp_request *req = evhttp_request_new(on_response, x);
    x->base = base;
    x->code = 0;
    evhttp_add_header(evhttp_request_get_output_headers(req), "Host", "127.0.0.1");
    if (auth)
        evhttp_add_header(evhttp_request_get_output_headers(req), "Authorization", auth);
    evhttp_make_request(c, req, EVHTTP_REQ_GET, path);
    struct timeval tv = {5, 0};
    event_base_loopexit(base, &tv); /* a bound if no answer comes */
    event_base_dispatch(base);
    evhttp_connection_free(c);
    return x->code;
}

static void test_metrics(void *ctx, struct evbuffer *out)
{
    (*(int *)ctx)++;
    evbuffer_add_printf(out, "# HELP tapir_test_widgets_total Widgets.\n"
                             "# TYPE tapir_test_widgets_total counter\n"
                             "tapir_test_widgets_total 42\n");
}

TEST(round_trip)
{
    struct event_base *base = event_base_new();
    char err[TAPIR_ERRBUF_SIZE];
    int calls = 0;
    struct http_config c = {.listen = "127.0.0.1:0", .token = "unit-test-token"};
    http_t *h = http_create(base, &c, NULL, test_metrics, &calls, err);
    CHECK(h != NULL);
    if (!h) {
        printf("  %s\n", err);
        event_base_free(base);
        return;
    }
    uint16_t port = http_port(h);
    CHECK_GT(port, 0);
    struct exchange *x = calloc(1, sizeof(*x));
    CHECK_EQ(fetch(base, port, "/health", NULL, x), 200);
    CHECK(strstr(x->body, "\"status\":\"ok\"") != NULL);
    CHECK_EQ(fetch(base, port, "/metrics", NULL, x), 401);
    CHECK_STR(x->www_auth, "Bearer realm=\"tapir\"");
    CHECK_EQ(fetch(base, port, "/metrics", "Bearer nope", x), 401);
    CHECK_EQ(calls, 0);
    CHECK_EQ(fetch(base, port, "/metrics", "Bearer unit-test-token", x), 200);
    CHECK_EQ(calls, 1);
    CHECK(strstr(x->body, "tapir_test_widgets_total 42\n") != NULL);
    CHECK(strstr(x->body, "tapir_store_up 0\n") != NULL);
    CHECK(strstr(x->body, "tapir_http_requests_total{code=\"401\"} 2\n") != NULL);
    CHECK_EQ(fetch(base, port, "/api/alerts", "Bearer unit-test-token", x), 503);
    CHECK_EQ(fetch(base, port, "/nope", NULL, x), 404);

    /* The same port again: a clear error. No token beyond loopback: refused. */
    char listen[32];
    snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
    struct http_config c2 = {.listen = listen};
    CHECK(http_create(base, &c2, NULL, NULL, NULL, err) == NULL);
    char want[96];
    snprintf(want, sizeof(want), "cannot listen on %s: address in use", listen);
    CHECK_STR(err, want);
    struct http_config c3 = {.listen = "0.0.0.0:0"};
    CHECK(http_create(base, &c3, NULL, NULL, NULL, err) == NULL);
    CHECK(strstr(err, "without a token") != NULL);
    free(x);
    http_destroy(h);
    http_destroy(NULL);
    event_base_free(base);
}

/* /api/alerts?category= and ?detector=: exact filters over a real store; an unknown
 * name is a 400 that lists the names. */
TEST(alert_filters)
{
    char dir[] = "/tmp/tapir-test-http.XXXXXX", path[64], err[TAPIR_ERRBUF_SIZE];
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/api.db", dir);
    store_t *st = store_open(path, err);
    CHECK(st != NULL);
    if (!st) {
        printf("  %s\n", err);
        return;
    }
    static const struct {
        const char *ip;
        enum alert_detector d;
        enum alert_category c;
    } rows[] = {
        {"192.0.2.1", ALERT_DETECTOR_LIMIT, ALERT_CATEGORY_SYNFLOOD},
        {"192.0.2.2", ALERT_DETECTOR_FOREST, ALERT_CATEGORY_ANOMALY},
        {"192.0.2.3", ALERT_DETECTOR_LIMIT, ALERT_CATEGORY_PORTSCAN},
        {"192.0.2.4", ALERT_DETECTOR_FOREST, ALERT_CATEGORY_PORTSCAN},
        {"192.0.2.5", ALERT_DETECTOR_DENYLIST, ALERT_CATEGORY_ANOMALY},
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        struct alert a;
        memset(&a, 0, sizeof(a));
        a.timestamp_us = a.window_end_us = 1700000000000000ULL + i * 60000000ULL;
        a.window_start_us = a.window_end_us - 60000000ULL;
        a.event_type = "alert";
        ip_addr_parse(rows[i].ip, &a.ip);
        a.prefix_len = 128;
        a.score = 0.9;
        a.detector = rows[i].d;
        a.category = rows[i].c;
        CHECK_EQ(store_window_begin(st), 0);
        CHECK_EQ(store_alert_add(st, 0, &a), 0);
        CHECK_EQ(store_window_commit(st), 0);
    }
    struct event_base *base = event_base_new();
    struct http_config c = {.listen = "127.0.0.1:0", .token = "t"};
    http_t *h = http_create(base, &c, st, NULL, NULL, err);
    CHECK(h != NULL);
    if (!h) {
        printf("  %s\n", err);
        store_close(st);
        event_base_free(base);
        return;
    }
    uint16_t port = http_port(h);
    struct exchange *x = calloc(1, sizeof(*x));
    static const struct {
        const char *path;
        int code;
        json_int_t total;
        const char *first_ip; /* newest first */
    } cases[] = {
        {"/api/alerts", 200, 5, "192.0.2.5"},
        {"/api/alerts?category=portscan", 200, 2, "192.0.2.4"},
        {"/api/alerts?detector=limit", 200, 2, "192.0.2.3"},
        {"/api/alerts?detector=limit&category=portscan", 200, 1, "192.0.2.3"},
        {"/api/alerts?category=anomaly&detector=denylist", 200, 1, "192.0.2.5"},
        {"/api/alerts?category=beacon", 200, 0, NULL},
        {"/api/alerts?detector=rate", 200, 0, NULL},
        {"/api/alerts?category=PortScan", 400, 0, NULL},
        {"/api/alerts?detector=threshold", 400, 0, NULL},
        {"/api/alerts?category=", 400, 0, NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int code = fetch(base, port, cases[i].path, "Bearer t", x);
        if (code != cases[i].code)
            printf("  %s\n", cases[i].path);
        CHECK_EQ(code, cases[i].code);
        json_t *o = json_loads(x->body, 0, NULL);
        CHECK(o != NULL);
        if (code == 400) {
            const char *e = json_string_value(json_object_get(o, "error"));
            CHECK(e && (strstr(e, "portscan, hostscan") || strstr(e, "forest, limit")));
        } else if (o) {
            CHECK_EQ(json_integer_value(json_object_get(o, "total")), cases[i].total);
            json_t *first = json_array_get(json_object_get(o, "alerts"), 0);
            if (cases[i].first_ip)
                CHECK_STR(json_string_value(json_object_get(first, "ip")), cases[i].first_ip);
            else
                CHECK(first == NULL);
        }
        json_decref(o);
    }
    /* Query strings (parsed by evhttp_parse_query_str): escapes and '+' decoded, empty
     * segments skipped, a bad escape, a repeated, unknown or valueless parameter a 400. */
    static const struct {
        const char *path;
        int code;
    } q[] = {
        {"/api/alerts?detector=limit&&category=portscan&", 200},
        {"/api/alerts?detector=%6Cimit", 200},
        {"/api/alerts?limit=1%", 400},
        {"/api/alerts?limit=%zz", 400},
        {"/api/alerts?category=port%00scan", 400},
        {"/api/alerts?limit=1&limit=2", 400},
        {"/api/alerts?nope=1", 400},
        {"/api/alerts?limit", 400},
        {"/api/alerts?category=port+scan", 400},
    };
    for (size_t i = 0; i < sizeof(q) / sizeof(q[0]); i++) {
        int code = fetch(base, port, q[i].path, "Bearer t", x);
        if (code != q[i].code)
            printf("  %s: %s\n", q[i].path, x->body);
        CHECK_EQ(code, q[i].code);
    }
    CHECK_EQ(fetch(base, port, "/api/alerts?detector=limit&&category=portscan", "Bearer t", x),
             200);
    CHECK(strstr(x->body, "\"total\":1") != NULL);
    /* Every alert carries both fields. */
    CHECK_EQ(fetch(base, port, "/api/alerts?limit=1", "Bearer t", x), 200);
    CHECK(strstr(x->body, "\"category\":\"anomaly\",\"detector\":\"denylist\"") != NULL);
    free(x);
    http_destroy(h);
    event_base_free(base);
    store_close(st);
    char cmd[96];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    CHECK_EQ(system(cmd), 0);
}

/* ---- connections: the cap, eviction and the request deadline ---- */

static int raw_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Runs base for ms milliseconds. */
static void run_for(struct event_base *base, int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_base_loopexit(base, &tv);
    event_base_dispatch(base);
}

/* Whether the server closed fd (a read sees end-of-file or a reset, not "no data"). */
static bool closed_by_server(int fd)
{
    char buf[512];
    ssize_t n;
    while ((n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
        ;
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* The value of a series in the /metrics body, or -1. */
static long long metric(const char *body, const char *name)
{
    char key[96];
    snprintf(key, sizeof(key), "\n%s ", name);
    const char *p = strstr(body, key);
    return p ? atoll(p + strlen(key)) : -1;
}

TEST(connection_cap_and_deadline)
{
    struct event_base *base = event_base_new();
    char err[TAPIR_ERRBUF_SIZE];
    struct http_config c = {
        .listen = "127.0.0.1:0", .token = "t", .max_connections = 4, .request_deadline_s = 1};
    http_t *h = http_create(base, &c, NULL, NULL, NULL, err);
    CHECK(h != NULL);
    if (!h) {
        printf("  %s\n", err);
        event_base_free(base);
        return;
    }
    uint16_t port = http_port(h);
    struct exchange *x = calloc(1, sizeof(*x));
    /* Six clients that never finish their headers: the cap is 4, so the two oldest go. */
    int fd[6];
    for (int i = 0; i < 6; i++) {
        fd[i] = raw_connect(port);
        CHECK_GE(fd[i], 0);
        CHECK_EQ(send(fd[i], "GET /health HTTP/1.1\r\n", 23, 0), 23);
        run_for(base, 30);
    }
    CHECK(closed_by_server(fd[0]));
    CHECK(closed_by_server(fd[1]));
    CHECK(!closed_by_server(fd[5]));
    /* A complete request still gets through (evicting the oldest slow one), and the
     * counters say so. */
    CHECK_EQ(fetch(base, port, "/metrics", "Bearer t", x), 200);
    CHECK_EQ(metric(x->body, "tapir_http_connections_max"), 4);
    CHECK_GE(metric(x->body, "tapir_http_connections_evicted_total"), 2);
    CHECK_LE(metric(x->body, "tapir_http_connections"), 4);
    CHECK_EQ(metric(x->body, "tapir_http_request_timeouts_total"), 0);
    /* A kept-alive connection gets a full deadline again after each answer: answered
     * once, then silent, it is closed after about 1 s (libevent's idle timer is 10 s). */
    int ka = raw_connect(port);
    const char *full = "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    CHECK_EQ(send(ka, full, strlen(full), 0), (ssize_t)strlen(full));
    run_for(base, 300);
    char buf[512];
    ssize_t n = recv(ka, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    CHECK_GT(n, 12);
    if (n > 12)
        CHECK(!memcmp(buf, "HTTP/1.1 200", 12));
    CHECK(!closed_by_server(ka));
    /* The deadline: the slow clients still open are cut within it (plus the loop). */
    run_for(base, 1300);
    for (int i = 2; i < 6; i++)
        CHECK(closed_by_server(fd[i]));
    CHECK(closed_by_server(ka));
    CHECK_EQ(fetch(base, port, "/metrics", "Bearer t", x), 200);
    CHECK_GE(metric(x->body, "tapir_http_request_timeouts_total"), 3);
    for (int i = 0; i < 6; i++)
        close(fd[i]);
    close(ka);
    free(x);
    http_destroy(h);
    event_base_free(base);
}

/* A client that asks for a large answer and never reads (a 1 KiB receive buffer):
 * connected before the request, so the kernel takes little of the answer. */
static int never_reader(uint16_t port, const char *path)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    int small = 1024;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        close(fd);
        return -1;
    }
    char req[160];
    int n = snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", path);
    if (fd >= 0 && send(fd, req, (size_t)n, 0) != n) {
        close(fd);
        return -1;
    }
    return fd;
}

/* Slow readers (issue 12's review): answers their clients do not take are bounded in
 * bytes (all connections together) and in time (the write deadline). */
TEST(slow_readers)
{
    struct event_base *base = event_base_new();
    char err[TAPIR_ERRBUF_SIZE];
    struct http_config c = {.listen = "127.0.0.1:0", .token = "t", .write_deadline_s = 2};
    http_t *h = http_create(base, &c, NULL, NULL, NULL, err);
    CHECK(h != NULL);
    if (!h) {
        printf("  %s\n", err);
        event_base_free(base);
        return;
    }
    uint16_t port = http_port(h);
    struct http_conn_stats st;
    /* One never-reader: most of chart.js waits in the server for it. */
    int fd[3];
    fd[0] = never_reader(port, "/static/chart.js");
    CHECK_GE(fd[0], 0);
    run_for(base, 200);
    http_conns_stats(h->conns, &st);
    size_t one = (size_t)st.output_bytes;
    CHECK_GT(one, (size_t)16384); /* the kernel takes at most 128 KiB (SO_SNDBUF) */
    /* A budget of 2.5 answers: two more never-readers fit (3 answers waiting, over it);
     * the next answer made (/health's) first closes the oldest of them. */
    http_conns_set_output_limits(h->conns, 2, one * 5 / 2);
    for (int i = 1; i < 3; i++) {
        fd[i] = never_reader(port, "/static/chart.js");
        CHECK_GE(fd[i], 0);
        run_for(base, 100);
    }
    http_conns_stats(h->conns, &st);
    CHECK_EQ(st.output_evicted, 0);
    CHECK_GT(st.output_bytes, (uint64_t)one * 5 / 2);
    struct exchange *x = calloc(1, sizeof(*x));
    CHECK_EQ(fetch(base, port, "/health", NULL, x), 200);
    http_conns_stats(h->conns, &st);
    CHECK_EQ(st.output_evicted, 1);
    CHECK_LE(st.output_bytes, (uint64_t)one * 5 / 2);
    CHECK(closed_by_server(fd[0]));
    CHECK(!closed_by_server(fd[1]));
    CHECK(!closed_by_server(fd[2]));
    /* The write deadline (2 s here): the two left are closed, counted; memory freed. */
    run_for(base, 2300);
    CHECK(closed_by_server(fd[1]));
    CHECK(closed_by_server(fd[2]));
    CHECK_EQ(fetch(base, port, "/metrics", "Bearer t", x), 200);
    CHECK_EQ(metric(x->body, "tapir_http_write_timeouts_total"), 2);
    CHECK_EQ(metric(x->body, "tapir_http_output_evicted_total"), 1);
    CHECK_EQ(metric(x->body, "tapir_http_output_bytes"), 0);
    for (int i = 0; i < 3; i++)
        close(fd[i]);
    free(x);
    http_destroy(h);
    event_base_free(base);
}

/* Two Content-Length headers, or one beside Transfer-Encoding: 400, and the connection
 * closes (evhttp alone reads the first length and leaves the rest as a next request). */
TEST(ambiguous_length)
{
    struct event_base *base = event_base_new();
    char err[TAPIR_ERRBUF_SIZE];
    struct http_config c = {.listen = "127.0.0.1:0"};
    http_t *h = http_create(base, &c, NULL, NULL, NULL, err);
    CHECK(h != NULL);
    if (!h) {
        event_base_free(base);
        return;
    }
    static const char *const reqs[] = {
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nContent-Length: "
        "4\r\n\r\nGET ",
        "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\n"
        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++) {
        int fd = raw_connect(http_port(h));
        CHECK_GE(fd, 0);
        CHECK_EQ(send(fd, reqs[i], strlen(reqs[i]), 0), (ssize_t)strlen(reqs[i]));
        run_for(base, 200);
        char buf[1024];
        ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
        CHECK_GT(n, 12);
        if (n > 12)
            CHECK(!memcmp(buf, "HTTP/1.1 400", 12));
        CHECK(closed_by_server(fd));
        close(fd);
    }
    http_destroy(h);
    event_base_free(base);
}

int main(void)
{
    RUN(limiter_burst_and_refill);
    RUN(limiter_lru_eviction);
    RUN(token_equal);
    RUN(percent_decode);
    RUN(parse_listen);
    RUN(round_trip);
    RUN(alert_filters);
    RUN(connection_cap_and_deadline);
    RUN(slow_readers);
    RUN(ambiguous_length);
    return CHECK_DONE();
}

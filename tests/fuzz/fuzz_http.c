/*
 * fuzz_http.c — the HTTP request handlers (output/http.c, http_api.c) through a real evhttp
 * server on 127.0.0.1, with a real store: the input is sent as raw bytes on a fresh
 * connection (request line, headers, body, pipelined requests, garbage), and the loop
 * runs until the server closes or answers and goes quiet. Whatever the bytes, the
 * server must not crash, leak or corrupt the store; the store is checked every 1,000
 * inputs.
 *
 * One server per process (set up in LLVMFuzzerInitialize), token "fuzz-token": inputs
 * that carry it reach the authenticated handlers; the rate limit is set high so inputs
 * are not all answered 429.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alert.h"
#include "fuzz_common.h"
#include "http.h"
#include "store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct event_base *base;
static http_t *srv;
static store_t *st;
static uint16_t port;
static char db_path[256];
static unsigned long runs;

static void cleanup(void)
{
    http_destroy(srv);
    store_close(st);
    if (base)
        event_base_free(base);
    unlink(db_path);
    char p[300];
    snprintf(p, sizeof(p), "%s-wal", db_path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", db_path);
    unlink(p);
}

static void seed_store(void)
{
    int64_t run_id = 0;
    if (store_run_begin(st, "fuzz", "fuzz", 1767225600000000ULL, &run_id) < 0 ||
        store_window_begin(st) < 0) {
        fprintf(stderr, "fuzz_http: %s\n", store_errmsg(st));
        abort();
    }
    for (int i = 0; i < 20; i++) {
        struct alert a;
        memset(&a, 0, sizeof(a));
        a.timestamp_us = 1767225600000000ULL + (uint64_t)i * 60000000ULL;
        a.window_start_us = a.timestamp_us - 60000000ULL;
        a.window_end_us = a.timestamp_us;
        a.event_type = i % 3 ? "anomaly" : "threshold";
        char ip[32];
        snprintf(ip, sizeof(ip), "198.51.100.%d", i);
        ip_addr_parse(ip, &a.ip);
        a.prefix_len = 128;
        a.side = (enum alert_side)(i % 3);
        a.score = 0.6 + i * 0.01;
        a.threshold = 0.6;
        a.n_top = 1;
        snprintf(a.top[0].name, sizeof(a.top[0].name), "dst_ports");
        a.top[0].value = i;
        snprintf(a.model_id, sizeof(a.model_id), "fuzz");
        if (store_alert_add(st, run_id, &a) < 0) {
            fprintf(stderr, "fuzz_http: %s\n", store_errmsg(st));
            abort();
        }
        struct geo_info g = {"GB", 64500, "Example"};
        store_host_seen(st, &a.ip, a.window_start_us, a.window_end_us, &g, a.score);
    }
    if (store_window_commit(st) < 0) {
        fprintf(stderr, "fuzz_http: %s\n", store_errmsg(st));
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    signal(SIGPIPE, SIG_IGN);
    snprintf(db_path, sizeof(db_path), "%s.db", fuzz_scratch_path("http"));
    unlink(db_path);
    char errbuf[TAPIR_ERRBUF_SIZE];
    st = store_open(db_path, errbuf);
    if (!st) {
        fprintf(stderr, "fuzz_http: %s\n", errbuf);
        abort();
    }
    seed_store();
    base = event_base_new();
    struct http_config hc = {"127.0.0.1:0", "fuzz-token", 1e9, 0};
    srv = http_create(base, &hc, st, NULL, NULL, errbuf);
    if (!base || !srv) {
        fprintf(stderr, "fuzz_http: %s\n", errbuf);
        abort();
    }
    port = http_port(srv);
    atexit(cleanup);
    return 0;
}

/* Reads what the server sent; returns 1 once it closed the connection. */
static int drain(int fd)
{
    char buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0)
            continue;
        return n == 0 || (errno != EAGAIN && errno != EINTR);
    }
}

/* A fresh loopback connection to the server, or -1. Reset on close (no TIME_WAIT), so
 * thousands of connections a second do not run out of ephemeral ports; a refused or
 * failed connect is retried on a new socket after letting the server accept. */
static int connect_server(void)
{
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_port = htons(port);
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    for (int tries = 0; tries < 100; tries++) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -1;
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
        if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0)
            return fd;
        close(fd);
        event_base_loop(base, EVLOOP_NONBLOCK);
    }
    return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int fd = connect_server();
    if (fd < 0) { /* the harness could not connect: not a finding about the server */
        perror("fuzz_http: connect");
        return 0;
    }
    /* Send everything, letting the server run in between so it reads as we write; then
     * let it answer until it closes or stays quiet. Bounded in rounds either way. */
    evutil_make_socket_nonblocking(fd);
    size_t off = 0;
    int closed = 0;
    for (int rounds = 0; off < size && !closed && rounds < 1000; rounds++) {
        ssize_t w = send(fd, data + off, size - off, MSG_NOSIGNAL);
        if (w > 0)
            off += (size_t)w;
        else if (w < 0 && errno != EAGAIN && errno != EINTR)
            break;
        event_base_loop(base, EVLOOP_NONBLOCK);
        closed = drain(fd);
    }
    shutdown(fd, SHUT_WR);
    for (int rounds = 0, quiet = 0; !closed && rounds < 200 && quiet < 5; rounds++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 1) > 0) {
            quiet = 0;
            closed = drain(fd);
        } else {
            quiet++;
        }
    }
    close(fd);
    /* Let the server see the close and free the connection. */
    for (int i = 0; i < 3; i++)
        event_base_loop(base, EVLOOP_NONBLOCK);
    if (++runs % 1000 == 0) {
        json_t *list = NULL;
        struct store_alert_filter f;
        memset(&f, 0, sizeof(f));
        if (store_alerts_list(st, &f, &list) < 0)
            abort(); /* the store must still answer */
        json_decref(list);
    }
    return 0;
}

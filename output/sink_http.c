/*
 * sink_http.c — the HTTP server of `tapir run` (http.h: /health, /metrics, the API and
 * the dashboard) as a sink: it starts on the analyzer's libevent loop, answers the API
 * from the store sink's connection (same thread), and /metrics from the set's metric
 * sources and sinks (output_write_metrics).
 *
 * Rejected: a second thread and connection for HTTP: the store belongs to one thread,
 * and the loop is idle between windows anyway.
 */
#include <stdlib.h>

#include "http.h"
#include "log.h"
#include "output.h"

struct http_sink {
    struct http_config hc; /* strings borrowed from the output config */
    output_t *set;         /* for the store and /metrics */
    http_t *http;          /* once started */
};

static int http_sink_start(void *self, struct event_base *base, char *errbuf)
{
    struct http_sink *s = self;
    s->http = http_create(base, &s->hc, output_store(s->set), output_write_metrics, s->set, errbuf);
    if (!s->http)
        return -1;
    log_info("http: listening on port %u (%s)", http_port(s->http), s->hc.listen);
    return 0;
}

static void http_sink_destroy(void *self)
{
    struct http_sink *s = self;
    http_destroy(s->http);
    free(s);
}

int output_http_sink(const struct output_config *c, output_t *o, struct output_sink *k,
                     char *errbuf)
{
    if (!c->http_listen)
        return 0;
    struct http_sink *s = output_sink_state(sizeof(*s), errbuf);
    if (!s)
        return -1;
    s->hc = (struct http_config){
        .listen = c->http_listen, .token = c->http_token, .rate_per_s = c->http_rate};
    s->set = o;
    *k = (struct output_sink){
        .name = "http",
        .self = s,
        .start = http_sink_start,
        .destroy = http_sink_destroy,
    };
    return 1;
}

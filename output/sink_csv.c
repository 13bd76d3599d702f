/*
 * sink_csv.c — the three debug CSVs (--hosts-csv, --scores-csv, --vectors-csv): every
 * host's raw window counts, every scored vector's score, every source vector before
 * scaling. They are for tuning features and scaling (tools/eval.sh, docs/scaling.md),
 * not for operators, so they are written as the vectors go, with stdio's buffering.
 *
 * The FILE *s are the caller's (it opened them and wrote the headers, and closes them
 * to learn whether the data reached the disk). Rejected: one sink per CSV: three
 * constructors and three registrations for one tuning aid.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

struct csv_sink {
    FILE *hosts, *scores, *vectors; /* borrowed; NULL when not asked for */
};

static void csv_window_begin(void *self, const struct output_window *ow)
{
    struct csv_sink *s = self;
    const struct window *w = ow->w;
    if (!s->hosts)
        return;
    for (uint32_t i = 0; i < w->n_hosts; i++) {
        const struct host_window *h = &w->hosts[i];
        char ip[64];
        ip_addr_str(&h->ip, ip, sizeof(ip));
        fprintf(s->hosts,
                "%" PRIu64 ",%s,%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%u,%u,%u,%u,%u,"
                "%u,%u\n",
                w->start_us / 1000000, ip, h->pkts_sent, h->bytes_sent, h->pkts_recv, h->bytes_recv,
                h->flows_started, h->flows_in, h->tcp_started, h->tcp_answered, h->l7_known,
                h->l7_unknown, h->dns_queries);
    }
}

static void csv_source_vector(void *self, const struct window *w, const struct ip_addr *ip,
                              const double *raw, int n)
{
    struct csv_sink *s = self;
    char buf[64];
    ip_addr_str(ip, buf, sizeof(buf));
    fprintf(s->vectors, "%" PRIu64 ",%s", w->start_us / 1000000, buf);
    for (int k = 0; k < n; k++)
        fprintf(s->vectors, ",%.6g", raw[k]);
    fputc('\n', s->vectors);
}

static void csv_scored(void *self, const struct window *w, const struct output_score *sc)
{
    struct csv_sink *s = self;
    char ip[64];
    ip_addr_str(&sc->ip, ip, sizeof(ip));
    if (sc->prefix_len < 128) {
        size_t u = strlen(ip);
        snprintf(ip + u, sizeof(ip) - u, "/%u",
                 ip_addr_is_v4(&sc->ip) ? sc->prefix_len - 96u : sc->prefix_len);
    }
    fprintf(s->scores, "%" PRIu64 ",%" PRIu64 ",%s,%s,%.6f,%.6f,%d,%d\n", w->start_us / 1000000,
            w->end_us / 1000000, ip, sc->side, sc->score, sc->threshold, sc->over, sc->alert);
}

int output_csv_sink(const struct output_config *c, output_t *o, struct output_sink *k, char *errbuf)
{
    (void)o;
    if (!c->hosts_csv && !c->scores_csv && !c->vectors_csv)
        return 0;
    struct csv_sink *s = output_sink_state(sizeof(*s), errbuf);
    if (!s)
        return -1;
    s->hosts = c->hosts_csv;
    s->scores = c->scores_csv;
    s->vectors = c->vectors_csv;
    *k = (struct output_sink){
        .name = "csv",
        .self = s,
        .window_begin = s->hosts ? csv_window_begin : NULL,
        .source_vector = s->vectors ? csv_source_vector : NULL,
        .scored = s->scores ? csv_scored : NULL,
        .destroy = free,
    };
    return 1;
}

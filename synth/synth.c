/*
 * synth.c — `tapir synth`: a deterministic generator of labeled synthetic traffic. This
 * file is the run: it builds the population, opens the outputs, starts the hosts and the
 * attacks, runs the event loop and writes the truth (synth.h lists the other files).
 *
 * Event-driven: each conversation in flight is a session in a fixed pool, and the engine's
 * heap picks the next one to emit a packet, so output is in time order by construction
 * and memory is flat whatever --packets asks for (synth_engine.c).
 *
 * Two seeds: the population seed fixes the network (addresses, each host's habits:
 * activity, active periods, favourite servers, protocol mix, OS), the traffic seed
 * everything that happens. Captures made with different traffic seeds show the same
 * hosts behaving in their usual ways on different days, which is what makes training on
 * one (baseline, no attacks) and testing on another (mixed) meaningful.
 *
 * Attack IPs only ever take part in attack traffic, so every source IP has one label.
 * Victims answer as benign hosts; attacker-run servers (a beacon's C2, an exfiltration
 * drop) are labeled with the attack they serve.
 *
 * The loop is here, not in the engine, and hands each session to its kind's step
 * function through one constant table: the engine stays below the conversations and
 * attacks it runs, with nothing to register at run time. (The table replaced a switch
 * here that called a second switch in each module: two dispatches, written three times.)
 * (Rejected: one file with the loop, the engine and every kind's step function — 2,500
 * lines in which the engine, the population and the attacks all reached into each other.)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"
#include "synth_attacks.h"
#include "synth_conv.h"
#include "synth_engine.h"
#include "synth_hosts.h"
#include "synth_population.h"
#include "synth_rng.h"
#include "synth_truth.h"

/* Each kind's step function: emits the session's next packet at t, returns the delay to
 * its following step, 0 when it is done. */
static uint64_t (*const step[])(struct gen *g, struct sess *s, uint64_t t) = {
    [K_HOST] = synth_hosts_step,          [K_TCP] = synth_conv_tcp_step,
    [K_DNS] = synth_conv_dns_step,        [K_NTP] = synth_conv_ntp_step,
    [K_PING] = synth_conv_ping_step,      [K_PROBE] = synth_attacks_probe_step,
    [K_FLOOD] = synth_attacks_flood_step, [K_CAMP] = synth_attacks_camp_step,
    [K_EPOCH] = synth_attacks_epoch_step,
};

void synth_opts_default(struct synth_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->pop_seed = 0x7a9125;
    o->hosts = 60;
    o->duration_us = 20 * 60 * SYNTH_US;
    o->start_us = 1767225600ULL * SYNTH_US; /* 2026-01-01T00:00:00Z */
    o->attacks = SYNTH_ALL_ATTACKS;
    o->ipv6_share = 0.25;
}

static void gen_free(struct gen *g)
{
    if (g->dump)
        pcap_dump_close(g->dump);
    if (g->pd)
        pcap_close(g->pd);
    synth_truth_destroy(g->truth);
    synth_population_free(&g->pop);
    synth_engine_close(g);
}

int synth_run(const struct synth_opts *o, struct synth_stats *st, char *errbuf, size_t errlen)
{
    struct gen *g = calloc(1, sizeof(*g));
    FILE *labels = NULL, *hosts = NULL, *flows = NULL;
    int rc = -1;
    if (!g) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    g->o = *o;
    synth_rng_seed(&g->rng, synth_mix(o->seed, 0x7a));
    if (synth_population_build(&g->pop, o, errbuf, errlen) < 0)
        goto out;
    g->cap = 4096 + 16 * g->pop.n_cli;
    if (synth_engine_open(g, errbuf, errlen) < 0)
        goto out;

    labels = fopen(o->labels, "w");
    if (!labels) {
        snprintf(errbuf, errlen, "cannot create %s: %s", o->labels, strerror(errno));
        goto out;
    }
    if (o->truth_hosts && !(hosts = fopen(o->truth_hosts, "w"))) {
        snprintf(errbuf, errlen, "cannot create %s: %s", o->truth_hosts, strerror(errno));
        goto out;
    }
    if (o->truth_flows) {
        flows = fopen(o->truth_flows, "w");
        if (!flows || fprintf(flows, "first_ts,src,sport,dst,dport,proto,pkts_fwd,bytes_fwd,"
                                     "pkts_rev,bytes_rev\n") < 0) {
            snprintf(errbuf, errlen, "cannot create %s: %s", o->truth_flows, strerror(errno));
            goto out;
        }
    }
    g->truth = synth_truth_create(g->pop.n_cli * 2 + N_CATALOG * 2 + N_SPOOF + 4096, flows, errbuf,
                                  errlen);
    if (!g->truth)
        goto out;
    g->pd = pcap_open_dead(DLT_EN10MB, 65535);
    if (!g->pd) {
        snprintf(errbuf, errlen, "cannot open a pcap handle");
        goto out;
    }
    g->dump = pcap_dump_open(g->pd, o->out);
    if (!g->dump) {
        snprintf(errbuf, errlen, "cannot create %s: %s", o->out, pcap_geterr(g->pd));
        goto out;
    }

    /* the hosts' drivers, then the attacks: this order of draws is part of the output */
    synth_hosts_start(g);
    synth_attacks_start(g);

    g->end_us = o->start_us + o->duration_us;
    uint64_t last = o->start_us;
    while (g->n_heap && !g->stop) {
        struct hent e = synth_engine_pop(g);
        if (!o->max_packets && e.t >= g->end_us)
            break;
        struct sess *s = &g->pool[e.s];
        last = e.t;
        uint64_t d = step[s->kind](g, s, e.t);
        if (d)
            synth_engine_push(g, e.s, e.t + d);
        else
            synth_engine_end(g, s);
    }
    if (g->failed) {
        snprintf(errbuf, errlen, "internal error: a packet did not fit in a frame");
        goto out;
    }
    if (pcap_dump_flush(g->dump) < 0 || ferror(pcap_dump_file(g->dump))) {
        snprintf(errbuf, errlen, "cannot write %s", o->out);
        goto out;
    }
    struct synth_stats tmp;
    memset(&tmp, 0, sizeof(tmp));
    if (synth_truth_finish(g->truth, labels, hosts, &tmp, errbuf, errlen) < 0)
        goto out;
    tmp.packets = g->packets;
    tmp.ip_bytes = g->ip_bytes;
    tmp.sessions_dropped = g->dropped;
    tmp.last_us = last;
    if (st)
        *st = tmp;
    rc = 0;
out:
    if (labels && fclose(labels) && !rc) {
        snprintf(errbuf, errlen, "cannot write %s", o->labels);
        rc = -1;
    }
    if (hosts && fclose(hosts) && !rc) {
        snprintf(errbuf, errlen, "cannot write %s", o->truth_hosts);
        rc = -1;
    }
    if (flows && fclose(flows) && !rc) {
        snprintf(errbuf, errlen, "cannot write %s", o->truth_flows);
        rc = -1;
    }
    gen_free(g);
    free(g);
    return rc;
}

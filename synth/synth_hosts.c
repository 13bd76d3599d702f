/*
 * synth_hosts.c — benign hosts: when each one is active, and what it does then.
 *
 * One driver session per host wakes at the earliest of its next phase change (active or
 * idle, exponential lengths around the host's habits), its next task and its next NTP
 * poll. A task is drawn from the host's weights (web, plain HTTP, SSH, ping, IMAP, SMTP,
 * FTP, DNS) and starts one or more conversations, mostly to the host's favourite servers;
 * no new task starts while a host has 8 sessions in flight. External clients only come
 * in: to the public web site, the bastion and the mail server.
 * (Rejected: a fixed rate of sessions per host — traffic that never goes quiet has none
 * of the idle periods and bursts that a detector must learn to accept as normal.)
 */
#include <math.h>
#include <stdbool.h>

#include "synth_conv.h"
#include "synth_engine.h"
#include "synth_hosts.h"
#include "synth_population.h"
#include "synth_rng.h"

static int pick_server(struct gen *g, struct client *c, struct synth_rng *r, uint16_t svc)
{
    if (synth_rng_unit(r) < 0.85) {
        /* favourites first, the first ones most */
        for (int tries = 0; tries < 4; tries++) {
            uint32_t k = synth_rng_below(r, c->nfav);
            k = synth_rng_below(r, k + 1);
            if (g->pop.srv[c->fav[k]].svc & svc)
                return c->fav[k];
        }
    }
    for (int tries = 0; tries < 64; tries++) {
        int si = SRV_FIRST_PUBLIC + (int)synth_rng_below(r, N_CATALOG - SRV_FIRST_PUBLIC);
        if (g->pop.srv[si].svc & svc)
            return si;
    }
    return SRV_FIRST_PUBLIC;
}

static void task_web(struct gen *g, uint64_t t, uint32_t ci, bool tls, struct synth_rng *r)
{
    struct client *c = &g->pop.cli[ci];
    int si = pick_server(g, c, r, tls ? SV_HTTPS : SV_HTTP);
    struct server *sv = &g->pop.srv[si];
    bool v6 = c->has_v6 && sv->has_v6 && synth_rng_unit(r) < 0.8;
    if (synth_rng_unit(r) < 0.6) {
        synth_conv_dns_start(g, t, ci, sv->name, v6 ? 28 : 1, si, v6 && synth_rng_unit(r) < 0.5);
        /* pages pull in other names too (CDNs, analytics): lookups without a connection */
        for (int k = (int)synth_rng_below(r, 3); k > 0; k--) {
            int x = SRV_FIRST_PUBLIC + (int)synth_rng_below(r, N_CATALOG - SRV_FIRST_PUBLIC);
            synth_conv_dns_start(g, t + (uint64_t)synth_rng_range(r, 1000, 400000), ci,
                                 g->pop.srv[x].name, c->has_v6 && synth_rng_unit(r) < 0.5 ? 28 : 1,
                                 x, false);
        }
        t += (uint64_t)synth_rng_range(r, 2000, 60000);
    }
    int nconn = 1 + (synth_rng_unit(r) < 0.15) + (synth_rng_unit(r) < 0.05);
    for (int k = 0; k < nconn && c->active < 8; k++) {
        struct sess *s =
            synth_conv_tcp_start(g, t + (uint64_t)k * (uint64_t)synth_rng_range(r, 100, 30000), ci,
                                 si, v6, tls ? TP_HTTPS : TP_HTTP, tls ? 443 : 80);
        if (!s)
            return;
        double u = synth_rng_unit(&s->rng);
        s->n = 1 + (u < 0.35) + (u < 0.12);
        s->a2 = (uint32_t)exp(c->size_mu + 0.3 * synth_rng_gauss(&s->rng));
        s->a1 = c->os;
    }
}

static void task_run(struct gen *g, uint64_t t, uint32_t ci, enum task task)
{
    struct client *c = &g->pop.cli[ci];
    struct synth_rng *r = &g->rng;
    struct sess *s;
    if (!c->internal) {
        /* external clients come in: the public web site, SSH, mail delivery */
        int si = task == T_SSH ? SRV_BASTION : task == T_SMTP ? SRV_MAIL : SRV_WEB;
        enum tproto p = task == T_SSH              ? TP_SSH
                        : task == T_SMTP           ? TP_SMTP
                        : synth_rng_unit(r) < 0.75 ? TP_HTTPS
                                                   : TP_HTTP;
        uint16_t port = p == TP_SSH ? 22 : p == TP_SMTP ? 25 : p == TP_HTTPS ? 443 : 80;
        s = synth_conv_tcp_start(g, t, ci, si, false, p, port);
        if (!s)
            return;
        s->n = p == TP_SSH ? 10 + synth_rng_below(&s->rng, 70) : 1 + synth_rng_below(&s->rng, 2);
        s->a2 = (uint32_t)exp(c->size_mu + 0.3 * synth_rng_gauss(&s->rng));
        s->a1 = p == TP_SMTP ? 1 : c->os;
        if (p == TP_SMTP)
            s->closer = 1;
        return;
    }
    switch (task) {
    case T_WEB:
    case T_HTTP:
        task_web(g, t, ci, task == T_WEB, r);
        break;
    case T_SSH: {
        int si = synth_rng_unit(r) < 0.6 ? SRV_BASTION : pick_server(g, c, r, SV_SSH);
        s = synth_conv_tcp_start(g, t, ci, si, false, TP_SSH, 22);
        if (s)
            s->n = 10 + synth_rng_below(&s->rng, 100);
        break;
    }
    case T_PING: {
        int si = synth_rng_unit(r) < 0.4 ? SRV_GW : pick_server(g, c, r, SV_PING);
        bool v6 = c->has_v6 && g->pop.srv[si].has_v6 && synth_rng_unit(r) < 0.5;
        s = synth_conv_udp_start(g, K_PING, t, ci, si, v6);
        if (s) {
            s->n = 3 + synth_rng_below(&s->rng, 3);
            s->a1 = c->os;
            s->a2 = (uint32_t)synth_rng_next(&s->rng);
            s->cport = s->sport = 0;
        }
        break;
    }
    case T_IMAP:
        s = synth_conv_tcp_start(g, t, ci, SRV_MAIL, false, TP_IMAP, 143);
        if (s) {
            s->n = 1 + synth_rng_below(&s->rng, 4);
            s->a1 = ci;
            s->closer = 1;
        }
        break;
    case T_SMTP:
        s = synth_conv_tcp_start(g, t, ci, SRV_MAIL, false, TP_SMTP, 25);
        if (s) {
            s->a1 = 0;
            s->closer = 1;
        }
        break;
    case T_FTP:
        s = synth_conv_tcp_start(g, t, ci, SRV_FTP, false, TP_FTP, 21);
        if (s)
            s->closer = 1;
        break;
    case T_DNS: {
        int si = SRV_FIRST_PUBLIC + (int)synth_rng_below(r, N_CATALOG - SRV_FIRST_PUBLIC);
        bool v6 = c->has_v6 && synth_rng_unit(r) < 0.5;
        synth_conv_dns_start(g, t, ci, g->pop.srv[si].name, v6 ? 28 : 1, si, v6);
        break;
    }
    default:
        break;
    }
}

uint64_t synth_hosts_step(struct gen *g, struct sess *s, uint64_t t)
{
    uint32_t ci = s->a1;
    struct client *c = &g->pop.cli[ci];
    struct synth_rng *r = &s->rng;
    if (t >= c->phase_end) {
        if (c->off_mean_s <= 0) {
            c->on = true;
            c->phase_end = UINT64_MAX;
        } else {
            c->on = !c->on;
            double mean = c->on ? c->on_mean_s : c->off_mean_s;
            c->phase_end = t + dus(synth_rng_exp(r, mean) * 1e6 + 5e6);
        }
        if (c->on)
            c->next_task = t + dus(synth_rng_exp(r, c->task_mean_s) * 1e6);
    }
    if (c->ntp_poll_s && t >= c->next_ntp) {
        int si = c->ntp_srv;
        bool v6 = c->has_v6 && g->pop.srv[si].has_v6;
        synth_conv_udp_start(g, K_NTP, t, ci, si, v6);
        c->next_ntp = t + dus(c->ntp_poll_s * synth_rng_range(r, 0.98, 1.02) * 1e6);
    }
    if (c->on && t >= c->next_task) {
        if (c->active < 8) {
            uint32_t x = synth_rng_below(r, c->wsum);
            int task = 0;
            while (task < N_TASKS - 1 && x >= c->w[task])
                x -= c->w[task++];
            task_run(g, t, ci, (enum task)task);
        }
        c->next_task = t + dus(synth_rng_exp(r, c->task_mean_s) * 1e6);
    }
    uint64_t next = c->phase_end;
    if (c->on && c->next_task < next)
        next = c->next_task;
    if (c->ntp_poll_s && c->next_ntp < next)
        next = c->next_ntp;
    return next > t ? next - t : 1;
}

/* ---------------------------------------------------------------- start */

void synth_hosts_start(struct gen *g)
{
    for (uint32_t i = 0; i < g->pop.n_benign + g->pop.n_ext; i++) {
        struct client *c = &g->pop.cli[i];
        uint64_t t = g->o.start_us + dus(synth_rng_unit(&g->rng) * 20e6);
        c->on = synth_rng_unit(&g->rng) < 0.7;
        c->phase_end = t + dus(synth_rng_exp(&g->rng, c->on ? c->on_mean_s : c->off_mean_s) * 1e6);
        if (c->off_mean_s <= 0)
            c->phase_end = t;
        c->next_task = t + dus(synth_rng_exp(&g->rng, c->task_mean_s) * 1e6);
        c->next_ntp = t + dus(synth_rng_unit(&g->rng) * c->ntp_poll_s * 1e6);
        struct sess *s = synth_engine_start(g, K_HOST, t, -1);
        if (s)
            s->a1 = i;
    }
}

/*
 * synth_attacks.c — the attacks: port and UDP scans, SYN and ICMP floods, and campaigns
 * (brute force, exfiltration, beaconing, DNS tunnelling) built from conversations.
 *
 * An epoch session places every enabled class at a random time in the capture (each at
 * its nominal length, shortened to half a short capture) and, with --packets, again every
 * --duration. Scans and floods are their own sessions, one probe or one packet pair per
 * step, so thousands of probes cost one pool entry; the victims answer as the population
 * says they would (open, closed, silent, rate-limited ICMP errors). Campaigns start
 * conversations from the attacker, so a brute force or a beacon is real SSH, FTP or TLS
 * on the wire and stands out by its rhythm and its script, not by malformed packets.
 * (Rejected: writing each attack out as a list of packets when it is scheduled — memory
 * would grow with its length, and a 15-minute slow scan, or attacks repeating under
 * --packets, would hold thousands of packets in memory.)
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "synth.h"
#include "synth_attacks.h"
#include "synth_conv.h"
#include "synth_engine.h"
#include "synth_population.h"
#include "synth_proto.h"
#include "synth_rng.h"

/* ================================================================ scans and floods */

enum probe_kind { PR_VERTICAL, PR_HORIZONTAL, PR_UDP, PR_SLOW };
enum flood_kind { FL_SYN, FL_ICMP };

static const uint16_t slow_ports[] = {22, 23, 80, 443, 445, 3389, 8080, 5900, 3306, 1433, 21, 25};

/* Target of probe i: address and port. */
static void probe_target(struct gen *g, struct sess *s, uint32_t i, struct ip_addr *a,
                         uint16_t *port)
{
    switch (s->sub) {
    case PR_VERTICAL:
        *a = g->pop.srv[SRV_WEB].v4;
        /* nmap-like: the low ports in a scrambled order, then some well-known high ones */
        *port = (uint16_t)(i < 1024 ? 1 + (i * 389u) % 1024 : 1024 + (i * 7919u) % 64000);
        break;
    case PR_HORIZONTAL: {
        uint32_t nsub = (g->pop.n_benign + 199) / 200 + 1;
        synth_population_v4(a, 10, 0, 1 + (i / 254) % nsub, 1 + i % 254);
        *port = 445;
        break;
    }
    case PR_UDP:
        *a = g->pop.srv[SRV_RESOLVER].v4;
        *port = (uint16_t)(1 + (i * 641u) % 1024);
        break;
    default: { /* slow: random internal hosts and servers, common ports */
        uint32_t pick = synth_rng_below(&s->rng, g->pop.n_benign + 4);
        if (pick < 4)
            *a = g->pop.srv[SRV_WEB + pick].v4;
        else
            *a = g->pop.cli[pick - 4].v4;
        *port = slow_ports[synth_rng_below(&s->rng, sizeof(slow_ports) / sizeof(slow_ports[0]))];
        break;
    }
    }
}

uint64_t synth_attacks_probe_step(struct gen *g, struct sess *s, uint64_t t)
{
    struct synth_rng *r = &s->rng;
    size_t n = 0;
    switch (s->state) {
    case 0: {
        uint16_t port;
        probe_target(g, s, s->i, &s->s, &port);
        s->sport = port;
        s->mark = t;
        if (s->sub == PR_SLOW)
            s->cport = (uint16_t)(40000 + synth_rng_below(r, 20000));
        int ci = synth_population_client_at(&g->pop, &s->s);
        s->ttl_s = ci >= 0 ? g->pop.cli[ci].ttl : 64;
        s->d_s = (uint32_t)synth_rng_range(r, 100, 600);
        if (s->sub == PR_UDP) {
            if (port == 53)
                n = synth_dns_query(g->pay, sizeof(g->pay), (uint16_t)s->i, "version.bind", 16);
            else if (port == 123)
                n = synth_ntp(g->pay, sizeof(g->pay), 3, t, 0);
            synth_engine_udp(g, s, t, 0, g->pay, n);
            /* keep the datagram for the ICMP error's quote */
            struct synth_hdr h;
            size_t ipl;
            s->ipid_c--;
            synth_engine_hdr(s, 0, 17, &h);
            size_t fl = synth_frame(g->frame, sizeof(g->frame), &h, g->pay, n, &ipl);
            s->j = (uint32_t)(ipl < sizeof(s->name) ? ipl : 0);
            if (fl && s->j)
                memcpy(s->name, g->frame + 14, s->j);
            /* Linux answers closed ports with a rate limit: 6 burst, 1 per second */
            s->tokens += (double)(t - s->until) / 1e6;
            if (s->tokens > 6)
                s->tokens = 6;
            s->until = t;
            s->a2 = port == 53 || port == 123 ? 2 : (s->tokens >= 1 ? 1 : 0);
            if (s->a2 == 1)
                s->tokens -= 1;
        } else {
            s->seq_c = (uint32_t)synth_rng_next(r);
            uint8_t opt[4] = {2, 4, 0x05, 0xb4};
            struct synth_hdr h;
            synth_engine_hdr(s, 0, 6, &h);
            h.flags = SYNTH_TCP_SYN;
            h.seq = s->seq_c;
            h.win = 1024;
            h.opt = opt;
            h.optlen = 4;
            synth_engine_emit(g, t, &h, NULL, 0, s->lab_c);
            int st = synth_population_port_state(&g->pop, &s->s, port);
            s->a2 = st < 0 ? 0 : (st == 1 ? 3 : 4);
        }
        if (s->a2) {
            s->state = 1;
            return s->d_s;
        }
        break;
    }
    case 1:
        if (s->a2 == 1) {
            synth_engine_icmp(g, s, t, 1, IC_PORT_UNREACH, 0, (const uint8_t *)s->name, s->j);
        } else if (s->a2 == 2) {
            if (s->sport == 53) {
                uint8_t q[64];
                uint8_t txt[] = "\x0b"
                                "9.18.19-1~deb12u1";
                txt[0] = (uint8_t)(sizeof(txt) - 2);
                size_t ql = synth_dns_query(q, sizeof(q), (uint16_t)s->i, "version.bind", 16);
                n = synth_dns_answer(g->pay, sizeof(g->pay), q, ql, 16, 0, txt,
                                     (uint16_t)(sizeof(txt) - 1));
            } else {
                n = synth_ntp(g->pay, sizeof(g->pay), 4, t, s->mark);
            }
            synth_engine_udp(g, s, t, 1, g->pay, n);
        } else {
            static const uint8_t opt[4] = {2, 4, 0x05, 0xb4}; /* MSS 1460 */
            struct synth_hdr h;
            synth_engine_hdr(s, 1, 6, &h);
            h.ack = s->seq_c + 1;
            if (s->a2 == 3) {
                h.flags = SYNTH_TCP_SYN | SYNTH_TCP_ACK;
                h.seq = (uint32_t)synth_rng_next(r);
                h.win = 64240;
                h.opt = opt;
                h.optlen = 4;
            } else {
                h.flags = SYNTH_TCP_RST | SYNTH_TCP_ACK;
            }
            synth_engine_emit(g, t, &h, NULL, 0, s->lab_s);
            if (s->a2 == 3) {
                s->state = 2;
                return s->d_c;
            }
        }
        break;
    case 2: {
        struct synth_hdr h;
        synth_engine_hdr(s, 0, 6, &h);
        h.flags = SYNTH_TCP_RST;
        h.seq = s->seq_c + 1;
        synth_engine_emit(g, t, &h, NULL, 0, s->lab_c);
        break;
    }
    }
    /* next probe */
    s->state = 0;
    if (++s->i >= s->n || t > s->t0 + (uint64_t)s->a3 * SYNTH_US)
        return 0;
    double gap = s->sub == PR_SLOW ? synth_rng_exp(r, (double)s->a1)
                                   : (double)s->a1 * synth_rng_range(r, 0.5, 1.5);
    uint64_t next = s->mark + dus(gap);
    return next > t ? next - t : 1;
}

/* One ping of an ICMP flood: the request (dir 0) or its reply (dir 1), 16 zero bytes, the
 * echo id from a2 and the sequence number i + 1. */
static void flood_echo(struct gen *g, struct sess *s, uint64_t t, int dir)
{
    uint32_t rest = (s->a2 & 0xffff) << 16 | ((s->i + 1) & 0xffff);
    memset(g->pay, 0, 16);
    synth_engine_icmp(g, s, t, dir, dir ? IC_ECHO_REP : IC_ECHO_REQ, rest, g->pay, 16);
}

uint64_t synth_attacks_flood_step(struct gen *g, struct sess *s, uint64_t t)
{
    struct synth_rng *r = &s->rng;
    if (s->state == 0) {
        s->mark = t;
        if (s->sub == FL_SYN) {
            uint32_t k = synth_rng_below(r, g->pop.n_spoof);
            s->c = g->pop.spoof[k];
            s->cport = (uint16_t)(1024 + synth_rng_below(r, 64511));
            s->seq_c = (uint32_t)synth_rng_next(r);
            s->ttl_c = (uint8_t)(40 + synth_rng_below(r, 20));
            struct synth_hdr h;
            synth_engine_hdr(s, 0, 6, &h);
            h.flags = SYNTH_TCP_SYN;
            h.seq = s->seq_c;
            h.win = 512;
            synth_engine_emit(g, t, &h, NULL, 0, s->lab_c);
        } else {
            flood_echo(g, s, t, 0);
        }
        s->state = 1;
        return s->d_s;
    }
    if (s->sub == FL_SYN) {
        uint8_t opt[4] = {2, 4, 0x05, 0xb4};
        struct synth_hdr h;
        synth_engine_hdr(s, 1, 6, &h);
        h.flags = SYNTH_TCP_SYN | SYNTH_TCP_ACK;
        h.seq = (uint32_t)synth_rng_next(r);
        h.ack = s->seq_c + 1;
        h.win = 64240;
        h.opt = opt;
        h.optlen = 4;
        synth_engine_emit(g, t, &h, NULL, 0, s->lab_s);
    } else {
        flood_echo(g, s, t, 1);
    }
    s->state = 0;
    if (++s->i >= s->n || t >= s->until)
        return 0;
    uint64_t next = s->mark + dus(synth_rng_exp(r, (double)s->a1));
    return next > t + 1 ? next - t : 1;
}

/* ================================================================ attack campaigns */

/* Nominal lengths of each attack, s (shortened to fit short captures). */
static const double attack_len_s[SYNTH_N_ATTACKS] = {[SYNTH_PORTSCAN_VERTICAL] = 100,
                                                     [SYNTH_PORTSCAN_HORIZONTAL] = 150,
                                                     [SYNTH_UDPSCAN] = 150,
                                                     [SYNTH_SYNFLOOD] = 30,
                                                     [SYNTH_ICMPFLOOD] = 25,
                                                     [SYNTH_BRUTEFORCE] = 300,
                                                     [SYNTH_EXFIL] = 240,
                                                     [SYNTH_BEACON] = 720,
                                                     [SYNTH_DNSTUNNEL] = 300,
                                                     [SYNTH_SLOWSCAN] = 900,
                                                     [SYNTH_SLOWEXFIL] = 900};

static const char b32[] = "abcdefghijklmnopqrstuvwxyz234567";

uint64_t synth_attacks_camp_step(struct gen *g, struct sess *s, uint64_t t)
{
    struct synth_rng *r = &s->rng;
    uint32_t ci = s->a1;
    struct client *c = &g->pop.cli[ci];
    if (t >= s->until)
        return 0;
    switch (s->sub) {
    case SYNTH_BRUTEFORCE: {
        if (c->active < 2) {
            bool ftp = s->a2;
            struct sess *x = synth_conv_tcp_start(g, t, ci, ftp ? SRV_FTP : SRV_BASTION, false,
                                                  ftp ? TP_FTP_BRUTE : TP_SSH_BRUTE, ftp ? 21 : 22);
            if (x) {
                x->n = 3 + synth_rng_below(&x->rng, 3);
                x->closer = 1;
                x->a1 = 3 + synth_rng_below(&x->rng, 3);
                x->a3 = 1;
                x->a2 = (uint32_t)synth_rng_next(&x->rng);
            }
        }
        return dus(synth_rng_range(r, 4e6, 9e6));
    }
    case SYNTH_BEACON: {
        struct server *sv = &g->pop.srv[g->pop.n_srv - N_XSERVERS + XS_C2];
        if (s->i++ % 30 == 0)
            synth_conv_dns_start(g, t, ci, sv->name, 1, g->pop.n_srv - N_XSERVERS + XS_C2, false);
        struct sess *x = synth_conv_tcp_start(g, t + 20000, ci, g->pop.n_srv - N_XSERVERS + XS_C2,
                                              false, TP_BEACON, 443);
        if (x) {
            x->n = 1;
            x->rst_close = 0;
        }
        return dus(10e6 * synth_rng_range(r, 0.98, 1.02));
    }
    case SYNTH_SLOWEXFIL:
    case SYNTH_EXFIL: {
        int xi = g->pop.n_srv - N_XSERVERS + (s->sub == SYNTH_EXFIL ? XS_EXFIL : XS_SLOWEXFIL);
        bool v6 = s->sub == SYNTH_SLOWEXFIL && c->has_v6;
        if (s->i++ == 0)
            synth_conv_dns_start(g, t, ci, g->pop.srv[xi].name, v6 ? 28 : 1, xi, v6);
        struct sess *x = synth_conv_tcp_start(g, t + 30000, ci, xi, v6, TP_UPLOAD, 443);
        if (!x)
            return dus(60e6);
        x->n = 1;
        x->rst_close = 0;
        if (s->sub == SYNTH_EXFIL) {
            double secs = (double)(s->until - t) / 1e6 * 0.9;
            x->a1 = s->a2;
            x->bw_kbps = (uint32_t)((double)s->a2 * 8 / 1000 / (secs > 10 ? secs : 10)) + 1;
            return (uint64_t)(s->until - t); /* one upload */
        }
        x->a1 = (uint32_t)synth_rng_range(r, 10000, 20000);
        x->bw_kbps = 2000;
        return dus(synth_rng_range(r, 60e6, 120e6));
    }
    case SYNTH_DNSTUNNEL: {
        if (s->j == 0)
            s->j = 8 + synth_rng_below(r, 18); /* a burst of queries */
        char name[140];
        uint32_t l1 = 40 + synth_rng_below(r, 23), l2 = 20 + synth_rng_below(r, 30), k = 0;
        for (uint32_t q = 0; q < l1; q++)
            name[k++] = b32[synth_rng_below(r, 32)];
        name[k++] = '.';
        for (uint32_t q = 0; q < l2; q++)
            name[k++] = b32[synth_rng_below(r, 32)];
        snprintf(name + k, sizeof(name) - k, ".t.qz7cdn.net");
        synth_conv_dns_start(g, t, ci, name, 16, -1, false);
        if (--s->j)
            return dus(synth_rng_range(r, 40000, 250000));
        return dus(synth_rng_range(r, 10e6, 30e6));
    }
    }
    return 0;
}

uint64_t synth_attacks_epoch_step(struct gen *g, struct sess *s, uint64_t t)
{
    struct synth_rng *r = &s->rng;
    double d = (double)g->o.duration_us / 1e6;
    for (int k = 0; k < SYNTH_N_ATTACKS; k++) {
        if (!(g->o.attacks & (1u << k)))
            continue;
        double len = attack_len_s[k];
        if (len > 0.5 * d)
            len = 0.5 * d;
        double lo = 0.05 * d, span = 0.9 * d - len;
        uint64_t start = t + dus((lo + (span > 0 ? span : 0) * synth_rng_unit(r)) * 1e6);
        uint64_t until = start + dus(len * 1e6);
        uint32_t ai = g->pop.atk[k][0];
        struct client *a = &g->pop.cli[ai];
        struct sess *x = NULL;
        switch (k) {
        case SYNTH_PORTSCAN_VERTICAL:
        case SYNTH_PORTSCAN_HORIZONTAL:
        case SYNTH_UDPSCAN:
        case SYNTH_SLOWSCAN:
            x = synth_engine_start(g, K_PROBE, start, -1);
            if (!x)
                break;
            x->sub = k == SYNTH_PORTSCAN_VERTICAL     ? PR_VERTICAL
                     : k == SYNTH_PORTSCAN_HORIZONTAL ? PR_HORIZONTAL
                     : k == SYNTH_UDPSCAN             ? PR_UDP
                                                      : PR_SLOW;
            x->c = a->v4;
            x->cport = synth_population_next_port(&a->eport);
            x->ttl_c = a->ttl;
            x->d_c = a->internal ? 100 : a->rtt_us;
            x->lab_c = a->label;
            x->n = k == SYNTH_PORTSCAN_VERTICAL     ? 1100
                   : k == SYNTH_PORTSCAN_HORIZONTAL ? 600
                   : k == SYNTH_UDPSCAN             ? 400
                                                    : 100000;
            /* a1: mean gap between probes, us (slow scan) or port (horizontal) */
            /* a1: mean gap between probes, us; a3: length, s; until: token bucket */
            x->a1 = k == SYNTH_SLOWSCAN ? 20000000 : (uint32_t)(len * 1e6 / x->n);
            x->a3 = (uint32_t)len;
            x->until = start;
            x->tokens = 6;
            break;
        case SYNTH_SYNFLOOD:
        case SYNTH_ICMPFLOOD:
            x = synth_engine_start(g, K_FLOOD, start, -1);
            if (!x)
                break;
            x->sub = k == SYNTH_SYNFLOOD ? FL_SYN : FL_ICMP;
            x->s = k == SYNTH_SYNFLOOD ? g->pop.srv[SRV_WEB].v4 : g->pop.srv[SRV_BASTION].v4;
            x->sport = k == SYNTH_SYNFLOOD ? 80 : 0;
            x->c = a->v4;
            x->ttl_c = a->ttl;
            x->ttl_s = 64;
            x->lab_c = (uint8_t)(1 + k); /* spoofed sources carry the flood's label */
            x->d_s = (uint32_t)synth_rng_range(r, 60, 200);
            x->a1 = 12500; /* mean gap, us: 80 packets a second */
            x->a2 = (uint32_t)synth_rng_next(r);
            x->n = UINT32_MAX;
            x->until = until;
            break;
        default:
            x = synth_engine_start(g, K_CAMP, start, -1);
            if (!x)
                break;
            x->sub = (uint8_t)k;
            x->a1 = ai;
            x->until = until;
            if (k == SYNTH_EXFIL)
                x->a2 = (uint32_t)(400000 * synth_rng_range(r, 0.9, 1.1));
            break;
        }
        if (x && k == SYNTH_BRUTEFORCE) {
            /* a second brute forcer, on FTP, at another time */
            struct sess *y = synth_engine_start(
                g, K_CAMP, t + dus((lo + (span > 0 ? span : 0) * synth_rng_unit(r)) * 1e6), -1);
            if (y) {
                y->sub = SYNTH_BRUTEFORCE;
                y->a1 = g->pop.atk[k][1];
                y->a2 = 1;
                y->until = y->t0 + dus(len * 0.8e6);
            }
        }
    }
    if (!g->o.max_packets)
        return 0;
    return g->o.duration_us;
}

/* ================================================================ dispatch */

void synth_attacks_start(struct gen *g)
{
    if (g->o.attacks)
        synth_engine_start(g, K_EPOCH, g->o.start_us, -1);
}

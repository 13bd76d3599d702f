/*
 * synth.c — `tapir synth`: a deterministic generator of labeled synthetic traffic.
 *
 * Event-driven: every conversation in flight (a TCP connection, a DNS lookup, a ping,
 * a scan, a flood, a host deciding what to do next) is a small state machine in a fixed
 * session pool, and a binary heap keyed by (next packet time, creation order) picks the
 * next one to emit a packet. Output is therefore in time order by construction, and
 * memory is bounded by the number of concurrent sessions — a constant for a given
 * --hosts — whatever --packets asks for: ten million packets stream to disk in flat
 * memory. (Rejected: generating each conversation whole and sorting packets at the end;
 * memory grows with the capture.)
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
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "synth.h"
#include "tapir.h"

#define US 1000000ULL
#define MS 1000ULL

static const char *const attack_names[SYNTH_N_ATTACKS] = {"portscan_vertical",
                                                          "portscan_horizontal",
                                                          "udpscan",
                                                          "synflood",
                                                          "icmpflood",
                                                          "bruteforce",
                                                          "exfil",
                                                          "beacon",
                                                          "dnstunnel",
                                                          "slowscan",
                                                          "slowexfil"};

const char *synth_attack_name(int cls)
{
    return cls >= 0 && cls < SYNTH_N_ATTACKS ? attack_names[cls] : NULL;
}

int synth_parse_attacks(const char *list, uint32_t *mask, char *bad, size_t badlen)
{
    uint32_t m = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        int found = -1;
        if (l == 3 && !strncmp(p, "all", 3)) {
            m |= SYNTH_ALL_ATTACKS;
            found = 0;
        }
        for (int i = 0; i < SYNTH_N_ATTACKS && found < 0; i++)
            if (strlen(attack_names[i]) == l && !strncmp(p, attack_names[i], l)) {
                m |= 1u << i;
                found = i;
            }
        if (found < 0) {
            snprintf(bad, badlen, "%.*s", (int)l, p);
            return -1;
        }
        p += l;
        if (*p == ',')
            p++;
    }
    *mask = m;
    return 0;
}

int synth_parse_duration(const char *s, uint64_t *us)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v > 0))
        return -1;
    double mul = 1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mul = 60, end++;
    else if (*end == 'h')
        mul = 3600, end++;
    else if (*end == 'd')
        mul = 86400, end++;
    if (*end || v * mul > 366.0 * 86400)
        return -1;
    *us = (uint64_t)(v * mul * 1e6 + 0.5);
    return *us ? 0 : -1;
}

void synth_opts_default(struct synth_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->seed = 1;
    o->pop_seed = 0x7a9125;
    o->hosts = 60;
    o->duration_us = 20 * 60 * US;
    o->start_us = 1767225600ULL * US; /* 2026-01-01T00:00:00Z */
    o->attacks = SYNTH_ALL_ATTACKS;
    o->ipv6_share = 0.25;
}

/* ================================================================ the network */

enum {
    SV_HTTPS = 1,
    SV_HTTP = 2,
    SV_SSH = 4,
    SV_NTP = 8,
    SV_DNS = 16,
    SV_PING = 32,
    SV_SMTP = 64,
    SV_IMAP = 128,
    SV_FTP = 256
};

struct server_def {
    const char *name, *v4, *v6;
    uint16_t svc;
    uint16_t rtt_ms; /* capture point -> server -> capture point; 0: on the LAN */
};

/* Internal servers first (fixed indices below), then public ones on real-world ranges,
 * several of them in MaxMind's test databases so that geolocation varies in tests. */
static const struct server_def catalog[] = {
    {"ns1.corp.lan", "10.0.0.53", "fd00::a:0:35", SV_DNS | SV_PING, 0},
    {"www.corp.example", "10.0.0.80", "fd00::a:0:50", SV_HTTP | SV_HTTPS | SV_PING, 0},
    {"bastion.corp.lan", "10.0.0.22", NULL, SV_SSH | SV_PING, 0},
    {"mail.corp.lan", "10.0.0.25", NULL, SV_SMTP | SV_IMAP, 0},
    {"files.corp.lan", "10.0.0.21", NULL, SV_FTP, 0},
    {"gw.corp.lan", "10.0.0.1", "fd00::a:0:1", SV_PING, 0},
    {"www.wikipedia.org", "81.2.69.142", NULL, SV_HTTPS | SV_HTTP, 24},
    {"upload.wikimedia.org", "81.2.69.143", NULL, SV_HTTPS, 24},
    {"www.bbc.co.uk", "81.2.69.150", NULL, SV_HTTPS | SV_HTTP, 22},
    {"www.theguardian.com", "2.125.160.217", NULL, SV_HTTPS, 23},
    {"news.ycombinator.com", "216.160.83.57", NULL, SV_HTTPS, 95},
    {"github.com", "216.160.83.58", NULL, SV_HTTPS | SV_SSH, 92},
    {"api.github.com", "216.160.83.59", NULL, SV_HTTPS, 92},
    {"www.svt.se", "89.160.20.113", NULL, SV_HTTPS | SV_HTTP, 31},
    {"ftp.sunet.se", "89.160.20.114", NULL, SV_HTTP | SV_HTTPS | SV_PING, 31},
    {"ntp.se", "89.160.20.115", NULL, SV_NTP | SV_PING, 31},
    {"www.baidu.com", "175.16.199.10", NULL, SV_HTTPS | SV_HTTP, 212},
    {"www.qq.com", "175.16.199.20", NULL, SV_HTTPS, 215},
    {"www.abc.net.au", "1.130.20.5", NULL, SV_HTTPS, 281},
    {"www.telstra.com.au", "1.152.100.7", NULL, SV_HTTPS | SV_HTTP, 285},
    {"dns.google", "8.8.8.8", "2001:4860:4860::8888", SV_DNS | SV_PING, 12},
    {"one.one.one.one", "1.1.1.1", "2606:4700:4700::1111", SV_DNS | SV_PING, 10},
    {"dns.quad9.net", "9.9.9.9", "2620:fe::fe", SV_DNS, 14},
    {"www.google.com", "142.250.74.36", "2a00:1450:4001:82b::2004", SV_HTTPS | SV_HTTP, 12},
    {"www.youtube.com", "142.250.74.78", "2a00:1450:4001:830::200e", SV_HTTPS, 12},
    {"login.microsoftonline.com", "20.190.159.2", NULL, SV_HTTPS, 21},
    {"outlook.office365.com", "52.97.146.162", NULL, SV_HTTPS, 22},
    {"www.cloudflare.com", "104.16.124.96", "2606:4700::6810:7c60", SV_HTTPS, 10},
    {"cdn.jsdelivr.net", "151.101.1.229", "2a04:4e42::485", SV_HTTPS, 11},
    {"deb.debian.org", "151.101.194.132", "2a04:4e42:200::644", SV_HTTP | SV_HTTPS, 11},
    {"security.debian.org", "151.101.130.132", NULL, SV_HTTP, 11},
    {"archive.ubuntu.com", "91.189.91.82", "2620:2d:4000:1::16", SV_HTTP, 88},
    {"www.amazon.com", "52.94.236.248", NULL, SV_HTTPS, 82},
    {"slack.com", "34.237.73.95", NULL, SV_HTTPS, 96},
    {"zoom.us", "170.114.52.2", NULL, SV_HTTPS, 101},
    {"www.apple.com", "17.253.144.10", NULL, SV_HTTPS, 19},
    {"www.iij.ad.jp", "202.232.2.180", "2001:240:bb81::10:180", SV_HTTPS, 252},
    {"www.kisa.or.kr", "211.252.150.2", "2001:220:1:1::10", SV_HTTPS, 240},
    {"www.dost.gov.ph", "202.196.230.20", NULL, SV_HTTPS, 183},
    {"git.kernel.org", "139.178.84.217", "2604:1380:4641:c500::1", SV_HTTPS | SV_SSH, 99},
    {"www.mit.edu", "18.9.22.69", NULL, SV_HTTPS | SV_HTTP | SV_SSH, 86},
    {"www.hp.com", "15.72.34.30", NULL, SV_HTTPS, 90},
    {"a248.e.akamai.net", "23.32.5.10", NULL, SV_HTTPS | SV_HTTP, 15},
    {"speedtest.cogentco.com", "38.104.20.5", NULL, SV_HTTP | SV_PING, 40},
    {"www.orange.co.uk", "31.64.20.30", NULL, SV_HTTPS, 25},
    {"www.telekom.de", "31.224.10.20", NULL, SV_HTTPS | SV_SSH, 18},
    {"www.att.com", "12.81.95.2", NULL, SV_HTTPS, 95},
    {"0.debian.pool.ntp.org", "162.159.200.1", NULL, SV_NTP, 11},
    {"time.cloudflare.com", "162.159.200.123", "2606:4700:f1::123", SV_NTP, 10},
    {"time.google.com", "216.239.35.0", "2001:4860:4806::", SV_NTP, 15},
};

enum { SRV_RESOLVER, SRV_WEB, SRV_BASTION, SRV_MAIL, SRV_FTP, SRV_GW, SRV_FIRST_PUBLIC };
#define N_CATALOG ((int)(sizeof(catalog) / sizeof(catalog[0])))

/* Attacker-run servers, labeled with the attack they serve. */
enum { XS_EXFIL, XS_C2, XS_SLOWEXFIL, N_XSERVERS };
static const struct server_def xserver_defs[N_XSERVERS] = {
    {"sync.dropbucket.io", "67.43.156.77", NULL, SV_HTTPS, 263},
    {"cdn.static-metrics.com", "81.2.69.165", NULL, SV_HTTPS, 26},
    {"backup.nihon-storage.jp", "111.235.161.66", "2001:218:3001:7::66", SV_HTTPS, 248},
};
static const int xserver_class[N_XSERVERS] = {SYNTH_EXFIL, SYNTH_BEACON, SYNTH_SLOWEXFIL};

struct server {
    struct ip_addr v4, v6;
    bool has_v6, internal;
    const char *name;
    uint16_t svc;
    uint8_t ttl; /* as seen at the capture point */
    uint8_t label;
    uint16_t mss;
    uint32_t rtt_us;
    uint16_t eport; /* next ephemeral port (the resolver asks upstream) */
};

enum task { T_WEB, T_HTTP, T_SSH, T_PING, T_IMAP, T_SMTP, T_FTP, T_DNS, N_TASKS };

/* A host that starts conversations: internal benign client, external benign client or
 * attacker. Habits come from the population seed and the host's index only. */
struct client {
    struct ip_addr v4, v6;
    bool has_v6, internal;
    uint8_t label;
    uint8_t os;                   /* 0 Linux, 1 Windows, 2 macOS */
    uint8_t ttl;                  /* as seen at the capture point */
    uint8_t active;               /* sessions in flight */
    uint16_t eport;               /* next ephemeral port */
    uint32_t rtt_us;              /* capture point -> host -> capture point (external) */
    uint32_t bw_kbps;             /* pacing of bulk transfers */
    double task_mean_s;           /* mean gap between tasks while active */
    double on_mean_s, off_mean_s; /* active / idle period means; off 0: always on */
    double size_mu;               /* log of the median response size */
    uint16_t fav[6];
    uint8_t nfav;
    uint16_t w[N_TASKS];
    uint32_t wsum;
    uint32_t ntp_poll_s; /* 0: no NTP daemon */
    uint16_t ntp_srv;
    /* driver state */
    uint64_t next_task, next_ntp, phase_end;
    bool on;
};

/* ================================================================ sessions */

enum kind { K_HOST, K_TCP, K_DNS, K_NTP, K_PING, K_PROBE, K_FLOOD, K_CAMP, K_EPOCH };

enum tproto {
    TP_HTTPS,
    TP_HTTP,
    TP_SSH,
    TP_SSH_BRUTE,
    TP_FTP,
    TP_FTP_BRUTE,
    TP_SMTP,
    TP_IMAP,
    TP_UPLOAD,
    TP_BEACON
};

enum mkind {
    MK_TEXT,
    MK_TEXT_BODY,
    MK_HTTP_REQ,
    MK_HTTP_RESP,
    MK_TLS_CH,
    MK_TLS_SH,
    MK_TLS_CFIN,
    MK_TLS_DATA,
    MK_SSH_KEX,
    MK_SSH_ECDH_I,
    MK_SSH_ECDH_R,
    MK_SSH_NEWKEYS,
    MK_SSH_ENC
};

/* One application message: a run of bytes in one direction. */
struct tmsg {
    uint8_t dir;       /* 0 client -> server, 1 server -> client */
    uint8_t kind;      /* enum mkind */
    uint16_t aux;      /* text id, path id ... */
    uint32_t body;     /* bytes after the templated head */
    uint32_t len;      /* total bytes */
    uint32_t think_us; /* pause before it starts */
};

enum tstate { TS_SYN, TS_SYNACK, TS_ACK3, TS_MSG, TS_ACK, TS_FIN1, TS_FIN2, TS_FIN3 };

struct sess {
    uint8_t kind, state, sub, v6;
    uint8_t lab_c, lab_s;
    uint8_t ttl_c, ttl_s;
    uint8_t last_dir, closer, rst_close, unacked;
    uint8_t have_next;
    uint8_t ack_from, ack_next; /* TS_ACK: who acknowledges; then the next message? */
    uint16_t cport, sport;
    int32_t owner; /* client holding a concurrency slot, or -1 */
    struct ip_addr c, s;
    uint32_t d_c, d_s; /* us: capture point -> client / server -> capture point */
    uint16_t ipid_c, ipid_s;
    uint32_t flow_label;
    struct synth_rng rng;
    uint64_t salt, t0;
    /* TCP */
    uint32_t seq_c, seq_s;
    uint16_t win_c, win_s, mss;
    uint32_t bw_kbps;
    uint16_t msg_i;
    uint32_t off;
    struct tmsg m;
    /* scripts, probes, campaigns */
    uint32_t n, i, j;
    uint64_t until, mark;
    uint32_t a1, a2, a3;
    double tokens;
    char name[140];
};

struct hent {
    uint64_t t, order;
    uint32_t s;
};

struct gen {
    struct synth_opts o;
    struct synth_rng rng; /* traffic */
    struct server *srv;
    int n_srv;
    struct client *cli;
    uint32_t n_cli, n_benign, n_ext;
    uint32_t atk[SYNTH_N_ATTACKS][2]; /* attacker client indices per class */
    struct ip_addr *spoof;
    uint32_t n_spoof;
    int upstream[3]; /* public resolvers the resolver forwards to */
    struct sess *pool;
    uint32_t cap, *free_list, n_free;
    struct hent *heap;
    uint32_t n_heap;
    uint64_t order;
    pcap_t *pd;
    pcap_dumper_t *dump;
    struct synth_truth *truth;
    uint64_t end_us;
    uint64_t packets, ip_bytes, dropped;
    bool stop, failed;
    uint8_t frame[SYNTH_FRAME_MAX];
    uint8_t pay[SYNTH_FRAME_MAX];
    uint8_t scratch[4096];
};

/* ---------------------------------------------------------------- small helpers */

static double urange(struct synth_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * synth_rng_unit(r);
}

static double gauss(struct synth_rng *r)
{
    double u1 = 1.0 - synth_rng_unit(r), u2 = synth_rng_unit(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static uint64_t dus(double us)
{
    return us < 1 ? 1 : (uint64_t)us;
}

static void v4_addr(struct ip_addr *a, unsigned x, unsigned y, unsigned z, unsigned w)
{
    uint8_t b[4] = {(uint8_t)x, (uint8_t)y, (uint8_t)z, (uint8_t)w};
    ip_addr_from_v4(a, b);
}

/* fd00::a:X:Y for 10.0.X.Y: one ULA address per internal IPv4 address. */
static void ula_of(struct ip_addr *a, const struct ip_addr *v4)
{
    memset(a->b, 0, 16);
    a->b[0] = 0xfd;
    a->b[11] = 0x0a;
    a->b[13] = v4->b[14];
    a->b[15] = v4->b[15];
}

static uint16_t next_port(uint16_t *p)
{
    uint16_t r = *p;
    *p = (uint16_t)(r >= 60999 ? 32768 : r + 1);
    return r;
}

/* ---------------------------------------------------------------- heap and pool */

static bool hless(const struct hent *a, const struct hent *b)
{
    return a->t < b->t || (a->t == b->t && a->order < b->order);
}

static void heap_push(struct gen *g, uint32_t s, uint64_t t)
{
    uint32_t i = g->n_heap++;
    struct hent e = {t, g->order++, s};
    while (i) {
        uint32_t p = (i - 1) / 2;
        if (!hless(&e, &g->heap[p]))
            break;
        g->heap[i] = g->heap[p];
        i = p;
    }
    g->heap[i] = e;
}

static struct hent heap_pop(struct gen *g)
{
    struct hent top = g->heap[0], last = g->heap[--g->n_heap];
    uint32_t i = 0, n = g->n_heap;
    for (;;) {
        uint32_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && hless(&g->heap[c + 1], &g->heap[c]))
            c++;
        if (!hless(&g->heap[c], &last))
            break;
        g->heap[i] = g->heap[c];
        i = c;
    }
    if (n)
        g->heap[i] = last;
    return top;
}

/* A new session whose first step runs at t, or NULL when the pool is full (counted). */
static struct sess *sess_new(struct gen *g, enum kind k, uint64_t t, int32_t owner)
{
    if (!g->n_free) {
        g->dropped++;
        return NULL;
    }
    uint32_t idx = g->free_list[--g->n_free];
    struct sess *s = &g->pool[idx];
    memset(s, 0, sizeof(*s));
    s->kind = (uint8_t)k;
    synth_rng_seed(&s->rng, synth_rng_next(&g->rng));
    s->salt = synth_rng_next(&s->rng);
    s->t0 = t;
    s->owner = owner;
    s->ipid_c = (uint16_t)synth_rng_next(&s->rng);
    s->ipid_s = (uint16_t)synth_rng_next(&s->rng);
    s->flow_label = (uint32_t)synth_rng_next(&s->rng) & 0xfffff;
    if (owner >= 0)
        g->cli[owner].active++;
    heap_push(g, idx, t);
    return s;
}

static void sess_free(struct gen *g, struct sess *s)
{
    if (s->owner >= 0)
        g->cli[s->owner].active--;
    g->free_list[g->n_free++] = (uint32_t)(s - g->pool);
}

/* ---------------------------------------------------------------- emitting */

static void emit(struct gen *g, uint64_t t, struct synth_hdr *h, const uint8_t *pl, size_t plen,
                 int label)
{
    size_t ip_len;
    size_t n = synth_frame(g->frame, sizeof(g->frame), h, pl, plen, &ip_len);
    if (!n) {
        g->failed = true; /* a builder bug: a frame that does not fit */
        g->stop = true;
        return;
    }
    struct pcap_pkthdr ph;
    ph.ts.tv_sec = (time_t)(t / US);
    ph.ts.tv_usec = (suseconds_t)(t % US);
    ph.caplen = ph.len = (bpf_u_int32)n;
    pcap_dump((u_char *)g->dump, &ph, g->frame);
    synth_truth_packet(g->truth, t, h->src, h->dst, h->sport, h->dport, h->proto, h->flags,
                       (uint32_t)ip_len, label);
    g->packets++;
    g->ip_bytes += ip_len;
    if (g->o.max_packets && g->packets >= g->o.max_packets)
        g->stop = true;
}

/* Fills the addressing part of h for a packet of session s in direction dir. */
static void sess_hdr(struct sess *s, int dir, uint8_t proto, struct synth_hdr *h)
{
    memset(h, 0, sizeof(*h));
    h->proto = proto;
    h->flow_label = s->flow_label;
    if (dir == 0) {
        h->src = &s->c;
        h->dst = &s->s;
        h->sport = s->cport;
        h->dport = s->sport;
        h->ttl = s->ttl_c;
        h->ip_id = s->ipid_c++;
    } else {
        h->src = &s->s;
        h->dst = &s->c;
        h->sport = s->sport;
        h->dport = s->cport;
        h->ttl = s->ttl_s;
        h->ip_id = s->ipid_s++;
    }
}

static void tcp_put(struct gen *g, struct sess *s, uint64_t t, int dir, uint8_t flags,
                    const uint8_t *pl, size_t plen)
{
    struct synth_hdr h;
    uint8_t opt[12];
    sess_hdr(s, dir, 6, &h);
    h.flags = flags;
    h.seq = dir ? s->seq_s : s->seq_c;
    h.ack = (flags & SYNTH_TCP_ACK) ? (dir ? s->seq_c : s->seq_s) : 0;
    h.win = dir ? s->win_s : s->win_c;
    if (flags & SYNTH_TCP_SYN) {
        /* MSS, NOP, window scale 7, NOP, NOP, SACK permitted */
        opt[0] = 2;
        opt[1] = 4;
        opt[2] = (uint8_t)(s->mss >> 8);
        opt[3] = (uint8_t)s->mss;
        opt[4] = 1;
        opt[5] = 3;
        opt[6] = 3;
        opt[7] = 7;
        opt[8] = 1;
        opt[9] = 1;
        opt[10] = 4;
        opt[11] = 2;
        h.opt = opt;
        h.optlen = 12;
        h.win = dir ? 65160 : 64240;
    }
    uint32_t adv = (uint32_t)plen + ((flags & (SYNTH_TCP_SYN | SYNTH_TCP_FIN)) ? 1 : 0);
    if (dir)
        s->seq_s += adv;
    else
        s->seq_c += adv;
    s->last_dir = (uint8_t)dir;
    emit(g, t, &h, pl, plen, dir ? s->lab_s : s->lab_c);
}

static void udp_put(struct gen *g, struct sess *s, uint64_t t, int dir, const uint8_t *pl,
                    size_t plen)
{
    struct synth_hdr h;
    sess_hdr(s, dir, 17, &h);
    emit(g, t, &h, pl, plen, dir ? s->lab_s : s->lab_c);
}

enum icmp_msg { IC_ECHO_REQ, IC_ECHO_REP, IC_PORT_UNREACH };

static void icmp_put(struct gen *g, struct sess *s, uint64_t t, int dir, enum icmp_msg m,
                     uint32_t rest, const uint8_t *pl, size_t plen)
{
    static const uint8_t types[3][3] = {{8, 0, 128}, {0, 0, 129}, {3, 3, 1}};
    static const uint8_t code6[3] = {0, 0, 4};
    struct synth_hdr h;
    bool v4 = ip_addr_is_v4(&s->c);
    sess_hdr(s, dir, v4 ? 1 : 58, &h);
    h.icmp_type = v4 ? types[m][0] : types[m][2];
    h.icmp_code = v4 ? types[m][1] : code6[m];
    h.icmp_rest = rest;
    emit(g, t, &h, pl, plen, dir ? s->lab_s : s->lab_c);
}

/* ================================================================ TCP conversations */

static const char *const http_paths[] = {"/",
                                         "/index.html",
                                         "/news/latest",
                                         "/static/app.js",
                                         "/api/v1/status",
                                         "/images/logo.png",
                                         "/search?q=weather",
                                         "/wiki/Tapir",
                                         "/debian/dists/bookworm/InRelease",
                                         "/favicon.ico",
                                         "/login",
                                         "/assets/style.css"};
#define N_PATHS (sizeof(http_paths) / sizeof(http_paths[0]))

static const char *const user_agents[] = {
    "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_2) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.2 Safari/605.1.15"};

static const char *const ssh_client_banners[] = {"SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u2",
                                                 "SSH-2.0-OpenSSH_for_Windows_8.6",
                                                 "SSH-2.0-OpenSSH_9.4",
                                                 "SSH-2.0-libssh_0.9.6",
                                                 "SSH-2.0-Go",
                                                 "SSH-2.0-PUTTY"};

enum text_id {
    TX_SSH_C,
    TX_SSH_S,
    TX_FTP_220,
    TX_FTP_USER,
    TX_FTP_331,
    TX_FTP_PASS,
    TX_FTP_230,
    TX_FTP_530,
    TX_FTP_SYST,
    TX_FTP_215,
    TX_FTP_QUIT,
    TX_FTP_221,
    TX_SMTP_220,
    TX_SMTP_EHLO,
    TX_SMTP_250EHLO,
    TX_SMTP_MAIL,
    TX_SMTP_250,
    TX_SMTP_RCPT,
    TX_SMTP_DATA,
    TX_SMTP_354,
    TX_SMTP_DOT,
    TX_SMTP_QUEUED,
    TX_SMTP_QUIT,
    TX_SMTP_221,
    TX_IMAP_OK,
    TX_IMAP_CAP,
    TX_IMAP_CAPR,
    TX_IMAP_LOGIN,
    TX_IMAP_LOGINOK,
    TX_IMAP_SELECT,
    TX_IMAP_SELECTR,
    TX_IMAP_NOOP,
    TX_IMAP_NOOPR,
    TX_IMAP_LOGOUT,
    TX_IMAP_BYE
};

static const char *const ftp_users[] = {"admin", "root",   "test",   "ftp",
                                        "user",  "backup", "oracle", "guest"};
static const char *const ftp_passwords[] = {"123456",  "password", "admin",    "qwerty",
                                            "letmein", "changeme", "1q2w3e4r", "root"};

/* The templated head of a message (everything but its filler body). */
static size_t msg_head(struct gen *g, const struct sess *s, const struct tmsg *m, uint8_t *b,
                       size_t cap)
{
    int n = 0;
    char date[40];
    (void)g;
    switch (m->kind) {
    case MK_TEXT_BODY:
        n = snprintf((char *)b, cap,
                     "From: %s\r\nTo: bob@corp.example\r\nSubject: Report %u\r\n"
                     "Message-ID: <%016" PRIx64 "@example.net>\r\n"
                     "Content-Type: text/plain; charset=us-ascii\r\n\r\n",
                     s->a1 ? "newsletter@example.net" : "alice@corp.example", s->a2 % 1000,
                     s->salt);
        break;
    case MK_TEXT:
        switch (m->aux) {
        case TX_SSH_C:
            n = snprintf((char *)b, cap, "%s\r\n", ssh_client_banners[s->a1 % 6]);
            break;
        case TX_SSH_S:
            n = snprintf((char *)b, cap, "SSH-2.0-OpenSSH_%s\r\n",
                         s->a2 & 1 ? "8.9p1 Ubuntu-3ubuntu0.6" : "9.2p1 Debian-2+deb12u2");
            break;
        case TX_FTP_220:
            n = snprintf((char *)b, cap, "220 (vsFTPd 3.0.3)\r\n");
            break;
        case TX_FTP_USER:
            n = snprintf((char *)b, cap, "USER %s\r\n",
                         s->a3 ? ftp_users[(s->j + s->a1) % 8] : "alice");
            break;
        case TX_FTP_331:
            n = snprintf((char *)b, cap, "331 Please specify the password.\r\n");
            break;
        case TX_FTP_PASS:
            n = snprintf((char *)b, cap, "PASS %s\r\n",
                         s->a3 ? ftp_passwords[(s->j * 3 + s->a2) % 8] : "c0rrect-h0rse");
            break;
        case TX_FTP_230:
            n = snprintf((char *)b, cap, "230 Login successful.\r\n");
            break;
        case TX_FTP_530:
            n = snprintf((char *)b, cap, "530 Login incorrect.\r\n");
            break;
        case TX_FTP_SYST:
            n = snprintf((char *)b, cap, "SYST\r\n");
            break;
        case TX_FTP_215:
            n = snprintf((char *)b, cap, "215 UNIX Type: L8\r\n");
            break;
        case TX_FTP_QUIT:
        case TX_SMTP_QUIT:
            n = snprintf((char *)b, cap, "QUIT\r\n");
            break;
        case TX_FTP_221:
            n = snprintf((char *)b, cap, "221 Goodbye.\r\n");
            break;
        case TX_SMTP_220:
            n = snprintf((char *)b, cap, "220 mail.corp.example ESMTP Postfix (Debian/GNU)\r\n");
            break;
        case TX_SMTP_EHLO:
            n = snprintf((char *)b, cap, "EHLO %s\r\n",
                         s->a1 ? "mta-out.example.net" : "ws.corp.lan");
            break;
        case TX_SMTP_250EHLO:
            n = snprintf((char *)b, cap,
                         "250-mail.corp.example\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n"
                         "250-8BITMIME\r\n250-SMTPUTF8\r\n250 CHUNKING\r\n");
            break;
        case TX_SMTP_MAIL:
            n = snprintf((char *)b, cap, "MAIL FROM:<%s>\r\n",
                         s->a1 ? "newsletter@example.net" : "alice@corp.example");
            break;
        case TX_SMTP_250:
            n = snprintf((char *)b, cap, "250 2.1.0 Ok\r\n");
            break;
        case TX_SMTP_RCPT:
            n = snprintf((char *)b, cap, "RCPT TO:<%s>\r\n",
                         s->a1 ? "bob@corp.example" : "carol@example.org");
            break;
        case TX_SMTP_DATA:
            n = snprintf((char *)b, cap, "DATA\r\n");
            break;
        case TX_SMTP_354:
            n = snprintf((char *)b, cap, "354 End data with <CR><LF>.<CR><LF>\r\n");
            break;
        case TX_SMTP_DOT:
            n = snprintf((char *)b, cap, ".\r\n");
            break;
        case TX_SMTP_QUEUED:
            n = snprintf((char *)b, cap, "250 2.0.0 Ok: queued as %08X\r\n", (unsigned)s->salt);
            break;
        case TX_SMTP_221:
            n = snprintf((char *)b, cap, "221 2.0.0 Bye\r\n");
            break;
        case TX_IMAP_OK:
            n = snprintf((char *)b, cap,
                         "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
                         "LITERAL+ STARTTLS AUTH=PLAIN] Dovecot (Debian) ready.\r\n");
            break;
        case TX_IMAP_CAP:
            n = snprintf((char *)b, cap, "a1 CAPABILITY\r\n");
            break;
        case TX_IMAP_CAPR:
            n = snprintf((char *)b, cap,
                         "* CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE "
                         "LITERAL+ STARTTLS AUTH=PLAIN\r\na1 OK Pre-login capabilities listed, "
                         "post-login capabilities have more.\r\n");
            break;
        case TX_IMAP_LOGIN:
            n = snprintf((char *)b, cap, "a2 LOGIN user%u \"secret%u\"\r\n", s->a1 % 1000,
                         s->a1 % 97);
            break;
        case TX_IMAP_LOGINOK:
            n = snprintf((char *)b, cap, "a2 OK Logged in\r\n");
            break;
        case TX_IMAP_SELECT:
            n = snprintf((char *)b, cap, "a3 SELECT INBOX\r\n");
            break;
        case TX_IMAP_SELECTR:
            n = snprintf((char *)b, cap,
                         "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
                         "* %u EXISTS\r\n* 0 RECENT\r\n* OK [UIDVALIDITY 1700000000] UIDs "
                         "valid\r\na3 OK [READ-WRITE] Select completed.\r\n",
                         s->a1 % 500);
            break;
        case TX_IMAP_NOOP:
            n = snprintf((char *)b, cap, "a%u NOOP\r\n", 4 + s->j);
            break;
        case TX_IMAP_NOOPR:
            n = snprintf((char *)b, cap, "a%u OK NOOP completed.\r\n", 4 + s->j);
            break;
        case TX_IMAP_LOGOUT:
            n = snprintf((char *)b, cap, "a99 LOGOUT\r\n");
            break;
        case TX_IMAP_BYE:
            n = snprintf((char *)b, cap, "* BYE Logging out\r\na99 OK Logout completed.\r\n");
            break;
        }
        break;
    case MK_HTTP_REQ:
        n = snprintf((char *)b, cap,
                     "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\nAccept: */*\r\n"
                     "Accept-Language: en-US,en;q=0.7\r\nAccept-Encoding: gzip, deflate\r\n"
                     "Connection: keep-alive\r\n\r\n",
                     http_paths[m->aux % N_PATHS], s->name, user_agents[s->a1 % 3]);
        break;
    case MK_HTTP_RESP: {
        time_t tt = (time_t)(s->t0 / US);
        struct tm tm;
        gmtime_r(&tt, &tm);
        strftime(date, sizeof(date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        n = snprintf((char *)b, cap,
                     "HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: %s\r\n"
                     "Content-Type: text/html; charset=utf-8\r\nContent-Length: %u\r\n"
                     "Connection: keep-alive\r\nCache-Control: max-age=600\r\n\r\n",
                     date, m->body);
        break;
    }
    case MK_TLS_CH:
        return synth_tls_client_hello(b, cap, s->name, s->salt);
    case MK_TLS_SH: {
        size_t k = synth_tls_server_hello(b, cap, s->salt);
        if (!k || k + 5 > cap)
            return 0;
        /* then the encrypted handshake (EncryptedExtensions .. Finished) as app data */
        memcpy(b + k, "\x17\x03\x03", 3);
        b[k + 3] = (uint8_t)(m->body >> 8);
        b[k + 4] = (uint8_t)m->body;
        return k + 5;
    }
    case MK_TLS_CFIN:
        memcpy(b, "\x14\x03\x03\x00\x01\x01\x17\x03\x03\x00\x35", 11);
        return 11;
    case MK_SSH_KEX:
        return synth_ssh_kexinit(b, cap, m->dir == 1, s->salt);
    case MK_SSH_ECDH_I:
        return synth_ssh_ecdh_init(b, cap, s->salt);
    case MK_SSH_ECDH_R:
        return synth_ssh_ecdh_reply(b, cap, s->salt);
    case MK_SSH_NEWKEYS:
        return synth_ssh_newkeys(b, cap, s->salt);
    default: /* MK_SSH_ENC, MK_TLS_DATA: no head */
        return 0;
    }
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

#define TLS_REC 16384u

/* Bytes [off, off+n) of message m, rebuilt from the session's salt. */
static void msg_bytes(struct gen *g, const struct sess *s, const struct tmsg *m, uint32_t off,
                      uint32_t n, uint8_t *out)
{
    uint64_t salt = synth_mix(s->salt, (uint64_t)s->msg_i << 1 | m->dir);
    if (m->kind == MK_TLS_DATA) {
        /* A run of application_data records of at most 16384 bytes each. */
        uint32_t nrec = (m->body + TLS_REC - 1) / TLS_REC;
        for (uint32_t k = 0; k < n; k++) {
            uint32_t o = off + k, rec = o / (TLS_REC + 5), r = o % (TLS_REC + 5);
            uint32_t rl = rec + 1 < nrec ? TLS_REC : m->body - TLS_REC * (nrec - 1);
            if (r == 0)
                out[k] = 0x17;
            else if (r < 3)
                out[k] = 0x03;
            else if (r == 3)
                out[k] = (uint8_t)(rl >> 8);
            else if (r == 4)
                out[k] = (uint8_t)rl;
            else
                synth_fill_random(out + k, 1, salt, o);
        }
        return;
    }
    uint32_t hl = (uint32_t)msg_head(g, s, m, g->scratch, sizeof(g->scratch));
    uint32_t k = 0;
    if (off < hl) {
        k = hl - off < n ? hl - off : n;
        memcpy(out, g->scratch + off, k);
    }
    if (k < n) {
        uint32_t bo = off + k - hl;
        if (m->kind == MK_TEXT_BODY || m->kind == MK_HTTP_RESP)
            synth_fill_text(out + k, n - k, salt, bo);
        else
            synth_fill_random(out + k, n - k, salt, bo);
    }
}

/* Response body sizes: log-normal around the client's habit. */
static uint32_t resp_size(struct sess *s, double mu, uint32_t cap)
{
    double v = exp(mu + 1.0 * gauss(&s->rng));
    if (v < 120)
        v = 120;
    if (v > cap)
        v = cap;
    return (uint32_t)v;
}

static uint32_t think_user(struct sess *s, double mean_s, double cap_s)
{
    double v = synth_rng_exp(&s->rng, mean_s);
    if (v > cap_s)
        v = cap_s;
    return (uint32_t)(v * 1e6) + 50;
}

/* Sets *m to message i of the session's script. Returns false after the last one. */
static bool plan(struct gen *g, struct sess *s, uint32_t i, struct tmsg *m)
{
    struct synth_rng *r = &s->rng;
    memset(m, 0, sizeof(*m));
#define MSG(d, k, a, bd, th)                                                                       \
    do {                                                                                           \
        m->dir = (d);                                                                              \
        m->kind = (k);                                                                             \
        m->aux = (uint16_t)(a);                                                                    \
        m->body = (uint32_t)(bd);                                                                  \
        m->think_us = (uint32_t)(th);                                                              \
    } while (0)
    uint32_t proc = (uint32_t)urange(r, 300, 6000); /* server processing, us */
    switch (s->sub) {
    case TP_HTTPS:
    case TP_UPLOAD:
    case TP_BEACON:
        if (i == 0)
            MSG(0, MK_TLS_CH, 0, 0, urange(r, 100, 800));
        else if (i == 1)
            /* the encrypted handshake: certificates, or a resumed session's few bytes */
            MSG(1, MK_TLS_SH, 0,
                s->sub != TP_UPLOAD && synth_rng_unit(r) < 0.7 ? urange(r, 180, 420)
                                                               : urange(r, 1200, 2600),
                proc);
        else if (i == 2)
            MSG(0, MK_TLS_CFIN, 0, 53, urange(r, 200, 2000));
        else if (i - 3 < 2 * s->n) {
            uint32_t k = (i - 3) / 2;
            if ((i - 3) % 2 == 0) {
                uint32_t req = s->sub == TP_UPLOAD ? s->a1 : (uint32_t)urange(r, 150, 600);
                MSG(0, MK_TLS_DATA, 0, req, k == 0 ? 100 : think_user(s, 1.5, 8));
            } else {
                uint32_t resp = s->sub == TP_HTTPS ? resp_size(s, log((double)s->a2), 30000)
                                                   : (uint32_t)urange(r, 60, 500);
                MSG(1, MK_TLS_DATA, 0, resp, proc + urange(r, 0, 40000));
            }
        } else
            return false;
        break;
    case TP_HTTP:
        if (i >= 2 * s->n)
            return false;
        if (i % 2 == 0)
            MSG(0, MK_HTTP_REQ, synth_rng_below(r, N_PATHS), 0,
                i == 0 ? 200 : think_user(s, 1.5, 8));
        else
            MSG(1, MK_HTTP_RESP, 0, resp_size(s, log((double)s->a2), 30000),
                proc + urange(r, 0, 30000));
        break;
    case TP_SSH:
    case TP_SSH_BRUTE: {
        static const uint8_t pre_dir[] = {1, 0, 0, 1, 0, 1, 0, 0, 1, 0, 1};
        static const uint8_t pre_kind[] = {MK_TEXT,       MK_TEXT,       MK_SSH_KEX,     MK_SSH_KEX,
                                           MK_SSH_ECDH_I, MK_SSH_ECDH_R, MK_SSH_NEWKEYS, MK_SSH_ENC,
                                           MK_SSH_ENC,    MK_SSH_ENC,    MK_SSH_ENC};
        static const uint16_t pre_body[] = {0, 0, 0, 0, 0, 0, 0, 52, 52, 84, 36};
        uint32_t pre = s->sub == TP_SSH ? 11 : 9;
        if (i < pre) {
            MSG(pre_dir[i], pre_kind[i], i == 0 ? TX_SSH_S : TX_SSH_C, pre_body[i],
                pre_dir[i] ? proc : urange(r, 100, 3000));
            break;
        }
        uint32_t k = i - pre;
        if (k >= 2 * s->n)
            return false;
        if (s->sub == TP_SSH_BRUTE) {
            if (k % 2 == 0)
                MSG(0, MK_SSH_ENC, 0, 84 + 16 * synth_rng_below(r, 3), urange(r, 200000, 1200000));
            else
                MSG(1, MK_SSH_ENC, 0, 52, urange(r, 300000, 2200000)); /* failure, delayed */
        } else if (k % 2 == 0) {
            /* keystrokes, now and then a pause to read */
            uint32_t th =
                synth_rng_unit(r) < 0.06 ? (uint32_t)urange(r, 4e6, 20e6) : think_user(s, 0.6, 4);
            MSG(0, MK_SSH_ENC, 0, 36, th);
        } else {
            uint32_t out = synth_rng_unit(r) < 0.05 ? (uint32_t)urange(r, 200, 2500) : 36;
            MSG(1, MK_SSH_ENC, 0, out, proc);
        }
        break;
    }
    case TP_FTP:
    case TP_FTP_BRUTE: {
        if (i == 0) {
            MSG(1, MK_TEXT, TX_FTP_220, 0, proc);
            break;
        }
        uint32_t k = i - 1;
        if (s->sub == TP_FTP) {
            static const uint16_t t[] = {TX_FTP_USER, TX_FTP_331, TX_FTP_PASS, TX_FTP_230,
                                         TX_FTP_SYST, TX_FTP_215, TX_FTP_QUIT, TX_FTP_221};
            if (k >= 8)
                return false;
            MSG(k % 2, MK_TEXT, t[k], 0, k % 2 ? proc : think_user(s, 1.0, 5));
            break;
        }
        /* brute force: USER/331/PASS/530 per attempt, then the server hangs up */
        if (k >= 4 * s->n)
            return false;
        s->j = k / 4;
        static const uint16_t t[] = {TX_FTP_USER, TX_FTP_331, TX_FTP_PASS, TX_FTP_530};
        MSG(k % 2, MK_TEXT, t[k % 4], 0,
            k % 4 == 3 ? urange(r, 800000, 2500000) : (k % 2 ? proc : urange(r, 2000, 60000)));
        break;
    }
    case TP_SMTP: {
        static const uint8_t d[] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0, 1, 0, 1};
        static const uint16_t t[] = {
            TX_SMTP_220,  TX_SMTP_EHLO,   TX_SMTP_250EHLO, TX_SMTP_MAIL, TX_SMTP_250,
            TX_SMTP_RCPT, TX_SMTP_250,    TX_SMTP_DATA,    TX_SMTP_354,  0,
            TX_SMTP_DOT,  TX_SMTP_QUEUED, TX_SMTP_QUIT,    TX_SMTP_221};
        if (i >= 14)
            return false;
        if (i == 9)
            MSG(0, MK_TEXT_BODY, 0, 72 * (uint32_t)urange(r, 5, 80), 300);
        else
            MSG(d[i], MK_TEXT, t[i], 0, d[i] ? proc : urange(r, 200, 3000));
        break;
    }
    case TP_IMAP: {
        static const uint8_t d[] = {1, 0, 1, 0, 1, 0, 1};
        static const uint16_t t[] = {TX_IMAP_OK,      TX_IMAP_CAP,    TX_IMAP_CAPR,   TX_IMAP_LOGIN,
                                     TX_IMAP_LOGINOK, TX_IMAP_SELECT, TX_IMAP_SELECTR};
        if (i < 7) {
            MSG(d[i], MK_TEXT, t[i], 0, d[i] ? proc : urange(r, 300, 5000));
            break;
        }
        uint32_t k = i - 7;
        if (k < 2 * s->n) {
            s->j = k / 2;
            MSG(k % 2, MK_TEXT, k % 2 ? TX_IMAP_NOOPR : TX_IMAP_NOOP, 0,
                k % 2 ? proc : urange(r, 2e6, 20e6));
        } else if (k == 2 * s->n)
            MSG(0, MK_TEXT, TX_IMAP_LOGOUT, 0, urange(r, 1e6, 5e6));
        else if (k == 2 * s->n + 1)
            MSG(1, MK_TEXT, TX_IMAP_BYE, 0, proc);
        else
            return false;
        break;
    }
    }
#undef MSG
    if (m->kind == MK_TLS_DATA)
        m->len = m->body + 5 * ((m->body + TLS_REC - 1) / TLS_REC);
    else
        m->len = (uint32_t)msg_head(g, s, m, g->scratch, sizeof(g->scratch)) + m->body;
    return m->len > 0;
}

static uint64_t side_delay(const struct sess *s, int dir)
{
    return dir ? s->d_s : s->d_c;
}

/* Moves to the next message, or to the close. Returns the delay before it starts. */
static uint64_t tcp_next_msg(struct sess *s)
{
    if (!s->have_next) {
        s->state = TS_FIN1;
        uint64_t d = (uint64_t)urange(&s->rng, 100, 200000);
        return d + (s->closer != s->last_dir ? side_delay(s, s->closer) : 0);
    }
    s->state = TS_MSG;
    s->off = 0;
    s->unacked = 0;
    return s->m.think_us + (s->m.dir != s->last_dir ? side_delay(s, s->m.dir) : 0);
}

/* Emits the session's next packet; returns the delay to the following one, 0 when done. */
static uint64_t tcp_step(struct gen *g, struct sess *s, uint64_t t)
{
    switch (s->state) {
    case TS_SYN:
        tcp_put(g, s, t, 0, SYNTH_TCP_SYN, NULL, 0);
        s->state = TS_SYNACK;
        return s->d_s;
    case TS_SYNACK:
        tcp_put(g, s, t, 1, SYNTH_TCP_SYN | SYNTH_TCP_ACK, NULL, 0);
        s->state = TS_ACK3;
        return s->d_c;
    case TS_ACK3:
        tcp_put(g, s, t, 0, SYNTH_TCP_ACK, NULL, 0);
        s->msg_i = 0;
        s->have_next = plan(g, s, 0, &s->m);
        return tcp_next_msg(s);
    case TS_MSG: {
        struct tmsg *m = &s->m;
        uint32_t n = m->len - s->off;
        if (n > s->mss)
            n = s->mss;
        msg_bytes(g, s, m, s->off, n, g->pay);
        s->off += n;
        bool last = s->off == m->len;
        tcp_put(g, s, t, m->dir, SYNTH_TCP_ACK | (last ? SYNTH_TCP_PSH : 0), g->pay, n);
        s->unacked++;
        uint64_t pace = (uint64_t)n * 8000 / (s->bw_kbps ? s->bw_kbps : 10000) + 10;
        if (!last) {
            if (s->unacked >= 2) {
                s->state = TS_ACK;
                s->ack_from = !m->dir;
                s->ack_next = 0;
                uint64_t d = side_delay(s, !m->dir);
                return d < 400 ? d : 400;
            }
            return pace;
        }
        int dir = m->dir;
        s->msg_i++;
        s->have_next = plan(g, s, s->msg_i, &s->m);
        if (!s->have_next || s->m.dir == dir) {
            s->state = TS_ACK; /* the receiver acknowledges before anything else */
            s->ack_from = (uint8_t)!dir;
            s->ack_next = 1;
            return side_delay(s, !dir) + 40;
        }
        return tcp_next_msg(s); /* the answer carries the ACK */
    }
    case TS_ACK:
        tcp_put(g, s, t, s->ack_from, SYNTH_TCP_ACK, NULL, 0);
        s->unacked = 0;
        if (!s->ack_next) {
            s->state = TS_MSG;
            return (uint64_t)s->mss * 8000 / (s->bw_kbps ? s->bw_kbps : 10000) + 10;
        }
        return tcp_next_msg(s);
    case TS_FIN1:
        if (s->rst_close) {
            tcp_put(g, s, t, s->closer, SYNTH_TCP_RST | SYNTH_TCP_ACK, NULL, 0);
            return 0;
        }
        tcp_put(g, s, t, s->closer, SYNTH_TCP_FIN | SYNTH_TCP_ACK, NULL, 0);
        s->state = TS_FIN2;
        return side_delay(s, !s->closer) + 30;
    case TS_FIN2:
        tcp_put(g, s, t, !s->closer, SYNTH_TCP_FIN | SYNTH_TCP_ACK, NULL, 0);
        s->state = TS_FIN3;
        return side_delay(s, s->closer) + 20;
    case TS_FIN3:
        tcp_put(g, s, t, s->closer, SYNTH_TCP_ACK, NULL, 0);
        return 0;
    }
    return 0;
}

static const struct ip_addr *srv_addr(const struct server *sv, bool v6)
{
    return v6 ? &sv->v6 : &sv->v4;
}

/* Starts a TCP conversation from client ci to server si at t. */
static struct sess *tcp_start(struct gen *g, uint64_t t, uint32_t ci, int si, bool v6,
                              enum tproto p, uint16_t dport)
{
    struct client *c = &g->cli[ci];
    struct server *sv = &g->srv[si];
    struct sess *s = sess_new(g, K_TCP, t, (int32_t)ci);
    if (!s)
        return NULL;
    struct synth_rng *r = &s->rng;
    s->sub = (uint8_t)p;
    s->v6 = v6;
    s->c = v6 ? c->v6 : c->v4;
    s->s = *srv_addr(sv, v6);
    s->cport = next_port(&c->eport);
    s->sport = dport;
    s->lab_c = c->label;
    s->lab_s = sv->label;
    s->ttl_c = c->ttl;
    s->ttl_s = sv->ttl;
    s->d_c =
        c->internal ? (uint32_t)urange(r, 30, 250) : (uint32_t)(c->rtt_us * urange(r, 0.9, 1.15));
    s->d_s =
        sv->internal ? (uint32_t)urange(r, 80, 400) : (uint32_t)(sv->rtt_us * urange(r, 0.9, 1.15));
    uint16_t cm = v6 ? 1440 : 1460;
    s->mss = sv->mss < cm ? sv->mss : cm;
    if (v6 && s->mss > 1440)
        s->mss = 1440;
    s->seq_c = (uint32_t)synth_rng_next(r);
    s->seq_s = (uint32_t)synth_rng_next(r);
    s->win_c = (uint16_t)urange(r, 480, 2050);
    s->win_s = (uint16_t)urange(r, 480, 2050);
    s->bw_kbps = c->bw_kbps;
    s->closer = 0;
    s->rst_close = !c->label && synth_rng_unit(r) < 0.04;
    s->a1 = c->os;
    s->a2 = (uint32_t)synth_rng_next(r);
    snprintf(s->name, sizeof(s->name), "%s", sv->name);
    s->n = 1;
    return s;
}

/* ================================================================ UDP and ICMP */

/* A DNS lookup of name from client ci through the resolver. an_srv: the server whose
 * address the answer carries, or -1 for a TXT answer (tunnel). */
static struct sess *dns_start(struct gen *g, uint64_t t, uint32_t ci, const char *name,
                              uint16_t qtype, int an_srv, bool v6)
{
    struct client *c = &g->cli[ci];
    struct server *rs = &g->srv[SRV_RESOLVER];
    struct sess *s = sess_new(g, K_DNS, t, (int32_t)ci);
    if (!s)
        return NULL;
    v6 = v6 && c->has_v6;
    s->c = v6 ? c->v6 : c->v4;
    s->s = *srv_addr(rs, v6);
    s->cport = next_port(&c->eport);
    s->sport = 53;
    s->lab_c = c->label;
    s->lab_s = rs->label;
    s->ttl_c = c->ttl;
    s->ttl_s = 64;
    s->a1 = qtype;
    s->a2 = (uint16_t)synth_rng_next(&s->rng);
    s->a3 = (uint32_t)(an_srv + 1);
    /* benign names miss the cache now and then: the resolver asks upstream */
    s->sub = an_srv >= SRV_FIRST_PUBLIC && synth_rng_unit(&s->rng) < 0.3;
    s->d_s = (uint32_t)urange(&s->rng, 150, 900);
    snprintf(s->name, sizeof(s->name), "%s", name);
    return s;
}

static size_t dns_answer_for(struct gen *g, struct sess *s, uint8_t *out, size_t cap)
{
    uint8_t q[300], rd[260];
    size_t ql = synth_dns_query(q, sizeof(q), (uint16_t)s->a2, s->name, (uint16_t)s->a1);
    uint16_t rdl = 0, type = (uint16_t)s->a1;
    int an = (int)s->a3 - 1;
    if (type == 16) {
        /* tunnel downstream: base32-ish data in one TXT string */
        uint32_t l = 60 + synth_rng_below(&s->rng, 120);
        rd[0] = (uint8_t)l;
        synth_fill_random(rd + 1, l, s->salt, 0);
        for (uint32_t k = 1; k <= l; k++)
            rd[k] = (uint8_t) "abcdefghijklmnopqrstuvwxyz234567"[rd[k] & 31];
        rdl = (uint16_t)(l + 1);
    } else if (an >= 0 && type == 1) {
        memcpy(rd, g->srv[an].v4.b + 12, 4);
        rdl = 4;
    } else if (an >= 0 && type == 28 && g->srv[an].has_v6) {
        memcpy(rd, g->srv[an].v6.b, 16);
        rdl = 16;
    }
    uint32_t ttl = 60 + synth_rng_below(&s->rng, 3540);
    return synth_dns_answer(out, cap, q, ql, type, ttl, rd, rdl);
}

static uint64_t dns_step(struct gen *g, struct sess *s, uint64_t t)
{
    struct server *rs = &g->srv[SRV_RESOLVER];
    size_t n;
    switch (s->state) {
    case 0:
        n = synth_dns_query(g->pay, sizeof(g->pay), (uint16_t)s->a2, s->name, (uint16_t)s->a1);
        udp_put(g, s, t, 0, g->pay, n);
        if (s->sub) {
            s->state = 1;
            return 120;
        }
        s->state = 3;
        return s->d_s;
    case 1:
    case 2: {
        /* resolver <-> upstream, as a second flow of the same lookup */
        struct server *up = &g->srv[g->upstream[s->a2 % 3]];
        struct synth_hdr h;
        memset(&h, 0, sizeof(h));
        h.proto = 17;
        if (s->state == 1) {
            s->j = next_port(&rs->eport);
            h.src = &rs->v4;
            h.dst = &up->v4;
            h.sport = (uint16_t)s->j;
            h.dport = 53;
            h.ttl = 64;
            h.ip_id = s->ipid_s++;
            n = synth_dns_query(g->pay, sizeof(g->pay), (uint16_t)(s->a2 ^ 0x5a5a), s->name,
                                (uint16_t)s->a1);
            emit(g, t, &h, g->pay, n, rs->label);
            s->state = 2;
            return (uint64_t)(up->rtt_us * urange(&s->rng, 0.95, 1.3));
        }
        h.src = &up->v4;
        h.dst = &rs->v4;
        h.sport = 53;
        h.dport = (uint16_t)s->j;
        h.ttl = up->ttl;
        h.ip_id = (uint16_t)synth_rng_next(&s->rng);
        uint16_t id = (uint16_t)s->a2;
        s->a2 ^= 0x5a5a;
        n = dns_answer_for(g, s, g->pay, sizeof(g->pay));
        s->a2 = id;
        emit(g, t, &h, g->pay, n, up->label);
        s->state = 3;
        return 100;
    }
    default:
        n = dns_answer_for(g, s, g->pay, sizeof(g->pay));
        udp_put(g, s, t, 1, g->pay, n);
        return 0;
    }
}

static struct sess *udp_like_start(struct gen *g, enum kind k, uint64_t t, uint32_t ci, int si,
                                   bool v6)
{
    struct client *c = &g->cli[ci];
    struct server *sv = &g->srv[si];
    struct sess *s = sess_new(g, k, t, (int32_t)ci);
    if (!s)
        return NULL;
    s->c = v6 ? c->v6 : c->v4;
    s->s = *srv_addr(sv, v6);
    s->cport = next_port(&c->eport);
    s->sport = 123;
    s->lab_c = c->label;
    s->lab_s = sv->label;
    s->ttl_c = c->ttl;
    s->ttl_s = sv->ttl;
    s->d_s = sv->internal ? (uint32_t)urange(&s->rng, 80, 400)
                          : (uint32_t)(sv->rtt_us * urange(&s->rng, 0.95, 1.2));
    return s;
}

static uint64_t ntp_step(struct gen *g, struct sess *s, uint64_t t)
{
    size_t n;
    if (s->state == 0) {
        s->mark = t;
        n = synth_ntp(g->pay, sizeof(g->pay), 3, t, 0);
        udp_put(g, s, t, 0, g->pay, n);
        s->state = 1;
        return s->d_s;
    }
    n = synth_ntp(g->pay, sizeof(g->pay), 4, t - s->d_s / 2, s->mark);
    udp_put(g, s, t, 1, g->pay, n);
    return 0;
}

/* Echo request/reply pairs, one per second, Linux or Windows style payloads. */
static void ping_payload(struct sess *s, uint8_t *p, size_t *n, uint64_t t)
{
    if (s->a1 == 1) { /* Windows: 32 bytes of the alphabet */
        for (int k = 0; k < 32; k++)
            p[k] = (uint8_t)('a' + k % 23);
        *n = 32;
        return;
    }
    uint64_t sec = t / US, usec = t % US; /* Linux: timeval then 0x10.. */
    for (int k = 0; k < 8; k++) {
        p[k] = (uint8_t)(sec >> (8 * k));
        p[8 + k] = (uint8_t)(usec >> (8 * k));
    }
    for (int k = 16; k < 56; k++)
        p[k] = (uint8_t)k;
    *n = 56;
}

static uint64_t ping_step(struct gen *g, struct sess *s, uint64_t t)
{
    size_t n;
    uint32_t rest = (s->a2 & 0xffff) << 16 | ((s->i + 1) & 0xffff);
    if (s->state == 0) {
        s->mark = t;
        ping_payload(s, g->pay, &n, t);
        icmp_put(g, s, t, 0, IC_ECHO_REQ, rest, g->pay, n);
        s->state = 1;
        return s->d_s;
    }
    ping_payload(s, g->pay, &n, s->mark); /* the reply echoes the request's data */
    icmp_put(g, s, t, 1, IC_ECHO_REP, rest, g->pay, n);
    s->state = 0;
    if (++s->i >= s->n)
        return 0;
    uint64_t next = s->mark + US + (uint64_t)urange(&s->rng, 0, 3000);
    return next > t ? next - t : 1;
}

/* ================================================================ scans and floods */

enum probe_kind { PR_VERTICAL, PR_HORIZONTAL, PR_UDP, PR_SLOW };
enum flood_kind { FL_SYN, FL_ICMP };

/* Internal client index of 10.0.X.Y, or -1. */
static int client_at(const struct gen *g, const struct ip_addr *a)
{
    if (!ip_addr_is_v4(a) || a->b[12] != 10 || a->b[13] != 0)
        return -1;
    int x = a->b[14], y = a->b[15];
    if (x < 1 || y < 10 || y >= 210)
        return -1;
    uint32_t i = (uint32_t)(x - 1) * 200 + (uint32_t)(y - 10);
    return i < g->n_benign ? (int)i : -1;
}

static int server_at(const struct gen *g, const struct ip_addr *a)
{
    for (int i = 0; i < SRV_FIRST_PUBLIC; i++)
        if (!ip_addr_cmp(&g->srv[i].v4, a))
            return i;
    return -1;
}

/* Whether TCP port p answers on an internal address: 1 open, 0 closed (RST), -1 silent. */
static int tcp_port_state(const struct gen *g, const struct ip_addr *a, uint16_t p)
{
    int si = server_at(g, a);
    if (si >= 0) {
        uint16_t sv = g->srv[si].svc;
        if ((p == 443 && (sv & SV_HTTPS)) || (p == 80 && (sv & SV_HTTP)) || p == 22 ||
            (p == 25 && (sv & SV_SMTP)) || (p == 143 && (sv & SV_IMAP)) ||
            (p == 21 && (sv & SV_FTP)) || (p == 53 && (sv & SV_DNS)))
            return 1;
        return 0;
    }
    int ci = client_at(g, a);
    if (ci < 0)
        return -1;
    const struct client *c = &g->cli[ci];
    if (c->os == 1)
        return (p == 135 || p == 139 || p == 445 || p == 3389) ? 1 : -1; /* firewalled */
    if (c->os == 2)
        return -1;
    return p == 22 ? 1 : 0;
}

static const uint16_t slow_ports[] = {22, 23, 80, 443, 445, 3389, 8080, 5900, 3306, 1433, 21, 25};

/* Target of probe i: address and port. */
static void probe_target(struct gen *g, struct sess *s, uint32_t i, struct ip_addr *a,
                         uint16_t *port)
{
    switch (s->sub) {
    case PR_VERTICAL:
        *a = g->srv[SRV_WEB].v4;
        /* nmap-like: the low ports in a scrambled order, then some well-known high ones */
        *port = (uint16_t)(i < 1024 ? 1 + (i * 389u) % 1024 : 1024 + (i * 7919u) % 64000);
        break;
    case PR_HORIZONTAL: {
        uint32_t nsub = (g->n_benign + 199) / 200 + 1;
        v4_addr(a, 10, 0, 1 + (i / 254) % nsub, 1 + i % 254);
        *port = 445;
        break;
    }
    case PR_UDP:
        *a = g->srv[SRV_RESOLVER].v4;
        *port = (uint16_t)(1 + (i * 641u) % 1024);
        break;
    default: { /* slow: random internal hosts and servers, common ports */
        uint32_t pick = synth_rng_below(&s->rng, g->n_benign + 4);
        if (pick < 4)
            *a = g->srv[SRV_WEB + pick].v4;
        else
            *a = g->cli[pick - 4].v4;
        *port = slow_ports[synth_rng_below(&s->rng, sizeof(slow_ports) / sizeof(slow_ports[0]))];
        break;
    }
    }
}

static uint64_t probe_step(struct gen *g, struct sess *s, uint64_t t)
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
        int ci = client_at(g, &s->s);
        s->ttl_s = ci >= 0 ? g->cli[ci].ttl : 64;
        s->d_s = (uint32_t)urange(r, 100, 600);
        if (s->sub == PR_UDP) {
            if (port == 53)
                n = synth_dns_query(g->pay, sizeof(g->pay), (uint16_t)s->i, "version.bind", 16);
            else if (port == 123)
                n = synth_ntp(g->pay, sizeof(g->pay), 3, t, 0);
            udp_put(g, s, t, 0, g->pay, n);
            /* keep the datagram for the ICMP error's quote */
            struct synth_hdr h;
            size_t ipl;
            s->ipid_c--;
            sess_hdr(s, 0, 17, &h);
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
            sess_hdr(s, 0, 6, &h);
            h.flags = SYNTH_TCP_SYN;
            h.seq = s->seq_c;
            h.win = 1024;
            h.opt = opt;
            h.optlen = 4;
            emit(g, t, &h, NULL, 0, s->lab_c);
            int st = tcp_port_state(g, &s->s, port);
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
            icmp_put(g, s, t, 1, IC_PORT_UNREACH, 0, (const uint8_t *)s->name, s->j);
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
            udp_put(g, s, t, 1, g->pay, n);
        } else {
            static const uint8_t opt[4] = {2, 4, 0x05, 0xb4}; /* MSS 1460 */
            struct synth_hdr h;
            sess_hdr(s, 1, 6, &h);
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
            emit(g, t, &h, NULL, 0, s->lab_s);
            if (s->a2 == 3) {
                s->state = 2;
                return s->d_c;
            }
        }
        break;
    case 2: {
        struct synth_hdr h;
        sess_hdr(s, 0, 6, &h);
        h.flags = SYNTH_TCP_RST;
        h.seq = s->seq_c + 1;
        emit(g, t, &h, NULL, 0, s->lab_c);
        break;
    }
    }
    /* next probe */
    s->state = 0;
    if (++s->i >= s->n || t > s->t0 + (uint64_t)s->a3 * US)
        return 0;
    double gap =
        s->sub == PR_SLOW ? synth_rng_exp(r, (double)s->a1) : (double)s->a1 * urange(r, 0.5, 1.5);
    uint64_t next = s->mark + dus(gap);
    return next > t ? next - t : 1;
}

static uint64_t flood_step(struct gen *g, struct sess *s, uint64_t t)
{
    struct synth_rng *r = &s->rng;
    if (s->state == 0) {
        s->mark = t;
        if (s->sub == FL_SYN) {
            uint32_t k = synth_rng_below(r, g->n_spoof);
            s->c = g->spoof[k];
            s->cport = (uint16_t)(1024 + synth_rng_below(r, 64511));
            s->seq_c = (uint32_t)synth_rng_next(r);
            s->ttl_c = (uint8_t)(40 + synth_rng_below(r, 20));
            struct synth_hdr h;
            sess_hdr(s, 0, 6, &h);
            h.flags = SYNTH_TCP_SYN;
            h.seq = s->seq_c;
            h.win = 512;
            emit(g, t, &h, NULL, 0, s->lab_c);
        } else {
            uint32_t rest = (s->a2 & 0xffff) << 16 | ((s->i + 1) & 0xffff);
            memset(g->pay, 0, 16);
            icmp_put(g, s, t, 0, IC_ECHO_REQ, rest, g->pay, 16);
        }
        s->state = 1;
        return s->d_s;
    }
    if (s->sub == FL_SYN) {
        uint8_t opt[4] = {2, 4, 0x05, 0xb4};
        struct synth_hdr h;
        sess_hdr(s, 1, 6, &h);
        h.flags = SYNTH_TCP_SYN | SYNTH_TCP_ACK;
        h.seq = (uint32_t)synth_rng_next(r);
        h.ack = s->seq_c + 1;
        h.win = 64240;
        h.opt = opt;
        h.optlen = 4;
        emit(g, t, &h, NULL, 0, s->lab_s);
    } else {
        uint32_t rest = (s->a2 & 0xffff) << 16 | ((s->i + 1) & 0xffff);
        memset(g->pay, 0, 16);
        icmp_put(g, s, t, 1, IC_ECHO_REP, rest, g->pay, 16);
    }
    s->state = 0;
    if (++s->i >= s->n || t >= s->until)
        return 0;
    uint64_t next = s->mark + dus(synth_rng_exp(r, (double)s->a1));
    return next > t + 1 ? next - t : 1;
}

/* ================================================================ benign hosts */

static int pick_server(struct gen *g, struct client *c, struct synth_rng *r, uint16_t svc)
{
    if (synth_rng_unit(r) < 0.85) {
        /* favourites first, the first ones most */
        for (int tries = 0; tries < 4; tries++) {
            uint32_t k = synth_rng_below(r, c->nfav);
            k = synth_rng_below(r, k + 1);
            if (g->srv[c->fav[k]].svc & svc)
                return c->fav[k];
        }
    }
    for (int tries = 0; tries < 64; tries++) {
        int si = SRV_FIRST_PUBLIC + (int)synth_rng_below(r, N_CATALOG - SRV_FIRST_PUBLIC);
        if (g->srv[si].svc & svc)
            return si;
    }
    return SRV_FIRST_PUBLIC;
}

static void task_web(struct gen *g, uint64_t t, uint32_t ci, bool tls, struct synth_rng *r)
{
    struct client *c = &g->cli[ci];
    int si = pick_server(g, c, r, tls ? SV_HTTPS : SV_HTTP);
    struct server *sv = &g->srv[si];
    bool v6 = c->has_v6 && sv->has_v6 && synth_rng_unit(r) < 0.8;
    if (synth_rng_unit(r) < 0.6) {
        dns_start(g, t, ci, sv->name, v6 ? 28 : 1, si, v6 && synth_rng_unit(r) < 0.5);
        /* pages pull in other names too (CDNs, analytics): lookups without a connection */
        for (int k = (int)synth_rng_below(r, 3); k > 0; k--) {
            int x = SRV_FIRST_PUBLIC + (int)synth_rng_below(r, N_CATALOG - SRV_FIRST_PUBLIC);
            dns_start(g, t + (uint64_t)urange(r, 1000, 400000), ci, g->srv[x].name,
                      c->has_v6 && synth_rng_unit(r) < 0.5 ? 28 : 1, x, false);
        }
        t += (uint64_t)urange(r, 2000, 60000);
    }
    int nconn = 1 + (synth_rng_unit(r) < 0.15) + (synth_rng_unit(r) < 0.05);
    for (int k = 0; k < nconn && c->active < 8; k++) {
        struct sess *s = tcp_start(g, t + (uint64_t)k * (uint64_t)urange(r, 100, 30000), ci, si, v6,
                                   tls ? TP_HTTPS : TP_HTTP, tls ? 443 : 80);
        if (!s)
            return;
        double u = synth_rng_unit(&s->rng);
        s->n = 1 + (u < 0.35) + (u < 0.12);
        s->a2 = (uint32_t)exp(c->size_mu + 0.3 * gauss(&s->rng));
        s->a1 = c->os;
    }
}

static void task_run(struct gen *g, uint64_t t, uint32_t ci, enum task task)
{
    struct client *c = &g->cli[ci];
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
        s = tcp_start(g, t, ci, si, false, p, port);
        if (!s)
            return;
        s->n = p == TP_SSH ? 10 + synth_rng_below(&s->rng, 70) : 1 + synth_rng_below(&s->rng, 2);
        s->a2 = (uint32_t)exp(c->size_mu + 0.3 * gauss(&s->rng));
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
        s = tcp_start(g, t, ci, si, false, TP_SSH, 22);
        if (s)
            s->n = 10 + synth_rng_below(&s->rng, 100);
        break;
    }
    case T_PING: {
        int si = synth_rng_unit(r) < 0.4 ? SRV_GW : pick_server(g, c, r, SV_PING);
        bool v6 = c->has_v6 && g->srv[si].has_v6 && synth_rng_unit(r) < 0.5;
        s = udp_like_start(g, K_PING, t, ci, si, v6);
        if (s) {
            s->n = 3 + synth_rng_below(&s->rng, 3);
            s->a1 = c->os;
            s->a2 = (uint32_t)synth_rng_next(&s->rng);
            s->cport = s->sport = 0;
        }
        break;
    }
    case T_IMAP:
        s = tcp_start(g, t, ci, SRV_MAIL, false, TP_IMAP, 143);
        if (s) {
            s->n = 1 + synth_rng_below(&s->rng, 4);
            s->a1 = ci;
            s->closer = 1;
        }
        break;
    case T_SMTP:
        s = tcp_start(g, t, ci, SRV_MAIL, false, TP_SMTP, 25);
        if (s) {
            s->a1 = 0;
            s->closer = 1;
        }
        break;
    case T_FTP:
        s = tcp_start(g, t, ci, SRV_FTP, false, TP_FTP, 21);
        if (s)
            s->closer = 1;
        break;
    case T_DNS: {
        int si = SRV_FIRST_PUBLIC + (int)synth_rng_below(r, N_CATALOG - SRV_FIRST_PUBLIC);
        bool v6 = c->has_v6 && synth_rng_unit(r) < 0.5;
        dns_start(g, t, ci, g->srv[si].name, v6 ? 28 : 1, si, v6);
        break;
    }
    default:
        break;
    }
}

/* A host's daily rhythm: active and idle periods, tasks while active, NTP always. */
static uint64_t host_step(struct gen *g, struct sess *s, uint64_t t)
{
    uint32_t ci = s->a1;
    struct client *c = &g->cli[ci];
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
        bool v6 = c->has_v6 && g->srv[si].has_v6;
        udp_like_start(g, K_NTP, t, ci, si, v6);
        c->next_ntp = t + dus(c->ntp_poll_s * urange(r, 0.98, 1.02) * 1e6);
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

static uint64_t camp_step(struct gen *g, struct sess *s, uint64_t t)
{
    struct synth_rng *r = &s->rng;
    uint32_t ci = s->a1;
    struct client *c = &g->cli[ci];
    if (t >= s->until)
        return 0;
    switch (s->sub) {
    case SYNTH_BRUTEFORCE: {
        if (c->active < 2) {
            bool ftp = s->a2;
            struct sess *x = tcp_start(g, t, ci, ftp ? SRV_FTP : SRV_BASTION, false,
                                       ftp ? TP_FTP_BRUTE : TP_SSH_BRUTE, ftp ? 21 : 22);
            if (x) {
                x->n = 3 + synth_rng_below(&x->rng, 3);
                x->closer = 1;
                x->a1 = 3 + synth_rng_below(&x->rng, 3);
                x->a3 = 1;
                x->a2 = (uint32_t)synth_rng_next(&x->rng);
            }
        }
        return dus(urange(r, 4e6, 9e6));
    }
    case SYNTH_BEACON: {
        struct server *sv = &g->srv[g->n_srv - N_XSERVERS + XS_C2];
        if (s->i++ % 30 == 0)
            dns_start(g, t, ci, sv->name, 1, g->n_srv - N_XSERVERS + XS_C2, false);
        struct sess *x =
            tcp_start(g, t + 20000, ci, g->n_srv - N_XSERVERS + XS_C2, false, TP_BEACON, 443);
        if (x) {
            x->n = 1;
            x->rst_close = 0;
        }
        return dus(10e6 * urange(r, 0.98, 1.02));
    }
    case SYNTH_SLOWEXFIL:
    case SYNTH_EXFIL: {
        int xi = g->n_srv - N_XSERVERS + (s->sub == SYNTH_EXFIL ? XS_EXFIL : XS_SLOWEXFIL);
        bool v6 = s->sub == SYNTH_SLOWEXFIL && c->has_v6;
        if (s->i++ == 0)
            dns_start(g, t, ci, g->srv[xi].name, v6 ? 28 : 1, xi, v6);
        struct sess *x = tcp_start(g, t + 30000, ci, xi, v6, TP_UPLOAD, 443);
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
        x->a1 = (uint32_t)urange(r, 10000, 20000);
        x->bw_kbps = 2000;
        return dus(urange(r, 60e6, 120e6));
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
        dns_start(g, t, ci, name, 16, -1, false);
        if (--s->j)
            return dus(urange(r, 40000, 250000));
        return dus(urange(r, 10e6, 30e6));
    }
    }
    return 0;
}

static uint64_t epoch_step(struct gen *g, struct sess *s, uint64_t t)
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
        uint32_t ai = g->atk[k][0];
        struct client *a = &g->cli[ai];
        struct sess *x = NULL;
        switch (k) {
        case SYNTH_PORTSCAN_VERTICAL:
        case SYNTH_PORTSCAN_HORIZONTAL:
        case SYNTH_UDPSCAN:
        case SYNTH_SLOWSCAN:
            x = sess_new(g, K_PROBE, start, -1);
            if (!x)
                break;
            x->sub = k == SYNTH_PORTSCAN_VERTICAL     ? PR_VERTICAL
                     : k == SYNTH_PORTSCAN_HORIZONTAL ? PR_HORIZONTAL
                     : k == SYNTH_UDPSCAN             ? PR_UDP
                                                      : PR_SLOW;
            x->c = a->v4;
            x->cport = next_port(&a->eport);
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
            x = sess_new(g, K_FLOOD, start, -1);
            if (!x)
                break;
            x->sub = k == SYNTH_SYNFLOOD ? FL_SYN : FL_ICMP;
            x->s = k == SYNTH_SYNFLOOD ? g->srv[SRV_WEB].v4 : g->srv[SRV_BASTION].v4;
            x->sport = k == SYNTH_SYNFLOOD ? 80 : 0;
            x->c = a->v4;
            x->ttl_c = a->ttl;
            x->ttl_s = 64;
            x->lab_c = (uint8_t)(1 + k); /* spoofed sources carry the flood's label */
            x->d_s = (uint32_t)urange(r, 60, 200);
            x->a1 = 12500; /* mean gap, us: 80 packets a second */
            x->a2 = (uint32_t)synth_rng_next(r);
            x->n = UINT32_MAX;
            x->until = until;
            break;
        default:
            x = sess_new(g, K_CAMP, start, -1);
            if (!x)
                break;
            x->sub = (uint8_t)k;
            x->a1 = ai;
            x->until = until;
            if (k == SYNTH_EXFIL)
                x->a2 = (uint32_t)(400000 * urange(r, 0.9, 1.1));
            break;
        }
        if (x && k == SYNTH_BRUTEFORCE) {
            /* a second brute forcer, on FTP, at another time */
            struct sess *y = sess_new(
                g, K_CAMP, t + dus((lo + (span > 0 ? span : 0) * synth_rng_unit(r)) * 1e6), -1);
            if (y) {
                y->sub = SYNTH_BRUTEFORCE;
                y->a1 = g->atk[k][1];
                y->a2 = 1;
                y->until = y->t0 + dus(len * 0.8e6);
            }
        }
    }
    if (!g->o.max_packets)
        return 0;
    return g->o.duration_us;
}

/* ================================================================ set-up */

static int parse_addr(const char *s, struct ip_addr *a, char *errbuf, size_t errlen)
{
    if (ip_addr_parse(s, a) < 0) {
        snprintf(errbuf, errlen, "internal error: bad address %s", s);
        return -1;
    }
    return 0;
}

static int add_server(struct gen *g, const struct server_def *d, uint8_t label, uint64_t pop,
                      char *errbuf, size_t errlen)
{
    struct server *sv = &g->srv[g->n_srv];
    struct synth_rng r;
    synth_rng_seed(&r, synth_mix(pop, 0x5e7e + (uint64_t)g->n_srv));
    memset(sv, 0, sizeof(*sv));
    if (parse_addr(d->v4, &sv->v4, errbuf, errlen) < 0)
        return -1;
    if (d->v6) {
        if (parse_addr(d->v6, &sv->v6, errbuf, errlen) < 0)
            return -1;
        sv->has_v6 = true;
    }
    sv->name = d->name;
    sv->svc = d->svc;
    sv->label = label;
    sv->internal = d->rtt_ms == 0;
    sv->rtt_us = d->rtt_ms * 1000u;
    static const uint8_t init_ttl[] = {64, 64, 128, 255};
    sv->ttl = sv->internal
                  ? 64
                  : (uint8_t)(init_ttl[synth_rng_below(&r, 4)] - 6 - synth_rng_below(&r, 14));
    static const uint16_t mss[] = {1460, 1460, 1440, 1400, 1380};
    sv->mss = sv->internal ? 1460 : mss[synth_rng_below(&r, 5)];
    sv->eport = (uint16_t)(32768 + synth_rng_below(&r, 28000));
    g->n_srv++;
    return 0;
}

static void client_habits(struct gen *g, struct client *c, uint64_t key)
{
    struct synth_rng r;
    synth_rng_seed(&r, synth_mix(g->o.pop_seed, key));
    double u = synth_rng_unit(&r);
    c->os = u < 0.45 ? 0 : u < 0.85 ? 1 : 2;
    c->ttl = c->os == 1 ? 128 : 64;
    c->eport = (uint16_t)(32768 + synth_rng_below(&r, 28000));
    c->bw_kbps = (uint32_t)urange(&r, 5000, 100000);
    c->task_mean_s = 125 * exp(0.6 * gauss(&r));
    if (c->task_mean_s < 15)
        c->task_mean_s = 15;
    if (c->task_mean_s > 300)
        c->task_mean_s = 300;
    c->on_mean_s = urange(&r, 120, 900);
    c->off_mean_s = synth_rng_unit(&r) < 0.2 ? 0 : urange(&r, 60, 900);
    c->size_mu = log(urange(&r, 200, 1000));
    c->nfav = (uint8_t)(3 + synth_rng_below(&r, 4));
    for (int k = 0; k < c->nfav; k++)
        c->fav[k] =
            (uint16_t)(SRV_FIRST_PUBLIC + synth_rng_below(&r, N_CATALOG - SRV_FIRST_PUBLIC));
    c->w[T_WEB] = (uint16_t)urange(&r, 40, 80);
    c->w[T_HTTP] = (uint16_t)urange(&r, 0, 12);
    c->w[T_SSH] = synth_rng_unit(&r) < 0.25 ? (uint16_t)urange(&r, 3, 10) : 0;
    c->w[T_PING] = (uint16_t)urange(&r, 0, 5);
    c->w[T_IMAP] = (uint16_t)urange(&r, 0, 10);
    c->w[T_SMTP] = (uint16_t)urange(&r, 0, 3);
    c->w[T_FTP] = synth_rng_unit(&r) < 0.1 ? (uint16_t)urange(&r, 1, 4) : 0;
    c->w[T_DNS] = (uint16_t)urange(&r, 4, 15);
    if (!c->internal) {
        /* outside: mostly the public web site; a few admins and mail servers */
        memset(c->w, 0, sizeof(c->w));
        c->w[T_WEB] = 80;
        c->w[T_SSH] = synth_rng_unit(&r) < 0.3 ? 10 : 0;
        c->w[T_SMTP] = synth_rng_unit(&r) < 0.35 ? 40 : 0;
        c->task_mean_s *= 4;
        c->rtt_us = (uint32_t)urange(&r, 15000, 260000);
        c->ttl = (uint8_t)(c->ttl - 8 - synth_rng_below(&r, 14));
    }
    c->wsum = 0;
    for (int k = 0; k < N_TASKS; k++)
        c->wsum += c->w[k];
    if (!c->wsum) {
        c->w[T_WEB] = 1;
        c->wsum = 1;
    }
    if (c->internal && synth_rng_unit(&r) < 0.6) {
        static const uint32_t polls[] = {64, 128, 256, 1024};
        c->ntp_poll_s = polls[synth_rng_below(&r, 4)];
        int want = (int)synth_rng_below(&r, 4), seen = 0;
        for (int k = 0; k < N_CATALOG; k++)
            if ((catalog[k].svc & SV_NTP) && seen++ == want)
                c->ntp_srv = (uint16_t)k;
    }
    /* the v6 draw is made last so the share changes nothing else */
    c->has_v6 = c->internal && synth_rng_unit(&r) < g->o.ipv6_share;
}

static bool addr_taken(const struct gen *g, const struct ip_addr *a)
{
    for (int i = 0; i < g->n_srv; i++)
        if (!ip_addr_cmp(&g->srv[i].v4, a))
            return true;
    for (uint32_t i = 0; i < g->n_cli; i++)
        if (!ip_addr_cmp(&g->cli[i].v4, a))
            return true;
    return false;
}

/* Attackers: where they sit (a = -1: an internal host) and their class. */
static const struct {
    int cls;
    const char *addr; /* NULL: internal */
    uint32_t rtt_ms;
} attacker_defs[] = {
    {SYNTH_PORTSCAN_VERTICAL, "175.16.199.201", 220},
    {SYNTH_PORTSCAN_HORIZONTAL, NULL, 0},
    {SYNTH_UDPSCAN, "89.160.20.125", 32},
    {SYNTH_ICMPFLOOD, "216.160.83.61", 96},
    {SYNTH_BRUTEFORCE, "1.145.77.9", 290},
    {SYNTH_BRUTEFORCE, "202.196.231.44", 185},
    {SYNTH_EXFIL, NULL, 0},
    {SYNTH_BEACON, NULL, 0},
    {SYNTH_DNSTUNNEL, NULL, 0},
    {SYNTH_SLOWSCAN, "27.200.13.5", 230},
    {SYNTH_SLOWEXFIL, NULL, 0},
};
#define N_ATTACKERS ((uint32_t)(sizeof(attacker_defs) / sizeof(attacker_defs[0])))
#define N_SPOOF     150

static int world_build(struct gen *g, char *errbuf, size_t errlen)
{
    const struct synth_opts *o = &g->o;
    g->n_benign = o->hosts;
    g->n_ext = 4 + o->hosts / 10;
    g->n_cli = 0;
    uint32_t max_cli = g->n_benign + g->n_ext + N_ATTACKERS;
    g->cli = calloc(max_cli, sizeof(*g->cli));
    g->srv = calloc(N_CATALOG + N_XSERVERS, sizeof(*g->srv));
    g->spoof = calloc(N_SPOOF, sizeof(*g->spoof));
    if (!g->cli || !g->srv || !g->spoof) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < N_CATALOG; i++)
        if (add_server(g, &catalog[i], SYNTH_LABEL_BENIGN, o->pop_seed, errbuf, errlen) < 0)
            return -1;
    for (int i = 0; i < N_XSERVERS; i++)
        if (add_server(g, &xserver_defs[i], (uint8_t)(1 + xserver_class[i]), o->pop_seed, errbuf,
                       errlen) < 0)
            return -1;

    int nu = 0;
    for (int i = SRV_FIRST_PUBLIC; i < N_CATALOG && nu < 3; i++)
        if (catalog[i].svc & SV_DNS)
            g->upstream[nu++] = i;
    while (nu < 3) {
        g->upstream[nu] = g->upstream[0];
        nu++;
    }
    /* internal clients: 10.0.X.Y, X = 1 + i / 200, Y = 10 + i % 200 */
    for (uint32_t i = 0; i < g->n_benign; i++) {
        struct client *c = &g->cli[g->n_cli++];
        c->internal = true;
        v4_addr(&c->v4, 10, 0, 1 + i / 200, 10 + i % 200);
        ula_of(&c->v6, &c->v4);
        client_habits(g, c, i);
    }
    /* external clients, on public ranges */
    static const uint8_t ext_nets[][3] = {
        {31, 64, 12},    {12, 81, 94}, {27, 193, 40}, {36, 200, 7}, {2, 125, 161},
        {202, 196, 226}, {1, 144, 8},  {38, 104, 77}, {23, 33, 80}, {35, 10, 20},
        {18, 26, 4},     {15, 80, 3},  {89, 160, 20}, {81, 2, 69},  {175, 16, 199}};
    for (uint32_t i = 0; i < g->n_ext; i++) {
        struct client *c = &g->cli[g->n_cli];
        struct synth_rng r;
        synth_rng_seed(&r, synth_mix(o->pop_seed, 0xe000000 + i));
        do {
            const uint8_t *n = ext_nets[synth_rng_below(&r, sizeof(ext_nets) / 3)];
            v4_addr(&c->v4, n[0], n[1], n[2], 130 + synth_rng_below(&r, 60));
        } while (addr_taken(g, &c->v4));
        g->n_cli++;
        client_habits(g, c, 0x10000000ULL + i);
    }
    /* attackers */
    uint32_t nsub = (g->n_benign + 199) / 200;
    uint32_t internal_k = 0;
    for (uint32_t i = 0; i < N_ATTACKERS; i++) {
        struct client *c = &g->cli[g->n_cli];
        int cls = attacker_defs[i].cls;
        client_habits(g, c, 0x20000000ULL + i);
        c->label = (uint8_t)(1 + cls);
        c->has_v6 = false;
        if (attacker_defs[i].addr) {
            if (parse_addr(attacker_defs[i].addr, &c->v4, errbuf, errlen) < 0)
                return -1;
            c->internal = false;
            c->rtt_us = attacker_defs[i].rtt_ms * 1000;
            c->ttl = (uint8_t)(c->os == 1 ? 128 - 17 : 64 - 15);
        } else {
            c->internal = true;
            c->ttl = c->os == 1 ? 128 : 64;
            v4_addr(&c->v4, 10, 0, 1 + internal_k % nsub, 240 + internal_k);
            ula_of(&c->v6, &c->v4);
            internal_k++;
            c->has_v6 = cls == SYNTH_SLOWEXFIL;
        }
        c->bw_kbps = 20000;
        if (g->atk[cls][0] && cls == SYNTH_BRUTEFORCE)
            g->atk[cls][1] = g->n_cli;
        else
            g->atk[cls][0] = g->n_cli;
        g->n_cli++;
    }
    /* spoofed flood sources: random public IPv4, a fixed pool per traffic seed */
    struct synth_rng r;
    synth_rng_seed(&r, synth_mix(o->seed, 0x5900f));
    for (uint32_t i = 0; i < N_SPOOF; i++) {
        struct ip_addr *a = &g->spoof[i];
        do {
            v4_addr(a, 1 + synth_rng_below(&r, 222), synth_rng_below(&r, 256),
                    synth_rng_below(&r, 256), 1 + synth_rng_below(&r, 254));
        } while (ip_addr_is_reserved(a) || addr_taken(g, a));
        g->n_spoof++;
    }
    return 0;
}

/* ================================================================ run */

static void gen_free(struct gen *g)
{
    if (g->dump)
        pcap_dump_close(g->dump);
    if (g->pd)
        pcap_close(g->pd);
    synth_truth_destroy(g->truth);
    free(g->cli);
    free(g->srv);
    free(g->spoof);
    free(g->pool);
    free(g->free_list);
    free(g->heap);
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
    if (world_build(g, errbuf, errlen) < 0)
        goto out;

    g->cap = 4096 + 16 * g->n_cli;
    g->pool = calloc(g->cap, sizeof(*g->pool));
    g->free_list = calloc(g->cap, sizeof(*g->free_list));
    g->heap = calloc(g->cap, sizeof(*g->heap));
    if (!g->pool || !g->free_list || !g->heap) {
        snprintf(errbuf, errlen, "out of memory for %u sessions", g->cap);
        goto out;
    }
    for (uint32_t i = 0; i < g->cap; i++)
        g->free_list[i] = g->cap - 1 - i;
    g->n_free = g->cap;

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
    g->truth =
        synth_truth_create(g->n_cli * 2 + N_CATALOG * 2 + N_SPOOF + 4096, flows, errbuf, errlen);
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

    /* the hosts' drivers, each starting at a random point of its rhythm */
    for (uint32_t i = 0; i < g->n_benign + g->n_ext; i++) {
        struct client *c = &g->cli[i];
        uint64_t t = o->start_us + dus(synth_rng_unit(&g->rng) * 20e6);
        c->on = synth_rng_unit(&g->rng) < 0.7;
        c->phase_end = t + dus(synth_rng_exp(&g->rng, c->on ? c->on_mean_s : c->off_mean_s) * 1e6);
        if (c->off_mean_s <= 0)
            c->phase_end = t;
        c->next_task = t + dus(synth_rng_exp(&g->rng, c->task_mean_s) * 1e6);
        c->next_ntp = t + dus(synth_rng_unit(&g->rng) * c->ntp_poll_s * 1e6);
        struct sess *s = sess_new(g, K_HOST, t, -1);
        if (s)
            s->a1 = i;
    }
    if (o->attacks)
        sess_new(g, K_EPOCH, o->start_us, -1);

    g->end_us = o->start_us + o->duration_us;
    uint64_t last = o->start_us;
    while (g->n_heap && !g->stop) {
        struct hent e = heap_pop(g);
        if (!o->max_packets && e.t >= g->end_us)
            break;
        struct sess *s = &g->pool[e.s];
        uint64_t d = 0;
        last = e.t;
        switch (s->kind) {
        case K_HOST:
            d = host_step(g, s, e.t);
            break;
        case K_TCP:
            d = tcp_step(g, s, e.t);
            break;
        case K_DNS:
            d = dns_step(g, s, e.t);
            break;
        case K_NTP:
            d = ntp_step(g, s, e.t);
            break;
        case K_PING:
            d = ping_step(g, s, e.t);
            break;
        case K_PROBE:
            d = probe_step(g, s, e.t);
            break;
        case K_FLOOD:
            d = flood_step(g, s, e.t);
            break;
        case K_CAMP:
            d = camp_step(g, s, e.t);
            break;
        case K_EPOCH:
            d = epoch_step(g, s, e.t);
            break;
        }
        if (d)
            heap_push(g, e.s, e.t + d);
        else
            sess_free(g, s);
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

/* ================================================================ CLI */

static void usage(FILE *f)
{
    fprintf(f, "usage: tapir synth --seed N --out FILE.pcap --labels FILE.csv [options]\n"
               "\n"
               "Writes deterministic, labeled synthetic traffic: a pcap (Ethernet, microsecond\n"
               "timestamps) and one label per source IP. Same options, same bytes.\n"
               "\n"
               "  --seed N              traffic seed (timing, sizes, attack schedule)\n"
               "  --population-seed N   network seed: addresses and each host's habits\n"
               "                        (default fixed, so captures share their hosts)\n"
               "  --out FILE            pcap to write\n"
               "  --labels FILE         CSV ip,label,attack_type,first_ts,last_ts\n"
               "  --truth-hosts FILE    CSV ip,pkts_sent,bytes_sent,pkts_recv,bytes_recv,"
               "flows_started\n"
               "  --truth-flows FILE    CSV first_ts,src,sport,dst,dport,proto,pkts_fwd,"
               "bytes_fwd,pkts_rev,bytes_rev\n"
               "  --hosts N             internal benign clients (default 60, up to 50000)\n"
               "  --duration D          capture length: seconds, or with s/m/h/d (default 20m)\n"
               "  --start TS            first packet time, Unix seconds (default 1767225600)\n"
               "  --packets N           stop after exactly N packets (traffic and attacks go on\n"
               "                        past --duration, attacks repeating every --duration)\n"
               "  --no-attacks          benign traffic only\n"
               "  --attacks LIST        comma list of classes (default all):\n"
               "                        ");
    for (int i = 0; i < SYNTH_N_ATTACKS; i++)
        fprintf(f, "%s%s", attack_names[i], i + 1 < SYNTH_N_ATTACKS ? "," : "\n");
    fprintf(f, "  --ipv6-share F        share of dual-stack clients, 0..1 (default 0.25)\n"
               "  --help                this text\n"
               "\nSee docs/synth.md for the attack classes and the file formats.\n");
}

static int parse_u64(const char *s, uint64_t *v, uint64_t max)
{
    char *end;
    errno = 0;
    if (*s == '-' || !*s)
        return -1;
    unsigned long long x = strtoull(s, &end, 0);
    if (*end || errno || x > max)
        return -1;
    *v = x;
    return 0;
}

int cmd_synth(int argc, char **argv)
{
    enum {
        O_SEED = 1,
        O_POP,
        O_OUT,
        O_LABELS,
        O_TH,
        O_TF,
        O_HOSTS,
        O_DUR,
        O_START,
        O_PKTS,
        O_NOATK,
        O_ATK,
        O_V6,
        O_HELP
    };
    static const struct option lo[] = {{"seed", required_argument, 0, O_SEED},
                                       {"population-seed", required_argument, 0, O_POP},
                                       {"out", required_argument, 0, O_OUT},
                                       {"labels", required_argument, 0, O_LABELS},
                                       {"truth-hosts", required_argument, 0, O_TH},
                                       {"truth-flows", required_argument, 0, O_TF},
                                       {"hosts", required_argument, 0, O_HOSTS},
                                       {"duration", required_argument, 0, O_DUR},
                                       {"start", required_argument, 0, O_START},
                                       {"packets", required_argument, 0, O_PKTS},
                                       {"no-attacks", no_argument, 0, O_NOATK},
                                       {"attacks", required_argument, 0, O_ATK},
                                       {"ipv6-share", required_argument, 0, O_V6},
                                       {"help", no_argument, 0, O_HELP},
                                       {0, 0, 0, 0}};
    struct synth_opts o;
    synth_opts_default(&o);
    bool have_seed = false, no_attacks = false, have_attacks = false;
    uint64_t v;
    char bad[64];
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case O_SEED:
            if (parse_u64(optarg, &o.seed, UINT64_MAX) < 0)
                goto bad_value;
            have_seed = true;
            break;
        case O_POP:
            if (parse_u64(optarg, &o.pop_seed, UINT64_MAX) < 0)
                goto bad_value;
            break;
        case O_OUT:
            o.out = optarg;
            break;
        case O_LABELS:
            o.labels = optarg;
            break;
        case O_TH:
            o.truth_hosts = optarg;
            break;
        case O_TF:
            o.truth_flows = optarg;
            break;
        case O_HOSTS:
            if (parse_u64(optarg, &v, 50000) < 0 || v == 0)
                goto bad_value;
            o.hosts = (uint32_t)v;
            break;
        case O_DUR:
            if (synth_parse_duration(optarg, &o.duration_us) < 0 || o.duration_us < US)
                goto bad_value;
            break;
        case O_START:
            if (parse_u64(optarg, &v, 4000000000ULL) < 0)
                goto bad_value;
            o.start_us = v * US;
            break;
        case O_PKTS:
            if (parse_u64(optarg, &o.max_packets, UINT64_MAX / 2) < 0 || !o.max_packets)
                goto bad_value;
            break;
        case O_NOATK:
            no_attacks = true;
            break;
        case O_ATK:
            if (synth_parse_attacks(optarg, &o.attacks, bad, sizeof(bad)) < 0) {
                fprintf(stderr, "tapir synth: unknown attack class '%s' (see --help)\n", bad);
                return TAPIR_EXIT_USAGE;
            }
            have_attacks = true;
            break;
        case O_V6: {
            char *end;
            double f = strtod(optarg, &end);
            if (*end || end == optarg || !(f >= 0 && f <= 1))
                goto bad_value;
            o.ipv6_share = f;
            break;
        }
        case O_HELP:
        case 'h':
            usage(stdout);
            return TAPIR_EXIT_OK;
        case ':':
            fprintf(stderr, "tapir synth: %s needs a value\n", argv[optind - 1]);
            return TAPIR_EXIT_USAGE;
        default:
            fprintf(stderr, "tapir synth: unknown option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return TAPIR_EXIT_USAGE;
        }
        continue;
    bad_value:
        fprintf(stderr, "tapir synth: bad value '%s' for %s\n", optarg, argv[optind - 1]);
        return TAPIR_EXIT_USAGE;
    }
    if (optind < argc) {
        fprintf(stderr, "tapir synth: unexpected argument '%s'\n", argv[optind]);
        return TAPIR_EXIT_USAGE;
    }
    if (!have_seed || !o.out || !o.labels) {
        fprintf(stderr, "tapir synth: --seed, --out and --labels are required\n");
        usage(stderr);
        return TAPIR_EXIT_USAGE;
    }
    if (no_attacks && have_attacks) {
        fprintf(stderr, "tapir synth: --no-attacks and --attacks exclude each other\n");
        return TAPIR_EXIT_USAGE;
    }
    if (no_attacks)
        o.attacks = 0;
    char err[TAPIR_ERRBUF_SIZE];
    struct synth_stats st;
    if (synth_run(&o, &st, err, sizeof(err)) < 0) {
        fprintf(stderr, "tapir synth: %s\n", err);
        return TAPIR_EXIT_FAIL;
    }
    fprintf(stderr,
            "tapir synth: %" PRIu64 " packets, %" PRIu64 " flows, %" PRIu64
            " source IPs, %.1f s of traffic -> %s\n",
            st.packets, st.flows, st.hosts, (double)(st.last_us - o.start_us) / 1e6, o.out);
    if (st.label_conflicts)
        fprintf(stderr, "tapir synth: warning: %" PRIu64 " IPs sent under two labels\n",
                st.label_conflicts);
    return TAPIR_EXIT_OK;
}

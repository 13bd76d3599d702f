/*
 * synth_population.c — the network `tapir synth` simulates, built once at start.
 *
 * Addresses and habits are pure functions of the population seed and each host's index
 * (host i draws from its own PRNG keyed by i), so captures made with different traffic
 * seeds show the same hosts behaving in their usual ways, and adding hosts changes none
 * of the others. Servers come from a fixed catalog on real-world ranges, several in
 * MaxMind's test databases so that geolocation varies in tests. Attackers sit at fixed
 * addresses, one class each, so every source IP has one label.
 * (Rejected: drawing the population from the traffic stream — a new --seed would then
 * bring a new network, and a model trained on one capture could not be tested on another.)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "synth.h"
#include "synth_population.h"
#include "synth_rng.h"

struct server_def {
    const char *name, *v4, *v6;
    uint16_t svc;
    uint16_t rtt_ms; /* capture point -> server -> capture point; 0: on the LAN */
};

/* Internal servers first (fixed indices: SRV_*), then public ones on real-world ranges,
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
_Static_assert(sizeof(catalog) / sizeof(catalog[0]) == N_CATALOG, "N_CATALOG: the catalog's size");

static const struct server_def xserver_defs[N_XSERVERS] = {
    {"sync.dropbucket.io", "67.43.156.77", NULL, SV_HTTPS, 263},
    {"cdn.static-metrics.com", "81.2.69.165", NULL, SV_HTTPS, 26},
    {"backup.nihon-storage.jp", "111.235.161.66", "2001:218:3001:7::66", SV_HTTPS, 248},
};
static const int xserver_class[N_XSERVERS] = {SYNTH_EXFIL, SYNTH_BEACON, SYNTH_SLOWEXFIL};

void synth_population_v4(struct ip_addr *a, unsigned x, unsigned y, unsigned z, unsigned w)
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

uint16_t synth_population_next_port(uint16_t *p)
{
    uint16_t r = *p;
    *p = (uint16_t)(r >= 60999 ? 32768 : r + 1);
    return r;
}

static int parse_addr(const char *s, struct ip_addr *a, char *errbuf, size_t errlen)
{
    if (ip_addr_parse(s, a) < 0) {
        snprintf(errbuf, errlen, "internal error: bad address %s", s);
        return -1;
    }
    return 0;
}

static int add_server(struct population *pop, const struct server_def *d, uint8_t label,
                      uint64_t seed, char *errbuf, size_t errlen)
{
    struct server *sv = &pop->srv[pop->n_srv];
    struct synth_rng r;
    synth_rng_seed(&r, synth_mix(seed, 0x5e7e + (uint64_t)pop->n_srv));
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
    pop->n_srv++;
    return 0;
}

static void client_habits(const struct synth_opts *o, struct client *c, uint64_t key)
{
    struct synth_rng r;
    synth_rng_seed(&r, synth_mix(o->pop_seed, key));
    double u = synth_rng_unit(&r);
    c->os = u < 0.45 ? 0 : u < 0.85 ? 1 : 2;
    c->ttl = c->os == 1 ? 128 : 64;
    c->eport = (uint16_t)(32768 + synth_rng_below(&r, 28000));
    c->bw_kbps = (uint32_t)synth_rng_range(&r, 5000, 100000);
    c->task_mean_s = 125 * exp(0.6 * synth_rng_gauss(&r));
    if (c->task_mean_s < 15)
        c->task_mean_s = 15;
    if (c->task_mean_s > 300)
        c->task_mean_s = 300;
    c->on_mean_s = synth_rng_range(&r, 120, 900);
    c->off_mean_s = synth_rng_unit(&r) < 0.2 ? 0 : synth_rng_range(&r, 60, 900);
    c->size_mu = log(synth_rng_range(&r, 200, 1000));
    c->nfav = (uint8_t)(3 + synth_rng_below(&r, 4));
    for (int k = 0; k < c->nfav; k++)
        c->fav[k] =
            (uint16_t)(SRV_FIRST_PUBLIC + synth_rng_below(&r, N_CATALOG - SRV_FIRST_PUBLIC));
    c->w[T_WEB] = (uint16_t)synth_rng_range(&r, 40, 80);
    c->w[T_HTTP] = (uint16_t)synth_rng_range(&r, 0, 12);
    c->w[T_SSH] = synth_rng_unit(&r) < 0.25 ? (uint16_t)synth_rng_range(&r, 3, 10) : 0;
    c->w[T_PING] = (uint16_t)synth_rng_range(&r, 0, 5);
    c->w[T_IMAP] = (uint16_t)synth_rng_range(&r, 0, 10);
    c->w[T_SMTP] = (uint16_t)synth_rng_range(&r, 0, 3);
    c->w[T_FTP] = synth_rng_unit(&r) < 0.1 ? (uint16_t)synth_rng_range(&r, 1, 4) : 0;
    c->w[T_DNS] = (uint16_t)synth_rng_range(&r, 4, 15);
    if (!c->internal) {
        /* outside: mostly the public web site; a few admins and mail servers */
        memset(c->w, 0, sizeof(c->w));
        c->w[T_WEB] = 80;
        c->w[T_SSH] = synth_rng_unit(&r) < 0.3 ? 10 : 0;
        c->w[T_SMTP] = synth_rng_unit(&r) < 0.35 ? 40 : 0;
        c->task_mean_s *= 4;
        c->rtt_us = (uint32_t)synth_rng_range(&r, 15000, 260000);
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
    c->has_v6 = c->internal && synth_rng_unit(&r) < o->ipv6_share;
}

static bool addr_taken(const struct population *pop, const struct ip_addr *a)
{
    for (int i = 0; i < pop->n_srv; i++)
        if (!ip_addr_cmp(&pop->srv[i].v4, a))
            return true;
    for (uint32_t i = 0; i < pop->n_cli; i++)
        if (!ip_addr_cmp(&pop->cli[i].v4, a))
            return true;
    return false;
}

/* Attackers: where they sit (addr NULL: an internal host) and their class. */
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

int synth_population_build(struct population *pop, const struct synth_opts *o, char *errbuf,
                           size_t errlen)
{
    pop->n_benign = o->hosts;
    pop->n_ext = 4 + o->hosts / 10;
    pop->n_cli = 0;
    uint32_t max_cli = pop->n_benign + pop->n_ext + N_ATTACKERS;
    pop->cli = calloc(max_cli, sizeof(*pop->cli));
    pop->srv = calloc(N_CATALOG + N_XSERVERS, sizeof(*pop->srv));
    pop->spoof = calloc(N_SPOOF, sizeof(*pop->spoof));
    if (!pop->cli || !pop->srv || !pop->spoof) {
        snprintf(errbuf, errlen, "out of memory");
        return -1;
    }
    for (int i = 0; i < N_CATALOG; i++)
        if (add_server(pop, &catalog[i], SYNTH_LABEL_BENIGN, o->pop_seed, errbuf, errlen) < 0)
            return -1;
    for (int i = 0; i < N_XSERVERS; i++)
        if (add_server(pop, &xserver_defs[i], (uint8_t)(1 + xserver_class[i]), o->pop_seed, errbuf,
                       errlen) < 0)
            return -1;

    int nu = 0;
    for (int i = SRV_FIRST_PUBLIC; i < N_CATALOG && nu < 3; i++)
        if (catalog[i].svc & SV_DNS)
            pop->upstream[nu++] = i;
    while (nu < 3) {
        pop->upstream[nu] = pop->upstream[0];
        nu++;
    }
    /* internal clients: 10.0.X.Y, X = 1 + i / 200, Y = 10 + i % 200 */
    for (uint32_t i = 0; i < pop->n_benign; i++) {
        struct client *c = &pop->cli[pop->n_cli++];
        c->internal = true;
        synth_population_v4(&c->v4, 10, 0, 1 + i / 200, 10 + i % 200);
        ula_of(&c->v6, &c->v4);
        client_habits(o, c, i);
    }
    /* external clients, on public ranges */
    static const uint8_t ext_nets[][3] = {
        {31, 64, 12},    {12, 81, 94}, {27, 193, 40}, {36, 200, 7}, {2, 125, 161},
        {202, 196, 226}, {1, 144, 8},  {38, 104, 77}, {23, 33, 80}, {35, 10, 20},
        {18, 26, 4},     {15, 80, 3},  {89, 160, 20}, {81, 2, 69},  {175, 16, 199}};
    for (uint32_t i = 0; i < pop->n_ext; i++) {
        struct client *c = &pop->cli[pop->n_cli];
        struct synth_rng r;
        synth_rng_seed(&r, synth_mix(o->pop_seed, 0xe000000 + i));
        do {
            const uint8_t *n = ext_nets[synth_rng_below(&r, sizeof(ext_nets) / 3)];
            synth_population_v4(&c->v4, n[0], n[1], n[2], 130 + synth_rng_below(&r, 60));
        } while (addr_taken(pop, &c->v4));
        pop->n_cli++;
        client_habits(o, c, 0x10000000ULL + i);
    }
    /* attackers */
    uint32_t nsub = (pop->n_benign + 199) / 200;
    uint32_t internal_k = 0;
    for (uint32_t i = 0; i < N_ATTACKERS; i++) {
        struct client *c = &pop->cli[pop->n_cli];
        int cls = attacker_defs[i].cls;
        client_habits(o, c, 0x20000000ULL + i);
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
            synth_population_v4(&c->v4, 10, 0, 1 + internal_k % nsub, 240 + internal_k);
            ula_of(&c->v6, &c->v4);
            internal_k++;
            c->has_v6 = cls == SYNTH_SLOWEXFIL;
        }
        c->bw_kbps = 20000;
        if (pop->atk[cls][0] && cls == SYNTH_BRUTEFORCE)
            pop->atk[cls][1] = pop->n_cli;
        else
            pop->atk[cls][0] = pop->n_cli;
        pop->n_cli++;
    }
    /* spoofed flood sources: random public IPv4, a fixed pool per traffic seed */
    struct synth_rng r;
    synth_rng_seed(&r, synth_mix(o->seed, 0x5900f));
    for (uint32_t i = 0; i < N_SPOOF; i++) {
        struct ip_addr *a = &pop->spoof[i];
        do {
            synth_population_v4(a, 1 + synth_rng_below(&r, 222), synth_rng_below(&r, 256),
                                synth_rng_below(&r, 256), 1 + synth_rng_below(&r, 254));
        } while (ip_addr_is_reserved(a) || addr_taken(pop, a));
        pop->n_spoof++;
    }
    return 0;
}

void synth_population_free(struct population *pop)
{
    free(pop->cli);
    free(pop->srv);
    free(pop->spoof);
}

/* ---------------------------------------------------------------- questions */

int synth_population_client_at(const struct population *pop, const struct ip_addr *a)
{
    if (!ip_addr_is_v4(a) || a->b[12] != 10 || a->b[13] != 0)
        return -1;
    int x = a->b[14], y = a->b[15];
    if (x < 1 || y < 10 || y >= 210)
        return -1;
    uint32_t i = (uint32_t)(x - 1) * 200 + (uint32_t)(y - 10);
    return i < pop->n_benign ? (int)i : -1;
}

static int server_at(const struct population *pop, const struct ip_addr *a)
{
    for (int i = 0; i < SRV_FIRST_PUBLIC; i++)
        if (!ip_addr_cmp(&pop->srv[i].v4, a))
            return i;
    return -1;
}

int synth_population_port_state(const struct population *pop, const struct ip_addr *a, uint16_t p)
{
    int si = server_at(pop, a);
    if (si >= 0) {
        uint16_t sv = pop->srv[si].svc;
        if ((p == 443 && (sv & SV_HTTPS)) || (p == 80 && (sv & SV_HTTP)) || p == 22 ||
            (p == 25 && (sv & SV_SMTP)) || (p == 143 && (sv & SV_IMAP)) ||
            (p == 21 && (sv & SV_FTP)) || (p == 53 && (sv & SV_DNS)))
            return 1;
        return 0;
    }
    int ci = synth_population_client_at(pop, a);
    if (ci < 0)
        return -1;
    const struct client *c = &pop->cli[ci];
    if (c->os == 1)
        return (p == 135 || p == 139 || p == 445 || p == 3389) ? 1 : -1; /* firewalled */
    if (c->os == 2)
        return -1;
    return p == 22 ? 1 : 0;
}

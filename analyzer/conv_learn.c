/*
 * conv_learn.c — the conversation detectors' learned set (model.h's struct model_conv):
 * what `tapir train` and a run's warm-up saw on benign traffic, kept in fixed arrays with
 * a seeded open-addressing index that is never deleted from, exported into the model and
 * imported from it, and asked by the detectors (conv.c) whether a finding is a known
 * habit. The design and what it costs are in conv.c's opening comment and
 * docs/conversations.md. Split from conv.c so that file holds the table and the rules;
 * rejected: one file of 1,100 lines.
 */
#include <stdlib.h>
#include <string.h>

#include "conv_int.h"

/* ---- the learned set ------------------------------------------------------------- */

static int known_alloc(conv_t *c)
{
    if (c->kidx)
        return 0;
    c->known.known = calloc(MODEL_CONV_MAX_KNOWN, sizeof(*c->known.known));
    c->known.hosts = calloc(MODEL_CONV_MAX_HOSTS, sizeof(*c->known.hosts));
    c->kidx = calloc(KNOWN_SLOTS, sizeof(uint32_t));
    c->hidx = calloc(KNOWN_SLOTS, sizeof(uint32_t));
    if (c->known.known && c->known.hosts && c->kidx && c->hidx)
        return 0;
    free(c->known.known);
    free(c->known.hosts);
    free(c->kidx);
    free(c->hidx);
    c->known.known = NULL;
    c->known.hosts = NULL;
    c->kidx = c->hidx = NULL;
    return -1;
}

static void known_clear(conv_t *c)
{
    struct model_conv_known *k = c->known.known;
    struct model_conv_host *h = c->known.hosts;
    memset(&c->known, 0, sizeof(c->known));
    c->known.known = k;
    c->known.hosts = h;
    if (c->kidx) {
        memset(c->kidx, 0, KNOWN_SLOTS * sizeof(uint32_t));
        memset(c->hidx, 0, KNOWN_SLOTS * sizeof(uint32_t));
    }
}

static uint32_t known_hash(const conv_t *c, const struct ip_addr *src, const struct ip_addr *dst,
                           uint16_t port, uint8_t proto)
{
    uint64_t h = tapir_ip_hash(src, c->seed) * 0x9e3779b97f4a7c15ULL;
    h ^= tapir_ip_hash(dst, c->seed ^ ((uint64_t)port << 8 | proto));
    return (uint32_t)(h ^ (h >> 32));
}

/* The learned conversation (src all zero: the service), added when add and room. */
static struct model_conv_known *known_find(conv_t *c, const struct ip_addr *src,
                                           const struct ip_addr *dst, uint16_t port, uint8_t proto,
                                           bool add)
{
    if (!c->kidx)
        return NULL;
    uint32_t i = known_hash(c, src, dst, port, proto) & (KNOWN_SLOTS - 1);
    for (; c->kidx[i]; i = (i + 1) & (KNOWN_SLOTS - 1)) {
        struct model_conv_known *k = &c->known.known[c->kidx[i] - 1];
        if (k->port == port && k->proto == proto && !memcmp(k->src.b, src->b, 16) &&
            !memcmp(k->dst.b, dst->b, 16))
            return k;
    }
    if (!add)
        return NULL;
    if (c->known.n_known >= MODEL_CONV_MAX_KNOWN) {
        c->known.known_dropped++;
        return NULL;
    }
    struct model_conv_known *k = &c->known.known[c->known.n_known++];
    memset(k, 0, sizeof(*k));
    k->src = *src;
    k->dst = *dst;
    k->port = port;
    k->proto = proto;
    c->kidx[i] = c->known.n_known;
    return k;
}

struct model_conv_host *conv_known_host(conv_t *c, const struct ip_addr *ip, bool add)
{
    if (!c->hidx)
        return NULL;
    uint32_t i = (uint32_t)tapir_ip_hash(ip, c->seed ^ 0x686f7374ULL) & (KNOWN_SLOTS - 1);
    for (; c->hidx[i]; i = (i + 1) & (KNOWN_SLOTS - 1)) {
        struct model_conv_host *h = &c->known.hosts[c->hidx[i] - 1];
        if (!memcmp(h->ip.b, ip->b, 16))
            return h;
    }
    if (!add)
        return NULL;
    if (c->known.n_hosts >= MODEL_CONV_MAX_HOSTS) {
        c->known.hosts_dropped++;
        return NULL;
    }
    struct model_conv_host *h = &c->known.hosts[c->known.n_hosts++];
    memset(h, 0, sizeof(*h));
    h->ip = *ip;
    c->hidx[i] = c->known.n_hosts;
    return h;
}

static void min_pace(double *have, double s)
{
    if (s > 0 && (*have <= 0 || s < *have))
        *have = s;
}

/* A conversation the rules found periodic or login-like while learning. */
void conv_learn_kind(conv_t *c, const struct conv_entry *e, uint8_t kind, double interval_s)
{
    static const struct ip_addr any;
    struct model_conv_known *k = known_find(c, &e->src, &e->dst, e->port, e->proto, true);
    struct model_conv_known *svc = known_find(c, &any, &e->dst, e->port, e->proto, true);
    if (k && svc && !(k->kinds & (MODEL_CONV_PERIODIC | MODEL_CONV_LOGIN)))
        svc->sources++;
    struct model_conv_known *both[2] = {k, svc};
    for (int j = 0; j < 2; j++) {
        if (!both[j])
            continue;
        both[j]->kinds |= kind;
        min_pace(kind == MODEL_CONV_PERIODIC ? &both[j]->periodic_s : &both[j]->login_s,
                 interval_s);
    }
}

/* Uploads under this cannot move a limit (EXFIL_FACTOR x it is under the floor). */
#define LEARN_MIN_UPLOAD (EXFIL_MIN_BYTES / EXFIL_FACTOR)

void conv_learn_upload(conv_t *c, const struct conv_entry *e)
{
    if (e->ep_out <= e->ep_in || (double)(e->ep_out - e->ep_in) < LEARN_MIN_UPLOAD)
        return;
    uint64_t net = e->ep_out - e->ep_in;
    int cls = ip_addr_is_reserved(&e->dst) ? 0 : 1;
    if (net > c->known.up_net[cls])
        c->known.up_net[cls] = net;
    struct model_conv_host *h = conv_known_host(c, &e->src, true);
    if (h && net > h->up_src[cls])
        h->up_src[cls] = net;
    struct model_conv_known *k = known_find(c, &e->src, &e->dst, e->port, e->proto, true);
    if (k) {
        k->kinds |= MODEL_CONV_BULK;
        if ((double)net > k->bulk_bytes)
            k->bulk_bytes = (double)net;
    }
}

int conv_set_learning(conv_t *c, bool on)
{
    if (on && known_alloc(c) < 0) {
        c->learning = false;
        return -1;
    }
    if (on)
        c->known.present = 1;
    c->learning = on;
    return 0;
}

int conv_learned_export(const conv_t *c, struct model_conv *out)
{
    memset(out, 0, sizeof(*out));
    if (!c->known.present)
        return 0;
    *out = c->known;
    out->known = NULL;
    out->hosts = NULL;
    if (c->known.n_known && !(out->known = malloc(c->known.n_known * sizeof(*out->known))))
        return -1;
    if (c->known.n_hosts && !(out->hosts = malloc(c->known.n_hosts * sizeof(*out->hosts)))) {
        free(out->known);
        out->known = NULL;
        return -1;
    }
    if (out->known)
        memcpy(out->known, c->known.known, c->known.n_known * sizeof(*out->known));
    if (out->hosts)
        memcpy(out->hosts, c->known.hosts, c->known.n_hosts * sizeof(*out->hosts));
    return 0;
}

int conv_learned_import(conv_t *c, const struct model_conv *in)
{
    known_clear(c);
    if (!in->present)
        return 0;
    if (known_alloc(c) < 0)
        return -1;
    c->known.present = 1;
    c->known.up_net[0] = in->up_net[0];
    c->known.up_net[1] = in->up_net[1];
    c->known.known_dropped = in->known_dropped;
    c->known.hosts_dropped = in->hosts_dropped;
    for (uint32_t i = 0; i < in->n_known && i < MODEL_CONV_MAX_KNOWN; i++) {
        const struct model_conv_known *k = &in->known[i];
        struct model_conv_known *n = known_find(c, &k->src, &k->dst, k->port, k->proto, true);
        if (n)
            *n = *k; /* a duplicate in a crafted file: the last one wins */
    }
    for (uint32_t i = 0; i < in->n_hosts && i < MODEL_CONV_MAX_HOSTS; i++) {
        struct model_conv_host *n = conv_known_host(c, &in->hosts[i].ip, true);
        if (n)
            *n = in->hosts[i];
    }
    return 0;
}

/* Whether training saw this conversation (or a service several sources used) being
 * `kind` at a pace not KNOWN_RATE_FACTOR times slower than interval_s. */
bool conv_known_covers(conv_t *c, const struct conv_entry *e, uint8_t kind, double interval_s)
{
    static const struct ip_addr any;
    if (!c->known.present || c->learning)
        return false;
    const struct model_conv_known *k = known_find(c, &e->src, &e->dst, e->port, e->proto, false);
    if (!k || !(k->kinds & kind)) {
        k = known_find(c, &any, &e->dst, e->port, e->proto, false);
        if (!k || !(k->kinds & kind) || k->sources < KNOWN_SERVICE_SOURCES)
            return false;
    }
    double learned = kind == MODEL_CONV_PERIODIC ? k->periodic_s : k->login_s;
    return learned <= 0 || interval_s * KNOWN_RATE_FACTOR >= learned;
}

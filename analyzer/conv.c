/*
 * conv.c — conversations across windows, and four detectors that need more than one
 * window to see: beacons (C2 check-ins), brute force, exfiltration, ICMP tunnels.
 *
 * Feed: the windows' flow records (window.h), one per flow end and one per open flow per
 * window (the delta), never the packets, so it works the same whatever produced the
 * records. Key: (source, destination, destination port, protocol), source = the flow's
 * initiator.
 *
 * Table: max_entries records allocated once (conv_memory_bytes: 528 bytes per entry, 16
 * of index and 8 of per-window lists, 552 bytes: 34.5 MiB for the default 65,536, touched
 * only as entries are used), an open-addressing index of 2 x max_entries
 * slots, seeded hash (the attacker picks the addresses), bounded probe, backward-shift
 * deletion. An LRU list orders entries by last activity: idle ones (--conversation-ttl)
 * are popped from its tail each window, O(expired). When full, the entry with the fewest
 * connections among the CONV_EVICT_SCAN least recently active is evicted (counted): a
 * flood of one-connection spoofed conversations then replaces other one-connection
 * entries, not the beacon with 200 check-ins. Rejected: a table that grows (memory under
 * a spoofed flood is the operator's to bound) and plain LRU (a 10-second flood of new
 * pairs would flush every long-lived conversation).
 *
 * Per entry: first/last seen, connections, bytes each way, durations, and a ring of the
 * last CONV_RING connections (start, bytes, duration, answered). The ring, not running
 * sums, because the timing tests are order statistics (median, quartiles, MAD), as in
 * RITA's beacon score, which are robust to the odd missed or extra connection where a
 * mean and variance are not.
 *
 * Learned set (model.h's struct model_conv): `tapir train` and a run's warm-up keep what
 * the detectors' rules saw on benign traffic — periodic and login-like conversations and
 * services with their fastest pace, bulk uploads, the largest upload per host and
 * network — in fixed arrays (MODEL_CONV_MAX_KNOWN + MODEL_CONV_MAX_HOSTS entries, about
 * 0.94 MiB with their index, allocated when learning starts or a model brings one) with a
 * seeded open-addressing index of twice that many slots, never deleted from, so a probe
 * always ends. Later, a beacon or brute force on a known conversation (or a service that
 * two or more sources polled) is alerted only when KNOWN_RATE_FACTOR times faster than
 * training saw, and an upload only over EXFIL_FACTOR x its source's learned maximum.
 * Rejected: keeping only the network's maximum (the lab's nightly backup, 25.8 MB, would
 * then hide a 20 MiB exfiltration to the same server) and a per-destination limit (same
 * reason: the backup server receives big uploads, from its known sources only).
 *
 * The rules, their thresholds and what they cost are in docs/conversations.md.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conv.h"
#include "conv_int.h"
#include "flowidx.h"

size_t conv_memory_bytes(uint32_t max_entries)
{
    uint64_t slots = 1;
    while (slots < 2ULL * max_entries)
        slots <<= 1;
    return (size_t)max_entries * (sizeof(struct conv_entry) + 2 * sizeof(uint32_t)) +
           (size_t)slots * sizeof(struct cslot);
}

conv_t *conv_create(uint32_t max_entries, uint64_t ttl_us, uint64_t seed, char *errbuf)
{
    if (tapir_check_range(max_entries, 16, 1u << 26, "max conversations", errbuf) < 0)
        return NULL;
    uint32_t slots = (uint32_t)tapir_pow2_size(2ull * max_entries, 1, 1u << 27);
    const struct tapir_array arrays[] = {
        TAPIR_ARRAY(conv_t, e, max_entries),
        TAPIR_ARRAY(conv_t, slots, slots),
        TAPIR_ARRAY(conv_t, touched, max_entries),
        TAPIR_ARRAY(conv_t, prev_touched, max_entries),
    };
    conv_t *c = tapir_table_alloc(sizeof(*c), arrays, TAPIR_NELEM(arrays), errbuf,
                                  "a conversation table of %u entries", max_entries);
    if (!c)
        return NULL;
    c->cap = max_entries;
    c->mask = slots - 1;
    c->seed = seed;
    c->ttl_us = ttl_us;
    return c;
}

void conv_destroy(conv_t *c)
{
    if (!c)
        return;
    /* e, slots and the touched lists are in c's block; the learning arrays are not */
    free(c->host_idx);
    free(c->known.known);
    free(c->known.hosts);
    free(c->kidx);
    free(c->hidx);
    free(c);
}

void conv_set_ttl(conv_t *c, uint64_t ttl_us)
{
    c->ttl_us = ttl_us;
}

void conv_set_l7_names(conv_t *c, conv_l7_name_fn fn, void *ctx)
{
    c->l7_name = fn;
    c->l7_ctx = ctx;
    memset(c->auth_l7, 0, sizeof(c->auth_l7));
}

void conv_get_stats(const conv_t *c, struct conv_stats *st)
{
    *st = c->st;
    st->learned_max[0] = c->learned[0];
    st->learned_max[1] = c->learned[1];
}

/* ---- the maths ------------------------------------------------------------------- */

/* Ascending sort of at most CONV_RING values, in place: an insertion sort. The rings are
 * short and nearly in order already (connections are recorded as they start or end), so
 * it does a few comparisons a value, where qsort's merge sort called a comparison
 * function ~n log n times: the window pass's sorts were 2.3% of a synthetic replay's
 * instructions. The values are never NaN, so the order (and every quantile) is
 * qsort's. */
static void sort_doubles(double *x, int n)
{
    for (int i = 1; i < n; i++) {
        double v = x[i];
        int j = i;
        for (; j > 0 && x[j - 1] > v; j--)
            x[j] = x[j - 1];
        x[j] = v;
    }
}

/* |x[i] - m| for sorted x[0..n-1], into out[] in ascending order without a sort: the
 * values under m give a run that grows going down from m, those at or over m one that
 * grows going up, and the two runs are merged (rounding is monotonic, so each run is in
 * order exactly as computed). */
static void abs_dev_sorted(const double *x, int n, double m, double *out)
{
    int hi = 0;
    while (hi < n && x[hi] < m)
        hi++;
    int lo = hi - 1;
    for (int k = 0; k < n; k++) {
        double a = lo >= 0 ? fabs(x[lo] - m) : INFINITY;
        double b = hi < n ? fabs(x[hi] - m) : INFINITY;
        if (hi >= n || (lo >= 0 && a <= b)) {
            out[k] = a;
            lo--;
        } else {
            out[k] = b;
            hi++;
        }
    }
}

/* Quantile q of sorted x[0..n-1], linear interpolation (numpy's default). */
static double quantile(const double *x, int n, double q)
{
    double pos = q * (n - 1);
    int i = (int)pos;
    if (i >= n - 1)
        return x[n - 1];
    return x[i] + (pos - i) * (x[i + 1] - x[i]);
}

int conv_timing(double *starts, int n, struct conv_timing *t)
{
    memset(t, 0, sizeof(*t));
    if (n < 3 || n > CONV_RING)
        return -1;
    sort_doubles(starts, n);
    double d[CONV_RING], dev[CONV_RING];
    int m = n - 1;
    for (int i = 0; i < m; i++)
        d[i] = starts[i + 1] - starts[i];
    sort_doubles(d, m);
    t->q1 = quantile(d, m, 0.25);
    t->median = quantile(d, m, 0.5);
    t->q3 = quantile(d, m, 0.75);
    double iqr = t->q3 - t->q1;
    /* An interquartile range under 10% of the median is a tight cluster: its skew is
     * noise (ms of jitter on a metronome would score anywhere in -1..1), so it is 0. */
    t->bowley = iqr > 0.1 * t->median && iqr > 1e-9 ? (t->q3 + t->q1 - 2 * t->median) / iqr : 0;
    abs_dev_sorted(d, m, t->median, dev);
    t->mad = quantile(dev, m, 0.5);
    t->skew_score = 1 - fabs(t->bowley);
    t->mad_score = t->median > 1e-9 ? 1 - t->mad / t->median : 0;
    if (t->mad_score < 0)
        t->mad_score = 0;
    double span = starts[n - 1] - starts[0];
    double expect = t->median > 1e-9 ? span / t->median + 1 : n;
    t->count_score = expect > 0 ? n / expect : 0;
    if (t->count_score > 1)
        t->count_score = 1;
    t->score = (t->skew_score + t->mad_score + t->count_score) / 3;
    return 0;
}

double conv_spread(const double *x, int n)
{
    if (n < 1 || n > CONV_RING)
        return 0;
    double s[CONV_RING], dev[CONV_RING], sum = 0;
    memcpy(s, x, (size_t)n * sizeof(double));
    sort_doubles(s, n);
    for (int i = 0; i < n; i++)
        sum += s[i];
    double mean = sum / n, med = quantile(s, n, 0.5);
    if (mean <= 0)
        return 0;
    abs_dev_sorted(s, n, med, dev);
    return quantile(dev, n, 0.5) / mean;
}

/* ---- the table ------------------------------------------------------------------- */

static inline struct conv_entry *ent(conv_t *c, uint32_t idx1)
{
    return &c->e[idx1 - 1];
}

static inline uint32_t idx1_of(conv_t *c, const struct conv_entry *e)
{
    return (uint32_t)(e - c->e) + 1;
}

static void lru_unlink(conv_t *c, struct conv_entry *e)
{
    if (e->prev)
        ent(c, e->prev)->next = e->next;
    else
        c->lru_head = e->next;
    if (e->next)
        ent(c, e->next)->prev = e->prev;
    else
        c->lru_tail = e->prev;
    e->prev = e->next = 0;
}

static void lru_push_head(conv_t *c, struct conv_entry *e)
{
    uint32_t i = idx1_of(c, e);
    e->prev = 0;
    e->next = c->lru_head;
    if (c->lru_head)
        ent(c, c->lru_head)->prev = i;
    else
        c->lru_tail = i;
    c->lru_head = i;
}

static uint32_t key_hash(conv_t *c, const struct ip_addr *src, const struct ip_addr *dst,
                         uint16_t port, uint8_t proto)
{
    uint64_t h = tapir_ip_hash(src, c->seed);
    h = tapir_mix64(h ^ tapir_ip_hash(dst, c->seed ^ 0x647374ULL));
    return (uint32_t)tapir_mix64(h + (((uint64_t)port << 8) | proto));
}

static void index_remove(conv_t *c, struct conv_entry *e)
{
    uint32_t idx1 = idx1_of(c, e);
    uint32_t i = e->hash & c->mask;
    for (uint32_t n = 0;; n++, i = (i + 1) & c->mask) {
        if (n > c->mask || c->slots[i].rec == 0)
            return; /* not indexed (cannot happen) */
        if (c->slots[i].rec == idx1)
            break;
    }
    uint32_t hole = i, j = i;
    for (;;) {
        j = (j + 1) & c->mask;
        if (c->slots[j].rec == 0)
            break;
        uint32_t home = c->slots[j].hash & c->mask;
        if (((j - home) & c->mask) >= ((j - hole) & c->mask)) {
            c->slots[hole] = c->slots[j];
            hole = j;
        }
    }
    c->slots[hole].rec = 0;
    c->slots[hole].hash = 0;
}

static void entry_free(conv_t *c, struct conv_entry *e)
{
    lru_unlink(c, e);
    index_remove(c, e);
    memset(e, 0, sizeof(*e));
    e->next = c->free_head;
    c->free_head = idx1_of(c, e);
    c->st.active--;
}

/* Forgets entries idle for the TTL as of now_us: from the LRU tail, O(expired). */
static void expire(conv_t *c, uint64_t now_us)
{
    while (c->lru_tail) {
        struct conv_entry *e = ent(c, c->lru_tail);
        if (e->last_us + c->ttl_us > now_us)
            break;
        entry_free(c, e);
        c->st.expired++;
    }
}

/* Table full: the entry with the fewest connections among the least recently active. */
static void evict(conv_t *c)
{
    struct conv_entry *victim = NULL;
    uint32_t r = c->lru_tail;
    for (int k = 0; k < CONV_EVICT_SCAN && r; k++, r = ent(c, r)->prev) {
        struct conv_entry *e = ent(c, r);
        if (!victim || e->conns < victim->conns)
            victim = e;
    }
    if (victim) {
        entry_free(c, victim);
        c->st.evicted++;
    }
}

static struct conv_entry *lookup(conv_t *c, const struct flow_record *r, uint64_t seq)
{
    uint32_t h = key_hash(c, &r->init, &r->resp, r->resp_port, r->proto);
    uint32_t i = h & c->mask;
    for (uint32_t n = 0; n < CONV_MAX_PROBE; n++, i = (i + 1) & c->mask) {
        struct cslot *s = &c->slots[i];
        if (s->rec == 0)
            break;
        if (s->hash != h)
            continue;
        struct conv_entry *e = ent(c, s->rec);
        if (e->port == r->resp_port && e->proto == r->proto && !memcmp(e->src.b, r->init.b, 16) &&
            !memcmp(e->dst.b, r->resp.b, 16))
            return e;
    }
    /* Only an answered flow starts a conversation: every detector here needs a peer
     * that talks back, and scans and spoofed floods (millions of unanswered pairs) would
     * otherwise churn the table and evict the long-lived entries. For TCP, answered means
     * a handshake the initiator completed (it sent again after the SYN): a spoofed SYN
     * flood against an open port is answered with SYN-ACKs, and a scan of closed ports
     * with RSTs, but neither source ever sends a second packet. */
    if ((r->pkts[1] == 0 && !(r->flags & FLOW_REC_SYNACK)) ||
        (r->proto == P_TCP && (r->flags & FLOW_REC_SYN) && r->pkts[0] < 2)) {
        c->st.unanswered++;
        return NULL;
    }
    if (!c->free_head && c->n_fresh >= c->cap)
        evict(c);
    /* Find the first empty slot (eviction may have shifted the cluster). */
    i = h & c->mask;
    uint32_t n = 0;
    for (; n < CONV_MAX_PROBE && c->slots[i].rec; n++)
        i = (i + 1) & c->mask;
    if (n == CONV_MAX_PROBE || (!c->free_head && c->n_fresh >= c->cap)) {
        c->st.untracked++;
        return NULL;
    }
    uint32_t idx1;
    if (c->free_head) {
        idx1 = c->free_head;
        c->free_head = ent(c, idx1)->next;
    } else {
        idx1 = ++c->n_fresh;
    }
    struct conv_entry *e = ent(c, idx1);
    memset(e, 0, sizeof(*e));
    e->src = r->init;
    e->dst = r->resp;
    e->port = r->resp_port;
    e->proto = r->proto;
    e->hash = h;
    e->seq = seq - 1; /* not yet touched by this window */
    e->first_us = r->first_us;
    /* Starts are kept in ms from a base one day before the first: a record may start
     * before an earlier record of the same window (they come at flow end). */
    e->base_us = r->first_us > 86400ULL * 1000000 ? r->first_us - 86400ULL * 1000000 : 0;
    c->slots[i].rec = idx1;
    c->slots[i].hash = h;
    lru_push_head(c, e);
    c->st.active++;
    c->st.created++;
    return e;
}

static uint32_t start_ms(struct conv_entry *e, uint64_t ts_us)
{
    if (ts_us < e->base_us)
        return 0;
    uint64_t ms = (ts_us - e->base_us) / 1000;
    if (ms > 0xf0000000ULL) { /* about 46 days: move the base, keep the recent starts */
        uint64_t shift = ms - 2ULL * 86400 * 1000;
        e->base_us += shift * 1000;
        for (uint32_t k = 0; k < e->ring_n; k++)
            e->ring[k].start_ms =
                e->ring[k].start_ms > shift ? e->ring[k].start_ms - (uint32_t)shift : 0;
        ms -= shift;
    }
    return (uint32_t)ms;
}

static uint32_t sat_add(uint32_t a, uint64_t b)
{
    uint32_t flag = a & CONV_REPLIED;
    uint64_t v = (uint64_t)(a & CONV_BYTES_MAX) + b;
    return (v > CONV_BYTES_MAX ? CONV_BYTES_MAX : (uint32_t)v) | flag;
}

static void add_record(conv_t *c, struct conv_entry *e, const struct flow_record *r, uint64_t seq)
{
    if (e->seq != seq) {
        if (e->seq + 1 < seq) { /* a quiet window or more: a new episode */
            e->ep_out = e->ep_in = 0;
            e->alerted &= (uint8_t) ~(1u << CONV_EXFIL);
        }
        e->seq = seq;
        e->windows++;
        if (c->n_touched < c->cap)
            c->touched[c->n_touched++] = idx1_of(c, e);
    }
    if (e->prev) { /* most recently active first */
        lru_unlink(c, e);
        lru_push_head(c, e);
    }
    e->bytes_out += r->bytes[0];
    e->bytes_in += r->bytes[1];
    e->ep_out += r->bytes[0];
    e->ep_in += r->bytes[1];
    e->pkts_out = e->pkts_out + r->pkts[0] < e->pkts_out ? UINT32_MAX : e->pkts_out + r->pkts[0];
    e->pkts_in = e->pkts_in + r->pkts[1] < e->pkts_in ? UINT32_MAX : e->pkts_in + r->pkts[1];
    if (r->pkts[0]) {
        uint64_t sz = r->bytes[0] / r->pkts[0];
        uint16_t s16 = sz > 65535 ? 65535 : (uint16_t)(sz ? sz : 1);
        if (!e->sz_min || s16 < e->sz_min)
            e->sz_min = s16;
        if (s16 > e->sz_max)
            e->sz_max = s16;
    }
    if (r->last_us > e->last_us)
        e->last_us = r->last_us;
    if (r->first_us < e->first_us)
        e->first_us = r->first_us;
    bool replied = r->pkts[1] > 0 || (r->flags & FLOW_REC_SYNACK);
    uint32_t st = start_ms(e, r->first_us);
    uint32_t dur = (r->flags & FLOW_REC_END)
                       ? (uint32_t)((r->last_us - r->first_us) / 1000 < CONV_OPEN - 1
                                        ? (r->last_us - r->first_us) / 1000
                                        : CONV_OPEN - 1)
                       : CONV_OPEN;
    /* A TCP flow first seen without its SYN was picked up mid-stream (a keepalive after
     * the idle timeout ended the flow, or a full flow table): its bytes count, but it is
     * not a new connection, or a long-lived connection's keepalives would look like a
     * metronome of check-ins. */
    if ((r->flags & FLOW_REC_FIRST) && r->proto == P_TCP && !(r->flags & FLOW_REC_SYN))
        return;
    if (r->flags & FLOW_REC_FIRST) {
        e->conns++;
        struct conv_conn *k = &e->ring[e->ring_head];
        e->ring_head = (e->ring_head + 1) % CONV_RING;
        if (e->ring_n < CONV_RING)
            e->ring_n++;
        k->start_ms = st;
        k->bytes = sat_add(replied ? CONV_REPLIED : 0, r->bytes[0] + r->bytes[1]);
        k->dur_ms = dur;
        return;
    }
    /* A later record of a connection: find its slot by start time (still open). */
    for (uint32_t j = 0; j < e->ring_n; j++) {
        struct conv_conn *k = &e->ring[j];
        if (k->start_ms == st && k->dur_ms == CONV_OPEN) {
            k->bytes = sat_add(k->bytes | (replied ? CONV_REPLIED : 0), r->bytes[0] + r->bytes[1]);
            k->dur_ms = dur;
            return;
        }
    }
}

/* ---- the L7 hint ----------------------------------------------------------------- */

static bool is_auth_name(const char *n)
{
    static const char *const names[] = {
        "SSH",        "FTP_CONTROL", "Telnet", "RDP",      "SMBv1",  "SMBv23", "IMAP",
        "IMAPS",      "POP3",        "POPS",   "SMTP",     "SMTPS",  "VNC",    "MySQL",
        "PostgreSQL", "MsSQL-TDS",   "LDAP",   "Kerberos", "Radius", "TACACS"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (!strcmp(n, names[i]))
            return true;
    return false;
}

static bool auth_l7(conv_t *c, uint16_t id)
{
    if (!c->l7_name || id == 0)
        return false;
    if (id >= sizeof(c->auth_l7)) {
        const char *n = c->l7_name(c->l7_ctx, id);
        return n && is_auth_name(n);
    }
    if (!c->auth_l7[id]) {
        const char *n = c->l7_name(c->l7_ctx, id);
        c->auth_l7[id] = n && is_auth_name(n) ? 2 : 1;
    }
    return c->auth_l7[id] == 2;
}

/* The initiator's record in w (an index of w's hosts built on first use per window). */
static const struct host_window *window_host(conv_t *c, const struct window *w,
                                             const struct ip_addr *ip)
{
    if (c->host_idx_seq != w->seq + 1) {
        uint32_t need = 64;
        while (need < 2 * w->n_hosts)
            need <<= 1;
        if (need > c->host_mask + 1 || !c->host_idx) {
            uint32_t *ni = realloc(c->host_idx, need * sizeof(*ni));
            if (!ni)
                return NULL;
            c->host_idx = ni;
            c->host_mask = need - 1;
        }
        memset(c->host_idx, 0, ((size_t)c->host_mask + 1) * sizeof(uint32_t));
        for (uint32_t r = 0; r < w->n_hosts; r++) {
            uint32_t i = (uint32_t)tapir_ip_hash(&w->hosts[r].ip, c->seed) & c->host_mask;
            while (c->host_idx[i])
                i = (i + 1) & c->host_mask;
            c->host_idx[i] = r + 1;
        }
        c->host_idx_seq = w->seq + 1;
    }
    uint32_t i = (uint32_t)tapir_ip_hash(ip, c->seed) & c->host_mask;
    for (uint32_t n = 0; n <= c->host_mask && c->host_idx[i]; n++, i = (i + 1) & c->host_mask) {
        const struct host_window *h = &w->hosts[c->host_idx[i] - 1];
        if (!memcmp(h->ip.b, ip->b, 16))
            return h;
    }
    return NULL;
}

/* nDPI named an authentication protocol for at least `flows` of the source's flows in w. */
static bool l7_says_auth(conv_t *c, const struct window *w, const struct ip_addr *src,
                         uint32_t flows)
{
    if (!c->l7_name)
        return false;
    const struct host_window *h = window_host(c, w, src);
    if (!h)
        return false;
    for (int i = 0; i < HOST_L7_SLOTS; i++)
        if (h->l7_flows[i] && h->l7_flows[i] >= flows && auth_l7(c, h->l7_proto[i]))
            return true;
    return false;
}

/* ---- the detectors --------------------------------------------------------------- */

enum service { SVC_OTHER, SVC_AUTH, SVC_WEB, SVC_PERIODIC };

/* What a (protocol, port) is, for the rules. */
static enum service service_of(uint8_t proto, uint16_t port)
{
    if (proto == P_TCP)
        switch (port) {
        case 21:
        case 22:
        case 23:
        case 25:
        case 110:
        case 139:
        case 143:
        case 389:
        case 445:
        case 465:
        case 587:
        case 636:
        case 993:
        case 995:
        case 1433:
        case 3306:
        case 3389:
        case 5432:
        case 5900:
            return SVC_AUTH;
        case 80:
        case 443:
        case 8000:
        case 8008:
        case 8080:
        case 8443:
        case 8888:
            return SVC_WEB;
        case 53:
        case 853:
            return SVC_PERIODIC;
        default:
            return SVC_OTHER;
        }
    if (proto == P_UDP)
        switch (port) {
        case 53:
        case 67:
        case 68:
        case 123:
        case 137:
        case 138:
        case 161:
        case 162:
        case 514:
        case 1900:
        case 5353:
        case 5355:
            return SVC_PERIODIC;
        default:
            return SVC_OTHER;
        }
    return proto == P_ICMP || proto == P_ICMPV6 ? SVC_PERIODIC : SVC_OTHER;
}

/* Connections of the ring, oldest first: starts (s), sizes of those ended, etc. */
struct ring_view {
    int n, n_ended, n_replied;
    double start_s[CONV_RING];
    double bytes[CONV_RING]; /* ended ones */
    double dur_s[CONV_RING]; /* ended ones */
};

/* Oldest first: a full ring's oldest connection is at ring_head. Read in slot order, a
 * wrapped ring put its newest starts before its oldest, and each sort of them moved every
 * old value past every new one (the window pass's insertion sorts were 39 instructions a
 * packet of a 1 M-packet synthetic replay, cachegrind). Every reader sorts what it reads
 * or takes a minimum, maximum or count, so the order changes no result. */
static void ring_view(const struct conv_entry *e, double since_s, struct ring_view *v)
{
    memset(v, 0, sizeof(*v));
    uint32_t first = e->ring_n == CONV_RING ? e->ring_head : 0;
    for (uint32_t j = 0; j < e->ring_n; j++) {
        const struct conv_conn *k = &e->ring[(first + j) % CONV_RING];
        double s = k->start_ms / 1000.0;
        if (s < since_s)
            continue;
        v->start_s[v->n++] = s;
        if (k->bytes & CONV_REPLIED)
            v->n_replied++;
        if (k->dur_ms != CONV_OPEN) {
            v->bytes[v->n_ended] = (double)(k->bytes & CONV_BYTES_MAX);
            v->dur_s[v->n_ended] = k->dur_ms / 1000.0;
            v->n_ended++;
        }
    }
}

static double median_of(const double *x, int n)
{
    double s[CONV_RING];
    memcpy(s, x, (size_t)n * sizeof(double));
    sort_doubles(s, n);
    return quantile(s, n, 0.5);
}

static void finding_init(struct conv_finding *f, enum conv_kind k, const struct conv_entry *e)
{
    memset(f, 0, sizeof(*f));
    f->kind = k;
    f->src = e->src;
    f->dst = e->dst;
    f->port = e->port;
    f->proto = e->proto;
    f->conns = e->conns;
    f->bytes_out = (double)e->bytes_out;
    f->bytes_in = (double)e->bytes_in;
}

static bool judge_beacon(const struct conv_entry *e, struct conv_finding *f)
{
    /* TCP only: periodic UDP to one peer is mostly keepalives (voice and game servers,
     * VPNs; a Discord client pings its voice server every 60.0 s from a fresh port in
     * pcaps-public), and C2 check-ins are HTTP or TLS. UDP C2 is left to the forest. */
    if (e->proto != P_TCP || e->ring_n < BEACON_MIN_CONNS || e->windows < BEACON_MIN_WINDOWS ||
        service_of(e->proto, e->port) == SVC_PERIODIC)
        return false;
    struct ring_view v;
    ring_view(e, 0, &v);
    /* The tests that need no sort first (every test must pass, so their order does not
     * change the answer): enough ended connections, and a long enough span. */
    if (v.n_ended < BEACON_MIN_ENDED || v.n < 3)
        return false;
    double lo = v.start_s[0], hi = v.start_s[0];
    for (int i = 1; i < v.n; i++) {
        lo = v.start_s[i] < lo ? v.start_s[i] : lo;
        hi = v.start_s[i] > hi ? v.start_s[i] : hi;
    }
    if (hi - lo < BEACON_MIN_SPAN_S)
        return false;
    struct conv_timing t;
    if (conv_timing(v.start_s, v.n, &t) < 0)
        return false;
    double span = v.start_s[v.n - 1] - v.start_s[0];
    if (span < BEACON_MIN_SPAN_S || t.median < BEACON_MIN_INTERVAL || t.score < BEACON_MIN_SCORE)
        return false;
    double spread = conv_spread(v.bytes, v.n_ended);
    if (spread > BEACON_MAX_SPREAD)
        return false;
    finding_init(f, CONV_BEACON, e);
    f->recent = (uint32_t)v.n;
    f->interval_s = t.median;
    f->regularity = t.score;
    f->size_spread = spread;
    f->dur_s = median_of(v.dur_s, v.n_ended);
    f->span_s = span;
    return true;
}

static bool judge_bruteforce(conv_t *c, const struct window *w, const struct conv_entry *e,
                             struct conv_finding *f)
{
    if (e->proto != P_TCP || e->ring_n < BF_MIN_SESSIONS)
        return false;
    enum service svc = service_of(e->proto, e->port);
    bool by_l7 = false;
    if (svc != SVC_AUTH && svc != SVC_WEB) {
        by_l7 = l7_says_auth(c, w, &e->src, 1);
        if (!by_l7)
            return false;
        svc = SVC_AUTH;
    }
    bool web = svc == SVC_WEB;
    double last = 0;
    for (uint32_t j = 0; j < e->ring_n; j++)
        if (e->ring[j].start_ms / 1000.0 > last)
            last = e->ring[j].start_ms / 1000.0;
    struct ring_view v;
    ring_view(e, last - (web ? WEB_SPAN_S : BF_SPAN_S), &v);
    int min = web ? WEB_MIN_SESSIONS : BF_MIN_SESSIONS;
    if (v.n < min || v.n_replied * 2 < v.n || v.n_ended < min / 2)
        return false;
    double dur = median_of(v.dur_s, v.n_ended);
    double spread = conv_spread(v.bytes, v.n_ended);
    if (dur > (web ? WEB_MAX_DUR_S : BF_MAX_DUR_S) ||
        spread > (web ? WEB_MAX_SPREAD : BF_MAX_SPREAD))
        return false;
    finding_init(f, CONV_BRUTEFORCE, e);
    struct conv_timing t;
    double first = v.start_s[0];
    for (int i = 1; i < v.n; i++)
        if (v.start_s[i] < first)
            first = v.start_s[i];
    f->recent = (uint32_t)v.n;
    f->span_s = last - first;
    if (conv_timing(v.start_s, v.n, &t) == 0)
        f->interval_s = t.median;
    f->size_spread = spread;
    f->dur_s = dur;
    f->auth_by_l7 = by_l7;
    return true;
}

static bool judge_exfil(conv_t *c, const struct conv_entry *e, struct conv_finding *f)
{
    if (e->ep_out <= e->ep_in)
        return false;
    double net = (double)(e->ep_out - e->ep_in);
    int cls = ip_addr_is_reserved(&e->dst) ? 0 : 1;
    double limit = EXFIL_FACTOR * (double)c->learned[cls];
    if (c->known.present && !c->learning) { /* trained: this source's own maximum */
        const struct model_conv_host *h = conv_known_host(c, &e->src, false);
        limit = h ? EXFIL_FACTOR * (double)h->up_src[cls] : 0;
    }
    if (limit < EXFIL_MIN_BYTES)
        limit = EXFIL_MIN_BYTES;
    if (net < limit)
        return false;
    finding_init(f, CONV_EXFIL, e);
    f->bytes_out = net;
    f->bytes_in = (double)e->ep_in;
    f->limit = limit;
    f->span_s = (double)(e->last_us - e->first_us) / 1e6;
    return true;
}

static bool judge_tunnel(const struct conv_entry *e, struct conv_finding *f)
{
    if ((e->proto != P_ICMP && e->proto != P_ICMPV6) || e->windows < TUNNEL_MIN_WINDOWS ||
        e->pkts_out < TUNNEL_MIN_PKTS || !e->pkts_in || !e->sz_min ||
        e->last_us - e->first_us < (uint64_t)TUNNEL_MIN_SPAN_S * 1000000)
        return false;
    double size = (double)e->bytes_out / e->pkts_out;
    double ratio = (double)e->sz_max / e->sz_min;
    if (size < TUNNEL_MIN_SIZE || ratio < TUNNEL_SIZE_RATIO)
        return false;
    finding_init(f, CONV_TUNNEL, e);
    f->pkt_size = size;
    f->size_ratio = ratio;
    f->span_s = (double)(e->last_us - e->first_us) / 1e6;
    return true;
}

/* Episodes that ended (touched last window, not this one) teach the upload maximum. */
static void learn_episodes(conv_t *c, uint64_t seq)
{
    for (uint32_t i = 0; i < c->n_prev; i++) {
        struct conv_entry *e = ent(c, c->prev_touched[i]);
        if (e->seq + 1 != seq || (e->alerted & (1u << CONV_EXFIL)) || e->ep_out <= e->ep_in)
            continue; /* still going, reused, flagged, or a download */
        uint64_t net = e->ep_out - e->ep_in;
        int cls = ip_addr_is_reserved(&e->dst) ? 0 : 1;
        if (net > c->learned[cls])
            c->learned[cls] = net;
    }
}

void conv_window(conv_t *c, const struct window *w, conv_finding_fn fn, void *ctx)
{
    uint64_t seq = w->seq + 1; /* entries start at seq - 1 = "untouched": never 0 - 1 */
    expire(c, w->end_us);
    c->n_touched = 0;
    for (uint32_t i = 0; i < w->n_flows; i++) {
        const struct flow_record *r = &w->flows[i];
        c->st.records++;
        struct conv_entry *e = lookup(c, r, seq);
        if (e)
            add_record(c, e, r, seq);
    }
    learn_episodes(c, seq);
    for (uint32_t i = 0; i < c->n_touched; i++) {
        struct conv_entry *e = ent(c, c->touched[i]);
        if (e->seq != seq) /* evicted and reused meanwhile */
            continue;
        struct conv_finding f;
        if (c->learning) {
            if (judge_bruteforce(c, w, e, &f))
                conv_learn_kind(c, e, MODEL_CONV_LOGIN, f.interval_s);
            if (judge_beacon(e, &f))
                conv_learn_kind(c, e, MODEL_CONV_PERIODIC, f.interval_s);
            conv_learn_upload(c, e);
            continue;
        }
        /* Known from training: not alerted, and judged again next window (it may speed up). */
        bool bf = !(e->alerted & (1u << CONV_BRUTEFORCE)) && judge_bruteforce(c, w, e, &f);
        if (bf && conv_known_covers(c, e, MODEL_CONV_LOGIN, f.interval_s)) {
            c->st.known_quiet++;
        } else if (bf) {
            e->alerted |= 1u << CONV_BRUTEFORCE;
            c->st.findings[CONV_BRUTEFORCE]++;
            fn(ctx, &f);
        }
        /* Login attempts at a steady pace are regular too: one finding, the specific one. */
        bool bc = !(e->alerted & (1u << CONV_BEACON)) && !(e->alerted & (1u << CONV_BRUTEFORCE)) &&
                  judge_beacon(e, &f);
        if (bc && conv_known_covers(c, e, MODEL_CONV_PERIODIC, f.interval_s)) {
            c->st.known_quiet++;
        } else if (bc) {
            e->alerted |= 1u << CONV_BEACON;
            c->st.findings[CONV_BEACON]++;
            fn(ctx, &f);
        }
        if (!(e->alerted & (1u << CONV_TUNNEL)) && judge_tunnel(e, &f)) {
            e->alerted |= 1u << CONV_TUNNEL;
            c->st.findings[CONV_TUNNEL]++;
            fn(ctx, &f);
        }
        if (!(e->alerted & (1u << CONV_EXFIL)) && judge_exfil(c, e, &f)) {
            e->alerted |= 1u << CONV_EXFIL;
            c->st.findings[CONV_EXFIL]++;
            fn(ctx, &f);
        }
    }
    /* This window's list becomes the previous one. */
    uint32_t *t = c->prev_touched;
    c->prev_touched = c->touched;
    c->n_prev = c->n_touched;
    c->touched = t;
    c->n_touched = 0;
}

/* ---- naming an alert: a beacon inside one window ----------------------------------
 * The beacon rule wants 3 windows and 180 s, because 60 s of regular connections is also
 * a dashboard refreshing every 3 s (docs/conversations.md). An alert another detector
 * raised (a limit, the forest) needs no such proof, only a name: slips_test-cc's C2 host
 * passed the dns_queries and flows_started limits with 15 TLS check-ins a minute to one
 * peer (intervals 2.3-3.8 s, sizes within 4%) among 167 DNS queries, which dilute the
 * window's own timing feature (beacon_regularity 0.61) into `anomaly`. Here the
 * connections to its busiest TCP peer are judged alone, by the beacon rule's tests but
 * its span and window floors. A brute force (an auth port) or a poll of an infrastructure
 * port is never named a beacon by it. Bounded: the first WB_MAX connections of src. */
#define WB_MAX 128

bool conv_window_beacon(const struct window *w, flow_index_t *fx, const struct ip_addr *src,
                        struct conv_timing *t)
{
    if (!w || !w->flows || !w->n_flows)
        return false;
    uint32_t idx[WB_MAX];
    int n = 0;
    for (uint32_t r = flow_index_next(fx, w, src, 0); r && n < WB_MAX;
         r = flow_index_next(fx, w, src, r)) {
        const struct flow_record *f = &w->flows[r - 1];
        if (f->proto == P_TCP && (f->flags & FLOW_REC_FIRST))
            idx[n++] = r - 1;
    }
    /* The busiest (responder, port): a quadratic count over at most WB_MAX. */
    int best = -1, best_n = 0;
    for (int a = 0; a < n; a++) {
        const struct flow_record *fa = &w->flows[idx[a]];
        int cnt = 0;
        for (int b = 0; b < n; b++) {
            const struct flow_record *fb = &w->flows[idx[b]];
            if (fb->resp_port == fa->resp_port && !memcmp(fb->resp.b, fa->resp.b, 16))
                cnt++;
        }
        if (cnt > best_n) {
            best_n = cnt;
            best = a;
        }
    }
    if (best < 0 || best_n < BEACON_MIN_ENDED)
        return false;
    const struct flow_record *peer = &w->flows[idx[best]];
    enum service svc = service_of(P_TCP, peer->resp_port);
    if (svc == SVC_AUTH || svc == SVC_PERIODIC)
        return false;
    double starts[CONV_RING], bytes[CONV_RING];
    int m = 0, ended = 0;
    for (int b = 0; b < n && m < CONV_RING; b++) {
        const struct flow_record *f = &w->flows[idx[b]];
        if (f->resp_port != peer->resp_port || memcmp(f->resp.b, peer->resp.b, 16))
            continue;
        starts[m++] = (double)f->first_us / 1e6;
        if (f->flags & FLOW_REC_END)
            bytes[ended++] = (double)(f->bytes[0] + f->bytes[1]);
    }
    struct conv_timing tt;
    if (ended < BEACON_MIN_ENDED || conv_timing(starts, m, &tt) < 0 ||
        tt.median < BEACON_MIN_INTERVAL || tt.score < BEACON_MIN_SCORE ||
        conv_spread(bytes, ended) > BEACON_MAX_SPREAD)
        return false;
    if (t)
        *t = tt;
    return true;
}

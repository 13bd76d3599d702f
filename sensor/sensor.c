/*
 * sensor.c — the per-packet path, from captured bytes to per-IP window accumulators.
 *
 * Order of work per packet: decode (bounded reads) -> packet clock and window close ->
 * host records of source and destination (two probes) -> flow record (one probe) ->
 * flow state (TCP flags, answered, reset) -> nDPI while the flow is undecided -> a few
 * idle flows expired. Nothing of ours allocates, locks or logs; time is the packet's.
 * nDPI allocates inside its own calls (its flow state's strings, and our call of
 * ndpi_validate_url when an HTTP flow's detection ends: one copy per URL parameter,
 * bounded by the URL), on the capture thread when --dpi-thread is off.
 *
 * Flow records: when a flow ends, and at window close for every flow with packets since
 * its last record, the window gets one struct flow_record (the delta since the previous
 * one), for the analyzer's conversations. They come from flow ends and one walk of the
 * live flows per window, never from the per-packet updates, so any other flow source
 * (capture workers, NetFlow/IPFIX) can produce the same. The walk costs O(live flows) once
 * a window (about 1 ms per 100,000 flows). A full flows[] drops the record, counted; the
 * flow's next record then carries the delta.
 *
 * Flow-level facts (L7, duration) are credited to the initiator's record in the window
 * where they become known (detection, end), not back-dated: a window is final when it
 * closes, so the analyzer never sees a window change under it.
 *
 * Time: windows are aligned to multiples of the window length, closed by the first
 * packet at or past the end. A forward jump skips the empty windows between (none are
 * emitted); a packet older than the newest seen is counted and kept in the open window.
 */
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "dpi.h"
#include "dpi_worker.h"
#include "flow_table.h"
#include "geo.h"
#include "host_table.h"
#include "rate.h"
#include "sensor.h"

#define SENSOR_SKETCH_SEED 0x74617069722d686cULL

struct sensor {
    struct sensor_config cfg;
    uint64_t window_us;
    flow_table_t *ft;
    host_table_t *ht;
    rate_t *rate; /* per-second flood counters, or NULL (--no-rate) */
    dpi_t *dpi;
    dpi_worker_t *worker; /* nDPI on its own thread, or NULL */
    geo_t *geo;
    wqueue_t *q;
    struct window *w; /* window being filled */
    uint64_t seq;
    uint64_t now_us; /* newest packet time seen */
    bool started;
    uint64_t seed;     /* sketch hash seed */
    uint64_t idx_seed; /* index hash seed, shared by the flow and host tables */
    struct sensor_stats st;
    pthread_mutex_t pub_mu;     /* guards pub */
    _Atomic uint64_t kernel[3]; /* pcap_stats: received, dropped, interface-dropped */
    struct sensor_stats pub;    /* copy of the counters for other threads */
};

void sensor_config_defaults(struct sensor_config *c)
{
    memset(c, 0, sizeof(*c));
    c->max_flows = 1000000;
    c->max_hosts = 65536;
    c->dpi_pool = 65536;
    c->max_flow_records = 131072;
    c->window_s = 60;
    c->dpi = true;
    c->geo_cache = 65536;
    c->seed = 0x7461706972ULL;
    c->rate = true;
    c->rate_hosts = 16384;
}

static void on_flow_end(void *ctx, struct flow *f, enum flow_end_reason why);
static void flow_update(void *ctx, struct flow *f);
static void credit_l7(struct host_l7 *init, uint16_t id);

/* The worker's verdict for a flow, into its copy of the initiator's L7 fields. */
static void worker_credit(void *ctx, struct host_l7 *acc, uint16_t l7)
{
    (void)ctx;
    credit_l7(acc, l7);
}

sensor_t *sensor_create(const struct sensor_config *c, wqueue_t *q, char *errbuf)
{
    if (c->window_s < 1 || c->window_s > 86400) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "window length %u s out of range (1 .. 86400)",
                 c->window_s);
        return NULL;
    }
    sensor_t *s = calloc(1, sizeof(*s));
    if (!s) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory");
        return NULL;
    }
    s->cfg = *c;
    pthread_mutex_init(&s->pub_mu, NULL);
    s->window_us = (uint64_t)c->window_s * 1000000;
    s->q = q;
    /* Sketch hashes change feature values, so they are fixed: a replay must give the
     * same vectors on every run. Table index hashes (flows, hosts) stay seeded per run:
     * they only decide placement. */
    s->seed = SENSOR_SKETCH_SEED;
    s->idx_seed = c->seed ^ 0x666c6f77ULL;
    s->ft = flow_table_create(c->max_flows, s->idx_seed, on_flow_end, s, errbuf);
    if (!s->ft)
        goto fail;
    s->ht = host_table_create(c->max_hosts, s->idx_seed, errbuf);
    if (!s->ht)
        goto fail;
    if (c->rate && !(s->rate = rate_create(c->rate_hosts, s->window_us, q, c->replay, errbuf)))
        goto fail;
    if (c->dpi && !(s->dpi = dpi_create(c->dpi_pool, errbuf)))
        goto fail;
    s->geo = geo_create(c->geo_paths, c->n_geo, c->geo_cache, errbuf);
    if (!s->geo)
        goto fail;
    if (s->dpi && c->dpi_thread && !c->flow_log) {
        s->worker = dpi_worker_create(s->dpi, q, c->max_flows, c->max_hosts, 8u << 20,
                                      worker_credit, s, errbuf);
        if (!s->worker)
            goto fail;
    }
    s->w = wqueue_get_free(q, true);
    s->w->n_flows = 0;
    host_table_attach(s->ht, s->w);
    return s;
fail:
    sensor_destroy(s);
    return NULL;
}

void sensor_destroy(sensor_t *s)
{
    if (!s)
        return;
    dpi_worker_destroy(s->worker); /* first: it uses dpi and the queue */
    flow_table_destroy(s->ft);
    host_table_destroy(s->ht);
    rate_destroy(s->rate);
    dpi_destroy(s->dpi);
    geo_destroy(s->geo);
    pthread_mutex_destroy(&s->pub_mu);
    free(s);
}

static struct host_window *host(sensor_t *s, const struct ip_addr *ip, uint64_t ip_h)
{
    struct host_window *h = host_table_get_h(s->ht, ip, ip_h);
    if (!h) {
        s->st.hosts_dropped++;
        s->w->stats.hosts_dropped++;
    }
    return h;
}

/* A packet's source or destination: with admission control when the window is full
 * (host_table_admit_h), never taking `keep` (the packet's other record). */
static struct host_window *admit(sensor_t *s, const struct ip_addr *ip, uint64_t ip_h,
                                 const struct host_window *keep)
{
    struct host_window *h = host_table_admit_h(s->ht, ip, ip_h, keep);
    if (!h) {
        s->st.hosts_dropped++;
        s->w->stats.hosts_dropped++;
    }
    return h;
}

/* Index of a host record in the open window, UINT32_MAX for none. */
static inline uint32_t rec_of(const sensor_t *s, const struct host_window *h)
{
    return h ? (uint32_t)(h - s->w->hosts) : UINT32_MAX;
}

/* Copies the counters for other threads. trylock: the capture thread never waits; a
 * missed publish is caught up by the next one. */
void sensor_publish_stats(sensor_t *s)
{
    if (pthread_mutex_trylock(&s->pub_mu) != 0)
        return;
    sensor_get_stats(s, &s->pub);
    pthread_mutex_unlock(&s->pub_mu);
}

void sensor_stats_snapshot(sensor_t *s, struct sensor_stats *st)
{
    pthread_mutex_lock(&s->pub_mu);
    *st = s->pub;
    pthread_mutex_unlock(&s->pub_mu);
    st->kernel_received = atomic_load_explicit(&s->kernel[0], memory_order_relaxed);
    st->kernel_dropped = atomic_load_explicit(&s->kernel[1], memory_order_relaxed);
    st->if_dropped = atomic_load_explicit(&s->kernel[2], memory_order_relaxed);
}

void sensor_set_kernel_stats(sensor_t *s, uint64_t received, uint64_t dropped, uint64_t if_dropped)
{
    atomic_store_explicit(&s->kernel[0], received, memory_order_relaxed);
    atomic_store_explicit(&s->kernel[1], dropped, memory_order_relaxed);
    atomic_store_explicit(&s->kernel[2], if_dropped, memory_order_relaxed);
}

/* A closed window goes to the analyzer, through the worker when there is one (after the
 * nDPI work of its packets). */
static void hand_off(sensor_t *s, struct window *w)
{
    if (s->worker)
        dpi_worker_window(s->worker, w);
    else
        wqueue_push(s->q, w);
}

static void close_window(sensor_t *s)
{
    struct window *w = s->w;
    struct flow_table_stats fst;
    flow_table_stats(s->ft, &fst);
    w->stats.flows_active = fst.active;
    flow_table_foreach(s->ft, flow_update, s);
    if (s->rate)
        rate_window(s->rate, &w->rate);
    w->seq = s->seq++;
    hand_off(s, w);
    s->st.windows++;
    flow_table_compact(s->ft);
    sensor_publish_stats(s);
    s->w = wqueue_get_free(s->q, s->cfg.replay);
    memset(&s->w->stats, 0, sizeof(s->w->stats));
    s->w->n_flows = 0;
    host_table_attach(s->ht, s->w);
}

static void open_window_at(sensor_t *s, uint64_t ts)
{
    s->w->start_us = ts - ts % s->window_us;
    s->w->end_us = s->w->start_us + s->window_us;
}

/* Moves the packet clock; closes the open window when ts reaches its end. */
static void advance_clock(sensor_t *s, uint64_t ts)
{
    if (!s->started) {
        s->started = true;
        s->now_us = ts;
        s->st.first_ts_us = ts;
        open_window_at(s, ts);
        return;
    }
    if (ts < s->now_us) {
        s->st.ts_backwards++;
        if (ts < s->w->start_us)
            s->st.ts_before_window++;
        return;
    }
    s->now_us = ts;
    if (ts >= s->w->end_us) {
        /* End what went idle by now, into the window that is closing. */
        flow_table_expire(s->ft, s->w->end_us, UINT32_MAX);
        uint64_t old_end = s->w->end_us;
        close_window(s);
        open_window_at(s, ts);
        if (s->w->start_us > old_end)
            s->st.ts_jumps++;
    }
}

static void add_country(struct host_window *h, const char cc[3])
{
    uint16_t code = (uint16_t)(((uint8_t)cc[0] << 8) | (uint8_t)cc[1]);
    for (uint16_t i = 0; i < h->n_countries; i++)
        if (h->countries[i] == code)
            return;
    if (h->n_countries < HOST_COUNTRY_SLOTS)
        h->countries[h->n_countries++] = code;
    else
        h->countries_other++;
}

/* A new flow: what its initiator (src) started and its responder (dst) received. */
static void on_flow_start(sensor_t *s, struct flow *f, const struct pkt_info *p,
                          struct host_window *src, struct host_window *dst)
{
    bool syn = p->proto == IPPROTO_NUM_TCP && (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
    if (syn)
        f->state |= FLOW_F_SYN;
    uint32_t port_key = ((uint32_t)p->proto << 16) | p->dport;
    uint64_t dh = 0; /* the destination's hash, when src is counted */
    if (src) {
        src->flows_started++;
        if (syn)
            src->tcp_started++;
        if (p->proto == IPPROTO_NUM_UDP)
            src->udp_started++;
        dh = tapir_hash(p->dst.b, 16, s->seed);
        hll_add(&src->dst_ips, dh);
        if (p->proto == IPPROTO_NUM_TCP || p->proto == IPPROTO_NUM_UDP) {
            uint64_t ph = tapir_hash(&port_key, 4, s->seed);
            hll_add(&src->dst_ports, ph);
            src->port_hist[ph % HOST_PORT_BUCKETS]++;
        }
        struct geo_info gi;
        geo_lookup(s->geo, &p->dst, &gi);
        if (gi.country[0])
            add_country(src, gi.country);
        if (gi.asn)
            hll_add(&src->dst_asns, tapir_hash(&gi.asn, 4, s->seed));
        if (src->last_start_us && p->ts_us >= src->last_start_us) {
            double gap = (double)(p->ts_us - src->last_start_us) / 1e6;
            src->gap_n++;
            double d = gap - src->gap_mean_s;
            src->gap_mean_s += d / src->gap_n;
            src->gap_m2 += d * (gap - src->gap_mean_s);
        }
        src->last_start_us = p->ts_us;
    }
    if (dst) {
        dst->flows_in++;
        if (syn)
            dst->syn_in++;
        hll_add(&dst->src_ips, tapir_hash(p->src.b, 16, s->seed));
        uint32_t sport_key = ((uint32_t)p->proto << 16) | p->sport;
        hll_add(&dst->src_ports, tapir_hash(&sport_key, 4, s->seed));
        if (p->proto == IPPROTO_NUM_UDP && p->sport != 0 && p->sport < 1024 && p->dport >= 1024)
            dst->udp_unsolicited++;
    }
    if (syn)
        host_credit_smtp(src, dst, p->dport, dh); /* the spam rule's counts (host_table.c) */
}

static void add_l7(struct host_l7 *h, uint16_t id)
{
    for (int i = 0; i < HOST_L7_SLOTS; i++) {
        if (h->l7_flows[i] && h->l7_proto[i] == id) {
            h->l7_flows[i]++;
            return;
        }
        if (!h->l7_flows[i]) {
            h->l7_proto[i] = id;
            h->l7_flows[i] = 1;
            return;
        }
    }
    h->l7_other++;
}

/* A step of detection for f (st: DPI_VERDICT, DPI_FINAL from dpi.h): the verdict is kept
 * and credited to the initiator at once; at the end, its risks are credited and the
 * state goes back. */
static void l7_done(sensor_t *s, struct flow *f, int st, const struct dpi_result *r,
                    struct host_window *init)
{
    if (st & DPI_VERDICT) {
        f->l7_app = r->app;
        f->l7_master = r->master;
        memcpy(f->name, r->name, sizeof(f->name));
        f->name[sizeof(f->name) - 1] = '\0';
        if (init)
            credit_l7(&init->l7, r->master ? r->master : r->app);
    }
    if (st & DPI_FINAL) {
        f->state |= FLOW_F_L7_DONE;
        if (init)
            dpi_risk_credit(&init->risk, r->risk);
        if (f->dpi_slot) {
            dpi_release(s->dpi, f->dpi_slot);
            f->dpi_slot = 0;
        }
    }
}

/* The initiator's record learns how its flow was classified (id 0: unknown). */
static void credit_l7(struct host_l7 *init, uint16_t id)
{
    if (id) {
        init->l7_known++;
        add_l7(init, id);
    } else {
        init->l7_unknown++;
    }
}

/* The names come from packets (HTTP Host, SNI, DNS query): quoted as CSV fields, with
 * a leading = + - @ defused, so a crafted Host neither breaks the row nor runs as a
 * spreadsheet formula. */
static void flow_log_write(sensor_t *s, const struct flow *f, enum flow_end_reason why)
{
    static const char *const reasons[] = {"idle", "closed", "evicted", "shutdown"};
    char a[64], b[64], l7[64], l7q[2 * sizeof(l7) + 4], name[2 * FLOW_NAME_LEN + 4];
    ip_addr_str(&f->a, a, sizeof(a));
    ip_addr_str(&f->b, b, sizeof(b));
    if (s->dpi)
        dpi_proto_name(s->dpi, f->l7_master, f->l7_app, l7, sizeof(l7));
    else
        snprintf(l7, sizeof(l7), "Unknown");
    fprintf(s->cfg.flow_log,
            "%" PRIu64 ".%06" PRIu64 ",%s,%u,%s,%u,%u,%u,%" PRIu64 ",%u,%" PRIu64 ",%" PRIu64
            ".%06" PRIu64 ",%s,%s,%s\n",
            f->first_us / 1000000, f->first_us % 1000000, a, f->a_port, b, f->b_port, f->proto,
            f->pkts[0], f->bytes[0], f->pkts[1], f->bytes[1], f->last_us / 1000000,
            f->last_us % 1000000, tapir_csv_field(l7, l7q, sizeof(l7q)),
            tapir_csv_field(f->name, name, sizeof(name)), reasons[why]);
}

/* Appends f's activity since its previous record to the open window (end: the flow
 * ends now). A flow with nothing new gets no update record. The application id is left
 * 0: with nDPI on its own thread the capture thread never learns it, and results must
 * not depend on that thread (the analyzer reads the initiator's L7 counts instead). */
static void flow_record(sensor_t *s, struct flow *f, bool end)
{
    struct window *w = s->w;
    if (!w || !w->cap_flows)
        return;
    /* A flow its responder never answered gets no record: the conversation table only
     * follows peers that talk back, and a spoofed flood's millions of one-way flows
     * would fill the window's records (10 MiB a window, 40 MiB more peak RSS on the
     * flood benchmark) for nothing. */
    if (!(f->state & FLOW_F_REPLY))
        return;
    uint32_t dp0 = f->pkts[0] - f->rec_pkts[0], dp1 = f->pkts[1] - f->rec_pkts[1];
    if (!end && dp0 == 0 && dp1 == 0)
        return;
    if (w->n_flows >= w->cap_flows) {
        w->stats.flow_records_dropped++;
        s->st.flow_records_dropped++;
        return;
    }
    struct flow_record *r = &w->flows[w->n_flows++];
    r->init = f->a;
    r->resp = f->b;
    r->resp_port = f->b_port;
    r->l7_app = 0;
    r->proto = f->proto;
    r->pad_ = 0;
    uint8_t fl = 0;
    if (f->state & FLOW_F_SYN)
        fl |= FLOW_REC_SYN;
    if (f->state & FLOW_F_SYNACK)
        fl |= FLOW_REC_SYNACK;
    if (f->state & FLOW_F_RST)
        fl |= FLOW_REC_RST;
    if (f->state & (FLOW_F_FIN_A | FLOW_F_FIN_B))
        fl |= FLOW_REC_FIN;
    if (!(f->state & FLOW_F_RECORD))
        fl |= FLOW_REC_FIRST;
    if (end)
        fl |= FLOW_REC_END;
    r->flags = fl;
    r->pkts[0] = dp0;
    r->pkts[1] = dp1;
    r->bytes[0] = f->bytes[0] - f->rec_bytes[0];
    r->bytes[1] = f->bytes[1] - f->rec_bytes[1];
    r->first_us = f->first_us;
    r->last_us = f->last_us;
    f->state |= FLOW_F_RECORD;
    memcpy(f->rec_pkts, f->pkts, sizeof(f->rec_pkts));
    memcpy(f->rec_bytes, f->bytes, sizeof(f->rec_bytes));
    s->st.flow_records++;
}

/* At window close: a record for each live flow with packets since its last one. */
static void flow_update(void *ctx, struct flow *f)
{
    flow_record(ctx, f, false);
}

static void on_flow_end(void *ctx, struct flow *f, enum flow_end_reason why)
{
    sensor_t *s = ctx;
    flow_record(s, f, true);
    struct host_window *init = host(s, &f->a, tapir_ip_hash(&f->a, s->idx_seed));
    if (s->worker) {
        if (f->dpi_slot && !(f->state & FLOW_F_L7_DONE))
            dpi_worker_end(s->worker, f->dpi_slot, s->w, rec_of(s, init), init ? init->gen : 0);
    } else if (f->dpi_slot) {
        struct dpi_result r;
        memset(&r, 0, sizeof(r));
        int st = dpi_giveup(s->dpi, f->dpi_slot, &r);
        l7_done(s, f, st, &r, init);
    }
    if (init) {
        /* Net upload to the public Internet on answered flows (slow exfiltration adds
         * up across windows in the analyzer). Internal transfers (file servers, backups)
         * do not count, nor do flows nothing answered (scans, floods, timeouts). */
        if ((f->state & FLOW_F_REPLY) && f->bytes[0] > f->bytes[1] && !ip_addr_is_reserved(&f->b))
            init->up_public_net += f->bytes[0] - f->bytes[1];
        uint64_t dur_ms = (f->last_us - f->first_us) / 1000;
        init->flows_ended++;
        init->dur_sum_ms += dur_ms;
        if (dur_ms > init->dur_max_ms)
            init->dur_max_ms = dur_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)dur_ms;
    }
    if (s->cfg.flow_log)
        flow_log_write(s, f, why);
}

/* With the worker: the flow's first DPI_MAX_PACKETS payload packets are queued for it
 * (it drops those that come after its verdict); the flow keeps an id, not a state. */
static void queue_dpi(sensor_t *s, struct flow *f, const struct pkt_info *p,
                      struct host_window *init)
{
    unsigned flags = 0;
    if (!f->dpi_slot) { /* the flow's record names it to the worker */
        f->dpi_slot = flow_table_id(s->ft, f);
        flags |= DPI_JOB_FIRST;
    }
    if (++f->dpi_pkts >= DPI_MAX_PACKETS) {
        flags |= DPI_JOB_FINAL;
        f->state |= FLOW_F_L7_DONE; /* nothing more to send; the verdict is the worker's */
    }
    dpi_worker_packet(s->worker, f->dpi_slot, flags, s->w, rec_of(s, init), init ? init->gen : 0,
                      p->l3, p->l3_cap, p->ts_us);
}

static void run_dpi(sensor_t *s, struct flow *f, const struct pkt_info *p, struct host_window *init)
{
    if (s->worker) {
        queue_dpi(s, f, p, init);
        return;
    }
    if (!f->dpi_slot) {
        f->dpi_slot = dpi_acquire(s->dpi);
        if (!f->dpi_slot) { /* pool empty: this flow stays unclassified */
            f->state |= FLOW_F_L7_DONE;
            return;
        }
    }
    struct dpi_result r;
    memset(&r, 0, sizeof(r));
    f->dpi_pkts++;
    int st = dpi_process(s->dpi, f->dpi_slot, p->l3, p->l3_cap, p->ts_us, &r);
    if (!(st & DPI_FINAL) && f->dpi_pkts >= DPI_MAX_PACKETS)
        st |= dpi_giveup(s->dpi, f->dpi_slot, &r);
    if (st)
        l7_done(s, f, st, &r, init);
}

void sensor_packet(sensor_t *s, int linktype, uint64_t ts_us, const uint8_t *data, uint32_t cap_len,
                   uint32_t wire_len)
{
    struct pkt_info p;
    p.ts_us = ts_us;
    if ((++s->st.pkts & 0xffff) == 0)
        sensor_publish_stats(s);
    s->st.wire_bytes += wire_len;
    enum decode_result r = decode_packet(linktype, data, cap_len, wire_len, &p);
    s->st.decode[r]++;
    if (r >= DECODE_NOT_IP)
        return;
    advance_clock(s, ts_us);
    s->st.ip_pkts++;
    s->st.ip_bytes += p.ip_len;
    s->w->stats.pkts++;
    s->w->stats.bytes += p.ip_len;

    uint64_t src_h = tapir_ip_hash(&p.src, s->idx_seed);
    uint64_t dst_h = tapir_ip_hash(&p.dst, s->idx_seed);
    struct host_window *hs = admit(s, &p.src, src_h, NULL);
    struct host_window *hd = admit(s, &p.dst, dst_h, hs);
    bool icmp = p.proto == IPPROTO_NUM_ICMP || p.proto == IPPROTO_NUM_ICMPV6;
    if (hs) {
        hs->pkts_sent++;
        hs->bytes_sent += p.ip_len;
        if (icmp)
            hs->icmp_pkts_sent++;
    }
    if (hd) {
        hd->pkts_recv++;
        hd->bytes_recv += p.ip_len;
        if (icmp)
            hd->icmp_pkts_recv++;
    }
    if (r == DECODE_NOTE_OTHER_L4)
        s->st.l4_other++;
    if (r == DECODE_NOTE_FRAGMENT) {
        if (s->rate)
            rate_packet(s->rate, &p, src_h, dst_h, 0, 0, hs ? &hs->rate_hint : NULL,
                        hd ? &hd->rate_hint : NULL);
        return; /* no ports: hosts only */
    }
    if (hs && p.proto == IPPROTO_NUM_TCP && decode_tcp_flags_odd(p.tcp_flags))
        hs->tcp_odd_flags++; /* scan rules (analyzer/behaviour.c) */
    if (hs && p.proto == IPPROTO_NUM_UDP && p.dport == 53 && p.payload) {
        int ql = decode_dns_qname_len(p.payload, p.payload_len);
        if (ql >= 0) {
            hs->dns_queries++;
            hs->dns_qname_sum += (uint32_t)ql;
            if (ql > hs->dns_qname_max)
                hs->dns_qname_max = (uint16_t)ql;
        }
    }

    int dir, created;
    struct flow *f = flow_table_lookup_h(s->ft, &p, src_h, dst_h, &dir, &created);
    if (s->rate) {
        unsigned what = f && created ? RATE_PKT_CREATED : 0;
        if (f && !created && dir == 0 && p.proto == IPPROTO_NUM_TCP && f->pkts[0] == 1 &&
            (p.tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_ACK &&
            (f->state & (FLOW_F_SYN | FLOW_F_SYNACK)) == (FLOW_F_SYN | FLOW_F_SYNACK))
            what |= RATE_PKT_COMPLETED; /* pkts[] counts this packet below */
        rate_packet(s->rate, &p, src_h, dst_h, f ? dir : 0, what, hs ? &hs->rate_hint : NULL,
                    hd ? &hd->rate_hint : NULL);
    }
    if (!f)
        return;
    if (created)
        on_flow_start(s, f, &p, hs, hd);
    /* The initiator and responder records, whichever way this packet goes. */
    struct host_window *init = dir == 0 ? hs : hd;
    struct host_window *resp = dir == 0 ? hd : hs;
    f->pkts[dir]++;
    f->bytes[dir] += p.ip_len;
    if (dir == 1) {
        f->state |= FLOW_F_REPLY;
        if (init)
            init->resp_bytes += p.ip_len;
    } else if (init && (p.proto != IPPROTO_NUM_TCP || (f->state & FLOW_F_SYN))) {
        init->started_bytes += p.ip_len;
    }
    if (p.proto == IPPROTO_NUM_TCP) {
        uint8_t fl = p.tcp_flags;
        if (dir == 1 && (fl & (TCP_SYN | TCP_ACK)) == (TCP_SYN | TCP_ACK) &&
            !(f->state & FLOW_F_SYNACK)) {
            f->state |= FLOW_F_SYNACK;
            if (init && (f->state & FLOW_F_SYN))
                init->tcp_answered++;
            if (resp && (f->state & FLOW_F_SYN))
                resp->synack_out++;
        }
        if (fl & TCP_FIN)
            f->state |= dir == 0 ? FLOW_F_FIN_A : FLOW_F_FIN_B;
        if ((fl & TCP_RST) && !(f->state & FLOW_F_RST)) {
            f->state |= FLOW_F_RST;
            if (init && (f->state & FLOW_F_SYN)) {
                init->tcp_reset++;
                /* Answered, then reset within 4 packets carrying no payload (at most 64
                 * bytes of IPv4 + TCP headers a packet, 84 for IPv6): a probed open port. */
                uint32_t n = f->pkts[0] + f->pkts[1];
                if ((f->state & FLOW_F_SYNACK) && n <= 4 &&
                    f->bytes[0] + f->bytes[1] <= (uint64_t)n * (p.ip_version == 4 ? 64 : 84))
                    init->tcp_probe_reset++;
            }
        }
    }
    if (s->dpi && !(f->state & FLOW_F_L7_DONE) && p.payload_len > 0)
        run_dpi(s, f, &p, init);
    flow_table_touch(s->ft, f, s->now_us);
    flow_table_expire(s->ft, s->now_us, 8);
}

void sensor_flush(sensor_t *s)
{
    if (s->worker)
        dpi_worker_flush(s->worker);
}

void sensor_tick(sensor_t *s, uint64_t now_us)
{
    if (s->started && now_us > s->now_us && now_us >= s->w->end_us)
        advance_clock(s, now_us);
}

void sensor_finish(sensor_t *s)
{
    if (s->started && s->rate)
        rate_finish(s->rate, s->now_us);
    if (s->started) {
        flow_table_flush(s->ft);
        if (s->w->n_hosts > 0) {
            struct flow_table_stats fst;
            flow_table_stats(s->ft, &fst);
            s->w->stats.flows_active = fst.active;
            if (s->rate)
                rate_window(s->rate, &s->w->rate);
            s->w->seq = s->seq++;
            hand_off(s, s->w);
            s->st.windows++;
            s->w = NULL;
        }
    }
    if (s->worker)
        dpi_worker_finish(s->worker);
    sensor_publish_stats(s);
    wqueue_close(s->q);
}

/* The DPI counters the inline engine and the worker both keep. */
static void put_dpi_counts(struct sensor_stats *st, uint64_t detected, uint64_t gave_up,
                           uint64_t pool_empty, uint64_t in_use)
{
    st->dpi_detected = detected;
    st->dpi_gave_up = gave_up;
    st->dpi_pool_empty = pool_empty;
    st->dpi_in_use = in_use;
}

void sensor_get_stats(sensor_t *s, struct sensor_stats *st)
{
    *st = s->st;
    st->last_ts_us = s->now_us;
    struct flow_table_stats f;
    flow_table_stats(s->ft, &f);
    st->flows_active = f.active;
    st->flows_created = f.created;
    st->flows_evicted = f.evicted;
    st->flows_untracked = f.untracked;
    st->hosts_replaced = host_table_replaced(s->ht);
    if (s->worker) {
        struct dpi_worker_stats d;
        dpi_worker_stats(s->worker, &d);
        put_dpi_counts(st, d.detected, d.gave_up, d.pool_empty, d.in_use);
        st->dpi_jobs = d.jobs;
        st->dpi_ring_full = d.producer_waits;
        st->dpi_reclaimed = d.slots_reclaimed;
    } else if (s->dpi) {
        struct dpi_stats d;
        dpi_stats(s->dpi, &d);
        put_dpi_counts(st, d.detected, d.gave_up, d.pool_empty, d.in_use);
    }
    geo_counters(s->geo, &st->geo_lookups, &st->geo_hits, &st->geo_errors);
    st->windows_dropped = wqueue_dropped(s->q);
    if (s->rate) {
        struct rate_stats rs;
        rate_stats(s->rate, &rs);
        st->rate_events = rs.events;
        st->rate_events_dropped = rs.events_dropped;
        st->rate_evicted = rs.evicted;
        st->rate_untracked = rs.untracked;
    }
}

const char *sensor_risk_name(void *sensor, unsigned id, const char **severity)
{
    (void)sensor; /* nDPI's risk tables are static */
    return dpi_risk_name(id, severity);
}

const char *sensor_l7_name(void *sensor, uint16_t id)
{
    sensor_t *s = sensor;
    return s->dpi ? dpi_id_name(s->dpi, id) : NULL;
}

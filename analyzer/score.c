/*
 * score.c — one closed window through the analyzer, in order.
 *
 * Per window: build the source, destination and prefix vectors (behaviour.c), add the
 * source side's deviations from each IP's baseline, score each side with its own forest,
 * judge (judge.c), and hand each result to the outputs (output.h), which write SQLite
 * first (one transaction per window) and the alert log only after the commit. That
 * order means a line in the alert log is always in the database too, whatever moment a
 * crash picks; the gap it leaves is the other way round (committed, not yet logged), and
 * is stated.
 *
 * A scoring pass goes in chunks of SCORE_BATCH vectors: build them (baselines, vectors
 * CSV), score them with one iforest_score_many call (0.37 us a row against 0.9 one at a
 * time; the forest walk was half of this thread's CPU, which went from 0.49 s to
 * 0.37-0.45 s on the 5 M-packet replay), then take each through limits, rules,
 * persistence and output in the original order, so the results are those of scoring
 * one at a time. Rejected: a whole pass in one call, which holds ~1.5 KiB per vector
 * (150 MB for a 100,000-host window) for no faster walk: iforest_score_many works
 * through 128-row blocks anyway.
 *
 * Prefixes (/24, /64) are grouped in two steps (prefix_group): every scored source's
 * prefix is a 24-byte key first, and only prefixes with two members or more, the ones
 * scored, get a 688-byte accumulator. Measured on bench/replay.sh's spoofed flood
 * (65,536 hosts a window, nearly each alone in its /24): peak RSS 337 -> 299 MiB at the
 * defaults, for the same one probe per source (made before the passes, not during them).
 * Rejected: a smaller cap on the accumulators (a flood would then decide which real
 * prefixes are scored).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "analyzer_int.h"
#include "category.h"
#include "iforest.h"
#include "log.h"

/* One window's analysis, shared by the steps each vector goes through. */
struct window_run {
    const struct window *w;
    struct output_window ow; /* the window as the outputs see it */
    bool scoring;            /* a model, and not train-only */
    bool warmup;             /* the vectors train the first model */
    int dev_first, dev_n;    /* the source side's baseline-deviation features */
    size_t n_scored, n_alerts, below, n_vectors, n_suppressed; /* summed into a->st once */
    struct alert al;
    double contrib[BEHAVIOUR_MAX_FEATURES];
};

/* Prefixes in two steps, so that memory goes to the prefixes that are scored: first
 * every scored source's prefix becomes a key (24 bytes) and is counted; then only the
 * keys with two members or more get an accumulator (a host_window, 688 bytes), in the
 * order of their first member, which is the order one pass gave them. Under a spoofed
 * flood nearly every source is alone in its /24: one accumulator per prefix was 44 MiB
 * at 65,536 hosts a window, 12% of the flood benchmark's peak RSS; the keys take 2.3 MiB.
 * Out of memory, the window has no prefix vectors (counted in no stat: it is logged by
 * nothing either, as before). */
static bool prefix_grow(analyzer_t *a, uint32_t need)
{
    if (need <= a->prefix_cap)
        return true;
    uint32_t cap = 1024;
    while (cap < need)
        cap *= 2;
    struct prefix_key *nk = realloc(a->prefix_keys, cap * sizeof(*nk));
    if (nk)
        a->prefix_keys = nk;
    uint32_t *no = realloc(a->prefix_of, cap * sizeof(*no));
    if (no)
        a->prefix_of = no;
    uint32_t *ni = realloc(a->prefix_idx, (size_t)cap * 2 * sizeof(*ni));
    if (ni)
        a->prefix_idx = ni;
    if (!nk || !no || !ni)
        return false;
    a->prefix_cap = cap;
    a->prefix_mask = cap * 2 - 1;
    return true;
}

static struct ip_addr prefix_of_ip(const analyzer_t *a, const struct ip_addr *ip)
{
    struct ip_addr p = *ip;
    ip_addr_mask(&p, ip_addr_is_v4(&p) ? 96 + a->cfg.prefix4 : a->cfg.prefix6);
    return p;
}

/* The window's prefix keys and accumulators (see above); prefix_add fills them. */
static void prefix_group(analyzer_t *a, const struct window *w)
{
    a->n_keys = 0;
    a->n_prefixes = 0;
    if (!prefix_grow(a, w->n_hosts)) {
        a->n_keys = UINT32_MAX; /* no prefixes this window */
        return;
    }
    memset(a->prefix_idx, 0, ((size_t)a->prefix_mask + 1) * sizeof(uint32_t));
    uint32_t multi = 0;
    for (uint32_t i = 0; i < w->n_hosts; i++) {
        const struct host_window *h = &w->hosts[i];
        a->prefix_of[i] = 0;
        /* build_vector's condition for a source's prefix (the count is its own) */
        if (!h->pkts_sent || analyzer_address_unscorable(NULL, &h->ip))
            continue;
        struct ip_addr p = prefix_of_ip(a, &h->ip);
        uint32_t j = (uint32_t)tapir_hash(p.b, 16, a->cfg.seed) & a->prefix_mask;
        uint32_t r;
        while ((r = a->prefix_idx[j]) && memcmp(a->prefix_keys[r - 1].ip.b, p.b, 16))
            j = (j + 1) & a->prefix_mask;
        if (!r) {
            struct prefix_key *k = &a->prefix_keys[a->n_keys++];
            k->ip = p;
            k->members = 0;
            k->acc = 0;
            r = a->prefix_idx[j] = a->n_keys;
        }
        if (++a->prefix_keys[r - 1].members == 2)
            multi++;
        a->prefix_of[i] = r;
    }
    if (multi > a->acc_cap) {
        uint32_t cap = 64;
        while (cap < multi)
            cap *= 2;
        struct prefix_acc *np = realloc(a->prefixes, cap * sizeof(*np));
        if (np) {
            a->prefixes = np;
            a->acc_cap = cap;
        }
    }
    for (uint32_t k = 0; k < a->n_keys && a->n_prefixes < a->acc_cap; k++) {
        struct prefix_key *pk = &a->prefix_keys[k];
        if (pk->members < 2)
            continue;
        struct prefix_acc *pa = &a->prefixes[a->n_prefixes++];
        memset(pa, 0, sizeof(*pa));
        pa->acc.ip = pk->ip;
        pk->acc = a->n_prefixes;
    }
}

/* Host i (a scored source) into its prefix's accumulator, when the prefix has one. */
static void prefix_add(analyzer_t *a, uint32_t i, const struct host_window *h)
{
    if (a->n_keys == UINT32_MAX || !a->prefix_of[i])
        return;
    uint32_t acc = a->prefix_keys[a->prefix_of[i] - 1].acc;
    if (!acc)
        return;
    struct prefix_acc *pa = &a->prefixes[acc - 1];
    behaviour_prefix_add(&pa->acc, h);
    pa->members++;
}

static void score_one(analyzer_t *a, const struct window *w, struct scored *sc)
{
    const struct model_section *sec = a->sec[sc->side];
    behaviour_scale(sc->raw, sec->scaling, a->n_feat[sc->side], sc->x);
    sc->score = iforest_score(sec->forest, sc->x);
    analyzer_judge(a, w, sc);
}

/* The part of sc after its header (the vectors, the verdict, the baseline entry), zeroed
 * only for a vector that is built: most hosts of a window return early (too few packets
 * on a side), and zeroing all 880 bytes for each was 21 instructions a packet of a
 * 1 M-packet synthetic replay (cachegrind). A vector not built is never read. */
static void clear_body(struct scored *sc)
{
    memset((char *)sc + offsetof(struct scored, raw), 0,
           sizeof(*sc) - offsetof(struct scored, raw));
}

/* Host (passes 0 and 1) or prefix (pass 2) i of the window into sc: its raw vector and
 * baseline entry, and its vectors CSV row. False when it is not scored (too little
 * traffic on that side, a prefix of one host). */
static bool build_vector(analyzer_t *a, struct window_run *r, int pass, uint32_t i,
                         struct scored *sc)
{
    const struct window *w = r->w;
    int side = pass;
    const struct host_window *h;
    memset(sc, 0, offsetof(struct scored, raw));
    if (pass < 2) {
        h = &w->hosts[i];
        if ((pass == SIDE_SOURCE ? h->pkts_sent : h->pkts_recv) &&
            analyzer_address_unscorable(a, &h->ip))
            return false; /* names no one host: never scored, never a prefix member */
        sc->ip = h->ip;
        sc->prefix_len = 128;
    } else {
        if (a->prefixes[i].members < 2)
            return false;
        h = &a->prefixes[i].acc;
        sc->ip = h->ip;
        sc->prefix_len = (uint8_t)(ip_addr_is_v4(&h->ip) ? 96 + a->cfg.prefix4 : a->cfg.prefix6);
    }
    sc->side = side;
    sc->h = h;
    if (side == SIDE_SOURCE) {
        if (h->pkts_sent == 0)
            return false;
        prefix_add(a, i, h);
        if (h->pkts_sent < a->cfg.min_pkts) {
            r->below++;
            return false;
        }
        /* Baselines only for IPs active enough to be scored: one-packet spoofed
         * sources would otherwise fill the table. */
        clear_body(sc);
        sc->be = baseline_get(a->baseline, &h->ip, w->seq);
        behaviour_source(h, sc->raw);
        for (int k = 0; k < r->dev_n; k++) {
            int b = behaviour_source_dev_base(k);
            sc->raw[r->dev_first + k] = baseline_deviation(sc->be, b, sc->raw[b]);
        }
        sc->raw[behaviour_source_upload_index()] =
            baseline_upload(sc->be, w->seq, (double)h->up_public_net);
        output_source_vector(a->out, w, &h->ip, sc->raw, a->n_feat[SIDE_SOURCE]);
    } else if (side == SIDE_DESTINATION) {
        if (h->pkts_recv < a->cfg.min_pkts || h->flows_in == 0)
            return false;
        clear_body(sc);
        sc->be = baseline_get(a->baseline, &h->ip, w->seq);
        behaviour_destination(h, sc->raw);
    } else {
        if (h->pkts_sent < a->cfg.min_pkts)
            return false;
        /* Prefix persistence is kept under the prefix's base address. */
        clear_body(sc);
        sc->be = baseline_get(a->baseline, &h->ip, w->seq);
        behaviour_source(h, sc->raw); /* prefix: the first N_PREFIX features */
    }
    r->n_vectors++;
    return true;
}

/* After analyzer_judge: the counters, the retraining reservoir and the vector's alert. */
static void vector_scored(analyzer_t *a, struct window_run *r, struct scored *sc)
{
    int side = sc->side;
    r->n_scored++;
    if (sc->over && !sc->alert)
        r->n_suppressed++;
    /* Retraining learns only from IPs with no window over threshold among their last 16
     * (a persistent attacker that is not flagged every window must not become "normal"
     * through its quieter windows), or flagged by the forest alone for an hour on end
     * (a new normal), and never within 16 windows of a limit's, a risk's or a
     * conversation's alert on the IP (baseline_learnable, baseline_taint). */
    if (a->cfg.retrain_every && !sc->limit_hit && baseline_learnable(sc->be, side, r->w->seq))
        analyzer_train_offer(a, side, sc->x, &sc->ip, false);
    if (!sc->alert)
        return;
    analyzer_fill_alert(a, r->w, sc, &r->al, r->contrib);
    analyzer_emit_alert(a, r->w, &r->al, r->w->end_us);
    r->n_alerts++;
}

/* Every vector's last steps, scored or not: the host's output row and its baseline. */
static void vector_done(analyzer_t *a, struct window_run *r, struct scored *sc)
{
    int side = sc->side;
    if (r->scoring && side == SIDE_SOURCE && output_wants_hosts(a->out)) {
        struct geo_info gi;
        geo_lookup(a->geo, &sc->ip, &gi);
        output_host(a->out, &r->ow, &sc->ip, &gi, a->sec[side] ? sc->score : -1);
    }
    /* Baselines learn from windows that were not over threshold. */
    if (side != SIDE_PREFIX && !sc->over)
        baseline_update(a->baseline, sc->be, side == SIDE_SOURCE ? 0 : a->n_feat[SIDE_SOURCE],
                        sc->raw, side == SIDE_SOURCE ? r->dev_first : a->n_feat[side]);
}

/* One vector, start to end: offered for training when its side has no forest yet,
 * otherwise scored on its own. */
static void vector_one(analyzer_t *a, struct window_run *r, struct scored *sc)
{
    int side = sc->side, nf = a->n_feat[side];
    if (!r->scoring || !a->sec[side]) {
        if (a->cfg.train_only || r->warmup || a->cfg.retrain_every) {
            uint8_t scl[BEHAVIOUR_MAX_FEATURES];
            for (int k = 0; k < nf; k++)
                scl[k] = a->cfg.scaling >= 0 ? (uint8_t)a->cfg.scaling : a->defs[side][k].scaling;
            behaviour_scale(sc->raw, scl, nf, sc->x);
            analyzer_train_offer(a, side, sc->x, &sc->ip, a->cfg.train_only || r->warmup);
        }
    } else {
        score_one(a, r->w, sc);
        vector_scored(a, r, sc);
    }
    vector_done(a, r, sc);
}

/* Room in the batch buffers for min(n, SCORE_BATCH) vectors; they are kept across
 * windows. Returns the room there is: less after a failed allocation, 0 meaning score
 * one at a time. */
static size_t batch_reserve(analyzer_t *a, size_t n)
{
    size_t need = n < SCORE_BATCH ? n : SCORE_BATCH;
    if (need <= a->batch_cap)
        return a->batch_cap;
    size_t cap = 64;
    while (cap < need)
        cap *= 2;
    if (cap > SCORE_BATCH)
        cap = SCORE_BATCH;
    struct scored *ns = realloc(a->batch, cap * sizeof(*ns));
    if (ns)
        a->batch = ns;
    struct baseline_entry *nb = realloc(a->batch_be, cap * sizeof(*nb));
    if (nb)
        a->batch_be = nb;
    float *nx = realloc(a->batch_x, cap * BEHAVIOUR_MAX_FEATURES * sizeof(*nx));
    if (nx)
        a->batch_x = nx;
    double *nsc = realloc(a->batch_score, cap * sizeof(*nsc));
    if (nsc)
        a->batch_score = nsc;
    if (ns && nb && nx && nsc)
        a->batch_cap = cap;
    return a->batch_cap;
}

/* A scoring pass, a chunk of up to batch_cap vectors at a time: build the chunk's
 * vectors, score them with one iforest_score_many, then take each through the rest in
 * order. Every step but the forest walk runs in the same order as one at a time, so
 * the results are the same. */
static void score_pass_batched(analyzer_t *a, struct window_run *r, int pass, uint32_t n)
{
    const struct model_section *sec = a->sec[pass];
    size_t nf = (size_t)a->n_feat[pass];
    uint32_t i = 0;
    while (i < n) {
        size_t m = 0;
        for (; i < n && m < a->batch_cap; i++) {
            struct scored *sc = &a->batch[m];
            if (!build_vector(a, r, pass, i, sc))
                continue;
            a->batch_be[m] = *sc->be;
            behaviour_scale(sc->raw, sec->scaling, (int)nf, sc->x);
            memcpy(a->batch_x + m * nf, sc->x, nf * sizeof(float));
            m++;
        }
        if (m == 0)
            break;
        iforest_score_many(sec->forest, a->batch_x, m, a->batch_score);
        for (size_t j = 0; j < m; j++) {
            struct scored *sc = &a->batch[j];
            /* When its probe is full, baseline_get gives the least recently seen entry
             * to the new IP: a later vector of this chunk may have taken this one's.
             * One at a time, this vector would have used its entry (persistence,
             * update) and then lost it: so it uses the copy taken when it was built,
             * and what it writes there is lost the same way. */
            if (memcmp(sc->be->ip.b, sc->ip.b, sizeof(sc->ip.b)) != 0)
                sc->be = &a->batch_be[j];
            sc->score = a->batch_score[j];
            analyzer_judge(a, r->w, sc);
            vector_scored(a, r, sc);
            vector_done(a, r, sc);
        }
    }
}

/* ---- conversations (conv.c) -------------------------------------------------------
 * A conversation alert (detector `conversation`) is explained by its top features: the
 * peer (in the name) with the count, then the interval, regularity, durations or bytes
 * the rule tested; its category comes from category.c's table, like every alert's. */

struct conv_run {
    analyzer_t *a;
    const struct window *w;
    struct alert *al;
    size_t n;
};

static const char *proto_name(uint8_t p)
{
    return p == 6 ? "tcp" : p == 17 ? "udp" : p == 1 ? "icmp" : p == 58 ? "icmp6" : "ip";
}

static void set_feature(struct alert *al, const char *name, double value, double baseline)
{
    if (al->n_top >= ALERT_TOP_FEATURES)
        return;
    struct alert_feature *f = &al->top[al->n_top++];
    size_t n = strlen(name);
    if (n >= sizeof(f->name))
        n = sizeof(f->name) - 1; /* an IPv6 peer is cut: the full one is in the log line */
    memcpy(f->name, name, n);
    f->name[n] = '\0';
    f->value = value;
    f->baseline = baseline;
    f->contribution = 0;
}

static void on_conv_finding(void *ctx, const struct conv_finding *f)
{
    struct conv_run *cr = ctx;
    analyzer_t *a = cr->a;
    /* The allowlist names either end: an operator allows a known periodic service (a
     * monitoring server, an update host) by its address. */
    if (rules_allowed(a->rules, &f->src) || rules_allowed(a->rules, &f->dst))
        return;
    /* The source's windows are not learned as normal for a while (baseline_learnable). */
    baseline_taint(baseline_find(a->baseline, &f->src), cr->w->seq);
    struct alert *al = cr->al;
    memset(al, 0, sizeof(*al));
    al->timestamp_us = cr->w->end_us;
    al->event_type = "alert";
    al->detector = ALERT_DETECTOR_CONVERSATION;
    al->ip = f->src;
    al->prefix_len = 128;
    al->side = ALERT_SIDE_SOURCE;
    al->window_start_us = cr->w->start_us;
    al->window_end_us = cr->w->end_us;
    static const char *const kind[CONV_KINDS] = {"beacon", "bruteforce", "exfil", "tunnel"};
    char peer[64], name[96];
    ip_addr_str(&f->dst, peer, sizeof(peer));
    snprintf(name, sizeof(name), "%s to %s:%u/%s", kind[f->kind], peer, f->port,
             proto_name(f->proto));
    switch (f->kind) {
    case CONV_BEACON:
        al->score = f->regularity;
        al->threshold = 0.8;
        set_feature(al, name, f->conns, 0);
        set_feature(al, "beacon_interval_s", f->interval_s, 0);
        set_feature(al, "beacon_size_spread", f->size_spread, 0);
        break;
    case CONV_BRUTEFORCE:
        al->score = 1;
        al->threshold = 1;
        set_feature(al, name, f->recent, 0);
        set_feature(al, "bruteforce_span_s", f->span_s, 0);
        set_feature(al, f->auth_by_l7 ? "bruteforce_median_dur_s_l7" : "bruteforce_median_dur_s",
                    f->dur_s, 0);
        break;
    case CONV_TUNNEL:
        al->score = 1;
        al->threshold = 1;
        set_feature(al, name, f->bytes_out, 0);
        set_feature(al, "tunnel_pkt_size", f->pkt_size, 0);
        set_feature(al, "tunnel_size_ratio", f->size_ratio, 0);
        break;
    case CONV_EXFIL:
    default:
        al->score = 1;
        al->threshold = 1;
        set_feature(al, name, f->bytes_out, f->limit);
        set_feature(al, "exfil_limit_bytes", f->limit, 0);
        set_feature(al, "exfil_span_s", f->span_s, 0);
        break;
    }
    al->category = category_of(al);
    /* The one peer is known: the direction is the conversation's. */
    bool dst_home = rules_allowed(a->cfg.home_net, &f->dst);
    al->direction = incident_direction(rules_allowed(a->cfg.home_net, &f->src), al->side,
                                       dst_home ? 1 : 0, dst_home ? 0 : 1);
    geo_lookup(a->geo, &al->ip, &al->geo);
    snprintf(al->model_id, sizeof(al->model_id), "%s", a->have_model ? a->model.id : "");
    analyzer_emit_alert(a, cr->w, al, cr->w->end_us);
    cr->n++;
}

size_t analyzer_conv_pass(analyzer_t *a, const struct window *w, struct alert *al)
{
    struct conv_run cr = {a, w, al, 0};
    conv_window(a->conv, w, on_conv_finding, &cr);
    return cr.n;
}

void analyzer_process_window(analyzer_t *a, struct window *w)
{
    struct window_run r;
    memset(&r, 0, sizeof(r));
    r.w = w;
    r.scoring = a->have_model && !a->cfg.train_only;
    r.warmup = !a->cfg.train_only && !a->have_model && !a->cfg.model_path;
    r.ow = (struct output_window){w, r.scoring, a->cfg.retention_us, !a->cfg.train_only};

    r.dev_first = behaviour_source_dev_first(&r.dev_n);
    struct scored *sc = malloc(sizeof(*sc));
    if (!sc) {
        log_error("out of memory analysing a window");
        return;
    }
    output_window_begin(a->out, &r.ow);

    prefix_group(a, w);
    for (int pass = 0; pass < 3; pass++) {
        uint32_t n = pass < 2 ? w->n_hosts : a->n_prefixes;
        if (r.scoring && a->sec[pass] && batch_reserve(a, n) > 0)
            score_pass_batched(a, &r, pass, n);
        else
            for (uint32_t i = 0; i < n; i++)
                if (build_vector(a, &r, pass, i, sc))
                    vector_one(a, &r, sc);
        if (pass == 1) /* one more window in the baselines this window touched */
            for (uint32_t i = 0; i < w->n_hosts; i++) {
                struct baseline_entry *e = baseline_find(a->baseline, &w->hosts[i].ip);
                if (e && e->last_seq == w->seq)
                    e->n++;
            }
    }
    size_t n_conv = 0;
    if (a->conv) /* learning while training: no alerts */
        n_conv = analyzer_conv_pass(a, w, &r.al);
    r.n_alerts += n_conv;
    /* Incidents quiet for --incident-quiet windows end in this window's transaction. */
    incident_window_close(a->incidents, w->end_us, a->cfg.incident_quiet);
    a->last_end_us = w->end_us;
    a->last_seq = w->seq;
    struct output_errors oe;
    output_window_end(a->out, &r.ow, &oe);
    free(sc);
    a->windows_seen++;
    pthread_mutex_lock(&a->st_mu);
    a->st.windows++;
    a->st.scored += r.n_scored;
    a->st.alerts += r.n_alerts;
    a->st.below_min += r.below;
    a->st.vectors += r.n_vectors;
    a->st.suppressed += r.n_suppressed;
    a->st.store_errors += oe.windows_lost;
    a->st.log_errors += oe.alerts_lost;
    a->st.conv_alerts += n_conv;
    struct incident_stats is;
    incident_get_stats(a->incidents, &is);
    a->st.incidents_opened = is.opened;
    a->st.incidents_ended = is.ended;
    a->st.incidents_evicted = is.evicted;
    a->st.incidents_active = is.active;
    a->st.alerts_merged = is.merged;
    if (a->conv) {
        struct conv_stats cs;
        conv_get_stats(a->conv, &cs);
        a->st.conv_active = cs.active;
        a->st.conv_evicted = cs.evicted;
        a->st.conv_expired = cs.expired;
    }
    pthread_mutex_unlock(&a->st_mu);

    analyzer_train_after_window(a, r.warmup, r.scoring);
}

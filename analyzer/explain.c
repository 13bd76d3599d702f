/*
 * explain.c — an alert from a vector the judge said to raise: who (IP or prefix, side),
 * how far over (score, threshold), why (the three features that isolated it, each with
 * its value and what is usual), where (geo) and what it spoke (top L7 protocols).
 *
 * Which detector raised it comes from the judge (sc->detector); what kind of attack it
 * looks like from category.c's table, applied to the finished "why".
 *
 * "Why" is the forest's path-based contributions (iforest_explain) for an anomaly, and
 * the shares of the summed excess when learned limits were passed (the forest cannot
 * see past its training maximum, so its paths would explain the wrong thing). "Usual"
 * is the host's own baseline when it has one, else the network's training mean.
 * Rejected: naming the features furthest from the host's baseline: they say what is
 * unusual for the host, not what made the forest isolate it, and a new host has none.
 *
 * nDPI's risks: when risk_score is among the top features (always for the risk
 * detector's alerts, where it comes first), the alert names the risks its flows carried,
 * with nDPI's severity, through the sensor's callback (the analyzer never sees nDPI).
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "analyzer_int.h"
#include "category.h"
#include "iforest.h"

static void l7_summary(analyzer_t *a, const struct host_window *h, char *out, size_t cap)
{
    /* Top protocols by flows, most first. */
    int order[HOST_L7_SLOTS];
    int n = 0;
    for (int i = 0; i < HOST_L7_SLOTS; i++)
        if (h->l7_flows[i])
            order[n++] = i;
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && h->l7_flows[order[j]] > h->l7_flows[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    out[0] = '\0';
    size_t used = 0;
    for (int i = 0; i < n && i < 3; i++) {
        const char *name = a->l7_name ? a->l7_name(a->l7_ctx, h->l7_proto[order[i]]) : NULL;
        int w = snprintf(out + used, cap - used, "%s%s", used ? "," : "", name ? name : "?");
        if (w < 0 || (size_t)w >= cap - used)
            break;
        used += (size_t)w;
    }
}

/* "SQL Injection (Severe),Known Protocol on Non Standard Port (Low)": severe first. */
static void risk_summary(analyzer_t *a, const struct host_risk *r, char *out, size_t cap)
{
    static const char *const order[] = {"Severe", "High", "Medium", "Low", NULL};
    out[0] = '\0';
    if (!a->risk_name)
        return;
    size_t used = 0;
    for (int pass = 0; pass < 5; pass++)
        for (unsigned id = 1; id < 64; id++) {
            if (!(r->seen & (1ULL << id)))
                continue;
            const char *sev = "";
            const char *name = a->risk_name(a->risk_ctx, id, &sev);
            if (!name)
                continue;
            bool listed = false;
            for (int k = 0; k < 4; k++)
                if (!strcmp(sev, order[k]))
                    listed = true;
            if (order[pass] ? strcmp(sev, order[pass]) != 0 : listed)
                continue;
            int w = snprintf(out + used, cap - used, "%s%s (%s)", used ? "," : "", name,
                             sev[0] ? sev : "?");
            if (w < 0 || (size_t)w >= cap - used) {
                out[used] = '\0'; /* whole names only */
                return;
            }
            used += (size_t)w;
        }
}

void analyzer_fill_alert(analyzer_t *a, const struct window *w, struct scored *sc, struct alert *al,
                         double *contrib)
{
    memset(al, 0, sizeof(*al));
    al->timestamp_us = w->end_us;
    al->event_type = "alert";
    al->detector = sc->detector;
    al->ip = sc->ip;
    al->prefix_len = sc->prefix_len;
    al->side = sc->side == SIDE_SOURCE        ? ALERT_SIDE_SOURCE
               : sc->side == SIDE_DESTINATION ? ALERT_SIDE_DESTINATION
                                              : ALERT_SIDE_PREFIX;
    al->score = sc->score;
    al->threshold = sc->threshold;
    al->window_start_us = w->start_us;
    al->window_end_us = w->end_us;
    int nf = a->n_feat[sc->side];
    if (sc->limit_hit) {
        /* Explained by the limits passed, as shares of the summed excess. */
        double total = 0;
        for (int i = 0; i < nf; i++)
            total += sc->excess[i];
        for (int i = 0; i < nf; i++)
            contrib[i] = total > 0 ? sc->excess[i] / total : 0;
    } else if (sc->risk_hit && !sc->over) {
        /* The risk detector alone: explained by the risks. */
        for (int i = 0; i < nf; i++)
            contrib[i] = 0;
    } else {
        iforest_explain(a->sec[sc->side]->forest, sc->x, contrib);
    }
    int risk_i = behaviour_source_risk_index();
    if (sc->risk_hit && risk_i < nf)
        contrib[risk_i] = 2.0; /* first, whatever else passed a limit (shares are <= 1) */
    /* A scan rule's count comes first: it says what the rule saw (behaviour.c). */
    const struct behaviour_rule_hit *rh = &sc->rule; /* judge's (judge.c) */
    bool rule = rh->rule != BEHAVIOUR_RULE_NONE;
    if (rule) {
        struct alert_feature *af = &al->top[al->n_top++];
        snprintf(af->name, sizeof(af->name), "%s", rh->feature);
        af->value = rh->value;
        af->contribution = 1.0;
    }
    bool used[BEHAVIOUR_MAX_FEATURES] = {false};
    for (int k = al->n_top; k < ALERT_TOP_FEATURES; k++) {
        int best = -1;
        for (int i = 0; i < nf; i++)
            if (!used[i] && contrib[i] > 0 && (best < 0 || contrib[i] > contrib[best]))
                best = i;
        if (best < 0)
            break;
        used[best] = true;
        struct alert_feature *af = &al->top[al->n_top++];
        snprintf(af->name, sizeof(af->name), "%s", a->defs[sc->side][best].name);
        af->value = sc->raw[best];
        af->contribution = contrib[best] > 1.0 ? 1.0 : contrib[best];
        if (sc->side == SIDE_SOURCE && best == risk_i)
            risk_summary(a, &sc->h->risk, al->risks, sizeof(al->risks));
        int bidx = sc->side == SIDE_DESTINATION ? a->n_feat[SIDE_SOURCE] + best : best;
        const struct model_section *sec = a->sec[sc->side];
        bool own = sc->side == SIDE_DESTINATION || best < behaviour_source_upload_index();
        if (sc->side != SIDE_PREFIX && own && sc->be && sc->be->n && bidx < BASELINE_FEATURES)
            af->baseline = sc->be->mean[bidx]; /* the host's own usual */
        else if (sec->train_mean)              /* a new host, or a prefix: the network's usual */
            af->baseline = sec->scaling[best] == MODEL_SCALE_LOG1P ? expm1(sec->train_mean[best])
                                                                   : sec->train_mean[best];
    }
    geo_lookup(a->geo, &sc->ip, &al->geo);
    if (sc->side != SIDE_DESTINATION)
        l7_summary(a, sc->h, al->l7, sizeof(al->l7));
    snprintf(al->model_id, sizeof(al->model_id), "%s", a->model.id);
    al->n_features = nf;
    al->features = sc->raw;
    al->feature_names = a->names_tab[sc->side];
    al->category = category_of(al);
    /* The rule names the scan, whatever else the forest saw; a flood a limit named stays a
     * flood (a SYN flood's source also sends SYNs nobody answers to several ports). */
    bool flood = al->category == ALERT_CATEGORY_SYNFLOOD ||
                 al->category == ALERT_CATEGORY_UDPFLOOD ||
                 al->category == ALERT_CATEGORY_ICMPFLOOD;
    if (rule && !(sc->limit_hit && flood))
        al->category = rh->category;
    if (sc->risk_hit) /* the risk says what it is; category.c has no feature for it */
        al->category = ALERT_CATEGORY_WEBATTACK;
    /* Nothing named it, but its busiest TCP conversation in the window checks in like a
     * beacon (conv_window_beacon: a name for an alert raised anyway, not a detection). */
    if (al->category == ALERT_CATEGORY_ANOMALY && sc->side == SIDE_SOURCE && !rule &&
        conv_window_beacon(w, a->flowidx, &sc->ip, NULL))
        al->category = ALERT_CATEGORY_BEACON;
}

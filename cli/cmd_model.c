/*
 * cmd_model.c — `tapir model info FILE`, `tapir model reset FILE`, `tapir model features`.
 *
 * info reads a model the way `tapir run` does (checksum, version, bounds), so it doubles
 * as a validity check; reset removes a valid model file so the next start warms up
 * afresh (a file that is not a Tapir model is left alone); features prints the feature
 * table that the README carries, from the same definitions the analyzer uses.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "behaviour.h"
#include "cli.h"
#include "model.h"
#include "wqueue.h"

static const char *scaling_name(uint8_t s)
{
    return s == MODEL_SCALE_LOG1P ? "log1p" : s == MODEL_SCALE_RATIO ? "ratio" : "raw";
}

/* Loads path into *m the way `tapir run` does; on failure says "tapir: WHAT<reason>" and
 * returns -1 (nothing to free). */
static int load(const char *path, struct model *m, const char *what)
{
    char errbuf[TAPIR_ERRBUF_SIZE];
    memset(m, 0, sizeof(*m));
    if (model_load(path, m, errbuf) < 0) {
        fprintf(stderr, "tapir: %s%s\n", what, errbuf);
        return -1;
    }
    return 0;
}

#define CONV_INFO_LINES 24 /* learned conversations listed; the rest counted */

/* The conversation detectors' learned set (docs/conversations.md). */
static void conv_info(const struct model_conv *c)
{
    if (!c->present) {
        printf("\nconversations: none learned (trained with --no-conversations): the "
               "detectors use their floors alone\n");
        return;
    }
    uint32_t n[3] = {0, 0, 0}, svc = 0, listed = 0;
    for (uint32_t i = 0; i < c->n_known; i++) {
        const struct model_conv_known *k = &c->known[i];
        static const struct ip_addr any;
        if (!memcmp(k->src.b, any.b, 16))
            svc++;
        for (int b = 0; b < 3; b++)
            n[b] += (k->kinds >> b) & 1;
    }
    printf("\nconversations: %u learned (%u of them services, any source): %u periodic, %u "
           "login-like, %u bulk; %u hosts with an upload maximum; did not fit: %" PRIu64
           " conversations, %" PRIu64 " hosts (caps %d and %d)\n",
           c->n_known, svc, n[0], n[1], n[2], c->n_hosts, c->known_dropped, c->hosts_dropped,
           MODEL_CONV_MAX_KNOWN, MODEL_CONV_MAX_HOSTS);
    printf("  largest upload episode: %" PRIu64 " bytes to internal peers, %" PRIu64
           " to public ones\n",
           c->up_net[0], c->up_net[1]);
    for (uint32_t i = 0; i < c->n_known && listed < CONV_INFO_LINES; i++) {
        const struct model_conv_known *k = &c->known[i];
        static const struct ip_addr any;
        char src[64], dst[64];
        if (!memcmp(k->src.b, any.b, 16))
            snprintf(src, sizeof(src), "(%u sources)", k->sources);
        else
            ip_addr_str(&k->src, src, sizeof(src));
        ip_addr_str(&k->dst, dst, sizeof(dst));
        printf("  %s -> %s:%u/%s:", src, dst, k->port,
               k->proto == 6    ? "tcp"
               : k->proto == 17 ? "udp"
                                : "ip");
        if (k->kinds & MODEL_CONV_PERIODIC)
            printf(" periodic every %.1f s", k->periodic_s);
        if (k->kinds & MODEL_CONV_LOGIN)
            printf(" login-like every %.1f s", k->login_s);
        if (k->kinds & MODEL_CONV_BULK)
            printf(" bulk up to %.0f bytes", k->bulk_bytes);
        printf("\n");
        listed++;
    }
    if (c->n_known > listed)
        printf("  ... %u more\n", c->n_known - listed);
}

/* The flood counters' section (model format 4): the per-second training maxima and the
 * limits `tapir run` derives from them (analyzer_rate_limits: max(floor, factor x max)). */
static void rate_info(const struct model_rate *r)
{
    static const char *const kinds[RATE_KINDS] = {"unanswered SYN", "UDP", "ICMP", "amplification"};
    struct rate_config floors;
    rate_config_floors(&floors);
    if (!r->present)
        printf("\nrate: none learned (trained without the flood counters): the floors apply\n");
    else
        printf("\nrate: per-second maxima over %u s of training (0: under %g/s, which cannot "
               "raise a limit); limit = max(floor, %gx the maximum), packets/s (a rules file's "
               "rate groups override it per network)\n",
               r->seconds, RATE_FLOOR_SYN_PPS / RATE_LIMIT_FACTOR, RATE_LIMIT_FACTOR);
    printf("  %-16s %12s %12s %12s %12s\n", "kind", "source max", "source limit", "dest max",
           "dest limit");
    for (int k = 0; k < RATE_KINDS; k++) {
        printf("  %-16s", kinds[k]);
        for (int sd = 0; sd < RATE_SIDES; sd++) {
            double mx = r->present ? r->max_pps[sd][k] : 0;
            double lim = RATE_LIMIT_FACTOR * mx;
            if (lim < floors.pps[sd][k])
                lim = floors.pps[sd][k];
            printf(" %12.6g %12.6g", mx, lim);
        }
        printf("\n");
    }
}

static int model_info(const char *path)
{
    struct model m;
    if (load(path, &m, "") < 0)
        return TAPIR_EXIT_USAGE;
    char when[32];
    printf("model %s\ncreated %s\ntrained on %s\n", m.id, tapir_iso8601(m.created_us, when, 32),
           m.trained_on);
    if (m.notes[0])
        printf("small sample: %s\n", m.notes);
    for (uint32_t k = 0; k < m.n_sections; k++) {
        const struct model_section *s = &m.sections[k];
        printf("\nsection %s: %u features, %u trees, %u samples per tree, seed %" PRIu64
               ", threshold %.6f (contamination %g)\n",
               s->name, s->n_features, iforest_n_trees(s->forest), iforest_sample_size(s->forest),
               iforest_seed(s->forest), s->threshold, s->contamination);
        if (s->train_rows)
            printf("  trained on %" PRIu64 " vectors%s", s->train_rows, s->pooled_rows ? "" : "\n");
        if (s->pooled_rows)
            printf(" (%" PRIu64 " of them source vectors, pooled)\n", s->pooled_rows);
        if (s->limit_factor > 0 && s->train_max)
            printf("  learned limits at %gx the training maximum\n", s->limit_factor);
        printf("  %-24s %-7s %12s %12s %12s %12s\n", "feature", "scaling", "train mean", "train sd",
               "train median", "train max");
        for (uint32_t j = 0; j < s->n_features; j++) {
            printf("  %-24s %-7s", s->feature_names[j], scaling_name(s->scaling[j]));
            if (s->train_mean)
                printf(" %12.4g %12.4g %12.4g", s->train_mean[j], s->train_std[j],
                       s->train_median ? s->train_median[j] : NAN);
            if (s->train_max)
                printf(" %12.4g", s->train_max[j]);
            printf("\n");
        }
    }
    conv_info(&m.conv);
    rate_info(&m.rate);
    model_free(&m);
    return TAPIR_EXIT_OK;
}

static int model_reset(const char *path)
{
    struct model m;
    if (load(path, &m, "not removed: ") < 0)
        return TAPIR_EXIT_USAGE;
    model_free(&m);
    if (unlink(path) < 0) {
        fprintf(stderr, "tapir: cannot remove %s: %s\n", path, strerror(errno));
        return TAPIR_EXIT_FAIL;
    }
    printf("removed %s: the next 'tapir run' without a model warms up on its first windows "
           "(or train a new one with 'tapir train')\n",
           path);
    return TAPIR_EXIT_OK;
}

static void features(void)
{
    printf("| side | feature | unit | scaling | learned limit | why |\n");
    printf("|---|---|---|---|---|---|\n");
    for (int side = 0; side < SIDE_COUNT; side++) {
        int n;
        const struct feature_def *d = behaviour_defs((enum feature_side)side, &n);
        for (int i = 0; i < n; i++)
            printf("| %s | `%s` | %s | %s | %s | %s |\n",
                   behaviour_side_name((enum feature_side)side), d[i].name, d[i].unit,
                   scaling_name(d[i].scaling), d[i].limit ? "yes" : "", d[i].why);
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: tapir model info MODEL      show a model (and check it loads)\n"
               "       tapir model reset MODEL     remove a model: the next run warms up afresh\n"
               "       tapir model features        the behaviour features, as a Markdown table\n");
}

int cmd_model(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return TAPIR_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(stdout);
        return TAPIR_EXIT_OK;
    }
    if (!strcmp(argv[1], "features") && argc == 2) {
        features();
        return TAPIR_EXIT_OK;
    }
    if (argc == 3 && !strcmp(argv[1], "info"))
        return model_info(argv[2]);
    if (argc == 3 && !strcmp(argv[1], "reset"))
        return model_reset(argv[2]);
    usage(stderr);
    return TAPIR_EXIT_USAGE;
}

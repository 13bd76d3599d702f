/*
 * conv.h — conversations across windows: (source, destination, destination port,
 * protocol) fed by the windows' flow records, and the beacon, brute-force and
 * exfiltration detectors that read them. Private to analyzer/; the analyzer thread owns
 * a conv_t (tests drive it directly).
 */
#ifndef TAPIR_CONV_H
#define TAPIR_CONV_H

#include <stddef.h>

#include "model.h"
#include "tapir.h"
#include "window.h"

#define CONV_RING 32 /* recent connection starts kept per conversation */

enum conv_kind {
    CONV_BEACON = 0,
    CONV_BRUTEFORCE = 1,
    CONV_EXFIL = 2,
    CONV_TUNNEL = 3, /* data carried in ICMP echo */
    CONV_KINDS
};

/* What a detector found, for the alert's explanation. */
struct conv_finding {
    enum conv_kind kind;
    struct ip_addr src, dst;
    uint16_t port;
    uint8_t proto;
    uint32_t conns;     /* connections started while in the table */
    uint32_t recent;    /* brute force: sessions in its span; beacon: starts in the ring */
    double interval_s;  /* median interval between connection starts, s */
    double regularity;  /* beacon: timing score, 0..1 (1: a metronome) */
    double size_spread; /* MAD / mean of bytes per connection (0: all the same) */
    double dur_s;       /* median duration of the connections that ended, s */
    double span_s;      /* first to last connection start considered, s */
    double bytes_out;   /* exfil: net bytes sent in this episode; else in the table */
    double bytes_in;    /* bytes received, same span */
    double limit;       /* exfil: the bytes it had to pass (floor or learned x factor) */
    double pkt_size;    /* tunnel: mean IP packet size sent, bytes */
    double size_ratio;  /* tunnel: largest / smallest per-record mean packet size */
    bool auth_by_l7;    /* brute force: an authentication protocol by nDPI, not by port */
};

struct conv_stats {
    uint64_t active;     /* conversations in the table */
    uint64_t created;    /* conversations made */
    uint64_t evicted;    /* ended early to make room: table full */
    uint64_t expired;    /* forgotten after the idle time */
    uint64_t untracked;  /* flow records with no entry (probe limit) */
    uint64_t unanswered; /* records of unanswered flows that would have made an entry */
    uint64_t records;    /* flow records read */
    uint64_t findings[CONV_KINDS];
    uint64_t known_quiet;    /* beacons and brute forces not alerted: known from training */
    uint64_t learned_max[2]; /* exfil: largest unflagged upload episode, bytes: [0] to
                                internal (reserved) peers, [1] to public ones */
};

typedef struct conv conv_t;

/* max_entries: fixed table size (16 .. 2^26); ttl_us: idle time after which an entry is
 * forgotten; seed: index hash seed. NULL and errbuf on failure. */
conv_t *conv_create(uint32_t max_entries, uint64_t ttl_us, uint64_t seed, char *errbuf);
void conv_destroy(conv_t *c); /* NULL: no-op */
void conv_set_ttl(conv_t *c, uint64_t ttl_us);
/* Bytes the table holds for max_entries (allocated once at create). */
size_t conv_memory_bytes(uint32_t max_entries);

/* nDPI protocol names, to tell authentication protocols on non-standard ports from the
 * initiator's window L7 counts; NULL: ports only. */
typedef const char *(*conv_l7_name_fn)(void *ctx, uint16_t id);
void conv_set_l7_names(conv_t *c, conv_l7_name_fn fn, void *ctx);

/* One closed window: expire idle entries (as of w->end_us), add w's flow records, then
 * judge each conversation the window touched; fn is called for each new finding (each
 * conversation is reported once per detector, an exfiltration once per episode). */
typedef void (*conv_finding_fn)(void *ctx, const struct conv_finding *f);
void conv_window(conv_t *c, const struct window *w, conv_finding_fn fn, void *ctx);

void conv_get_stats(const conv_t *c, struct conv_stats *st);

/* Learning what is normal (tapir train, a run's warm-up): while on, conv_window reports
 * nothing and keeps, in a set capped at MODEL_CONV_MAX_KNOWN conversations and services
 * and MODEL_CONV_MAX_HOSTS hosts (seeded index; what does not fit is counted), the
 * conversations that were periodic or login-like (with their fastest pace), bulk uploads,
 * and the largest upload episode per source, destination and network. Off: the set, if
 * any, silences what it knows (docs/conversations.md). Returns 0, or -1 out of memory
 * (learning stays off). */
int conv_set_learning(conv_t *c, bool on);
/* Copies the learned set into *out (freed first by the caller's model_free). 0 or -1. */
int conv_learned_export(const conv_t *c, struct model_conv *out);
/* Replaces the learned set with a model's (borrowed: copied). A section that is not
 * present clears it (the detectors then use their floors alone). 0 or -1. */
int conv_learned_import(conv_t *c, const struct model_conv *in);

/* The timing maths (RITA-style), exported for the unit tests. starts: connection start
 * times, s, any order (sorted in place); n >= 3. */
struct conv_timing {
    double median, q1, q3; /* of the intervals, s */
    double bowley;         /* Bowley skewness of the intervals, -1..1 */
    double mad;            /* median absolute deviation of the intervals, s */
    double skew_score;     /* 1 - |bowley| */
    double mad_score;      /* 1 - mad / median, floored at 0 */
    double count_score;    /* starts / (span / median + 1), capped at 1: no big gaps */
    double score;          /* mean of the three */
};
int conv_timing(double *starts, int n, struct conv_timing *t);
/* MAD / mean of x (n >= 1; sorts a copy of at most CONV_RING values); 0 when mean is 0. */
double conv_spread(const double *x, int n);

/* Naming, not detecting: whether src's busiest TCP conversation in w's flow records (the
 * connections that started in the window) has a beacon's timing and sizes, by the beacon
 * rule's tests without its span and window floors (6+ connections, median interval 2 s or
 * more, timing score 0.8, sizes within 0.25, not an authentication or periodic
 * infrastructure port). For an alert another detector already raised: its category.
 * *t gets the timing when true. No allocation; walks w's records once. */
struct flow_index;
bool conv_window_beacon(const struct window *w, struct flow_index *fx, const struct ip_addr *src,
                        struct conv_timing *t);

#endif

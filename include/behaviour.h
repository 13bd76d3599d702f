/*
 * behaviour.h — behaviour vectors from a closed window's raw per-IP counts.
 *
 * Three sides, each with its own named feature list (README table): per source IP, per
 * destination IP, and per source prefix (/24, /64) summed over its IPs. Values come out
 * unscaled (what a user reads in an alert); behaviour_scale() applies the per-feature
 * scaling the model was trained with.
 */
#ifndef TAPIR_BEHAVIOUR_H
#define TAPIR_BEHAVIOUR_H

#include <stdbool.h>

#include "alert.h"
#include "model.h"
#include "window.h"

enum feature_side { SIDE_SOURCE = 0, SIDE_DESTINATION = 1, SIDE_PREFIX = 2, SIDE_COUNT };

#define BEHAVIOUR_MAX_FEATURES 40

struct feature_def {
    const char *name; /* snake_case, as in alerts and the README */
    const char *unit;
    uint8_t scaling; /* enum model_scaling: how the forest sees it */
    uint8_t limit;   /* 1: more than training ever showed is suspicious on its own (the
                        learned-limit rule, detector "limit") */
    double floor;    /* limit features: the limit is never below this, in the feature's own
                        unit (max(LIMIT_FACTOR x training max, floor)): a maximum of ~0 in
                        training teaches nothing. Chosen on benign real traffic
                        (docs/detection.md); 0: none */
    const char *why; /* one line for the README table */
};

/* The feature list of a side; *n gets its length. */
const struct feature_def *behaviour_defs(enum feature_side side, int *n);
const char *behaviour_side_name(enum feature_side side); /* "source", ... */

/* Raw source-side vector of one host (n = behaviour_defs(SIDE_SOURCE) length; the
 * baseline-deviation features are left 0 for the caller to fill). */
void behaviour_source(const struct host_window *h, double *out);
void behaviour_destination(const struct host_window *h, double *out);

/* Adds h's source-side counts into an accumulator record for its prefix. Counts add;
 * sketches merge; timing keeps the sum of the members'. */
void behaviour_prefix_add(struct host_window *acc, const struct host_window *h);

/* Scales a raw vector for the forest (log1p for MODEL_SCALE_LOG1P, identity otherwise) into
 * float32, as the forest trains and scores in float32. */
void behaviour_scale(const double *raw, const uint8_t *scaling, int n, float *out);

/* What a source exchanged in a window, from its flow records (behaviour_exchange). */
struct behaviour_exchange {
    double peers;         /* distinct destinations it exchanged data with: both sides sent
                             3+ packets over TCP, 2+ over UDP (ICMP never) */
    double matched_bytes; /* IP bytes it sent on its answered flows that the other side
                             matched (per flow, the smaller direction): UDP, ICMP, and
                             TCP connections (SYN answered by SYN-ACK; a RST to a SYN
                             is a refusal, not an exchange) */
};
struct flow_index; /* a window's records by initiator (analyzer/flowidx.h); NULL: walk them */
void behaviour_exchange(const struct window *w, struct flow_index *fx, const struct ip_addr *src,
                        struct behaviour_exchange *x);
/* Whether feature i of side has a limit value that needs behaviour_exchange. */
bool behaviour_exchange_feature(enum feature_side side, int i);

/* The value the learned-limit rule compares for feature i of side (raw[i] is the
 * forest's value): raw[i], except for bytes_sent, where only the bytes the IP sent on
 * flows it started count (a server answering its clients is not sending data out), less
 * what those flows got back (x->matched_bytes), and for a source's dst_ips, where the
 * destinations it exchanged data with (x->peers) do not count. x NULL: not known. */
double behaviour_limit_value(enum feature_side side, int i, const struct host_window *h, double raw,
                             const struct behaviour_exchange *x);

/* Index of the first baseline-deviation feature of the source side, and their count:
 * the analyzer fills them from the host's EWMA baseline. */
int behaviour_source_dev_first(int *count);
/* Index of the source feature the analyzer fills from the host's upload accumulator
 * (baseline_upload); behaviour_source() leaves it 0. */
int behaviour_source_upload_index(void);
/* For deviation feature k (0..count-1): which source feature it follows. */
int behaviour_source_dev_base(int k);

/* nDPI's risks: the weighted score of a host's risk classes (the source feature
 * risk_score, at behaviour_source_risk_index()), and the risk detector's rule: true when
 * a flow it started carried a web attack in its URL (SQL injection, XSS, RCE), which
 * raises an alert at once. */
double behaviour_risk_score(const struct host_risk *r);
int behaviour_source_risk_index(void);
bool behaviour_risk_attack(const struct host_window *h);
/* Whether a destination-side vector (unscaled) is the target of a port scan rather than
 * a flood's victim: over 100 SYNs, mostly unanswered, from few source ports. The
 * scanner's own source-side alert reports the scan; the target is not flagged. */
bool behaviour_scan_target(const double *raw, int n);

/* The scan rules (fixed floors, detector `limit`, no model needed): what a source did
 * that no ordinary client does, judged on its window's raw counts. */
enum behaviour_rule {
    BEHAVIOUR_RULE_NONE = 0,
    BEHAVIOUR_RULE_ODD_FLAGS, /* TCP flags no stack sends: NULL/FIN/XMAS scans, nmap -O */
    BEHAVIOUR_RULE_PROBES,    /* TCP connection attempts that carried nothing: small scans */
    BEHAVIOUR_RULE_SPAM,      /* mail ports opened to many servers by a non-mail server */
    BEHAVIOUR_RULE_DOH,       /* DNS-sized TLS to a public resolver's address, no SNI */
};
struct behaviour_rule_hit {
    enum behaviour_rule rule;
    enum alert_category category; /* portscan, hostscan, tunnel, anomaly */
    const char *feature;          /* the count the rule tested, as the alert's first feature */
    double value;                 /* that count */
};
/* The first rule a source's window passes (hit->rule NONE when none); w (may be NULL) is
 * the window, whose flow records the DoH rule reads through fx (may be NULL). */
enum behaviour_rule behaviour_rule_check(const struct host_window *h, const struct window *w,
                                         struct flow_index *fx, struct behaviour_rule_hit *hit);

/* Minimum packets (sent for source, received for destination) for a host to be scored;
 * below it the host is summarised, not scored. */
#define BEHAVIOUR_MIN_PKTS_DEFAULT 5

#endif

/*
 * alert.h — one flagged IP (or prefix) in one window, as every output sees it: SQLite
 * (store.c), the JSON alert log (alert_log.c), the blocklist, webhooks and HTTP.
 */
#ifndef TAPIR_ALERT_H
#define TAPIR_ALERT_H

#include "geo.h"
#include "tapir.h"

#define ALERT_TOP_FEATURES 3

enum alert_side { ALERT_SIDE_SOURCE = 0, ALERT_SIDE_DESTINATION = 1, ALERT_SIDE_PREFIX = 2 };

/* Where the traffic that fired went, against --home-net (issue 11): from the flagged IP
 * and the peers of that traffic, the majority winning. UNKNOWN until set. */
enum alert_direction {
    ALERT_DIRECTION_UNKNOWN = 0,
    ALERT_DIRECTION_INBOUND,  /* from outside the home net into it */
    ALERT_DIRECTION_OUTBOUND, /* from the home net out */
    ALERT_DIRECTION_INTERNAL, /* home net to home net */
    ALERT_DIRECTION_EXTERNAL, /* outside to outside (a transit tap) */
};

/* Which detector raised the alert (docs/detection.md). Adding one is one line here: the
 * enum value and its name (JSON field `detector`, SQLite column, API and CLI filter)
 * both come from this list. */
#define ALERT_DETECTORS(X)                                                                         \
    X(FOREST, "forest")             /* Isolation Forest score over threshold, persistent */        \
    X(LIMIT, "limit")               /* a learned limit passed (LIMIT_FACTOR x training max) */     \
    X(DENYLIST, "denylist")         /* on the rules' denylist, reported whenever scored */         \
    X(CONVERSATION, "conversation") /* conversations across windows (conv.c) */                    \
    X(RISK, "risk")                 /* nDPI saw a web attack in a URL (SQLi, XSS, RCE) */          \
    X(RATE, "rate")                 /* reserved: per-second flood counters */

/* What kind of attack it looks like, chosen by analyzer/category.c's table from what
 * fired (docs/detection.md); ANOMALY when nothing more specific fits. */
#define ALERT_CATEGORIES(X)                                                                        \
    X(ANOMALY, "anomaly")                                                                          \
    X(PORTSCAN, "portscan")                                                                        \
    X(HOSTSCAN, "hostscan")                                                                        \
    X(SYNFLOOD, "synflood")                                                                        \
    X(UDPFLOOD, "udpflood")                                                                        \
    X(ICMPFLOOD, "icmpflood")                                                                      \
    X(AMPLIFICATION, "amplification")                                                              \
    X(BRUTEFORCE, "bruteforce")                                                                    \
    X(BEACON, "beacon")                                                                            \
    X(TUNNEL, "tunnel")                                                                            \
    X(EXFIL, "exfil")                                                                              \
    X(WEBATTACK, "webattack")

#define ALERT_ENUM_DETECTOR_(id, name) ALERT_DETECTOR_##id,
#define ALERT_ENUM_CATEGORY_(id, name) ALERT_CATEGORY_##id,
enum alert_detector { ALERT_DETECTORS(ALERT_ENUM_DETECTOR_) ALERT_DETECTOR_COUNT };
enum alert_category { ALERT_CATEGORIES(ALERT_ENUM_CATEGORY_) ALERT_CATEGORY_COUNT };
#undef ALERT_ENUM_DETECTOR_
#undef ALERT_ENUM_CATEGORY_

struct alert_feature {
    char name[40];       /* feature name, as in the README table */
    double value;        /* its value in this window (unscaled) */
    double baseline;     /* the IP's own baseline (EWMA mean) for it */
    double contribution; /* share of path shortening attributed to it, 0..1 */
};

/* The incident an alert event belongs to, as it stands after the event (analyzer/
 * incident.c): one per (ip or prefix, side, category), opened by its first alert, closed
 * after --incident-quiet windows without one. Carried by value: the outputs keep copies
 * of alerts past the window (output.c), so a pointer into the tracker could change. */
struct alert_incident {
    int64_t id;         /* incident_id, also in struct alert; 0: none */
    uint64_t start_us;  /* window start of its first alert, packet time */
    uint64_t last_us;   /* window end of its latest alert (a rate alert: when raised) */
    uint64_t end_us;    /* when it closed, packet time (the window end that made it
                           quiet enough, or the end of the run); 0 while open */
    uint32_t windows;   /* windows with at least one alert of it */
    uint32_t alerts;    /* alerts it took in, emitted as events or merged */
    uint32_t detectors; /* bit (1u << enum alert_detector) for each detector that fired */
    int severity;       /* the most severe (lowest) of its alerts', 1..3 */
    double peak_score;  /* highest score of its alerts */
    enum alert_direction direction; /* of its first alert with a known direction */
};

struct alert {
    int64_t id;             /* set by store_add_alert */
    uint64_t timestamp_us;  /* when raised: window end, packet time */
    const char *event_type; /* incident life cycle: "alert" (opened), "update", "end" */
    int64_t incident_id;    /* the (ip, side, category) incident it belongs to, 0: none yet */
    enum alert_direction direction;
    int severity;    /* 1 most severe .. 3 (as Suricata); 0: not set yet */
    char sensor[64]; /* --sensor NAME or the host name; "" not set */
    enum alert_detector detector;
    enum alert_category category;
    struct ip_addr ip;  /* the IP, or the prefix's first address */
    uint8_t prefix_len; /* in the 128-bit form: 128 for an IP, 120 for a v4 /24 */
    enum alert_side side;
    double score;     /* Isolation Forest score, (0,1] */
    double threshold; /* score at or above which the side is flagged */
    uint64_t window_start_us;
    uint64_t window_end_us;
    int n_top; /* used entries of top[] */
    struct alert_feature top[ALERT_TOP_FEATURES];
    struct geo_info geo;
    char l7[96];       /* top L7 protocols, comma-separated, e.g. "TLS,DNS" */
    char risks[192];   /* nDPI risks seen when risk_score is a top feature, comma-separated
                          "name (severity)", e.g. "SQL Injection (Severe)"; "" none */
    char model_id[40]; /* model that scored it */
    /* The full behaviour vector (unscaled) for the flagged-windows table; borrowed. */
    int n_features;
    const double *features;
    const char *const *feature_names;
    struct alert_incident incident; /* the incident after this event (zero: none) */
};

/* The JSON format's version (field "format" of every alert object; README, "Alert JSON"):
 * 2 since incidents (event_type alert|update|end, incident_id, direction, severity,
 * sensor, incident). Objects without the field are format 1. */
#define ALERT_JSON_FORMAT 2

const char *alert_side_name(enum alert_side s);           /* "source", "destination", "prefix" */
const char *alert_detector_name(enum alert_detector d);   /* "forest", "limit", ... */
const char *alert_category_name(enum alert_category c);   /* "portscan", ... "anomaly" */
const char *alert_direction_name(enum alert_direction d); /* "inbound", ... "unknown" */
/* The enum for a name (exact, lower case); -1 when unknown. */
int alert_detector_parse(const char *name);
int alert_category_parse(const char *name);
/* "forest, limit, ..." / "anomaly, portscan, ...": for usage and error messages. */
const char *alert_detector_list(void);
/* "forest,limit": the names of the detectors whose bits (1u << enum alert_detector) are
 * set in mask, in enum order, comma-separated ("" for none). Returns buf. */
const char *alert_detectors_str(uint32_t mask, char *buf, size_t len);
const char *alert_category_list(void);

#endif

/*
 * category.h — the table that names the kind of attack an alert looks like
 * (analyzer/category.c; docs/detection.md holds the same table in words). Analyzer
 * thread only; the table itself is constant.
 */
#ifndef TAPIR_CATEGORY_H
#define TAPIR_CATEGORY_H

#include "alert.h"

#define CATEGORY_SIDE_SOURCE      (1u << ALERT_SIDE_SOURCE)
#define CATEGORY_SIDE_DESTINATION (1u << ALERT_SIDE_DESTINATION)
#define CATEGORY_SIDE_PREFIX      (1u << ALERT_SIDE_PREFIX)
#define CATEGORY_MAX_CONDS        8

/* raw[feature] >= value (op '>') or < value (op '<'); with per, value is multiplied
 * by raw[per] first ("syn_in >= 0.5 x pkts_recv"). A feature the vector does not have
 * (a prefix has no upload_public_acc) makes the condition false. */
struct category_cond {
    const char *feature;
    char op;         /* '>' for >=, '<' for < */
    double value;    /* in the feature's unit (README table), or a factor with per */
    const char *per; /* NULL, or the feature value is a factor of */
};

struct category_rule {
    unsigned sides;               /* CATEGORY_SIDE_* bits */
    const char *fired;            /* "a|b|c": the top feature being tried is one of these */
    enum alert_category category; /* given when every condition holds */
    struct category_cond cond[CATEGORY_MAX_CONDS]; /* up to the first with feature NULL */
};

/* The table, in the order it is tried. */
const struct category_rule *category_rules(int *n);

/* The category of an alert from what fired: al->side, al->top (strongest first) and the
 * raw vector (al->features named by al->feature_names). Each top feature in turn is
 * tried against the rows in order; the first row that names it for this side and whose
 * conditions all hold gives the category; ANOMALY when none does. Borrows al. */
enum alert_category category_of(const struct alert *al);

/* Severity by category (analyzer/category.c's second table, docs/detection.md). */
enum category_ours {
    CATEGORY_OURS_RECEIVER, /* the home net is hurt when it receives (a victim) */
    CATEGORY_OURS_SENDER,   /* ... when it sends (a home host exfiltrating, beaconing) */
};
struct category_severity {
    enum alert_category category;
    enum category_ours ours;
    int sev_ours;  /* 1..3 when the home net is the hurt side (or the direction unknown) */
    int sev_other; /* 1..3 otherwise (an attack on someone else, seen in transit) */
};
const struct category_severity *category_severities(int *n);
/* The severity of an alert, 1 (most severe) .. 3: the table's row for c, by whether the
 * direction puts the home net on the hurt side; an anomaly by any detector but the
 * forest (a learned limit, the denylist, a rate) is 2. */
int category_severity(enum alert_category c, enum alert_detector d, enum alert_direction dir);

#endif

/*
 * json.h — the alert's JSON form, one object for every sink (docs/schema.md "Alert
 * log"): the alert log writes it as a line, the store keeps its top_features, the HTTP
 * API and `tapir alerts --json` return it. Pure functions of their arguments; any
 * thread may call them.
 */
#ifndef TAPIR_JSON_H
#define TAPIR_JSON_H

#include <jansson.h>
#include <stddef.h>

#include "alert.h"

/* The alert as the log's JSON object (compact, one line, no trailing newline); malloc'd,
 * the caller frees. NULL only when out of memory. For webhooks and the HTTP API. */
char *alert_to_json(const struct alert *a);
/* The same object as a jansson value (new reference). */
json_t *alert_to_json_obj(const struct alert *a);

/* The parts, for sinks that store them apart (store_write.c, store_query.c). */
/* A JSON string from bytes that may be hostile: invalid UTF-8 sequences become U+FFFD;
 * at most maxlen input bytes are read (stops at NUL). Never NULL unless out of memory. */
json_t *alert_json_string(const char *s, size_t maxlen);
/* A JSON number, or null for NaN / infinity (JSON has neither). */
json_t *alert_json_real(double v);
/* A measured value at the precision it means, or null: whole numbers exactly, a value
 * that is a float (a baseline mean kept in single precision) as the float's shortest
 * form (1.2, not 1.20000004768372), anything else to 6 significant digits (a score
 * 0.987245, an estimate 430.197). For scores, thresholds and top features. */
json_t *alert_json_value(double v);
/* "192.0.2.7", or "198.51.100.0/24" for a prefix. buf needs 50 bytes. Returns buf. */
const char *alert_ip_str(const struct alert *a, char *buf, size_t len);
/* The top_features array [{name, value, baseline, contribution}, ...]. */
json_t *alert_top_features_json(const struct alert *a);
/* The incident object of an event (start, last_seen, end, duration_s, windows, alerts,
 * peak_score, detectors), from a->incident. */
json_t *alert_incident_json(const struct alert *a);
/* The l7 comma list as an array of names (empty entries skipped). */
json_t *alert_l7_json(const char *l7, size_t maxlen);

/* Number format used for every real in Tapir's JSON: 15 significant digits prints 0.73 as
 * 0.73 (not 0.72999999999999998) and keeps every integer count below 10^15 exact. */
#define ALERT_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

#endif

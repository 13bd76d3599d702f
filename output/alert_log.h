/*
 * alert_log.h — the JSON alert log: one JSON object per line per alert (DESIGN.md,
 * docs/schema.md "Alert log"), appended with one write() per line so that concurrent
 * readers (tail -f, a log shipper) never see half a line.
 *
 * An alert_log_t belongs to the analyzer thread; its functions are not thread-safe.
 */
#ifndef TAPIR_ALERT_LOG_H
#define TAPIR_ALERT_LOG_H

#include <jansson.h>
#include <stdint.h>

#include "alert.h"

typedef struct alert_log alert_log_t;

/* Opens (creates, mode 0640) path for appending. Returns NULL and fills errbuf
 * ("cannot open alert log /x/alerts.json: Permission denied") when it cannot. */
alert_log_t *alert_log_open(const char *path, char *errbuf);
/* Writes one line. Returns 0, or -1 on a failed or short write (counted; see
 * alert_log_errmsg). Never retries a short write: a partial line is better ended by the
 * next write's own line than doubled. */
int alert_log_write(alert_log_t *l, const struct alert *a);
/* Opens the path again and switches to it (after logrotate moved the file, on SIGHUP).
 * On failure keeps writing to the old file and returns -1. */
int alert_log_reopen(alert_log_t *l);
void alert_log_close(alert_log_t *l); /* NULL is a no-op */
/* Lines written, and write/reopen errors, since open. */
void alert_log_counters(const alert_log_t *l, uint64_t *lines, uint64_t *errors);
/* The last error as a sentence. */
const char *alert_log_errmsg(const alert_log_t *l);

/* The alert as the log's JSON object (compact, one line, no trailing newline); malloc'd,
 * the caller frees. NULL only when out of memory. For webhooks and the HTTP API. */
char *alert_to_json(const struct alert *a);
/* The same object as a jansson value (new reference). */
json_t *alert_to_json_obj(const struct alert *a);

/* Helpers shared with store.c. */
/* A JSON string from bytes that may be hostile: invalid UTF-8 sequences become U+FFFD;
 * at most maxlen input bytes are read (stops at NUL). Never NULL unless out of memory. */
json_t *alert_json_string(const char *s, size_t maxlen);
/* A JSON number, or null for NaN / infinity (JSON has neither). */
json_t *alert_json_real(double v);
/* "192.0.2.7", or "198.51.100.0/24" for a prefix. buf needs 50 bytes. Returns buf. */
const char *alert_ip_str(const struct alert *a, char *buf, size_t len);
/* The top_features array [{name, value, baseline, contribution}, ...]. */
json_t *alert_top_features_json(const struct alert *a);
/* The l7 comma list as an array of names (empty entries skipped). */
json_t *alert_l7_json(const char *l7, size_t maxlen);

/* Number format used for every real in Tapir's JSON: 15 significant digits prints 0.73 as
 * 0.73 (not 0.72999999999999998) and keeps every integer count below 10^15 exact. */
#define ALERT_JSON_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(15))

#endif

/*
 * alert_log.h — the JSON alert log: one JSON object per line per alert (DESIGN.md,
 * docs/schema.md "Alert log"), appended with one write() per line so that concurrent
 * readers (tail -f, a log shipper) never see half a line.
 *
 * An alert_log_t belongs to the analyzer thread; its functions are not thread-safe.
 */
#ifndef TAPIR_ALERT_LOG_H
#define TAPIR_ALERT_LOG_H

#include <stdint.h>

#include "alert.h"
#include "json.h" /* the line's object: alert_to_json() */

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

#endif

/*
 * notify_int.h — the notification sink's parts (private to output/): a bounded queue
 * with its worker thread (notify_queue.c), and the transports it drives: webhook
 * (notify_webhook.c), email (notify_smtp.c), command hook (notify_exec.c) and syslog
 * (notify_syslog.c). sink_notify.c puts them together (docs/notifications.md).
 *
 * A transport is a send function called on its queue's worker thread only, so a
 * transport's state needs no lock: the analyzer thread touches it only in create and
 * (after the worker joined) destroy.
 */
#ifndef TAPIR_NOTIFY_INT_H
#define TAPIR_NOTIFY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "alert.h"
#include "curl_dl.h"
#include "output.h"

/* What happened to the incident: the command hook's first argument. */
enum notify_action { NOTIFY_ALERT = 0, NOTIFY_END, NOTIFY_BAN, NOTIFY_UNBAN, NOTIFY_ACTION_COUNT };
const char *notify_action_name(enum notify_action a); /* "alert", "end", "ban", "unban" */

/* One notification: what happened and a copy of the incident's alert (al.features,
 * al.feature_names NULL; al.event_type a literal: "alert" or "end"). */
struct notify_job {
    enum notify_action action;
    struct alert al;
};

/* What a send did. */
enum notify_result {
    NOTIFY_SENT = 0,   /* delivered */
    NOTIFY_HELD = 1,   /* kept for later (the email digest); its tick reports it */
    NOTIFY_RETRY = -1, /* failed; worth another attempt (timeout, 5xx, refused) */
    NOTIFY_FAILED = -2 /* failed for good (4xx, a hook that timed out) */
};

struct notify_transport {
    const char *name; /* "webhook", "email", "exec", "syslog": the metrics' label */
    void *ctx;
    /* On the worker: sends j; on failure writes a sentence into err (errlen bytes). */
    enum notify_result (*send)(void *ctx, const struct notify_job *j, char *err, size_t errlen);
    /* On the worker, about once a second and once more at exit (final): sends what
     * send held and adds how many of those notifications went out or failed. May be NULL. */
    void (*tick)(void *ctx, bool final, uint64_t *sent, uint64_t *failed, char *err, size_t errlen);
    void (*destroy)(void *ctx); /* after the worker joined; may be NULL */
};

/* Every notification offered to a queue ends in exactly one of sent, failed or
 * dropped, so offered = sent + failed + dropped + queued at any time. */
struct notify_stats {
    uint64_t sent;    /* delivered */
    uint64_t failed;  /* given up after the attempts */
    uint64_t dropped; /* queue full, or still queued when the exit drain ran out of time */
    uint64_t retries; /* attempts after a first failure */
    uint64_t queued;  /* waiting now */
};

typedef struct notify_queue notify_queue_t;

#define NOTIFY_DRAIN_US   5000000 /* at exit, queued notifications get this long (then dropped) */
#define NOTIFY_BACKOFF_US 1000000 /* first retry after 1 s, doubling, at most 30 s */

/* Takes t (its ctx is destroyed with the queue, or here on failure); capacity
 * notifications of room; attempts >= 1 sends per notification. Starts the worker (which
 * blocks every signal). NULL and errbuf on failure. Called on the analyzer's side. */
notify_queue_t *notify_queue_create(const struct notify_transport *t, uint32_t capacity,
                                    uint32_t attempts, char *errbuf);
/* Copies a into the queue and wakes the worker; never waits for it. 0, or -1 when the
 * queue is full (counted as dropped; logged at most once every 10 s). Any thread. */
int notify_queue_push(notify_queue_t *q, enum notify_action action, const struct alert *a);
void notify_queue_stats(notify_queue_t *q, struct notify_stats *s); /* any thread */
const char *notify_queue_name(const notify_queue_t *q);
/* Stops the worker: what is queued gets NOTIFY_DRAIN_US (no retries), the rest is
 * dropped; then joins it, destroys the transport and fills *last (if not NULL) with the
 * final counts. NULL is a no-op. */
void notify_queue_destroy(notify_queue_t *q, struct notify_stats *last);

/* The transports' constructors: fill *t and return 1; 0 when not configured; -1 with
 * errbuf (a sentence) when the settings are wrong. On the analyzer's side, before the
 * analyzer thread starts. */
int notify_webhook_create(const struct output_config *c, struct notify_transport *t, char *errbuf);
int notify_smtp_create(const struct output_config *c, struct notify_transport *t, char *errbuf);
int notify_exec_create(const struct output_config *c, struct notify_transport *t, char *errbuf);
int notify_syslog_create(const struct output_config *c, struct notify_transport *t, char *errbuf);

/* Reads a secret (a token, "user:password") from path into buf (len bytes), first line,
 * trailing white space cut. Refuses, with errbuf naming the option: anything but a
 * regular file (a directory, a FIFO: opened without blocking), a file other users may
 * read or write, an empty or longer secret. 0 or -1. */
int notify_read_secret(const char *path, const char *option, char *buf, size_t len, char *errbuf);

/* Text helpers (sink_notify.c), any thread. */
/* "pkts_sent 4512 (baseline 3.2), ..." (sep between entries); "" when none. */
void notify_format_why(const struct alert *a, const char *sep, char *buf, size_t len);
/* A real at the precision it means: 4512, 0.731, 1.2 (not 1.20000004768372). */
void notify_format_real(double v, char *buf, size_t len);

#endif

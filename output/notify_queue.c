/*
 * notify_queue.c — one bounded queue and one worker thread per notification transport,
 * so a slow mail server, a hung webhook or a hook script never holds up the analyzer
 * (and through its window queue, the capture): the analyzer's side only copies the
 * alert into a preallocated ring under a mutex held for that copy (~1 KiB); when the
 * ring is full the notification is dropped and counted, never waited for.
 *
 * The worker sends one notification at a time, in order, retrying a failure after 1 s,
 * 2 s, 4 s ... (at most 30 s) up to the configured attempts; meanwhile the ring fills
 * and what does not fit is dropped: under a storm the newest notifications are lost, not
 * the oldest, which is what an operator reading mail in order expects. At exit what is
 * queued gets NOTIFY_DRAIN_US, one attempt each, so SIGTERM is never held up for long.
 *
 * Rejected: a thread per notification (unbounded threads under a storm, and hook
 * scripts racing each other's ban and unban); one shared queue for all transports (a
 * dead webhook would starve the syslog lines); libcurl's multi interface on the
 * analyzer's libevent loop (no thread, but the exec hook and syslog(3) block anyway, and
 * the SMTP exchange would be a state machine of our own to get right).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "notify_int.h"
#include "timeutil.h"

#define LOG_EVERY_US   10000000 /* drop and failure messages: at most one per 10 s */
#define BACKOFF_MAX_US 30000000
#define TICK_US        1000000

struct notify_queue {
    struct notify_transport t;
    uint32_t attempts; /* sends per notification, >= 1 */
    pthread_t thread;
    bool started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* Under mu. */
    struct notify_job *ring; /* capacity slots */
    uint32_t capacity, head, count;
    bool stop;
    uint64_t drain_until_us; /* monotonic: set by destroy */
    struct notify_stats st;
    uint64_t drop_logged_us; /* monotonic, the last drop message */
    uint64_t drop_logged_n;  /* drops at that message */
    uint64_t fail_logged_us; /* worker only */
};

static const char *const action_names[NOTIFY_ACTION_COUNT] = {"alert", "end", "ban", "unban"};

const char *notify_action_name(enum notify_action a)
{
    return (unsigned)a < NOTIFY_ACTION_COUNT ? action_names[a] : "alert";
}

const char *notify_queue_name(const notify_queue_t *q)
{
    return q->t.name;
}

/* Waits on the queue's condition until abs_us (CLOCK_MONOTONIC) at most; mu held. */
static void wait_until(notify_queue_t *q, uint64_t abs_us)
{
    struct timespec ts = {(time_t)(abs_us / 1000000), (long)(abs_us % 1000000) * 1000};
    pthread_cond_timedwait(&q->cv, &q->mu, &ts);
}

static void log_failure(notify_queue_t *q, const char *err, uint32_t tried)
{
    uint64_t now = tapir_monotonic_us();
    if (q->fail_logged_us && now - q->fail_logged_us < LOG_EVERY_US)
        return;
    q->fail_logged_us = now;
    pthread_mutex_lock(&q->mu);
    uint64_t failed = q->st.failed;
    pthread_mutex_unlock(&q->mu);
    log_error("notify: %s: %s (gave up after %u attempt%s; %llu failed so far)", q->t.name,
              err[0] ? err : "failed", (unsigned)tried, tried == 1 ? "" : "s",
              (unsigned long long)failed);
}

static void run_tick(notify_queue_t *q, bool final)
{
    if (!q->t.tick)
        return;
    uint64_t sent = 0, failed = 0;
    char err[256] = "";
    q->t.tick(q->t.ctx, final, &sent, &failed, err, sizeof(err));
    pthread_mutex_lock(&q->mu);
    q->st.sent += sent;
    q->st.failed += failed;
    pthread_mutex_unlock(&q->mu);
    if (failed)
        log_failure(q, err, 1);
}

/* Sends one job with its retries; returns with mu unlocked. */
static void deliver(notify_queue_t *q, const struct notify_job *j)
{
    char err[256] = "";
    enum notify_result r = NOTIFY_FAILED;
    uint32_t tried = 0;
    uint64_t backoff = NOTIFY_BACKOFF_US;
    for (;;) {
        err[0] = '\0';
        r = q->t.send(q->t.ctx, j, err, sizeof(err));
        tried++;
        if (r != NOTIFY_RETRY || tried >= q->attempts)
            break;
        pthread_mutex_lock(&q->mu);
        bool stopping = q->stop;
        if (!stopping) {
            q->st.retries++;
            /* The wait ends early at every push (the same condition): wait again until
             * the backoff is over, or the queue stops. */
            uint64_t until = tapir_monotonic_us() + backoff;
            while (!q->stop && tapir_monotonic_us() < until)
                wait_until(q, until);
            stopping = q->stop;
        }
        pthread_mutex_unlock(&q->mu);
        if (stopping) /* at exit: one attempt each, no more */
            break;
        backoff = backoff * 2 > BACKOFF_MAX_US ? BACKOFF_MAX_US : backoff * 2;
    }
    pthread_mutex_lock(&q->mu);
    if (r == NOTIFY_SENT)
        q->st.sent++;
    else if (r != NOTIFY_HELD)
        q->st.failed++;
    pthread_mutex_unlock(&q->mu);
    if (r == NOTIFY_RETRY || r == NOTIFY_FAILED)
        log_failure(q, err, tried);
}

static void *worker(void *arg)
{
    /* Capabilities are per thread: a hook spawned from here, or a reply parsed here, must
     * not hold the unit's CAP_NET_RAW / CAP_NET_ADMIN (as the DPI and analyzer threads). */
    tapir_drop_capabilities();
    notify_queue_t *q = arg;
    struct notify_job *j = malloc(sizeof(*j));
    uint64_t last_tick = tapir_monotonic_us();
    pthread_mutex_lock(&q->mu);
    for (;;) {
        uint64_t now = tapir_monotonic_us();
        if (now - last_tick >= TICK_US) {
            pthread_mutex_unlock(&q->mu);
            run_tick(q, false);
            last_tick = tapir_monotonic_us();
            pthread_mutex_lock(&q->mu);
            continue;
        }
        if (q->count == 0) {
            if (q->stop)
                break;
            wait_until(q, last_tick + TICK_US);
            continue;
        }
        if (!j || (q->stop && now > q->drain_until_us)) {
            q->st.dropped += q->count; /* out of time (or memory): counted, not sent */
            q->st.queued = q->count = 0;
            break;
        }
        memcpy(j, &q->ring[q->head], sizeof(*j));
        q->head = (q->head + 1) % q->capacity;
        q->st.queued = --q->count;
        pthread_mutex_unlock(&q->mu);
        deliver(q, j);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    run_tick(q, true);
    free(j);
    return NULL;
}

notify_queue_t *notify_queue_create(const struct notify_transport *t, uint32_t capacity,
                                    uint32_t attempts, char *errbuf)
{
    notify_queue_t *q = calloc(1, sizeof(*q));
    if (!q || !(q->ring = calloc(capacity ? capacity : 1, sizeof(*q->ring)))) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "out of memory: a %s queue of %u notifications",
                 t->name, (unsigned)capacity);
        free(q);
        if (t->destroy)
            t->destroy(t->ctx);
        return NULL;
    }
    q->t = *t;
    q->capacity = capacity ? capacity : 1;
    q->attempts = attempts ? attempts : 1;
    pthread_mutex_init(&q->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cv, &ca);
    pthread_condattr_destroy(&ca);
    /* The worker takes no signal: SIGTERM, SIGHUP and SIGINT stay with the threads that
     * handle them, and a hook's closed stdin is an EPIPE, not a SIGPIPE. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int e = pthread_create(&q->thread, NULL, worker, q);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (e) {
        snprintf(errbuf, TAPIR_ERRBUF_SIZE, "cannot start the %s notification thread: %s", t->name,
                 strerror(e));
        notify_queue_destroy(q, NULL);
        return NULL;
    }
    q->started = true;
    return q;
}

int notify_queue_push(notify_queue_t *q, enum notify_action action, const struct alert *a)
{
    pthread_mutex_lock(&q->mu);
    if (q->count >= q->capacity || q->stop) {
        uint64_t dropped = ++q->st.dropped;
        uint64_t now = tapir_monotonic_us();
        bool say = !q->drop_logged_us || now - q->drop_logged_us >= LOG_EVERY_US;
        uint64_t since = dropped - q->drop_logged_n;
        if (say) {
            q->drop_logged_us = now;
            q->drop_logged_n = dropped;
        }
        pthread_mutex_unlock(&q->mu);
        if (say)
            log_warn("notify: %s: queue full (%u waiting): %llu notification%s dropped "
                     "(%llu in all)",
                     q->t.name, (unsigned)q->capacity, (unsigned long long)since,
                     since == 1 ? "" : "s", (unsigned long long)dropped);
        return -1;
    }
    struct notify_job *j = &q->ring[(q->head + q->count) % q->capacity];
    j->action = action;
    j->al = *a;
    j->al.features = NULL;
    j->al.feature_names = NULL;
    j->al.n_features = 0;
    j->al.event_type = notify_action_name(action); /* alert, end, ban or unban */
    q->st.queued = ++q->count;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
    return 0;
}

void notify_queue_stats(notify_queue_t *q, struct notify_stats *s)
{
    pthread_mutex_lock(&q->mu);
    *s = q->st;
    pthread_mutex_unlock(&q->mu);
}

void notify_queue_destroy(notify_queue_t *q, struct notify_stats *last)
{
    if (!q)
        return;
    if (q->started) {
        pthread_mutex_lock(&q->mu);
        q->stop = true;
        q->drain_until_us = tapir_monotonic_us() + NOTIFY_DRAIN_US;
        pthread_cond_broadcast(&q->cv);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->thread, NULL);
    }
    if (last)
        *last = q->st;
    if (q->t.destroy)
        q->t.destroy(q->t.ctx);
    pthread_cond_destroy(&q->cv);
    pthread_mutex_destroy(&q->mu);
    free(q->ring);
    free(q);
}

/*
 * http_conn.c — the HTTP server's connections: a cap on how many are open, a total
 * deadline for each request's headers and body, and accept errors that neither spin nor
 * flood the log (http_int.h).
 *
 * evhttp (libevent 2.1) restarts its timeout on every byte read, so a client sending one
 * byte every 5 s keeps a connection forever, and it accepts until accept() fails: with
 * 64 descriptors and 100 such clients, accept() failed with EMFILE, libevent logged
 * "Error from accept() call" and went straight back to the still-readable listener (a
 * core busy, 9.45 M log lines in 35 s, /health unanswered). Here:
 *
 * - Each connection gets a slot in a fixed table (HTTP_CONN_SLACK more than the cap),
 *   taken in evhttp's bufferevent callback at accept. On the next turn of the loop the
 *   slot attaches: the bufferevent's callback argument is evhttp's connection, and its
 *   close callback (which libevent 2.1 calls on every path that frees an accepted
 *   connection) gives the slot back. A reference held from accept to attach keeps the
 *   bufferevent valid even if evhttp dropped the connection in between.
 * - A request's headers and body must arrive within HTTP_REQUEST_DEADLINE_S of the
 *   accept (of the previous answer on a kept-alive connection): a timer per slot,
 *   stopped when the request callback sees the request whole, frees the connection
 *   through evhttp_connection_free when it fires.
 * - Over the cap (the descriptor limit less those open at start, a reserve and the
 *   slack), the oldest connection still sending its request is closed: a slow client
 *   loses its place to a new one, so /health gets through while slow clients come and
 *   go. When every slot is taken, accept pauses until one is freed. With 64 descriptors
 *   and 120 clients reconnecting every 2 s: /health in under 50 ms, 0.3% of a core.
 * - An accept error (EMFILE when something else took the descriptors, or when closed
 *   connections' descriptors are not yet released: libevent closes them a turn later)
 *   pauses accept for HTTP_ACCEPT_PAUSE_MS or until a connection closes, evicts the
 *   oldest slow client, and logs one line per HTTP_ACCEPT_LOG_S with the count.
 *
 * - Answers (issue 12's review): evhttp builds each answer whole (at most ~3 MiB:
 *   /api/alerts?limit=1000) and holds what the client has not taken, restarting its
 *   write timeout on every byte, so a client that reads one byte every few seconds, or
 *   a thousand clients that never read, kept those answers (up to the cap x 3 MiB) and
 *   their slots for ever. Now an answer must be taken whole within
 *   HTTP_WRITE_DEADLINE_S of its request, the connection is closed (counted) otherwise;
 *   all connections together hold at most HTTP_OUTPUT_BUDGET of answers waiting: before
 *   a new answer is made, the oldest connections still holding one are closed until the
 *   rest fits (counted); and over the cap a slow reader is evicted like a slow sender
 *   (after them). The kernel's share is fixed too: SO_SNDBUF HTTP_SNDBUF_BYTES (64 KiB,
 *   128 KiB once Linux doubles it) instead of autotuning up to tcp_wmem's 4 MiB, enough
 *   for 2.6 MB/s at 50 ms of round trip. A client that never reads costs its answer for
 *   60 s at most, and all of them together 32 MiB plus the answer being made.
 *
 * Rejected: pausing accept alone when full (slow clients refill every freed place
 * before a /health probe reaches the head of the backlog, so it waits for deadlines:
 * 10 s, not 1 s); answers produced in chunks as the client takes them (evhttp's
 * chunked replies): each endpoint would need a cursor kept across turns of the loop,
 * and a SQLite read held open by a slow client blocks the WAL's checkpoints; a
 * pass-through filter bufferevent, whose free callback would say when
 * a connection goes (it lost answers: evhttp frees the connection once the filter has
 * passed the bytes on, before the socket has sent them); our own evconnlistener (2.1
 * has no public way to hand an accepted socket to evhttp).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <dirent.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "http_int.h"
#include "log.h"
#include "output.h"
#include "ilist.h"
#include "timeutil.h"

#define CONN_NIL ILIST_NIL

struct http_conn {
    struct http_conns *set;
    struct bufferevent *bev;         /* the socket's; evhttp's once attached */
    struct evhttp_connection *evcon; /* NULL until attached */
    struct event *deadline; /* attaches (made active at accept), then the request deadline */
    struct ilist_link link; /* accept order, oldest first; free list through link.next */
    bool used;
    bool reading; /* a request is being received: the deadline runs */
    bool writing; /* its answer is being made or sent: the write deadline runs */
};

struct http_conns {
    struct event_base *base;         /* borrowed */
    struct evconnlistener *listener; /* evhttp's; NULL once destroyed */
    struct event *resume;            /* re-enables accept after a pause */
    struct http_conn *c;             /* slots entries */
    uint32_t cap;                    /* open connections allowed */
    uint32_t slots;                  /* cap + HTTP_CONN_SLACK */
    uint32_t live;                   /* slots in use */
    uint32_t free_head;
    struct ilist order;      /* the slots in use, oldest first */
    int deadline_s;          /* HTTP_REQUEST_DEADLINE_S unless a test set it */
    int write_deadline_s;    /* HTTP_WRITE_DEADLINE_S unless set */
    size_t output_budget;    /* bytes, HTTP_OUTPUT_BUDGET unless set */
    uint64_t write_timeouts; /* closed at the write deadline */
    uint64_t output_evicted; /* closed to keep the answers waiting within the budget */
    bool paused;             /* accept disabled */
    uint64_t accepted;       /* connections */
    uint64_t evicted;        /* closed to make room for a new one */
    uint64_t timed_out;      /* closed at the request deadline */
    uint64_t accept_errors;  /* accept() failures */
    uint64_t untracked;      /* connections accepted without a slot (never expected) */
    uint64_t log_last_us;    /* monotonic, when an accept error was last logged */
    uint64_t log_suppressed; /* accept errors since that line */
};

/* ---- which server an accept error belongs to ---------------------------------------- */

/* libevent calls a listener's error callback with the listener's own argument, which
 * evhttp set to its struct evhttp; this maps it back. Set-up and tear-down lock; a
 * lookup happens only on an accept error. */
#define CONN_REGISTRY 16
static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    const struct evhttp *evh;
    http_conns_t *set;
} registry[CONN_REGISTRY];

static int registry_add(const struct evhttp *evh, http_conns_t *set)
{
    int rc = -1;
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < CONN_REGISTRY && rc < 0; i++) {
        if (!registry[i].evh) {
            registry[i].evh = evh;
            registry[i].set = set;
            rc = 0;
        }
    }
    pthread_mutex_unlock(&registry_lock);
    return rc;
}

static void registry_remove(const http_conns_t *set)
{
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < CONN_REGISTRY; i++)
        if (registry[i].set == set)
            registry[i].evh = NULL, registry[i].set = NULL;
    pthread_mutex_unlock(&registry_lock);
}

static http_conns_t *registry_find(const void *evh)
{
    http_conns_t *set = NULL;
    pthread_mutex_lock(&registry_lock);
    for (int i = 0; i < CONN_REGISTRY && !set; i++)
        if (registry[i].evh == evh)
            set = registry[i].set;
    pthread_mutex_unlock(&registry_lock);
    return set;
}

/* ---- the table --------------------------------------------------------------------- */

/* Descriptors open now, from /proc/self/fd; -1 when it cannot be read. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

uint32_t http_conns_default_cap(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
        return HTTP_MAX_CONNECTIONS;
    int used = open_fds();
    if (used < 0)
        used = HTTP_FD_RESERVE;
    long long room = (long long)rl.rlim_cur - used - HTTP_FD_RESERVE - HTTP_CONN_SLACK;
    if (room < HTTP_MIN_CONNECTIONS)
        return HTTP_MIN_CONNECTIONS;
    return room > HTTP_MAX_CONNECTIONS ? HTTP_MAX_CONNECTIONS : (uint32_t)room;
}

static void pause_accept(http_conns_t *s, int ms)
{
    if (!s->listener)
        return;
    if (!s->paused) {
        evconnlistener_disable(s->listener);
        s->paused = true;
    }
    if (ms > 0) {
        struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
        event_add(s->resume, &tv);
    }
}

static void resume_accept(http_conns_t *s)
{
    if (!s->paused || !s->listener || s->live >= s->slots)
        return;
    event_del(s->resume);
    evconnlistener_enable(s->listener);
    s->paused = false;
}

static void on_resume(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    resume_accept(arg);
}

/* Closes slot i's connection through evhttp (on_close gives the slot back). */
static void conn_close(http_conns_t *s, uint32_t i)
{
    struct http_conn *c = &s->c[i];
    if (c->evcon)
        evhttp_connection_free(c->evcon);
}

/* Bytes of slot i's answer its client has not taken yet (0: none being sent). */
static size_t pending_out(const http_conns_t *s, uint32_t i)
{
    const struct http_conn *c = &s->c[i];
    if (!c->writing || !c->evcon || !c->bev)
        return 0;
    return evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* Closes the oldest connection still sending its request, else the oldest one whose
 * client is not taking its answer. Returns false if there is none. */
static bool evict_oldest(http_conns_t *s)
{
    for (uint32_t i = s->order.first; i != CONN_NIL; i = s->c[i].link.next) {
        if (s->c[i].reading && s->c[i].evcon) {
            s->evicted++;
            conn_close(s, i);
            return true;
        }
    }
    for (uint32_t i = s->order.first; i != CONN_NIL; i = s->c[i].link.next) {
        if (pending_out(s, i)) {
            s->evicted++;
            conn_close(s, i);
            return true;
        }
    }
    return false;
}

/* Bytes of answers waiting for their clients, all connections. */
static size_t output_total(const http_conns_t *s)
{
    size_t n = 0;
    for (uint32_t i = s->order.first; i != CONN_NIL; i = s->c[i].link.next)
        n += pending_out(s, i);
    return n;
}

/* Before a new answer is made: closes the oldest connections holding an answer (not
 * keep) until those waiting are under the budget. */
static void keep_output_budget(http_conns_t *s, const struct http_conn *keep)
{
    size_t total = output_total(s);
    for (uint32_t i = s->order.first; i != CONN_NIL && total >= s->output_budget;) {
        uint32_t next = s->c[i].link.next; /* conn_close may release slot i */
        size_t n = pending_out(s, i);
        if (n && &s->c[i] != keep) {
            s->output_evicted++;
            total -= n;
            conn_close(s, i);
        }
        i = next;
    }
}

static void arm_deadline(struct http_conn *c)
{
    struct timeval tv = {c->set->deadline_s, 0};
    c->reading = true;
    event_add(c->deadline, &tv);
}

static void conn_release(http_conns_t *s, struct http_conn *c)
{
    uint32_t i = (uint32_t)(c - s->c);
    event_del(c->deadline);
    ilist_unlink(&s->order, i);
    c->used = c->reading = c->writing = false;
    c->bev = NULL;
    c->evcon = NULL;
    c->link.next = s->free_head;
    s->free_head = i;
    s->live--;
    resume_accept(s);
}

/* evhttp is freeing the connection (its close callback, called on every path that
 * frees an accepted connection in libevent 2.1). */
static void on_close(struct evhttp_connection *evcon, void *arg)
{
    (void)evcon;
    struct http_conn *c = arg;
    conn_release(c->set, c);
}

/* The slot's timer: first made active at accept, to attach once evhttp has built its
 * connection around the bufferevent; later the request deadline. */
static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct http_conn *c = arg;
    http_conns_t *s = c->set;
    if (!c->evcon) {
        /* evhttp set the bufferevent's callbacks with its connection as the argument;
         * NULL callbacks mean it has freed the connection already (an error at accept).
         * The reference taken at accept kept the bufferevent alive until here. */
        bufferevent_data_cb readcb = NULL;
        void *evcon = NULL;
        bufferevent_getcb(c->bev, &readcb, NULL, NULL, &evcon);
        struct bufferevent *bev = c->bev;
        if (!readcb || !evcon) {
            conn_release(s, c);
        } else {
            c->evcon = evcon;
            evhttp_connection_set_closecb(c->evcon, on_close, c);
            arm_deadline(c);
            /* The kernel's share of an answer not taken: fixed, not autotuned (up to
             * tcp_wmem's 4 MiB a connection; 199 KB of chart.js vanished into it). */
            int sndbuf = HTTP_SNDBUF_BYTES;
            evutil_socket_t sfd = bufferevent_getfd(c->bev);
            if (sfd >= 0)
                setsockopt(sfd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf));
        }
        bufferevent_decref(bev);
        /* Connections accepted in one burst are evictable only once attached. */
        while (s->live > s->cap && evict_oldest(s))
            ;
        return;
    }
    if (c->writing)
        s->write_timeouts++;
    else
        s->timed_out++;
    conn_close(s, (uint32_t)(c - s->c));
}

/* evhttp's bufferevent callback, once per accepted connection (before it sets the
 * socket). Returning NULL lets evhttp make its own bufferevent, untracked. */
static struct bufferevent *on_new_connection(struct event_base *base, void *arg)
{
    http_conns_t *s = arg;
    if (!s->listener || s->free_head == CONN_NIL) {
        s->untracked++;
        return NULL;
    }
    uint32_t i = s->free_head;
    struct http_conn *c = &s->c[i];
    c->bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
    if (!c->bev) {
        s->untracked++;
        return NULL;
    }
    bufferevent_incref(c->bev); /* until on_timer attaches */
    s->free_head = c->link.next;
    c->used = true;
    c->reading = true;
    c->writing = false;
    c->evcon = NULL;
    ilist_push_last(&s->order, i);
    s->live++;
    s->accepted++;
    event_active(c->deadline, EV_TIMEOUT, 1);
    if (s->live > s->cap)
        evict_oldest(s);
    if (s->live >= s->slots)
        pause_accept(s, 0); /* until a slot is freed */
    return c->bev;
}

/* The listener's error callback: accept() failed with something other than EAGAIN or
 * a connection reset (EMFILE, ENFILE, ENOBUFS, ENOMEM). */
static void on_accept_error(struct evconnlistener *lev, void *evh)
{
    int e = EVUTIL_SOCKET_ERROR();
    http_conns_t *s = registry_find(evh);
    if (!s) { /* cannot happen; never spin all the same */
        evconnlistener_disable(lev);
        return;
    }
    s->accept_errors++;
    s->log_suppressed++;
    uint64_t now = tapir_monotonic_us();
    if (s->log_last_us == 0 || now - s->log_last_us >= (uint64_t)HTTP_ACCEPT_LOG_S * 1000000) {
        log_warn("http: cannot accept a connection: %s (%llu failure%s; %u connections open, "
                 "cap %u; accept pauses %d ms at each)",
                 strerror(e), (unsigned long long)s->log_suppressed,
                 s->log_suppressed == 1 ? "" : "s since the last such line", s->live, s->cap,
                 HTTP_ACCEPT_PAUSE_MS);
        s->log_last_us = now;
        s->log_suppressed = 0;
    }
    if (e == EMFILE || e == ENFILE)
        evict_oldest(s); /* frees a descriptor for the next try */
    pause_accept(s, HTTP_ACCEPT_PAUSE_MS);
}

static void conns_free(http_conns_t *s)
{
    if (s->resume)
        event_free(s->resume);
    for (uint32_t i = 0; s->c && i < s->slots; i++)
        if (s->c[i].deadline)
            event_free(s->c[i].deadline);
    free(s->c);
    free(s);
}

http_conns_t *http_conns_create(struct event_base *base, uint32_t cap)
{
    http_conns_t *s = calloc(1, sizeof(*s));
    if (!s)
        return NULL;
    s->base = base;
    s->cap = cap ? cap : http_conns_default_cap();
    s->slots = s->cap + HTTP_CONN_SLACK;
    s->deadline_s = HTTP_REQUEST_DEADLINE_S;
    s->write_deadline_s = HTTP_WRITE_DEADLINE_S;
    s->output_budget = HTTP_OUTPUT_BUDGET;
    s->c = calloc(s->slots, sizeof(*s->c));
    s->resume = event_new(base, -1, 0, on_resume, s);
    if (!s->c || !s->resume) {
        conns_free(s);
        return NULL;
    }
    for (uint32_t i = 0; i < s->slots; i++) {
        s->c[i].set = s;
        s->c[i].link.next = i + 1 < s->slots ? i + 1 : CONN_NIL;
        if (!(s->c[i].deadline = evtimer_new(base, on_timer, &s->c[i]))) {
            conns_free(s);
            return NULL;
        }
    }
    s->free_head = 0;
    ilist_init(&s->order, s->c, sizeof(s->c[0]), offsetof(struct http_conn, link));
    return s;
}

int http_conns_attach(http_conns_t *s, struct evhttp *evh, struct evconnlistener *lev)
{
    if (registry_add(evh, s) < 0)
        return -1;
    s->listener = lev;
    evhttp_set_bevcb(evh, on_new_connection, s);
    evconnlistener_set_error_cb(lev, on_accept_error);
    return 0;
}

void http_conns_set_deadline(http_conns_t *s, int seconds)
{
    s->deadline_s = seconds > 0 ? seconds : HTTP_REQUEST_DEADLINE_S;
}

void http_conns_set_output_limits(http_conns_t *s, int write_deadline_s, size_t budget)
{
    s->write_deadline_s = write_deadline_s > 0 ? write_deadline_s : HTTP_WRITE_DEADLINE_S;
    s->output_budget = budget ? budget : HTTP_OUTPUT_BUDGET;
}

/* Finds the slot of a request's connection (a scan, newest first: at most
 * HTTP_MAX_CONNECTIONS entries, once per request). */
static struct http_conn *find(http_conns_t *s, struct evhttp_request *req)
{
    struct evhttp_connection *evcon = evhttp_request_get_connection(req);
    for (uint32_t i = s->order.last; evcon && i != CONN_NIL; i = s->c[i].link.prev)
        if (s->c[i].evcon == evcon)
            return &s->c[i];
    return NULL;
}

static void on_answered(struct evhttp_request *req, void *arg)
{
    (void)req;
    struct http_conn *c = arg;
    /* The answer is written; a kept-alive connection waits for the next request, which
     * gets a full deadline of its own. */
    if (c->used) {
        c->writing = false;
        arm_deadline(c);
    }
}

void http_conns_request_read(http_conns_t *s, struct evhttp_request *req)
{
    struct http_conn *c = s ? find(s, req) : NULL;
    if (!c)
        return;
    c->reading = false;
    c->writing = true;
    struct timeval tv = {c->set->write_deadline_s, 0};
    event_add(c->deadline, &tv); /* replaces the request deadline */
    evhttp_request_set_on_complete_cb(req, on_answered, c);
    keep_output_budget(s, c);
}

void http_conns_stats(const http_conns_t *s, struct http_conn_stats *st)
{
    memset(st, 0, sizeof(*st));
    if (!s)
        return;
    st->open = s->live;
    st->cap = s->cap;
    st->accepted = s->accepted;
    st->evicted = s->evicted;
    st->timed_out = s->timed_out;
    st->write_timeouts = s->write_timeouts;
    st->output_evicted = s->output_evicted;
    st->output_bytes = output_total(s);
    st->accept_errors = s->accept_errors;
}

void http_conns_metrics(const http_conns_t *s, struct evbuffer *out)
{
    struct http_conn_stats st;
    http_conns_stats(s, &st);
    const struct output_series series[] = {
        {"tapir_http_connections", "gauge", "HTTP connections open now.", st.open},
        {"tapir_http_connections_max", "gauge",
         "HTTP connections allowed at once (from the descriptor limit).", st.cap},
        {"tapir_http_connections_total", "counter", "HTTP connections accepted.", st.accepted},
        {"tapir_http_connections_evicted_total", "counter",
         "HTTP connections closed while sending a request, to make room for a new one.",
         st.evicted},
        {"tapir_http_request_timeouts_total", "counter",
         "HTTP connections closed because a request's headers and body took longer than "
         "the request deadline.",
         st.timed_out},
        {"tapir_http_write_timeouts_total", "counter",
         "HTTP connections closed because the client had not taken its answer within the "
         "write deadline.",
         st.write_timeouts},
        {"tapir_http_output_evicted_total", "counter",
         "HTTP connections closed, their answer not taken, to keep the answers waiting for "
         "clients within the output budget.",
         st.output_evicted},
        {"tapir_http_output_bytes", "gauge", "Bytes of HTTP answers waiting for their clients.",
         st.output_bytes},
        {"tapir_http_accept_errors_total", "counter",
         "Failures to accept an HTTP connection (such as too many open files).", st.accept_errors},
    };
    output_series_write(out, series, sizeof(series) / sizeof(series[0]));
}

void http_conns_detach(http_conns_t *s)
{
    if (!s)
        return;
    registry_remove(s);
    s->listener = NULL;
    event_del(s->resume);
}

void http_conns_destroy(http_conns_t *s)
{
    if (!s)
        return;
    http_conns_detach(s);
    /* evhttp_free closed every attached connection (on_close gave the slots back); one
     * accepted on this turn of the loop still holds the reference on_timer would drop. */
    for (uint32_t i = 0; i < s->slots; i++)
        if (s->c[i].used && !s->c[i].evcon && s->c[i].bev)
            bufferevent_decref(s->c[i].bev);
    conns_free(s);
}

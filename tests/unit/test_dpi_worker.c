/* Unit tests: the DPI worker with real nDPI — every flow gets exactly one verdict through
 * a ring that wraps many times (packets up to 65,535 bytes), written into the window at
 * its end and only to records whose generation did not move; a full pool leaves flows
 * unclassified; ends give up on undecided flows; no lost wake-up. */
#include <stdlib.h>
#include <unistd.h>

#include "check.h"
#include "dpi_worker.h"

struct credits {
    uint32_t n, dns, unknown;
};

static void credit(void *ctx, struct host_l7 *acc, uint16_t l7)
{
    struct credits *c = ctx;
    c->n++;
    if (l7 == 5 /* NDPI_PROTOCOL_DNS */)
        c->dns++;
    if (!l7)
        c->unknown++;
    if (l7)
        acc->l7_known++;
    else
        acc->l7_unknown++;
}

/* An IPv4/UDP DNS query for "example.com" from 10.0.x.y:40000 to 10.9.9.9:53, padded with
 * zero bytes after the question to total bytes (>= the query's own length). */
static uint32_t dns_packet(uint8_t *p, uint32_t i, uint32_t total)
{
    static const uint8_t q[] = {0x12, 0x34, 0x01, 0x00, 0,   1, 0,   0,   0,   0, 0, 0, 7, 'e', 'x',
                                'a',  'm',  'p',  'l',  'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1};
    uint32_t need = 20 + 8 + sizeof(q);
    if (total < need)
        total = need;
    memset(p, 0, total);
    p[0] = 0x45;
    p[2] = (uint8_t)(total >> 8), p[3] = (uint8_t)total;
    p[8] = 64, p[9] = 17;
    p[12] = 10, p[13] = 0, p[14] = (uint8_t)(i >> 8), p[15] = (uint8_t)i;
    p[16] = 10, p[17] = 9, p[18] = 9, p[19] = 9;
    uint16_t ulen = (uint16_t)(total - 20);
    p[20] = 40000 >> 8, p[21] = 40000 & 0xff, p[22] = 0, p[23] = 53;
    p[24] = (uint8_t)(ulen >> 8), p[25] = (uint8_t)ulen;
    memcpy(p + 28, q, sizeof(q));
    return total;
}

/* One UDP packet with a byte nDPI cannot classify. */
static const uint8_t opaque[29] = {0x45, 0,  0, 29, 0, 0,    0,    0,    64,   17, 0, 0, 10, 0,   0,
                                   1,    10, 0, 0,  2, 0x9c, 0x40, 0x9c, 0x41, 0,  9, 0, 0,  0x55};

TEST(every_flow_one_verdict_through_wrapping_ring)
{
    char err[TAPIR_ERRBUF_SIZE];
    enum { FLOWS = 3000 };
    dpi_t *d = dpi_create(64, err);
    wqueue_t *q = wqueue_create(4, FLOWS, err);
    CHECK(d && q);
    struct credits c = {0};
    dpi_worker_t *k = dpi_worker_create(d, q, FLOWS, FLOWS, 1, credit, &c, err); /* smallest ring */
    CHECK(k != NULL);
    if (!k)
        return;
    uint8_t *pkt = malloc(0x10000);
    struct window *w = wqueue_get_free(q, true);
    w->n_hosts = FLOWS; /* record i - 1 is flow i's initiator, generation 0 */
    memset(w->hosts, 0, FLOWS * sizeof(*w->hosts));
    uint64_t seed = 12345;
    for (uint32_t i = 1; i <= FLOWS; i++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        uint32_t size = (i % 7 == 0) ? 65535 : 60 + (uint32_t)(seed >> 53); /* up to ~2 KiB */
        uint32_t len = dns_packet(pkt, i, size);
        dpi_worker_packet(k, i, DPI_JOB_FIRST, w, i - 1, 0, pkt, len, 1000000 + i);
        /* a second packet of a finished flow is ignored */
        dpi_worker_packet(k, i, DPI_JOB_FINAL, w, i - 1, 0, pkt, len, 1000000 + i);
        dpi_worker_end(k, i, w, i - 1, 0);
    }
    dpi_worker_finish(k);
    CHECK_EQ(c.n, FLOWS);
    CHECK_EQ(c.dns, FLOWS);
    CHECK_EQ(w->hosts[0].l7_known, 0); /* nothing written into the window before its end */
    /* Record 9 was given to another IP meanwhile: flow 10's verdict is not for it. */
    w->hosts[9].gen = 1;
    dpi_worker_window(k, w);
    dpi_worker_finish(k);
    uint32_t credited = 0;
    for (uint32_t i = 0; i < FLOWS; i++)
        credited += w->hosts[i].l7_known;
    CHECK_EQ(credited, FLOWS - 1);
    CHECK_EQ(w->hosts[9].l7_known, 0);
    CHECK_EQ(w->hosts[10].l7_known, 1);
    bool closed;
    CHECK(wqueue_pop(q, &closed) == w);
    struct dpi_worker_stats st;
    dpi_worker_stats(k, &st);
    CHECK_EQ(st.detected, FLOWS);
    CHECK_EQ(st.in_use, 0);
    dpi_worker_destroy(k);
    dpi_destroy(d);
    wqueue_destroy(q);
    free(pkt);
}

TEST(full_pool_and_ends)
{
    char err[TAPIR_ERRBUF_SIZE];
    dpi_t *d = dpi_create(4, err);
    wqueue_t *q = wqueue_create(4, 16, err);
    struct credits c = {0};
    dpi_worker_t *k = dpi_worker_create(d, q, 16, 16, 1 << 20, credit, &c, err);
    CHECK(d && q && k);
    if (!k)
        return;
    struct window *w = wqueue_get_free(q, true);
    w->n_hosts = 16;
    memset(w->hosts, 0, 16 * sizeof(*w->hosts));
    /* Six flows open with one payload byte nDPI cannot classify: four get states, two
     * find the pool empty and are never credited. Ending all six gives up on the four. */
    for (uint32_t i = 1; i <= 6; i++)
        dpi_worker_packet(k, i, DPI_JOB_FIRST, w, i - 1, 0, opaque, sizeof(opaque), 1000000);
    for (uint32_t i = 1; i <= 6; i++)
        dpi_worker_end(k, i, w, i - 1, 0);
    dpi_worker_finish(k);
    struct dpi_worker_stats st;
    dpi_worker_stats(k, &st);
    CHECK_EQ(st.pool_empty, 2);
    CHECK_EQ(st.gave_up, 4);
    CHECK_EQ(st.in_use, 0);
    /* The states went back: the same records' next flows get them again. */
    for (uint32_t i = 7; i <= 10; i++)
        dpi_worker_packet(k, i, DPI_JOB_FIRST | DPI_JOB_FINAL, w, i - 1, 0, opaque, sizeof(opaque),
                          2000000);
    dpi_worker_window(k, w);
    dpi_worker_finish(k);
    dpi_worker_stats(k, &st);
    CHECK_EQ(st.pool_empty, 2);
    CHECK_EQ(c.n, 8);
    CHECK_EQ(c.unknown, 8);
    uint32_t unknown = 0;
    for (uint32_t i = 0; i < 16; i++)
        unknown += w->hosts[i].l7_unknown;
    CHECK_EQ(unknown, 8);
    CHECK_EQ(w->hosts[4].l7_unknown + w->hosts[5].l7_unknown, 0); /* pool empty for these */
    CHECK_EQ(st.slots_reclaimed, 0);
    dpi_worker_destroy(k);
    dpi_destroy(d);
    wqueue_destroy(q);
}

/* Wake-ups: one packet, then wait for it, many times over. A lost wake-up leaves both
 * threads asleep (it did, 1 run in 3, before the fence in wake()); alarm() turns that
 * hang into a failure instead of a stuck suite. The alarm is re-armed every 10,000
 * rounds: a hang stops progress for good, while a slow machine (ASan on a loaded box
 * took over 60 s for the whole million) only makes progress slower. */
TEST(finish_after_each_packet_never_hangs)
{
    char err[TAPIR_ERRBUF_SIZE];
    dpi_t *d = dpi_create(64, err);
    wqueue_t *q = wqueue_create(4, 16, err);
    struct credits c = {0};
    dpi_worker_t *k = dpi_worker_create(d, q, 16, 16, 1, credit, &c, err);
    CHECK(d && q && k);
    if (!k)
        return;
    struct window *w = wqueue_get_free(q, true);
    enum { ROUNDS = 1000000 };
    for (uint32_t i = 1; i <= ROUNDS; i++) {
        if (i % 10000 == 1)
            alarm(30);
        dpi_worker_packet(k, 1 + i % 16, DPI_JOB_FIRST | DPI_JOB_FINAL, w, UINT32_MAX, 0, opaque,
                          sizeof(opaque), 1000000 + i);
        dpi_worker_finish(k);
    }
    alarm(0);
    struct dpi_worker_stats st;
    dpi_worker_stats(k, &st);
    CHECK_EQ(st.gave_up + st.detected, ROUNDS);
    dpi_worker_destroy(k);
    dpi_destroy(d);
    wqueue_destroy(q);
}

int main(void)
{
    RUN(every_flow_one_verdict_through_wrapping_ring);
    RUN(full_pool_and_ends);
    RUN(finish_after_each_packet_never_hangs);
    return CHECK_DONE();
}

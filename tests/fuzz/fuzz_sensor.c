/*
 * fuzz_sensor.c — the whole per-packet path with nDPI on: decode, flow and host tables,
 * nDPI on the first payloads of each flow, window close, flow eviction.
 *
 * Input: a sequence of records, each
 *     u8 link type selector, u8 time step (units of 50 ms; 255 = jump a day), u16 length
 *     (big-endian), then that many packet bytes (cut short at the end of the input).
 * One sensor lives for the whole process: creating nDPI's module costs ~27 ms, which per
 * input would leave ~35 runs/s. Tables are small (64 flows, 64 hosts, 16 nDPI states) so
 * eviction and the pool-empty paths are hit constantly; every input starts a day after
 * the previous one, so its flows find the earlier ones idle and expire them. A crash may
 * therefore depend on a few earlier inputs: reproduce with the whole crash directory or
 * -runs=N over the last corpus entries if the single input does not.
 */
#include <pcap/dlt.h>
#include <stdlib.h>

#include "fuzz_common.h"
#include "log.h"
#include "sensor.h"
#include "wqueue.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const int linktypes[] = {DLT_EN10MB, DLT_RAW, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_NULL,
                                DLT_LOOP,   DLT_IPV4, DLT_IPV6};

static wqueue_t *q;
static sensor_t *sen;
static uint64_t base_us = 1700000000ULL * 1000000;

static void drain(void)
{
    bool closed;
    struct window *w;
    while ((w = wqueue_pop(q, &closed)) != NULL) {
        /* Touch every record the sensor handed over: ASan checks the bounds. */
        if (w->n_hosts > w->cap_hosts)
            abort();
        uint64_t sum = 0;
        for (uint32_t i = 0; i < w->n_hosts; i++)
            sum += w->hosts[i].pkts_sent + w->hosts[i].pkts_recv;
        if (sum > 2 * w->stats.pkts)
            abort(); /* each packet counts once as sent and once as received */
        wqueue_release(q, w);
    }
}

static void teardown(void)
{
    if (!sen)
        return;
    sensor_finish(sen);
    drain();
    sensor_destroy(sen);
    wqueue_destroy(q);
    sen = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);
    char errbuf[TAPIR_ERRBUF_SIZE];
    struct sensor_config sc;
    sensor_config_defaults(&sc);
    sc.max_flows = 64;
    sc.max_hosts = 64;
    sc.dpi_pool = 16;
    sc.window_s = 1;
    sc.seed = 1;
    q = wqueue_create(4, sc.max_hosts, errbuf);
    if (!q || !(sen = sensor_create(&sc, q, errbuf))) {
        fprintf(stderr, "fuzz_sensor: %s\n", errbuf);
        abort();
    }
    atexit(teardown); /* so LeakSanitizer sees a clean exit */
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    base_us += 86400ULL * 1000000;
    uint64_t ts = base_us;
    size_t off = 0;
    while (size - off >= 4) {
        int lt = linktypes[data[off] % (sizeof(linktypes) / sizeof(linktypes[0]))];
        uint8_t step = data[off + 1];
        size_t len = ((size_t)data[off + 2] << 8) | data[off + 3];
        off += 4;
        if (len > size - off)
            len = size - off;
        ts += step == 255 ? 86400ULL * 1000000 : (uint64_t)step * 50000;
        /* Exact-size copy: a read past the capture is caught by ASan. */
        uint8_t *pkt = malloc(len ? len : 1);
        if (!pkt)
            return 0;
        memcpy(pkt, data + off, len);
        sensor_packet(sen, lt, ts, pkt, (uint32_t)len, (uint32_t)len + (step & 3) * 100);
        free(pkt);
        off += len;
        drain();
    }
    base_us = ts;
    return 0;
}

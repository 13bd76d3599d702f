/*
 * fuzz_pcap.c — the capture-file path: libpcap's pcap/pcapng reader, then capture.c's
 * loop and the per-packet pipeline (decode, flow table, host table, window close).
 *
 * The input is a whole capture file, written to a scratch file and read exactly as
 * `tapir run -r FILE` reads it (capture_open, then capture_run). The sensor is made
 * fresh per input with small tables so evictions and full host tables are reached, and
 * without nDPI: its module takes ~27 ms to initialise, which would cut this target to
 * ~35 runs/s; fuzz_sensor.c covers nDPI with a long-lived sensor instead.
 */
#include <signal.h>
#include <stdlib.h>

#include "capture.h"
#include "fuzz_common.h"
#include "log.h"
#include "sensor.h"
#include "wqueue.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    log_set_level(LOG_ERROR);
    atexit(fuzz_remove_file);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file("pcap", data, size);
    const char *files[1] = {path};
    struct capture_config cc;
    memset(&cc, 0, sizeof(cc));
    cc.files = files;
    cc.n_files = 1;
    cc.snaplen = 262144;
    char errbuf[TAPIR_ERRBUF_SIZE] = "";
    int err;
    capture_t *cap = capture_open(&cc, false, errbuf, &err);
    if (!cap) {
        if (!errbuf[0])
            abort(); /* a refusal must say why */
        return 0;
    }
    struct sensor_config sc;
    sensor_config_defaults(&sc);
    sc.max_flows = 32;
    sc.max_hosts = 32;
    sc.dpi = false;
    sc.window_s = 1;
    sc.seed = 1;
    wqueue_t *q = wqueue_create(2, sc.max_hosts, errbuf);
    if (!q)
        abort();
    sensor_t *s = sensor_create(&sc, q, errbuf);
    if (!s)
        abort();
    volatile sig_atomic_t stop = 0;
    struct capture_stats st;
    int r = capture_run(cap, s, &stop, &st, errbuf);
    capture_close(cap);
    if (r < 0 && !errbuf[0])
        abort();
    sensor_finish(s);
    struct sensor_stats ss;
    sensor_get_stats(s, &ss);
    if (ss.pkts != st.packets)
        abort(); /* every packet read reaches the sensor exactly once */
    sensor_destroy(s);
    wqueue_destroy(q);
    return 0;
}

/*
 * bench_pcap_loop.c — the baseline for bench/replay.sh: the fastest a reader of a pcap
 * can go through libpcap on this machine, i.e. what `tapir run -r` would do if the
 * sensor cost nothing. Opens each file the way sensor/capture.c does
 * (pcap_open_offline_with_tstamp_precision, microseconds), calls pcap_next_ex over every
 * packet and touches it minimally: the capture length, the timestamp and the last
 * captured byte are folded into a checksum that is printed, so the compiler cannot drop
 * the loop and every packet's bytes are brought in from the buffer at least once.
 * Rejected: pcap_loop with a callback (tapir reads with pcap_next_ex, so the baseline
 * does too) and mmap-ing the file by hand (not libpcap, not what tapir can use).
 *
 *   bench_pcap_loop FILE [FILE ...]
 *
 * Prints "key value" lines: packets, bytes (captured), seconds (monotonic, open to
 * close), pps, checksum.
 */
#include <inttypes.h>
#include <pcap/pcap.h>
#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE.pcap [FILE.pcap ...]\n", argv[0]);
        return 2;
    }
    uint64_t pkts = 0, bytes = 0, sum = 0;
    double t0 = now();
    for (int i = 1; i < argc; i++) {
        char err[PCAP_ERRBUF_SIZE] = "";
        pcap_t *p =
            pcap_open_offline_with_tstamp_precision(argv[i], PCAP_TSTAMP_PRECISION_MICRO, err);
        if (!p) {
            fprintf(stderr, "bench_pcap_loop: cannot read %s: %s\n", argv[i], err);
            return 1;
        }
        struct pcap_pkthdr *h;
        const u_char *data;
        int rc;
        while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
            pkts++;
            bytes += h->caplen;
            sum += (uint64_t)h->ts.tv_usec + (h->caplen ? data[h->caplen - 1] : 0);
        }
        if (rc == PCAP_ERROR) {
            fprintf(stderr, "bench_pcap_loop: %s: %s\n", argv[i], pcap_geterr(p));
            pcap_close(p);
            return 1;
        }
        pcap_close(p);
    }
    double secs = now() - t0;
    printf("packets %" PRIu64 "\n", pkts);
    printf("bytes %" PRIu64 "\n", bytes);
    printf("seconds %.6f\n", secs);
    printf("pps %.0f\n", secs > 0 ? (double)pkts / secs : 0.0);
    printf("checksum %" PRIu64 "\n", sum);
    return 0;
}

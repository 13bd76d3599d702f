/*
 * flood_pcap.c — writes the capture for the flow/host exhaustion test
 * (tests/e2e/robust_flood.sh): a benign background, and optionally a SYN flood from
 * millions of random spoofed source IPs at one victim plus one real attacker (a SYN port
 * scanner at a fixed address) during the second half.
 *
 *   flood_pcap -o OUT.pcap [-s SECONDS] [-n FLOOD_PACKETS] [-t] [-l] [-S SEED]
 *
 * -t writes the benign background only (a training capture). -l makes the scanner late:
 * it sends only in the second half of every 10-second span (seconds 5-9 of each aligned
 * 10 s window), after a flood has filled a window's host table. Background: 100 clients
 * (10.1.0.1-100) each opening about one short TCP session a second to 20 servers
 * (10.2.0.1-20, ports 80/443, handshake, request, response, close) and a DNS query to
 * 10.2.0.53 every few seconds. Attack (second half): FLOOD_PACKETS SYNs to 10.1.0.10:80
 * from uniformly random IPv4 sources (none repeats in practice), and 203.0.113.66 sending
 * 200 SYNs a second to random hosts and ports of 10.1.0.0/24, answered by RSTs.
 * Packets are written per second, sorted by time, with libpcap's pcap_dump: about
 * 1.5 M packets/s on one core. Deterministic for a seed.
 */
#include <pcap/pcap.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define T0        1700000000ULL
#define FRAME_MAX 128
#define ATTACKER  0xcb007142u /* 203.0.113.66 */
#define VICTIM    0x0a01000au /* 10.1.0.10 */

struct frame {
    uint64_t ts_us;
    uint16_t len;
    uint8_t b[FRAME_MAX];
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* The flood draws from its own stream, so the background and the scanner are the same
 * packets whatever the flood size (the test compares the scanner's counts across runs). */
static uint64_t flood_state = 0x243f6a8885a308d3ULL;

static uint64_t flood_rnd(void)
{
    uint64_t z = (flood_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static struct frame *frames;
static size_t n_frames, cap_frames;

static void put16(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, v >> 16);
    put16(p + 2, v & 0xffff);
}

static uint16_t ip_csum(const uint8_t *p)
{
    uint32_t s = 0;
    for (int i = 0; i < 20; i += 2)
        s += (uint32_t)(p[i] << 8 | p[i + 1]);
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)~s;
}

/* One IPv4 frame, TCP (flags) or UDP (flags == 0xff), with plen payload bytes. */
static void add(uint64_t ts_us, uint32_t src, uint32_t dst, uint16_t sport, uint16_t dport,
                uint8_t flags, const char *payload)
{
    if (n_frames == cap_frames) {
        cap_frames = cap_frames ? cap_frames * 2 : 65536;
        frames = realloc(frames, cap_frames * sizeof(*frames));
        if (!frames) {
            perror("flood_pcap");
            exit(1);
        }
    }
    struct frame *f = &frames[n_frames++];
    size_t plen = payload ? strlen(payload) : 0;
    if (plen > 40)
        plen = 40;
    bool udp = flags == 0xff;
    uint32_t l4 = udp ? 8 : 20;
    uint8_t *b = f->b;
    memcpy(b, "\x02\0\0\0\0\x02\x02\0\0\0\0\x01\x08\x00", 14);
    uint8_t *ip = b + 14;
    memset(ip, 0, 20);
    ip[0] = 0x45;
    put16(ip + 2, 20 + l4 + (uint32_t)plen);
    put16(ip + 4, (uint16_t)flood_rnd());
    ip[8] = 64;
    ip[9] = udp ? 17 : 6;
    put32(ip + 12, src);
    put32(ip + 16, dst);
    put16(ip + 10, ip_csum(ip));
    uint8_t *l = ip + 20;
    memset(l, 0, l4);
    put16(l, sport);
    put16(l + 2, dport);
    if (udp) {
        put16(l + 4, 8 + (uint32_t)plen);
    } else {
        put32(l + 4, (uint32_t)flood_rnd());
        l[12] = 5 << 4;
        l[13] = flags;
        put16(l + 14, 65535);
    }
    if (plen)
        memcpy(l + l4, payload, plen);
    f->len = (uint16_t)(14 + 20 + l4 + plen);
    f->ts_us = ts_us;
}

static int by_time(const void *a, const void *b)
{
    const struct frame *x = a, *y = b;
    return x->ts_us < y->ts_us ? -1 : x->ts_us > y->ts_us;
}

int main(int argc, char **argv)
{
    const char *out = NULL;
    unsigned seconds = 200;
    unsigned long long flood = 2000000;
    int train = 0, late = 0;
    int c;
    while ((c = getopt(argc, argv, "o:s:n:tlS:")) != -1) {
        switch (c) {
        case 'o':
            out = optarg;
            break;
        case 's':
            seconds = (unsigned)strtoul(optarg, NULL, 10);
            break;
        case 'n':
            flood = strtoull(optarg, NULL, 10);
            break;
        case 't':
            train = 1;
            break;
        case 'l':
            late = 1;
            break;
        case 'S':
            rng_state ^= strtoull(optarg, NULL, 10) * 0x2545f4914f6cdd1dULL;
            break;
        default:
            fprintf(stderr,
                    "usage: flood_pcap -o OUT.pcap [-s SECONDS] [-n FLOOD] [-t] [-l] [-S SEED]\n");
            return 2;
        }
    }
    if (!out || seconds < 2) {
        fprintf(stderr,
                "usage: flood_pcap -o OUT.pcap [-s SECONDS] [-n FLOOD] [-t] [-l] [-S SEED]\n");
        return 2;
    }
    pcap_t *dead = pcap_open_dead(DLT_EN10MB, 65535);
    pcap_dumper_t *d = dead ? pcap_dump_open(dead, out) : NULL;
    if (!d) {
        fprintf(stderr, "flood_pcap: cannot write %s: %s\n", out, dead ? pcap_geterr(dead) : "");
        return 1;
    }
    unsigned attack_from = seconds / 2;
    unsigned long long per_sec = train ? 0 : flood / (seconds - attack_from);
    unsigned long long written = 0;
    for (unsigned s = 0; s < seconds; s++) {
        n_frames = 0;
        uint64_t base = (T0 + s) * 1000000ULL;
        for (uint32_t cl = 1; cl <= 100; cl++) {
            uint32_t cip = 0x0a010000u | cl, sip = 0x0a020000u | (uint32_t)(1 + rnd() % 20);
            uint16_t sp = (uint16_t)(32768 + rnd() % 28000), dp = (rnd() & 1) ? 443 : 80;
            uint64_t t = base + rnd() % 900000;
            uint64_t rtt = 200 + rnd() % 5000;
            add(t, cip, sip, sp, dp, 0x02, NULL);
            add(t + rtt, sip, cip, dp, sp, 0x12, NULL);
            add(t + rtt + 50, cip, sip, sp, dp, 0x10, NULL);
            add(t + rtt + 100, cip, sip, sp, dp, 0x18, "GET / HTTP/1.1\r\nHost: intranet\r\n\r\n");
            add(t + 2 * rtt + 100, sip, cip, dp, sp, 0x18, "HTTP/1.1 200 OK\r\n\r\nhello");
            add(t + 2 * rtt + 200, cip, sip, sp, dp, 0x11, NULL);
            add(t + 3 * rtt + 200, sip, cip, dp, sp, 0x11, NULL);
            if (rnd() % 5 == 0)
                add(base + rnd() % 1000000, cip, 0x0a020035u, sp, 53, 0xff,
                    "\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x03www\x07"
                    "example\x03"
                    "com");
        }
        if (!train && s >= attack_from) {
            for (unsigned long long i = 0; i < per_sec; i++)
                add(base + flood_rnd() % 1000000, (uint32_t)flood_rnd() | 0x01000000u, VICTIM,
                    (uint16_t)(1024 + flood_rnd() % 60000), 80, 0x02, NULL);
            for (int i = 0; i < 200; i++) {
                uint64_t t = base + rnd() % 999000;
                uint32_t tgt = 0x0a010000u | (uint32_t)(1 + rnd() % 254);
                uint16_t port = (uint16_t)(1 + rnd() % 10000);
                if (late && (T0 + s) % 10 < 5)
                    continue; /* -l: drawn all the same, so the rest stays identical */
                add(t, ATTACKER, tgt, 61000, port, 0x02, NULL);
                add(t + 300, tgt, ATTACKER, port, 61000, 0x14, NULL);
            }
        }
        qsort(frames, n_frames, sizeof(*frames), by_time);
        for (size_t i = 0; i < n_frames; i++) {
            struct pcap_pkthdr h;
            h.ts.tv_sec = (time_t)(frames[i].ts_us / 1000000);
            h.ts.tv_usec = (suseconds_t)(frames[i].ts_us % 1000000);
            h.caplen = h.len = frames[i].len;
            pcap_dump((u_char *)d, &h, frames[i].b);
        }
        written += n_frames;
    }
    pcap_dump_close(d);
    pcap_close(dead);
    free(frames);
    fprintf(stderr, "flood_pcap: %llu packets in %u s to %s\n", written, seconds, out);
    return 0;
}

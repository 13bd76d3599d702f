/*
 * synth.h — `tapir synth`: deterministic, labeled synthetic traffic. What the rest of
 * Tapir (cli/main.c, the tests) sees of the generator: the attack classes, the options,
 * one call that writes a capture, and the command line.
 *
 * The folder, bottom up: each file includes only the headers of the files listed above it.
 *   synth_rng.c         the PRNG and its distributions
 *   synth_proto.c       the bytes on the wire (frames, DNS, TLS, SSH, NTP)
 *   synth_truth.c       the ground truth, with the sensor's flow identity and timeouts
 *                       (sensor/flow_table.h), and the CSV files; the class names
 *   synth_population.c  the network: servers, clients and their habits, attackers
 *   synth_engine.c      the session engine: session pool, event heap, emitting packets
 *   synth_conv.c        conversations: TCP (HTTP, TLS, SSH, FTP, SMTP, IMAP), DNS, NTP, ping
 *   synth_hosts.c       benign hosts: active and idle periods, the tasks they start
 *   synth_attacks.c     the attacks: scans, floods, campaigns, their schedule
 *   synth.c             synth_run: set-up, the event loop, the finish
 *   synth_cli.c         `tapir synth`: the options
 * Everything is single-threaded and deterministic: the same options give the same bytes.
 */
#ifndef TAPIR_SYNTH_H
#define TAPIR_SYNTH_H

#include <stddef.h>
#include <stdint.h>

#define SYNTH_US 1000000ULL /* microseconds in a second: times are us since the epoch */

/* ---------------------------------------------------------------- attack classes */

enum synth_attack {
    SYNTH_PORTSCAN_VERTICAL,
    SYNTH_PORTSCAN_HORIZONTAL,
    SYNTH_UDPSCAN,
    SYNTH_SYNFLOOD,
    SYNTH_ICMPFLOOD,
    SYNTH_BRUTEFORCE,
    SYNTH_EXFIL,
    SYNTH_BEACON,
    SYNTH_DNSTUNNEL,
    SYNTH_SLOWSCAN,
    SYNTH_SLOWEXFIL,
    SYNTH_N_ATTACKS
};

#define SYNTH_ALL_ATTACKS ((1u << SYNTH_N_ATTACKS) - 1)

/* Label of an IP: 0 is benign, 1 + enum synth_attack is that attack class. */
#define SYNTH_LABEL_BENIGN 0

/* The class name used in labels CSVs and --attacks ("portscan_vertical"...), or NULL.
 * (synth_truth.c: the names are the labels' vocabulary.) */
const char *synth_attack_name(int cls);
/* synth_cli.c. Parses a comma list of class names ("beacon,exfil", or "all") into a bitmask of
 * 1 << enum synth_attack. Returns 0, or -1 with the bad name copied to bad[]. */
int synth_parse_attacks(const char *list, uint32_t *mask, char *bad, size_t badlen);
/* Parses "90", "90s", "20m", "2h", "1d" into microseconds. Returns 0 or -1. */
int synth_parse_duration(const char *s, uint64_t *us);

/* ---------------------------------------------------------------- run */

struct synth_opts {
    uint64_t seed;           /* traffic: timing, sizes, attack schedule */
    uint64_t pop_seed;       /* population: addresses and habits of the hosts */
    uint32_t hosts;          /* internal benign clients */
    uint64_t duration_us;    /* capture length, us (ignored as a stop once max_packets set) */
    uint64_t start_us;       /* first packet time, us since the epoch */
    uint64_t max_packets;    /* 0: stop at duration; else stop after exactly this many */
    uint32_t attacks;        /* bitmask of 1 << enum synth_attack */
    double ipv6_share;       /* share of clients that are dual-stack, 0..1 */
    const char *out;         /* pcap path */
    const char *labels;      /* labels CSV path */
    const char *truth_hosts; /* or NULL */
    const char *truth_flows; /* or NULL */
};

struct synth_stats {
    uint64_t packets;          /* packets written */
    uint64_t ip_bytes;         /* IP-layer bytes written */
    uint64_t flows;            /* flows in the truth */
    uint64_t hosts;            /* distinct source IPs (rows of the labels CSV) */
    uint64_t label_conflicts;  /* IPs that sent both benign and attack packets (a bug) */
    uint64_t sessions_dropped; /* sessions not started because the pool was full */
    uint64_t last_us;          /* time of the last packet */
};

/* Fills o with the defaults (seed 1, 60 hosts, 20 minutes from 2026-01-01, all attacks). */
void synth_opts_default(struct synth_opts *o);
/* Writes the pcap and the CSVs. Returns 0, or -1 with a sentence in errbuf. synth.c */
int synth_run(const struct synth_opts *o, struct synth_stats *st, char *errbuf, size_t errlen);

/* `tapir synth ...` (argv[0] is "synth"): the command line of the generator; exit status
 * as cli.h's commands. synth_cli.c */
int cmd_synth(int argc, char **argv);

#endif

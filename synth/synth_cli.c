/*
 * synth_cli.c — `tapir synth`: the command line of the generator.
 *
 * Options are parsed into a struct synth_opts and handed to synth_run; nothing here
 * touches the traffic, so the library (synth_run, used by the tests) and the command
 * share one set of defaults, synth_opts_default. Values are checked in full: "--hosts
 * 10x" or a negative count is an error, not a prefix parse.
 * (Rejected: keeping the options in synth.c beside the run — a user interface in the
 * middle of the traffic model, where adding an option meant rereading the generator.)
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "parse.h"
#include "synth.h"
#include "tapir.h"

int synth_parse_attacks(const char *list, uint32_t *mask, char *bad, size_t badlen)
{
    uint32_t m = 0;
    const char *p = list;
    while (*p) {
        const char *e = strchr(p, ',');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        int found = -1;
        if (l == 3 && !strncmp(p, "all", 3)) {
            m |= SYNTH_ALL_ATTACKS;
            found = 0;
        }
        for (int i = 0; i < SYNTH_N_ATTACKS && found < 0; i++)
            if (strlen(synth_attack_name(i)) == l && !strncmp(p, synth_attack_name(i), l)) {
                m |= 1u << i;
                found = i;
            }
        if (found < 0) {
            snprintf(bad, badlen, "%.*s", (int)l, p);
            return -1;
        }
        p += l;
        if (*p == ',')
            p++;
    }
    *mask = m;
    return 0;
}
int synth_parse_duration(const char *s, uint64_t *us)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || !(v > 0))
        return -1;
    double mul = 1;
    if (*end == 's')
        end++;
    else if (*end == 'm')
        mul = 60, end++;
    else if (*end == 'h')
        mul = 3600, end++;
    else if (*end == 'd')
        mul = 86400, end++;
    if (*end || v * mul > 366.0 * 86400)
        return -1;
    *us = (uint64_t)(v * mul * 1e6 + 0.5);
    return *us ? 0 : -1;
}
static void usage(FILE *f)
{
    fprintf(f, "usage: tapir synth --seed N --out FILE.pcap --labels FILE.csv [options]\n"
               "\n"
               "Writes deterministic, labeled synthetic traffic: a pcap (Ethernet, microsecond\n"
               "timestamps) and one label per source IP. Same options, same bytes.\n"
               "\n"
               "  --seed N              traffic seed (timing, sizes, attack schedule)\n"
               "  --population-seed N   network seed: addresses and each host's habits\n"
               "                        (default fixed, so captures share their hosts)\n"
               "  --out FILE            pcap to write\n"
               "  --labels FILE         CSV ip,label,attack_type,first_ts,last_ts\n"
               "  --truth-hosts FILE    CSV ip,pkts_sent,bytes_sent,pkts_recv,bytes_recv,"
               "flows_started\n"
               "  --truth-flows FILE    CSV first_ts,src,sport,dst,dport,proto,pkts_fwd,"
               "bytes_fwd,pkts_rev,bytes_rev\n"
               "  --hosts N             internal benign clients (default 60, up to 50000)\n"
               "  --duration D          capture length: seconds, or with s/m/h/d (default 20m)\n"
               "  --start TS            first packet time, Unix seconds (default 1767225600)\n"
               "  --packets N           stop after exactly N packets (traffic and attacks go on\n"
               "                        past --duration, attacks repeating every --duration)\n"
               "  --no-attacks          benign traffic only\n"
               "  --attacks LIST        comma list of classes (default all):\n"
               "                        ");
    for (int i = 0; i < SYNTH_N_ATTACKS; i++)
        fprintf(f, "%s%s", synth_attack_name(i), i + 1 < SYNTH_N_ATTACKS ? "," : "\n");
    fprintf(f, "  --ipv6-share F        share of dual-stack clients, 0..1 (default 0.25)\n"
               "  --help                this text\n"
               "\nSee docs/synth.md for the attack classes and the file formats.\n");
}

/* An unsigned option up to max: decimal, 0x hex or 0 octal, all of s. */
static int opt_u64(const char *s, uint64_t *v, uint64_t max)
{
    uint64_t x;
    if (parse_u64(s, 0, &x) < 0 || x > max)
        return -1;
    *v = x;
    return 0;
}

int cmd_synth(int argc, char **argv)
{
    enum {
        O_SEED = 1,
        O_POP,
        O_OUT,
        O_LABELS,
        O_TH,
        O_TF,
        O_HOSTS,
        O_DUR,
        O_START,
        O_PKTS,
        O_NOATK,
        O_ATK,
        O_V6,
        O_HELP
    };
    static const struct option lo[] = {{"seed", required_argument, 0, O_SEED},
                                       {"population-seed", required_argument, 0, O_POP},
                                       {"out", required_argument, 0, O_OUT},
                                       {"labels", required_argument, 0, O_LABELS},
                                       {"truth-hosts", required_argument, 0, O_TH},
                                       {"truth-flows", required_argument, 0, O_TF},
                                       {"hosts", required_argument, 0, O_HOSTS},
                                       {"duration", required_argument, 0, O_DUR},
                                       {"start", required_argument, 0, O_START},
                                       {"packets", required_argument, 0, O_PKTS},
                                       {"no-attacks", no_argument, 0, O_NOATK},
                                       {"attacks", required_argument, 0, O_ATK},
                                       {"ipv6-share", required_argument, 0, O_V6},
                                       {"help", no_argument, 0, O_HELP},
                                       {0, 0, 0, 0}};
    struct synth_opts o;
    synth_opts_default(&o);
    bool have_seed = false, no_attacks = false, have_attacks = false;
    uint64_t v;
    char bad[64];
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":h", lo, NULL)) != -1) {
        switch (c) {
        case O_SEED:
            if (opt_u64(optarg, &o.seed, UINT64_MAX) < 0)
                goto bad_value;
            have_seed = true;
            break;
        case O_POP:
            if (opt_u64(optarg, &o.pop_seed, UINT64_MAX) < 0)
                goto bad_value;
            break;
        case O_OUT:
            o.out = optarg;
            break;
        case O_LABELS:
            o.labels = optarg;
            break;
        case O_TH:
            o.truth_hosts = optarg;
            break;
        case O_TF:
            o.truth_flows = optarg;
            break;
        case O_HOSTS:
            if (opt_u64(optarg, &v, 50000) < 0 || v == 0)
                goto bad_value;
            o.hosts = (uint32_t)v;
            break;
        case O_DUR:
            if (synth_parse_duration(optarg, &o.duration_us) < 0 || o.duration_us < SYNTH_US)
                goto bad_value;
            break;
        case O_START:
            if (opt_u64(optarg, &v, 4000000000ULL) < 0)
                goto bad_value;
            o.start_us = v * SYNTH_US;
            break;
        case O_PKTS:
            if (opt_u64(optarg, &o.max_packets, UINT64_MAX / 2) < 0 || !o.max_packets)
                goto bad_value;
            break;
        case O_NOATK:
            no_attacks = true;
            break;
        case O_ATK:
            if (synth_parse_attacks(optarg, &o.attacks, bad, sizeof(bad)) < 0) {
                fprintf(stderr, "tapir synth: unknown attack class '%s' (see --help)\n", bad);
                return TAPIR_EXIT_USAGE;
            }
            have_attacks = true;
            break;
        case O_V6: {
            double f;
            if (parse_f64(optarg, &f) < 0 || !(f >= 0 && f <= 1))
                goto bad_value;
            o.ipv6_share = f;
            break;
        }
        default:
            return parse_opt_other(c == O_HELP ? 'h' : c, "tapir synth", argv, usage);
        }
        continue;
    bad_value:
        fprintf(stderr, "tapir synth: bad value '%s' for %s\n", optarg, argv[optind - 1]);
        return TAPIR_EXIT_USAGE;
    }
    if (parse_opt_no_operands(argc, argv, "tapir synth", NULL) < 0)
        return TAPIR_EXIT_USAGE;
    if (!have_seed || !o.out || !o.labels) {
        fprintf(stderr, "tapir synth: --seed, --out and --labels are required\n");
        usage(stderr);
        return TAPIR_EXIT_USAGE;
    }
    if (no_attacks && have_attacks) {
        fprintf(stderr, "tapir synth: --no-attacks and --attacks exclude each other\n");
        return TAPIR_EXIT_USAGE;
    }
    if (no_attacks)
        o.attacks = 0;
    char err[TAPIR_ERRBUF_SIZE];
    struct synth_stats st;
    if (synth_run(&o, &st, err, sizeof(err)) < 0) {
        fprintf(stderr, "tapir synth: %s\n", err);
        return TAPIR_EXIT_FAIL;
    }
    fprintf(stderr,
            "tapir synth: %" PRIu64 " packets, %" PRIu64 " flows, %" PRIu64
            " source IPs, %.1f s of traffic -> %s\n",
            st.packets, st.flows, st.hosts, (double)(st.last_us - o.start_us) / 1e6, o.out);
    if (st.label_conflicts)
        fprintf(stderr, "tapir synth: warning: %" PRIu64 " IPs sent under two labels\n",
                st.label_conflicts);
    return TAPIR_EXIT_OK;
}

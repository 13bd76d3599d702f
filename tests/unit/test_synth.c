/*
 * test_synth.c — the synthetic traffic generator: PRNG, checksums, wire builders, the
 * ground-truth flow rules, option parsing, and a small end-to-end run.
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "synth.h"
#include "synth_proto.h"
#include "synth_rng.h"
#include "synth_truth.h"

static uint16_t rd16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd24(const uint8_t *p)
{
    return (uint32_t)(p[0] << 16 | p[1] << 8 | p[2]);
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)(p[1] << 16 | p[2] << 8 | p[3]);
}

TEST(rng_deterministic_and_in_range)
{
    struct synth_rng a, b, c;
    synth_rng_seed(&a, 42);
    synth_rng_seed(&b, 42);
    synth_rng_seed(&c, 43);
    int same = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t x = synth_rng_next(&a), y = synth_rng_next(&b), z = synth_rng_next(&c);
        CHECK(x == y);
        same += x == z;
    }
    CHECK_EQ(same, 0);
    double sum = 0;
    for (int i = 0; i < 100000; i++) {
        double u = synth_rng_unit(&a);
        CHECK(u >= 0 && u < 1);
        uint32_t k = synth_rng_below(&a, 7);
        CHECK_LT(k, 7);
        sum += synth_rng_exp(&a, 2.0);
    }
    CHECK_NEAR(sum / 100000, 2.0, 0.05);
    CHECK_EQ(synth_rng_below(&a, 0), 0);
}

TEST(checksum_rfc1071_example)
{
    /* RFC 1071 section 3: 00 01 f2 03 f4 f5 f6 f7 sums to ddf2 */
    const uint8_t d[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
    CHECK_EQ(synth_csum_fold(synth_csum_add(0, d, sizeof(d))), (uint16_t)~0xddf2);
}

/* Verifies a frame's IPv4 header checksum and its L4 checksum over the pseudo-header. */
static void check_frame_v4(const uint8_t *f, size_t n, uint8_t proto)
{
    CHECK_EQ(rd16(f + 12), 0x0800);
    const uint8_t *ip = f + 14;
    CHECK_EQ(ip[0], 0x45);
    CHECK_EQ(rd16(ip + 2), n - 14);
    CHECK_EQ(ip[9], proto);
    CHECK_EQ(synth_csum_fold(synth_csum_add(0, ip, 20)), 0);
    size_t l4len = n - 34;
    uint32_t ps = proto == 1 ? 0 : synth_csum_add(0, ip + 12, 8) + proto + (uint32_t)l4len;
    CHECK_EQ(synth_csum_fold(synth_csum_add(ps, ip + 20, l4len)), 0);
}

TEST(frame_ipv4_tcp_udp_icmp)
{
    struct ip_addr a, b;
    ip_addr_parse("10.0.1.10", &a);
    ip_addr_parse("81.2.69.142", &b);
    uint8_t f[SYNTH_FRAME_MAX], pl[301];
    for (int i = 0; i < 301; i++)
        pl[i] = (uint8_t)(i * 7);
    struct synth_hdr h;
    memset(&h, 0, sizeof(h));
    h.src = &a;
    h.dst = &b;
    h.ttl = 64;
    h.proto = 6;
    h.sport = 40000;
    h.dport = 443;
    h.seq = 1;
    h.ack = 2;
    h.flags = SYNTH_TCP_ACK | SYNTH_TCP_PSH;
    h.win = 501;
    size_t ipl, n = synth_frame(f, sizeof(f), &h, pl, 301, &ipl); /* odd length */
    CHECK_EQ(n, 14 + 20 + 20 + 301);
    CHECK_EQ(ipl, n - 14);
    check_frame_v4(f, n, 6);
    CHECK_EQ(rd16(f + 14 + 6), 0x4000); /* DF */
    CHECK_EQ(f[6], 0x02);               /* internal sender: its own MAC */
    CHECK_EQ(f[0], 0x02);

    h.proto = 17;
    n = synth_frame(f, sizeof(f), &h, pl, 48, &ipl);
    CHECK_EQ(n, 14 + 20 + 8 + 48);
    check_frame_v4(f, n, 17);
    CHECK_EQ(rd16(f + 34 + 4), 56);

    h.proto = 1;
    h.icmp_type = 8;
    h.icmp_rest = 0x12340001;
    n = synth_frame(f, sizeof(f), &h, pl, 56, &ipl);
    check_frame_v4(f, n, 1);
    CHECK_EQ(f[34], 8);

    CHECK_EQ(synth_frame(f, 60, &h, pl, 56, &ipl), 0); /* too small a buffer */
}

TEST(frame_ipv6_udp)
{
    struct ip_addr a, b;
    ip_addr_parse("fd00::a:1:a", &a);
    ip_addr_parse("2606:4700:4700::1111", &b);
    uint8_t f[SYNTH_FRAME_MAX], pl[33] = {1, 2, 3};
    struct synth_hdr h;
    memset(&h, 0, sizeof(h));
    h.src = &a;
    h.dst = &b;
    h.ttl = 64;
    h.proto = 17;
    h.sport = 5353;
    h.dport = 53;
    size_t ipl, n = synth_frame(f, sizeof(f), &h, pl, sizeof(pl), &ipl);
    CHECK_EQ(n, 14 + 40 + 8 + 33);
    CHECK_EQ(ipl, 40 + 8 + 33);
    CHECK_EQ(rd16(f + 12), 0x86dd);
    CHECK_EQ(rd16(f + 14 + 4), 8 + 33);
    const uint8_t *ip = f + 14;
    uint32_t ps = synth_csum_add(0, ip + 8, 32) + 17 + 41;
    CHECK_EQ(synth_csum_fold(synth_csum_add(ps, ip + 40, 41)), 0);
}

TEST(dns_query_and_answer)
{
    uint8_t q[128], a[256];
    size_t ql = synth_dns_query(q, sizeof(q), 0xbeef, "www.example.com", 1);
    const uint8_t want[] = {0xbe, 0xef, 0x01, 0x00, 0,   1,   0,   0,   0,   0,   0,
                            0,    3,    'w',  'w',  'w', 7,   'e', 'x', 'a', 'm', 'p',
                            'l',  'e',  3,    'c',  'o', 'm', 0,   0,   1,   0,   1};
    CHECK_EQ(ql, sizeof(want));
    CHECK(!memcmp(q, want, sizeof(want)));
    const uint8_t rd[4] = {81, 2, 69, 142};
    size_t al = synth_dns_answer(a, sizeof(a), q, ql, 1, 300, rd, 4);
    CHECK_EQ(al, ql + 16);
    CHECK_EQ(rd16(a + 2), 0x8180);
    CHECK_EQ(rd16(a + 6), 1);
    CHECK_EQ(rd16(a + ql), 0xc00c);
    CHECK(!memcmp(a + ql + 12, rd, 4));
    CHECK_EQ(synth_dns_answer(a, sizeof(a), q, ql, 28, 300, NULL, 0), ql); /* no record */
    CHECK_EQ(rd16(a + 6), 0);
    char longlab[80];
    memset(longlab, 'a', 64);
    strcpy(longlab + 64, ".com");
    CHECK_EQ(synth_dns_query(q, sizeof(q), 1, longlab, 1), 0); /* label > 63 */
}

TEST(tls_hellos_well_formed)
{
    uint8_t b[1024];
    size_t n = synth_tls_client_hello(b, sizeof(b), "www.wikipedia.org", 99);
    CHECK_GT(n, 200);
    CHECK_EQ(b[0], 0x16);
    CHECK_EQ(rd16(b + 3), n - 5);
    CHECK_EQ(b[5], 1);
    CHECK_EQ(rd24(b + 6), n - 9);
    /* walk to the extensions and find server_name */
    size_t o = 9 + 2 + 32;
    o += 1 + b[o];
    o += 2 + rd16(b + o);
    o += 1 + b[o];
    size_t ext_end = o + 2 + rd16(b + o);
    CHECK_EQ(ext_end, n);
    o += 2;
    bool sni = false;
    while (o + 4 <= ext_end) {
        uint16_t type = rd16(b + o), len = rd16(b + o + 2);
        if (type == 0) {
            CHECK_EQ(rd16(b + o + 7), 17);
            CHECK(!memcmp(b + o + 9, "www.wikipedia.org", 17));
            sni = true;
        }
        o += 4 + len;
    }
    CHECK_EQ(o, ext_end);
    CHECK(sni);
    uint8_t s[256];
    size_t m = synth_tls_server_hello(s, sizeof(s), 99);
    CHECK_EQ(s[0], 0x16);
    CHECK_EQ(s[5], 2);
    CHECK_EQ(rd16(s + 3) + 5 + 6, m);                           /* then a 6-byte ChangeCipherSpec */
    CHECK(!memcmp(s + 9 + 2 + 32 + 1, b + 9 + 2 + 32 + 1, 32)); /* session id echoed */
}

TEST(ssh_packets_aligned)
{
    uint8_t b[2048];
    size_t sizes[4] = {synth_ssh_kexinit(b, sizeof(b), false, 5),
                       synth_ssh_kexinit(b, sizeof(b), true, 5),
                       synth_ssh_ecdh_init(b, sizeof(b), 5), synth_ssh_newkeys(b, sizeof(b), 5)};
    for (int i = 0; i < 4; i++) {
        CHECK_GT(sizes[i], 0);
        CHECK_EQ(sizes[i] % 8, 0);
    }
    size_t n = synth_ssh_kexinit(b, sizeof(b), true, 5);
    CHECK_EQ(rd32(b) + 4, n);
    CHECK_GE(b[4], 4);
    CHECK_EQ(b[5], 20);
    n = synth_ssh_ecdh_reply(b, sizeof(b), 5); /* reply + NEWKEYS */
    size_t first = rd32(b) + 4;
    CHECK_EQ(b[5], 31);
    CHECK_EQ(b[first + 5], 21);
    CHECK_EQ(first + rd32(b + first) + 4, n);
}

TEST(ntp_packets)
{
    uint8_t b[48];
    CHECK_EQ(synth_ntp(b, sizeof(b), 3, 1767225600000000ULL, 0), 48);
    CHECK_EQ(b[0], 0x23);
    CHECK_EQ(rd32(b + 40), 1767225600u + 2208988800u);
    CHECK_EQ(synth_ntp(b, sizeof(b), 4, 1767225600500000ULL, 1767225600000000ULL), 48);
    CHECK_EQ(b[0], 0x24);
    CHECK_EQ(b[1], 2);
    CHECK_EQ(rd32(b + 24), 1767225600u + 2208988800u);
}

TEST(parse_duration_and_attacks)
{
    uint64_t us;
    CHECK_EQ(synth_parse_duration("90", &us), 0);
    CHECK_EQ(us, 90000000ULL);
    CHECK_EQ(synth_parse_duration("20m", &us), 0);
    CHECK_EQ(us, 1200000000ULL);
    CHECK_EQ(synth_parse_duration("1.5h", &us), 0);
    CHECK_EQ(us, 5400000000ULL);
    CHECK_EQ(synth_parse_duration("2d", &us), 0);
    CHECK_EQ(synth_parse_duration("10s", &us), 0);
    CHECK_EQ(us, 10000000ULL);
    CHECK_EQ(synth_parse_duration("", &us), -1);
    CHECK_EQ(synth_parse_duration("5x", &us), -1);
    CHECK_EQ(synth_parse_duration("-3m", &us), -1);
    CHECK_EQ(synth_parse_duration("0", &us), -1);
    uint32_t m;
    char bad[32];
    CHECK_EQ(synth_parse_attacks("beacon,exfil", &m, bad, sizeof(bad)), 0);
    CHECK_EQ(m, (1u << SYNTH_BEACON) | (1u << SYNTH_EXFIL));
    CHECK_EQ(synth_parse_attacks("all", &m, bad, sizeof(bad)), 0);
    CHECK_EQ(m, SYNTH_ALL_ATTACKS);
    CHECK_EQ(synth_parse_attacks("beacon,bogus", &m, bad, sizeof(bad)), -1);
    CHECK_STR(bad, "bogus");
    CHECK_STR(synth_attack_name(SYNTH_SLOWEXFIL), "slowexfil");
    CHECK(synth_attack_name(SYNTH_N_ATTACKS) == NULL);
}

/* Reads a whole file into a malloc'd, NUL-terminated buffer. */
static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = 0;
        *len = (size_t)n;
    }
    return b;
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += *s == '\n';
    return n;
}

TEST(truth_flow_rules)
{
    char path[] = "/tmp/tapir-synth-flowsXXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *flows = fdopen(fd, "w+");
    char err[256];
    struct synth_truth *t = synth_truth_create(64, flows, err, sizeof(err));
    CHECK(t != NULL);
    if (!t)
        return;
    struct ip_addr a, b;
    ip_addr_parse("10.0.1.10", &a);
    ip_addr_parse("10.0.0.1", &b);
    uint64_t s = 1000000000ULL * 1000000ULL;
    /* ICMP: gaps under 60 s stay one flow, a longer gap starts another */
    synth_truth_packet(t, s, &a, &b, 7, 7, 1, 0, 84, 0);
    synth_truth_packet(t, s + 1000, &b, &a, 9, 9, 1, 0, 84, 0);
    synth_truth_packet(t, s + 59000000ULL, &a, &b, 0, 0, 1, 0, 84, 0);
    synth_truth_packet(t, s + 121000000ULL, &b, &a, 0, 0, 1, 0, 84, 0); /* new: b starts */
    /* TCP: a RST ends the flow 10 s later; the same ports after that are a new flow */
    uint64_t u = s + 200000000ULL;
    synth_truth_packet(t, u, &a, &b, 40000, 22, 6, SYNTH_TCP_SYN, 60, 0);
    synth_truth_packet(t, u + 100, &b, &a, 22, 40000, 6, SYNTH_TCP_SYN | SYNTH_TCP_ACK, 60, 0);
    synth_truth_packet(t, u + 200, &a, &b, 40000, 22, 6, SYNTH_TCP_RST, 40, 0);
    synth_truth_packet(t, u + 5000000ULL, &b, &a, 22, 40000, 6, SYNTH_TCP_ACK, 40, 0);  /* same */
    synth_truth_packet(t, u + 11000000ULL, &a, &b, 40000, 22, 6, SYNTH_TCP_SYN, 60, 0); /* new */
    /* a SYN never answered: ends after 30 s */
    synth_truth_packet(t, u + 50000000ULL, &a, &b, 40000, 22, 6, SYNTH_TCP_SYN, 60, 0); /* new */
    struct synth_stats st;
    FILE *labels = tmpfile(), *hosts = tmpfile();
    CHECK_EQ(synth_truth_finish(t, labels, hosts, &st, err, sizeof(err)), 0);
    CHECK_EQ(st.flows, 5);
    CHECK_EQ(st.hosts, 2);
    CHECK_EQ(st.label_conflicts, 0);
    synth_truth_destroy(t);
    fflush(flows);
    size_t len;
    char *txt = slurp(path, &len);
    CHECK(txt != NULL);
    if (txt) {
        CHECK_EQ(count_lines(txt), 5);
        /* the first ICMP flow: 2 packets from a, 1 from b, ports 0 */
        CHECK(strstr(txt, "1000000000.000000,10.0.1.10,0,10.0.0.1,0,1,2,168,1,84\n") != NULL);
        CHECK(strstr(txt, "1000000121.000000,10.0.0.1,0,10.0.1.10,0,1,1,84,0,0\n") != NULL);
        CHECK(strstr(txt, "1000000200.000000,10.0.1.10,40000,10.0.0.1,22,6,2,100,2,100\n") != NULL);
        free(txt);
    }
    rewind(hosts);
    char line[256];
    CHECK(fgets(line, sizeof(line), hosts) != NULL);
    CHECK_STR(line, "ip,pkts_sent,bytes_sent,pkts_recv,bytes_recv,flows_started\n");
    CHECK(fgets(line, sizeof(line), hosts) != NULL);
    CHECK_STR(line, "10.0.0.1,4,268,6,388,1\n");
    fclose(labels);
    fclose(hosts);
    fclose(flows);
    unlink(path);
}

TEST(label_conflict_counted)
{
    char err[256];
    struct synth_truth *t = synth_truth_create(16, NULL, err, sizeof(err));
    struct ip_addr a, b;
    ip_addr_parse("10.0.1.240", &a);
    ip_addr_parse("10.0.0.53", &b);
    synth_truth_packet(t, 1000000, &a, &b, 1, 53, 17, 0, 60, 1 + SYNTH_DNSTUNNEL);
    synth_truth_packet(t, 2000000, &a, &b, 2, 53, 17, 0, 60, SYNTH_LABEL_BENIGN);
    struct synth_stats st;
    FILE *labels = tmpfile();
    CHECK_EQ(synth_truth_finish(t, labels, NULL, &st, err, sizeof(err)), 0);
    CHECK_EQ(st.label_conflicts, 1);
    rewind(labels);
    char line[256];
    CHECK(fgets(line, sizeof(line), labels) != NULL);
    CHECK(fgets(line, sizeof(line), labels) != NULL);
    CHECK_STR(line, "10.0.1.240,attack,dnstunnel,1.000000,2.000000\n");
    fclose(labels);
    synth_truth_destroy(t);
}

/* A short run twice: identical bytes, every class labeled, no label conflicts. */
TEST(run_small_deterministic)
{
    char dir[] = "/tmp/tapir-synth-runXXXXXX";
    CHECK(mkdtemp(dir) != NULL);
    char p1[128], l1[128], p2[128], l2[128];
    snprintf(p1, sizeof(p1), "%s/a.pcap", dir);
    snprintf(l1, sizeof(l1), "%s/a.csv", dir);
    snprintf(p2, sizeof(p2), "%s/b.pcap", dir);
    snprintf(l2, sizeof(l2), "%s/b.csv", dir);
    struct synth_opts o;
    synth_opts_default(&o);
    o.seed = 5;
    o.hosts = 12;
    o.duration_us = 240ULL * 1000000;
    o.out = p1;
    o.labels = l1;
    struct synth_stats s1, s2;
    char err[256];
    CHECK_EQ(synth_run(&o, &s1, err, sizeof(err)), 0);
    o.out = p2;
    o.labels = l2;
    CHECK_EQ(synth_run(&o, &s2, err, sizeof(err)), 0);
    CHECK_EQ(s1.packets, s2.packets);
    CHECK_GT(s1.packets, 1000);
    CHECK_EQ(s1.label_conflicts, 0);
    CHECK_EQ(s1.sessions_dropped, 0);
    size_t n1 = 0, n2 = 0;
    char *a = slurp(p1, &n1), *b = slurp(p2, &n2);
    CHECK(a && b && n1 == n2 && !memcmp(a, b, n1));
    free(a);
    free(b);
    char *la = slurp(l1, &n1);
    CHECK(la != NULL);
    if (la) {
        for (int k = 0; k < SYNTH_N_ATTACKS; k++) {
            char want[64];
            snprintf(want, sizeof(want), ",attack,%s,", synth_attack_name(k));
            if (!strstr(la, want))
                printf("  missing class %s\n", synth_attack_name(k));
            CHECK(strstr(la, want) != NULL);
        }
        free(la);
    }
    /* --packets: exactly that many, past the duration */
    o.max_packets = 30000;
    o.out = p2;
    CHECK_EQ(synth_run(&o, &s2, err, sizeof(err)), 0);
    CHECK_EQ(s2.packets, 30000);
    CHECK_GT(s2.last_us, o.start_us + o.duration_us);
    unlink(p1);
    unlink(l1);
    unlink(p2);
    unlink(l2);
    rmdir(dir);
}

TEST(run_reports_unwritable_output)
{
    struct synth_opts o;
    synth_opts_default(&o);
    o.out = "/nonexistent-dir/x.pcap";
    o.labels = "/nonexistent-dir/x.csv";
    char err[256] = "";
    CHECK_EQ(synth_run(&o, NULL, err, sizeof(err)), -1);
    CHECK(strstr(err, "/nonexistent-dir/") != NULL);
}

int main(void)
{
    RUN(rng_deterministic_and_in_range);
    RUN(checksum_rfc1071_example);
    RUN(frame_ipv4_tcp_udp_icmp);
    RUN(frame_ipv6_udp);
    RUN(dns_query_and_answer);
    RUN(tls_hellos_well_formed);
    RUN(ssh_packets_aligned);
    RUN(ntp_packets);
    RUN(parse_duration_and_attacks);
    RUN(truth_flow_rules);
    RUN(label_conflict_counted);
    RUN(run_small_deterministic);
    RUN(run_reports_unwritable_output);
    return CHECK_DONE();
}

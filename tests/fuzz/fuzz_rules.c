/*
 * fuzz_rules.c — the rules parser (analyzer/rules.c): allowlist, denylist and thresholds
 * files, and the CIDR parser, then lookups over what loaded.
 *
 * Byte 0 picks the list the file is loaded into; the rest is the file. After a load (good
 * or refused: a refused load still leaves a searchable set), every lookup runs with
 * addresses taken from the input, and every parsed network must print and parse back to
 * itself.
 */
#include <stdlib.h>

#include "fuzz_common.h"
#include "rules.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    atexit(fuzz_remove_file);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    enum rules_list which = (enum rules_list)(data[0] % 3);
    const char *path = fuzz_write_file("rules", data + 1, size - 1);
    rules_t *r = rules_create();
    if (!r)
        return 0;
    char errbuf[TAPIR_ERRBUF_SIZE] = "";
    if (rules_load_file(r, which, path, false, errbuf) < 0 && !errbuf[0])
        abort();

    /* Lookups with addresses cut from the input. */
    for (size_t off = 1; off + 16 <= size && off < 1 + 16 * 8; off += 16) {
        struct ip_addr ip;
        memcpy(ip.b, data + off, 16);
        double th;
        (void)rules_allowed(r, &ip);
        (void)rules_denied(r, &ip);
        if (rules_threshold(r, &ip, &th) && !(th > 0 && th <= 1))
            abort();
        (void)rules_overlaps(r, which, &ip, data[off] % 129);
    }

    /* Each line on its own through the CIDR parser: text form must round-trip. */
    char line[128];
    size_t n = 0;
    for (size_t i = 1; i <= size; i++) {
        if (i == size || data[i] == '\n' || n == sizeof(line) - 1) {
            line[n] = '\0';
            struct ip_addr ip, ip2;
            unsigned len, len2;
            if (rules_parse_cidr(line, &ip, &len) == 0) {
                char buf[64];
                rules_cidr_str(&ip, len, buf, sizeof(buf));
                if (rules_parse_cidr(buf, &ip2, &len2) < 0 || len2 != len ||
                    memcmp(ip.b, ip2.b, 16) != 0) {
                    fprintf(stderr, "'%s' -> '%s' does not parse back\n", line, buf);
                    abort();
                }
                (void)rules_add(r, which, line, 0.5);
            }
            n = 0;
        } else {
            line[n++] = (char)data[i];
        }
    }
    (void)rules_count(r, which);
    rules_destroy(r);
    return 0;
}

/*
 * fuzz_config.c — the config file parser of `tapir run` / `tapir train`: inih plus
 * cli/config.c's option table (config_load_file), the same code the command line and
 * SIGHUP go through. Only the parse runs: nothing the file names is opened (no capture,
 * database or log), so a fuzzed "interface = eth0" or "db = /etc/passwd" is harmless here.
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "fuzz_common.h"

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
    const char *path = fuzz_write_file("conf", data, size);
    struct config c;
    config_init(&c, false);
    char errbuf[TAPIR_ERRBUF_SIZE] = "";
    if (config_load_file(&c, path, errbuf) < 0 && !errbuf[0])
        abort(); /* a refusal must say which line and why */
    /* What was accepted stays within the ranges the options promise. */
    if (c.n_files > CONFIG_MAX_FILES || c.n_geo > CONFIG_MAX_GEO || c.sen.window_s < 1 ||
        c.sen.window_s > 86400 || c.ana.persist_k > c.ana.persist_n || c.ana.persist_n > 16 ||
        c.ana.contamination <= 0 || c.ana.contamination >= 0.5 ||
        memchr(c.bpf, '\0', sizeof(c.bpf)) == NULL)
        abort();
    config_free(&c);
    return 0;
}

/*
 * fuzz_config.c — the config file parser of `tapir run` / `tapir train` (inih plus
 * cmd_run.c's load_config / apply_option, the same code the command line goes through).
 *
 * cmd_run.c keeps those functions static, so this target includes the source file
 * itself rather than widening the product's interface for a test. Only the parse runs:
 * nothing the file names is opened (no capture, database or log), so a fuzzed
 * "interface = eth0" or "db = /etc/passwd" is harmless here.
 */
#include "../../cli/cmd_run.c"

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
    struct run_opts o;
    memset(&o, 0, sizeof(o));
    sensor_config_defaults(&o.sen);
    analyzer_config_defaults(&o.ana);
    char errbuf[TAPIR_ERRBUF_SIZE] = "";
    if (load_config(&o, path, errbuf) < 0 && !errbuf[0])
        abort(); /* a refusal must say which line and why */
    /* What was accepted stays within the ranges the options promise. */
    if (o.n_files > MAX_FILES || o.n_geo > MAX_GEO || o.sen.window_s < 1 ||
        o.sen.window_s > 86400 || o.ana.persist_k > o.ana.persist_n || o.ana.persist_n > 16 ||
        o.ana.contamination <= 0 || o.ana.contamination >= 0.5 ||
        memchr(o.bpf, '\0', sizeof(o.bpf)) == NULL)
        abort();
    for (int i = 0; i < o.n_strings; i++)
        free(o.strings[i]);
    return 0;
}

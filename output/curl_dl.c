/*
 * curl_dl.c — libcurl opened with dlopen when a notifier first needs it (curl_dl.h has
 * the contract), instead of a DT_NEEDED entry every tapir process resolves at start.
 *
 * Why: libcurl brings 27 of the 50 shared libraries `tapir` loaded at every start, with
 * their relocations (most built -z now) and constructors: 9.7 ms of CPU per process
 * before main() on the 2-CPU VM (`tapir --version`, min of 40), 4.5 ms without them.
 * `tapir forest fit` + `score` pay that twice (bench/iforest.sh, issue 12 point 19), as
 * does every query command. Hardening is unchanged: the binary keeps its flags, and
 * dlopen looks the soname up in the same system paths the dynamic linker uses.
 * Rejected: static libcurl (Debian ships no static build with the same TLS backend, and
 * security updates would need a rebuild); a second binary for `tapir forest` (two
 * programs to install and document for one CLI).
 * The cost: a host without libcurl.so.4 learns it when a notifier starts ("cannot start
 * libcurl") rather than at every start; the Debian dependency stays (tools/setup.sh).
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stddef.h>
#include <string.h>

#include "curl_dl.h"

struct tapir_curl_api tapir_curl;

static void *lib;                     /* libcurl's handle, once loaded */
static CURLcode (*global_init)(long); /* libcurl's curl_global_init */
static void (*global_cleanup)(void);  /* and curl_global_cleanup */
static char why[160];                 /* the last failure, for tapir_curl_error */

static void failed(const char *what)
{
    snprintf(why, sizeof(why), "%s", what ? what : "unknown error");
}

/* dlsym into *slot (a function pointer's storage); -1 when missing. */
static int sym(void *slot, const char *name)
{
    void *p = dlsym(lib, name);
    if (!p) {
        snprintf(why, sizeof(why), "libcurl.so.4 has no %s", name);
        return -1;
    }
    memcpy(slot, &p, sizeof(p)); /* POSIX: a function pointer has void *'s representation */
    return 0;
}

CURLcode tapir_curl_global_init(long flags)
{
    if (!lib) {
        void *h = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
        if (!h) {
            failed(dlerror()); /* "libcurl.so.4: cannot open shared object file: ..." */
            return CURLE_FAILED_INIT;
        }
        lib = h;
        struct tapir_curl_api a;
        if (sym(&a.easy_init, "curl_easy_init") < 0 ||
            sym(&a.easy_setopt, "curl_easy_setopt") < 0 ||
            sym(&a.easy_perform, "curl_easy_perform") < 0 ||
            sym(&a.easy_getinfo, "curl_easy_getinfo") < 0 ||
            sym(&a.easy_cleanup, "curl_easy_cleanup") < 0 ||
            sym(&a.easy_strerror, "curl_easy_strerror") < 0 ||
            sym(&a.slist_append, "curl_slist_append") < 0 ||
            sym(&a.slist_free_all, "curl_slist_free_all") < 0 ||
            sym(&global_init, "curl_global_init") < 0 ||
            sym(&global_cleanup, "curl_global_cleanup") < 0) {
            dlclose(h);
            lib = NULL;
            global_init = NULL;
            global_cleanup = NULL;
            return CURLE_FAILED_INIT;
        }
        tapir_curl = a;
    }
    CURLcode rc = global_init(flags);
    if (rc != CURLE_OK)
        snprintf(why, sizeof(why), "curl_global_init: error %d", (int)rc);
    return rc;
}

const char *tapir_curl_error(void)
{
    return why[0] ? why : "unknown error";
}

void tapir_curl_global_cleanup(void)
{
    if (global_cleanup)
        global_cleanup(); /* the library stays mapped: libcurl may not be unloadable */
}

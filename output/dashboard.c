/*
 * dashboard.c — the dashboard served by http.c: the page at / (and /dashboard), its
 * stylesheet (/dashboard.css) and script (/dashboard.js), and Chart.js at
 * /static/chart.js, all built into the binary so that it is the whole deployment: no
 * files to install, no CDN, no web fonts (the box may be offline).
 *
 * The page, the stylesheet and the script are ordinary files in output/static/, and
 * Chart.js is Debian's libjs-chart.js (a build dependency; the Makefile names the file
 * as TAPIR_CHARTJS and makes this object depend on it). The assembler's .incbin copies
 * each file into .rodata at build time, with a NUL after it. Rejected: the page as C
 * string literals (how it was: 740 lines of quoted JavaScript nobody could lint or
 * read, and a 200 kB minified library cannot be kept that way at all); a generated
 * xxd -i array (a build-time tool and a generated source that the fuzz build, which
 * compiles output/ on its own, would also have to make); reading the files at run time
 * (a deployment would need them installed and could drift from the binary).
 *
 * The script is a separate path rather than inline so that the page's
 * Content-Security-Policy can be "script-src 'self'" with no nonce or hash to keep in
 * step with edits. The page carries no data: the script asks the API for everything with
 * the bearer token the operator typed once (kept in localStorage), and puts every value
 * into the page as text (textContent), never as markup, so a hostile string stored in
 * the database (an AS name, say) cannot run in the operator's browser.
 *
 * Sizes (Chart.js 3.9.1 of Debian 12): chart.min.js 199,560 bytes, the page's own three
 * files about 40 kB; the binary grows by about 240 kB.
 */
#include "http.h"

#ifndef TAPIR_CHARTJS
#define TAPIR_CHARTJS "/usr/share/javascript/chart.js/chart.min.js"
#endif
#ifndef TAPIR_STATIC_DIR
#define TAPIR_STATIC_DIR "output/static"
#endif

/* A NUL-terminated copy of FILE at symbol NAME (const char NAME[]), and its length
 * without the NUL at NAME_len (uint64_t). */
#define EMBED(name, file)                                                                          \
    __asm__(".section .rodata\n"                                                                   \
            ".global " #name "\n"                                                                  \
            ".type " #name ", @object\n"                                                           \
            ".balign 16\n" #name ":\n"                                                             \
            ".incbin \"" file "\"\n" #name "_end:\n"                                               \
            ".byte 0\n"                                                                            \
            ".size " #name ", . - " #name "\n"                                                     \
            ".global " #name "_len\n"                                                              \
            ".type " #name "_len, @object\n"                                                       \
            ".balign 8\n" #name "_len:\n"                                                          \
            ".quad " #name "_end - " #name "\n"                                                    \
            ".size " #name "_len, 8\n"                                                             \
            ".previous\n")

EMBED(http_dashboard_html, TAPIR_STATIC_DIR "/dashboard.html");
EMBED(http_dashboard_css, TAPIR_STATIC_DIR "/dashboard.css");
EMBED(http_dashboard_js, TAPIR_STATIC_DIR "/dashboard.js");
EMBED(http_chartjs, TAPIR_CHARTJS);

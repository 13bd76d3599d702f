/*
 * curl_dl.h — libcurl loaded on first use (curl_dl.c), for the notifiers only: included
 * after <curl/curl.h> (through notify_int.h), it turns the 10 libcurl calls they make
 * into calls through pointers that curl_global_init() fills with dlopen/dlsym. A tapir
 * process that never starts a notifier (every `tapir forest`, query and model command,
 * and `tapir run` without --notify-*) then does not load libcurl and the 27 libraries it
 * pulls in (TLS, Kerberos, LDAP, SSH, IDN, HTTP/2...).
 */
#ifndef TAPIR_CURL_DL_H
#define TAPIR_CURL_DL_H

#include <curl/curl.h>

struct tapir_curl_api {
    CURL *(*easy_init)(void);
    CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
    CURLcode (*easy_perform)(CURL *);
    CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
    void (*easy_cleanup)(CURL *);
    const char *(*easy_strerror)(CURLcode);
    struct curl_slist *(*slist_append)(struct curl_slist *, const char *);
    void (*slist_free_all)(struct curl_slist *);
};

/* Filled by tapir_curl_global_init; the other calls are made only after it succeeded. */
extern struct tapir_curl_api tapir_curl;

/* dlopen("libcurl.so.4") once (the soname the link would have recorded), every symbol
 * above, then libcurl's own curl_global_init(flags). CURLE_FAILED_INIT when the library
 * or a symbol is missing. Not thread-safe, as curl_global_init is not. */
CURLcode tapir_curl_global_init(long flags);

/* Why the last tapir_curl_global_init failed: dlopen's or dlsym's message, or libcurl's
 * code. */
const char *tapir_curl_error(void);

/* libcurl's curl_global_cleanup, when tapir_curl_global_init loaded it; else nothing. */
void tapir_curl_global_cleanup(void);

/* curl.h makes curl_easy_setopt and curl_easy_getinfo type-checking macros under GCC;
 * through the pointers those checks are gone, so each setopt's argument type (long,
 * char *, curl_off_t) is checked by eye against curl_easy_setopt(3). */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#define curl_global_init(flags)    tapir_curl_global_init(flags)
#define curl_global_cleanup()      tapir_curl_global_cleanup()
#define curl_easy_init()           tapir_curl.easy_init()
#define curl_easy_setopt(h, o, v)  tapir_curl.easy_setopt(h, o, v)
#define curl_easy_perform(h)       tapir_curl.easy_perform(h)
#define curl_easy_getinfo(h, i, p) tapir_curl.easy_getinfo(h, i, p)
#define curl_easy_cleanup(h)       tapir_curl.easy_cleanup(h)
#define curl_easy_strerror(c)      tapir_curl.easy_strerror(c)
#define curl_slist_append(l, s)    tapir_curl.slist_append(l, s)
#define curl_slist_free_all(l)     tapir_curl.slist_free_all(l)

#endif

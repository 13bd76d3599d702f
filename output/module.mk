# output/ — the sources of this folder (one list; the Makefile and tests/fuzz/fuzz.mk read it).
OUTPUT_SRCS := \
    output/alert.c \
    output/alert_log.c \
    output/blocklist.c \
    output/blocklist_apply.c \
    output/blocklist_live.c \
    output/dashboard.c \
    output/http.c \
    output/http_api.c \
    output/http_limiter.c \
    output/json.c \
    output/store.c \
    output/store_query.c \
    output/store_schema.c \
    output/store_suppress.c \
    output/store_write.c
OUTPUT_SRCS += output/output.c
OUTPUT_SRCS += output/metrics.c
OUTPUT_SRCS += output/sink_store.c
OUTPUT_SRCS += output/sink_alert_log.c
OUTPUT_SRCS += output/sink_csv.c
OUTPUT_SRCS += output/sink_print.c
OUTPUT_SRCS += output/sink_http.c
OUTPUT_SRCS += output/http_conn.c
OUTPUT_SRCS += output/sink_notify.c output/notify_queue.c output/notify_webhook.c \
    output/notify_smtp.c output/notify_exec.c output/notify_syslog.c output/curl_dl.c
OUTPUT_SRCS += output/sink_blocklist.c

# sensor/ — the sources of this folder (one list; the Makefile and tests/fuzz/fuzz.mk read it).
SENSOR_SRCS := \
    sensor/capture.c \
    sensor/decode.c \
    sensor/dpi.c \
    sensor/dpi_worker.c \
    sensor/flow_table.c \
    sensor/host_table.c \
    sensor/rate.c \
    sensor/sensor.c \
    sensor/wqueue.c

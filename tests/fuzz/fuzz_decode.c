/*
 * fuzz_decode.c — the packet decoder (sensor/decode.c) on hostile bytes.
 *
 * Input: byte 0 picks the link type (every one decode_packet supports, plus one it does
 * not), bytes 1..2 shrink the wire length claim or grow it past the capture; the rest is
 * the packet. Checks beyond "no crash": the decoder's own contract — on a decoded packet
 * the L3 and payload pointers lie inside the captured bytes, and the IP length never
 * exceeds what the wire carried.
 */
#include <pcap/dlt.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"

static const int linktypes[] = {DLT_EN10MB, DLT_LINUX_SLL, DLT_LINUX_SLL2, DLT_RAW, DLT_IPV4,
                                DLT_IPV6,   DLT_NULL,      DLT_LOOP,       DLT_PPP};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    int lt = linktypes[data[0] % (sizeof(linktypes) / sizeof(linktypes[0]))];
    uint16_t wire_adj = (uint16_t)((data[1] << 8) | data[2]);
    data += 3;
    size -= 3;
    /* Copy to an exact-size heap buffer so ASan sees any read past the capture. */
    uint8_t *pkt = malloc(size ? size : 1);
    if (!pkt)
        return 0;
    memcpy(pkt, data, size);
    uint32_t cap = (uint32_t)size;
    uint32_t wire = (wire_adj & 0x8000) ? cap + (wire_adj & 0x7fff) : cap - (wire_adj % (cap + 1));

    struct pkt_info p;
    p.ts_us = 1;
    enum decode_result r = decode_packet(lt, pkt, cap, wire, &p);
    if ((unsigned)r >= DECODE_RESULT_COUNT)
        abort();
    (void)decode_result_name(r);
    if (r == DECODE_OK || r == DECODE_NOTE_FRAGMENT || r == DECODE_NOTE_OTHER_L4) {
        if (p.l3 < pkt || p.l3 + p.l3_cap > pkt + cap)
            abort();
        if (p.ip_len > p.wire_len)
            abort();
        if (p.payload && (p.payload < pkt || p.payload + p.payload_len > pkt + cap))
            abort();
        if (p.payload && p.payload_len)
            (void)decode_dns_qname_len(p.payload, p.payload_len);
    }
    /* The DNS name reader on the raw bytes as well: it takes any message. */
    (void)decode_dns_qname_len(pkt, cap);
    free(pkt);
    return 0;
}

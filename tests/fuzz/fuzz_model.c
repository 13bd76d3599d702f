/*
 * fuzz_model.c — the model loader (forest/model.c, iforest_deserialize) on hostile
 * files, then scoring and explaining with whatever loaded.
 *
 * A model file is checksummed, so random bytes stop at the CRC check. Byte 0 of the input
 * chooses: even — the rest is the file as is (header checks); odd — the rest is a payload
 * and the harness writes a correct header (magic, version, length, CRC-32) in front, so
 * the fuzzer reaches the section and tree parsers. That is the case the loader's contract
 * cares about: a crafted file with a valid checksum.
 */
#include <stdlib.h>
#include <zlib.h>

#include "fuzz_common.h"
#include "iforest.h"
#include "model.h"
#include "tapir.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    atexit(fuzz_remove_file);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    const char *path;
    if (data[0] & 1) {
        size_t plen = size - 1;
        uint8_t *buf = malloc(32 + plen);
        if (!buf)
            return 0;
        memset(buf, 0, 32);
        memcpy(buf, "TAPIRMDL", 8);
        put_le(buf + 8, MODEL_FORMAT_VERSION, 4);
        put_le(buf + 16, plen, 8);
        put_le(buf + 24, (uint32_t)crc32_z(crc32_z(0L, Z_NULL, 0), data + 1, plen), 4);
        memcpy(buf + 32, data + 1, plen);
        path = fuzz_write_file("model", buf, 32 + plen);
        free(buf);
    } else {
        path = fuzz_write_file("model", data + 1, size - 1);
    }
    struct model m;
    char errbuf[TAPIR_ERRBUF_SIZE] = "";
    if (model_load(path, &m, errbuf) < 0) {
        if (!errbuf[0] || m.sections || m.n_sections)
            abort(); /* a refusal says why and leaves *out empty */
        return 0;
    }
    /* What loaded must be usable: score and explain a few vectors with every section. */
    for (uint32_t k = 0; k < m.n_sections; k++) {
        const struct model_section *s = &m.sections[k];
        size_t nf = iforest_n_features(s->forest);
        if (nf != s->n_features)
            abort();
        float *x = calloc(nf, sizeof(float));
        double *contrib = calloc(nf, sizeof(double));
        if (!x || !contrib)
            abort();
        static const float probes[] = {0.0f, -1e30f, 1e30f, 0.5f};
        for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
            for (size_t j = 0; j < nf; j++)
                x[j] = probes[p] * (float)(j + 1);
            double sc = iforest_score(s->forest, x);
            if (!(sc > 0 && sc <= 1))
                abort(); /* contract: a score in (0, 1] */
            iforest_explain(s->forest, x, contrib);
        }
        free(x);
        free(contrib);
        (void)model_find(&m, s->name);
    }
    model_free(&m);
    return 0;
}

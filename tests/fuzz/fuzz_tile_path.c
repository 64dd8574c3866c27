/*
 * libFuzzer target: tile paths. Accepted paths are canonical, so formatting the parsed values
 * must give back the input exactly; and any formatted path must parse to its values.
 */
#include "auditfs/merkle.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256], again[AUDITFS_TILE_PATH_MAX];
    unsigned level, width, l2, w2;
    uint64_t index, i2;

    if (size < sizeof path) {
        memcpy(path, data, size);
        path[size] = '\0';
        if (auditfs_tile_path_parse(&level, &index, &width, path) == 0) {
            if (level > 63 || width == 0 || width > AUDITFS_TILE_WIDTH)
                abort();
            if (auditfs_tile_path(again, level, index, width) != 0 || strcmp(again, path) != 0)
                abort();
        }
    }

    /* Interpret the first 11 bytes as (level, index, width) and round-trip them. */
    if (size >= 11) {
        uint64_t v = 0;
        for (int i = 0; i < 8; i++)
            v = v << 8 | data[1 + i];
        level = data[0] % 64;
        width = 1 + (((unsigned)data[9] << 8 | data[10]) % AUDITFS_TILE_WIDTH);
        if (auditfs_tile_path(again, level, v, width) != 0)
            abort();
        if (strlen(again) >= AUDITFS_TILE_PATH_MAX)
            abort();
        if (auditfs_tile_path_parse(&l2, &i2, &w2, again) != 0 || l2 != level || i2 != v ||
            w2 != width)
            abort();
    }
    return 0;
}

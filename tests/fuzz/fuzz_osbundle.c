/* An OS update bundle's manifest and config as the node reads them
 * (agent/osbundle.c), from the master's store: signed, but parsed before
 * anything is written and so held to the same rules as any input. Whatever
 * is accepted names parts the hook can only write inside the slot: plain
 * names, sizes that add up, digests of 64 hex digits. The input's first
 * byte picks the manifest or the config reader. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "osbundle.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static struct brm_osbundle b;
        char why[600];
        uint64_t total = 0;

        if (size < 1)
                return 0;
        if (data[0] & 1) {
                if (brm_osbundle_config((const char *)data + 1, size - 1, &b, why, sizeof(why)) == 0 &&
                    (!brm_osbundle_valid_version(b.version) || !b.arch[0]))
                        abort();
                return 0;
        }
        if (brm_osbundle_manifest((const char *)data + 1, size - 1, &b, why, sizeof(why)) < 0)
                return 0;
        if (b.n == 0 || b.n > BRM_OSBUNDLE_MAX_PARTS || strlen(b.config_hex) != 64)
                abort();
        for (size_t i = 0; i < b.n; i++) {
                const char *t = b.parts[i].title, *slash = strchr(t, '/');
                if (strlen(b.parts[i].hex) != 64 || strspn(b.parts[i].hex, "0123456789abcdef") != 64)
                        abort();
                if (strstr(t, "..") && !slash)
                        abort();
                if (slash && (strchr(slash + 1, '/') || slash[1] == '.' || slash[1] == '\0'))
                        abort();
                if (b.parts[i].size == 0 || b.parts[i].size > BRM_OSBUNDLE_PART_MAX)
                        abort();
                total += b.parts[i].size;
        }
        if (total != b.total)
                abort();
        brm_osbundle_check(&b, 'a', why, sizeof(why));
        brm_osbundle_check(&b, 'b', why, sizeof(why));
        return 0;
}

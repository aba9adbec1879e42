/* Apply files (cli/applyfile.c, cli/applytree.c) on arbitrary text, read
 * as YAML or, when it starts with '{', as JSON: either services that each
 * pass the service contract, or one line "FILE:LINE: ..." and no
 * services. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applyfile.h"
#include "svcspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct brm_applyfile f;
        char err[600], why[512];

        err[0] = '\0';
        if (brm_applyfile_parse("f.yaml", (const char *)data, size, &f, err, sizeof(err)) < 0) {
                if (strncmp(err, "f.yaml:", 7) != 0 || strchr(err, '\n') || f.services || f.n)
                        abort();
                return 0;
        }
        if (err[0])
                abort();
        for (size_t i = 0; i < f.n; i++) {
                if (brm_svcspec_check(f.services[i], why, sizeof(why)) < 0)
                        abort();
                for (size_t j = 0; j < i; j++)
                        if (strcmp(f.services[i]->name, f.services[j]->name) == 0)
                                abort();
        }
        brm_applyfile_free(&f);
        return 0;
}

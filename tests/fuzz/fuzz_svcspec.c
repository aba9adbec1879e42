/* The service contract (lib/svcspec.c) on what a hostile operator client
 * could send: arbitrary bytes unpacked as a ServiceSpec, then checked. A
 * spec the contract accepts must have a valid name, replicas in range and
 * constraints that parse; a refusal always says why. Constraint and label
 * parsing also run on the raw text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bramble.pb-c.h"
#include "svcspec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        Bramble__ServiceSpec *sp = bramble__service_spec__unpack(NULL, size, data);
        struct brm_constraint c;
        const char *labels[] = { "zone=attic", "arch=arm64", "model=Raspberry Pi 4" };
        char why[512], *text;

        if (sp) {
                why[0] = 0;
                if (brm_svcspec_check(sp, why, sizeof(why)) == 0) {
                        if (!brm_valid_service_name(sp->name) || sp->replicas > BRM_SERVICE_MAX_REPLICAS)
                                abort();
                        for (size_t i = 0; i < sp->n_constraints; i++)
                                if (brm_constraint_parse(sp->constraints[i], &c, why, sizeof(why)) < 0)
                                        abort();
                } else if (!why[0]) {
                        abort();
                }
                bramble__service_spec__free_unpacked(sp, NULL);
        }
        if (!(text = malloc(size + 1)))
                return 0;
        memcpy(text, data, size);
        text[size] = 0;
        why[0] = 0;
        if (brm_constraint_parse(text, &c, why, sizeof(why)) == 0)
                (void)brm_constraint_match(&c, labels, 3);
        else if (!why[0])
                abort();
        why[0] = 0;
        if (brm_label_check(text, false, why, sizeof(why)) < 0 && !why[0])
                abort();
        free(text);
        return 0;
}

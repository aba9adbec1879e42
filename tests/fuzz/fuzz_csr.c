/* CSR signing policy on arbitrary DER. */
#include <stdint.h>
#include <stdlib.h>

#include "pki.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static int init;
        mbedtls_x509_csr csr;
        const char *why = NULL;

        if (!init) {
                brm_pki_init();
                init = 1;
        }
        mbedtls_x509_csr_init(&csr);
        if (brm_pki_csr_check(data, size, "pi-1", &csr, &why) < 0 && !why)
                abort(); /* a refusal always says why */
        mbedtls_x509_csr_free(&csr);
        return 0;
}

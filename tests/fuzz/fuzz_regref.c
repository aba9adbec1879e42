/* Image references (master/regref.c) and a registry's WWW-Authenticate
 * challenges and token answers (master/regauth.c) on arbitrary bytes; the
 * first byte picks the parser. What parses must hold its promises: a
 * reference formats to a name that parses back to the same parts, a
 * challenge has a scheme (and a Bearer one a realm), a token is visible
 * ASCII; a refusal says why on one line and leaves the output alone. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "regref.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_ref(const char *s)
{
        struct brm_regref r, r2;
        char why[256] = "", buf[700];
        int rc;

        memset(&r, 0x5a, sizeof(r));
        rc = brm_regref_parse(s, &r, why, sizeof(why));
        if (rc < 0) {
                if (!why[0] || strchr(why, '\n') || (unsigned char)r.repo[0] != 0x5a)
                        abort();
                return;
        }
        if (!r.repo[0] || !r.registry[0] || !r.host[0] || (!r.tag[0] && !r.digest[0]))
                abort();
        if (brm_regref_format(&r, buf, sizeof(buf)) < 0)
                abort();
        /* The full name is a fixed point. */
        if (brm_regref_parse(buf, &r2, why, sizeof(why)) < 0 || strcmp(r.registry, r2.registry) ||
            strcmp(r.repo, r2.repo) || strcmp(r.tag, r2.tag) || strcmp(r.digest, r2.digest) || strcmp(r.host, r2.host))
                abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct brm_regauth_challenge c;
        char *buf, *tok = (char *)"untouched", why[256] = "";

        if (size < 1)
                return 0;
        /* An exact-size copy, so ASan catches any read past the end. */
        if (!(buf = malloc(size)))
                return 0;
        if (data[0] % 3 == 0) {
                memcpy(buf, data + 1, size - 1);
                buf[size - 1] = '\0';
                check_ref(buf);
                free(buf);
                return 0;
        }
        /* The others take a length: the text ends where the allocation does. */
        memcpy(buf + 1, data + 1, size - 1);
        switch (data[0] % 3) {
        case 1:
                memset(&c, 0x5a, sizeof(c));
                if (brm_regauth_parse_challenge(buf + 1, size - 1, &c) == 0) {
                        if (c.scheme != BRM_REGAUTH_BASIC && c.scheme != BRM_REGAUTH_BEARER)
                                abort();
                        if (c.scheme == BRM_REGAUTH_BEARER && !c.realm[0])
                                abort();
                        if (!memchr(c.realm, 0, sizeof(c.realm)) || !memchr(c.scope, 0, sizeof(c.scope)) ||
                            !memchr(c.service, 0, sizeof(c.service)))
                                abort();
                } else if ((unsigned char)c.realm[0] != 0x5a) {
                        abort();
                }
                break;
        default:
                if (brm_regauth_parse_token(buf + 1, size - 1, &tok, why, sizeof(why)) == 0) {
                        for (const char *p = tok; *p; p++)
                                if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
                                        abort();
                        free(tok);
                } else if (!why[0] || strcmp(tok, "untouched")) {
                        abort();
                }
        }
        free(buf);
        return 0;
}

#include "token.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/md.h>

#include "util.h"

static const char prefix[] = "bramble1:";
static const char alphabet[] = "abcdefghijklmnopqrstuvwxyz0123456789";

static int all_in(const char *s, size_t n, const char *set)
{
        for (size_t i = 0; i < n; i++)
                if (!s[i] || !strchr(set, s[i]))
                        return 0;
        return 1;
}

int brm_token_valid_id(const char *s)
{
        return s && strlen(s) == BRM_TOKEN_ID_LEN && all_in(s, BRM_TOKEN_ID_LEN, alphabet);
}

const char *brm_token_problem(const char *s)
{
        const size_t plen = sizeof(prefix) - 1;
        const char *hash, *id, *secret;

        if (!s || !*s)
                return "token is empty";
        if (strlen(s) > BRM_TOKEN_MAX_LEN)
                return "token is too long";
        if (strncmp(s, prefix, plen) != 0)
                return "token must start with 'bramble1:' (create one with 'bramble token create')";
        hash = s + plen;
        if (strlen(hash) < 64 || hash[64] != ':' || !all_in(hash, 64, "0123456789abcdef"))
                return "token's CA hash must be 64 lower-case hex characters";
        id = hash + 65;
        if (strlen(id) < BRM_TOKEN_ID_LEN || id[BRM_TOKEN_ID_LEN] != '.' || !all_in(id, BRM_TOKEN_ID_LEN, alphabet))
                return "token id must be 6 characters of a-z and 0-9 followed by '.'";
        secret = id + BRM_TOKEN_ID_LEN + 1;
        if (strlen(secret) != BRM_TOKEN_SECRET_LEN || !all_in(secret, BRM_TOKEN_SECRET_LEN, alphabet))
                return "token secret must be 32 characters of a-z and 0-9";
        return NULL;
}

int brm_token_parse(const char *s, struct brm_token *ret)
{
        struct brm_token t;
        const char *hash;

        if (brm_token_problem(s))
                return -EINVAL;
        hash = s + sizeof(prefix) - 1;
        char hex[65];
        memcpy(hex, hash, 64);
        hex[64] = '\0';
        if (brm_unhex(hex, t.ca_hash, 32) < 0)
                return -EINVAL;
        memcpy(t.id, hash + 65, BRM_TOKEN_ID_LEN);
        t.id[BRM_TOKEN_ID_LEN] = '\0';
        memcpy(t.secret, hash + 65 + BRM_TOKEN_ID_LEN + 1, BRM_TOKEN_SECRET_LEN);
        t.secret[BRM_TOKEN_SECRET_LEN] = '\0';
        *ret = t;
        return 0;
}

void brm_token_format(const struct brm_token *t, char *out)
{
        char hex[65];

        brm_hex(t->ca_hash, 32, hex);
        snprintf(out, BRM_TOKEN_MAX_LEN, "%s%s:%s.%s", prefix, hex, t->id, t->secret);
}

static int random_chars(char *out, size_t n)
{
        size_t i = 0;

        while (i < n) {
                uint8_t b[32];
                int r = brm_random(b, sizeof(b));
                if (r < 0)
                        return r;
                /* Rejection sampling keeps every character equally likely. */
                for (size_t j = 0; j < sizeof(b) && i < n; j++)
                        if (b[j] < 252)
                                out[i++] = alphabet[b[j] % 36];
        }
        out[n] = '\0';
        return 0;
}

int brm_token_generate(const uint8_t ca_hash[32], struct brm_token *ret)
{
        struct brm_token t;
        int r;

        memcpy(t.ca_hash, ca_hash, 32);
        if ((r = random_chars(t.id, BRM_TOKEN_ID_LEN)) < 0 || (r = random_chars(t.secret, BRM_TOKEN_SECRET_LEN)) < 0)
                return r;
        *ret = t;
        return 0;
}

int brm_token_hash_secret(const char *secret, char out[65])
{
        uint8_t h[32];

        if (mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), (const unsigned char *)secret,
                       strlen(secret), h) != 0)
                return -EINVAL;
        brm_hex(h, 32, out);
        return 0;
}

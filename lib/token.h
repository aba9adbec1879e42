/* Join tokens: "bramble1:<sha256 of the CA certificate, hex>:<id>.<secret>".
 * The CA hash pins the cluster, so a node never trusts the first master it
 * reaches; the id names the token on the master; the secret is shown once
 * and stored only hashed. */
#ifndef BRM_TOKEN_H
#define BRM_TOKEN_H

#include <stdint.h>

#define BRM_TOKEN_ID_LEN 6
#define BRM_TOKEN_SECRET_LEN 32
#define BRM_TOKEN_MAX_LEN 128

struct brm_token {
        uint8_t ca_hash[32];
        char id[BRM_TOKEN_ID_LEN + 1];
        char secret[BRM_TOKEN_SECRET_LEN + 1];
};

/* NULL when s is a well-formed token, else a short description of what is
 * wrong with it (static string). */
const char *brm_token_problem(const char *s);
/* Returns 0, or -EINVAL when brm_token_problem() would say why. */
int brm_token_parse(const char *s, struct brm_token *ret);
/* Writes the token text into out (BRM_TOKEN_MAX_LEN bytes). */
void brm_token_format(const struct brm_token *t, char *out);
/* A fresh random id and secret for the CA with the given hash. */
int brm_token_generate(const uint8_t ca_hash[32], struct brm_token *ret);
/* Hex SHA-256 of the secret (65 bytes), the only form the master stores. */
int brm_token_hash_secret(const char *secret, char out[65]);
/* True if s is a token id (6 chars of [a-z0-9]). */
int brm_token_valid_id(const char *s);

#endif

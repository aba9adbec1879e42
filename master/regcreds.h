/* What the master knows of each registry it pulls from: credentials in
 * DATA_DIR/registries.json (mode 0600; the password is kept as given,
 * since the registry needs it, and never sent back to a client), a CA in
 * DATA_DIR/certs.d/HOST:PORT/ca.crt (the containers convention, so a CA
 * put there by hand works the same), and whether plain HTTP was asked for.
 * Also the route handlers for bramble registry login / ls / logout. */
#ifndef BRM_REGCREDS_H
#define BRM_REGCREDS_H

#include <stdbool.h>
#include <stddef.h>

#include "bramble.pb-c.h"

#define BRM_REGCREDS_FILE "registries.json"
#define BRM_CERTS_DIR "certs.d"

struct brm_regcred {
        char host[256];          /* HOST[:PORT] */
        char username[256];
        char password[1024];
        bool insecure_http;
        bool has_ca;             /* certs.d/HOST/ca.crt exists */
};

/* Whether HOST is a registry host name: HOST or HOST:PORT of letters,
 * digits, '.', '-' (and an IPv6 literal in brackets), nothing that could
 * name another path under certs.d. */
bool brm_regcreds_host_valid(const char *host);

/* The entry for HOST; -ENOENT when there is none (has_ca is still set
 * when a CA file is there). */
int brm_regcreds_get(const char *data_dir, const char *host, struct brm_regcred *ret);

/* Adds or replaces the entry for c->host; CA_PEM (may be NULL) is checked
 * to be a certificate and written to certs.d/HOST/ca.crt. */
int brm_regcreds_set(const char *data_dir, const struct brm_regcred *c, const void *ca_pem, size_t ca_len, char *why,
                     size_t why_size);

/* Removes the entry and the CA file of HOST; -ENOENT if neither was there. */
int brm_regcreds_remove(const char *data_dir, const char *host, char *why, size_t why_size);

/* Every entry, in file order, in an array the caller frees. */
int brm_regcreds_list(const char *data_dir, struct brm_regcred **ret, size_t *ret_n);

struct brm_session;
void brm_regcreds_login(struct brm_session *s, const Bramble__Envelope *env);
void brm_regcreds_ls(struct brm_session *s, const Bramble__Envelope *env);
void brm_regcreds_logout(struct brm_session *s, const Bramble__Envelope *env);

#endif

/* The masters an agent with "master": "auto" tries, in turn: first the
 * addresses that last worked (remembered in the state dir, file
 * "master-addrs"), then whatever bramble-browse found on the LAN whose
 * announced CA matches the pinned one. The TLS pin stays the real check;
 * the announcement's ca= only spares a master of another cluster the
 * attempt. */
#ifndef BRM_MASTERS_H
#define BRM_MASTERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "discover.h"

#define BRM_MASTERS_MAX (BRM_DISCOVER_MAX + 4)
#define BRM_MASTERS_REMEMBER 4

struct brm_masters {
        struct {
                char addr[32];
                bool found;     /* by mDNS in this round; else remembered */
        } c[BRM_MASTERS_MAX];
        size_t n, idx;
        char remembered[BRM_MASTERS_REMEMBER][32];
        size_t n_remembered;
        char path[1100];
};

/* Loads the remembered addresses (a missing or unreadable file is no
 * addresses); the first round tries them. */
void brm_masters_init(struct brm_masters *ms, const char *state_dir);
/* The next address of this round and whether mDNS found it; NULL when the
 * round is over (browse, then brm_masters_found). */
const char *brm_masters_next(struct brm_masters *ms, bool *ret_found);
/* Starts a round with what the browse found, skipping (with a log line)
 * announcements whose ca= is not the pinned hash's prefix; the remembered
 * addresses follow. pin_what names where the pin comes from ("the token",
 * "ca.crt"). Returns the number of addresses in the round. */
size_t brm_masters_found(struct brm_masters *ms, const struct brm_discover_found *f, size_t n, const uint8_t pin[32],
                         const char *pin_what);
/* ADDR answered: it goes first in the remembered list (written atomically
 * when it changed), and the next round starts with the remembered ones. */
void brm_masters_good(struct brm_masters *ms, const char *addr);
/* The current address is to be tried again next (after a join, the same
 * master is asked again with the new certificate). */
void brm_masters_again(struct brm_masters *ms);

#endif

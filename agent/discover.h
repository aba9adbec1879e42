/* Finding the master on the LAN: runs bramble-browse (agent/browse_main.c,
 * DNS-SD over multicast DNS, lib/mdns.h) and reads what it found. */
#ifndef BRM_DISCOVER_H
#define BRM_DISCOVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define BRM_DISCOVER_MAX 16

struct brm_discover_found {
        char instance[64];
        char addr[32];          /* IP:PORT */
        char ca[17];            /* first 16 hex digits of the announced CA hash; "" = none */
};

/* Runs once: status 0 with what was found (n may be 0), or a negative
 * errno when the helper failed (it could not open its socket, ...). */
typedef void (*brm_discover_cb)(void *arg, int status, const struct brm_discover_found *found, size_t n);

struct brm_discover;

/* Starts the helper (a path, or a name looked up in PATH). Returns 0 and
 * calls cb exactly once later, or a negative errno and never calls it. */
int brm_discover_start(uv_loop_t *loop, const char *helper, brm_discover_cb cb, void *arg, struct brm_discover **ret);
/* Stops the helper; cb is not called after this. Accepts NULL. */
void brm_discover_cancel(struct brm_discover *d);
/* Reads the helper's output ("master INSTANCE IP PORT CA" lines); lines
 * that are not well formed are skipped. Returns the number written. */
size_t brm_discover_parse(const char *text, struct brm_discover_found *out, size_t max);

#endif

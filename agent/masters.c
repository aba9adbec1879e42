/* The masters of "master": "auto"; see masters.h. */
#include "masters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "fileio.h"
#include "log.h"
#include "util.h"

#define MOD "link"

static void add(struct brm_masters *ms, const char *addr, bool found)
{
        for (size_t i = 0; i < ms->n; i++)
                if (strcmp(ms->c[i].addr, addr) == 0)
                        return;
        if (ms->n == BRM_MASTERS_MAX || strlen(addr) >= sizeof(ms->c[0].addr))
                return;
        snprintf(ms->c[ms->n].addr, sizeof(ms->c[0].addr), "%s", addr);
        ms->c[ms->n++].found = found;
}

static void round_of_remembered(struct brm_masters *ms)
{
        ms->n = ms->idx = 0;
        for (size_t i = 0; i < ms->n_remembered; i++)
                add(ms, ms->remembered[i], false);
}

void brm_masters_init(struct brm_masters *ms, const char *state_dir)
{
        uint8_t *data;
        size_t len;
        char host[256];
        uint16_t port;

        memset(ms, 0, sizeof(*ms));
        snprintf(ms->path, sizeof(ms->path), "%s/master-addrs", state_dir);
        if (brm_file_read(ms->path, 4096, &data, &len) == 0) {
                for (char *save = NULL, *l = strtok_r((char *)data, "\n", &save);
                     l && ms->n_remembered < BRM_MASTERS_REMEMBER; l = strtok_r(NULL, "\n", &save))
                        if (strlen(l) < sizeof(ms->remembered[0]) && brm_parse_hostport(l, host, sizeof(host), &port) == 0)
                                snprintf(ms->remembered[ms->n_remembered++], sizeof(ms->remembered[0]), "%s", l);
                free(data);
        }
        round_of_remembered(ms);
        if (ms->n_remembered)
                brm_info(MOD, "trying the master's last good address%s first: %s%s", ms->n_remembered > 1 ? "es" : "",
                         ms->remembered[0], ms->n_remembered > 1 ? " and others" : "");
}

const char *brm_masters_next(struct brm_masters *ms, bool *ret_found)
{
        if (ms->idx >= ms->n)
                return NULL;
        *ret_found = ms->c[ms->idx].found;
        return ms->c[ms->idx++].addr;
}

void brm_masters_again(struct brm_masters *ms)
{
        if (ms->idx > 0)
                ms->idx--;
}

size_t brm_masters_found(struct brm_masters *ms, const struct brm_discover_found *f, size_t n, const uint8_t pin[32],
                         const char *pin_what)
{
        char want[65];

        brm_hex(pin, 32, want);
        want[16] = '\0';
        ms->n = ms->idx = 0;
        for (size_t i = 0; i < n; i++) {
                if (strcmp(f[i].ca, want) != 0) {
                        brm_info(MOD, "skipping master %s at %s (found by mDNS): it announces ca=%s, not the CA pinned by %s "
                                 "(%s...)", f[i].instance, f[i].addr, f[i].ca[0] ? f[i].ca : "(none)", pin_what, want);
                        continue;
                }
                brm_info(MOD, "found master %s at %s by mDNS (ca=%s matches %s)", f[i].instance, f[i].addr, f[i].ca,
                         pin_what);
                add(ms, f[i].addr, true);
        }
        for (size_t i = 0; i < ms->n_remembered; i++)
                add(ms, ms->remembered[i], false);
        return ms->n;
}

void brm_masters_good(struct brm_masters *ms, const char *addr)
{
        char text[BRM_MASTERS_REMEMBER * 33] = "";
        char keep[BRM_MASTERS_REMEMBER][32];
        size_t n = 0;
        int r;

        if (ms->n_remembered && strcmp(ms->remembered[0], addr) == 0) {
                round_of_remembered(ms);
                return;
        }
        snprintf(keep[n++], sizeof(keep[0]), "%s", addr);
        for (size_t i = 0; i < ms->n_remembered && n < BRM_MASTERS_REMEMBER; i++)
                if (strcmp(ms->remembered[i], addr) != 0)
                        snprintf(keep[n++], sizeof(keep[0]), "%s", ms->remembered[i]);
        memcpy(ms->remembered, keep, sizeof(keep));
        ms->n_remembered = n;
        for (size_t i = 0; i < n; i++)
                snprintf(text + strlen(text), sizeof(text) - strlen(text), "%s\n", keep[i]);
        if ((r = brm_file_write_atomic(ms->path, text, strlen(text), 0600)) < 0)
                brm_warn(MOD, "cannot remember the master's address in %s: %s", ms->path, brm_strerror(r));
        else
                brm_info(MOD, "remembered master address %s in %s", addr, ms->path);
        round_of_remembered(ms);
}

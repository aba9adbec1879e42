/* What the supervisor could not write yet (supervisor_internal.h).
 *
 * A node whose data partition is full or read-only must still stop and
 * remove what it is told to: the supervisor applies every change in
 * memory first and writes its records after. What fails to be written
 * (desired.json, a container's state.json, the removal of a removed
 * container's records) is marked and tried again every RETRY_MS until it
 * is written; meanwhile the first reason is reported (in heartbeats, so
 * the master shows it), never hidden behind a success. The only cost of a
 * record not written is what it would have given across an agent restart:
 * the old desired set there, until the master sends the new one again. */
#include "supervisor_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define MOD "supervisor"
#define RETRY_MS 2000

static void retry(uv_timer_t *t);

/* Notes what failed (the first reason of a round is the one reported)
 * and makes sure it is tried again. */
static void failed(struct brm_supervisor *sup, const char *what, int r)
{
        if (!sup->persist_error[0]) {
                snprintf(sup->persist_error, sizeof(sup->persist_error), "%s: %s", what, strerror(-r));
                if (!sup->retrying)
                        brm_err(MOD, "cannot write %s: %s; applied in memory, retrying every %d s", what,
                                strerror(-r), RETRY_MS / 1000);
        }
        if (!sup->closing && !uv_is_active((uv_handle_t *)&sup->retry))
                uv_timer_start(&sup->retry, retry, RETRY_MS, RETRY_MS);
}

int brm_persist_desired(struct brm_supervisor *sup)
{
        struct brm_container_spec *specs;
        size_t n = 0;
        int r;

        sup->desired_dirty = true;
        for (struct container *c = sup->list; c; c = c->next)
                n += c->has_desired && !c->closing;
        if (!(specs = calloc(n ? n : 1, sizeof(*specs)))) {
                failed(sup, "desired.json", -ENOMEM);
                return -ENOMEM;
        }
        n = 0;
        /* The list holds the newest first: written oldest first, as given. */
        for (struct container *c = sup->list; c; c = c->next)
                if (c->has_desired && !c->closing)
                        specs[n++] = c->desired;
        for (size_t i = 0; i < n / 2; i++) {
                struct brm_container_spec t = specs[i];
                specs[i] = specs[n - 1 - i];
                specs[n - 1 - i] = t;
        }
        r = brm_ctrrecord_save_desired(sup->dir, specs, n);
        free(specs);
        if (r < 0) {
                failed(sup, "desired.json", r);
                return r;
        }
        sup->desired_dirty = false;
        return 0;
}

int brm_persist_state(struct container *c)
{
        char what[96];
        int r = brm_ctrrecord_save_state(c->sup->dir, c->name, &c->rec);

        c->state_dirty = r < 0;
        if (r < 0) {
                snprintf(what, sizeof(what), "%s/state.json", c->name);
                failed(c->sup, what, r);
        }
        return r;
}

int brm_persist_removed(struct brm_supervisor *sup, const char *name)
{
        char what[96];
        int r = brm_ctrrecord_remove(sup->dir, name);

        if (r < 0) {
                sup->records_left = true;
                snprintf(what, sizeof(what), "the records of removed container %s", name);
                failed(sup, what, r);
        }
        return r;
}

/* Record directories of containers the supervisor no longer has. */
static void leftover(const char *name, void *arg)
{
        struct brm_supervisor *sup = arg;

        for (struct container *c = sup->list; c; c = c->next)
                if (strcmp(c->name, name) == 0)
                        return;
        brm_persist_removed(sup, name);
}

/* Everything marked, once more. The reason reported is this round's; the
 * log hears of it only when it changes. */
static void retry(uv_timer_t *t)
{
        struct brm_supervisor *sup = t->data;
        char before[sizeof(sup->persist_error)];
        bool ok = true;

        memcpy(before, sup->persist_error, sizeof(before));
        sup->persist_error[0] = '\0';
        sup->retrying = true;
        if (sup->desired_dirty)
                ok &= brm_persist_desired(sup) == 0;
        for (struct container *c = sup->list; c; c = c->next)
                if (c->state_dirty && !c->closing)
                        ok &= brm_persist_state(c) == 0;
        if (sup->records_left) {
                sup->records_left = false;
                brm_ctrrecord_list(sup->dir, leftover, sup);
                ok &= !sup->records_left;
        }
        sup->retrying = false;
        if (ok) {
                uv_timer_stop(&sup->retry);
                brm_info(MOD, "the container records are written again");
        } else if (strcmp(before, sup->persist_error) != 0) {
                brm_err(MOD, "still cannot write the container records: %s; retrying every %d s", sup->persist_error,
                        RETRY_MS / 1000);
        }
}

const char *brm_supervisor_persist_problem(const struct brm_supervisor *sup)
{
        return sup->persist_error[0] ? sup->persist_error : NULL;
}

/* The supervisor's on-disconnect stop (supervisor.h,
 * brm_supervisor_set_master): a container whose desired spec has
 * disconnect_stop_ms is stopped by the node once the node has been
 * without a master session that long, so that a replica cut off from its
 * master does not serve on beside the replacement the master schedules
 * elsewhere. The desired set is not changed: the flag lives only in
 * memory, and the next desired state applied while a session is up clears
 * it, so a container its master still lists starts again. One timer for
 * the whole supervisor, armed for the nearest such stop. */
#include "supervisor_internal.h"

#include <stdio.h>

#include "log.h"
#include "util.h"

#define MOD "supervisor"

static void disc_fire(uv_timer_t *t);

/* Stops what is due and arms the timer for the nearest stop to come. */
static void arm(struct brm_supervisor *sup)
{
        uint64_t now = brm_mono_ms(), next = UINT64_MAX, gone = now - sup->master_lost_ms;

        uv_timer_stop(&sup->disc);
        if (sup->master_up || sup->closing)
                return;
        for (struct container *c = sup->list; c; c = c->next) {
                if (c->closing || !c->has_desired || !c->desired.disconnect_stop_ms || c->disc_stopped ||
                    c->desired.stopped)
                        continue;
                if (gone >= c->desired.disconnect_stop_ms) {
                        double s = (double)c->desired.disconnect_stop_ms / 1000.0;
                        c->disc_stopped = true;
                        snprintf(c->disc_why, sizeof(c->disc_why), "stopped: no master for %gs (on-disconnect stop-after %gs)",
                                 (double)gone / 1000.0 < s ? s : (double)(gone / 1000), s);
                        brm_warn(MOD, "%s: %s", c->name, c->disc_why);
                        brm_supervisor_converge(c);
                } else if (c->desired.disconnect_stop_ms - gone < next) {
                        next = c->desired.disconnect_stop_ms - gone;
                }
        }
        if (next != UINT64_MAX)
                uv_timer_start(&sup->disc, disc_fire, next, 0);
}

static void disc_fire(uv_timer_t *t)
{
        arm(t->data);
}

void brm_ondisconnect_init(struct brm_supervisor *sup)
{
        uv_timer_init(sup->loop, &sup->disc);
        sup->disc.data = sup;
        sup->master_up = false;
        sup->master_lost_ms = brm_mono_ms();
}

void brm_ondisconnect_applied(struct brm_supervisor *sup)
{
        if (sup->master_up) {
                for (struct container *c = sup->list; c; c = c->next)
                        if (c->disc_stopped) {
                                brm_info(MOD, "%s: the master lists it again: starting", c->name);
                                c->disc_stopped = false;
                        }
        }
        arm(sup);
}

void brm_supervisor_set_master(struct brm_supervisor *sup, bool up)
{
        if (sup->master_up == up)
                return;
        sup->master_up = up;
        if (!up)
                sup->master_lost_ms = brm_mono_ms();
        arm(sup);
}

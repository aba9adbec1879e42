/* bramble events [-f]: what the master decided about services and why
 * (placements, restarts, health, updates, rollbacks), oldest first. */
#ifndef BRM_CLI_EVENTS_H
#define BRM_CLI_EVENTS_H

struct brm_cli;

/* -f: polls every 500 ms for events after the last one seen and prints
 * them until interrupted. -o json: one JSON object per line. */
int brm_cli_events(struct brm_cli *c, int argc, char **argv);

#endif

/* The join settings a node finds in bramble.json on its boot partition:
 * taken from the options of 'bramble image configure' and 'bramble flash',
 * and turned into the file's text. Writing the file into an image is
 * image.c's job. */
#ifndef BRM_CLI_BOOTCFG_H
#define BRM_CLI_BOOTCFG_H

#include <stdbool.h>
#include <stdio.h>

#define BRM_BOOTCFG_MAX_MASTERS 8
#define BRM_BOOTCFG_MAX_WIFI 8

/* A Wi-Fi network the node joins. */
struct brm_bootcfg_wifi {
        const char *ssid; /* 1-32 bytes */
        bool hidden;      /* not in the access point's beacons: scanned for by name */
        char psk[65];     /* the key, 64 hex digits (brm_bootcfg_read_psks) */
};

/* The strings point into argv; nothing here is owned. */
struct brm_bootcfg {
        const char *masters[BRM_BOOTCFG_MAX_MASTERS]; /* HOST:PORT each */
        int nmasters;
        const char *token;  /* a join token ('bramble token create') */
        const char *prefix; /* the node names itself PREFIX-<serial>; NULL: "bramble" */
        const char *name;   /* a fixed node name, or NULL */
        bool master_auto;   /* --master auto: the node finds the master by mDNS */
        struct brm_bootcfg_wifi wifi[BRM_BOOTCFG_MAX_WIFI];
        int nwifi;
        char country[3];    /* ISO 3166 alpha-2, upper case; "" when not given */
        bool psk_stdin;     /* --wifi-psk-stdin */
};

/* Takes the join option at argv[*i] (--master, --token, --name-prefix,
 * --name, --wifi-ssid, --wifi-country as "--opt VALUE" or "--opt=VALUE";
 * --wifi-hidden (for the --wifi-ssid before it) and --wifi-psk-stdin),
 * moving *i past its value.
 * Returns 1 when it was one, 0 when argv[*i] is not a join option, and
 * -EINVAL after printing "bramble CMD: ..." when its value is bad. */
int brm_bootcfg_take_opt(const char *cmd, int argc, char **argv, int *i, struct brm_bootcfg *cfg);

/* After the options: checks that the Wi-Fi options go together (a network
 * needs --wifi-psk-stdin and --wifi-country) and reads one passphrase per
 * --wifi-ssid, a line each, from in (a prompt without echo when it is a
 * terminal), storing the derived key. A line of 64 hex digits is taken as
 * the key itself. Returns 0, or -EINVAL after printing "bramble CMD: ...". */
int brm_bootcfg_read_psks(const char *cmd, struct brm_bootcfg *cfg, FILE *in);

/* True when cc is an ISO 3166-1 alpha-2 code (either case). */
bool brm_bootcfg_country_known(const char *cc);

/* The text of bramble.json for cfg (which has at least one master, or
 * master_auto, and a token), ending in a newline; free it with free(). Returns 0 or -ENOMEM. */
int brm_bootcfg_json(const struct brm_bootcfg *cfg, char **ret_text);

#endif

/* The join settings a node finds in bramble.json on its boot partition:
 * taken from the options of 'bramble image configure' and 'bramble flash',
 * and turned into the file's text. Writing the file into an image is
 * image.c's job. */
#ifndef BRM_CLI_BOOTCFG_H
#define BRM_CLI_BOOTCFG_H

#define BRM_BOOTCFG_MAX_MASTERS 8

/* The strings point into argv; nothing here is owned. */
struct brm_bootcfg {
        const char *masters[BRM_BOOTCFG_MAX_MASTERS]; /* HOST:PORT each */
        int nmasters;
        const char *token;  /* a join token ('bramble token create') */
        const char *prefix; /* the node names itself PREFIX-<serial>; NULL: "bramble" */
        const char *name;   /* a fixed node name, or NULL */
};

/* Takes the join option at argv[*i] (--master, --token, --name-prefix,
 * --name, as "--opt VALUE" or "--opt=VALUE"), moving *i past its value.
 * Returns 1 when it was one, 0 when argv[*i] is not a join option, and
 * -EINVAL after printing "bramble CMD: ..." when its value is bad. */
int brm_bootcfg_take_opt(const char *cmd, int argc, char **argv, int *i, struct brm_bootcfg *cfg);

/* The text of bramble.json for cfg (which has at least one master and a
 * token), ending in a newline; free it with free(). Returns 0 or -ENOMEM. */
int brm_bootcfg_json(const struct brm_bootcfg *cfg, char **ret_text);

#endif

/* The container-spec contract every side checks (lib/ctrspec.c): each
 * rule refuses with a message naming the field, and the edges that used to
 * disagree between the CLI, the master and the node are pinned here: 63
 * arguments pass and 64 do not (the node keeps them NULL-terminated in
 * 64), a relative --workdir is refused, an unknown --restart is refused
 * rather than read as "never". */
#include <errno.h>

#include "check.h"
#include "ctrspec.h"

static Bramble__ContainerSpec base(void)
{
        Bramble__ContainerSpec s = BRAMBLE__CONTAINER_SPEC__INIT;
        s.name = "web";
        s.image = "/srv/rootfs";
        return s;
}

static void refused(const Bramble__ContainerSpec *s, const char *needle)
{
        char why[256] = "";
        CHECK_INT(brm_ctrspec_check(s, why, sizeof(why)), ==, -EINVAL);
        if (!strstr(why, needle)) {
                fprintf(stderr, "reason \"%s\" does not mention \"%s\"\n", why, needle);
                exit(1);
        }
}

static void accepted(const Bramble__ContainerSpec *s)
{
        char why[256] = "";
        if (brm_ctrspec_check(s, why, sizeof(why)) != 0) {
                fprintf(stderr, "refused a valid spec: %s\n", why);
                exit(1);
        }
}

int main(void)
{
        Bramble__ContainerSpec s = base();
        char *args[70], *env[70], big[BRM_CTRSPEC_MAX_STRING + 2];

        accepted(&s);
        refused(NULL, "no container spec");

        s.name = "Web";
        refused(&s, "'Web' is not a valid container name");
        s.name = NULL;
        refused(&s, "not a valid container name");
        s = base();
        s.image = "";
        refused(&s, "--image is required");
        s.image = NULL;
        refused(&s, "--image is required");

        /* Arguments: 63 fit, 64 do not, whatever side checks. */
        s = base();
        for (int i = 0; i < 70; i++)
                args[i] = "x";
        s.args = args;
        s.n_args = 63;
        accepted(&s);
        s.n_args = 64;
        refused(&s, "64 command arguments: at most 63");
        s.n_args = 2;
        args[1] = NULL;
        refused(&s, "command argument 2 is missing");
        memset(big, 'a', sizeof(big) - 1);
        big[sizeof(big) - 1] = '\0';
        args[1] = big;
        refused(&s, "command argument 2 is 16385 bytes: at most 16384");
        args[1] = "caf\xc3\xa9";
        accepted(&s);
        args[1] = "\xc3(";
        refused(&s, "command argument 2 is not valid UTF-8");
        args[1] = "\xed\xa0\x80"; /* a UTF-16 surrogate */
        refused(&s, "not valid UTF-8");
        args[1] = "\xc0\xaf"; /* an overlong '/' */
        refused(&s, "not valid UTF-8");
        args[1] = "\xf4\x90\x80\x80"; /* above U+10FFFF */
        refused(&s, "not valid UTF-8");
        args[1] = "\xf0\x9f\x8d\x93";
        accepted(&s);

        /* Environment. */
        s = base();
        for (int i = 0; i < 70; i++)
                env[i] = "K=V";
        s.env = env;
        s.n_env = 63;
        accepted(&s);
        s.n_env = 64;
        refused(&s, "64 --env values: at most 63");
        s.n_env = 1;
        env[0] = "NOEQUALS";
        refused(&s, "--env 'NOEQUALS' is not KEY=VALUE");
        env[0] = "=v";
        refused(&s, "--env '=v' is not KEY=VALUE");
        env[0] = "EMPTY=";
        accepted(&s);

        /* The working directory: absolute, else refused (the node used to
         * take "srv" and fail at start). */
        s = base();
        s.workdir = "srv";
        refused(&s, "--workdir 'srv' is not an absolute path");
        s.workdir = "/srv";
        accepted(&s);
        s.workdir = "";
        accepted(&s);

        /* Names: an unknown value is refused (the node used to read an
         * unknown --restart as "never"). */
        s = base();
        s.restart = "sometimes";
        refused(&s, "--restart 'sometimes' is not known");
        s.restart = "on-failure";
        accepted(&s);
        CHECK_INT(brm_ctrspec_lookup(brm_ctrspec_restart_names, 3, "on-failure"), ==, 1);
        CHECK_INT(brm_ctrspec_lookup(brm_ctrspec_restart_names, 3, NULL), ==, 0);
        s.network = "bridge";
        refused(&s, "--network 'bridge' is not known");
        s.network = "none";
        accepted(&s);
        CHECK_INT(brm_ctrspec_lookup(brm_ctrspec_network_names, 2, "none"), ==, 1);

        /* Limits. */
        s = base();
        s.has_memory_max = 1;
        s.memory_max = 4095;
        refused(&s, "--memory must be at least 4K");
        s.memory_max = 32 << 20;
        s.has_memory_high = 1;
        s.memory_high = 64 << 20;
        refused(&s, "--memory-high must not exceed --memory");
        s.memory_high = 16 << 20;
        accepted(&s);
        s.has_cpu_millis = 1;
        s.cpu_millis = 0;
        refused(&s, "--cpus must be greater than 0");
        s.cpu_millis = 500;
        s.has_pids_max = 1;
        s.pids_max = 0;
        refused(&s, "--pids must be from 1");
        s.pids_max = 100;
        accepted(&s);

        printf("ctrspec: ok\n");
        return 0;
}

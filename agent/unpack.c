/* Runs bramble-unpack and reads its answer; see unpack.h. */
#include "unpack.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bramble.pb-c.h"
#include "util.h"

#define ANSWER_MAX (1u << 20) /* far more than any image config the agent accepts */

#define WHY(...) ((void)snprintf(why, why_size, __VA_ARGS__))

extern char **environ;

/* Copies a repeated string field into a NULL-terminated array of max
 * entries (the last stays NULL). */
static int copy_strv(char **out, size_t max, char **in, size_t n)
{
        if (n >= max)
                return -E2BIG;
        for (size_t i = 0; i < n; i++)
                if (!(out[i] = strdup(in[i] ? in[i] : "")))
                        return -ENOMEM;
        return 0;
}

static int copy_config(const Bramble__ImageConfig *c, struct brm_image_config *img)
{
        int r;

        if (!c || !c->rootfs || brm_path(img->rootfs, sizeof(img->rootfs), "%s", c->rootfs) < 0 ||
            brm_path(img->digest, sizeof(img->digest), "%s", c->digest ? c->digest : "") < 0 ||
            brm_path(img->workdir, sizeof(img->workdir), "%s", c->workdir ? c->workdir : "") < 0 ||
            brm_path(img->user, sizeof(img->user), "%s", c->user ? c->user : "") < 0)
                return -EBADMSG;
        if ((r = copy_strv(img->entrypoint, BRM_MAX_ARGS, c->entrypoint, c->n_entrypoint)) < 0 ||
            (r = copy_strv(img->cmd, BRM_MAX_ARGS, c->cmd, c->n_cmd)) < 0 ||
            (r = copy_strv(img->env, BRM_MAX_ENV, c->env, c->n_env)) < 0)
                return r;
        return 0;
}

int brm_unpack_run(const char *helper, const char *store, const char *ref, struct brm_image_config *ret, char *why,
                   size_t why_size)
{
        char *argv[] = { (char *)helper, (char *)store, (char *)ref, NULL };
        posix_spawn_file_actions_t fa;
        Bramble__UnpackResult *res = NULL;
        struct brm_image_config img;
        uint8_t *buf = NULL;
        size_t len = 0, cap = 0;
        int fds[2], st = 0, r;
        pid_t pid;

        memset(&img, 0, sizeof(img));
        if (why_size)
                why[0] = '\0';
        /* A root file-system directory needs nothing unpacked: no helper. */
        enum brm_image_kind kind;
        if ((r = brm_image_identify(ref, &kind, why, why_size)) < 0)
                return r;
        if (kind == BRM_IMAGE_ROOTFS) {
                if ((r = brm_image_rootfs_path(ref, ref, &img, why, why_size)) == 0)
                        *ret = img;
                return r;
        }
        if (pipe2(fds, O_CLOEXEC) < 0)
                return WHY("image %s: pipe: %s", ref, strerror(errno)), -errno;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        r = strchr(helper, '/') ? posix_spawn(&pid, helper, &fa, NULL, argv, environ)
                                : posix_spawnp(&pid, helper, &fa, NULL, argv, environ);
        posix_spawn_file_actions_destroy(&fa);
        close(fds[1]);
        if (r != 0) {
                close(fds[0]);
                WHY("image %s: cannot run the image helper %s: %s", ref, helper, strerror(r));
                return -r;
        }
        for (;;) {
                if (len == cap) {
                        uint8_t *t;
                        if (cap >= ANSWER_MAX) {
                                r = -EMSGSIZE;
                                break;
                        }
                        cap = cap ? cap * 4 : 4096;
                        if (!(t = realloc(buf, cap))) {
                                r = -ENOMEM;
                                break;
                        }
                        buf = t;
                }
                ssize_t n = read(fds[0], buf + len, cap - len);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n <= 0) {
                        r = n < 0 ? -errno : 0;
                        break;
                }
                len += (size_t)n;
        }
        close(fds[0]);
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
                ;
        if (r < 0) {
                WHY("image %s: reading the image helper's answer: %s", ref, strerror(-r));
                goto out;
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                r = -EIO;
                if (WIFSIGNALED(st))
                        WHY("image %s: the image helper %s was killed by signal %d", ref, helper, WTERMSIG(st));
                else
                        WHY("image %s: the image helper %s failed (exit %d)", ref, helper, WEXITSTATUS(st));
                goto out;
        }
        if (!(res = bramble__unpack_result__unpack(NULL, len, buf)) || !res->has_code) {
                r = -EBADMSG;
                WHY("image %s: the image helper's answer is not readable", ref);
                goto out;
        }
        if (res->code < 0) {
                r = res->code;
                WHY("%s", res->error && res->error[0] ? res->error : strerror(-r));
                goto out;
        }
        if ((r = copy_config(res->config, &img)) < 0) {
                WHY("image %s: the image helper's answer is incomplete: %s", ref, strerror(-r));
                goto out;
        }
        *ret = img;
        memset(&img, 0, sizeof(img));
        r = 0;
out:
        brm_image_config_free(&img);
        if (res)
                bramble__unpack_result__free_unpacked(res, NULL);
        free(buf);
        return r;
}

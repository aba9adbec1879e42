/* bramble-unpack: resolves one image for bramble-agent and writes one
 * packed UnpackResult to standard output (see unpack.h). Exit 0 when the
 * answer was written, whatever it says; 2 on bad usage. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bramble.pb-c.h"
#include "image.h"

static size_t count(char *const *v, size_t max)
{
        size_t n = 0;
        while (n < max && v[n])
                n++;
        return n;
}

int main(int argc, char **argv)
{
        Bramble__UnpackResult res = BRAMBLE__UNPACK_RESULT__INIT;
        Bramble__ImageConfig cfg = BRAMBLE__IMAGE_CONFIG__INIT;
        struct brm_image_config img;
        char why[512] = "";
        uint8_t *buf;
        size_t len;
        int r;

        if (argc != 3) {
                fprintf(stderr, "usage: bramble-unpack STORE REF\n"
                                "Resolves an image for bramble-agent and writes the result to standard output.\n");
                return 2;
        }
        memset(&img, 0, sizeof(img));
        r = brm_image_resolve(argv[1], argv[2], &img, why, sizeof(why));
        res.has_code = 1;
        res.code = r;
        if (r < 0) {
                res.error = why;
        } else {
                cfg.rootfs = img.rootfs;
                cfg.digest = img.digest;
                cfg.workdir = img.workdir;
                cfg.user = img.user;
                cfg.entrypoint = img.entrypoint;
                cfg.n_entrypoint = count(img.entrypoint, BRM_MAX_ARGS);
                cfg.cmd = img.cmd;
                cfg.n_cmd = count(img.cmd, BRM_MAX_ARGS);
                cfg.env = img.env;
                cfg.n_env = count(img.env, BRM_MAX_ENV);
                res.config = &cfg;
        }
        len = bramble__unpack_result__get_packed_size(&res);
        buf = malloc(len ? len : 1);
        if (!buf) {
                brm_image_config_free(&img);
                fprintf(stderr, "bramble-unpack: out of memory\n");
                return 1;
        }
        bramble__unpack_result__pack(&res, buf);
        brm_image_config_free(&img);
        r = 0;
        for (size_t off = 0; off < len;) {
                ssize_t n = write(STDOUT_FILENO, buf + off, len - off);
                if (n < 0 && errno == EINTR)
                        continue;
                if (n < 0) {
                        fprintf(stderr, "bramble-unpack: writing the result: %s\n", strerror(errno));
                        r = 1;
                        break;
                }
                off += (size_t)n;
        }
        free(buf);
        return r;
}

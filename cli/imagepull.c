/* bramble image pull REF [--platform P]...: the master pulls REF from its
 * registry into the cluster's store. On a terminal a line per blob is
 * redrawn in place (bytes, rate, time left); without one a line is printed
 * per blob once it is complete, so logs of scripted runs stay readable. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "frame.h"
#include "util.h"

#include "common.h"
#include "images.h"

#define MAX_PLATFORMS 8
#define MAX_ROWS 130

struct row {
        char digest[80];
        uint64_t done, total;
        uint64_t start_ms;
        bool printed;   /* its completion line was printed (no terminal) */
};

struct progress {
        struct row rows[MAX_ROWS];
        size_t n, drawn;
        bool tty;
};

static void draw(struct progress *p)
{
        uint64_t now = brm_mono_ms();
        char done[16], total[16], rate[16];

        if (p->drawn)
                fprintf(stderr, "\033[%zuA", p->drawn);
        for (size_t i = 0; i < p->n; i++) {
                const struct row *r = &p->rows[i];
                uint64_t ms = now > r->start_ms ? now - r->start_ms : 1;
                uint64_t bps = r->done * 1000 / ms;
                brm_cli_human_bytes(r->done, done, sizeof(done));
                brm_cli_human_bytes(r->total, total, sizeof(total));
                brm_cli_human_bytes(bps, rate, sizeof(rate));
                if (r->done >= r->total)
                        fprintf(stderr, "\033[2K  %.12s  %8s  done\n", r->digest + 7, total);
                else
                        fprintf(stderr, "\033[2K  %.12s  %8s / %-8s %8s/s  %llus left\n", r->digest + 7, done, total, rate,
                                bps ? (unsigned long long)((r->total - r->done) / bps) : 0ULL);
        }
        p->drawn = p->n;
}

static void print_done(struct row *r)
{
        char total[16];

        if (r->printed)
                return;
        brm_cli_human_bytes(r->total, total, sizeof(total));
        fprintf(stderr, "  %.19s  %s\n", r->digest, total);
        r->printed = true;
}

static void update(struct progress *p, const Bramble__ImagePullProgress *g)
{
        struct row *r = NULL;

        if (!g->digest || strlen(g->digest) < 8)
                return;
        for (size_t i = 0; i < p->n; i++)
                if (strcmp(p->rows[i].digest, g->digest) == 0)
                        r = &p->rows[i];
        if (!r) {
                if (p->n == MAX_ROWS)
                        return;
                r = &p->rows[p->n++];
                memset(r, 0, sizeof(*r));
                snprintf(r->digest, sizeof(r->digest), "%s", g->digest);
                r->start_ms = brm_mono_ms();
        }
        r->done = g->done;
        r->total = g->total;
        if (p->tty) {
                draw(p);
                return;
        }
        /* Blobs come one after another, and reports are coalesced: a new
         * blob means the ones before it are complete. */
        for (size_t i = 0; i < p->n; i++)
                if (&p->rows[i] != r)
                        print_done(&p->rows[i]);
        if (r->total && r->done >= r->total)
                print_done(r);
}

static void print_all(struct progress *p)
{
        if (!p->tty)
                for (size_t i = 0; i < p->n; i++)
                        print_done(&p->rows[i]);
}

int brm_cli_image_pull(struct brm_cli *c, int argc, char **argv)
{
        static const struct option opts[] = {
                { "platform", required_argument, NULL, 'p' },
                { 0 },
        };
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *env = NULL;
        Bramble__ImagePullRequest q = BRAMBLE__IMAGE_PULL_REQUEST__INIT;
        char *platforms[MAX_PLATFORMS];
        struct progress *p;
        int o, rc;

        optind = 0; /* reinitialise: options may follow the operands */
        while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
                if (o != 'p')
                        return brm_cli_usage_error("usage: bramble image pull REF [--platform OS/ARCH[/VARIANT]]...");
                if (q.n_platforms == MAX_PLATFORMS)
                        return brm_cli_usage_error("image pull: at most %d --platform", MAX_PLATFORMS);
                if (!strchr(optarg, '/') || strchr(optarg, ' '))
                        return brm_cli_usage_error("invalid --platform '%s': expected OS/ARCH[/VARIANT], e.g. linux/arm64", optarg);
                platforms[q.n_platforms++] = optarg;
        }
        if (argc - optind != 1)
                return brm_cli_usage_error("usage: bramble image pull REF [--platform OS/ARCH[/VARIANT]]...");
        q.ref = argv[optind];
        q.platforms = platforms;
        if ((rc = brm_cli_connect(c)) != 0)
                return rc;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_IMAGE_PULL;
        req.image_pull = &q;
        if (brm_client_send(&c->client, &req) < 0) {
                fprintf(stderr, "bramble: %s\n", c->client.error);
                return EXIT_CONNECT;
        }
        /* The master answers within its stall timeout or sends progress. */
        brm_client_set_timeout(&c->client, 120000);
        if (!(p = calloc(1, sizeof(*p)))) {
                fprintf(stderr, "bramble: out of memory\n");
                return EXIT_FAIL;
        }
        p->tty = isatty(STDERR_FILENO);
        for (;;) {
                if (brm_client_recv(&c->client, &env) < 0) {
                        fprintf(stderr, "bramble: image pull %s: %s\n", q.ref, c->client.error);
                        rc = EXIT_CONNECT;
                        break;
                }
                if (env->id != req.id) {
                        brm_msg_free(env);
                        continue;
                }
                if (env->msg_case == BRAMBLE__ENVELOPE__MSG_IMAGE_PROGRESS) {
                        update(p, env->image_progress);
                        brm_msg_free(env);
                        continue;
                }
                if (env->msg_case == BRAMBLE__ENVELOPE__MSG_ERROR) {
                        rc = brm_cli_print_error(env);
                } else if (env->msg_case == BRAMBLE__ENVELOPE__MSG_IMAGES && env->images->n_images == 1) {
                        print_all(p);
                        const Bramble__ImageInfo *im = env->images->images[0];
                        char size[16];
                        brm_cli_human_bytes(im->size, size, sizeof(size));
                        if (c->json) {
                                cJSON *j = cJSON_CreateObject();
                                cJSON_AddStringToObject(j, "ref", im->ref);
                                cJSON_AddStringToObject(j, "digest", im->desc ? im->desc->digest : "");
                                cJSON_AddStringToObject(j, "platforms", im->platforms ? im->platforms : "");
                                cJSON_AddNumberToObject(j, "size", (double)im->size);
                                brm_cli_print_json(j);
                        } else {
                                printf("pulled %s (%s, %s, %s)\n", im->ref, im->desc ? im->desc->digest : "",
                                       im->platforms ? im->platforms : "", size);
                        }
                        rc = 0;
                } else {
                        fprintf(stderr, "bramble: unexpected reply from the master\n");
                        rc = EXIT_FAIL;
                }
                brm_msg_free(env);
                break;
        }
        free(p);
        return rc;
}

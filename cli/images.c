/* bramble image ls / rm / prune; see images.h (load is imageload.c). */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "frame.h"

#include "common.h"
#include "images.h"

/* "a, b, c" of V into buf; "-" for none. */
static void join(char *buf, size_t size, char **v, size_t n)
{
        size_t len = 0;

        buf[0] = '\0';
        for (size_t j = 0; j < n && len < size; j++)
                len += (size_t)snprintf(buf + len, size - len, "%s%s", j ? ", " : "", v[j]);
        if (!buf[0])
                snprintf(buf, size, "-");
}

int brm_cli_image_ls(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ImageRequest q = BRAMBLE__IMAGE_REQUEST__INIT;
        const Bramble__ImageListResponse *l;
        int rc;

        if (argc > 2)
                return brm_cli_usage_error("usage: bramble image ls [REF]");
        q.ref = argc == 2 ? argv[1] : NULL;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_IMAGE_LIST;
        req.image_list = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_IMAGES, &rc)))
                return rc;
        l = resp->images;
        if (c->json) {
                cJSON *arr = cJSON_CreateArray();
                for (size_t i = 0; i < l->n_images; i++) {
                        const Bramble__ImageInfo *im = l->images[i];
                        cJSON *o = cJSON_CreateObject(), *u;
                        cJSON_AddItemToArray(arr, o);
                        cJSON_AddStringToObject(o, "ref", im->ref);
                        cJSON_AddStringToObject(o, "digest", im->desc ? im->desc->digest : "");
                        cJSON_AddStringToObject(o, "media_type", im->desc ? im->desc->media_type : "");
                        cJSON_AddStringToObject(o, "platforms", im->platforms ? im->platforms : "");
                        cJSON_AddNumberToObject(o, "size", (double)im->size);
                        u = cJSON_AddArrayToObject(o, "containers");
                        for (size_t j = 0; j < im->n_containers; j++)
                                cJSON_AddItemToArray(u, cJSON_CreateString(im->containers[j]));
                        u = cJSON_AddArrayToObject(o, "nodes");
                        for (size_t j = 0; j < im->n_nodes; j++)
                                cJSON_AddItemToArray(u, cJSON_CreateString(im->nodes[j]));
                }
                brm_cli_print_json(arr);
        } else {
                printf("%-40s %-12s %8s  %-24s %-24s %s\n", "REF", "DIGEST", "SIZE", "PLATFORMS", "ON NODES", "USED BY");
                for (size_t i = 0; i < l->n_images; i++) {
                        const Bramble__ImageInfo *im = l->images[i];
                        char size[16], users[256], nodes[256];
                        brm_cli_human_bytes(im->size, size, sizeof(size));
                        join(users, sizeof(users), im->containers, im->n_containers);
                        join(nodes, sizeof(nodes), im->nodes, im->n_nodes);
                        printf("%-40s %-12.12s %8s  %-24s %-24s %s\n", im->ref,
                               im->desc && im->desc->digest && strlen(im->desc->digest) > 7 ? im->desc->digest + 7 : "", size,
                               im->platforms && im->platforms[0] ? im->platforms : "-", nodes, users);
                }
        }
        brm_msg_free(resp);
        return 0;
}

int brm_cli_image_rm(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ImageRequest q = BRAMBLE__IMAGE_REQUEST__INIT;
        int rc;

        if (argc != 2)
                return brm_cli_usage_error("usage: bramble image rm REF");
        q.ref = argv[1];
        req.msg_case = BRAMBLE__ENVELOPE__MSG_IMAGE_REMOVE;
        req.image_remove = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        if (!c->json)
                printf("removed %s (its blobs go with 'bramble image prune')\n", argv[1]);
        return 0;
}

int brm_cli_image_prune(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ImageRequest q = BRAMBLE__IMAGE_REQUEST__INIT;
        char size[16];
        int rc;

        if (argc != 1)
                return brm_cli_usage_error("usage: bramble image prune");
        req.msg_case = BRAMBLE__ENVELOPE__MSG_IMAGE_PRUNE;
        req.image_prune = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_IMAGE_PRUNED, &rc)))
                return rc;
        if (c->json) {
                cJSON *o = cJSON_CreateObject();
                cJSON_AddNumberToObject(o, "blobs", (double)resp->image_pruned->blobs);
                cJSON_AddNumberToObject(o, "bytes", (double)resp->image_pruned->bytes);
                brm_cli_print_json(o);
        } else {
                brm_cli_human_bytes(resp->image_pruned->bytes, size, sizeof(size));
                printf("removed %llu blobs, %s\n", (unsigned long long)resp->image_pruned->blobs, size);
        }
        brm_msg_free(resp);
        return 0;
}

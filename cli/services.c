/* bramble service ...; see services.h. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "frame.h"
#include "svcspec.h"
#include "util.h"

#include "common.h"
#include "services.h"
#include "svcflags.h"
#include "svcprint.h"

static int send_spec(struct brm_cli *c, Bramble__ServiceSpec *s, bool update)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        char why[512];
        int rc = 0;

        if (brm_svcspec_check(s, why, sizeof(why)) < 0)
                return brm_cli_usage_error("%s", why);
        if (update) {
                req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_UPDATE;
                req.service_update = s;
        } else {
                req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_CREATE;
                req.service_create = s;
        }
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        if (c->json)
                printf("{\"service\": \"%s\", \"%s\": true}\n", s->name, update ? "updated" : "created");
        else if (update)
                printf("service %s updated (the master rolls it out; follow with 'bramble service ps %s')\n", s->name, s->name);
        else
                printf("service %s created (%u replica%s)\n", s->name, s->replicas, s->replicas == 1 ? "" : "s");
        return 0;
}

int brm_cli_service_create(struct brm_cli *c, int argc, char **argv)
{
        Bramble__ServiceSpec s;
        struct brm_svcflags f;
        int rc;

        if ((rc = brm_svcflags_parse(&f, argc, argv, false)) != 0)
                goto out;
        if (!f.cf.spec.image) {
                rc = brm_cli_usage_error("service create needs --image REF");
                goto out;
        }
        brm_svcflags_create(&f, argv[1], &s);
        rc = send_spec(c, &s, false);
out:
        brm_ctrflags_free(&f.cf);
        return rc;
}

/* Reads one service: the reply (free it) with the info in *ret, or NULL
 * after the error with *rc set. */
static Bramble__Envelope *get_service(struct brm_cli *c, const char *name, const Bramble__ServiceInfo **ret, int *rc)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ServiceRequest q = BRAMBLE__SERVICE_REQUEST__INIT;

        q.name = (char *)name;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_LIST;
        req.service_list = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_SERVICES, rc)))
                return NULL;
        for (size_t i = 0; i < resp->services->n_services; i++) {
                const Bramble__ServiceInfo *s = resp->services->services[i];
                if (s->spec && s->spec->name && strcmp(s->spec->name, name) == 0) {
                        *ret = s;
                        return resp;
                }
        }
        brm_msg_free(resp);
        fprintf(stderr, "bramble: no service named '%s'\n", name);
        *rc = EXIT_FAIL;
        return NULL;
}

int brm_cli_service_update(struct brm_cli *c, int argc, char **argv)
{
        const Bramble__ServiceInfo *cur;
        Bramble__Envelope *resp = NULL;
        struct brm_svcedit e;
        struct brm_svcflags f;
        int rc;

        if ((rc = brm_svcflags_parse(&f, argc, argv, true)) != 0)
                goto out;
        if (argc == 2) {
                rc = brm_cli_usage_error("service update %s: nothing to change (give the flags to change)", argv[1]);
                goto out;
        }
        if (!(resp = get_service(c, argv[1], &cur, &rc)))
                goto out;
        brm_svcflags_update(&f, cur->spec, &e);
        rc = send_spec(c, &e.spec, true);
out:
        brm_msg_free(resp);
        brm_ctrflags_free(&f.cf);
        return rc;
}

int brm_cli_service_ls(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ServiceRequest q = BRAMBLE__SERVICE_REQUEST__INIT;
        int rc = 0;

        if (argc > 1)
                return brm_cli_usage_error("unexpected argument '%s' (usage: bramble service ls)", argv[1]);
        req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_LIST;
        req.service_list = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_SERVICES, &rc)))
                return rc;
        if (c->json) {
                cJSON *arr = cJSON_CreateArray();
                for (size_t i = 0; i < resp->services->n_services; i++)
                        cJSON_AddItemToArray(arr, brm_svc_json(resp->services->services[i]));
                brm_cli_print_json(arr);
        } else {
                brm_svc_print_ls(stdout, resp->services);
        }
        brm_msg_free(resp);
        return 0;
}

int brm_cli_service_show(struct brm_cli *c, int argc, char **argv)
{
        const Bramble__ServiceInfo *s;
        Bramble__Envelope *resp;
        bool ps = strcmp(argv[0], "ps") == 0;
        int rc = 0;

        if (argc != 2 || argv[1][0] == '-')
                return brm_cli_usage_error("usage: bramble service %s NAME", argv[0]);
        if (!brm_valid_service_name(argv[1]))
                return brm_svcflags_bad_name(argv[1]);
        if (!(resp = get_service(c, argv[1], &s, &rc)))
                return rc;
        if (c->json) {
                cJSON *o = brm_svc_json(s);
                if (ps) {
                        cJSON *reps = cJSON_DetachItemFromObject(o, "replicas");
                        cJSON_Delete(o);
                        o = reps;
                }
                brm_cli_print_json(o);
        } else if (ps) {
                brm_svc_print_ps(stdout, s, brm_now_ms());
        } else {
                brm_svc_print_inspect(stdout, s, brm_now_ms());
        }
        brm_msg_free(resp);
        return 0;
}

int brm_cli_service_scale(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ServiceRequest q = BRAMBLE__SERVICE_REQUEST__INIT;
        uint64_t n;
        int rc = 0;

        if (argc != 3)
                return brm_cli_usage_error("usage: bramble service scale NAME N");
        if (!brm_valid_service_name(argv[1]))
                return brm_svcflags_bad_name(argv[1]);
        if (brm_parse_u64(argv[2], 0, BRM_SERVICE_MAX_REPLICAS, &n) < 0)
                return brm_cli_usage_error("invalid replica count '%s': expected a whole number from 0 to %d", argv[2],
                                           BRM_SERVICE_MAX_REPLICAS);
        q.name = argv[1];
        q.has_replicas = 1;
        q.replicas = (uint32_t)n;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_SCALE;
        req.service_scale = &q;
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        if (c->json)
                printf("{\"service\": \"%s\", \"replicas\": %u}\n", argv[1], q.replicas);
        else
                printf("service %s scaled to %u\n", argv[1], q.replicas);
        return 0;
}

int brm_cli_service_change(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ServiceRequest q = BRAMBLE__SERVICE_REQUEST__INIT;
        bool rm = strcmp(argv[0], "rm") == 0;
        int rc = 0;

        if (argc != 2 || argv[1][0] == '-')
                return brm_cli_usage_error("usage: bramble service %s NAME", argv[0]);
        if (!brm_valid_service_name(argv[1]))
                return brm_svcflags_bad_name(argv[1]);
        q.name = argv[1];
        if (rm) {
                req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_REMOVE;
                req.service_remove = &q;
        } else {
                req.msg_case = BRAMBLE__ENVELOPE__MSG_SERVICE_ROLLBACK;
                req.service_rollback = &q;
        }
        if (!(resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_OK, &rc)))
                return rc;
        brm_msg_free(resp);
        if (c->json)
                printf("{\"service\": \"%s\", \"%s\": true}\n", argv[1], rm ? "removed" : "rolling_back");
        else
                printf(rm ? "service %s removed\n" : "service %s rolling back to its previous spec\n", argv[1]);
        return 0;
}

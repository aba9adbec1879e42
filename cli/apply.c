/* bramble apply; see apply.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "err.h"
#include "fileio.h"
#include "frame.h"

#include "applyfile.h"
#include "apply.h"
#include "common.h"

int brm_cli_apply(struct brm_cli *c, int argc, char **argv)
{
        Bramble__Envelope req = BRAMBLE__ENVELOPE__INIT, *resp;
        Bramble__ApplyRequest q = BRAMBLE__APPLY_REQUEST__INIT;
        struct brm_applyfile f = { 0 };
        const char *file = NULL;
        bool prune = false, dry = false;
        uint8_t *text = NULL;
        char err[600];
        size_t len;
        int r, rc = 0;

        for (int i = 1; i < argc; i++) {
                if (strcmp(argv[i], "-f") == 0 || strcmp(argv[i], "--file") == 0) {
                        if (i + 1 >= argc)
                                return brm_cli_usage_error("%s needs a file", argv[i]);
                        file = argv[++i];
                } else if (strncmp(argv[i], "--file=", 7) == 0) {
                        file = argv[i] + 7;
                } else if (strcmp(argv[i], "--prune") == 0) {
                        prune = true;
                } else if (strcmp(argv[i], "--dry-run") == 0) {
                        dry = true;
                } else {
                        return brm_cli_usage_error(argv[i][0] == '-' ? "unknown option '%s' (usage: bramble apply -f FILE [--prune] [--dry-run])"
                                                                     : "unexpected argument '%s' (usage: bramble apply -f FILE [--prune] [--dry-run])",
                                                   argv[i]);
                }
        }
        if (!file)
                return brm_cli_usage_error("usage: bramble apply -f FILE [--prune] [--dry-run]");
        if ((r = brm_file_read(file, BRM_APPLYFILE_MAX_BYTES, &text, &len)) < 0) {
                fprintf(stderr, "bramble: cannot read %s: %s\n", file, r == -EFBIG ? "larger than 1 MiB" : brm_strerror(r));
                return EXIT_USAGE;
        }
        r = brm_applyfile_parse(file, (const char *)text, len, &f, err, sizeof(err));
        free(text);
        if (r < 0) {
                fprintf(stderr, "%s\n", err);
                return EXIT_USAGE;
        }
        q.services = f.services;
        q.n_services = f.n;
        q.has_prune = 1;
        q.prune = prune;
        q.has_dry_run = 1;
        q.dry_run = dry;
        req.msg_case = BRAMBLE__ENVELOPE__MSG_APPLY;
        req.apply = &q;
        resp = brm_cli_call(c, &req, BRAMBLE__ENVELOPE__MSG_APPLIED, &rc);
        brm_applyfile_free(&f);
        if (!resp)
                return rc;
        if (c->json) {
                cJSON *o = cJSON_CreateObject(), *a = cJSON_AddArrayToObject(o, "changes");
                cJSON_AddBoolToObject(o, "dry_run", dry);
                for (size_t i = 0; i < resp->applied->n_changes; i++)
                        cJSON_AddItemToArray(a, cJSON_CreateString(resp->applied->changes[i]));
                brm_cli_print_json(o);
        } else if (!resp->applied->n_changes) {
                printf("%s\n", dry ? "nothing would change" : "nothing to change");
        } else {
                for (size_t i = 0; i < resp->applied->n_changes; i++)
                        printf("%s%s\n", dry ? "would " : "", resp->applied->changes[i]);
        }
        brm_msg_free(resp);
        return 0;
}

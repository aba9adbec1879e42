/* The pieces every bramble command shares: argument errors, the
 * credentials and the one connection to the master, and output formatting. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <mbedtls/platform_util.h>

#include "err.h"
#include "fileio.h"
#include "frame.h"

#include "common.h"
#include "statusjson.h"
#include "util.h"

int brm_cli_usage_error(const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "bramble: ");
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n(see 'bramble --help')\n");
        return EXIT_USAGE;
}

int brm_cli_command_error(const char *cmd, const char *fmt, ...)
{
        va_list ap;

        fprintf(stderr, "bramble %s: ", cmd);
        va_start(ap, fmt);
        vfprintf(stderr, fmt, ap);
        va_end(ap);
        fprintf(stderr, "\n");
        return EXIT_USAGE;
}

static int load_creds(struct brm_cli *c)
{
        char def[1100], err[300];
        const char *path = c->config;
        uint8_t *text = NULL;
        size_t len;
        cJSON *root = NULL;
        const char *names[] = { "master", "ca", "cert", "key" };
        const cJSON *v[4];
        int r;

        if (!path)
                path = getenv("BRAMBLE_CONFIG");
        if (!path || !*path) {
                const char *home = getenv("HOME");
                snprintf(def, sizeof(def), "%s/.config/bramble/admin.json", home ? home : "");
                path = def;
        }
        r = brm_file_read(path, 1 << 20, &text, &len);
        if (r < 0) {
                fprintf(stderr, "bramble: cannot read credentials %s: %s%s\n", path, brm_strerror(r),
                        r == -ENOENT ? " (pass --config or set BRAMBLE_CONFIG to the master's admin.json)" : "");
                return EXIT_CONNECT;
        }
        root = cJSON_Parse((char *)text);
        if (!root || !cJSON_IsObject(root)) {
                fprintf(stderr, "bramble: credentials %s: not a JSON object\n", path);
                r = EXIT_CONNECT;
                goto out;
        }
        for (int i = 0; i < 4; i++) {
                v[i] = cJSON_GetObjectItemCaseSensitive(root, names[i]);
                if (!cJSON_IsString(v[i]) || !*v[i]->valuestring) {
                        fprintf(stderr, "bramble: credentials %s: field '%s' is missing or not a string\n", path, names[i]);
                        r = EXIT_CONNECT;
                        goto out;
                }
        }
        snprintf(c->master, sizeof(c->master), "%s", v[0]->valuestring);
        brm_tls_creds_init(&c->creds);
        err[0] = '\0';
        if (brm_tls_creds_add_ca(&c->creds, (uint8_t *)v[1]->valuestring, strlen(v[1]->valuestring) + 1) < 0)
                snprintf(err, sizeof(err), "field 'ca' is not a PEM certificate");
        else if (brm_tls_creds_add_cert(&c->creds, (uint8_t *)v[2]->valuestring, strlen(v[2]->valuestring) + 1) < 0)
                snprintf(err, sizeof(err), "field 'cert' is not a PEM certificate");
        else if (brm_tls_creds_set_key(&c->creds, (uint8_t *)v[3]->valuestring, strlen(v[3]->valuestring) + 1) < 0)
                snprintf(err, sizeof(err), "field 'key' is not a PEM EC private key");
        if (err[0]) {
                fprintf(stderr, "bramble: credentials %s: %s\n", path, err);
                r = EXIT_CONNECT;
                goto out;
        }
        r = 0;
out:
        cJSON_Delete(root);
        if (text) {
                mbedtls_platform_zeroize(text, len);
                free(text);
        }
        return r;
}

int brm_cli_connect(struct brm_cli *c)
{
        int r;

        if (c->connected)
                return 0;
        if ((r = load_creds(c)) != 0)
                return r;
        if (brm_client_connect(&c->client, c->master, &c->creds, BRM_TLS_VERIFY_REQUIRED, c->timeout_ms) < 0) {
                fprintf(stderr, "bramble: %s\n", c->client.error);
                return EXIT_CONNECT;
        }
        c->connected = true;
        return 0;
}

int brm_cli_print_error(const Bramble__Envelope *env)
{
        const char *msg = env->error->message;

        fprintf(stderr, "bramble: %s\n", msg && *msg ? msg : "the master refused the request");
        /* Id 0: not an answer to a request but the master refusing us. */
        return env->error->code == -EACCES && env->id == 0 ? EXIT_CONNECT : EXIT_FAIL;
}

Bramble__Envelope *brm_cli_call(struct brm_cli *c, Bramble__Envelope *req, Bramble__Envelope__MsgCase want, int *ret_exit)
{
        Bramble__Envelope *resp;
        int r;

        if ((r = brm_cli_connect(c)) != 0) {
                *ret_exit = r;
                return NULL;
        }
        if (brm_client_call(&c->client, req, &resp) < 0) {
                fprintf(stderr, "bramble: %s\n", c->client.error);
                *ret_exit = EXIT_CONNECT;
                return NULL;
        }
        if (resp->msg_case == BRAMBLE__ENVELOPE__MSG_ERROR) {
                *ret_exit = brm_cli_print_error(resp);
                brm_msg_free(resp);
                return NULL;
        }
        if (resp->msg_case != want) {
                fprintf(stderr, "bramble: unexpected reply from the master\n");
                *ret_exit = EXIT_FAIL;
                brm_msg_free(resp);
                return NULL;
        }
        return resp;
}

void brm_cli_print_json(cJSON *root)
{
        char *text = cJSON_Print(root);
        if (text)
                printf("%s\n", text);
        free(text);
        cJSON_Delete(root);
}

void brm_cli_human_bytes(uint64_t b, char *out, size_t size)
{
        const char *units[] = { "B", "K", "M", "G", "T" };
        double v = (double)b;
        int i = 0;

        while (v >= 1024 && i < 4) {
                v /= 1024;
                i++;
        }
        snprintf(out, size, v < 10 && i ? "%.1f%s" : "%.0f%s", v, units[i]);
}

void brm_cli_rfc3339(int64_t ms, char *out, size_t size)
{
        brm_rfc3339(ms, out, size);
}

void brm_cli_json_time(cJSON *o, const char *key, int64_t ms)
{
        char ts[32];

        if (!ms) {
                cJSON_AddNullToObject(o, key);
                return;
        }
        brm_rfc3339(ms, ts, sizeof(ts));
        cJSON_AddStringToObject(o, key, ts);
}

void brm_cli_expires(int64_t expires_ms, int64_t now_ms, char *out, size_t size)
{
        char age[20];

        if (!expires_ms) {
                snprintf(out, size, "never");
        } else if (now_ms >= expires_ms) {
                snprintf(out, size, "-");
        } else {
                brm_format_age(expires_ms - now_ms, age, sizeof(age));
                snprintf(out, size, "in %s", age);
        }
}

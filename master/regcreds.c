/* Registry credentials and CAs on the master; see regcreds.h. */
#include "regcreds.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <mbedtls/x509_crt.h>

#include "fileio.h"
#include "log.h"
#include "server.h"
#include "session.h"
#include "util.h"

#define MOD "registry"
#define WHY(...) ((void)snprintf(why, why_size, __VA_ARGS__))
#define FILE_MAX (1u << 20)
#define CA_MAX (256u << 10)

bool brm_regcreds_host_valid(const char *host)
{
        size_t n = host ? strlen(host) : 0;
        const char *port = NULL, *p;

        if (n == 0 || n >= 256 || host[0] == '.' || host[0] == '-')
                return false;
        if (host[0] == '[') {
                if (!(p = strchr(host, ']')))
                        return false;
                for (const char *q = host + 1; q < p; q++)
                        if (!isxdigit((unsigned char)*q) && *q != ':' && *q != '.')
                                return false;
                port = p[1] == ':' ? p + 2 : NULL;
                if (p[1] && p[1] != ':')
                        return false;
        } else {
                for (p = host; *p && *p != ':'; p++)
                        if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-')
                                return false;
                if (strstr(host, ".."))
                        return false;
                port = *p == ':' ? p + 1 : NULL;
        }
        if (port) {
                unsigned long v;
                char *end;
                if (!isdigit((unsigned char)port[0]))
                        return false;
                v = strtoul(port, &end, 10);
                if (*end || v == 0 || v > 65535)
                        return false;
        }
        return true;
}

static void file_path(const char *data_dir, char *buf, size_t size)
{
        brm_path(buf, size, "%s/" BRM_REGCREDS_FILE, data_dir);
}

static void ca_path(const char *data_dir, const char *host, char *buf, size_t size)
{
        brm_path(buf, size, "%s/" BRM_CERTS_DIR "/%s/ca.crt", data_dir, host);
}

static cJSON *load(const char *data_dir, int *ret_err)
{
        char p[1100];
        uint8_t *data;
        size_t len;
        cJSON *o;
        int r;

        file_path(data_dir, p, sizeof(p));
        if ((r = brm_file_read(p, FILE_MAX, &data, &len)) < 0) {
                if (r == -ENOENT)
                        return cJSON_CreateObject();
                *ret_err = r;
                return NULL;
        }
        o = cJSON_ParseWithLength((const char *)data, len);
        free(data);
        if (!cJSON_IsObject(o)) {
                cJSON_Delete(o);
                *ret_err = -EBADMSG;
                return NULL;
        }
        return o;
}

static int save(const char *data_dir, cJSON *o)
{
        char p[1100], *text = cJSON_Print(o);
        int r;

        if (!text)
                return -ENOMEM;
        file_path(data_dir, p, sizeof(p));
        r = brm_file_write_atomic(p, text, strlen(text), 0600);
        cJSON_free(text);
        return r;
}

static void fill(const char *data_dir, const char *host, const cJSON *e, struct brm_regcred *c)
{
        const cJSON *v;
        char p[1400];

        memset(c, 0, sizeof(*c));
        snprintf(c->host, sizeof(c->host), "%s", host);
        if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(e, "username")))
                snprintf(c->username, sizeof(c->username), "%s", v->valuestring);
        if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(e, "password")))
                snprintf(c->password, sizeof(c->password), "%s", v->valuestring);
        c->insecure_http = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(e, "insecure_http"));
        ca_path(data_dir, host, p, sizeof(p));
        c->has_ca = access(p, F_OK) == 0;
}

int brm_regcreds_get(const char *data_dir, const char *host, struct brm_regcred *ret)
{
        cJSON *o, *e;
        int r = 0;

        if (!brm_regcreds_host_valid(host))
                return -EINVAL;
        if (!(o = load(data_dir, &r)))
                return r;
        e = cJSON_GetObjectItemCaseSensitive(o, host);
        fill(data_dir, host, e, ret);
        r = cJSON_IsObject(e) ? 0 : -ENOENT;
        cJSON_Delete(o);
        return r;
}

static int check_ca(const void *pem, size_t len)
{
        mbedtls_x509_crt crt;
        char *buf = malloc(len + 1);
        int r;

        if (!buf)
                return -ENOMEM;
        memcpy(buf, pem, len);
        buf[len] = '\0';
        mbedtls_x509_crt_init(&crt);
        r = mbedtls_x509_crt_parse(&crt, (const unsigned char *)buf, len + 1) == 0 ? 0 : -EINVAL;
        mbedtls_x509_crt_free(&crt);
        free(buf);
        return r;
}

int brm_regcreds_set(const char *data_dir, const struct brm_regcred *c, const void *ca_pem, size_t ca_len, char *why,
                     size_t why_size)
{
        char p[1400], dir[1300];
        cJSON *o, *e;
        int r = 0;

        if (!brm_regcreds_host_valid(c->host)) {
                WHY("'%.80s' is not a registry host (HOST or HOST:PORT)", c->host);
                return -EINVAL;
        }
        if (ca_pem && ca_len) {
                if (ca_len > CA_MAX || check_ca(ca_pem, ca_len) < 0) {
                        WHY("the CA file for %s is not a PEM certificate", c->host);
                        return -EINVAL;
                }
                brm_path(dir, sizeof(dir), "%s/" BRM_CERTS_DIR "/%s", data_dir, c->host);
                ca_path(data_dir, c->host, p, sizeof(p));
                if ((r = brm_mkdir_p(dir, 0700)) < 0 || (r = brm_file_write_atomic(p, ca_pem, ca_len, 0644)) < 0) {
                        WHY("%s: %s", p, strerror(-r));
                        return r;
                }
        }
        if (!(o = load(data_dir, &r))) {
                WHY("%s/" BRM_REGCREDS_FILE ": %s", data_dir, r == -EBADMSG ? "not a JSON object" : strerror(-r));
                return r;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(o, c->host);
        e = cJSON_AddObjectToObject(o, c->host);
        if (!e || (c->username[0] && !cJSON_AddStringToObject(e, "username", c->username)) ||
            (c->password[0] && !cJSON_AddStringToObject(e, "password", c->password)) ||
            !cJSON_AddBoolToObject(e, "insecure_http", c->insecure_http)) {
                cJSON_Delete(o);
                WHY("out of memory");
                return -ENOMEM;
        }
        if ((r = save(data_dir, o)) < 0)
                WHY("%s/" BRM_REGCREDS_FILE ": %s", data_dir, strerror(-r));
        cJSON_Delete(o);
        return r;
}

int brm_regcreds_remove(const char *data_dir, const char *host, char *why, size_t why_size)
{
        char p[1400];
        bool found = false;
        cJSON *o;
        int r = 0;

        if (!brm_regcreds_host_valid(host)) {
                WHY("'%.80s' is not a registry host (HOST or HOST:PORT)", host);
                return -EINVAL;
        }
        if (!(o = load(data_dir, &r))) {
                WHY("%s/" BRM_REGCREDS_FILE ": %s", data_dir, r == -EBADMSG ? "not a JSON object" : strerror(-r));
                return r;
        }
        if (cJSON_GetObjectItemCaseSensitive(o, host)) {
                cJSON_DeleteItemFromObjectCaseSensitive(o, host);
                found = true;
                if ((r = save(data_dir, o)) < 0) {
                        cJSON_Delete(o);
                        WHY("%s/" BRM_REGCREDS_FILE ": %s", data_dir, strerror(-r));
                        return r;
                }
        }
        cJSON_Delete(o);
        ca_path(data_dir, host, p, sizeof(p));
        if (unlink(p) == 0) {
                found = true;
                *strrchr(p, '/') = '\0';
                rmdir(p);
        }
        if (!found) {
                WHY("not logged in to %s", host);
                return -ENOENT;
        }
        return 0;
}

int brm_regcreds_list(const char *data_dir, struct brm_regcred **ret, size_t *ret_n)
{
        struct brm_regcred *v;
        cJSON *o, *e;
        size_t n = 0;
        int r = 0;

        if (!(o = load(data_dir, &r)))
                return r;
        if (!(v = calloc((size_t)cJSON_GetArraySize(o) + 1, sizeof(*v)))) {
                cJSON_Delete(o);
                return -ENOMEM;
        }
        cJSON_ArrayForEach(e, o) {
                if (e->string && brm_regcreds_host_valid(e->string))
                        fill(data_dir, e->string, e, &v[n++]);
        }
        cJSON_Delete(o);
        *ret = v;
        *ret_n = n;
        return 0;
}

/* ---- route handlers ---- */

void brm_regcreds_login(struct brm_session *s, const Bramble__Envelope *env)
{
        const Bramble__RegistryLogin *l = env->registry_login;
        struct brm_regcred c;
        char why[400];
        int r;

        memset(&c, 0, sizeof(c));
        if (!l->host || strlen(l->host) >= sizeof(c.host) || (l->username && strlen(l->username) >= sizeof(c.username)) ||
            (l->password && strlen(l->password) >= sizeof(c.password))) {
                brm_session_error(s, env->id, -EINVAL, "a registry host is required; user names and passwords are limited to 255 and 1023 bytes");
                return;
        }
        snprintf(c.host, sizeof(c.host), "%s", l->host);
        snprintf(c.username, sizeof(c.username), "%s", l->username ? l->username : "");
        snprintf(c.password, sizeof(c.password), "%s", l->password ? l->password : "");
        c.insecure_http = l->has_insecure_http && l->insecure_http;
        r = brm_regcreds_set(s->m->cfg.data_dir, &c, l->has_ca_pem ? l->ca_pem.data : NULL,
                             l->has_ca_pem ? l->ca_pem.len : 0, why, sizeof(why));
        memset(c.password, 0, sizeof(c.password));
        if (r < 0) {
                brm_session_error(s, env->id, r, why);
                return;
        }
        brm_info(MOD, "credentials for %s stored%s%s", l->host, l->has_ca_pem ? ", with its CA" : "",
                 c.insecure_http ? ", plain HTTP" : "");
        brm_session_reply_ok(s, env->id);
}

void brm_regcreds_ls(struct brm_session *s, const Bramble__Envelope *env)
{
        Bramble__Envelope out = BRAMBLE__ENVELOPE__INIT;
        Bramble__RegistryListResponse resp = BRAMBLE__REGISTRY_LIST_RESPONSE__INIT;
        Bramble__RegistryInfo *infos = NULL, **ptrs = NULL;
        struct brm_regcred *v = NULL;
        size_t n = 0;
        int r;

        if ((r = brm_regcreds_list(s->m->cfg.data_dir, &v, &n)) < 0) {
                brm_session_error(s, env->id, r, "reading " BRM_REGCREDS_FILE " failed");
                return;
        }
        infos = calloc(n + 1, sizeof(*infos));
        ptrs = calloc(n + 1, sizeof(*ptrs));
        if (!infos || !ptrs) {
                brm_session_error(s, env->id, -ENOMEM, "out of memory");
                goto out;
        }
        for (size_t i = 0; i < n; i++) {
                bramble__registry_info__init(&infos[i]);
                infos[i].host = v[i].host;
                infos[i].username = v[i].username;
                infos[i].has_has_ca = infos[i].has_insecure_http = 1;
                infos[i].has_ca = v[i].has_ca;
                infos[i].insecure_http = v[i].insecure_http;
                ptrs[i] = &infos[i];
        }
        resp.n_registries = n;
        resp.registries = ptrs;
        out.msg_case = BRAMBLE__ENVELOPE__MSG_REGISTRIES;
        out.registries = &resp;
        brm_session_reply(s, env->id, &out);
out:
        if (v)
                for (size_t i = 0; i < n; i++)
                        memset(v[i].password, 0, sizeof(v[i].password));
        free(v);
        free(infos);
        free(ptrs);
}

void brm_regcreds_logout(struct brm_session *s, const Bramble__Envelope *env)
{
        const char *host = env->registry_logout->host;
        char why[400];
        int r;

        if ((r = brm_regcreds_remove(s->m->cfg.data_dir, host ? host : "", why, sizeof(why))) < 0) {
                brm_session_error(s, env->id, r, why);
                return;
        }
        brm_info(MOD, "credentials for %s removed", host);
        brm_session_reply_ok(s, env->id);
}

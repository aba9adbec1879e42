/* What a registry says about authentication: its WWW-Authenticate
 * challenge and its token server's answer. libcurl parses neither for us
 * (it only answers Basic and Digest challenges itself), and both come
 * from the network, so they are read here, by hand, with a fuzz harness. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "regref.h"

#define WHY(...)                                                                                   \
        do {                                                                                       \
                if (why_size)                                                                      \
                        snprintf(why, why_size, __VA_ARGS__);                                      \
        } while (0)

/* RFC 7230 tchar. */
static bool tchar(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               (c && strchr("!#$%&'*+-.^_`|~", c));
}

struct cursor {
        const char *p, *end;
};

static void skip_ws(struct cursor *c)
{
        while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
                c->p++;
}

static size_t read_token(struct cursor *c, const char **ret)
{
        const char *s = c->p;

        while (c->p < c->end && tchar(*c->p))
                c->p++;
        *ret = s;
        return (size_t)(c->p - s);
}

/* A token or a quoted string into buf (unescaped); -EINVAL when
 * unterminated or longer than buf. */
static int read_value(struct cursor *c, char *buf, size_t size)
{
        size_t n = 0;

        if (c->p < c->end && *c->p == '"') {
                for (c->p++; c->p < c->end && *c->p != '"'; c->p++) {
                        if (*c->p == '\\' && c->p + 1 < c->end)
                                c->p++;
                        if ((unsigned char)*c->p < ' ' && *c->p != '\t')
                                return -EINVAL;
                        if (n + 1 >= size)
                                return -EINVAL;
                        buf[n++] = *c->p;
                }
                if (c->p >= c->end)
                        return -EINVAL;
                c->p++;
        } else {
                const char *s;
                size_t len = read_token(c, &s);

                /* token68 ends in '=' padding ("Negotiate YII=="). */
                while (c->p < c->end && *c->p == '=')
                        c->p++, len++;
                if (len + 1 > size)
                        return -EINVAL;
                memcpy(buf, s, len);
                n = len;
        }
        buf[n] = '\0';
        return 0;
}

static enum brm_regauth_scheme scheme_of(const char *s, size_t n)
{
        if (n == 6 && !strncasecmp(s, "bearer", 6))
                return BRM_REGAUTH_BEARER;
        if (n == 5 && !strncasecmp(s, "basic", 5))
                return BRM_REGAUTH_BASIC;
        return BRM_REGAUTH_NONE;
}

/* Keeps CUR in BEST when it is usable and better than what BEST holds. */
static void consider(struct brm_regauth_challenge *best, const struct brm_regauth_challenge *cur)
{
        if (cur->scheme == BRM_REGAUTH_BEARER && cur->realm[0])
                *best = *cur;
        else if (cur->scheme == BRM_REGAUTH_BASIC && best->scheme == BRM_REGAUTH_NONE)
                *best = *cur;
}

int brm_regauth_parse_challenge(const char *value, size_t len, struct brm_regauth_challenge *ret)
{
        struct brm_regauth_challenge best, cur;
        struct cursor c = { value, value + len };
        bool open = false;

        memset(&best, 0, sizeof(best));
        memset(&cur, 0, sizeof(cur));
        for (;;) {
                const char *tok;
                size_t n;

                while (c.p < c.end && (*c.p == ' ' || *c.p == '\t' || *c.p == ','))
                        c.p++;
                if (c.p >= c.end)
                        break;
                if (!(n = read_token(&c, &tok)))
                        return -EINVAL;
                skip_ws(&c);
                if (c.p < c.end && *c.p == '=' && open) {
                        char name[16], val[sizeof(cur.realm)];

                        c.p++;
                        skip_ws(&c);
                        if (read_value(&c, val, sizeof(val)) < 0)
                                return -EINVAL;
                        snprintf(name, sizeof(name), "%.*s", (int)(n < 15 ? n : 15), tok);
                        if (n >= sizeof(name))
                                continue;
                        size_t vl = strlen(val);

                        /* Too long for its field: left out rather than cut. */
                        if (!strcasecmp(name, "realm"))
                                memcpy(cur.realm, val, vl + 1);
                        else if (!strcasecmp(name, "service") && vl < sizeof(cur.service))
                                memcpy(cur.service, val, vl + 1);
                        else if (!strcasecmp(name, "scope") && vl < sizeof(cur.scope))
                                memcpy(cur.scope, val, vl + 1);
                        continue;
                }
                if (c.p < c.end && *c.p == '=')
                        return -EINVAL; /* a parameter before any scheme */
                /* A token not followed by '=' starts the next challenge. */
                if (open)
                        consider(&best, &cur);
                memset(&cur, 0, sizeof(cur));
                cur.scheme = scheme_of(tok, n);
                open = true;
                /* A token68 credential may follow the scheme. */
                if (c.p < c.end && tchar(*c.p)) {
                        struct cursor look = c;
                        const char *t2;

                        read_token(&look, &t2);
                        skip_ws(&look);
                        if (look.p >= look.end || *look.p == ',' ||
                            (*look.p == '=' && (look.p + 1 >= look.end || look.p[1] == '=' || look.p[1] == ',')))
                                while (c.p < c.end && *c.p != ',')
                                        c.p++;
                }
        }
        if (open)
                consider(&best, &cur);
        if (best.scheme == BRM_REGAUTH_NONE)
                return -EINVAL;
        *ret = best;
        return 0;
}

int brm_regauth_parse_token(const char *json, size_t len, char **ret, char *why, size_t why_size)
{
        const cJSON *t;
        cJSON *o;
        char *s;
        size_t n;

        if (!(o = cJSON_ParseWithLength(json, len))) {
                WHY("the token server's answer is not JSON");
                return -EINVAL;
        }
        t = cJSON_GetObjectItemCaseSensitive(o, "token");
        if (!cJSON_IsString(t) || !t->valuestring[0])
                t = cJSON_GetObjectItemCaseSensitive(o, "access_token");
        if (!cJSON_IsString(t) || !t->valuestring[0]) {
                cJSON_Delete(o);
                WHY("the token server's answer has no \"token\" or \"access_token\"");
                return -EINVAL;
        }
        n = strlen(t->valuestring);
        /* It goes into an Authorization header: visible ASCII only. */
        for (size_t i = 0; i < n; i++) {
                if ((unsigned char)t->valuestring[i] <= ' ' || (unsigned char)t->valuestring[i] >= 0x7f) {
                        cJSON_Delete(o);
                        WHY("the token server's token has a character a header cannot carry");
                        return -EINVAL;
                }
        }
        if (n > 65536) {
                cJSON_Delete(o);
                WHY("the token server's token is longer than 64 KiB");
                return -EINVAL;
        }
        s = strdup(t->valuestring);
        cJSON_Delete(o);
        if (!s)
                return -ENOMEM;
        *ret = s;
        return 0;
}

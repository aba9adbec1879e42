/* Image references, after Docker's grammar (distribution's reference
 * package): [REGISTRY/]PATH[:TAG][@DIGEST], with the docker.io defaults
 * every registry client applies, so "busybox" here names the image
 * `docker pull busybox` would. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "regref.h"

#define WHY(...)                                                                                   \
        do {                                                                                       \
                if (why_size)                                                                      \
                        snprintf(why, why_size, __VA_ARGS__);                                      \
        } while (0)

static bool lower_alnum(char c)
{
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool alnum(char c)
{
        return lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

/* One path component: [a-z0-9]+ joined by '.', '_', "__" or runs of '-'. */
static bool path_component_ok(const char *s, size_t n)
{
        size_t i = 0;

        if (n == 0 || !lower_alnum(s[0]) || !lower_alnum(s[n - 1]))
                return false;
        while (i < n) {
                if (lower_alnum(s[i])) {
                        i++;
                        continue;
                }
                if (s[i] == '.') {
                        i++;
                } else if (s[i] == '_') {
                        i += i + 1 < n && s[i + 1] == '_' ? 2 : 1;
                } else if (s[i] == '-') {
                        while (i < n && s[i] == '-')
                                i++;
                } else {
                        return false;
                }
                /* A separator is always followed by a letter or digit. */
                if (i >= n || !lower_alnum(s[i]))
                        return false;
        }
        return true;
}

static bool path_ok(const char *s)
{
        const char *slash;

        for (;;) {
                slash = strchr(s, '/');
                if (!path_component_ok(s, slash ? (size_t)(slash - s) : strlen(s)))
                        return false;
                if (!slash)
                        return true;
                s = slash + 1;
        }
}

/* HOST[:PORT]: dot-separated labels of letters, digits and inner '-', or
 * a bracketed IPv6 address; the port 1-65535. */
static bool domain_ok(const char *s)
{
        const char *p = s, *colon;
        size_t label = 0;

        if (*p == '[') {
                for (p++; *p && *p != ']'; p++)
                        if (!(alnum(*p) || *p == ':' || *p == '.'))
                                return false;
                if (*p != ']' || p == s + 1)
                        return false;
                p++;
        } else {
                for (; *p && *p != ':'; p++) {
                        if (*p == '.') {
                                if (label == 0 || p[-1] == '-')
                                        return false;
                                label = 0;
                        } else if (alnum(*p) || (*p == '-' && label > 0)) {
                                label++;
                        } else {
                                return false;
                        }
                }
                if (label == 0 || p[-1] == '-')
                        return false;
        }
        if (!*p)
                return true;
        if (*p != ':')
                return false;
        colon = p++;
        unsigned long port = 0;
        for (; *p; p++) {
                if (*p < '0' || *p > '9' || p - colon > 5)
                        return false;
                port = port * 10 + (unsigned long)(*p - '0');
        }
        return p - colon > 1 && port >= 1 && port <= 65535;
}

static bool tag_ok(const char *s)
{
        size_t n = strlen(s);

        if (n == 0 || n >= BRM_REGREF_TAG_MAX || !(alnum(s[0]) || s[0] == '_'))
                return false;
        for (size_t i = 1; i < n; i++)
                if (!(alnum(s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
                        return false;
        return true;
}

int brm_regref_parse(const char *ref, struct brm_regref *ret, char *why, size_t why_size)
{
        char buf[512], shown[112], *at, *name, *colon, *slash, *lastslash;
        struct brm_regref r;
        char hex[65];
        size_t n;

        memset(&r, 0, sizeof(r));
        n = ref ? strlen(ref) : 0;
        if (n == 0) {
                WHY("empty image reference");
                return -EINVAL;
        }
        if (n >= sizeof(buf)) {
                WHY("image reference is longer than %zu characters", sizeof(buf) - 1);
                return -EINVAL;
        }
        for (size_t i = 0; i < n; i++) {
                if ((unsigned char)ref[i] <= ' ' || (unsigned char)ref[i] >= 0x7f) {
                        WHY("image reference has a space, control or non-ASCII character at offset %zu", i);
                        return -EINVAL;
                }
        }
        memcpy(buf, ref, n + 1);
        /* Messages name the reference, cut short so the reason still fits. */
        snprintf(shown, sizeof(shown), "%.100s%s", ref, n > 100 ? "..." : "");
        ref = shown;

        if ((at = strchr(buf, '@'))) {
                *at++ = '\0';
                if (brm_oci_digest_hex(at, hex) < 0) {
                        WHY("image reference %s: the digest must be sha256: and 64 lower-case hex digits", ref);
                        return -EINVAL;
                }
                snprintf(r.digest, sizeof(r.digest), "%s", at);
        }
        /* A ':' after the last '/' starts the tag; one before it is a port. */
        lastslash = strrchr(buf, '/');
        colon = strrchr(lastslash ? lastslash : buf, ':');
        if (colon) {
                *colon++ = '\0';
                if (!tag_ok(colon)) {
                        WHY("image reference %s: a tag is 1-128 letters, digits, '_', '.' and '-', not starting "
                            "with '.' or '-'",
                            ref);
                        return -EINVAL;
                }
                snprintf(r.tag, sizeof(r.tag), "%s", colon);
        }

        name = buf;
        slash = strchr(buf, '/');
        if (slash && (memchr(buf, '.', (size_t)(slash - buf)) || memchr(buf, ':', (size_t)(slash - buf)) ||
                      (slash - buf == 9 && !memcmp(buf, "localhost", 9)) ||
                      strspn(buf, "abcdefghijklmnopqrstuvwxyz0123456789-_") < (size_t)(slash - buf))) {
                *slash = '\0';
                if (!domain_ok(buf)) {
                        WHY("image reference %s: registry %.100s is not HOST or HOST:PORT", ref, buf);
                        return -EINVAL;
                }
                if ((size_t)(slash - buf) >= sizeof(r.registry))
                        goto too_long;
                memcpy(r.registry, buf, (size_t)(slash - buf) + 1);
                name = slash + 1;
        } else {
                snprintf(r.registry, sizeof(r.registry), "docker.io");
        }
        if (!strcmp(r.registry, "index.docker.io") || !strcmp(r.registry, "registry-1.docker.io"))
                snprintf(r.registry, sizeof(r.registry), "docker.io");
        if (!path_ok(name)) {
                WHY("image reference %s: a repository name is lower-case letters and digits, separated by "
                    "'/', '.', '_' or '-'",
                    ref);
                return -EINVAL;
        }
        if (!strcmp(r.registry, "docker.io") && !strchr(name, '/')) {
                if (snprintf(r.repo, sizeof(r.repo), "library/%s", name) >= (int)sizeof(r.repo))
                        goto too_long;
        } else if (snprintf(r.repo, sizeof(r.repo), "%s", name) >= (int)sizeof(r.repo)) {
                goto too_long;
        }
        if (strlen(r.registry) + 1 + strlen(r.repo) > 255)
                goto too_long;
        snprintf(r.host, sizeof(r.host), "%s", strcmp(r.registry, "docker.io") ? r.registry : "registry-1.docker.io");
        if (!r.tag[0] && !r.digest[0])
                snprintf(r.tag, sizeof(r.tag), "latest");
        *ret = r;
        return 0;
too_long:
        WHY("image reference %s: the registry and repository name are longer than 255 characters", ref);
        return -EINVAL;
}

int brm_regref_format(const struct brm_regref *r, char *buf, size_t size)
{
        int n = snprintf(buf, size, "%s/%s%s%s%s%s", r->registry, r->repo, r->tag[0] ? ":" : "", r->tag,
                         r->digest[0] ? "@" : "", r->digest);

        return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

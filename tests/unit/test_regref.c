/* Image references and registry challenges (master/regref.c,
 * master/regauth.c): Docker's normalisation, what is refused and why, and
 * WWW-Authenticate values as registries send them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "regpull.h"
#include "regref.h"

#define DG "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void ok(const char *in, const char *registry, const char *host, const char *repo, const char *tag,
               const char *digest, const char *full)
{
        struct brm_regref r;
        char why[256] = "", buf[600];

        if (brm_regref_parse(in, &r, why, sizeof(why)) != 0)
                CHECK_FAIL_("%s refused: %s", in, why);
        CHECK_STR(r.registry, registry);
        CHECK_STR(r.host, host);
        CHECK_STR(r.repo, repo);
        CHECK_STR(r.tag, tag);
        CHECK_STR(r.digest, digest);
        CHECK_INT(brm_regref_format(&r, buf, sizeof(buf)), ==, 0);
        CHECK_STR(buf, full);
}

static void bad(const char *in, const char *needle)
{
        struct brm_regref r;
        char why[256] = "";

        memset(&r, 0x5a, sizeof(r));
        CHECK_INT(brm_regref_parse(in, &r, why, sizeof(why)), ==, -EINVAL);
        if (!strstr(why, needle) || strchr(why, '\n'))
                CHECK_FAIL_("%s: reason \"%s\" lacks \"%s\"", in, why, needle);
        CHECK_INT((unsigned char)r.repo[0], ==, 0x5a); /* untouched */
}

static void test_refs(void)
{
        ok("busybox", "docker.io", "registry-1.docker.io", "library/busybox", "latest", "",
           "docker.io/library/busybox:latest");
        ok("busybox:1.36", "docker.io", "registry-1.docker.io", "library/busybox", "1.36", "",
           "docker.io/library/busybox:1.36");
        ok("docker.io/library/busybox:1.36", "docker.io", "registry-1.docker.io", "library/busybox", "1.36", "",
           "docker.io/library/busybox:1.36");
        ok("index.docker.io/nginx", "docker.io", "registry-1.docker.io", "library/nginx", "latest", "",
           "docker.io/library/nginx:latest");
        ok("grafana/grafana:10.0", "docker.io", "registry-1.docker.io", "grafana/grafana", "10.0", "",
           "docker.io/grafana/grafana:10.0");
        ok("127.0.0.1:5000/test/hello:1", "127.0.0.1:5000", "127.0.0.1:5000", "test/hello", "1", "",
           "127.0.0.1:5000/test/hello:1");
        ok("localhost/x", "localhost", "localhost", "x", "latest", "", "localhost/x:latest");
        ok("localhost:5000/a/b/c", "localhost:5000", "localhost:5000", "a/b/c", "latest", "",
           "localhost:5000/a/b/c:latest");
        ok("ghcr.io/x/y@" DG, "ghcr.io", "ghcr.io", "x/y", "", DG, "ghcr.io/x/y@" DG);
        ok("ghcr.io/x/y:v2@" DG, "ghcr.io", "ghcr.io", "x/y", "v2", DG, "ghcr.io/x/y:v2@" DG);
        ok("Registry/x", "Registry", "Registry", "x", "latest", "", "Registry/x:latest");
        ok("[::1]:5000/x:y", "[::1]:5000", "[::1]:5000", "x", "y", "", "[::1]:5000/x:y");
        ok("a.b/c__d.e-f---g_h:_T.9-", "a.b", "a.b", "c__d.e-f---g_h", "_T.9-", "", "a.b/c__d.e-f---g_h:_T.9-");
        /* A first part without '.', ':' or "localhost" is a path, not a host. */
        ok("myhost/app", "docker.io", "registry-1.docker.io", "myhost/app", "latest", "",
           "docker.io/myhost/app:latest");

        bad("", "empty");
        bad("Busybox", "lower-case");
        bad("busybox:", "a tag is");
        bad("busybox:-x", "a tag is");
        bad("busybox@sha256:abc", "digest");
        bad("busybox@md5:0123", "digest");
        bad("a b", "space");
        bad("x/", "repository name");
        bad("x//y", "repository name");
        bad("x/y_", "repository name");
        bad("x/y___z", "repository name");
        bad("-x.io/y", "registry");
        bad("x.io:0/y", "registry");
        bad("x.io:65536/y", "registry");
        bad("x.io:/y", "registry");
        bad("[::1/y", "registry");
        char longname[400];
        memset(longname, 'a', sizeof(longname) - 1);
        longname[sizeof(longname) - 1] = '\0';
        bad(longname, "255");
        char longtag[200] = "x:";
        memset(longtag + 2, 't', 150);
        longtag[152] = '\0';
        bad(longtag, "1-128");
}

static void chal_ok(const char *v, enum brm_regauth_scheme scheme, const char *realm, const char *service,
                    const char *scope)
{
        struct brm_regauth_challenge c;

        if (brm_regauth_parse_challenge(v, strlen(v), &c) != 0)
                CHECK_FAIL_("challenge refused: %s", v);
        CHECK_INT(c.scheme, ==, scheme);
        CHECK_STR(c.realm, realm);
        CHECK_STR(c.service, service);
        CHECK_STR(c.scope, scope);
}

static void test_challenges(void)
{
        struct brm_regauth_challenge c;

        chal_ok("Bearer realm=\"https://auth.docker.io/token\",service=\"registry.docker.io\","
                "scope=\"repository:library/busybox:pull\"",
                BRM_REGAUTH_BEARER, "https://auth.docker.io/token", "registry.docker.io",
                "repository:library/busybox:pull");
        chal_ok("Basic realm=\"Registry Realm\"", BRM_REGAUTH_BASIC, "Registry Realm", "", "");
        /* Commas and escaped quotes inside quoted strings; odd spacing and case. */
        chal_ok("bearer  realm = \"https://h/t?a=1,b=2\" , scope=\"repository:a/b:pull,push\",service=x",
                BRM_REGAUTH_BEARER, "https://h/t?a=1,b=2", "x", "repository:a/b:pull,push");
        chal_ok("Bearer realm=\"https://h/\\\"q\\\"\"", BRM_REGAUTH_BEARER, "https://h/\"q\"", "", "");
        /* Several challenges in one value: Bearer wins, wherever it stands. */
        chal_ok("Basic realm=\"r\", Bearer realm=\"https://t\",service=\"s\"", BRM_REGAUTH_BEARER, "https://t", "s",
                "");
        chal_ok("Negotiate YII==, Basic realm=x", BRM_REGAUTH_BASIC, "x", "", "");
        chal_ok("Newauth realm=\"apps\", type=1, title=\"Login to \\\"apps\\\"\", Basic realm=\"simple\"",
                BRM_REGAUTH_BASIC, "simple", "", "");

        memset(&c, 0x5a, sizeof(c));
        CHECK_INT(brm_regauth_parse_challenge("", 0, &c), ==, -EINVAL);
        CHECK_INT(brm_regauth_parse_challenge("Negotiate", 9, &c), ==, -EINVAL);
        CHECK_INT(brm_regauth_parse_challenge("Bearer service=x", 16, &c), ==, -EINVAL); /* no realm */
        CHECK_INT(brm_regauth_parse_challenge("Bearer realm=\"unterminated", 26, &c), ==, -EINVAL);
        CHECK_INT(brm_regauth_parse_challenge("realm=x", 7, &c), ==, -EINVAL);
        CHECK_INT(brm_regauth_parse_challenge("Basic @", 7, &c), ==, -EINVAL);
        CHECK_INT((unsigned char)c.realm[0], ==, 0x5a);
        /* The length is honoured: no NUL needed, nothing read past it. */
        CHECK_INT(brm_regauth_parse_challenge("Basic realm=xyz", 5, &c), ==, 0);
        CHECK_STR(c.realm, "");
}

static void test_tokens(void)
{
        char *t = NULL, why[256] = "";
        const char *j;

        j = "{\"token\":\"abc.def\",\"access_token\":\"zzz\",\"expires_in\":300}";
        CHECK_INT(brm_regauth_parse_token(j, strlen(j), &t, why, sizeof(why)), ==, 0);
        CHECK_STR(t, "abc.def");
        free(t);
        j = "{\"access_token\":\"only\"}";
        CHECK_INT(brm_regauth_parse_token(j, strlen(j), &t, why, sizeof(why)), ==, 0);
        CHECK_STR(t, "only");
        free(t);
        t = NULL;
        j = "{\"token\":\"a\\r\\nX-Evil: 1\"}";
        CHECK_INT(brm_regauth_parse_token(j, strlen(j), &t, why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "header"));
        j = "{\"token\":\"\"}";
        CHECK_INT(brm_regauth_parse_token(j, strlen(j), &t, why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "no \"token\""));
        CHECK_INT(brm_regauth_parse_token("nope", 4, &t, why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "not JSON"));
        CHECK(t == NULL);
}

static void never_done(void *arg, int status, const char *why, const char *name, const struct brm_oci_desc *top)
{
        CHECK_FAIL_("done called for a pull that did not start: %d %s", status, why);
}

/* brm_regpull_start refuses what it can tell at once, with a reason, and
 * then never calls done. */
static void test_start_refusals(void)
{
        struct brm_imagestore s = { .dir = "/nonexistent/images" };
        const char *bad_platform[] = { "linux" }, *good[] = { "linux/arm64" };
        struct brm_regpull_opts o = { .ref = "Bad Ref" };
        struct brm_regpull *p = NULL;
        uv_loop_t loop;
        char why[256] = "";

        CHECK_INT(uv_loop_init(&loop), ==, 0);
        CHECK_INT(brm_regpull_start(&loop, &s, &o, NULL, never_done, NULL, &p, why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "space"));
        o.ref = "busybox";
        o.platforms = bad_platform;
        o.n_platforms = 1;
        CHECK_INT(brm_regpull_start(&loop, &s, &o, NULL, never_done, NULL, &p, why, sizeof(why)), ==, -EINVAL);
        CHECK(strstr(why, "platform linux is not OS/ARCH"));
        o.platforms = good;
        o.ref = "busybox@sha256:abc";
        CHECK_INT(brm_regpull_start(&loop, &s, &o, NULL, never_done, NULL, &p, why, sizeof(why)), ==, -EINVAL);
        CHECK(p == NULL);
        CHECK_INT(uv_run(&loop, UV_RUN_DEFAULT), ==, 0);
        CHECK_INT(uv_loop_close(&loop), ==, 0);
}

int main(void)
{
        test_refs();
        test_start_refusals();
        test_challenges();
        test_tokens();
        printf("ok\n");
        return 0;
}

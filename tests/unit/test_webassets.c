/* The dashboard built into the master (master/webassets.cmake): every file
 * of master/web/ is found at its path with its bytes, a content type and an
 * ETag; "/" is index.html; what index.html loads is there; and the script
 * never writes markup (cluster data is untrusted text).
 *
 * Usage: test_webassets <master/web directory> */
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "webassets.h"

static char *slurp(const char *dir, const char *name, size_t *ret_len)
{
        char path[4096];
        FILE *f;
        char *buf;
        long n;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        f = fopen(path, "rb");
        if (!f)
                CHECK_FAIL_("cannot open %s", path);
        CHECK(fseek(f, 0, SEEK_END) == 0);
        n = ftell(f);
        CHECK(n >= 0);
        rewind(f);
        buf = malloc((size_t)n + 1);
        CHECK(buf);
        CHECK_U64(fread(buf, 1, (size_t)n, f), ==, (size_t)n);
        buf[n] = '\0';
        fclose(f);
        *ret_len = (size_t)n;
        return buf;
}

static void check_etag(const struct brm_asset *a)
{
        const char *e = a->etag;
        CHECK_U64(strlen(e), ==, 18);
        CHECK_INT(e[0], ==, '"');
        CHECK_INT(e[17], ==, '"');
        for (int i = 1; i < 17; i++)
                if (!isxdigit((unsigned char)e[i]))
                        CHECK_FAIL_("%s: etag %s is not 16 hex digits in quotes", a->path, e);
}

/* Every asset index.html names (href="/x" or src="/x") is served. */
static void check_references(const char *html)
{
        static const char *const attrs[] = {"href=\"/", "src=\"/"};
        for (size_t k = 0; k < 2; k++) {
                for (const char *p = strstr(html, attrs[k]); p; p = strstr(p + 1, attrs[k])) {
                        char path[256];
                        const char *start = p + strlen(attrs[k]) - 1, *end = strchr(start, '"');
                        CHECK(end && (size_t)(end - start) < sizeof(path));
                        memcpy(path, start, (size_t)(end - start));
                        path[end - start] = '\0';
                        if (!brm_asset_find(path))
                                CHECK_FAIL_("index.html loads %s, which is not built in", path);
                }
        }
}

int main(int argc, char **argv)
{
        const struct brm_asset *a, *index;
        DIR *d;
        struct dirent *e;
        int files = 0;

        if (argc != 2) {
                fprintf(stderr, "usage: test_webassets MASTER_WEB_DIR\n");
                return 2;
        }

        /* Each file on disk is served whole, at its path. */
        d = opendir(argv[1]);
        CHECK(d);
        while ((e = readdir(d))) {
                char path[300];
                size_t len;
                char *want;
                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof(path), "/%s", e->d_name);
                a = brm_asset_find(path);
                if (!a)
                        CHECK_FAIL_("%s is in master/web but not built in (re-run cmake?)", path);
                want = slurp(argv[1], e->d_name, &len);
                CHECK_U64(a->len, ==, len);
                CHECK(memcmp(a->data, want, len) == 0);
                CHECK_STR(a->path, path);
                CHECK(a->content_type && a->content_type[0]);
                check_etag(a);
                free(want);
                files++;
        }
        closedir(d);
        CHECK_INT(files, >=, 3);

        index = brm_asset_find("/");
        CHECK(index);
        CHECK(index == brm_asset_find("/index.html"));
        CHECK_STR(index->content_type, "text/html; charset=utf-8");
        CHECK_STR(brm_asset_find("/app.js")->content_type, "text/javascript; charset=utf-8");
        CHECK_STR(brm_asset_find("/style.css")->content_type, "text/css; charset=utf-8");
        CHECK(strcmp(brm_asset_find("/app.js")->etag, brm_asset_find("/style.css")->etag) != 0);

        CHECK(!brm_asset_find(NULL));
        CHECK(!brm_asset_find(""));
        CHECK(!brm_asset_find("/nosuch.js"));
        CHECK(!brm_asset_find("app.js"));
        CHECK(!brm_asset_find("/app.js?v=1"));
        CHECK(!brm_asset_find("/../index.html"));
        CHECK(!brm_asset_find("//"));

        /* The bytes end with a NUL past len, so text can be read as a string. */
        CHECK_INT(index->data[index->len], ==, 0);
        check_references((const char *)index->data);

        /* Names, labels and log lines are untrusted: the script sets text
         * only, never markup. */
        a = brm_asset_find("/app.js");
        {
                static const char *const banned[] = {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("};
                for (size_t i = 0; i < sizeof(banned) / sizeof(banned[0]); i++)
                        if (strstr((const char *)a->data, banned[i]))
                                CHECK_FAIL_("app.js uses %s: insert cluster data with textContent", banned[i]);
        }

        printf("webassets: %d files, %zu bytes of index.html\n", files, index->len);
        return 0;
}

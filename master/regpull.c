/* The registry client (see regpull.h): the pull's thread walks the image
 * from its top document down to the layers; the loop thread only hears
 * progress and the end. */
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <mbedtls/md.h>

#include "reghttp.h"
#include "regpull.h"

/* A reason longer than why_size is cut short: a line, not an error. */

#define MANIFEST_ACCEPT                                                                            \
        BRM_OCI_INDEX ", " BRM_OCI_MANIFEST ", " BRM_DOCKER_LIST ", " BRM_DOCKER_MANIFEST
/* The most progress reports a second. */
#define PROGRESS_NS (200 * 1000 * 1000ull)
#define PLATFORM_MAX 64

struct brm_regpull {
        uv_loop_t *loop;
        uv_async_t async;
        uv_thread_t thread;
        const struct brm_imagestore *s;
        struct brm_regref ref;
        char name[BRM_IMAGE_REF_MAX + BRM_OCI_DIGEST_SIZE];
        char (*platforms)[PLATFORM_MAX];
        size_t n_platforms;
        char *certs_dir, *username, *password;
        bool insecure_http;
        unsigned connect_timeout_s, stall_timeout_s;
        brm_regpull_progress_cb progress;
        brm_regpull_done_cb done;
        void *arg;
        atomic_int cancel;

        /* The pull's thread only. */
        struct brm_reghttp *http;
        uint64_t last_post;
        char cur_digest[BRM_OCI_DIGEST_SIZE];
        uint64_t cur_total;

        /* Shared, under mu. */
        uv_mutex_t mu;
        bool p_new, finished;
        char p_digest[BRM_OCI_DIGEST_SIZE];
        uint64_t p_done, p_total;
        int status;
        char why[512];
        struct brm_oci_desc top;
};

static uv_once_t curl_once = UV_ONCE_INIT;
static int curl_init_rc;

static void curl_init(void)
{
        /* Not thread-safe in older libcurl: done once, on the loop thread,
         * before any pull's thread exists. */
        curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -ENOMEM;
}

/* ---- the pull's thread ---- */

static void post_progress(struct brm_regpull *p, uint64_t done, bool force)
{
        uint64_t now = uv_hrtime();

        if (!force && now - p->last_post < PROGRESS_NS)
                return;
        p->last_post = now;
        uv_mutex_lock(&p->mu);
        snprintf(p->p_digest, sizeof(p->p_digest), "%s", p->cur_digest);
        p->p_done = done;
        p->p_total = p->cur_total;
        p->p_new = true;
        uv_mutex_unlock(&p->mu);
        uv_async_send(&p->async);
}

static void on_data(void *ctx, uint64_t have)
{
        post_progress(ctx, have, false);
}

static void sha256_digest(const void *data, size_t len, char ret[BRM_OCI_DIGEST_SIZE])
{
        unsigned char md[32];

        mbedtls_md(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), data, len, md);
        memcpy(ret, "sha256:", 7);
        for (int i = 0; i < 32; i++)
                snprintf(ret + 7 + 2 * i, 3, "%02x", md[i]);
}

/* Stores a document held in memory through a blob writer (which, unlike
 * the rest of the store, may run on any thread). */
static int store_doc(struct brm_regpull *p, const char *data, size_t len, const char *digest, char *why,
                     size_t why_size)
{
        struct brm_blobw w;
        uint64_t off;
        int r;

        if (brm_imagestore_has(p->s, digest, NULL))
                return 0;
        if ((r = brm_blobw_open(p->s, NULL, &w, &off)) < 0) {
                WHY("image store: cannot store %s: %s", digest, strerror(-r));
                return r;
        }
        if ((r = brm_blobw_write(&w, data, len, len)) < 0) {
                brm_blobw_abort(&w, false);
                WHY("image store: cannot store %s: %s", digest, strerror(-r));
                return r;
        }
        return brm_blobw_commit(&w, digest, (int64_t)len, NULL, why, why_size);
}

/* GETs a manifest, index or config into memory and checks its bytes
 * against WANT (may be "") and the registry's Docker-Content-Digest. */
static int fetch_doc(struct brm_regpull *p, const char *kind, const char *ref, const char *want,
                     struct brm_reghttp_sink *sink, char ret_digest[BRM_OCI_DIGEST_SIZE], char *why, size_t why_size)
{
        char path[700], what[700], got[BRM_OCI_DIGEST_SIZE];
        bool manifest = !strcmp(kind, "manifests");
        int r;

        memset(sink, 0, sizeof(*sink));
        sink->max = BRM_OCI_DOC_MAX;
        snprintf(path, sizeof(path), "/v2/%s/%s/%s", p->ref.repo, kind, ref);
        snprintf(what, sizeof(what), "%s %s%s%s", manifest ? "manifest" : "config", p->ref.repo,
                 strncmp(ref, "sha256:", 7) ? ":" : "@", ref);
        if ((r = brm_reghttp_get(p->http, path, manifest ? MANIFEST_ACCEPT : NULL, sink, what, why, why_size)) < 0)
                goto fail;
        r = -EBADMSG;
        if (!sink->buf) {
                WHY("registry %s: %s is empty", p->ref.registry, what);
                goto fail;
        }
        sha256_digest(sink->buf, sink->len, got);
        if (want[0] && strcmp(want, got)) {
                WHY("registry %s: %s: digest mismatch (wanted %s, the bytes hash to %s)", p->ref.registry, what, want,
                    got);
                goto fail;
        }
        if (!strncmp(sink->docker_digest, "sha256:", 7) && strcmp(sink->docker_digest, got)) {
                WHY("registry %s: %s: digest mismatch (Docker-Content-Digest %s, the bytes hash to %s)",
                    p->ref.registry, what, sink->docker_digest, got);
                goto fail;
        }
        memcpy(ret_digest, got, BRM_OCI_DIGEST_SIZE);
        return 0;
fail:
        free(sink->buf);
        sink->buf = NULL;
        return r;
}

/* Streams one blob into the store, resuming a partial file of an earlier
 * pull; once more from the start when a resumed one does not match. */
static int pull_blob(struct brm_regpull *p, const char *digest, uint64_t size, char *why, size_t why_size)
{
        char path[700], what[700];
        uint64_t have, off;
        int r;

        snprintf(p->cur_digest, sizeof(p->cur_digest), "%s", digest);
        p->cur_total = size;
        if (brm_imagestore_has(p->s, digest, &have) && have == size) {
                post_progress(p, size, true);
                return 0;
        }
        snprintf(path, sizeof(path), "/v2/%s/blobs/%s", p->ref.repo, digest);
        snprintf(what, sizeof(what), "blob %s@%s", p->ref.repo, digest);
        for (int attempt = 0;; attempt++) {
                struct brm_reghttp_sink sink = { .s = p->s, .limit = size, .on_data = on_data, .ctx = p };
                struct brm_blobw w;

                if (atomic_load(&p->cancel)) {
                        WHY("registry %s: pull cancelled", p->ref.registry);
                        return -ECANCELED;
                }
                if ((r = brm_blobw_open(p->s, digest, &w, &off)) < 0) {
                        WHY("image store: cannot open a writer for %s: %s", digest, strerror(-r));
                        return r;
                }
                if (off > size) {
                        brm_blobw_abort(&w, false);
                        if ((r = brm_blobw_open(p->s, digest, &w, &off)) < 0) {
                                WHY("image store: cannot open a writer for %s: %s", digest, strerror(-r));
                                return r;
                        }
                }
                sink.w = &w;
                if (off < size) {
                        sink.range_from = off;
                        r = brm_reghttp_get(p->http, path, NULL, &sink, what, why, why_size);
                        if (r < 0) {
                                /* What came is kept for the next pull's Range request. */
                                if (sink.w)
                                        brm_blobw_abort(sink.w, sink.w->size > 0);
                                return r;
                        }
                }
                post_progress(p, sink.w->size, true);
                char cwhy[256];
                if ((r = brm_blobw_commit(sink.w, digest, (int64_t)size, NULL, cwhy, sizeof(cwhy))) == 0)
                        return 0;
                /* A resumed prefix may be what was wrong: start over once. */
                if (off > 0 && !sink.restarted && attempt == 0)
                        continue;
                WHY("registry %s: %s: %s", p->ref.registry, what, cwhy);
                return r;
        }
}

static bool platform_matches(const char *have, const char *want)
{
        size_t n = strlen(want);

        /* "linux/arm64" matches a config's "linux/arm64/v8"; a variant
         * asked for must be there. */
        return !strncmp(have, want, n) && (have[n] == '\0' || (have[n] == '/' && strchr(want, '/') == strrchr(want, '/')));
}

/* A manifest's config and layers, then the manifest itself: a stored
 * manifest means a complete image. ONE_PLATFORM: it is the top document,
 * and its config must be of one of the platforms asked for. */
static int pull_manifest(struct brm_regpull *p, const char *doc, size_t len, const char *digest, bool top, char *why,
                         size_t why_size)
{
        struct brm_reghttp_sink cfg;
        struct brm_oci_manifest *m;
        char cdigest[BRM_OCI_DIGEST_SIZE], plat[128], mwhy[256];
        int r;

        if (!(m = calloc(1, sizeof(*m)))) {
                WHY("out of memory");
                return -ENOMEM;
        }
        if ((r = brm_oci_manifest_parse(doc, len, m, mwhy, sizeof(mwhy))) < 0 || m->is_index) {
                WHY("registry %s: manifest %s of %s: %s", p->ref.registry, digest, p->name,
                    r < 0 ? mwhy : "an index where a manifest belongs");
                free(m);
                return r < 0 ? r : -EINVAL;
        }
        snprintf(p->cur_digest, sizeof(p->cur_digest), "%s", m->config);
        p->cur_total = m->config_size;
        r = fetch_doc(p, "blobs", m->config, m->config, &cfg, cdigest, why, why_size);
        if (r == 0 && top && brm_oci_config_platform(cfg.buf, cfg.len, plat, sizeof(plat)) == 0) {
                bool ok = false;

                for (size_t i = 0; i < p->n_platforms; i++)
                        ok = ok || platform_matches(plat, p->platforms[i]);
                if (!ok) {
                        WHY("image %s is %s only (wanted %s%s)", p->name, plat, p->platforms[0],
                            p->n_platforms > 1 ? ", ..." : "");
                        r = -ENOENT;
                }
        }
        if (r == 0)
                r = store_doc(p, cfg.buf, cfg.len, m->config, why, why_size);
        free(cfg.buf);
        for (size_t i = 0; r == 0 && i < m->n_layers; i++)
                r = pull_blob(p, m->layers[i], m->layer_sizes[i], why, why_size);
        if (r == 0)
                r = store_doc(p, doc, len, digest, why, why_size);
        free(m);
        return r;
}

static int pull(struct brm_regpull *p, char *why, size_t why_size)
{
        struct brm_reghttp_conf conf = {
                .ref = &p->ref, .certs_dir = p->certs_dir, .username = p->username, .password = p->password,
                .insecure_http = p->insecure_http, .connect_timeout_s = p->connect_timeout_s,
                .stall_timeout_s = p->stall_timeout_s, .cancel = &p->cancel,
        };
        struct brm_reghttp_sink top, sub;
        char digest[BRM_OCI_DIGEST_SIZE], done[16][BRM_OCI_DIGEST_SIZE];
        size_t n_done = 0;
        bool is_index;
        int r;

        if ((r = brm_reghttp_new(&conf, &p->http, why, why_size)) < 0)
                return r;
        r = fetch_doc(p, "manifests", p->ref.digest[0] ? p->ref.digest : p->ref.tag, p->ref.digest, &top, digest, why,
                      why_size);
        if (r < 0)
                return r;
        is_index = brm_oci_is_index_type(top.content_type);
        if (!is_index) {
                struct brm_oci_manifest *m = calloc(1, sizeof(*m));

                if (m && brm_oci_manifest_parse(top.buf, top.len, m, NULL, 0) == 0)
                        is_index = m->is_index;
                free(m);
        }
        memset(&p->top, 0, sizeof(p->top));
        snprintf(p->top.digest, sizeof(p->top.digest), "%s", digest);
        p->top.size = top.len;
        snprintf(p->top.media_type, sizeof(p->top.media_type), "%s",
                 top.content_type[0] && (brm_oci_is_index_type(top.content_type) ||
                                         brm_oci_is_manifest_type(top.content_type))
                         ? top.content_type
                         : is_index ? BRM_OCI_INDEX : BRM_OCI_MANIFEST);
        if (!is_index) {
                r = pull_manifest(p, top.buf, top.len, digest, true, why, why_size);
                goto out;
        }
        for (size_t i = 0; i < p->n_platforms; i++) {
                struct brm_oci_desc d;
                char iwhy[300];
                bool seen = false;

                if ((r = brm_oci_index_platform(top.buf, top.len, p->platforms[i], &d, iwhy, sizeof(iwhy))) < 0) {
                        WHY("image %s %s", p->name, iwhy);
                        goto out;
                }
                for (size_t j = 0; j < n_done; j++)
                        seen = seen || !strcmp(done[j], d.digest);
                if (seen)
                        continue;
                if (d.size > BRM_OCI_DOC_MAX || !brm_oci_is_manifest_type(d.media_type)) {
                        WHY("image %s: the index's %s entry is not a manifest of at most %u bytes", p->name,
                            p->platforms[i], BRM_OCI_DOC_MAX);
                        r = -EINVAL;
                        goto out;
                }
                if ((r = fetch_doc(p, "manifests", d.digest, d.digest, &sub, digest, why, why_size)) < 0)
                        goto out;
                r = pull_manifest(p, sub.buf, sub.len, d.digest, false, why, why_size);
                free(sub.buf);
                if (r < 0)
                        goto out;
                if (n_done < 16)
                        snprintf(done[n_done++], BRM_OCI_DIGEST_SIZE, "%s", d.digest);
        }
        r = store_doc(p, top.buf, top.len, p->top.digest, why, why_size);
out:
        free(top.buf);
        return r;
}

static void worker(void *arg)
{
        struct brm_regpull *p = arg;
        char why[512] = "";
        int r;

        r = pull(p, why, sizeof(why));
        if (r < 0 && atomic_load(&p->cancel)) {
                r = -ECANCELED;
                snprintf(why, sizeof(why), "pull of %s cancelled", p->name);
        }
        if (r < 0 && !why[0])
                snprintf(why, sizeof(why), "pull of %s failed: %s", p->name, strerror(-r));
        brm_reghttp_free(p->http);
        p->http = NULL;
        uv_mutex_lock(&p->mu);
        p->finished = true;
        p->status = r < 0 ? r : 0;
        snprintf(p->why, sizeof(p->why), "%s", r < 0 ? why : "");
        uv_mutex_unlock(&p->mu);
        uv_async_send(&p->async);
}

/* ---- the loop thread ---- */

static void free_pull(struct brm_regpull *p)
{
        free(p->platforms);
        free(p->certs_dir);
        free(p->username);
        if (p->password) {
                /* Not left lying in freed memory. */
                memset(p->password, 0, strlen(p->password));
                free(p->password);
        }
        free(p);
}

static void on_closed(uv_handle_t *h)
{
        free_pull(h->data);
}

static void on_async(uv_async_t *a)
{
        struct brm_regpull *p = a->data;
        char digest[BRM_OCI_DIGEST_SIZE], why[512], name[sizeof(p->name)];
        struct brm_oci_desc top;
        uint64_t done, total;
        bool finished, report;
        int status;

        uv_mutex_lock(&p->mu);
        finished = p->finished;
        report = p->p_new;
        p->p_new = false;
        memcpy(digest, p->p_digest, sizeof(digest));
        done = p->p_done;
        total = p->p_total;
        status = p->status;
        memcpy(why, p->why, sizeof(why));
        uv_mutex_unlock(&p->mu);
        if (!finished) {
                if (report && p->progress)
                        p->progress(p->arg, digest, done, total);
                return;
        }
        uv_thread_join(&p->thread);
        uv_mutex_destroy(&p->mu);
        top = p->top;
        memcpy(name, p->name, sizeof(name));
        brm_regpull_done_cb cb = p->done;
        void *arg = p->arg;
        uv_close((uv_handle_t *)&p->async, on_closed);
        cb(arg, status, why, name, status == 0 ? &top : NULL);
}

static char *dup_or_null(const char *s, bool *oom)
{
        char *d;

        if (!s)
                return NULL;
        if (!(d = strdup(s)))
                *oom = true;
        return d;
}

static bool platform_ok(const char *s)
{
        const char *a = strchr(s, '/');

        return a && a > s && a[1] && a[1] != '/' && strlen(s) < PLATFORM_MAX && strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789/") == strlen(s) &&
               (!strchr(a + 1, '/') || (strchr(a + 1, '/')[1] && !strchr(strchr(a + 1, '/') + 1, '/')));
}

int brm_regpull_start(uv_loop_t *loop, const struct brm_imagestore *s, const struct brm_regpull_opts *o,
                      brm_regpull_progress_cb progress, brm_regpull_done_cb done, void *arg,
                      struct brm_regpull **ret, char *why, size_t why_size)
{
        struct brm_regpull *p;
        bool oom = false;
        int r;

        uv_once(&curl_once, curl_init);
        if (curl_init_rc < 0) {
                WHY("libcurl could not be initialised");
                return curl_init_rc;
        }
        if (!(p = calloc(1, sizeof(*p)))) {
                WHY("out of memory");
                return -ENOMEM;
        }
        if ((r = brm_regref_parse(o->ref, &p->ref, why, why_size)) < 0 ||
            (r = brm_regref_format(&p->ref, p->name, sizeof(p->name))) < 0) {
                if (r == -ENAMETOOLONG)
                        WHY("image reference %s is too long", o->ref);
                free(p);
                return -EINVAL;
        }
        p->n_platforms = o->n_platforms && o->platforms ? o->n_platforms : 1;
        if (!(p->platforms = calloc(p->n_platforms, PLATFORM_MAX))) {
                free(p);
                WHY("out of memory");
                return -ENOMEM;
        }
        for (size_t i = 0; i < p->n_platforms; i++) {
                if (!(o->n_platforms && o->platforms)) {
                        snprintf(p->platforms[i], PLATFORM_MAX, "linux/%s", brm_oci_host_arch());
                } else if (!o->platforms[i] || !platform_ok(o->platforms[i])) {
                        WHY("platform %s is not OS/ARCH or OS/ARCH/VARIANT (e.g. linux/arm64)",
                            o->platforms[i] ? o->platforms[i] : "(null)");
                        free_pull(p);
                        return -EINVAL;
                } else {
                        snprintf(p->platforms[i], PLATFORM_MAX, "%s", o->platforms[i]);
                }
        }
        p->certs_dir = dup_or_null(o->certs_dir, &oom);
        p->username = dup_or_null(o->username, &oom);
        p->password = dup_or_null(o->password, &oom);
        if (oom) {
                free_pull(p);
                WHY("out of memory");
                return -ENOMEM;
        }
        p->loop = loop;
        p->s = s;
        p->insecure_http = o->insecure_http;
        p->connect_timeout_s = o->connect_timeout_s;
        p->stall_timeout_s = o->stall_timeout_s;
        p->progress = progress;
        p->done = done;
        p->arg = arg;
        atomic_init(&p->cancel, 0);
        if ((r = uv_mutex_init(&p->mu)) < 0) {
                free_pull(p);
                WHY("cannot create a mutex: %s", uv_strerror(r));
                return r;
        }
        if ((r = uv_async_init(loop, &p->async, on_async)) < 0) {
                uv_mutex_destroy(&p->mu);
                free_pull(p);
                WHY("cannot create an async handle: %s", uv_strerror(r));
                return r;
        }
        p->async.data = p;
        if ((r = uv_thread_create(&p->thread, worker, p)) < 0) {
                uv_mutex_destroy(&p->mu);
                uv_close((uv_handle_t *)&p->async, on_closed);
                WHY("cannot start a thread for the pull: %s", uv_strerror(r));
                return r;
        }
        *ret = p;
        return 0;
}

void brm_regpull_cancel(struct brm_regpull *p)
{
        if (p)
                atomic_store(&p->cancel, 1);
}

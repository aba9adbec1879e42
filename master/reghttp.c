/* One pull's HTTP session with a registry (see reghttp.h). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "reghttp.h"

/* A reason longer than why_size is cut short: a line, not an error. */
void brm_reg_why(char *why, size_t why_size, const char *fmt, ...)
{
        va_list ap;

        if (!why_size)
                return;
        va_start(ap, fmt);
        vsnprintf(why, why_size, fmt, ap);
        va_end(ap);
}

struct brm_reghttp {
        struct brm_reghttp_conf c;
        CURL *curl;
        char errbuf[CURL_ERROR_SIZE];
        enum brm_regauth_scheme auth;   /* what is sent up front: learnt from the first 401 */
        struct brm_regauth_challenge chal;
        char *token;
        char base[BRM_REGREF_HOST_MAX + 16];
};

/* What one transfer saw, for the callbacks. */
struct xfer {
        struct brm_reghttp *h;
        struct brm_reghttp_sink *sink;
        bool chal_seen;
        struct brm_regauth_challenge chal;
        char content_range[96];
        bool checked;                   /* the first body byte's status was looked at */
        int werr;                       /* why the write callback stopped the transfer */
};

static void trim_copy(char *dst, size_t size, const char *s, size_t n)
{
        while (n && (*s == ' ' || *s == '\t'))
                s++, n--;
        while (n && (s[n - 1] == '\r' || s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t'))
                n--;
        snprintf(dst, size, "%.*s", (int)(n < size ? n : size - 1), s);
}

static bool header_is(const char *line, size_t n, const char *name, const char **ret_val, size_t *ret_n)
{
        size_t k = strlen(name);

        if (n <= k || line[k] != ':' || strncasecmp(line, name, k))
                return false;
        *ret_val = line + k + 1;
        *ret_n = n - k - 1;
        return true;
}

static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
        struct xfer *x = arg;
        struct brm_reghttp_sink *s = x->sink;
        size_t n = size * nitems, vn;
        const char *v;

        /* A status line starts the headers of the next answer (after a
         * redirect or a 401): forget the last one's. */
        if (n >= 5 && !strncmp(line, "HTTP/", 5)) {
                s->content_type[0] = s->docker_digest[0] = x->content_range[0] = '\0';
                x->chal_seen = false;
        } else if (header_is(line, n, "content-type", &v, &vn)) {
                trim_copy(s->content_type, sizeof(s->content_type), v, vn);
                /* "application/json; charset=utf-8": the type alone. */
                s->content_type[strcspn(s->content_type, "; ")] = '\0';
        } else if (header_is(line, n, "docker-content-digest", &v, &vn)) {
                trim_copy(s->docker_digest, sizeof(s->docker_digest), v, vn);
        } else if (header_is(line, n, "content-range", &v, &vn)) {
                trim_copy(x->content_range, sizeof(x->content_range), v, vn);
        } else if (header_is(line, n, "www-authenticate", &v, &vn)) {
                struct brm_regauth_challenge c = x->chal_seen ? x->chal : (struct brm_regauth_challenge){ 0 };

                while (vn && (v[vn - 1] == '\r' || v[vn - 1] == '\n'))
                        vn--;

                /* Several headers may each carry one challenge; Bearer wins. */
                if (brm_regauth_parse_challenge(v, vn, &c) == 0 &&
                    (!x->chal_seen || c.scheme == BRM_REGAUTH_BEARER)) {
                        x->chal = c;
                        x->chal_seen = true;
                }
        }
        return n;
}

/* The first body bytes of a 2xx answer: a resumed blob must get the rest
 * (206 from where the partial file ends), a whole one starts over. */
static int check_first(struct xfer *x)
{
        struct brm_reghttp_sink *s = x->sink;
        unsigned long long start;
        uint64_t off;
        int r;

        x->checked = true;
        if (!s->w || !s->range_from)
                return 0;
        if (s->status == 206) {
                if (sscanf(x->content_range, "bytes %llu-", &start) != 1 || start != s->range_from)
                        return -EBADMSG;
                return 0;
        }
        char digest[BRM_OCI_DIGEST_SIZE];

        snprintf(digest, sizeof(digest), "%s", s->w->digest);
        brm_blobw_abort(s->w, false);
        if ((r = brm_blobw_open(s->s, digest[0] ? digest : NULL, s->w, &off)) < 0) {
                s->w = NULL;
                return r;
        }
        s->range_from = 0;
        s->restarted = true;
        return 0;
}

static size_t on_body(char *data, size_t size, size_t nitems, void *arg)
{
        struct xfer *x = arg;
        struct brm_reghttp_sink *s = x->sink;
        size_t n = size * nitems;
        int r;

        curl_easy_getinfo(x->h->curl, CURLINFO_RESPONSE_CODE, &s->status);
        /* An error answer's body is not the object: dropped. */
        if (s->status < 200 || s->status > 299)
                return n;
        if (!x->checked && (r = check_first(x)) < 0) {
                x->werr = r;
                return 0;
        }
        if (s->w) {
                if ((r = brm_blobw_write(s->w, data, n, s->limit)) < 0) {
                        x->werr = r;
                        return 0;
                }
                if (s->on_data)
                        s->on_data(s->ctx, s->w->size);
                return n;
        }
        if (n > s->max - s->len) {
                x->werr = -E2BIG;
                return 0;
        }
        char *b = realloc(s->buf, s->len + n + 1);
        if (!b) {
                x->werr = -ENOMEM;
                return 0;
        }
        memcpy(b + s->len, data, n);
        s->buf = b;
        s->len += n;
        s->buf[s->len] = '\0';
        if (s->on_data)
                s->on_data(s->ctx, s->len);
        return n;
}

static int on_progress(void *arg, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
        struct brm_reghttp *h = arg;

        return atomic_load(h->c.cancel) ? 1 : 0;
}

/* The certs.d directory name for HOSTPORT: the registry's own requests
 * use its name in the reference ("docker.io", not the host it is reached
 * at), as containers' tools and the master's registry logins do. */
static const char *certs_key(const struct brm_reghttp *h, const char *hostport)
{
        return strcmp(hostport, h->c.ref->host) ? hostport : h->c.ref->registry;
}

/* certs.d/HOST[:PORT]/NAME into buf when that file exists. */
static bool certs_file(const struct brm_reghttp *h, const char *hostport, const char *name, char *buf, size_t size)
{
        struct stat st;

        if (!h->c.certs_dir || !h->c.certs_dir[0])
                return false;
        if (snprintf(buf, size, "%s/%s/%s", h->c.certs_dir, certs_key(h, hostport), name) >= (int)size)
                return false;
        return stat(buf, &st) == 0 && S_ISREG(st.st_mode);
}

/* The options every request has; HOSTPORT picks the certs.d directory. */
static void setup(struct brm_reghttp *h, const char *hostport)
{
        char ca[1200], cert[1200], key[1200];
        const char *protos = h->c.insecure_http ? "http,https" : "https";
        CURL *c = h->curl;

        curl_easy_reset(c);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_ERRORBUFFER, h->errbuf);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "bramble/" BRM_VERSION);
        curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, protos);
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, protos);
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, 5L);
        curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)h->c.connect_timeout_s);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1024L);
        curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, (long)h->c.stall_timeout_s);
        /* Fewer, larger writes into the blob writer (the default is 16 KiB). */
        curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 256L * 1024);
        curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(c, CURLOPT_XFERINFODATA, h);
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        if (certs_file(h, hostport, "ca.crt", ca, sizeof(ca)))
                curl_easy_setopt(c, CURLOPT_CAINFO, ca);
        if (certs_file(h, hostport, "client.cert", cert, sizeof(cert)) &&
            certs_file(h, hostport, "client.key", key, sizeof(key))) {
                curl_easy_setopt(c, CURLOPT_SSLCERT, cert);
                curl_easy_setopt(c, CURLOPT_SSLKEY, key);
        }
        h->errbuf[0] = '\0';
}

/* One line for a transfer that failed below HTTP. */
static int curl_failure(struct brm_reghttp *h, CURLcode rc, int werr, const char *what, const char *hostport,
                        char *why, size_t why_size)
{
        const char *detail = h->errbuf[0] ? h->errbuf : curl_easy_strerror(rc);
        const char *reg = h->c.ref->registry;

        switch (rc) {
        case CURLE_ABORTED_BY_CALLBACK:
                WHY("registry %s: pull cancelled while fetching %s", reg, what);
                return -ECANCELED;
        case CURLE_WRITE_ERROR:
                if (werr == -E2BIG)
                        WHY("registry %s: %s is larger than %u bytes", reg, what, BRM_OCI_DOC_MAX);
                else if (werr == -EFBIG)
                        WHY("registry %s: %s is larger than its descriptor says", reg, what);
                else if (werr == -EBADMSG)
                        WHY("registry %s: %s: the answer to a Range request starts elsewhere", reg, what);
                else
                        WHY("registry %s: storing %s: %s", reg, what, strerror(-werr));
                return werr ? werr : -EIO;
        case CURLE_COULDNT_RESOLVE_HOST:
                WHY("registry %s: cannot resolve %s (%s)", reg, hostport, detail);
                return -EHOSTUNREACH;
        case CURLE_COULDNT_CONNECT:
                WHY("registry %s: cannot connect to %s (%s)", reg, hostport, detail);
                return -ECONNREFUSED;
        case CURLE_OPERATION_TIMEDOUT:
                WHY("registry %s: no progress within %u s while fetching %s (%s)", reg, h->c.stall_timeout_s, what,
                    detail);
                return -ETIMEDOUT;
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
        case CURLE_SSL_ISSUER_ERROR:
                WHY("registry %s: TLS certificate of %s not trusted (%s); put its CA certificate in %s/%s/ca.crt",
                    reg, hostport, detail, h->c.certs_dir && h->c.certs_dir[0] ? h->c.certs_dir : "DATA_DIR/certs.d",
                    certs_key(h, hostport));
                return -EPERM;
        case CURLE_SSL_CONNECT_ERROR:
                WHY("registry %s: TLS handshake with %s failed (%s)%s", reg, hostport, detail,
                    h->c.insecure_http ? "" : "; if it speaks plain HTTP, pull with insecure HTTP");
                return -EPROTO;
        case CURLE_UNSUPPORTED_PROTOCOL:
                WHY("registry %s: %s (%s); plain HTTP only when insecure HTTP is asked for", reg, detail, what);
                return -EPROTO;
        case CURLE_PARTIAL_FILE:
        case CURLE_RECV_ERROR:
        case CURLE_SEND_ERROR:
        case CURLE_GOT_NOTHING:
        case CURLE_HTTP2:
        case CURLE_HTTP2_STREAM:
                WHY("registry %s: connection lost while fetching %s (%s)", reg, what, detail);
                return -ECONNRESET;
        case CURLE_TOO_MANY_REDIRECTS:
                WHY("registry %s: too many redirects fetching %s", reg, what);
                return -ELOOP;
        default:
                WHY("registry %s: fetching %s failed: %s", reg, what, detail);
                return -EIO;
        }
}

/* host[:port] of URL into buf, for certs.d and messages. */
static int url_hostport(const char *url, char *buf, size_t size)
{
        CURLU *u = curl_url();
        char *host = NULL, *port = NULL;
        int r = -EINVAL;

        if (!u)
                return -ENOMEM;
        if (curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK &&
            curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK) {
                curl_url_get(u, CURLUPART_PORT, &port, 0);
                r = snprintf(buf, size, "%s%s%s", host, port ? ":" : "", port ? port : "") < (int)size ? 0 : -EINVAL;
        }
        curl_free(host);
        curl_free(port);
        curl_url_cleanup(u);
        return r;
}

/* Exchanges the challenge (and the credentials, if any) for a token at
 * its realm. */
static int fetch_token(struct brm_reghttp *h, char *why, size_t why_size)
{
        const struct brm_regauth_challenge *c = &h->chal;
        struct brm_reghttp_sink sink = { .max = 1u << 20 };
        struct xfer x = { .h = h, .sink = &sink };
        char scope[600], url[2400], hostport[BRM_REGREF_HOST_MAX], *es = NULL, *esc = NULL;
        const char *reg = h->c.ref->registry;
        CURLcode rc;
        int r;

        if (strncmp(c->realm, "https://", 8) && !(h->c.insecure_http && !strncmp(c->realm, "http://", 7))) {
                WHY("registry %s: token realm %s is not an https URL", reg, c->realm);
                return -EPROTO;
        }
        if (url_hostport(c->realm, hostport, sizeof(hostport)) < 0) {
                WHY("registry %s: token realm %s is not a URL", reg, c->realm);
                return -EPROTO;
        }
        if (c->scope[0])
                snprintf(scope, sizeof(scope), "%s", c->scope);
        else
                snprintf(scope, sizeof(scope), "repository:%s:pull", h->c.ref->repo);
        setup(h, hostport);
        es = curl_easy_escape(h->curl, c->service, 0);
        esc = curl_easy_escape(h->curl, scope, 0);
        if (!es || !esc) {
                r = -ENOMEM;
                goto out;
        }
        if (snprintf(url, sizeof(url), "%s%sservice=%s&scope=%s", c->realm, strchr(c->realm, '?') ? "&" : "?", es,
                     esc) >= (int)sizeof(url)) {
                WHY("registry %s: token URL too long", reg);
                r = -ENAMETOOLONG;
                goto out;
        }
        curl_easy_setopt(h->curl, CURLOPT_URL, url);
        curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, &x);
        curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &x);
        if (h->c.username && h->c.username[0]) {
                curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                curl_easy_setopt(h->curl, CURLOPT_USERNAME, h->c.username);
                curl_easy_setopt(h->curl, CURLOPT_PASSWORD, h->c.password ? h->c.password : "");
        }
        if ((rc = curl_easy_perform(h->curl)) != CURLE_OK) {
                r = curl_failure(h, rc, x.werr, "a token", hostport, why, why_size);
                goto out;
        }
        curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &sink.status);
        if (sink.status == 401 || sink.status == 403) {
                WHY("registry %s: authentication failed for %s (token server %s: %ld)", reg, h->c.ref->repo,
                    hostport, sink.status);
                r = -EACCES;
                goto out;
        }
        if (sink.status != 200) {
                WHY("registry %s: token server %s answered HTTP %ld", reg, hostport, sink.status);
                r = -EIO;
                goto out;
        }
        free(h->token);
        h->token = NULL;
        if ((r = brm_regauth_parse_token(sink.buf ? sink.buf : "", sink.len, &h->token, why, why_size)) < 0) {
                char tmp[256];

                snprintf(tmp, sizeof(tmp), "%s", why);
                WHY("registry %s: %s", reg, tmp);
        }
out:
        curl_free(es);
        curl_free(esc);
        free(sink.buf);
        return r;
}

int brm_reghttp_new(const struct brm_reghttp_conf *conf, struct brm_reghttp **ret, char *why, size_t why_size)
{
        struct brm_reghttp *h = calloc(1, sizeof(*h));

        if (!h || !(h->curl = curl_easy_init())) {
                free(h);
                WHY("out of memory for an HTTP session");
                return -ENOMEM;
        }
        h->c = *conf;
        if (!h->c.connect_timeout_s)
                h->c.connect_timeout_s = 15;
        if (!h->c.stall_timeout_s)
                h->c.stall_timeout_s = 30;
        snprintf(h->base, sizeof(h->base), "%s://%s", conf->insecure_http ? "http" : "https", conf->ref->host);
        *ret = h;
        return 0;
}

void brm_reghttp_free(struct brm_reghttp *h)
{
        if (!h)
                return;
        curl_easy_cleanup(h->curl);
        free(h->token);
        free(h);
}

int brm_reghttp_get(struct brm_reghttp *h, const char *path, const char *accept, struct brm_reghttp_sink *sink,
                    const char *what, char *why, size_t why_size)
{
        const char *reg = h->c.ref->registry;
        char url[2048], accept_hdr[512], range[48];
        struct curl_slist *hdrs = NULL;
        bool token_fresh = false;
        int r;

        if (snprintf(url, sizeof(url), "%s%s", h->base, path) >= (int)sizeof(url)) {
                WHY("registry %s: URL for %s too long", reg, what);
                return -ENAMETOOLONG;
        }
        for (int attempt = 0;; attempt++) {
                struct xfer x = { .h = h, .sink = sink };
                CURLcode rc;

                setup(h, h->c.ref->host);
                curl_easy_setopt(h->curl, CURLOPT_URL, url);
                curl_easy_setopt(h->curl, CURLOPT_HEADERDATA, &x);
                curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &x);
                hdrs = NULL;
                if (accept) {
                        snprintf(accept_hdr, sizeof(accept_hdr), "Accept: %s", accept);
                        if (!(hdrs = curl_slist_append(NULL, accept_hdr))) {
                                WHY("out of memory");
                                return -ENOMEM;
                        }
                        curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, hdrs);
                }
                if (sink->range_from) {
                        snprintf(range, sizeof(range), "%llu-", (unsigned long long)sink->range_from);
                        curl_easy_setopt(h->curl, CURLOPT_RANGE, range);
                }
                /* libcurl's own auth options, not a header of ours: it
                 * sends them to the registry's host only, never to the
                 * blob storage a redirect points at. */
                if (h->auth == BRM_REGAUTH_BEARER && h->token) {
                        curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
                        curl_easy_setopt(h->curl, CURLOPT_XOAUTH2_BEARER, h->token);
                } else if (h->auth == BRM_REGAUTH_BASIC) {
                        curl_easy_setopt(h->curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
                        curl_easy_setopt(h->curl, CURLOPT_USERNAME, h->c.username);
                        curl_easy_setopt(h->curl, CURLOPT_PASSWORD, h->c.password ? h->c.password : "");
                }
                sink->status = 0;
                rc = curl_easy_perform(h->curl);
                curl_slist_free_all(hdrs);
                if (rc != CURLE_OK)
                        return curl_failure(h, rc, x.werr, what, h->c.ref->host, why, why_size);
                curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &sink->status);
                if (sink->status >= 200 && sink->status <= 299)
                        return 0;
                if (sink->status == 401 && attempt < 2 && x.chal_seen) {
                        bool have_creds = h->c.username && h->c.username[0];

                        if (x.chal.scheme == BRM_REGAUTH_BEARER && !token_fresh) {
                                h->chal = x.chal;
                                if ((r = fetch_token(h, why, why_size)) < 0)
                                        return r;
                                h->auth = BRM_REGAUTH_BEARER;
                                token_fresh = true;
                                continue;
                        }
                        if (x.chal.scheme == BRM_REGAUTH_BASIC && have_creds && h->auth != BRM_REGAUTH_BASIC) {
                                h->auth = BRM_REGAUTH_BASIC;
                                continue;
                        }
                }
                break;
        }
        switch (sink->status) {
        case 401:
        case 403:
                if (h->c.username && h->c.username[0])
                        WHY("registry %s: authentication failed for %s (%ld)", reg, h->c.ref->repo, sink->status);
                else
                        WHY("registry %s: %s needs credentials (%ld)", reg, h->c.ref->repo, sink->status);
                return -EACCES;
        case 404:
                WHY("registry %s: %s not found", reg, what);
                return -ENOENT;
        case 416:
                WHY("registry %s: %s: range not satisfiable (416)", reg, what);
                return -EBADMSG;
        case 429:
                WHY("registry %s: too many requests (429) fetching %s; try again later", reg, what);
                return -EAGAIN;
        default:
                WHY("registry %s: HTTP %ld fetching %s", reg, sink->status, what);
                return -EIO;
        }
}

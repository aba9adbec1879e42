/* OS updates of the node: NodeUpgrade to a committed slot (osupdate.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "err.h"
#include "fileio.h"
#include "log.h"
#include "ossig.h"
#include "osbundle.h"
#include "osupdate.h"
#include "util.h"

#define MOD "update"
#define DOC_MAX (1u << 20)
#define OUT_MAX 512
#define COMMIT_RETRY_MS 10000
#define PROGRESS_MS 1000

enum hook_step { H_NONE, H_INSTALL, H_TRY, H_REBOOT, H_COMMIT };

struct brm_osupdate {
        struct brm_osupdate_opts o;
        char state_dir[1024], hook[1024], machine[32], arch[32], slot[4], os_version[64];
        bool tryboot, has_state, fetching, has_bundle, closing;
        /* What update.json keeps. */
        char state[16], version[64], from_version[64], target[4], from_slot[4], reason[512], ref[300], digest[72];
        uint64_t done, total;
        int64_t started_ms, deadline_ms, finished_ms;
        uint32_t confirm_within_ms, healthy_ms;
        /* Work under way. */
        struct brm_osbundle bundle;
        uv_timer_t timer;             /* download progress; the healthy window; a commit retry */
        uv_process_t proc;
        uv_pipe_t out;
        enum hook_step step;
        char line[OUT_MAX], last[OUT_MAX];
        size_t line_len;
        int exit_status;
        int handles, hook_handles;
        struct brm_conn *conn;
};

static void set_reason(struct brm_osupdate *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_reason(struct brm_osupdate *u, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(u->reason, sizeof(u->reason), fmt, ap);
        va_end(ap);
}

static const char *str(json_t *o, const char *k)
{
        const char *s = json_string_value(json_object_get(o, k));
        return s ? s : "";
}

#define COPY(dst, src) snprintf(dst, sizeof(dst), "%s", src)

static void load(struct brm_osupdate *u)
{
        char path[1100];
        uint8_t *text;
        size_t len;
        json_error_t e;
        json_t *j;

        snprintf(path, sizeof(path), "%s/update.json", u->state_dir);
        if (brm_file_read(path, DOC_MAX, &text, &len) < 0)
                return;
        j = json_loadb((const char *)text, len, 0, &e);
        free(text);
        if (!json_is_object(j)) {
                brm_warn(MOD, "%s is damaged; the last update's result is lost", path);
                json_decref(j);
                return;
        }
        COPY(u->state, str(j, "state"));
        COPY(u->version, str(j, "version"));
        COPY(u->from_version, str(j, "from_version"));
        COPY(u->target, str(j, "slot"));
        COPY(u->from_slot, str(j, "from_slot"));
        COPY(u->reason, str(j, "reason"));
        COPY(u->ref, str(j, "ref"));
        COPY(u->digest, str(j, "digest"));
        u->total = (uint64_t)json_integer_value(json_object_get(j, "bytes_total"));
        u->started_ms = json_integer_value(json_object_get(j, "started_ms"));
        u->deadline_ms = json_integer_value(json_object_get(j, "deadline_ms"));
        u->finished_ms = json_integer_value(json_object_get(j, "finished_ms"));
        u->confirm_within_ms = (uint32_t)json_integer_value(json_object_get(j, "confirm_within_ms"));
        u->healthy_ms = (uint32_t)json_integer_value(json_object_get(j, "healthy_ms"));
        u->has_state = u->state[0] != '\0';
        json_decref(j);
}

/* Writes update.json atomically; a failure is logged (the state in memory
 * still goes out in the heartbeats). */
static void save(struct brm_osupdate *u)
{
        char path[1100], *text;
        json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I}", "state", u->state,
                              "version", u->version, "from_version", u->from_version, "slot", u->target, "from_slot",
                              u->from_slot, "reason", u->reason, "ref", u->ref, "digest", u->digest, "bytes_total",
                              (json_int_t)u->total, "started_ms", (json_int_t)u->started_ms, "deadline_ms",
                              (json_int_t)u->deadline_ms, "finished_ms", (json_int_t)u->finished_ms,
                              "confirm_within_ms", (json_int_t)u->confirm_within_ms, "healthy_ms",
                              (json_int_t)u->healthy_ms);
        int r = -ENOMEM;

        u->has_state = true;
        snprintf(path, sizeof(path), "%s/update.json", u->state_dir);
        if (j && (text = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS))) {
                r = brm_file_write_atomic(path, text, strlen(text), 0600);
                free(text);
        }
        json_decref(j);
        if (r < 0)
                brm_warn(MOD, "cannot write %s: %s", path, brm_strerror(r));
}

/* Enters STATE; a final one (committed, failed, rolled-back) is logged
 * with its reason and timed. */
static void enter(struct brm_osupdate *u, const char *state)
{
        bool final = strcmp(state, "committed") == 0 || strcmp(state, "failed") == 0 || strcmp(state, "rolled-back") == 0;

        COPY(u->state, state);
        if (final) {
                u->finished_ms = brm_now_ms();
                u->deadline_ms = 0;
                u->has_bundle = false;
                if (strcmp(state, "committed") == 0)
                        brm_info(MOD, "%s committed on slot %s", u->version, u->target);
                else
                        brm_warn(MOD, "update to %s %s: %s", u->version, state, u->reason);
        } else {
                brm_info(MOD, "update to %s: %s (slot %s)", u->version, state, u->target);
        }
        save(u);
}

static void fail_update(struct brm_osupdate *u, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail_update(struct brm_osupdate *u, const char *fmt, ...)
{
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(u->reason, sizeof(u->reason), fmt, ap);
        va_end(ap);
        enter(u, "failed");
}

static bool busy(const struct brm_osupdate *u)
{
        static const char *const active[] = { "downloading", "writing", "rebooting", "confirming" };

        for (size_t i = 0; i < BRM_ARRAY_SIZE(active); i++)
                if (strcmp(u->state, active[i]) == 0)
                        return true;
        /* A try that was not committed (by hand): the other slot is the
         * committed one, which an update must never write. */
        return u->tryboot && !(strcmp(u->state, "committed") == 0 && strcmp(u->target, u->slot) == 0);
}

/* ---- the hook ---- */

static void on_close(uv_handle_t *h)
{
        struct brm_osupdate *u = h->data;

        if (--u->handles == 0 && u->closing)
                free(u);
}

static void hook_done(struct brm_osupdate *u, enum hook_step step, int status);

/* The hook's process and pipe are both closed: the step is over. */
static void on_hook_close(uv_handle_t *h)
{
        struct brm_osupdate *u = h->data;
        enum hook_step step = u->step;

        if (--u->hook_handles > 0) {
                on_close(h);
                return;
        }
        u->step = H_NONE;
        if (!u->closing)
                hook_done(u, step, u->exit_status);
        on_close(h);
}

static void out_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
        static char b[1024];

        (void)h;
        (void)hint;
        *buf = uv_buf_init(b, sizeof(b));
}

/* Hook lines go to the agent's log; "progress N" lines count bytes
 * written; the last other line is the reason when it fails. */
static void hook_line(struct brm_osupdate *u)
{
        unsigned long long n;

        u->line[u->line_len] = '\0';
        u->line_len = 0;
        if (!u->line[0])
                return;
        if (sscanf(u->line, "progress %llu", &n) == 1) {
                u->done = n;
                return;
        }
        brm_info(MOD, "%s", u->line);
        COPY(u->last, u->line);
}

static void out_read(uv_stream_t *s, ssize_t n, const uv_buf_t *buf)
{
        struct brm_osupdate *u = s->data;

        for (ssize_t i = 0; i < n; i++) {
                char c = buf->base[i];
                if (c == '\n' || u->line_len == sizeof(u->line) - 1)
                        hook_line(u);
                if (c != '\n')
                        u->line[u->line_len++] = c;
        }
        if (n < 0) {
                if (u->line_len)
                        hook_line(u);
                uv_close((uv_handle_t *)&u->out, on_hook_close);
        }
}

static void hook_exit(uv_process_t *p, int64_t status, int sig)
{
        struct brm_osupdate *u = p->data;

        u->exit_status = sig ? 128 + sig : (int)status;
        uv_close((uv_handle_t *)&u->proc, on_hook_close);
}

/* Runs HOOK ARGS... with its output on one pipe: one at a time. 0 or
 * -errno. */
static int hook_run(struct brm_osupdate *u, enum hook_step step, const char *a1, const char *a2, const char *a3,
                    const char *a4)
{
        char *argv[] = { u->hook, (char *)a1, (char *)a2, (char *)a3, (char *)a4, NULL };
        uv_stdio_container_t stdio[3];
        uv_process_options_t o;
        int fds[2], r;

        if (u->step != H_NONE || u->closing)
                return -EBUSY;
        if (pipe2(fds, O_CLOEXEC) < 0)
                return -errno;
        memset(&o, 0, sizeof(o));
        uv_pipe_init(u->o.loop, &u->out, 0);
        u->out.data = u;
        uv_pipe_open(&u->out, fds[0]);
        stdio[0].flags = UV_IGNORE;
        stdio[1].flags = stdio[2].flags = UV_INHERIT_FD;
        stdio[1].data.fd = stdio[2].data.fd = fds[1];
        o.file = u->hook;
        o.args = argv;
        o.exit_cb = hook_exit;
        o.stdio = stdio;
        o.stdio_count = 3;
        u->proc.data = u;
        u->last[0] = '\0';
        u->line_len = 0;
        u->step = step;
        u->handles += 2;
        u->hook_handles = 2;
        r = uv_spawn(u->o.loop, &u->proc, &o);
        close(fds[1]);
        if (r < 0) {
                u->exit_status = 127;
                snprintf(u->last, sizeof(u->last), "cannot run %.300s: %s", u->hook, uv_strerror(r));
                uv_close((uv_handle_t *)&u->proc, on_hook_close);
                uv_close((uv_handle_t *)&u->out, on_hook_close);
                return 0;
        }
        uv_read_start((uv_stream_t *)&u->out, out_alloc, out_read);
        return 0;
}

/* ---- confirming a slot on trial ---- */

static void commit_now(uv_timer_t *t)
{
        struct brm_osupdate *u = t->data;
        int r;

        if (strcmp(u->state, "confirming") != 0 || u->step != H_NONE)
                return;
        brm_info(MOD, "slot %s healthy for %u ms with the master: committing %s", u->target, u->healthy_ms, u->version);
        if ((r = hook_run(u, H_COMMIT, "commit", u->target, NULL, NULL)) < 0) {
                set_reason(u, "cannot run %s: %s", u->hook, brm_strerror(r));
                uv_timer_start(&u->timer, commit_now, COMMIT_RETRY_MS, 0);
        }
}

void brm_osupdate_session(struct brm_osupdate *u, struct brm_conn *conn)
{
        if (!u)
                return;
        u->conn = conn;
        if (strcmp(u->state, "confirming") != 0)
                return;
        /* The window restarts with every session: it must hold throughout. */
        if (conn)
                uv_timer_start(&u->timer, commit_now, u->healthy_ms, 0);
        else if (u->step == H_NONE)
                uv_timer_stop(&u->timer);
}

/* ---- installing ---- */

static void progress(uv_timer_t *t)
{
        struct brm_osupdate *u = t->data;
        uint64_t done, total;

        if (u->fetching && brm_fetch_progress(u->o.fetch, u->ref, &done, &total)) {
                u->done = done;
                if (total)
                        u->total = total;
        }
}

static int read_blob(struct brm_osupdate *u, const char *hex, uint8_t **text, size_t *len)
{
        char path[1200];

        snprintf(path, sizeof(path), "%s/images/layout/blobs/sha256/%s", u->state_dir, hex);
        return brm_file_read(path, DOC_MAX, text, len);
}

/* The parts file for the hook: "TITLE HEX SIZE" per line. */
static int write_parts(struct brm_osupdate *u, char *path, size_t size)
{
        char *text = malloc(BRM_OSBUNDLE_MAX_PARTS * 180);
        size_t off = 0;
        int r;

        if (!text)
                return -ENOMEM;
        for (size_t i = 0; i < u->bundle.n; i++)
                off += (size_t)sprintf(text + off, "%s %s %llu\n", u->bundle.parts[i].title, u->bundle.parts[i].hex,
                                       (unsigned long long)u->bundle.parts[i].size);
        snprintf(path, size, "%s/update-parts", u->state_dir);
        r = brm_file_write_atomic(path, text, off, 0600);
        free(text);
        return r;
}

static void fetched(int status, const char *local_ref, const char *why, void *arg)
{
        struct brm_osupdate *u = arg;
        const char *hex = local_ref ? strrchr(local_ref, ':') : NULL;
        char err[600], parts[1100], blobs[1100];
        uint8_t *text;
        size_t len;
        int r;

        u->fetching = false;
        /* The fetch held the module open (brm_osupdate_close). */
        if (--u->handles == 0 && u->closing) {
                free(u);
                return;
        }
        if (status == -ECANCELED || u->closing)
                return;
        if (status < 0) {
                fail_update(u, "download of the bundle failed: %s", why && *why ? why : brm_strerror(status));
                return;
        }
        /* The manifest the CA signed names every part by its SHA-256; the
         * fetch checked each blob against those. */
        if (!hex || strcmp(hex + 1, u->digest + 7) != 0) {
                fail_update(u, "the bundle in the master's store (%s) is not the one signed", local_ref);
                return;
        }
        if ((r = read_blob(u, hex + 1, &text, &len)) < 0) {
                fail_update(u, "cannot read the bundle's manifest: %s", brm_strerror(r));
                return;
        }
        r = brm_osbundle_manifest((const char *)text, len, &u->bundle, err, sizeof(err));
        free(text);
        if (r == 0 && (r = read_blob(u, u->bundle.config_hex, &text, &len)) == 0) {
                r = brm_osbundle_config((const char *)text, len, &u->bundle, err, sizeof(err));
                free(text);
        } else if (r != -EINVAL) {
                snprintf(err, sizeof(err), "cannot read the bundle's config: %s", brm_strerror(r));
        }
        if (r == 0 && strcmp(u->bundle.version, u->version) != 0)
                r = -EINVAL, snprintf(err, sizeof(err), "the bundle says version %s, not the %s signed", u->bundle.version,
                                      u->version);
        if (r == 0 && strcmp(u->bundle.arch, u->arch) != 0)
                r = -EINVAL, snprintf(err, sizeof(err), "the bundle is for %s; this node is %s", u->bundle.arch, u->arch);
        if (r == 0)
                r = brm_osbundle_check(&u->bundle, u->target[0], err, sizeof(err));
        if (r < 0) {
                fail_update(u, "%s", err);
                return;
        }
        if ((r = write_parts(u, parts, sizeof(parts))) < 0) {
                fail_update(u, "cannot write %s: %s", parts, brm_strerror(r));
                return;
        }
        u->has_bundle = true;
        u->done = 0;
        u->total = u->bundle.total;
        enter(u, "writing");
        snprintf(blobs, sizeof(blobs), "%s/images/layout/blobs/sha256", u->state_dir);
        if ((r = hook_run(u, H_INSTALL, "install", u->target, parts, blobs)) < 0)
                fail_update(u, "cannot run %s: %s", u->hook, brm_strerror(r));
}

static void reboot_now(struct brm_osupdate *u)
{
        char path[1100], secs[32];
        int r;

        /* The try-boot guard's deadline, counted from the next boot. */
        snprintf(path, sizeof(path), "%s/update-confirm-within", u->state_dir);
        snprintf(secs, sizeof(secs), "%u\n", (u->confirm_within_ms + 999) / 1000);
        if ((r = brm_file_write_atomic(path, secs, strlen(secs), 0600)) < 0) {
                fail_update(u, "cannot write %s: %s", path, brm_strerror(r));
                return;
        }
        u->deadline_ms = brm_now_ms() + u->confirm_within_ms;
        enter(u, "rebooting");
        if ((r = hook_run(u, H_REBOOT, "reboot", NULL, NULL, NULL)) < 0)
                fail_update(u, "cannot run %s: %s", u->hook, brm_strerror(r));
}

static void hook_done(struct brm_osupdate *u, enum hook_step step, int status)
{
        const char *what = step == H_INSTALL ? "writing slot" : step == H_TRY ? "marking slot" : "committing slot";

        if (step == H_REBOOT) {
                if (status != 0)
                        fail_update(u, "the reboot failed (%s exited %d): %s", u->hook, status, u->last);
                return;
        }
        if (status != 0) {
                if (step == H_COMMIT) {
                        set_reason(u, "commit failed: %s; retrying", u->last[0] ? u->last : "no reason given");
                        brm_warn(MOD, "%s", u->reason);
                        uv_timer_start(&u->timer, commit_now, COMMIT_RETRY_MS, 0);
                        return;
                }
                fail_update(u, "%s %s failed: %s", what, u->target, u->last[0] ? u->last : "no reason given");
                return;
        }
        if (step == H_COMMIT) {
                u->reason[0] = '\0';
                enter(u, "committed");
                return;
        }
        if (step == H_TRY && strncmp(u->last, "version=", 8) == 0 && brm_osbundle_valid_version(u->last + 8))
                COPY(u->version, u->last + 8);
        reboot_now(u);
}

/* ---- NodeUpgrade ---- */

static int refuse(struct brm_conn *conn, uint64_t id, int code, const char *why)
{
        brm_warn(MOD, "update refused: %s", why);
        brm_conn_send_error(conn, id, code, why);
        return code;
}

void brm_osupdate_handle(void *arg, struct brm_conn *conn, const Bramble__Envelope *env)
{
        struct brm_osupdate *u = arg;
        const Bramble__NodeUpgrade *up = env->node_upgrade;
        char why[600], other[4];
        int r;

        if (env->msg_case != BRAMBLE__ENVELOPE__MSG_NODE_UPGRADE || !up)
                return;
        if (!u->hook[0] || !u->slot[0] || !u->o.fetch) {
                refuse(conn, env->id, -ENOTSUP, "this node cannot update its OS: it does not run the Bramble image with two slots");
                return;
        }
        if (busy(u)) {
                if (strcmp(u->state, "committed") == 0 || !u->state[0] || strcmp(u->state, "failed") == 0 ||
                    strcmp(u->state, "rolled-back") == 0)
                        snprintf(why, sizeof(why), "slot %s runs on trial and is not committed: an update would write the committed slot",
                                 u->slot);
                else
                        snprintf(why, sizeof(why), "an update to %s is under way (%s)", u->version, u->state);
                refuse(conn, env->id, -EBUSY, why);
                return;
        }
        snprintf(other, sizeof(other), "%s", strcmp(u->slot, "a") == 0 ? "b" : "a");
        if (!up->rollback) {
                if (!up->ref || !up->manifest_digest || !up->version || !up->arch || !up->has_signature) {
                        refuse(conn, env->id, -EINVAL, "the update names no bundle, version, architecture or signature");
                        return;
                }
                if (!u->o.id->creds.has_ca ||
                    brm_ossig_verify(&u->o.id->creds.ca, up->manifest_digest, up->version, up->arch, up->signature.data,
                                     up->signature.len) < 0) {
                        refuse(conn, env->id, -EBADMSG, "the bundle's signature does not verify with this node's CA certificate");
                        return;
                }
                if (strcmp(up->arch, u->arch) != 0) {
                        snprintf(why, sizeof(why), "the bundle is for %s; this node is %s", up->arch, u->arch);
                        refuse(conn, env->id, -EINVAL, why);
                        return;
                }
                if (!brm_osbundle_valid_version(up->version) || strlen(up->manifest_digest) != 71) {
                        refuse(conn, env->id, -EINVAL, "the update's version or manifest digest is malformed");
                        return;
                }
        }
        COPY(u->from_version, u->os_version);
        COPY(u->from_slot, u->slot);
        COPY(u->target, other);
        COPY(u->version, up->rollback ? "" : up->version);
        COPY(u->ref, up->rollback ? "" : up->ref);
        COPY(u->digest, up->rollback ? "" : up->manifest_digest);
        u->reason[0] = '\0';
        u->done = u->total = 0;
        u->started_ms = brm_now_ms();
        u->deadline_ms = u->finished_ms = 0;
        u->confirm_within_ms = up->has_confirm_within_ms && up->confirm_within_ms ? up->confirm_within_ms : 300000;
        u->healthy_ms = up->has_healthy_ms ? up->healthy_ms : 30000;
        u->has_bundle = false;
        brm_conn_send_ok(conn, env->id);
        /* The containers' records (written without fsync, ctrrecord.c) go to
         * the card before anything risky; once per update, on the loop. */
        int dfd = open(u->state_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
                syncfs(dfd);
                close(dfd);
        }
        if (up->rollback) {
                brm_info(MOD, "rolling back to slot %s", other);
                enter(u, "writing");
                if ((r = hook_run(u, H_TRY, "try", other, NULL, NULL)) < 0)
                        fail_update(u, "cannot run %s: %s", u->hook, brm_strerror(r));
                return;
        }
        brm_info(MOD, "updating %s -> %s into slot %s (bundle %s)", u->os_version, u->version, other, up->ref);
        enter(u, "downloading");
        if ((r = brm_fetch_image(u->o.fetch, u->ref, fetched, u)) < 0) {
                fail_update(u, "cannot fetch the bundle %s: %s", u->ref, brm_strerror(r));
                return;
        }
        u->fetching = true;
        u->handles++;
        uv_timer_start(&u->timer, progress, PROGRESS_MS, PROGRESS_MS);
}

/* ---- start ---- */

/* What the reboot decided about an update that was under way. */
static void settle(struct brm_osupdate *u)
{
        char path[1100];
        uint8_t *text = NULL;
        size_t len = 0;

        if (strcmp(u->state, "downloading") == 0 || strcmp(u->state, "writing") == 0) {
                fail_update(u, "interrupted while %s (the agent or the node restarted); slot %s was not marked to boot",
                            u->state, u->target);
                return;
        }
        if (strcmp(u->state, "rebooting") != 0 && strcmp(u->state, "confirming") != 0)
                return;
        if (strcmp(u->slot, u->target) == 0 && u->tryboot) {
                if (strcmp(u->state, "rebooting") == 0) {
                        if (!u->version[0])
                                COPY(u->version, u->os_version);
                        u->deadline_ms = brm_now_ms() + u->confirm_within_ms;
                        enter(u, "confirming");
                }
                return;
        }
        if (strcmp(u->slot, u->target) == 0) {
                enter(u, "committed");
                return;
        }
        /* Back on the committed slot: the guard says why when it knows. */
        snprintf(path, sizeof(path), "%s/update-result", u->state_dir);
        if (brm_file_read(path, 4096, &text, &len) == 0 && len > 0) {
                while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
                        len--;
                set_reason(u, "%.*s", (int)len, (const char *)text);
                unlink(path);
        } else {
                set_reason(u, "the node came back on slot %s: slot %s did not boot, or the node was reset before %s was confirmed",
                           u->slot, u->target, u->version[0] ? u->version : "it");
        }
        free(text);
        enter(u, "rolled-back");
}

int brm_osupdate_open(const struct brm_osupdate_opts *opts, struct brm_osupdate **ret)
{
        struct brm_osupdate *u = calloc(1, sizeof(*u));

        if (!u)
                return -ENOMEM;
        u->o = *opts;
        COPY(u->state_dir, opts->state_dir);
        COPY(u->hook, opts->hook ? opts->hook : "");
        COPY(u->machine, opts->machine ? opts->machine : "");
        /* The OCI name of the architecture ("linux/arm64" -> "arm64"). */
        char platform[64];
        if (brm_oci_platform_of(u->machine, platform, sizeof(platform)) == 0 && strchr(platform, '/'))
                COPY(u->arch, strchr(platform, '/') + 1);
        else
                COPY(u->arch, u->machine);
        COPY(u->slot, opts->slot ? opts->slot : "");
        COPY(u->os_version, opts->os_version ? opts->os_version : "");
        u->tryboot = opts->tryboot;
        uv_timer_init(opts->loop, &u->timer);
        u->timer.data = u;
        u->handles = 1;
        load(u);
        if (u->has_state && u->slot[0])
                settle(u);
        if (u->tryboot && strcmp(u->state, "confirming") != 0)
                brm_warn(MOD, "this boot is a try of slot %s that no update asked for; it is not committed", u->slot);
        *ret = u;
        return 0;
}

bool brm_osupdate_status(struct brm_osupdate *u, Bramble__UpdateStatus *st)
{
        if (!u || !u->has_state)
                return false;
        bramble__update_status__init(st);
        st->state = u->state;
        st->version = u->version;
        st->from_version = u->from_version;
        st->slot = u->target;
        st->reason = u->reason[0] ? u->reason : NULL;
        if (strcmp(u->state, "downloading") == 0 || strcmp(u->state, "writing") == 0) {
                st->has_bytes_done = st->has_bytes_total = true;
                st->bytes_done = u->done;
                st->bytes_total = u->total;
        }
        st->has_started_ms = u->started_ms != 0;
        st->started_ms = u->started_ms;
        st->has_deadline_ms = u->deadline_ms != 0;
        st->deadline_ms = u->deadline_ms;
        st->has_finished_ms = u->finished_ms != 0;
        st->finished_ms = u->finished_ms;
        return true;
}

void brm_osupdate_blobs(const struct brm_osupdate *u, void (*each)(const char *hex, void *arg), void *arg)
{
        if (!u || !u->has_bundle)
                return;
        each(u->bundle.config_hex, arg);
        each(u->digest + 7, arg);
        for (size_t i = 0; i < u->bundle.n; i++)
                each(u->bundle.parts[i].hex, arg);
}

void brm_osupdate_close(struct brm_osupdate *u)
{
        if (!u)
                return;
        u->closing = true;
        if (u->fetching)
                brm_fetch_cancel(u->o.fetch, fetched, u);
        /* A hook still running goes on; only its handles close. */
        if (u->step != H_NONE) {
                if (!uv_is_closing((uv_handle_t *)&u->proc))
                        uv_close((uv_handle_t *)&u->proc, on_hook_close);
                if (!uv_is_closing((uv_handle_t *)&u->out))
                        uv_close((uv_handle_t *)&u->out, on_hook_close);
        }
        uv_close((uv_handle_t *)&u->timer, on_close);
}

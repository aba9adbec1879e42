/* The steps of image collection (imagegc.h): what is in use, the choice
 * and the rename of what goes, the removal. Plain file I/O, no loop, no
 * logging (imagegc.c drives them). */
#include "imagegc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <jansson.h>

#include "fileio.h"
#include "util.h"

#define INDEX_MAX (4u << 20)
#define MANIFEST_MAX (4u << 20)
#define REF_ANNOTATION "org.bramble.ref"

/* ---- what stays ---- */

static bool valid_hex(const char *hex, size_t len)
{
        if (len != 64)
                return false;
        for (size_t i = 0; i < 64; i++)
                if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
                        return false;
        return true;
}

static void add(struct brm_imagegc_keep *k, char ***list, size_t *n, const char *s, size_t len)
{
        char **nl, *copy;

        if (k->error)
                return;
        if (!(copy = strndup(s, len)) || !(nl = realloc(*list, (*n + 1) * sizeof(**list)))) {
                free(copy);
                k->error = -ENOMEM;
                return;
        }
        nl[(*n)++] = copy;
        *list = nl;
}

void brm_imagegc_keep_ref(struct brm_imagegc_keep *k, const char *ref)
{
        if (ref && ref[0])
                add(k, &k->refs, &k->n_refs, ref, strlen(ref));
}

void brm_imagegc_keep_digest(struct brm_imagegc_keep *k, const char *d)
{
        size_t len = d ? strlen(d) : 0;
        const char *end;

        if (len > 7 && strncmp(d, "sha256:", 7) == 0)
                d += 7, len -= 7;
        else if (len > 7 && strcmp(d + len - 7, "/rootfs") == 0) {
                /* STORE/rootfs/HEX/rootfs: the HEX before the last part. */
                end = d + len - 7;
                if (end - d < 64)
                        return;
                d = end - 64;
                len = 64;
        }
        if (valid_hex(d, len))
                add(k, &k->hexes, &k->n_hexes, d, 64);
}

void brm_imagegc_keep_free(struct brm_imagegc_keep *k)
{
        for (size_t i = 0; i < k->n_refs; i++)
                free(k->refs[i]);
        for (size_t i = 0; i < k->n_hexes; i++)
                free(k->hexes[i]);
        free(k->refs);
        free(k->hexes);
        memset(k, 0, sizeof(*k));
}

static bool keeps_hex(const struct brm_imagegc_keep *k, const char *hex)
{
        for (size_t i = 0; i < k->n_hexes; i++)
                if (strncmp(k->hexes[i], hex, 64) == 0)
                        return true;
        return false;
}

/* Whether an entry's comma-separated references name one KEEP has. */
static bool keeps_a_ref(const struct brm_imagegc_keep *k, const char *list)
{
        for (const char *p = list; p && *p;) {
                const char *end = strchrnul(p, ',');
                for (size_t i = 0; i < k->n_refs; i++)
                        if (strlen(k->refs[i]) == (size_t)(end - p) && memcmp(k->refs[i], p, end - p) == 0)
                                return true;
                p = *end ? end + 1 : end;
        }
        return false;
}

/* ---- the layout's index ---- */

static const char *entry_hex(const json_t *e)
{
        const char *d = json_string_value(json_object_get(e, "digest"));
        return d && strncmp(d, "sha256:", 7) == 0 && valid_hex(d + 7, strlen(d + 7)) ? d + 7 : NULL;
}

static bool entry_kept(const struct brm_imagegc_keep *k, const json_t *e)
{
        const char *hex = entry_hex(e);
        const char *refs = json_string_value(json_object_get(json_object_get(e, "annotations"), REF_ANNOTATION));

        /* An entry the store cannot name a blob of is left to people. */
        return !hex || keeps_hex(k, hex) || keeps_a_ref(k, refs);
}

static json_t *load_index(const char *layout)
{
        char p[800];
        uint8_t *text;
        size_t len;
        json_t *index;

        if (brm_path(p, sizeof(p), "%s/index.json", layout) < 0 || brm_file_read(p, INDEX_MAX, &text, &len) < 0)
                return NULL;
        index = json_loadb((const char *)text, len, 0, NULL);
        free(text);
        if (!json_is_array(json_object_get(index, "manifests"))) {
                json_decref(index);
                return NULL;
        }
        return index;
}

/* When an image was last used: its root file system's time (stamped
 * while containers use it), or its manifest's (when it was fetched). */
static time_t last_used(const char *images, const char *hex)
{
        char p[800];
        struct stat st;
        time_t t = 0;

        if (brm_path(p, sizeof(p), "%s/rootfs/%.64s", images, hex) >= 0 && stat(p, &st) == 0)
                t = st.st_mtime;
        if (brm_path(p, sizeof(p), "%s/layout/blobs/sha256/%.64s", images, hex) >= 0 && stat(p, &st) == 0 &&
            st.st_mtime > t)
                t = st.st_mtime;
        return t;
}

/* ---- root file systems ---- */

int brm_imagegc_take_rootfs(const char *images, const struct brm_imagegc_keep *keep, char *ret_trash, size_t size)
{
        char dir[700], best[65] = "", from[800], to[800], layout[700], p[800];
        time_t best_t = 0;
        json_t *index = NULL;
        struct dirent *e;
        struct stat st;
        DIR *d;

        if (keep->error)
                return keep->error;
        if (keep->hold_rootfs || brm_path(dir, sizeof(dir), "%s/rootfs", images) < 0 || !(d = opendir(dir)))
                return -ENOENT;
        /* An index.json that cannot be read hides which root file
         * systems the containers' references keep: none goes then. */
        if (brm_path(layout, sizeof(layout), "%s/layout", images) < 0 || brm_path(p, sizeof(p), "%s/index.json", layout) < 0 ||
            (!(index = load_index(layout)) && access(p, F_OK) == 0)) {
                closedir(d);
                return -EBADMSG;
        }
        while ((e = readdir(d))) {
                bool in_use = keeps_hex(keep, e->d_name);
                size_t i;
                json_t *x;
                if (!valid_hex(e->d_name, strlen(e->d_name)) || fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                    !S_ISDIR(st.st_mode))
                        continue;
                /* The root file system of an entry a container's
                 * reference keeps is what bramble-unpack will use. */
                json_array_foreach(json_object_get(index, "manifests"), i, x) {
                        const char *h = entry_hex(x);
                        if (h && strcmp(h, e->d_name) == 0 && entry_kept(keep, x))
                                in_use = true;
                }
                if (in_use || (best[0] && (st.st_mtime > best_t || (st.st_mtime == best_t && strcmp(e->d_name, best) > 0))))
                        continue;
                memcpy(best, e->d_name, sizeof(best)); /* 64 hex digits and the NUL */
                best_t = st.st_mtime;
        }
        closedir(d);
        json_decref(index);
        if (!best[0])
                return -ENOENT;
        if (brm_path(from, sizeof(from), "%s/%s", dir, best) < 0 ||
            brm_path(to, sizeof(to), "%s/.gc-%s.%lld", dir, best, (long long)brm_now_ms()) < 0)
                return -ENAMETOOLONG;
        if (rename(from, to) < 0)
                return -errno;
        /* Renamed even when TO does not fit: the next sweep removes it. */
        return (size_t)snprintf(ret_trash, size, "%s", to) >= size ? -ENAMETOOLONG : 0;
}

/* ---- the layout ---- */

struct hexset {
        char (*h)[65];
        size_t n, cap;
        int error;
};

static void hexset_add(struct hexset *s, const char *digest)
{
        if (!digest || strncmp(digest, "sha256:", 7) != 0 || !valid_hex(digest + 7, strlen(digest + 7)))
                return;
        if (s->n == s->cap) {
                size_t nc = s->cap ? 2 * s->cap : 64;
                void *nh = realloc(s->h, nc * sizeof(*s->h));
                if (!nh) {
                        s->error = -ENOMEM;
                        return;
                }
                s->h = nh;
                s->cap = nc;
        }
        memcpy(s->h[s->n++], digest + 7, 65);
}

static bool hexset_has(const struct hexset *s, const char *hex)
{
        for (size_t i = 0; i < s->n; i++)
                if (strncmp(s->h[i], hex, 64) == 0)
                        return true;
        return false;
}

/* Adds the blob HEX and what it names when it is a manifest (config,
 * layers) or an image index (its manifests, DEPTH levels down). A
 * manifest that cannot be read makes the set unusable: blobs it may name
 * are unknown. */
static void reach(struct hexset *s, const char *blobs, const char *digest, int depth)
{
        char p[800];
        uint8_t *text;
        size_t len, i;
        json_t *m, *x;

        hexset_add(s, digest);
        if (s->error || brm_path(p, sizeof(p), "%s/%s", blobs, digest + 7) < 0 ||
            brm_file_read(p, MANIFEST_MAX, &text, &len) < 0) {
                s->error = s->error ? s->error : -EIO;
                return;
        }
        m = json_loadb((const char *)text, len, 0, NULL);
        free(text);
        if (!json_is_object(m)) {
                json_decref(m);
                s->error = -EBADMSG;
                return;
        }
        hexset_add(s, json_string_value(json_object_get(json_object_get(m, "config"), "digest")));
        json_array_foreach(json_object_get(m, "layers"), i, x)
                hexset_add(s, json_string_value(json_object_get(x, "digest")));
        json_array_foreach(json_object_get(m, "manifests"), i, x) {
                const char *d = json_string_value(json_object_get(x, "digest"));
                if (depth > 0 && d && strncmp(d, "sha256:", 7) == 0 && valid_hex(d + 7, strlen(d + 7)))
                        reach(s, blobs, d, depth - 1);
        }
        json_decref(m);
}

/* Removes the least recently used entry KEEP does not keep and writes the
 * index out: 1, 0 when every entry is kept, or -errno. */
static int drop_entry(const char *images, const char *layout, json_t *index, const struct brm_imagegc_keep *keep)
{
        json_t *manifests = json_object_get(index, "manifests"), *e;
        size_t i, pick = (size_t)-1;
        time_t pick_t = 0;
        char p[800], *text;
        int r;

        json_array_foreach(manifests, i, e) {
                time_t t;
                if (entry_kept(keep, e))
                        continue;
                t = last_used(images, entry_hex(e));
                if (pick == (size_t)-1 || t < pick_t) {
                        pick = i;
                        pick_t = t;
                }
        }
        if (pick == (size_t)-1)
                return 0;
        if (json_array_remove(manifests, pick) < 0 || !(text = json_dumps(index, JSON_COMPACT)))
                return -ENOMEM;
        r = brm_path(p, sizeof(p), "%s/index.json", layout);
        if (r >= 0)
                r = brm_file_write_atomic(p, text, strlen(text), 0644);
        free(text);
        return r < 0 ? r : 1;
}

static int trash_add(char ***trash, size_t *n, const char *path)
{
        char **nt = realloc(*trash, (*n + 2) * sizeof(**trash));

        if (!nt)
                return -ENOMEM;
        *trash = nt;
        if (!(nt[*n] = strdup(path)))
                return -ENOMEM;
        nt[++*n] = NULL;
        return 0;
}

/* Moves blobs/sha256/NAME or tmp/NAME (its HEX first) to tmp/HEX.gc. */
static int take_file(const char *layout, const char *from_dir, const char *name, char ***trash, size_t *n)
{
        char from[800], to[800];

        if (brm_path(from, sizeof(from), "%s/%s/%s", layout, from_dir, name) < 0 ||
            brm_path(to, sizeof(to), "%s/tmp/%.64s.gc", layout, name) < 0)
                return -ENAMETOOLONG;
        if (rename(from, to) < 0)
                return errno == ENOENT ? 0 : -errno;
        return trash_add(trash, n, to);
}

int brm_imagegc_take_layout(const char *images, const struct brm_imagegc_keep *keep, unsigned stale_s,
                            char ***ret_trash)
{
        char layout[700], blobs[800], dir[800];
        struct hexset reached = { 0 };
        char **trash = NULL;
        size_t n = 0, i;
        json_t *index, *e;
        struct dirent *de;
        struct stat st;
        time_t now = time(NULL);
        int dropped, r = 0;
        DIR *d;

        if (keep->error)
                return keep->error;
        if (brm_path(layout, sizeof(layout), "%s/layout", images) < 0 ||
            brm_path(blobs, sizeof(blobs), "%s/blobs/sha256", layout) < 0)
                return -ENAMETOOLONG;
        if (!(index = load_index(layout)))
                return access(layout, F_OK) == 0 ? -EBADMSG : -ENOENT;
        /* The entry goes first: from here on no entry names what is
         * moved, whenever the agent stops. */
        if ((dropped = drop_entry(images, layout, index, keep)) < 0) {
                json_decref(index);
                return dropped;
        }
        json_array_foreach(json_object_get(index, "manifests"), i, e) {
                const char *d7 = json_string_value(json_object_get(e, "digest"));
                if (d7 && strncmp(d7, "sha256:", 7) == 0 && valid_hex(d7 + 7, strlen(d7 + 7)))
                        reach(&reached, blobs, d7, 2);
        }
        json_decref(index);
        /* A manifest of a remaining entry that cannot be read: what it
         * names is unknown, so no blob goes this time. */
        if (!reached.error && (d = opendir(blobs))) {
                while (r == 0 && (de = readdir(d)))
                        if (valid_hex(de->d_name, strlen(de->d_name)) && !hexset_has(&reached, de->d_name) &&
                            !keeps_hex(keep, de->d_name))
                                r = take_file(layout, "blobs/sha256", de->d_name, &trash, &n);
                closedir(d);
        }
        free(reached.h);
        if (r == 0 && brm_path(dir, sizeof(dir), "%s/tmp", layout) >= 0 && (d = opendir(dir))) {
                while (r == 0 && (de = readdir(d))) {
                        size_t len = strlen(de->d_name);
                        if (len != 69 || strcmp(de->d_name + 64, ".part") != 0 || !valid_hex(de->d_name, 64) ||
                            keeps_hex(keep, de->d_name) || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                            st.st_mtime + (time_t)stale_s > now)
                                continue;
                        r = take_file(layout, "tmp", de->d_name, &trash, &n);
                }
                closedir(d);
        }
        /* A blob that could not be moved stays for the next time; what
         * was taken is said either way. */
        if (!dropped && !n) {
                free(trash);
                return r < 0 ? r : -ENOENT;
        }
        if (!trash && !(trash = calloc(1, sizeof(*trash))))
                return -ENOMEM; /* the entry went; its blobs go next time */
        *ret_trash = trash;
        return dropped;
}

void brm_imagegc_trash_free(char **trash)
{
        for (char **p = trash; p && *p; p++)
                free(*p);
        free(trash);
}

/* ---- removal ---- */

/* nftw has no argument for its callback: the sum is the calling thread's. */
static __thread uint64_t freed_sum;
static __thread int remove_error;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
        int r = flag == FTW_DP ? rmdir(path) : unlink(path);

        if (r == 0)
                freed_sum += (uint64_t)st->st_blocks * 512;
        else if (!remove_error)
                remove_error = -errno;
        return 0;
}

int brm_imagegc_remove(const char *path, uint64_t *ret_freed)
{
        struct stat st;

        freed_sum = 0;
        remove_error = 0;
        if (lstat(path, &st) < 0) {
                if (errno != ENOENT)
                        return -errno;
                if (ret_freed)
                        *ret_freed = 0; /* gone already: nothing to give back */
                return 0;
        }
        if (!S_ISDIR(st.st_mode)) {
                if (unlink(path) < 0)
                        return -errno;
                freed_sum = (uint64_t)st.st_blocks * 512;
        } else if (nftw(path, remove_one, 16, FTW_DEPTH | FTW_PHYS | FTW_MOUNT) < 0 && !remove_error) {
                remove_error = -errno;
        }
        if (ret_freed)
                *ret_freed = freed_sum;
        return remove_error;
}

int brm_imagegc_sweep(const char *images)
{
        char dir[800], p[1100];
        struct dirent *e;
        int n = 0;
        DIR *d;

        for (int pass = 0; pass < 2; pass++) {
                if (brm_path(dir, sizeof(dir), pass ? "%s/layout/tmp" : "%s/rootfs", images) < 0)
                        return -ENAMETOOLONG;
                if (!(d = opendir(dir)))
                        continue;
                while ((e = readdir(d))) {
                        size_t len = strlen(e->d_name);
                        bool ours = pass ? len > 3 && strcmp(e->d_name + len - 3, ".gc") == 0
                                         : strncmp(e->d_name, ".gc-", 4) == 0;
                        if (ours && brm_path(p, sizeof(p), "%s/%s", dir, e->d_name) >= 0 && brm_imagegc_remove(p, NULL) == 0)
                                n++;
                }
                closedir(d);
        }
        return n;
}

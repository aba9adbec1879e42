/* The data dir's lock, snapshot names, listing, pruning and the recovery
 * advice, on a real temporary directory; and the durable copy they use. */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "datadir.h"
#include "fileio.h"
#include "snapshot.h"

static char dir[] = "/tmp/brm-datadir-XXXXXX";

static void make(const char *rel)
{
        char path[256];

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        CHECK_INT(mkdir(path, 0700), ==, 0);
}

static void put(const char *rel, const char *text)
{
        char path[256];

        snprintf(path, sizeof(path), "%s/%s", dir, rel);
        CHECK_INT(brm_file_write_atomic(path, text, strlen(text), 0600), ==, 0);
}

static void lock(void)
{
        int fd = -1, fd2 = -1;
        long holder = -1;

        CHECK_INT(brm_datadir_lock(dir, &fd, &holder), ==, 0);
        CHECK_INT(fd, >=, 0);
        /* A second open file is a second holder, also in one process. */
        CHECK_INT(brm_datadir_lock(dir, &fd2, &holder), ==, -EBUSY);
        CHECK_INT(holder, ==, getpid());
        CHECK_INT(fd2, ==, -1);
        close(fd);
        CHECK_INT(brm_datadir_lock(dir, &fd2, &holder), ==, 0);
        close(fd2);
}

static void names(void)
{
        char name[BRM_SNAPSHOT_NAME_LEN + 1];

        brm_snapshot_name(0, name);
        CHECK_STR(name, "19700101T000000Z");
        brm_snapshot_name(1764599400, name);
        CHECK_STR(name, "20251201T143000Z");
        CHECK(brm_snapshot_name_valid("20261201T143000Z"));
        CHECK(!brm_snapshot_name_valid("20261201T143000"));
        CHECK(!brm_snapshot_name_valid("20261201T143000Z1"));
        CHECK(!brm_snapshot_name_valid("2026120xT143000Z"));
        CHECK(!brm_snapshot_name_valid("20261201-143000Z"));
        CHECK(!brm_snapshot_name_valid(".tmp-20261201T143000Z"));
}

static void list_and_prune(void)
{
        char **n, hint[1024], expect[512];
        size_t count;

        brm_datadir_recovery_hint(dir, hint, sizeof(hint));
        CHECK(strstr(hint, "no snapshot to restore from") != NULL);
        CHECK_INT(brm_snapshot_list(dir, &n, &count), ==, 0);
        CHECK_U64(count, ==, 0);
        brm_snapshot_list_free(n, count);

        make("snapshots");
        make("snapshots/20261201T120000Z");
        make("snapshots/20261130T235959Z");
        make("snapshots/20261201T090000Z");
        make("snapshots/.tmp-20261201T130000Z");
        make("snapshots/notes");
        put("snapshots/20261130T235959Z/bramble.db", "x");
        put("snapshots/20261201T090000Z/ca.key", "y");
        CHECK_INT(brm_snapshot_list(dir, &n, &count), ==, 0);
        CHECK_U64(count, ==, 3);
        CHECK_STR(n[0], "20261130T235959Z");
        CHECK_STR(n[1], "20261201T090000Z");
        CHECK_STR(n[2], "20261201T120000Z");
        brm_snapshot_list_free(n, count);

        brm_datadir_recovery_hint(dir, hint, sizeof(hint));
        snprintf(expect, sizeof(expect), "--data-dir %s --restore %s/snapshots/20261201T120000Z", dir, dir);
        CHECK(strstr(hint, expect) != NULL);

        /* Pruning keeps the newest, removes the rest with their files,
         * and leaves what is not a snapshot alone. */
        CHECK_INT(brm_snapshot_prune(dir, 5), ==, 0);
        CHECK_INT(brm_snapshot_prune(dir, 1), ==, 2);
        CHECK_INT(brm_snapshot_list(dir, &n, &count), ==, 0);
        CHECK_U64(count, ==, 1);
        CHECK_STR(n[0], "20261201T120000Z");
        brm_snapshot_list_free(n, count);
        {
                char path[256];
                snprintf(path, sizeof(path), "%s/snapshots/notes", dir);
                CHECK_INT(access(path, F_OK), ==, 0);
                /* A temporary one goes only through the cleanup at start. */
                snprintf(path, sizeof(path), "%s/snapshots/.tmp-20261201T130000Z", dir);
                CHECK_INT(access(path, F_OK), ==, 0);
                brm_snapshot_cleanup(dir);
                CHECK_INT(access(path, F_OK), ==, -1);
                CHECK_INT(brm_rmdir_flat(path), ==, -ENOENT);
        }
}

static void copy(void)
{
        char src[256], dst[256];
        uint8_t *data;
        size_t len;
        struct stat st;

        put("src", "secret key");
        snprintf(src, sizeof(src), "%s/src", dir);
        snprintf(dst, sizeof(dst), "%s/dst", dir);
        CHECK_INT(brm_file_copy(src, dst, 0640), ==, 0);
        CHECK_INT(stat(dst, &st), ==, 0);
        CHECK_INT(st.st_mode & 0777, ==, 0640);
        CHECK_INT(brm_file_read(dst, 100, &data, &len), ==, 0);
        CHECK_STR((char *)data, "secret key");
        free(data);
        /* Never over an existing file, and the existing one stays. */
        CHECK_INT(brm_file_copy(src, dst, 0600), ==, -EEXIST);
        CHECK_INT(stat(dst, &st), ==, 0);
        CHECK_INT(st.st_mode & 0777, ==, 0640);
        snprintf(src, sizeof(src), "%s/nope", dir);
        snprintf(dst, sizeof(dst), "%s/dst2", dir);
        CHECK_INT(brm_file_copy(src, dst, 0600), ==, -ENOENT);
        CHECK_INT(access(dst, F_OK), ==, -1);
        CHECK_INT(brm_fsync_dir(dir), ==, 0);
}

int main(void)
{
        char cmd[128];

        CHECK(mkdtemp(dir) != NULL);
        lock();
        names();
        list_and_prune();
        copy();
        snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
        CHECK_INT(system(cmd), ==, 0);
        printf("datadir: ok\n");
        return 0;
}

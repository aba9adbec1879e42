/* The log record parser on arbitrary lines, and arbitrary bytes through the
 * line splitter into the writer: what is written always parses, the records
 * give back exactly the bytes fed (per stream), and the counters go up by
 * one per record of their stream, also across rotations. The first input
 * byte picks how the rest is cut into reads and which stream gets each. */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "logrec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char tmp[64], exact_dir[128], rot_dir[128];

static void cleanup(void)
{
        char cmd[128];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
                fprintf(stderr, "could not remove %s\n", tmp);
}

static void setup_once(void)
{
        if (tmp[0])
                return;
        snprintf(tmp, sizeof(tmp), "%s/brm-fuzz-logrec.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
        if (!mkdtemp(tmp))
                abort();
        snprintf(exact_dir, sizeof(exact_dir), "%s/exact", tmp);
        snprintf(rot_dir, sizeof(rot_dir), "%s/rot", tmp);
        atexit(cleanup);
}

static void check_record(const char *line, size_t len)
{
        struct brm_logrec r;
        char ts[BRM_LOG_TS_LEN + 1];
        int64_t back;

        if (brm_logrec_parse(line, len, &r) < 0)
                return;
        if ((r.stream != BRM_LOG_STDOUT && r.stream != BRM_LOG_STDERR) || r.n[r.stream] == 0 ||
            r.len > BRM_LOG_LINE_MAX || r.data < line || r.data + r.len != line + len ||
            memchr(r.data, '\n', r.len))
                abort();
        brm_log_format_ts(r.ts_ns, ts);
        if (brm_log_parse_ts(ts, BRM_LOG_TS_LEN, &back) < 0 || back != r.ts_ns)
                abort();
}

static void *read_file(const char *dir, const char *name, size_t *len)
{
        char path[300];
        struct stat st;
        char *buf;
        int fd;

        snprintf(path, sizeof(path), "%s/%s", dir, name);
        if ((fd = open(path, O_RDONLY)) < 0)
                return NULL;
        if (fstat(fd, &st) < 0 || !(buf = malloc((size_t)st.st_size + 1))) {
                close(fd);
                abort();
        }
        if (read(fd, buf, (size_t)st.st_size) != st.st_size)
                abort();
        close(fd);
        *len = (size_t)st.st_size;
        return buf;
}

struct rebuild {
        char *out[2];
        size_t len[2], cap;
        uint64_t n[2];
        bool any;
};

/* Every line of a written file parses and follows the counters. */
static void walk(const char *text, size_t len, struct rebuild *rb)
{
        for (size_t off = 0; off < len;) {
                const char *nl = memchr(text + off, '\n', len - off);
                struct brm_logrec r;
                size_t l;

                if (!nl)
                        abort(); /* the writer ends every record */
                l = (size_t)(nl - (text + off));
                if (brm_logrec_parse(text + off, l, &r) < 0)
                        abort();
                if (rb->any && (r.n[r.stream] != rb->n[r.stream] + 1 || r.n[1 - r.stream] != rb->n[1 - r.stream]))
                        abort();
                rb->any = true;
                rb->n[0] = r.n[0];
                rb->n[1] = r.n[1];
                if (rb->out[0]) {
                        if (rb->len[r.stream] + r.len + 1 > rb->cap)
                                abort(); /* more came back than was fed */
                        memcpy(rb->out[r.stream] + rb->len[r.stream], r.data, r.len);
                        rb->len[r.stream] += r.len;
                        if (!r.partial)
                                rb->out[r.stream][rb->len[r.stream]++] = '\n';
                }
                off += l + 1;
        }
}

static struct brm_logsplit split[2];

static void feed(struct brm_logwriter *w, const uint8_t *data, size_t size, uint8_t seed, char **fed, size_t *fed_len)
{
        size_t off = 0;

        memset(split, 0, sizeof(split));
        split[1].stream = BRM_LOG_STDERR;
        for (unsigned i = 0; off < size; i++) {
                uint32_t h = (seed + 1u) * 2654435761u * (i + 1u);
                size_t n = seed & 0x80 ? 1 + (h >> 8) % 64 : 1 + (h >> 8) % 20000;
                int s = seed & 0x40 ? (int)((h >> 3) & 1) : 0;
                if (n > size - off)
                        n = size - off;
                if (brm_logsplit_feed(&split[s], w, (int64_t)i * 1000, (const char *)data + off, n) < 0)
                        abort();
                if (fed) {
                        memcpy(fed[s] + fed_len[s], data + off, n);
                        fed_len[s] += n;
                }
                off += n;
                if ((h & 0x30) == 0)
                        brm_logwriter_flush(w);
        }
        for (int s = 0; s < 2; s++)
                if (brm_logsplit_flush(&split[s], w, 1) < 0)
                        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        struct brm_logwriter w;
        struct rebuild rb;
        char *fed[2], path[300];
        size_t fed_len[2] = { 0, 0 };
        uint8_t seed;

        setup_once();
        /* Line by line through the parser (each line copied to its exact
         * length, so a read past it is caught). */
        for (size_t off = 0; off <= size;) {
                const uint8_t *nl = memchr(data + off, '\n', size - off);
                size_t len = nl ? (size_t)(nl - (data + off)) : size - off;
                char *line = malloc(len ? len : 1);
                if (!line)
                        return 0;
                memcpy(line, data + off, len);
                check_record(line, len);
                free(line);
                off += len + 1;
        }
        if (size == 0)
                return 0;
        seed = data[0];
        data++;
        size--;

        /* Exactly the bytes fed come back, with a fresh log each time. */
        snprintf(path, sizeof(path), "%s/log", exact_dir);
        unlink(path);
        if (brm_logwriter_open(&w, exact_dir, 1u << 30, 2) < 0)
                abort();
        fed[0] = malloc(size + 1);
        fed[1] = malloc(size + 1);
        if (!fed[0] || !fed[1])
                abort();
        feed(&w, data, size, seed, fed, fed_len);
        if (brm_logwriter_close(&w) < 0)
                abort();
        memset(&rb, 0, sizeof(rb));
        rb.out[0] = malloc(size + 1);
        rb.out[1] = malloc(size + 1);
        rb.cap = size + 1;
        if (!rb.out[0] || !rb.out[1])
                abort();
        {
                size_t len = 0;
                char *text = read_file(exact_dir, "log", &len);
                if (!text)
                        abort();
                walk(text, len, &rb);
                free(text);
        }
        for (int s = 0; s < 2; s++)
                if (rb.len[s] != fed_len[s] || memcmp(rb.out[s], fed[s], fed_len[s]) != 0)
                        abort();
        free(rb.out[0]);
        free(rb.out[1]);
        free(fed[0]);
        free(fed[1]);

        /* A small rotating log kept across inputs: every file parses, and
         * the counters run on from log.2 through log. */
        if (brm_logwriter_open(&w, rot_dir, 4096, 3) < 0)
                abort();
        feed(&w, data, size, seed, NULL, NULL);
        if (brm_logwriter_close(&w) < 0)
                abort();
        memset(&rb, 0, sizeof(rb));
        {
                static const char *const names[] = { "log.2", "log.1", "log" };
                uint64_t last[2];
                for (int f = 0; f < 3; f++) {
                        size_t len = 0;
                        char *text = read_file(rot_dir, names[f], &len);
                        if (text)
                                walk(text, len, &rb);
                        free(text);
                }
                if (brm_log_last_counters(rot_dir, 3, last) < 0 || last[0] != rb.n[0] || last[1] != rb.n[1])
                        abort();
        }
        return 0;
}

#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "log.h"
#include "token.h"
#include "util.h"

enum ftype { F_STRING, F_MASTERS, F_DURATION, F_SIZE, F_COUNT };

struct field {
        const char *name;
        size_t off;
        size_t size;
        enum ftype type;
        /* NULL when value is acceptable, else the expected form. */
        const char *(*check)(const char *value);
        uint64_t min, max;      /* numbers: the accepted range */
        const char *range;      /* numbers: the range in words */
};

static const char *check_master(const char *v)
{
        char host[256];
        uint16_t port;
        if (strcmp(v, "auto") == 0)
                return NULL;
        return brm_parse_hostport(v, host, sizeof(host), &port) < 0
                       ? "HOST:PORT, e.g. \"192.168.1.10:7443\", or \"auto\" (found on the LAN by mDNS)"
                       : NULL;
}

static const char *check_token(const char *v)
{
        return *v ? brm_token_problem(v) : NULL; /* empty = already joined */
}

static const char *check_name(const char *v)
{
        return !*v || brm_valid_node_name(v) ? NULL
                                             : "1-63 characters of a-z, 0-9 and '-', not starting or ending with '-'";
}

static const char *check_path(const char *v)
{
        return *v == '/' ? NULL : "an absolute path";
}

static const char *check_root(const char *v)
{
        return !*v || *v == '/' ? NULL : "an absolute path";
}

static const char *check_level(const char *v)
{
        enum brm_log_level l;
        return brm_log_parse_level(v, &l) < 0 ? "one of \"error\", \"warn\", \"info\", \"debug\"" : NULL;
}

#define FIELD(n, member, t, chk) { n, offsetof(struct brm_agent_config, member), sizeof(((struct brm_agent_config *)0)->member), t, chk, 0, 0, NULL }
#define NUMBER(n, member, t, lo, hi, words) \
        { n, offsetof(struct brm_agent_config, member), sizeof(((struct brm_agent_config *)0)->member), t, NULL, lo, hi, words }

static const struct field fields[] = {
        FIELD("master", masters, F_MASTERS, check_master),
        FIELD("token", token, F_STRING, check_token),
        FIELD("name", name, F_STRING, check_name),
        FIELD("state_dir", state_dir, F_STRING, check_path),
        NUMBER("heartbeat_interval", heartbeat_interval_ms, F_DURATION, 100, 3600000, "a duration from 100ms to 1h, e.g. \"5s\""),
        FIELD("log_level", log_level, F_STRING, check_level),
        FIELD("root", root, F_STRING, check_root),
        FIELD("runtime", runtime, F_STRING, NULL),
        FIELD("seccomp_profile", seccomp_profile, F_STRING, check_path),
        FIELD("os_update_hook", os_update_hook, F_STRING, check_path),
        NUMBER("log_max_size", log_max_size, F_SIZE, 64 << 10, 1ull << 30, "a size from 64K to 1G, e.g. \"10M\""),
        NUMBER("log_max_files", log_max_files, F_COUNT, 1, 100, "a whole number from 1 to 100"),
        NUMBER("log_budget", log_budget, F_SIZE, 1 << 20, 1ull << 40, "a size from 1M to 1T, e.g. \"512M\""),
        NUMBER("log_retention", log_retention_ms, F_DURATION, 0, 30ull * 86400000, "a duration up to 30d, e.g. \"1h\""),
        NUMBER("log_reserve", log_reserve, F_SIZE, 1 << 20, 1ull << 30, "a size from 1M to 1G, e.g. \"4M\""),
        NUMBER("image_gc_free", image_gc_free, F_SIZE, 0, 1ull << 40, "a size up to 1T, e.g. \"512M\" (0: never)"),
};

void brm_agent_config_defaults(struct brm_agent_config *cfg)
{
        memset(cfg, 0, sizeof(*cfg));
        snprintf(cfg->state_dir, sizeof(cfg->state_dir), "/var/lib/bramble");
        snprintf(cfg->log_level, sizeof(cfg->log_level), "info");
        cfg->heartbeat_interval_ms = 5000;
        cfg->log_max_size = 10u << 20;
        cfg->log_max_files = 3;
        cfg->log_budget = 512u << 20;
        cfg->log_retention_ms = 3600000;
        cfg->log_reserve = 4u << 20;
        /* Room for the next image to be fetched and unpacked (an arm64
         * base image with an application is typically 100-300 MiB on
         * disk, twice that while its layers and root file system are both
         * there), well before the log reserve is reached; and SD cards
         * (ext4 on flash) slow down and wear faster nearly full. A fixed
         * size, not a share of the partition: what the next image needs
         * does not grow with the card. */
        cfg->image_gc_free = 512u << 20;
}

static const struct field *find(const char *name)
{
        for (size_t i = 0; i < BRM_ARRAY_SIZE(fields); i++)
                if (strcmp(fields[i].name, name) == 0)
                        return &fields[i];
        return NULL;
}

static int set_string(struct brm_agent_config *cfg, const struct field *f, const char *v, char *err, size_t err_size)
{
        char *dst = (char *)cfg + f->off;
        const char *why;

        if (strlen(v) >= f->size) {
                snprintf(err, err_size, "field '%s': value is too long (at most %zu characters)", f->name, f->size - 1);
                return -EINVAL;
        }
        if (f->check && (why = f->check(v))) {
                snprintf(err, err_size, "field '%s': '%s' is not valid: expected %s", f->name, v, why);
                return -EINVAL;
        }
        snprintf(dst, f->size, "%s", v);
        return 0;
}

static int set_master(struct brm_agent_config *cfg, const struct field *f, const char *v, char *err, size_t err_size)
{
        const char *why = check_master(v);

        if (why || strlen(v) >= sizeof(cfg->masters[0])) {
                snprintf(err, err_size, "field '%s': '%s' is not valid: expected %s", f->name, v, why ? why : "a shorter address");
                return -EINVAL;
        }
        /* "auto" stands alone: the master is found by mDNS, and a fixed
         * address beside it would be a different intent. */
        if (strcmp(v, "auto") == 0 ? cfg->n_masters > 0 : cfg->master_auto) {
                snprintf(err, err_size, "field '%s': \"auto\" cannot be combined with addresses", f->name);
                return -EINVAL;
        }
        if (strcmp(v, "auto") == 0) {
                cfg->master_auto = true;
                return 0;
        }
        if (cfg->n_masters >= BRM_MAX_MASTERS) {
                snprintf(err, err_size, "field '%s': at most %d masters", f->name, BRM_MAX_MASTERS);
                return -EINVAL;
        }
        snprintf(cfg->masters[cfg->n_masters++], sizeof(cfg->masters[0]), "%s", v);
        return 0;
}

static int set_duration(struct brm_agent_config *cfg, const struct field *f, const char *v, char *err, size_t err_size)
{
        uint64_t ms;

        if (brm_parse_duration_ms(v, &ms) < 0 || ms < f->min || ms > f->max) {
                snprintf(err, err_size, "field '%s': '%s' is not valid: expected %s", f->name, v, f->range);
                return -EINVAL;
        }
        *(uint64_t *)((char *)cfg + f->off) = ms;
        return 0;
}

static int set_number(struct brm_agent_config *cfg, const struct field *f, const char *v, char *err, size_t err_size)
{
        uint64_t n;
        int r = f->type == F_SIZE ? brm_parse_size(v, &n) : brm_parse_u64(v, 0, UINT64_MAX, &n);

        if (r < 0 || n < f->min || n > f->max) {
                snprintf(err, err_size, "field '%s': '%s' is not valid: expected %s", f->name, v, f->range);
                return -EINVAL;
        }
        if (f->size == sizeof(uint64_t))
                *(uint64_t *)((char *)cfg + f->off) = n;
        else
                *(unsigned *)((char *)cfg + f->off) = (unsigned)n;
        return 0;
}

int brm_agent_config_set(struct brm_agent_config *cfg, const char *field, const char *value, char *err, size_t err_size)
{
        const struct field *f = find(field);

        if (!f) {
                snprintf(err, err_size, "unknown field '%s'", field);
                return -EINVAL;
        }
        switch (f->type) {
        case F_STRING:
                return set_string(cfg, f, value, err, err_size);
        case F_MASTERS:
                return set_master(cfg, f, value, err, err_size);
        case F_DURATION:
                return set_duration(cfg, f, value, err, err_size);
        case F_SIZE:
        case F_COUNT:
                return set_number(cfg, f, value, err, err_size);
        }
        return -EINVAL;
}

int brm_agent_config_parse_json(struct brm_agent_config *cfg, const char *text, char *err, size_t err_size)
{
        struct brm_agent_config tmp = *cfg;
        json_error_t jerr;
        json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr), *item;
        const char *key;
        int r = -EINVAL;

        if (!root) {
                /* jansson says: duplicate object key near '"NAME"' */
                const char *k = strstr(jerr.text, "'\"");
                const char *e = k ? strstr(k + 2, "\"'") : NULL;
                if (json_error_code(&jerr) == json_error_duplicate_key && e)
                        snprintf(err, err_size, "field '%.*s' is given more than once (line %d)", (int)(e - k - 2), k + 2,
                                 jerr.line);
                else
                        snprintf(err, err_size, "not valid JSON (near line %d): %s", jerr.line, jerr.text);
                return -EINVAL;
        }
        if (!json_is_object(root)) {
                snprintf(err, err_size, "must be a JSON object");
                goto out;
        }
        json_object_foreach(root, key, item)
        {
                const struct field *f = find(key);
                char num[32];
                if (!f) {
                        snprintf(err, err_size, "unknown field '%s'", key);
                        goto out;
                }
                if (f->type == F_MASTERS) {
                        tmp.n_masters = 0;
                        tmp.master_auto = false;
                        /* An empty master is the same as none (the image's
                         * template may leave it so). */
                        if (json_is_string(item) && !*json_string_value(item))
                                continue;
                        if (json_is_string(item)) {
                                if (set_master(&tmp, f, json_string_value(item), err, err_size) < 0)
                                        goto out;
                                continue;
                        }
                        if (!json_is_array(item) || json_array_size(item) == 0) {
                                snprintf(err, err_size, "field 'master': expected \"HOST:PORT\" or a list of them");
                                goto out;
                        }
                        size_t i;
                        json_t *m;
                        json_array_foreach(item, i, m)
                        {
                                if (!json_is_string(m)) {
                                        snprintf(err, err_size, "field 'master': every entry must be a \"HOST:PORT\" string");
                                        goto out;
                                }
                                if (set_master(&tmp, f, json_string_value(m), err, err_size) < 0)
                                        goto out;
                        }
                        continue;
                }
                if (f->type != F_STRING && json_is_number(item)) {
                        /* A bare number is seconds for a duration, bytes for
                         * a size, as on the command line. */
                        double v = json_number_value(item);
                        if (v < 0 || v > 1e15 || v != (double)(long long)v) {
                                snprintf(err, err_size, "field '%s': expected %s", f->name, f->range);
                                goto out;
                        }
                        snprintf(num, sizeof(num), f->type == F_DURATION ? "%llds" : "%lld", (long long)v);
                        if (brm_agent_config_set(&tmp, f->name, num, err, err_size) < 0)
                                goto out;
                        continue;
                }
                if (!json_is_string(item)) {
                        snprintf(err, err_size, "field '%s': expected a string", f->name);
                        goto out;
                }
                if (brm_agent_config_set(&tmp, f->name, json_string_value(item), err, err_size) < 0)
                        goto out;
        }
        *cfg = tmp;
        r = 0;
out:
        json_decref(root);
        return r;
}

int brm_agent_config_finish(struct brm_agent_config *cfg, char *err, size_t err_size)
{
        if (!cfg->name[0]) {
                char host[256];
                if (gethostname(host, sizeof(host)) < 0)
                        host[0] = '\0';
                host[sizeof(host) - 1] = '\0';
                for (char *p = host; *p; p++)
                        if (*p >= 'A' && *p <= 'Z')
                                *p = (char)(*p - 'A' + 'a');
                char *dot = strchr(host, '.');
                if (dot)
                        *dot = '\0';
                if (!brm_valid_node_name(host)) {
                        snprintf(err, err_size, "field 'name': not set, and the hostname '%s' is not a valid node name", host);
                        return -EINVAL;
                }
                snprintf(cfg->name, sizeof(cfg->name), "%.63s", host);
        }
        /* No master but a token: the master is found by mDNS, checked
         * against the CA the token pins. */
        if (cfg->n_masters == 0 && !cfg->master_auto && cfg->token[0])
                cfg->master_auto = true;
        if (cfg->n_masters == 0 && !cfg->master_auto) {
                snprintf(err, err_size, "field 'master': required (HOST:PORT of the bramble master, or \"auto\")");
                return -EINVAL;
        }
        return 0;
}

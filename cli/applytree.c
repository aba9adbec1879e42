/* Apply-file text into a tree with line numbers; see applytree.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <yaml.h>

#include "applytree.h"

struct builder {
        int *err_line;
        char *err;
        size_t err_size;
        size_t nodes;
};

static int fail(struct builder *b, int line, const char *what)
{
        *b->err_line = line;
        snprintf(b->err, b->err_size, "%s", what);
        return -1;
}

void brm_atree_free(struct brm_anode *n)
{
        if (!n)
                return;
        for (size_t i = 0; i < n->n; i++) {
                brm_atree_free(n->kids[i]);
                if (n->keys)
                        free(n->keys[i]);
        }
        free(n->kids);
        free(n->keys);
        free(n->text);
        free(n);
}

static struct brm_anode *new_node(struct builder *b, enum brm_anode_kind kind, int line)
{
        struct brm_anode *n;

        if (++b->nodes > BRM_ATREE_MAX_NODES) {
                fail(b, line, "too many values");
                return NULL;
        }
        if (!(n = calloc(1, sizeof(*n)))) {
                fail(b, line, "out of memory");
                return NULL;
        }
        n->kind = kind;
        n->line = line;
        return n;
}

/* Appends kid (and key, for maps) to n; refuses a key given twice. */
static int add_kid(struct builder *b, struct brm_anode *n, char *key, struct brm_anode *kid)
{
        struct brm_anode **kids;
        char **keys;
        char what[128];

        if (key)
                for (size_t i = 0; i < n->n; i++)
                        if (strcmp(n->keys[i], key) == 0) {
                                int line = kid ? kid->line : n->line;
                                snprintf(what, sizeof(what), "key '%.64s' is given twice", key);
                                free(key);
                                brm_atree_free(kid);
                                return fail(b, line, what);
                        }
        kids = realloc(n->kids, (n->n + 1) * sizeof(*kids));
        if (kids)
                n->kids = kids;
        keys = key ? realloc(n->keys, (n->n + 1) * sizeof(*keys)) : NULL;
        if (keys)
                n->keys = keys;
        if (!kids || (key && !keys)) {
                free(key);
                brm_atree_free(kid);
                return fail(b, n->line, "out of memory");
        }
        n->kids[n->n] = kid;
        if (key)
                n->keys[n->n] = key;
        n->n++;
        return 0;
}

/* ---- YAML ---- */

static int yaml_next(struct builder *b, yaml_parser_t *p, yaml_event_t *e)
{
        char what[256];

        if (yaml_parser_parse(p, e))
                return 0;
        snprintf(what, sizeof(what), "not valid YAML: %s%s%s", p->problem ? p->problem : "syntax error",
                 p->context ? " " : "", p->context ? p->context : "");
        return fail(b, (int)(p->problem_mark.line + 1), what);
}

static bool yaml_null(const yaml_event_t *e)
{
        const char *v = (const char *)e->data.scalar.value;

        if (e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
                return false;
        return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

/* Builds the value that event e starts (e is consumed). */
static struct brm_anode *yaml_value(struct builder *b, yaml_parser_t *p, yaml_event_t *e, int depth)
{
        int line = (int)(e->start_mark.line + 1);
        struct brm_anode *n = NULL;
        yaml_event_t k, v;

        if (depth > BRM_ATREE_MAX_DEPTH) {
                fail(b, line, "nested too deeply");
                goto out;
        }
        switch (e->type) {
        case YAML_ALIAS_EVENT:
                fail(b, line, "aliases (*name) are not supported");
                break;
        case YAML_SCALAR_EVENT:
                if (!(n = new_node(b, BRM_A_SCALAR, line)))
                        break;
                n->null = yaml_null(e);
                n->quoted = e->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
                if (!(n->text = strdup((const char *)e->data.scalar.value))) {
                        brm_atree_free(n);
                        n = NULL;
                        fail(b, line, "out of memory");
                }
                break;
        case YAML_SEQUENCE_START_EVENT:
                if (!(n = new_node(b, BRM_A_LIST, line)))
                        break;
                for (;;) {
                        struct brm_anode *kid;
                        if (yaml_next(b, p, &v) < 0)
                                goto bad;
                        if (v.type == YAML_SEQUENCE_END_EVENT) {
                                yaml_event_delete(&v);
                                break;
                        }
                        if (!(kid = yaml_value(b, p, &v, depth + 1)) || add_kid(b, n, NULL, kid) < 0)
                                goto bad;
                }
                break;
        case YAML_MAPPING_START_EVENT:
                if (!(n = new_node(b, BRM_A_MAP, line)))
                        break;
                for (;;) {
                        struct brm_anode *kid;
                        char *key;
                        if (yaml_next(b, p, &k) < 0)
                                goto bad;
                        if (k.type == YAML_MAPPING_END_EVENT) {
                                yaml_event_delete(&k);
                                break;
                        }
                        if (k.type != YAML_SCALAR_EVENT) {
                                fail(b, (int)(k.start_mark.line + 1), "a key must be a plain word");
                                yaml_event_delete(&k);
                                goto bad;
                        }
                        key = strdup((const char *)k.data.scalar.value);
                        yaml_event_delete(&k);
                        if (!key) {
                                fail(b, line, "out of memory");
                                goto bad;
                        }
                        if (yaml_next(b, p, &v) < 0) {
                                free(key);
                                goto bad;
                        }
                        if (!(kid = yaml_value(b, p, &v, depth + 1))) {
                                free(key);
                                goto bad;
                        }
                        if (add_kid(b, n, key, kid) < 0)
                                goto bad;
                }
                break;
        default:
                fail(b, line, "unexpected YAML event");
                break;
        }
out:
        yaml_event_delete(e);
        return n;
bad:
        brm_atree_free(n);
        n = NULL;
        goto out;
}

static struct brm_anode *yaml_tree(struct builder *b, const char *text, size_t len)
{
        yaml_parser_t p;
        yaml_event_t e;
        struct brm_anode *root = NULL;

        if (!yaml_parser_initialize(&p)) {
                fail(b, 1, "out of memory");
                return NULL;
        }
        yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
        /* stream start, document start (or stream end: an empty file) */
        if (yaml_next(b, &p, &e) < 0)
                goto out;
        yaml_event_delete(&e);
        if (yaml_next(b, &p, &e) < 0)
                goto out;
        if (e.type != YAML_DOCUMENT_START_EVENT) {
                yaml_event_delete(&e);
                fail(b, 1, "the file is empty");
                goto out;
        }
        yaml_event_delete(&e);
        if (yaml_next(b, &p, &e) < 0 || !(root = yaml_value(b, &p, &e, 0)))
                goto out;
        if (yaml_next(b, &p, &e) < 0)
                goto bad; /* document end */
        yaml_event_delete(&e);
        if (yaml_next(b, &p, &e) < 0)
                goto bad;
        if (e.type != YAML_STREAM_END_EVENT) {
                fail(b, (int)(e.start_mark.line + 1), "only one YAML document is allowed");
                yaml_event_delete(&e);
                goto bad;
        }
        yaml_event_delete(&e);
out:
        yaml_parser_delete(&p);
        return root;
bad:
        brm_atree_free(root);
        root = NULL;
        goto out;
}

/* ---- JSON ---- */

/* The line of every value of valid JSON text, in document order (which is
 * the order of a pre-order walk of cJSON's tree). */
struct lines {
        int *v;
        size_t n, cap;
};

static int scan_value(const char **s, const char *end, int *line, struct lines *l, int depth);

static void skip_ws(const char **s, const char *end, int *line)
{
        while (*s < end && (**s == ' ' || **s == '\t' || **s == '\n' || **s == '\r')) {
                if (**s == '\n')
                        (*line)++;
                (*s)++;
        }
}

static void skip_string(const char **s, const char *end)
{
        for ((*s)++; *s < end && **s != '"'; (*s)++)
                if (**s == '\\')
                        (*s)++;
        (*s)++;
}

static int scan_value(const char **s, const char *end, int *line, struct lines *l, int depth)
{
        skip_ws(s, end, line);
        if (*s >= end || depth > BRM_ATREE_MAX_DEPTH + 1)
                return -1;
        if (l->n == l->cap) {
                int *v = realloc(l->v, (l->cap ? l->cap * 2 : 64) * sizeof(int));
                if (!v)
                        return -1;
                l->v = v;
                l->cap = l->cap ? l->cap * 2 : 64;
        }
        l->v[l->n++] = *line;
        if (**s == '"') {
                skip_string(s, end);
                return 0;
        }
        if (**s == '{' || **s == '[') {
                char close = **s == '{' ? '}' : ']';
                bool obj = **s == '{';
                (*s)++;
                skip_ws(s, end, line);
                if (*s < end && **s == close) {
                        (*s)++;
                        return 0;
                }
                for (;;) {
                        if (obj) {
                                skip_ws(s, end, line);
                                skip_string(s, end);
                                skip_ws(s, end, line);
                                (*s)++; /* ':' */
                        }
                        if (scan_value(s, end, line, l, depth + 1) < 0)
                                return -1;
                        skip_ws(s, end, line);
                        if (*s >= end)
                                return -1;
                        if (*(*s)++ == close)
                                return 0;
                }
        }
        while (*s < end && !strchr(",]} \t\r\n", **s))
                (*s)++;
        return 0;
}

static struct brm_anode *json_value(struct builder *b, const cJSON *j, const struct lines *l, size_t *at, int depth)
{
        int line = *at < l->n ? l->v[*at] : 1;
        struct brm_anode *n;
        char num[64];

        (*at)++;
        if (depth > BRM_ATREE_MAX_DEPTH) {
                fail(b, line, "nested too deeply");
                return NULL;
        }
        if (cJSON_IsObject(j) || cJSON_IsArray(j)) {
                if (!(n = new_node(b, cJSON_IsObject(j) ? BRM_A_MAP : BRM_A_LIST, line)))
                        return NULL;
                for (const cJSON *k = j->child; k; k = k->next) {
                        struct brm_anode *kid = json_value(b, k, l, at, depth + 1);
                        char *key = NULL;
                        if (!kid || (cJSON_IsObject(j) && !(key = strdup(k->string ? k->string : ""))) ||
                            add_kid(b, n, key, kid) < 0) {
                                if (kid && cJSON_IsObject(j) && !key)
                                        brm_atree_free(kid);
                                brm_atree_free(n);
                                return NULL;
                        }
                }
                return n;
        }
        if (!(n = new_node(b, BRM_A_SCALAR, line)))
                return NULL;
        if (cJSON_IsString(j)) {
                n->quoted = true;
                n->text = strdup(j->valuestring);
        } else if (cJSON_IsNumber(j)) {
                if (j->valuedouble == (double)(long long)j->valuedouble && j->valuedouble > -1e15 && j->valuedouble < 1e15)
                        snprintf(num, sizeof(num), "%lld", (long long)j->valuedouble);
                else
                        snprintf(num, sizeof(num), "%.17g", j->valuedouble);
                n->text = strdup(num);
        } else {
                n->null = cJSON_IsNull(j);
                n->text = strdup(cJSON_IsTrue(j) ? "true" : cJSON_IsFalse(j) ? "false" : "null");
        }
        if (!n->text) {
                brm_atree_free(n);
                fail(b, line, "out of memory");
                return NULL;
        }
        return n;
}

static struct brm_anode *json_tree(struct builder *b, const char *text, size_t len)
{
        const char *end = NULL, *s = text;
        struct lines l = { 0 };
        struct brm_anode *root = NULL;
        size_t at = 0;
        int line = 1;
        cJSON *j = cJSON_ParseWithLengthOpts(text, len, &end, false);

        if (!j) {
                const char *where = cJSON_GetErrorPtr();
                if (!where || where < text || where > text + len)
                        where = text;
                for (const char *q = text; q < where; q++)
                        line += *q == '\n';
                fail(b, line, "not valid JSON");
                return NULL;
        }
        skip_ws(&end, text + len, &line);
        line = 1;
        if (end < text + len) {
                for (const char *q = text; q < end; q++)
                        line += *q == '\n';
                fail(b, line, "not valid JSON: text after the end of the document");
        } else if (scan_value(&s, text + len, &line, &l, 0) < 0) {
                fail(b, 1, "not valid JSON");
        } else {
                root = json_value(b, j, &l, &at, 0);
        }
        free(l.v);
        cJSON_Delete(j);
        return root;
}

struct brm_anode *brm_atree_parse(const char *text, size_t len, bool json, int *err_line, char *err, size_t err_size)
{
        struct builder b = { .err_line = err_line, .err = err, .err_size = err_size };

        *err_line = 0;
        err[0] = '\0';
        if (memchr(text, '\0', len)) {
                fail(&b, 1, "the file holds a NUL byte");
                return NULL;
        }
        return json ? json_tree(&b, text, len) : yaml_tree(&b, text, len);
}

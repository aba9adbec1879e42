/* The text of an apply file as a tree of maps, lists and scalars that
 * remembers the line each came from: YAML through libyaml's event parser
 * (so every value keeps its line, which a tree API would lose) and JSON
 * through cJSON, with the lines found by a scan of the same text. Pure;
 * used only by applyfile.c. */
#ifndef BRM_CLI_APPLYTREE_H
#define BRM_CLI_APPLYTREE_H

#include <stdbool.h>
#include <stddef.h>

enum brm_anode_kind { BRM_A_SCALAR, BRM_A_MAP, BRM_A_LIST };

struct brm_anode {
        enum brm_anode_kind kind;
        int line;         /* 1-based */
        char *text;       /* scalars: the value */
        bool quoted;      /* scalars: a quoted YAML scalar or a JSON string */
        bool null;        /* scalars: YAML ~, null or nothing; JSON null */
        size_t n;         /* maps and lists: the entries */
        char **keys;      /* maps: the keys */
        struct brm_anode **kids;
};

/* Depth and size bounds of a tree. */
#define BRM_ATREE_MAX_DEPTH 32
#define BRM_ATREE_MAX_NODES 100000

/* Parses text (len bytes) as JSON when json, else YAML: the root, or NULL
 * with the line in *err_line and what is wrong in err. Refuses aliases, more than one document,
 * duplicate keys and keys that are not scalars. */
struct brm_anode *brm_atree_parse(const char *text, size_t len, bool json, int *err_line, char *err,
                                 size_t err_size);
void brm_atree_free(struct brm_anode *n);

#endif

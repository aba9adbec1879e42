/* What every bramble command shares: the invocation's settings, the exit
 * codes, one-line argument errors, the connection to the master, and the
 * formatting helpers for human and JSON output.
 *
 * Commands take (struct brm_cli *, argc, argv) with argv[0] being the last
 * command word ("ps", "create" for 'bramble token create') and return a
 * process exit code. They print their own one-line errors. */
#ifndef BRM_CLI_COMMON_H
#define BRM_CLI_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bramble.pb-c.h"
#include "client.h"
#include "tls.h"

/* Exit codes: 0 done; 1 the request failed (the master refused or failed
 * it, or a local command such as flash failed); 2 bad arguments;
 * 3 credentials or connection. */
enum { EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3 };

/* The global options and, once a command needs the master, the one
 * connection it uses. */
struct brm_cli {
        const char *config; /* --config, else $BRAMBLE_CONFIG, else ~/.config/bramble/admin.json */
        bool json;          /* -o json */
        int timeout_ms;     /* --timeout */
        struct brm_tls_creds creds;
        char master[300];
        struct brm_client client;
        bool connected;
};

/* Prints "bramble: MSG" and a pointer to 'bramble --help' on stderr;
 * returns EXIT_USAGE. */
int brm_cli_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for a command that has its own --help (image configure,
 * flash): prints "bramble CMD: MSG"; returns EXIT_USAGE. */
int brm_cli_command_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Loads the credentials and connects, once; returns 0, or prints the error
 * and returns the exit code. */
int brm_cli_connect(struct brm_cli *c);
/* Sends one request and returns its reply of type want (free it with
 * brm_msg_free), or prints the error and returns NULL with *ret_exit set
 * to the exit code. */
Bramble__Envelope *brm_cli_call(struct brm_cli *c, Bramble__Envelope *req, Bramble__Envelope__MsgCase want, int *ret_exit);
/* Prints the message of an Error reply; returns its exit code: EXIT_CONNECT
 * when the master refused the connection itself, else EXIT_FAIL. */
int brm_cli_print_error(const Bramble__Envelope *env);

/* Prints root as indented JSON and deletes it. */
void brm_cli_print_json(cJSON *root);
/* b as "512B", "1.5K", "64M" (powers of 1024, one decimal below 10). */
void brm_cli_human_bytes(uint64_t b, char *out, size_t size);
/* ms since the epoch as an RFC 3339 UTC time, "2026-11-22T10:00:00Z". */
void brm_cli_rfc3339(int64_t ms, char *out, size_t size);
/* Adds KEY as an RFC 3339 time, or null when ms is 0 (never, unknown). */
void brm_cli_json_time(cJSON *o, const char *key, int64_t ms);
/* A token's expiry for a table: "in 3h", "-" (past), "never" (0). */
void brm_cli_expires(int64_t expires_ms, int64_t now_ms, char *out, size_t size);

#endif

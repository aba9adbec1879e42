/* Shared pieces of the bramble CLI. */
#ifndef BRM_CLI_H
#define BRM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bramble.pb-c.h"
#include "client.h"
#include "tls.h"

/* Exit codes: 0 done, 1 the master refused or failed the request, 2 bad
 * arguments, 3 credentials or connection. */
enum { EXIT_REFUSED = 1, EXIT_USAGE = 2, EXIT_CONNECT = 3 };

struct cli {
        const char *config;
        bool json;
        int timeout_ms;
        struct brm_tls_creds creds;
        char master[300];
        struct brm_client client;
        bool connected;
};

/* Prints "bramble: <fmt with arg>" and a hint; returns EXIT_USAGE. */
int brm_cli_usage_error(const char *fmt, const char *arg);
/* Loads the credentials and connects, once; 0, or prints the error and
 * returns the exit code. */
int brm_cli_connect(struct cli *c);
/* Sends one request and returns its reply (free with brm_msg_free), or
 * prints the error and returns NULL with *rc set to the exit code. */
Bramble__Envelope *brm_cli_call(struct cli *c, Bramble__Envelope *req, Bramble__Envelope__MsgCase want, int *rc);
/* Prints and deletes root. */
void brm_cli_print_json(cJSON *root);
void brm_cli_human_bytes(uint64_t b, char *out, size_t size);

/* containers.c; argv[0] is the command. */
int brm_cli_run(struct cli *c, int argc, char **argv);
int brm_cli_ps(struct cli *c, int argc, char **argv);
int brm_cli_container_change(struct cli *c, int argc, char **argv);

/* logs.c; argv[0] is "logs". */
int brm_cli_logs(struct cli *c, int argc, char **argv);

#endif

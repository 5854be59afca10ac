/* cli.h — what every `streamllm` subcommand shares: argument parsing that
 * rejects absurd values with a message naming the flag, and fatal errors.
 * Only tools/ may exit; the library returns statuses. */
#ifndef SL_CLI_H
#define SL_CLI_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "streamllm.h"

/* Prints "streamllm <cmd>: error: <msg>" to stderr and exits 1. */
_Noreturn void cli_die(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Dies with the library's message when st != SL_OK. */
void cli_check(sl_status st, const sl_error *err);
/* Set by main to the subcommand name, for messages. */
extern const char *cli_cmd;

/* Strict number parsing: the whole string must parse and lie in [lo, hi];
 * otherwise dies naming the flag and the accepted range. */
long long cli_parse_int(const char *flag, const char *s, long long lo, long long hi);
double cli_parse_float(const char *flag, const char *s, double lo, double hi);

/* For a loop over argv: returns the value after flag argv[*i] and advances
 * *i, or dies "flag needs a value". */
const char *cli_value(int argc, char **argv, int *i);

/* Reads a whole file (or stdin for "-") into a NUL-terminated buffer; dies
 * with the path on failure. *len gets the byte count. Caller frees. */
char *cli_read_file(const char *path, size_t *len);

/* llama.cpp's -e: rewrites \n \t \r \\ \" \' and \xNN in s[0..len) in
 * place (unknown escapes stay as written); returns the new length and
 * NUL-terminates. */
size_t cli_unescape(char *s, size_t len);

/* The model used when no -m is given: $STREAMLLM_MODEL, else the embedded
 * default next to the binary (../models/) or in the source tree. Returns NULL
 * when none exists. */
const char *cli_default_model(void);

/* Loads a model or dies with the loader's message. */
sl_model *cli_load_model(const char *path);

#endif

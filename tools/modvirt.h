/*
 * modvirt.h: what the command files of the modvirt CLI share: commands,
 * their options and parsed arguments, output and error helpers.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include <glib.h>

#include "libvirt/libvirt.h"

typedef enum {
    CLI_OPT_BOOL,       /* --name */
    CLI_OPT_STRING,     /* --name VALUE, --name=VALUE */
    CLI_OPT_INT,        /* a string that must be a non-negative number */
    CLI_OPT_LAST
} CliOptType;

typedef enum {
    CLI_OPT_POSITIONAL = 1 << 0,    /* may be given as a bare word */
    CLI_OPT_REQUIRED = 1 << 1,
} CliOptFlags;

typedef struct {
    const char *name;
    CliOptType type;
    unsigned int flags;             /* CliOptFlags */
    const char *help;
} CliOptDef;

#define CLI_MAX_OPTS 24

typedef struct _CliCommand CliCommand;

typedef struct {
    const CliCommand *cmd;
    bool set[CLI_MAX_OPTS];
    const char *value[CLI_MAX_OPTS];
} CliArgs;

typedef struct {
    virConnectPtr conn;
    bool quiet;
} Cli;

struct _CliCommand {
    const char *name;
    const char *help;
    const char *desc;
    const CliOptDef *opts;          /* NULL-name terminated, or NULL */
    bool needs_conn;
    bool (*handler)(Cli *cli, const CliArgs *args);
};

/* The domain commands (modvirt-domain.c), sorted by name. */
extern const CliCommand cli_domain_commands[];
extern const size_t cli_domain_commands_len;

/* "error: ..." on stderr. */
void cli_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Informational lines that -q suppresses (virsh's vshPrintExtra). */
void cli_print_extra(Cli *cli, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Forget the last library error: a failure the command handled. */
void cli_reset_error(void);

/* Parsed option values, by option name. */
bool cli_arg_bool(const CliArgs *args, const char *name);
const char *cli_arg_string(const CliArgs *args, const char *name);

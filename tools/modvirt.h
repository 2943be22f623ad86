/*
 * modvirt.h: what the command files of the modvirt CLI share: commands,
 * their options and parsed arguments, output and error helpers, domain
 * lookup, tables and XML queries.
 */
#pragma once

#include <stdbool.h>
#include <stdio.h>

#include <glib.h>
#include <libxml/tree.h>
#include <libxml/xpath.h>

#include "libvirt/libvirt.h"

typedef enum {
    CLI_OPT_BOOL,       /* --name */
    CLI_OPT_STRING,     /* --name VALUE, --name=VALUE */
    CLI_OPT_INT,        /* a string that must be a non-negative number */
    CLI_OPT_ARGV,       /* a string that may be given many times; listed last */
    CLI_OPT_ALIAS,      /* --name stands for the option "help" names ("format=raw") */
    CLI_OPT_LAST
} CliOptType;

typedef enum {
    CLI_OPT_POSITIONAL = 1 << 0,    /* may be given as a bare word */
    CLI_OPT_REQUIRED = 1 << 1,
    CLI_OPT_UNCHECKED = 1 << 2,     /* CLI_OPT_INT the command parses itself */
} CliOptFlags;

typedef struct {
    const char *name;
    CliOptType type;
    unsigned int flags;             /* CliOptFlags */
    const char *help;
} CliOptDef;

#define CLI_MAX_OPTS 32

typedef struct _CliCommand CliCommand;

typedef struct {
    const CliCommand *cmd;
    bool set[CLI_MAX_OPTS];
    const char *value[CLI_MAX_OPTS];
    GPtrArray *list;                /* the values of the CLI_OPT_ARGV option, in order */
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

#define CLI_DOMAIN_OPT \
    { "domain", CLI_OPT_STRING, CLI_OPT_POSITIONAL | CLI_OPT_REQUIRED, "domain name, id or uuid" }
#define CLI_OPTS_END { NULL, CLI_OPT_LAST, 0, NULL }

/* The command tables, each sorted by name. */
extern const CliCommand cli_domain_commands[];      /* modvirt-domain.c */
extern const size_t cli_domain_commands_len;
extern const CliCommand cli_block_commands[];       /* modvirt-block.c */
extern const size_t cli_block_commands_len;
extern const CliCommand cli_snapshot_commands[];    /* modvirt-snapshot.c */
extern const size_t cli_snapshot_commands_len;

/* ------------------------------------------------------------ output, errors */

/* "error: ..." on stderr, after flushing stdout (as virsh does, so that
 * 2>&1 keeps the order). */
void cli_error(const char *fmt, ...) G_GNUC_PRINTF(1, 2);
/* Informational lines that -q suppresses (virsh's vshPrintExtra). */
void cli_print_extra(Cli *cli, const char *fmt, ...) G_GNUC_PRINTF(2, 3);

/* Forget the last library error: a failure the command handled. */
void cli_reset_error(void);
/* Print the last library error now ("error: MESSAGE") and forget it;
 * nothing if there is none (virsh's vshReportError). */
void cli_report_last_error(void);
/* Make @message the error reported when the command fails, in place of
 * the library's (what virsh reports for errors raised inside virsh's own
 * helpers, e.g. "invalid argument: unknown suffix 'x'"). */
void cli_set_last_error(const char *message);
/* The code of the last library error kept for the command, or 0. */
int cli_last_error_code(void);

/* ------------------------------------------------------------ options */

bool cli_arg_bool(const CliArgs *args, const char *name);
const char *cli_arg_string(const CliArgs *args, const char *name);

/* A string option as virsh's vshCommandOptStringReq reads it: 0 and
 * *ret_value set (NULL if absent), -1 with virsh's error if it is empty. */
int cli_arg_string_req(const CliArgs *args, const char *name, const char **ret_value);

/* "Options --A and --B are mutually exclusive" if both are set. */
bool cli_exclusive(const CliArgs *args, const char *a, const char *b);
/* "Option --B is required by option --A" if A is set without B. */
bool cli_requires(const CliArgs *args, const char *a, const char *b);

/* Numbers as virsh reads them: 1 and *ret_value set, 0 if the option is
 * absent (*ret_value untouched), -1 with virsh's error printed. */
int cli_arg_uint(const CliArgs *args, const char *name, unsigned int *ret_value);
int cli_arg_ullong(const CliArgs *args, const char *name, unsigned long long *ret_value);
/* --timeout SECONDS as milliseconds (1 .. INT_MAX/1000 s). */
int cli_arg_timeout_ms(const CliArgs *args, int *ret_value);
/* --bandwidth: a plain number (negative ones wrap, as virsh's), or a
 * scaled one ("10M") in bytes/s, converted to MiB/s unless @bytes. */
int cli_arg_bandwidth(const CliArgs *args, bool bytes, unsigned long *ret_value);

/* ------------------------------------------------------------ helpers */

typedef enum {
    CLI_BY_ID = 1 << 0,
    CLI_BY_UUID = 1 << 1,
    CLI_BY_NAME = 1 << 2,
    CLI_BY_ANY = CLI_BY_ID | CLI_BY_UUID | CLI_BY_NAME,
} CliLookup;

/* The domain named by the option @opt, looked up as virsh does: as an ID
 * if it is a number, then as a UUID, then as a name; NULL with virsh's
 * "failed to get domain" printed. */
virDomainPtr cli_domain(Cli *cli, const CliArgs *args, const char *opt, CliLookup by);

/* The contents of the file @path, or NULL with virsh's message printed. */
char *cli_read_file(const char *path);

/* @names[@value], or @fallback out of range. */
const char *cli_name(const char *const *names, size_t len, int value, const char *fallback);

/* virsh's names of block job types ("Block Pull", "Active Block Commit"). */
const char *cli_block_job_type_name(int type);

/* A value in bytes in the largest unit that keeps it >= 1 (virsh's
 * vshPrettyCapacity): 1536 -> 1.5, "KiB". */
double cli_pretty_capacity(unsigned long long value, const char **ret_unit);

/* A table as virsh's vshTable prints it: a header row, a dashed line,
 * the rows; -q leaves out the header and the line. */
typedef struct {
    GPtrArray *rows;                /* GStrv each; the first is the header */
    size_t ncols;
} CliTable;

CliTable *cli_table_new(const char *first, ...) G_GNUC_NULL_TERMINATED;
void cli_table_add(CliTable *table, const char *first, ...) G_GNUC_NULL_TERMINATED;
void cli_table_print(Cli *cli, const CliTable *table);
void cli_table_free(CliTable *table);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CliTable, cli_table_free)

/* An XML document from the API and an XPath context on its root. */
typedef struct {
    xmlDocPtr doc;
    xmlXPathContextPtr ctxt;
} CliXml;

/* NULL with an error printed if @xml is not well-formed. */
CliXml *cli_xml_parse(const char *xml, const char *what);
void cli_xml_free(CliXml *xml);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CliXml, cli_xml_free)
/* The string value of @expr (relative to @node, or the root if NULL),
 * NULL if it is empty. */
char *cli_xpath_string(CliXml *xml, xmlNodePtr node, const char *expr);
/* The nodes @expr selects; free the array (not the nodes) with g_free. */
xmlNodePtr *cli_xpath_nodes(CliXml *xml, xmlNodePtr node, const char *expr, int *ret_count);
/* The boolean value of @expr, -1 if it is not an expression. */
int cli_xpath_boolean(CliXml *xml, xmlNodePtr node, const char *expr);

/*
 * modvirt: a virsh-like command line client for the modvirt daemons.
 *
 *   modvirt [-c URI] [-r] [-q] COMMAND [OPTIONS]
 *
 * Built only on the public API in <libvirt/libvirt.h>, like virsh.  The
 * commands print what virsh prints for the same command, including the
 * blank line after each command and the "error: ..." lines on stderr.
 */
#define G_LOG_DOMAIN "modvirt.cli"

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <glib.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>

#include "modvirt.h"
#include "modvirt-config.h"

/* How each kind of option is written after its name, in help and errors. */
static const char *const cli_opt_type_syntax[] = {
    [CLI_OPT_BOOL] = "",
    [CLI_OPT_STRING] = " <string>",
    [CLI_OPT_INT] = " <number>",
    [CLI_OPT_ARGV] = " <string>",
    [CLI_OPT_ALIAS] = "",
};
G_STATIC_ASSERT(G_N_ELEMENTS(cli_opt_type_syntax) == CLI_OPT_LAST);

/* ------------------------------------------------------------ output */

void
cli_error(const char *fmt, ...)
{
    va_list ap;

    fflush(stdout);
    fputs("error: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

void
cli_print_extra(Cli *cli, const char *fmt, ...)
{
    va_list ap;

    if (cli->quiet)
        return;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
}

static int
cli_opt_index(const CliCommand *cmd, const char *name)
{
    for (int i = 0; cmd->opts && cmd->opts[i].name; i++) {
        if (strcmp(cmd->opts[i].name, name) == 0)
            return i;
    }
    g_error("command '%s' has no option '%s'", cmd->name, name);
    return -1;
}

bool
cli_arg_bool(const CliArgs *args, const char *name)
{
    return args->set[cli_opt_index(args->cmd, name)];
}

const char *
cli_arg_string(const CliArgs *args, const char *name)
{
    int i = cli_opt_index(args->cmd, name);

    return args->set[i] ? args->value[i] : NULL;
}

static virErrorPtr cli_saved_error;
static char *cli_saved_message;     /* one of the CLI's own, in place of the library's */

/* virsh's last step after a failed command: the library's own message,
 * if the library reported anything. */
void
cli_report_last_error(void)
{
    if (cli_saved_message)
        cli_error("%s", cli_saved_message);
    else if (cli_saved_error)
        cli_error("%s", cli_saved_error->message ? cli_saved_error->message : "unknown error");
    cli_reset_error();
}

void
cli_reset_error(void)
{
    g_clear_pointer(&cli_saved_error, virFreeError);
    g_clear_pointer(&cli_saved_message, g_free);
    virResetLastError();
}

void
cli_set_last_error(const char *message)
{
    g_free(cli_saved_message);
    cli_saved_message = g_strdup(message);
}

int
cli_last_error_code(void)
{
    return cli_saved_error ? cli_saved_error->code : 0;
}

/* The library calls this for every failing call.  Keep a copy, as virsh
 * does: the next call (a virDomainFree, say) resets the library's last
 * error before the command's end reports it; and keep the library from
 * printing its "libvirt: ... error : ..." lines too. */
static void
cli_error_handler(void *data G_GNUC_UNUSED, virErrorPtr err G_GNUC_UNUSED)
{
    g_clear_pointer(&cli_saved_error, virFreeError);
    g_clear_pointer(&cli_saved_message, g_free);
    cli_saved_error = virSaveLastError();
}

static void
cli_print_version(const char *label, const char *what, unsigned long version)
{
    printf("%s: %s%s%lu.%lu.%lu\n", label, what ? what : "", what ? " " : "",
           version / 1000000, version / 1000 % 1000, version % 1000);
}

/* ------------------------------------------------------------ commands */

static const CliOptDef cli_opts_version[] = {
    { "daemon", CLI_OPT_BOOL, 0, "report daemon version too" },
    { NULL, CLI_OPT_LAST, 0, NULL },
};

static bool
cli_cmd_version(Cli *cli, const CliArgs *args)
{
    const char *type = virConnectGetType(cli->conn);
    unsigned long lib_version = 0;
    unsigned long api_version = 0;
    unsigned long hv_version = 0;

    if (!type) {
        cli_error("failed to get hypervisor type");
        return false;
    }
    cli_print_version("Compiled against library", "libvirt", LIBVIR_VERSION_NUMBER);
    if (virGetVersion(&lib_version, type, &api_version) < 0) {
        cli_error("failed to get the library version");
        return false;
    }
    cli_print_version("Using library", "libvirt", lib_version);
    cli_print_version("Using API", type, api_version);

    if (virConnectGetVersion(cli->conn, &hv_version) < 0) {
        cli_error("failed to get the hypervisor version");
        return false;
    }
    if (hv_version == 0)
        printf("Cannot extract running %s hypervisor version\n", type);
    else
        cli_print_version("Running hypervisor", type, hv_version);

    if (cli_arg_bool(args, "daemon")) {
        unsigned long daemon_version = 0;

        /* virsh reports this failure but still succeeds. */
        if (virConnectGetLibVersion(cli->conn, &daemon_version) < 0)
            cli_error("failed to get the daemon version");
        else
            cli_print_version("Running against daemon", NULL, daemon_version);
    }
    return true;
}

static bool
cli_cmd_uri(Cli *cli, const CliArgs *args G_GNUC_UNUSED)
{
    g_autofree char *uri = virConnectGetURI(cli->conn);

    if (!uri) {
        cli_error("failed to get URI");
        return false;
    }
    printf("%s\n", uri);
    return true;
}

static bool
cli_cmd_hostname(Cli *cli, const CliArgs *args G_GNUC_UNUSED)
{
    g_autofree char *hostname = virConnectGetHostname(cli->conn);

    if (!hostname) {
        cli_error("failed to get hostname");
        return false;
    }
    printf("%s\n", hostname);
    return true;
}

static bool
cli_cmd_nodeinfo(Cli *cli, const CliArgs *args G_GNUC_UNUSED)
{
    virNodeInfo info = { { 0 } };

    if (virNodeGetInfo(cli->conn, &info) < 0) {
        cli_error("failed to get node information");
        return false;
    }
    printf("%-20s %s\n", "CPU model:", info.model);
    printf("%-20s %u\n", "CPU(s):", info.cpus);
    if (info.mhz)
        printf("%-20s %u MHz\n", "CPU frequency:", info.mhz);
    printf("%-20s %u\n", "CPU socket(s):", info.sockets);
    printf("%-20s %u\n", "Core(s) per socket:", info.cores);
    printf("%-20s %u\n", "Thread(s) per core:", info.threads);
    printf("%-20s %u\n", "NUMA cell(s):", info.nodes);
    printf("%-20s %lu KiB\n", "Memory size:", info.memory);
    return true;
}

static bool
cli_cmd_capabilities(Cli *cli, const CliArgs *args G_GNUC_UNUSED)
{
    g_autofree char *caps = virConnectGetCapabilities(cli->conn);

    if (!caps) {
        cli_error("failed to get capabilities");
        return false;
    }
    printf("%s\n", caps);
    return true;
}

static bool
cli_cmd_sysinfo(Cli *cli, const CliArgs *args G_GNUC_UNUSED)
{
    g_autofree char *sysinfo = virConnectGetSysinfo(cli->conn, 0);

    if (!sysinfo) {
        cli_error("failed to get sysinfo");
        return false;
    }
    printf("%s", sysinfo);
    return true;
}

/* The <vcpu max='N'/> of a domain capabilities document, or -1. */
static int
cli_domcaps_max_vcpus(const char *xml)
{
    xmlDocPtr doc = xmlReadMemory(xml, strlen(xml), "domcapabilities.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    xmlXPathContextPtr ctxt = NULL;
    xmlXPathObjectPtr obj = NULL;
    int vcpus = -1;

    if (!doc)
        return -1;
    if ((ctxt = xmlXPathNewContext(doc)) &&
        (obj = xmlXPathEvalExpression((const xmlChar *)"string(/domainCapabilities/vcpu[1]/@max)",
                                      ctxt)) &&
        obj->type == XPATH_STRING && obj->stringval && *obj->stringval) {
        char *end = NULL;
        gint64 value = g_ascii_strtoll((const char *)obj->stringval, &end, 10);

        if (end && !*end && value >= 0 && value <= G_MAXINT)
            vcpus = (int)value;
    }
    xmlXPathFreeObject(obj);
    xmlXPathFreeContext(ctxt);
    xmlFreeDoc(doc);
    return vcpus;
}

static const CliOptDef cli_opts_domcapabilities[] = {
    { "virttype", CLI_OPT_STRING, 0, "virtualization type (/domain/@type)" },
    { "emulatorbin", CLI_OPT_STRING, 0, "path to emulator binary (/domain/devices/emulator)" },
    { "arch", CLI_OPT_STRING, 0, "domain architecture (/domain/os/type/@arch)" },
    { "machine", CLI_OPT_STRING, 0, "machine type (/domain/os/type/@machine)" },
    { NULL, CLI_OPT_LAST, 0, NULL },
};

static bool
cli_cmd_domcapabilities(Cli *cli, const CliArgs *args)
{
    g_autofree char *caps = virConnectGetDomainCapabilities(cli->conn,
                                                            cli_arg_string(args, "emulatorbin"),
                                                            cli_arg_string(args, "arch"),
                                                            cli_arg_string(args, "machine"),
                                                            cli_arg_string(args, "virttype"), 0);

    if (!caps) {
        cli_error("failed to get emulator capabilities");
        return false;
    }
    printf("%s\n", caps);
    return true;
}

static const CliOptDef cli_opts_maxvcpus[] = {
    { "type", CLI_OPT_STRING, CLI_OPT_POSITIONAL, "domain type" },
    { NULL, CLI_OPT_LAST, 0, NULL },
};

static bool
cli_cmd_maxvcpus(Cli *cli, const CliArgs *args)
{
    const char *type = cli_arg_string(args, "type");
    g_autofree char *caps = NULL;
    int vcpus = -1;

    /* As virsh: the domain capabilities first, the older call after. */
    caps = virConnectGetDomainCapabilities(cli->conn, NULL, NULL, NULL, type, 0);
    if (caps)
        vcpus = cli_domcaps_max_vcpus(caps);
    else
        cli_reset_error();

    if (vcpus < 0 && (vcpus = virConnectGetMaxVcpus(cli->conn, type)) < 0)
        return false;
    printf("%d\n", vcpus);
    return true;
}

static bool cli_cmd_help(Cli *cli, const CliArgs *args);

static const CliOptDef cli_opts_help[] = {
    { "command", CLI_OPT_STRING, CLI_OPT_POSITIONAL, "command name" },
    { NULL, CLI_OPT_LAST, 0, NULL },
};

static const CliCommand cli_host_commands[] = {
    { "capabilities", "capabilities", "Returns capabilities of hypervisor/driver.",
      NULL, true, cli_cmd_capabilities },
    { "domcapabilities", "domain capabilities",
      "Returns capabilities of emulator with respect to host and libvirt.",
      cli_opts_domcapabilities, true, cli_cmd_domcapabilities },
    { "help", "print help", "Prints global help, command specific help.",
      cli_opts_help, false, cli_cmd_help },
    { "hostname", "print the hypervisor hostname", "Prints the hypervisor's host name.",
      NULL, true, cli_cmd_hostname },
    { "maxvcpus", "connection vcpu maximum",
      "Show maximum number of virtual CPUs for guests on this connection.",
      cli_opts_maxvcpus, true, cli_cmd_maxvcpus },
    { "nodeinfo", "node information", "Returns basic information about the node.",
      NULL, true, cli_cmd_nodeinfo },
    { "sysinfo", "print the hypervisor sysinfo",
      "Output an XML string for the hypervisor sysinfo, if available.",
      NULL, true, cli_cmd_sysinfo },
    { "uri", "print the hypervisor canonical URI", "Prints the URI of the connection.",
      NULL, true, cli_cmd_uri },
    { "version", "show version", "Display the system version information.",
      cli_opts_version, true, cli_cmd_version },
};

/* The command groups, in the order help lists them. */
static const struct {
    const char *title;
    const CliCommand *commands;
    const size_t *len;
} cli_groups[] = {
    { "host", cli_host_commands, NULL },
    { "domain", cli_domain_commands, &cli_domain_commands_len },
    { "block devices and jobs", cli_block_commands, &cli_block_commands_len },
    { "snapshot", cli_snapshot_commands, &cli_snapshot_commands_len },
};

static size_t
cli_group_len(size_t group)
{
    return cli_groups[group].len ? *cli_groups[group].len : G_N_ELEMENTS(cli_host_commands);
}

static const CliCommand *
cli_command_find(const char *name)
{
    for (size_t g = 0; g < G_N_ELEMENTS(cli_groups); g++) {
        for (size_t i = 0; i < cli_group_len(g); i++) {
            if (strcmp(cli_groups[g].commands[i].name, name) == 0)
                return &cli_groups[g].commands[i];
        }
    }
    return NULL;
}

static void
cli_usage(FILE *out)
{
    fprintf(out,
            "\n"
            "modvirt [options]... <command> [args...]\n"
            "\n"
            "  options:\n"
            "    -c | --connect=URI      hypervisor connection URI\n"
            "                            (default: $MODVIRT_DEFAULT_URI, then\n"
            "                            $LIBVIRT_DEFAULT_URI, else the server's choice)\n"
            "    -h | --help             this help\n"
            "    -q | --quiet            quiet mode\n"
            "    -r | --readonly         connect readonly\n"
            "    -v | --version          program version\n");
    for (size_t g = 0; g < G_N_ELEMENTS(cli_groups); g++) {
        fprintf(out, "\n  commands (%s):\n", cli_groups[g].title);
        for (size_t i = 0; i < cli_group_len(g); i++)
            fprintf(out, "    %-30s %s\n", cli_groups[g].commands[i].name,
                    cli_groups[g].commands[i].help);
    }
    fprintf(out, "\n");
}

/* An option in the SYNOPSIS of help, as virsh writes it: "<domain>" for
 * a required one, "[--base <string>]", "[--wait]", "[[--diskspec] <string>]...". */
static void
cli_help_synopsis(const CliOptDef *opt)
{
    switch (opt->type) {
    case CLI_OPT_BOOL:
        printf(" [--%s]", opt->name);
        break;
    case CLI_OPT_STRING:
    case CLI_OPT_INT:
        if (opt->flags & CLI_OPT_REQUIRED)
            printf(" <%s>", opt->name);
        else
            printf(" [--%s%s]", opt->name, cli_opt_type_syntax[opt->type]);
        break;
    case CLI_OPT_ARGV:
        printf(" [[--%s]%s]...", opt->name, cli_opt_type_syntax[opt->type]);
        break;
    case CLI_OPT_ALIAS:
        /* undocumented, as virsh's */
        break;
    case CLI_OPT_LAST:
        g_assert_not_reached();
    }
}

/* An option in the OPTIONS list of help: "[--domain] <string>" for a
 * required one, "--base <string>", "--wait". */
static void
cli_help_option(const CliOptDef *opt)
{
    g_autofree char *flag = NULL;

    switch (opt->type) {
    case CLI_OPT_BOOL:
        flag = g_strdup_printf("--%s", opt->name);
        break;
    case CLI_OPT_STRING:
    case CLI_OPT_INT:
        if (opt->flags & CLI_OPT_REQUIRED)
            flag = g_strdup_printf("[--%s]%s", opt->name, cli_opt_type_syntax[opt->type]);
        else
            flag = g_strdup_printf("--%s%s", opt->name, cli_opt_type_syntax[opt->type]);
        break;
    case CLI_OPT_ARGV:
        flag = g_strdup_printf("[--%s]%s", opt->name, cli_opt_type_syntax[opt->type]);
        break;
    case CLI_OPT_ALIAS:
        return;
    case CLI_OPT_LAST:
        g_assert_not_reached();
    }
    printf("    %-15s  %s\n", flag, opt->help);
}

static bool
cli_cmd_help(Cli *cli G_GNUC_UNUSED, const CliArgs *args)
{
    const CliCommand *cmd = NULL;

    const char *name = cli_arg_string(args, "command");

    if (!name) {
        cli_usage(stdout);
        return true;
    }
    if (!(cmd = cli_command_find(name))) {
        cli_error("command '%s' doesn't exist", name);
        return false;
    }
    printf("  NAME\n    %s - %s\n\n  SYNOPSIS\n    %s", cmd->name, cmd->help, cmd->name);
    for (const CliOptDef *opt = cmd->opts; opt && opt->name; opt++)
        cli_help_synopsis(opt);
    printf("\n\n  DESCRIPTION\n    %s\n", cmd->desc);
    if (cmd->opts && cmd->opts[0].name) {
        printf("\n  OPTIONS\n");
        for (const CliOptDef *opt = cmd->opts; opt->name; opt++)
            cli_help_option(opt);
    }
    printf("\n");
    return true;
}

/* ------------------------------------------------------------ parsing */

static int
cli_opt_find(const CliCommand *cmd, const char *name, size_t len)
{
    for (int i = 0; cmd->opts && cmd->opts[i].name; i++) {
        if (strlen(cmd->opts[i].name) == len && strncmp(cmd->opts[i].name, name, len) == 0)
            return i;
    }
    return -1;
}

/* Store @value for option @idx; an alias stands for the option it names. */
static bool
cli_parse_value(const CliCommand *cmd, CliArgs *args, int idx, const char *value)
{
    if (cmd->opts[idx].type == CLI_OPT_ARGV) {
        g_ptr_array_add(args->list, (gpointer)value);
    } else if (args->set[idx]) {
        cli_error("option --%s already seen", cmd->opts[idx].name);
        return false;
    }
    args->value[idx] = value;
    args->set[idx] = true;
    return true;
}

/* Fill @ret_args from argv as virsh does: --opt, --opt VALUE, --opt=VALUE,
 * "--" (only data after it), and bare words for the positional options
 * still unset, in order.  Free ret_args->list with g_ptr_array_unref. */
static bool
cli_parse_args(const CliCommand *cmd, int argc, char **argv, CliArgs *ret_args)
{
    CliArgs args = { .cmd = cmd, .list = g_ptr_array_new() };
    bool data_only = false;

    G_STATIC_ASSERT(CLI_MAX_OPTS <= 64);
    for (int i = 0; cmd->opts && cmd->opts[i].name; i++)
        g_assert(i < CLI_MAX_OPTS);

    for (int i = 0; i < argc; i++) {
        const char *arg = argv[i];
        int idx = -1;

        if (!data_only && arg[0] == '-' && arg[1] == '-' && g_ascii_isalnum(arg[2])) {
            const char *name = arg + 2;
            const char *eq = strchr(name, '=');
            const char *value = eq ? eq + 1 : NULL;
            int len = eq ? (int)(eq - name) : (int)strlen(name);

            idx = cli_opt_find(cmd, name, len);
            if (idx < 0) {
                cli_error("command '%s' doesn't support option --%.*s", cmd->name, len, name);
                goto error;
            }
            if (cmd->opts[idx].type == CLI_OPT_ALIAS) {
                const char *target = cmd->opts[idx].help;
                const char *target_eq = strchr(target, '=');

                if (target_eq && eq) {
                    cli_error("invalid '=' after option --%s", cmd->opts[idx].name);
                    goto error;
                }
                if (target_eq)
                    value = target_eq + 1;
                idx = cli_opt_find(cmd, target,
                                   target_eq ? (size_t)(target_eq - target) : strlen(target));
                g_assert(idx >= 0);
            }
            switch (cmd->opts[idx].type) {
            case CLI_OPT_BOOL:
                if (eq) {
                    cli_error("invalid '=' after option --%s", cmd->opts[idx].name);
                    goto error;
                }
                break;
            case CLI_OPT_STRING:
            case CLI_OPT_INT:
            case CLI_OPT_ARGV:
                if (!value && i + 1 < argc) {
                    value = argv[++i];
                } else if (!value) {
                    cli_error("expected syntax: --%s <%s>", cmd->opts[idx].name,
                              cmd->opts[idx].type == CLI_OPT_INT ? "number" : "string");
                    goto error;
                }
                break;
            case CLI_OPT_ALIAS:
            case CLI_OPT_LAST:
                g_assert_not_reached();
            }
            if (!cli_parse_value(cmd, &args, idx, value))
                goto error;
            continue;
        }
        if (!data_only && strcmp(arg, "--") == 0) {
            data_only = true;
            continue;
        }

        /* A bare word: the first positional option still unset, or the
         * list option again and again. */
        for (int j = 0; cmd->opts && cmd->opts[j].name; j++) {
            if ((cmd->opts[j].flags & CLI_OPT_POSITIONAL) && !args.set[j]) {
                idx = j;
                break;
            }
            if (cmd->opts[j].type == CLI_OPT_ARGV) {
                idx = j;
                break;
            }
        }
        if (idx < 0) {
            cli_error("unexpected data '%s'", arg);
            goto error;
        }
        if (!cli_parse_value(cmd, &args, idx, arg))
            goto error;
    }
    for (int j = 0; cmd->opts && cmd->opts[j].name; j++) {
        const CliOptDef *opt = &cmd->opts[j];

        if ((opt->flags & CLI_OPT_REQUIRED) && !args.set[j]) {
            cli_error("command '%s' requires <%s> option", cmd->name, opt->name);
            goto error;
        }
        if (opt->type == CLI_OPT_INT && !(opt->flags & CLI_OPT_UNCHECKED) && args.set[j]) {
            guint64 value = 0;

            if (!g_ascii_string_to_unsigned(args.value[j], 10, 0, G_MAXINT, &value, NULL)) {
                cli_error("Numeric value '%s' for <%s> option is malformed or out of range",
                          args.value[j], opt->name);
                goto error;
            }
        }
    }
    *ret_args = args;
    return true;

 error:
    g_ptr_array_unref(args.list);
    return false;
}

int
main(int argc, char **argv)
{
    static const struct option long_opts[] = {
        { "connect", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { "quiet", no_argument, NULL, 'q' },
        { "readonly", no_argument, NULL, 'r' },
        { "version", no_argument, NULL, 'v' },
        { NULL, 0, NULL, 0 },
    };
    Cli cli = { 0 };
    const char *uri = NULL;
    bool readonly = false;
    const CliCommand *cmd = NULL;
    CliArgs args = { 0 };
    bool ok = false;
    int c = 0;

    while ((c = getopt_long(argc, argv, "+c:hqrv", long_opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            uri = optarg;
            break;
        case 'h':
            cli_usage(stdout);
            return EXIT_SUCCESS;
        case 'q':
            cli.quiet = true;
            break;
        case 'r':
            readonly = true;
            break;
        case 'v':
            printf("%s\n", MODVIRT_VERSION);
            return EXIT_SUCCESS;
        default:
            cli_error("unsupported option; see 'modvirt --help'");
            return EXIT_FAILURE;
        }
    }
    if (optind >= argc) {
        cli_usage(stderr);
        return EXIT_FAILURE;
    }
    if (!(cmd = cli_command_find(argv[optind]))) {
        cli_error("unknown command: '%s'", argv[optind]);
        return EXIT_FAILURE;
    }
    if (!cli_parse_args(cmd, argc - optind - 1, argv + optind + 1, &args))
        return EXIT_FAILURE;

    virSetErrorFunc(NULL, cli_error_handler);
    if (cmd->needs_conn) {
        /* Without -c the library picks $MODVIRT_DEFAULT_URI and friends. */
        cli.conn = virConnectOpenAuth(uri, virConnectAuthPtrDefault,
                                      readonly ? VIR_CONNECT_RO : 0);
        if (!cli.conn) {
            cli_error("failed to connect to the hypervisor");
            cli_report_last_error();
            return EXIT_FAILURE;
        }
    }

    ok = cmd->handler(&cli, &args);
    g_ptr_array_unref(args.list);
    if (!ok)
        cli_report_last_error();
    if (!cli.quiet)
        printf("\n");
    fflush(stdout);

    if (cli.conn && virConnectClose(cli.conn) < 0)
        cli_report_last_error();
    return ok ? EXIT_SUCCESS : EXIT_FAILURE;
}

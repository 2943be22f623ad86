/*
 * modvirt-domain.c: the domain commands of the modvirt CLI, printing what
 * virsh prints for the same commands.
 */
#define G_LOG_DOMAIN "modvirt.cli"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "modvirt.h"

/* ------------------------------------------------------------ names */

static const char *const cli_state_names[] = {
    [VIR_DOMAIN_NOSTATE] = "no state",
    [VIR_DOMAIN_RUNNING] = "running",
    [VIR_DOMAIN_BLOCKED] = "idle",
    [VIR_DOMAIN_PAUSED] = "paused",
    [VIR_DOMAIN_SHUTDOWN] = "in shutdown",
    [VIR_DOMAIN_SHUTOFF] = "shut off",
    [VIR_DOMAIN_CRASHED] = "crashed",
    [VIR_DOMAIN_PMSUSPENDED] = "pmsuspended",
};

static const char *const cli_running_reasons[] = {
    "unknown", "booted", "migrated", "restored", "from snapshot", "unpaused",
    "migration canceled", "save canceled", "event wakeup", "crashed", "post-copy",
    "post-copy failed",
};
static const char *const cli_paused_reasons[] = {
    "unknown", "user", "migrating", "saving", "dumping", "I/O error", "watchdog",
    "from snapshot", "shutting down", "creating snapshot", "crashed", "starting up",
    "post-copy", "post-copy failed", "api error",
};
static const char *const cli_shutdown_reasons[] = { "unknown", "user" };
static const char *const cli_shutoff_reasons[] = {
    "unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed",
    "from snapshot", "daemon",
};
static const char *const cli_crashed_reasons[] = { "unknown", "panicked" };
static const char *const cli_unknown_reasons[] = { "unknown" };

typedef struct {
    const char *const *names;
    size_t len;
} CliNames;

#define CLI_NAMES(array) { array, G_N_ELEMENTS(array) }

/* Reasons per virDomainState. */
static const CliNames cli_state_reasons[] = {
    [VIR_DOMAIN_NOSTATE] = CLI_NAMES(cli_unknown_reasons),
    [VIR_DOMAIN_RUNNING] = CLI_NAMES(cli_running_reasons),
    [VIR_DOMAIN_BLOCKED] = CLI_NAMES(cli_unknown_reasons),
    [VIR_DOMAIN_PAUSED] = CLI_NAMES(cli_paused_reasons),
    [VIR_DOMAIN_SHUTDOWN] = CLI_NAMES(cli_shutdown_reasons),
    [VIR_DOMAIN_SHUTOFF] = CLI_NAMES(cli_shutoff_reasons),
    [VIR_DOMAIN_CRASHED] = CLI_NAMES(cli_crashed_reasons),
    [VIR_DOMAIN_PMSUSPENDED] = CLI_NAMES(cli_unknown_reasons),
};
G_STATIC_ASSERT(G_N_ELEMENTS(cli_state_reasons) == G_N_ELEMENTS(cli_state_names));

static const char *const cli_event_names[] = {
    "Defined", "Undefined", "Started", "Suspended", "Resumed", "Stopped", "Shutdown",
    "PMSuspended", "Crashed",
};
static const char *const cli_defined_details[] = { "Added", "Updated", "Renamed", "Snapshot" };
static const char *const cli_undefined_details[] = { "Removed", "Renamed" };
static const char *const cli_started_details[] = {
    "Booted", "Migrated", "Restored", "Snapshot", "Event wakeup",
};
static const char *const cli_suspended_details[] = {
    "Paused", "Migrated", "I/O Error", "Watchdog", "Restored", "Snapshot", "API error",
    "Post-copy", "Post-copy Error",
};
static const char *const cli_resumed_details[] = {
    "Unpaused", "Migrated", "Snapshot", "Post-copy", "Post-copy Error",
};
static const char *const cli_stopped_details[] = {
    "Shutdown", "Destroyed", "Crashed", "Migrated", "Saved", "Failed", "Snapshot",
};
static const char *const cli_shutdown_details[] = {
    "Finished", "Finished after guest request", "Finished after host request",
};
static const char *const cli_pmsuspended_details[] = { "Memory", "Disk" };
static const char *const cli_crashed_details[] = { "Panicked", "Crashloaded" };

/* Details per virDomainEventType. */
static const CliNames cli_event_details[] = {
    CLI_NAMES(cli_defined_details), CLI_NAMES(cli_undefined_details),
    CLI_NAMES(cli_started_details), CLI_NAMES(cli_suspended_details),
    CLI_NAMES(cli_resumed_details), CLI_NAMES(cli_stopped_details),
    CLI_NAMES(cli_shutdown_details), CLI_NAMES(cli_pmsuspended_details),
    CLI_NAMES(cli_crashed_details),
};
G_STATIC_ASSERT(G_N_ELEMENTS(cli_event_details) == G_N_ELEMENTS(cli_event_names));

static const char *const cli_block_job_statuses[] = { "completed", "failed", "canceled", "ready" };

static const char *
cli_state_name(int state)
{
    return cli_name(cli_state_names, G_N_ELEMENTS(cli_state_names), state, "no state");
}

static const char *
cli_state_reason_name(int state, int reason)
{
    if (state < 0 || (size_t)state >= G_N_ELEMENTS(cli_state_reasons))
        return "unknown";
    return cli_name(cli_state_reasons[state].names, cli_state_reasons[state].len, reason,
                    "unknown");
}

/* ------------------------------------------------------------ helpers */

/* virsh's state query: virDomainGetState, else virDomainGetInfo. */
static int
cli_domain_state(virDomainPtr dom, int *ret_reason)
{
    virDomainInfo info;
    int state = 0;
    int reason = 0;

    if (virDomainGetState(dom, &state, &reason, 0) == 0) {
        if (ret_reason)
            *ret_reason = reason;
        return state;
    }
    if (virGetLastErrorCode() != VIR_ERR_NO_SUPPORT)
        return -1;
    cli_reset_error();
    if (virDomainGetInfo(dom, &info) < 0)
        return -1;
    if (ret_reason)
        *ret_reason = 0;
    return info.state;
}

/* ------------------------------------------------------------ list */

static const CliOptDef cli_opts_list[] = {
    { "inactive", CLI_OPT_BOOL, 0, "list inactive domains" },
    { "all", CLI_OPT_BOOL, 0, "list inactive & active domains" },
    { "transient", CLI_OPT_BOOL, 0, "list transient domains" },
    { "persistent", CLI_OPT_BOOL, 0, "list persistent domains" },
    { "state-running", CLI_OPT_BOOL, 0, "list domains in running state" },
    { "state-paused", CLI_OPT_BOOL, 0, "list domains in paused state" },
    { "state-shutoff", CLI_OPT_BOOL, 0, "list domains in shutoff state" },
    { "state-other", CLI_OPT_BOOL, 0, "list domains in other states" },
    { "autostart", CLI_OPT_BOOL, 0, "list domains with autostart enabled" },
    { "no-autostart", CLI_OPT_BOOL, 0, "list domains with autostart disabled" },
    { "with-snapshot", CLI_OPT_BOOL, 0, "list domains with existing snapshot" },
    { "without-snapshot", CLI_OPT_BOOL, 0, "list domains without a snapshot" },
    { "uuid", CLI_OPT_BOOL, 0, "list uuid's only" },
    { "name", CLI_OPT_BOOL, 0, "list domain names only" },
    { "id", CLI_OPT_BOOL, 0, "list domain IDs only" },
    { "table", CLI_OPT_BOOL, 0, "list table (default)" },
    CLI_OPTS_END,
};

/* virsh's order: running domains by ID, then the others by name. */
static int
cli_domain_compare(const void *a, const void *b)
{
    virDomainPtr da = *(virDomainPtr const *)a;
    virDomainPtr db = *(virDomainPtr const *)b;
    unsigned int ida = virDomainGetID(da);
    unsigned int idb = virDomainGetID(db);
    unsigned int inactive = (unsigned int)-1;

    if (ida == inactive && idb == inactive)
        return g_ascii_strcasecmp(virDomainGetName(da), virDomainGetName(db));
    if (ida != inactive && idb != inactive)
        return ida < idb ? -1 : ida > idb;
    return ida != inactive ? -1 : 1;
}

static bool
cli_cmd_list(Cli *cli, const CliArgs *args)
{
    static const struct {
        const char *opt;
        unsigned int flag;
    } filters[] = {
        { "persistent", VIR_CONNECT_LIST_DOMAINS_PERSISTENT },
        { "transient", VIR_CONNECT_LIST_DOMAINS_TRANSIENT },
        { "autostart", VIR_CONNECT_LIST_DOMAINS_AUTOSTART },
        { "no-autostart", VIR_CONNECT_LIST_DOMAINS_NO_AUTOSTART },
        { "with-snapshot", VIR_CONNECT_LIST_DOMAINS_HAS_SNAPSHOT },
        { "without-snapshot", VIR_CONNECT_LIST_DOMAINS_NO_SNAPSHOT },
        { "state-running", VIR_CONNECT_LIST_DOMAINS_RUNNING },
        { "state-paused", VIR_CONNECT_LIST_DOMAINS_PAUSED },
        { "state-shutoff", VIR_CONNECT_LIST_DOMAINS_SHUTOFF },
        { "state-other", VIR_CONNECT_LIST_DOMAINS_OTHER },
    };
    bool opt_uuid = cli_arg_bool(args, "uuid");
    bool opt_name = cli_arg_bool(args, "name");
    bool opt_id = cli_arg_bool(args, "id");
    bool opt_table = cli_arg_bool(args, "table");
    unsigned int flags = VIR_CONNECT_LIST_DOMAINS_ACTIVE;
    virDomainPtr *domains = NULL;
    g_autoptr(CliTable) table = cli_table_new("Id", "Name", "State", NULL);
    int n = 0;

    if (opt_table && (opt_uuid || opt_name || opt_id)) {
        cli_error("Options --table and --%s are mutually exclusive",
                  opt_name ? "name" : opt_uuid ? "uuid" : "id");
        return false;
    }
    if (cli_arg_bool(args, "inactive") || cli_arg_bool(args, "state-shutoff"))
        flags = VIR_CONNECT_LIST_DOMAINS_INACTIVE;
    if (cli_arg_bool(args, "all"))
        flags = VIR_CONNECT_LIST_DOMAINS_INACTIVE | VIR_CONNECT_LIST_DOMAINS_ACTIVE;
    for (size_t i = 0; i < G_N_ELEMENTS(filters); i++) {
        if (cli_arg_bool(args, filters[i].opt))
            flags |= filters[i].flag;
    }
    if (!opt_uuid && !opt_name && !opt_id)
        opt_table = true;

    if ((n = virConnectListAllDomains(cli->conn, &domains, flags)) < 0) {
        cli_error("Failed to list domains");
        return false;
    }
    qsort(domains, n, sizeof(*domains), cli_domain_compare);

    for (int i = 0; i < n; i++) {
        virDomainPtr dom = domains[i];
        unsigned int id = virDomainGetID(dom);
        g_autofree char *id_text = id == (unsigned int)-1 ? g_strdup("-")
                                                          : g_strdup_printf("%d", (int)id);

        if (opt_table) {
            int state = cli_domain_state(dom, NULL);

            if (state < 0) {
                /* undefined meanwhile */
                cli_reset_error();
                continue;
            }
            cli_table_add(table, id_text, virDomainGetName(dom), cli_state_name(state), NULL);
        } else {
            char uuid[VIR_UUID_STRING_BUFLEN];
            const char *sep = "";

            if (opt_uuid) {
                virDomainGetUUIDString(dom, uuid);
                printf("%s", uuid);
                sep = " ";
            }
            if (opt_id) {
                /* IDs alone: only the running domains have one */
                if (id == (unsigned int)-1 && !opt_uuid && !opt_name)
                    continue;
                printf("%s%s", sep, id_text);
                sep = " ";
            }
            if (opt_name)
                printf("%s%s", sep, virDomainGetName(dom));
            printf("\n");
        }
    }
    if (opt_table)
        cli_table_print(cli, table);
    for (int i = 0; i < n; i++)
        virDomainFree(domains[i]);
    free(domains);
    return true;
}

/* ------------------------------------------------------------ define, create */

static const CliOptDef cli_opts_define[] = {
    { "file", CLI_OPT_STRING, CLI_OPT_POSITIONAL | CLI_OPT_REQUIRED,
      "file containing an XML domain description" },
    { "validate", CLI_OPT_BOOL, 0, "validate the XML against the schema" },
    CLI_OPTS_END,
};

static bool
cli_cmd_define(Cli *cli, const CliArgs *args)
{
    const char *file = cli_arg_string(args, "file");
    g_autofree char *xml = cli_read_file(file);
    virDomainPtr dom = NULL;

    if (!xml)
        return false;
    if (cli_arg_bool(args, "validate"))
        dom = virDomainDefineXMLFlags(cli->conn, xml, VIR_DOMAIN_DEFINE_VALIDATE);
    else
        dom = virDomainDefineXML(cli->conn, xml);
    if (!dom) {
        cli_error("Failed to define domain from %s", file);
        return false;
    }
    cli_print_extra(cli, "Domain '%s' defined from %s\n", virDomainGetName(dom), file);
    virDomainFree(dom);
    return true;
}

static const CliOptDef cli_opts_create[] = {
    { "file", CLI_OPT_STRING, CLI_OPT_POSITIONAL | CLI_OPT_REQUIRED,
      "file containing an XML domain description" },
    { "paused", CLI_OPT_BOOL, 0, "leave the guest paused after creation" },
    { "autodestroy", CLI_OPT_BOOL, 0, "automatically destroy the guest when modvirt disconnects" },
    { "validate", CLI_OPT_BOOL, 0, "validate the XML against the schema" },
    CLI_OPTS_END,
};

static bool
cli_cmd_create(Cli *cli, const CliArgs *args)
{
    const char *file = cli_arg_string(args, "file");
    g_autofree char *xml = cli_read_file(file);
    unsigned int flags = 0;
    virDomainPtr dom = NULL;

    if (!xml)
        return false;
    if (cli_arg_bool(args, "paused"))
        flags |= VIR_DOMAIN_START_PAUSED;
    if (cli_arg_bool(args, "autodestroy"))
        flags |= VIR_DOMAIN_START_AUTODESTROY;
    if (cli_arg_bool(args, "validate"))
        flags |= VIR_DOMAIN_START_VALIDATE;
    if (!(dom = virDomainCreateXML(cli->conn, xml, flags))) {
        cli_error("Failed to create domain from %s", file);
        return false;
    }
    cli_print_extra(cli, "Domain '%s' created from %s\n", virDomainGetName(dom), file);
    virDomainFree(dom);
    return true;
}

/* ------------------------------------------------------------ lifecycle */

static const CliOptDef cli_opts_domain[] = {
    CLI_DOMAIN_OPT,
    CLI_OPTS_END,
};

static const CliOptDef cli_opts_undefine[] = {
    CLI_DOMAIN_OPT,
    { "managed-save", CLI_OPT_BOOL, 0, "remove domain managed state file" },
    { "snapshots-metadata", CLI_OPT_BOOL, 0,
      "remove all domain snapshot metadata, if inactive" },
    { "nvram", CLI_OPT_BOOL, 0, "remove nvram file" },
    { "keep-nvram", CLI_OPT_BOOL, 0, "keep nvram file" },
    CLI_OPTS_END,
};

static bool
cli_cmd_undefine(Cli *cli, const CliArgs *args)
{
    virDomainPtr dom = cli_domain(cli, args, "domain", CLI_BY_ANY);
    unsigned int flags = 0;
    bool ok = false;
    int rc = 0;

    if (!dom)
        return false;
    if (cli_arg_bool(args, "managed-save"))
        flags |= VIR_DOMAIN_UNDEFINE_MANAGED_SAVE;
    if (cli_arg_bool(args, "snapshots-metadata"))
        flags |= VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA;
    if (cli_arg_bool(args, "nvram"))
        flags |= VIR_DOMAIN_UNDEFINE_NVRAM;
    if (cli_arg_bool(args, "keep-nvram"))
        flags |= VIR_DOMAIN_UNDEFINE_KEEP_NVRAM;
    /* As virsh: the flags call, the plain one for servers without it. */
    rc = virDomainUndefineFlags(dom, flags);
    if (rc < 0 && flags == 0 && virGetLastErrorCode() == VIR_ERR_NO_SUPPORT) {
        cli_reset_error();
        rc = virDomainUndefine(dom);
    }
    if (rc == 0) {
        cli_print_extra(cli, "Domain '%s' has been undefined\n", virDomainGetName(dom));
        ok = true;
    } else {
        cli_error("Failed to undefine domain '%s'", virDomainGetName(dom));
    }
    virDomainFree(dom);
    return ok;
}

static const CliOptDef cli_opts_start[] = {
    CLI_DOMAIN_OPT,
    { "paused", CLI_OPT_BOOL, 0, "leave the guest paused after start" },
    { "autodestroy", CLI_OPT_BOOL, 0, "automatically destroy the guest when modvirt disconnects" },
    { "force-boot", CLI_OPT_BOOL, 0, "force fresh boot by discarding any managed save" },
    CLI_OPTS_END,
};

static bool
cli_cmd_start(Cli *cli, const CliArgs *args)
{
    virDomainPtr dom = cli_domain(cli, args, "domain", CLI_BY_NAME | CLI_BY_UUID);
    unsigned int flags = 0;
    bool ok = false;
    int rc = 0;

    if (!dom)
        return false;
    if (cli_arg_bool(args, "paused"))
        flags |= VIR_DOMAIN_START_PAUSED;
    if (cli_arg_bool(args, "autodestroy"))
        flags |= VIR_DOMAIN_START_AUTODESTROY;
    if (cli_arg_bool(args, "force-boot"))
        flags |= VIR_DOMAIN_START_FORCE_BOOT;
    if (virDomainGetID(dom) != (unsigned int)-1) {
        cli_error("Domain is already active");
        virDomainFree(dom);
        return false;
    }
    rc = flags ? virDomainCreateWithFlags(dom, flags) : virDomainCreate(dom);
    if (rc == 0) {
        cli_print_extra(cli, "Domain '%s' started\n", virDomainGetName(dom));
        ok = true;
    } else {
        cli_error("Failed to start domain '%s'", virDomainGetName(dom));
    }
    virDomainFree(dom);
    return ok;
}

static const CliOptDef cli_opts_destroy[] = {
    CLI_DOMAIN_OPT,
    { "graceful", CLI_OPT_BOOL, 0, "terminate gracefully" },
    { "remove-logs", CLI_OPT_BOOL, 0, "remove domain logs" },
    CLI_OPTS_END,
};

static const CliOptDef cli_opts_shutdown[] = {
    CLI_DOMAIN_OPT,
    { "mode", CLI_OPT_STRING, 0, "shutdown mode: acpi|agent|initctl|signal|paravirt" },
    CLI_OPTS_END,
};

/* --mode of shutdown and reboot: a comma separated list; 0 and true, or
 * false with an error printed. */
static bool
cli_parse_mode(const char *mode, unsigned int *ret_flags)
{
    static const char *const modes[] = { "acpi", "agent", "initctl", "signal", "paravirt" };
    g_auto(GStrv) parts = g_strsplit(mode ? mode : "", ",", -1);
    unsigned int flags = 0;

    for (size_t i = 0; mode && parts[i]; i++) {
        size_t m = 0;

        while (m < G_N_ELEMENTS(modes) && strcmp(parts[i], modes[m]) != 0)
            m++;
        if (m == G_N_ELEMENTS(modes)) {
            cli_error("Unknown mode %s value, expecting "
                      "'acpi', 'agent', 'initctl', 'signal', or 'paravirt'", parts[i]);
            return false;
        }
        flags |= 1U << m;   /* same bits for shutdown and reboot */
    }
    *ret_flags = flags;
    return true;
}

/* The commands that act on one domain and print one line. */
typedef enum {
    CLI_ACTION_DESTROY,
    CLI_ACTION_SHUTDOWN,
    CLI_ACTION_REBOOT,
    CLI_ACTION_SUSPEND,
    CLI_ACTION_RESUME,
    CLI_ACTION_LAST
} CliAction;

static const struct {
    const char *done;       /* "Domain '%s' ...\n" */
    const char *failed;     /* "Failed to ... domain '%s'" */
} cli_action_texts[] = {
    [CLI_ACTION_DESTROY] = { "Domain '%s' destroyed\n", "Failed to destroy domain '%s'" },
    [CLI_ACTION_SHUTDOWN] = { "Domain '%s' is being shutdown\n", "Failed to shutdown domain '%s'" },
    [CLI_ACTION_REBOOT] = { "Domain '%s' is being rebooted\n", "Failed to reboot domain '%s'" },
    [CLI_ACTION_SUSPEND] = { "Domain '%s' suspended\n", "Failed to suspend domain '%s'" },
    [CLI_ACTION_RESUME] = { "Domain '%s' resumed\n", "Failed to resume domain '%s'" },
};
G_STATIC_ASSERT(G_N_ELEMENTS(cli_action_texts) == CLI_ACTION_LAST);

static int
cli_action_call(virDomainPtr dom, CliAction action, const CliArgs *args, bool *ret_parsed)
{
    unsigned int flags = 0;

    *ret_parsed = true;
    switch (action) {
    case CLI_ACTION_DESTROY:
        if (cli_arg_bool(args, "graceful"))
            flags |= VIR_DOMAIN_DESTROY_GRACEFUL;
        if (cli_arg_bool(args, "remove-logs"))
            flags |= VIR_DOMAIN_DESTROY_REMOVE_LOGS;
        return flags ? virDomainDestroyFlags(dom, flags) : virDomainDestroy(dom);
    case CLI_ACTION_SHUTDOWN:
        if (!(*ret_parsed = cli_parse_mode(cli_arg_string(args, "mode"), &flags)))
            return -1;
        return flags ? virDomainShutdownFlags(dom, flags) : virDomainShutdown(dom);
    case CLI_ACTION_REBOOT:
        if (!(*ret_parsed = cli_parse_mode(cli_arg_string(args, "mode"), &flags)))
            return -1;
        return virDomainReboot(dom, flags);
    case CLI_ACTION_SUSPEND:
        return virDomainSuspend(dom);
    case CLI_ACTION_RESUME:
        return virDomainResume(dom);
    case CLI_ACTION_LAST:
        break;
    }
    g_assert_not_reached();
}

static bool
cli_domain_action(Cli *cli, const CliArgs *args, CliAction action)
{
    virDomainPtr dom = cli_domain(cli, args, "domain", CLI_BY_ANY);
    bool parsed = true;
    bool ok = false;

    if (!dom)
        return false;
    if (cli_action_call(dom, action, args, &parsed) == 0) {
        cli_print_extra(cli, cli_action_texts[action].done, virDomainGetName(dom));
        ok = true;
    } else if (parsed) {
        cli_error(cli_action_texts[action].failed, virDomainGetName(dom));
    }
    virDomainFree(dom);
    return ok;
}

static bool
cli_cmd_destroy(Cli *cli, const CliArgs *args)
{
    return cli_domain_action(cli, args, CLI_ACTION_DESTROY);
}

static bool
cli_cmd_shutdown(Cli *cli, const CliArgs *args)
{
    return cli_domain_action(cli, args, CLI_ACTION_SHUTDOWN);
}

static bool
cli_cmd_reboot(Cli *cli, const CliArgs *args)
{
    return cli_domain_action(cli, args, CLI_ACTION_REBOOT);
}

static bool
cli_cmd_suspend(Cli *cli, const CliArgs *args)
{
    return cli_domain_action(cli, args, CLI_ACTION_SUSPEND);
}

static bool
cli_cmd_resume(Cli *cli, const CliArgs *args)
{
    return cli_domain_action(cli, args, CLI_ACTION_RESUME);
}

/* ------------------------------------------------------------ information */

static bool
cli_cmd_dominfo(Cli *cli, const CliArgs *args)
{
    virDomainPtr dom = cli_domain(cli, args, "domain", CLI_BY_ANY);
    char uuid[VIR_UUID_STRING_BUFLEN];
    g_autofree char *ostype = NULL;
    virSecurityModel secmodel;
    virDomainInfo info;
    unsigned int id = 0;
    int persistent = 0;
    int autostart = 0;
    int managed = 0;
    char **messages = NULL;
    bool ok = true;

    if (!dom)
        return false;
    id = virDomainGetID(dom);
    if (id == (unsigned int)-1)
        printf("%-15s %s\n", "Id:", "-");
    else
        printf("%-15s %d\n", "Id:", (int)id);
    printf("%-15s %s\n", "Name:", virDomainGetName(dom));
    if (virDomainGetUUIDString(dom, uuid) == 0)
        printf("%-15s %s\n", "UUID:", uuid);
    if ((ostype = virDomainGetOSType(dom)))
        printf("%-15s %s\n", "OS Type:", ostype);
    if (virDomainGetInfo(dom, &info) == 0) {
        printf("%-15s %s\n", "State:", cli_state_name(info.state));
        printf("%-15s %d\n", "CPU(s):", info.nrVirtCpu);
        if (info.cpuTime != 0)
            printf("%-15s %.1lfs\n", "CPU time:", info.cpuTime / 1000000000.0);
        if (info.maxMem != G_MAXUINT)
            printf("%-15s %lu KiB\n", "Max memory:", info.maxMem);
        else
            printf("%-15s %s\n", "Max memory:", "no limit");
        printf("%-15s %lu KiB\n", "Used memory:", info.memory);
    } else {
        ok = false;
    }
    persistent = virDomainIsPersistent(dom);
    printf("%-15s %s\n", "Persistent:", persistent < 0 ? "unknown" : persistent ? "yes" : "no");
    if (virDomainGetAutostart(dom, &autostart) == 0)
        printf("%-15s %s\n", "Autostart:", autostart ? "enable" : "disable");
    managed = virDomainHasManagedSaveImage(dom, 0);
    printf("%-15s %s\n", "Managed save:", managed < 0 ? "unknown" : managed ? "yes" : "no");

    memset(&secmodel, 0, sizeof(secmodel));
    if (virNodeGetSecurityModel(cli->conn, &secmodel) < 0) {
        if (virGetLastErrorCode() != VIR_ERR_NO_SUPPORT) {
            virDomainFree(dom);
            return false;
        }
        cli_reset_error();
    } else if (secmodel.model[0] != '\0') {
        g_autofree virSecurityLabel *label = g_new0(virSecurityLabel, 1);

        printf("%-15s %s\n", "Security model:", secmodel.model);
        printf("%-15s %s\n", "Security DOI:", secmodel.doi);
        if (virDomainGetSecurityLabel(dom, label) < 0) {
            virDomainFree(dom);
            return false;
        }
        if (label->label[0] != '\0')
            printf("%-15s %s (%s)\n", "Security label:", label->label,
                   label->enforcing ? "enforcing" : "permissive");
    }
    if (virDomainGetMessages(dom, &messages, 0) > 0) {
        for (size_t i = 0; messages[i]; i++)
            printf("%-15s %s\n", i == 0 ? "Messages:" : "", messages[i]);
    }
    /* a failure here is not the command's */
    cli_reset_error();
    g_strfreev(messages);
    virDomainFree(dom);
    return ok;
}

static const CliOptDef cli_opts_domstate[] = {
    CLI_DOMAIN_OPT,
    { "reason", CLI_OPT_BOOL, 0, "also print reason for the state" },
    CLI_OPTS_END,
};

static bool
cli_cmd_domstate(Cli *cli, const CliArgs *args)
{
    virDomainPtr dom = cli_domain(cli, args, "domain", CLI_BY_ANY);
    int reason = 0;
    int state = 0;

    if (!dom)
        return false;
    state = cli_domain_state(dom, &reason);
    virDomainFree(dom);
    if (state < 0)
        return false;
    if (cli_arg_bool(args, "reason"))
        printf("%s (%s)\n", cli_state_name(state), cli_state_reason_name(state, reason));
    else
        printf("%s\n", cli_state_name(state));
    return true;
}

static const CliOptDef cli_opts_dumpxml[] = {
    CLI_DOMAIN_OPT,
    { "inactive", CLI_OPT_BOOL, 0, "show inactive defined XML" },
    { "security-info", CLI_OPT_BOOL, 0, "include security sensitive information in XML dump" },
    { "update-cpu", CLI_OPT_BOOL, 0, "update guest CPU according to host CPU" },
    { "migratable", CLI_OPT_BOOL, 0, "provide XML suitable for migrations" },
    CLI_OPTS_END,
};

static bool
cli_cmd_dumpxml(Cli *cli, const CliArgs *args)
{
    virDomainPtr dom = cli_domain(cli, args, "domain", CLI_BY_ANY);
    g_autofree char *xml = NULL;
    unsigned int flags = 0;

    if (!dom)
        return false;
    if (cli_arg_bool(args, "inactive"))
        flags |= VIR_DOMAIN_XML_INACTIVE;
    if (cli_arg_bool(args, "security-info"))
        flags |= VIR_DOMAIN_XML_SECURE;
    if (cli_arg_bool(args, "update-cpu"))
        flags |= VIR_DOMAIN_XML_UPDATE_CPU;
    if (cli_arg_bool(args, "migratable"))
        flags |= VIR_DOMAIN_XML_MIGRATABLE;
    xml = virDomainGetXMLDesc(dom, flags);
    virDomainFree(dom);
    if (!xml)
        return false;
    printf("%s", xml);
    return true;
}

static const CliOptDef cli_opts_autostart[] = {
    CLI_DOMAIN_OPT,
    { "disable", CLI_OPT_BOOL, 0, "disable autostarting" },
    CLI_OPTS_END,
};

static bool
cli_cmd_autostart(Cli *cli, const CliArgs *args)
{
    virDomainPtr dom = cli_domain(cli, args, "domain", CLI_BY_ANY);
    bool enable = !cli_arg_bool(args, "disable");
    const char *name = NULL;
    bool ok = false;

    if (!dom)
        return false;
    name = virDomainGetName(dom);
    if (virDomainSetAutostart(dom, enable ? 1 : 0) < 0) {
        if (enable)
            cli_error("Failed to mark domain '%s' as autostarted", name);
        else
            cli_error("Failed to unmark domain '%s' as autostarted", name);
    } else {
        cli_print_extra(cli, enable ? "Domain '%s' marked as autostarted\n"
                                    : "Domain '%s' unmarked as autostarted\n", name);
        ok = true;
    }
    virDomainFree(dom);
    return ok;
}

static bool
cli_cmd_domid(Cli *cli, const CliArgs *args)
{
    virDomainPtr dom = cli_domain(cli, args, "domain", CLI_BY_NAME | CLI_BY_UUID);
    unsigned int id = 0;

    if (!dom)
        return false;
    id = virDomainGetID(dom);
    if (id == (unsigned int)-1)
        printf("%s\n", "-");
    else
        printf("%d\n", (int)id);
    virDomainFree(dom);
    return true;
}

static bool
cli_cmd_domuuid(Cli *cli, const CliArgs *args)
{
    virDomainPtr dom = cli_domain(cli, args, "domain", CLI_BY_NAME | CLI_BY_ID);
    char uuid[VIR_UUID_STRING_BUFLEN];
    bool ok = false;

    if (!dom)
        return false;
    if (virDomainGetUUIDString(dom, uuid) == 0) {
        printf("%s\n", uuid);
        ok = true;
    } else {
        cli_error("failed to get domain UUID");
    }
    virDomainFree(dom);
    return ok;
}

static bool
cli_cmd_domname(Cli *cli, const CliArgs *args)
{
    virDomainPtr dom = cli_domain(cli, args, "domain", CLI_BY_ID | CLI_BY_UUID);

    if (!dom)
        return false;
    printf("%s\n", virDomainGetName(dom));
    virDomainFree(dom);
    return true;
}

/* ------------------------------------------------------------ event */

typedef enum {
    CLI_EVENT_LIFECYCLE,
    CLI_EVENT_REBOOT,
    CLI_EVENT_IO_ERROR,
    CLI_EVENT_IO_ERROR_REASON,
    CLI_EVENT_BLOCK_JOB,
    CLI_EVENT_BLOCK_JOB_2,
    CLI_EVENT_LAST
} CliEvent;

typedef struct {
    const char *name;
    int event_id;
} CliEventDef;

static const CliEventDef cli_events[] = {
    [CLI_EVENT_LIFECYCLE] = { "lifecycle", VIR_DOMAIN_EVENT_ID_LIFECYCLE },
    [CLI_EVENT_REBOOT] = { "reboot", VIR_DOMAIN_EVENT_ID_REBOOT },
    [CLI_EVENT_IO_ERROR] = { "io-error", VIR_DOMAIN_EVENT_ID_IO_ERROR },
    [CLI_EVENT_IO_ERROR_REASON] = { "io-error-reason", VIR_DOMAIN_EVENT_ID_IO_ERROR_REASON },
    [CLI_EVENT_BLOCK_JOB] = { "block-job", VIR_DOMAIN_EVENT_ID_BLOCK_JOB },
    [CLI_EVENT_BLOCK_JOB_2] = { "block-job-2", VIR_DOMAIN_EVENT_ID_BLOCK_JOB_2 },
};
G_STATIC_ASSERT(G_N_ELEMENTS(cli_events) == CLI_EVENT_LAST);

typedef struct {
    bool loop;
    bool timestamp;
    int count;
    bool done;
} CliEventState;

typedef struct {
    CliEventState *state;
    const CliEventDef *def;
    int callback_id;
} CliEventData;

static volatile sig_atomic_t cli_interrupted;

static void
cli_on_sigint(int sig G_GNUC_UNUSED)
{
    cli_interrupted = 1;
}

static void G_GNUC_PRINTF(2, 3)
cli_event_print(CliEventData *data, const char *fmt, ...)
{
    CliEventState *state = data->state;
    va_list ap;

    if (!state->loop && state->count)
        return;
    if (state->timestamp) {
        g_autoptr(GDateTime) now = g_date_time_new_now_utc();
        g_autofree char *text = g_date_time_format(now, "%Y-%m-%d %H:%M:%S");

        printf("%s.%03d+0000: ", text, g_date_time_get_microsecond(now) / 1000);
    }
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    fflush(stdout);
    state->count++;
    if (!state->loop)
        state->done = true;
}

static void
cli_event_lifecycle(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom, int event,
                    int detail, void *opaque)
{
    const char *details = "unknown";

    if (event >= 0 && (size_t)event < G_N_ELEMENTS(cli_event_details))
        details = cli_name(cli_event_details[event].names, cli_event_details[event].len,
                           detail, "unknown");
    cli_event_print(opaque, "event 'lifecycle' for domain '%s': %s %s\n",
                    virDomainGetName(dom),
                    cli_name(cli_event_names, G_N_ELEMENTS(cli_event_names), event, "unknown"),
                    details);
}

static void
cli_event_generic(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom, void *opaque)
{
    CliEventData *data = opaque;

    cli_event_print(data, "event '%s' for domain '%s'\n", data->def->name,
                    virDomainGetName(dom));
}

static void
cli_event_block_job(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom, const char *disk,
                    int type, int status, void *opaque)
{
    CliEventData *data = opaque;

    cli_event_print(data, "event '%s' for domain '%s': %s for %s %s\n", data->def->name,
                    virDomainGetName(dom),
                    cli_block_job_type_name(type),
                    disk,
                    cli_name(cli_block_job_statuses, G_N_ELEMENTS(cli_block_job_statuses),
                             status, "unknown"));
}

static const char *const cli_io_error_actions[] = { "none", "pause", "report" };

static void
cli_event_io_error_reason(virConnectPtr conn G_GNUC_UNUSED, virDomainPtr dom,
                          const char *src_path, const char *alias, int action,
                          const char *reason, void *opaque)
{
    CliEventData *data = opaque;

    cli_event_print(data, "event '%s' for domain '%s': %s (%s) %s%s%s\n", data->def->name,
                    virDomainGetName(dom), src_path, alias,
                    cli_name(cli_io_error_actions, G_N_ELEMENTS(cli_io_error_actions), action,
                             "unknown"),
                    reason ? " due to " : "", reason ? reason : "");
}

static void
cli_event_io_error(virConnectPtr conn, virDomainPtr dom, const char *src_path,
                   const char *alias, int action, void *opaque)
{
    cli_event_io_error_reason(conn, dom, src_path, alias, action, NULL, opaque);
}

static virConnectDomainEventGenericCallback
cli_event_callback(CliEvent event)
{
    switch (event) {
    case CLI_EVENT_LIFECYCLE:
        return VIR_DOMAIN_EVENT_CALLBACK(cli_event_lifecycle);
    case CLI_EVENT_REBOOT:
        return cli_event_generic;
    case CLI_EVENT_IO_ERROR:
        return VIR_DOMAIN_EVENT_CALLBACK(cli_event_io_error);
    case CLI_EVENT_IO_ERROR_REASON:
        return VIR_DOMAIN_EVENT_CALLBACK(cli_event_io_error_reason);
    case CLI_EVENT_BLOCK_JOB:
    case CLI_EVENT_BLOCK_JOB_2:
        return VIR_DOMAIN_EVENT_CALLBACK(cli_event_block_job);
    case CLI_EVENT_LAST:
        break;
    }
    g_assert_not_reached();
}

static void
cli_event_timeout(int timer G_GNUC_UNUSED, void *opaque)
{
    *(bool *)opaque = true;
}

static const CliOptDef cli_opts_event[] = {
    { "domain", CLI_OPT_STRING, 0, "filter by domain name, id or uuid" },
    { "event", CLI_OPT_STRING, 0, "which event type to wait for" },
    { "all", CLI_OPT_BOOL, 0, "wait for all events instead of just one type" },
    { "loop", CLI_OPT_BOOL, 0, "loop until timeout or interrupt, rather than one-shot" },
    { "timeout", CLI_OPT_INT, 0, "timeout seconds" },
    { "list", CLI_OPT_BOOL, 0, "list valid event types" },
    { "timestamp", CLI_OPT_BOOL, 0, "show timestamp for each printed event" },
    CLI_OPTS_END,
};

static bool
cli_cmd_event(Cli *cli, const CliArgs *args)
{
    const char *name = cli_arg_string(args, "event");
    const char *timeout_text = cli_arg_string(args, "timeout");
    bool all = cli_arg_bool(args, "all");
    CliEventState state = { cli_arg_bool(args, "loop"), cli_arg_bool(args, "timestamp"), 0,
                            false };
    CliEventData data[CLI_EVENT_LAST] = { { 0 } };
    struct sigaction sa = { .sa_handler = cli_on_sigint };
    struct sigaction old_sa;
    virDomainPtr dom = NULL;
    bool timed_out = false;
    int timer = -1;
    size_t n = 0;
    bool ok = false;

    if (all && name) {
        cli_error("Options --all and --event are mutually exclusive");
        return false;
    }
    if (cli_arg_bool(args, "list")) {
        for (size_t i = 0; i < CLI_EVENT_LAST; i++)
            printf("%s\n", cli_events[i].name);
        return true;
    }
    if (!name && !all) {
        cli_error("one of --list, --all, or --event <type> is required");
        return false;
    }
    for (size_t i = 0; i < CLI_EVENT_LAST; i++) {
        if (all || strcmp(name, cli_events[i].name) == 0)
            data[n++] = (CliEventData) { &state, &cli_events[i], -1 };
    }
    if (n == 0) {
        cli_error("unknown event type %s", name);
        return false;
    }
    if (cli_arg_string(args, "domain") &&
        !(dom = cli_domain(cli, args, "domain", CLI_BY_ANY)))
        return false;
    if (virEventRegisterDefaultImpl() < 0)
        goto cleanup;

    if (timeout_text &&
        (timer = virEventAddTimeout(atoi(timeout_text) * 1000, cli_event_timeout,
                                    &timed_out, NULL)) < 0) {
        cli_error("failed to add timeout");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        data[i].callback_id =
            virConnectDomainEventRegisterAny(cli->conn, dom, data[i].def->event_id,
                                             cli_event_callback(data[i].def - cli_events),
                                             &data[i], NULL);
        if (data[i].callback_id < 0) {
            /* with --all, an older server may not know every event */
            if (i == 0)
                goto cleanup;
            cli_reset_error();
        }
    }

    sigaction(SIGINT, &sa, &old_sa);
    cli_interrupted = 0;
    while (!state.done && !timed_out && !cli_interrupted) {
        if (virEventRunDefaultImpl() < 0)
            break;
    }
    sigaction(SIGINT, &old_sa, NULL);
    if (cli_interrupted)
        printf("event loop interrupted\n");
    else if (timed_out)
        printf("event loop timed out\n");
    printf("events received: %d\n", state.count);
    ok = state.count > 0;

 cleanup:
    for (size_t i = 0; i < n; i++) {
        if (data[i].callback_id >= 0 &&
            virConnectDomainEventDeregisterAny(cli->conn, data[i].callback_id) < 0)
            ok = false;
    }
    if (timer >= 0)
        virEventRemoveTimeout(timer);
    if (dom)
        virDomainFree(dom);
    return ok;
}

/* ------------------------------------------------------------ table */

const CliCommand cli_domain_commands[] = {
    { "autostart", "autostart a domain", "Configure a domain to be automatically started at boot.",
      cli_opts_autostart, true, cli_cmd_autostart },
    { "create", "create a domain from an XML file",
      "Create a domain, start it, and do not keep its definition.",
      cli_opts_create, true, cli_cmd_create },
    { "define", "define (but don't start) a domain from an XML file",
      "Define a domain.", cli_opts_define, true, cli_cmd_define },
    { "destroy", "destroy (stop) a domain",
      "Forcefully stop a given domain, but leave its resources intact.",
      cli_opts_destroy, true, cli_cmd_destroy },
    { "domid", "convert a domain name or UUID to domain id", "Convert a domain name to domain id",
      cli_opts_domain, true, cli_cmd_domid },
    { "dominfo", "domain information", "Returns basic information about the domain.",
      cli_opts_domain, true, cli_cmd_dominfo },
    { "domname", "convert a domain id or UUID to domain name",
      "Convert a domain id or UUID to domain name", cli_opts_domain, true, cli_cmd_domname },
    { "domstate", "domain state", "Returns state about a domain.",
      cli_opts_domstate, true, cli_cmd_domstate },
    { "domuuid", "convert a domain name or id to domain UUID",
      "Convert a domain name or id to domain UUID", cli_opts_domain, true, cli_cmd_domuuid },
    { "dumpxml", "domain information in XML",
      "Output the domain information as an XML dump to stdout.",
      cli_opts_dumpxml, true, cli_cmd_dumpxml },
    { "event", "Domain Events", "List event types, or wait for domain events to occur",
      cli_opts_event, true, cli_cmd_event },
    { "list", "list domains", "Returns list of domains.", cli_opts_list, true, cli_cmd_list },
    { "reboot", "reboot a domain", "Run a reboot command in the target domain.",
      cli_opts_shutdown, true, cli_cmd_reboot },
    { "resume", "resume a domain", "Resume a previously suspended domain.",
      cli_opts_domain, true, cli_cmd_resume },
    { "shutdown", "gracefully shutdown a domain", "Run shutdown in the target domain.",
      cli_opts_shutdown, true, cli_cmd_shutdown },
    { "start", "start a (previously defined) inactive domain",
      "Start a domain, either from the last managedsave state, or via a fresh boot if no "
      "managedsave state is present.", cli_opts_start, true, cli_cmd_start },
    { "suspend", "suspend a domain", "Suspend a running domain.",
      cli_opts_domain, true, cli_cmd_suspend },
    { "undefine", "undefine a domain",
      "Undefine an inactive domain, or convert persistent to transient.",
      cli_opts_undefine, true, cli_cmd_undefine },
};

const size_t cli_domain_commands_len = G_N_ELEMENTS(cli_domain_commands);

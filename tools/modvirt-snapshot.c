/*
 * modvirt-snapshot.c: the snapshot commands of the modvirt CLI
 * (snapshot-create, snapshot-create-as, snapshot-list, snapshot-info,
 * snapshot-dumpxml, snapshot-current, snapshot-parent, snapshot-delete),
 * with virsh's options, output and exit status.
 */
#define G_LOG_DOMAIN "modvirt.cli"

#include <stdlib.h>
#include <string.h>

#include "modvirt.h"

#define CLI_CURRENT_OPT(text) { "current", CLI_OPT_BOOL, 0, text }

/* ------------------------------------------------------------ helpers */

/* @str split at commas, ",," standing for a comma itself (virsh's
 * vshStringToArray). */
static char **
cli_split_commas(const char *str)
{
    g_auto(GStrv) parts = g_strsplit(str, ",", 0);
    g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func(g_free);
    bool concat = false;

    g_ptr_array_add(out, g_strdup(parts[0] ? parts[0] : ""));
    for (size_t i = 1; parts[0] && parts[i]; i++) {
        if (concat) {
            char *old = out->pdata[out->len - 1];

            out->pdata[out->len - 1] = g_strconcat(old, ",", parts[i], NULL);
            g_free(old);
            concat = false;
        } else if (!*parts[i]) {
            concat = true;
        } else {
            g_ptr_array_add(out, g_strdup(parts[i]));
        }
    }
    if (concat)
        g_ptr_array_add(out, g_strdup(""));
    g_ptr_array_set_free_func(out, NULL);
    g_ptr_array_add(out, NULL);
    return (char **)g_ptr_array_free(g_steal_pointer(&out), FALSE);
}

/* The value of @item if it starts with "@key=", and it was not seen yet. */
static bool
cli_take_field(const char *item, const char *key, const char **field)
{
    size_t len = strlen(key);

    if (*field || strncmp(item, key, len) != 0 || item[len] != '=')
        return false;
    *field = item + len + 1;
    return true;
}

/* Append "@indent<@element attr='@value'.../>" style text, escaped. */
static void
cli_append_escaped(GString *buf, const char *fmt, const char *value)
{
    g_autofree char *escaped = NULL;

    if (!value)
        return;
    escaped = g_markup_escape_text(value, -1);
    g_string_append_printf(buf, fmt, escaped);
}

/* --memspec [file=]NAME[,snapshot=TYPE] as a <memory/> element. */
static bool
cli_parse_memspec(GString *buf, const char *str)
{
    g_auto(GStrv) items = cli_split_commas(str);
    const char *snapshot = NULL;
    const char *file = NULL;

    for (size_t i = 0; items[i]; i++) {
        if (cli_take_field(items[i], "snapshot", &snapshot) ||
            cli_take_field(items[i], "file", &file))
            continue;
        if (!file && items[i][0] == '/') {
            file = items[i];
            continue;
        }
        cli_error("unable to parse memspec: %s", str);
        return false;
    }
    g_string_append(buf, "  <memory");
    cli_append_escaped(buf, " snapshot='%s'", snapshot);
    cli_append_escaped(buf, " file='%s'", file);
    g_string_append(buf, "/>\n");
    return true;
}

/* --diskspec DISK[,snapshot=TYPE][,driver=TYPE][,stype=TYPE][,file=NAME]
 * as a <disk> element of <disks>. */
static bool
cli_parse_diskspec(GString *buf, const char *str)
{
    g_auto(GStrv) items = cli_split_commas(str);
    const char *snapshot = NULL;
    const char *driver = NULL;
    const char *stype = NULL;
    const char *file = NULL;
    bool is_file = true;

    for (size_t i = 1; items[0] && items[i]; i++) {
        if (!cli_take_field(items[i], "snapshot", &snapshot) &&
            !cli_take_field(items[i], "driver", &driver) &&
            !cli_take_field(items[i], "stype", &stype) &&
            !cli_take_field(items[i], "file", &file))
            goto error;
    }
    cli_append_escaped(buf, "    <disk name='%s'", items[0]);
    if (snapshot)
        g_string_append_printf(buf, " snapshot='%s'", snapshot);
    if (stype) {
        if (strcmp(stype, "block") == 0) {
            is_file = false;
        } else if (strcmp(stype, "file") != 0) {
            cli_error("Unknown storage type: '%s'", stype);
            goto error;
        }
        g_string_append_printf(buf, " type='%s'", stype);
    }
    if (driver || file) {
        g_string_append(buf, ">\n");
        if (driver)
            g_string_append_printf(buf, "      <driver type='%s'/>\n", driver);
        if (file)
            cli_append_escaped(buf, is_file ? "      <source file='%s'/>\n"
                                            : "      <source dev='%s'/>\n", file);
        g_string_append(buf, "    </disk>\n");
    } else {
        g_string_append(buf, "/>\n");
    }
    return true;

 error:
    cli_error("unable to parse diskspec: %s", str);
    return false;
}

/* Create the snapshot and say so, as virsh does (retrying without
 * --validate or --halt for servers that do not know them). */
static bool
cli_snapshot_create(Cli *cli, virDomainPtr dom, const char *xml, unsigned int flags,
                    const char *from)
{
    virDomainSnapshotPtr snap = virDomainSnapshotCreateXML(dom, xml, flags);
    bool halt = false;
    bool ok = false;

    if (!snap && cli_last_error_code() == VIR_ERR_NO_SUPPORT && !from) {
        flags &= ~VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE;
        snap = virDomainSnapshotCreateXML(dom, xml, flags);
    }
    if (!snap && cli_last_error_code() == VIR_ERR_INVALID_ARG &&
        (flags & VIR_DOMAIN_SNAPSHOT_CREATE_HALT)) {
        int persistent = 0;

        cli_reset_error();
        persistent = virDomainIsPersistent(dom);
        if (persistent < 0) {
            cli_report_last_error();
            return false;
        }
        if (!persistent) {
            cli_error("cannot halt after snapshot of transient domain");
            return false;
        }
        halt = virDomainIsActive(dom) == 1;
        flags &= ~VIR_DOMAIN_SNAPSHOT_CREATE_HALT;
        snap = virDomainSnapshotCreateXML(dom, xml, flags);
    }
    if (!snap)
        return false;
    if (halt && virDomainDestroy(dom) < 0) {
        cli_report_last_error();
    } else if (from) {
        cli_print_extra(cli, "Domain snapshot %s created from '%s'",
                        virDomainSnapshotGetName(snap), from);
        ok = true;
    } else {
        cli_print_extra(cli, "Domain snapshot %s created", virDomainSnapshotGetName(snap));
        ok = true;
    }
    virDomainSnapshotFree(snap);
    return ok;
}

/* The creation flags common to snapshot-create and snapshot-create-as. */
static unsigned int
cli_snapshot_create_flags(const CliArgs *args)
{
    static const struct {
        const char *opt;
        unsigned int flag;
    } opts[] = {
        { "no-metadata", VIR_DOMAIN_SNAPSHOT_CREATE_NO_METADATA },
        { "halt", VIR_DOMAIN_SNAPSHOT_CREATE_HALT },
        { "disk-only", VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY },
        { "reuse-external", VIR_DOMAIN_SNAPSHOT_CREATE_REUSE_EXT },
        { "quiesce", VIR_DOMAIN_SNAPSHOT_CREATE_QUIESCE },
        { "atomic", VIR_DOMAIN_SNAPSHOT_CREATE_ATOMIC },
        { "live", VIR_DOMAIN_SNAPSHOT_CREATE_LIVE },
        { "validate", VIR_DOMAIN_SNAPSHOT_CREATE_VALIDATE },
    };
    unsigned int flags = 0;

    for (size_t i = 0; i < G_N_ELEMENTS(opts); i++) {
        if (cli_arg_bool(args, opts[i].opt))
            flags |= opts[i].flag;
    }
    return flags;
}

/* The snapshot named by option @opt, or the current one with --current
 * (virsh's virshLookupSnapshot); NULL with the error printed. */
static virDomainSnapshotPtr
cli_snapshot_lookup(const CliArgs *args, const char *opt, virDomainPtr dom)
{
    bool current = cli_arg_bool(args, "current");
    const char *name = NULL;
    virDomainSnapshotPtr snap = NULL;

    if (cli_arg_string_req(args, opt, &name) < 0)
        return NULL;
    if (current && name) {
        cli_error("--%s and --current are mutually exclusive", opt);
        return NULL;
    }
    if (name) {
        snap = virDomainSnapshotLookupByName(dom, name, 0);
    } else if (current) {
        snap = virDomainSnapshotCurrent(dom, 0);
    } else {
        cli_error("--%s or --current is required", opt);
        return NULL;
    }
    if (!snap)
        cli_report_last_error();
    return snap;
}

typedef bool (*CliSnapshotAction)(Cli *cli, const CliArgs *args, virDomainPtr dom,
                                  virDomainSnapshotPtr snap);

/* The commands on one snapshot (--snapshotname or --current): look up
 * the domain and the snapshot, then @action. */
static bool
cli_snapshot_run(Cli *cli, const CliArgs *args, CliSnapshotAction action)
{
    virDomainPtr dom = cli_domain(cli, args, "domain", CLI_BY_ANY);
    virDomainSnapshotPtr snap = NULL;
    bool ok = false;

    if (!dom)
        return false;
    if ((snap = cli_snapshot_lookup(args, "snapshotname", dom))) {
        ok = action(cli, args, dom, snap);
        virDomainSnapshotFree(snap);
    }
    virDomainFree(dom);
    return ok;
}

/* The name of @snap's parent in *@ret_parent (NULL for a root); false
 * with errors printed. */
static bool
cli_snapshot_parent_name(virDomainSnapshotPtr snap, char **ret_parent)
{
    virDomainSnapshotPtr parent = virDomainSnapshotGetParent(snap, 0);
    g_autofree char *xml = NULL;
    g_autoptr(CliXml) doc = NULL;

    *ret_parent = NULL;
    if (parent) {
        *ret_parent = g_strdup(virDomainSnapshotGetName(parent));
        virDomainSnapshotFree(parent);
        cli_reset_error();
        return true;
    }
    if (cli_last_error_code() == VIR_ERR_NO_DOMAIN_SNAPSHOT) {
        cli_reset_error();
        return true;
    }
    /* older servers: the parent's name in the XML */
    if ((xml = virDomainSnapshotGetXMLDesc(snap, 0)) &&
        (doc = cli_xml_parse(xml, "(domain_snapshot)"))) {
        *ret_parent = cli_xpath_string(doc, NULL, "string(/domainsnapshot/parent/name)");
        cli_reset_error();
        return true;
    }
    cli_report_last_error();
    cli_error("unable to determine if snapshot has parent");
    return false;
}

/* ------------------------------------------------------------ create */

static const CliOptDef cli_opts_snapshot_create[] = {
    CLI_DOMAIN_OPT,
    { "xmlfile", CLI_OPT_STRING, CLI_OPT_POSITIONAL, "domain snapshot XML" },
    { "redefine", CLI_OPT_BOOL, 0, "redefine metadata for existing snapshot" },
    CLI_CURRENT_OPT("with redefine, set current snapshot"),
    { "no-metadata", CLI_OPT_BOOL, 0, "take snapshot but create no metadata" },
    { "halt", CLI_OPT_BOOL, 0, "halt domain after snapshot is created" },
    { "disk-only", CLI_OPT_BOOL, 0, "capture disk state but not vm state" },
    { "reuse-external", CLI_OPT_BOOL, 0, "reuse any existing external files" },
    { "quiesce", CLI_OPT_BOOL, 0, "quiesce guest's file systems" },
    { "atomic", CLI_OPT_BOOL, 0, "require atomic operation" },
    { "live", CLI_OPT_BOOL, 0, "take a live snapshot" },
    { "validate", CLI_OPT_BOOL, 0, "validate the XML against the schema" },
    CLI_OPTS_END,
};

static bool
cli_cmd_snapshot_create(Cli *cli, const CliArgs *args)
{
    unsigned int flags = cli_snapshot_create_flags(args);
    g_autofree char *xml = NULL;
    const char *from = NULL;
    virDomainPtr dom = NULL;
    bool ok = false;

    if (cli_arg_bool(args, "redefine"))
        flags |= VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE;
    if (cli_arg_bool(args, "current"))
        flags |= VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT;
    if (!(dom = cli_domain(cli, args, "domain", CLI_BY_ANY)))
        return false;
    if (cli_arg_string_req(args, "xmlfile", &from) == 0) {
        xml = from ? cli_read_file(from) : g_strdup("<domainsnapshot/>");
        if (xml)
            ok = cli_snapshot_create(cli, dom, xml, flags, from);
    }
    virDomainFree(dom);
    return ok;
}

static const CliOptDef cli_opts_snapshot_create_as[] = {
    CLI_DOMAIN_OPT,
    { "name", CLI_OPT_STRING, CLI_OPT_POSITIONAL, "name of snapshot" },
    { "description", CLI_OPT_STRING, CLI_OPT_POSITIONAL, "description of snapshot" },
    { "print-xml", CLI_OPT_BOOL, 0, "print XML document rather than create" },
    { "no-metadata", CLI_OPT_BOOL, 0, "take snapshot but create no metadata" },
    { "halt", CLI_OPT_BOOL, 0, "halt domain after snapshot is created" },
    { "disk-only", CLI_OPT_BOOL, 0, "capture disk state but not vm state" },
    { "reuse-external", CLI_OPT_BOOL, 0, "reuse any existing external files" },
    { "quiesce", CLI_OPT_BOOL, 0, "quiesce guest's file systems" },
    { "atomic", CLI_OPT_BOOL, 0, "require atomic operation" },
    { "live", CLI_OPT_BOOL, 0, "take a live snapshot" },
    { "validate", CLI_OPT_BOOL, 0, "validate the XML against the schema" },
    { "memspec", CLI_OPT_STRING, 0, "memory attributes: [file=]name[,snapshot=type]" },
    { "diskspec", CLI_OPT_ARGV, 0,
      "disk attributes: disk[,snapshot=type][,driver=type][,stype=type][,file=name]" },
    CLI_OPTS_END,
};

/* The <domainsnapshot> document virsh writes for snapshot-create-as. */
static char *
cli_snapshot_create_as_xml(const CliArgs *args, const char *name, const char *desc,
                           const char *memspec)
{
    g_autoptr(GString) buf = g_string_new("<domainsnapshot>\n");

    cli_append_escaped(buf, "  <name>%s</name>\n", name);
    cli_append_escaped(buf, "  <description>%s</description>\n", desc);
    if (memspec && !cli_parse_memspec(buf, memspec))
        return NULL;
    if (args->list->len) {
        g_string_append(buf, "  <disks>\n");
        for (guint i = 0; i < args->list->len; i++) {
            if (!cli_parse_diskspec(buf, args->list->pdata[i]))
                return NULL;
        }
        g_string_append(buf, "  </disks>\n");
    }
    g_string_append(buf, "</domainsnapshot>\n");
    return g_string_free(g_steal_pointer(&buf), FALSE);
}

static bool
cli_cmd_snapshot_create_as(Cli *cli, const CliArgs *args)
{
    unsigned int flags = cli_snapshot_create_flags(args);
    g_autofree char *xml = NULL;
    const char *name = NULL;
    const char *desc = NULL;
    const char *memspec = NULL;
    virDomainPtr dom = NULL;
    bool ok = false;

    if (!(dom = cli_domain(cli, args, "domain", CLI_BY_ANY)))
        return false;
    if (cli_arg_string_req(args, "name", &name) < 0 ||
        cli_arg_string_req(args, "description", &desc) < 0 ||
        cli_arg_string_req(args, "memspec", &memspec) < 0 ||
        !(xml = cli_snapshot_create_as_xml(args, name, desc, memspec)))
        goto cleanup;
    if (cli_arg_bool(args, "print-xml")) {
        printf("%s\n", xml);
        ok = true;
    } else {
        ok = cli_snapshot_create(cli, dom, xml, flags, NULL);
    }

 cleanup:
    virDomainFree(dom);
    return ok;
}

/* ------------------------------------------------------------ current */

static const CliOptDef cli_opts_snapshot_current[] = {
    CLI_DOMAIN_OPT,
    { "name", CLI_OPT_BOOL, 0, "list the name, rather than the full xml" },
    { "security-info", CLI_OPT_BOOL, 0, "include security sensitive information in XML dump" },
    { "snapshotname", CLI_OPT_STRING, CLI_OPT_POSITIONAL,
      "name of existing snapshot to make current" },
    CLI_OPTS_END,
};

/* snapshot-current SNAPSHOT: redefine it as the current one. */
static bool
cli_snapshot_make_current(Cli *cli, virDomainPtr dom, const char *name)
{
    unsigned int flags = VIR_DOMAIN_SNAPSHOT_CREATE_REDEFINE | VIR_DOMAIN_SNAPSHOT_CREATE_CURRENT;
    virDomainSnapshotPtr snap = virDomainSnapshotLookupByName(dom, name, 0);
    virDomainSnapshotPtr again = NULL;
    g_autofree char *xml = NULL;

    if (!snap)
        return false;
    xml = virDomainSnapshotGetXMLDesc(snap, VIR_DOMAIN_XML_SECURE);
    virDomainSnapshotFree(snap);
    if (!xml)
        return false;
    if (strstr(xml, "<state>disk-snapshot</state>"))
        flags |= VIR_DOMAIN_SNAPSHOT_CREATE_DISK_ONLY;
    if (!(again = virDomainSnapshotCreateXML(dom, xml, flags)))
        return false;
    virDomainSnapshotFree(again);
    cli_print_extra(cli, "Snapshot %s set as current", name);
    return true;
}

static bool
cli_snapshot_show_current(Cli *cli G_GNUC_UNUSED, virDomainPtr dom, const CliArgs *args)
{
    unsigned int flags = cli_arg_bool(args, "security-info") ? VIR_DOMAIN_XML_SECURE : 0;
    virDomainSnapshotPtr snap = NULL;
    g_autofree char *xml = NULL;
    int current = virDomainHasCurrentSnapshot(dom, 0);
    bool ok = false;

    if (current < 0)
        return false;
    if (!current) {
        cli_error("domain '%s' has no current snapshot", cli_arg_string(args, "domain"));
        return false;
    }
    if (!(snap = virDomainSnapshotCurrent(dom, 0)))
        return false;
    if (cli_arg_bool(args, "name")) {
        const char *name = virDomainSnapshotGetName(snap);

        if (name) {
            printf("%s", name);
            ok = true;
        }
    } else if ((xml = virDomainSnapshotGetXMLDesc(snap, flags))) {
        printf("%s", xml);
        ok = true;
    }
    virDomainSnapshotFree(snap);
    return ok;
}

static bool
cli_cmd_snapshot_current(Cli *cli, const CliArgs *args)
{
    const char *snapname = NULL;
    virDomainPtr dom = NULL;
    bool ok = false;

    if (!cli_exclusive(args, "name", "snapshotname"))
        return false;
    if (!(dom = cli_domain(cli, args, "domain", CLI_BY_ANY)))
        return false;
    if (cli_arg_string_req(args, "snapshotname", &snapname) == 0) {
        ok = snapname ? cli_snapshot_make_current(cli, dom, snapname)
                      : cli_snapshot_show_current(cli, dom, args);
    }
    if (!ok)
        cli_report_last_error();
    virDomainFree(dom);
    return ok;
}

/* ------------------------------------------------------------ info */

static const CliOptDef cli_opts_snapshot_info[] = {
    CLI_DOMAIN_OPT,
    { "snapshotname", CLI_OPT_STRING, CLI_OPT_POSITIONAL, "snapshot name" },
    CLI_CURRENT_OPT("info on current snapshot"),
    CLI_OPTS_END,
};

/* What snapshot-info prints after Name, Domain and Current. */
static bool
cli_snapshot_info_rest(virDomainSnapshotPtr snap, virDomainPtr dom)
{
    g_autofree char *xml = virDomainSnapshotGetXMLDesc(snap, 0);
    g_autoptr(CliXml) doc = NULL;
    g_autofree char *state = NULL;
    g_autofree char *parent = NULL;
    int external = -1;
    int metadata = 0;
    int count = 0;

    if (!xml || !(doc = cli_xml_parse(xml, "(domain_snapshot)")))
        return false;
    if (!(state = cli_xpath_string(doc, NULL, "string(/domainsnapshot/state)"))) {
        cli_error("unexpected problem reading snapshot xml");
        return false;
    }
    printf("%-15s %s\n", "State:", state);

    /* external: a memory or disk snapshot='external'; without <memory>,
     * a disk-only snapshot */
    switch (cli_xpath_boolean(doc, NULL, "boolean(/domainsnapshot/memory)")) {
    case 1:
        external = cli_xpath_boolean(doc, NULL,
                                     "boolean(/domainsnapshot/memory[@snapshot='external'] "
                                     "| /domainsnapshot/disks/disk[@snapshot='external'])");
        break;
    case 0:
        external = strcmp(state, "disk-snapshot") == 0;
        break;
    default:
        break;
    }
    if (external < 0) {
        cli_error("unexpected problem reading snapshot xml");
        return false;
    }
    printf("%-15s %s\n", "Location:", external ? "external" : "internal");
    parent = cli_xpath_string(doc, NULL, "string(/domainsnapshot/parent/name)");
    printf("%-15s %s\n", "Parent:", parent ? parent : "-");

    if ((count = virDomainSnapshotNumChildren(snap, 0)) < 0) {
        if (cli_last_error_code() == VIR_ERR_NO_SUPPORT) {
            cli_reset_error();
            return true;
        }
        return false;
    }
    printf("%-15s %d\n", "Children:", count);
    if ((count = virDomainSnapshotNumChildren(snap, VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS)) < 0)
        return false;
    printf("%-15s %d\n", "Descendants:", count);

    if ((metadata = virDomainSnapshotHasMetadata(snap, 0)) < 0) {
        metadata = virDomainSnapshotNum(dom, VIR_DOMAIN_SNAPSHOT_LIST_METADATA);
        cli_reset_error();
    }
    if (metadata >= 0)
        printf("%-15s %s\n", "Metadata:", metadata ? "yes" : "no");
    return true;
}

static bool
cli_snapshot_info(Cli *cli G_GNUC_UNUSED, const CliArgs *args G_GNUC_UNUSED, virDomainPtr dom,
                  virDomainSnapshotPtr snap)
{
    int current = 0;

    printf("%-15s %s\n", "Name:", virDomainSnapshotGetName(snap));
    printf("%-15s %s\n", "Domain:", virDomainGetName(dom));
    if ((current = virDomainSnapshotIsCurrent(snap, 0)) < 0) {
        cli_reset_error();
        current = 0;
    }
    printf("%-15s %s\n", "Current:", current > 0 ? "yes" : "no");
    return cli_snapshot_info_rest(snap, dom);
}

static bool
cli_cmd_snapshot_info(Cli *cli, const CliArgs *args)
{
    return cli_snapshot_run(cli, args, cli_snapshot_info);
}

/* ------------------------------------------------------------ list */

static const CliOptDef cli_opts_snapshot_list[] = {
    CLI_DOMAIN_OPT,
    { "parent", CLI_OPT_BOOL, 0, "add a column showing parent snapshot" },
    { "roots", CLI_OPT_BOOL, 0, "list only snapshots without parents" },
    { "leaves", CLI_OPT_BOOL, 0, "list only snapshots without children" },
    { "no-leaves", CLI_OPT_BOOL, 0, "list only snapshots that are not leaves (with children)" },
    { "metadata", CLI_OPT_BOOL, 0,
      "list only snapshots that have metadata that would prevent undefine" },
    { "no-metadata", CLI_OPT_BOOL, 0,
      "list only snapshots that have no metadata managed by libvirt" },
    { "inactive", CLI_OPT_BOOL, 0, "filter by snapshots taken while inactive" },
    { "active", CLI_OPT_BOOL, 0, "filter by snapshots taken while active (full system snapshots)" },
    { "disk-only", CLI_OPT_BOOL, 0, "filter by disk-only snapshots" },
    { "internal", CLI_OPT_BOOL, 0, "filter by internal snapshots" },
    { "external", CLI_OPT_BOOL, 0, "filter by external snapshots" },
    { "tree", CLI_OPT_BOOL, 0, "list snapshots in a tree" },
    { "from", CLI_OPT_STRING, CLI_OPT_POSITIONAL, "limit list to children of given snapshot" },
    CLI_CURRENT_OPT("limit list to children of current snapshot"),
    { "descendants", CLI_OPT_BOOL, 0, "with --from, list all descendants" },
    { "name", CLI_OPT_BOOL, 0, "list snapshot names only" },
    { "topological", CLI_OPT_BOOL, 0, "sort list topologically rather than by name" },
    CLI_OPTS_END,
};

typedef struct {
    virDomainSnapshotPtr snap;
    char *parent;                   /* with --tree only */
} CliSnap;

static void
cli_snap_clear(gpointer data)
{
    CliSnap *s = data;

    virDomainSnapshotFree(s->snap);
    g_free(s->parent);
}

static int
cli_snap_compare(gconstpointer a, gconstpointer b)
{
    const CliSnap *sa = a;
    const CliSnap *sb = b;

    return g_ascii_strcasecmp(virDomainSnapshotGetName(sa->snap),
                              virDomainSnapshotGetName(sb->snap));
}

/* The snapshots to list (of the domain, or children of @from), each with
 * its parent's name for --tree; --tree --from adds @from as the root. */
static GArray *
cli_snapshot_collect(virDomainPtr dom, virDomainSnapshotPtr from, unsigned int flags, bool tree)
{
    g_autoptr(GArray) list = g_array_new(FALSE, TRUE, sizeof(CliSnap));
    virDomainSnapshotPtr *snaps = NULL;
    int count = from ? virDomainSnapshotListAllChildren(from, &snaps, flags)
                     : virDomainListAllSnapshots(dom, &snaps, flags);

    g_array_set_clear_func(list, cli_snap_clear);
    if (count < 0)
        return NULL;
    for (int i = 0; i < count; i++) {
        CliSnap s = { snaps[i], NULL };

        g_array_append_val(list, s);
    }
    free(snaps);
    if (tree) {
        for (guint i = 0; i < list->len; i++) {
            if (!cli_snapshot_parent_name(g_array_index(list, CliSnap, i).snap,
                                          &g_array_index(list, CliSnap, i).parent))
                return NULL;
        }
        if (from) {
            CliSnap s = { from, NULL };

            virDomainSnapshotRef(from);
            g_array_append_val(list, s);
        }
    }
    if (!(flags & VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL))
        g_array_sort(list, cli_snap_compare);
    return g_steal_pointer(&list);
}

/* virsh's tree: the name, "|" lines between a parent and its children,
 * "+- " before each child, a blank line after the last of a branch. */
static void
cli_tree_print(GArray *list, guint idx, guint last, bool root, GString *indent)
{
    const char *name = virDomainSnapshotGetName(g_array_index(list, CliSnap, idx).snap);
    gint next_last = -1;

    printf("%s%s%s\n", indent->str, root ? "" : "+- ", name);
    if (!root)
        g_string_append(indent, idx == last ? "  " : "| ");
    for (guint i = 0; i < list->len; i++) {
        if (g_strcmp0(g_array_index(list, CliSnap, i).parent, name) == 0)
            next_last = (gint)i;
    }
    if (next_last != -1)
        printf("%s  |\n", indent->str);
    g_string_append(indent, "  ");
    for (guint i = 0; i < list->len; i++) {
        if (g_strcmp0(g_array_index(list, CliSnap, i).parent, name) == 0)
            cli_tree_print(list, i, (guint)next_last, false, indent);
    }
    g_string_truncate(indent, indent->len - 2);
    if (next_last == -1 && idx == last)
        printf("%s\n", indent->str);
    if (!root)
        g_string_truncate(indent, indent->len - 2);
}

/* One row of the snapshot table; false if the snapshot's XML cannot be
 * read (virsh leaves it out). */
static bool
cli_snapshot_row(CliTable *table, virDomainSnapshotPtr snap, bool with_parent)
{
    g_autofree char *xml = virDomainSnapshotGetXMLDesc(snap, 0);
    g_autoptr(CliXml) doc = NULL;
    g_autofree char *state = NULL;
    g_autofree char *created = NULL;
    g_autofree char *parent = NULL;
    g_autoptr(GDateTime) then = NULL;
    g_autofree char *when = NULL;
    gint64 seconds = 0;
    char *end = NULL;

    if (!xml || !(doc = cli_xml_parse(xml, "(domain_snapshot)")))
        return false;
    if (!(state = cli_xpath_string(doc, NULL, "string(/domainsnapshot/state)")) ||
        !(created = cli_xpath_string(doc, NULL, "string(/domainsnapshot/creationTime)")))
        return false;
    seconds = g_ascii_strtoll(created, &end, 10);
    if (*end || !(then = g_date_time_new_from_unix_local(seconds)))
        return false;
    when = g_date_time_format(then, "%Y-%m-%d %H:%M:%S %z");
    if (with_parent) {
        parent = cli_xpath_string(doc, NULL, "string(/domainsnapshot/parent/name)");
        cli_table_add(table, virDomainSnapshotGetName(snap), when, state,
                      parent ? parent : "", NULL);
    } else {
        cli_table_add(table, virDomainSnapshotGetName(snap), when, state, NULL);
    }
    return true;
}

static bool
cli_cmd_snapshot_list(Cli *cli, const CliArgs *args)
{
    static const struct {
        const char *opt;
        unsigned int flag;
    } filters[] = {
        { "leaves", VIR_DOMAIN_SNAPSHOT_LIST_LEAVES },
        { "no-leaves", VIR_DOMAIN_SNAPSHOT_LIST_NO_LEAVES },
        { "inactive", VIR_DOMAIN_SNAPSHOT_LIST_INACTIVE },
        { "active", VIR_DOMAIN_SNAPSHOT_LIST_ACTIVE },
        { "disk-only", VIR_DOMAIN_SNAPSHOT_LIST_DISK_ONLY },
        { "internal", VIR_DOMAIN_SNAPSHOT_LIST_INTERNAL },
        { "external", VIR_DOMAIN_SNAPSHOT_LIST_EXTERNAL },
    };
    bool tree = cli_arg_bool(args, "tree");
    bool names = cli_arg_bool(args, "name");
    bool from = cli_arg_bool(args, "from");
    bool with_parent = cli_arg_bool(args, "parent");
    bool current = cli_arg_bool(args, "current");
    virDomainSnapshotPtr start = NULL;
    g_autoptr(GArray) list = NULL;
    unsigned int flags = 0;
    virDomainPtr dom = NULL;
    bool ok = false;

    if (!cli_exclusive(args, "tree", "name") || !cli_exclusive(args, "parent", "roots") ||
        !cli_exclusive(args, "parent", "tree") || !cli_exclusive(args, "roots", "tree") ||
        !cli_exclusive(args, "roots", "from") || !cli_exclusive(args, "roots", "current"))
        return false;
    for (size_t i = 0; i < G_N_ELEMENTS(filters); i++) {
        if (!cli_arg_bool(args, filters[i].opt))
            continue;
        if (tree) {
            cli_error("--%s and --tree are mutually exclusive", filters[i].opt);
            return false;
        }
        flags |= filters[i].flag;
    }
    if (cli_arg_bool(args, "topological"))
        flags |= VIR_DOMAIN_SNAPSHOT_LIST_TOPOLOGICAL;
    if (cli_arg_bool(args, "roots"))
        flags |= VIR_DOMAIN_SNAPSHOT_LIST_ROOTS;
    if (cli_arg_bool(args, "metadata"))
        flags |= VIR_DOMAIN_SNAPSHOT_LIST_METADATA;
    if (cli_arg_bool(args, "no-metadata"))
        flags |= VIR_DOMAIN_SNAPSHOT_LIST_NO_METADATA;
    if (cli_arg_bool(args, "descendants")) {
        if (!from && !current) {
            cli_error("--descendants requires either --from or --current");
            return false;
        }
        flags |= VIR_DOMAIN_SNAPSHOT_LIST_DESCENDANTS;
    }

    if (!(dom = cli_domain(cli, args, "domain", CLI_BY_ANY)))
        return false;
    if ((from || current) && !(start = cli_snapshot_lookup(args, "from", dom)))
        goto cleanup;
    if (!(list = cli_snapshot_collect(dom, start, flags, tree)))
        goto cleanup;

    if (tree) {
        g_autoptr(GString) indent = g_string_new(NULL);

        for (guint i = 0; i < list->len; i++) {
            if (!g_array_index(list, CliSnap, i).parent)
                cli_tree_print(list, i, i, true, indent);
        }
    } else if (names) {
        for (guint i = 0; i < list->len; i++)
            printf("%s\n", virDomainSnapshotGetName(g_array_index(list, CliSnap, i).snap));
    } else {
        g_autoptr(CliTable) table =
            with_parent ? cli_table_new("Name", "Creation Time", "State", "Parent", NULL)
                        : cli_table_new("Name", "Creation Time", "State", NULL);

        for (guint i = 0; i < list->len; i++) {
            if (!cli_snapshot_row(table, g_array_index(list, CliSnap, i).snap, with_parent))
                cli_reset_error();
        }
        cli_table_print(cli, table);
    }
    ok = true;

 cleanup:
    if (start)
        virDomainSnapshotFree(start);
    virDomainFree(dom);
    return ok;
}

/* ------------------------------------------------------------ dumpxml */

static const CliOptDef cli_opts_snapshot_dumpxml[] = {
    CLI_DOMAIN_OPT,
    { "snapshotname", CLI_OPT_STRING, CLI_OPT_POSITIONAL | CLI_OPT_REQUIRED, "snapshot name" },
    { "security-info", CLI_OPT_BOOL, 0, "include security sensitive information in XML dump" },
    { "xpath", CLI_OPT_STRING, 0, "xpath expression to filter the XML document" },
    { "wrap", CLI_OPT_BOOL, 0, "wrap xpath results in an common root element" },
    CLI_OPTS_END,
};

/* The nodes @xpath selects in @xml, one per line, or all in <nodes> with
 * @wrap (virsh's --xpath). */
static bool
cli_dump_xpath(const char *xml, const char *xpath, bool wrap)
{
    int old_blanks = xmlKeepBlanksDefault(0);
    g_autoptr(CliXml) doc = cli_xml_parse(xml, "domain-snapshot");
    xmlXPathObjectPtr obj = NULL;
    xmlDocPtr wrapped = NULL;
    xmlNodePtr root = NULL;
    bool ok = false;

    xmlKeepBlanksDefault(old_blanks);
    if (!doc)
        return false;
    obj = xmlXPathEvalExpression((const xmlChar *)xpath, doc->ctxt);
    if (!obj || obj->type != XPATH_NODESET) {
        cli_error("internal error: Incorrect xpath '%s'", xpath);
        goto cleanup;
    }
    if (wrap) {
        wrapped = xmlNewDoc((const xmlChar *)"1.0");
        root = xmlNewNode(NULL, (const xmlChar *)"nodes");
        xmlDocSetRootElement(wrapped, root);
    }
    for (int i = 0; obj->nodesetval && i < obj->nodesetval->nodeNr; i++) {
        xmlNodePtr node = obj->nodesetval->nodeTab[i];

        if (wrap) {
            xmlAddChild(root, xmlDocCopyNode(node, wrapped, 1));
        } else {
            xmlBufferPtr buf = xmlBufferCreate();

            xmlNodeDump(buf, doc->doc, node, 0, 1);
            printf("%s\n", (const char *)xmlBufferContent(buf));
            xmlBufferFree(buf);
        }
    }
    if (wrap) {
        xmlBufferPtr buf = xmlBufferCreate();

        xmlNodeDump(buf, wrapped, root, 0, 1);
        printf("%s\n", (const char *)xmlBufferContent(buf));
        xmlBufferFree(buf);
    }
    ok = true;

 cleanup:
    xmlXPathFreeObject(obj);
    xmlFreeDoc(wrapped);
    return ok;
}

static bool
cli_cmd_snapshot_dumpxml(Cli *cli, const CliArgs *args)
{
    unsigned int flags = cli_arg_bool(args, "security-info") ? VIR_DOMAIN_XML_SECURE : 0;
    const char *xpath = cli_arg_string(args, "xpath");
    const char *name = NULL;
    virDomainSnapshotPtr snap = NULL;
    g_autofree char *xml = NULL;
    virDomainPtr dom = NULL;
    bool ok = false;

    if (cli_arg_string_req(args, "snapshotname", &name) < 0)
        return false;
    if (!(dom = cli_domain(cli, args, "domain", CLI_BY_ANY)))
        return false;
    if ((snap = virDomainSnapshotLookupByName(dom, name, 0)) &&
        (!xpath || *xpath) &&
        (xml = virDomainSnapshotGetXMLDesc(snap, flags))) {
        if (xpath) {
            ok = cli_dump_xpath(xml, xpath, cli_arg_bool(args, "wrap"));
        } else {
            printf("%s", xml);
            ok = true;
        }
    }
    if (snap)
        virDomainSnapshotFree(snap);
    virDomainFree(dom);
    return ok;
}

/* ------------------------------------------------------------ parent */

static const CliOptDef cli_opts_snapshot_parent[] = {
    CLI_DOMAIN_OPT,
    { "snapshotname", CLI_OPT_STRING, CLI_OPT_POSITIONAL, "find parent of snapshot name" },
    CLI_CURRENT_OPT("find parent of current snapshot"),
    CLI_OPTS_END,
};

static bool
cli_snapshot_parent(Cli *cli G_GNUC_UNUSED, const CliArgs *args G_GNUC_UNUSED,
                    virDomainPtr dom G_GNUC_UNUSED, virDomainSnapshotPtr snap)
{
    g_autofree char *parent = NULL;

    if (!cli_snapshot_parent_name(snap, &parent))
        return false;
    if (!parent) {
        cli_error("snapshot '%s' has no parent", virDomainSnapshotGetName(snap));
        return false;
    }
    printf("%s", parent);
    return true;
}

static bool
cli_cmd_snapshot_parent(Cli *cli, const CliArgs *args)
{
    return cli_snapshot_run(cli, args, cli_snapshot_parent);
}

/* ------------------------------------------------------------ delete */

static const CliOptDef cli_opts_snapshot_delete[] = {
    CLI_DOMAIN_OPT,
    { "snapshotname", CLI_OPT_STRING, CLI_OPT_POSITIONAL, "snapshot name" },
    CLI_CURRENT_OPT("delete current snapshot"),
    { "children", CLI_OPT_BOOL, 0, "delete snapshot and all children" },
    { "children-only", CLI_OPT_BOOL, 0, "delete children but not snapshot" },
    { "metadata", CLI_OPT_BOOL, 0,
      "delete only libvirt metadata, leaving snapshot contents behind" },
    CLI_OPTS_END,
};

static bool
cli_snapshot_delete(Cli *cli, const CliArgs *args, virDomainPtr dom G_GNUC_UNUSED,
                    virDomainSnapshotPtr snap)
{
    g_autofree char *name = g_strdup(virDomainSnapshotGetName(snap));
    unsigned int flags = 0;

    if (cli_arg_bool(args, "children"))
        flags |= VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN;
    if (cli_arg_bool(args, "children-only"))
        flags |= VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY;
    if (cli_arg_bool(args, "metadata"))
        flags |= VIR_DOMAIN_SNAPSHOT_DELETE_METADATA_ONLY;
    if (virDomainSnapshotDelete(snap, flags) < 0) {
        cli_error("Failed to delete snapshot %s", name);
        return false;
    }
    if (flags & VIR_DOMAIN_SNAPSHOT_DELETE_CHILDREN_ONLY)
        cli_print_extra(cli, "Domain snapshot %s children deleted\n", name);
    else
        cli_print_extra(cli, "Domain snapshot %s deleted\n", name);
    return true;
}

static bool
cli_cmd_snapshot_delete(Cli *cli, const CliArgs *args)
{
    return cli_snapshot_run(cli, args, cli_snapshot_delete);
}

/* ------------------------------------------------------------ table */

const CliCommand cli_snapshot_commands[] = {
    { "snapshot-create", "Create a snapshot from XML", "Create a snapshot (disk and RAM) from XML",
      cli_opts_snapshot_create, true, cli_cmd_snapshot_create },
    { "snapshot-create-as", "Create a snapshot from a set of args",
      "Create a snapshot (disk and RAM) from arguments",
      cli_opts_snapshot_create_as, true, cli_cmd_snapshot_create_as },
    { "snapshot-current", "Get or set the current snapshot", "Get or set the current snapshot",
      cli_opts_snapshot_current, true, cli_cmd_snapshot_current },
    { "snapshot-delete", "Delete a domain snapshot", "Snapshot Delete",
      cli_opts_snapshot_delete, true, cli_cmd_snapshot_delete },
    { "snapshot-dumpxml", "Dump XML for a domain snapshot", "Snapshot Dump XML",
      cli_opts_snapshot_dumpxml, true, cli_cmd_snapshot_dumpxml },
    { "snapshot-info", "snapshot information", "Returns basic information about a snapshot.",
      cli_opts_snapshot_info, true, cli_cmd_snapshot_info },
    { "snapshot-list", "List snapshots for a domain", "Snapshot List",
      cli_opts_snapshot_list, true, cli_cmd_snapshot_list },
    { "snapshot-parent", "Get the name of the parent of a snapshot",
      "Extract the snapshot's parent, if any", cli_opts_snapshot_parent, true,
      cli_cmd_snapshot_parent },
};

const size_t cli_snapshot_commands_len = G_N_ELEMENTS(cli_snapshot_commands);

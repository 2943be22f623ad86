/*
 * conf-snapshot.c: domain snapshot definitions (<domainsnapshot>).
 *
 * Parsing walks the tree by hand; every element and attribute is either
 * understood or refused.  The embedded <domain> and <inactiveDomain> are
 * handed to conf_domain_parse() as documents of their own.
 */
#define G_LOG_DOMAIN "modvirt.conf.snapshot"

#include "conf-snapshot.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>

#include "util-error.h"
#include "util-xml.h"

#define SNAP_ERR VIR_FROM_DOMAIN_SNAPSHOT
#define SNAP_SCHEMA_FILE "domainsnapshot.rng"


static const char *const snap_location_names[] = {
    [CONF_SNAPSHOT_LOCATION_DEFAULT] = "default",
    [CONF_SNAPSHOT_LOCATION_NO] = "no",
    [CONF_SNAPSHOT_LOCATION_INTERNAL] = "internal",
    [CONF_SNAPSHOT_LOCATION_EXTERNAL] = "external",
    [CONF_SNAPSHOT_LOCATION_MANUAL] = "manual",
};
G_STATIC_ASSERT(G_N_ELEMENTS(snap_location_names) == CONF_SNAPSHOT_LOCATION_LAST);

static const char *const snap_state_names[] = {
    [CONF_SNAPSHOT_STATE_NOSTATE] = "nostate",
    [CONF_SNAPSHOT_STATE_RUNNING] = "running",
    [CONF_SNAPSHOT_STATE_BLOCKED] = "blocked",
    [CONF_SNAPSHOT_STATE_PAUSED] = "paused",
    [CONF_SNAPSHOT_STATE_SHUTDOWN] = "shutdown",
    [CONF_SNAPSHOT_STATE_SHUTOFF] = "shutoff",
    [CONF_SNAPSHOT_STATE_CRASHED] = "crashed",
    [CONF_SNAPSHOT_STATE_PMSUSPENDED] = "pmsuspended",
    [CONF_SNAPSHOT_STATE_DISK_SNAPSHOT] = "disk-snapshot",
};
G_STATIC_ASSERT(G_N_ELEMENTS(snap_state_names) == CONF_SNAPSHOT_STATE_LAST);

/* libvirt's virStorageFileFormat names after "none": the driver types a
 * disk snapshot may name (whether the hypervisor can make them is its
 * driver's business) */
static const char *const snap_driver_types[] = {
    "raw", "dir", "bochs", "cloop", "dmg", "iso", "vpc", "vdi", "fat", "vhd",
    "ploop", "cow", "qcow", "qcow2", "qed", "vmdk", NULL,
};

const char *
conf_snapshot_state_to_string(ConfSnapshotState state)
{
    g_return_val_if_fail(state < CONF_SNAPSHOT_STATE_LAST, NULL);
    return snap_state_names[state];
}

const char *
conf_snapshot_location_to_string(ConfSnapshotLocation location)
{
    g_return_val_if_fail(location < CONF_SNAPSHOT_LOCATION_LAST, NULL);
    return snap_location_names[location];
}

static int
snap_lookup(const char *const *table, int n, const char *str)
{
    for (int i = 0; i < n; i++) {
        if (str && g_str_equal(table[i], str))
            return i;
    }
    return -1;
}

/* ------------------------------------------------------------------ */
/* objects                                                             */
/* ------------------------------------------------------------------ */

static void
snap_disk_free(gpointer data)
{
    ConfSnapshotDiskDef *disk = data;

    if (!disk)
        return;
    g_free(disk->name);
    g_free(disk->path);
    g_free(disk->driver_type);
    g_free(disk);
}

ConfSnapshotDef *
conf_snapshot_def_new(void)
{
    ConfSnapshotDef *def = g_new0(ConfSnapshotDef, 1);

    def->disks = g_ptr_array_new_with_free_func(snap_disk_free);
    return def;
}

void
conf_snapshot_def_free(ConfSnapshotDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->description);
    g_free(def->parent_name);
    g_free(def->memory_file);
    g_ptr_array_unref(def->disks);
    conf_domain_def_free(def->dom);
    conf_domain_def_free(def->inactive_dom);
    g_free(def);
}

bool
conf_snapshot_is_external(const ConfSnapshotDef *def)
{
    if (def->memory == CONF_SNAPSHOT_LOCATION_EXTERNAL)
        return true;
    for (guint i = 0; i < def->disks->len; i++) {
        const ConfSnapshotDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (disk->snapshot == CONF_SNAPSHOT_LOCATION_EXTERNAL)
            return true;
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* reading the tree                                                    */
/* ------------------------------------------------------------------ */

static const char *
snap_name(const xmlNode *node)
{
    return (const char *)node->name;
}

static bool
snap_is(const xmlNode *node, const char *name)
{
    return node->type == XML_ELEMENT_NODE && !node->ns && g_str_equal(snap_name(node), name);
}

/* Every attribute of @node must be one of @allowed (NULL-terminated). */
static bool
snap_attrs_ok(const xmlNode *node, const char *const *allowed, GError **error)
{
    for (const xmlAttr *a = node->properties; a; a = a->next) {
        if (a->ns || !g_strv_contains(allowed, (const char *)a->name)) {
            util_error_set(error, SNAP_ERR, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unsupported attribute '%s' in element <%s>",
                           (const char *)a->name, snap_name(node));
            return false;
        }
    }
    return true;
}

static char *
snap_prop(const xmlNode *node, const char *name)
{
    xmlChar *v = xmlGetNoNsProp(node, BAD_CAST name);
    char *ret = v ? g_strdup((const char *)v) : NULL;

    xmlFree(v);
    return ret;
}

static bool
snap_bad_child(const xmlNode *parent, const xmlNode *child, GError **error)
{
    util_error_set(error, SNAP_ERR, VIR_ERR_CONFIG_UNSUPPORTED,
                   "unsupported element <%s> in <%s>", snap_name(child), snap_name(parent));
    return false;
}

/* The text of an element that holds text only. */
static bool
snap_text(const xmlNode *node, char **ret, GError **error)
{
    xmlChar *content = NULL;

    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            return snap_bad_child(node, c, error);
    }
    if (!snap_attrs_ok(node, (const char *const[]){ NULL }, error))
        return false;
    content = xmlNodeGetContent(node);
    g_free(*ret);
    *ret = g_strdup(content ? (const char *)content : "");
    xmlFree(content);
    return true;
}

/* Elements that hold elements only: no stray text. */
static bool
snap_container_ok(const xmlNode *node, GError **error)
{
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE) {
            for (const char *p = (const char *)c->content; p && *p; p++) {
                if (!g_ascii_isspace(*p)) {
                    util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                                   "unexpected text in element <%s>", snap_name(node));
                    return false;
                }
            }
        } else if (c->type == XML_ELEMENT_NODE && c->ns) {
            return snap_bad_child(node, c, error);
        }
    }
    return true;
}

static bool
snap_once(const xmlNode **slot, const xmlNode *node, GError **error)
{
    if (*slot) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "element <%s> may appear only once in <%s>",
                       snap_name(node), snap_name(node->parent));
        return false;
    }
    *slot = node;
    return true;
}

static bool
snap_location_attr(const xmlNode *node, ConfSnapshotLocation *ret, GError **error)
{
    g_autofree char *value = snap_prop(node, "snapshot");
    int v = 0;

    *ret = CONF_SNAPSHOT_LOCATION_DEFAULT;
    if (!value)
        return true;
    v = snap_lookup(snap_location_names, CONF_SNAPSHOT_LOCATION_LAST, value);
    if (v <= 0) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "Invalid value for attribute 'snapshot' in element '%s': '%s'.",
                       snap_name(node), value);
        return false;
    }
    *ret = (ConfSnapshotLocation)v;
    return true;
}

/* ------------------------------------------------------------------ */
/* parse                                                               */
/* ------------------------------------------------------------------ */

static bool
snap_parse_disk_source(const xmlNode *node, ConfSnapshotDiskDef *disk, GError **error)
{
    const char *attr = disk->type == CONF_STORAGE_TYPE_BLOCK ? "dev" : "file";

    if (!snap_attrs_ok(node, (const char *const[]){ attr, NULL }, error) ||
        !snap_container_ok(node, error))
        return false;
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            return snap_bad_child(node, c, error);
    }
    g_free(disk->path);
    disk->path = snap_prop(node, attr);
    if (disk->path && !*disk->path)
        g_clear_pointer(&disk->path, g_free);
    return true;
}

static bool
snap_parse_disk(const xmlNode *node, ConfSnapshotDiskDef *disk, GError **error)
{
    g_autofree char *type = NULL;
    const xmlNode *source = NULL;
    const xmlNode *driver = NULL;

    if (!snap_attrs_ok(node, (const char *const[]){ "name", "snapshot", "type", NULL }, error) ||
        !snap_container_ok(node, error))
        return false;
    if (!(disk->name = snap_prop(node, "name"))) {
        util_error_set(error, SNAP_ERR, VIR_ERR_INTERNAL_ERROR,
                       "missing name from disk snapshot element");
        return false;
    }
    if (!snap_location_attr(node, &disk->snapshot, error))
        return false;
    disk->type = CONF_STORAGE_TYPE_FILE;
    if ((type = snap_prop(node, "type"))) {
        if (g_str_equal(type, "block")) {
            disk->type = CONF_STORAGE_TYPE_BLOCK;
        } else if (g_str_equal(type, "volume") || g_str_equal(type, "dir")) {
            util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                           "unsupported disk snapshot type '%s'", type);
            return false;
        } else if (g_str_equal(type, "network") || g_str_equal(type, "nvme") ||
                   g_str_equal(type, "vhostuser")) {
            util_error_set(error, SNAP_ERR, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unsupported configuration: disk snapshot type '%s' is not supported",
                           type);
            return false;
        } else if (!g_str_equal(type, "file")) {
            util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                           "Invalid value for attribute 'type' in element 'disk': '%s'.", type);
            return false;
        }
    }
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE)
            continue;
        if (snap_is(c, "source")) {
            if (!snap_once(&source, c, error) || !snap_parse_disk_source(c, disk, error))
                return false;
        } else if (snap_is(c, "driver")) {
            if (!snap_once(&driver, c, error) ||
                !snap_attrs_ok(c, (const char *const[]){ "type", NULL }, error) ||
                !snap_container_ok(c, error))
                return false;
            for (const xmlNode *d = c->children; d; d = d->next) {
                if (d->type == XML_ELEMENT_NODE)
                    return snap_bad_child(c, d, error);
            }
            disk->driver_type = snap_prop(c, "type");
            if (disk->driver_type && !g_strv_contains(snap_driver_types, disk->driver_type)) {
                util_error_set(error, SNAP_ERR, VIR_ERR_CONFIG_UNSUPPORTED,
                               "unsupported configuration: unknown disk snapshot driver '%s'",
                               disk->driver_type);
                return false;
            }
        } else {
            return snap_bad_child(node, c, error);
        }
    }
    if (disk->path && !g_path_is_absolute(disk->path)) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "disk snapshot image path '%s' must be absolute", disk->path);
        return false;
    }
    if (disk->snapshot == CONF_SNAPSHOT_LOCATION_DEFAULT && (disk->path || disk->driver_type))
        disk->snapshot = CONF_SNAPSHOT_LOCATION_EXTERNAL;
    return true;
}

/* The subtree at @node as a <domain> document of its own. */
static ConfDomainDef *
snap_parse_domain(const xmlNode *node, GError **error)
{
    g_autoptr(xmlBuffer) buf = xmlBufferCreate();
    xmlNode *copy = xmlCopyNode((xmlNode *)node, 1);
    ConfDomainDef *dom = NULL;

    if (!buf || !copy) {
        xmlFreeNode(copy);
        util_error_set(error, SNAP_ERR, VIR_ERR_INTERNAL_ERROR, "out of memory copying <%s>",
                       snap_name(node));
        return NULL;
    }
    xmlNodeSetName(copy, BAD_CAST "domain");
    xmlNodeDump(buf, node->doc, copy, 0, 0);
    xmlFreeNode(copy);
    dom = conf_domain_parse((const char *)xmlBufferContent(buf), 0, error);
    if (!dom)
        g_prefix_error(error, "in <%s> of the snapshot: ", snap_name(node));
    return dom;
}

static bool
snap_parse_int64(const xmlNode *node, gint64 *ret, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    gint64 v = 0;

    if (!snap_text(node, &text, error))
        return false;
    g_strstrip(text);
    if (!g_ascii_string_to_signed(text, 10, 0, G_MAXINT64, &v, &local)) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "invalid value '%s' in element <%s>", text, snap_name(node));
        return false;
    }
    *ret = v;
    return true;
}

typedef struct {
    const xmlNode *name, *description, *state, *parent, *creation, *memory, *disks;
    const xmlNode *domain, *inactive, *active;
} SnapNodes;

static bool
snap_collect(const xmlNode *root, SnapNodes *n, GError **error)
{
    static const struct {
        const char *name;
        size_t offset;
    } known[] = {
        { "name", G_STRUCT_OFFSET(SnapNodes, name) },
        { "description", G_STRUCT_OFFSET(SnapNodes, description) },
        { "state", G_STRUCT_OFFSET(SnapNodes, state) },
        { "parent", G_STRUCT_OFFSET(SnapNodes, parent) },
        { "creationTime", G_STRUCT_OFFSET(SnapNodes, creation) },
        { "memory", G_STRUCT_OFFSET(SnapNodes, memory) },
        { "disks", G_STRUCT_OFFSET(SnapNodes, disks) },
        { "domain", G_STRUCT_OFFSET(SnapNodes, domain) },
        { "inactiveDomain", G_STRUCT_OFFSET(SnapNodes, inactive) },
        { "active", G_STRUCT_OFFSET(SnapNodes, active) },
    };

    if (!snap_attrs_ok(root, (const char *const[]){ NULL }, error) ||
        !snap_container_ok(root, error))
        return false;
    for (const xmlNode *c = root->children; c; c = c->next) {
        size_t i = 0;

        if (c->type != XML_ELEMENT_NODE)
            continue;
        for (i = 0; i < G_N_ELEMENTS(known); i++) {
            if (snap_is(c, known[i].name))
                break;
        }
        if (i == G_N_ELEMENTS(known))
            return snap_bad_child(root, c, error);
        if (!snap_once((const xmlNode **)G_STRUCT_MEMBER_P(n, known[i].offset), c, error))
            return false;
    }
    return true;
}

static bool
snap_parse_memory(const xmlNode *node, ConfSnapshotDef *def, GError **error)
{
    if (!snap_attrs_ok(node, (const char *const[]){ "snapshot", "file", NULL }, error) ||
        !snap_container_ok(node, error) ||
        !snap_location_attr(node, &def->memory, error))
        return false;
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE)
            return snap_bad_child(node, c, error);
    }
    def->memory_file = snap_prop(node, "file");
    if (def->memory == CONF_SNAPSHOT_LOCATION_MANUAL) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "'manual' memory snapshot mode not supported");
        return false;
    }
    return true;
}

/* libvirt's checks of <memory> against the kind of snapshot */
static bool
snap_check_memory(ConfSnapshotDef *def, bool redefine, bool offline, GError **error)
{
    if (def->memory == CONF_SNAPSHOT_LOCATION_DEFAULT) {
        if (def->memory_file)
            def->memory = CONF_SNAPSHOT_LOCATION_EXTERNAL;
        else if (redefine)
            def->memory = offline ? CONF_SNAPSHOT_LOCATION_NO : CONF_SNAPSHOT_LOCATION_INTERNAL;
    }
    if (def->memory_file && def->memory != CONF_SNAPSHOT_LOCATION_EXTERNAL) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "memory filename '%s' requires external snapshot", def->memory_file);
        return false;
    }
    if (!def->memory_file && def->memory == CONF_SNAPSHOT_LOCATION_EXTERNAL) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "external memory snapshots require a filename");
        return false;
    }
    if (offline && def->memory != CONF_SNAPSHOT_LOCATION_DEFAULT &&
        def->memory != CONF_SNAPSHOT_LOCATION_NO) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "memory state cannot be saved with offline or disk-only snapshot");
        return false;
    }
    if (def->memory_file && !g_path_is_absolute(def->memory_file)) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "memory snapshot file path (%s) must be absolute", def->memory_file);
        return false;
    }
    return true;
}

static bool
snap_parse_redefined(const SnapNodes *n, ConfSnapshotDef *def, bool *offline, GError **error)
{
    g_autofree char *state = NULL;
    int v = 0;

    if (!def->name) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR, "a redefined snapshot must have a name");
        return false;
    }
    if (!n->creation) {
        util_error_set(error, SNAP_ERR, VIR_ERR_INTERNAL_ERROR,
                       "missing creationTime from existing snapshot");
        return false;
    }
    if (!snap_parse_int64(n->creation, &def->creation_time, error))
        return false;
    if (def->creation_time <= 0) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "invalid value '%" G_GINT64_FORMAT "' in element <creationTime>",
                       def->creation_time);
        return false;
    }
    if (n->parent) {
        const xmlNode *pname = NULL;

        if (!snap_attrs_ok(n->parent, (const char *const[]){ NULL }, error) ||
            !snap_container_ok(n->parent, error))
            return false;
        for (const xmlNode *c = n->parent->children; c; c = c->next) {
            if (c->type != XML_ELEMENT_NODE)
                continue;
            if (!snap_is(c, "name"))
                return snap_bad_child(n->parent, c, error);
            if (!snap_once(&pname, c, error) || !snap_text(c, &def->parent_name, error))
                return false;
        }
    }
    if (!n->state) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR, "missing state from existing snapshot");
        return false;
    }
    if (!snap_text(n->state, &state, error))
        return false;
    v = snap_lookup(snap_state_names, CONF_SNAPSHOT_STATE_LAST, g_strstrip(state));
    if (v <= 0) {
        util_error_set(error, SNAP_ERR, VIR_ERR_CONFIG_UNSUPPORTED,
                       "Invalid state '%s' in domain snapshot XML", state);
        return false;
    }
    def->state = (ConfSnapshotState)v;
    *offline = def->state == CONF_SNAPSHOT_STATE_SHUTOFF ||
               def->state == CONF_SNAPSHOT_STATE_DISK_SNAPSHOT;
    /* a <domain> without a type is the <uuid>-only stand-in of snapshots
     * kept without their domain: nothing to read (libvirt does the same) */
    if (n->domain && xmlHasProp(n->domain, BAD_CAST "type") &&
        !(def->dom = snap_parse_domain(n->domain, error)))
        return false;
    if (n->inactive && !(def->inactive_dom = snap_parse_domain(n->inactive, error)))
        return false;
    return true;
}

static ConfSnapshotDef *
snap_parse_root(const xmlNode *root, unsigned int flags, bool *ret_current, GError **error)
{
    g_autoptr(ConfSnapshotDef) def = conf_snapshot_def_new();
    SnapNodes n = { 0 };
    bool redefine = flags & (CONF_SNAPSHOT_PARSE_REDEFINE | CONF_SNAPSHOT_PARSE_INTERNAL);
    bool offline = flags & CONF_SNAPSHOT_PARSE_OFFLINE;

    if (!snap_collect(root, &n, error))
        return NULL;
    if (n.name && !snap_text(n.name, &def->name, error))
        return NULL;
    if (def->name && !*def->name) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR, "snapshot name must not be empty");
        return NULL;
    }
    if (n.description && !snap_text(n.description, &def->description, error))
        return NULL;
    if (redefine) {
        if (!snap_parse_redefined(&n, def, &offline, error))
            return NULL;
    } else {
        def->creation_time = g_get_real_time() / G_USEC_PER_SEC;
        if (!def->name)
            def->name = g_strdup_printf("%" G_GINT64_FORMAT, def->creation_time);
    }
    if (n.memory && !snap_parse_memory(n.memory, def, error))
        return NULL;
    if (!snap_check_memory(def, redefine, offline, error))
        return NULL;
    if (n.disks) {
        if (!snap_attrs_ok(n.disks, (const char *const[]){ NULL }, error) ||
            !snap_container_ok(n.disks, error))
            return NULL;
        for (const xmlNode *c = n.disks->children; c; c = c->next) {
            ConfSnapshotDiskDef *disk = NULL;

            if (c->type != XML_ELEMENT_NODE)
                continue;
            if (!snap_is(c, "disk"))
                return snap_bad_child(n.disks, c, error), NULL;
            disk = g_new0(ConfSnapshotDiskDef, 1);
            g_ptr_array_add(def->disks, disk);
            if (!snap_parse_disk(c, disk, error))
                return NULL;
        }
    }
    if (flags & CONF_SNAPSHOT_PARSE_INTERNAL) {
        gint64 active = 0;

        if (!n.active) {
            util_error_set(error, SNAP_ERR, VIR_ERR_INTERNAL_ERROR,
                           "Could not find 'active' element");
            return NULL;
        }
        if (!snap_parse_int64(n.active, &active, error))
            return NULL;
        if (ret_current)
            *ret_current = active != 0;
    } else if (n.active) {
        return snap_bad_child(root, n.active, error), NULL;
    }
    return g_steal_pointer(&def);
}

/* ------------------------------------------------------------------ */
/* the document                                                        */
/* ------------------------------------------------------------------ */

char *
conf_snapshot_schema_path(void)
{
    g_autofree char *domain = conf_domain_schema_path();
    g_autofree char *dir = g_path_get_dirname(domain);

    return g_build_filename(dir, SNAP_SCHEMA_FILE, NULL);
}

static void
snap_collect_message(void *data, xmlErrorPtr err)
{
    GString *msgs = data;
    g_autofree char *msg = NULL;

    if (!err || !err->message || msgs->len > 1024)
        return;
    msg = g_strstrip(g_strdup(err->message));
    g_string_append_printf(msgs, "%sline %d: %s", msgs->len ? "; " : "", err->line, msg);
}

static bool
snap_validate(xmlDoc *doc, GError **error)
{
    g_autofree char *path = conf_snapshot_schema_path();
    g_autoptr(GString) msgs = g_string_new(NULL);
    g_autoptr(xmlRelaxNGParserCtxt) pctxt = NULL;
    g_autoptr(xmlRelaxNGValidCtxt) vctxt = NULL;
    xmlRelaxNGPtr schema = NULL;
    bool ok = false;

    if (access(path, R_OK) < 0) {
        util_error_set_errno(error, SNAP_ERR, errno, "unable to load the schema '%s'", path);
        return false;
    }
    if ((pctxt = xmlRelaxNGNewParserCtxt(path))) {
        xmlRelaxNGSetParserStructuredErrors(pctxt, snap_collect_message, msgs);
        schema = xmlRelaxNGParse(pctxt);
    }
    if (!schema) {
        util_error_set(error, SNAP_ERR, VIR_ERR_INTERNAL_ERROR, "unable to load the schema '%s': %s",
                       path, msgs->len ? msgs->str : "unknown error");
        return false;
    }
    vctxt = xmlRelaxNGNewValidCtxt(schema);
    if (vctxt) {
        xmlRelaxNGSetValidStructuredErrors(vctxt, snap_collect_message, msgs);
        ok = xmlRelaxNGValidateDoc(vctxt, doc) == 0;
    }
    xmlRelaxNGFree(schema);
    if (!ok)
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_INVALID_SCHEMA,
                       "XML document failed to validate against schema: %s",
                       msgs->len ? msgs->str : "unknown error");
    return ok;
}

/* The deepest element nesting below @node, stopping past @limit. */
static int
snap_depth(const xmlNode *node, int limit)
{
    int deepest = 0;

    if (limit <= 0)
        return 1;
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            int d = snap_depth(c, limit - 1);   /* once: MAX would evaluate it twice */

            deepest = MAX(deepest, d);
        }
        if (deepest > limit)
            break;
    }
    return deepest + 1;
}

ConfSnapshotDef *
conf_snapshot_parse(const char *xml, unsigned int flags, bool *ret_current, GError **error)
{
    g_autoptr(xmlParserCtxt) ctxt = NULL;
    g_autoptr(xmlDoc) doc = NULL;
    const xmlNode *root = NULL;
    size_t len = 0;

    g_return_val_if_fail(xml != NULL, NULL);
    len = strnlen(xml, CONF_DOMAIN_XML_MAX_SIZE + 1);
    if (len > CONF_DOMAIN_XML_MAX_SIZE) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "XML document is too large (more than %d bytes)", CONF_DOMAIN_XML_MAX_SIZE);
        return NULL;
    }
    if (!g_utf8_validate(xml, len, NULL)) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR, "XML document is not valid UTF-8");
        return NULL;
    }
    xmlInitParser();
    if (!(ctxt = xmlNewParserCtxt())) {
        util_error_set(error, SNAP_ERR, VIR_ERR_INTERNAL_ERROR, "unable to create an XML parser");
        return NULL;
    }
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, "UTF-8",
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc || !ctxt->wellFormed) {
        const xmlError *err = xmlCtxtGetLastError(ctxt);

        if (err && err->message) {
            g_autofree char *msg = g_strstrip(g_strdup(err->message));

            util_error_set(error, SNAP_ERR, VIR_ERR_XML_DETAIL, "(domain_snapshot):%d: %s",
                           err->line, msg);
        }
        else
            util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                           "failed to parse xml document '(domain_snapshot)'");
        return NULL;
    }
    if (doc->intSubset || doc->extSubset) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "XML document must not contain a document type declaration");
        return NULL;
    }
    root = xmlDocGetRootElement(doc);
    if (!root || !snap_is(root, "domainsnapshot")) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "expecting root element of 'domainsnapshot', not '%s'",
                       root ? snap_name(root) : "");
        return NULL;
    }
    if (snap_depth(root, CONF_DOMAIN_XML_MAX_DEPTH) > CONF_DOMAIN_XML_MAX_DEPTH) {
        util_error_set(error, SNAP_ERR, VIR_ERR_XML_ERROR,
                       "XML document is nested too deeply (more than %d levels)",
                       CONF_DOMAIN_XML_MAX_DEPTH);
        return NULL;
    }
    if ((flags & CONF_SNAPSHOT_PARSE_VALIDATE) && !snap_validate(doc, error))
        return NULL;
    return snap_parse_root(root, flags, ret_current, error);
}

/* ------------------------------------------------------------------ */
/* format                                                              */
/* ------------------------------------------------------------------ */

/* libvirt's virBufferEscapeString */
static void
snap_escape(GString *out, const char *text)
{
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '&': g_string_append(out, "&amp;"); break;
        case '<': g_string_append(out, "&lt;"); break;
        case '>': g_string_append(out, "&gt;"); break;
        case '\'': g_string_append(out, "&apos;"); break;
        case '"': g_string_append(out, "&quot;"); break;
        default: g_string_append_c(out, *p); break;
        }
    }
}

static void
snap_text_elem(GString *out, int indent, const char *name, const char *text)
{
    g_string_append_printf(out, "%*s<%s>", indent, "", name);
    snap_escape(out, text);
    g_string_append_printf(out, "</%s>\n", name);
}

/* @dom's document under the root name @root, indented by @indent. */
static void
snap_format_domain(GString *out, int indent, const ConfDomainDef *dom, const char *root,
                   unsigned int flags)
{
    unsigned int dflags = CONF_DOMAIN_FORMAT_INACTIVE;
    g_autofree char *text = NULL;
    g_auto(GStrv) lines = NULL;
    guint n = 0;

    if (flags & CONF_SNAPSHOT_FORMAT_SECURE)
        dflags |= CONF_DOMAIN_FORMAT_SECURE;
    text = conf_domain_format(dom, dflags);
    lines = g_strsplit(text, "\n", -1);
    n = g_strv_length(lines);
    if (n && !*lines[n - 1])
        n--;
    for (guint i = 0; i < n; i++) {
        const char *line = lines[i];

        g_string_append_printf(out, "%*s", indent, "");
        if (i == 0 && g_str_has_prefix(line, "<domain"))
            g_string_append_printf(out, "<%s%s\n", root, line + strlen("<domain"));
        else if (i == n - 1 && g_str_equal(line, "</domain>"))
            g_string_append_printf(out, "</%s>\n", root);
        else
            g_string_append_printf(out, "%s\n", line);
    }
}

static void
snap_format_disk(GString *out, const ConfSnapshotDiskDef *disk)
{
    g_string_append(out, "    <disk name='");
    snap_escape(out, disk->name);
    g_string_append_c(out, '\'');
    if (disk->snapshot != CONF_SNAPSHOT_LOCATION_DEFAULT)
        g_string_append_printf(out, " snapshot='%s'", snap_location_names[disk->snapshot]);
    if (!disk->path && !disk->driver_type) {
        g_string_append(out, "/>\n");
        return;
    }
    g_string_append_printf(out, " type='%s'>\n", conf_storage_type_to_string(disk->type));
    if (disk->driver_type)
        g_string_append_printf(out, "      <driver type='%s'/>\n", disk->driver_type);
    if (disk->path) {
        g_string_append_printf(out, "      <source %s='",
                               disk->type == CONF_STORAGE_TYPE_BLOCK ? "dev" : "file");
        snap_escape(out, disk->path);
        g_string_append(out, "'/>\n");
    }
    g_string_append(out, "    </disk>\n");
}

char *
conf_snapshot_format(const ConfSnapshotDef *def, const unsigned char *domain_uuid,
                     unsigned int flags)
{
    GString *out = g_string_new("<domainsnapshot>\n");

    snap_text_elem(out, 2, "name", def->name);
    if (def->description)
        snap_text_elem(out, 2, "description", def->description);
    if (def->state != CONF_SNAPSHOT_STATE_NOSTATE)
        g_string_append_printf(out, "  <state>%s</state>\n", snap_state_names[def->state]);
    if (def->parent_name) {
        g_string_append(out, "  <parent>\n");
        snap_text_elem(out, 4, "name", def->parent_name);
        g_string_append(out, "  </parent>\n");
    }
    if (def->creation_time)
        g_string_append_printf(out, "  <creationTime>%" G_GINT64_FORMAT "</creationTime>\n",
                               def->creation_time);
    if (def->memory != CONF_SNAPSHOT_LOCATION_DEFAULT) {
        g_string_append_printf(out, "  <memory snapshot='%s'", snap_location_names[def->memory]);
        if (def->memory_file) {
            g_string_append(out, " file='");
            snap_escape(out, def->memory_file);
            g_string_append_c(out, '\'');
        }
        g_string_append(out, "/>\n");
    }
    if (def->disks->len) {
        g_string_append(out, "  <disks>\n");
        for (guint i = 0; i < def->disks->len; i++)
            snap_format_disk(out, g_ptr_array_index(def->disks, i));
        g_string_append(out, "  </disks>\n");
    }
    if (def->dom) {
        snap_format_domain(out, 2, def->dom, "domain", flags);
    } else if (domain_uuid) {
        const unsigned char *u = domain_uuid;

        g_string_append_printf(out, "  <domain>\n    <uuid>%02x%02x%02x%02x-%02x%02x-%02x%02x-"
                               "%02x%02x-%02x%02x%02x%02x%02x%02x</uuid>\n  </domain>\n",
                               u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9],
                               u[10], u[11], u[12], u[13], u[14], u[15]);
    }
    if (def->inactive_dom)
        snap_format_domain(out, 2, def->inactive_dom, "inactiveDomain", flags);
    if (flags & CONF_SNAPSHOT_FORMAT_INTERNAL)
        g_string_append_printf(out, "  <active>%d</active>\n",
                               (flags & CONF_SNAPSHOT_FORMAT_CURRENT) ? 1 : 0);
    g_string_append(out, "</domainsnapshot>\n");
    return g_string_free(out, FALSE);
}

/* ------------------------------------------------------------------ */
/* aligning with the domain                                            */
/* ------------------------------------------------------------------ */

static bool
snap_default_names(ConfSnapshotDef *def, const ConfDomainDef *domdef, GError **error)
{
    for (guint i = 0; i < def->disks->len; i++) {
        ConfSnapshotDiskDef *disk = g_ptr_array_index(def->disks, i);
        const ConfDomainDiskDef *domdisk = g_ptr_array_index(domdef->disks, i);
        const char *orig = domdisk->src->path;
        g_autofree char *stem = NULL;
        char *dot = NULL;
        struct stat st;

        if (disk->snapshot != CONF_SNAPSHOT_LOCATION_EXTERNAL || disk->path)
            continue;
        if (disk->type != CONF_STORAGE_TYPE_FILE) {
            util_error_set(error, SNAP_ERR, VIR_ERR_CONFIG_UNSUPPORTED,
                           "cannot generate external snapshot name for disk '%s' on a '%s' device",
                           disk->name, conf_storage_type_to_string(disk->type));
            return false;
        }
        if (!orig) {
            util_error_set(error, SNAP_ERR, VIR_ERR_CONFIG_UNSUPPORTED,
                           "cannot generate external snapshot name for disk '%s' without source",
                           disk->name);
            return false;
        }
        if (stat(orig, &st) < 0 || !S_ISREG(st.st_mode)) {
            util_error_set(error, SNAP_ERR, VIR_ERR_CONFIG_UNSUPPORTED,
                           "source for disk '%s' is not a regular file; refusing to generate "
                           "external snapshot name", disk->name);
            return false;
        }
        stem = g_strdup(orig);
        if ((dot = strrchr(stem, '.')) && !strchr(dot, '/'))
            *dot = '\0';
        disk->path = g_strdup_printf("%s.%s", stem, def->name);
        for (guint j = 0; j < i; j++) {
            const ConfSnapshotDiskDef *other = g_ptr_array_index(def->disks, j);

            if (g_strcmp0(other->path, disk->path) == 0) {
                util_error_set(error, SNAP_ERR, VIR_ERR_CONFIG_UNSUPPORTED,
                               "cannot generate external snapshot name for disk '%s': "
                               "collision with disk '%s'", disk->name, other->name);
                return false;
            }
        }
    }
    return true;
}

bool
conf_snapshot_align_disks(ConfSnapshotDef *def, const ConfDomainDef *domdef,
                          ConfSnapshotLocation default_location, GError **error)
{
    g_autoptr(GPtrArray) given = g_steal_pointer(&def->disks);
    g_autoptr(GPtrArray) aligned = g_ptr_array_new_with_free_func(snap_disk_free);

    def->disks = g_ptr_array_new_with_free_func(snap_disk_free);
    if (given->len > domdef->disks->len) {
        util_error_set(error, SNAP_ERR, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: too many disk snapshot requests for domain");
        return false;
    }
    g_ptr_array_set_size(aligned, (gint)domdef->disks->len);
    for (guint i = 0; i < given->len; i++) {
        ConfSnapshotDiskDef *disk = g_ptr_array_index(given, i);
        const ConfDomainDiskDef *domdisk = conf_domain_find_disk(domdef, disk->name);
        guint idx = 0;

        if (!domdisk) {
            util_error_set(error, SNAP_ERR, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unsupported configuration: no disk named '%s'", disk->name);
            return false;
        }
        g_ptr_array_find(domdef->disks, domdisk, &idx);
        if (g_ptr_array_index(aligned, idx)) {
            util_error_set(error, SNAP_ERR, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unsupported configuration: disk '%s' specified twice", disk->name);
            return false;
        }
        if (disk->snapshot == CONF_SNAPSHOT_LOCATION_DEFAULT)
            disk->snapshot = default_location;
        if (disk->path && disk->snapshot != CONF_SNAPSHOT_LOCATION_EXTERNAL) {
            util_error_set(error, SNAP_ERR, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unsupported configuration: file '%s' for disk '%s' requires use of "
                           "external snapshot mode", disk->path, disk->name);
            return false;
        }
        if (!g_str_equal(disk->name, domdisk->dst)) {
            g_free(disk->name);
            disk->name = g_strdup(domdisk->dst);
        }
        g_ptr_array_index(aligned, idx) = g_ptr_array_steal_index(given, i);
        g_ptr_array_insert(given, (gint)i, NULL);
    }
    for (guint i = 0; i < domdef->disks->len; i++) {
        const ConfDomainDiskDef *domdisk = g_ptr_array_index(domdef->disks, i);
        ConfSnapshotDiskDef *disk = g_ptr_array_index(aligned, i);

        if (!disk) {
            disk = g_new0(ConfSnapshotDiskDef, 1);
            disk->name = g_strdup(domdisk->dst);
            disk->type = CONF_STORAGE_TYPE_FILE;
            /* empty drives, and read-only ones (nothing is written to
             * them, an overlay would only hide the medium) are left alone */
            disk->snapshot = domdisk->src->path && !domdisk->readonly ? default_location
                                                                       : CONF_SNAPSHOT_LOCATION_NO;
            g_ptr_array_index(aligned, i) = disk;
        }
    }
    g_ptr_array_unref(def->disks);
    def->disks = g_steal_pointer(&aligned);
    return snap_default_names(def, domdef, error);
}

/*
 * blockjob-xml.c: a block job's record in the domain status XML.
 *
 *   <blockjob id='commit-vda-libvirt-5-format' type='commit' disk='vda'
 *             state='concluded' outcome='completed' ready='yes'
 *             flags='shallow,delete' bandwidth='1048576'>
 *     <top node='libvirt-5-format'/>
 *     <base node='libvirt-3-format'/>
 *     <topparent node='libvirt-7-format'/>
 *     <backing name='snap1.qcow2'/>
 *     <mirror type='file' format='qcow2' path='/srv/copy.qcow2'
 *             storage-node='libvirt-9-storage' format-node='libvirt-9-format'/>
 *     <delete path='/srv/vm/snap2.qcow2'/>
 *     <error message='Source and target image have different sizes'/>
 *   </blockjob>
 *
 * Only the daemon writes it and only the daemon reads it back, so parsing
 * is strict: an unknown or missing piece, or a combination the state
 * machine never produces, is an error naming it.
 */
#define G_LOG_DOMAIN "modvirt.blockjob"

#include "blockjob.h"

#include <string.h>

#include <libxml/parser.h>

#include "util-error.h"
#include "util-xml.h"


/* ------------------------------------------------------------------ */
/* format                                                              */
/* ------------------------------------------------------------------ */

static void
blockjob_xml_attr(GString *out, const char *name, const char *value)
{
    g_autofree char *escaped = NULL;

    if (!value)
        return;
    escaped = g_markup_escape_text(value, -1);
    g_string_append_printf(out, " %s='%s'", name, escaped);
}

static void
blockjob_xml_empty(GString *out, unsigned int indent, const char *element,
                   const char *attr, const char *value)
{
    if (!value)
        return;
    g_string_append_printf(out, "%*s<%s", (int)indent, "", element);
    blockjob_xml_attr(out, attr, value);
    g_string_append(out, "/>\n");
}

static char *
blockjob_flags_format(unsigned int flags)
{
    g_autoptr(GString) out = g_string_new(NULL);

    for (unsigned int bit = 1; bit < BLOCKJOB_FLAG_LAST; bit <<= 1) {
        if (!(flags & bit))
            continue;
        if (out->len)
            g_string_append_c(out, ',');
        g_string_append(out, blockjob_flag_to_string(bit));
    }
    return out->len ? g_string_free(g_steal_pointer(&out), FALSE) : NULL;
}

static void
blockjob_mirror_format(GString *out, unsigned int indent, const ConfStorageSource *src)
{
    g_string_append_printf(out, "%*s<mirror", (int)indent, "");
    blockjob_xml_attr(out, "type", conf_storage_type_to_string(src->type));
    if (src->format != CONF_STORAGE_FORMAT_NONE)
        blockjob_xml_attr(out, "format", conf_storage_format_to_string(src->format));
    blockjob_xml_attr(out, "path", src->path);
    blockjob_xml_attr(out, "pool", src->pool);
    blockjob_xml_attr(out, "volume", src->volume);
    blockjob_xml_attr(out, "storage-node", src->node_name_storage);
    blockjob_xml_attr(out, "format-node", src->node_name_format);
    g_string_append(out, "/>\n");
}

void
blockjob_format(GString *out, const BlockJob *job, unsigned int indent)
{
    g_autofree char *flags = blockjob_flags_format(job->flags);
    g_autofree char *bandwidth = g_strdup_printf("%llu", job->bandwidth);
    size_t start;
    unsigned int inner = indent + 2;

    g_string_append_printf(out, "%*s<blockjob", (int)indent, "");
    blockjob_xml_attr(out, "id", job->id);
    blockjob_xml_attr(out, "type", blockjob_type_to_string(job->type));
    blockjob_xml_attr(out, "disk", job->disk);
    blockjob_xml_attr(out, "state", blockjob_state_to_string(job->state));
    if (job->state >= BLOCKJOB_STATE_CONCLUDED)
        blockjob_xml_attr(out, "outcome", blockjob_status_to_string(job->outcome));
    if (job->ready)
        blockjob_xml_attr(out, "ready", "yes");
    blockjob_xml_attr(out, "flags", flags);
    if (job->bandwidth)
        blockjob_xml_attr(out, "bandwidth", bandwidth);
    g_string_append(out, ">\n");
    start = out->len;

    blockjob_xml_empty(out, inner, "top", "node", job->top_node);
    blockjob_xml_empty(out, inner, "base", "node", job->base_node);
    blockjob_xml_empty(out, inner, "topparent", "node", job->top_parent_node);
    blockjob_xml_empty(out, inner, "backing", "name", job->backing_name);
    if (job->mirror)
        blockjob_mirror_format(out, inner, job->mirror);
    for (guint i = 0; job->delete_paths && i < job->delete_paths->len; i++)
        blockjob_xml_empty(out, inner, "delete", "path", g_ptr_array_index(job->delete_paths, i));
    for (guint i = 0; job->leftover_nodes && i < job->leftover_nodes->len; i++)
        blockjob_xml_empty(out, inner, "leftover", "node",
                           g_ptr_array_index(job->leftover_nodes, i));
    for (guint i = 0; job->leftover_paths && i < job->leftover_paths->len; i++)
        blockjob_xml_empty(out, inner, "leftover", "path",
                           g_ptr_array_index(job->leftover_paths, i));
    blockjob_xml_empty(out, inner, "error", "message", job->error);

    if (out->len == start) {
        /* no children: <blockjob .../> */
        g_string_truncate(out, start - 2);
        g_string_append(out, "/>\n");
        return;
    }
    g_string_append_printf(out, "%*s</blockjob>\n", (int)indent, "");
}

char *
blockjob_format_string(const BlockJob *job)
{
    g_autoptr(GString) out = g_string_new(NULL);

    blockjob_format(out, job, 0);
    return g_string_free(g_steal_pointer(&out), FALSE);
}

/* ------------------------------------------------------------------ */
/* parse                                                               */
/* ------------------------------------------------------------------ */

#define BLOCKJOB_XML_ERROR(error, ...) \
    util_error_set(error, BLOCKJOB_ERROR_DOMAIN, VIR_ERR_INTERNAL_ERROR, \
                   "block job status XML: " __VA_ARGS__)

static const char *
blockjob_xml_name(const xmlNode *node)
{
    return (const char *)node->name;
}

/* The attribute's value, NULL if absent. */
static char *
blockjob_xml_prop(const xmlNode *node, const char *name)
{
    xmlChar *value = xmlGetNoNsProp(node, (const xmlChar *)name);
    char *ret = value ? g_strdup((const char *)value) : NULL;

    xmlFree(value);
    return ret;
}

static bool
blockjob_xml_check_attrs(const xmlNode *node, const char *const *allowed, GError **error)
{
    for (const xmlAttr *attr = node->properties; attr; attr = attr->next) {
        if (!g_strv_contains(allowed, (const char *)attr->name)) {
            BLOCKJOB_XML_ERROR(error, "unknown attribute '%s' in <%s>",
                               (const char *)attr->name, blockjob_xml_name(node));
            return false;
        }
    }
    return true;
}

static char *
blockjob_xml_required(const xmlNode *node, const char *name, GError **error)
{
    char *value = blockjob_xml_prop(node, name);

    if (!value || !*value) {
        BLOCKJOB_XML_ERROR(error, "missing attribute '%s' in <%s>", name, blockjob_xml_name(node));
        g_free(value);
        return NULL;
    }
    return value;
}

/* Node names and ids: what libvirt and QEMU use ("libvirt-5-format"). */
static bool
blockjob_xml_is_name(const char *str)
{
    if (!*str)
        return false;
    for (const char *p = str; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr("_-.#", *p))
            return false;
    }
    return true;
}

static bool
blockjob_xml_is_text(const char *str)
{
    if (!*str)
        return false;
    for (const char *p = str; *p; p++) {
        if ((unsigned char)*p < 0x20)
            return false;
    }
    return true;
}

static bool
blockjob_xml_check_value(const xmlNode *node, const char *attr, const char *value,
                         bool (*check)(const char *), GError **error)
{
    if (check(value))
        return true;
    BLOCKJOB_XML_ERROR(error, "invalid %s '%s' in <%s>", attr, value, blockjob_xml_name(node));
    return false;
}

/* An element with one required attribute @attr and nothing else; its
 * value, checked with @check, goes to *@slot (set at most once). */
static bool
blockjob_xml_single(const xmlNode *node, const char *attr, bool (*check)(const char *),
                    char **slot, GError **error)
{
    const char *allowed[] = { attr, NULL };
    g_autofree char *value = NULL;

    if (*slot) {
        BLOCKJOB_XML_ERROR(error, "more than one <%s> in <blockjob>", blockjob_xml_name(node));
        return false;
    }
    if (!blockjob_xml_check_attrs(node, allowed, error) ||
        !(value = blockjob_xml_required(node, attr, error)) ||
        !blockjob_xml_check_value(node, attr, value, check, error))
        return false;
    *slot = g_steal_pointer(&value);
    return true;
}

static int
blockjob_xml_enum(const char *value, const char *(*to_string)(int), int first, int last)
{
    for (int i = first; i < last; i++) {
        if (g_strcmp0(to_string(i), value) == 0)
            return i;
    }
    return -1;
}

static const char *
blockjob_storage_type_name(int value)
{
    return conf_storage_type_to_string((ConfStorageType)value);
}

static const char *
blockjob_storage_format_name(int value)
{
    return conf_storage_format_to_string((ConfStorageFormat)value);
}

static ConfStorageSource *
blockjob_mirror_parse(const xmlNode *node, GError **error)
{
    static const char *const allowed[] = {
        "type", "format", "path", "pool", "volume", "storage-node", "format-node", NULL
    };
    static const struct {
        const char *attr;
        bool (*check)(const char *);
        size_t offset;
    } strings[] = {
        { "path", blockjob_xml_is_text, G_STRUCT_OFFSET(ConfStorageSource, path) },
        { "pool", blockjob_xml_is_text, G_STRUCT_OFFSET(ConfStorageSource, pool) },
        { "volume", blockjob_xml_is_text, G_STRUCT_OFFSET(ConfStorageSource, volume) },
        { "storage-node", blockjob_xml_is_name, G_STRUCT_OFFSET(ConfStorageSource, node_name_storage) },
        { "format-node", blockjob_xml_is_name, G_STRUCT_OFFSET(ConfStorageSource, node_name_format) },
    };
    g_autoptr(ConfStorageSource) src = NULL;
    g_autofree char *type = NULL;
    g_autofree char *format = NULL;
    int value;

    if (!blockjob_xml_check_attrs(node, (const char *const *)allowed, error) ||
        !(type = blockjob_xml_required(node, "type", error)))
        return NULL;
    if ((value = blockjob_xml_enum(type, blockjob_storage_type_name, 0, CONF_STORAGE_TYPE_LAST)) < 0) {
        BLOCKJOB_XML_ERROR(error, "unknown mirror type '%s'", type);
        return NULL;
    }
    src = conf_storage_source_new((ConfStorageType)value);
    if ((format = blockjob_xml_prop(node, "format"))) {
        value = blockjob_xml_enum(format, blockjob_storage_format_name,
                                  CONF_STORAGE_FORMAT_NONE + 1, CONF_STORAGE_FORMAT_LAST);
        if (value < 0) {
            BLOCKJOB_XML_ERROR(error, "unknown mirror format '%s'", format);
            return NULL;
        }
        src->format = (ConfStorageFormat)value;
    }
    for (size_t i = 0; i < G_N_ELEMENTS(strings); i++) {
        char **slot = G_STRUCT_MEMBER_P(src, strings[i].offset);

        *slot = blockjob_xml_prop(node, strings[i].attr);
        if (*slot && !blockjob_xml_check_value(node, strings[i].attr, *slot, strings[i].check, error))
            return NULL;
    }
    if (src->type == CONF_STORAGE_TYPE_VOLUME ? !src->pool || !src->volume || src->path
                                              : !src->path || src->pool || src->volume) {
        BLOCKJOB_XML_ERROR(error, "<mirror type='%s'> needs %s", type,
                           src->type == CONF_STORAGE_TYPE_VOLUME ? "'pool' and 'volume' only"
                                                                 : "'path' only");
        return NULL;
    }
    return g_steal_pointer(&src);
}

static bool
blockjob_child_parse(BlockJob *job, const xmlNode *child, GError **error)
{
    const char *name = blockjob_xml_name(child);
    g_autofree char *path = NULL;

    if (strcmp(name, "top") == 0)
        return blockjob_xml_single(child, "node", blockjob_xml_is_name, &job->top_node, error);
    if (strcmp(name, "base") == 0)
        return blockjob_xml_single(child, "node", blockjob_xml_is_name, &job->base_node, error);
    if (strcmp(name, "topparent") == 0)
        return blockjob_xml_single(child, "node", blockjob_xml_is_name,
                                   &job->top_parent_node, error);
    if (strcmp(name, "backing") == 0)
        return blockjob_xml_single(child, "name", blockjob_xml_is_text, &job->backing_name, error);
    if (strcmp(name, "error") == 0)
        return blockjob_xml_single(child, "message", blockjob_xml_is_text, &job->error, error);
    if (strcmp(name, "delete") == 0) {
        if (!blockjob_xml_single(child, "path", blockjob_xml_is_text, &path, error))
            return false;
        g_ptr_array_add(job->delete_paths, g_steal_pointer(&path));
        return true;
    }
    if (strcmp(name, "leftover") == 0) {
        /* <leftover node='...'/> or <leftover path='...'/> */
        bool is_node = xmlHasProp(child, (const xmlChar *)"node") != NULL;

        if (!blockjob_xml_single(child, is_node ? "node" : "path",
                                 is_node ? blockjob_xml_is_name : blockjob_xml_is_text,
                                 &path, error))
            return false;
        g_ptr_array_add(is_node ? job->leftover_nodes : job->leftover_paths,
                        g_steal_pointer(&path));
        return true;
    }
    if (strcmp(name, "mirror") == 0) {
        if (job->mirror) {
            BLOCKJOB_XML_ERROR(error, "more than one <mirror> in <blockjob>");
            return false;
        }
        return (job->mirror = blockjob_mirror_parse(child, error)) != NULL;
    }
    BLOCKJOB_XML_ERROR(error, "unknown element <%s> in <blockjob>", name);
    return false;
}

static bool
blockjob_flags_parse(const char *text, unsigned int *ret_flags, GError **error)
{
    g_auto(GStrv) names = g_strsplit(text, ",", -1);
    unsigned int flags = 0;

    for (size_t i = 0; names[i]; i++) {
        int flag = blockjob_flag_from_string(names[i]);

        if (flag < 0 || (flags & flag)) {
            BLOCKJOB_XML_ERROR(error, "%s flag '%s' in <blockjob>",
                               flag < 0 ? "unknown" : "repeated", names[i]);
            return false;
        }
        flags |= flag;
    }
    *ret_flags = flags;
    return true;
}

/* What the state machine never produces. */
static bool
blockjob_check_consistent(const BlockJob *job, bool has_outcome, GError **error)
{
    const char *state = blockjob_state_to_string(job->state);
    const char *type = blockjob_type_to_string(job->type);
    bool ended = job->state >= BLOCKJOB_STATE_CONCLUDED;

    if (!blockjob_state_possible(job->type, job->state)) {
        BLOCKJOB_XML_ERROR(error, "state '%s' is impossible for a %s job '%s'", state, type, job->id);
        return false;
    }
    if (has_outcome != ended) {
        BLOCKJOB_XML_ERROR(error, "block job '%s' in state '%s' %s an outcome", job->id, state,
                           ended ? "lacks" : "must not have");
        return false;
    }
    if (job->ready && !blockjob_type_is_two_phase(job->type)) {
        BLOCKJOB_XML_ERROR(error, "a %s job '%s' cannot be ready", type, job->id);
        return false;
    }
    if ((job->state == BLOCKJOB_STATE_READY || job->state == BLOCKJOB_STATE_PIVOTING) && !job->ready) {
        BLOCKJOB_XML_ERROR(error, "block job '%s' in state '%s' lacks ready='yes'", job->id, state);
        return false;
    }
    if ((job->state == BLOCKJOB_STATE_NEW || job->state == BLOCKJOB_STATE_RUNNING) && job->ready) {
        BLOCKJOB_XML_ERROR(error, "block job '%s' in state '%s' must not have ready='yes'",
                           job->id, state);
        return false;
    }
    if ((job->type == BLOCKJOB_TYPE_COPY) != (job->mirror != NULL)) {
        BLOCKJOB_XML_ERROR(error, "%s job '%s' %s <mirror>", type, job->id,
                           job->mirror ? "must not have" : "lacks");
        return false;
    }
    return true;
}

BlockJob *
blockjob_parse_node(const xmlNode *node, GError **error)
{
    static const char *const allowed[] = {
        "id", "type", "disk", "state", "outcome", "ready", "flags", "bandwidth", NULL
    };
    g_autoptr(BlockJob) job = g_new0(BlockJob, 1);
    g_autofree char *type = NULL;
    g_autofree char *state = NULL;
    g_autofree char *outcome = NULL;
    g_autofree char *ready = NULL;
    g_autofree char *flags = NULL;
    g_autofree char *bandwidth = NULL;
    g_autoptr(GError) local = NULL;
    guint64 speed = 0;
    int value;

    job->delete_paths = g_ptr_array_new_with_free_func(g_free);
    job->leftover_nodes = g_ptr_array_new_with_free_func(g_free);
    job->leftover_paths = g_ptr_array_new_with_free_func(g_free);
    if (node->type != XML_ELEMENT_NODE || strcmp(blockjob_xml_name(node), "blockjob") != 0) {
        BLOCKJOB_XML_ERROR(error, "expected <blockjob>, got <%s>", blockjob_xml_name(node));
        return NULL;
    }
    if (!blockjob_xml_check_attrs(node, (const char *const *)allowed, error) ||
        !(job->id = blockjob_xml_required(node, "id", error)) ||
        !blockjob_xml_check_value(node, "id", job->id, blockjob_xml_is_name, error) ||
        !(type = blockjob_xml_required(node, "type", error)) ||
        !(job->disk = blockjob_xml_required(node, "disk", error)) ||
        !(state = blockjob_xml_required(node, "state", error)))
        return NULL;

    if ((value = blockjob_type_from_string(type)) < 0) {
        BLOCKJOB_XML_ERROR(error, "unknown type '%s' of block job '%s'", type, job->id);
        return NULL;
    }
    job->type = (BlockJobType)value;
    for (const char *p = job->disk; *p; p++) {
        if (!g_ascii_isalnum(*p)) {
            BLOCKJOB_XML_ERROR(error, "invalid disk '%s' of block job '%s'", job->disk, job->id);
            return NULL;
        }
    }
    if ((value = blockjob_state_from_string(state)) < 0) {
        BLOCKJOB_XML_ERROR(error, "unknown state '%s' of block job '%s'", state, job->id);
        return NULL;
    }
    job->state = (BlockJobState)value;
    if ((outcome = blockjob_xml_prop(node, "outcome"))) {
        value = blockjob_status_from_string(outcome);
        if (value < 0 || value == BLOCKJOB_STATUS_READY) {
            BLOCKJOB_XML_ERROR(error, "unknown outcome '%s' of block job '%s'", outcome, job->id);
            return NULL;
        }
        job->outcome = (BlockJobStatus)value;
    }
    if ((ready = blockjob_xml_prop(node, "ready"))) {
        if (strcmp(ready, "yes") != 0 && strcmp(ready, "no") != 0) {
            BLOCKJOB_XML_ERROR(error, "invalid ready '%s' of block job '%s'", ready, job->id);
            return NULL;
        }
        job->ready = strcmp(ready, "yes") == 0;
    }
    if ((flags = blockjob_xml_prop(node, "flags")) &&
        !blockjob_flags_parse(flags, &job->flags, error))
        return NULL;
    if ((bandwidth = blockjob_xml_prop(node, "bandwidth")) &&
        !g_ascii_string_to_unsigned(bandwidth, 10, 0, G_MAXUINT64, &speed, &local)) {
        BLOCKJOB_XML_ERROR(error, "invalid bandwidth '%s' of block job '%s'", bandwidth, job->id);
        return NULL;
    }
    job->bandwidth = speed;

    for (const xmlNode *child = node->children; child; child = child->next) {
        if (child->type == XML_ELEMENT_NODE) {
            if (!blockjob_child_parse(job, child, error))
                return NULL;
        } else if (child->type == XML_TEXT_NODE) {
            const char *text = (const char *)child->content;

            if (text && text[strspn(text, " \t\r\n")] != '\0') {
                BLOCKJOB_XML_ERROR(error, "unexpected text in <blockjob>");
                return NULL;
            }
        } else if (child->type != XML_COMMENT_NODE) {
            BLOCKJOB_XML_ERROR(error, "unexpected content in <blockjob>");
            return NULL;
        }
    }
    if (!blockjob_check_consistent(job, outcome != NULL, error))
        return NULL;
    return g_steal_pointer(&job);
}

static xmlDoc *
blockjob_xml_read(const char *xml, xmlNode **ret_root, GError **error)
{
    xmlDoc *doc = xmlReadMemory(xml, (int)strlen(xml), "blockjob.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);

    if (!doc || !(*ret_root = xmlDocGetRootElement(doc))) {
        BLOCKJOB_XML_ERROR(error, "not well-formed XML");
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

BlockJob *
blockjob_parse_string(const char *xml, GError **error)
{
    xmlNode *root = NULL;
    g_autoptr(xmlDoc) doc = blockjob_xml_read(xml, &root, error);

    return doc ? blockjob_parse_node(root, error) : NULL;
}

void
blockjob_format_list(GString *out, GPtrArray *jobs, unsigned int indent)
{
    if (!jobs || jobs->len == 0) {
        g_string_append_printf(out, "%*s<blockjobs/>\n", (int)indent, "");
        return;
    }
    g_string_append_printf(out, "%*s<blockjobs>\n", (int)indent, "");
    for (guint i = 0; i < jobs->len; i++)
        blockjob_format(out, g_ptr_array_index(jobs, i), indent + 2);
    g_string_append_printf(out, "%*s</blockjobs>\n", (int)indent, "");
}

GPtrArray *
blockjob_parse_list_node(const xmlNode *node, GError **error)
{
    g_autoptr(GPtrArray) jobs = g_ptr_array_new_with_free_func((GDestroyNotify)blockjob_free);

    if (node->type != XML_ELEMENT_NODE || strcmp(blockjob_xml_name(node), "blockjobs") != 0) {
        BLOCKJOB_XML_ERROR(error, "expected <blockjobs>, got <%s>", blockjob_xml_name(node));
        return NULL;
    }
    if (node->properties) {
        BLOCKJOB_XML_ERROR(error, "unknown attribute '%s' in <blockjobs>",
                           (const char *)node->properties->name);
        return NULL;
    }
    for (const xmlNode *child = node->children; child; child = child->next) {
        BlockJob *job;

        if (child->type == XML_TEXT_NODE || child->type == XML_COMMENT_NODE) {
            const char *text = (const char *)child->content;

            if (child->type == XML_TEXT_NODE && text && text[strspn(text, " \t\r\n")] != '\0') {
                BLOCKJOB_XML_ERROR(error, "unexpected text in <blockjobs>");
                return NULL;
            }
            continue;
        }
        if (!(job = blockjob_parse_node(child, error)))
            return NULL;
        g_ptr_array_add(jobs, job);
        for (guint i = 0; i + 1 < jobs->len; i++) {
            const BlockJob *other = g_ptr_array_index(jobs, i);

            if (strcmp(other->disk, job->disk) == 0) {
                BLOCKJOB_XML_ERROR(error, "two block jobs on disk '%s'", job->disk);
                return NULL;
            }
            if (strcmp(other->id, job->id) == 0) {
                BLOCKJOB_XML_ERROR(error, "two block jobs with id '%s'", job->id);
                return NULL;
            }
        }
    }
    return g_steal_pointer(&jobs);
}

GPtrArray *
blockjob_parse_list_string(const char *xml, GError **error)
{
    xmlNode *root = NULL;
    g_autoptr(xmlDoc) doc = blockjob_xml_read(xml, &root, error);

    return doc ? blockjob_parse_list_node(root, error) : NULL;
}

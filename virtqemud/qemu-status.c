/*
 * qemu-status.c: formatting and parsing of <domstatus> files.
 */
#define G_LOG_DOMAIN "virtqemud.status"

#include "qemu-status.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

#include "util-error.h"
#include "util-xml.h"
#include "util-file.h"


void
qemu_status_clear(QemuStatus *status)
{
    g_clear_pointer(&status->monitor_path, g_free);
    g_clear_pointer(&status->libdir, g_free);
    g_clear_pointer(&status->live, conf_domain_def_free);
    g_clear_pointer(&status->extra_xml, g_free);
}

char *
qemu_status_format(const QemuStatus *st)
{
    GString *out = g_string_new(NULL);
    g_autofree char *domain = conf_domain_format(st->live, CONF_DOMAIN_FORMAT_STATUS);
    g_autofree char *mon = g_markup_escape_text(st->monitor_path ? st->monitor_path : "", -1);
    g_autofree char *lib = g_markup_escape_text(st->libdir ? st->libdir : "", -1);
    g_auto(GStrv) lines = NULL;

    g_string_append_printf(out, "<domstatus state='%d' reason='%d' pid='%d' pidStart='%"
                           G_GUINT64_FORMAT "'>\n", st->state, st->reason, (int)st->pid,
                           st->pid_start);
    g_string_append_printf(out, "  <monitor path='%s'/>\n", mon);
    g_string_append_printf(out, "  <libdir path='%s'/>\n", lib);
    g_string_append_printf(out, "  <flags guestShutdown='%s' fakeReboot='%s' stopReason='%d'/>\n",
                           st->guest_shutdown ? "yes" : "no", st->fake_reboot ? "yes" : "no",
                           st->stop_reason);
    if (st->extra_xml)
        g_string_append(out, st->extra_xml);
    lines = g_strsplit(domain, "\n", -1);
    for (size_t i = 0; lines[i]; i++)
        if (*lines[i])
            g_string_append_printf(out, "  %s\n", lines[i]);
    g_string_append(out, "</domstatus>\n");
    return g_string_free(out, FALSE);
}

static bool
status_int_attr(xmlNodePtr node, const char *name, gint64 min, gint64 max, gint64 *ret,
                GError **error)
{
    xmlChar *val = xmlGetProp(node, (const xmlChar *)name);
    char *end = NULL;
    gint64 v;

    if (!val) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "status XML: <%s> lacks attribute '%s'", (const char *)node->name, name);
        return false;
    }
    v = g_ascii_strtoll((const char *)val, &end, 10);
    if (end == (char *)val || *end || v < min || v > max) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "status XML: bad value '%s' of %s", (const char *)val, name);
        xmlFree(val);
        return false;
    }
    xmlFree(val);
    *ret = v;
    return true;
}

static char *
status_str_attr(xmlNodePtr node, const char *name)
{
    xmlChar *val = xmlGetProp(node, (const xmlChar *)name);
    char *copy = val ? g_strdup((const char *)val) : NULL;

    xmlFree(val);
    return copy;
}

static bool
status_bool_attr(xmlNodePtr node, const char *name)
{
    g_autofree char *v = status_str_attr(node, name);

    return v && g_str_equal(v, "yes");
}

static char *
status_node_text(xmlDocPtr doc, xmlNodePtr node)
{
    g_autoptr(GString) out = g_string_new(NULL);
    xmlBufferPtr buf = xmlBufferCreate();

    xmlNodeDump(buf, doc, node, 0, 0);
    g_string_append_len(out, (const char *)xmlBufferContent(buf), xmlBufferLength(buf));
    xmlBufferFree(buf);
    return g_string_free(g_steal_pointer(&out), FALSE);
}

bool
qemu_status_parse(const char *xml, QemuStatus *ret_status, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    xmlNodePtr root;
    QemuStatus st = { 0 };
    GString *extra = g_string_new(NULL);
    gint64 v = 0;
    bool ok = false;

    st.stop_reason = -1;
    doc = xmlReadMemory(xml, (int)strlen(xml), "domstatus.xml", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc || !(root = xmlDocGetRootElement(doc)) ||
        !xmlStrEqual(root->name, (const xmlChar *)"domstatus")) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "status XML: not a <domstatus> document");
        goto out;
    }
    if (!status_int_attr(root, "state", 0, 7, &v, error))
        goto out;
    st.state = (int)v;
    if (!status_int_attr(root, "reason", 0, 64, &v, error))
        goto out;
    st.reason = (int)v;
    if (!status_int_attr(root, "pid", 1, G_MAXINT32, &v, error))
        goto out;
    st.pid = (pid_t)v;
    if (!status_int_attr(root, "pidStart", 0, G_MAXINT64, &v, error))
        goto out;
    st.pid_start = (guint64)v;
    for (xmlNodePtr n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE)
            continue;
        if (xmlStrEqual(n->name, (const xmlChar *)"monitor")) {
            st.monitor_path = status_str_attr(n, "path");
        } else if (xmlStrEqual(n->name, (const xmlChar *)"libdir")) {
            st.libdir = status_str_attr(n, "path");
        } else if (xmlStrEqual(n->name, (const xmlChar *)"flags")) {
            st.guest_shutdown = status_bool_attr(n, "guestShutdown");
            st.fake_reboot = status_bool_attr(n, "fakeReboot");
            if (!status_int_attr(n, "stopReason", -1, 64, &v, error))
                goto out;
            st.stop_reason = (int)v;
        } else if (xmlStrEqual(n->name, (const xmlChar *)"domain")) {
            g_autofree char *text = status_node_text(doc, n);
            if (!(st.live = conf_domain_parse(text, CONF_DOMAIN_PARSE_STATUS, error)))
                goto out;
        } else {
            g_autofree char *text = status_node_text(doc, n);
            g_string_append_printf(extra, "  %s\n", text);
        }
    }
    if (!st.live || !st.monitor_path || !st.libdir) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "status XML: <domain>, <monitor> or <libdir> is missing");
        goto out;
    }
    if (extra->len)
        st.extra_xml = g_strdup(extra->str);
    *ret_status = st;
    memset(&st, 0, sizeof(st));
    ok = true;
 out:
    g_string_free(extra, TRUE);
    qemu_status_clear(&st);
    return ok;
}

bool
qemu_status_write(const char *path, const QemuStatus *status, GError **error)
{
    g_autofree char *text = qemu_status_format(status);

    return util_file_write_atomic(path, text, strlen(text), 0600, error);
}

bool
qemu_status_read(const char *path, QemuStatus *ret_status, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;

    if (!g_file_get_contents(path, &text, NULL, &local)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_SYSTEM_ERROR, "cannot read '%s': %s",
                       path, local->message);
        return false;
    }
    if (!qemu_status_parse(text, ret_status, error)) {
        g_prefix_error(error, "%s: ", path);
        return false;
    }
    return true;
}

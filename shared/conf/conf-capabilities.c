/*
 * conf-capabilities.c: the capabilities XML document.
 */
#define G_LOG_DOMAIN "modvirt.conf.capabilities"

#include "conf-capabilities.h"

#include <stdarg.h>
#include <string.h>

#include <libxml/xmlwriter.h>

#include "util-error.h"
#include "util-xml.h"
#include "util-host.h"


typedef struct {
    char *name;
    ConfCapsFeatureToggle toggle;
} ConfCapsFeature;

typedef struct {
    char *canonical;
    unsigned int max_cpus;
    bool deprecated;
} ConfCapsMachineAttrs;

static void
conf_caps_machine_attrs_clear(gpointer data)
{
    g_free(((ConfCapsMachineAttrs *)data)->canonical);
}

typedef struct {
    char *os_type;
    char *arch;
    unsigned int wordsize;
    char *emulator;
    GStrv machines;
    GArray *machine_attrs;      /* ConfCapsMachineAttrs, parallel to machines, or NULL */
    GStrv domain_types;
    GArray *features;           /* ConfCapsFeature */
} ConfCapsGuest;

struct _ConfCaps {
    unsigned char uuid[16];

    char *cpu_arch;
    char *cpu_model;
    char *cpu_vendor;
    bool has_signature;
    UtilHostCpuSignature signature;
    unsigned int sockets;
    unsigned int dies;
    unsigned int cores;
    unsigned int threads;
    GArray *page_sizes;         /* guint, KiB */

    bool iommu;
    bool migrate_live;
    GStrv migrate_transports;

    GPtrArray *cells;           /* UtilHostNumaCell * */
    GPtrArray *cache_banks;     /* UtilHostCacheBank * */

    GPtrArray *guests;          /* ConfCapsGuest * */
};

/* default / toggle attribute values per ConfCapsFeatureToggle; PLAIN has none */
static const struct {
    const char *default_state;
    const char *toggle;
} conf_caps_feature_attrs[] = {
    [CONF_CAPS_FEATURE_PLAIN] = { NULL, NULL },
    [CONF_CAPS_FEATURE_ON_TOGGLE] = { "on", "yes" },
    [CONF_CAPS_FEATURE_ON_FIXED] = { "on", "no" },
    [CONF_CAPS_FEATURE_OFF_TOGGLE] = { "off", "yes" },
    [CONF_CAPS_FEATURE_OFF_FIXED] = { "off", "no" },
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_caps_feature_attrs) == CONF_CAPS_FEATURE_LAST);

static void
conf_caps_feature_clear(gpointer data)
{
    ConfCapsFeature *feature = data;

    g_clear_pointer(&feature->name, g_free);
}

static void
conf_caps_guest_free(ConfCapsGuest *guest)
{
    if (!guest)
        return;
    g_free(guest->os_type);
    g_free(guest->arch);
    g_free(guest->emulator);
    g_strfreev(guest->machines);
    if (guest->machine_attrs)
        g_array_free(guest->machine_attrs, TRUE);
    g_strfreev(guest->domain_types);
    g_clear_pointer(&guest->features, g_array_unref);
    g_free(guest);
}

void
conf_caps_free(ConfCaps *caps)
{
    if (!caps)
        return;
    g_free(caps->cpu_arch);
    g_free(caps->cpu_model);
    g_free(caps->cpu_vendor);
    g_clear_pointer(&caps->page_sizes, g_array_unref);
    g_strfreev(caps->migrate_transports);
    g_clear_pointer(&caps->cells, g_ptr_array_unref);
    g_clear_pointer(&caps->cache_banks, g_ptr_array_unref);
    g_clear_pointer(&caps->guests, g_ptr_array_unref);
    g_free(caps);
}

ConfCaps *
conf_caps_new_host(GError **error)
{
    static const char *const default_transports[] = { "tcp", NULL };
    g_autoptr(ConfCaps) caps = g_new0(ConfCaps, 1);
    g_autoptr(GError) uuid_error = NULL;
    UtilNodeInfo info;

    caps->guests = g_ptr_array_new_with_free_func((GDestroyNotify)conf_caps_guest_free);

    if (!util_host_node_info(&info, error))
        return NULL;
    if (!(caps->cells = util_host_numa_cells(error)))
        return NULL;

    /* Like libvirt, which makes up a UUID when SMBIOS has none. */
    if (!util_host_uuid(caps->uuid, &uuid_error)) {
        g_debug("using a random host UUID: %s", uuid_error->message);
        for (guint i = 0; i < 16; i += 4) {
            guint32 r = g_random_int();

            memcpy(caps->uuid + i, &r, 4);
        }
        caps->uuid[6] = (caps->uuid[6] & 0x0f) | 0x40;
        caps->uuid[8] = (caps->uuid[8] & 0x3f) | 0x80;
    }

    caps->cpu_arch = util_host_arch();
    caps->cpu_vendor = util_host_cpu_vendor();
    caps->has_signature = util_host_cpu_signature(&caps->signature);
    caps->sockets = info.sockets;
    caps->dies = 1;
    caps->cores = info.cores;
    caps->threads = info.threads;
    caps->page_sizes = util_host_page_sizes();

    caps->iommu = util_host_iommu_enabled();
    caps->migrate_live = true;
    caps->migrate_transports = g_strdupv((char **)default_transports);

    caps->cache_banks = util_host_cache_banks(3);

    return g_steal_pointer(&caps);
}

void
conf_caps_set_host_cpu_model(ConfCaps *caps, const char *model)
{
    g_return_if_fail(caps != NULL);

    g_free(caps->cpu_model);
    caps->cpu_model = g_strdup(model);
}

void
conf_caps_set_migration(ConfCaps *caps, bool live, const char *const *uri_transports)
{
    g_return_if_fail(caps != NULL);

    caps->migrate_live = live;
    g_strfreev(caps->migrate_transports);
    caps->migrate_transports = uri_transports ? g_strdupv((char **)uri_transports) : NULL;
}

void
conf_caps_set_guest_machines(ConfCaps *caps, const char *os_type, const char *arch,
                             const ConfCapsMachine *machines, size_t n)
{
    for (guint i = 0; i < caps->guests->len; i++) {
        ConfCapsGuest *guest = g_ptr_array_index(caps->guests, i);

        if (!g_str_equal(guest->os_type, os_type) || !g_str_equal(guest->arch, arch))
            continue;
        g_strfreev(guest->machines);
        if (guest->machine_attrs)
            g_array_free(guest->machine_attrs, TRUE);
        guest->machines = g_new0(char *, n + 1);
        guest->machine_attrs = g_array_sized_new(FALSE, TRUE, sizeof(ConfCapsMachineAttrs), n);
        g_array_set_clear_func(guest->machine_attrs, conf_caps_machine_attrs_clear);
        for (size_t j = 0; j < n; j++) {
            ConfCapsMachineAttrs a = { g_strdup(machines[j].canonical), machines[j].max_cpus,
                                       machines[j].deprecated };
            guest->machines[j] = g_strdup(machines[j].name);
            g_array_append_val(guest->machine_attrs, a);
        }
    }
}

void
conf_caps_add_guest(ConfCaps *caps,
                    const char *os_type,
                    const char *arch,
                    unsigned int wordsize,
                    const char *emulator,
                    const char *const *machines,
                    const char *const *domain_types)
{
    ConfCapsGuest *guest = NULL;

    g_return_if_fail(caps != NULL);
    g_return_if_fail(os_type != NULL && arch != NULL);
    g_return_if_fail(domain_types != NULL && domain_types[0] != NULL);

    guest = g_new0(ConfCapsGuest, 1);
    guest->os_type = g_strdup(os_type);
    guest->arch = g_strdup(arch);
    guest->wordsize = wordsize;
    guest->emulator = g_strdup(emulator);
    guest->machines = machines ? g_strdupv((char **)machines) : NULL;
    guest->domain_types = g_strdupv((char **)domain_types);
    guest->features = g_array_new(FALSE, TRUE, sizeof(ConfCapsFeature));
    g_array_set_clear_func(guest->features, conf_caps_feature_clear);
    g_ptr_array_add(caps->guests, guest);
}

void
conf_caps_add_guest_feature(ConfCaps *caps,
                            const char *os_type,
                            const char *arch,
                            const char *name,
                            ConfCapsFeatureToggle toggle)
{
    bool found = false;

    g_return_if_fail(caps != NULL);
    g_return_if_fail(os_type != NULL && arch != NULL && name != NULL);
    g_return_if_fail((int)toggle >= 0 && toggle < CONF_CAPS_FEATURE_LAST);

    for (guint i = 0; i < caps->guests->len; i++) {
        ConfCapsGuest *guest = g_ptr_array_index(caps->guests, i);
        ConfCapsFeature feature = { 0 };

        if (strcmp(guest->os_type, os_type) != 0 || strcmp(guest->arch, arch) != 0)
            continue;
        feature.name = g_strdup(name);
        feature.toggle = toggle;
        g_array_append_val(guest->features, feature);
        found = true;
    }
    if (!found)
        g_warning("no guest '%s' '%s' for feature '%s'", os_type, arch, name);
}

/* Thin wrappers over xmlTextWriter that report success as bool. */

static bool
conf_caps_start(xmlTextWriter *w, const char *name)
{
    return xmlTextWriterStartElement(w, BAD_CAST name) >= 0;
}

static bool
conf_caps_end(xmlTextWriter *w)
{
    return xmlTextWriterEndElement(w) >= 0;
}

static bool
conf_caps_empty(xmlTextWriter *w, const char *name)
{
    return conf_caps_start(w, name) && conf_caps_end(w);
}

static bool conf_caps_attr(xmlTextWriter *w, const char *name, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static bool
conf_caps_attr(xmlTextWriter *w, const char *name, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = xmlTextWriterWriteVFormatAttribute(w, BAD_CAST name, fmt, ap);
    va_end(ap);
    return rc >= 0;
}

static bool conf_caps_text_elem(xmlTextWriter *w, const char *name, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);

static bool
conf_caps_text_elem(xmlTextWriter *w, const char *name, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = xmlTextWriterWriteVFormatElement(w, BAD_CAST name, fmt, ap);
    va_end(ap);
    return rc >= 0;
}

static bool
conf_caps_raw(xmlTextWriter *w, const char *text)
{
    return xmlTextWriterWriteRaw(w, BAD_CAST text) >= 0;
}

/* libvirt's "pretty" size: the largest binary unit that divides exactly. */
static guint64
conf_caps_pretty_size(guint64 bytes, const char **ret_unit)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB" };
    size_t i = 0;

    while (bytes != 0 && bytes % 1024 == 0 && i + 1 < G_N_ELEMENTS(units)) {
        bytes /= 1024;
        i++;
    }
    *ret_unit = units[i];
    return bytes;
}

static bool
conf_caps_format_host_cpu(xmlTextWriter *w, const ConfCaps *caps)
{
    if (!conf_caps_start(w, "cpu") ||
        !conf_caps_text_elem(w, "arch", "%s", caps->cpu_arch))
        return false;
    if (caps->cpu_model && !conf_caps_text_elem(w, "model", "%s", caps->cpu_model))
        return false;
    if (caps->cpu_vendor && !conf_caps_text_elem(w, "vendor", "%s", caps->cpu_vendor))
        return false;

    if (caps->has_signature) {
        const UtilHostCpuSignature *sig = &caps->signature;

        if (sig->has_microcode && sig->microcode > 0 &&
            !(conf_caps_start(w, "microcode") &&
              conf_caps_attr(w, "version", "%u", sig->microcode) &&
              conf_caps_end(w)))
            return false;
        if (!(conf_caps_start(w, "signature") &&
              conf_caps_attr(w, "family", "%u", sig->family) &&
              conf_caps_attr(w, "model", "%u", sig->model) &&
              conf_caps_attr(w, "stepping", "%u", sig->stepping) &&
              conf_caps_end(w)))
            return false;
    }

    if (!(conf_caps_start(w, "topology") &&
          conf_caps_attr(w, "sockets", "%u", caps->sockets) &&
          conf_caps_attr(w, "dies", "%u", caps->dies) &&
          conf_caps_attr(w, "cores", "%u", caps->cores) &&
          conf_caps_attr(w, "threads", "%u", caps->threads) &&
          conf_caps_end(w)))
        return false;

    if (caps->has_signature && caps->signature.phys_addr_bits > 0 &&
        !(conf_caps_start(w, "maxphysaddr") &&
          conf_caps_attr(w, "mode", "%s", "emulate") &&
          conf_caps_attr(w, "bits", "%u", caps->signature.phys_addr_bits) &&
          conf_caps_end(w)))
        return false;

    for (guint i = 0; i < caps->page_sizes->len; i++) {
        if (!(conf_caps_start(w, "pages") &&
              conf_caps_attr(w, "unit", "%s", "KiB") &&
              conf_caps_attr(w, "size", "%u", g_array_index(caps->page_sizes, guint, i)) &&
              conf_caps_end(w)))
            return false;
    }

    return conf_caps_end(w);
}

static bool
conf_caps_format_migration(xmlTextWriter *w, const ConfCaps *caps)
{
    if (!caps->migrate_live && !(caps->migrate_transports && caps->migrate_transports[0]))
        return true;

    if (!conf_caps_start(w, "migration_features"))
        return false;
    if (caps->migrate_live && !conf_caps_empty(w, "live"))
        return false;
    if (caps->migrate_transports && caps->migrate_transports[0]) {
        if (!conf_caps_start(w, "uri_transports"))
            return false;
        for (size_t i = 0; caps->migrate_transports[i]; i++) {
            if (!conf_caps_text_elem(w, "uri_transport", "%s", caps->migrate_transports[i]))
                return false;
        }
        if (!conf_caps_end(w))
            return false;
    }
    return conf_caps_end(w);
}

static bool
conf_caps_format_cell(xmlTextWriter *w, const UtilHostNumaCell *cell)
{
    if (!(conf_caps_start(w, "cell") &&
          conf_caps_attr(w, "id", "%u", cell->id)))
        return false;

    if (!(conf_caps_start(w, "memory") &&
          conf_caps_attr(w, "unit", "%s", "KiB") &&
          xmlTextWriterWriteFormatString(w, "%" G_GUINT64_FORMAT, cell->memory_kib) >= 0 &&
          conf_caps_end(w)))
        return false;

    for (guint i = 0; i < cell->pages->len; i++) {
        const UtilHostPageCount *pages = &g_array_index(cell->pages, UtilHostPageCount, i);

        if (!(conf_caps_start(w, "pages") &&
              conf_caps_attr(w, "unit", "%s", "KiB") &&
              conf_caps_attr(w, "size", "%u", pages->size_kib) &&
              xmlTextWriterWriteFormatString(w, "%" G_GUINT64_FORMAT, pages->count) >= 0 &&
              conf_caps_end(w)))
            return false;
    }

    if (cell->distances->len > 0) {
        if (!conf_caps_start(w, "distances"))
            return false;
        for (guint i = 0; i < cell->distances->len; i++) {
            const UtilHostDistance *d = &g_array_index(cell->distances, UtilHostDistance, i);

            if (!(conf_caps_start(w, "sibling") &&
                  conf_caps_attr(w, "id", "%u", d->node) &&
                  conf_caps_attr(w, "value", "%u", d->value) &&
                  conf_caps_end(w)))
                return false;
        }
        if (!conf_caps_end(w))
            return false;
    }

    if (!(conf_caps_start(w, "cpus") &&
          conf_caps_attr(w, "num", "%u", cell->cpus->len)))
        return false;
    for (guint i = 0; i < cell->cpus->len; i++) {
        const UtilHostCpu *cpu = &g_array_index(cell->cpus, UtilHostCpu, i);

        if (!(conf_caps_start(w, "cpu") &&
              conf_caps_attr(w, "id", "%u", cpu->id)))
            return false;
        if (cpu->online && cpu->siblings &&
            !(conf_caps_attr(w, "socket_id", "%u", cpu->socket_id) &&
              conf_caps_attr(w, "die_id", "%u", cpu->die_id) &&
              conf_caps_attr(w, "core_id", "%u", cpu->core_id) &&
              conf_caps_attr(w, "siblings", "%s", cpu->siblings)))
            return false;
        if (!conf_caps_end(w))
            return false;
    }

    return conf_caps_end(w) && conf_caps_end(w);
}

static bool
conf_caps_format_topology(xmlTextWriter *w, const ConfCaps *caps)
{
    if (!caps->cells || caps->cells->len == 0)
        return true;

    if (!(conf_caps_start(w, "topology") &&
          conf_caps_start(w, "cells") &&
          conf_caps_attr(w, "num", "%u", caps->cells->len)))
        return false;
    for (guint i = 0; i < caps->cells->len; i++) {
        if (!conf_caps_format_cell(w, g_ptr_array_index(caps->cells, i)))
            return false;
    }
    return conf_caps_end(w) && conf_caps_end(w);
}

static bool
conf_caps_format_cache(xmlTextWriter *w, const ConfCaps *caps)
{
    if (!caps->cache_banks || caps->cache_banks->len == 0)
        return true;

    if (!conf_caps_start(w, "cache"))
        return false;
    for (guint i = 0; i < caps->cache_banks->len; i++) {
        const UtilHostCacheBank *bank = g_ptr_array_index(caps->cache_banks, i);
        const char *unit = NULL;
        guint64 size = conf_caps_pretty_size(bank->size_bytes, &unit);

        if (!(conf_caps_start(w, "bank") &&
              conf_caps_attr(w, "id", "%u", bank->id) &&
              conf_caps_attr(w, "level", "%u", bank->level) &&
              conf_caps_attr(w, "type", "%s", util_host_cache_type_to_string(bank->type)) &&
              conf_caps_attr(w, "size", "%" G_GUINT64_FORMAT, size) &&
              conf_caps_attr(w, "unit", "%s", unit) &&
              conf_caps_attr(w, "cpus", "%s", bank->cpus) &&
              conf_caps_end(w)))
            return false;
    }
    return conf_caps_end(w);
}

static bool
conf_caps_format_host(xmlTextWriter *w, const ConfCaps *caps)
{
    const unsigned char *u = caps->uuid;

    if (!(conf_caps_start(w, "host") &&
          conf_caps_text_elem(w, "uuid",
                              "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
                              "%02x%02x%02x%02x%02x%02x",
                              u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7],
                              u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]) &&
          conf_caps_format_host_cpu(w, caps) &&
          conf_caps_empty(w, "power_management") &&
          conf_caps_start(w, "iommu") &&
          conf_caps_attr(w, "support", "%s", caps->iommu ? "yes" : "no") &&
          conf_caps_end(w) &&
          conf_caps_format_migration(w, caps) &&
          conf_caps_format_topology(w, caps) &&
          conf_caps_format_cache(w, caps)))
        return false;

    return conf_caps_start(w, "secmodel") &&
           conf_caps_text_elem(w, "model", "%s", "none") &&
           conf_caps_text_elem(w, "doi", "%s", "0") &&
           conf_caps_end(w) &&
           conf_caps_end(w);
}

static bool
conf_caps_format_guest(xmlTextWriter *w, const ConfCapsGuest *guest)
{
    if (!(conf_caps_start(w, "guest") &&
          conf_caps_text_elem(w, "os_type", "%s", guest->os_type) &&
          conf_caps_start(w, "arch") &&
          conf_caps_attr(w, "name", "%s", guest->arch) &&
          conf_caps_text_elem(w, "wordsize", "%u", guest->wordsize)))
        return false;
    if (guest->emulator && !conf_caps_text_elem(w, "emulator", "%s", guest->emulator))
        return false;
    for (size_t i = 0; guest->machines && guest->machines[i]; i++) {
        const ConfCapsMachineAttrs *a = guest->machine_attrs && i < guest->machine_attrs->len ?
            &g_array_index(guest->machine_attrs, ConfCapsMachineAttrs, i) : NULL;

        if (!conf_caps_start(w, "machine"))
            return false;
        if (a && a->canonical && !conf_caps_attr(w, "canonical", "%s", a->canonical))
            return false;
        if (a && a->max_cpus && !conf_caps_attr(w, "maxCpus", "%u", a->max_cpus))
            return false;
        if (a && a->deprecated && !conf_caps_attr(w, "deprecated", "yes"))
            return false;
        if (xmlTextWriterWriteString(w, (const xmlChar *)guest->machines[i]) < 0 ||
            !conf_caps_end(w))
            return false;
    }
    for (size_t i = 0; guest->domain_types[i]; i++) {
        if (!(conf_caps_start(w, "domain") &&
              conf_caps_attr(w, "type", "%s", guest->domain_types[i]) &&
              conf_caps_end(w)))
            return false;
    }
    if (!conf_caps_end(w))
        return false;

    if (guest->features->len > 0) {
        if (!conf_caps_start(w, "features"))
            return false;
        for (guint i = 0; i < guest->features->len; i++) {
            const ConfCapsFeature *f = &g_array_index(guest->features, ConfCapsFeature, i);
            const char *default_state = conf_caps_feature_attrs[f->toggle].default_state;
            const char *toggle = conf_caps_feature_attrs[f->toggle].toggle;

            if (!conf_caps_start(w, f->name))
                return false;
            if (default_state &&
                !(conf_caps_attr(w, "default", "%s", default_state) &&
                  conf_caps_attr(w, "toggle", "%s", toggle)))
                return false;
            if (!conf_caps_end(w))
                return false;
        }
        if (!conf_caps_end(w))
            return false;
    }

    return conf_caps_end(w);
}

char *
conf_caps_format(const ConfCaps *caps)
{
    g_autoptr(xmlBuffer) buf = NULL;
    g_autoptr(xmlTextWriter) w = NULL;
    bool ok = false;

    g_return_val_if_fail(caps != NULL, NULL);

    if (!(buf = xmlBufferCreate()))
        g_error("out of memory creating an XML buffer");
    if (!(w = xmlNewTextWriterMemory(buf, 0)))
        g_error("out of memory creating an XML writer");

    xmlTextWriterSetIndent(w, 1);
    xmlTextWriterSetIndentString(w, BAD_CAST "  ");
    xmlTextWriterSetQuoteChar(w, '\'');

    /* libvirt leaves a blank line after <capabilities> and after <host>
     * and each <guest>.  The writer ends every element with a newline;
     * the raw newlines add the blank ones. */
    ok = conf_caps_start(w, "capabilities") &&
         conf_caps_raw(w, "\n\n") &&
         conf_caps_format_host(w, caps) &&
         conf_caps_raw(w, "\n");
    for (guint i = 0; ok && i < caps->guests->len; i++) {
        ok = conf_caps_format_guest(w, g_ptr_array_index(caps->guests, i)) &&
             conf_caps_raw(w, "\n");
    }
    ok = ok && conf_caps_end(w) && xmlTextWriterFlush(w) >= 0;

    if (!ok) {
        g_debug("formatting the capabilities XML failed");
        return NULL;
    }
    return g_strdup((const char *)xmlBufferContent(buf));
}

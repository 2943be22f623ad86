/*
 * qemu-caps.c: QEMU binary capabilities: the object and its queries.
 * (Probing, the JSON form and the cache come next.)
 */
#define G_LOG_DOMAIN "virtqemud.caps"

#include "qemu-caps.h"

static void
qemu_caps_machine_free(gpointer data)
{
    QemuCapsMachine *m = data;

    if (!m)
        return;
    g_free(m->name);
    g_free(m->alias);
    g_free(m);
}

QemuCaps *
qemu_caps_ref(QemuCaps *caps)
{
    g_atomic_int_inc(&caps->refs);
    return caps;
}

void
qemu_caps_unref(QemuCaps *caps)
{
    if (!caps || !g_atomic_int_dec_and_test(&caps->refs))
        return;
    g_free(caps->binary);
    g_free(caps->arch);
    g_free(caps->package);
    if (caps->machines)
        g_ptr_array_free(caps->machines, TRUE);
    if (caps->devices)
        g_hash_table_destroy(caps->devices);
    if (caps->commands)
        g_hash_table_destroy(caps->commands);
    if (caps->cpu_models)
        g_ptr_array_free(caps->cpu_models, TRUE);
    g_free(caps);
}

QemuCaps *
qemu_caps_new(void)
{
    QemuCaps *caps = g_new0(QemuCaps, 1);

    caps->refs = 1;
    caps->machines = g_ptr_array_new_with_free_func(qemu_caps_machine_free);
    caps->devices = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    caps->commands = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    caps->cpu_models = g_ptr_array_new_with_free_func(g_free);
    return caps;
}

bool
qemu_caps_has_device(const QemuCaps *caps, const char *type)
{
    return caps->devices && g_hash_table_contains(caps->devices, type);
}

bool
qemu_caps_has_command(const QemuCaps *caps, const char *command)
{
    return caps->commands && g_hash_table_contains(caps->commands, command);
}

const char *
qemu_caps_default_machine(const QemuCaps *caps)
{
    for (guint i = 0; caps->machines && i < caps->machines->len; i++) {
        const QemuCapsMachine *m = g_ptr_array_index(caps->machines, i);
        if (m->is_default)
            return m->name;
    }
    return NULL;
}

const char *
qemu_caps_canonical_machine(const QemuCaps *caps, const char *name)
{
    for (guint i = 0; caps->machines && i < caps->machines->len; i++) {
        const QemuCapsMachine *m = g_ptr_array_index(caps->machines, i);
        if (g_str_equal(m->name, name) || (m->alias && g_str_equal(m->alias, name)))
            return m->name;
    }
    return NULL;
}

/*
 * qemu-offline.c: virDomainBlockCommit on a shut off domain (spec 2.4):
 * qemu-img commit into base, qemu-img rebase -u of the overlay above top,
 * the definition follows, DELETE unlinks what the commit invalidated.
 * Synchronous: no job, no event.  The caller holds the state-change job.
 */
#define G_LOG_DOMAIN "virtqemud.offline"

#include "qemu-blockjob.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "conf-storage-chain.h"
#include "util-error.h"

/* Refuse when a running domain of this daemon would see its images change
 * under it: qemu-img changes the layers of @chain above @read_from, and
 * only reads @read_from and what is below it.  A changed layer must not be
 * in any running chain; a layer only read may back running guests, but
 * must not be one's writable top (qemu-img could not take the lock, and
 * it would not hold still anyway). */
static bool
qemu_offline_check_unused(QemuDomain *self, const ConfStorageSource *chain,
                          const ConfStorageSource *read_from, GError **error)
{
    g_autoptr(GPtrArray) all = qemu_domains_list();

    for (guint i = 0; i < all->len; i++) {
        QemuDomain *dom = g_ptr_array_index(all, i);
        g_autoptr(GMutexLocker) locker = NULL;

        if (dom == self)
            continue;
        locker = g_mutex_locker_new(&dom->lock);
        for (guint d = 0; dom->live && d < dom->live->disks->len; d++) {
            const ConfDomainDiskDef *disk = g_ptr_array_index(dom->live->disks, d);

            for (const ConfStorageSource *s = disk->src; s; s = s->backing) {
                bool read_only = false;

                for (const ConfStorageSource *t = chain; t; t = t->backing) {
                    read_only = read_only || t == read_from;
                    if (!s->path || !t->path || !g_str_equal(s->path, t->path))
                        continue;
                    if (read_only && (s != disk->src || disk->readonly))
                        continue;
                    util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                                   "Requested operation is not valid: image '%s' is in "
                                   "use by running domain '%s'", t->path, dom->def->name);
                    return false;
                }
            }
        }
    }
    return true;
}

static void
qemu_offline_strip(ConfStorageSource *chain)
{
    for (ConfStorageSource *s = chain; s; s = s->backing) {
        g_clear_pointer(&s->node_name_storage, g_free);
        g_clear_pointer(&s->node_name_format, g_free);
        g_clear_pointer(&s->backing_name_raw, g_free);
    }
}

ConfStorageSource *
qemu_offline_chain(QemuDomain *dom, const char *name, char **ret_dst, bool *ret_given,
                   GError **error)
{
    g_autoptr(ConfStorageSource) chain = NULL;

    g_mutex_lock(&dom->lock);
    {
        ConfDomainDiskDef *disk = dom->id < 0 ? conf_domain_find_disk(dom->def, name) : NULL;

        if (dom->id >= 0) {
            g_mutex_unlock(&dom->lock);
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                           "Requested operation is not valid: domain is running");
            return NULL;
        }
        if (!disk || !disk->src->path ||
            (disk->src->type != CONF_STORAGE_TYPE_FILE &&
             disk->src->type != CONF_STORAGE_TYPE_BLOCK)) {
            g_mutex_unlock(&dom->lock);
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                           "invalid argument: disk '%s' not found in domain", name);
            return NULL;
        }
        *ret_dst = g_strdup(disk->dst);
        chain = conf_storage_source_copy(disk->src);
        *ret_given = disk->src->backing || disk->src->backing_terminated;
    }
    g_mutex_unlock(&dom->lock);
    if (!qemu_blockjob_fill_chain(chain, error))
        return NULL;
    return g_steal_pointer(&chain);
}

/* The definition's disk @dst follows @chain (its top; the layers below
 * too when the definition spells them out), and is saved. */
static bool
qemu_offline_apply(QemuDomain *dom, const char *dst, ConfStorageSource *chain, bool given,
                   GError **error)
{
    g_mutex_lock(&dom->lock);
    {
        ConfDomainDiskDef *disk = conf_domain_find_disk(dom->def, dst);

        if (disk && g_str_equal(disk->dst, dst)) {
            g_free(disk->src->path);
            disk->src->path = g_strdup(chain->path);
            disk->src->type = chain->type;
            disk->src->format = chain->format;
            if (given) {
                conf_storage_source_free(disk->src->backing);
                disk->src->backing = g_steal_pointer(&chain->backing);
                disk->src->backing_terminated = chain->backing_terminated;
                qemu_offline_strip(disk->src->backing);
            }
        }
    }
    g_mutex_unlock(&dom->lock);
    return qemu_domain_save_config(dom, error);
}

bool
qemu_offline_commit(QemuDomain *dom, const char *name, const char *base, const char *top,
                    unsigned long long bandwidth, unsigned int flags, GError **error)
{
    g_autoptr(ConfStorageSource) chain = NULL;
    g_autofree char *dst = NULL;
    g_autofree char *backing = NULL;
    g_autofree char *rate = NULL;
    g_autoptr(GPtrArray) invalid = g_ptr_array_new_with_free_func(g_free);
    ConfStorageSource *top_src = NULL;
    ConfStorageSource *base_src = NULL;
    ConfStorageSource *parent = NULL;
    ConfDomainDiskDef view = { 0 };
    bool given_chain = false;
    const char *argv[16];
    int i = 0;

    if (!(chain = qemu_offline_chain(dom, name, &dst, &given_chain, error)))
        return false;
    view.dst = dst;
    view.src = chain;
    if (!qemu_blockjob_resolve_commit(&view, base, top, flags, &top_src, &base_src, &parent,
                                      error))
        return false;
    if (parent && !(backing = qemu_blockjob_backing_name(parent, base_src,
                                                         flags & QEMU_COMMIT_RELATIVE, error)))
        return false;
    if (!qemu_offline_check_unused(dom, chain, base_src->backing, error))
        return false;
    for (ConfStorageSource *s = top_src; s != base_src; s = s->backing)
        g_ptr_array_add(invalid, g_strdup(s->path));

    argv[i++] = "qemu-img";
    argv[i++] = "commit";
    argv[i++] = "-q";
    argv[i++] = "-f";
    argv[i++] = conf_storage_format_to_string(top_src->format);
    argv[i++] = "-b";
    argv[i++] = base_src->path;
    if (bandwidth) {
        rate = g_strdup_printf("%llu", bandwidth);
        argv[i++] = "-r";
        argv[i++] = rate;
    }
    argv[i++] = top_src->path;
    argv[i] = NULL;
    g_info("domain '%s': offline commit of '%s' into '%s'", dom->def->name, top_src->path,
           base_src->path);
    if (!qemu_blockjob_run_tool(argv, error))
        return false;

    if (parent) {
        const char *rebase[] = {
            "qemu-img", "rebase", "-u", "-f", conf_storage_format_to_string(parent->format),
            "-F", conf_storage_format_to_string(base_src->format), "-b", backing,
            parent->path, NULL,
        };
        ConfStorageSource *cut = parent->backing;
        ConfStorageSource *prev = NULL;

        if (!qemu_blockjob_run_tool(rebase, error))
            return false;
        for (ConfStorageSource *s = cut; s != base_src; s = s->backing)
            prev = s;
        prev->backing = NULL;
        parent->backing = base_src;
        g_free(base_src->backing_name_raw);
        base_src->backing_name_raw = g_strdup(backing);
        conf_storage_source_free(cut);
    } else {
        /* the active layer went into base: the disk now is base */
        ConfStorageSource *prev = NULL;

        for (ConfStorageSource *s = chain; s != base_src; s = s->backing)
            prev = s;
        prev->backing = NULL;
        conf_storage_source_free(g_steal_pointer(&chain));
        chain = base_src;
    }

    if (!qemu_offline_apply(dom, dst, chain, given_chain, error))
        return false;

    if (flags & QEMU_COMMIT_DELETE) {
        for (guint k = 0; k < invalid->len; k++) {
            const char *path = g_ptr_array_index(invalid, k);

            if (unlink(path) < 0 && errno != ENOENT)
                g_warning("domain '%s': cannot delete '%s' after the commit: %s",
                          dom->def->name, path, g_strerror(errno));
        }
    }
    return true;
}

bool
qemu_offline_pull(QemuDomain *dom, const char *name, const char *top, bool relative,
                  GError **error)
{
    g_autoptr(ConfStorageSource) chain = NULL;
    g_autofree char *dst = NULL;
    g_autofree char *backing = NULL;
    ConfStorageSource *top_src = NULL;
    ConfStorageSource *gone = NULL;
    bool given_chain = false;

    if (!(chain = qemu_offline_chain(dom, name, &dst, &given_chain, error)))
        return false;
    if (!(top_src = conf_storage_source_find(chain, top, NULL)) || !(gone = top_src->backing)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: '%s' has no backing file in chain for '%s'", top, dst);
        return false;
    }
    if (!qemu_offline_check_unused(dom, chain, gone, error))
        return false;
    if (gone->backing) {
        g_autoptr(GError) local = NULL;

        if (!relative ||
            !(backing = qemu_blockjob_backing_name(top_src, gone->backing, true, &local)))
            backing = g_strdup(gone->backing->path);
    }
    {
        /* safe mode: what @gone holds is copied into @top first */
        const char *argv[12];
        int i = 0;

        argv[i++] = "qemu-img";
        argv[i++] = "rebase";
        argv[i++] = "-q";
        argv[i++] = "-f";
        argv[i++] = conf_storage_format_to_string(top_src->format);
        argv[i++] = "-b";
        argv[i++] = backing ? backing : "";
        if (backing) {
            argv[i++] = "-F";
            argv[i++] = conf_storage_format_to_string(gone->backing->format);
        }
        argv[i++] = top_src->path;
        argv[i] = NULL;
        g_info("domain '%s': offline pull of '%s' into '%s'", dom->def->name, gone->path,
               top_src->path);
        if (!qemu_blockjob_run_tool(argv, error))
            return false;
    }
    top_src->backing = g_steal_pointer(&gone->backing);
    if (top_src->backing) {
        g_free(top_src->backing->backing_name_raw);
        top_src->backing->backing_name_raw = g_strdup(backing);
    } else {
        top_src->backing_terminated = true;
    }
    conf_storage_source_free(gone);
    return qemu_offline_apply(dom, dst, chain, given_chain, error);
}

/*
 * qemu-blockjob.c: block jobs on running domains.  (Hooks only so far.)
 */
#define G_LOG_DOMAIN "virtqemud.blockjob"

#include "qemu-blockjob.h"

void
qemu_blockjob_fill_ops(RemoteServerOps *ops)
{
}

void
qemu_blockjob_handle_event(QemuDomain *dom, const char *name, json_object *data)
{
}

char *
qemu_blockjob_format_status_locked(QemuDomain *dom)
{
    return NULL;
}

bool
qemu_blockjob_load_status_locked(QemuDomain *dom, const char *extra_xml, GError **error)
{
    return true;
}

void
qemu_blockjob_reconnected(QemuDomain *dom, QemuMonitor *mon)
{
}

void
qemu_blockjob_domain_stopped_locked(QemuDomain *dom)
{
}

bool
qemu_blockjob_check_no_mirror(QemuDomain *dom, const char *disk, const char *what,
                              GError **error)
{
    return true;
}

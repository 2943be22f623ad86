/*
 * qemu-status.h: the live status of a running domain, kept in
 * <rundir>/qemu/NAME.xml so a restarted virtqemud finds its guests again.
 *
 *   <domstatus state='running' reason='1' pid='1234' pidStart='98765'>
 *     <monitor path='.../monitor.sock'/>
 *     <libdir path='.../domain-1-NAME'/>
 *     <flags guestShutdown='no' fakeReboot='no' stopReason='-1'/>
 *     <domain ...> the live definition, runtime data included </domain>
 *   </domstatus>
 *
 * Written whole (temporary file, fsync, rename) on every change.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "conf-domain.h"

typedef struct {
    int state;                 /* virDomainState */
    int reason;
    pid_t pid;
    guint64 pid_start;
    char *monitor_path;
    char *libdir;
    bool guest_shutdown;
    bool fake_reboot;
    int stop_reason;           /* -1: none expected */
    ConfDomainDef *live;       /* its id is the domain's id */
    /* Further elements of <domstatus> (block jobs), kept as XML text so
     * other modules parse them; may be NULL. */
    char *extra_xml;
} QemuStatus;

void qemu_status_clear(QemuStatus *status);

char *qemu_status_format(const QemuStatus *status);
bool qemu_status_parse(const char *xml, QemuStatus *ret_status, GError **error);

bool qemu_status_write(const char *path, const QemuStatus *status, GError **error);
bool qemu_status_read(const char *path, QemuStatus *ret_status, GError **error);

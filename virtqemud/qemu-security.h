/*
 * qemu-security.h: the unprivileged user QEMU runs as, and giving it the
 * files it needs (libvirt's DAC labelling).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

#include "conf-domain.h"

typedef struct {
    uid_t uid;                  /* (uid_t)-1: QEMU runs as the daemon's user */
    gid_t gid;
    GArray *groups;             /* gid_t: supplementary groups, or NULL */
    char *name;
} QemuUser;

void qemu_user_clear(QemuUser *user);

/* The user QEMU runs as for @def: "user = NAME" in <configdir>/qemu.conf,
 * else $MODVIRT_QEMU_USER, else in system mode "modvirt-qemu" if that user
 * exists; the daemon's own user when none is set or the daemon is not
 * root.  A KVM domain whose user cannot open /dev/kvm runs as the daemon's
 * user (still without capabilities): the host does not allow more. */
bool qemu_user_for(const ConfDomainDef *def, QemuUser *ret, GError **error);

/* Give every layer of every disk of @def to @user, remembering the
 * previous owner in an extended attribute (trusted.modvirt.dac, with a
 * count for images shared by several running guests).  On failure what
 * was changed is given back. */
bool qemu_security_label(const ConfDomainDef *def, const QemuUser *user, GError **error);
/* Give the files back (QEMU is gone).  Errors are logged. */
void qemu_security_restore(const ConfDomainDef *def);

/* Give @path, an image about to join a chain of running @live (snapshot
 * overlay, copy destination), to the user QEMU runs as: the owner of the
 * images labelled for it.  A no-op when QEMU runs as the daemon's user. */
bool qemu_security_label_new(const ConfDomainDef *live, const char *path, GError **error);
/* The owner @path has when no QEMU uses it: the one remembered while it is
 * labelled, else its current owner.  False if it cannot be read. */
bool qemu_security_owner(const char *path, uid_t *ret_uid, gid_t *ret_gid);
/* Give back one image that left QEMU's chains (or never joined them). */
void qemu_security_restore_path(const char *path);

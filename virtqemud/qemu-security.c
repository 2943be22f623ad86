/*
 * qemu-security.c: QEMU's user and the ownership of its disk images.
 *
 * While a guest runs, its images belong to the QEMU user.  The owner they
 * had before is kept in the image's trusted.modvirt.dac attribute as
 * "UID:GID:COUNT", COUNT being how many running guests hold the image (a
 * backing file is often shared).  The last one to let go restores the
 * owner.  The attribute lives with the file, so a restarted virtqemud
 * restores correctly without any state of its own.
 */
#define G_LOG_DOMAIN "virtqemud.security"

#include "qemu-security.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "daemon.h"
#include "util-config.h"
#include "util-error.h"

#define QEMU_DAC_XATTR "trusted.modvirt.dac"
#define QEMU_DEFAULT_USER "modvirt-qemu"

void
qemu_user_clear(QemuUser *user)
{
    if (user->groups)
        g_array_free(user->groups, TRUE);
    user->groups = NULL;
    g_clear_pointer(&user->name, g_free);
}

static bool
qemu_config_setting(const char *path, int line, const char *key, const char *value,
                    gpointer data, GError **error)
{
    char **user = data;

    if (g_str_equal(key, "user")) {
        g_free(*user);
        *user = g_strdup(value);
    } else {
        g_warning("%s:%d: unknown setting '%s' ignored", path, line, key);
    }
    return true;
}

/* The configured QEMU user's name, NULL for none. */
static bool
qemu_configured_user(char **ret_name, GError **error)
{
    g_autofree char *conf = g_build_filename(daemon_paths()->configdir, "qemu.conf", NULL);
    g_autofree char *name = NULL;

    if (!util_config_read(conf, qemu_config_setting, &name, error))
        return false;
    if (!name && g_getenv("MODVIRT_QEMU_USER"))
        name = g_strdup(g_getenv("MODVIRT_QEMU_USER"));
    if (!name && !daemon_paths()->root && getpwnam(QEMU_DEFAULT_USER))
        name = g_strdup(QEMU_DEFAULT_USER);
    *ret_name = g_steal_pointer(&name);
    return true;
}

/* Whether @user may open /dev/kvm for reading and writing. */
static bool
qemu_user_can_kvm(const QemuUser *user)
{
    struct stat st;

    if (stat("/dev/kvm", &st) < 0)
        return false;
    if (st.st_uid == user->uid)
        return (st.st_mode & 0600) == 0600;
    if (st.st_gid == user->gid)
        return (st.st_mode & 0060) == 0060;
    for (guint i = 0; user->groups && i < user->groups->len; i++)
        if (g_array_index(user->groups, gid_t, i) == st.st_gid)
            return (st.st_mode & 0060) == 0060;
    return (st.st_mode & 0006) == 0006;
}

bool
qemu_user_for(const ConfDomainDef *def, QemuUser *ret, GError **error)
{
    g_autofree char *name = NULL;
    struct passwd *pw;
    int n = 64;
    QemuUser user = { (uid_t)-1, (gid_t)-1, NULL, NULL };

    *ret = user;
    if (!qemu_configured_user(&name, error))
        return false;
    if (!name || !*name || geteuid() != 0)
        return true;
    if (!(pw = getpwnam(name))) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: QEMU user '%s' does not exist", name);
        return false;
    }
    user.uid = pw->pw_uid;
    user.gid = pw->pw_gid;
    user.name = g_strdup(name);
    user.groups = g_array_new(FALSE, FALSE, sizeof(gid_t));
    g_array_set_size(user.groups, n);
    if (getgrouplist(name, pw->pw_gid, (gid_t *)(void *)user.groups->data, &n) < 0) {
        g_array_set_size(user.groups, n);
        getgrouplist(name, pw->pw_gid, (gid_t *)(void *)user.groups->data, &n);
    }
    g_array_set_size(user.groups, n);
    if (def->virt_type == CONF_DOMAIN_VIRT_KVM && !qemu_user_can_kvm(&user)) {
        g_warning("domain '%s': QEMU user '%s' cannot open /dev/kvm; QEMU runs as the "
                  "daemon's user, without capabilities", def->name, name);
        qemu_user_clear(&user);
        return true;
    }
    *ret = user;
    return true;
}

/* The layers QEMU opens: every file or device of every disk chain. */
static GPtrArray *
qemu_security_paths(const ConfDomainDef *def)
{
    GPtrArray *paths = g_ptr_array_new();

    for (guint i = 0; i < def->disks->len; i++) {
        const ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);
        for (const ConfStorageSource *s = disk->src; s; s = s->backing)
            if (s->path && (s->type == CONF_STORAGE_TYPE_FILE || s->type == CONF_STORAGE_TYPE_BLOCK))
                g_ptr_array_add(paths, s->path);
    }
    return paths;
}

static bool
qemu_dac_read(const char *path, uid_t *uid, gid_t *gid, unsigned int *count)
{
    char buf[64];
    ssize_t n = getxattr(path, QEMU_DAC_XATTR, buf, sizeof(buf) - 1);
    unsigned int u, g, c;

    if (n <= 0)
        return false;
    buf[n] = '\0';
    if (sscanf(buf, "%u:%u:%u", &u, &g, &c) != 3)
        return false;
    *uid = u;
    *gid = g;
    *count = c;
    return true;
}

static bool
qemu_dac_write(const char *path, uid_t uid, gid_t gid, unsigned int count)
{
    g_autofree char *v = g_strdup_printf("%u:%u:%u", (unsigned)uid, (unsigned)gid, count);

    return setxattr(path, QEMU_DAC_XATTR, v, strlen(v), 0) == 0;
}

static bool
qemu_label_one(const char *path, const QemuUser *user, GError **error)
{
    struct stat st;
    uid_t ouid;
    gid_t ogid;
    unsigned int count = 0;

    if (stat(path, &st) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "Cannot access storage file '%s'",
                             path);
        return false;
    }
    if (!qemu_dac_read(path, &ouid, &ogid, &count)) {
        ouid = st.st_uid;
        ogid = st.st_gid;
        count = 0;
    }
    if (!qemu_dac_write(path, ouid, ogid, count + 1))
        g_debug("cannot remember the owner of '%s': %s", path, g_strerror(errno));
    if ((st.st_uid != user->uid || st.st_gid != user->gid) &&
        chown(path, user->uid, user->gid) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno,
                             "unable to set user and group to '%u:%u' on '%s'",
                             (unsigned)user->uid, (unsigned)user->gid, path);
        return false;
    }
    return true;
}

static void
qemu_restore_one(const char *path)
{
    uid_t uid;
    gid_t gid;
    unsigned int count;

    if (!qemu_dac_read(path, &uid, &gid, &count))
        return;         /* never labelled, or the attribute could not be kept */
    if (count > 1) {
        qemu_dac_write(path, uid, gid, count - 1);
        return;
    }
    if (chown(path, uid, gid) < 0)
        g_warning("cannot give '%s' back to %u:%u: %s", path, (unsigned)uid, (unsigned)gid,
                  g_strerror(errno));
    removexattr(path, QEMU_DAC_XATTR);
}

bool
qemu_security_label(const ConfDomainDef *def, const QemuUser *user, GError **error)
{
    g_autoptr(GPtrArray) paths = NULL;

    if (user->uid == (uid_t)-1)
        return true;
    paths = qemu_security_paths(def);
    for (guint i = 0; i < paths->len; i++) {
        if (!qemu_label_one(g_ptr_array_index(paths, i), user, error)) {
            for (guint j = 0; j < i; j++)
                qemu_restore_one(g_ptr_array_index(paths, j));
            return false;
        }
    }
    return true;
}

void
qemu_security_restore(const ConfDomainDef *def)
{
    g_autoptr(GPtrArray) paths = qemu_security_paths(def);

    for (guint i = 0; i < paths->len; i++)
        qemu_restore_one(g_ptr_array_index(paths, i));
}

bool
qemu_security_label_new(const ConfDomainDef *live, const char *path, GError **error)
{
    g_autoptr(GPtrArray) paths = qemu_security_paths(live);

    for (guint i = 0; i < paths->len; i++) {
        const char *labelled = g_ptr_array_index(paths, i);
        QemuUser user = { (uid_t)-1, (gid_t)-1, NULL, NULL };
        unsigned int count;
        struct stat st;
        uid_t uid;
        gid_t gid;

        if (g_strcmp0(labelled, path) == 0 || !qemu_dac_read(labelled, &uid, &gid, &count) ||
            stat(labelled, &st) < 0)
            continue;
        user.uid = st.st_uid;
        user.gid = st.st_gid;
        return qemu_label_one(path, &user, error);
    }
    return true;
}

void
qemu_security_restore_path(const char *path)
{
    qemu_restore_one(path);
}

bool
qemu_security_owner(const char *path, uid_t *ret_uid, gid_t *ret_gid)
{
    struct stat st;
    unsigned int count;

    if (qemu_dac_read(path, ret_uid, ret_gid, &count))
        return true;
    if (stat(path, &st) < 0)
        return false;
    *ret_uid = st.st_uid;
    *ret_gid = st.st_gid;
    return true;
}

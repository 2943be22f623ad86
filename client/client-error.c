/*
 * client-error.c: the public error API of libmodvirt (virterror.h).
 *
 * As in libvirt: every thread has its own last error; each public API
 * resets it on entry; a failing public API "dispatches" the error, which
 * copies it into the connection, then calls the connection's handler, else
 * the global handler, else prints it to stderr.
 */
#define G_LOG_DOMAIN "modvirt.client"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client-internal.h"
#include "util-error.h"

static void client_error_free_last(gpointer data);

/* The thread's last error; allocated on first use, freed at thread exit. */
static GPrivate client_last_error = G_PRIVATE_INIT(client_error_free_last);

static GMutex client_handler_lock;
static virErrorFunc client_handler;
static void *client_handler_data;

/* Names of the error domains as the default handler prints them; the
 * strings are libvirt's, programs and people grep for them. */
static const char *const client_error_domain_names[] = {
    [VIR_FROM_NONE] = "",
    [VIR_FROM_XEN] = "Xen Driver",
    [VIR_FROM_XEND] = "Xen Daemon",
    [VIR_FROM_XENSTORE] = "Xen Store",
    [VIR_FROM_SEXPR] = "S-Expression",
    [VIR_FROM_XML] = "XML Util",
    [VIR_FROM_DOM] = "Domain",
    [VIR_FROM_RPC] = "XML-RPC",
    [VIR_FROM_PROXY] = "Proxy Daemon",
    [VIR_FROM_CONF] = "Config File",
    [VIR_FROM_QEMU] = "QEMU Driver",
    [VIR_FROM_NET] = "Network",
    [VIR_FROM_TEST] = "Test Driver",
    [VIR_FROM_REMOTE] = "Remote Driver",
    [VIR_FROM_OPENVZ] = "OpenVZ Driver",
    [VIR_FROM_XENXM] = "Xen XM Driver",
    [VIR_FROM_STATS_LINUX] = "Linux Statistics",
    [VIR_FROM_LXC] = "LXC Driver",
    [VIR_FROM_STORAGE] = "Storage Driver",
    [VIR_FROM_NETWORK] = "Network Driver",
    [VIR_FROM_DOMAIN] = "Domain Config",
    [VIR_FROM_UML] = "User Mode Linux Driver",
    [VIR_FROM_NODEDEV] = "Node Device Driver",
    [VIR_FROM_XEN_INOTIFY] = "Xen Inotify Driver",
    [VIR_FROM_SECURITY] = "Security Driver",
    [VIR_FROM_VBOX] = "VirtualBox Driver",
    [VIR_FROM_INTERFACE] = "Network Interface Driver",
    [VIR_FROM_ONE] = "Open Nebula Driver",
    [VIR_FROM_ESX] = "ESX Driver",
    [VIR_FROM_PHYP] = "Power Hypervisor Driver",
    [VIR_FROM_SECRET] = "Secrets Driver",
    [VIR_FROM_CPU] = "CPU Driver",
    [VIR_FROM_XENAPI] = "XenAPI Driver",
    [VIR_FROM_NWFILTER] = "Network Filter Driver",
    [VIR_FROM_HOOK] = "Lifecycle Hook",
    [VIR_FROM_DOMAIN_SNAPSHOT] = "Domain Snapshot",
    [VIR_FROM_AUDIT] = "Audit Utils",
    [VIR_FROM_SYSINFO] = "Sysinfo Utils",
    [VIR_FROM_STREAMS] = "I/O Stream Utils",
    [VIR_FROM_VMWARE] = "VMware Driver",
    [VIR_FROM_EVENT] = "Event Loop",
    [VIR_FROM_LIBXL] = "Xen Light Driver",
    [VIR_FROM_LOCKING] = "Lock Driver",
    [VIR_FROM_HYPERV] = "Hyper-V Driver",
    [VIR_FROM_CAPABILITIES] = "Capabilities Utils",
    [VIR_FROM_URI] = "URI Utils",
    [VIR_FROM_AUTH] = "Authentication Utils",
    [VIR_FROM_DBUS] = "DBus Utils",
    [VIR_FROM_PARALLELS] = "Parallels Cloud Server",
    [VIR_FROM_DEVICE] = "Device Config",
    [VIR_FROM_SSH] = "SSH transport layer",
    [VIR_FROM_LOCKSPACE] = "Lock Space",
    [VIR_FROM_INITCTL] = "Init control",
    [VIR_FROM_IDENTITY] = "Identity",
    [VIR_FROM_CGROUP] = "Cgroup",
    [VIR_FROM_ACCESS] = "Access Manager",
    [VIR_FROM_SYSTEMD] = "Systemd",
    [VIR_FROM_BHYVE] = "Bhyve",
    [VIR_FROM_CRYPTO] = "Crypto",
    [VIR_FROM_FIREWALL] = "Firewall",
    [VIR_FROM_POLKIT] = "Polkit",
    [VIR_FROM_THREAD] = "Thread jobs",
    [VIR_FROM_ADMIN] = "Admin Interface",
    [VIR_FROM_LOGGING] = "Log Manager",
    [VIR_FROM_XENXL] = "Xen XL Config",
    [VIR_FROM_PERF] = "Perf",
    [VIR_FROM_LIBSSH] = "Libssh transport layer",
    [VIR_FROM_RESCTRL] = "Resource control",
    [VIR_FROM_FIREWALLD] = "FirewallD",
    [VIR_FROM_DOMAIN_CHECKPOINT] = "Domain Checkpoint",
    [VIR_FROM_TPM] = "TPM",
    [VIR_FROM_BPF] = "BPF",
    [VIR_FROM_CH] = "Cloud-Hypervisor Driver",
};
G_STATIC_ASSERT(G_N_ELEMENTS(client_error_domain_names) == VIR_FROM_CH + 1);

static const char *
client_error_domain_name(int domain)
{
    if (domain < 0 || domain >= (int)G_N_ELEMENTS(client_error_domain_names))
        return "Unknown";
    return client_error_domain_names[domain];
}

static void
client_error_free_last(gpointer data)
{
    virFreeError(data);
}

static virErrorPtr
client_error_last_object(void)
{
    virErrorPtr err = g_private_get(&client_last_error);

    if (!err) {
        err = g_new0(virError, 1);
        g_private_set(&client_last_error, err);
    }
    return err;
}

/* Deep copy of the fields libvirt copies (never conn, dom, net). */
static void
client_error_copy(const virError *from, virErrorPtr to)
{
    virResetError(to);
    to->code = from->code;
    to->domain = from->domain;
    to->level = from->level;
    to->message = g_strdup(from->message);
    to->str1 = g_strdup(from->str1);
    to->str2 = g_strdup(from->str2);
    to->str3 = g_strdup(from->str3);
    to->int1 = from->int1;
    to->int2 = from->int2;
}

static void
client_error_raise(int vir_domain, int vir_code, char *message)
{
    int saved_errno = errno;
    virErrorPtr err = client_error_last_object();

    virResetError(err);
    if (vir_code == VIR_ERR_OK) {
        g_free(message);
        errno = saved_errno;
        return;
    }
    err->domain = vir_domain;
    err->code = vir_code;
    err->level = VIR_ERR_ERROR;
    err->message = message;
    err->int1 = -1;
    err->int2 = -1;
    g_debug("error %s (domain %d): %s", util_error_code_name(vir_code), vir_domain, message);
    errno = saved_errno;
}

void
client_error_set(int vir_domain, int vir_code, const char *fmt, ...)
{
    va_list ap;
    char *message = NULL;

    va_start(ap, fmt);
    message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    client_error_raise(vir_domain, vir_code, message);
}

void
client_error_set_gerror(const GError *err)
{
    client_error_raise(util_error_domain(err), util_error_code(err), g_strdup(err->message));
}

void
client_error_dispatch(virConnectPtr conn)
{
    virErrorPtr err = client_error_last_object();
    virErrorFunc handler = NULL;
    void *data = NULL;

    if (err->code == VIR_ERR_OK) {
        err->code = VIR_ERR_INTERNAL_ERROR;
        err->domain = VIR_FROM_NONE;
        err->level = VIR_ERR_ERROR;
        err->message = g_strdup("An error occurred, but the cause is unknown");
    }

    g_mutex_lock(&client_handler_lock);
    handler = client_handler;
    data = client_handler_data;
    g_mutex_unlock(&client_handler_lock);

    if (conn) {
        g_mutex_lock(&conn->lock);
        client_error_copy(err, &conn->err);
        if (conn->handler) {
            handler = conn->handler;
            data = conn->handler_data;
        }
        g_mutex_unlock(&conn->lock);
    }

    if (handler)
        handler(data, err);
    else
        virDefaultErrorFunc(err);
}

void
client_error_invalid_conn(const char *func)
{
    client_error_set(VIR_FROM_NONE, VIR_ERR_INVALID_CONN,
                     "invalid connection pointer in %s", func);
    client_error_dispatch(NULL);
}

void
client_error_invalid_domain(const char *func)
{
    client_error_set(VIR_FROM_DOM, VIR_ERR_INVALID_DOMAIN,
                     "invalid domain pointer in %s", func);
    client_error_dispatch(NULL);
}

void
client_error_invalid_arg(virConnectPtr conn, const char *func, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *what = NULL;

    va_start(ap, fmt);
    what = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_debug("%s: invalid argument", func);
    client_error_set(VIR_FROM_NONE, VIR_ERR_INVALID_ARG, "invalid argument: %s", what);
    client_error_dispatch(conn);
}

void
client_call_failed(virConnectPtr conn, const GError *error)
{
    client_error_set_gerror(error);
    client_error_dispatch(conn);
}

/* ------------------------------------------------------------ public API */

virErrorPtr
virGetLastError(void)
{
    virErrorPtr err = client_error_last_object();

    return err->code == VIR_ERR_OK ? NULL : err;
}

int
virGetLastErrorCode(void)
{
    return client_error_last_object()->code;
}

int
virGetLastErrorDomain(void)
{
    return client_error_last_object()->domain;
}

const char *
virGetLastErrorMessage(void)
{
    virErrorPtr err = client_error_last_object();

    if (err->code == VIR_ERR_OK)
        return "no error";
    return err->message ? err->message : "unknown error";
}

int
virCopyLastError(virErrorPtr to)
{
    if (!to)
        return -1;
    /* @to may hold garbage: do not free what it points to. */
    memset(to, 0, sizeof(*to));
    client_error_copy(client_error_last_object(), to);
    return to->code;
}

virErrorPtr
virSaveLastError(void)
{
    int saved_errno = errno;
    virErrorPtr to = g_new0(virError, 1);

    virCopyLastError(to);
    errno = saved_errno;
    return to;
}

void
virResetError(virErrorPtr err)
{
    if (!err)
        return;
    g_free(err->message);
    g_free(err->str1);
    g_free(err->str2);
    g_free(err->str3);
    memset(err, 0, sizeof(*err));
}

void
virFreeError(virErrorPtr err)
{
    virResetError(err);
    g_free(err);
}

void
virResetLastError(void)
{
    virResetError(client_error_last_object());
}

void
virSetErrorFunc(void *userData, virErrorFunc handler)
{
    g_mutex_lock(&client_handler_lock);
    client_handler = handler;
    client_handler_data = userData;
    g_mutex_unlock(&client_handler_lock);
}

void
virConnSetErrorFunc(virConnectPtr conn, void *userData, virErrorFunc handler)
{
    if (!client_connect_valid(conn))
        return;
    g_mutex_lock(&conn->lock);
    conn->handler = handler;
    conn->handler_data = userData;
    g_mutex_unlock(&conn->lock);
}

virErrorPtr
virConnGetLastError(virConnectPtr conn)
{
    if (!client_connect_valid(conn))
        return NULL;
    return &conn->err;
}

int
virConnCopyLastError(virConnectPtr conn, virErrorPtr to)
{
    if (!to)
        return -1;
    memset(to, 0, sizeof(*to));
    if (!client_connect_valid(conn))
        return -1;
    g_mutex_lock(&conn->lock);
    if (conn->err.code != VIR_ERR_OK)
        client_error_copy(&conn->err, to);
    g_mutex_unlock(&conn->lock);
    return to->code;
}

void
virConnResetLastError(virConnectPtr conn)
{
    if (!client_connect_valid(conn))
        return;
    g_mutex_lock(&conn->lock);
    virResetError(&conn->err);
    g_mutex_unlock(&conn->lock);
}

void
virDefaultErrorFunc(virErrorPtr err)
{
    const char *level = "";
    size_t len = 0;

    if (!err || err->code == VIR_ERR_OK)
        return;
    switch (err->level) {
    case VIR_ERR_NONE:
        level = "";
        break;
    case VIR_ERR_WARNING:
        level = "warning";
        break;
    case VIR_ERR_ERROR:
        level = "error";
        break;
    }
    /* libvirt's layout: "libvirt: <domain> <level> <object>: <message>";
     * modvirt errors never name a domain or network object. */
    len = err->message ? strlen(err->message) : 0;
    if (err->domain == VIR_FROM_XML && err->code == VIR_ERR_XML_DETAIL && err->int1 != 0)
        fprintf(stderr, "libvirt: %s %s : line %d: %s", client_error_domain_name(err->domain),
                level, err->int1, err->message ? err->message : "");
    else
        fprintf(stderr, "libvirt: %s %s : %s", client_error_domain_name(err->domain), level,
                err->message ? err->message : "");
    if (len == 0 || err->message[len - 1] != '\n')
        fputc('\n', stderr);
}

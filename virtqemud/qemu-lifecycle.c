/*
 * qemu-lifecycle.c: the procedures that start and stop domains and change
 * their run state: create (with flags), createXML, destroy, shutdown,
 * reboot, suspend, resume.  Each takes the domain's state-change job
 * (destroy only after the process is gone, see qemu-process.h).
 */
#define G_LOG_DOMAIN "virtqemud.lifecycle"

#include "qemu-domain.h"
#include "qemu-process.h"
#include "util-error.h"

/* virDomainCreateFlags */
enum {
    CREATE_PAUSED = 1 << 0,
    CREATE_AUTODESTROY = 1 << 1,
    CREATE_BYPASS_CACHE = 1 << 2,
    CREATE_FORCE_BOOT = 1 << 3,
    CREATE_VALIDATE = 1 << 4,
};
/* virDomainShutdownFlagValues / virDomainRebootFlagValues */
enum {
    POWER_DEFAULT = 0,
    POWER_ACPI = 1 << 0,
    POWER_AGENT = 1 << 1,
    POWER_INITCTL = 1 << 2,
    POWER_SIGNAL = 1 << 3,
    POWER_PARAVIRT = 1 << 4,
};

static bool
qemu_require_running(QemuDomain *dom, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&dom->lock);

    if (dom->id < 0) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_OPERATION_INVALID,
                       "Requested operation is not valid: domain is not running");
        return false;
    }
    return true;
}

static bool
qemu_start_existing(const RemoteNonnullDomain *ref, unsigned int flags,
                    RemoteNonnullDomain *ret, GError **error)
{
    g_autoptr(QemuDomain) dom = NULL;
    bool ok;

    if (!qemu_check_flags(flags, CREATE_PAUSED | CREATE_BYPASS_CACHE | CREATE_FORCE_BOOT,
                          "virDomainCreateWithFlags", error))
        return false;
    if (!(dom = qemu_domain_lookup(ref, error)))
        return false;
    if (!qemu_domain_job_begin(dom, "virDomainCreate", error))
        return false;
    ok = qemu_process_start(dom, (flags & CREATE_PAUSED) ? QEMU_PROCESS_START_PAUSED : 0, error);
    qemu_domain_job_end(dom);
    if (ok && ret)
        qemu_domain_make_ref(dom, ret);
    return ok;
}

static bool
qemu_create(RpcServerCall *call, const RemoteDomainCreateArgs *args, GError **error)
{
    return qemu_start_existing(&args->dom, 0, NULL, error);
}

static bool
qemu_create_with_flags(RpcServerCall *call, const RemoteDomainCreateWithFlagsArgs *args,
                       RemoteDomainCreateWithFlagsRet *ret, GError **error)
{
    return qemu_start_existing(&args->dom, args->flags, &ret->dom, error);
}

static bool
qemu_create_xml(RpcServerCall *call, const RemoteDomainCreateXmlArgs *args,
                RemoteDomainCreateXmlRet *ret, GError **error)
{
    g_autoptr(QemuDomain) dom = NULL;
    ConfDomainDef *def;
    bool ok;

    if (!qemu_check_flags(args->flags, CREATE_PAUSED | CREATE_BYPASS_CACHE | CREATE_VALIDATE,
                          "virDomainCreateXML", error))
        return false;
    if (!(def = qemu_domain_parse_def(args->xml_desc, args->flags & CREATE_VALIDATE, error)))
        return false;
    if (!(dom = qemu_domain_add_transient(def, error))) {
        conf_domain_def_free(def);
        return false;
    }
    if (dom->def != def)
        conf_domain_def_free(def);      /* a defined domain of that name runs instead */
    if (!qemu_domain_job_begin(dom, "virDomainCreateXML", error)) {
        qemu_domain_remove_if_gone(dom);
        return false;
    }
    ok = qemu_process_start(dom, (args->flags & CREATE_PAUSED) ? QEMU_PROCESS_START_PAUSED : 0,
                            error);
    qemu_domain_job_end(dom);
    if (!ok) {
        qemu_domain_remove_if_gone(dom);
        return false;
    }
    qemu_domain_make_ref(dom, &ret->dom);
    return true;
}

static bool
qemu_destroy_common(const RemoteNonnullDomain *ref, unsigned int flags, GError **error)
{
    g_autoptr(QemuDomain) dom = NULL;

    /* graceful 1, remove logs 2 */
    if (!qemu_check_flags(flags, 0x3, "virDomainDestroyFlags", error))
        return false;
    if (!(dom = qemu_domain_lookup(ref, error)))
        return false;
    return qemu_process_destroy(dom, flags & 1, error);
}

static bool
qemu_destroy(RpcServerCall *call, const RemoteDomainDestroyArgs *args, GError **error)
{
    return qemu_destroy_common(&args->dom, 0, error);
}

static bool
qemu_destroy_flags(RpcServerCall *call, const RemoteDomainDestroyFlagsArgs *args,
                   GError **error)
{
    return qemu_destroy_common(&args->dom, args->flags, error);
}

static bool
qemu_power_flags(unsigned int flags, const char *api, GError **error)
{
    if (!qemu_check_flags(flags, POWER_ACPI | POWER_AGENT, api, error))
        return false;
    if (flags & POWER_AGENT && !(flags & POWER_ACPI)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_ARGUMENT_UNSUPPORTED,
                       "argument unsupported: QEMU guest agent is not configured");
        return false;
    }
    return true;
}

typedef bool (*QemuRunningOp)(QemuDomain *dom, GError **error);

/* Look up, take the job, check that it runs, do @op. */
static bool
qemu_with_running(const RemoteNonnullDomain *ref, const char *api, QemuRunningOp op,
                  GError **error)
{
    g_autoptr(QemuDomain) dom = qemu_domain_lookup(ref, error);
    bool ok;

    if (!dom || !qemu_domain_job_begin(dom, api, error))
        return false;
    ok = qemu_require_running(dom, error) && op(dom, error);
    qemu_domain_job_end(dom);
    return ok;
}

static bool
qemu_shutdown(RpcServerCall *call, const RemoteDomainShutdownArgs *args, GError **error)
{
    return qemu_with_running(&args->dom, "virDomainShutdown", qemu_process_shutdown, error);
}

static bool
qemu_shutdown_flags(RpcServerCall *call, const RemoteDomainShutdownFlagsArgs *args,
                    GError **error)
{
    if (!qemu_power_flags(args->flags, "virDomainShutdownFlags", error))
        return false;
    return qemu_with_running(&args->dom, "virDomainShutdown", qemu_process_shutdown, error);
}

static bool
qemu_reboot(RpcServerCall *call, const RemoteDomainRebootArgs *args, GError **error)
{
    if (!qemu_power_flags(args->flags, "virDomainReboot", error))
        return false;
    return qemu_with_running(&args->dom, "virDomainReboot", qemu_process_reboot, error);
}

static bool
qemu_suspend(RpcServerCall *call, const RemoteDomainSuspendArgs *args, GError **error)
{
    return qemu_with_running(&args->dom, "virDomainSuspend", qemu_process_suspend, error);
}

static bool
qemu_resume(RpcServerCall *call, const RemoteDomainResumeArgs *args, GError **error)
{
    return qemu_with_running(&args->dom, "virDomainResume", qemu_process_resume, error);
}

void
qemu_lifecycle_fill_ops(RemoteServerOps *ops)
{
    ops->domain_create = qemu_create;
    ops->domain_create_with_flags = qemu_create_with_flags;
    ops->domain_create_xml = qemu_create_xml;
    ops->domain_destroy = qemu_destroy;
    ops->domain_destroy_flags = qemu_destroy_flags;
    ops->domain_shutdown = qemu_shutdown;
    ops->domain_shutdown_flags = qemu_shutdown_flags;
    ops->domain_reboot = qemu_reboot;
    ops->domain_suspend = qemu_suspend;
    ops->domain_resume = qemu_resume;
}

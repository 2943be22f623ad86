/*
 * util-error.c: GError carrying libvirt error codes and domains.
 */
#define G_LOG_DOMAIN "modvirt.util"

#include "util-error.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

#define UTIL_ERROR_DOMAIN_MAX 128

static GQuark util_error_quarks[UTIL_ERROR_DOMAIN_MAX];
static GOnce util_error_once = G_ONCE_INIT;

static gpointer
util_error_init_quarks(gpointer data G_GNUC_UNUSED)
{
    for (int i = 0; i < UTIL_ERROR_DOMAIN_MAX; i++) {
        g_autofree char *name = g_strdup_printf("modvirt-virerror-domain-%d", i);
        util_error_quarks[i] = g_quark_from_string(name);
    }
    return NULL;
}

GQuark
util_error_quark(int vir_domain)
{
    g_once(&util_error_once, util_error_init_quarks, NULL);
    if (vir_domain < 0 || vir_domain >= UTIL_ERROR_DOMAIN_MAX)
        vir_domain = 0;
    return util_error_quarks[vir_domain];
}

int
util_error_domain(const GError *error)
{
    g_once(&util_error_once, util_error_init_quarks, NULL);
    if (!error)
        return VIR_FROM_NONE;
    for (int i = 0; i < UTIL_ERROR_DOMAIN_MAX; i++) {
        if (util_error_quarks[i] == error->domain)
            return i;
    }
    return VIR_FROM_NONE;
}

int
util_error_code(const GError *error)
{
    if (!error)
        return VIR_ERR_OK;
    for (int i = 0; i < UTIL_ERROR_DOMAIN_MAX; i++) {
        if (util_error_quark(i) == error->domain)
            return error->code;
    }
    return VIR_ERR_INTERNAL_ERROR;
}

void
util_error_set(GError **error, int vir_domain, int vir_code, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    if (!error)
        return;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error_literal(error, util_error_quark(vir_domain), vir_code, msg);
}

void
util_error_set_errno(GError **error, int vir_domain, int errnum, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *msg = NULL;

    if (!error)
        return;
    va_start(ap, fmt);
    msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, util_error_quark(vir_domain), VIR_ERR_SYSTEM_ERROR,
                "%s: %s", msg, g_strerror(errnum));
}

static const char *const util_error_names[] = {
    [VIR_ERR_OK] = "VIR_ERR_OK",
    [VIR_ERR_INTERNAL_ERROR] = "VIR_ERR_INTERNAL_ERROR",
    [VIR_ERR_NO_MEMORY] = "VIR_ERR_NO_MEMORY",
    [VIR_ERR_NO_SUPPORT] = "VIR_ERR_NO_SUPPORT",
    [VIR_ERR_NO_CONNECT] = "VIR_ERR_NO_CONNECT",
    [VIR_ERR_INVALID_CONN] = "VIR_ERR_INVALID_CONN",
    [VIR_ERR_INVALID_DOMAIN] = "VIR_ERR_INVALID_DOMAIN",
    [VIR_ERR_INVALID_ARG] = "VIR_ERR_INVALID_ARG",
    [VIR_ERR_OPERATION_FAILED] = "VIR_ERR_OPERATION_FAILED",
    [VIR_ERR_NO_SOURCE] = "VIR_ERR_NO_SOURCE",
    [VIR_ERR_NO_TARGET] = "VIR_ERR_NO_TARGET",
    [VIR_ERR_NO_NAME] = "VIR_ERR_NO_NAME",
    [VIR_ERR_NO_OS] = "VIR_ERR_NO_OS",
    [VIR_ERR_NO_DEVICE] = "VIR_ERR_NO_DEVICE",
    [VIR_ERR_XML_ERROR] = "VIR_ERR_XML_ERROR",
    [VIR_ERR_DOM_EXIST] = "VIR_ERR_DOM_EXIST",
    [VIR_ERR_OPERATION_DENIED] = "VIR_ERR_OPERATION_DENIED",
    [VIR_ERR_OPEN_FAILED] = "VIR_ERR_OPEN_FAILED",
    [VIR_ERR_XML_DETAIL] = "VIR_ERR_XML_DETAIL",
    [VIR_ERR_SYSTEM_ERROR] = "VIR_ERR_SYSTEM_ERROR",
    [VIR_ERR_RPC] = "VIR_ERR_RPC",
    [VIR_ERR_NO_DOMAIN] = "VIR_ERR_NO_DOMAIN",
    [VIR_ERR_NO_NETWORK] = "VIR_ERR_NO_NETWORK",
    [VIR_ERR_AUTH_FAILED] = "VIR_ERR_AUTH_FAILED",
    [VIR_ERR_NO_STORAGE_POOL] = "VIR_ERR_NO_STORAGE_POOL",
    [VIR_ERR_NO_STORAGE_VOL] = "VIR_ERR_NO_STORAGE_VOL",
    [VIR_ERR_OPERATION_INVALID] = "VIR_ERR_OPERATION_INVALID",
    [VIR_ERR_CONFIG_UNSUPPORTED] = "VIR_ERR_CONFIG_UNSUPPORTED",
    [VIR_ERR_OPERATION_TIMEOUT] = "VIR_ERR_OPERATION_TIMEOUT",
    [VIR_ERR_NO_DOMAIN_SNAPSHOT] = "VIR_ERR_NO_DOMAIN_SNAPSHOT",
    [VIR_ERR_ARGUMENT_UNSUPPORTED] = "VIR_ERR_ARGUMENT_UNSUPPORTED",
    [VIR_ERR_OPERATION_ABORTED] = "VIR_ERR_OPERATION_ABORTED",
    [VIR_ERR_OVERFLOW] = "VIR_ERR_OVERFLOW",
    [VIR_ERR_BLOCK_COPY_ACTIVE] = "VIR_ERR_BLOCK_COPY_ACTIVE",
    [VIR_ERR_OPERATION_UNSUPPORTED] = "VIR_ERR_OPERATION_UNSUPPORTED",
    [VIR_ERR_RESOURCE_BUSY] = "VIR_ERR_RESOURCE_BUSY",
    [VIR_ERR_ACCESS_DENIED] = "VIR_ERR_ACCESS_DENIED",
    [VIR_ERR_XML_INVALID_SCHEMA] = "VIR_ERR_XML_INVALID_SCHEMA",
    [VIR_ERR_AUTH_UNAVAILABLE] = "VIR_ERR_AUTH_UNAVAILABLE",
    [VIR_ERR_DEVICE_MISSING] = "VIR_ERR_DEVICE_MISSING",
};

const char *
util_error_code_name(int vir_code)
{
    static char unknown[32][24];
    static gint next;

    if (vir_code >= 0 && vir_code < (int)G_N_ELEMENTS(util_error_names) &&
        util_error_names[vir_code])
        return util_error_names[vir_code];
    {
        char *buf = unknown[g_atomic_int_add(&next, 1) & 31];
        g_snprintf(buf, sizeof(unknown[0]), "VIR_ERR_%d", vir_code);
        return buf;
    }
}

void
util_close_fdp(int *fdp)
{
    if (fdp && *fdp >= 0) {
        int saved = errno;
        close(*fdp);
        *fdp = -1;
        errno = saved;
    }
}

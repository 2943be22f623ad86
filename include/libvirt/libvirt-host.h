/*
 * libvirt-host.h: connections and host (node) information.
 * Include <libvirt/libvirt.h>, not this file.
 */
#ifndef MODVIRT_LIBVIRT_HOST_H
#define MODVIRT_LIBVIRT_HOST_H

#ifndef __VIR_LIBVIRT_H_INCLUDES__
# error "Don't include this file directly, only use libvirt/libvirt.h"
#endif

/* virConnect and virConnectPtr are declared there. */
#include "virterror.h"

#ifdef __cplusplus
extern "C" {
#endif

#define VIR_UUID_BUFLEN 16
#define VIR_UUID_STRING_BUFLEN (36 + 1)

typedef struct _virNodeInfo virNodeInfo;
typedef virNodeInfo *virNodeInfoPtr;

/* Host information, as returned by virNodeGetInfo. */
struct _virNodeInfo {
    char model[32];         /* CPU model, NUL terminated */
    unsigned long memory;   /* memory size in KiB */
    unsigned int cpus;      /* number of active CPUs */
    unsigned int mhz;       /* expected CPU frequency, 0 if unknown */
    unsigned int nodes;     /* number of NUMA cells, 1 for uniform access */
    unsigned int sockets;   /* CPU sockets per node */
    unsigned int cores;     /* cores per socket */
    unsigned int threads;   /* threads per core */
};

/* Upper bound of host CPUs described by a virNodeInfo. */
#define VIR_NODEINFO_MAXCPUS(nodeinfo) \
    ((nodeinfo).nodes * (nodeinfo).sockets * (nodeinfo).cores * (nodeinfo).threads)

typedef enum {
    VIR_CONNECT_RO = (1 << 0),          /* a read-only connection */
    VIR_CONNECT_NO_ALIASES = (1 << 1),  /* don't try to resolve URI aliases */
} virConnectFlags;

typedef enum {
    VIR_CRED_USERNAME = 1,
    VIR_CRED_AUTHNAME = 2,
    VIR_CRED_LANGUAGE = 3,
    VIR_CRED_CNONCE = 4,
    VIR_CRED_PASSPHRASE = 5,
    VIR_CRED_ECHOPROMPT = 6,
    VIR_CRED_NOECHOPROMPT = 7,
    VIR_CRED_REALM = 8,
    VIR_CRED_EXTERNAL = 9,
} virConnectCredentialType;

typedef struct _virConnectCredential virConnectCredential;
typedef virConnectCredential *virConnectCredentialPtr;

struct _virConnectCredential {
    int type;               /* a virConnectCredentialType */
    const char *prompt;
    const char *challenge;
    const char *defresult;
    char *result;           /* filled by the callback, freed by the library */
    unsigned int resultlen;
};

typedef int (*virConnectAuthCallbackPtr)(virConnectCredentialPtr cred,
                                         unsigned int ncred,
                                         void *cbdata);

typedef struct _virConnectAuth virConnectAuth;
typedef virConnectAuth *virConnectAuthPtr;

struct _virConnectAuth {
    int *credtype;          /* credential types the callback supports */
    unsigned int ncredtype;
    virConnectAuthCallbackPtr cb;
    void *cbdata;
};

/* A default authentication handler.  modvirt daemons answer "no
 * authentication needed" on their UNIX sockets, so it is never called. */
VIR_EXPORT_VAR virConnectAuthPtr virConnectAuthPtrDefault;

int virInitialize(void);
int virGetVersion(unsigned long *libVer, const char *type,
                  unsigned long *typeVer);

virConnectPtr virConnectOpen(const char *name);
virConnectPtr virConnectOpenReadOnly(const char *name);
virConnectPtr virConnectOpenAuth(const char *name, virConnectAuthPtr auth,
                                 unsigned int flags);
int virConnectRef(virConnectPtr conn);
int virConnectClose(virConnectPtr conn);

const char *virConnectGetType(virConnectPtr conn);
int virConnectGetVersion(virConnectPtr conn, unsigned long *hvVer);
int virConnectGetLibVersion(virConnectPtr conn, unsigned long *libVer);
char *virConnectGetHostname(virConnectPtr conn);
char *virConnectGetURI(virConnectPtr conn);
char *virConnectGetSysinfo(virConnectPtr conn, unsigned int flags);
int virConnectGetMaxVcpus(virConnectPtr conn, const char *type);
char *virConnectGetCapabilities(virConnectPtr conn);

int virConnectIsEncrypted(virConnectPtr conn);
int virConnectIsSecure(virConnectPtr conn);
int virConnectIsAlive(virConnectPtr conn);

/* Keep the connection alive with the server's keepalive pings, answered
 * from the registered event loop: 0 on success, 1 if the server does not
 * do keepalive, -1 on error.  @interval <= 0 is refused as in libvirt
 * (keepalive cannot be turned off once on). */
int virConnectSetKeepAlive(virConnectPtr conn, int interval, unsigned int count);

#define VIR_SECURITY_LABEL_BUFLEN (4096 + 1)
#define VIR_SECURITY_MODEL_BUFLEN (256 + 1)
#define VIR_SECURITY_DOI_BUFLEN (256 + 1)

typedef struct _virSecurityModel virSecurityModel;
typedef virSecurityModel *virSecurityModelPtr;

/* The host's security driver; model is "" when none is active. */
struct _virSecurityModel {
    char model[VIR_SECURITY_MODEL_BUFLEN];
    char doi[VIR_SECURITY_DOI_BUFLEN];      /* domain of interpretation */
};

int virNodeGetInfo(virConnectPtr conn, virNodeInfoPtr info);
int virNodeGetSecurityModel(virConnectPtr conn, virSecurityModelPtr secmodel);
unsigned long long virNodeGetFreeMemory(virConnectPtr conn);

#ifdef __cplusplus
}
#endif

#endif /* MODVIRT_LIBVIRT_HOST_H */

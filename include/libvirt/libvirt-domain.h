/*
 * libvirt-domain.h: domains.  So far only the domain capabilities query.
 * Include <libvirt/libvirt.h>, not this file.
 */
#ifndef MODVIRT_LIBVIRT_DOMAIN_H
#define MODVIRT_LIBVIRT_DOMAIN_H

#ifndef __VIR_LIBVIRT_H_INCLUDES__
# error "Don't include this file directly, only use libvirt/libvirt.h"
#endif

#include "virterror.h"

#ifdef __cplusplus
extern "C" {
#endif

char *virConnectGetDomainCapabilities(virConnectPtr conn,
                                      const char *emulatorbin,
                                      const char *arch,
                                      const char *machine,
                                      const char *virttype,
                                      unsigned int flags);

#ifdef __cplusplus
}
#endif

#endif /* MODVIRT_LIBVIRT_DOMAIN_H */

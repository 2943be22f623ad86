/*
 * libvirt-common.h: version numbers and helper macros shared by the public
 * headers.  Include <libvirt/libvirt.h>, not this file.
 */
#ifndef MODVIRT_LIBVIRT_COMMON_H
#define MODVIRT_LIBVIRT_COMMON_H

#ifndef __VIR_LIBVIRT_H_INCLUDES__
# error "Don't include this file directly, only use libvirt/libvirt.h"
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* The libvirt API level this library implements: major * 1,000,000 +
 * minor * 1,000 + micro.  modvirt speaks the libvirt 9.0.0 wire protocol. */
#define LIBVIR_VERSION_NUMBER 9000000

/* True if the headers are at least libvirt @major.@minor.@micro. */
#define LIBVIR_CHECK_VERSION(major, minor, micro) \
    ((major) * 1000000 + (minor) * 1000 + (micro) <= LIBVIR_VERSION_NUMBER)

#ifndef VIR_EXPORT_VAR
# define VIR_EXPORT_VAR extern
#endif

#ifdef __cplusplus
}
#endif

#endif /* MODVIRT_LIBVIRT_COMMON_H */

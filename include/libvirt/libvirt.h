/*
 * libvirt.h: the modvirt public API, with libvirt's names, types and flag
 * values, so that programs written for libvirt compile against it.
 *
 * Like libvirt's, this header only pulls in the per-area headers; include it
 * rather than them.
 */
#ifndef MODVIRT_LIBVIRT_H
#define MODVIRT_LIBVIRT_H

#define __VIR_LIBVIRT_H_INCLUDES__
#include "libvirt-common.h"
#include "virterror.h"
#include "libvirt-host.h"
#include "libvirt-domain.h"
#include "libvirt-domain-snapshot.h"
#include "libvirt-event.h"
#undef __VIR_LIBVIRT_H_INCLUDES__

#endif /* MODVIRT_LIBVIRT_H */

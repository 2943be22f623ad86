/*
 * qemu-domcaps.h: the domain capabilities document
 * (virConnectGetDomainCapabilities, `virsh domcapabilities`).
 *
 * The layout is libvirt 9.0's (<domainCapabilities>, validated by its
 * domaincaps.rng); the content is what modvirt can really start with the
 * emulator asked about: every value listed is accepted by modvirt's domain
 * XML parser, by the post-parse and by the command line builder for this
 * QEMU (its device is in the probed capabilities), and everything modvirt's
 * definitions cannot express is reported supported='no' or left out.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "daemon.h"
#include "qemu-caps.h"

/* What the document is computed from besides the arguments: the host the
 * daemon runs on, or canned answers in tests. */
typedef struct {
    /* The capabilities of @binary (an absolute path), with libvirt's
     * errors for a binary that is missing or not executable. */
    QemuCaps *(*lookup)(const char *binary, GError **error);
    /* The emulator for libvirt architecture @arch, NULL if there is none. */
    char *(*find_emulator)(const char *arch);
    /* KVM's vCPU limit (KVM_CAP_MAX_VCPUS, else KVM_CAP_NR_VCPUS, else 4);
     * -1 with an error when /dev/kvm cannot be opened. */
    int (*kvm_max_vcpus)(GError **error);
    /* libvirt's name of the host architecture ("x86_64"). */
    const char *host_arch;
} QemuDomcapsEnv;

/* The host: the capabilities cache (qemu_caps_cache_lookup, so no binary
 * is probed twice), qemu_caps_find_emulator, /dev/kvm. */
const QemuDomcapsEnv *qemu_domcaps_env_host(void);

/* The document for the arguments of virConnectGetDomainCapabilities, each
 * optional, chosen and checked as libvirt does:
 *  - @virttype: libvirt's domain types; NULL (or "none") means kvm when
 *    KVM works with the emulator, else qemu.  Unknown: VIR_ERR_INVALID_ARG
 *    "unknown virttype: X"; kvm (or hvf) when the emulator cannot use it:
 *    VIR_ERR_INVALID_ARG "the accel 'kvm' is not supported by '...' on this
 *    host"; another domain type: "Emulator '...' does not support virt
 *    type 'X'" (VIR_ERR_INVALID_ARG).
 *  - @arch: libvirt's architecture names, NULL: the host's.  Unknown:
 *    VIR_ERR_INVALID_ARG; no emulator for it: VIR_ERR_CONFIG_UNSUPPORTED
 *    "unable to find any emulator to serve 'X' architecture"; not the
 *    emulator's: VIR_ERR_INVALID_ARG ("architecture from emulator ...
 *    doesn't match given architecture ..." across families, "Emulator ...
 *    does not support arch ..." within one, e.g. i686 on
 *    qemu-system-x86_64, which modvirt cannot start).
 *  - @emulatorbin: NULL: the emulator for @arch.  Missing or not
 *    executable: VIR_ERR_SYSTEM_ERROR as libvirt ("Cannot check QEMU
 *    binary X: No such file or directory", "QEMU binary X is not
 *    executable: Permission denied").
 *  - @machine: NULL: the emulator's default machine; an alias is made
 *    canonical.  Unknown: VIR_ERR_INVALID_ARG "the machine 'X' is not
 *    supported by emulator '...'"; a machine modvirt cannot start (only
 *    i440fx and q35 machines are): VIR_ERR_CONFIG_UNSUPPORTED.
 *  - @flags must be 0 (VIR_ERR_INVALID_ARG "unsupported flags (0x%x) in
 *    function virConnectGetDomainCapabilities"). */
char *qemu_domcaps_get(const QemuDomcapsEnv *env, const char *emulatorbin, const char *arch,
                       const char *machine, const char *virttype, unsigned int flags,
                       GError **error);

/* The document for resolved choices: @arch is @caps->arch, @machine a
 * canonical machine of @caps of the i440fx or q35 family, @kvm whether the
 * domain type is kvm (which @caps must support), @kvm_max_vcpus KVM's
 * limit (used when @kvm). */
char *qemu_domcaps_format(const QemuCaps *caps, const char *machine, bool kvm,
                          unsigned int kvm_max_vcpus);

/* REMOTE_PROC_CONNECT_GET_DOMAIN_CAPABILITIES. */
bool qemu_connect_get_domain_capabilities(RpcServerCall *call,
                                          const RemoteConnectGetDomainCapabilitiesArgs *args,
                                          RemoteConnectGetDomainCapabilitiesRet *ret,
                                          GError **error);

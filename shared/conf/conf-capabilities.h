/*
 * conf-capabilities.h: the capabilities XML document (virConnectGetCapabilities).
 *
 * Element names, order and layout follow libvirt 9.0's output and its
 * capability.rng schema; the text is what `virsh capabilities` prints.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

typedef struct _ConfCaps ConfCaps;

/* How a guest feature is shown: <pae/>, or <acpi default='on' toggle='yes'/>. */
typedef enum {
    CONF_CAPS_FEATURE_PLAIN,
    CONF_CAPS_FEATURE_ON_TOGGLE,    /* default='on' toggle='yes' */
    CONF_CAPS_FEATURE_ON_FIXED,     /* default='on' toggle='no' */
    CONF_CAPS_FEATURE_OFF_TOGGLE,   /* default='off' toggle='yes' */
    CONF_CAPS_FEATURE_OFF_FIXED,    /* default='off' toggle='no' */

    CONF_CAPS_FEATURE_LAST
} ConfCapsFeatureToggle;

/* Capabilities with the <host> part read from this host (util-host):
 * UUID, CPU arch/vendor/signature/topology/page sizes, power management
 * (empty), IOMMU, live migration over tcp, NUMA cells, L3 cache banks and
 * the "none" security model.  No guests yet.  The host CPU <model> is left
 * out until conf_caps_set_host_cpu_model() gives a libvirt CPU model name. */
ConfCaps *conf_caps_new_host(GError **error);

/* A libvirt CPU model name ("EPYC-Milan") for <host><cpu><model>; NULL
 * removes it. */
void conf_caps_set_host_cpu_model(ConfCaps *caps, const char *model);

/* Replaces <migration_features>: <live/> if @live, and the URI transports
 * (NULL-terminated, may be NULL; schema values: tcp, rdma, ...). */
void conf_caps_set_migration(ConfCaps *caps, bool live,
                             const char *const *uri_transports);

/* Adds a <guest>.  @machines and @domain_types are NULL-terminated;
 * @machines and @emulator may be NULL, @domain_types needs one entry. */
void conf_caps_add_guest(ConfCaps *caps,
                         const char *os_type,
                         const char *arch,
                         unsigned int wordsize,
                         const char *emulator,
                         const char *const *machines,
                         const char *const *domain_types);

typedef struct {
    const char *name;
    const char *canonical;      /* the full name when @name is an alias, else NULL */
    unsigned int max_cpus;      /* 0: no maxCpus attribute */
    bool deprecated;
} ConfCapsMachine;

/* Replaces the <machine> list of the guests added for @os_type and @arch
 * with @machines, shown with libvirt's canonical/maxCpus/deprecated
 * attributes. */
void conf_caps_set_guest_machines(ConfCaps *caps, const char *os_type, const char *arch,
                                  const ConfCapsMachine *machines, size_t n);

/* Adds a <features> entry to the guests added for @os_type and @arch. */
void conf_caps_add_guest_feature(ConfCaps *caps,
                                 const char *os_type,
                                 const char *arch,
                                 const char *name,
                                 ConfCapsFeatureToggle toggle);

/* The document text: no XML declaration, 2-space indentation, single-quoted
 * attributes, blank lines around <host> and each <guest>, as libvirt. */
char *conf_caps_format(const ConfCaps *caps);

void conf_caps_free(ConfCaps *caps);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConfCaps, conf_caps_free)

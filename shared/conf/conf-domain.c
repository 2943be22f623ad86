/*
 * conf-domain.c: the domain definition (libvirt's domain XML subset).
 *
 * Parsing walks the tree by hand (no XPath): every element and attribute
 * is either understood or refused, so a definition is never half-read.
 * Formatting builds the text directly, in libvirt's order and layout.
 */
#define G_LOG_DOMAIN "modvirt.conf.domain"

#include "conf-domain.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>

#include "modvirt-config.h"
#include "util-error.h"
#include "util-xml.h"


#define CONF_DOMAIN_MAX_VCPUS 16384
#define CONF_DOMAIN_MAX_MEMORY_BYTES ((unsigned long long)LLONG_MAX)

/* ------------------------------------------------------------------ */
/* enum string tables                                                  */
/* ------------------------------------------------------------------ */

static const char *const conf_tristate_bool_names[] = {
    [CONF_TRISTATE_BOOL_ABSENT] = "absent",
    [CONF_TRISTATE_BOOL_YES] = "yes",
    [CONF_TRISTATE_BOOL_NO] = "no",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_tristate_bool_names) == CONF_TRISTATE_BOOL_LAST);

static const char *const conf_tristate_switch_names[] = {
    [CONF_TRISTATE_SWITCH_ABSENT] = "absent",
    [CONF_TRISTATE_SWITCH_ON] = "on",
    [CONF_TRISTATE_SWITCH_OFF] = "off",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_tristate_switch_names) == CONF_TRISTATE_SWITCH_LAST);

static const char *const conf_storage_type_names[] = {
    [CONF_STORAGE_TYPE_FILE] = "file",
    [CONF_STORAGE_TYPE_BLOCK] = "block",
    [CONF_STORAGE_TYPE_VOLUME] = "volume",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_storage_type_names) == CONF_STORAGE_TYPE_LAST);

static const char *const conf_storage_format_names[] = {
    [CONF_STORAGE_FORMAT_NONE] = "none",
    [CONF_STORAGE_FORMAT_RAW] = "raw",
    [CONF_STORAGE_FORMAT_QCOW2] = "qcow2",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_storage_format_names) == CONF_STORAGE_FORMAT_LAST);

static const char *const conf_device_address_names[] = {
    [CONF_DEVICE_ADDRESS_NONE] = "none",
    [CONF_DEVICE_ADDRESS_PCI] = "pci",
    [CONF_DEVICE_ADDRESS_DRIVE] = "drive",
    [CONF_DEVICE_ADDRESS_VIRTIO_SERIAL] = "virtio-serial",
    [CONF_DEVICE_ADDRESS_USB] = "usb",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_device_address_names) == CONF_DEVICE_ADDRESS_LAST);

static const char *const conf_disk_device_names[] = {
    [CONF_DOMAIN_DISK_DEVICE_DISK] = "disk",
    [CONF_DOMAIN_DISK_DEVICE_CDROM] = "cdrom",
    [CONF_DOMAIN_DISK_DEVICE_FLOPPY] = "floppy",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_disk_device_names) == CONF_DOMAIN_DISK_DEVICE_LAST);

static const char *const conf_disk_bus_names[] = {
    [CONF_DOMAIN_DISK_BUS_IDE] = "ide",
    [CONF_DOMAIN_DISK_BUS_FDC] = "fdc",
    [CONF_DOMAIN_DISK_BUS_SCSI] = "scsi",
    [CONF_DOMAIN_DISK_BUS_VIRTIO] = "virtio",
    [CONF_DOMAIN_DISK_BUS_USB] = "usb",
    [CONF_DOMAIN_DISK_BUS_SATA] = "sata",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_disk_bus_names) == CONF_DOMAIN_DISK_BUS_LAST);

/* The target name prefix each bus uses (libvirt's virDiskNameToIndex). */
static const char *const conf_disk_bus_prefixes[] = {
    [CONF_DOMAIN_DISK_BUS_IDE] = "hd",
    [CONF_DOMAIN_DISK_BUS_FDC] = "fd",
    [CONF_DOMAIN_DISK_BUS_SCSI] = "sd",
    [CONF_DOMAIN_DISK_BUS_VIRTIO] = "vd",
    [CONF_DOMAIN_DISK_BUS_USB] = "sd",
    [CONF_DOMAIN_DISK_BUS_SATA] = "sd",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_disk_bus_prefixes) == CONF_DOMAIN_DISK_BUS_LAST);

static const char *const conf_disk_mirror_job_names[] = {
    [CONF_DOMAIN_DISK_MIRROR_JOB_COPY] = "copy",
    [CONF_DOMAIN_DISK_MIRROR_JOB_ACTIVE_COMMIT] = "active-commit",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_disk_mirror_job_names) == CONF_DOMAIN_DISK_MIRROR_JOB_LAST);

static const char *const conf_disk_mirror_ready_names[] = {
    [CONF_DOMAIN_DISK_MIRROR_READY_NONE] = "no",
    [CONF_DOMAIN_DISK_MIRROR_READY_YES] = "yes",
    [CONF_DOMAIN_DISK_MIRROR_READY_ABORT] = "abort",
    [CONF_DOMAIN_DISK_MIRROR_READY_PIVOT] = "pivot",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_disk_mirror_ready_names) == CONF_DOMAIN_DISK_MIRROR_READY_LAST);

static const char *const conf_disk_cache_names[] = {
    [CONF_DOMAIN_DISK_CACHE_DEFAULT] = "default",
    [CONF_DOMAIN_DISK_CACHE_NONE] = "none",
    [CONF_DOMAIN_DISK_CACHE_WRITETHROUGH] = "writethrough",
    [CONF_DOMAIN_DISK_CACHE_WRITEBACK] = "writeback",
    [CONF_DOMAIN_DISK_CACHE_DIRECTSYNC] = "directsync",
    [CONF_DOMAIN_DISK_CACHE_UNSAFE] = "unsafe",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_disk_cache_names) == CONF_DOMAIN_DISK_CACHE_LAST);

static const char *const conf_disk_discard_names[] = {
    [CONF_DOMAIN_DISK_DISCARD_DEFAULT] = "default",
    [CONF_DOMAIN_DISK_DISCARD_UNMAP] = "unmap",
    [CONF_DOMAIN_DISK_DISCARD_IGNORE] = "ignore",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_disk_discard_names) == CONF_DOMAIN_DISK_DISCARD_LAST);

static const char *const conf_disk_io_names[] = {
    [CONF_DOMAIN_DISK_IO_DEFAULT] = "default",
    [CONF_DOMAIN_DISK_IO_NATIVE] = "native",
    [CONF_DOMAIN_DISK_IO_THREADS] = "threads",
    [CONF_DOMAIN_DISK_IO_URING] = "io_uring",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_disk_io_names) == CONF_DOMAIN_DISK_IO_LAST);

static const char *const conf_controller_type_names[] = {
    [CONF_DOMAIN_CONTROLLER_TYPE_IDE] = "ide",
    [CONF_DOMAIN_CONTROLLER_TYPE_FDC] = "fdc",
    [CONF_DOMAIN_CONTROLLER_TYPE_SCSI] = "scsi",
    [CONF_DOMAIN_CONTROLLER_TYPE_SATA] = "sata",
    [CONF_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL] = "virtio-serial",
    [CONF_DOMAIN_CONTROLLER_TYPE_CCID] = "ccid",
    [CONF_DOMAIN_CONTROLLER_TYPE_USB] = "usb",
    [CONF_DOMAIN_CONTROLLER_TYPE_PCI] = "pci",
    [CONF_DOMAIN_CONTROLLER_TYPE_XENBUS] = "xenbus",
    [CONF_DOMAIN_CONTROLLER_TYPE_ISA] = "isa",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_controller_type_names) == CONF_DOMAIN_CONTROLLER_TYPE_LAST);

/* libvirt's controller models, per type (NULL-terminated lists). */
static const char *const conf_controller_models_ide[] = { "piix3", "piix4", "ich6", NULL };
static const char *const conf_controller_models_scsi[] = {
    "auto", "buslogic", "lsilogic", "lsisas1068", "vmpvscsi", "ibmvscsi",
    "virtio-scsi", "lsisas1078", "virtio-transitional", "virtio-non-transitional",
    "ncr53c90", "am53c974", "dc390", NULL
};
static const char *const conf_controller_models_virtio_serial[] = {
    "virtio", "virtio-transitional", "virtio-non-transitional", NULL
};
static const char *const conf_controller_models_usb[] = {
    "piix3-uhci", "piix4-uhci", "ehci", "ich9-ehci1", "ich9-uhci1", "ich9-uhci2",
    "ich9-uhci3", "vt82c686b-uhci", "pci-ohci", "nec-xhci", "qusb1", "qusb2",
    "qemu-xhci", "none", NULL
};
static const char *const conf_controller_models_pci[] = {
    "pci-root", "pcie-root", "pci-bridge", "dmi-to-pci-bridge", "pcie-root-port",
    "pcie-switch-upstream-port", "pcie-switch-downstream-port", "pci-expander-bus",
    "pcie-expander-bus", "pcie-to-pci-bridge", NULL
};
static const char *const conf_controller_models_none[] = { NULL };

static const char *const *const conf_controller_models[] = {
    [CONF_DOMAIN_CONTROLLER_TYPE_IDE] = conf_controller_models_ide,
    [CONF_DOMAIN_CONTROLLER_TYPE_FDC] = conf_controller_models_none,
    [CONF_DOMAIN_CONTROLLER_TYPE_SCSI] = conf_controller_models_scsi,
    [CONF_DOMAIN_CONTROLLER_TYPE_SATA] = conf_controller_models_none,
    [CONF_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL] = conf_controller_models_virtio_serial,
    [CONF_DOMAIN_CONTROLLER_TYPE_CCID] = conf_controller_models_none,
    [CONF_DOMAIN_CONTROLLER_TYPE_USB] = conf_controller_models_usb,
    [CONF_DOMAIN_CONTROLLER_TYPE_PCI] = conf_controller_models_pci,
    [CONF_DOMAIN_CONTROLLER_TYPE_XENBUS] = conf_controller_models_none,
    [CONF_DOMAIN_CONTROLLER_TYPE_ISA] = conf_controller_models_none,
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_controller_models) == CONF_DOMAIN_CONTROLLER_TYPE_LAST);

static const char *const conf_net_type_names[] = {
    [CONF_DOMAIN_NET_TYPE_USER] = "user",
    [CONF_DOMAIN_NET_TYPE_NETWORK] = "network",
    [CONF_DOMAIN_NET_TYPE_BRIDGE] = "bridge",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_net_type_names) == CONF_DOMAIN_NET_TYPE_LAST);

/* libvirt interface types outside our subset: refused as unsupported. */
static const char *const conf_net_type_unsupported[] = {
    "ethernet", "vhostuser", "server", "client", "mcast", "udp", "internal",
    "direct", "hostdev", "vdpa", "null", "vds", NULL
};

static const char *const conf_chr_device_names[] = {
    [CONF_DOMAIN_CHR_DEVICE_SERIAL] = "serial",
    [CONF_DOMAIN_CHR_DEVICE_CONSOLE] = "console",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_chr_device_names) == CONF_DOMAIN_CHR_DEVICE_LAST);

static const char *const conf_chr_type_names[] = {
    [CONF_DOMAIN_CHR_TYPE_PTY] = "pty",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_chr_type_names) == CONF_DOMAIN_CHR_TYPE_LAST);

static const char *const conf_chr_type_unsupported[] = {
    "null", "vc", "dev", "file", "pipe", "stdio", "udp", "tcp", "unix",
    "spicevmc", "spiceport", "nmdm", "qemu-vdagent", "dbus", NULL
};

static const char *const conf_chr_serial_target_names[] = {
    [CONF_DOMAIN_CHR_SERIAL_TARGET_NONE] = "none",
    [CONF_DOMAIN_CHR_SERIAL_TARGET_ISA] = "isa-serial",
    [CONF_DOMAIN_CHR_SERIAL_TARGET_USB] = "usb-serial",
    [CONF_DOMAIN_CHR_SERIAL_TARGET_PCI] = "pci-serial",
    [CONF_DOMAIN_CHR_SERIAL_TARGET_SPAPR_VIO] = "spapr-vio-serial",
    [CONF_DOMAIN_CHR_SERIAL_TARGET_SYSTEM] = "system-serial",
    [CONF_DOMAIN_CHR_SERIAL_TARGET_SCLP] = "sclp-serial",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_chr_serial_target_names) == CONF_DOMAIN_CHR_SERIAL_TARGET_LAST);

static const char *const conf_chr_serial_model_names[] = {
    [CONF_DOMAIN_CHR_SERIAL_MODEL_NONE] = "none",
    [CONF_DOMAIN_CHR_SERIAL_MODEL_ISA_SERIAL] = "isa-serial",
    [CONF_DOMAIN_CHR_SERIAL_MODEL_USB_SERIAL] = "usb-serial",
    [CONF_DOMAIN_CHR_SERIAL_MODEL_PCI_SERIAL] = "pci-serial",
    [CONF_DOMAIN_CHR_SERIAL_MODEL_SPAPR_VTY] = "spapr-vty",
    [CONF_DOMAIN_CHR_SERIAL_MODEL_PL011] = "pl011",
    [CONF_DOMAIN_CHR_SERIAL_MODEL_SCLPCONSOLE] = "sclpconsole",
    [CONF_DOMAIN_CHR_SERIAL_MODEL_SCLPLMCONSOLE] = "sclplmconsole",
    [CONF_DOMAIN_CHR_SERIAL_MODEL_16550A] = "16550a",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_chr_serial_model_names) == CONF_DOMAIN_CHR_SERIAL_MODEL_LAST);

static const char *const conf_chr_console_target_names[] = {
    [CONF_DOMAIN_CHR_CONSOLE_TARGET_NONE] = "none",
    [CONF_DOMAIN_CHR_CONSOLE_TARGET_SERIAL] = "serial",
    [CONF_DOMAIN_CHR_CONSOLE_TARGET_XEN] = "xen",
    [CONF_DOMAIN_CHR_CONSOLE_TARGET_UML] = "uml",
    [CONF_DOMAIN_CHR_CONSOLE_TARGET_VIRTIO] = "virtio",
    [CONF_DOMAIN_CHR_CONSOLE_TARGET_LXC] = "lxc",
    [CONF_DOMAIN_CHR_CONSOLE_TARGET_OPENVZ] = "openvz",
    [CONF_DOMAIN_CHR_CONSOLE_TARGET_SCLP] = "sclp",
    [CONF_DOMAIN_CHR_CONSOLE_TARGET_SCLPLM] = "sclplm",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_chr_console_target_names) == CONF_DOMAIN_CHR_CONSOLE_TARGET_LAST);

static const char *const conf_input_type_names[] = {
    [CONF_DOMAIN_INPUT_TYPE_MOUSE] = "mouse",
    [CONF_DOMAIN_INPUT_TYPE_TABLET] = "tablet",
    [CONF_DOMAIN_INPUT_TYPE_KEYBOARD] = "keyboard",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_input_type_names) == CONF_DOMAIN_INPUT_TYPE_LAST);

static const char *const conf_input_type_unsupported[] = { "passthrough", "evdev", NULL };

static const char *const conf_input_bus_names[] = {
    [CONF_DOMAIN_INPUT_BUS_PS2] = "ps2",
    [CONF_DOMAIN_INPUT_BUS_USB] = "usb",
    [CONF_DOMAIN_INPUT_BUS_XEN] = "xen",
    [CONF_DOMAIN_INPUT_BUS_VIRTIO] = "virtio",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_input_bus_names) == CONF_DOMAIN_INPUT_BUS_LAST);

static const char *const conf_graphics_type_names[] = {
    [CONF_DOMAIN_GRAPHICS_TYPE_VNC] = "vnc",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_graphics_type_names) == CONF_DOMAIN_GRAPHICS_TYPE_LAST);

static const char *const conf_graphics_type_unsupported[] = {
    "sdl", "rdp", "desktop", "spice", "egl-headless", "dbus", NULL
};

static const char *const conf_video_type_names[] = {
    [CONF_DOMAIN_VIDEO_TYPE_VGA] = "vga",
    [CONF_DOMAIN_VIDEO_TYPE_CIRRUS] = "cirrus",
    [CONF_DOMAIN_VIDEO_TYPE_QXL] = "qxl",
    [CONF_DOMAIN_VIDEO_TYPE_VIRTIO] = "virtio",
    [CONF_DOMAIN_VIDEO_TYPE_NONE] = "none",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_video_type_names) == CONF_DOMAIN_VIDEO_TYPE_LAST);

static const char *const conf_memballoon_model_names[] = {
    [CONF_DOMAIN_MEMBALLOON_MODEL_VIRTIO] = "virtio",
    [CONF_DOMAIN_MEMBALLOON_MODEL_NONE] = "none",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_memballoon_model_names) == CONF_DOMAIN_MEMBALLOON_MODEL_LAST);

static const char *const conf_virt_type_names[] = {
    [CONF_DOMAIN_VIRT_NONE] = "none",
    [CONF_DOMAIN_VIRT_QEMU] = "qemu",
    [CONF_DOMAIN_VIRT_KQEMU] = "kqemu",
    [CONF_DOMAIN_VIRT_KVM] = "kvm",
    [CONF_DOMAIN_VIRT_XEN] = "xen",
    [CONF_DOMAIN_VIRT_LXC] = "lxc",
    [CONF_DOMAIN_VIRT_UML] = "uml",
    [CONF_DOMAIN_VIRT_OPENVZ] = "openvz",
    [CONF_DOMAIN_VIRT_TEST] = "test",
    [CONF_DOMAIN_VIRT_VMWARE] = "vmware",
    [CONF_DOMAIN_VIRT_HYPERV] = "hyperv",
    [CONF_DOMAIN_VIRT_VBOX] = "vbox",
    [CONF_DOMAIN_VIRT_PHYP] = "phyp",
    [CONF_DOMAIN_VIRT_PARALLELS] = "parallels",
    [CONF_DOMAIN_VIRT_BHYVE] = "bhyve",
    [CONF_DOMAIN_VIRT_VZ] = "vz",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_virt_type_names) == CONF_DOMAIN_VIRT_LAST);

static const char *const conf_os_type_names[] = {
    [CONF_DOMAIN_OS_TYPE_HVM] = "hvm",
    [CONF_DOMAIN_OS_TYPE_XEN] = "xen",
    [CONF_DOMAIN_OS_TYPE_LINUX] = "linux",
    [CONF_DOMAIN_OS_TYPE_EXE] = "exe",
    [CONF_DOMAIN_OS_TYPE_UML] = "uml",
    [CONF_DOMAIN_OS_TYPE_XENPVH] = "xenpvh",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_os_type_names) == CONF_DOMAIN_OS_TYPE_LAST);

static const char *const conf_boot_dev_names[] = {
    [CONF_DOMAIN_BOOT_FLOPPY] = "fd",
    [CONF_DOMAIN_BOOT_DISK] = "hd",
    [CONF_DOMAIN_BOOT_CDROM] = "cdrom",
    [CONF_DOMAIN_BOOT_NET] = "network",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_boot_dev_names) == CONF_DOMAIN_BOOT_LAST);

static const char *const conf_feature_names[] = {
    [CONF_DOMAIN_FEATURE_ACPI] = "acpi",
    [CONF_DOMAIN_FEATURE_APIC] = "apic",
    [CONF_DOMAIN_FEATURE_PAE] = "pae",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_feature_names) == CONF_DOMAIN_FEATURE_LAST);

static const char *const conf_cpu_mode_names[] = {
    [CONF_DOMAIN_CPU_MODE_CUSTOM] = "custom",
    [CONF_DOMAIN_CPU_MODE_HOST_MODEL] = "host-model",
    [CONF_DOMAIN_CPU_MODE_HOST_PASSTHROUGH] = "host-passthrough",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_cpu_mode_names) == CONF_DOMAIN_CPU_MODE_LAST);

static const char *const conf_cpu_match_names[] = {
    [CONF_DOMAIN_CPU_MATCH_DEFAULT] = "default",
    [CONF_DOMAIN_CPU_MATCH_MINIMUM] = "minimum",
    [CONF_DOMAIN_CPU_MATCH_EXACT] = "exact",
    [CONF_DOMAIN_CPU_MATCH_STRICT] = "strict",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_cpu_match_names) == CONF_DOMAIN_CPU_MATCH_LAST);

static const char *const conf_cpu_check_names[] = {
    [CONF_DOMAIN_CPU_CHECK_DEFAULT] = "default",
    [CONF_DOMAIN_CPU_CHECK_NONE] = "none",
    [CONF_DOMAIN_CPU_CHECK_PARTIAL] = "partial",
    [CONF_DOMAIN_CPU_CHECK_FULL] = "full",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_cpu_check_names) == CONF_DOMAIN_CPU_CHECK_LAST);

static const char *const conf_cpu_fallback_names[] = {
    [CONF_DOMAIN_CPU_FALLBACK_DEFAULT] = "default",
    [CONF_DOMAIN_CPU_FALLBACK_ALLOW] = "allow",
    [CONF_DOMAIN_CPU_FALLBACK_FORBID] = "forbid",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_cpu_fallback_names) == CONF_DOMAIN_CPU_FALLBACK_LAST);

static const char *const conf_clock_offset_names[] = {
    [CONF_DOMAIN_CLOCK_OFFSET_UTC] = "utc",
    [CONF_DOMAIN_CLOCK_OFFSET_LOCALTIME] = "localtime",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_clock_offset_names) == CONF_DOMAIN_CLOCK_OFFSET_LAST);

static const char *const conf_timer_name_names[] = {
    [CONF_DOMAIN_TIMER_NAME_PLATFORM] = "platform",
    [CONF_DOMAIN_TIMER_NAME_PIT] = "pit",
    [CONF_DOMAIN_TIMER_NAME_RTC] = "rtc",
    [CONF_DOMAIN_TIMER_NAME_HPET] = "hpet",
    [CONF_DOMAIN_TIMER_NAME_TSC] = "tsc",
    [CONF_DOMAIN_TIMER_NAME_KVMCLOCK] = "kvmclock",
    [CONF_DOMAIN_TIMER_NAME_HYPERVCLOCK] = "hypervclock",
    [CONF_DOMAIN_TIMER_NAME_ARMVTIMER] = "armvtimer",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_timer_name_names) == CONF_DOMAIN_TIMER_NAME_LAST);

static const char *const conf_timer_tickpolicy_names[] = {
    [CONF_DOMAIN_TIMER_TICKPOLICY_NONE] = "none",
    [CONF_DOMAIN_TIMER_TICKPOLICY_DELAY] = "delay",
    [CONF_DOMAIN_TIMER_TICKPOLICY_CATCHUP] = "catchup",
    [CONF_DOMAIN_TIMER_TICKPOLICY_MERGE] = "merge",
    [CONF_DOMAIN_TIMER_TICKPOLICY_DISCARD] = "discard",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_timer_tickpolicy_names) == CONF_DOMAIN_TIMER_TICKPOLICY_LAST);

static const char *const conf_lifecycle_names[] = {
    [CONF_DOMAIN_LIFECYCLE_DESTROY] = "destroy",
    [CONF_DOMAIN_LIFECYCLE_RESTART] = "restart",
    [CONF_DOMAIN_LIFECYCLE_RESTART_RENAME] = "rename-restart",
    [CONF_DOMAIN_LIFECYCLE_PRESERVE] = "preserve",
    [CONF_DOMAIN_LIFECYCLE_COREDUMP_DESTROY] = "coredump-destroy",
    [CONF_DOMAIN_LIFECYCLE_COREDUMP_RESTART] = "coredump-restart",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_lifecycle_names) == CONF_DOMAIN_LIFECYCLE_LAST);

/* libvirt's architecture names (virArch). */
static const char *const conf_arch_names[] = {
    "alpha", "armv6l", "armv7l", "armv7b", "aarch64", "cris", "i686", "ia64",
    "lm32", "loongarch64", "m68k", "microblaze", "microblazeel", "mips",
    "mipsel", "mips64", "mips64el", "openrisc", "parisc", "parisc64", "ppc",
    "ppcle", "ppc64", "ppc64le", "ppcemb", "riscv32", "riscv64", "s390",
    "s390x", "sh4", "sh4eb", "sparc", "sparc64", "unicore32", "x86_64",
    "xtensa", "xtensaeb", NULL
};

/* Index of @str in @table[first..n), -1 if absent; NULL entries never match. */
static int
conf_enum_from_string(const char *const *table, int n, int first, const char *str)
{
    if (!str)
        return -1;
    for (int i = first; i < n; i++) {
        if (table[i] && strcmp(table[i], str) == 0)
            return i;
    }
    return -1;
}

static bool
conf_str_in_list(const char *const *list, const char *str)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(list[i], str) == 0)
            return true;
    }
    return false;
}

const char *
conf_storage_type_to_string(ConfStorageType type)
{
    return (unsigned)type < CONF_STORAGE_TYPE_LAST ? conf_storage_type_names[type] : NULL;
}

const char *
conf_storage_format_to_string(ConfStorageFormat format)
{
    return (unsigned)format < CONF_STORAGE_FORMAT_LAST ? conf_storage_format_names[format] : NULL;
}

const char *
conf_domain_disk_bus_to_string(ConfDomainDiskBus bus)
{
    return (unsigned)bus < CONF_DOMAIN_DISK_BUS_LAST ? conf_disk_bus_names[bus] : NULL;
}

const char *
conf_domain_disk_mirror_job_to_string(ConfDomainDiskMirrorJob job)
{
    return job < CONF_DOMAIN_DISK_MIRROR_JOB_LAST ? conf_disk_mirror_job_names[job] : NULL;
}

const char *
conf_domain_virt_type_to_string(ConfDomainVirtType type)
{
    return (unsigned)type < CONF_DOMAIN_VIRT_LAST ? conf_virt_type_names[type] : NULL;
}

const char *
conf_domain_os_type_to_string(ConfDomainOsType type)
{
    return (unsigned)type < CONF_DOMAIN_OS_TYPE_LAST ? conf_os_type_names[type] : NULL;
}

/* ------------------------------------------------------------------ */
/* lifetime: new, free, copy                                           */
/* ------------------------------------------------------------------ */

ConfStorageSource *
conf_storage_source_new(ConfStorageType type)
{
    ConfStorageSource *src = g_new0(ConfStorageSource, 1);

    src->type = type;
    return src;
}

void
conf_storage_source_free(ConfStorageSource *src)
{
    /* iterative: chains can be long and come from outside */
    while (src) {
        ConfStorageSource *next = src->backing;

        g_free(src->path);
        g_free(src->pool);
        g_free(src->volume);
        g_free(src->node_name_storage);
        g_free(src->node_name_format);
        g_free(src->backing_name_raw);
        g_free(src);
        src = next;
    }
}

ConfStorageSource *
conf_storage_source_find(const ConfStorageSource *chain, const char *path,
                         ConfStorageSource **ret_above)
{
    const ConfStorageSource *above = NULL;

    for (; chain && g_strcmp0(chain->path, path) != 0; chain = chain->backing)
        above = chain;
    if (ret_above)
        *ret_above = chain ? (ConfStorageSource *)above : NULL;
    return (ConfStorageSource *)chain;
}

ConfStorageSource *
conf_storage_source_copy(const ConfStorageSource *src)
{
    ConfStorageSource *ret = NULL;
    ConfStorageSource **tail = &ret;

    for (; src; src = src->backing) {
        ConfStorageSource *copy = conf_storage_source_new(src->type);

        copy->path = g_strdup(src->path);
        copy->pool = g_strdup(src->pool);
        copy->volume = g_strdup(src->volume);
        copy->format = src->format;
        copy->node_name_storage = g_strdup(src->node_name_storage);
        copy->node_name_format = g_strdup(src->node_name_format);
        copy->backing_name_raw = g_strdup(src->backing_name_raw);
        copy->backing_terminated = src->backing_terminated;
        *tail = copy;
        tail = &copy->backing;
    }
    return ret;
}

static void
conf_device_info_clear(ConfDeviceInfo *info)
{
    g_clear_pointer(&info->alias, g_free);
    g_clear_pointer(&info->addr.usb_port, g_free);
}

static void
conf_device_info_copy(ConfDeviceInfo *dst, const ConfDeviceInfo *src)
{
    *dst = *src;
    dst->alias = g_strdup(src->alias);
    dst->addr.usb_port = g_strdup(src->addr.usb_port);
}

void
conf_domain_disk_def_free(ConfDomainDiskDef *disk)
{
    if (!disk)
        return;
    g_free(disk->driver_name);
    conf_storage_source_free(disk->src);
    g_free(disk->dst);
    g_free(disk->serial);
    conf_device_info_clear(&disk->info);
    conf_storage_source_free(disk->mirror);
    g_free(disk);
}

static ConfDomainDiskDef *
conf_domain_disk_def_copy(const ConfDomainDiskDef *disk)
{
    ConfDomainDiskDef *ret = g_new0(ConfDomainDiskDef, 1);

    *ret = *disk;
    ret->driver_name = g_strdup(disk->driver_name);
    ret->src = conf_storage_source_copy(disk->src);
    ret->dst = g_strdup(disk->dst);
    ret->serial = g_strdup(disk->serial);
    conf_device_info_copy(&ret->info, &disk->info);
    ret->mirror = conf_storage_source_copy(disk->mirror);
    return ret;
}

static void
conf_domain_controller_def_free(ConfDomainControllerDef *ctrl)
{
    if (!ctrl)
        return;
    g_free(ctrl->model);
    g_free(ctrl->pci_model_name);
    conf_device_info_clear(&ctrl->info);
    g_free(ctrl);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConfDomainControllerDef, conf_domain_controller_def_free)

static ConfDomainControllerDef *
conf_domain_controller_def_copy(const ConfDomainControllerDef *ctrl)
{
    ConfDomainControllerDef *ret = g_new0(ConfDomainControllerDef, 1);

    *ret = *ctrl;
    ret->model = g_strdup(ctrl->model);
    ret->pci_model_name = g_strdup(ctrl->pci_model_name);
    conf_device_info_copy(&ret->info, &ctrl->info);
    return ret;
}

static void
conf_domain_net_def_free(ConfDomainNetDef *net)
{
    if (!net)
        return;
    g_free(net->network);
    g_free(net->portgroup);
    g_free(net->bridge);
    g_free(net->ifname);
    g_free(net->model);
    conf_device_info_clear(&net->info);
    g_free(net);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConfDomainNetDef, conf_domain_net_def_free)

static ConfDomainNetDef *
conf_domain_net_def_copy(const ConfDomainNetDef *net)
{
    ConfDomainNetDef *ret = g_new0(ConfDomainNetDef, 1);

    *ret = *net;
    ret->network = g_strdup(net->network);
    ret->portgroup = g_strdup(net->portgroup);
    ret->bridge = g_strdup(net->bridge);
    ret->ifname = g_strdup(net->ifname);
    ret->model = g_strdup(net->model);
    conf_device_info_copy(&ret->info, &net->info);
    return ret;
}

static void
conf_domain_chr_def_free(ConfDomainChrDef *chr)
{
    if (!chr)
        return;
    g_free(chr->pty_path);
    conf_device_info_clear(&chr->info);
    g_free(chr);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConfDomainChrDef, conf_domain_chr_def_free)

static ConfDomainChrDef *
conf_domain_chr_def_copy(const ConfDomainChrDef *chr)
{
    ConfDomainChrDef *ret = g_new0(ConfDomainChrDef, 1);

    *ret = *chr;
    ret->pty_path = g_strdup(chr->pty_path);
    conf_device_info_copy(&ret->info, &chr->info);
    return ret;
}

static void
conf_domain_input_def_free(ConfDomainInputDef *input)
{
    if (!input)
        return;
    conf_device_info_clear(&input->info);
    g_free(input);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConfDomainInputDef, conf_domain_input_def_free)

static ConfDomainInputDef *
conf_domain_input_def_copy(const ConfDomainInputDef *input)
{
    ConfDomainInputDef *ret = g_new0(ConfDomainInputDef, 1);

    *ret = *input;
    conf_device_info_copy(&ret->info, &input->info);
    return ret;
}

static void
conf_domain_graphics_def_free(ConfDomainGraphicsDef *graphics)
{
    if (!graphics)
        return;
    g_free(graphics->listen);
    g_free(graphics->passwd);
    g_free(graphics->keymap);
    g_free(graphics);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConfDomainGraphicsDef, conf_domain_graphics_def_free)

static ConfDomainGraphicsDef *
conf_domain_graphics_def_copy(const ConfDomainGraphicsDef *graphics)
{
    ConfDomainGraphicsDef *ret = g_new0(ConfDomainGraphicsDef, 1);

    *ret = *graphics;
    ret->listen = g_strdup(graphics->listen);
    ret->passwd = g_strdup(graphics->passwd);
    ret->keymap = g_strdup(graphics->keymap);
    return ret;
}

static void
conf_domain_video_def_free(ConfDomainVideoDef *video)
{
    if (!video)
        return;
    conf_device_info_clear(&video->info);
    g_free(video);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConfDomainVideoDef, conf_domain_video_def_free)

static ConfDomainVideoDef *
conf_domain_video_def_copy(const ConfDomainVideoDef *video)
{
    ConfDomainVideoDef *ret = g_new0(ConfDomainVideoDef, 1);

    *ret = *video;
    conf_device_info_copy(&ret->info, &video->info);
    return ret;
}

static void
conf_domain_memballoon_def_free(ConfDomainMemballoonDef *balloon)
{
    if (!balloon)
        return;
    conf_device_info_clear(&balloon->info);
    g_free(balloon);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConfDomainMemballoonDef, conf_domain_memballoon_def_free)

static ConfDomainMemballoonDef *
conf_domain_memballoon_def_copy(const ConfDomainMemballoonDef *balloon)
{
    ConfDomainMemballoonDef *ret = g_new0(ConfDomainMemballoonDef, 1);

    *ret = *balloon;
    conf_device_info_copy(&ret->info, &balloon->info);
    return ret;
}

static void
conf_domain_cpu_def_free(ConfDomainCpuDef *cpu)
{
    if (!cpu)
        return;
    g_free(cpu->model);
    g_free(cpu);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConfDomainCpuDef, conf_domain_cpu_def_free)

static ConfDomainCpuDef *
conf_domain_cpu_def_copy(const ConfDomainCpuDef *cpu)
{
    ConfDomainCpuDef *ret = g_new0(ConfDomainCpuDef, 1);

    *ret = *cpu;
    ret->model = g_strdup(cpu->model);
    return ret;
}

static ConfDomainTimerDef *
conf_domain_timer_def_copy(const ConfDomainTimerDef *timer)
{
    return g_memdup2(timer, sizeof(*timer));
}

static ConfDomainDef *
conf_domain_def_new(void)
{
    ConfDomainDef *def = g_new0(ConfDomainDef, 1);

    def->id = -1;
    def->on_poweroff = CONF_DOMAIN_LIFECYCLE_DESTROY;
    def->on_reboot = CONF_DOMAIN_LIFECYCLE_RESTART;
    def->on_crash = CONF_DOMAIN_LIFECYCLE_DESTROY;
    def->timers = g_ptr_array_new_with_free_func(g_free);
    def->disks = g_ptr_array_new_with_free_func((GDestroyNotify)conf_domain_disk_def_free);
    def->controllers = g_ptr_array_new_with_free_func((GDestroyNotify)conf_domain_controller_def_free);
    def->nets = g_ptr_array_new_with_free_func((GDestroyNotify)conf_domain_net_def_free);
    def->serials = g_ptr_array_new_with_free_func((GDestroyNotify)conf_domain_chr_def_free);
    def->consoles = g_ptr_array_new_with_free_func((GDestroyNotify)conf_domain_chr_def_free);
    def->inputs = g_ptr_array_new_with_free_func((GDestroyNotify)conf_domain_input_def_free);
    def->graphics = g_ptr_array_new_with_free_func((GDestroyNotify)conf_domain_graphics_def_free);
    def->videos = g_ptr_array_new_with_free_func((GDestroyNotify)conf_domain_video_def_free);
    return def;
}

void
conf_domain_def_free(ConfDomainDef *def)
{
    if (!def)
        return;
    g_free(def->name);
    g_free(def->title);
    g_free(def->description);
    g_free(def->metadata);
    g_free(def->os.arch);
    g_free(def->os.machine);
    g_free(def->os.kernel);
    g_free(def->os.initrd);
    g_free(def->os.cmdline);
    conf_domain_cpu_def_free(def->cpu);
    g_clear_pointer(&def->timers, g_ptr_array_unref);
    g_free(def->emulator);
    g_clear_pointer(&def->disks, g_ptr_array_unref);
    g_clear_pointer(&def->controllers, g_ptr_array_unref);
    g_clear_pointer(&def->nets, g_ptr_array_unref);
    g_clear_pointer(&def->serials, g_ptr_array_unref);
    g_clear_pointer(&def->consoles, g_ptr_array_unref);
    g_clear_pointer(&def->inputs, g_ptr_array_unref);
    g_clear_pointer(&def->graphics, g_ptr_array_unref);
    g_clear_pointer(&def->videos, g_ptr_array_unref);
    conf_domain_memballoon_def_free(def->memballoon);
    g_free(def);
}

#define CONF_COPY_ARRAY(dst, src, copyfn) \
    do { \
        for (guint i_ = 0; i_ < (src)->len; i_++) \
            g_ptr_array_add((dst), copyfn(g_ptr_array_index((src), i_))); \
    } while (0)

ConfDomainDef *
conf_domain_copy(const ConfDomainDef *def)
{
    ConfDomainDef *ret = NULL;

    g_return_val_if_fail(def != NULL, NULL);

    ret = conf_domain_def_new();
    ret->virt_type = def->virt_type;
    ret->id = def->id;
    ret->name = g_strdup(def->name);
    memcpy(ret->uuid, def->uuid, sizeof(ret->uuid));
    ret->uuid_generated = def->uuid_generated;
    ret->title = g_strdup(def->title);
    ret->description = g_strdup(def->description);
    ret->metadata = g_strdup(def->metadata);
    ret->node_name_index = def->node_name_index;
    ret->memory_kib = def->memory_kib;
    ret->current_memory_kib = def->current_memory_kib;
    ret->vcpus = def->vcpus;

    ret->os = def->os;
    ret->os.arch = g_strdup(def->os.arch);
    ret->os.machine = g_strdup(def->os.machine);
    ret->os.kernel = g_strdup(def->os.kernel);
    ret->os.initrd = g_strdup(def->os.initrd);
    ret->os.cmdline = g_strdup(def->os.cmdline);

    memcpy(ret->features, def->features, sizeof(ret->features));
    ret->cpu = def->cpu ? conf_domain_cpu_def_copy(def->cpu) : NULL;
    ret->clock_offset = def->clock_offset;
    CONF_COPY_ARRAY(ret->timers, def->timers, conf_domain_timer_def_copy);
    ret->on_poweroff = def->on_poweroff;
    ret->on_reboot = def->on_reboot;
    ret->on_crash = def->on_crash;
    ret->pm_suspend_to_mem = def->pm_suspend_to_mem;
    ret->pm_suspend_to_disk = def->pm_suspend_to_disk;

    ret->emulator = g_strdup(def->emulator);
    CONF_COPY_ARRAY(ret->disks, def->disks, conf_domain_disk_def_copy);
    CONF_COPY_ARRAY(ret->controllers, def->controllers, conf_domain_controller_def_copy);
    CONF_COPY_ARRAY(ret->nets, def->nets, conf_domain_net_def_copy);
    CONF_COPY_ARRAY(ret->serials, def->serials, conf_domain_chr_def_copy);
    CONF_COPY_ARRAY(ret->consoles, def->consoles, conf_domain_chr_def_copy);
    CONF_COPY_ARRAY(ret->inputs, def->inputs, conf_domain_input_def_copy);
    CONF_COPY_ARRAY(ret->graphics, def->graphics, conf_domain_graphics_def_copy);
    CONF_COPY_ARRAY(ret->videos, def->videos, conf_domain_video_def_copy);
    ret->memballoon = def->memballoon ? conf_domain_memballoon_def_copy(def->memballoon) : NULL;
    return ret;
}

ConfDomainDiskDef *
conf_domain_find_disk(const ConfDomainDef *def, const char *name)
{
    g_return_val_if_fail(def != NULL, NULL);
    if (!name)
        return NULL;

    for (guint i = 0; i < def->disks->len; i++) {
        ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (g_strcmp0(disk->dst, name) == 0)
            return disk;
    }
    for (guint i = 0; i < def->disks->len; i++) {
        ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (disk->src->path && strcmp(disk->src->path, name) == 0)
            return disk;
    }
    return NULL;
}

/* ------------------------------------------------------------------ */
/* XML reading helpers                                                 */
/* ------------------------------------------------------------------ */

#define CONF_ATTRS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define CONF_NO_ATTRS ((const char *const[]){ NULL })

static const char *
conf_xml_name(const xmlNode *node)
{
    return (const char *)node->name;
}

static bool
conf_xml_is(const xmlNode *node, const char *name)
{
    return strcmp(conf_xml_name(node), name) == 0;
}

/* The value of attribute @name (no namespace), NULL if absent. */
static char *
conf_xml_prop(const xmlNode *node, const char *name)
{
    xmlChar *value = xmlGetNoNsProp((xmlNode *)node, (const xmlChar *)name);
    char *ret = g_strdup((const char *)value);

    xmlFree(value);
    return ret;
}

static bool
conf_xml_has_prop(const xmlNode *node, const char *name)
{
    return xmlHasNsProp((xmlNode *)node, (const xmlChar *)name, NULL) != NULL;
}

/* Refuses attributes not in @allowed (NULL-terminated), and any attribute
 * in a namespace. */
static bool
conf_xml_check_attrs(const xmlNode *node, const char *const *allowed, GError **error)
{
    for (const xmlAttr *attr = node->properties; attr; attr = attr->next) {
        const char *name = (const char *)attr->name;

        if (attr->ns || !conf_str_in_list(allowed, name)) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unsupported attribute '%s%s%s' in element <%s>",
                           attr->ns && attr->ns->prefix ? (const char *)attr->ns->prefix : "",
                           attr->ns && attr->ns->prefix ? ":" : "",
                           name, conf_xml_name(node));
            return false;
        }
    }
    return true;
}

static void
conf_xml_unsupported_child(const xmlNode *parent, const xmlNode *child, GError **error)
{
    util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                   "unsupported element <%s%s%s> in <%s>",
                   child->ns && child->ns->prefix ? (const char *)child->ns->prefix : "",
                   child->ns && child->ns->prefix ? ":" : "",
                   conf_xml_name(child), conf_xml_name(parent));
}

static bool
conf_xml_is_blank(const char *text)
{
    for (; text && *text; text++) {
        if (!g_ascii_isspace(*text))
            return false;
    }
    return true;
}

/* Checks the children of an element that holds only elements: text must be
 * blank, elements must be in no namespace.  Comments are fine. */
static bool
conf_xml_check_container(const xmlNode *node, GError **error)
{
    for (const xmlNode *child = node->children; child; child = child->next) {
        switch (child->type) {
        case XML_ELEMENT_NODE:
            if (child->ns) {
                conf_xml_unsupported_child(node, child, error);
                return false;
            }
            break;
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            if (!conf_xml_is_blank((const char *)child->content)) {
                g_autofree char *text = g_strstrip(g_strdup((const char *)child->content));

                if (g_utf8_strlen(text, -1) > 20) {
                    char *end = g_utf8_offset_to_pointer(text, 20);
                    *end = '\0';
                }
                util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                               "unexpected text '%s' in element <%s>",
                               text, conf_xml_name(node));
                return false;
            }
            break;
        case XML_COMMENT_NODE:
        case XML_PI_NODE:
            break;
        default:
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "unexpected content in element <%s>", conf_xml_name(node));
            return false;
        }
    }
    return true;
}

/* An element without content: <readonly/>, <acpi/>. */
static bool
conf_xml_check_empty(const xmlNode *node, GError **error)
{
    if (!conf_xml_check_container(node, error))
        return false;
    for (const xmlNode *child = node->children; child; child = child->next) {
        if (child->type == XML_ELEMENT_NODE) {
            conf_xml_unsupported_child(node, child, error);
            return false;
        }
    }
    return true;
}

/* The text content of an element that holds only text. */
static char *
conf_xml_text(const xmlNode *node, GError **error)
{
    g_autoptr(GString) text = g_string_new(NULL);

    for (const xmlNode *child = node->children; child; child = child->next) {
        switch (child->type) {
        case XML_TEXT_NODE:
        case XML_CDATA_SECTION_NODE:
            g_string_append(text, (const char *)child->content);
            break;
        case XML_COMMENT_NODE:
        case XML_PI_NODE:
            break;
        case XML_ELEMENT_NODE:
            conf_xml_unsupported_child(node, child, error);
            return NULL;
        default:
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "unexpected content in element <%s>", conf_xml_name(node));
            return NULL;
        }
    }
    return g_string_free(g_steal_pointer(&text), FALSE);
}

/* Remembers @child in @slot; an element may appear once. */
static bool
conf_xml_once(xmlNode **slot, xmlNode *child, GError **error)
{
    if (*slot) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "element <%s> may appear only once in <%s>",
                       conf_xml_name(child), conf_xml_name(child->parent));
        return false;
    }
    *slot = child;
    return true;
}

static bool
conf_has_control_chars(const char *str)
{
    for (const unsigned char *p = (const unsigned char *)str; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return true;
    }
    return false;
}

/* Plain decimal digits, no sign, no blanks, fits in 64 bits. */
static bool
conf_parse_ull(const char *str, unsigned long long *ret)
{
    guint64 value = 0;

    if (!str || !*str)
        return false;
    for (const char *p = str; *p; p++) {
        if (!g_ascii_isdigit(*p))
            return false;
    }
    if (!g_ascii_string_to_unsigned(str, 10, 0, G_MAXUINT64, &value, NULL))
        return false;
    *ret = value;
    return true;
}

/* Decimal, or hexadecimal with a 0x prefix (PCI addresses). */
static bool
conf_parse_ull_hex(const char *str, unsigned long long *ret)
{
    guint64 value = 0;

    if (str && (g_str_has_prefix(str, "0x") || g_str_has_prefix(str, "0X"))) {
        const char *hex = str + 2;

        if (!*hex)
            return false;
        for (const char *p = hex; *p; p++) {
            if (!g_ascii_isxdigit(*p))
                return false;
        }
        if (!g_ascii_string_to_unsigned(hex, 16, 0, G_MAXUINT64, &value, NULL))
            return false;
        *ret = value;
        return true;
    }
    return conf_parse_ull(str, ret);
}

static void
conf_error_invalid_attr(GError **error, int code, const xmlNode *node,
                        const char *attr, const char *value)
{
    util_error_set(error, VIR_FROM_DOMAIN, code,
                   "Invalid value for attribute '%s' in element '%s': '%s'",
                   attr, conf_xml_name(node), value);
}

/* An unsigned attribute in [min, max].  Returns 1 if present (*ret set),
 * 0 if absent, -1 on error. */
static int
conf_xml_uint_attr(const xmlNode *node, const char *attr, bool hex,
                   unsigned long long min, unsigned long long max,
                   unsigned long long *ret, GError **error)
{
    g_autofree char *str = conf_xml_prop(node, attr);
    unsigned long long value = 0;

    if (!str)
        return 0;
    if (!(hex ? conf_parse_ull_hex(str, &value) : conf_parse_ull(str, &value))) {
        conf_error_invalid_attr(error, VIR_ERR_XML_ERROR, node, attr, str);
        return -1;
    }
    if (value < min || value > max) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "Invalid value for attribute '%s' in element '%s': '%s' (expected %llu..%llu)",
                       attr, conf_xml_name(node), str, min, max);
        return -1;
    }
    *ret = value;
    return 1;
}

static int
conf_xml_uint_attr_u(const xmlNode *node, const char *attr, bool hex,
                     unsigned int min, unsigned int max, unsigned int *ret, GError **error)
{
    unsigned long long value = 0;
    int rc = conf_xml_uint_attr(node, attr, hex, min, max, &value, error);

    if (rc > 0)
        *ret = (unsigned int)value;
    return rc;
}

/* An enum attribute: 1 if present (*ret set), 0 if absent, -1 on error.
 * Values from @table[first..n) are accepted; those in @unsupported (may be
 * NULL) are libvirt values outside our subset (VIR_ERR_CONFIG_UNSUPPORTED);
 * anything else is reported with @code. */
static int
conf_xml_enum_attr(const xmlNode *node, const char *attr,
                   const char *const *table, int n, int first,
                   const char *const *unsupported, int code,
                   int *ret, GError **error)
{
    g_autofree char *str = conf_xml_prop(node, attr);
    int value;

    if (!str)
        return 0;
    if ((value = conf_enum_from_string(table, n, first, str)) < 0) {
        if (unsupported && conf_str_in_list(unsupported, str)) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unsupported value for attribute '%s' in element '%s': '%s'",
                           attr, conf_xml_name(node), str);
        } else {
            conf_error_invalid_attr(error, code, node, attr, str);
        }
        return -1;
    }
    *ret = value;
    return 1;
}

static int
conf_xml_tristate_bool_attr(const xmlNode *node, const char *attr,
                            ConfTristateBool *ret, GError **error)
{
    int value = 0;
    int rc = conf_xml_enum_attr(node, attr, conf_tristate_bool_names, CONF_TRISTATE_BOOL_LAST,
                                1, NULL, VIR_ERR_XML_ERROR, &value, error);

    if (rc > 0)
        *ret = value;
    return rc;
}

static int
conf_xml_tristate_switch_attr(const xmlNode *node, const char *attr,
                              ConfTristateSwitch *ret, GError **error)
{
    int value = 0;
    int rc = conf_xml_enum_attr(node, attr, conf_tristate_switch_names, CONF_TRISTATE_SWITCH_LAST,
                                1, NULL, VIR_ERR_XML_ERROR, &value, error);

    if (rc > 0)
        *ret = value;
    return rc;
}

/* A required, non-empty string attribute without control characters. */
static char *
conf_xml_required_attr(const xmlNode *node, const char *attr, GError **error)
{
    g_autofree char *str = conf_xml_prop(node, attr);

    if (!str || !*str) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "missing attribute '%s' in element <%s>", attr, conf_xml_name(node));
        return NULL;
    }
    if (conf_has_control_chars(str)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "attribute '%s' in element <%s> contains control characters",
                       attr, conf_xml_name(node));
        return NULL;
    }
    return g_steal_pointer(&str);
}

/* An optional string attribute: false on error, *ret NULL if absent. */
static bool
conf_xml_optional_attr(const xmlNode *node, const char *attr, char **ret, GError **error)
{
    g_autofree char *str = conf_xml_prop(node, attr);

    if (str && conf_has_control_chars(str)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "attribute '%s' in element <%s> contains control characters",
                       attr, conf_xml_name(node));
        return false;
    }
    g_free(*ret);
    *ret = g_steal_pointer(&str);
    return true;
}

/* [A-Za-z0-9] plus the characters in @extra, at least one character. */
static bool
conf_is_word(const char *str, const char *extra)
{
    if (!str || !*str)
        return false;
    for (const char *p = str; *p; p++) {
        if (!g_ascii_isalnum(*p) && !strchr(extra, *p))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* device info: <alias>, <address>, <boot>                             */
/* ------------------------------------------------------------------ */

#define CONF_USER_ALIAS_PREFIX "ua-"

static bool
conf_alias_parse(const xmlNode *node, ConfDeviceInfo *info, unsigned int flags, GError **error)
{
    g_autofree char *name = NULL;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("name"), error) ||
        !conf_xml_check_empty(node, error) ||
        !(name = conf_xml_required_attr(node, "name", error)))
        return false;
    if (!conf_is_word(name, "_-.")) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "device alias '%s' contains characters other than letters, digits, '_', '-' and '.'",
                       name);
        return false;
    }
    /* Like libvirt: only user aliases survive a define; the others are
     * names the hypervisor driver gives a running guest. */
    if (!(flags & CONF_DOMAIN_PARSE_STATUS) && !g_str_has_prefix(name, CONF_USER_ALIAS_PREFIX))
        return true;
    info->alias = g_steal_pointer(&name);
    return true;
}

static bool
conf_address_parse(const xmlNode *node, ConfDeviceAddress *addr, GError **error)
{
    int type = CONF_DEVICE_ADDRESS_NONE;
    int rc;

    if (!conf_xml_check_empty(node, error))
        return false;
    rc = conf_xml_enum_attr(node, "type", conf_device_address_names, CONF_DEVICE_ADDRESS_LAST, 1,
                            CONF_ATTRS("ccw", "isa", "spapr-vio", "virtio-mmio", "ccid",
                                       "dimm", "unassigned", "virtio-s390"),
                            VIR_ERR_XML_ERROR, &type, error);
    if (rc < 0)
        return false;
    if (rc == 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "missing attribute 'type' in element <address>");
        return false;
    }

    memset(addr, 0, sizeof(*addr));
    addr->type = type;
    switch ((ConfDeviceAddressType)type) {
    case CONF_DEVICE_ADDRESS_PCI:
        if (!conf_xml_check_attrs(node, CONF_ATTRS("type", "domain", "bus", "slot", "function",
                                                   "multifunction"), error) ||
            conf_xml_uint_attr_u(node, "domain", true, 0, 0xffff, &addr->domain, error) < 0 ||
            conf_xml_uint_attr_u(node, "bus", true, 0, 0xff, &addr->bus, error) < 0 ||
            conf_xml_uint_attr_u(node, "slot", true, 0, 0x1f, &addr->slot, error) < 0 ||
            conf_xml_uint_attr_u(node, "function", true, 0, 7, &addr->function, error) < 0 ||
            conf_xml_tristate_switch_attr(node, "multifunction", &addr->multifunction, error) < 0)
            return false;
        break;
    case CONF_DEVICE_ADDRESS_DRIVE:
        if (!conf_xml_check_attrs(node, CONF_ATTRS("type", "controller", "bus", "target", "unit"),
                                  error) ||
            conf_xml_uint_attr_u(node, "controller", false, 0, G_MAXINT, &addr->controller, error) < 0 ||
            conf_xml_uint_attr_u(node, "bus", false, 0, G_MAXINT, &addr->bus, error) < 0 ||
            conf_xml_uint_attr_u(node, "target", false, 0, G_MAXINT, &addr->target, error) < 0 ||
            conf_xml_uint_attr_u(node, "unit", false, 0, G_MAXINT, &addr->unit, error) < 0)
            return false;
        break;
    case CONF_DEVICE_ADDRESS_VIRTIO_SERIAL:
        if (!conf_xml_check_attrs(node, CONF_ATTRS("type", "controller", "bus", "port"), error) ||
            conf_xml_uint_attr_u(node, "controller", false, 0, G_MAXINT, &addr->controller, error) < 0 ||
            conf_xml_uint_attr_u(node, "bus", false, 0, G_MAXINT, &addr->bus, error) < 0 ||
            conf_xml_uint_attr_u(node, "port", false, 0, G_MAXINT, &addr->port, error) < 0)
            return false;
        break;
    case CONF_DEVICE_ADDRESS_USB: {
        g_auto(GStrv) parts = NULL;

        if (!conf_xml_check_attrs(node, CONF_ATTRS("type", "bus", "port"), error) ||
            conf_xml_uint_attr_u(node, "bus", false, 0, G_MAXINT, &addr->bus, error) < 0 ||
            !conf_xml_optional_attr(node, "port", &addr->usb_port, error))
            return false;
        if (addr->usb_port) {
            bool ok = true;
            guint n = 0;

            parts = g_strsplit(addr->usb_port, ".", -1);
            for (n = 0; parts[n]; n++) {
                unsigned long long value = 0;

                if (!conf_parse_ull(parts[n], &value) || value > 255)
                    ok = false;
            }
            if (!ok || n > 5) {
                conf_error_invalid_attr(error, VIR_ERR_XML_ERROR, node, "port", addr->usb_port);
                g_clear_pointer(&addr->usb_port, g_free);
                return false;
            }
        }
        break;
    }
    case CONF_DEVICE_ADDRESS_NONE:
    case CONF_DEVICE_ADDRESS_LAST:
        g_assert_not_reached();
    }
    return true;
}

static bool
conf_device_info_parse(const xmlNode *alias, const xmlNode *address, ConfDeviceInfo *info,
                       unsigned int flags, GError **error)
{
    if (alias && !conf_alias_parse(alias, info, flags, error))
        return false;
    if (address && !conf_address_parse(address, &info->addr, error))
        return false;
    return true;
}

static bool
conf_boot_order_parse(const xmlNode *node, unsigned int *ret, GError **error)
{
    g_autofree char *str = NULL;
    unsigned long long value = 0;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("order"), error) ||
        !conf_xml_check_empty(node, error))
        return false;
    if (!(str = conf_xml_prop(node, "order"))) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "missing attribute 'order' in element <boot>");
        return false;
    }
    if (conf_parse_ull(str, &value) && value == 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "Invalid value for attribute 'order' in element 'boot': Zero is not permitted");
        return false;
    }
    if (conf_xml_uint_attr(node, "order", false, 1, G_MAXINT, &value, error) < 0)
        return false;
    *ret = (unsigned int)value;
    return true;
}

/* ------------------------------------------------------------------ */
/* disks and backing chains                                            */
/* ------------------------------------------------------------------ */

static const char *
conf_storage_source_describe(const ConfStorageSource *src, char **tmp)
{
    if (src->path)
        return src->path;
    if (src->pool && src->volume)
        return *tmp = g_strdup_printf("%s/%s", src->pool, src->volume);
    return "(empty)";
}

/* <privateData><nodenames><nodename type='storage|format' name='...'/>... */
static bool
conf_storage_private_parse(const xmlNode *node, ConfStorageSource *src,
                           unsigned int flags, GError **error)
{
    xmlNode *nodenames = NULL;
    xmlNode *relpath = NULL;

    if (!conf_xml_check_attrs(node, CONF_NO_ATTRS, error) ||
        !conf_xml_check_container(node, error))
        return false;
    for (xmlNode *child = node->children; child; child = child->next) {
        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (conf_xml_is(child, "nodenames")) {
            if (!conf_xml_once(&nodenames, child, error))
                return false;
        } else if (conf_xml_is(child, "relPath")) {
            if (!conf_xml_once(&relpath, child, error))
                return false;
        } else {
            conf_xml_unsupported_child(node, child, error);
            return false;
        }
    }
    if (relpath) {
        g_autofree char *text = NULL;

        if (!conf_xml_check_attrs(relpath, CONF_NO_ATTRS, error) ||
            !(text = conf_xml_text(relpath, error)))
            return false;
        if (!*text || conf_has_control_chars(text)) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "invalid backing name '%s' in <relPath>", text);
            return false;
        }
        if (flags & CONF_DOMAIN_PARSE_STATUS) {
            g_free(src->backing_name_raw);
            src->backing_name_raw = g_steal_pointer(&text);
        }
    }
    if (!nodenames)
        return true;
    if (!conf_xml_check_attrs(nodenames, CONF_NO_ATTRS, error) ||
        !conf_xml_check_container(nodenames, error))
        return false;
    for (xmlNode *child = nodenames->children; child; child = child->next) {
        g_autofree char *type = NULL;
        g_autofree char *name = NULL;
        char **slot = NULL;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (!conf_xml_is(child, "nodename")) {
            conf_xml_unsupported_child(nodenames, child, error);
            return false;
        }
        if (!conf_xml_check_attrs(child, CONF_ATTRS("type", "name"), error) ||
            !conf_xml_check_empty(child, error) ||
            !(type = conf_xml_required_attr(child, "type", error)) ||
            !(name = conf_xml_required_attr(child, "name", error)))
            return false;
        if (strcmp(type, "storage") == 0) {
            slot = &src->node_name_storage;
        } else if (strcmp(type, "format") == 0) {
            slot = &src->node_name_format;
        } else {
            conf_error_invalid_attr(error, VIR_ERR_XML_ERROR, child, "type", type);
            return false;
        }
        if (!conf_is_word(name, "_-.#")) {
            conf_error_invalid_attr(error, VIR_ERR_XML_ERROR, child, "name", name);
            return false;
        }
        if (flags & CONF_DOMAIN_PARSE_STATUS) {
            g_free(*slot);
            *slot = g_steal_pointer(&name);
        }
    }
    return true;
}

/* <source file=|dev=|pool= volume=> for @src->type; "" means empty. */
static bool
conf_storage_source_parse(const xmlNode *node, ConfStorageSource *src,
                          unsigned int flags, GError **error)
{
    xmlNode *private = NULL;

    switch (src->type) {
    case CONF_STORAGE_TYPE_FILE:
        if (!conf_xml_check_attrs(node, CONF_ATTRS("file", "index"), error) ||
            !conf_xml_optional_attr(node, "file", &src->path, error))
            return false;
        break;
    case CONF_STORAGE_TYPE_BLOCK:
        if (!conf_xml_check_attrs(node, CONF_ATTRS("dev", "index"), error) ||
            !conf_xml_optional_attr(node, "dev", &src->path, error))
            return false;
        break;
    case CONF_STORAGE_TYPE_VOLUME:
        if (!conf_xml_check_attrs(node, CONF_ATTRS("pool", "volume", "index"), error) ||
            !conf_xml_optional_attr(node, "pool", &src->pool, error) ||
            !conf_xml_optional_attr(node, "volume", &src->volume, error))
            return false;
        if (src->pool && !*src->pool)
            g_clear_pointer(&src->pool, g_free);
        if (src->volume && !*src->volume)
            g_clear_pointer(&src->volume, g_free);
        if (!src->pool != !src->volume) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "'pool' and 'volume' must be specified together for 'volume' type source");
            return false;
        }
        break;
    case CONF_STORAGE_TYPE_LAST:
        g_assert_not_reached();
    }
    if (src->path && !*src->path)
        g_clear_pointer(&src->path, g_free);
    if (conf_xml_has_prop(node, "index") &&
        conf_xml_uint_attr(node, "index", false, 0, G_MAXINT, &(unsigned long long){0}, error) < 0)
        return false;

    if (!conf_xml_check_container(node, error))
        return false;
    for (xmlNode *child = node->children; child; child = child->next) {
        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (!conf_xml_is(child, "privateData")) {
            conf_xml_unsupported_child(node, child, error);
            return false;
        }
        if (!conf_xml_once(&private, child, error))
            return false;
    }
    if (private && !conf_storage_private_parse(private, src, flags, error))
        return false;
    return true;
}

/* <backingStore> below @parent: either the terminator <backingStore/> or
 * <backingStore type='file|block'><format type=.../><source .../>[<backingStore>]. */
static bool
conf_backing_store_parse(const xmlNode *node, ConfStorageSource *parent,
                         unsigned int flags, GError **error)
{
    g_autoptr(ConfStorageSource) src = NULL;
    xmlNode *format = NULL;
    xmlNode *source = NULL;
    xmlNode *backing = NULL;
    int type = CONF_STORAGE_TYPE_FILE;
    int format_value = CONF_STORAGE_FORMAT_NONE;
    bool has_children = false;
    int rc;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("type", "index"), error) ||
        !conf_xml_check_container(node, error))
        return false;
    for (xmlNode *child = node->children; child; child = child->next) {
        if (child->type == XML_ELEMENT_NODE)
            has_children = true;
    }
    if (!conf_xml_has_prop(node, "type")) {
        if (has_children) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "missing disk backing store type");
            return false;
        }
        parent->backing_terminated = true;
        return true;
    }
    rc = conf_xml_enum_attr(node, "type", conf_storage_type_names, CONF_STORAGE_TYPE_VOLUME, 0,
                            CONF_ATTRS("volume", "network", "dir", "nvme", "vhostuser", "vhostvdpa"),
                            VIR_ERR_XML_ERROR, &type, error);
    if (rc < 0)
        return false;
    if (conf_xml_has_prop(node, "index") &&
        conf_xml_uint_attr(node, "index", false, 0, G_MAXINT, &(unsigned long long){0}, error) < 0)
        return false;

    for (xmlNode *child = node->children; child; child = child->next) {
        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (conf_xml_is(child, "format")) {
            if (!conf_xml_once(&format, child, error))
                return false;
        } else if (conf_xml_is(child, "source")) {
            if (!conf_xml_once(&source, child, error))
                return false;
        } else if (conf_xml_is(child, "backingStore")) {
            if (!conf_xml_once(&backing, child, error))
                return false;
        } else {
            conf_xml_unsupported_child(node, child, error);
            return false;
        }
    }

    if (!format) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "missing disk backing store format");
        return false;
    }
    if (!conf_xml_check_attrs(format, CONF_ATTRS("type"), error) ||
        !conf_xml_check_empty(format, error))
        return false;
    if (!conf_xml_has_prop(format, "type")) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "missing disk backing store format");
        return false;
    }
    if (conf_xml_enum_attr(format, "type", conf_storage_format_names, CONF_STORAGE_FORMAT_LAST, 1,
                           NULL, VIR_ERR_XML_ERROR, &format_value, error) < 0)
        return false;
    if (!source) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "missing disk backing store source");
        return false;
    }

    src = conf_storage_source_new(type);
    src->format = format_value;
    if (!conf_storage_source_parse(source, src, flags, error))
        return false;
    if (!src->path) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "missing disk backing store source");
        return false;
    }
    if (backing && !conf_backing_store_parse(backing, src, flags, error))
        return false;
    if (src->format == CONF_STORAGE_FORMAT_RAW && src->backing) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "backing store '%s' is a raw image and cannot have a backing store",
                       src->path);
        return false;
    }
    parent->backing = g_steal_pointer(&src);
    return true;
}

/* <mirror type= job= ready= [file= format=]><format type=/><source .../></mirror>:
 * runtime data, kept only with the STATUS flag (the attributes file= and
 * format= are the old form libvirt still writes for copy jobs). */
static bool
conf_disk_mirror_parse(const xmlNode *node, ConfDomainDiskDef *disk, unsigned int flags,
                       GError **error)
{
    g_autoptr(ConfStorageSource) mirror = NULL;
    g_autofree char *file = NULL;
    xmlNode *format = NULL;
    xmlNode *source = NULL;
    xmlNode *backing = NULL;
    int type = CONF_STORAGE_TYPE_FILE;
    int job = CONF_DOMAIN_DISK_MIRROR_JOB_COPY;
    int ready = CONF_DOMAIN_DISK_MIRROR_READY_NONE;
    int format_value = CONF_STORAGE_FORMAT_NONE;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("type", "file", "format", "job", "ready"), error) ||
        !conf_xml_check_container(node, error) ||
        conf_xml_enum_attr(node, "type", conf_storage_type_names, CONF_STORAGE_TYPE_VOLUME, 0,
                           NULL, VIR_ERR_XML_ERROR, &type, error) < 0 ||
        conf_xml_enum_attr(node, "job", conf_disk_mirror_job_names,
                           CONF_DOMAIN_DISK_MIRROR_JOB_LAST, 0, NULL, VIR_ERR_XML_ERROR,
                           &job, error) < 0 ||
        conf_xml_enum_attr(node, "ready", conf_disk_mirror_ready_names,
                           CONF_DOMAIN_DISK_MIRROR_READY_LAST, 1, NULL, VIR_ERR_XML_ERROR,
                           &ready, error) < 0 ||
        conf_xml_enum_attr(node, "format", conf_storage_format_names, CONF_STORAGE_FORMAT_LAST,
                           1, NULL, VIR_ERR_XML_ERROR, &format_value, error) < 0 ||
        !conf_xml_optional_attr(node, "file", &file, error))
        return false;
    for (xmlNode *child = node->children; child; child = child->next) {
        xmlNode **slot = NULL;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (conf_xml_is(child, "format"))
            slot = &format;
        else if (conf_xml_is(child, "source"))
            slot = &source;
        else if (conf_xml_is(child, "backingStore"))
            slot = &backing;
        if (!slot) {
            conf_xml_unsupported_child(node, child, error);
            return false;
        }
        if (!conf_xml_once(slot, child, error))
            return false;
    }
    mirror = conf_storage_source_new(type);
    if (format) {
        if (!conf_xml_check_attrs(format, CONF_ATTRS("type"), error) ||
            !conf_xml_check_empty(format, error) ||
            conf_xml_enum_attr(format, "type", conf_storage_format_names,
                               CONF_STORAGE_FORMAT_LAST, 1, NULL, VIR_ERR_XML_ERROR,
                               &format_value, error) < 0)
            return false;
    }
    mirror->format = format_value;
    if (source && !conf_storage_source_parse(source, mirror, flags, error))
        return false;
    if (!mirror->path && file && type == CONF_STORAGE_TYPE_FILE)
        mirror->path = g_steal_pointer(&file);
    if (!mirror->path) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "mirror requires source element");
        return false;
    }
    if (backing && !conf_backing_store_parse(backing, mirror, flags, error))
        return false;
    if (!(flags & CONF_DOMAIN_PARSE_STATUS))
        return true;
    conf_storage_source_free(disk->mirror);
    disk->mirror = g_steal_pointer(&mirror);
    disk->mirror_job = job;
    disk->mirror_ready = ready;
    return true;
}

static bool
conf_disk_driver_parse(const xmlNode *node, ConfDomainDiskDef *disk, GError **error)
{
    int value = 0;
    int rc;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("name", "type", "cache", "discard", "io"), error) ||
        !conf_xml_check_empty(node, error) ||
        !conf_xml_optional_attr(node, "name", &disk->driver_name, error))
        return false;
    if (disk->driver_name && !conf_is_word(disk->driver_name, "_-")) {
        conf_error_invalid_attr(error, VIR_ERR_XML_ERROR, node, "name", disk->driver_name);
        return false;
    }
    rc = conf_xml_enum_attr(node, "type", conf_storage_format_names, CONF_STORAGE_FORMAT_LAST, 1,
                            CONF_ATTRS("auto", "bochs", "cloop", "dmg", "iso", "vpc", "vdi",
                                       "fat", "vhd", "ploop", "cow", "qcow", "qed", "vmdk",
                                       "luks", "vhdx"),
                            VIR_ERR_CONFIG_UNSUPPORTED, &value, error);
    if (rc < 0)
        return false;
    if (rc > 0)
        disk->src->format = value;
    if ((rc = conf_xml_enum_attr(node, "cache", conf_disk_cache_names, CONF_DOMAIN_DISK_CACHE_LAST,
                                 0, NULL, VIR_ERR_XML_ERROR, &value, error)) < 0)
        return false;
    if (rc > 0)
        disk->cache = value;
    if ((rc = conf_xml_enum_attr(node, "discard", conf_disk_discard_names,
                                 CONF_DOMAIN_DISK_DISCARD_LAST, 0, NULL, VIR_ERR_XML_ERROR,
                                 &value, error)) < 0)
        return false;
    if (rc > 0)
        disk->discard = value;
    if ((rc = conf_xml_enum_attr(node, "io", conf_disk_io_names, CONF_DOMAIN_DISK_IO_LAST, 0,
                                 NULL, VIR_ERR_XML_ERROR, &value, error)) < 0)
        return false;
    if (rc > 0)
        disk->io = value;
    return true;
}

/* The bus a target name implies when <target bus> is absent. */
static int
conf_disk_bus_from_name(const char *dst)
{
    if (g_str_has_prefix(dst, "hd"))
        return CONF_DOMAIN_DISK_BUS_IDE;
    if (g_str_has_prefix(dst, "sd"))
        return CONF_DOMAIN_DISK_BUS_SCSI;
    if (g_str_has_prefix(dst, "vd"))
        return CONF_DOMAIN_DISK_BUS_VIRTIO;
    if (g_str_has_prefix(dst, "fd"))
        return CONF_DOMAIN_DISK_BUS_FDC;
    return -1;
}

static bool
conf_disk_target_parse(const xmlNode *node, ConfDomainDiskDef *disk, GError **error)
{
    int bus = -1;
    const char *prefix = NULL;
    const char *suffix = NULL;
    size_t suffix_len = 0;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("dev", "bus"), error) ||
        !conf_xml_check_empty(node, error))
        return false;
    if (!conf_xml_optional_attr(node, "dev", &disk->dst, error))
        return false;
    if (!disk->dst || !*disk->dst) {
        g_autofree char *tmp = NULL;

        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_NO_TARGET,
                       "missing target information for device %s",
                       conf_storage_source_describe(disk->src, &tmp));
        return false;
    }
    if (conf_xml_enum_attr(node, "bus", conf_disk_bus_names, CONF_DOMAIN_DISK_BUS_LAST, 0,
                           CONF_ATTRS("xen", "uml", "sd", "none"),
                           VIR_ERR_XML_ERROR, &bus, error) < 0)
        return false;
    if (bus < 0 && (bus = conf_disk_bus_from_name(disk->dst)) < 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "unknown disk name '%s' and no bus specified", disk->dst);
        return false;
    }
    disk->bus = bus;

    prefix = conf_disk_bus_prefixes[bus];
    if (!g_str_has_prefix(disk->dst, prefix)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "disk target '%s' does not match bus '%s' (expected a name starting with '%s')",
                       disk->dst, conf_disk_bus_names[bus], prefix);
        return false;
    }
    suffix = disk->dst + strlen(prefix);
    suffix_len = strlen(suffix);
    for (const char *p = suffix; *p; p++) {
        if (*p < 'a' || *p > 'z')
            suffix_len = 0;
    }
    if (suffix_len < 1 || suffix_len > 3) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "invalid disk target name '%s'", disk->dst);
        return false;
    }
    return true;
}

static ConfDomainDiskDef *
conf_disk_parse(const xmlNode *node, unsigned int flags, GError **error)
{
    g_autoptr(ConfDomainDiskDef) disk = g_new0(ConfDomainDiskDef, 1);
    xmlNode *driver = NULL, *source = NULL, *backing = NULL, *target = NULL;
    xmlNode *readonly = NULL, *shareable = NULL, *serial = NULL, *boot = NULL;
    xmlNode *alias = NULL, *address = NULL, *mirror = NULL;
    g_autofree char *describe_tmp = NULL;
    int type = CONF_STORAGE_TYPE_FILE;
    int device = CONF_DOMAIN_DISK_DEVICE_DISK;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("type", "device"), error) ||
        conf_xml_enum_attr(node, "type", conf_storage_type_names, CONF_STORAGE_TYPE_LAST, 0,
                           CONF_ATTRS("network", "dir", "nvme", "vhostuser", "vhostvdpa"),
                           VIR_ERR_XML_ERROR, &type, error) < 0 ||
        conf_xml_enum_attr(node, "device", conf_disk_device_names, CONF_DOMAIN_DISK_DEVICE_LAST, 0,
                           CONF_ATTRS("lun"), VIR_ERR_XML_ERROR, &device, error) < 0)
        return NULL;
    disk->src = conf_storage_source_new(type);
    disk->device = device;

    if (!conf_xml_check_container(node, error))
        return NULL;
    for (xmlNode *child = node->children; child; child = child->next) {
        xmlNode **slot = NULL;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (conf_xml_is(child, "driver"))
            slot = &driver;
        else if (conf_xml_is(child, "source"))
            slot = &source;
        else if (conf_xml_is(child, "backingStore"))
            slot = &backing;
        else if (conf_xml_is(child, "target"))
            slot = &target;
        else if (conf_xml_is(child, "readonly"))
            slot = &readonly;
        else if (conf_xml_is(child, "shareable"))
            slot = &shareable;
        else if (conf_xml_is(child, "serial"))
            slot = &serial;
        else if (conf_xml_is(child, "boot"))
            slot = &boot;
        else if (conf_xml_is(child, "alias"))
            slot = &alias;
        else if (conf_xml_is(child, "address"))
            slot = &address;
        else if (conf_xml_is(child, "mirror"))
            slot = &mirror;
        if (!slot) {
            conf_xml_unsupported_child(node, child, error);
            return NULL;
        }
        if (!conf_xml_once(slot, child, error))
            return NULL;
    }

    if (driver && !conf_disk_driver_parse(driver, disk, error))
        return NULL;
    if (source && !conf_storage_source_parse(source, disk->src, flags, error))
        return NULL;
    if (!target) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_NO_TARGET,
                       "missing target information for device %s",
                       conf_storage_source_describe(disk->src, &describe_tmp));
        return NULL;
    }
    if (!conf_disk_target_parse(target, disk, error))
        return NULL;

    if (!disk->src->path && !disk->src->pool) {
        if (disk->device == CONF_DOMAIN_DISK_DEVICE_DISK) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_NO_SOURCE,
                           "missing source information for device %s", disk->dst);
            return NULL;
        }
        /* like libvirt: an empty drive is shown as type 'file' */
        disk->src->type = CONF_STORAGE_TYPE_FILE;
    }
    if (backing) {
        if (!conf_backing_store_parse(backing, disk->src, flags, error))
            return NULL;
        if (disk->src->backing && !disk->src->path && !disk->src->pool) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "disk '%s' has a backing store but no source", disk->dst);
            return NULL;
        }
        if (disk->src->backing && disk->src->format == CONF_STORAGE_FORMAT_RAW) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "disk '%s' is a raw image and cannot have a backing store", disk->dst);
            return NULL;
        }
    }

    if (disk->device == CONF_DOMAIN_DISK_DEVICE_FLOPPY && disk->bus != CONF_DOMAIN_DISK_BUS_FDC) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "Invalid bus type '%s' for floppy disk", conf_disk_bus_names[disk->bus]);
        return NULL;
    }
    if (disk->device != CONF_DOMAIN_DISK_DEVICE_FLOPPY && disk->bus == CONF_DOMAIN_DISK_BUS_FDC) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "Invalid bus type 'fdc' for %s", conf_disk_device_names[disk->device]);
        return NULL;
    }

    if (readonly) {
        if (!conf_xml_check_attrs(readonly, CONF_NO_ATTRS, error) ||
            !conf_xml_check_empty(readonly, error))
            return NULL;
        disk->readonly = true;
    }
    if (disk->device == CONF_DOMAIN_DISK_DEVICE_CDROM)
        disk->readonly = true;
    if (shareable) {
        if (!conf_xml_check_attrs(shareable, CONF_NO_ATTRS, error) ||
            !conf_xml_check_empty(shareable, error))
            return NULL;
        disk->shareable = true;
    }
    if (serial) {
        if (!conf_xml_check_attrs(serial, CONF_NO_ATTRS, error) ||
            !(disk->serial = conf_xml_text(serial, error)))
            return NULL;
        if (!*disk->serial) {
            g_clear_pointer(&disk->serial, g_free);
        } else if (!conf_is_word(disk->serial, "_ .+-")) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "disk serial (%s) contains invalid characters", disk->serial);
            return NULL;
        }
    }
    if (boot && !conf_boot_order_parse(boot, &disk->boot_order, error))
        return NULL;
    if (!conf_device_info_parse(alias, address, &disk->info, flags, error))
        return NULL;
    if (mirror && !conf_disk_mirror_parse(mirror, disk, flags, error))
        return NULL;
    return g_steal_pointer(&disk);
}

/* ------------------------------------------------------------------ */
/* controllers                                                         */
/* ------------------------------------------------------------------ */

static ConfDomainControllerDef *
conf_controller_parse(const xmlNode *node, unsigned int flags, bool *ret_index_given, GError **error)
{
    g_autoptr(ConfDomainControllerDef) ctrl = g_new0(ConfDomainControllerDef, 1);
    xmlNode *model = NULL, *target = NULL, *alias = NULL, *address = NULL;
    int type = CONF_DOMAIN_CONTROLLER_TYPE_IDE;
    unsigned long long value = 0;
    int rc;

    ctrl->ports = -1;
    ctrl->vectors = -1;
    ctrl->pci_chassis = -1;
    ctrl->pci_port = -1;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("type", "index", "model", "ports", "vectors"), error) ||
        conf_xml_enum_attr(node, "type", conf_controller_type_names, CONF_DOMAIN_CONTROLLER_TYPE_LAST,
                           0, NULL, VIR_ERR_XML_ERROR, &type, error) < 0)
        return NULL;
    ctrl->type = type;
    if ((rc = conf_xml_uint_attr_u(node, "index", false, 0, G_MAXINT, &ctrl->index, error)) < 0)
        return NULL;
    *ret_index_given = rc > 0;
    if (!conf_xml_optional_attr(node, "model", &ctrl->model, error))
        return NULL;
    if (ctrl->model && !conf_str_in_list(conf_controller_models[type], ctrl->model)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                       "Unknown model type '%s' for controller type '%s'",
                       ctrl->model, conf_controller_type_names[type]);
        return NULL;
    }
    if ((rc = conf_xml_uint_attr(node, "ports", false, 0, G_MAXINT, &value, error)) < 0)
        return NULL;
    if (rc > 0) {
        if (type != CONF_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL &&
            type != CONF_DOMAIN_CONTROLLER_TYPE_USB) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "attribute 'ports' is not supported for controller type '%s'",
                           conf_controller_type_names[type]);
            return NULL;
        }
        ctrl->ports = (int)value;
    }
    if ((rc = conf_xml_uint_attr(node, "vectors", false, 0, G_MAXINT, &value, error)) < 0)
        return NULL;
    if (rc > 0) {
        if (type != CONF_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "attribute 'vectors' is not supported for controller type '%s'",
                           conf_controller_type_names[type]);
            return NULL;
        }
        ctrl->vectors = (int)value;
    }

    if (!conf_xml_check_container(node, error))
        return NULL;
    for (xmlNode *child = node->children; child; child = child->next) {
        xmlNode **slot = NULL;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (conf_xml_is(child, "model") && type == CONF_DOMAIN_CONTROLLER_TYPE_PCI)
            slot = &model;
        else if (conf_xml_is(child, "target") && type == CONF_DOMAIN_CONTROLLER_TYPE_PCI)
            slot = &target;
        else if (conf_xml_is(child, "alias"))
            slot = &alias;
        else if (conf_xml_is(child, "address"))
            slot = &address;
        if (!slot) {
            conf_xml_unsupported_child(node, child, error);
            return NULL;
        }
        if (!conf_xml_once(slot, child, error))
            return NULL;
    }
    if (model) {
        if (!conf_xml_check_attrs(model, CONF_ATTRS("name"), error) ||
            !conf_xml_check_empty(model, error) ||
            !(ctrl->pci_model_name = conf_xml_required_attr(model, "name", error)))
            return NULL;
        if (!conf_is_word(ctrl->pci_model_name, "_-")) {
            conf_error_invalid_attr(error, VIR_ERR_XML_ERROR, model, "name", ctrl->pci_model_name);
            return NULL;
        }
    }
    if (target) {
        if (!conf_xml_check_attrs(target, CONF_ATTRS("chassis", "port"), error) ||
            !conf_xml_check_empty(target, error))
            return NULL;
        if ((rc = conf_xml_uint_attr(target, "chassis", false, 0, 255, &value, error)) < 0)
            return NULL;
        if (rc > 0)
            ctrl->pci_chassis = (int)value;
        if ((rc = conf_xml_uint_attr(target, "port", true, 0, 255, &value, error)) < 0)
            return NULL;
        if (rc > 0)
            ctrl->pci_port = (int)value;
    }
    if (type == CONF_DOMAIN_CONTROLLER_TYPE_PCI && ctrl->index > 255) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "pci controller index %u is out of range (0..255)", ctrl->index);
        return NULL;
    }
    if (!conf_device_info_parse(alias, address, &ctrl->info, flags, error))
        return NULL;
    return g_steal_pointer(&ctrl);
}

/* Adds @ctrl as libvirt does: after the controllers of the same type with a
 * lower index, before those with a higher one; a new type goes last. */
static bool
conf_controller_insert(ConfDomainDef *def, ConfDomainControllerDef *ctrl, bool index_given,
                       GError **error)
{
    g_autoptr(ConfDomainControllerDef) owned = ctrl;
    int insert_at = -1;
    int last_same_type = -1;

    if (!index_given) {
        int max_index = -1;

        for (guint i = 0; i < def->controllers->len; i++) {
            ConfDomainControllerDef *other = g_ptr_array_index(def->controllers, i);

            if (other->type == ctrl->type && (int)other->index > max_index)
                max_index = (int)other->index;
        }
        ctrl->index = (unsigned int)(max_index + 1);
    }

    for (guint i = 0; i < def->controllers->len; i++) {
        ConfDomainControllerDef *other = g_ptr_array_index(def->controllers, i);

        if (other->type != ctrl->type)
            continue;
        if (other->index == ctrl->index) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "Multiple '%s' controllers with index '%u'",
                           conf_controller_type_names[ctrl->type], ctrl->index);
            return false;
        }
        if (other->index > ctrl->index && insert_at < 0)
            insert_at = (int)i;
        last_same_type = (int)i;
    }
    if (insert_at < 0)
        insert_at = last_same_type >= 0 ? last_same_type + 1 : (int)def->controllers->len;
    g_ptr_array_insert(def->controllers, insert_at, g_steal_pointer(&owned));
    return true;
}

/* ------------------------------------------------------------------ */
/* interfaces                                                          */
/* ------------------------------------------------------------------ */

/* libvirt's virMacAddrParse: six groups of one or two hex digits. */
static bool
conf_mac_parse(const char *str, unsigned char mac[6])
{
    g_auto(GStrv) parts = g_strsplit(str, ":", -1);

    if (g_strv_length(parts) != 6)
        return false;
    for (int i = 0; i < 6; i++) {
        size_t len = strlen(parts[i]);

        if (len < 1 || len > 2 || !g_ascii_isxdigit(parts[i][0]) ||
            (len == 2 && !g_ascii_isxdigit(parts[i][1])))
            return false;
        mac[i] = (unsigned char)g_ascii_strtoull(parts[i], NULL, 16);
    }
    return true;
}

static void
conf_mac_generate(unsigned char mac[6])
{
    guint32 r = g_random_int();

    mac[0] = 0x52;
    mac[1] = 0x54;
    mac[2] = 0x00;
    mac[3] = (r >> 16) & 0xff;
    mac[4] = (r >> 8) & 0xff;
    mac[5] = r & 0xff;
}

static ConfDomainNetDef *
conf_net_parse(const xmlNode *node, unsigned int flags, GError **error)
{
    g_autoptr(ConfDomainNetDef) net = g_new0(ConfDomainNetDef, 1);
    xmlNode *mac = NULL, *source = NULL, *target = NULL, *model = NULL, *boot = NULL;
    xmlNode *alias = NULL, *address = NULL;
    int type = 0;
    int rc;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("type"), error))
        return NULL;
    rc = conf_xml_enum_attr(node, "type", conf_net_type_names, CONF_DOMAIN_NET_TYPE_LAST, 0,
                            conf_net_type_unsupported, VIR_ERR_XML_ERROR, &type, error);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "missing attribute 'type' in element <interface>");
        return NULL;
    }
    net->type = type;

    if (!conf_xml_check_container(node, error))
        return NULL;
    for (xmlNode *child = node->children; child; child = child->next) {
        xmlNode **slot = NULL;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (conf_xml_is(child, "mac"))
            slot = &mac;
        else if (conf_xml_is(child, "source"))
            slot = &source;
        else if (conf_xml_is(child, "target"))
            slot = &target;
        else if (conf_xml_is(child, "model"))
            slot = &model;
        else if (conf_xml_is(child, "boot"))
            slot = &boot;
        else if (conf_xml_is(child, "alias"))
            slot = &alias;
        else if (conf_xml_is(child, "address"))
            slot = &address;
        if (!slot) {
            conf_xml_unsupported_child(node, child, error);
            return NULL;
        }
        if (!conf_xml_once(slot, child, error))
            return NULL;
    }

    if (mac) {
        g_autofree char *str = NULL;

        if (!conf_xml_check_attrs(mac, CONF_ATTRS("address"), error) ||
            !conf_xml_check_empty(mac, error) ||
            !(str = conf_xml_required_attr(mac, "address", error)))
            return NULL;
        if (!conf_mac_parse(str, net->mac)) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "unable to parse mac address '%s'", str);
            return NULL;
        }
        if (net->mac[0] & 0x01) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "expected unicast mac address, found multicast '%s'", str);
            return NULL;
        }
    } else {
        conf_mac_generate(net->mac);
        net->mac_generated = true;
    }

    switch ((ConfDomainNetType)type) {
    case CONF_DOMAIN_NET_TYPE_USER:
        if (source) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "interface type='user' does not take a 'source' element");
            return NULL;
        }
        break;
    case CONF_DOMAIN_NET_TYPE_NETWORK:
        if (!source) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "interface type='network' requires a 'source' element");
            return NULL;
        }
        if (!conf_xml_check_attrs(source, CONF_ATTRS("network", "portgroup"), error) ||
            !conf_xml_check_empty(source, error) ||
            !(net->network = conf_xml_required_attr(source, "network", error)) ||
            !conf_xml_optional_attr(source, "portgroup", &net->portgroup, error))
            return NULL;
        break;
    case CONF_DOMAIN_NET_TYPE_BRIDGE:
        if (!source) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "interface type='bridge' requires a 'source' element");
            return NULL;
        }
        if (!conf_xml_check_attrs(source, CONF_ATTRS("bridge"), error) ||
            !conf_xml_check_empty(source, error) ||
            !(net->bridge = conf_xml_required_attr(source, "bridge", error)))
            return NULL;
        break;
    case CONF_DOMAIN_NET_TYPE_LAST:
        g_assert_not_reached();
    }

    if (target) {
        if (!conf_xml_check_attrs(target, CONF_ATTRS("dev"), error) ||
            !conf_xml_check_empty(target, error) ||
            !conf_xml_optional_attr(target, "dev", &net->ifname, error))
            return NULL;
        if (net->ifname && (!*net->ifname || strlen(net->ifname) > 15 ||
                            strchr(net->ifname, '/') || strchr(net->ifname, ' '))) {
            conf_error_invalid_attr(error, VIR_ERR_XML_ERROR, target, "dev", net->ifname);
            return NULL;
        }
        /* Names the driver makes up are not part of a definition. */
        if (net->ifname && !(flags & CONF_DOMAIN_PARSE_STATUS) &&
            (g_str_has_prefix(net->ifname, "vnet") || g_str_has_prefix(net->ifname, "macvtap")))
            g_clear_pointer(&net->ifname, g_free);
    }
    if (model) {
        if (!conf_xml_check_attrs(model, CONF_ATTRS("type"), error) ||
            !conf_xml_check_empty(model, error) ||
            !(net->model = conf_xml_required_attr(model, "type", error)))
            return NULL;
        if (!conf_is_word(net->model, "_-")) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_INVALID_ARG,
                           "Model name contains invalid characters");
            return NULL;
        }
    }
    if (boot && !conf_boot_order_parse(boot, &net->boot_order, error))
        return NULL;
    if (!conf_device_info_parse(alias, address, &net->info, flags, error))
        return NULL;
    return g_steal_pointer(&net);
}

/* ------------------------------------------------------------------ */
/* serials and consoles                                                */
/* ------------------------------------------------------------------ */

static ConfDomainChrDef *
conf_chr_parse(const xmlNode *node, ConfDomainChrDeviceKind kind, unsigned int flags,
               GError **error)
{
    g_autoptr(ConfDomainChrDef) chr = g_new0(ConfDomainChrDef, 1);
    xmlNode *source = NULL, *target = NULL, *alias = NULL, *address = NULL;
    g_autofree char *type_str = NULL;
    g_autofree char *tty = NULL;
    int value = 0;
    int rc;

    chr->kind = kind;
    chr->port = -1;
    if (!conf_xml_check_attrs(node, kind == CONF_DOMAIN_CHR_DEVICE_CONSOLE ?
                              CONF_ATTRS("type", "tty") : CONF_ATTRS("type"), error))
        return NULL;
    type_str = conf_xml_prop(node, "type");
    if (type_str && conf_enum_from_string(conf_chr_type_names, CONF_DOMAIN_CHR_TYPE_LAST, 0,
                                          type_str) < 0) {
        if (conf_str_in_list(conf_chr_type_unsupported, type_str))
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unsupported character device type '%s' for <%s>",
                           type_str, conf_chr_device_names[kind]);
        else
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unknown type presented to host for character device: %s", type_str);
        return NULL;
    }
    chr->type = CONF_DOMAIN_CHR_TYPE_PTY;
    if (!conf_xml_optional_attr(node, "tty", &tty, error))
        return NULL;

    if (!conf_xml_check_container(node, error))
        return NULL;
    for (xmlNode *child = node->children; child; child = child->next) {
        xmlNode **slot = NULL;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (conf_xml_is(child, "source"))
            slot = &source;
        else if (conf_xml_is(child, "target"))
            slot = &target;
        else if (conf_xml_is(child, "alias"))
            slot = &alias;
        else if (conf_xml_is(child, "address") && kind == CONF_DOMAIN_CHR_DEVICE_SERIAL)
            slot = &address;
        if (!slot) {
            conf_xml_unsupported_child(node, child, error);
            return NULL;
        }
        if (!conf_xml_once(slot, child, error))
            return NULL;
    }

    if (source) {
        g_autofree char *path = NULL;

        if (!conf_xml_check_attrs(source, CONF_ATTRS("path"), error) ||
            !conf_xml_check_empty(source, error) ||
            !conf_xml_optional_attr(source, "path", &path, error))
            return NULL;
        /* the pty QEMU opened: runtime data */
        if ((flags & CONF_DOMAIN_PARSE_STATUS) && path && *path)
            chr->pty_path = g_steal_pointer(&path);
    }
    if ((flags & CONF_DOMAIN_PARSE_STATUS) && !chr->pty_path && tty && *tty)
        chr->pty_path = g_steal_pointer(&tty);

    if (target) {
        unsigned int port = 0;

        if (!conf_xml_check_attrs(target, CONF_ATTRS("type", "port"), error))
            return NULL;
        if ((rc = conf_xml_uint_attr_u(target, "port", false, 0, 4096, &port, error)) < 0)
            return NULL;
        if (rc > 0)
            chr->port = (int)port;
        if (kind == CONF_DOMAIN_CHR_DEVICE_SERIAL) {
            xmlNode *model = NULL;

            if ((rc = conf_xml_enum_attr(target, "type", conf_chr_serial_target_names,
                                         CONF_DOMAIN_CHR_SERIAL_TARGET_LAST, 1, NULL,
                                         VIR_ERR_XML_ERROR, &value, error)) < 0)
                return NULL;
            if (rc > 0)
                chr->serial_target = value;
            if (!conf_xml_check_container(target, error))
                return NULL;
            for (xmlNode *child = target->children; child; child = child->next) {
                if (child->type != XML_ELEMENT_NODE)
                    continue;
                if (!conf_xml_is(child, "model")) {
                    conf_xml_unsupported_child(target, child, error);
                    return NULL;
                }
                if (!conf_xml_once(&model, child, error))
                    return NULL;
            }
            if (model) {
                if (!conf_xml_check_attrs(model, CONF_ATTRS("name"), error) ||
                    !conf_xml_check_empty(model, error))
                    return NULL;
                if ((rc = conf_xml_enum_attr(model, "name", conf_chr_serial_model_names,
                                             CONF_DOMAIN_CHR_SERIAL_MODEL_LAST, 1, NULL,
                                             VIR_ERR_XML_ERROR, &value, error)) < 0)
                    return NULL;
                if (rc > 0)
                    chr->serial_model = value;
            }
        } else {
            if (!conf_xml_check_empty(target, error))
                return NULL;
            if ((rc = conf_xml_enum_attr(target, "type", conf_chr_console_target_names,
                                         CONF_DOMAIN_CHR_CONSOLE_TARGET_LAST, 1, NULL,
                                         VIR_ERR_CONFIG_UNSUPPORTED, &value, error)) < 0)
                return NULL;
            if (rc > 0)
                chr->console_target = value;
        }
    }
    if (!conf_device_info_parse(alias, address, &chr->info, flags, error))
        return NULL;
    return g_steal_pointer(&chr);
}

/* ------------------------------------------------------------------ */
/* inputs, graphics, video, memballoon                                 */
/* ------------------------------------------------------------------ */

static ConfDomainInputDef *
conf_input_parse(const xmlNode *node, const ConfDomainDef *def, unsigned int flags,
                 GError **error)
{
    g_autoptr(ConfDomainInputDef) input = g_new0(ConfDomainInputDef, 1);
    xmlNode *alias = NULL, *address = NULL;
    int type = 0;
    int bus = -1;
    int rc;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("type", "bus"), error))
        return NULL;
    rc = conf_xml_enum_attr(node, "type", conf_input_type_names, CONF_DOMAIN_INPUT_TYPE_LAST, 0,
                            conf_input_type_unsupported, VIR_ERR_XML_ERROR, &type, error);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "missing attribute 'type' in element <input>");
        return NULL;
    }
    input->type = type;
    if (conf_xml_enum_attr(node, "bus", conf_input_bus_names, CONF_DOMAIN_INPUT_BUS_LAST, 0,
                           CONF_ATTRS("parallels", "none"), VIR_ERR_XML_ERROR, &bus, error) < 0)
        return NULL;
    if (bus < 0) {
        /* libvirt's defaults */
        if (def->os.type == CONF_DOMAIN_OS_TYPE_HVM)
            bus = type == CONF_DOMAIN_INPUT_TYPE_TABLET ? CONF_DOMAIN_INPUT_BUS_USB
                                                        : CONF_DOMAIN_INPUT_BUS_PS2;
        else
            bus = CONF_DOMAIN_INPUT_BUS_XEN;
    }
    input->bus = bus;
    if (input->bus == CONF_DOMAIN_INPUT_BUS_PS2 && input->type == CONF_DOMAIN_INPUT_TYPE_TABLET) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                       "ps2 bus does not support tablet input device");
        return NULL;
    }

    if (!conf_xml_check_container(node, error))
        return NULL;
    for (xmlNode *child = node->children; child; child = child->next) {
        xmlNode **slot = NULL;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (conf_xml_is(child, "alias"))
            slot = &alias;
        else if (conf_xml_is(child, "address"))
            slot = &address;
        if (!slot) {
            conf_xml_unsupported_child(node, child, error);
            return NULL;
        }
        if (!conf_xml_once(slot, child, error))
            return NULL;
    }
    if (!conf_device_info_parse(alias, address, &input->info, flags, error))
        return NULL;
    return g_steal_pointer(&input);
}

static ConfDomainGraphicsDef *
conf_graphics_parse(const xmlNode *node, unsigned int flags, GError **error)
{
    g_autoptr(ConfDomainGraphicsDef) graphics = g_new0(ConfDomainGraphicsDef, 1);
    g_autofree char *port_str = NULL;
    g_autofree char *listen_address = NULL;
    xmlNode *listen = NULL;
    ConfTristateBool autoport = CONF_TRISTATE_BOOL_ABSENT;
    int type = 0;
    int rc;

    rc = conf_xml_enum_attr(node, "type", conf_graphics_type_names, CONF_DOMAIN_GRAPHICS_TYPE_LAST,
                            0, conf_graphics_type_unsupported, VIR_ERR_XML_ERROR, &type, error);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "missing attribute 'type' in element <graphics>");
        return NULL;
    }
    graphics->type = type;
    if (!conf_xml_check_attrs(node, CONF_ATTRS("type", "port", "autoport", "listen", "passwd",
                                               "keymap"), error))
        return NULL;

    graphics->port = -1;
    if ((port_str = conf_xml_prop(node, "port"))) {
        unsigned long long value = 0;

        if (strcmp(port_str, "-1") == 0) {
            autoport = CONF_TRISTATE_BOOL_YES;
        } else if (conf_parse_ull(port_str, &value) && value <= 65535) {
            graphics->port = (int)value;
        } else {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "Invalid value for attribute 'port' in element 'graphics': '%s' (expected -1 or 0..65535)",
                           port_str);
            return NULL;
        }
    }
    if (conf_xml_tristate_bool_attr(node, "autoport", &autoport, error) < 0)
        return NULL;
    /* libvirt: no port means autoport; autoport='yes' wins over a port */
    graphics->autoport = autoport == CONF_TRISTATE_BOOL_YES ||
                         (autoport == CONF_TRISTATE_BOOL_ABSENT && graphics->port < 0);
    if (graphics->autoport && !(flags & CONF_DOMAIN_PARSE_STATUS))
        graphics->port = -1;
    if (!graphics->autoport && graphics->port < 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "graphics with autoport='no' need a port");
        return NULL;
    }
    if (!conf_xml_optional_attr(node, "listen", &graphics->listen, error) ||
        !conf_xml_optional_attr(node, "passwd", &graphics->passwd, error) ||
        !conf_xml_optional_attr(node, "keymap", &graphics->keymap, error))
        return NULL;
    if (graphics->listen && !*graphics->listen)
        g_clear_pointer(&graphics->listen, g_free);
    if (graphics->keymap && !conf_is_word(graphics->keymap, "_-")) {
        conf_error_invalid_attr(error, VIR_ERR_XML_ERROR, node, "keymap", graphics->keymap);
        return NULL;
    }

    if (!conf_xml_check_container(node, error))
        return NULL;
    for (xmlNode *child = node->children; child; child = child->next) {
        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (!conf_xml_is(child, "listen")) {
            conf_xml_unsupported_child(node, child, error);
            return NULL;
        }
        if (listen) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "only one <listen> per <graphics> is supported");
            return NULL;
        }
        listen = child;
    }
    if (listen) {
        g_autofree char *listen_type = NULL;

        if (!conf_xml_check_attrs(listen, CONF_ATTRS("type", "address"), error) ||
            !conf_xml_check_empty(listen, error))
            return NULL;
        listen_type = conf_xml_prop(listen, "type");
        if (!listen_type || strcmp(listen_type, "address") != 0) {
            if (listen_type && (strcmp(listen_type, "network") == 0 ||
                                strcmp(listen_type, "socket") == 0 ||
                                strcmp(listen_type, "none") == 0))
                util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                               "unsupported value for attribute 'type' in element 'listen': '%s'",
                               listen_type);
            else
                conf_error_invalid_attr(error, VIR_ERR_XML_ERROR, listen, "type",
                                        listen_type ? listen_type : "");
            return NULL;
        }
        if (!conf_xml_optional_attr(listen, "address", &listen_address, error))
            return NULL;
        if (listen_address && !*listen_address)
            g_clear_pointer(&listen_address, g_free);
        if (graphics->listen && listen_address && strcmp(graphics->listen, listen_address) != 0) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "graphics 'listen' attribute '%s' must match 'address' attribute of first listen element (found '%s')",
                           graphics->listen, listen_address);
            return NULL;
        }
        if (!graphics->listen)
            graphics->listen = g_steal_pointer(&listen_address);
    }
    return g_steal_pointer(&graphics);
}

static ConfDomainVideoDef *
conf_video_parse(const xmlNode *node, unsigned int flags, bool *ret_primary, GError **error)
{
    g_autoptr(ConfDomainVideoDef) video = g_new0(ConfDomainVideoDef, 1);
    xmlNode *model = NULL, *alias = NULL, *address = NULL;
    ConfTristateBool primary = CONF_TRISTATE_BOOL_ABSENT;
    int type = 0;
    int rc;

    if (!conf_xml_check_attrs(node, CONF_NO_ATTRS, error) ||
        !conf_xml_check_container(node, error))
        return NULL;
    for (xmlNode *child = node->children; child; child = child->next) {
        xmlNode **slot = NULL;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (conf_xml_is(child, "model"))
            slot = &model;
        else if (conf_xml_is(child, "alias"))
            slot = &alias;
        else if (conf_xml_is(child, "address"))
            slot = &address;
        if (!slot) {
            conf_xml_unsupported_child(node, child, error);
            return NULL;
        }
        if (!conf_xml_once(slot, child, error))
            return NULL;
    }
    if (!model || !conf_xml_has_prop(model, "type")) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "missing video model type");
        return NULL;
    }
    if (!conf_xml_check_attrs(model, CONF_ATTRS("type", "ram", "vram", "heads", "primary"), error) ||
        !conf_xml_check_empty(model, error))
        return NULL;
    rc = conf_xml_enum_attr(model, "type", conf_video_type_names, CONF_DOMAIN_VIDEO_TYPE_LAST, 0,
                            CONF_ATTRS("vmvga", "xen", "vbox", "parallels", "gop", "bochs",
                                       "ramfb"),
                            VIR_ERR_CONFIG_UNSUPPORTED, &type, error);
    if (rc < 0)
        return NULL;
    video->type = type;
    if (conf_xml_uint_attr_u(model, "ram", false, 1, G_MAXINT, &video->ram, error) < 0 ||
        conf_xml_uint_attr_u(model, "vram", false, 1, G_MAXINT, &video->vram, error) < 0 ||
        conf_xml_uint_attr_u(model, "heads", false, 1, 16, &video->heads, error) < 0 ||
        conf_xml_tristate_bool_attr(model, "primary", &primary, error) < 0)
        return NULL;
    if (video->ram && video->type != CONF_DOMAIN_VIDEO_TYPE_QXL) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                       "ram attribute only supported for video type qxl");
        return NULL;
    }
    if (video->type == CONF_DOMAIN_VIDEO_TYPE_NONE &&
        (video->vram || video->heads || primary != CONF_TRISTATE_BOOL_ABSENT || address)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                       "a 'none' video takes no other attributes and no address");
        return NULL;
    }
    if (video->type != CONF_DOMAIN_VIDEO_TYPE_NONE && !video->heads)
        video->heads = 1;
    *ret_primary = primary == CONF_TRISTATE_BOOL_YES;
    if (!conf_device_info_parse(alias, address, &video->info, flags, error))
        return NULL;
    return g_steal_pointer(&video);
}

static ConfDomainMemballoonDef *
conf_memballoon_parse(const xmlNode *node, unsigned int flags, GError **error)
{
    g_autoptr(ConfDomainMemballoonDef) balloon = g_new0(ConfDomainMemballoonDef, 1);
    xmlNode *alias = NULL, *address = NULL;
    int model = 0;
    int rc;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("model"), error))
        return NULL;
    rc = conf_xml_enum_attr(node, "model", conf_memballoon_model_names,
                            CONF_DOMAIN_MEMBALLOON_MODEL_LAST, 0,
                            CONF_ATTRS("xen", "virtio-transitional", "virtio-non-transitional"),
                            VIR_ERR_XML_ERROR, &model, error);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "missing memballoon model");
        return NULL;
    }
    balloon->model = model;
    if (!conf_xml_check_container(node, error))
        return NULL;
    for (xmlNode *child = node->children; child; child = child->next) {
        xmlNode **slot = NULL;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (conf_xml_is(child, "alias"))
            slot = &alias;
        else if (conf_xml_is(child, "address") && model != CONF_DOMAIN_MEMBALLOON_MODEL_NONE)
            slot = &address;
        if (!slot) {
            conf_xml_unsupported_child(node, child, error);
            return NULL;
        }
        if (!conf_xml_once(slot, child, error))
            return NULL;
    }
    if (!conf_device_info_parse(alias, address, &balloon->info, flags, error))
        return NULL;
    return g_steal_pointer(&balloon);
}

/* ------------------------------------------------------------------ */
/* domain-level elements                                               */
/* ------------------------------------------------------------------ */

static bool
conf_name_check(const char *name, GError **error)
{
    size_t len = strlen(name);

    if (strchr(name, '/')) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "name '%s' cannot contain '/'", name);
        return false;
    }
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "name '%s' is not allowed", name);
        return false;
    }
    if (conf_has_control_chars(name)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "name cannot contain control characters");
        return false;
    }
    if (len > CONF_DOMAIN_NAME_MAX) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "name is too long (%zu bytes, at most %d)", len, CONF_DOMAIN_NAME_MAX);
        return false;
    }
    return true;
}

/* libvirt's virUUIDParse: 32 hex digits, '-' or ' ' allowed between byte
 * pairs, blanks around. */
static bool
conf_uuid_parse(const char *str, unsigned char uuid[16])
{
    const char *cur = str;

    while (g_ascii_isspace(*cur))
        cur++;
    for (int i = 0; i < 16;) {
        if (*cur == '-' || *cur == ' ') {
            cur++;
            continue;
        }
        if (!g_ascii_isxdigit(cur[0]) || !g_ascii_isxdigit(cur[1]))
            return false;
        uuid[i++] = (unsigned char)(g_ascii_xdigit_value(cur[0]) * 16 + g_ascii_xdigit_value(cur[1]));
        cur += 2;
    }
    while (*cur) {
        if (!g_ascii_isspace(*cur))
            return false;
        cur++;
    }
    return true;
}

static void
conf_uuid_generate(unsigned char uuid[16])
{
    g_autofree char *str = g_uuid_string_random();
    bool ok = conf_uuid_parse(str, uuid);

    g_assert(ok);
}

/* Bytes per unit (libvirt's virScaleInteger: case-insensitive, "k" and
 * "KiB" are 1024, "KB" is 1000); 0 if unknown. */
static unsigned long long
conf_unit_scale(const char *unit)
{
    static const char prefixes[] = "kmgtpe";
    const char *p = NULL;
    unsigned long long base = 1024;
    unsigned long long scale = 1;

    if (!unit || !*unit)
        return 1024;    /* <memory> defaults to KiB */
    if (g_ascii_strcasecmp(unit, "b") == 0 || g_ascii_strcasecmp(unit, "byte") == 0 ||
        g_ascii_strcasecmp(unit, "bytes") == 0)
        return 1;
    if (!(p = strchr(prefixes, g_ascii_tolower(unit[0]))))
        return 0;
    if (unit[1] == '\0' || g_ascii_strcasecmp(unit + 1, "iB") == 0)
        base = 1024;
    else if (g_ascii_strcasecmp(unit + 1, "B") == 0)
        base = 1000;
    else
        return 0;
    for (const char *q = prefixes; q <= p; q++)
        scale *= base;
    return scale;
}

static bool
conf_memory_parse(const xmlNode *node, unsigned long long *ret_kib, GError **error)
{
    g_autofree char *unit = NULL;
    g_autofree char *text = NULL;
    unsigned long long value = 0;
    unsigned long long scale = 0;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("unit"), error) ||
        !(text = conf_xml_text(node, error)))
        return false;
    unit = conf_xml_prop(node, "unit");
    if (!conf_parse_ull(text, &value)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "Invalid value '%s' for element <%s>", text, conf_xml_name(node));
        return false;
    }
    if (!(scale = conf_unit_scale(unit))) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_INVALID_ARG,
                       "unknown suffix '%s' for element <%s>", unit, conf_xml_name(node));
        return false;
    }
    /* in bytes, and once rounded up to KiB (what is formatted must parse) */
    if (value > CONF_DOMAIN_MAX_MEMORY_BYTES / scale ||
        (value * scale + 1023) / 1024 > CONF_DOMAIN_MAX_MEMORY_BYTES / 1024) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_OVERFLOW,
                       "value too large: %llu%s in element <%s>",
                       value, unit ? unit : "", conf_xml_name(node));
        return false;
    }
    /* stored in KiB, rounded up like libvirt */
    *ret_kib = (value * scale + 1023) / 1024;
    return true;
}

static bool
conf_vcpu_parse(const xmlNode *node, ConfDomainDef *def, GError **error)
{
    g_autofree char *text = NULL;
    g_autofree char *placement = NULL;
    unsigned long long value = 0;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("placement"), error) ||
        !(text = conf_xml_text(node, error)))
        return false;
    /* placement is accepted and ignored: there is no NUMA tuning here */
    placement = conf_xml_prop(node, "placement");
    if (placement && strcmp(placement, "static") != 0 && strcmp(placement, "auto") != 0) {
        conf_error_invalid_attr(error, VIR_ERR_XML_ERROR, node, "placement", placement);
        return false;
    }
    if (!conf_parse_ull(text, &value)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "maximum vcpus count must be an integer");
        return false;
    }
    if (value < 1 || value > CONF_DOMAIN_MAX_VCPUS) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "vcpu count %llu is out of range (1..%d)", value, CONF_DOMAIN_MAX_VCPUS);
        return false;
    }
    def->vcpus = (unsigned int)value;
    return true;
}

/* Text of a path-like element: non-empty, no control characters. */
static char *
conf_path_text(const xmlNode *node, GError **error)
{
    g_autofree char *text = NULL;

    if (!conf_xml_check_attrs(node, CONF_NO_ATTRS, error) ||
        !(text = conf_xml_text(node, error)))
        return NULL;
    if (!*text) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "element <%s> must not be empty", conf_xml_name(node));
        return NULL;
    }
    if (conf_has_control_chars(text)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "element <%s> contains control characters", conf_xml_name(node));
        return NULL;
    }
    return g_steal_pointer(&text);
}

static bool
conf_os_parse(const xmlNode *node, ConfDomainDef *def, GError **error)
{
    xmlNode *type = NULL, *kernel = NULL, *initrd = NULL, *cmdline = NULL;
    g_autofree char *type_text = NULL;
    int value = 0;

    if (!conf_xml_check_attrs(node, CONF_NO_ATTRS, error) ||
        !conf_xml_check_container(node, error))
        return false;
    for (xmlNode *child = node->children; child; child = child->next) {
        xmlNode **slot = NULL;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (conf_xml_is(child, "boot")) {
            if (!conf_xml_check_attrs(child, CONF_ATTRS("dev"), error) ||
                !conf_xml_check_empty(child, error))
                return false;
            if (conf_xml_enum_attr(child, "dev", conf_boot_dev_names, CONF_DOMAIN_BOOT_LAST, 0,
                                   NULL, VIR_ERR_XML_ERROR, &value, error) <= 0) {
                if (error && !*error)
                    util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                                   "missing attribute 'dev' in element <boot>");
                return false;
            }
            if (def->os.n_boot_devs == CONF_DOMAIN_MAX_BOOT_DEVS) {
                util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                               "at most %d <boot> elements are allowed in <os>",
                               CONF_DOMAIN_MAX_BOOT_DEVS);
                return false;
            }
            def->os.boot_devs[def->os.n_boot_devs++] = value;
            continue;
        }
        if (conf_xml_is(child, "type"))
            slot = &type;
        else if (conf_xml_is(child, "kernel"))
            slot = &kernel;
        else if (conf_xml_is(child, "initrd"))
            slot = &initrd;
        else if (conf_xml_is(child, "cmdline"))
            slot = &cmdline;
        if (!slot) {
            conf_xml_unsupported_child(node, child, error);
            return false;
        }
        if (!conf_xml_once(slot, child, error))
            return false;
    }

    if (!type) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "an os <type> must be specified");
        return false;
    }
    if (!conf_xml_check_attrs(type, CONF_ATTRS("arch", "machine"), error) ||
        !(type_text = conf_xml_text(type, error)))
        return false;
    g_strstrip(type_text);
    if (!*type_text) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "an os <type> must be specified");
        return false;
    }
    if ((value = conf_enum_from_string(conf_os_type_names, CONF_DOMAIN_OS_TYPE_LAST, 0,
                                       type_text)) < 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unknown OS type '%s'", type_text);
        return false;
    }
    def->os.type = value;
    if (!conf_xml_optional_attr(type, "arch", &def->os.arch, error) ||
        !conf_xml_optional_attr(type, "machine", &def->os.machine, error))
        return false;
    if (def->os.arch && !conf_str_in_list(conf_arch_names, def->os.arch)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                       "Unknown architecture %s", def->os.arch);
        return false;
    }
    if (def->os.machine && !conf_is_word(def->os.machine, "_-.")) {
        conf_error_invalid_attr(error, VIR_ERR_XML_ERROR, type, "machine", def->os.machine);
        return false;
    }
    if (kernel && !(def->os.kernel = conf_path_text(kernel, error)))
        return false;
    if (initrd && !(def->os.initrd = conf_path_text(initrd, error)))
        return false;
    if (cmdline) {
        if (!conf_xml_check_attrs(cmdline, CONF_NO_ATTRS, error) ||
            !(def->os.cmdline = conf_xml_text(cmdline, error)))
            return false;
        if (conf_has_control_chars(def->os.cmdline)) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "element <cmdline> contains control characters");
            return false;
        }
    }
    return true;
}

static bool
conf_features_parse(const xmlNode *node, ConfDomainDef *def, GError **error)
{
    if (!conf_xml_check_attrs(node, CONF_NO_ATTRS, error) ||
        !conf_xml_check_container(node, error))
        return false;
    for (xmlNode *child = node->children; child; child = child->next) {
        int feature;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if ((feature = conf_enum_from_string(conf_feature_names, CONF_DOMAIN_FEATURE_LAST, 0,
                                             conf_xml_name(child))) < 0) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unexpected feature '%s'", conf_xml_name(child));
            return false;
        }
        if (!conf_xml_check_attrs(child, CONF_NO_ATTRS, error) ||
            !conf_xml_check_empty(child, error))
            return false;
        def->features[feature] = true;
    }
    return true;
}

static bool
conf_cpu_parse(const xmlNode *node, ConfDomainDef *def, GError **error)
{
    g_autoptr(ConfDomainCpuDef) cpu = g_new0(ConfDomainCpuDef, 1);
    xmlNode *model = NULL;
    int value = 0;
    int rc;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("mode", "match", "check", "migratable"), error))
        return false;
    rc = conf_xml_enum_attr(node, "mode", conf_cpu_mode_names, CONF_DOMAIN_CPU_MODE_LAST, 0,
                            CONF_ATTRS("maximum"), VIR_ERR_CONFIG_UNSUPPORTED, &value, error);
    if (rc < 0)
        return false;
    cpu->mode = rc > 0 ? value : CONF_DOMAIN_CPU_MODE_CUSTOM;
    if ((rc = conf_xml_enum_attr(node, "match", conf_cpu_match_names, CONF_DOMAIN_CPU_MATCH_LAST,
                                 1, NULL, VIR_ERR_XML_ERROR, &value, error)) < 0)
        return false;
    if (rc > 0) {
        if (cpu->mode != CONF_DOMAIN_CPU_MODE_CUSTOM) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "attribute 'match' is only supported with CPU mode 'custom'");
            return false;
        }
        cpu->match = value;
    }
    if ((rc = conf_xml_enum_attr(node, "check", conf_cpu_check_names, CONF_DOMAIN_CPU_CHECK_LAST,
                                 1, NULL, VIR_ERR_XML_ERROR, &value, error)) < 0)
        return false;
    if (rc > 0)
        cpu->check = value;
    if (conf_xml_tristate_switch_attr(node, "migratable", &cpu->migratable, error) < 0)
        return false;
    if (cpu->migratable != CONF_TRISTATE_SWITCH_ABSENT &&
        cpu->mode != CONF_DOMAIN_CPU_MODE_HOST_PASSTHROUGH) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                       "attribute 'migratable' is only supported with CPU mode 'host-passthrough'");
        return false;
    }

    if (!conf_xml_check_container(node, error))
        return false;
    for (xmlNode *child = node->children; child; child = child->next) {
        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (!conf_xml_is(child, "model")) {
            conf_xml_unsupported_child(node, child, error);
            return false;
        }
        if (!conf_xml_once(&model, child, error))
            return false;
    }
    if (model) {
        g_autofree char *text = NULL;

        if (cpu->mode == CONF_DOMAIN_CPU_MODE_HOST_PASSTHROUGH) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "a CPU <model> is not supported with CPU mode 'host-passthrough'");
            return false;
        }
        if (!conf_xml_check_attrs(model, CONF_ATTRS("fallback"), error) ||
            !(text = conf_xml_text(model, error)))
            return false;
        if ((rc = conf_xml_enum_attr(model, "fallback", conf_cpu_fallback_names,
                                     CONF_DOMAIN_CPU_FALLBACK_LAST, 1, NULL, VIR_ERR_XML_ERROR,
                                     &value, error)) < 0)
            return false;
        if (rc > 0)
            cpu->fallback = value;
        if (*text) {
            if (cpu->mode != CONF_DOMAIN_CPU_MODE_CUSTOM) {
                util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                               "a CPU model name is only supported with CPU mode 'custom'");
                return false;
            }
            if (!conf_is_word(text, "_-.")) {
                util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                               "invalid CPU model name '%s'", text);
                return false;
            }
            cpu->model = g_steal_pointer(&text);
        }
    }
    /* libvirt: a custom CPU with a model matches exactly unless told */
    if (cpu->mode == CONF_DOMAIN_CPU_MODE_CUSTOM && cpu->model &&
        cpu->match == CONF_DOMAIN_CPU_MATCH_DEFAULT)
        cpu->match = CONF_DOMAIN_CPU_MATCH_EXACT;
    def->cpu = g_steal_pointer(&cpu);
    return true;
}

static bool
conf_clock_parse(const xmlNode *node, ConfDomainDef *def, GError **error)
{
    int value = 0;
    int rc;

    if (!conf_xml_check_attrs(node, CONF_ATTRS("offset"), error))
        return false;
    rc = conf_xml_enum_attr(node, "offset", conf_clock_offset_names, CONF_DOMAIN_CLOCK_OFFSET_LAST,
                            0, CONF_ATTRS("variable", "timezone", "absolute"),
                            VIR_ERR_CONFIG_UNSUPPORTED, &value, error);
    if (rc < 0)
        return false;
    if (rc > 0)
        def->clock_offset = value;

    if (!conf_xml_check_container(node, error))
        return false;
    for (xmlNode *child = node->children; child; child = child->next) {
        g_autofree ConfDomainTimerDef *timer = NULL;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (!conf_xml_is(child, "timer")) {
            conf_xml_unsupported_child(node, child, error);
            return false;
        }
        timer = g_new0(ConfDomainTimerDef, 1);
        if (!conf_xml_check_attrs(child, CONF_ATTRS("name", "present", "tickpolicy"), error) ||
            !conf_xml_check_empty(child, error))
            return false;
        rc = conf_xml_enum_attr(child, "name", conf_timer_name_names, CONF_DOMAIN_TIMER_NAME_LAST,
                                0, NULL, VIR_ERR_XML_ERROR, &value, error);
        if (rc < 0)
            return false;
        if (rc == 0) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "missing timer name");
            return false;
        }
        timer->name = value;
        for (guint i = 0; i < def->timers->len; i++) {
            const ConfDomainTimerDef *other = g_ptr_array_index(def->timers, i);

            if (other->name == timer->name) {
                util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                               "timer %s appears more than once",
                               conf_timer_name_names[timer->name]);
                return false;
            }
        }
        if (conf_xml_tristate_bool_attr(child, "present", &timer->present, error) < 0)
            return false;
        if ((rc = conf_xml_enum_attr(child, "tickpolicy", conf_timer_tickpolicy_names,
                                     CONF_DOMAIN_TIMER_TICKPOLICY_LAST, 1, NULL,
                                     VIR_ERR_XML_ERROR, &value, error)) < 0)
            return false;
        if (rc > 0)
            timer->tickpolicy = value;
        g_ptr_array_add(def->timers, g_steal_pointer(&timer));
    }
    return true;
}

static bool
conf_lifecycle_parse(const xmlNode *node, const char *event, bool allow_coredump,
                     ConfDomainLifecycleAction *ret, GError **error)
{
    g_autofree char *text = NULL;
    int value;

    if (!conf_xml_check_attrs(node, CONF_NO_ATTRS, error) ||
        !(text = conf_xml_text(node, error)))
        return false;
    g_strstrip(text);
    if ((value = conf_enum_from_string(conf_lifecycle_names, CONF_DOMAIN_LIFECYCLE_LAST, 0,
                                       text)) < 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unknown %s action: %s", conf_xml_name(node), text);
        return false;
    }
    if (!allow_coredump && (value == CONF_DOMAIN_LIFECYCLE_COREDUMP_DESTROY ||
                            value == CONF_DOMAIN_LIFECYCLE_COREDUMP_RESTART)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                       "Lifecycle event '%s' doesn't support '%s' action", event, text);
        return false;
    }
    *ret = value;
    return true;
}

static bool
conf_pm_parse(const xmlNode *node, ConfDomainDef *def, GError **error)
{
    xmlNode *mem = NULL, *disk = NULL;

    if (!conf_xml_check_attrs(node, CONF_NO_ATTRS, error) ||
        !conf_xml_check_container(node, error))
        return false;
    for (xmlNode *child = node->children; child; child = child->next) {
        xmlNode **slot = NULL;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if (conf_xml_is(child, "suspend-to-mem"))
            slot = &mem;
        else if (conf_xml_is(child, "suspend-to-disk"))
            slot = &disk;
        if (!slot) {
            conf_xml_unsupported_child(node, child, error);
            return false;
        }
        if (!conf_xml_once(slot, child, error) ||
            !conf_xml_check_attrs(child, CONF_ATTRS("enabled"), error) ||
            !conf_xml_check_empty(child, error) ||
            conf_xml_tristate_bool_attr(child, "enabled",
                                        slot == &mem ? &def->pm_suspend_to_mem
                                                     : &def->pm_suspend_to_disk, error) < 0)
            return false;
    }
    return true;
}

/* libvirt's virDiskNameToIndex for a validated target: "vda" 0, "vdz" 25,
 * "vdaa" 26. */
static int
conf_disk_target_index(const ConfDomainDiskDef *disk)
{
    int idx = -1;

    for (const char *p = disk->dst + 2; *p; p++)
        idx = (idx + 1) * 26 + (*p - 'a');
    return idx;
}

/* Adds @disk as libvirt does: disks on one bus stay in target order, the
 * first disk on a new bus goes last. */
static void
conf_disk_insert(ConfDomainDef *def, ConfDomainDiskDef *disk)
{
    int insert_at = -1;

    for (int i = (int)def->disks->len - 1; i >= 0; i--) {
        const ConfDomainDiskDef *other = g_ptr_array_index(def->disks, i);

        if (other->bus != disk->bus)
            continue;
        if (conf_disk_target_index(other) > conf_disk_target_index(disk))
            insert_at = i;
        else if (insert_at == -1)
            insert_at = i + 1;
    }
    if (insert_at < 0)
        insert_at = (int)def->disks->len;
    g_ptr_array_insert(def->disks, insert_at, disk);
}

/* ------------------------------------------------------------------ */
/* <devices>                                                           */
/* ------------------------------------------------------------------ */

static bool
conf_devices_parse(const xmlNode *node, ConfDomainDef *def, unsigned int flags, GError **error)
{
    xmlNode *emulator = NULL;
    xmlNode *memballoon = NULL;
    bool have_primary_video = false;

    if (!conf_xml_check_attrs(node, CONF_NO_ATTRS, error) ||
        !conf_xml_check_container(node, error))
        return false;

    for (xmlNode *child = node->children; child; child = child->next) {
        if (child->type != XML_ELEMENT_NODE)
            continue;

        if (conf_xml_is(child, "emulator")) {
            if (!conf_xml_once(&emulator, child, error) ||
                !(def->emulator = conf_path_text(child, error)))
                return false;
        } else if (conf_xml_is(child, "disk")) {
            ConfDomainDiskDef *disk = conf_disk_parse(child, flags, error);

            if (!disk)
                return false;
            conf_disk_insert(def, disk);
        } else if (conf_xml_is(child, "controller")) {
            bool index_given = false;
            ConfDomainControllerDef *ctrl = conf_controller_parse(child, flags, &index_given, error);

            if (!ctrl || !conf_controller_insert(def, ctrl, index_given, error))
                return false;
        } else if (conf_xml_is(child, "interface")) {
            ConfDomainNetDef *net = conf_net_parse(child, flags, error);

            if (!net)
                return false;
            g_ptr_array_add(def->nets, net);
        } else if (conf_xml_is(child, "serial") || conf_xml_is(child, "console")) {
            bool serial = conf_xml_is(child, "serial");
            ConfDomainChrDef *chr = conf_chr_parse(child, serial ? CONF_DOMAIN_CHR_DEVICE_SERIAL
                                                                 : CONF_DOMAIN_CHR_DEVICE_CONSOLE,
                                                   flags, error);

            if (!chr)
                return false;
            g_ptr_array_add(serial ? def->serials : def->consoles, chr);
        } else if (conf_xml_is(child, "input")) {
            ConfDomainInputDef *input = conf_input_parse(child, def, flags, error);

            if (!input)
                return false;
            g_ptr_array_add(def->inputs, input);
        } else if (conf_xml_is(child, "graphics")) {
            ConfDomainGraphicsDef *graphics = conf_graphics_parse(child, flags, error);

            if (!graphics)
                return false;
            g_ptr_array_add(def->graphics, graphics);
        } else if (conf_xml_is(child, "video")) {
            bool primary = false;
            ConfDomainVideoDef *video = conf_video_parse(child, flags, &primary, error);

            if (!video)
                return false;
            if (primary) {
                if (have_primary_video) {
                    conf_domain_video_def_free(video);
                    util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                                   "Only one primary video device is supported");
                    return false;
                }
                have_primary_video = true;
                g_ptr_array_insert(def->videos, 0, video);
            } else {
                g_ptr_array_add(def->videos, video);
            }
        } else if (conf_xml_is(child, "memballoon")) {
            if (memballoon) {
                util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                               "only a single memory balloon device is supported");
                return false;
            }
            memballoon = child;
            if (!(def->memballoon = conf_memballoon_parse(child, flags, error)))
                return false;
        } else {
            conf_xml_unsupported_child(node, child, error);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* defaults and checks across elements                                 */
/* ------------------------------------------------------------------ */

static bool
conf_domain_check_disks(const ConfDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->disks->len; i++) {
        const ConfDomainDiskDef *a = g_ptr_array_index(def->disks, i);

        for (guint j = i + 1; j < def->disks->len; j++) {
            const ConfDomainDiskDef *b = g_ptr_array_index(def->disks, j);

            if (strcmp(a->dst, b->dst) == 0) {
                g_autofree char *tmp_a = NULL;
                g_autofree char *tmp_b = NULL;

                util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                               "target '%s' duplicated for disk sources '%s' and '%s'",
                               a->dst, conf_storage_source_describe(a->src, &tmp_a),
                               conf_storage_source_describe(b->src, &tmp_b));
                return false;
            }
        }
    }
    return true;
}

static bool
conf_domain_check_boot(ConfDomainDef *def, GError **error)
{
    g_autoptr(GHashTable) orders = g_hash_table_new(g_direct_hash, g_direct_equal);
    bool device_boot = false;

    for (guint i = 0; i < def->disks->len + def->nets->len; i++) {
        unsigned int order = i < def->disks->len
            ? ((ConfDomainDiskDef *)g_ptr_array_index(def->disks, i))->boot_order
            : ((ConfDomainNetDef *)g_ptr_array_index(def->nets, i - def->disks->len))->boot_order;

        if (!order)
            continue;
        device_boot = true;
        if (!g_hash_table_add(orders, GUINT_TO_POINTER(order))) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "boot order '%u' used for more than one device", order);
            return false;
        }
    }
    if (device_boot && def->os.n_boot_devs > 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                       "per-device boot elements cannot be used together with os/boot elements");
        return false;
    }
    /* libvirt boots an hvm guest from its first disk when told nothing */
    if (!device_boot && def->os.n_boot_devs == 0 && def->os.type == CONF_DOMAIN_OS_TYPE_HVM) {
        def->os.boot_devs[0] = CONF_DOMAIN_BOOT_DISK;
        def->os.n_boot_devs = 1;
    }
    return true;
}

static ConfDomainChrConsoleTargetType
conf_console_default_target(const ConfDomainDef *def)
{
    switch (def->os.type) {
    case CONF_DOMAIN_OS_TYPE_HVM:
        return CONF_DOMAIN_CHR_CONSOLE_TARGET_SERIAL;
    case CONF_DOMAIN_OS_TYPE_XEN:
    case CONF_DOMAIN_OS_TYPE_LINUX:
    case CONF_DOMAIN_OS_TYPE_XENPVH:
        return CONF_DOMAIN_CHR_CONSOLE_TARGET_XEN;
    case CONF_DOMAIN_OS_TYPE_EXE:
        return def->virt_type == CONF_DOMAIN_VIRT_OPENVZ ? CONF_DOMAIN_CHR_CONSOLE_TARGET_OPENVZ
                                                         : CONF_DOMAIN_CHR_CONSOLE_TARGET_LXC;
    case CONF_DOMAIN_OS_TYPE_UML:
        return CONF_DOMAIN_CHR_CONSOLE_TARGET_UML;
    case CONF_DOMAIN_OS_TYPE_LAST:
        break;
    }
    g_assert_not_reached();
}

/* Serial ports are numbered like libvirt (one above the highest before);
 * the first console of type serial is the first serial port, and is made
 * one if there is none. */
static bool
conf_domain_fill_chr(ConfDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->serials->len; i++) {
        ConfDomainChrDef *chr = g_ptr_array_index(def->serials, i);

        if (chr->port < 0) {
            int max_port = -1;

            for (guint j = 0; j < i; j++) {
                const ConfDomainChrDef *other = g_ptr_array_index(def->serials, j);

                if (other->port > max_port)
                    max_port = other->port;
            }
            chr->port = max_port + 1;
        }
    }

    for (guint i = 0; i < def->consoles->len; i++) {
        ConfDomainChrDef *chr = g_ptr_array_index(def->consoles, i);

        if (chr->console_target == CONF_DOMAIN_CHR_CONSOLE_TARGET_NONE)
            chr->console_target = conf_console_default_target(def);
        if (chr->console_target == CONF_DOMAIN_CHR_CONSOLE_TARGET_SERIAL && i > 0) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "Only the first console can be a serial port");
            return false;
        }
        if (chr->port < 0)
            chr->port = 0;
    }

    /* libvirt's console compatibility for hvm guests: the first console
     * of type serial is the first serial port; a serial port without such
     * a console gets one */
    if (def->os.type != CONF_DOMAIN_OS_TYPE_HVM)
        return true;
    if (def->consoles->len > 0 &&
        ((ConfDomainChrDef *)g_ptr_array_index(def->consoles, 0))->console_target ==
        CONF_DOMAIN_CHR_CONSOLE_TARGET_SERIAL) {
        ConfDomainChrDef *console = g_ptr_array_index(def->consoles, 0);

        if (def->serials->len == 0) {
            ConfDomainChrDef *serial = g_new0(ConfDomainChrDef, 1);

            serial->kind = CONF_DOMAIN_CHR_DEVICE_SERIAL;
            serial->type = console->type;
            serial->port = 0;
            serial->pty_path = g_strdup(console->pty_path);
            g_ptr_array_add(def->serials, serial);
        }
        console->port = ((ConfDomainChrDef *)g_ptr_array_index(def->serials, 0))->port;
    } else if (def->serials->len > 0) {
        const ConfDomainChrDef *serial = g_ptr_array_index(def->serials, 0);
        ConfDomainChrDef *console = g_new0(ConfDomainChrDef, 1);

        console->kind = CONF_DOMAIN_CHR_DEVICE_CONSOLE;
        console->type = serial->type;
        console->console_target = CONF_DOMAIN_CHR_CONSOLE_TARGET_SERIAL;
        console->port = serial->port;
        console->pty_path = g_strdup(serial->pty_path);
        g_ptr_array_insert(def->consoles, 0, console);
    }
    return true;
}

static bool
conf_domain_fill_video(ConfDomainDef *def, GError **error)
{
    for (guint i = 0; i < def->videos->len; i++) {
        ConfDomainVideoDef *video = g_ptr_array_index(def->videos, i);

        if (video->type == CONF_DOMAIN_VIDEO_TYPE_NONE && def->videos->len > 1) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_CONFIG_UNSUPPORTED,
                           "a 'none' video type must be the only video device defined for the domain");
            return false;
        }
    }
    if (def->videos->len > 0) {
        ConfDomainVideoDef *video = g_ptr_array_index(def->videos, 0);

        video->primary = video->type != CONF_DOMAIN_VIDEO_TYPE_NONE;
    }
    return true;
}

static bool
conf_domain_check_alias(GHashTable *seen, const ConfDeviceInfo *info, GError **error)
{
    if (!info->alias)
        return true;
    if (!g_hash_table_add(seen, info->alias)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "non unique alias detected: %s", info->alias);
        return false;
    }
    return true;
}

#define CONF_CHECK_ALIASES(seen, array, type) \
    do { \
        for (guint i_ = 0; i_ < (array)->len; i_++) { \
            if (!conf_domain_check_alias((seen), &((type *)g_ptr_array_index((array), i_))->info, \
                                         error)) \
                return false; \
        } \
    } while (0)

static bool
conf_domain_check_aliases(const ConfDomainDef *def, GError **error)
{
    g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

    CONF_CHECK_ALIASES(seen, def->disks, ConfDomainDiskDef);
    CONF_CHECK_ALIASES(seen, def->controllers, ConfDomainControllerDef);
    CONF_CHECK_ALIASES(seen, def->nets, ConfDomainNetDef);
    CONF_CHECK_ALIASES(seen, def->serials, ConfDomainChrDef);
    CONF_CHECK_ALIASES(seen, def->inputs, ConfDomainInputDef);
    CONF_CHECK_ALIASES(seen, def->videos, ConfDomainVideoDef);
    if (def->memballoon && !conf_domain_check_alias(seen, &def->memballoon->info, error))
        return false;
    /* a console of type serial is the serial port itself: same alias */
    for (guint i = 0; i < def->consoles->len; i++) {
        const ConfDomainChrDef *chr = g_ptr_array_index(def->consoles, i);

        if (i == 0 && chr->console_target == CONF_DOMAIN_CHR_CONSOLE_TARGET_SERIAL)
            continue;
        if (!conf_domain_check_alias(seen, &chr->info, error))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* <domain>                                                            */
/* ------------------------------------------------------------------ */

enum {
    CONF_SLOT_NAME,
    CONF_SLOT_UUID,
    CONF_SLOT_TITLE,
    CONF_SLOT_DESCRIPTION,
    CONF_SLOT_METADATA,
    CONF_SLOT_MEMORY,
    CONF_SLOT_CURRENT_MEMORY,
    CONF_SLOT_VCPU,
    CONF_SLOT_OS,
    CONF_SLOT_FEATURES,
    CONF_SLOT_CPU,
    CONF_SLOT_CLOCK,
    CONF_SLOT_ON_POWEROFF,
    CONF_SLOT_ON_REBOOT,
    CONF_SLOT_ON_CRASH,
    CONF_SLOT_PM,
    CONF_SLOT_DEVICES,
    CONF_SLOT_NODENAMEINDEX,

    CONF_SLOT_LAST
};

static const char *const conf_domain_slot_names[] = {
    [CONF_SLOT_NAME] = "name",
    [CONF_SLOT_UUID] = "uuid",
    [CONF_SLOT_TITLE] = "title",
    [CONF_SLOT_DESCRIPTION] = "description",
    [CONF_SLOT_METADATA] = "metadata",
    [CONF_SLOT_MEMORY] = "memory",
    [CONF_SLOT_CURRENT_MEMORY] = "currentMemory",
    [CONF_SLOT_VCPU] = "vcpu",
    [CONF_SLOT_OS] = "os",
    [CONF_SLOT_FEATURES] = "features",
    [CONF_SLOT_CPU] = "cpu",
    [CONF_SLOT_CLOCK] = "clock",
    [CONF_SLOT_ON_POWEROFF] = "on_poweroff",
    [CONF_SLOT_ON_REBOOT] = "on_reboot",
    [CONF_SLOT_ON_CRASH] = "on_crash",
    [CONF_SLOT_PM] = "pm",
    [CONF_SLOT_DEVICES] = "devices",
    [CONF_SLOT_NODENAMEINDEX] = "nodenameindex",
};
G_STATIC_ASSERT(G_N_ELEMENTS(conf_domain_slot_names) == CONF_SLOT_LAST);

/* Drops blank text between elements so the dump below indents evenly. */
static void
conf_metadata_strip_blanks(xmlNode *node)
{
    xmlNode *child = node->children;

    while (child) {
        xmlNode *next = child->next;

        if (child->type == XML_TEXT_NODE && xmlIsBlankNode(child)) {
            xmlUnlinkNode(child);
            xmlFreeNode(child);
        } else if (child->type == XML_ELEMENT_NODE) {
            conf_metadata_strip_blanks(child);
        }
        child = next;
    }
}

/* Whether every namespace declared in @node's subtree can be written back
 * as it came: libxml2 dumps a namespace URI unescaped, so one holding
 * '<', '>', '&' or '"' would make the formatted definition unreadable. */
static bool
conf_metadata_ns_ok(const xmlNs *ns, GError **error)
{
    const char *href = ns ? (const char *)ns->href : NULL;

    if (href && strpbrk(href, "<>&\"")) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "XML error: invalid namespace URI '%s' in <metadata>", href);
        return false;
    }
    return true;
}

static bool
conf_metadata_check_ns(const xmlNode *node, GError **error)
{
    /* declared here, or in use here (declared further up) */
    for (const xmlNs *ns = node->nsDef; ns; ns = ns->next) {
        if (!conf_metadata_ns_ok(ns, error))
            return false;
    }
    if (!conf_metadata_ns_ok(node->ns, error))
        return false;
    for (const xmlAttr *a = node->properties; a; a = a->next) {
        if (!conf_metadata_ns_ok(a->ns, error))
            return false;
    }
    for (const xmlNode *c = node->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && !conf_metadata_check_ns(c, error))
            return false;
    }
    return true;
}

/* <metadata>: kept as written (libvirt keeps it for applications such
 * as virt-manager); each child element is dumped on its own with the
 * namespaces it uses declared on it, indented for its place in <domain>. */
static bool
conf_metadata_parse(const xmlNode *node, ConfDomainDef *def, GError **error)
{
    g_autoptr(GString) out = g_string_new(NULL);

    if (!conf_xml_check_attrs(node, CONF_NO_ATTRS, error))
        return false;
    for (const xmlNode *child = node->children; child; child = child->next) {
        g_autoptr(xmlDoc) doc = NULL;
        xmlNode *copy = NULL;
        xmlBuffer *buf = NULL;

        if (child->type == XML_TEXT_NODE && xmlIsBlankNode((xmlNode *)child))
            continue;
        if (child->type == XML_COMMENT_NODE)
            continue;
        if (child->type != XML_ELEMENT_NODE) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "unexpected text in element <metadata>");
            return false;
        }
        if (!conf_metadata_check_ns(child, error))
            return false;
        doc = xmlNewDoc((const xmlChar *)"1.0");
        copy = xmlDocCopyNode((xmlNode *)child, doc, 1);
        if (!copy) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_INTERNAL_ERROR,
                           "cannot copy <metadata> content");
            return false;
        }
        xmlDocSetRootElement(doc, copy);
        xmlReconciliateNs(doc, copy);
        conf_metadata_strip_blanks(copy);
        buf = xmlBufferCreate();
        if (xmlNodeDump(buf, doc, copy, 2, 1) < 0) {
            xmlBufferFree(buf);
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_INTERNAL_ERROR,
                           "cannot write <metadata> content");
            return false;
        }
        g_string_append_printf(out, "    %s\n", (const char *)xmlBufferContent(buf));
        xmlBufferFree(buf);
    }
    g_free(def->metadata);
    def->metadata = g_string_free(g_steal_pointer(&out), FALSE);
    return true;
}

static ConfDomainDef *
conf_domain_parse_root(const xmlNode *root, unsigned int flags, GError **error)
{
    g_autoptr(ConfDomainDef) def = conf_domain_def_new();
    xmlNode *slots[CONF_SLOT_LAST] = { NULL };
    g_autofree char *text = NULL;
    int value = 0;
    int rc;

    if (!conf_xml_check_attrs(root, CONF_ATTRS("type", "id"), error))
        return NULL;
    rc = conf_xml_enum_attr(root, "type", conf_virt_type_names, CONF_DOMAIN_VIRT_LAST, 0, NULL,
                            VIR_ERR_CONFIG_UNSUPPORTED, &value, error);
    if (rc < 0)
        return NULL;
    if (rc == 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "missing domain type attribute");
        return NULL;
    }
    def->virt_type = value;
    if (conf_xml_has_prop(root, "id")) {
        unsigned long long id = 0;

        if (conf_xml_uint_attr(root, "id", false, 0, G_MAXINT, &id, error) < 0)
            return NULL;
        if (flags & CONF_DOMAIN_PARSE_STATUS)
            def->id = (int)id;
    }

    if (!conf_xml_check_container(root, error))
        return NULL;
    for (xmlNode *child = root->children; child; child = child->next) {
        int slot;

        if (child->type != XML_ELEMENT_NODE)
            continue;
        if ((slot = conf_enum_from_string(conf_domain_slot_names, CONF_SLOT_LAST, 0,
                                          conf_xml_name(child))) < 0) {
            conf_xml_unsupported_child(root, child, error);
            return NULL;
        }
        if (!conf_xml_once(&slots[slot], child, error))
            return NULL;
    }

    /* name */
    if (slots[CONF_SLOT_NAME]) {
        if (!conf_xml_check_attrs(slots[CONF_SLOT_NAME], CONF_NO_ATTRS, error) ||
            !(def->name = conf_xml_text(slots[CONF_SLOT_NAME], error)))
            return NULL;
    }
    if (!def->name || !*def->name) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_NO_NAME, "missing name information");
        return NULL;
    }
    if (!conf_name_check(def->name, error))
        return NULL;

    /* uuid */
    if (slots[CONF_SLOT_UUID]) {
        if (!conf_xml_check_attrs(slots[CONF_SLOT_UUID], CONF_NO_ATTRS, error) ||
            !(text = conf_xml_text(slots[CONF_SLOT_UUID], error)))
            return NULL;
        if (!conf_uuid_parse(text, def->uuid)) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "malformed uuid element");
            return NULL;
        }
        g_clear_pointer(&text, g_free);
    } else {
        conf_uuid_generate(def->uuid);
        def->uuid_generated = true;
    }

    if (slots[CONF_SLOT_TITLE]) {
        if (!conf_xml_check_attrs(slots[CONF_SLOT_TITLE], CONF_NO_ATTRS, error) ||
            !(def->title = conf_xml_text(slots[CONF_SLOT_TITLE], error)))
            return NULL;
        if (strpbrk(def->title, "\r\n")) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "Domain title can't contain newlines");
            return NULL;
        }
        if (!*def->title)
            g_clear_pointer(&def->title, g_free);
    }
    if (slots[CONF_SLOT_DESCRIPTION]) {
        if (!conf_xml_check_attrs(slots[CONF_SLOT_DESCRIPTION], CONF_NO_ATTRS, error) ||
            !(def->description = conf_xml_text(slots[CONF_SLOT_DESCRIPTION], error)))
            return NULL;
        if (!*def->description)
            g_clear_pointer(&def->description, g_free);
    }

    if (slots[CONF_SLOT_METADATA] && !conf_metadata_parse(slots[CONF_SLOT_METADATA], def, error))
        return NULL;
    if (slots[CONF_SLOT_NODENAMEINDEX]) {
        g_autofree char *index = NULL;
        unsigned long long value = 0;

        if (!(flags & CONF_DOMAIN_PARSE_STATUS)) {
            conf_xml_unsupported_child(root, slots[CONF_SLOT_NODENAMEINDEX], error);
            return NULL;
        }
        if (!conf_xml_check_attrs(slots[CONF_SLOT_NODENAMEINDEX], CONF_NO_ATTRS, error) ||
            !(index = conf_xml_text(slots[CONF_SLOT_NODENAMEINDEX], error)))
            return NULL;
        if (!conf_parse_ull(index, &value) || value > G_MAXUINT) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "invalid node name index '%s'", index);
            return NULL;
        }
        def->node_name_index = (unsigned int)value;
    }

    /* memory */
    if (slots[CONF_SLOT_MEMORY] &&
        !conf_memory_parse(slots[CONF_SLOT_MEMORY], &def->memory_kib, error))
        return NULL;
    if (def->memory_kib == 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "Memory size must be specified via <memory>");
        return NULL;
    }
    if (slots[CONF_SLOT_CURRENT_MEMORY] &&
        !conf_memory_parse(slots[CONF_SLOT_CURRENT_MEMORY], &def->current_memory_kib, error))
        return NULL;
    if (def->current_memory_kib == 0 || def->current_memory_kib > def->memory_kib)
        def->current_memory_kib = def->memory_kib;

    def->vcpus = 1;
    if (slots[CONF_SLOT_VCPU] && !conf_vcpu_parse(slots[CONF_SLOT_VCPU], def, error))
        return NULL;

    if (!slots[CONF_SLOT_OS]) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "an os <type> must be specified");
        return NULL;
    }
    if (!conf_os_parse(slots[CONF_SLOT_OS], def, error))
        return NULL;
    if (slots[CONF_SLOT_FEATURES] && !conf_features_parse(slots[CONF_SLOT_FEATURES], def, error))
        return NULL;
    if (slots[CONF_SLOT_CPU] && !conf_cpu_parse(slots[CONF_SLOT_CPU], def, error))
        return NULL;
    if (slots[CONF_SLOT_CLOCK] && !conf_clock_parse(slots[CONF_SLOT_CLOCK], def, error))
        return NULL;
    if (slots[CONF_SLOT_ON_POWEROFF] &&
        !conf_lifecycle_parse(slots[CONF_SLOT_ON_POWEROFF], "poweroff", false,
                              &def->on_poweroff, error))
        return NULL;
    if (slots[CONF_SLOT_ON_REBOOT] &&
        !conf_lifecycle_parse(slots[CONF_SLOT_ON_REBOOT], "reboot", false, &def->on_reboot, error))
        return NULL;
    if (slots[CONF_SLOT_ON_CRASH] &&
        !conf_lifecycle_parse(slots[CONF_SLOT_ON_CRASH], "crash", true, &def->on_crash, error))
        return NULL;
    if (slots[CONF_SLOT_PM] && !conf_pm_parse(slots[CONF_SLOT_PM], def, error))
        return NULL;
    if (slots[CONF_SLOT_DEVICES] && !conf_devices_parse(slots[CONF_SLOT_DEVICES], def, flags, error))
        return NULL;

    if (!conf_domain_check_disks(def, error) ||
        !conf_domain_check_boot(def, error) ||
        !conf_domain_fill_chr(def, error) ||
        !conf_domain_fill_video(def, error) ||
        !conf_domain_check_aliases(def, error))
        return NULL;
    return g_steal_pointer(&def);
}

/* ------------------------------------------------------------------ */
/* the document: limits, libxml2, the schema                           */
/* ------------------------------------------------------------------ */

#ifndef MODVIRT_SRCDIR
# error "MODVIRT_SRCDIR must be defined by the build"
#endif
#ifndef MODVIRT_SCHEMA_INSTDIR
# error "MODVIRT_SCHEMA_INSTDIR must be defined by the build"
#endif

#define CONF_DOMAIN_SCHEMA_FILE "domain.rng"

char *
conf_domain_schema_path(void)
{
    const char *env = g_getenv("MODVIRT_SCHEMA_DIR");
    g_autofree char *exe = NULL;
    const char *src = MODVIRT_SRCDIR "/shared/conf/schemas/" CONF_DOMAIN_SCHEMA_FILE;
    const char *inst = MODVIRT_SCHEMA_INSTDIR "/" CONF_DOMAIN_SCHEMA_FILE;
    const char *first = inst;
    const char *second = src;

    if (env && *env)
        return g_build_filename(env, CONF_DOMAIN_SCHEMA_FILE, NULL);

    /* like libvirt's virFileFindResource: programs run from the build
     * directory use the source tree */
    exe = g_file_read_link("/proc/self/exe", NULL);
    if (exe && g_str_has_prefix(exe, MODVIRT_BUILDDIR "/")) {
        first = src;
        second = inst;
    }
    if (!g_file_test(first, G_FILE_TEST_EXISTS) && g_file_test(second, G_FILE_TEST_EXISTS))
        return g_strdup(second);
    return g_strdup(first);
}

/* Collects libxml2 structured errors as "line N: message" lines. */
static void
conf_xml_collect_error(void *data, xmlErrorPtr err)
{
    GString *msgs = data;
    g_autofree char *msg = NULL;

    if (!err || !err->message || msgs->len > 1024)
        return;
    msg = g_strstrip(g_strdup(err->message));
    if (msgs->len)
        g_string_append(msgs, "; ");
    if (err->line > 0)
        g_string_append_printf(msgs, "line %d: %s", err->line, msg);
    else
        g_string_append(msgs, msg);
}

static GMutex conf_domain_schema_lock;
static xmlRelaxNGPtr conf_domain_schema;
static char *conf_domain_schema_loaded;

static bool
conf_domain_validate(xmlDoc *doc, GError **error)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&conf_domain_schema_lock);
    g_autofree char *path = conf_domain_schema_path();
    g_autoptr(xmlRelaxNGValidCtxt) vctxt = NULL;
    g_autoptr(GString) msgs = g_string_new(NULL);

    if (!conf_domain_schema || g_strcmp0(path, conf_domain_schema_loaded) != 0) {
        g_autoptr(xmlRelaxNGParserCtxt) pctxt = NULL;
        xmlRelaxNGPtr schema = NULL;

        if (access(path, R_OK) < 0) {
            util_error_set_errno(error, VIR_FROM_DOMAIN, errno,
                                 "unable to load the schema '%s'", path);
            return false;
        }
        if ((pctxt = xmlRelaxNGNewParserCtxt(path))) {
            xmlRelaxNGSetParserStructuredErrors(pctxt, conf_xml_collect_error, msgs);
            schema = xmlRelaxNGParse(pctxt);
        }
        if (!schema) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_INTERNAL_ERROR,
                           "unable to load the schema '%s': %s",
                           path, msgs->len ? msgs->str : "unknown error");
            return false;
        }
        g_clear_pointer(&conf_domain_schema, xmlRelaxNGFree);
        g_free(conf_domain_schema_loaded);
        conf_domain_schema = schema;
        conf_domain_schema_loaded = g_strdup(path);
        g_debug("loaded schema %s", path);
    }

    if (!(vctxt = xmlRelaxNGNewValidCtxt(conf_domain_schema))) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_INTERNAL_ERROR,
                       "unable to create a validation context");
        return false;
    }
    xmlRelaxNGSetValidStructuredErrors(vctxt, conf_xml_collect_error, msgs);
    if (xmlRelaxNGValidateDoc(vctxt, doc) != 0) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_INVALID_SCHEMA,
                       "XML document failed to validate against schema: %s",
                       msgs->len ? msgs->str : "unknown error");
        return false;
    }
    return true;
}

/* Refuses documents nested deeper than CONF_DOMAIN_XML_MAX_DEPTH, without
 * recursion. */
static bool
conf_xml_check_depth(const xmlNode *root, GError **error)
{
    const xmlNode *node = root;
    int depth = 1;

    while (node) {
        if (depth > CONF_DOMAIN_XML_MAX_DEPTH) {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "XML document is nested too deeply (more than %d levels, line %ld)",
                           CONF_DOMAIN_XML_MAX_DEPTH, xmlGetLineNo(node));
            return false;
        }
        if (node->children && node->type == XML_ELEMENT_NODE) {
            node = node->children;
            depth++;
            continue;
        }
        while (node && node != root && !node->next) {
            node = node->parent;
            depth--;
        }
        if (!node || node == root)
            break;
        node = node->next;
    }
    return true;
}

static xmlDoc *
conf_xml_read(const char *xml, size_t len, GError **error)
{
    g_autoptr(xmlParserCtxt) ctxt = xmlNewParserCtxt();
    g_autoptr(xmlDoc) doc = NULL;
    const char *end = NULL;

    if (!g_utf8_validate(xml, len, &end)) {
        int line = 1;

        for (const char *p = xml; p < end; p++) {
            if (*p == '\n')
                line++;
        }
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "XML document is not valid UTF-8 (line %d)", line);
        return NULL;
    }
    if (!ctxt) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_INTERNAL_ERROR,
                       "unable to create an XML parser");
        return NULL;
    }
    doc = xmlCtxtReadMemory(ctxt, xml, (int)len, NULL, "UTF-8",
                            XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc || !ctxt->wellFormed) {
        const xmlError *err = xmlCtxtGetLastError(ctxt);

        if (err && err->message) {
            g_autofree char *msg = g_strstrip(g_strdup(err->message));

            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_DETAIL,
                           "(domain_definition):%d: %s", err->line, msg);
        } else {
            util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                           "failed to parse xml document");
        }
        return NULL;
    }
    if (doc->intSubset || doc->extSubset) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "XML document must not contain a document type declaration");
        return NULL;
    }
    return g_steal_pointer(&doc);
}

ConfDomainDef *
conf_domain_parse(const char *xml, unsigned int flags, GError **error)
{
    g_autoptr(xmlDoc) doc = NULL;
    const xmlNode *root = NULL;
    size_t len = 0;

    static gsize xml_initialized;

    g_return_val_if_fail(xml != NULL, NULL);

    /* libxml2 wants this once, before threads use it */
    if (g_once_init_enter(&xml_initialized)) {
        xmlInitParser();
        g_once_init_leave(&xml_initialized, 1);
    }

    if (flags & ~(unsigned int)(CONF_DOMAIN_PARSE_VALIDATE | CONF_DOMAIN_PARSE_STATUS)) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_INVALID_ARG,
                       "unsupported flags (0x%x)", flags);
        return NULL;
    }
    len = strnlen(xml, CONF_DOMAIN_XML_MAX_SIZE + 1);
    if (len > CONF_DOMAIN_XML_MAX_SIZE) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "XML document is too large (%zu bytes, at most %d allowed)",
                       strlen(xml), CONF_DOMAIN_XML_MAX_SIZE);
        return NULL;
    }
    if (!(doc = conf_xml_read(xml, len, error)))
        return NULL;

    root = xmlDocGetRootElement(doc);
    if (root && root->ns) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "root element <%s> must not be in a namespace", conf_xml_name(root));
        return NULL;
    }
    if (!root || !conf_xml_is(root, "domain")) {
        util_error_set(error, VIR_FROM_DOMAIN, VIR_ERR_XML_ERROR,
                       "unexpected root element <%s>, expecting <domain>",
                       root ? conf_xml_name(root) : "");
        return NULL;
    }
    if (!conf_xml_check_depth(root, error))
        return NULL;
    if ((flags & CONF_DOMAIN_PARSE_VALIDATE) && !conf_domain_validate(doc, error))
        return NULL;
    return conf_domain_parse_root(root, flags, error);
}

/* ------------------------------------------------------------------ */
/* formatting                                                          */
/* ------------------------------------------------------------------ */

/* Escapes like libvirt's virBufferEscapeString; in attributes also the
 * blanks XML would otherwise normalise away. */
static void
conf_escape(GString *out, const char *text, bool attr)
{
    for (const char *p = text; *p; p++) {
        switch (*p) {
        case '&':
            g_string_append(out, "&amp;");
            break;
        case '<':
            g_string_append(out, "&lt;");
            break;
        case '>':
            g_string_append(out, "&gt;");
            break;
        case '\'':
            g_string_append(out, "&apos;");
            break;
        case '"':
            g_string_append(out, "&quot;");
            break;
        case '\r':
            g_string_append(out, "&#13;");
            break;
        case '\n':
            g_string_append(out, attr ? "&#10;" : "\n");
            break;
        case '\t':
            g_string_append(out, attr ? "&#9;" : "\t");
            break;
        default:
            g_string_append_c(out, *p);
        }
    }
}

/* One element under construction: attributes, then child lines. */
typedef struct {
    GString *attrs;
    GString *children;
    int indent;                 /* of the children */
} ConfElem;

static void
conf_elem_init(ConfElem *elem, int indent)
{
    elem->attrs = g_string_new(NULL);
    elem->children = g_string_new(NULL);
    elem->indent = indent + 2;
}

static void
conf_elem_clear(ConfElem *elem)
{
    g_string_free(elem->attrs, TRUE);
    g_string_free(elem->children, TRUE);
}

static void
conf_attr(ConfElem *elem, const char *name, const char *value)
{
    if (!value)
        return;
    g_string_append_printf(elem->attrs, " %s='", name);
    conf_escape(elem->attrs, value, true);
    g_string_append_c(elem->attrs, '\'');
}

static void G_GNUC_PRINTF(3, 4)
conf_attr_printf(ConfElem *elem, const char *name, const char *fmt, ...)
{
    va_list ap;
    g_autofree char *value = NULL;

    va_start(ap, fmt);
    value = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    conf_attr(elem, name, value);
}

static void
conf_indent(GString *out, int indent)
{
    for (int i = 0; i < indent; i++)
        g_string_append_c(out, ' ');
}

/* Writes <name attrs/> or <name attrs>children</name> at @indent and
 * clears @elem. */
static void
conf_elem_write(GString *out, int indent, const char *name, ConfElem *elem)
{
    conf_indent(out, indent);
    g_string_append_printf(out, "<%s%s", name, elem->attrs->str);
    if (elem->children->len == 0) {
        g_string_append(out, "/>\n");
    } else {
        g_string_append_printf(out, ">\n%s", elem->children->str);
        conf_indent(out, indent);
        g_string_append_printf(out, "</%s>\n", name);
    }
    conf_elem_clear(elem);
}

/* <name attrs>text</name> (attrs may be NULL) */
static void
conf_text_write(GString *out, int indent, const char *name, ConfElem *elem, const char *text)
{
    conf_indent(out, indent);
    g_string_append_printf(out, "<%s%s>", name, elem ? elem->attrs->str : "");
    conf_escape(out, text, false);
    g_string_append_printf(out, "</%s>\n", name);
    if (elem)
        conf_elem_clear(elem);
}

/* an empty element with one optional attribute: <name attr='value'/> */
static void
conf_empty_write(GString *out, int indent, const char *name, const char *attr, const char *value)
{
    ConfElem elem;

    conf_elem_init(&elem, indent);
    if (attr)
        conf_attr(&elem, attr, value);
    conf_elem_write(out, indent, name, &elem);
}

static void
conf_address_format(GString *out, int indent, const ConfDeviceAddress *addr)
{
    ConfElem elem;

    if (addr->type == CONF_DEVICE_ADDRESS_NONE)
        return;
    conf_elem_init(&elem, indent);
    conf_attr(&elem, "type", conf_device_address_names[addr->type]);
    switch (addr->type) {
    case CONF_DEVICE_ADDRESS_PCI:
        conf_attr_printf(&elem, "domain", "0x%04x", addr->domain);
        conf_attr_printf(&elem, "bus", "0x%02x", addr->bus);
        conf_attr_printf(&elem, "slot", "0x%02x", addr->slot);
        conf_attr_printf(&elem, "function", "0x%x", addr->function);
        if (addr->multifunction != CONF_TRISTATE_SWITCH_ABSENT)
            conf_attr(&elem, "multifunction", conf_tristate_switch_names[addr->multifunction]);
        break;
    case CONF_DEVICE_ADDRESS_DRIVE:
        conf_attr_printf(&elem, "controller", "%u", addr->controller);
        conf_attr_printf(&elem, "bus", "%u", addr->bus);
        conf_attr_printf(&elem, "target", "%u", addr->target);
        conf_attr_printf(&elem, "unit", "%u", addr->unit);
        break;
    case CONF_DEVICE_ADDRESS_VIRTIO_SERIAL:
        conf_attr_printf(&elem, "controller", "%u", addr->controller);
        conf_attr_printf(&elem, "bus", "%u", addr->bus);
        conf_attr_printf(&elem, "port", "%u", addr->port);
        break;
    case CONF_DEVICE_ADDRESS_USB:
        conf_attr_printf(&elem, "bus", "%u", addr->bus);
        conf_attr(&elem, "port", addr->usb_port);
        break;
    case CONF_DEVICE_ADDRESS_NONE:
    case CONF_DEVICE_ADDRESS_LAST:
        break;
    }
    conf_elem_write(out, indent, "address", &elem);
}

/* <boot order>, <alias>, <address>: the tail of every device */
static void
conf_device_info_format(GString *out, int indent, const ConfDeviceInfo *info,
                        unsigned int boot_order, unsigned int flags)
{
    if (boot_order) {
        g_autofree char *order = g_strdup_printf("%u", boot_order);

        conf_empty_write(out, indent, "boot", "order", order);
    }
    if (info->alias && (!(flags & CONF_DOMAIN_FORMAT_INACTIVE) ||
                        g_str_has_prefix(info->alias, CONF_USER_ALIAS_PREFIX)))
        conf_empty_write(out, indent, "alias", "name", info->alias);
    conf_address_format(out, indent, &info->addr);
}

static void
conf_storage_private_format(GString *out, int indent, const ConfStorageSource *src,
                            unsigned int flags)
{
    if (!(flags & CONF_DOMAIN_FORMAT_STATUS) ||
        (!src->node_name_storage && !src->node_name_format && !src->backing_name_raw))
        return;
    conf_indent(out, indent);
    g_string_append(out, "<privateData>\n");
    if (src->backing_name_raw)
        conf_text_write(out, indent + 2, "relPath", NULL, src->backing_name_raw);
    if (!src->node_name_storage && !src->node_name_format) {
        conf_indent(out, indent);
        g_string_append(out, "</privateData>\n");
        return;
    }
    conf_indent(out, indent + 2);
    g_string_append(out, "<nodenames>\n");
    if (src->node_name_storage) {
        ConfElem elem;

        conf_elem_init(&elem, indent + 4);
        conf_attr(&elem, "type", "storage");
        conf_attr(&elem, "name", src->node_name_storage);
        conf_elem_write(out, indent + 4, "nodename", &elem);
    }
    if (src->node_name_format) {
        ConfElem elem;

        conf_elem_init(&elem, indent + 4);
        conf_attr(&elem, "type", "format");
        conf_attr(&elem, "name", src->node_name_format);
        conf_elem_write(out, indent + 4, "nodename", &elem);
    }
    conf_indent(out, indent + 2);
    g_string_append(out, "</nodenames>\n");
    conf_indent(out, indent);
    g_string_append(out, "</privateData>\n");
}

/* <source .../> of one chain member; nothing for an empty source */
static void
conf_storage_source_format(GString *out, int indent, const ConfStorageSource *src,
                           unsigned int flags)
{
    ConfElem elem;

    if (!src->path && !src->pool)
        return;
    conf_elem_init(&elem, indent);
    switch (src->type) {
    case CONF_STORAGE_TYPE_FILE:
        conf_attr(&elem, "file", src->path);
        break;
    case CONF_STORAGE_TYPE_BLOCK:
        conf_attr(&elem, "dev", src->path);
        break;
    case CONF_STORAGE_TYPE_VOLUME:
        conf_attr(&elem, "pool", src->pool);
        conf_attr(&elem, "volume", src->volume);
        break;
    case CONF_STORAGE_TYPE_LAST:
        break;
    }
    conf_storage_private_format(elem.children, elem.indent, src, flags);
    conf_elem_write(out, indent, "source", &elem);
}

/* The chain below @top, nested; "index" (1, 2, ... from the top down) only
 * on live XML.  Iterative: the nesting is built inside out. */
static void
conf_backing_chain_format(GString *out, int indent, const ConfStorageSource *top,
                          unsigned int flags)
{
    g_autoptr(GPtrArray) chain = g_ptr_array_new();
    g_autoptr(GString) inner = NULL;
    const ConfStorageSource *last = top;

    for (const ConfStorageSource *s = top->backing; s; s = s->backing) {
        g_ptr_array_add(chain, (gpointer)s);
        last = s;
    }
    if (chain->len == 0 && !top->backing_terminated)
        return;

    /* innermost: the terminator, if the chain is known to end */
    inner = g_string_new(NULL);
    if (last->backing_terminated) {
        conf_indent(inner, indent + 2 * (int)chain->len);
        g_string_append(inner, "<backingStore/>\n");
    }
    for (guint i = chain->len; i-- > 0;) {
        const ConfStorageSource *s = g_ptr_array_index(chain, i);
        int level = indent + 2 * (int)i;
        g_autoptr(GString) cur = g_string_new(NULL);
        ConfElem elem;

        conf_elem_init(&elem, level);
        conf_attr(&elem, "type", conf_storage_type_names[s->type]);
        if (!(flags & CONF_DOMAIN_FORMAT_INACTIVE))
            conf_attr_printf(&elem, "index", "%u", i + 1);
        if (s->format != CONF_STORAGE_FORMAT_NONE)
            conf_empty_write(elem.children, level + 2, "format", "type",
                             conf_storage_format_names[s->format]);
        conf_storage_source_format(elem.children, level + 2, s, flags);
        g_string_append(elem.children, inner->str);
        conf_elem_write(cur, level, "backingStore", &elem);
        g_string_assign(inner, cur->str);
    }
    g_string_append(out, inner->str);
}

static void
conf_disk_mirror_format(GString *out, int indent, const ConfDomainDiskDef *disk,
                        unsigned int flags)
{
    const ConfStorageSource *m = disk->mirror;
    ConfElem elem;

    conf_elem_init(&elem, indent);
    conf_attr(&elem, "type", conf_storage_type_names[m->type]);
    /* the attributes old clients read, for copy jobs to a file */
    if (disk->mirror_job == CONF_DOMAIN_DISK_MIRROR_JOB_COPY && m->type == CONF_STORAGE_TYPE_FILE) {
        conf_attr(&elem, "file", m->path);
        if (m->format != CONF_STORAGE_FORMAT_NONE)
            conf_attr(&elem, "format", conf_storage_format_names[m->format]);
    }
    conf_attr(&elem, "job", conf_disk_mirror_job_names[disk->mirror_job]);
    if (disk->mirror_ready != CONF_DOMAIN_DISK_MIRROR_READY_NONE)
        conf_attr(&elem, "ready", conf_disk_mirror_ready_names[disk->mirror_ready]);
    if (m->format != CONF_STORAGE_FORMAT_NONE)
        conf_empty_write(elem.children, elem.indent, "format", "type",
                         conf_storage_format_names[m->format]);
    conf_storage_source_format(elem.children, elem.indent, m, flags);
    conf_backing_chain_format(elem.children, elem.indent, m, flags | CONF_DOMAIN_FORMAT_INACTIVE);
    conf_elem_write(out, indent, "mirror", &elem);
}

static void
conf_disk_format(GString *out, int indent, const ConfDomainDiskDef *disk, unsigned int flags)
{
    ConfElem elem;
    ConfElem driver;
    ConfElem target;
    GString *c = NULL;
    int ci = 0;

    conf_elem_init(&elem, indent);
    c = elem.children;
    ci = elem.indent;
    conf_attr(&elem, "type", conf_storage_type_names[disk->src->type]);
    conf_attr(&elem, "device", conf_disk_device_names[disk->device]);

    conf_elem_init(&driver, ci);
    conf_attr(&driver, "name", disk->driver_name);
    if (disk->src->format != CONF_STORAGE_FORMAT_NONE)
        conf_attr(&driver, "type", conf_storage_format_names[disk->src->format]);
    if (disk->cache != CONF_DOMAIN_DISK_CACHE_DEFAULT)
        conf_attr(&driver, "cache", conf_disk_cache_names[disk->cache]);
    if (disk->io != CONF_DOMAIN_DISK_IO_DEFAULT)
        conf_attr(&driver, "io", conf_disk_io_names[disk->io]);
    if (disk->discard != CONF_DOMAIN_DISK_DISCARD_DEFAULT)
        conf_attr(&driver, "discard", conf_disk_discard_names[disk->discard]);
    if (driver.attrs->len)
        conf_elem_write(c, ci, "driver", &driver);
    else
        conf_elem_clear(&driver);

    conf_storage_source_format(c, ci, disk->src, flags);
    conf_backing_chain_format(c, ci, disk->src, flags);
    if (disk->mirror && !(flags & CONF_DOMAIN_FORMAT_INACTIVE))
        conf_disk_mirror_format(c, ci, disk, flags);

    conf_elem_init(&target, ci);
    conf_attr(&target, "dev", disk->dst);
    conf_attr(&target, "bus", conf_disk_bus_names[disk->bus]);
    conf_elem_write(c, ci, "target", &target);

    if (disk->readonly)
        conf_empty_write(c, ci, "readonly", NULL, NULL);
    if (disk->shareable)
        conf_empty_write(c, ci, "shareable", NULL, NULL);
    if (disk->serial)
        conf_text_write(c, ci, "serial", NULL, disk->serial);
    conf_device_info_format(c, ci, &disk->info, disk->boot_order, flags);
    conf_elem_write(out, indent, "disk", &elem);
}

static void
conf_controller_format(GString *out, int indent, const ConfDomainControllerDef *ctrl,
                       unsigned int flags)
{
    ConfElem elem;

    conf_elem_init(&elem, indent);
    conf_attr(&elem, "type", conf_controller_type_names[ctrl->type]);
    conf_attr_printf(&elem, "index", "%u", ctrl->index);
    conf_attr(&elem, "model", ctrl->model);
    if (ctrl->ports >= 0)
        conf_attr_printf(&elem, "ports", "%d", ctrl->ports);
    if (ctrl->vectors >= 0)
        conf_attr_printf(&elem, "vectors", "%d", ctrl->vectors);
    if (ctrl->pci_model_name)
        conf_empty_write(elem.children, elem.indent, "model", "name", ctrl->pci_model_name);
    if (ctrl->pci_chassis >= 0 || ctrl->pci_port >= 0) {
        ConfElem target;

        conf_elem_init(&target, elem.indent);
        if (ctrl->pci_chassis >= 0)
            conf_attr_printf(&target, "chassis", "%d", ctrl->pci_chassis);
        if (ctrl->pci_port >= 0)
            conf_attr_printf(&target, "port", "0x%x", (unsigned int)ctrl->pci_port);
        conf_elem_write(elem.children, elem.indent, "target", &target);
    }
    conf_device_info_format(elem.children, elem.indent, &ctrl->info, 0, flags);
    conf_elem_write(out, indent, "controller", &elem);
}

static void
conf_net_format(GString *out, int indent, const ConfDomainNetDef *net, unsigned int flags)
{
    ConfElem elem;
    ConfElem source;
    GString *c = NULL;
    int ci = 0;
    g_autofree char *mac = g_strdup_printf("%02x:%02x:%02x:%02x:%02x:%02x",
                                           net->mac[0], net->mac[1], net->mac[2],
                                           net->mac[3], net->mac[4], net->mac[5]);

    conf_elem_init(&elem, indent);
    c = elem.children;
    ci = elem.indent;
    conf_attr(&elem, "type", conf_net_type_names[net->type]);
    conf_empty_write(c, ci, "mac", "address", mac);

    conf_elem_init(&source, ci);
    switch (net->type) {
    case CONF_DOMAIN_NET_TYPE_USER:
        break;
    case CONF_DOMAIN_NET_TYPE_NETWORK:
        conf_attr(&source, "network", net->network);
        conf_attr(&source, "portgroup", net->portgroup);
        break;
    case CONF_DOMAIN_NET_TYPE_BRIDGE:
        conf_attr(&source, "bridge", net->bridge);
        break;
    case CONF_DOMAIN_NET_TYPE_LAST:
        break;
    }
    if (source.attrs->len)
        conf_elem_write(c, ci, "source", &source);
    else
        conf_elem_clear(&source);

    if (net->ifname && (!(flags & CONF_DOMAIN_FORMAT_INACTIVE) ||
                        !(g_str_has_prefix(net->ifname, "vnet") ||
                          g_str_has_prefix(net->ifname, "macvtap"))))
        conf_empty_write(c, ci, "target", "dev", net->ifname);
    if (net->model)
        conf_empty_write(c, ci, "model", "type", net->model);
    conf_device_info_format(c, ci, &net->info, net->boot_order, flags);
    conf_elem_write(out, indent, "interface", &elem);
}

static void
conf_chr_format(GString *out, int indent, const ConfDomainChrDef *chr, unsigned int flags)
{
    ConfElem elem;
    ConfElem target;
    bool live = !(flags & CONF_DOMAIN_FORMAT_INACTIVE);
    bool serial = chr->kind == CONF_DOMAIN_CHR_DEVICE_SERIAL;

    conf_elem_init(&elem, indent);
    conf_attr(&elem, "type", conf_chr_type_names[chr->type]);
    if (!serial && live && chr->pty_path)
        conf_attr(&elem, "tty", chr->pty_path);
    if (live && chr->pty_path)
        conf_empty_write(elem.children, elem.indent, "source", "path", chr->pty_path);

    conf_elem_init(&target, elem.indent);
    if (serial) {
        if (chr->serial_target != CONF_DOMAIN_CHR_SERIAL_TARGET_NONE)
            conf_attr(&target, "type", conf_chr_serial_target_names[chr->serial_target]);
    } else {
        conf_attr(&target, "type", conf_chr_console_target_names[chr->console_target]);
    }
    conf_attr_printf(&target, "port", "%d", chr->port);
    if (serial && chr->serial_model != CONF_DOMAIN_CHR_SERIAL_MODEL_NONE)
        conf_empty_write(target.children, target.indent, "model", "name",
                         conf_chr_serial_model_names[chr->serial_model]);
    conf_elem_write(elem.children, elem.indent, "target", &target);
    conf_device_info_format(elem.children, elem.indent, &chr->info, 0, flags);
    conf_elem_write(out, indent, conf_chr_device_names[chr->kind], &elem);
}

static void
conf_input_format(GString *out, int indent, const ConfDomainInputDef *input, unsigned int flags)
{
    ConfElem elem;

    conf_elem_init(&elem, indent);
    conf_attr(&elem, "type", conf_input_type_names[input->type]);
    conf_attr(&elem, "bus", conf_input_bus_names[input->bus]);
    conf_device_info_format(elem.children, elem.indent, &input->info, 0, flags);
    conf_elem_write(out, indent, "input", &elem);
}

static void
conf_graphics_format(GString *out, int indent, const ConfDomainGraphicsDef *graphics,
                     unsigned int flags)
{
    ConfElem elem;
    ConfElem listen;
    int port = graphics->port;

    if (graphics->autoport && (flags & CONF_DOMAIN_FORMAT_INACTIVE))
        port = -1;
    conf_elem_init(&elem, indent);
    conf_attr(&elem, "type", conf_graphics_type_names[graphics->type]);
    conf_attr_printf(&elem, "port", "%d", port);
    conf_attr(&elem, "autoport", graphics->autoport ? "yes" : "no");
    conf_attr(&elem, "listen", graphics->listen);
    if (flags & (CONF_DOMAIN_FORMAT_SECURE | CONF_DOMAIN_FORMAT_STATUS))
        conf_attr(&elem, "passwd", graphics->passwd);
    conf_attr(&elem, "keymap", graphics->keymap);

    conf_elem_init(&listen, elem.indent);
    conf_attr(&listen, "type", "address");
    conf_attr(&listen, "address", graphics->listen);
    conf_elem_write(elem.children, elem.indent, "listen", &listen);
    conf_elem_write(out, indent, "graphics", &elem);
}

static void
conf_video_format(GString *out, int indent, const ConfDomainVideoDef *video, unsigned int flags)
{
    ConfElem elem;
    ConfElem model;

    conf_elem_init(&elem, indent);
    conf_elem_init(&model, elem.indent);
    conf_attr(&model, "type", conf_video_type_names[video->type]);
    if (video->ram)
        conf_attr_printf(&model, "ram", "%u", video->ram);
    if (video->vram)
        conf_attr_printf(&model, "vram", "%u", video->vram);
    if (video->heads)
        conf_attr_printf(&model, "heads", "%u", video->heads);
    if (video->primary)
        conf_attr(&model, "primary", "yes");
    conf_elem_write(elem.children, elem.indent, "model", &model);
    conf_device_info_format(elem.children, elem.indent, &video->info, 0, flags);
    conf_elem_write(out, indent, "video", &elem);
}

static void
conf_memballoon_format(GString *out, int indent, const ConfDomainMemballoonDef *balloon,
                       unsigned int flags)
{
    ConfElem elem;

    conf_elem_init(&elem, indent);
    conf_attr(&elem, "model", conf_memballoon_model_names[balloon->model]);
    conf_device_info_format(elem.children, elem.indent, &balloon->info, 0, flags);
    conf_elem_write(out, indent, "memballoon", &elem);
}

static void
conf_os_format(GString *out, int indent, const ConfDomainOsDef *os)
{
    ConfElem elem;
    ConfElem type;

    conf_elem_init(&elem, indent);
    conf_elem_init(&type, elem.indent);
    conf_attr(&type, "arch", os->arch);
    conf_attr(&type, "machine", os->machine);
    conf_text_write(elem.children, elem.indent, "type", &type, conf_os_type_names[os->type]);
    if (os->kernel)
        conf_text_write(elem.children, elem.indent, "kernel", NULL, os->kernel);
    if (os->initrd)
        conf_text_write(elem.children, elem.indent, "initrd", NULL, os->initrd);
    if (os->cmdline)
        conf_text_write(elem.children, elem.indent, "cmdline", NULL, os->cmdline);
    for (size_t i = 0; i < os->n_boot_devs; i++)
        conf_empty_write(elem.children, elem.indent, "boot", "dev",
                         conf_boot_dev_names[os->boot_devs[i]]);
    conf_elem_write(out, indent, "os", &elem);
}

static void
conf_cpu_format(GString *out, int indent, const ConfDomainCpuDef *cpu)
{
    ConfElem elem;

    conf_elem_init(&elem, indent);
    conf_attr(&elem, "mode", conf_cpu_mode_names[cpu->mode]);
    if (cpu->match != CONF_DOMAIN_CPU_MATCH_DEFAULT)
        conf_attr(&elem, "match", conf_cpu_match_names[cpu->match]);
    if (cpu->check != CONF_DOMAIN_CPU_CHECK_DEFAULT)
        conf_attr(&elem, "check", conf_cpu_check_names[cpu->check]);
    if (cpu->migratable != CONF_TRISTATE_SWITCH_ABSENT)
        conf_attr(&elem, "migratable", conf_tristate_switch_names[cpu->migratable]);
    if (cpu->model || cpu->fallback != CONF_DOMAIN_CPU_FALLBACK_DEFAULT) {
        ConfElem model;

        conf_elem_init(&model, elem.indent);
        if (cpu->fallback != CONF_DOMAIN_CPU_FALLBACK_DEFAULT)
            conf_attr(&model, "fallback", conf_cpu_fallback_names[cpu->fallback]);
        if (cpu->model)
            conf_text_write(elem.children, elem.indent, "model", &model, cpu->model);
        else
            conf_elem_write(elem.children, elem.indent, "model", &model);
    }
    conf_elem_write(out, indent, "cpu", &elem);
}

static void
conf_clock_format(GString *out, int indent, const ConfDomainDef *def)
{
    ConfElem elem;

    conf_elem_init(&elem, indent);
    conf_attr(&elem, "offset", conf_clock_offset_names[def->clock_offset]);
    for (guint i = 0; i < def->timers->len; i++) {
        const ConfDomainTimerDef *timer = g_ptr_array_index(def->timers, i);
        ConfElem t;

        conf_elem_init(&t, elem.indent);
        conf_attr(&t, "name", conf_timer_name_names[timer->name]);
        if (timer->present != CONF_TRISTATE_BOOL_ABSENT)
            conf_attr(&t, "present", conf_tristate_bool_names[timer->present]);
        if (timer->tickpolicy != CONF_DOMAIN_TIMER_TICKPOLICY_NONE)
            conf_attr(&t, "tickpolicy", conf_timer_tickpolicy_names[timer->tickpolicy]);
        conf_elem_write(elem.children, elem.indent, "timer", &t);
    }
    conf_elem_write(out, indent, "clock", &elem);
}

char *
conf_domain_format(const ConfDomainDef *def, unsigned int flags)
{
    g_autoptr(GString) out = g_string_new(NULL);
    ConfElem root;
    GString *c = NULL;
    int ci = 0;
    char uuid[37];
    g_autofree char *memory = NULL;
    g_autofree char *current = NULL;
    g_autofree char *vcpus = NULL;

    g_return_val_if_fail(def != NULL, NULL);
    if (flags & CONF_DOMAIN_FORMAT_STATUS)
        flags = (flags | CONF_DOMAIN_FORMAT_SECURE) & ~(unsigned int)CONF_DOMAIN_FORMAT_INACTIVE;

    conf_elem_init(&root, 0);
    c = root.children;
    ci = root.indent;
    conf_attr(&root, "type", conf_virt_type_names[def->virt_type]);
    if (def->id >= 0 && !(flags & CONF_DOMAIN_FORMAT_INACTIVE))
        conf_attr_printf(&root, "id", "%d", def->id);

    conf_text_write(c, ci, "name", NULL, def->name);
    g_snprintf(uuid, sizeof(uuid),
               "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
               def->uuid[0], def->uuid[1], def->uuid[2], def->uuid[3],
               def->uuid[4], def->uuid[5], def->uuid[6], def->uuid[7],
               def->uuid[8], def->uuid[9], def->uuid[10], def->uuid[11],
               def->uuid[12], def->uuid[13], def->uuid[14], def->uuid[15]);
    conf_text_write(c, ci, "uuid", NULL, uuid);
    if (def->title)
        conf_text_write(c, ci, "title", NULL, def->title);
    if (def->description)
        conf_text_write(c, ci, "description", NULL, def->description);
    if (def->metadata) {
        conf_indent(c, ci);
        if (*def->metadata)
            g_string_append_printf(c, "<metadata>\n%s", def->metadata);
        else
            g_string_append(c, "<metadata/>\n");
        if (*def->metadata) {
            conf_indent(c, ci);
            g_string_append(c, "</metadata>\n");
        }
    }

    memory = g_strdup_printf("%llu", def->memory_kib);
    current = g_strdup_printf("%llu", def->current_memory_kib);
    {
        ConfElem m;

        conf_elem_init(&m, ci);
        conf_attr(&m, "unit", "KiB");
        conf_text_write(c, ci, "memory", &m, memory);
        conf_elem_init(&m, ci);
        conf_attr(&m, "unit", "KiB");
        conf_text_write(c, ci, "currentMemory", &m, current);
        conf_elem_init(&m, ci);
        conf_attr(&m, "placement", "static");
        vcpus = g_strdup_printf("%u", def->vcpus);
        conf_text_write(c, ci, "vcpu", &m, vcpus);
    }

    conf_os_format(c, ci, &def->os);
    {
        ConfElem features;

        conf_elem_init(&features, ci);
        for (int i = 0; i < CONF_DOMAIN_FEATURE_LAST; i++) {
            if (def->features[i])
                conf_empty_write(features.children, features.indent, conf_feature_names[i],
                                 NULL, NULL);
        }
        if (features.children->len)
            conf_elem_write(c, ci, "features", &features);
        else
            conf_elem_clear(&features);
    }
    if (def->cpu)
        conf_cpu_format(c, ci, def->cpu);
    conf_clock_format(c, ci, def);
    conf_text_write(c, ci, "on_poweroff", NULL, conf_lifecycle_names[def->on_poweroff]);
    conf_text_write(c, ci, "on_reboot", NULL, conf_lifecycle_names[def->on_reboot]);
    conf_text_write(c, ci, "on_crash", NULL, conf_lifecycle_names[def->on_crash]);
    if (def->pm_suspend_to_mem != CONF_TRISTATE_BOOL_ABSENT ||
        def->pm_suspend_to_disk != CONF_TRISTATE_BOOL_ABSENT) {
        ConfElem pm;

        conf_elem_init(&pm, ci);
        if (def->pm_suspend_to_mem != CONF_TRISTATE_BOOL_ABSENT)
            conf_empty_write(pm.children, pm.indent, "suspend-to-mem", "enabled",
                             conf_tristate_bool_names[def->pm_suspend_to_mem]);
        if (def->pm_suspend_to_disk != CONF_TRISTATE_BOOL_ABSENT)
            conf_empty_write(pm.children, pm.indent, "suspend-to-disk", "enabled",
                             conf_tristate_bool_names[def->pm_suspend_to_disk]);
        conf_elem_write(c, ci, "pm", &pm);
    }

    /* libvirt always writes <devices>, empty or not, as open and close */
    conf_indent(c, ci);
    g_string_append(c, "<devices>\n");
    {
        int di = ci + 2;

        if (def->emulator)
            conf_text_write(c, di, "emulator", NULL, def->emulator);
        for (guint i = 0; i < def->disks->len; i++)
            conf_disk_format(c, di, g_ptr_array_index(def->disks, i), flags);
        for (guint i = 0; i < def->controllers->len; i++)
            conf_controller_format(c, di, g_ptr_array_index(def->controllers, i), flags);
        for (guint i = 0; i < def->nets->len; i++)
            conf_net_format(c, di, g_ptr_array_index(def->nets, i), flags);
        for (guint i = 0; i < def->serials->len; i++)
            conf_chr_format(c, di, g_ptr_array_index(def->serials, i), flags);
        for (guint i = 0; i < def->consoles->len; i++)
            conf_chr_format(c, di, g_ptr_array_index(def->consoles, i), flags);
        for (guint i = 0; i < def->inputs->len; i++)
            conf_input_format(c, di, g_ptr_array_index(def->inputs, i), flags);
        for (guint i = 0; i < def->graphics->len; i++)
            conf_graphics_format(c, di, g_ptr_array_index(def->graphics, i), flags);
        for (guint i = 0; i < def->videos->len; i++)
            conf_video_format(c, di, g_ptr_array_index(def->videos, i), flags);
        if (def->memballoon)
            conf_memballoon_format(c, di, def->memballoon, flags);
    }
    conf_indent(c, ci);
    g_string_append(c, "</devices>\n");
    if ((flags & CONF_DOMAIN_FORMAT_STATUS) && def->node_name_index > 0) {
        g_autofree char *index = g_strdup_printf("%u", def->node_name_index);

        conf_text_write(c, ci, "nodenameindex", NULL, index);
    }

    conf_elem_write(out, 0, "domain", &root);
    return g_string_free(g_steal_pointer(&out), FALSE);
}

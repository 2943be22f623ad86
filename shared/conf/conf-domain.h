/*
 * conf-domain.h: the domain definition (libvirt's domain XML, the subset
 * real guests need).
 *
 * Element and attribute names, defaults, element order and layout follow
 * libvirt 9.0 (docs/formatdomain.rst, `virsh dumpxml`).  The schema for
 * exactly this subset is shared/conf/schemas/domain.rng.
 *
 * Error codes are those libvirt reports for the same input: malformed XML
 * is VIR_ERR_XML_DETAIL ("(domain_definition):LINE: ..."), bad values are
 * VIR_ERR_XML_ERROR or VIR_ERR_CONFIG_UNSUPPORTED, a missing name, disk
 * source or disk target VIR_ERR_NO_NAME / VIR_ERR_NO_SOURCE /
 * VIR_ERR_NO_TARGET.  Anything outside the subset (an unknown element or
 * attribute anywhere) is VIR_ERR_CONFIG_UNSUPPORTED naming it, so nothing
 * a user wrote is silently dropped.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

/* ---- small shared value types ---- */

typedef enum {
    CONF_TRISTATE_BOOL_ABSENT,
    CONF_TRISTATE_BOOL_YES,
    CONF_TRISTATE_BOOL_NO,

    CONF_TRISTATE_BOOL_LAST
} ConfTristateBool;

typedef enum {
    CONF_TRISTATE_SWITCH_ABSENT,
    CONF_TRISTATE_SWITCH_ON,
    CONF_TRISTATE_SWITCH_OFF,

    CONF_TRISTATE_SWITCH_LAST
} ConfTristateSwitch;

/* ---- storage sources and backing chains ---- */

typedef enum {
    CONF_STORAGE_TYPE_FILE,     /* <source file=.../> */
    CONF_STORAGE_TYPE_BLOCK,    /* <source dev=.../> */
    CONF_STORAGE_TYPE_VOLUME,   /* <source pool=... volume=.../> */

    CONF_STORAGE_TYPE_LAST
} ConfStorageType;

typedef enum {
    CONF_STORAGE_FORMAT_NONE,   /* not given (disk driver type absent) */
    CONF_STORAGE_FORMAT_RAW,
    CONF_STORAGE_FORMAT_QCOW2,

    CONF_STORAGE_FORMAT_LAST
} ConfStorageFormat;

typedef struct _ConfStorageSource ConfStorageSource;
struct _ConfStorageSource {
    ConfStorageType type;
    char *path;                 /* file or device; NULL: empty (cdrom/floppy) or a volume */
    char *pool;                 /* CONF_STORAGE_TYPE_VOLUME only */
    char *volume;
    ConfStorageFormat format;

    /* Runtime data, formatted and parsed only with the STATUS flags. */
    char *node_name_storage;
    char *node_name_format;
    /* The backing name exactly as written in the header of the image
     * above this one (possibly relative), NULL for the top of a chain and
     * for layers given in the definition; kept in status XML as
     * <relPath> so a later commit or pull can keep relative names. */
    char *backing_name_raw;

    /* The image below this one: NULL with backing_terminated false means
     * "not known" (no <backingStore> given), NULL with backing_terminated
     * true means "this image has no backing file" (<backingStore/>). */
    ConfStorageSource *backing;
    bool backing_terminated;
};

/* ---- devices ---- */

typedef enum {
    CONF_DEVICE_ADDRESS_NONE,
    CONF_DEVICE_ADDRESS_PCI,
    CONF_DEVICE_ADDRESS_DRIVE,
    CONF_DEVICE_ADDRESS_VIRTIO_SERIAL,
    CONF_DEVICE_ADDRESS_USB,

    CONF_DEVICE_ADDRESS_LAST
} ConfDeviceAddressType;

typedef struct {
    ConfDeviceAddressType type;
    /* pci */
    unsigned int domain;
    unsigned int bus;           /* also drive, virtio-serial, usb */
    unsigned int slot;
    unsigned int function;
    ConfTristateSwitch multifunction;
    /* drive, virtio-serial */
    unsigned int controller;
    unsigned int target;        /* drive */
    unsigned int unit;          /* drive */
    unsigned int port;          /* virtio-serial */
    char *usb_port;             /* usb: "1" or "1.2" */
} ConfDeviceAddress;

/* What every device may carry. */
typedef struct {
    char *alias;                /* "ua-..." (user) kept always, others are runtime */
    ConfDeviceAddress addr;
} ConfDeviceInfo;

typedef enum {
    CONF_DOMAIN_DISK_DEVICE_DISK,
    CONF_DOMAIN_DISK_DEVICE_CDROM,
    CONF_DOMAIN_DISK_DEVICE_FLOPPY,

    CONF_DOMAIN_DISK_DEVICE_LAST
} ConfDomainDiskDevice;

typedef enum {
    CONF_DOMAIN_DISK_BUS_IDE,
    CONF_DOMAIN_DISK_BUS_FDC,
    CONF_DOMAIN_DISK_BUS_SCSI,
    CONF_DOMAIN_DISK_BUS_VIRTIO,
    CONF_DOMAIN_DISK_BUS_USB,
    CONF_DOMAIN_DISK_BUS_SATA,

    CONF_DOMAIN_DISK_BUS_LAST
} ConfDomainDiskBus;

typedef enum {
    CONF_DOMAIN_DISK_CACHE_DEFAULT,
    CONF_DOMAIN_DISK_CACHE_NONE,
    CONF_DOMAIN_DISK_CACHE_WRITETHROUGH,
    CONF_DOMAIN_DISK_CACHE_WRITEBACK,
    CONF_DOMAIN_DISK_CACHE_DIRECTSYNC,
    CONF_DOMAIN_DISK_CACHE_UNSAFE,

    CONF_DOMAIN_DISK_CACHE_LAST
} ConfDomainDiskCache;

typedef enum {
    CONF_DOMAIN_DISK_DISCARD_DEFAULT,
    CONF_DOMAIN_DISK_DISCARD_UNMAP,
    CONF_DOMAIN_DISK_DISCARD_IGNORE,

    CONF_DOMAIN_DISK_DISCARD_LAST
} ConfDomainDiskDiscard;

typedef enum {
    CONF_DOMAIN_DISK_IO_DEFAULT,
    CONF_DOMAIN_DISK_IO_NATIVE,
    CONF_DOMAIN_DISK_IO_THREADS,
    CONF_DOMAIN_DISK_IO_URING,

    CONF_DOMAIN_DISK_IO_LAST
} ConfDomainDiskIo;

/* The two-phase block job a disk's <mirror> belongs to (job='...'). */
typedef enum {
    CONF_DOMAIN_DISK_MIRROR_JOB_COPY,
    CONF_DOMAIN_DISK_MIRROR_JOB_ACTIVE_COMMIT,

    CONF_DOMAIN_DISK_MIRROR_JOB_LAST
} ConfDomainDiskMirrorJob;

/* <mirror ready='...'>: absent while copying, then yes, abort or pivot. */
typedef enum {
    CONF_DOMAIN_DISK_MIRROR_READY_NONE,
    CONF_DOMAIN_DISK_MIRROR_READY_YES,
    CONF_DOMAIN_DISK_MIRROR_READY_ABORT,
    CONF_DOMAIN_DISK_MIRROR_READY_PIVOT,

    CONF_DOMAIN_DISK_MIRROR_READY_LAST
} ConfDomainDiskMirrorReady;

typedef struct {
    ConfDomainDiskDevice device;
    char *driver_name;          /* <driver name=...>, e.g. "qemu"; may be NULL */
    ConfDomainDiskCache cache;
    ConfDomainDiskDiscard discard;
    ConfDomainDiskIo io;
    ConfStorageSource *src;     /* never NULL; src->type is the disk type,
                                 * src->format the driver type */
    char *dst;                  /* target dev, "vda" */
    ConfDomainDiskBus bus;      /* from <target bus>, else implied by dst */
    bool readonly;              /* always true for a cdrom */
    bool shareable;
    char *serial;
    unsigned int boot_order;    /* 0: none */
    ConfDeviceInfo info;

    /* Runtime: the destination of a copy or active commit job (for an
     * active commit, the base), NULL when none.  Shown in live XML,
     * parsed back only from status XML. */
    ConfStorageSource *mirror;
    ConfDomainDiskMirrorJob mirror_job;
    ConfDomainDiskMirrorReady mirror_ready;
} ConfDomainDiskDef;

typedef enum {
    CONF_DOMAIN_CONTROLLER_TYPE_IDE,
    CONF_DOMAIN_CONTROLLER_TYPE_FDC,
    CONF_DOMAIN_CONTROLLER_TYPE_SCSI,
    CONF_DOMAIN_CONTROLLER_TYPE_SATA,
    CONF_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL,
    CONF_DOMAIN_CONTROLLER_TYPE_CCID,
    CONF_DOMAIN_CONTROLLER_TYPE_USB,
    CONF_DOMAIN_CONTROLLER_TYPE_PCI,
    CONF_DOMAIN_CONTROLLER_TYPE_XENBUS,
    CONF_DOMAIN_CONTROLLER_TYPE_ISA,

    CONF_DOMAIN_CONTROLLER_TYPE_LAST
} ConfDomainControllerType;

typedef struct {
    ConfDomainControllerType type;
    unsigned int index;
    char *model;                /* one of libvirt's models for the type, or NULL */
    int ports;                  /* -1: not given */
    int vectors;                /* -1: not given */
    char *pci_model_name;       /* <model name=.../> (pci) */
    int pci_chassis;            /* <target chassis=...> (pci), -1: not given */
    int pci_port;               /* <target port=...> (pci), -1: not given */
    ConfDeviceInfo info;
} ConfDomainControllerDef;

typedef enum {
    CONF_DOMAIN_NET_TYPE_USER,
    CONF_DOMAIN_NET_TYPE_NETWORK,
    CONF_DOMAIN_NET_TYPE_BRIDGE,

    CONF_DOMAIN_NET_TYPE_LAST
} ConfDomainNetType;

typedef struct {
    ConfDomainNetType type;
    unsigned char mac[6];
    bool mac_generated;         /* made up at parse time (52:54:00:xx:xx:xx) */
    char *network;              /* type network */
    char *portgroup;            /* type network, optional */
    char *bridge;               /* type bridge */
    char *ifname;               /* <target dev=...>; "vnet*" names are runtime */
    char *model;                /* "virtio", "e1000", ...; NULL: hypervisor default */
    unsigned int boot_order;
    ConfDeviceInfo info;
} ConfDomainNetDef;

typedef enum {
    CONF_DOMAIN_CHR_DEVICE_SERIAL,
    CONF_DOMAIN_CHR_DEVICE_CONSOLE,

    CONF_DOMAIN_CHR_DEVICE_LAST
} ConfDomainChrDeviceKind;

typedef enum {
    CONF_DOMAIN_CHR_TYPE_PTY,

    CONF_DOMAIN_CHR_TYPE_LAST
} ConfDomainChrType;

typedef enum {
    CONF_DOMAIN_CHR_SERIAL_TARGET_NONE,
    CONF_DOMAIN_CHR_SERIAL_TARGET_ISA,
    CONF_DOMAIN_CHR_SERIAL_TARGET_USB,
    CONF_DOMAIN_CHR_SERIAL_TARGET_PCI,
    CONF_DOMAIN_CHR_SERIAL_TARGET_SPAPR_VIO,
    CONF_DOMAIN_CHR_SERIAL_TARGET_SYSTEM,
    CONF_DOMAIN_CHR_SERIAL_TARGET_SCLP,

    CONF_DOMAIN_CHR_SERIAL_TARGET_LAST
} ConfDomainChrSerialTargetType;

typedef enum {
    CONF_DOMAIN_CHR_SERIAL_MODEL_NONE,
    CONF_DOMAIN_CHR_SERIAL_MODEL_ISA_SERIAL,
    CONF_DOMAIN_CHR_SERIAL_MODEL_USB_SERIAL,
    CONF_DOMAIN_CHR_SERIAL_MODEL_PCI_SERIAL,
    CONF_DOMAIN_CHR_SERIAL_MODEL_SPAPR_VTY,
    CONF_DOMAIN_CHR_SERIAL_MODEL_PL011,
    CONF_DOMAIN_CHR_SERIAL_MODEL_SCLPCONSOLE,
    CONF_DOMAIN_CHR_SERIAL_MODEL_SCLPLMCONSOLE,
    CONF_DOMAIN_CHR_SERIAL_MODEL_16550A,

    CONF_DOMAIN_CHR_SERIAL_MODEL_LAST
} ConfDomainChrSerialModel;

typedef enum {
    CONF_DOMAIN_CHR_CONSOLE_TARGET_NONE,
    CONF_DOMAIN_CHR_CONSOLE_TARGET_SERIAL,
    CONF_DOMAIN_CHR_CONSOLE_TARGET_XEN,
    CONF_DOMAIN_CHR_CONSOLE_TARGET_UML,
    CONF_DOMAIN_CHR_CONSOLE_TARGET_VIRTIO,
    CONF_DOMAIN_CHR_CONSOLE_TARGET_LXC,
    CONF_DOMAIN_CHR_CONSOLE_TARGET_OPENVZ,
    CONF_DOMAIN_CHR_CONSOLE_TARGET_SCLP,
    CONF_DOMAIN_CHR_CONSOLE_TARGET_SCLPLM,

    CONF_DOMAIN_CHR_CONSOLE_TARGET_LAST
} ConfDomainChrConsoleTargetType;

/* A <serial> or a <console>. */
typedef struct {
    ConfDomainChrDeviceKind kind;
    ConfDomainChrType type;
    ConfDomainChrSerialTargetType serial_target;    /* kind serial */
    ConfDomainChrSerialModel serial_model;          /* kind serial */
    ConfDomainChrConsoleTargetType console_target;  /* kind console; never NONE after parse */
    int port;                   /* target port; -1: not given (consoles only) */
    char *pty_path;             /* runtime: the pty QEMU opened */
    ConfDeviceInfo info;
} ConfDomainChrDef;

typedef enum {
    CONF_DOMAIN_INPUT_TYPE_MOUSE,
    CONF_DOMAIN_INPUT_TYPE_TABLET,
    CONF_DOMAIN_INPUT_TYPE_KEYBOARD,

    CONF_DOMAIN_INPUT_TYPE_LAST
} ConfDomainInputType;

typedef enum {
    CONF_DOMAIN_INPUT_BUS_PS2,
    CONF_DOMAIN_INPUT_BUS_USB,
    CONF_DOMAIN_INPUT_BUS_XEN,
    CONF_DOMAIN_INPUT_BUS_VIRTIO,

    CONF_DOMAIN_INPUT_BUS_LAST
} ConfDomainInputBus;

typedef struct {
    ConfDomainInputType type;
    ConfDomainInputBus bus;
    ConfDeviceInfo info;
} ConfDomainInputDef;

typedef enum {
    CONF_DOMAIN_GRAPHICS_TYPE_VNC,

    CONF_DOMAIN_GRAPHICS_TYPE_LAST
} ConfDomainGraphicsType;

typedef struct {
    ConfDomainGraphicsType type;
    int port;                   /* -1: automatic (autoport), else 0..65535 */
    bool autoport;
    char *listen;               /* address, NULL: hypervisor default */
    char *passwd;               /* formatted only with the SECURE flag */
    char *keymap;
} ConfDomainGraphicsDef;

typedef enum {
    CONF_DOMAIN_VIDEO_TYPE_VGA,
    CONF_DOMAIN_VIDEO_TYPE_CIRRUS,
    CONF_DOMAIN_VIDEO_TYPE_QXL,
    CONF_DOMAIN_VIDEO_TYPE_VIRTIO,
    CONF_DOMAIN_VIDEO_TYPE_NONE,

    CONF_DOMAIN_VIDEO_TYPE_LAST
} ConfDomainVideoType;

typedef struct {
    ConfDomainVideoType type;
    unsigned int ram;           /* KiB, 0: not given (qxl) */
    unsigned int vram;          /* KiB, 0: not given */
    unsigned int heads;         /* 1 unless given; 0 for type none */
    bool primary;               /* only videos[0], set when there is one */
    ConfDeviceInfo info;
} ConfDomainVideoDef;

typedef enum {
    CONF_DOMAIN_MEMBALLOON_MODEL_VIRTIO,
    CONF_DOMAIN_MEMBALLOON_MODEL_NONE,

    CONF_DOMAIN_MEMBALLOON_MODEL_LAST
} ConfDomainMemballoonModel;

typedef struct {
    ConfDomainMemballoonModel model;
    ConfDeviceInfo info;
} ConfDomainMemballoonDef;

/* ---- the domain ---- */

typedef enum {
    CONF_DOMAIN_VIRT_NONE,
    CONF_DOMAIN_VIRT_QEMU,
    CONF_DOMAIN_VIRT_KQEMU,
    CONF_DOMAIN_VIRT_KVM,
    CONF_DOMAIN_VIRT_XEN,
    CONF_DOMAIN_VIRT_LXC,
    CONF_DOMAIN_VIRT_UML,
    CONF_DOMAIN_VIRT_OPENVZ,
    CONF_DOMAIN_VIRT_TEST,
    CONF_DOMAIN_VIRT_VMWARE,
    CONF_DOMAIN_VIRT_HYPERV,
    CONF_DOMAIN_VIRT_VBOX,
    CONF_DOMAIN_VIRT_PHYP,
    CONF_DOMAIN_VIRT_PARALLELS,
    CONF_DOMAIN_VIRT_BHYVE,
    CONF_DOMAIN_VIRT_VZ,

    CONF_DOMAIN_VIRT_LAST
} ConfDomainVirtType;

typedef enum {
    CONF_DOMAIN_OS_TYPE_HVM,
    CONF_DOMAIN_OS_TYPE_XEN,
    CONF_DOMAIN_OS_TYPE_LINUX,
    CONF_DOMAIN_OS_TYPE_EXE,
    CONF_DOMAIN_OS_TYPE_UML,
    CONF_DOMAIN_OS_TYPE_XENPVH,

    CONF_DOMAIN_OS_TYPE_LAST
} ConfDomainOsType;

typedef enum {
    CONF_DOMAIN_BOOT_FLOPPY,
    CONF_DOMAIN_BOOT_DISK,
    CONF_DOMAIN_BOOT_CDROM,
    CONF_DOMAIN_BOOT_NET,

    CONF_DOMAIN_BOOT_LAST
} ConfDomainBootDev;

typedef enum {
    CONF_DOMAIN_FEATURE_ACPI,
    CONF_DOMAIN_FEATURE_APIC,
    CONF_DOMAIN_FEATURE_PAE,

    CONF_DOMAIN_FEATURE_LAST
} ConfDomainFeature;

typedef enum {
    CONF_DOMAIN_CPU_MODE_CUSTOM,
    CONF_DOMAIN_CPU_MODE_HOST_MODEL,
    CONF_DOMAIN_CPU_MODE_HOST_PASSTHROUGH,

    CONF_DOMAIN_CPU_MODE_LAST
} ConfDomainCpuMode;

typedef enum {
    CONF_DOMAIN_CPU_MATCH_DEFAULT,
    CONF_DOMAIN_CPU_MATCH_MINIMUM,
    CONF_DOMAIN_CPU_MATCH_EXACT,
    CONF_DOMAIN_CPU_MATCH_STRICT,

    CONF_DOMAIN_CPU_MATCH_LAST
} ConfDomainCpuMatch;

typedef enum {
    CONF_DOMAIN_CPU_CHECK_DEFAULT,
    CONF_DOMAIN_CPU_CHECK_NONE,
    CONF_DOMAIN_CPU_CHECK_PARTIAL,
    CONF_DOMAIN_CPU_CHECK_FULL,

    CONF_DOMAIN_CPU_CHECK_LAST
} ConfDomainCpuCheck;

typedef enum {
    CONF_DOMAIN_CPU_FALLBACK_DEFAULT,
    CONF_DOMAIN_CPU_FALLBACK_ALLOW,
    CONF_DOMAIN_CPU_FALLBACK_FORBID,

    CONF_DOMAIN_CPU_FALLBACK_LAST
} ConfDomainCpuFallback;

typedef struct {
    ConfDomainCpuMode mode;
    ConfDomainCpuMatch match;           /* custom only */
    ConfDomainCpuCheck check;
    ConfTristateSwitch migratable;      /* host-passthrough only */
    char *model;                        /* custom only, may be NULL */
    ConfDomainCpuFallback fallback;
} ConfDomainCpuDef;

typedef enum {
    CONF_DOMAIN_CLOCK_OFFSET_UTC,
    CONF_DOMAIN_CLOCK_OFFSET_LOCALTIME,

    CONF_DOMAIN_CLOCK_OFFSET_LAST
} ConfDomainClockOffset;

typedef enum {
    CONF_DOMAIN_TIMER_NAME_PLATFORM,
    CONF_DOMAIN_TIMER_NAME_PIT,
    CONF_DOMAIN_TIMER_NAME_RTC,
    CONF_DOMAIN_TIMER_NAME_HPET,
    CONF_DOMAIN_TIMER_NAME_TSC,
    CONF_DOMAIN_TIMER_NAME_KVMCLOCK,
    CONF_DOMAIN_TIMER_NAME_HYPERVCLOCK,
    CONF_DOMAIN_TIMER_NAME_ARMVTIMER,

    CONF_DOMAIN_TIMER_NAME_LAST
} ConfDomainTimerName;

typedef enum {
    CONF_DOMAIN_TIMER_TICKPOLICY_NONE,
    CONF_DOMAIN_TIMER_TICKPOLICY_DELAY,
    CONF_DOMAIN_TIMER_TICKPOLICY_CATCHUP,
    CONF_DOMAIN_TIMER_TICKPOLICY_MERGE,
    CONF_DOMAIN_TIMER_TICKPOLICY_DISCARD,

    CONF_DOMAIN_TIMER_TICKPOLICY_LAST
} ConfDomainTimerTickpolicy;

typedef struct {
    ConfDomainTimerName name;
    ConfTristateBool present;
    ConfDomainTimerTickpolicy tickpolicy;
} ConfDomainTimerDef;

typedef enum {
    CONF_DOMAIN_LIFECYCLE_DESTROY,
    CONF_DOMAIN_LIFECYCLE_RESTART,
    CONF_DOMAIN_LIFECYCLE_RESTART_RENAME,
    CONF_DOMAIN_LIFECYCLE_PRESERVE,
    CONF_DOMAIN_LIFECYCLE_COREDUMP_DESTROY,
    CONF_DOMAIN_LIFECYCLE_COREDUMP_RESTART,

    CONF_DOMAIN_LIFECYCLE_LAST
} ConfDomainLifecycleAction;

#define CONF_DOMAIN_MAX_BOOT_DEVS 4
#define CONF_DOMAIN_NAME_MAX 255

typedef struct {
    ConfDomainOsType type;
    char *arch;                 /* libvirt arch name, NULL: driver default */
    char *machine;
    ConfDomainBootDev boot_devs[CONF_DOMAIN_MAX_BOOT_DEVS];
    size_t n_boot_devs;
    char *kernel;
    char *initrd;
    char *cmdline;
} ConfDomainOsDef;

typedef struct _ConfDomainDef ConfDomainDef;
struct _ConfDomainDef {
    ConfDomainVirtType virt_type;
    int id;                     /* runtime: -1 when not running */
    char *name;
    unsigned char uuid[16];
    bool uuid_generated;        /* no <uuid> given, a random one was made */
    char *title;
    char *description;
    /* <metadata>: its child elements as written (namespaces made explicit
     * on each), formatted for 4-space indentation; NULL: none given. */
    char *metadata;

    unsigned long long memory_kib;
    unsigned long long current_memory_kib;     /* <= memory_kib */
    unsigned int vcpus;

    ConfDomainOsDef os;
    bool features[CONF_DOMAIN_FEATURE_LAST];
    ConfDomainCpuDef *cpu;      /* NULL: no <cpu> */
    ConfDomainClockOffset clock_offset;
    GPtrArray *timers;          /* ConfDomainTimerDef * */
    ConfDomainLifecycleAction on_poweroff;
    ConfDomainLifecycleAction on_reboot;
    ConfDomainLifecycleAction on_crash;
    ConfTristateBool pm_suspend_to_mem;
    ConfTristateBool pm_suspend_to_disk;

    char *emulator;
    GPtrArray *disks;           /* ConfDomainDiskDef *, per bus in target order */
    GPtrArray *controllers;     /* ConfDomainControllerDef *, grouped by type, by index */
    GPtrArray *nets;            /* ConfDomainNetDef * */
    GPtrArray *serials;         /* ConfDomainChrDef * */
    GPtrArray *consoles;        /* ConfDomainChrDef * */
    GPtrArray *inputs;          /* ConfDomainInputDef * */
    GPtrArray *graphics;        /* ConfDomainGraphicsDef * */
    GPtrArray *videos;          /* ConfDomainVideoDef *, primary first */
    ConfDomainMemballoonDef *memballoon;    /* NULL: none given */

    /* Runtime, status XML only: the next block node number to hand out
     * (qemu_command_assign_names_counter), so that node names are never
     * reused in the life of a running domain; 0: not tracked yet. */
    unsigned int node_name_index;
};

/* ---- parse and format ---- */

typedef enum {
    /* Validate against schemas/domain.rng first; failures are
     * VIR_ERR_XML_INVALID_SCHEMA with the validator's message. */
    CONF_DOMAIN_PARSE_VALIDATE = 1 << 0,
    /* Our own status XML: keep runtime data (id, aliases without the
     * "ua-" prefix, node names, VNC port chosen by autoport, pty paths). */
    CONF_DOMAIN_PARSE_STATUS = 1 << 1,
} ConfDomainParseFlags;

typedef enum {
    /* The values of VIR_DOMAIN_XML_SECURE and VIR_DOMAIN_XML_INACTIVE. */
    CONF_DOMAIN_FORMAT_SECURE = 1 << 0,     /* show the VNC password */
    CONF_DOMAIN_FORMAT_INACTIVE = 1 << 1,   /* no runtime data at all */
    /* Internal status XML: everything, node names included (implies SECURE). */
    CONF_DOMAIN_FORMAT_STATUS = 1 << 16,
} ConfDomainFormatFlags;

/* Documents larger than this are refused before parsing. */
#define CONF_DOMAIN_XML_MAX_SIZE (10 * 1024 * 1024)
/* Documents nested deeper than this are refused. */
#define CONF_DOMAIN_XML_MAX_DEPTH 128

/* Parses a domain definition.  Missing uuid and MAC addresses are
 * generated; defaults are filled in as libvirt does (currentMemory, vcpu,
 * boot device, lifecycle actions, disk bus from the target name, controller
 * indexes, serial ports, the console/serial pairing, the primary video).
 * Devices the hypervisor driver adds implicitly (controllers, inputs,
 * video) and the guest architecture are left to the driver. */
ConfDomainDef *conf_domain_parse(const char *xml, unsigned int flags, GError **error);

/* The document text as `virsh dumpxml` shows it: 2-space indentation,
 * single-quoted attributes, libvirt's element order, trailing newline. */
char *conf_domain_format(const ConfDomainDef *def, unsigned int flags);

ConfDomainDef *conf_domain_copy(const ConfDomainDef *def);

void conf_domain_def_free(ConfDomainDef *def);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConfDomainDef, conf_domain_def_free)

/* The disk whose target is @name ("vda"), else the disk whose active
 * layer's path is exactly @name; NULL if none.  Backing files never match. */
ConfDomainDiskDef *conf_domain_find_disk(const ConfDomainDef *def, const char *name);

/* The RelaxNG schema file in use (see conf_domain_parse's VALIDATE flag):
 * $MODVIRT_SCHEMA_DIR/domain.rng if set, else the source tree's copy when
 * running from the build directory, else the installed one. */
char *conf_domain_schema_path(void);

ConfStorageSource *conf_storage_source_new(ConfStorageType type);
/* Deep copy, the whole backing chain included. */
ConfStorageSource *conf_storage_source_copy(const ConfStorageSource *src);
/* Frees @src and its whole backing chain. */
void conf_storage_source_free(ConfStorageSource *src);
/* The layer of @chain (top first) whose path is @path, NULL if none;
 * @ret_above (may be NULL): the layer above it, NULL for the top. */
ConfStorageSource *conf_storage_source_find(const ConfStorageSource *chain, const char *path,
                                            ConfStorageSource **ret_above);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConfStorageSource, conf_storage_source_free)

void conf_domain_disk_def_free(ConfDomainDiskDef *disk);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ConfDomainDiskDef, conf_domain_disk_def_free)

const char *conf_storage_type_to_string(ConfStorageType type);
const char *conf_domain_disk_mirror_job_to_string(ConfDomainDiskMirrorJob job);
const char *conf_storage_format_to_string(ConfStorageFormat format);
const char *conf_domain_disk_bus_to_string(ConfDomainDiskBus bus);
const char *conf_domain_virt_type_to_string(ConfDomainVirtType type);
const char *conf_domain_os_type_to_string(ConfDomainOsType type);

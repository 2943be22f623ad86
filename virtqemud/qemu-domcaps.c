/*
 * qemu-domcaps.c: the domain capabilities document of virtqemud.
 *
 * Which emulator, architecture, machine and domain type a request means is
 * decided as libvirt 9 does (qemu_domcaps_get).  The document then says
 * only what modvirt can start with that choice: an enum value is listed
 * when modvirt's domain XML accepts it, the post-parse gives it what it
 * needs (controllers, PCI Express root ports on q35) and the command line
 * builder finds every QEMU device it uses in the probed capabilities.  The
 * rules below mirror qemu-postparse.c and qemu-command.c; when those learn
 * something new, this file is where it gets advertised.
 *
 * What modvirt's definitions have no way to say (iothreads, firmware
 * selection and loaders, memory backing, host devices, RNG, filesystems,
 * TPM, redirection, channels, the optional features) is reported
 * supported='no', so clients do not offer it.
 */
#define G_LOG_DOMAIN "virtqemud.domcaps"

#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "qemu-command.h"
#include "qemu-domcaps.h"
#include "util-error.h"

/* The limit of x86 guests under TCG: QEMU needs KVM's in-kernel irqchip
 * and x2APIC support for APIC IDs above 254 ("current -smp configuration
 * requires kernel irqchip and X2APIC API support"), so q35's 288 cannot be
 * started without KVM. */
#define QEMU_DOMCAPS_TCG_X86_MAX_VCPUS 255

/* ------------------------------------------------------------------ */
/* the names libvirt knows                                             */
/* ------------------------------------------------------------------ */

/* virDomainVirtType, in libvirt 9.0's order ("none" is index 0). */
static const char *const domcaps_virt_types[] = {
    "none", "qemu", "kqemu", "kvm", "xen", "lxc", "uml", "openvz", "test", "vmware",
    "hyperv", "vbox", "phyp", "parallels", "bhyve", "vz", "hvf",
};

/* virArch names with the family the arch check groups them in (libvirt's
 * ARCH_IS_X86/PPC/ARM/S390; 0: a family of its own). */
typedef enum {
    DOMCAPS_ARCH_FAMILY_NONE,
    DOMCAPS_ARCH_FAMILY_X86,
    DOMCAPS_ARCH_FAMILY_PPC,
    DOMCAPS_ARCH_FAMILY_ARM,
    DOMCAPS_ARCH_FAMILY_S390,

    DOMCAPS_ARCH_FAMILY_LAST
} DomcapsArchFamily;

static const struct {
    const char *name;
    DomcapsArchFamily family;
} domcaps_arches[] = {
    { "alpha", DOMCAPS_ARCH_FAMILY_NONE }, { "armv6l", DOMCAPS_ARCH_FAMILY_ARM },
    { "armv7l", DOMCAPS_ARCH_FAMILY_ARM }, { "armv7b", DOMCAPS_ARCH_FAMILY_ARM },
    { "aarch64", DOMCAPS_ARCH_FAMILY_ARM }, { "cris", DOMCAPS_ARCH_FAMILY_NONE },
    { "i686", DOMCAPS_ARCH_FAMILY_X86 }, { "ia64", DOMCAPS_ARCH_FAMILY_NONE },
    { "lm32", DOMCAPS_ARCH_FAMILY_NONE }, { "m68k", DOMCAPS_ARCH_FAMILY_NONE },
    { "microblaze", DOMCAPS_ARCH_FAMILY_NONE }, { "microblazeel", DOMCAPS_ARCH_FAMILY_NONE },
    { "mips", DOMCAPS_ARCH_FAMILY_NONE }, { "mipsel", DOMCAPS_ARCH_FAMILY_NONE },
    { "mips64", DOMCAPS_ARCH_FAMILY_NONE }, { "mips64el", DOMCAPS_ARCH_FAMILY_NONE },
    { "openrisc", DOMCAPS_ARCH_FAMILY_NONE }, { "parisc", DOMCAPS_ARCH_FAMILY_NONE },
    { "parisc64", DOMCAPS_ARCH_FAMILY_NONE }, { "ppc", DOMCAPS_ARCH_FAMILY_PPC },
    { "ppcle", DOMCAPS_ARCH_FAMILY_PPC }, { "ppc64", DOMCAPS_ARCH_FAMILY_PPC },
    { "ppc64le", DOMCAPS_ARCH_FAMILY_PPC }, { "ppcemb", DOMCAPS_ARCH_FAMILY_PPC },
    { "riscv32", DOMCAPS_ARCH_FAMILY_NONE }, { "riscv64", DOMCAPS_ARCH_FAMILY_NONE },
    { "s390", DOMCAPS_ARCH_FAMILY_S390 }, { "s390x", DOMCAPS_ARCH_FAMILY_S390 },
    { "sh4", DOMCAPS_ARCH_FAMILY_NONE }, { "sh4eb", DOMCAPS_ARCH_FAMILY_NONE },
    { "sparc", DOMCAPS_ARCH_FAMILY_NONE }, { "sparc64", DOMCAPS_ARCH_FAMILY_NONE },
    { "unicore32", DOMCAPS_ARCH_FAMILY_NONE }, { "x86_64", DOMCAPS_ARCH_FAMILY_X86 },
    { "xtensa", DOMCAPS_ARCH_FAMILY_NONE }, { "xtensaeb", DOMCAPS_ARCH_FAMILY_NONE },
};

/* The index of @name in domcaps_arches, -1 if libvirt has no such arch. */
static int
domcaps_arch_index(const char *name)
{
    for (size_t i = 0; name && i < G_N_ELEMENTS(domcaps_arches); i++) {
        if (g_str_equal(domcaps_arches[i].name, name))
            return (int)i;
    }
    return -1;
}

static bool
domcaps_same_arch_family(const char *a, const char *b)
{
    int ia = domcaps_arch_index(a);
    int ib = domcaps_arch_index(b);

    if (g_strcmp0(a, b) == 0)
        return true;
    return ia >= 0 && ib >= 0 && domcaps_arches[ia].family != DOMCAPS_ARCH_FAMILY_NONE &&
           domcaps_arches[ia].family == domcaps_arches[ib].family;
}

/* ------------------------------------------------------------------ */
/* the host                                                            */
/* ------------------------------------------------------------------ */

static QemuCaps *
domcaps_host_lookup(const char *binary, GError **error)
{
    struct stat st;

    /* libvirt's checks and messages, before any probe */
    if (stat(binary, &st) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "Cannot check QEMU binary %s", binary);
        return NULL;
    }
    if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, S_ISDIR(st.st_mode) ? EISDIR : EACCES,
                             "QEMU binary %s is not executable", binary);
        return NULL;
    }
    return qemu_caps_cache_lookup(binary, error);
}

static int
domcaps_host_kvm_max_vcpus(GError **error)
{
    g_autofd_mv int fd = open("/dev/kvm", O_RDONLY | O_CLOEXEC);
    int n = 0;

    if (fd < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "Unable to open /dev/kvm");
        return -1;
    }
    if ((n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_MAX_VCPUS)) > 0)
        return n;
    if ((n = ioctl(fd, KVM_CHECK_EXTENSION, KVM_CAP_NR_VCPUS)) > 0)
        return n;
    return 4;   /* what the kernel documentation says to assume */
}

const QemuDomcapsEnv *
qemu_domcaps_env_host(void)
{
    static QemuDomcapsEnv env = {
        .lookup = domcaps_host_lookup,
        .find_emulator = qemu_caps_find_emulator,
        .kvm_max_vcpus = domcaps_host_kvm_max_vcpus,
    };

    env.host_arch = qemu_caps_host_arch();
    return &env;
}

/* ------------------------------------------------------------------ */
/* what modvirt can start                                              */
/* ------------------------------------------------------------------ */

typedef struct {
    const QemuCaps *caps;
    QemuMachineFamily family;
    bool kvm;
} DomcapsCtx;

static bool
domcaps_has(const DomcapsCtx *ctx, const char *device)
{
    return qemu_caps_has_device(ctx->caps, device);
}

/* A PCI Express device (virtio, xhci) gets a place: on q35 the post-parse
 * puts it behind a pcie-root-port of its own. */
static bool
domcaps_pcie_ok(const DomcapsCtx *ctx)
{
    return ctx->family != QEMU_MACHINE_FAMILY_Q35 || domcaps_has(ctx, "pcie-root-port");
}

/* The USB controller the post-parse gives the machine works (USB disks
 * and inputs need one). */
static bool
domcaps_usb_ok(const DomcapsCtx *ctx)
{
    if (ctx->family == QEMU_MACHINE_FAMILY_I440FX)
        return domcaps_has(ctx, "piix3-usb-uhci");
    /* q35: the first of these the post-parse finds */
    if (domcaps_has(ctx, "qemu-xhci") || domcaps_has(ctx, "nec-usb-xhci"))
        return domcaps_pcie_ok(ctx);
    return domcaps_has(ctx, "ich9-usb-ehci1");
}

/* The SCSI controller model the post-parse picks works. */
static bool
domcaps_scsi_ok(const DomcapsCtx *ctx)
{
    if (domcaps_has(ctx, "lsi53c895a"))
        return true;
    return domcaps_has(ctx, "virtio-scsi-pci") && domcaps_pcie_ok(ctx);
}

static bool
domcaps_bus_ide(const DomcapsCtx *ctx)
{
    /* the PIIX3's IDE; q35 has none */
    return ctx->family == QEMU_MACHINE_FAMILY_I440FX && domcaps_has(ctx, "ide-hd");
}

static bool
domcaps_bus_scsi(const DomcapsCtx *ctx)
{
    return domcaps_scsi_ok(ctx) && domcaps_has(ctx, "scsi-hd");
}

static bool
domcaps_bus_virtio(const DomcapsCtx *ctx)
{
    return domcaps_has(ctx, "virtio-blk-pci") && domcaps_pcie_ok(ctx);
}

static bool
domcaps_bus_usb(const DomcapsCtx *ctx)
{
    return domcaps_has(ctx, "usb-storage") && domcaps_usb_ok(ctx);
}

static bool
domcaps_bus_sata(const DomcapsCtx *ctx)
{
    /* q35's own AHCI (part of the machine), or an ich9-ahci added to i440fx */
    return (ctx->family == QEMU_MACHINE_FAMILY_Q35 || domcaps_has(ctx, "ich9-ahci")) &&
           domcaps_has(ctx, "ide-hd");
}

/* A CD-ROM needs a bus with removable media (not virtio). */
static bool
domcaps_device_cdrom(const DomcapsCtx *ctx)
{
    bool ide_cd = domcaps_has(ctx, "ide-cd");

    return (ide_cd && ctx->family != QEMU_MACHINE_FAMILY_OTHER) ||   /* IDE or SATA */
           (domcaps_scsi_ok(ctx) && domcaps_has(ctx, "scsi-cd")) ||
           domcaps_bus_usb(ctx);
}

/* Graphics without a video device get cirrus, else VGA. */
static bool
domcaps_graphics_vnc(const DomcapsCtx *ctx)
{
    return qemu_caps_has_command(ctx->caps, "query-vnc") &&
           (domcaps_has(ctx, "cirrus-vga") || domcaps_has(ctx, "VGA"));
}

/* One enum value: listed when @usable says so, or (without @usable) when
 * QEMU has @device, or (without either) always. */
typedef struct {
    const char *value;
    bool (*usable)(const DomcapsCtx *ctx);
    const char *device;
} DomcapsValue;

static bool
domcaps_value_usable(const DomcapsValue *v, const DomcapsCtx *ctx)
{
    if (v->usable)
        return v->usable(ctx);
    return !v->device || domcaps_has(ctx, v->device);
}

/* In libvirt's enum order, so the values come out as libvirt lists them.
 * Not here: disk device floppy (and bus fdc) and lun, buses xen, uml and
 * sd, graphics other than vnc, video vmvga, bochs and ramfb: modvirt's
 * definitions or command line do not have them. */
static const DomcapsValue domcaps_disk_devices[] = {
    { "disk", NULL, NULL },
    { "cdrom", domcaps_device_cdrom, NULL },
};

static const DomcapsValue domcaps_disk_buses[] = {
    { "ide", domcaps_bus_ide, NULL },
    { "scsi", domcaps_bus_scsi, NULL },
    { "virtio", domcaps_bus_virtio, NULL },
    { "usb", domcaps_bus_usb, NULL },
    { "sata", domcaps_bus_sata, NULL },
};

static const DomcapsValue domcaps_graphics_types[] = {
    { "vnc", domcaps_graphics_vnc, NULL },
};

/* the primary video's device, as the command line builder names it */
static const DomcapsValue domcaps_video_models[] = {
    { "vga", NULL, "VGA" },
    { "cirrus", NULL, "cirrus-vga" },
    { "qxl", NULL, "qxl-vga" },
    { "virtio", NULL, "virtio-vga" },
    { "none", NULL, NULL },
};

/* ------------------------------------------------------------------ */
/* CPU models                                                          */
/* ------------------------------------------------------------------ */

/* The vendor libvirt's CPU map gives x86 models, by name ("EPYC" also
 * covers "EPYC-Rome"); models not listed are vendor='unknown'. */
static const struct {
    const char *family;
    const char *vendor;
} domcaps_cpu_vendors[] = {
    { "486", NULL }, { "pentium", NULL }, { "pentium2", NULL }, { "pentium3", NULL },
    { "qemu32", NULL }, { "qemu64", NULL }, { "kvm32", NULL }, { "kvm64", NULL },
    { "coreduo", "Intel" }, { "core2duo", "Intel" }, { "n270", "Intel" },
    { "Conroe", "Intel" }, { "Penryn", "Intel" }, { "Nehalem", "Intel" },
    { "Westmere", "Intel" }, { "SandyBridge", "Intel" }, { "IvyBridge", "Intel" },
    { "Haswell", "Intel" }, { "Broadwell", "Intel" }, { "Skylake", "Intel" },
    { "Cascadelake", "Intel" }, { "Cooperlake", "Intel" }, { "Icelake", "Intel" },
    { "Snowridge", "Intel" }, { "Denverton", "Intel" }, { "KnightsMill", "Intel" },
    { "SapphireRapids", "Intel" },
    { "athlon", "AMD" }, { "phenom", "AMD" }, { "Opteron_G1", "AMD" },
    { "Opteron_G2", "AMD" }, { "Opteron_G3", "AMD" }, { "Opteron_G4", "AMD" },
    { "Opteron_G5", "AMD" }, { "EPYC", "AMD" },
    { "Dhyana", "Hygon" },
};

static const char *
domcaps_cpu_vendor(const char *model)
{
    for (size_t i = 0; i < G_N_ELEMENTS(domcaps_cpu_vendors); i++) {
        const char *family = domcaps_cpu_vendors[i].family;
        size_t len = strlen(family);

        if (strncmp(model, family, len) == 0 && (model[len] == '\0' || model[len] == '-'))
            return domcaps_cpu_vendors[i].vendor ? domcaps_cpu_vendors[i].vendor : "unknown";
    }
    return "unknown";
}

/* Models <mode name='custom'> lists, as libvirt's CPU map has them: not
 * the special ones (which are modes of their own) nor QEMU's versioned
 * aliases ("Skylake-Client-v1"). */
static bool
domcaps_cpu_model_listed(const char *name)
{
    const char *v = strrchr(name, '-');

    if (g_str_equal(name, "host") || g_str_equal(name, "max") || g_str_equal(name, "base"))
        return false;
    if (v && v[1] == 'v' && v[2] != '\0' && strspn(v + 2, "0123456789") == strlen(v + 2))
        return false;
    return true;
}

/* QEMU's target name in the QOM type of a CPU model ("Haswell-x86_64-cpu"). */
static const char *
domcaps_cpu_target(const char *arch)
{
    return g_str_equal(arch, "i686") ? "i386" : arch;
}

static int
domcaps_strcmp_desc(gconstpointer a, gconstpointer b)
{
    return -strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Every model QEMU has (its "<model>-<target>-cpu" device types; the
 * probed usable list if there are none), in libvirt's order. */
static GPtrArray *
domcaps_cpu_models(const QemuCaps *caps)
{
    GPtrArray *models = g_ptr_array_new_with_free_func(g_free);
    g_autofree char *suffix = g_strdup_printf("-%s-cpu", domcaps_cpu_target(caps->arch));
    GHashTableIter iter;
    gpointer key = NULL;

    g_hash_table_iter_init(&iter, caps->devices);
    while (g_hash_table_iter_next(&iter, &key, NULL)) {
        const char *type = key;
        g_autofree char *name = NULL;

        if (!g_str_has_suffix(type, suffix) || strlen(type) == strlen(suffix))
            continue;
        name = g_strndup(type, strlen(type) - strlen(suffix));
        if (domcaps_cpu_model_listed(name))
            g_ptr_array_add(models, g_steal_pointer(&name));
    }
    if (models->len == 0) {
        for (guint i = 0; i < caps->cpu_models->len; i++) {
            const char *name = g_ptr_array_index(caps->cpu_models, i);

            if (domcaps_cpu_model_listed(name))
                g_ptr_array_add(models, g_strdup(name));
        }
    }
    g_ptr_array_sort(models, domcaps_strcmp_desc);
    return models;
}

/* usable='yes|no|unknown': the probe says which models run without losing
 * a feature, for the accelerator it ran with (KVM whenever KVM works).  The
 * command line refuses the others with KVM; TCG starts any model, but
 * whether one loses features under TCG is only known when the probe ran
 * with TCG. */
static const char *
domcaps_cpu_usable(const DomcapsCtx *ctx, const char *model)
{
    if (!ctx->kvm && ctx->caps->kvm)
        return "unknown";
    for (guint i = 0; i < ctx->caps->cpu_models->len; i++) {
        if (g_str_equal(g_ptr_array_index(ctx->caps->cpu_models, i), model))
            return "yes";
    }
    return "no";
}

/* ------------------------------------------------------------------ */
/* the document                                                        */
/* ------------------------------------------------------------------ */

/* @text escaped (&<>'" as entities: the same document as libvirt's for
 * any path without quotes, and well-formed for all). */
static void
domcaps_append_escaped(GString *out, const char *text)
{
    g_autofree char *escaped = g_markup_escape_text(text, -1);

    g_string_append(out, escaped);
}

static void
domcaps_indent(GString *out, int level)
{
    for (int i = 0; i < level; i++)
        g_string_append(out, "  ");
}

/* <NAME supported='no'/> */
static void
domcaps_unsupported(GString *out, int level, const char *name)
{
    domcaps_indent(out, level);
    g_string_append_printf(out, "<%s supported='no'/>\n", name);
}

/* <enum name='NAME'> with the usable @values; <enum name='NAME'/> if none. */
static void
domcaps_enum(GString *out, int level, const char *name, const DomcapsValue *values, size_t n,
             const DomcapsCtx *ctx)
{
    bool open = false;

    domcaps_indent(out, level);
    g_string_append_printf(out, "<enum name='%s'", name);
    for (size_t i = 0; i < n; i++) {
        if (!domcaps_value_usable(&values[i], ctx))
            continue;
        if (!open)
            g_string_append(out, ">\n");
        open = true;
        domcaps_indent(out, level + 1);
        g_string_append_printf(out, "<value>%s</value>\n", values[i].value);
    }
    if (!open) {
        g_string_append(out, "/>\n");
        return;
    }
    domcaps_indent(out, level);
    g_string_append(out, "</enum>\n");
}

/* <os>: BIOS boot only.  modvirt's <os> takes no firmware attribute and no
 * <loader>, so no firmware is offered for selection and loaders are not
 * supported, whatever firmware the host has. */
static void
domcaps_format_os(GString *out)
{
    g_string_append(out, "  <os supported='yes'>\n"
                         "    <enum name='firmware'/>\n"
                         "    <loader supported='no'/>\n"
                         "  </os>\n");
}

static void
domcaps_format_cpu(GString *out, const DomcapsCtx *ctx)
{
    g_autoptr(GPtrArray) models = domcaps_cpu_models(ctx->caps);

    g_string_append(out, "  <cpu>\n");
    /* -cpu host, with migratable=off when asked: KVM only */
    if (ctx->kvm) {
        g_string_append(out, "    <mode name='host-passthrough' supported='yes'>\n"
                             "      <enum name='hostPassthroughMigratable'>\n"
                             "        <value>on</value>\n"
                             "        <value>off</value>\n"
                             "      </enum>\n"
                             "    </mode>\n");
    } else {
        domcaps_unsupported(out, 2, "mode name='host-passthrough'");
    }
    /* the definitions refuse mode='maximum' */
    domcaps_unsupported(out, 2, "mode name='maximum'");
    /* started as -cpu host (KVM) or -cpu max (TCG); modvirt does not
     * compute the expanded host CPU definition libvirt shows here */
    g_string_append(out, "    <mode name='host-model' supported='yes'/>\n");
    if (models->len == 0) {
        domcaps_unsupported(out, 2, "mode name='custom'");
    } else {
        g_string_append(out, "    <mode name='custom' supported='yes'>\n");
        for (guint i = 0; i < models->len; i++) {
            const char *name = g_ptr_array_index(models, i);

            g_string_append_printf(out, "      <model usable='%s' vendor='%s'>",
                                   domcaps_cpu_usable(ctx, name), domcaps_cpu_vendor(name));
            domcaps_append_escaped(out, name);
            g_string_append(out, "</model>\n");
        }
        g_string_append(out, "    </mode>\n");
    }
    g_string_append(out, "  </cpu>\n");
}

static void
domcaps_format_devices(GString *out, const DomcapsCtx *ctx)
{
    g_string_append(out, "  <devices>\n");

    /* no <target model>: the model enum is there, empty */
    g_string_append(out, "    <disk supported='yes'>\n");
    domcaps_enum(out, 3, "diskDevice", domcaps_disk_devices, G_N_ELEMENTS(domcaps_disk_devices), ctx);
    domcaps_enum(out, 3, "bus", domcaps_disk_buses, G_N_ELEMENTS(domcaps_disk_buses), ctx);
    domcaps_enum(out, 3, "model", NULL, 0, ctx);
    g_string_append(out, "    </disk>\n");

    g_string_append(out, "    <graphics supported='yes'>\n");
    domcaps_enum(out, 3, "type", domcaps_graphics_types, G_N_ELEMENTS(domcaps_graphics_types), ctx);
    g_string_append(out, "    </graphics>\n");

    g_string_append(out, "    <video supported='yes'>\n");
    domcaps_enum(out, 3, "modelType", domcaps_video_models, G_N_ELEMENTS(domcaps_video_models), ctx);
    g_string_append(out, "    </video>\n");

    /* devices modvirt's definitions do not have */
    domcaps_unsupported(out, 2, "hostdev");
    domcaps_unsupported(out, 2, "rng");
    domcaps_unsupported(out, 2, "filesystem");
    domcaps_unsupported(out, 2, "tpm");
    domcaps_unsupported(out, 2, "redirdev");
    domcaps_unsupported(out, 2, "channel");
    g_string_append(out, "  </devices>\n");
}

static void
domcaps_format_features(GString *out)
{
    g_string_append(out, "  <features>\n");
    domcaps_unsupported(out, 2, "gic");
    /* no <vmcoreinfo/> or <genid> in definitions, no backup API */
    domcaps_unsupported(out, 2, "vmcoreinfo");
    domcaps_unsupported(out, 2, "genid");
    /* a <backingStore> given in the definition is what -blockdev opens */
    g_string_append(out, "    <backingStoreInput supported='yes'/>\n");
    domcaps_unsupported(out, 2, "backup");
    domcaps_unsupported(out, 2, "sev");
    domcaps_unsupported(out, 2, "sgx");
    domcaps_unsupported(out, 2, "hyperv");
    g_string_append(out, "  </features>\n");
}

static const QemuCapsMachine *
domcaps_find_machine(const QemuCaps *caps, const char *name)
{
    for (guint i = 0; i < caps->machines->len; i++) {
        const QemuCapsMachine *m = g_ptr_array_index(caps->machines, i);

        if (g_str_equal(m->name, name))
            return m;
    }
    return NULL;
}

char *
qemu_domcaps_format(const QemuCaps *caps, const char *machine, bool kvm,
                    unsigned int kvm_max_vcpus)
{
    const QemuCapsMachine *m = domcaps_find_machine(caps, machine);
    DomcapsCtx ctx = { caps, qemu_machine_family(machine), kvm };
    GString *out = g_string_new("<domainCapabilities>\n  <path>");
    unsigned int max_vcpus = m ? m->max_cpus : 0;

    if (kvm)
        max_vcpus = MIN(max_vcpus, kvm_max_vcpus);
    else if (ctx.family != QEMU_MACHINE_FAMILY_OTHER)
        max_vcpus = MIN(max_vcpus, QEMU_DOMCAPS_TCG_X86_MAX_VCPUS);

    domcaps_append_escaped(out, caps->binary);
    g_string_append_printf(out, "</path>\n  <domain>%s</domain>\n  <machine>", kvm ? "kvm" : "qemu");
    domcaps_append_escaped(out, machine);
    g_string_append(out, "</machine>\n  <arch>");
    domcaps_append_escaped(out, caps->arch);
    g_string_append(out, "</arch>\n");
    if (max_vcpus > 0)
        g_string_append_printf(out, "  <vcpu max='%u'/>\n", max_vcpus);
    /* definitions have no <iothreads> */
    domcaps_unsupported(out, 1, "iothreads");
    domcaps_format_os(out);
    domcaps_format_cpu(out, &ctx);
    /* nor <memoryBacking> */
    domcaps_unsupported(out, 1, "memoryBacking");
    domcaps_format_devices(out, &ctx);
    domcaps_format_features(out);
    g_string_append(out, "</domainCapabilities>\n");
    return g_string_free(out, FALSE);
}

/* ------------------------------------------------------------------ */
/* the request                                                         */
/* ------------------------------------------------------------------ */

/* The emulator's machine for @machine (canonical), else its default. */
static const char *
domcaps_pick_machine(const QemuCaps *caps, const char *machine, GError **error)
{
    const char *found = NULL;

    if (machine) {
        if (!(found = qemu_caps_canonical_machine(caps, machine)))
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                           "invalid argument: the machine '%s' is not supported by emulator '%s'",
                           machine, caps->binary);
        return found;
    }
    if ((found = qemu_caps_default_machine(caps)))
        return found;
    if (caps->machines->len > 0)
        return ((const QemuCapsMachine *)g_ptr_array_index(caps->machines, 0))->name;
    util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                   "unsupported configuration: Emulator '%s' does not support machine type ''",
                   caps->binary);
    return NULL;
}

/* Whether @virttype (libvirt's name, "none" meaning the emulator's own)
 * is kvm; an error for the types the emulator cannot run. */
static bool
domcaps_pick_virttype(const QemuCaps *caps, const char *virttype, bool *ret_kvm, GError **error)
{
    if (!virttype || g_str_equal(virttype, "none")) {
        *ret_kvm = caps->kvm;
        return true;
    }
    if ((g_str_equal(virttype, "kvm") || g_str_equal(virttype, "hvf")) && !caps->kvm) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: the accel '%s' is not supported by '%s' on this host",
                       virttype, caps->binary);
        return false;
    }
    if (g_str_equal(virttype, "qemu") || g_str_equal(virttype, "kvm")) {
        *ret_kvm = g_str_equal(virttype, "kvm");
        return true;
    }
    util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                   "invalid argument: Emulator '%s' does not support virt type '%s'",
                   caps->binary, virttype);
    return false;
}

static bool
domcaps_check_args(const char *arch, const char *virttype, unsigned int flags, GError **error)
{
    bool known = false;

    if (flags != 0) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "unsupported flags (0x%x) in function virConnectGetDomainCapabilities", flags);
        return false;
    }
    for (size_t i = 0; virttype && i < G_N_ELEMENTS(domcaps_virt_types); i++)
        known |= g_str_equal(domcaps_virt_types[i], virttype);
    if (virttype && !known) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: unknown virttype: %s", virttype);
        return false;
    }
    if (arch && domcaps_arch_index(arch) < 0) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: unknown architecture: %s", arch);
        return false;
    }
    return true;
}

char *
qemu_domcaps_get(const QemuDomcapsEnv *env, const char *emulatorbin, const char *arch,
                 const char *machine, const char *virttype, unsigned int flags, GError **error)
{
    g_autofree char *found = NULL;
    g_autoptr(QemuCaps) caps = NULL;
    const char *want_arch = arch ? arch : env->host_arch;
    const char *canonical = NULL;
    bool kvm = false;
    int kvm_max = 0;

    if (!domcaps_check_args(arch, virttype, flags, error))
        return NULL;
    if (!emulatorbin) {
        if (!(found = env->find_emulator(want_arch))) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unsupported configuration: unable to find any emulator to serve '%s' architecture",
                           want_arch);
            return NULL;
        }
        emulatorbin = found;
    } else if (!g_path_is_absolute(emulatorbin)) {
        /* definitions name their emulator by absolute path too */
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: emulator path '%s' is not absolute", emulatorbin);
        return NULL;
    }
    if (!(caps = env->lookup(emulatorbin, error)))
        return NULL;

    if (!domcaps_same_arch_family(caps->arch, want_arch)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: architecture from emulator '%s' doesn't match given architecture '%s'",
                       caps->arch, want_arch);
        return NULL;
    }
    if (!domcaps_pick_virttype(caps, virttype, &kvm, error) ||
        !(canonical = domcaps_pick_machine(caps, machine, error)))
        return NULL;
    /* libvirt lets qemu-system-x86_64 stand for i686 guests; modvirt's
     * post-parse wants the emulator of the guest's own arch */
    if (!g_str_equal(caps->arch, want_arch)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INVALID_ARG,
                       "invalid argument: Emulator '%s' does not support arch '%s'",
                       caps->binary, want_arch);
        return NULL;
    }
    if (qemu_machine_family(canonical) == QEMU_MACHINE_FAMILY_OTHER) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: machine type '%s' is not supported (only i440fx and q35 machines are)",
                       canonical);
        return NULL;
    }
    if (kvm && (kvm_max = env->kvm_max_vcpus(error)) < 0)
        return NULL;
    g_debug("domain capabilities of %s, arch %s, machine %s, type %s", caps->binary,
            caps->arch, canonical, kvm ? "kvm" : "qemu");
    return qemu_domcaps_format(caps, canonical, kvm, (unsigned int)kvm_max);
}

bool
qemu_connect_get_domain_capabilities(RpcServerCall *call,
                                     const RemoteConnectGetDomainCapabilitiesArgs *args,
                                     RemoteConnectGetDomainCapabilitiesRet *ret, GError **error)
{
    (void)call;
    ret->capabilities = qemu_domcaps_get(qemu_domcaps_env_host(), args->emulatorbin, args->arch,
                                         args->machine, args->virttype, args->flags, error);
    return ret->capabilities != NULL;
}

/*
 * qemu-command.c: node names, device aliases and the QEMU 7.2 command line
 * for a domain definition.
 *
 * The command line follows what libvirt 9 gives QEMU for the same
 * definition, restricted to what modvirt's definitions can say: -blockdev
 * for every layer of every disk chain (storage node, then format node,
 * bottom layer first, so that each format node can name its backing
 * node), then the disk's -device pointing at the top format node.  Where
 * libvirt writes -device/-netdev as JSON, this builder writes the same
 * properties as key=value lists (commas in values doubled); -blockdev is
 * JSON, made with json-c.
 */
#define G_LOG_DOMAIN "virtqemud.command"

#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "qemu-command.h"
#include "util-error.h"
#include "util-json.h"



/* ------------------------------------------------------------------ */
/* node names and aliases                                              */
/* ------------------------------------------------------------------ */

gint64
qemu_node_name_index(const char *name, bool any_suffix)
{
    const char *p = NULL;
    char *end = NULL;
    guint64 n = 0;

    if (!name || !g_str_has_prefix(name, QEMU_NODE_PREFIX))
        return -1;
    p = name + strlen(QEMU_NODE_PREFIX);
    if (!g_ascii_isdigit(*p))
        return -1;
    n = g_ascii_strtoull(p, &end, 10);
    if (n > G_MAXINT || *end != '-')
        return -1;
    if (!any_suffix && !g_str_equal(end, "-storage") && !g_str_equal(end, "-format"))
        return -1;
    return (gint64)n;
}

gint64
qemu_node_name_next(const ConfDomainDef *def, gint64 next)
{
    for (guint i = 0; i < def->disks->len; i++) {
        const ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        for (const ConfStorageSource *n = disk->src; n; n = n->backing) {
            next = MAX(next, qemu_node_name_index(n->node_name_storage, true) + 1);
            next = MAX(next, qemu_node_name_index(n->node_name_format, true) + 1);
        }
    }
    return next;
}

static bool
qemu_disk_has_media(const ConfDomainDiskDef *disk)
{
    return disk->src->path != NULL || disk->src->type == CONF_STORAGE_TYPE_VOLUME;
}

static void
qemu_assign_node_names(ConfDomainDef *def, unsigned int *counter)
{
    gint64 next = qemu_node_name_next(def, MAX(*counter, 1));

    /* libvirt's order: the last disk first, each chain from the top */
    for (guint i = def->disks->len; i-- > 0;) {
        ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (!qemu_disk_has_media(disk))
            continue;
        for (ConfStorageSource *n = disk->src; n; n = n->backing) {
            gint64 idx = -1;

            if (n->node_name_storage && n->node_name_format)
                continue;
            /* half named: complete the pair when its number is usable */
            idx = qemu_node_name_index(n->node_name_storage ? n->node_name_storage
                                                             : n->node_name_format, false);
            if (idx < 0)
                idx = next++;
            if (!n->node_name_storage)
                n->node_name_storage = g_strdup_printf(QEMU_NODE_PREFIX "%" G_GINT64_FORMAT "-storage", idx);
            if (!n->node_name_format)
                n->node_name_format = g_strdup_printf(QEMU_NODE_PREFIX "%" G_GINT64_FORMAT "-format", idx);
        }
    }
    *counter = (unsigned int)MIN(next, G_MAXINT);
}

static char *
qemu_disk_alias(const ConfDomainDef *def, const ConfDomainDiskDef *disk)
{
    const ConfDeviceAddress *a = &disk->info.addr;
    int idx = qemu_disk_index(disk->dst);

    switch (disk->bus) {
    case CONF_DOMAIN_DISK_BUS_VIRTIO:
        return g_strdup_printf("virtio-disk%d", idx);
    case CONF_DOMAIN_DISK_BUS_USB:
        return g_strdup_printf("usb-disk%d", idx);
    case CONF_DOMAIN_DISK_BUS_IDE:
    case CONF_DOMAIN_DISK_BUS_SATA:
    case CONF_DOMAIN_DISK_BUS_FDC:
    case CONF_DOMAIN_DISK_BUS_SCSI:
        if (a->type != CONF_DEVICE_ADDRESS_DRIVE)
            return NULL;
        if (disk->bus == CONF_DOMAIN_DISK_BUS_SCSI) {
            const ConfDomainControllerDef *ctrl =
                qemu_domain_find_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_SCSI, a->controller);

            if (qemu_scsi_controller_is_lsi(ctrl))
                return g_strdup_printf("scsi%u-%u-%u", a->controller, a->bus, a->unit);
            return g_strdup_printf("scsi%u-%u-%u-%u", a->controller, a->bus, a->target, a->unit);
        }
        return g_strdup_printf("%s%u-%u-%u",
                               disk->bus == CONF_DOMAIN_DISK_BUS_IDE ? "ide" :
                               disk->bus == CONF_DOMAIN_DISK_BUS_SATA ? "sata" : "fdc",
                               a->controller, a->bus, a->unit);
    case CONF_DOMAIN_DISK_BUS_LAST:
        break;
    }
    return NULL;
}

/* "<prefix><index>" unless a rule below says otherwise */
static const char *const qemu_controller_alias_prefix[] = {
    [CONF_DOMAIN_CONTROLLER_TYPE_IDE] = "ide",
    [CONF_DOMAIN_CONTROLLER_TYPE_FDC] = "fdc",
    [CONF_DOMAIN_CONTROLLER_TYPE_SCSI] = "scsi",
    [CONF_DOMAIN_CONTROLLER_TYPE_SATA] = "sata",
    [CONF_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL] = "virtio-serial",
    [CONF_DOMAIN_CONTROLLER_TYPE_CCID] = "ccid",
    [CONF_DOMAIN_CONTROLLER_TYPE_USB] = "usb",
    [CONF_DOMAIN_CONTROLLER_TYPE_PCI] = "pci.",
    [CONF_DOMAIN_CONTROLLER_TYPE_XENBUS] = "xenbus",
    [CONF_DOMAIN_CONTROLLER_TYPE_ISA] = "isa",
};
G_STATIC_ASSERT(G_N_ELEMENTS(qemu_controller_alias_prefix) == CONF_DOMAIN_CONTROLLER_TYPE_LAST);

static char *
qemu_controller_alias(const ConfDomainDef *def, const ConfDomainControllerDef *ctrl)
{
    if (ctrl->index == 0) {
        /* QEMU's own names for the buses of the machine */
        if (ctrl->type == CONF_DOMAIN_CONTROLLER_TYPE_PCI && ctrl->model &&
            g_str_equal(ctrl->model, "pcie-root"))
            return g_strdup("pcie.0");
        if (ctrl->type == CONF_DOMAIN_CONTROLLER_TYPE_USB || ctrl->type == CONF_DOMAIN_CONTROLLER_TYPE_IDE)
            return g_strdup(qemu_controller_alias_prefix[ctrl->type]);
        /* q35's built-in AHCI is QEMU's "ide" bus */
        if (ctrl->type == CONF_DOMAIN_CONTROLLER_TYPE_SATA &&
            qemu_machine_family(def->os.machine) == QEMU_MACHINE_FAMILY_Q35)
            return g_strdup("ide");
    }
    return g_strdup_printf("%s%u", qemu_controller_alias_prefix[ctrl->type], ctrl->index);
}

static void
qemu_set_alias(ConfDeviceInfo *info, char *alias)
{
    if (info->alias) {
        g_free(alias);
        return;
    }
    info->alias = alias;
}

void
qemu_command_assign_names(ConfDomainDef *def)
{
    unsigned int counter = 1;

    qemu_command_assign_names_counter(def, &counter);
}

void
qemu_command_assign_names_counter(ConfDomainDef *def, unsigned int *counter)
{
    qemu_assign_node_names(def, counter);

    for (guint i = 0; i < def->disks->len; i++) {
        ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        qemu_set_alias(&disk->info, qemu_disk_alias(def, disk));
    }
    for (guint i = 0; i < def->controllers->len; i++) {
        ConfDomainControllerDef *ctrl = g_ptr_array_index(def->controllers, i);

        qemu_set_alias(&ctrl->info, qemu_controller_alias(def, ctrl));
    }
    for (guint i = 0; i < def->nets->len; i++)
        qemu_set_alias(&((ConfDomainNetDef *)g_ptr_array_index(def->nets, i))->info,
                       g_strdup_printf("net%u", i));
    for (guint i = 0; i < def->serials->len; i++)
        qemu_set_alias(&((ConfDomainChrDef *)g_ptr_array_index(def->serials, i))->info,
                       g_strdup_printf("serial%u", i));
    for (guint i = 0; i < def->consoles->len; i++) {
        ConfDomainChrDef *chr = g_ptr_array_index(def->consoles, i);

        /* the first console of type serial is serial0 itself */
        if (i == 0 && chr->console_target == CONF_DOMAIN_CHR_CONSOLE_TARGET_SERIAL &&
            def->serials->len > 0) {
            const ConfDomainChrDef *serial = g_ptr_array_index(def->serials, 0);

            qemu_set_alias(&chr->info, g_strdup(serial->info.alias));
            continue;
        }
        qemu_set_alias(&chr->info, g_strdup_printf("console%u", i));
    }
    for (guint i = 0; i < def->inputs->len; i++)
        qemu_set_alias(&((ConfDomainInputDef *)g_ptr_array_index(def->inputs, i))->info,
                       g_strdup_printf("input%u", i));
    for (guint i = 0; i < def->videos->len; i++)
        qemu_set_alias(&((ConfDomainVideoDef *)g_ptr_array_index(def->videos, i))->info,
                       g_strdup_printf("video%u", i));
    if (def->memballoon)
        qemu_set_alias(&def->memballoon->info, g_strdup("balloon0"));
}

/* ------------------------------------------------------------------ */
/* option text                                                         */
/* ------------------------------------------------------------------ */

/* Appends @value with commas doubled (QEMU's QemuOpts quoting). */
static void
qemu_opt_escape(GString *out, const char *value)
{
    for (const char *p = value; *p; p++) {
        if (*p == ',')
            g_string_append_c(out, ',');
        g_string_append_c(out, *p);
    }
}

static void
qemu_opt_str(GString *out, const char *key, const char *value)
{
    if (out->len > 0)
        g_string_append_c(out, ',');
    g_string_append(out, key);
    g_string_append_c(out, '=');
    qemu_opt_escape(out, value);
}

static void G_GNUC_PRINTF(3, 4)
qemu_opt_printf(GString *out, const char *key, const char *fmt, ...)
{
    va_list ap;
    gsize start = 0;

    qemu_opt_str(out, key, "");
    start = out->len;
    va_start(ap, fmt);
    g_string_append_vprintf(out, fmt, ap);
    va_end(ap);
    /* double the commas of what was just written */
    for (gsize i = start; i < out->len; i++) {
        if (out->str[i] == ',')
            g_string_insert_c(out, (gssize)i++, ',');
    }
}

static void
qemu_opt_bool(GString *out, const char *key, bool value)
{
    qemu_opt_str(out, key, value ? "on" : "off");
}

typedef struct {
    GPtrArray *argv;
    const ConfDomainDef *def;
    const QemuCaps *caps;
    const QemuCommandOptions *opts;
    QemuMachineFamily family;
    /* bootindex per disk / net (0: none), computed once */
    unsigned int *disk_boot;
    unsigned int *net_boot;
} QemuCmd;

static void
qemu_cmd_add(QemuCmd *cmd, const char *arg)
{
    g_ptr_array_add(cmd->argv, g_strdup(arg));
}

static void
qemu_cmd_add_pair(QemuCmd *cmd, const char *opt, const char *value)
{
    qemu_cmd_add(cmd, opt);
    qemu_cmd_add(cmd, value);
}

/* -OPT with the text of @opts, which is freed. */
static void
qemu_cmd_add_opts(QemuCmd *cmd, const char *opt, GString *opts)
{
    qemu_cmd_add(cmd, opt);
    g_ptr_array_add(cmd->argv, g_string_free(opts, FALSE));
}

static bool
qemu_cmd_need_device(QemuCmd *cmd, const char *type, GError **error)
{
    if (qemu_caps_has_device(cmd->caps, type))
        return true;
    util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                   "this QEMU binary ('%s') does not support the '%s' device",
                   cmd->caps->binary, type);
    return false;
}

/* ",bus=pci.0[,multifunction=on],addr=0x3[.0x1]" for a PCI address. */
static bool
qemu_cmd_pci_address(QemuCmd *cmd, GString *out, const ConfDeviceInfo *info, const char *what,
                     GError **error)
{
    const ConfDomainControllerDef *bus = NULL;
    const ConfDeviceAddress *a = &info->addr;

    if (a->type != CONF_DEVICE_ADDRESS_PCI) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "%s has no PCI address", what);
        return false;
    }
    bus = qemu_domain_find_controller(cmd->def, CONF_DOMAIN_CONTROLLER_TYPE_PCI, a->bus);
    if (a->domain != 0 || !bus || !bus->info.alias) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "%s is on PCI bus %04x:%02x, which the domain has no controller for",
                       what, a->domain, a->bus);
        return false;
    }
    qemu_opt_str(out, "bus", bus->info.alias);
    if (a->multifunction == CONF_TRISTATE_SWITCH_ON)
        qemu_opt_bool(out, "multifunction", true);
    if (a->function)
        qemu_opt_printf(out, "addr", "0x%x.0x%x", a->slot, a->function);
    else
        qemu_opt_printf(out, "addr", "0x%x", a->slot);
    return true;
}

/* -device @opts at the PCI address of @info; @opts is consumed. */
static bool
qemu_cmd_add_pci_device(QemuCmd *cmd, GString *opts, const ConfDeviceInfo *info, const char *what,
                        GError **error)
{
    if (!qemu_cmd_pci_address(cmd, opts, info, what, error)) {
        g_string_free(opts, TRUE);
        return false;
    }
    qemu_cmd_add_opts(cmd, "-device", opts);
    return true;
}

static bool
qemu_cmd_usb_address(QemuCmd *cmd, GString *out, const ConfDeviceInfo *info, const char *what,
                     GError **error)
{
    const ConfDomainControllerDef *usb = NULL;

    if (info->addr.type != CONF_DEVICE_ADDRESS_USB || !info->addr.usb_port) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR, "%s has no USB address", what);
        return false;
    }
    usb = qemu_domain_find_controller(cmd->def, CONF_DOMAIN_CONTROLLER_TYPE_USB, info->addr.bus);
    if (!usb || !usb->info.alias) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "%s is on USB bus %u, which the domain has no controller for",
                       what, info->addr.bus);
        return false;
    }
    qemu_opt_printf(out, "bus", "%s.0", usb->info.alias);
    qemu_opt_str(out, "port", info->addr.usb_port);
    return true;
}

static bool
qemu_cmd_need_alias(const ConfDeviceInfo *info, const char *what, GError **error)
{
    if (info->alias)
        return true;
    util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                   "%s has no alias (names not assigned)", what);
    return false;
}

/* ------------------------------------------------------------------ */
/* machine, cpu, memory, clock                                         */
/* ------------------------------------------------------------------ */

static const ConfDomainTimerDef *
qemu_find_timer(const ConfDomainDef *def, ConfDomainTimerName name)
{
    for (guint i = 0; def->timers && i < def->timers->len; i++) {
        const ConfDomainTimerDef *timer = g_ptr_array_index(def->timers, i);

        if (timer->name == name)
            return timer;
    }
    return NULL;
}

static bool
qemu_cmd_machine(QemuCmd *cmd, GError **error)
{
    const ConfDomainDef *def = cmd->def;
    const ConfDomainTimerDef *hpet = qemu_find_timer(def, CONF_DOMAIN_TIMER_NAME_HPET);
    GString *opts = NULL;
    bool kvm = def->virt_type == CONF_DOMAIN_VIRT_KVM;

    if (def->virt_type != CONF_DOMAIN_VIRT_KVM && def->virt_type != CONF_DOMAIN_VIRT_QEMU) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "Emulator '%s' does not support virt type '%s'",
                       cmd->caps->binary, conf_domain_virt_type_to_string(def->virt_type));
        return false;
    }
    if (kvm && !cmd->caps->kvm) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "Domain requires KVM, but it is not available. Check that virtualization is enabled in the host BIOS, and host configuration is setup to load the kvm modules.");
        return false;
    }
    if (!def->os.machine || !qemu_caps_canonical_machine(cmd->caps, def->os.machine)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "Emulator '%s' does not support machine type '%s'",
                       cmd->caps->binary, def->os.machine ? def->os.machine : "");
        return false;
    }
    if (cmd->family == QEMU_MACHINE_FAMILY_OTHER) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "machine type '%s' is not supported (only i440fx and q35 machines are)",
                       def->os.machine);
        return false;
    }

    opts = g_string_new(NULL);
    qemu_opt_escape(opts, def->os.machine);
    qemu_opt_str(opts, "accel", kvm ? "kvm" : "tcg");
    qemu_opt_bool(opts, "usb", false);
    qemu_opt_bool(opts, "dump-guest-core", false);
    if (hpet && hpet->present != CONF_TRISTATE_BOOL_ABSENT)
        qemu_opt_bool(opts, "hpet", hpet->present == CONF_TRISTATE_BOOL_YES);
    qemu_opt_bool(opts, "acpi", def->features[CONF_DOMAIN_FEATURE_ACPI]);
    qemu_cmd_add_opts(cmd, "-machine", opts);
    return true;
}

static bool
qemu_cmd_cpu(QemuCmd *cmd, GError **error)
{
    const ConfDomainCpuDef *cpu = cmd->def->cpu;
    bool kvm = cmd->def->virt_type == CONF_DOMAIN_VIRT_KVM;
    GString *opts = NULL;

    if (!cpu)
        return true;
    switch (cpu->mode) {
    case CONF_DOMAIN_CPU_MODE_HOST_PASSTHROUGH:
        if (!kvm) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "CPU mode 'host-passthrough' for %s qemu domain on %s host is not supported by hypervisor",
                           cmd->def->os.arch, cmd->caps->arch);
            return false;
        }
        opts = g_string_new("host");
        if (cpu->migratable == CONF_TRISTATE_SWITCH_OFF)
            qemu_opt_bool(opts, "migratable", false);
        break;
    case CONF_DOMAIN_CPU_MODE_HOST_MODEL:
        /* QEMU's own "as much of the host as this accelerator can give" */
        opts = g_string_new(kvm ? "host" : "max");
        break;
    case CONF_DOMAIN_CPU_MODE_CUSTOM:
        if (!cpu->model)
            return true;
        /* the probe lists the models usable with KVM on this host; TCG
         * can emulate any of QEMU's models */
        if (kvm && cmd->caps->cpu_models->len > 0) {
            bool found = false;

            for (guint i = 0; i < cmd->caps->cpu_models->len && !found; i++)
                found = g_str_equal(g_ptr_array_index(cmd->caps->cpu_models, i), cpu->model);
            if (!found) {
                util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                               "CPU model '%s' is not supported by hypervisor", cpu->model);
                return false;
            }
        }
        opts = g_string_new(NULL);
        qemu_opt_escape(opts, cpu->model);
        break;
    case CONF_DOMAIN_CPU_MODE_LAST:
        g_assert_not_reached();
    }
    qemu_cmd_add_opts(cmd, "-cpu", opts);
    return true;
}

static void
qemu_cmd_clock(QemuCmd *cmd)
{
    const ConfDomainDef *def = cmd->def;
    const ConfDomainTimerDef *rtc = qemu_find_timer(def, CONF_DOMAIN_TIMER_NAME_RTC);
    const ConfDomainTimerDef *pit = qemu_find_timer(def, CONF_DOMAIN_TIMER_NAME_PIT);
    GString *opts = g_string_new(NULL);

    qemu_opt_str(opts, "base", def->clock_offset == CONF_DOMAIN_CLOCK_OFFSET_LOCALTIME ? "localtime" : "utc");
    if (rtc && rtc->tickpolicy == CONF_DOMAIN_TIMER_TICKPOLICY_CATCHUP)
        qemu_opt_str(opts, "driftfix", "slew");
    qemu_cmd_add_opts(cmd, "-rtc", opts);
    if (pit && def->virt_type == CONF_DOMAIN_VIRT_KVM) {
        const char *policy = NULL;

        switch (pit->tickpolicy) {
        case CONF_DOMAIN_TIMER_TICKPOLICY_DELAY:
            policy = "delay";
            break;
        case CONF_DOMAIN_TIMER_TICKPOLICY_DISCARD:
            policy = "discard";
            break;
        case CONF_DOMAIN_TIMER_TICKPOLICY_NONE:
        case CONF_DOMAIN_TIMER_TICKPOLICY_CATCHUP:
        case CONF_DOMAIN_TIMER_TICKPOLICY_MERGE:
        case CONF_DOMAIN_TIMER_TICKPOLICY_LAST:
            break;
        }
        if (policy) {
            g_autofree char *global = g_strdup_printf("kvm-pit.lost_tick_policy=%s", policy);

            qemu_cmd_add_pair(cmd, "-global", global);
        }
    }
}

static void
qemu_cmd_pm(QemuCmd *cmd)
{
    const char *dev = cmd->family == QEMU_MACHINE_FAMILY_Q35 ? "ICH9-LPC" : "PIIX4_PM";

    if (cmd->def->pm_suspend_to_mem != CONF_TRISTATE_BOOL_ABSENT) {
        g_autofree char *global = g_strdup_printf("%s.disable_s3=%d", dev,
                                                  cmd->def->pm_suspend_to_mem == CONF_TRISTATE_BOOL_NO);

        qemu_cmd_add_pair(cmd, "-global", global);
    }
    if (cmd->def->pm_suspend_to_disk != CONF_TRISTATE_BOOL_ABSENT) {
        g_autofree char *global = g_strdup_printf("%s.disable_s4=%d", dev,
                                                  cmd->def->pm_suspend_to_disk == CONF_TRISTATE_BOOL_NO);

        qemu_cmd_add_pair(cmd, "-global", global);
    }
}

/* ------------------------------------------------------------------ */
/* boot order                                                          */
/* ------------------------------------------------------------------ */

/* Per-device boot order as libvirt does it: <boot order> on devices as
 * given, else the <os><boot dev> list given to the first disk, cdrom or
 * interface of each kind, numbered in list order. */
static bool
qemu_cmd_boot_order(QemuCmd *cmd, GError **error)
{
    const ConfDomainDef *def = cmd->def;
    bool per_device = false;
    unsigned int next = 1;

    cmd->disk_boot = g_new0(unsigned int, def->disks->len + 1);
    cmd->net_boot = g_new0(unsigned int, def->nets->len + 1);
    for (guint i = 0; i < def->disks->len; i++) {
        const ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        cmd->disk_boot[i] = disk->boot_order;
        per_device |= disk->boot_order > 0;
    }
    for (guint i = 0; i < def->nets->len; i++) {
        const ConfDomainNetDef *net = g_ptr_array_index(def->nets, i);

        cmd->net_boot[i] = net->boot_order;
        per_device |= net->boot_order > 0;
    }
    if (per_device)
        return true;

    for (size_t b = 0; b < def->os.n_boot_devs; b++) {
        bool found = false;

        switch (def->os.boot_devs[b]) {
        case CONF_DOMAIN_BOOT_DISK:
        case CONF_DOMAIN_BOOT_CDROM:
        case CONF_DOMAIN_BOOT_FLOPPY: {
            ConfDomainDiskDevice want = def->os.boot_devs[b] == CONF_DOMAIN_BOOT_DISK ? CONF_DOMAIN_DISK_DEVICE_DISK
                                        : def->os.boot_devs[b] == CONF_DOMAIN_BOOT_CDROM ? CONF_DOMAIN_DISK_DEVICE_CDROM
                                        : CONF_DOMAIN_DISK_DEVICE_FLOPPY;

            for (guint i = 0; i < def->disks->len && !found; i++) {
                const ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

                if (disk->device == want && !cmd->disk_boot[i]) {
                    cmd->disk_boot[i] = next;
                    found = true;
                }
            }
            break;
        }
        case CONF_DOMAIN_BOOT_NET:
            if (def->nets->len > 0 && !cmd->net_boot[0]) {
                cmd->net_boot[0] = next;
                found = true;
            }
            break;
        case CONF_DOMAIN_BOOT_LAST:
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR, "invalid boot device");
            return false;
        }
        if (found)
            next++;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* controllers                                                         */
/* ------------------------------------------------------------------ */

typedef struct {
    const char *model;          /* libvirt's model name */
    const char *device;         /* QEMU device */
    const char *cap;            /* the QOM type that tells QEMU has it */
} QemuModelMap;

static const QemuModelMap qemu_usb_models[] = {
    { "piix3-uhci", "piix3-usb-uhci", "piix3-usb-uhci" },
    { "piix4-uhci", "piix4-usb-uhci", "piix4-usb-uhci" },
    { "ehci", "usb-ehci", "usb-ehci" },
    { "ich9-ehci1", "ich9-usb-ehci1", "ich9-usb-ehci1" },
    { "ich9-uhci1", "ich9-usb-uhci1", "ich9-usb-uhci1" },
    { "ich9-uhci2", "ich9-usb-uhci2", "ich9-usb-uhci2" },
    { "ich9-uhci3", "ich9-usb-uhci3", "ich9-usb-uhci3" },
    { "nec-xhci", "nec-usb-xhci", "nec-usb-xhci" },
    { "qemu-xhci", "qemu-xhci", "qemu-xhci" },
};

static const QemuModelMap qemu_scsi_models[] = {
    { "lsilogic", "lsi", "lsi53c895a" },
    { "virtio-scsi", "virtio-scsi-pci", "virtio-scsi-pci" },
};

static const QemuModelMap *
qemu_model_lookup(const QemuModelMap *map, size_t n, const char *model)
{
    for (size_t i = 0; model && i < n; i++) {
        if (g_str_equal(map[i].model, model))
            return &map[i];
    }
    return NULL;
}

static bool
qemu_cmd_controller(QemuCmd *cmd, const ConfDomainControllerDef *ctrl, GError **error)
{
    GString *opts = NULL;
    const QemuModelMap *map = NULL;
    g_autofree char *what = g_strdup_printf("controller '%s' %u",
                                            ctrl->info.alias ? ctrl->info.alias : "", ctrl->index);

    if (!qemu_cmd_need_alias(&ctrl->info, what, error))
        return false;
    switch (ctrl->type) {
    case CONF_DOMAIN_CONTROLLER_TYPE_PCI:
        if (ctrl->model && (g_str_equal(ctrl->model, "pci-root") || g_str_equal(ctrl->model, "pcie-root"))) {
            if (ctrl->index != 0)
                break;
            return true;
        }
        if (ctrl->model && g_str_equal(ctrl->model, "pcie-root-port")) {
            if (!qemu_cmd_need_device(cmd, "pcie-root-port", error))
                return false;
            opts = g_string_new("pcie-root-port");
            qemu_opt_printf(opts, "port", "%d", MAX(ctrl->pci_port, 0));
            qemu_opt_printf(opts, "chassis", "%d", ctrl->pci_chassis >= 0 ? ctrl->pci_chassis : (int)ctrl->index);
        } else if (ctrl->model && g_str_equal(ctrl->model, "pci-bridge")) {
            if (!qemu_cmd_need_device(cmd, "pci-bridge", error))
                return false;
            opts = g_string_new("pci-bridge");
            qemu_opt_printf(opts, "chassis_nr", "%d", ctrl->pci_chassis >= 0 ? ctrl->pci_chassis : (int)ctrl->index);
        } else {
            break;
        }
        qemu_opt_str(opts, "id", ctrl->info.alias);
        return qemu_cmd_add_pci_device(cmd, opts, &ctrl->info, what, error);

    case CONF_DOMAIN_CONTROLLER_TYPE_USB:
        if (ctrl->model && g_str_equal(ctrl->model, "none"))
            return true;
        if (!(map = qemu_model_lookup(qemu_usb_models, G_N_ELEMENTS(qemu_usb_models), ctrl->model)))
            break;
        if (!qemu_cmd_need_device(cmd, map->cap, error))
            return false;
        opts = g_string_new(map->device);
        if (g_str_has_suffix(map->device, "xhci") && ctrl->ports > 0) {
            qemu_opt_printf(opts, "p2", "%d", ctrl->ports);
            qemu_opt_printf(opts, "p3", "%d", ctrl->ports);
        }
        qemu_opt_str(opts, "id", ctrl->info.alias);
        break;

    case CONF_DOMAIN_CONTROLLER_TYPE_SCSI:
        if (!(map = qemu_model_lookup(qemu_scsi_models, G_N_ELEMENTS(qemu_scsi_models), ctrl->model)))
            break;
        if (!qemu_cmd_need_device(cmd, map->cap, error))
            return false;
        opts = g_string_new(map->device);
        qemu_opt_str(opts, "id", ctrl->info.alias);
        break;

    case CONF_DOMAIN_CONTROLLER_TYPE_IDE:
        /* the PIIX3's IDE; no machine here has room for another */
        if (cmd->family == QEMU_MACHINE_FAMILY_I440FX && ctrl->index == 0)
            return true;
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "Only a single IDE controller is supported for this machine type");
        return false;

    case CONF_DOMAIN_CONTROLLER_TYPE_SATA:
        if (cmd->family == QEMU_MACHINE_FAMILY_Q35 && ctrl->index == 0)
            return true;
        if (!qemu_cmd_need_device(cmd, "ich9-ahci", error))
            return false;
        opts = g_string_new("ahci");
        qemu_opt_str(opts, "id", ctrl->info.alias);
        break;

    case CONF_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL:
        if (!qemu_cmd_need_device(cmd, "virtio-serial-pci", error))
            return false;
        opts = g_string_new("virtio-serial-pci");
        qemu_opt_str(opts, "id", ctrl->info.alias);
        if (ctrl->ports >= 0)
            qemu_opt_printf(opts, "max_ports", "%d", ctrl->ports);
        if (ctrl->vectors >= 0)
            qemu_opt_printf(opts, "vectors", "%d", ctrl->vectors);
        break;

    case CONF_DOMAIN_CONTROLLER_TYPE_FDC:
        /* the ISA floppy controller comes with the machine */
        return true;
    case CONF_DOMAIN_CONTROLLER_TYPE_CCID:
    case CONF_DOMAIN_CONTROLLER_TYPE_XENBUS:
    case CONF_DOMAIN_CONTROLLER_TYPE_ISA:
    case CONF_DOMAIN_CONTROLLER_TYPE_LAST:
        break;
    }

    if (!opts) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "controller model '%s' of %s is not supported with QEMU",
                       ctrl->model ? ctrl->model : "default", what);
        return false;
    }
    return qemu_cmd_add_pci_device(cmd, opts, &ctrl->info, what, error);
}

static bool
qemu_cmd_controllers(QemuCmd *cmd, GError **error)
{
    /* libvirt's order of controller types on the command line */
    static const ConfDomainControllerType order[] = {
        CONF_DOMAIN_CONTROLLER_TYPE_PCI, CONF_DOMAIN_CONTROLLER_TYPE_USB,
        CONF_DOMAIN_CONTROLLER_TYPE_SCSI, CONF_DOMAIN_CONTROLLER_TYPE_IDE,
        CONF_DOMAIN_CONTROLLER_TYPE_SATA, CONF_DOMAIN_CONTROLLER_TYPE_FDC,
        CONF_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL, CONF_DOMAIN_CONTROLLER_TYPE_CCID,
        CONF_DOMAIN_CONTROLLER_TYPE_XENBUS, CONF_DOMAIN_CONTROLLER_TYPE_ISA,
    };
    G_STATIC_ASSERT(G_N_ELEMENTS(order) == CONF_DOMAIN_CONTROLLER_TYPE_LAST);

    for (size_t t = 0; t < G_N_ELEMENTS(order); t++) {
        for (guint i = 0; i < cmd->def->controllers->len; i++) {
            const ConfDomainControllerDef *ctrl = g_ptr_array_index(cmd->def->controllers, i);

            if (ctrl->type == order[t] && !qemu_cmd_controller(cmd, ctrl, error))
                return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* disks                                                               */
/* ------------------------------------------------------------------ */

static const char *
qemu_storage_driver(const ConfDomainDiskDef *disk, const ConfStorageSource *src, GError **error)
{
    switch (src->type) {
    case CONF_STORAGE_TYPE_FILE:
        return "file";
    case CONF_STORAGE_TYPE_BLOCK:
        return src == disk->src && disk->device == CONF_DOMAIN_DISK_DEVICE_CDROM ? "host_cdrom" : "host_device";
    case CONF_STORAGE_TYPE_VOLUME:
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "storage volume '%s' in pool '%s' of disk '%s' was not translated to a path",
                       src->volume ? src->volume : "", src->pool ? src->pool : "", disk->dst);
        return NULL;
    case CONF_STORAGE_TYPE_LAST:
        break;
    }
    g_assert_not_reached();
}

/* QEMU's cache.direct / cache.no-flush and the device's write-cache for
 * libvirt's cache modes. */
static void
qemu_cache_mode(ConfDomainDiskCache cache, bool *direct, bool *no_flush, bool *write_cache)
{
    *direct = false;
    *no_flush = false;
    *write_cache = true;
    switch (cache) {
    case CONF_DOMAIN_DISK_CACHE_NONE:
        *direct = true;
        break;
    case CONF_DOMAIN_DISK_CACHE_WRITETHROUGH:
        *write_cache = false;
        break;
    case CONF_DOMAIN_DISK_CACHE_DIRECTSYNC:
        *direct = true;
        *write_cache = false;
        break;
    case CONF_DOMAIN_DISK_CACHE_UNSAFE:
        *no_flush = true;
        break;
    case CONF_DOMAIN_DISK_CACHE_WRITEBACK:
    case CONF_DOMAIN_DISK_CACHE_DEFAULT:
    case CONF_DOMAIN_DISK_CACHE_LAST:
        break;
    }
}

static void
qemu_blockdev_cache(json_object *props, const ConfDomainDiskDef *disk)
{
    json_object *cache = NULL;
    bool direct = false, no_flush = false, write_cache = false;

    if (disk->cache == CONF_DOMAIN_DISK_CACHE_DEFAULT)
        return;
    qemu_cache_mode(disk->cache, &direct, &no_flush, &write_cache);
    cache = json_object_new_object();
    json_object_object_add(cache, "direct", json_object_new_boolean(direct));
    json_object_object_add(cache, "no-flush", json_object_new_boolean(no_flush));
    json_object_object_add(props, "cache", cache);
}

static void
qemu_cmd_add_blockdev(QemuCmd *cmd, json_object *props)
{
    qemu_cmd_add(cmd, "-blockdev");
    qemu_cmd_add(cmd, json_object_to_json_string_ext(props, JSON_C_TO_STRING_PLAIN |
                                                            JSON_C_TO_STRING_NOSLASHESCAPE));
}

static bool
qemu_cmd_disk_layer(QemuCmd *cmd, const ConfDomainDiskDef *disk, const ConfStorageSource *src,
                    GError **error)
{
    g_autoptr(json_object) storage = json_object_new_object();
    g_autoptr(json_object) format = json_object_new_object();
    const char *driver = qemu_storage_driver(disk, src, error);
    bool top = src == disk->src;
    ConfStorageFormat fmt = src->format == CONF_STORAGE_FORMAT_NONE ? CONF_STORAGE_FORMAT_RAW : src->format;

    if (!driver)
        return false;
    if (!src->node_name_storage || !src->node_name_format) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "image '%s' of disk '%s' has no node names (names not assigned)",
                       src->path, disk->dst);
        return false;
    }
    if (fmt == CONF_STORAGE_FORMAT_RAW && src->backing) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "raw image '%s' of disk '%s' cannot have a backing image",
                       src->path, disk->dst);
        return false;
    }
    if (fmt == CONF_STORAGE_FORMAT_QCOW2 && !src->backing && !src->backing_terminated) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "backing chain of disk '%s' is not known below '%s' (it must be probed before start)",
                       disk->dst, src->path);
        return false;
    }
    if (disk->io == CONF_DOMAIN_DISK_IO_NATIVE &&
        disk->cache != CONF_DOMAIN_DISK_CACHE_NONE && disk->cache != CONF_DOMAIN_DISK_CACHE_DIRECTSYNC) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "native I/O needs either no disk cache or directsync cache mode (disk '%s')",
                       disk->dst);
        return false;
    }

    /* the protocol layer */
    json_object_object_add(storage, "driver", json_object_new_string(driver));
    json_object_object_add(storage, "filename", json_object_new_string(src->path));
    switch (disk->io) {
    case CONF_DOMAIN_DISK_IO_NATIVE:
        json_object_object_add(storage, "aio", json_object_new_string("native"));
        break;
    case CONF_DOMAIN_DISK_IO_THREADS:
        json_object_object_add(storage, "aio", json_object_new_string("threads"));
        break;
    case CONF_DOMAIN_DISK_IO_URING:
        json_object_object_add(storage, "aio", json_object_new_string("io_uring"));
        break;
    case CONF_DOMAIN_DISK_IO_DEFAULT:
    case CONF_DOMAIN_DISK_IO_LAST:
        break;
    }
    json_object_object_add(storage, "node-name", json_object_new_string(src->node_name_storage));
    qemu_blockdev_cache(storage, disk);
    json_object_object_add(storage, "auto-read-only", json_object_new_boolean(true));
    json_object_object_add(storage, "discard", json_object_new_string("unmap"));
    qemu_cmd_add_blockdev(cmd, storage);

    /* the format layer */
    json_object_object_add(format, "node-name", json_object_new_string(src->node_name_format));
    json_object_object_add(format, "read-only", json_object_new_boolean(!top || disk->readonly));
    if (top && disk->discard == CONF_DOMAIN_DISK_DISCARD_UNMAP)
        json_object_object_add(format, "discard", json_object_new_string("unmap"));
    else if (top && disk->discard == CONF_DOMAIN_DISK_DISCARD_IGNORE)
        json_object_object_add(format, "discard", json_object_new_string("ignore"));
    qemu_blockdev_cache(format, disk);
    json_object_object_add(format, "driver", json_object_new_string(conf_storage_format_to_string(fmt)));
    json_object_object_add(format, "file", json_object_new_string(src->node_name_storage));
    if (fmt == CONF_STORAGE_FORMAT_QCOW2) {
        json_object_object_add(format, "backing",
                               src->backing ? json_object_new_string(src->backing->node_name_format) : NULL);
    }
    qemu_cmd_add_blockdev(cmd, format);
    return true;
}

/* Every layer, the bottom one first. */
static bool
qemu_cmd_disk_chain(QemuCmd *cmd, const ConfDomainDiskDef *disk, const ConfStorageSource *src,
                    GError **error)
{
    g_autoptr(GPtrArray) layers = g_ptr_array_new();

    for (; src; src = src->backing) {
        if (!src->path && src->type != CONF_STORAGE_TYPE_VOLUME) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                           "backing image of disk '%s' has no path", disk->dst);
            return false;
        }
        g_ptr_array_add(layers, (gpointer)src);
    }
    for (guint i = layers->len; i-- > 0;) {
        if (!qemu_cmd_disk_layer(cmd, disk, g_ptr_array_index(layers, i), error))
            return false;
    }
    return true;
}

static bool
qemu_cmd_disk(QemuCmd *cmd, guint index, GError **error)
{
    const ConfDomainDiskDef *disk = g_ptr_array_index(cmd->def->disks, index);
    const ConfDeviceAddress *a = &disk->info.addr;
    bool media = qemu_disk_has_media(disk);
    bool cdrom = disk->device == CONF_DOMAIN_DISK_DEVICE_CDROM;
    const ConfDomainControllerDef *ctrl = NULL;
    const char *device = NULL;
    GString *opts = NULL;
    g_autofree char *what = g_strdup_printf("disk '%s'", disk->dst);
    bool direct = false, no_flush = false, write_cache = false;

    if (!qemu_cmd_need_alias(&disk->info, what, error))
        return false;
    if (disk->device == CONF_DOMAIN_DISK_DEVICE_FLOPPY || disk->bus == CONF_DOMAIN_DISK_BUS_FDC) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "floppy disks are not supported ('%s')", disk->dst);
        return false;
    }
    if (disk->bus != CONF_DOMAIN_DISK_BUS_VIRTIO && disk->bus != CONF_DOMAIN_DISK_BUS_USB &&
        a->type != CONF_DEVICE_ADDRESS_DRIVE) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "%s has no drive address", what);
        return false;
    }

    switch (disk->bus) {
    case CONF_DOMAIN_DISK_BUS_VIRTIO:
        if (cdrom) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "disk type of '%s' does not support ejectable media", disk->dst);
            return false;
        }
        device = "virtio-blk-pci";
        opts = g_string_new(device);
        if (!qemu_cmd_pci_address(cmd, opts, &disk->info, what, error))
            goto error;
        break;
    case CONF_DOMAIN_DISK_BUS_IDE:
        device = cdrom ? "ide-cd" : "ide-hd";
        opts = g_string_new(device);
        if (cmd->family != QEMU_MACHINE_FAMILY_I440FX || a->controller != 0 || a->bus > 1 ||
            a->unit > 1 || a->target != 0) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "IDE %s has an address this machine does not have (controller %u, bus %u, unit %u)",
                           what, a->controller, a->bus, a->unit);
            goto error;
        }
        qemu_opt_printf(opts, "bus", "ide.%u", a->bus);
        qemu_opt_printf(opts, "unit", "%u", a->unit);
        break;
    case CONF_DOMAIN_DISK_BUS_SATA:
        device = cdrom ? "ide-cd" : "ide-hd";
        opts = g_string_new(device);
        ctrl = qemu_domain_find_controller(cmd->def, CONF_DOMAIN_CONTROLLER_TYPE_SATA, a->controller);
        if (!ctrl || !ctrl->info.alias || a->bus != 0 || a->unit > 5 || a->target != 0) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "SATA %s has an address this domain does not have (controller %u, bus %u, unit %u)",
                           what, a->controller, a->bus, a->unit);
            goto error;
        }
        qemu_opt_printf(opts, "bus", "%s.%u", ctrl->info.alias, a->unit);
        break;
    case CONF_DOMAIN_DISK_BUS_SCSI:
        device = cdrom ? "scsi-cd" : "scsi-hd";
        opts = g_string_new(device);
        ctrl = qemu_domain_find_controller(cmd->def, CONF_DOMAIN_CONTROLLER_TYPE_SCSI, a->controller);
        if (!ctrl || !ctrl->info.alias) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "SCSI %s is on controller %u, which the domain does not have",
                           what, a->controller);
            goto error;
        }
        qemu_opt_printf(opts, "bus", "%s.0", ctrl->info.alias);
        if (qemu_scsi_controller_is_lsi(ctrl)) {
            if (a->bus != 0 || a->target != 0 || a->unit > 6) {
                util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                               "SCSI %s: this controller model has one bus of 7 units", what);
                goto error;
            }
            qemu_opt_printf(opts, "scsi-id", "%u", a->unit);
        } else {
            qemu_opt_printf(opts, "channel", "%u", a->bus);
            qemu_opt_printf(opts, "scsi-id", "%u", a->target);
            qemu_opt_printf(opts, "lun", "%u", a->unit);
        }
        qemu_opt_printf(opts, "device_id", "drive-%s", disk->info.alias);
        break;
    case CONF_DOMAIN_DISK_BUS_USB:
        if (!media) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "USB %s without media is not supported", what);
            return false;
        }
        device = "usb-storage";
        opts = g_string_new(device);
        if (!qemu_cmd_usb_address(cmd, opts, &disk->info, what, error))
            goto error;
        break;
    case CONF_DOMAIN_DISK_BUS_FDC:
    case CONF_DOMAIN_DISK_BUS_LAST:
        g_assert_not_reached();
    }
    if (!qemu_cmd_need_device(cmd, device, error))
        goto error;

    if (media && !qemu_cmd_disk_chain(cmd, disk, disk->src, error))
        goto error;

    if (disk->shareable)
        qemu_opt_bool(opts, "share-rw", true);
    if (media)
        qemu_opt_str(opts, "drive", disk->src->node_name_format);
    qemu_opt_str(opts, "id", disk->info.alias);
    if (disk->bus == CONF_DOMAIN_DISK_BUS_USB)
        qemu_opt_bool(opts, "removable", cdrom);
    if (cmd->disk_boot[index])
        qemu_opt_printf(opts, "bootindex", "%u", cmd->disk_boot[index]);
    if (disk->cache != CONF_DOMAIN_DISK_CACHE_DEFAULT) {
        qemu_cache_mode(disk->cache, &direct, &no_flush, &write_cache);
        qemu_opt_bool(opts, "write-cache", write_cache);
    }
    if (disk->serial)
        qemu_opt_str(opts, "serial", disk->serial);
    qemu_cmd_add_opts(cmd, "-device", opts);
    return true;

 error:
    g_string_free(opts, TRUE);
    return false;
}

/* ------------------------------------------------------------------ */
/* network, character devices, inputs, display, balloon                */
/* ------------------------------------------------------------------ */

static bool
qemu_cmd_nets(QemuCmd *cmd, GError **error)
{
    size_t next_fd = 0;

    for (guint i = 0; i < cmd->def->nets->len; i++) {
        const ConfDomainNetDef *net = g_ptr_array_index(cmd->def->nets, i);
        g_autofree char *what = g_strdup_printf("interface %u", i);
        g_autofree char *host_id = NULL;
        const char *device = NULL;
        GString *netdev = g_string_new(NULL);
        GString *opts = NULL;

        if (!qemu_cmd_need_alias(&net->info, what, error)) {
            g_string_free(netdev, TRUE);
            return false;
        }
        host_id = g_strdup_printf("host%s", net->info.alias);
        switch (net->type) {
        case CONF_DOMAIN_NET_TYPE_USER:
            g_string_append(netdev, "user");
            break;
        case CONF_DOMAIN_NET_TYPE_NETWORK:
        case CONF_DOMAIN_NET_TYPE_BRIDGE:
            if (next_fd >= cmd->opts->n_tap_fds || !cmd->opts->tap_fds) {
                util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                               "no tap file descriptor for %s", what);
                g_string_free(netdev, TRUE);
                return false;
            }
            g_string_append(netdev, "tap");
            qemu_opt_printf(netdev, "fd", "%d", cmd->opts->tap_fds[next_fd++]);
            break;
        case CONF_DOMAIN_NET_TYPE_LAST:
            g_assert_not_reached();
        }
        qemu_opt_str(netdev, "id", host_id);
        qemu_cmd_add_opts(cmd, "-netdev", netdev);

        device = !net->model || g_str_equal(net->model, "virtio") ? "virtio-net-pci" : net->model;
        if (!qemu_cmd_need_device(cmd, device, error))
            return false;
        opts = g_string_new(device);
        qemu_opt_str(opts, "netdev", host_id);
        qemu_opt_str(opts, "id", net->info.alias);
        qemu_opt_printf(opts, "mac", "%02x:%02x:%02x:%02x:%02x:%02x", net->mac[0], net->mac[1],
                        net->mac[2], net->mac[3], net->mac[4], net->mac[5]);
        if (cmd->net_boot[i])
            qemu_opt_printf(opts, "bootindex", "%u", cmd->net_boot[i]);
        if (!qemu_cmd_add_pci_device(cmd, opts, &net->info, what, error))
            return false;
    }
    return true;
}

static bool
qemu_cmd_chr_pty(QemuCmd *cmd, const ConfDomainChrDef *chr, const char *what, GError **error)
{
    g_autofree char *id = NULL;

    /* pty is the only character device type definitions have */
    if (!qemu_cmd_need_alias(&chr->info, what, error))
        return false;
    id = g_strdup_printf("char%s", chr->info.alias);
    qemu_cmd_add(cmd, "-chardev");
    g_ptr_array_add(cmd->argv, g_strdup_printf("pty,id=%s", id));
    return true;
}

static bool
qemu_cmd_chardevs(QemuCmd *cmd, GError **error)
{
    for (guint i = 0; i < cmd->def->serials->len; i++) {
        const ConfDomainChrDef *chr = g_ptr_array_index(cmd->def->serials, i);
        g_autofree char *what = g_strdup_printf("serial port %d", chr->port);
        GString *opts = NULL;

        if (chr->serial_target != CONF_DOMAIN_CHR_SERIAL_TARGET_NONE &&
            chr->serial_target != CONF_DOMAIN_CHR_SERIAL_TARGET_ISA) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "only ISA serial ports are supported (%s)", what);
            return false;
        }
        if (chr->serial_model != CONF_DOMAIN_CHR_SERIAL_MODEL_NONE &&
            chr->serial_model != CONF_DOMAIN_CHR_SERIAL_MODEL_ISA_SERIAL) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "Target model is not compatible with target type for %s", what);
            return false;
        }
        if (!qemu_cmd_chr_pty(cmd, chr, what, error) || !qemu_cmd_need_device(cmd, "isa-serial", error))
            return false;
        opts = g_string_new("isa-serial");
        qemu_opt_printf(opts, "chardev", "char%s", chr->info.alias);
        qemu_opt_str(opts, "id", chr->info.alias);
        qemu_opt_printf(opts, "index", "%d", chr->port);
        qemu_cmd_add_opts(cmd, "-device", opts);
    }
    for (guint i = 0; i < cmd->def->consoles->len; i++) {
        const ConfDomainChrDef *chr = g_ptr_array_index(cmd->def->consoles, i);
        g_autofree char *what = g_strdup_printf("console %u", i);
        GString *opts = NULL;

        switch (chr->console_target) {
        case CONF_DOMAIN_CHR_CONSOLE_TARGET_SERIAL:
            if (i == 0)
                continue;   /* it is serial0 */
            break;
        case CONF_DOMAIN_CHR_CONSOLE_TARGET_VIRTIO:
            if (!qemu_cmd_chr_pty(cmd, chr, what, error) ||
                !qemu_cmd_need_device(cmd, "virtconsole", error))
                return false;
            opts = g_string_new("virtconsole");
            qemu_opt_printf(opts, "chardev", "char%s", chr->info.alias);
            qemu_opt_str(opts, "id", chr->info.alias);
            qemu_cmd_add_opts(cmd, "-device", opts);
            continue;
        case CONF_DOMAIN_CHR_CONSOLE_TARGET_NONE:
        case CONF_DOMAIN_CHR_CONSOLE_TARGET_XEN:
        case CONF_DOMAIN_CHR_CONSOLE_TARGET_UML:
        case CONF_DOMAIN_CHR_CONSOLE_TARGET_LXC:
        case CONF_DOMAIN_CHR_CONSOLE_TARGET_OPENVZ:
        case CONF_DOMAIN_CHR_CONSOLE_TARGET_SCLP:
        case CONF_DOMAIN_CHR_CONSOLE_TARGET_SCLPLM:
        case CONF_DOMAIN_CHR_CONSOLE_TARGET_LAST:
            break;
        }
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "this console type is not supported with QEMU (%s)", what);
        return false;
    }
    return true;
}

static bool
qemu_cmd_inputs(QemuCmd *cmd, GError **error)
{
    static const char *const usb_devices[] = {
        [CONF_DOMAIN_INPUT_TYPE_MOUSE] = "usb-mouse",
        [CONF_DOMAIN_INPUT_TYPE_TABLET] = "usb-tablet",
        [CONF_DOMAIN_INPUT_TYPE_KEYBOARD] = "usb-kbd",
    };
    static const char *const virtio_devices[] = {
        [CONF_DOMAIN_INPUT_TYPE_MOUSE] = "virtio-mouse-pci",
        [CONF_DOMAIN_INPUT_TYPE_TABLET] = "virtio-tablet-pci",
        [CONF_DOMAIN_INPUT_TYPE_KEYBOARD] = "virtio-keyboard-pci",
    };
    G_STATIC_ASSERT(G_N_ELEMENTS(usb_devices) == CONF_DOMAIN_INPUT_TYPE_LAST);
    G_STATIC_ASSERT(G_N_ELEMENTS(virtio_devices) == CONF_DOMAIN_INPUT_TYPE_LAST);

    for (guint i = 0; i < cmd->def->inputs->len; i++) {
        const ConfDomainInputDef *input = g_ptr_array_index(cmd->def->inputs, i);
        g_autofree char *what = g_strdup_printf("input %u", i);
        const char *device = NULL;
        GString *opts = NULL;
        bool ok = false;

        switch (input->bus) {
        case CONF_DOMAIN_INPUT_BUS_PS2:
            /* the i8042 of the machine */
            continue;
        case CONF_DOMAIN_INPUT_BUS_USB:
            device = usb_devices[input->type];
            break;
        case CONF_DOMAIN_INPUT_BUS_VIRTIO:
            device = virtio_devices[input->type];
            break;
        case CONF_DOMAIN_INPUT_BUS_XEN:
        case CONF_DOMAIN_INPUT_BUS_LAST:
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unsupported input bus for QEMU (%s)", what);
            return false;
        }
        if (!qemu_cmd_need_alias(&input->info, what, error) || !qemu_cmd_need_device(cmd, device, error))
            return false;
        opts = g_string_new(device);
        qemu_opt_str(opts, "id", input->info.alias);
        ok = input->bus == CONF_DOMAIN_INPUT_BUS_USB ? qemu_cmd_usb_address(cmd, opts, &input->info, what, error)
                                                     : qemu_cmd_pci_address(cmd, opts, &input->info, what, error);
        if (!ok) {
            g_string_free(opts, TRUE);
            return false;
        }
        qemu_cmd_add_opts(cmd, "-device", opts);
    }
    return true;
}

static bool
qemu_cmd_graphics(QemuCmd *cmd, GError **error)
{
    const ConfDomainGraphicsDef *vnc = NULL;
    const char *listen = NULL;
    GString *opts = NULL;

    if (cmd->def->graphics->len == 0)
        return true;
    if (cmd->def->graphics->len > 1) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "only 1 graphics device of each type (vnc) is supported");
        return false;
    }
    vnc = g_ptr_array_index(cmd->def->graphics, 0);
    if (vnc->port < 0) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "the VNC port was not chosen before start");
        return false;
    }
    if (vnc->port < 5900) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "vnc port must be in range [5900,65535]");
        return false;
    }
    listen = vnc->listen ? vnc->listen : "127.0.0.1";
    opts = g_string_new(NULL);
    if (strchr(listen, ':'))
        g_string_append_c(opts, '[');
    qemu_opt_escape(opts, listen);
    if (strchr(listen, ':'))
        g_string_append_c(opts, ']');
    g_string_append_printf(opts, ":%d", vnc->port - 5900);
    if (vnc->passwd)
        qemu_opt_bool(opts, "password", true);
    qemu_cmd_add_opts(cmd, "-vnc", opts);
    if (vnc->keymap)
        qemu_cmd_add_pair(cmd, "-k", vnc->keymap);
    return true;
}

static bool
qemu_cmd_videos(QemuCmd *cmd, GError **error)
{
    for (guint i = 0; i < cmd->def->videos->len; i++) {
        const ConfDomainVideoDef *video = g_ptr_array_index(cmd->def->videos, i);
        g_autofree char *what = g_strdup_printf("video %u", i);
        const char *device = NULL;
        GString *opts = NULL;
        bool primary = i == 0;

        switch (video->type) {
        case CONF_DOMAIN_VIDEO_TYPE_NONE:
            continue;
        case CONF_DOMAIN_VIDEO_TYPE_VGA:
            device = primary ? "VGA" : NULL;
            break;
        case CONF_DOMAIN_VIDEO_TYPE_CIRRUS:
            device = primary ? "cirrus-vga" : NULL;
            break;
        case CONF_DOMAIN_VIDEO_TYPE_QXL:
            device = primary ? "qxl-vga" : "qxl";
            break;
        case CONF_DOMAIN_VIDEO_TYPE_VIRTIO:
            device = primary ? "virtio-vga" : "virtio-gpu-pci";
            break;
        case CONF_DOMAIN_VIDEO_TYPE_LAST:
            g_assert_not_reached();
        }
        if (!device) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "video type of %s is only valid as primary video device", what);
            return false;
        }
        if (!qemu_cmd_need_alias(&video->info, what, error) || !qemu_cmd_need_device(cmd, device, error))
            return false;
        opts = g_string_new(device);
        qemu_opt_str(opts, "id", video->info.alias);
        if (video->type == CONF_DOMAIN_VIDEO_TYPE_VGA && video->vram)
            qemu_opt_printf(opts, "vgamem_mb", "%u", video->vram / 1024);
        if (video->type == CONF_DOMAIN_VIDEO_TYPE_QXL) {
            qemu_opt_printf(opts, "max_outputs", "%u", MAX(video->heads, 1));
            if (video->ram)
                qemu_opt_printf(opts, "ram_size", "%llu", (unsigned long long)video->ram * 1024);
            if (video->vram)
                qemu_opt_printf(opts, "vram_size", "%llu", (unsigned long long)video->vram * 1024);
            qemu_opt_str(opts, "vram64_size_mb", "0");
            qemu_opt_str(opts, "vgamem_mb", "16");
        }
        if (video->type == CONF_DOMAIN_VIDEO_TYPE_VIRTIO)
            qemu_opt_printf(opts, "max_outputs", "%u", MAX(video->heads, 1));
        if (!qemu_cmd_add_pci_device(cmd, opts, &video->info, what, error))
            return false;
    }
    return true;
}

static bool
qemu_cmd_memballoon(QemuCmd *cmd, GError **error)
{
    const ConfDomainMemballoonDef *balloon = cmd->def->memballoon;
    GString *opts = NULL;

    if (!balloon || balloon->model == CONF_DOMAIN_MEMBALLOON_MODEL_NONE)
        return true;
    if (!qemu_cmd_need_alias(&balloon->info, "memballoon", error) ||
        !qemu_cmd_need_device(cmd, "virtio-balloon-pci", error))
        return false;
    opts = g_string_new("virtio-balloon-pci");
    qemu_opt_str(opts, "id", balloon->info.alias);
    return qemu_cmd_add_pci_device(cmd, opts, &balloon->info, "memballoon", error);
}

/* ------------------------------------------------------------------ */

static void
qemu_cmd_clear(QemuCmd *cmd)
{
    if (cmd->argv)
        g_ptr_array_unref(cmd->argv);
    g_free(cmd->disk_boot);
    g_free(cmd->net_boot);
}

GStrv
qemu_command_build(const ConfDomainDef *def, const QemuCaps *caps,
                   const QemuCommandOptions *opts, GError **error)
{
    QemuCmd cmd = { 0 };
    GString *str = NULL;
    char uuid[37];
    const unsigned char *u = def->uuid;

    cmd.argv = g_ptr_array_new_with_free_func(g_free);
    cmd.def = def;
    cmd.caps = caps;
    cmd.opts = opts;
    cmd.family = qemu_machine_family(def->os.machine);

    if (!def->emulator || !opts->monitor_path) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "no emulator or monitor path for domain '%s'", def->name);
        goto error;
    }
    qemu_cmd_add(&cmd, def->emulator);

    str = g_string_new(NULL);
    qemu_opt_str(str, "guest", def->name);
    qemu_opt_bool(str, "debug-threads", true);
    qemu_cmd_add_opts(&cmd, "-name", str);
    qemu_cmd_add(&cmd, "-S");
    if (!qemu_cmd_machine(&cmd, error) || !qemu_cmd_cpu(&cmd, error))
        goto error;

    qemu_cmd_add(&cmd, "-m");
    g_ptr_array_add(cmd.argv, g_strdup_printf("size=%lluk", def->memory_kib));
    qemu_cmd_add_pair(&cmd, "-overcommit", "mem-lock=off");
    qemu_cmd_add(&cmd, "-smp");
    g_ptr_array_add(cmd.argv, g_strdup_printf("%u,sockets=%u,cores=1,threads=1", def->vcpus, def->vcpus));
    g_snprintf(uuid, sizeof(uuid),
               "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
               u[0], u[1], u[2], u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12],
               u[13], u[14], u[15]);
    qemu_cmd_add_pair(&cmd, "-uuid", uuid);
    if (def->graphics->len == 0)
        qemu_cmd_add_pair(&cmd, "-display", "none");
    qemu_cmd_add(&cmd, "-no-user-config");
    qemu_cmd_add(&cmd, "-nodefaults");

    str = g_string_new("socket");
    qemu_opt_str(str, "id", "charmonitor");
    qemu_opt_str(str, "path", opts->monitor_path);
    qemu_opt_bool(str, "server", true);
    qemu_opt_bool(str, "wait", false);
    qemu_cmd_add_opts(&cmd, "-chardev", str);
    qemu_cmd_add_pair(&cmd, "-mon", "chardev=charmonitor,id=monitor,mode=control");
    if (opts->pidfile)
        qemu_cmd_add_pair(&cmd, "-pidfile", opts->pidfile);

    qemu_cmd_clock(&cmd);
    qemu_cmd_add(&cmd, "-no-shutdown");
    qemu_cmd_pm(&cmd);
    qemu_cmd_add_pair(&cmd, "-boot", "strict=on");
    if (def->os.kernel)
        qemu_cmd_add_pair(&cmd, "-kernel", def->os.kernel);
    if (def->os.initrd)
        qemu_cmd_add_pair(&cmd, "-initrd", def->os.initrd);
    if (def->os.cmdline)
        qemu_cmd_add_pair(&cmd, "-append", def->os.cmdline);

    if (!qemu_cmd_boot_order(&cmd, error) || !qemu_cmd_controllers(&cmd, error))
        goto error;
    for (guint i = 0; i < def->disks->len; i++) {
        if (!qemu_cmd_disk(&cmd, i, error))
            goto error;
    }
    if (!qemu_cmd_nets(&cmd, error) || !qemu_cmd_chardevs(&cmd, error) ||
        !qemu_cmd_inputs(&cmd, error) || !qemu_cmd_graphics(&cmd, error) ||
        !qemu_cmd_videos(&cmd, error) || !qemu_cmd_memballoon(&cmd, error))
        goto error;
    qemu_cmd_add_pair(&cmd, "-msg", "timestamp=on");

    g_ptr_array_add(cmd.argv, NULL);
    {
        GStrv argv = (GStrv)g_ptr_array_free(g_steal_pointer(&cmd.argv), FALSE);

        qemu_cmd_clear(&cmd);
        g_debug("command line for '%s': %u arguments", def->name, g_strv_length(argv));
        return argv;
    }

 error:
    qemu_cmd_clear(&cmd);
    return NULL;
}

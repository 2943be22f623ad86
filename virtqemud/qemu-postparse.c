/*
 * qemu-postparse.c: what the QEMU driver adds to a domain definition when
 * it is defined, so that `virsh dumpxml` shows what libvirt 9 shows for
 * the same input: emulator, arch, the canonical machine name, the devices
 * the machine has built in or that libvirt adds (PCI root, USB, SATA on
 * q35, disk controllers, PS/2 inputs, a video device for graphics, the
 * memory balloon), device models left to the driver (USB, SCSI, network
 * card, video memory), drive, USB and PCI addresses.
 *
 * Addresses are assigned here, at define time, as libvirt does, so that a
 * definition keeps its guest-visible layout from one start to the next
 * and the command line builder only reads them.  The rules:
 *
 *   i440fx: slot 0 host bridge, slot 1 the PIIX3 (ISA bridge 1.0, IDE
 *   1.1, USB 1.2, ACPI 1.3), the primary video at slot 2, then every
 *   other PCI device at the next free slot of bus 0 in libvirt's order:
 *   PCI controllers, network cards, controllers (SCSI, USB, SATA,
 *   virtio-serial), virtio disks, the balloon, secondary videos, virtio
 *   inputs.
 *
 *   q35: 00:1f.0/.2/.3 are the ICH9 (LPC, SATA, SMBus), the primary video
 *   at 00:01.0; every PCI Express device (virtio, qemu-xhci) gets a
 *   pcie-root-port of its own (an existing one with nothing plugged in,
 *   else a new one; new ports are packed eight to a slot of bus 0,
 *   multifunction) and sits at slot 0 behind it, in the same order as
 *   above.  Legacy PCI devices (e1000, rtl8139, lsi, cirrus...) go to the
 *   next free slot of pcie.0 as integrated devices (libvirt would add a
 *   pcie-to-pci-bridge for them; QEMU accepts either).
 *
 * Addresses already in the definition are kept and never handed out again.
 */
#define G_LOG_DOMAIN "virtqemud.postparse"

#include <string.h>

#include "qemu-command.h"
#include "util-error.h"

#define QEMU_USB_XHCI_MAXPORTS 15
#define QEMU_PCI_SLOTS 32
#define QEMU_PCI_FUNCTIONS 8

/* ------------------------------------------------------------------ */
/* small queries shared with the command line builder                  */
/* ------------------------------------------------------------------ */

QemuMachineFamily
qemu_machine_family(const char *machine)
{
    if (!machine)
        return QEMU_MACHINE_FAMILY_OTHER;
    if (g_str_equal(machine, "pc") || g_str_has_prefix(machine, "pc-i440fx-") ||
        (g_str_has_prefix(machine, "pc-") && g_ascii_isdigit(machine[3])))
        return QEMU_MACHINE_FAMILY_I440FX;
    if (g_str_equal(machine, "q35") || g_str_has_prefix(machine, "pc-q35-"))
        return QEMU_MACHINE_FAMILY_Q35;
    return QEMU_MACHINE_FAMILY_OTHER;
}

ConfDomainControllerDef *
qemu_domain_find_controller(const ConfDomainDef *def, ConfDomainControllerType type,
                            unsigned int index)
{
    for (guint i = 0; i < def->controllers->len; i++) {
        ConfDomainControllerDef *ctrl = g_ptr_array_index(def->controllers, i);

        if (ctrl->type == type && ctrl->index == index)
            return ctrl;
    }
    return NULL;
}

int
qemu_disk_index(const char *dst)
{
    int idx = -1;
    const char *p = dst;

    /* "vda", "hdc", "sdaa", "fdb": a two-letter prefix, then letters */
    if (!p || strlen(p) < 3)
        return -1;
    for (p += 2; *p; p++) {
        if (*p < 'a' || *p > 'z')
            return -1;
        idx = (idx + 1) * 26 + (*p - 'a');
    }
    return idx;
}

bool
qemu_scsi_controller_is_lsi(const ConfDomainControllerDef *ctrl)
{
    return ctrl && ctrl->model && g_str_equal(ctrl->model, "lsilogic");
}

/* ------------------------------------------------------------------ */
/* implicit devices                                                    */
/* ------------------------------------------------------------------ */

/* Adds a controller keeping def->controllers grouped by type and sorted
 * by index within a type (a new type goes last), as the parser does. */
static ConfDomainControllerDef *
qemu_postparse_add_controller(ConfDomainDef *def, ConfDomainControllerType type,
                              unsigned int index, const char *model)
{
    ConfDomainControllerDef *ctrl = g_new0(ConfDomainControllerDef, 1);
    int insert_at = -1;
    int last_same_type = -1;

    ctrl->type = type;
    ctrl->index = index;
    ctrl->model = g_strdup(model);
    ctrl->ports = -1;
    ctrl->vectors = -1;
    ctrl->pci_chassis = -1;
    ctrl->pci_port = -1;
    for (guint i = 0; i < def->controllers->len; i++) {
        const ConfDomainControllerDef *other = g_ptr_array_index(def->controllers, i);

        if (other->type != type)
            continue;
        if (other->index > index && insert_at < 0)
            insert_at = (int)i;
        last_same_type = (int)i;
    }
    if (insert_at < 0)
        insert_at = last_same_type >= 0 ? last_same_type + 1 : (int)def->controllers->len;
    g_ptr_array_insert(def->controllers, insert_at, ctrl);
    return ctrl;
}

static void
qemu_postparse_maybe_add_input(ConfDomainDef *def, ConfDomainInputType type, ConfDomainInputBus bus)
{
    ConfDomainInputDef *input = NULL;

    for (guint i = 0; i < def->inputs->len; i++) {
        const ConfDomainInputDef *other = g_ptr_array_index(def->inputs, i);

        if (other->type == type && other->bus == bus)
            return;
    }
    input = g_new0(ConfDomainInputDef, 1);
    input->type = type;
    input->bus = bus;
    g_ptr_array_add(def->inputs, input);
}

static bool
qemu_postparse_machine(ConfDomainDef *def, const QemuCaps *caps, GError **error)
{
    const char *canonical = NULL;

    if (!def->os.machine) {
        const char *dflt = qemu_caps_default_machine(caps);

        if (!dflt) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "Emulator '%s' has no default machine type", caps->binary);
            return false;
        }
        def->os.machine = g_strdup(dflt);
        return true;
    }
    if (!(canonical = qemu_caps_canonical_machine(caps, def->os.machine))) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "Emulator '%s' does not support machine type '%s'",
                       caps->binary, def->os.machine);
        return false;
    }
    if (!g_str_equal(canonical, def->os.machine)) {
        g_free(def->os.machine);
        def->os.machine = g_strdup(canonical);
    }
    return true;
}

static bool
qemu_postparse_arch(ConfDomainDef *def, const QemuCaps *caps, GError **error)
{
    if (def->os.type != CONF_DOMAIN_OS_TYPE_HVM) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "Emulator '%s' does not support os type '%s'",
                       caps->binary, conf_domain_os_type_to_string(def->os.type));
        return false;
    }
    if (!def->os.arch) {
        def->os.arch = g_strdup(caps->arch);
        return true;
    }
    if (!caps->arch || !g_str_equal(def->os.arch, caps->arch)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "Emulator '%s' does not support arch '%s'", caps->binary, def->os.arch);
        return false;
    }
    return true;
}

/* libvirt's defaults for what the user left to the hypervisor. */
static void
qemu_postparse_models(ConfDomainDef *def, const QemuCaps *caps)
{
    for (guint i = 0; i < def->controllers->len; i++) {
        ConfDomainControllerDef *ctrl = g_ptr_array_index(def->controllers, i);

        if (ctrl->type == CONF_DOMAIN_CONTROLLER_TYPE_SCSI && !ctrl->model) {
            ctrl->model = g_strdup(qemu_caps_has_device(caps, "lsi53c895a") ||
                                   !qemu_caps_has_device(caps, "virtio-scsi-pci")
                                   ? "lsilogic" : "virtio-scsi");
        }
        if (ctrl->type == CONF_DOMAIN_CONTROLLER_TYPE_USB && !ctrl->model &&
            qemu_caps_has_device(caps, "piix3-usb-uhci"))
            ctrl->model = g_strdup("piix3-uhci");
        if (ctrl->type == CONF_DOMAIN_CONTROLLER_TYPE_USB && ctrl->model &&
            g_str_equal(ctrl->model, "qemu-xhci") && ctrl->ports < 0)
            ctrl->ports = QEMU_USB_XHCI_MAXPORTS;
        if (ctrl->type == CONF_DOMAIN_CONTROLLER_TYPE_PCI && ctrl->model &&
            g_str_equal(ctrl->model, "pcie-root-port") && !ctrl->pci_model_name)
            ctrl->pci_model_name = g_strdup("pcie-root-port");
    }

    for (guint i = 0; i < def->nets->len; i++) {
        ConfDomainNetDef *net = g_ptr_array_index(def->nets, i);

        if (net->model)
            continue;
        if (qemu_caps_has_device(caps, "rtl8139"))
            net->model = g_strdup("rtl8139");
        else if (qemu_caps_has_device(caps, "e1000"))
            net->model = g_strdup("e1000");
        else
            net->model = g_strdup("virtio");
    }

    for (guint i = 0; i < def->videos->len; i++) {
        ConfDomainVideoDef *video = g_ptr_array_index(def->videos, i);

        switch (video->type) {
        case CONF_DOMAIN_VIDEO_TYPE_VGA:
        case CONF_DOMAIN_VIDEO_TYPE_CIRRUS:
            if (!video->vram)
                video->vram = 16384;
            break;
        case CONF_DOMAIN_VIDEO_TYPE_QXL:
            if (!video->ram)
                video->ram = 65536;
            if (!video->vram)
                video->vram = 65536;
            break;
        case CONF_DOMAIN_VIDEO_TYPE_VIRTIO:
        case CONF_DOMAIN_VIDEO_TYPE_NONE:
        case CONF_DOMAIN_VIDEO_TYPE_LAST:
            break;
        }
    }
}

/* Drive addresses from the target name, as libvirt assigns them. */
static void
qemu_postparse_drive_addresses(ConfDomainDef *def)
{
    for (guint i = 0; i < def->disks->len; i++) {
        ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);
        ConfDeviceAddress *addr = &disk->info.addr;
        int idx = qemu_disk_index(disk->dst);

        if (addr->type != CONF_DEVICE_ADDRESS_NONE || idx < 0)
            continue;
        switch (disk->bus) {
        case CONF_DOMAIN_DISK_BUS_IDE:
            addr->type = CONF_DEVICE_ADDRESS_DRIVE;
            addr->controller = (unsigned int)idx / 4;
            addr->bus = ((unsigned int)idx % 4) / 2;
            addr->unit = (unsigned int)idx % 2;
            break;
        case CONF_DOMAIN_DISK_BUS_SATA:
            addr->type = CONF_DEVICE_ADDRESS_DRIVE;
            addr->controller = (unsigned int)idx / 6;
            addr->unit = (unsigned int)idx % 6;
            break;
        case CONF_DOMAIN_DISK_BUS_SCSI:
            addr->type = CONF_DEVICE_ADDRESS_DRIVE;
            addr->controller = (unsigned int)idx / 7;
            addr->unit = (unsigned int)idx % 7;
            break;
        case CONF_DOMAIN_DISK_BUS_FDC:
            addr->type = CONF_DEVICE_ADDRESS_DRIVE;
            addr->unit = (unsigned int)idx % 2;
            break;
        case CONF_DOMAIN_DISK_BUS_VIRTIO:
        case CONF_DOMAIN_DISK_BUS_USB:
        case CONF_DOMAIN_DISK_BUS_LAST:
            break;
        }
    }
}

static bool
qemu_postparse_disk_controllers(ConfDomainDef *def, QemuMachineFamily family, GError **error)
{
    for (guint i = 0; i < def->disks->len; i++) {
        const ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);
        ConfDomainControllerType type = CONF_DOMAIN_CONTROLLER_TYPE_LAST;

        switch (disk->bus) {
        case CONF_DOMAIN_DISK_BUS_IDE:
            type = CONF_DOMAIN_CONTROLLER_TYPE_IDE;
            break;
        case CONF_DOMAIN_DISK_BUS_SATA:
            type = CONF_DOMAIN_CONTROLLER_TYPE_SATA;
            break;
        case CONF_DOMAIN_DISK_BUS_SCSI:
            type = CONF_DOMAIN_CONTROLLER_TYPE_SCSI;
            break;
        case CONF_DOMAIN_DISK_BUS_FDC:
            type = CONF_DOMAIN_CONTROLLER_TYPE_FDC;
            break;
        case CONF_DOMAIN_DISK_BUS_VIRTIO:
        case CONF_DOMAIN_DISK_BUS_USB:
        case CONF_DOMAIN_DISK_BUS_LAST:
            continue;
        }
        if (disk->info.addr.type != CONF_DEVICE_ADDRESS_DRIVE)
            continue;
        if (type == CONF_DOMAIN_CONTROLLER_TYPE_IDE && family == QEMU_MACHINE_FAMILY_Q35) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "IDE controllers are unsupported for this QEMU binary or machine type");
            return false;
        }
        if (!qemu_domain_find_controller(def, type, disk->info.addr.controller))
            qemu_postparse_add_controller(def, type, disk->info.addr.controller, NULL);
    }
    return true;
}

static bool
qemu_postparse_default_devices(ConfDomainDef *def, const QemuCaps *caps,
                               QemuMachineFamily family, GError **error)
{
    ConfDomainControllerDef *root = NULL;
    const char *root_model = NULL;

    /* x86: the i8042 is always there */
    qemu_postparse_maybe_add_input(def, CONF_DOMAIN_INPUT_TYPE_MOUSE, CONF_DOMAIN_INPUT_BUS_PS2);
    qemu_postparse_maybe_add_input(def, CONF_DOMAIN_INPUT_TYPE_KEYBOARD, CONF_DOMAIN_INPUT_BUS_PS2);

    switch (family) {
    case QEMU_MACHINE_FAMILY_I440FX:
        if (!qemu_domain_find_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_USB, 0))
            qemu_postparse_add_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_USB, 0, NULL);
        root_model = "pci-root";
        break;
    case QEMU_MACHINE_FAMILY_Q35:
        if (!qemu_domain_find_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_USB, 0)) {
            const char *model = qemu_caps_has_device(caps, "qemu-xhci") ? "qemu-xhci"
                                : qemu_caps_has_device(caps, "nec-usb-xhci") ? "nec-xhci"
                                : qemu_caps_has_device(caps, "ich9-usb-ehci1") ? "ich9-ehci1"
                                : NULL;

            if (model)
                qemu_postparse_add_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_USB, 0, model);
        }
        if (!qemu_domain_find_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_SATA, 0))
            qemu_postparse_add_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_SATA, 0, NULL);
        root_model = "pcie-root";
        break;
    case QEMU_MACHINE_FAMILY_OTHER:
    case QEMU_MACHINE_FAMILY_LAST:
        break;
    }

    if (root_model) {
        root = qemu_domain_find_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_PCI, 0);
        if (!root) {
            qemu_postparse_add_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_PCI, 0, root_model);
        } else if (!root->model || !g_str_equal(root->model, root_model)) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_XML_ERROR,
                           "The PCI controller with index='0' must be model='%s' for this machine type, but model='%s' was found instead",
                           root_model, root->model ? root->model : "");
            return false;
        }
    }

    if (!def->memballoon) {
        def->memballoon = g_new0(ConfDomainMemballoonDef, 1);
        def->memballoon->model = CONF_DOMAIN_MEMBALLOON_MODEL_VIRTIO;
    }

    /* graphics without a video device get libvirt's default one */
    if (def->graphics->len > 0 && def->videos->len == 0) {
        ConfDomainVideoDef *video = g_new0(ConfDomainVideoDef, 1);

        video->type = qemu_caps_has_device(caps, "cirrus-vga") ? CONF_DOMAIN_VIDEO_TYPE_CIRRUS
                                                                : CONF_DOMAIN_VIDEO_TYPE_VGA;
        video->heads = 1;
        video->primary = true;
        g_ptr_array_add(def->videos, video);
    }

    /* virtio consoles live on a virtio-serial controller */
    for (guint i = 0; i < def->consoles->len; i++) {
        const ConfDomainChrDef *chr = g_ptr_array_index(def->consoles, i);

        if (chr->console_target == CONF_DOMAIN_CHR_CONSOLE_TARGET_VIRTIO &&
            !qemu_domain_find_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL, 0)) {
            qemu_postparse_add_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL, 0, NULL);
        }
    }
    return qemu_postparse_disk_controllers(def, family, error);
}

/* ------------------------------------------------------------------ */
/* USB ports                                                           */
/* ------------------------------------------------------------------ */

static bool
qemu_postparse_usb_info(ConfDomainDef *def, ConfDeviceInfo *info, guint *next_port,
                        GHashTable *used, GError **error)
{
    const ConfDomainControllerDef *usb = qemu_domain_find_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_USB, 0);
    guint max_ports = 2;

    if (!usb || (usb->model && g_str_equal(usb->model, "none"))) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "USB is disabled for this domain, but USB devices are present in the domain XML");
        return false;
    }
    if (info->addr.type != CONF_DEVICE_ADDRESS_NONE)
        return true;
    if (usb->ports > 0)
        max_ports = (guint)usb->ports;
    else if (usb->model && strstr(usb->model, "xhci"))
        max_ports = QEMU_USB_XHCI_MAXPORTS;
    while (g_hash_table_contains(used, GUINT_TO_POINTER(*next_port)))
        (*next_port)++;
    if (*next_port > max_ports) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "No free USB ports");
        return false;
    }
    info->addr.type = CONF_DEVICE_ADDRESS_USB;
    info->addr.bus = 0;
    info->addr.usb_port = g_strdup_printf("%u", *next_port);
    g_hash_table_add(used, GUINT_TO_POINTER(*next_port));
    (*next_port)++;
    return true;
}

static void
qemu_postparse_usb_used(GHashTable *used, const ConfDeviceInfo *info)
{
    if (info->addr.type == CONF_DEVICE_ADDRESS_USB && info->addr.usb_port &&
        !strchr(info->addr.usb_port, '.'))
        g_hash_table_add(used, GUINT_TO_POINTER((guint)g_ascii_strtoull(info->addr.usb_port, NULL, 10)));
}

static bool
qemu_postparse_usb_addresses(ConfDomainDef *def, GError **error)
{
    g_autoptr(GHashTable) used = g_hash_table_new(g_direct_hash, g_direct_equal);
    guint next_port = 1;

    for (guint i = 0; i < def->disks->len; i++)
        qemu_postparse_usb_used(used, &((ConfDomainDiskDef *)g_ptr_array_index(def->disks, i))->info);
    for (guint i = 0; i < def->inputs->len; i++)
        qemu_postparse_usb_used(used, &((ConfDomainInputDef *)g_ptr_array_index(def->inputs, i))->info);

    for (guint i = 0; i < def->disks->len; i++) {
        ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (disk->bus == CONF_DOMAIN_DISK_BUS_USB &&
            !qemu_postparse_usb_info(def, &disk->info, &next_port, used, error))
            return false;
    }
    for (guint i = 0; i < def->inputs->len; i++) {
        ConfDomainInputDef *input = g_ptr_array_index(def->inputs, i);

        if (input->bus == CONF_DOMAIN_INPUT_BUS_USB &&
            !qemu_postparse_usb_info(def, &input->info, &next_port, used, error))
            return false;
    }
    return true;
}

/* ------------------------------------------------------------------ */
/* PCI addresses                                                       */
/* ------------------------------------------------------------------ */

typedef struct {
    QemuMachineFamily family;
    /* per bus (PCI controller index), per slot: the functions in use */
    guint8 used[256][QEMU_PCI_SLOTS];
    /* q35: root ports with nothing behind them yet, in index order */
    GArray *free_ports;
    /* q35: where new root ports are packed (slot, next function) */
    int port_slot;
    unsigned int port_function;
    /* q35: PCI Express devices still without an address */
    guint pcie_needed;
    /* qemu_pci_visit() leaves out controllers */
    bool skip_controllers;
} QemuPciState;

/* How a device plugs in. */
typedef enum {
    QEMU_PCI_CONNECT_PCI,   /* a conventional PCI device */
    QEMU_PCI_CONNECT_PCIE,  /* a PCI Express endpoint: behind a root port on q35 */

    QEMU_PCI_CONNECT_LAST
} QemuPciConnect;

static bool
qemu_pci_in_use(const QemuPciState *st, unsigned int bus, unsigned int slot, unsigned int fn)
{
    return st->used[bus][slot] & (1u << fn);
}

static bool
qemu_pci_reserve(QemuPciState *st, const ConfDeviceAddress *addr, GError **error)
{
    if (addr->domain != 0 || addr->bus > 255) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "PCI address %04x:%02x:%02x.%x is not on a bus of this machine",
                       addr->domain, addr->bus, addr->slot, addr->function);
        return false;
    }
    if (qemu_pci_in_use(st, addr->bus, addr->slot, addr->function)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_XML_ERROR,
                       "Attempted double use of PCI Address %04x:%02x:%02x.%x",
                       addr->domain, addr->bus, addr->slot, addr->function);
        return false;
    }
    st->used[addr->bus][addr->slot] |= (guint8)(1u << addr->function);
    return true;
}

static void
qemu_pci_set(ConfDeviceAddress *addr, unsigned int bus, unsigned int slot, unsigned int fn)
{
    memset(addr, 0, sizeof(*addr));
    addr->type = CONF_DEVICE_ADDRESS_PCI;
    addr->bus = bus;
    addr->slot = slot;
    addr->function = fn;
}

/* A whole free slot on @bus, function 0. */
static bool
qemu_pci_next_slot(QemuPciState *st, unsigned int bus, ConfDeviceAddress *addr, GError **error)
{
    for (unsigned int slot = bus == 0 ? 1 : 0; slot < QEMU_PCI_SLOTS; slot++) {
        if (st->used[bus][slot])
            continue;
        qemu_pci_set(addr, bus, slot, 0);
        st->used[bus][slot] = 1;
        return true;
    }
    util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                   "No more available PCI slots");
    return false;
}

/* Where the next root port goes: the next function of the slot root ports
 * are packed into (function 0 then becomes multifunction), else function
 * 0 of a free slot of bus 0. */
static bool
qemu_pci_pack_root_port(ConfDomainDef *def, QemuPciState *st, ConfDeviceAddress *addr,
                        GError **error)
{
    if (st->port_slot < 0 || st->port_function >= QEMU_PCI_FUNCTIONS) {
        if (!qemu_pci_next_slot(st, 0, addr, error))
            return false;
        st->port_slot = (int)addr->slot;
        st->port_function = 1;
    } else {
        qemu_pci_set(addr, 0, (unsigned int)st->port_slot, st->port_function++);
        st->used[0][addr->slot] |= (guint8)(1u << addr->function);
        /* function 0 of a slot with more than one function in use */
        for (guint i = 0; i < def->controllers->len; i++) {
            ConfDomainControllerDef *other = g_ptr_array_index(def->controllers, i);

            if (other->type == CONF_DOMAIN_CONTROLLER_TYPE_PCI &&
                other->info.addr.type == CONF_DEVICE_ADDRESS_PCI && other->info.addr.bus == 0 &&
                other->info.addr.slot == addr->slot && other->info.addr.function == 0)
                other->info.addr.multifunction = CONF_TRISTATE_SWITCH_ON;
        }
    }

    return true;
}

static bool
qemu_pci_new_root_port(ConfDomainDef *def, QemuPciState *st, GError **error)
{
    ConfDomainControllerDef *port = NULL;
    unsigned int index = 0;
    ConfDeviceAddress addr = { 0 };

    for (guint i = 0; i < def->controllers->len; i++) {
        const ConfDomainControllerDef *ctrl = g_ptr_array_index(def->controllers, i);

        if (ctrl->type == CONF_DOMAIN_CONTROLLER_TYPE_PCI && ctrl->index >= index)
            index = ctrl->index + 1;
    }
    if (index > 255) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR, "No more available PCI slots");
        return false;
    }
    if (!qemu_pci_pack_root_port(def, st, &addr, error))
        return false;

    port = qemu_postparse_add_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_PCI, index, "pcie-root-port");
    port->pci_model_name = g_strdup("pcie-root-port");
    port->pci_chassis = (int)index;
    port->pci_port = (int)((addr.slot << 3) + addr.function);
    port->info.addr = addr;
    g_array_append_val(st->free_ports, index);
    return true;
}

static bool
qemu_pci_assign(ConfDomainDef *def, QemuPciState *st, ConfDeviceInfo *info,
                QemuPciConnect connect, GError **error)
{
    if (info->addr.type != CONF_DEVICE_ADDRESS_NONE)
        return true;
    if (st->family == QEMU_MACHINE_FAMILY_Q35 && connect == QEMU_PCI_CONNECT_PCIE) {
        unsigned int bus = 0;

        if (st->free_ports->len == 0 && !qemu_pci_new_root_port(def, st, error))
            return false;
        bus = g_array_index(st->free_ports, unsigned int, 0);
        g_array_remove_index(st->free_ports, 0);
        qemu_pci_set(&info->addr, bus, 0, 0);
        st->used[bus][0] = 1;
        return true;
    }
    return qemu_pci_next_slot(st, 0, &info->addr, error);
}

static QemuPciConnect
qemu_pci_connect_for_model(const char *device)
{
    return g_str_has_prefix(device, "virtio") || g_str_equal(device, "qemu-xhci") ||
           g_str_equal(device, "nec-xhci") || g_str_equal(device, "e1000e")
           ? QEMU_PCI_CONNECT_PCIE : QEMU_PCI_CONNECT_PCI;
}

/* Whether @ctrl takes a PCI slot of its own (and of which kind). */
static bool
qemu_pci_controller_wants_slot(const ConfDomainDef *def, const ConfDomainControllerDef *ctrl,
                               QemuMachineFamily family, QemuPciConnect *ret_connect)
{
    (void)def;
    switch (ctrl->type) {
    case CONF_DOMAIN_CONTROLLER_TYPE_USB:
        if (!ctrl->model || g_str_equal(ctrl->model, "none"))
            return false;
        *ret_connect = qemu_pci_connect_for_model(ctrl->model);
        return true;
    case CONF_DOMAIN_CONTROLLER_TYPE_SCSI:
        *ret_connect = qemu_pci_connect_for_model(ctrl->model ? ctrl->model : "");
        return true;
    case CONF_DOMAIN_CONTROLLER_TYPE_VIRTIO_SERIAL:
        *ret_connect = QEMU_PCI_CONNECT_PCIE;
        return true;
    case CONF_DOMAIN_CONTROLLER_TYPE_SATA:
        *ret_connect = QEMU_PCI_CONNECT_PCI;
        return !(family == QEMU_MACHINE_FAMILY_Q35 && ctrl->index == 0);
    case CONF_DOMAIN_CONTROLLER_TYPE_IDE:
        *ret_connect = QEMU_PCI_CONNECT_PCI;
        return !(family == QEMU_MACHINE_FAMILY_I440FX && ctrl->index == 0);
    case CONF_DOMAIN_CONTROLLER_TYPE_PCI:
    case CONF_DOMAIN_CONTROLLER_TYPE_FDC:
    case CONF_DOMAIN_CONTROLLER_TYPE_CCID:
    case CONF_DOMAIN_CONTROLLER_TYPE_XENBUS:
    case CONF_DOMAIN_CONTROLLER_TYPE_ISA:
    case CONF_DOMAIN_CONTROLLER_TYPE_LAST:
        break;
    }
    return false;
}

static bool
qemu_pci_video_is_pcie(const ConfDomainVideoDef *video)
{
    return video->type == CONF_DOMAIN_VIDEO_TYPE_VIRTIO;
}

/* Visits every device that wants a PCI address, in libvirt's order,
 * except PCI controllers and the devices built into the chipset. */
typedef bool (*QemuPciVisitFunc)(ConfDomainDef *def, QemuPciState *st, ConfDeviceInfo *info,
                                 QemuPciConnect connect, GError **error);

static bool
qemu_pci_visit(ConfDomainDef *def, QemuPciState *st, QemuPciVisitFunc fn, GError **error)
{
    QemuPciConnect connect = QEMU_PCI_CONNECT_PCI;

    for (guint i = 0; i < def->nets->len; i++) {
        ConfDomainNetDef *net = g_ptr_array_index(def->nets, i);

        if (!fn(def, st, &net->info,
                qemu_pci_connect_for_model(g_str_equal(net->model, "virtio") ? "virtio-net" : net->model),
                error))
            return false;
    }
    for (guint i = 0; !st->skip_controllers && i < def->controllers->len; i++) {
        ConfDomainControllerDef *ctrl = g_ptr_array_index(def->controllers, i);

        if (qemu_pci_controller_wants_slot(def, ctrl, st->family, &connect) &&
            !fn(def, st, &ctrl->info, connect, error))
            return false;
    }
    for (guint i = 0; i < def->disks->len; i++) {
        ConfDomainDiskDef *disk = g_ptr_array_index(def->disks, i);

        if (disk->bus == CONF_DOMAIN_DISK_BUS_VIRTIO &&
            !fn(def, st, &disk->info, QEMU_PCI_CONNECT_PCIE, error))
            return false;
    }
    if (def->memballoon && def->memballoon->model == CONF_DOMAIN_MEMBALLOON_MODEL_VIRTIO &&
        !fn(def, st, &def->memballoon->info, QEMU_PCI_CONNECT_PCIE, error))
        return false;
    for (guint i = 1; i < def->videos->len; i++) {
        ConfDomainVideoDef *video = g_ptr_array_index(def->videos, i);

        if (video->type != CONF_DOMAIN_VIDEO_TYPE_NONE &&
            !fn(def, st, &video->info,
                qemu_pci_video_is_pcie(video) ? QEMU_PCI_CONNECT_PCIE : QEMU_PCI_CONNECT_PCI, error))
            return false;
    }
    for (guint i = 0; i < def->inputs->len; i++) {
        ConfDomainInputDef *input = g_ptr_array_index(def->inputs, i);

        if (input->bus == CONF_DOMAIN_INPUT_BUS_VIRTIO &&
            !fn(def, st, &input->info, QEMU_PCI_CONNECT_PCIE, error))
            return false;
    }
    return true;
}

static bool
qemu_pci_count_pcie(ConfDomainDef *def, QemuPciState *st, ConfDeviceInfo *info,
                    QemuPciConnect connect, GError **error)
{
    (void)def;
    (void)error;
    if (info->addr.type == CONF_DEVICE_ADDRESS_NONE && connect == QEMU_PCI_CONNECT_PCIE)
        st->pcie_needed++;
    return true;
}

static bool
qemu_pci_reserve_info(ConfDomainDef *def, QemuPciState *st, ConfDeviceInfo *info,
                      QemuPciConnect connect, GError **error)
{
    (void)def;
    (void)connect;
    if (info->addr.type != CONF_DEVICE_ADDRESS_PCI)
        return true;
    return qemu_pci_reserve(st, &info->addr, error);
}

/* A chipset device has one place: give it, or check the one given. */
static bool
qemu_pci_fixed(ConfDomainControllerDef *ctrl, unsigned int slot, unsigned int fn,
               const char *what, GError **error)
{
    ConfDeviceAddress *a = NULL;

    if (!ctrl)
        return true;
    a = &ctrl->info.addr;
    if (a->type == CONF_DEVICE_ADDRESS_NONE) {
        qemu_pci_set(a, 0, slot, fn);
        return true;
    }
    if (a->type == CONF_DEVICE_ADDRESS_PCI && a->bus == 0 && a->slot == slot && a->function == fn)
        return true;
    util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                   "%s must have PCI address 0:0:%x.%x", what, slot, fn);
    return false;
}

/* The fixed places of the chipset's own devices and of the primary video. */
static bool
qemu_pci_chipset(ConfDomainDef *def, QemuPciState *st, GError **error)
{
    unsigned int video_slot = st->family == QEMU_MACHINE_FAMILY_Q35 ? 1 : 2;

    if (st->family == QEMU_MACHINE_FAMILY_I440FX) {
        ConfDomainControllerDef *usb = qemu_domain_find_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_USB, 0);

        if (!qemu_pci_fixed(qemu_domain_find_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_IDE, 0),
                            1, 1, "Primary IDE controller", error))
            return false;
        if (usb && usb->model && g_str_equal(usb->model, "piix3-uhci") &&
            !qemu_pci_fixed(usb, 1, 2, "PIIX3 USB controller at index 0", error))
            return false;
        /* the whole of slot 1 is the PIIX3's */
        st->used[0][1] = 0xff;
    } else if (st->family == QEMU_MACHINE_FAMILY_Q35) {
        if (!qemu_pci_fixed(qemu_domain_find_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_SATA, 0),
                            0x1f, 2, "Primary SATA controller", error))
            return false;
        st->used[0][0x1f] = 0xff;
    }
    st->used[0][0] = 0xff;     /* host bridge */

    if (def->videos->len > 0) {
        ConfDomainVideoDef *video = g_ptr_array_index(def->videos, 0);

        if (video->type != CONF_DOMAIN_VIDEO_TYPE_NONE &&
            video->info.addr.type == CONF_DEVICE_ADDRESS_NONE) {
            if (!st->used[0][video_slot]) {
                qemu_pci_set(&video->info.addr, 0, video_slot, 0);
                st->used[0][video_slot] = 1;
            } else if (!qemu_pci_next_slot(st, 0, &video->info.addr, error)) {
                return false;
            }
        }
    }
    return true;
}

static void
qemu_pci_note_bus(const ConfDeviceInfo *info, unsigned int *max_bus)
{
    if (info->addr.type == CONF_DEVICE_ADDRESS_PCI && info->addr.bus > *max_bus)
        *max_bus = info->addr.bus;
}

static void
qemu_pci_add_missing_buses(ConfDomainDef *def, QemuMachineFamily family)
{
    unsigned int max_bus = 0;

    for (guint i = 0; i < def->controllers->len; i++)
        qemu_pci_note_bus(&((ConfDomainControllerDef *)g_ptr_array_index(def->controllers, i))->info, &max_bus);
    for (guint i = 0; i < def->disks->len; i++)
        qemu_pci_note_bus(&((ConfDomainDiskDef *)g_ptr_array_index(def->disks, i))->info, &max_bus);
    for (guint i = 0; i < def->nets->len; i++)
        qemu_pci_note_bus(&((ConfDomainNetDef *)g_ptr_array_index(def->nets, i))->info, &max_bus);
    for (guint i = 0; i < def->videos->len; i++)
        qemu_pci_note_bus(&((ConfDomainVideoDef *)g_ptr_array_index(def->videos, i))->info, &max_bus);
    for (guint i = 0; i < def->inputs->len; i++)
        qemu_pci_note_bus(&((ConfDomainInputDef *)g_ptr_array_index(def->inputs, i))->info, &max_bus);
    if (def->memballoon)
        qemu_pci_note_bus(&def->memballoon->info, &max_bus);

    for (unsigned int bus = 1; bus <= max_bus; bus++) {
        ConfDomainControllerDef *ctrl = NULL;

        if (qemu_domain_find_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_PCI, bus))
            continue;
        if (family == QEMU_MACHINE_FAMILY_Q35) {
            ctrl = qemu_postparse_add_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_PCI, bus, "pcie-root-port");
            ctrl->pci_model_name = g_strdup("pcie-root-port");
        } else {
            ctrl = qemu_postparse_add_controller(def, CONF_DOMAIN_CONTROLLER_TYPE_PCI, bus, "pci-bridge");
            ctrl->pci_model_name = g_strdup("pci-bridge");
        }
        ctrl->pci_chassis = (int)bus;
    }
}

static bool
qemu_postparse_pci_addresses(ConfDomainDef *def, QemuMachineFamily family, GError **error)
{
    g_autofree QemuPciState *st = g_new0(QemuPciState, 1);
    g_autoptr(GArray) free_ports = g_array_new(FALSE, FALSE, sizeof(unsigned int));
    guint needed = 0;

    if (family != QEMU_MACHINE_FAMILY_I440FX && family != QEMU_MACHINE_FAMILY_Q35)
        return true;
    st->family = family;
    st->free_ports = free_ports;
    st->port_slot = -1;

    /* 0. buses that addresses name but no controller provides: added as
     * libvirt does (root ports on q35, PCI bridges on i440fx) */
    qemu_pci_add_missing_buses(def, family);

    /* 1. what the definition already says */
    for (guint i = 0; i < def->controllers->len; i++) {
        ConfDomainControllerDef *ctrl = g_ptr_array_index(def->controllers, i);

        if (ctrl->info.addr.type == CONF_DEVICE_ADDRESS_PCI &&
            !qemu_pci_reserve(st, &ctrl->info.addr, error))
            return false;
    }
    if (def->videos->len > 0 &&
        !qemu_pci_reserve_info(def, st, &((ConfDomainVideoDef *)g_ptr_array_index(def->videos, 0))->info,
                               QEMU_PCI_CONNECT_PCI, error))
        return false;
    /* the others, whatever their kind (controllers were done above) */
    st->skip_controllers = true;
    if (!qemu_pci_visit(def, st, qemu_pci_reserve_info, error))
        return false;
    st->skip_controllers = false;

    /* 2. the chipset's fixed places */
    if (!qemu_pci_chipset(def, st, error))
        return false;

    /* 3. q35: root ports first (as libvirt, they come before the devices
     * behind them): existing empty ones, then as many new ones as needed */
    if (family == QEMU_MACHINE_FAMILY_Q35) {
        if (!qemu_pci_visit(def, st, qemu_pci_count_pcie, error))
            return false;
        needed = st->pcie_needed;
        /* new ports continue a slot of ports already packed multifunction */
        for (guint i = 0; i < def->controllers->len; i++) {
            const ConfDomainControllerDef *ctrl = g_ptr_array_index(def->controllers, i);
            const ConfDeviceAddress *a = &ctrl->info.addr;
            unsigned int fn = QEMU_PCI_FUNCTIONS;

            if (ctrl->type != CONF_DOMAIN_CONTROLLER_TYPE_PCI || !ctrl->model ||
                !g_str_equal(ctrl->model, "pcie-root-port") || a->type != CONF_DEVICE_ADDRESS_PCI ||
                a->bus != 0 || a->function != 0 || a->multifunction != CONF_TRISTATE_SWITCH_ON)
                continue;
            while (fn > 0 && !qemu_pci_in_use(st, 0, a->slot, fn - 1))
                fn--;
            if (fn < QEMU_PCI_FUNCTIONS) {
                st->port_slot = (int)a->slot;
                st->port_function = fn;
            }
        }
        for (guint i = 0; i < def->controllers->len; i++) {
            ConfDomainControllerDef *ctrl = g_ptr_array_index(def->controllers, i);

            if (ctrl->type != CONF_DOMAIN_CONTROLLER_TYPE_PCI || !ctrl->model ||
                !g_str_equal(ctrl->model, "pcie-root-port"))
                continue;
            if (ctrl->info.addr.type == CONF_DEVICE_ADDRESS_NONE &&
                !qemu_pci_pack_root_port(def, st, &ctrl->info.addr, error))
                return false;
            if (ctrl->pci_chassis < 0)
                ctrl->pci_chassis = (int)ctrl->index;
            if (ctrl->pci_port < 0)
                ctrl->pci_port = (int)((ctrl->info.addr.slot << 3) + ctrl->info.addr.function);
            if (ctrl->index < 256 && !st->used[ctrl->index][0])
                g_array_append_val(free_ports, ctrl->index);
        }
        while (free_ports->len < needed) {
            if (!qemu_pci_new_root_port(def, st, error))
                return false;
        }
    } else {
        for (guint i = 0; i < def->controllers->len; i++) {
            ConfDomainControllerDef *ctrl = g_ptr_array_index(def->controllers, i);

            if (ctrl->type == CONF_DOMAIN_CONTROLLER_TYPE_PCI && ctrl->model &&
                !g_str_equal(ctrl->model, "pci-root") &&
                !qemu_pci_assign(def, st, &ctrl->info, QEMU_PCI_CONNECT_PCI, error))
                return false;
        }
    }

    /* 4. everything else, in libvirt's order */
    return qemu_pci_visit(def, st, qemu_pci_assign, error);
}

/* ------------------------------------------------------------------ */

bool
qemu_domain_def_postparse(ConfDomainDef *def, const QemuCaps *caps, GError **error)
{
    QemuMachineFamily family = QEMU_MACHINE_FAMILY_OTHER;

    if (!def->emulator)
        def->emulator = g_strdup(caps->binary);
    if (!qemu_postparse_arch(def, caps, error) || !qemu_postparse_machine(def, caps, error))
        return false;
    family = qemu_machine_family(def->os.machine);

    qemu_postparse_drive_addresses(def);
    if (!qemu_postparse_default_devices(def, caps, family, error))
        return false;
    qemu_postparse_models(def, caps);
    if (!qemu_postparse_usb_addresses(def, error) ||
        !qemu_postparse_pci_addresses(def, family, error))
        return false;
    g_debug("post-parse of '%s': machine %s, %u controllers", def->name, def->os.machine,
            def->controllers->len);
    return true;
}

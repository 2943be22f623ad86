/*
 * qemu-interface.c: tap devices for bridge interfaces.
 *
 * A tap is opened through /dev/net/tun without TUNSETPERSIST: it exists as
 * long as some process holds its fd, so it disappears with QEMU and no
 * cleanup is needed when the guest ends, whoever ends it.
 */
#define G_LOG_DOMAIN "virtqemud.interface"

#include "qemu-interface.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/sockios.h>
#include <net/if_arp.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util-error.h"

void
qemu_interface_close_fds(GArray *fds)
{
    if (!fds)
        return;
    for (guint i = 0; i < fds->len; i++)
        close(g_array_index(fds, int, i));
    g_array_free(fds, TRUE);
}

static bool
qemu_ifreq_name(struct ifreq *ifr, const char *name, GError **error)
{
    if (strlen(name) >= sizeof(ifr->ifr_name)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "interface name '%s' is too long", name);
        return false;
    }
    memset(ifr, 0, sizeof(*ifr));
    g_strlcpy(ifr->ifr_name, name, sizeof(ifr->ifr_name));
    return true;
}

/* The index of interface @name, 0 if there is none. */
static int
qemu_if_index(int ctl, const char *name)
{
    struct ifreq ifr;

    if (!qemu_ifreq_name(&ifr, name, NULL) || ioctl(ctl, SIOCGIFINDEX, &ifr) < 0)
        return 0;
    return ifr.ifr_ifindex;
}

/* MAC, up, and into @bridge; @ctl is any AF_INET datagram socket. */
static bool
qemu_tap_setup(int ctl, const char *ifname, const unsigned char *guest_mac, const char *bridge,
               GError **error)
{
    struct ifreq ifr;

    if (!qemu_if_index(ctl, bridge)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                       "unsupported configuration: bridge '%s' does not exist", bridge);
        return false;
    }
    /* the host side gets the guest's MAC with 0xfe first, as libvirt does,
     * so the bridge never takes the guest's address as its own */
    if (!qemu_ifreq_name(&ifr, ifname, error))
        return false;
    ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
    memcpy(ifr.ifr_hwaddr.sa_data, guest_mac, 6);
    ifr.ifr_hwaddr.sa_data[0] = (char)0xfe;
    if (ioctl(ctl, SIOCSIFHWADDR, &ifr) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "Cannot set interface MAC on '%s'",
                             ifname);
        return false;
    }
    if (!qemu_ifreq_name(&ifr, bridge, error))
        return false;
    ifr.ifr_ifindex = qemu_if_index(ctl, ifname);
    if (ioctl(ctl, SIOCBRADDIF, &ifr) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno,
                             "Unable to add bridge %s port %s", bridge, ifname);
        return false;
    }
    if (!qemu_ifreq_name(&ifr, ifname, error))
        return false;
    if (ioctl(ctl, SIOCGIFFLAGS, &ifr) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "Cannot get interface flags on '%s'",
                             ifname);
        return false;
    }
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(ctl, SIOCSIFFLAGS, &ifr) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "Cannot set interface flags on '%s'",
                             ifname);
        return false;
    }
    return true;
}

static int
qemu_tap_open(const char *want, char **ret_name, GError **error)
{
    struct ifreq ifr;
    int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "Unable to open /dev/net/tun");
        return -1;
    }
    if (!qemu_ifreq_name(&ifr, want, error)) {
        close(fd);
        return -1;
    }
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
    if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "Unable to create tap device %s",
                             want);
        close(fd);
        return -1;
    }
    *ret_name = g_strdup(ifr.ifr_name);
    return fd;
}

bool
qemu_interface_open_taps(ConfDomainDef *live, GArray **ret_fds, GError **error)
{
    GArray *fds = g_array_new(FALSE, FALSE, sizeof(int));
    int ctl = -1;

    for (guint i = 0; i < live->nets->len; i++) {
        ConfDomainNetDef *net = g_ptr_array_index(live->nets, i);
        g_autofree char *name = NULL;
        int fd;

        switch (net->type) {
        case CONF_DOMAIN_NET_TYPE_USER:
            continue;
        case CONF_DOMAIN_NET_TYPE_NETWORK:
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_CONFIG_UNSUPPORTED,
                           "unsupported configuration: interfaces of type 'network' need "
                           "virtnetworkd, which does not serve networks yet; use type "
                           "'bridge' with source bridge='...'");
            goto fail;
        case CONF_DOMAIN_NET_TYPE_BRIDGE:
        case CONF_DOMAIN_NET_TYPE_LAST:
            break;
        }
        if (ctl < 0 && (ctl = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
            util_error_set_errno(error, VIR_FROM_QEMU, errno, "cannot open a control socket");
            goto fail;
        }
        fd = qemu_tap_open(net->ifname ? net->ifname : "vnet%d", &name, error);
        if (fd < 0)
            goto fail;
        g_array_append_val(fds, fd);
        if (!qemu_tap_setup(ctl, name, net->mac, net->bridge, error))
            goto fail;
        g_free(net->ifname);
        net->ifname = g_steal_pointer(&name);
    }
    if (ctl >= 0)
        close(ctl);
    *ret_fds = fds;
    return true;

 fail:
    if (ctl >= 0)
        close(ctl);
    qemu_interface_close_fds(fds);
    return false;
}

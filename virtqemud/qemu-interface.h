/*
 * qemu-interface.h: host side of guest network interfaces: tap devices
 * plugged into bridges, handed to QEMU as file descriptors.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "conf-domain.h"

/* Open a tap device for every bridge interface of @live (in def->nets
 * order), name it (vnetN unless a target dev is given), give it the
 * guest MAC with the first byte 0xfe, bring it up and plug it into its
 * bridge; record the name in the interface's ifname.  Returns the fds in
 * @ret_fds (caller closes them once QEMU has them).  Interfaces of type
 * network need virtnetworkd: refused with VIR_ERR_CONFIG_UNSUPPORTED.  On
 * failure nothing is left open. */
bool qemu_interface_open_taps(ConfDomainDef *live, GArray **ret_fds, GError **error);

/* Close the fds of @fds (NULL allowed) and free it. */
void qemu_interface_close_fds(GArray *fds);

/*
 * util-error.h: GError carrying libvirt error codes and domains.
 *
 * Every GError created by modvirt has code = a virErrorNumber and a quark
 * that encodes the virErrorDomain, so the RPC layer can send a client
 * exactly what libvirt would.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

#include "libvirt/virterror.h"

/* The quark for libvirt error domain @vir_domain (a virErrorDomain). */
GQuark util_error_quark(int vir_domain);

/* The virErrorDomain of @error; VIR_FROM_NONE for foreign GErrors. */
int util_error_domain(const GError *error);

/* The virErrorNumber of @error; VIR_ERR_INTERNAL_ERROR for foreign GErrors. */
int util_error_code(const GError *error);

void util_error_set(GError **error, int vir_domain, int vir_code,
                    const char *fmt, ...) G_GNUC_PRINTF(4, 5);

/* Like util_error_set, appending ": strerror(errnum)". */
void util_error_set_errno(GError **error, int vir_domain, int errnum,
                          const char *fmt, ...) G_GNUC_PRINTF(4, 5);

/* Name of a virErrorNumber, e.g. "VIR_ERR_RPC"; "VIR_ERR_<n>" if unknown. */
const char *util_error_code_name(int vir_code);

/* Declare cleanup for a file descriptor held in an int. */
void util_close_fdp(int *fdp);
#define g_autofd_mv __attribute__((cleanup(util_close_fdp)))

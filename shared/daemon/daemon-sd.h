/*
 * daemon-sd.h: the three pieces of systemd's daemon protocol a modvirt
 * daemon uses, without libsystemd: sockets passed by socket activation
 * (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES), the check that such a socket
 * is what we expect, and state notification over $NOTIFY_SOCKET.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>
#include <sys/types.h>

/* The first descriptor systemd passes (sd_listen_fds(3)). */
#define DAEMON_SD_LISTEN_FDS_START 3

/* Parse the socket-activation variables for process @self.  Returns the
 * number of descriptors passed (0 when they are not for us or absent) and,
 * when @listen_fdnames is set, one name per descriptor in @ret_names;
 * -1 with @error on malformed values. */
int daemon_sd_parse_listen(const char *listen_pid, const char *listen_fds,
                           const char *listen_fdnames, pid_t self,
                           char ***ret_names, GError **error);

/* The same from the environment, which is then cleared (so that children
 * do not inherit it); the descriptors are made close-on-exec. */
int daemon_sd_listen_fds(char ***ret_names, GError **error);

/* Whether @fd is a listening AF_UNIX SOCK_STREAM socket. */
bool daemon_sd_is_unix_stream_listener(int fd);

/* Send @state ("READY=1") to the notification socket @address (a path, or
 * "@name" for an abstract socket). */
bool daemon_sd_notify_to(const char *address, const char *state, GError **error);

/* Send @state to $NOTIFY_SOCKET if it is set; failures are only logged. */
void daemon_sd_notify(const char *state);

/*
 * qemu-caps.h: what a QEMU binary can do, probed over QMP once per binary
 * and cached on disk, keyed by the binary's path, size, mtime and ctime.
 *
 * A QemuCaps is immutable once built and shared by reference between
 * threads.  The cache probes each binary at most once at a time: callers
 * asking while a probe runs wait for that probe rather than start another.
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

typedef struct {
    char *name;                 /* "pc-i440fx-7.2" */
    char *alias;                /* "pc", or NULL */
    bool is_default;            /* QEMU's default machine for this binary */
    unsigned int max_cpus;
    bool deprecated;
} QemuCapsMachine;

typedef struct _QemuCaps QemuCaps;
struct _QemuCaps {
    gint refs;
    char *binary;               /* absolute path */
    char *arch;                 /* libvirt arch name: "x86_64" */
    guint64 version;            /* major * 1000000 + minor * 1000 + micro */
    char *package;              /* "Debian 1:7.2+dfsg-7+deb12u7", may be "" */
    bool kvm;                   /* the kvm accelerator works with this binary here */
    GPtrArray *machines;        /* QemuCapsMachine *, QEMU's order */
    GHashTable *devices;        /* QOM type names that are devices -> (none) */
    GHashTable *commands;       /* QMP command names -> (none) */
    GPtrArray *cpu_models;      /* char *, usable with the accelerator probed */
    /* the key the cached copy is valid for */
    gint64 binary_size;
    gint64 binary_mtime;        /* seconds */
    gint64 binary_ctime;
    gint64 probe_time;          /* g_get_real_time() of the probe */
};

/* An empty object (one reference) with its tables made, for probes,
 * the JSON loader and tests that build canned capabilities. */
QemuCaps *qemu_caps_new(void);
QemuCaps *qemu_caps_ref(QemuCaps *caps);
void qemu_caps_unref(QemuCaps *caps);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QemuCaps, qemu_caps_unref)

bool qemu_caps_has_device(const QemuCaps *caps, const char *type);
bool qemu_caps_has_command(const QemuCaps *caps, const char *command);
/* The machine QEMU starts when given none, NULL if the probe saw none. */
const char *qemu_caps_default_machine(const QemuCaps *caps);
/* The full name of @name: an alias ("pc", "q35") becomes the machine it
 * stands for; a full name is returned as is; NULL if the binary has no
 * such machine. */
const char *qemu_caps_canonical_machine(const QemuCaps *caps, const char *name);

/* Probe @binary now (spawns it with -machine none and talks QMP); slow. */
QemuCaps *qemu_caps_probe(const char *binary, GError **error);

/* The on-disk form (JSON), also used for canned capabilities in tests. */
char *qemu_caps_to_json(const QemuCaps *caps);
QemuCaps *qemu_caps_from_json(const char *json, GError **error);
QemuCaps *qemu_caps_load_file(const char *path, GError **error);

/* --- the cache: one per daemon */

/* @cachedir: where probed results are kept (created if missing). */
void qemu_caps_cache_init(const char *cachedir);
void qemu_caps_cache_cleanup(void);
/* Start probing @binary in the background unless a valid result is cached;
 * returns at once. */
void qemu_caps_cache_prefetch(const char *binary);
/* The capabilities of @binary: the cached ones if the binary is unchanged,
 * else a fresh probe (waiting for one already running).  Errors are
 * VIR_ERR_INTERNAL_ERROR with QEMU's own message where it gave one. */
QemuCaps *qemu_caps_cache_lookup(const char *binary, GError **error);

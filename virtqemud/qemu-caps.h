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
    /* more of the key: the sub-second parts of mtime and ctime (a binary
     * replaced twice within a second), and whether /dev/kvm could be
     * opened read-write when the probe ran */
    gint64 binary_mtime_nsec;
    gint64 binary_ctime_nsec;
    bool kvm_device;
};

/* The version of the JSON form (the "format" member); a cached file of
 * another format is probed again. */
#define QEMU_CAPS_FORMAT_VERSION 1
/* Longest a probe may take, spawn to reaping QEMU. */
#define QEMU_CAPS_PROBE_TIMEOUT_MS 30000

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

/* Probe @binary (an absolute path) now: spawns it with -machine none,
 * talks QMP over a socketpair, quits and reaps it; about 0.1 s.  QEMU never
 * outlives the call (killed on error or after QEMU_CAPS_PROBE_TIMEOUT_MS).
 * The machine "none" is left out, as libvirt does. */
QemuCaps *qemu_caps_probe(const char *binary, GError **error);
/* The same, giving up after @timeout_ms (tests of stuck emulators). */
QemuCaps *qemu_caps_probe_with_timeout(const char *binary, int timeout_ms, GError **error);

/* The libvirt architecture name of this host ("x86_64", "aarch64", "i686"). */
const char *qemu_caps_host_arch(void);
/* The emulator for libvirt architecture @arch (qemu-system-x86_64 for
 * "x86_64", qemu-system-i386 for "i686"): in $MODVIRT_QEMU_DIR when set,
 * else in PATH.  NULL when there is none. */
char *qemu_caps_find_emulator(const char *arch);

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
/* The capabilities of the host architecture's emulator
 * (qemu_caps_find_emulator(qemu_caps_host_arch())). */
QemuCaps *qemu_caps_cache_lookup_default(GError **error);
/* Where the cached result of @binary is kept ("<cachedir>/<sha256 of the
 * path>.json"); NULL before qemu_caps_cache_init(). */
char *qemu_caps_cache_file(const char *binary);
/* How many probes this cache ran since qemu_caps_cache_init() (tests). */
guint qemu_caps_cache_probe_count(void);

/*
 * util-host.h: facts about the host, as libvirt reports them on Linux.
 *
 * Everything is read from /proc and /sys; no external program is run.
 * Node info follows libvirt's virNodeGetInfo conventions (sockets per NUMA
 * node, cores per socket, threads per core, with libvirt's fallback to
 * 1 node / 1 socket / N cores / 1 thread when the topology does not add up).
 */
#pragma once

#include <glib.h>
#include <stdbool.h>

typedef struct {
    char model[32];         /* host architecture, e.g. "x86_64" */
    guint64 memory_kib;     /* MemTotal of /proc/meminfo */
    unsigned int cpus;      /* online CPUs */
    unsigned int mhz;
    unsigned int nodes;     /* NUMA nodes */
    unsigned int sockets;   /* per node */
    unsigned int cores;     /* per socket */
    unsigned int threads;   /* per core */
} UtilNodeInfo;

typedef struct {
    unsigned int family;
    unsigned int model;
    unsigned int stepping;
    bool has_microcode;
    unsigned int microcode;
    unsigned int phys_addr_bits;    /* 0 if unknown */
} UtilHostCpuSignature;

/* One logical CPU of a NUMA cell.  Topology fields are only meaningful
 * when @online is true (libvirt lists offline CPUs by id only). */
typedef struct {
    unsigned int id;
    bool online;
    unsigned int socket_id;
    unsigned int die_id;
    unsigned int core_id;
    char *siblings;         /* thread siblings, cpuset syntax ("0,4") */
} UtilHostCpu;

typedef struct {
    unsigned int size_kib;
    guint64 count;
} UtilHostPageCount;

typedef struct {
    unsigned int node;
    unsigned int value;
} UtilHostDistance;

typedef struct {
    unsigned int id;
    guint64 memory_kib;
    GArray *pages;          /* UtilHostPageCount, ordered as util_host_page_sizes() */
    GArray *distances;      /* UtilHostDistance; empty when unknown */
    GArray *cpus;           /* UtilHostCpu, ascending id */
} UtilHostNumaCell;

typedef enum {
    UTIL_HOST_CACHE_BOTH,
    UTIL_HOST_CACHE_CODE,
    UTIL_HOST_CACHE_DATA,

    UTIL_HOST_CACHE_LAST
} UtilHostCacheType;

typedef struct {
    unsigned int id;
    unsigned int level;
    UtilHostCacheType type;
    guint64 size_bytes;
    char *cpus;             /* cpuset syntax ("0-7") */
} UtilHostCacheBank;

/* For tests only: read /proc, /sys and /etc below @root (NULL: "/").
 * Not thread-safe; call before anything else in this module. */
void util_host_set_root(const char *root);

/* The host name as libvirt's virGetHostname computes it: gethostname(),
 * and for a short name other than localhost* the canonical name from
 * getaddrinfo(AI_CANONNAME) when it resolves to something not localhost*,
 * decoded as AI_CANONIDN does (asked for only when it can change the name,
 * see util_host_name_idn_plain).  Fails only if gethostname() fails. */
char *util_host_hostname(GError **error);

/* Whether glibc's AI_CANONIDN decoding (libidn2's ToUnicode) returns @name
 * unchanged: ASCII only, no "xn--" label, no label over 63 bytes, at most
 * 255 bytes.  util_host_hostname() skips AI_CANONIDN (and loading
 * libidn2) for such names. */
bool util_host_name_idn_plain(const char *name);

/* Host architecture as libvirt names it (uname machine; i?86 -> "i686"). */
char *util_host_arch(void);

bool util_host_node_info(UtilNodeInfo *ret_info, GError **error);

/* MemFree of /proc/meminfo, in bytes; 0 with @error set on failure. */
guint64 util_host_free_memory(GError **error);

/* A stable host UUID: the SMBIOS system UUID (/sys/class/dmi/id/product_uuid)
 * when readable and valid, else /etc/machine-id. */
bool util_host_uuid(unsigned char ret_uuid[16], GError **error);

/* "model name" of /proc/cpuinfo, or NULL. */
char *util_host_cpu_model_name(void);

/* "vendor_id" of /proc/cpuinfo mapped to libvirt's vendor names ("Intel",
 * "AMD", "Hygon"), the raw value for others, or NULL. */
char *util_host_cpu_vendor(void);

/* family/model/stepping (required), microcode and physical address bits
 * of /proc/cpuinfo (x86); false if absent. */
bool util_host_cpu_signature(UtilHostCpuSignature *ret_sig);

unsigned int util_host_online_cpus(void);

/* Page sizes in KiB (guint): the base page, then huge page sizes, ascending. */
GArray *util_host_page_sizes(void);

/* Whether /sys/kernel/iommu_groups has any group. */
bool util_host_iommu_enabled(void);

void util_host_numa_cell_free(UtilHostNumaCell *cell);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UtilHostNumaCell, util_host_numa_cell_free)

/* The NUMA cells (UtilHostNumaCell *, owned by the array), or, as libvirt,
 * one cell holding all memory (/proc/meminfo) and online CPUs when the host
 * has no usable NUMA information.  Fails only if /proc/meminfo does. */
GPtrArray *util_host_numa_cells(GError **error);

const char *util_host_cache_type_to_string(UtilHostCacheType type);

void util_host_cache_bank_free(UtilHostCacheBank *bank);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(UtilHostCacheBank, util_host_cache_bank_free)

/* Cache banks of level >= @min_level shared by online CPUs, sorted by level
 * and id (UtilHostCacheBank *, owned by the array; may be empty). */
GPtrArray *util_host_cache_banks(unsigned int min_level);

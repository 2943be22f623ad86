/*
 * util-host.c: facts about the host, as libvirt reports them on Linux.
 */
#ifndef _GNU_SOURCE
# define _GNU_SOURCE
#endif
#define G_LOG_DOMAIN "modvirt.util.host"

#include "util-host.h"
#include "util-error.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

/* Files read here are small; anything bigger is not what we expect. */
#define UTIL_HOST_READ_MAX (16 * 1024 * 1024)
/* CPU and NUMA node ids above this are treated as garbage. */
#define UTIL_HOST_ID_MAX 65535

#define UTIL_HOST_SYSFS_CPU "/sys/devices/system/cpu"
#define UTIL_HOST_SYSFS_NODE "/sys/devices/system/node"

static char *util_host_root;

static const char *const util_host_cache_type_names[] = {
    [UTIL_HOST_CACHE_BOTH] = "both",
    [UTIL_HOST_CACHE_CODE] = "code",
    [UTIL_HOST_CACHE_DATA] = "data",
};
G_STATIC_ASSERT(G_N_ELEMENTS(util_host_cache_type_names) == UTIL_HOST_CACHE_LAST);

const char *
util_host_cache_type_to_string(UtilHostCacheType type)
{
    if ((int)type < 0 || type >= UTIL_HOST_CACHE_LAST)
        return NULL;
    return util_host_cache_type_names[type];
}

void
util_host_set_root(const char *root)
{
    g_clear_pointer(&util_host_root, g_free);
    if (root && *root && strcmp(root, "/") != 0)
        util_host_root = g_strdup(root);
}

static char *util_host_path(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* An absolute host path, below the test root if one is set. */
static char *
util_host_path(const char *fmt, ...)
{
    va_list ap;
    g_autofree char *path = NULL;

    va_start(ap, fmt);
    path = g_strdup_vprintf(fmt, ap);
    va_end(ap);

    if (!util_host_root)
        return g_steal_pointer(&path);
    return g_strconcat(util_host_root, path, NULL);
}

/* Reads @path whole; NULL with *@ret_errno set on failure. */
static char *
util_host_read_quiet(const char *path, int *ret_errno)
{
    g_autofd_mv int fd = -1;
    g_autoptr(GString) buf = NULL;
    char chunk[4096];

    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0) {
        *ret_errno = errno;
        return NULL;
    }

    buf = g_string_sized_new(sizeof(chunk));
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0) {
            if (errno == EINTR)
                continue;
            *ret_errno = errno;
            return NULL;
        }
        if (n == 0)
            break;
        if (buf->len + (size_t)n > UTIL_HOST_READ_MAX) {
            *ret_errno = EFBIG;
            return NULL;
        }
        g_string_append_len(buf, chunk, n);
    }

    return g_string_free(g_steal_pointer(&buf), FALSE);
}

static char *
util_host_read(const char *path, GError **error)
{
    int err = 0;
    char *text = util_host_read_quiet(path, &err);

    if (!text)
        util_error_set_errno(error, VIR_FROM_NONE, err, "cannot read '%s'", path);
    return text;
}

/* The stripped content of a one-value file, or NULL. */
static char *
util_host_read_value(const char *path)
{
    int err = 0;
    char *text = util_host_read_quiet(path, &err);

    if (!text)
        return NULL;
    return g_strstrip(text);
}

static bool
util_host_read_int(const char *path, gint64 *ret_value)
{
    g_autofree char *text = util_host_read_value(path);
    gint64 value = 0;

    if (!text ||
        !g_ascii_string_to_signed(text, 10, G_MININT64, G_MAXINT64, &value, NULL))
        return false;
    *ret_value = value;
    return true;
}

static gint
util_host_uint_cmp(gconstpointer a, gconstpointer b)
{
    guint x = *(const guint *)a;
    guint y = *(const guint *)b;

    return x < y ? -1 : x > y;
}

/* Parses a kernel list ("0-3,8,10-11") into a sorted array of guint
 * without duplicates; an empty text is an empty list.  NULL if invalid. */
static GArray *
util_host_parse_list(const char *text)
{
    g_autoptr(GArray) ids = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autofree char *copy = g_strstrip(g_strdup(text));
    g_auto(GStrv) parts = NULL;
    GArray *ret = NULL;

    if (!*copy)
        return g_steal_pointer(&ids);

    parts = g_strsplit(copy, ",", -1);
    for (size_t i = 0; parts[i]; i++) {
        char *dash = strchr(parts[i], '-');
        guint64 first = 0;
        guint64 last = 0;

        if (dash)
            *dash = '\0';
        if (!g_ascii_string_to_unsigned(g_strstrip(parts[i]), 10, 0,
                                        UTIL_HOST_ID_MAX, &first, NULL))
            return NULL;
        last = first;
        if (dash &&
            !g_ascii_string_to_unsigned(g_strstrip(dash + 1), 10, 0,
                                        UTIL_HOST_ID_MAX, &last, NULL))
            return NULL;
        if (last < first)
            return NULL;
        for (guint64 id = first; id <= last; id++) {
            guint v = id;
            g_array_append_val(ids, v);
        }
    }

    g_array_sort(ids, util_host_uint_cmp);
    ret = g_array_sized_new(FALSE, FALSE, sizeof(guint), ids->len);
    for (guint i = 0; i < ids->len; i++) {
        guint v = g_array_index(ids, guint, i);

        if (ret->len == 0 || g_array_index(ret, guint, ret->len - 1) != v)
            g_array_append_val(ret, v);
    }
    return ret;
}

static GArray *
util_host_read_list(const char *path)
{
    g_autofree char *text = util_host_read_value(path);

    if (!text)
        return NULL;
    return util_host_parse_list(text);
}

static bool
util_host_list_contains(GArray *ids, guint id)
{
    guint lo = 0;
    guint hi = ids->len;

    while (lo < hi) {
        guint mid = lo + (hi - lo) / 2;
        guint v = g_array_index(ids, guint, mid);

        if (v == id)
            return true;
        if (v < id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* Finds "@key: N kB" in /proc/meminfo or nodeN/meminfo text. */
static bool
util_host_meminfo_kib(const char *text, const char *key, guint64 *ret_kib)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    size_t keylen = strlen(key);

    for (size_t i = 0; lines[i]; i++) {
        const char *p = lines[i];
        char *end = NULL;
        guint64 value;

        /* nodeN/meminfo lines read "Node 0 MemTotal:   8386980 kB" */
        if (g_str_has_prefix(p, "Node ")) {
            p += strlen("Node ");
            while (g_ascii_isdigit(*p))
                p++;
            while (*p == ' ')
                p++;
        }
        if (strncmp(p, key, keylen) != 0 || p[keylen] != ':')
            continue;
        p += keylen + 1;
        while (*p == ' ' || *p == '\t')
            p++;
        if (!g_ascii_isdigit(*p))
            return false;
        errno = 0;
        value = g_ascii_strtoull(p, &end, 10);
        if (errno != 0)
            return false;
        *ret_kib = value;
        return true;
    }
    return false;
}

/* The value of a "@key<blanks>: value" line of /proc/cpuinfo text: the
 * first one, or the last one if @last. */
static char *
util_host_cpuinfo_field(const char *text, const char *key, bool last)
{
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    size_t keylen = strlen(key);
    char *value = NULL;

    for (size_t i = 0; lines[i]; i++) {
        const char *p = lines[i];

        if (strncmp(p, key, keylen) != 0)
            continue;
        p += keylen;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p != ':')
            continue;
        g_free(value);
        value = g_strstrip(g_strdup(p + 1));
        if (!last)
            break;
    }
    return value;
}

static char *
util_host_cpuinfo(void)
{
    g_autofree char *path = util_host_path("/proc/cpuinfo");
    int err = 0;

    return util_host_read_quiet(path, &err);
}

bool
util_host_name_idn_plain(const char *name)
{
    const char *label = name;
    size_t len = strlen(name);

    /* libidn2's limits: a longer name or label is an error, not a copy */
    if (len > 255)
        return false;
    while (true) {
        const char *end = strchrnul(label, '.');

        if (end - label > 63 ||
            (end - label >= 4 && g_ascii_strncasecmp(label, "xn--", 4) == 0))
            return false;
        for (const char *p = label; p < end; p++) {
            if ((unsigned char)*p >= 0x80)
                return false;
        }
        if (!*end)
            return true;
        label = end + 1;
    }
}

/* getaddrinfo(AI_CANONNAME) for @name; with @idn, AI_CANONIDN too. */
static int
util_host_canonname(const char *name, bool idn, char **ret_canon)
{
    struct addrinfo hints = { 0 };
    struct addrinfo *info = NULL;
    int rc;

    hints.ai_flags = AI_CANONNAME | (idn ? AI_CANONIDN : 0);
    hints.ai_family = AF_UNSPEC;
    rc = getaddrinfo(name, NULL, &hints, &info);
    if (rc != 0)
        return rc;
    *ret_canon = g_strdup(info->ai_canonname);
    freeaddrinfo(info);
    return 0;
}

char *
util_host_hostname(GError **error)
{
    char name[HOST_NAME_MAX + 1] = "";
    g_autofree char *canon = NULL;
    int rc;

    if (gethostname(name, sizeof(name)) < 0) {
        util_error_set_errno(error, VIR_FROM_NONE, errno,
                             "failed to determine host name");
        return NULL;
    }
    name[sizeof(name) - 1] = '\0';

    /* Already qualified, or localhost which cannot be canonicalized. */
    if (g_str_has_prefix(name, "localhost") || strchr(name, '.'))
        return g_strdup(name);

    /* libvirt asks for AI_CANONNAME | AI_CANONIDN, for which glibc loads
     * libidn2 (and libunistring: 300 KiB resident for good) to decode the
     * canonical name.  That decoding returns a plain ASCII name unchanged,
     * so ask without AI_CANONIDN first, and again with it only for a name
     * it could change or reject. */
    rc = util_host_canonname(name, false, &canon);
    if (rc == 0 && canon && !util_host_name_idn_plain(canon)) {
        g_clear_pointer(&canon, g_free);
        rc = util_host_canonname(name, true, &canon);
    }
    if (rc != 0) {
        g_debug("getaddrinfo failed for '%s': %s", name, gai_strerror(rc));
        return g_strdup(name);
    }

    if (!canon || g_str_has_prefix(canon, "localhost"))
        return g_strdup(name);
    return g_steal_pointer(&canon);
}

char *
util_host_arch(void)
{
    struct utsname uts;

    if (uname(&uts) < 0)
        return g_strdup("unknown");

    if (strlen(uts.machine) == 4 && uts.machine[0] == 'i' &&
        uts.machine[1] >= '3' && uts.machine[1] <= '6' &&
        strcmp(uts.machine + 2, "86") == 0)
        return g_strdup("i686");
    if (strcmp(uts.machine, "amd64") == 0)
        return g_strdup("x86_64");
    if (strcmp(uts.machine, "arm64") == 0)
        return g_strdup("aarch64");
    return g_strdup(uts.machine);
}

/* Online CPU ids: /sys/devices/system/cpu/online, else 0..sysconf-1. */
static GArray *
util_host_online_list(void)
{
    g_autofree char *path = util_host_path(UTIL_HOST_SYSFS_CPU "/online");
    g_autoptr(GArray) ids = util_host_read_list(path);
    long n;

    if (ids && ids->len > 0)
        return g_steal_pointer(&ids);

    g_clear_pointer(&ids, g_array_unref);
    ids = g_array_new(FALSE, FALSE, sizeof(guint));
    n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        n = 1;
    for (guint i = 0; i < (guint)n && i <= UTIL_HOST_ID_MAX; i++)
        g_array_append_val(ids, i);
    return g_steal_pointer(&ids);
}

unsigned int
util_host_online_cpus(void)
{
    g_autoptr(GArray) ids = util_host_online_list();

    return ids->len;
}

/* physical_package_id; absent or negative (no sockets) counts as 0. */
static guint
util_host_cpu_socket(guint cpu)
{
    g_autofree char *path =
        util_host_path(UTIL_HOST_SYSFS_CPU "/cpu%u/topology/physical_package_id", cpu);
    gint64 v = 0;

    if (!util_host_read_int(path, &v) || v < 0 || v > G_MAXUINT)
        return 0;
    return v;
}

static guint
util_host_cpu_die(guint cpu)
{
    g_autofree char *path =
        util_host_path(UTIL_HOST_SYSFS_CPU "/cpu%u/topology/die_id", cpu);
    gint64 v = 0;

    if (!util_host_read_int(path, &v) || v < 0 || v > G_MAXUINT)
        return 0;
    return v;
}

static guint
util_host_cpu_core(guint cpu)
{
    g_autofree char *path =
        util_host_path(UTIL_HOST_SYSFS_CPU "/cpu%u/topology/core_id", cpu);
    gint64 v = 0;

    if (!util_host_read_int(path, &v) || v < 0 || v > G_MAXUINT)
        return 0;
    return v;
}

/* thread_siblings_list, normalized; the CPU alone when unknown. */
static char *
util_host_cpu_siblings(guint cpu, guint *ret_count)
{
    g_autofree char *path =
        util_host_path(UTIL_HOST_SYSFS_CPU "/cpu%u/topology/thread_siblings_list", cpu);
    g_autofree char *text = util_host_read_value(path);
    g_autoptr(GArray) ids = NULL;

    if (text && (ids = util_host_parse_list(text)) && ids->len > 0) {
        *ret_count = ids->len;
        return g_steal_pointer(&text);
    }
    *ret_count = 1;
    return g_strdup_printf("%u", cpu);
}

typedef struct {
    guint socket;
    guint core;
} UtilHostCorePair;

static gint
util_host_core_pair_cmp(gconstpointer a, gconstpointer b)
{
    const UtilHostCorePair *x = a;
    const UtilHostCorePair *y = b;

    if (x->socket != y->socket)
        return x->socket < y->socket ? -1 : 1;
    return x->core < y->core ? -1 : x->core > y->core;
}

/* libvirt's per-node count: the online CPUs among @cpus (that are
 * present), the distinct sockets, the most distinct cores in a socket and
 * the most thread siblings of a CPU.  Present offline CPUs add to
 * *@offline.  Returns the number of online CPUs. */
static guint
util_host_count_node(GArray *cpus, GArray *present, GArray *online, bool core_is_cpu,
                     guint *ret_sockets, guint *ret_cores, guint *ret_threads,
                     guint *offline)
{
    g_autoptr(GArray) pairs = g_array_new(FALSE, FALSE, sizeof(UtilHostCorePair));
    guint processors = 0;
    guint sockets = 0;
    guint cores = 0;
    guint threads = 0;
    guint run = 0;

    for (guint i = 0; i < cpus->len; i++) {
        guint cpu = g_array_index(cpus, guint, i);
        UtilHostCorePair pair;
        g_autofree char *siblings = NULL;
        guint nsiblings = 0;

        if (!util_host_list_contains(present, cpu))
            continue;
        if (!util_host_list_contains(online, cpu)) {
            (*offline)++;
            continue;
        }
        processors++;
        pair.socket = util_host_cpu_socket(cpu);
        pair.core = core_is_cpu ? cpu : util_host_cpu_core(cpu);
        g_array_append_val(pairs, pair);
        siblings = util_host_cpu_siblings(cpu, &nsiblings);
        threads = MAX(threads, nsiblings);
    }

    g_array_sort(pairs, util_host_core_pair_cmp);
    for (guint i = 0; i < pairs->len; i++) {
        const UtilHostCorePair *p = &g_array_index(pairs, UtilHostCorePair, i);
        const UtilHostCorePair *prev = i ? &g_array_index(pairs, UtilHostCorePair, i - 1) : NULL;

        if (!prev || prev->socket != p->socket) {
            sockets++;
            run = 1;
        } else if (prev->core != p->core) {
            run++;
        }
        cores = MAX(cores, run);
    }

    *ret_sockets = sockets;
    *ret_cores = cores;
    *ret_threads = threads;
    return processors;
}

static void
util_host_topology(const char *arch, UtilNodeInfo *info)
{
    g_autofree char *present_path = util_host_path(UTIL_HOST_SYSFS_CPU "/present");
    g_autofree char *nodes_path = util_host_path(UTIL_HOST_SYSFS_NODE "/online");
    g_autoptr(GArray) online = util_host_online_list();
    g_autoptr(GArray) present = util_host_read_list(present_path);
    g_autoptr(GArray) nodes = util_host_read_list(nodes_path);
    bool core_is_cpu = g_str_has_prefix(arch, "s390");
    guint cpus = 0;
    guint nnodes = 0;
    guint sockets = 0;
    guint cores = 0;
    guint threads = 0;
    guint offline = 0;

    /* Without a present map, what is online is what is there. */
    if (!present || present->len == 0) {
        g_clear_pointer(&present, g_array_unref);
        present = g_array_ref(online);
    }

    for (guint i = 0; nodes && i < nodes->len; i++) {
        guint node = g_array_index(nodes, guint, i);
        g_autofree char *path = util_host_path(UTIL_HOST_SYSFS_NODE "/node%u/cpulist", node);
        g_autoptr(GArray) node_cpus = util_host_read_list(path);
        guint s = 0, c = 0, t = 0;

        nnodes++;
        if (!node_cpus)
            continue;
        cpus += util_host_count_node(node_cpus, present, online, core_is_cpu,
                                     &s, &c, &t, &offline);
        sockets = MAX(sockets, s);
        cores = MAX(cores, c);
        threads = MAX(threads, t);
    }

    if (cpus == 0 || nnodes == 0) {
        /* No NUMA information: the whole host is one node. */
        offline = 0;
        nnodes = 1;
        cpus = util_host_count_node(present, present, online, core_is_cpu,
                                    &sockets, &cores, &threads, &offline);
    }

    if (cpus == 0) {
        cpus = online->len;
        offline = 0;
        sockets = threads = 1;
        cores = cpus;
    }

    /* libvirt: when the numbers do not multiply up (hidden nodes, AMD
     * modules exposed as both threads and cores, ...), report a flat
     * topology so that users look at the capabilities instead. */
    if ((guint64)nnodes * sockets * cores * threads != (guint64)cpus + offline) {
        nnodes = 1;
        sockets = 1;
        cores = cpus + offline;
        threads = 1;
    }

    info->cpus = cpus;
    info->nodes = nnodes;
    info->sockets = sockets;
    info->cores = cores;
    info->threads = threads;
}

static guint
util_host_cpu_mhz(const char *arch, const char *cpuinfo)
{
    g_autofree char *path =
        util_host_path(UTIL_HOST_SYSFS_CPU "/cpu0/cpufreq/cpuinfo_max_freq");
    g_autofree char *value = NULL;
    const char *key = NULL;
    gint64 khz = 0;
    guint64 mhz = 0;
    char *end = NULL;

    if (util_host_read_int(path, &khz) && khz > 0 && khz / 1000 <= G_MAXUINT)
        return khz / 1000;

    if (g_str_has_prefix(arch, "ppc"))
        key = "clock";
    else if (g_str_has_prefix(arch, "s390"))
        key = "cpu MHz dynamic";
    else
        key = "cpu MHz";

    /* As libvirt: the last CPU's line wins; the fraction is dropped. */
    if (!(value = util_host_cpuinfo_field(cpuinfo, key, true)))
        return 0;
    if (!g_ascii_isdigit(value[0]))
        return 0;
    errno = 0;
    mhz = g_ascii_strtoull(value, &end, 10);
    if (errno != 0 || mhz > G_MAXUINT ||
        (*end != '\0' && *end != '.' && !g_ascii_isspace(*end) && *end != 'M'))
        return 0;
    return mhz;
}

static bool
util_host_mem_total_kib(guint64 *ret_kib, GError **error)
{
    g_autofree char *path = util_host_path("/proc/meminfo");
    g_autofree char *text = NULL;

    if (!(text = util_host_read(path, error)))
        return false;
    if (!util_host_meminfo_kib(text, "MemTotal", ret_kib)) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INTERNAL_ERROR,
                       "no 'MemTotal' line in '%s'", path);
        return false;
    }
    return true;
}

bool
util_host_node_info(UtilNodeInfo *ret_info, GError **error)
{
    UtilNodeInfo info = { .model = "" };
    g_autofree char *arch = util_host_arch();
    g_autofree char *cpuinfo_path = util_host_path("/proc/cpuinfo");
    g_autofree char *cpuinfo = NULL;

    g_strlcpy(info.model, arch, sizeof(info.model));

    if (!util_host_mem_total_kib(&info.memory_kib, error))
        return false;

    if (!(cpuinfo = util_host_read(cpuinfo_path, error)))
        return false;
    info.mhz = util_host_cpu_mhz(arch, cpuinfo);

    util_host_topology(arch, &info);

    g_debug("node info: model=%s memory=%" G_GUINT64_FORMAT "KiB cpus=%u mhz=%u "
            "nodes=%u sockets=%u cores=%u threads=%u",
            info.model, info.memory_kib, info.cpus, info.mhz,
            info.nodes, info.sockets, info.cores, info.threads);
    *ret_info = info;
    return true;
}

guint64
util_host_free_memory(GError **error)
{
    g_autofree char *path = util_host_path("/proc/meminfo");
    g_autofree char *text = NULL;
    guint64 kib = 0;

    if (!(text = util_host_read(path, error)))
        return 0;
    if (!util_host_meminfo_kib(text, "MemFree", &kib)) {
        util_error_set(error, VIR_FROM_NONE, VIR_ERR_INTERNAL_ERROR,
                       "no 'MemFree' line in '%s'", path);
        return 0;
    }
    return kib * 1024;
}

/* Parses a UUID as libvirt does (hex digits, dashes ignored, surrounding
 * blanks allowed) and rejects those whose bytes are all equal. */
static bool
util_host_parse_uuid(const char *text, bool allow_dashes, unsigned char ret_uuid[16])
{
    unsigned char uuid[16] = { 0 };
    const char *p = text;
    guint ndigits = 0;
    bool all_same = true;

    while (g_ascii_isspace(*p))
        p++;
    for (; *p && !g_ascii_isspace(*p); p++) {
        if (*p == '-' && allow_dashes)
            continue;
        if (!g_ascii_isxdigit(*p) || ndigits >= 32)
            return false;
        uuid[ndigits / 2] |= g_ascii_xdigit_value(*p) << (ndigits % 2 ? 0 : 4);
        ndigits++;
    }
    while (g_ascii_isspace(*p))
        p++;
    if (*p || ndigits != 32)
        return false;

    for (guint i = 1; i < 16; i++) {
        if (uuid[i] != uuid[0])
            all_same = false;
    }
    if (all_same)
        return false;

    memcpy(ret_uuid, uuid, 16);
    return true;
}

bool
util_host_uuid(unsigned char ret_uuid[16], GError **error)
{
    static const char *const dmi_paths[] = {
        "/sys/devices/virtual/dmi/id/product_uuid",
        "/sys/class/dmi/id/product_uuid",
    };
    g_autofree char *machine_id_path = util_host_path("/etc/machine-id");
    g_autofree char *machine_id = NULL;
    int err = 0;

    for (size_t i = 0; i < G_N_ELEMENTS(dmi_paths); i++) {
        g_autofree char *path = util_host_path("%s", dmi_paths[i]);
        g_autofree char *text = util_host_read_quiet(path, &err);

        if (text && util_host_parse_uuid(text, true, ret_uuid))
            return true;
    }

    machine_id = util_host_read_quiet(machine_id_path, &err);
    if (machine_id && util_host_parse_uuid(machine_id, false, ret_uuid)) {
        g_debug("no usable SMBIOS UUID, using '%s'", machine_id_path);
        return true;
    }

    util_error_set(error, VIR_FROM_NONE, VIR_ERR_INTERNAL_ERROR,
                   "cannot determine the host UUID: no valid SMBIOS UUID and no valid '%s'",
                   machine_id_path);
    return false;
}

char *
util_host_cpu_model_name(void)
{
    g_autofree char *cpuinfo = util_host_cpuinfo();
    char *value = NULL;

    if (!cpuinfo || !(value = util_host_cpuinfo_field(cpuinfo, "model name", false)))
        return NULL;
    if (!*value) {
        g_free(value);
        return NULL;
    }
    return value;
}

char *
util_host_cpu_vendor(void)
{
    static const struct {
        const char *vendor_id;
        const char *name;
    } vendors[] = {
        { "GenuineIntel", "Intel" },
        { "AuthenticAMD", "AMD" },
        { "HygonGenuine", "Hygon" },
    };
    g_autofree char *cpuinfo = util_host_cpuinfo();
    g_autofree char *value = NULL;

    if (!cpuinfo || !(value = util_host_cpuinfo_field(cpuinfo, "vendor_id", false)) ||
        !*value)
        return NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(vendors); i++) {
        if (strcmp(value, vendors[i].vendor_id) == 0)
            return g_strdup(vendors[i].name);
    }
    return g_steal_pointer(&value);
}

static bool
util_host_cpuinfo_uint(const char *cpuinfo, const char *key, guint base, guint *ret_value)
{
    g_autofree char *value = util_host_cpuinfo_field(cpuinfo, key, false);
    const char *digits = value;
    guint64 v = 0;

    if (!value)
        return false;
    if (base == 16 && (g_str_has_prefix(digits, "0x") || g_str_has_prefix(digits, "0X")))
        digits += 2;
    if (!g_ascii_string_to_unsigned(digits, base, 0, G_MAXUINT, &v, NULL))
        return false;
    *ret_value = v;
    return true;
}

bool
util_host_cpu_signature(UtilHostCpuSignature *ret_sig)
{
    g_autofree char *cpuinfo = util_host_cpuinfo();
    g_autofree char *sizes = NULL;
    char *end = NULL;
    UtilHostCpuSignature sig = { 0 };

    if (!cpuinfo ||
        !util_host_cpuinfo_uint(cpuinfo, "cpu family", 10, &sig.family) ||
        !util_host_cpuinfo_uint(cpuinfo, "model", 10, &sig.model) ||
        !util_host_cpuinfo_uint(cpuinfo, "stepping", 10, &sig.stepping) ||
        sig.family == 0)
        return false;
    sig.has_microcode = util_host_cpuinfo_uint(cpuinfo, "microcode", 16, &sig.microcode);

    /* "address sizes\t: 48 bits physical, 48 bits virtual" */
    if ((sizes = util_host_cpuinfo_field(cpuinfo, "address sizes", false))) {
        guint64 bits = g_ascii_strtoull(sizes, &end, 10);

        if (end != sizes && g_str_has_prefix(end, " bits physical") && bits <= G_MAXUINT)
            sig.phys_addr_bits = bits;
    }
    *ret_sig = sig;
    return true;
}

/* Parses "hugepages-2048kB" into 2048. */
static bool
util_host_parse_hugepage_dir(const char *name, guint *ret_kib)
{
    g_autofree char *digits = NULL;
    const char *p = NULL;
    guint64 v = 0;

    if (!g_str_has_prefix(name, "hugepages-") || !g_str_has_suffix(name, "kB"))
        return false;
    p = name + strlen("hugepages-");
    digits = g_strndup(p, strlen(p) - strlen("kB"));
    if (!g_ascii_string_to_unsigned(digits, 10, 1, G_MAXUINT, &v, NULL))
        return false;
    *ret_kib = v;
    return true;
}

GArray *
util_host_page_sizes(void)
{
    g_autofree char *path = util_host_path("/sys/kernel/mm/hugepages");
    g_autoptr(GArray) huge = g_array_new(FALSE, FALSE, sizeof(guint));
    GArray *sizes = g_array_new(FALSE, FALSE, sizeof(guint));
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    long page = sysconf(_SC_PAGESIZE);
    guint base = page >= 1024 ? (guint)(page / 1024) : 4;
    const char *name = NULL;

    g_array_append_val(sizes, base);
    while (dir && (name = g_dir_read_name(dir))) {
        guint kib = 0;

        if (util_host_parse_hugepage_dir(name, &kib) && kib != base)
            g_array_append_val(huge, kib);
    }
    g_array_sort(huge, util_host_uint_cmp);
    g_array_append_vals(sizes, huge->data, huge->len);
    return sizes;
}

bool
util_host_iommu_enabled(void)
{
    g_autofree char *path = util_host_path("/sys/kernel/iommu_groups");
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);

    return dir && g_dir_read_name(dir) != NULL;
}

static void
util_host_cpu_clear(gpointer data)
{
    UtilHostCpu *cpu = data;

    g_clear_pointer(&cpu->siblings, g_free);
}

void
util_host_numa_cell_free(UtilHostNumaCell *cell)
{
    if (!cell)
        return;
    g_clear_pointer(&cell->pages, g_array_unref);
    g_clear_pointer(&cell->distances, g_array_unref);
    g_clear_pointer(&cell->cpus, g_array_unref);
    g_free(cell);
}

static UtilHostNumaCell *
util_host_numa_cell_new(guint id)
{
    UtilHostNumaCell *cell = g_new0(UtilHostNumaCell, 1);

    cell->id = id;
    cell->pages = g_array_new(FALSE, FALSE, sizeof(UtilHostPageCount));
    cell->distances = g_array_new(FALSE, FALSE, sizeof(UtilHostDistance));
    cell->cpus = g_array_new(FALSE, TRUE, sizeof(UtilHostCpu));
    g_array_set_clear_func(cell->cpus, util_host_cpu_clear);
    return cell;
}

static void
util_host_cell_add_cpus(UtilHostNumaCell *cell, GArray *ids, GArray *online)
{
    for (guint i = 0; i < ids->len; i++) {
        UtilHostCpu cpu = { 0 };
        guint nsiblings = 0;

        cpu.id = g_array_index(ids, guint, i);
        cpu.online = util_host_list_contains(online, cpu.id);
        if (cpu.online) {
            cpu.socket_id = util_host_cpu_socket(cpu.id);
            cpu.die_id = util_host_cpu_die(cpu.id);
            cpu.core_id = util_host_cpu_core(cpu.id);
            cpu.siblings = util_host_cpu_siblings(cpu.id, &nsiblings);
        }
        g_array_append_val(cell->cpus, cpu);
    }
}

/* Page counts of one node: huge pages from sysfs, base pages for the rest
 * of the node's memory (libvirt's arithmetic). */
static void
util_host_cell_add_pages(UtilHostNumaCell *cell, GArray *sizes)
{
    guint64 huge_kib = 0;
    UtilHostPageCount base = { 0 };

    if (sizes->len == 0)
        return;
    base.size_kib = g_array_index(sizes, guint, 0);
    g_array_append_val(cell->pages, base);

    for (guint i = 1; i < sizes->len; i++) {
        UtilHostPageCount pages = { 0 };
        g_autofree char *path = NULL;
        gint64 count = 0;

        pages.size_kib = g_array_index(sizes, guint, i);
        path = util_host_path(UTIL_HOST_SYSFS_NODE "/node%u/hugepages/hugepages-%ukB/nr_hugepages",
                              cell->id, pages.size_kib);
        if (util_host_read_int(path, &count) && count > 0)
            pages.count = count;
        huge_kib += pages.count * pages.size_kib;
        g_array_append_val(cell->pages, pages);
    }

    g_array_index(cell->pages, UtilHostPageCount, 0).count =
        (cell->memory_kib - MIN(huge_kib, cell->memory_kib)) / base.size_kib;
}

/* nodeN/distance lists the distance to each online node, in order. */
static void
util_host_cell_add_distances(UtilHostNumaCell *cell, GArray *nodes)
{
    g_autofree char *path = util_host_path(UTIL_HOST_SYSFS_NODE "/node%u/distance", cell->id);
    g_autofree char *text = util_host_read_value(path);
    g_auto(GStrv) values = NULL;
    g_autoptr(GArray) distances = g_array_new(FALSE, FALSE, sizeof(UtilHostDistance));
    guint n = 0;

    if (!text)
        return;
    values = g_strsplit_set(text, " \t\n", -1);
    for (size_t i = 0; values[i]; i++) {
        UtilHostDistance d = { 0 };
        guint64 v = 0;

        if (!*values[i])
            continue;
        if (n >= nodes->len ||
            !g_ascii_string_to_unsigned(values[i], 10, 0, G_MAXUINT, &v, NULL))
            return;
        d.node = g_array_index(nodes, guint, n++);
        d.value = v;
        if (d.value != 0)
            g_array_append_val(distances, d);
    }
    if (n != nodes->len)
        return;
    g_array_append_vals(cell->distances, distances->data, distances->len);
}

GPtrArray *
util_host_numa_cells(GError **error)
{
    g_autofree char *nodes_path = util_host_path(UTIL_HOST_SYSFS_NODE "/online");
    g_autoptr(GArray) nodes = util_host_read_list(nodes_path);
    g_autoptr(GArray) online = util_host_online_list();
    g_autoptr(GArray) sizes = util_host_page_sizes();
    g_autoptr(GPtrArray) cells =
        g_ptr_array_new_with_free_func((GDestroyNotify)util_host_numa_cell_free);
    g_autoptr(UtilHostNumaCell) fake = NULL;

    for (guint i = 0; nodes && i < nodes->len; i++) {
        guint node = g_array_index(nodes, guint, i);
        g_autoptr(UtilHostNumaCell) cell = util_host_numa_cell_new(node);
        g_autofree char *meminfo_path =
            util_host_path(UTIL_HOST_SYSFS_NODE "/node%u/meminfo", node);
        g_autofree char *cpulist_path =
            util_host_path(UTIL_HOST_SYSFS_NODE "/node%u/cpulist", node);
        g_autofree char *meminfo = util_host_read_value(meminfo_path);
        g_autoptr(GArray) cpus = NULL;

        if (!meminfo || !util_host_meminfo_kib(meminfo, "MemTotal", &cell->memory_kib)) {
            /* libvirt too gives up on the NUMA topology and fakes one cell */
            g_debug("no usable memory total in '%s', faking a single NUMA cell",
                    meminfo_path);
            g_ptr_array_set_size(cells, 0);
            break;
        }
        if ((cpus = util_host_read_list(cpulist_path)))
            util_host_cell_add_cpus(cell, cpus, online);
        util_host_cell_add_pages(cell, sizes);
        util_host_cell_add_distances(cell, nodes);
        g_ptr_array_add(cells, g_steal_pointer(&cell));
    }
    if (cells->len > 0)
        return g_steal_pointer(&cells);

    /* No NUMA information: one cell with everything, as libvirt fakes it. */
    fake = util_host_numa_cell_new(0);
    if (!util_host_mem_total_kib(&fake->memory_kib, error))
        return NULL;
    util_host_cell_add_cpus(fake, online, online);
    g_ptr_array_add(cells, g_steal_pointer(&fake));
    return g_steal_pointer(&cells);
}

void
util_host_cache_bank_free(UtilHostCacheBank *bank)
{
    if (!bank)
        return;
    g_free(bank->cpus);
    g_free(bank);
}

/* Parses a sysfs cache size ("32768K") into bytes. */
static bool
util_host_parse_cache_size(const char *text, guint64 *ret_bytes)
{
    g_autofree char *digits = g_strdup(text);
    size_t len = strlen(digits);
    guint64 scale = 1;
    guint64 v = 0;

    if (len > 0) {
        switch (g_ascii_toupper(digits[len - 1])) {
        case 'K': scale = 1024; break;
        case 'M': scale = 1024 * 1024; break;
        case 'G': scale = 1024 * 1024 * 1024; break;
        default: break;
        }
        if (scale != 1)
            digits[len - 1] = '\0';
    }
    if (!g_ascii_string_to_unsigned(digits, 10, 0, G_MAXUINT64 / scale, &v, NULL))
        return false;
    *ret_bytes = v * scale;
    return true;
}

static bool
util_host_parse_cache_type(const char *text, UtilHostCacheType *ret_type)
{
    if (strcmp(text, "Unified") == 0)
        *ret_type = UTIL_HOST_CACHE_BOTH;
    else if (strcmp(text, "Instruction") == 0)
        *ret_type = UTIL_HOST_CACHE_CODE;
    else if (strcmp(text, "Data") == 0)
        *ret_type = UTIL_HOST_CACHE_DATA;
    else
        return false;
    return true;
}

static gint
util_host_cache_bank_cmp(gconstpointer a, gconstpointer b)
{
    const UtilHostCacheBank *x = *(const UtilHostCacheBank *const *)a;
    const UtilHostCacheBank *y = *(const UtilHostCacheBank *const *)b;

    if (x->level != y->level)
        return x->level < y->level ? -1 : 1;
    if (x->id != y->id)
        return x->id < y->id ? -1 : 1;
    return (int)x->type - (int)y->type;
}

static UtilHostCacheBank *
util_host_read_cache_bank(const char *dir)
{
    g_autoptr(UtilHostCacheBank) bank = g_new0(UtilHostCacheBank, 1);
    g_autofree char *level_path = g_build_filename(dir, "level", NULL);
    g_autofree char *id_path = g_build_filename(dir, "id", NULL);
    g_autofree char *type_path = g_build_filename(dir, "type", NULL);
    g_autofree char *size_path = g_build_filename(dir, "size", NULL);
    g_autofree char *cpus_path = g_build_filename(dir, "shared_cpu_list", NULL);
    g_autofree char *type = NULL;
    g_autofree char *size = NULL;
    g_autoptr(GArray) cpus = NULL;
    gint64 v = 0;

    if (!util_host_read_int(level_path, &v) || v < 0 || v > G_MAXUINT)
        return NULL;
    bank->level = v;
    if (!util_host_read_int(id_path, &v) || v < 0 || v > G_MAXUINT)
        return NULL;
    bank->id = v;
    if (!(type = util_host_read_value(type_path)) ||
        !util_host_parse_cache_type(type, &bank->type))
        return NULL;
    if (!(size = util_host_read_value(size_path)) ||
        !util_host_parse_cache_size(size, &bank->size_bytes))
        return NULL;
    if (!(bank->cpus = util_host_read_value(cpus_path)) ||
        !(cpus = util_host_parse_list(bank->cpus)))
        return NULL;
    return g_steal_pointer(&bank);
}

GPtrArray *
util_host_cache_banks(unsigned int min_level)
{
    g_autoptr(GArray) online = util_host_online_list();
    GPtrArray *banks =
        g_ptr_array_new_with_free_func((GDestroyNotify)util_host_cache_bank_free);

    for (guint i = 0; i < online->len; i++) {
        guint cpu = g_array_index(online, guint, i);
        g_autofree char *path = util_host_path(UTIL_HOST_SYSFS_CPU "/cpu%u/cache", cpu);
        g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
        const char *name = NULL;

        while (dir && (name = g_dir_read_name(dir))) {
            g_autofree char *index = NULL;
            g_autoptr(UtilHostCacheBank) bank = NULL;
            bool known = false;

            if (!g_str_has_prefix(name, "index"))
                continue;
            index = g_build_filename(path, name, NULL);
            if (!(bank = util_host_read_cache_bank(index))) {
                g_debug("incomplete cache information in '%s'", index);
                continue;
            }
            if (bank->level < min_level)
                continue;
            for (guint j = 0; j < banks->len && !known; j++) {
                const UtilHostCacheBank *b = g_ptr_array_index(banks, j);

                known = b->level == bank->level && b->id == bank->id &&
                        b->type == bank->type;
            }
            if (!known)
                g_ptr_array_add(banks, g_steal_pointer(&bank));
        }
    }

    g_ptr_array_sort(banks, util_host_cache_bank_cmp);
    return banks;
}

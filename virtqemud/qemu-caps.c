/*
 * qemu-caps.c: QEMU binary capabilities: the object and its queries, the
 * QMP probe, the JSON form and the on-disk cache.
 */
#define G_LOG_DOMAIN "virtqemud.caps"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "qemu-caps.h"
#include "qemu-monitor.h"
#include "util-error.h"
#include "util-file.h"

static void
qemu_caps_machine_free(gpointer data)
{
    QemuCapsMachine *m = data;

    if (!m)
        return;
    g_free(m->name);
    g_free(m->alias);
    g_free(m);
}

QemuCaps *
qemu_caps_ref(QemuCaps *caps)
{
    g_atomic_int_inc(&caps->refs);
    return caps;
}

void
qemu_caps_unref(QemuCaps *caps)
{
    if (!caps || !g_atomic_int_dec_and_test(&caps->refs))
        return;
    g_free(caps->binary);
    g_free(caps->arch);
    g_free(caps->package);
    if (caps->machines)
        g_ptr_array_free(caps->machines, TRUE);
    if (caps->devices)
        g_hash_table_destroy(caps->devices);
    if (caps->commands)
        g_hash_table_destroy(caps->commands);
    if (caps->cpu_models)
        g_ptr_array_free(caps->cpu_models, TRUE);
    g_free(caps);
}

QemuCaps *
qemu_caps_new(void)
{
    QemuCaps *caps = g_new0(QemuCaps, 1);

    caps->refs = 1;
    caps->machines = g_ptr_array_new_with_free_func(qemu_caps_machine_free);
    caps->devices = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    caps->commands = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    caps->cpu_models = g_ptr_array_new_with_free_func(g_free);
    return caps;
}

bool
qemu_caps_has_device(const QemuCaps *caps, const char *type)
{
    return caps->devices && g_hash_table_contains(caps->devices, type);
}

bool
qemu_caps_has_command(const QemuCaps *caps, const char *command)
{
    return caps->commands && g_hash_table_contains(caps->commands, command);
}

const char *
qemu_caps_default_machine(const QemuCaps *caps)
{
    for (guint i = 0; caps->machines && i < caps->machines->len; i++) {
        const QemuCapsMachine *m = g_ptr_array_index(caps->machines, i);
        if (m->is_default)
            return m->name;
    }
    return NULL;
}

const char *
qemu_caps_canonical_machine(const QemuCaps *caps, const char *name)
{
    for (guint i = 0; caps->machines && i < caps->machines->len; i++) {
        const QemuCapsMachine *m = g_ptr_array_index(caps->machines, i);
        if (g_str_equal(m->name, name) || (m->alias && g_str_equal(m->alias, name)))
            return m->name;
    }
    return NULL;
}

/* ---------------------------------------------------------------------- */
/* JSON helpers, for QMP replies and the on-disk form alike               */

#define QEMU_CAPS_JSON_MAX_SIZE (64 * 1024 * 1024)
#define QEMU_CAPS_JSON_MAX_DEPTH 8

/* Member @key of object @obj, of type @type; *ret_value is NULL when an
 * optional member is absent or null.  @what names the document for the
 * error message. */
static bool
caps_json_get(json_object *obj, const char *key, json_type type, bool required,
              const char *what, json_object **ret_value, GError **error)
{
    json_object *v = NULL;

    if (!json_object_is_type(obj, json_type_object)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "malformed %s: expected a JSON object holding '%s'", what, key);
        return false;
    }
    if (!json_object_object_get_ex(obj, key, &v) || !v) {
        if (required) {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                           "malformed %s: member '%s' is missing", what, key);
            return false;
        }
        *ret_value = NULL;
        return true;
    }
    if (!json_object_is_type(v, type)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "malformed %s: member '%s' is not a JSON %s",
                       what, key, json_type_to_name(type));
        return false;
    }
    *ret_value = v;
    return true;
}

static bool
caps_json_get_string(json_object *obj, const char *key, bool required, const char *what,
                     const char **ret_value, GError **error)
{
    json_object *v = NULL;

    if (!caps_json_get(obj, key, json_type_string, required, what, &v, error))
        return false;
    *ret_value = v ? json_object_get_string(v) : NULL;
    return true;
}

/* An integer in [@min, @max]; @dflt when optional and absent. */
static bool
caps_json_get_int(json_object *obj, const char *key, bool required, gint64 dflt,
                  gint64 min, gint64 max, const char *what, gint64 *ret_value,
                  GError **error)
{
    json_object *v = NULL;
    gint64 n;

    if (!caps_json_get(obj, key, json_type_int, required, what, &v, error))
        return false;
    if (!v) {
        *ret_value = dflt;
        return true;
    }
    n = json_object_get_int64(v);
    /* json-c clamps what does not fit in 64 bits to the limits */
    if (n < min || n > max || n == G_MAXINT64 || n == G_MININT64) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "malformed %s: member '%s' is out of range", what, key);
        return false;
    }
    *ret_value = n;
    return true;
}

static bool
caps_json_get_bool(json_object *obj, const char *key, bool required, const char *what,
                   bool *ret_value, GError **error)
{
    json_object *v = NULL;

    if (!caps_json_get(obj, key, json_type_boolean, required, what, &v, error))
        return false;
    *ret_value = v ? json_object_get_boolean(v) : false;
    return true;
}

/* The names listed in @array go into @set (a hash table of strings), or
 * into @list when @set is NULL: the elements themselves when @key is NULL,
 * else their string member @key. */
static bool
caps_json_names(json_object *array, const char *key, const char *what,
                GHashTable *set, GPtrArray *list, GError **error)
{
    size_t n = json_object_array_length(array);

    for (size_t i = 0; i < n; i++) {
        json_object *v = json_object_array_get_idx(array, i);
        const char *name = NULL;

        if (key) {
            if (!caps_json_get_string(v, key, true, what, &name, error))
                return false;
        } else if (json_object_is_type(v, json_type_string)) {
            name = json_object_get_string(v);
        } else {
            util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                           "malformed %s: element %zu is not a string", what, i);
            return false;
        }
        if (set)
            g_hash_table_add(set, g_strdup(name));
        else
            g_ptr_array_add(list, g_strdup(name));
    }
    return true;
}

/* How a machine's members are named: QMP's query-machines, or our file. */
typedef struct {
    const char *is_default;
    const char *max_cpus;
} CapsMachineKeys;

static const CapsMachineKeys caps_machine_keys_qmp = { "is-default", "cpu-max" };
static const CapsMachineKeys caps_machine_keys_file = { "default", "max_cpus" };

/* The machines listed in @array, but "none" (as libvirt). */
static bool
caps_json_machines(json_object *array, const CapsMachineKeys *keys, const char *what,
                   QemuCaps *caps, GError **error)
{
    size_t n = json_object_array_length(array);

    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(array, i);
        const char *name = NULL;
        const char *alias = NULL;
        bool is_default = false;
        bool deprecated = false;
        gint64 max_cpus = 0;
        QemuCapsMachine *m = NULL;

        if (!caps_json_get_string(o, "name", true, what, &name, error) ||
            !caps_json_get_string(o, "alias", false, what, &alias, error) ||
            !caps_json_get_bool(o, keys->is_default, false, what, &is_default, error) ||
            !caps_json_get_int(o, keys->max_cpus, true, 0, 0, G_MAXINT, what, &max_cpus,
                               error) ||
            !caps_json_get_bool(o, "deprecated", false, what, &deprecated, error))
            return false;
        if (g_str_equal(name, "none"))
            continue;
        m = g_new0(QemuCapsMachine, 1);
        m->name = g_strdup(name);
        m->alias = g_strdup(alias);
        m->is_default = is_default;
        m->max_cpus = (unsigned int)max_cpus;
        m->deprecated = deprecated;
        g_ptr_array_add(caps->machines, m);
    }
    return true;
}

static gint
caps_compare_strings(gconstpointer a, gconstpointer b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of @set, sorted, as a JSON array of strings. */
static json_object *
caps_json_sorted_set(GHashTable *set)
{
    g_autofree gpointer *keys = NULL;
    guint n = 0;
    json_object *array = json_object_new_array();

    keys = g_hash_table_get_keys_as_array(set, &n);
    qsort(keys, n, sizeof(*keys), (int (*)(const void *, const void *))caps_compare_strings);
    for (guint i = 0; i < n; i++)
        json_object_array_add(array, json_object_new_string(keys[i]));
    return array;
}

/* Parse @text (a whole document) into a JSON object. */
static json_object *
caps_json_parse(const char *text, size_t len, const char *what, GError **error)
{
    json_tokener *tok = NULL;
    json_object *obj = NULL;
    enum json_tokener_error jerr;
    size_t end;

    if (len > QEMU_CAPS_JSON_MAX_SIZE) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "malformed %s: larger than %d bytes", what, QEMU_CAPS_JSON_MAX_SIZE);
        return NULL;
    }
    if (memchr(text, '\0', len)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "malformed %s: contains a NUL byte", what);
        return NULL;
    }
    tok = json_tokener_new_ex(QEMU_CAPS_JSON_MAX_DEPTH);
    obj = json_tokener_parse_ex(tok, text, (int)len);
    jerr = json_tokener_get_error(tok);
    end = json_tokener_get_parse_end(tok);
    if (jerr == json_tokener_continue) {
        /* a bare number or literal at the very end needs a delimiter */
        obj = json_tokener_parse_ex(tok, " ", 1);
        jerr = json_tokener_get_error(tok);
        end = len;
    }
    json_tokener_free(tok);
    if (jerr == json_tokener_continue) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "malformed %s: truncated JSON", what);
        return NULL;
    }
    if (jerr != json_tokener_success) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "malformed %s: %s at offset %zu", what,
                       json_tokener_error_desc(jerr), end);
        return NULL;
    }
    while (end < len && g_ascii_isspace(text[end]))
        end++;
    if (end < len) {
        json_object_put(obj);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "malformed %s: trailing data at offset %zu", what, end);
        return NULL;
    }
    if (!json_object_is_type(obj, json_type_object)) {
        json_object_put(obj);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "malformed %s: not a JSON object", what);
        return NULL;
    }
    return obj;
}

/* ---------------------------------------------------------------------- */
/* the JSON form                                                          */

#define CAPS_DOC "QEMU capabilities"

char *
qemu_caps_to_json(const QemuCaps *caps)
{
    g_autoptr(json_object) root = json_object_new_object();
    json_object *key = json_object_new_object();
    json_object *machines = json_object_new_array();
    json_object *cpus = json_object_new_array();

    json_object_object_add(root, "format", json_object_new_int(QEMU_CAPS_FORMAT_VERSION));
    if (caps->binary)
        json_object_object_add(root, "binary", json_object_new_string(caps->binary));
    json_object_object_add(root, "arch", json_object_new_string(caps->arch ? caps->arch : ""));
    json_object_object_add(root, "version", json_object_new_int64((gint64)caps->version));
    json_object_object_add(root, "package",
                           json_object_new_string(caps->package ? caps->package : ""));
    json_object_object_add(root, "kvm", json_object_new_boolean(caps->kvm));

    json_object_object_add(key, "size", json_object_new_int64(caps->binary_size));
    json_object_object_add(key, "mtime", json_object_new_int64(caps->binary_mtime));
    json_object_object_add(key, "mtime_nsec", json_object_new_int64(caps->binary_mtime_nsec));
    json_object_object_add(key, "ctime", json_object_new_int64(caps->binary_ctime));
    json_object_object_add(key, "ctime_nsec", json_object_new_int64(caps->binary_ctime_nsec));
    json_object_object_add(key, "kvm_device", json_object_new_boolean(caps->kvm_device));
    json_object_object_add(root, "key", key);
    json_object_object_add(root, "probe_time", json_object_new_int64(caps->probe_time));

    for (guint i = 0; i < caps->machines->len; i++) {
        const QemuCapsMachine *m = g_ptr_array_index(caps->machines, i);
        json_object *o = json_object_new_object();

        json_object_object_add(o, "name", json_object_new_string(m->name));
        if (m->alias)
            json_object_object_add(o, "alias", json_object_new_string(m->alias));
        json_object_object_add(o, "default", json_object_new_boolean(m->is_default));
        json_object_object_add(o, "max_cpus", json_object_new_int64(m->max_cpus));
        json_object_object_add(o, "deprecated", json_object_new_boolean(m->deprecated));
        json_object_array_add(machines, o);
    }
    json_object_object_add(root, "machines", machines);
    json_object_object_add(root, "devices", caps_json_sorted_set(caps->devices));
    json_object_object_add(root, "commands", caps_json_sorted_set(caps->commands));
    for (guint i = 0; i < caps->cpu_models->len; i++)
        json_object_array_add(cpus, json_object_new_string(g_ptr_array_index(caps->cpu_models, i)));
    json_object_object_add(root, "cpu_models", cpus);

    return g_strdup_printf("%s\n", json_object_to_json_string_ext(root,
                           JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                          JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* Array member @key of the document: strings into @set or @list, or (for
 * "machines") machines into @caps. */
static bool
caps_json_list(json_object *root, const char *key, QemuCaps *caps, GHashTable *set,
               GPtrArray *list, GError **error)
{
    g_autofree char *what = g_strdup_printf(CAPS_DOC " member '%s'", key);
    json_object *array = NULL;

    if (!caps_json_get(root, key, json_type_array, true, CAPS_DOC, &array, error))
        return false;
    if (caps)
        return caps_json_machines(array, &caps_machine_keys_file, what, caps, error);
    return caps_json_names(array, NULL, what, set, list, error);
}

QemuCaps *
qemu_caps_from_json(const char *json, GError **error)
{
    g_autoptr(json_object) root = NULL;
    g_autoptr(QemuCaps) caps = qemu_caps_new();
    json_object *key = NULL;
    const char *binary = NULL;
    const char *arch = NULL;
    const char *package = NULL;
    gint64 format = 0;
    gint64 version = 0;

    root = caps_json_parse(json, strlen(json), CAPS_DOC, error);
    if (!root)
        return NULL;
    if (!caps_json_get_int(root, "format", true, 0, 0, G_MAXINT, CAPS_DOC, &format, error))
        return NULL;
    if (format != QEMU_CAPS_FORMAT_VERSION) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       CAPS_DOC " of format %" G_GINT64_FORMAT ", expected %d",
                       format, QEMU_CAPS_FORMAT_VERSION);
        return NULL;
    }
    if (!caps_json_get_string(root, "binary", false, CAPS_DOC, &binary, error) ||
        !caps_json_get_string(root, "arch", true, CAPS_DOC, &arch, error) ||
        !caps_json_get_int(root, "version", true, 0, 0, 999999999, CAPS_DOC, &version, error) ||
        !caps_json_get_string(root, "package", false, CAPS_DOC, &package, error) ||
        !caps_json_get_bool(root, "kvm", true, CAPS_DOC, &caps->kvm, error) ||
        !caps_json_get_int(root, "probe_time", false, 0, 0, G_MAXINT64 - 1, CAPS_DOC,
                           &caps->probe_time, error) ||
        !caps_json_get(root, "key", json_type_object, false, CAPS_DOC, &key, error))
        return NULL;
    if (key &&
        !(caps_json_get_int(key, "size", true, 0, 0, G_MAXINT64 - 1, CAPS_DOC " key",
                            &caps->binary_size, error) &&
          caps_json_get_int(key, "mtime", true, 0, G_MININT64 + 1, G_MAXINT64 - 1,
                            CAPS_DOC " key", &caps->binary_mtime, error) &&
          caps_json_get_int(key, "mtime_nsec", true, 0, 0, 999999999, CAPS_DOC " key",
                            &caps->binary_mtime_nsec, error) &&
          caps_json_get_int(key, "ctime", true, 0, G_MININT64 + 1, G_MAXINT64 - 1,
                            CAPS_DOC " key", &caps->binary_ctime, error) &&
          caps_json_get_int(key, "ctime_nsec", true, 0, 0, 999999999, CAPS_DOC " key",
                            &caps->binary_ctime_nsec, error) &&
          caps_json_get_bool(key, "kvm_device", true, CAPS_DOC " key", &caps->kvm_device,
                             error)))
        return NULL;
    if (!caps_json_list(root, "machines", caps, NULL, NULL, error) ||
        !caps_json_list(root, "devices", NULL, caps->devices, NULL, error) ||
        !caps_json_list(root, "commands", NULL, caps->commands, NULL, error) ||
        !caps_json_list(root, "cpu_models", NULL, NULL, caps->cpu_models, error))
        return NULL;

    caps->binary = g_strdup(binary);
    caps->arch = g_strdup(arch);
    caps->version = (guint64)version;
    caps->package = g_strdup(package ? package : "");
    return g_steal_pointer(&caps);
}

QemuCaps *
qemu_caps_load_file(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    size_t len = 0;
    QemuCaps *caps = NULL;

    if (!g_file_get_contents(path, &text, &len, &local)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "cannot read QEMU capabilities file '%s': %s", path, local->message);
        return NULL;
    }
    if (strlen(text) != len) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "QEMU capabilities file '%s' contains a NUL byte", path);
        return NULL;
    }
    caps = qemu_caps_from_json(text, error);
    if (!caps)
        g_prefix_error(error, "file '%s': ", path);
    return caps;
}

/* ---------------------------------------------------------------------- */
/* probing                                                                */

const char *
qemu_caps_host_arch(void)
{
    static char arch[sizeof(((struct utsname *)NULL)->machine)];
    static gsize done;

    if (g_once_init_enter(&done)) {
        struct utsname uts;

        if (uname(&uts) < 0)
            g_strlcpy(arch, "unknown", sizeof(arch));
        else if (g_str_equal(uts.machine, "i386") || g_str_equal(uts.machine, "i486") ||
                 g_str_equal(uts.machine, "i586"))
            g_strlcpy(arch, "i686", sizeof(arch));
        else
            g_strlcpy(arch, uts.machine, sizeof(arch));
        g_once_init_leave(&done, 1);
    }
    return arch;
}

/* QEMU target names that differ from libvirt's architecture names. */
static const struct {
    const char *qemu;
    const char *libvirt;
} caps_arch_names[] = {
    { "i386", "i686" },
    { "arm", "armv7l" },
};

/* @name translated from QEMU's target name to libvirt's architecture name
 * (@to_libvirt) or back; unchanged when both are the same. */
static const char *
caps_arch_translate(const char *name, bool to_libvirt)
{
    for (size_t i = 0; i < G_N_ELEMENTS(caps_arch_names); i++) {
        const char *from = to_libvirt ? caps_arch_names[i].qemu : caps_arch_names[i].libvirt;

        if (g_str_equal(name, from))
            return to_libvirt ? caps_arch_names[i].libvirt : caps_arch_names[i].qemu;
    }
    return name;
}

char *
qemu_caps_find_emulator(const char *arch)
{
    g_autofree char *name = g_strdup_printf("qemu-system-%s", caps_arch_translate(arch, false));
    const char *dir = g_getenv("MODVIRT_QEMU_DIR");

    if (dir && *dir) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        return g_file_test(path, G_FILE_TEST_IS_EXECUTABLE) ? g_steal_pointer(&path) : NULL;
    }
    return g_find_program_in_path(name);
}

static bool
caps_kvm_device_usable(void)
{
    return access("/dev/kvm", R_OK | W_OK) == 0;
}

static void
caps_probe_child_setup(gpointer data)
{
    pid_t parent = GPOINTER_TO_INT(data);

    /* QEMU must not outlive the thread probing it; if the daemon already
     * ended before this ran, the signal would never come: go now */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
}

static int
caps_remaining_ms(gint64 deadline)
{
    gint64 left = (deadline - g_get_monotonic_time()) / 1000;

    return (int)CLAMP(left, 1, G_MAXINT);
}

/* Reap @pid, waiting until @deadline at most, then SIGKILL it. */
static void
caps_reap(GPid pid, gint64 deadline)
{
    int status = 0;
    pid_t r;

    while ((r = waitpid(pid, &status, WNOHANG)) == 0 && g_get_monotonic_time() < deadline)
        g_usleep(1000);
    if (r == pid || (r < 0 && errno != EINTR))
        return;
    g_debug("QEMU probe process %d did not exit, killing it", (int)pid);
    kill(pid, SIGKILL);
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

/* The last line QEMU wrote to stderr (kept in @fd), or NULL. */
static char *
caps_stderr_text(int fd)
{
    char buf[4096];
    ssize_t n;
    char *text;

    if (fd < 0)
        return NULL;
    n = pread(fd, buf, sizeof(buf) - 1, 0);
    if (n <= 0)
        return NULL;
    buf[n] = '\0';
    text = g_strstrip(g_strdup(buf));
    if (!*text) {
        g_free(text);
        return NULL;
    }
    for (char *p = text; *p; p++) {
        if (*p == '\n' || *p == '\r')
            *p = ' ';
    }
    return text;
}

/* Run @cmd and check the type of its "return". */
static json_object *
caps_qmp(QemuMonitor *mon, const char *cmd, json_object *args, json_type type,
         gint64 deadline, GError **error)
{
    json_object *ret = qemu_monitor_command(mon, cmd, args, caps_remaining_ms(deadline), error);

    if (!ret)
        return NULL;
    if (!json_object_is_type(ret, type)) {
        json_object_put(ret);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "unexpected reply to QEMU command '%s': not a JSON %s",
                       cmd, json_type_to_name(type));
        return NULL;
    }
    return ret;
}

static bool
caps_probe_version(QemuMonitor *mon, QemuCaps *caps, gint64 deadline, GError **error)
{
    g_autoptr(json_object) ret = caps_qmp(mon, "query-version", NULL, json_type_object,
                                          deadline, error);
    json_object *qemu = NULL;
    const char *package = NULL;
    gint64 major = 0, minor = 0, micro = 0;
    const char *what = "reply to 'query-version'";

    if (!ret ||
        !caps_json_get(ret, "qemu", json_type_object, true, what, &qemu, error) ||
        !caps_json_get_int(qemu, "major", true, 0, 0, 999, what, &major, error) ||
        !caps_json_get_int(qemu, "minor", true, 0, 0, 999, what, &minor, error) ||
        !caps_json_get_int(qemu, "micro", true, 0, 0, 999, what, &micro, error) ||
        !caps_json_get_string(ret, "package", false, what, &package, error))
        return false;
    caps->version = major * 1000000 + minor * 1000 + micro;
    caps->package = g_strstrip(g_strdup(package ? package : ""));
    return true;
}

static bool
caps_probe_target(QemuMonitor *mon, QemuCaps *caps, gint64 deadline, GError **error)
{
    g_autoptr(json_object) ret = caps_qmp(mon, "query-target", NULL, json_type_object,
                                          deadline, error);
    const char *arch = NULL;

    if (!ret || !caps_json_get_string(ret, "arch", true, "reply to 'query-target'", &arch, error))
        return false;
    caps->arch = g_strdup(caps_arch_translate(arch, true));
    return true;
}

static bool
caps_probe_kvm(QemuMonitor *mon, QemuCaps *caps, gint64 deadline, GError **error)
{
    g_autoptr(json_object) ret = caps_qmp(mon, "query-kvm", NULL, json_type_object,
                                          deadline, error);
    bool enabled = false;
    bool present = false;

    if (!ret ||
        !caps_json_get_bool(ret, "enabled", true, "reply to 'query-kvm'", &enabled, error) ||
        !caps_json_get_bool(ret, "present", true, "reply to 'query-kvm'", &present, error))
        return false;
    caps->kvm = enabled && present;
    return true;
}

static bool
caps_probe_machines(QemuMonitor *mon, QemuCaps *caps, gint64 deadline, GError **error)
{
    g_autoptr(json_object) ret = caps_qmp(mon, "query-machines", NULL, json_type_array,
                                          deadline, error);

    return ret && caps_json_machines(ret, &caps_machine_keys_qmp, "reply to 'query-machines'",
                                     caps, error);
}

static bool
caps_probe_names(QemuMonitor *mon, const char *cmd, json_object *args, GHashTable *set,
                 gint64 deadline, GError **error)
{
    g_autoptr(json_object) ret = caps_qmp(mon, cmd, args, json_type_array, deadline, error);
    g_autofree char *what = g_strdup_printf("reply to '%s'", cmd);

    return ret && caps_json_names(ret, "name", what, set, NULL, error);
}

/* The CPU models QEMU reports usable with the accelerator in use. */
static bool
caps_probe_cpu_models(QemuMonitor *mon, QemuCaps *caps, gint64 deadline, GError **error)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(json_object) ret = caps_qmp(mon, "query-cpu-definitions", NULL, json_type_array,
                                          deadline, &local);
    const char *what = "reply to 'query-cpu-definitions'";
    size_t n;

    if (!ret) {
        /* some targets have no CPU model list */
        if (util_error_code(local) == VIR_ERR_OPERATION_UNSUPPORTED)
            return true;
        g_propagate_error(error, g_steal_pointer(&local));
        return false;
    }
    n = json_object_array_length(ret);
    for (size_t i = 0; i < n; i++) {
        json_object *o = json_object_array_get_idx(ret, i);
        json_object *unavailable = NULL;
        const char *name = NULL;

        if (!caps_json_get_string(o, "name", true, what, &name, error) ||
            !caps_json_get(o, "unavailable-features", json_type_array, false, what,
                           &unavailable, error))
            return false;
        if (!unavailable || json_object_array_length(unavailable) == 0)
            g_ptr_array_add(caps->cpu_models, g_strdup(name));
    }
    return true;
}

static bool
caps_probe_monitor(QemuMonitor *mon, QemuCaps *caps, gint64 deadline, GError **error)
{
    json_object *types_args = NULL;

    if (!qemu_monitor_wait_ready(mon, caps_remaining_ms(deadline), error))
        return false;
    types_args = json_object_new_object();
    json_object_object_add(types_args, "implements", json_object_new_string("device"));
    json_object_object_add(types_args, "abstract", json_object_new_boolean(false));
    return caps_probe_version(mon, caps, deadline, error) &&
           caps_probe_target(mon, caps, deadline, error) &&
           caps_probe_kvm(mon, caps, deadline, error) &&
           caps_probe_machines(mon, caps, deadline, error) &&
           caps_probe_names(mon, "qom-list-types", types_args, caps->devices, deadline, error) &&
           caps_probe_names(mon, "query-commands", NULL, caps->commands, deadline, error) &&
           caps_probe_cpu_models(mon, caps, deadline, error);
}

QemuCaps *
qemu_caps_probe(const char *binary, GError **error)
{
    return qemu_caps_probe_with_timeout(binary, QEMU_CAPS_PROBE_TIMEOUT_MS, error);
}

QemuCaps *
qemu_caps_probe_with_timeout(const char *binary, int timeout_ms, GError **error)
{
    gint64 start = g_get_monotonic_time();
    gint64 deadline = start + MAX(timeout_ms, 1) * G_TIME_SPAN_MILLISECOND;
    g_autoptr(QemuCaps) caps = qemu_caps_new();
    g_autoptr(GMainContext) ctx = NULL;
    g_autoptr(QemuMonitor) mon = NULL;
    g_autoptr(GError) local = NULL;
    g_autofree char *err_text = NULL;
    g_autofd_mv int errfd = -1;
    g_autofd_mv int child_sock = -1;
    int sv[2] = { -1, -1 };
    const char *argv[] = {
        binary, "-S", "-no-user-config", "-nodefaults", "-nographic",
        "-machine", "none,accel=kvm:tcg",
        "-chardev", "socket,id=qmp,fd=3,server=off",
        "-mon", "chardev=qmp,mode=control",
        NULL
    };
    QemuMonitorOptions opts = { 0 };
    struct stat st;
    GPid pid = 0;
    bool ok;

    if (!g_path_is_absolute(binary)) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "QEMU binary path '%s' is not absolute", binary);
        return NULL;
    }
    if (stat(binary, &st) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "Cannot check QEMU binary %s", binary);
        return NULL;
    }
    caps->binary = g_strdup(binary);
    caps->binary_size = st.st_size;
    caps->binary_mtime = st.st_mtim.tv_sec;
    caps->binary_mtime_nsec = st.st_mtim.tv_nsec;
    caps->binary_ctime = st.st_ctim.tv_sec;
    caps->binary_ctime_nsec = st.st_ctim.tv_nsec;
    caps->kvm_device = caps_kvm_device_usable();
    caps->probe_time = g_get_real_time();

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "cannot create a socket pair");
        return NULL;
    }
    child_sock = sv[1];
    errfd = memfd_create("qemu-probe-stderr", MFD_CLOEXEC);
    {
        int source_fds[] = { child_sock };
        int target_fds[] = { 3 };

        ok = g_spawn_async_with_pipes_and_fds(NULL, argv, NULL,
                                              G_SPAWN_DO_NOT_REAP_CHILD |
                                              G_SPAWN_STDIN_FROM_DEV_NULL |
                                              G_SPAWN_STDOUT_TO_DEV_NULL |
                                              (errfd < 0 ? G_SPAWN_STDERR_TO_DEV_NULL : 0),
                                              caps_probe_child_setup,
                                              GINT_TO_POINTER(getpid()),
                                              -1, -1, errfd,
                                              source_fds, target_fds, 1,
                                              &pid, NULL, NULL, NULL, &local);
    }
    util_close_fdp(&child_sock);
    if (!ok) {
        close(sv[0]);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "failed to probe QEMU binary '%s': %s", binary, local->message);
        return NULL;
    }
    g_debug("probing %s (pid %d)", binary, (int)pid);

    ctx = g_main_context_new();
    opts.open_timeout_ms = caps_remaining_ms(deadline);
    opts.default_timeout_ms = caps_remaining_ms(deadline);
    mon = qemu_monitor_open_fd(sv[0], ctx, NULL, NULL, &opts, &local);
    ok = mon && caps_probe_monitor(mon, caps, deadline, &local);
    if (ok) {
        g_autoptr(GError) quit_error = NULL;

        /* QEMU may close the monitor before its answer arrives: fine */
        if (!qemu_monitor_quit(mon, &quit_error))
            g_debug("quit of the QEMU probe: %s", quit_error->message);
    } else {
        kill(pid, SIGKILL);
    }
    if (mon)
        qemu_monitor_close(mon);
    caps_reap(pid, MIN(deadline, g_get_monotonic_time() + 5 * G_TIME_SPAN_SECOND));

    if (!ok) {
        err_text = caps_stderr_text(errfd);
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "failed to probe QEMU binary '%s' with QMP: %s%s%s%s", binary,
                       local->message, err_text ? " (QEMU said: " : "",
                       err_text ? err_text : "", err_text ? ")" : "");
        return NULL;
    }
    g_debug("probed %s in %" G_GINT64_FORMAT " ms: version %" G_GUINT64_FORMAT
            ", %u machines, %u devices, %u CPU models", binary,
            (g_get_monotonic_time() - start) / 1000, caps->version, caps->machines->len,
            g_hash_table_size(caps->devices), caps->cpu_models->len);
    return g_steal_pointer(&caps);
}

/* ---------------------------------------------------------------------- */
/* the cache                                                              */

typedef struct {
    QemuCaps *caps;             /* the last good result, or NULL */
    bool busy;                  /* a thread is loading or probing */
    guint generation;           /* bumped whenever a load or probe ends */
    GError *error;              /* why the last one failed */
} QemuCapsEntry;

static struct {
    GMutex lock;
    GCond cond;                 /* an entry stopped being busy */
    char *dir;
    GHashTable *entries;        /* binary path -> QemuCapsEntry */
    GPtrArray *threads;         /* prefetch threads, joined by cleanup */
    guint probes;
} qemu_caps_cache;

static void
qemu_caps_entry_free(gpointer data)
{
    QemuCapsEntry *entry = data;

    qemu_caps_unref(entry->caps);
    g_clear_error(&entry->error);
    g_free(entry);
}

void
qemu_caps_cache_init(const char *cachedir)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&qemu_caps_cache.lock);

    g_free(qemu_caps_cache.dir);
    qemu_caps_cache.dir = g_strdup(cachedir);
    if (cachedir && g_mkdir_with_parents(cachedir, 0755) < 0)
        g_message("cannot create QEMU capabilities cache directory '%s': %s",
                  cachedir, g_strerror(errno));
    if (!qemu_caps_cache.entries)
        qemu_caps_cache.entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                        qemu_caps_entry_free);
    if (!qemu_caps_cache.threads)
        qemu_caps_cache.threads = g_ptr_array_new();
    qemu_caps_cache.probes = 0;
}

void
qemu_caps_cache_cleanup(void)
{
    GPtrArray *threads = NULL;

    g_mutex_lock(&qemu_caps_cache.lock);
    threads = g_steal_pointer(&qemu_caps_cache.threads);
    g_mutex_unlock(&qemu_caps_cache.lock);
    /* a prefetch still probing ends within the probe timeout */
    for (guint i = 0; threads && i < threads->len; i++)
        g_thread_join(g_ptr_array_index(threads, i));
    if (threads)
        g_ptr_array_free(threads, TRUE);

    g_mutex_lock(&qemu_caps_cache.lock);
    g_clear_pointer(&qemu_caps_cache.entries, g_hash_table_destroy);
    g_clear_pointer(&qemu_caps_cache.dir, g_free);
    g_mutex_unlock(&qemu_caps_cache.lock);
}

guint
qemu_caps_cache_probe_count(void)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&qemu_caps_cache.lock);

    return qemu_caps_cache.probes;
}

static char *
qemu_caps_cache_file_locked(const char *binary)
{
    g_autofree char *hash = NULL;
    g_autofree char *name = NULL;

    if (!qemu_caps_cache.dir)
        return NULL;
    hash = g_compute_checksum_for_string(G_CHECKSUM_SHA256, binary, -1);
    name = g_strdup_printf("%s.json", hash);
    return g_build_filename(qemu_caps_cache.dir, name, NULL);
}

char *
qemu_caps_cache_file(const char *binary)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&qemu_caps_cache.lock);

    return qemu_caps_cache_file_locked(binary);
}

/* Whether @caps were probed from the binary @binary is now (@st). */
static bool
qemu_caps_key_matches(const QemuCaps *caps, const char *binary, const struct stat *st,
                      bool kvm_device)
{
    return caps->binary && g_str_equal(caps->binary, binary) &&
           caps->binary_size == st->st_size &&
           caps->binary_mtime == st->st_mtim.tv_sec &&
           caps->binary_mtime_nsec == st->st_mtim.tv_nsec &&
           caps->binary_ctime == st->st_ctim.tv_sec &&
           caps->binary_ctime_nsec == st->st_ctim.tv_nsec &&
           caps->kvm_device == kvm_device;
}

/* The cached file for @binary if it is valid for @st; NULL (and a debug
 * line saying why) otherwise. */
static QemuCaps *
qemu_caps_cache_load(const char *file, const char *binary, const struct stat *st,
                     bool kvm_device)
{
    g_autoptr(GError) local = NULL;
    g_autoptr(QemuCaps) caps = NULL;

    if (!file || !g_file_test(file, G_FILE_TEST_EXISTS))
        return NULL;
    caps = qemu_caps_load_file(file, &local);
    if (!caps) {
        g_debug("ignoring cached capabilities of %s: %s", binary, local->message);
        return NULL;
    }
    if (!qemu_caps_key_matches(caps, binary, st, kvm_device)) {
        g_debug("cached capabilities of %s are out of date", binary);
        return NULL;
    }
    return g_steal_pointer(&caps);
}

static void
qemu_caps_cache_store(const char *file, const QemuCaps *caps)
{
    g_autoptr(GError) local = NULL;
    g_autofree char *json = NULL;

    if (!file)
        return;
    json = qemu_caps_to_json(caps);
    if (!util_file_write_atomic(file, json, strlen(json), 0644, &local))
        g_message("cannot save capabilities of %s: %s", caps->binary, local->message);
}

QemuCaps *
qemu_caps_cache_lookup(const char *binary, GError **error)
{
    g_autofree char *path = NULL;
    g_autofree char *file = NULL;
    g_autoptr(QemuCaps) caps = NULL;
    g_autoptr(GError) local = NULL;
    QemuCapsEntry *entry = NULL;
    struct stat st;
    bool kvm_device;
    bool probed = false;

    path = g_path_is_absolute(binary) ? g_strdup(binary) : g_find_program_in_path(binary);
    if (!path) {
        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "Cannot find QEMU binary %s: No such file or directory", binary);
        return NULL;
    }
    if (stat(path, &st) < 0) {
        util_error_set_errno(error, VIR_FROM_QEMU, errno, "Cannot check QEMU binary %s", path);
        return NULL;
    }
    kvm_device = caps_kvm_device_usable();

    g_mutex_lock(&qemu_caps_cache.lock);
    if (!qemu_caps_cache.entries)
        qemu_caps_cache.entries = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
                                                        qemu_caps_entry_free);
    entry = g_hash_table_lookup(qemu_caps_cache.entries, path);
    if (!entry) {
        entry = g_new0(QemuCapsEntry, 1);
        g_hash_table_insert(qemu_caps_cache.entries, g_strdup(path), entry);
    }
    while (true) {
        guint generation = entry->generation;

        if (entry->caps && qemu_caps_key_matches(entry->caps, path, &st, kvm_device)) {
            caps = qemu_caps_ref(entry->caps);
            g_mutex_unlock(&qemu_caps_cache.lock);
            return g_steal_pointer(&caps);
        }
        if (!entry->busy)
            break;
        while (entry->busy)
            g_cond_wait(&qemu_caps_cache.cond, &qemu_caps_cache.lock);
        /* the probe we waited for failed: share its error, do not retry */
        if (entry->generation != generation && entry->error) {
            g_propagate_error(error, g_error_copy(entry->error));
            g_mutex_unlock(&qemu_caps_cache.lock);
            return NULL;
        }
    }
    entry->busy = true;
    file = qemu_caps_cache_file_locked(path);
    g_mutex_unlock(&qemu_caps_cache.lock);

    caps = qemu_caps_cache_load(file, path, &st, kvm_device);
    if (!caps) {
        caps = qemu_caps_probe(path, &local);
        probed = true;
        if (caps)
            qemu_caps_cache_store(file, caps);
    }
    /* The JSON trees of a probe or a load (several hundred KiB in the
     * calling thread's malloc arena, among the few small blocks the result
     * keeps) are free now: give their pages back, or an idle daemon keeps
     * them resident for good.  What the thread's tcache still holds goes
     * back when the thread ends (qemu_caps_prefetch_reap). */
    malloc_trim(0);

    g_mutex_lock(&qemu_caps_cache.lock);
    if (probed)
        qemu_caps_cache.probes++;
    entry->busy = false;
    entry->generation++;
    g_clear_error(&entry->error);
    if (caps) {
        qemu_caps_unref(entry->caps);
        entry->caps = qemu_caps_ref(caps);
    } else {
        entry->error = g_error_copy(local);
    }
    g_cond_broadcast(&qemu_caps_cache.cond);
    g_mutex_unlock(&qemu_caps_cache.lock);

    if (!caps) {
        g_propagate_error(error, g_steal_pointer(&local));
        return NULL;
    }
    return g_steal_pointer(&caps);
}

QemuCaps *
qemu_caps_cache_lookup_default(GError **error)
{
    const char *arch = qemu_caps_host_arch();
    g_autofree char *emulator = qemu_caps_find_emulator(arch);

    if (!emulator) {
        const char *dir = g_getenv("MODVIRT_QEMU_DIR");

        util_error_set(error, VIR_FROM_QEMU, VIR_ERR_INTERNAL_ERROR,
                       "no QEMU emulator for host architecture '%s' found in %s", arch,
                       dir && *dir ? dir : "PATH");
        return NULL;
    }
    return qemu_caps_cache_lookup(emulator, error);
}

/* In the main loop, once a prefetch thread is done: join it, so that the
 * blocks its malloc cache (tcache) still held are back in its arena, and
 * give the arena's free pages back. */
static gboolean
qemu_caps_prefetch_reap(gpointer data)
{
    GThread *thread = data;
    bool ours = false;

    g_mutex_lock(&qemu_caps_cache.lock);
    /* qemu_caps_cache_cleanup() may have joined it already */
    if (qemu_caps_cache.threads)
        ours = g_ptr_array_remove_fast(qemu_caps_cache.threads, thread);
    g_mutex_unlock(&qemu_caps_cache.lock);
    if (ours) {
        g_thread_join(thread);
        malloc_trim(0);
    }
    g_thread_unref(thread);
    return G_SOURCE_REMOVE;
}

static gpointer
qemu_caps_prefetch_thread(gpointer data)
{
    g_autofree char *binary = data;
    g_autoptr(GError) local = NULL;
    g_autoptr(QemuCaps) caps = qemu_caps_cache_lookup(binary, &local);

    if (!caps)
        g_debug("prefetching capabilities of %s: %s", binary, local->message);
    g_idle_add_full(G_PRIORITY_LOW, qemu_caps_prefetch_reap, g_thread_ref(g_thread_self()), NULL);
    return NULL;
}

void
qemu_caps_cache_prefetch(const char *binary)
{
    g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&qemu_caps_cache.lock);
    QemuCapsEntry *entry = NULL;

    if (!qemu_caps_cache.threads)
        qemu_caps_cache.threads = g_ptr_array_new();
    if (qemu_caps_cache.entries)
        entry = g_hash_table_lookup(qemu_caps_cache.entries, binary);
    /* already being probed or loaded */
    if (entry && entry->busy)
        return;
    g_ptr_array_add(qemu_caps_cache.threads,
                    g_thread_new("qemu-caps", qemu_caps_prefetch_thread, g_strdup(binary)));
}

/*
 * test-config.c: libvirt-style configuration files (util-config).
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

#include "util-config.h"
#include "util-error.h"

typedef struct {
    GString *seen;
    const char *stop_at;
} Seen;

static bool
collect(const char *path, int line, const char *key, const char *value, gpointer data,
        GError **error)
{
    Seen *s = data;

    if (s->stop_at && g_str_equal(key, s->stop_at)) {
        util_error_set(error, VIR_FROM_CONF, VIR_ERR_CONF_SYNTAX, "%s:%d: stop", path, line);
        return false;
    }
    g_string_append_printf(s->seen, "%d:%s=[%s];", line, key, value);
    return true;
}

static char *
write_conf(const char *text)
{
    g_autoptr(GError) error = NULL;
    char *path = NULL;
    int fd = g_file_open_tmp("mvconf-XXXXXX", &path, &error);

    g_assert_no_error(error);
    g_assert_true(g_file_set_contents(path, text, -1, &error));
    close(fd);
    return path;
}

static void
test_settings(void)
{
    g_autofree char *path = write_conf("# a comment\n\n  max_clients = 5\nuser = \"modvirt-qemu\"\n"
                                       "empty =\nspaced=  a b  \n");
    Seen s = { g_string_new(NULL), NULL };
    g_autoptr(GError) error = NULL;

    g_assert_true(util_config_read(path, collect, &s, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(s.seen->str, ==,
                    "3:max_clients=[5];4:user=[modvirt-qemu];5:empty=[];6:spaced=[a b];");
    g_string_free(s.seen, TRUE);
    g_unlink(path);
}

static void
test_missing_file(void)
{
    Seen s = { g_string_new(NULL), NULL };
    g_autoptr(GError) error = NULL;

    g_assert_true(util_config_read("/nonexistent/modvirt.conf", collect, &s, &error));
    g_assert_no_error(error);
    g_assert_cmpstr(s.seen->str, ==, "");
    g_string_free(s.seen, TRUE);
}

static void
check_refused(const char *text, const char *want)
{
    g_autofree char *path = write_conf(text);
    Seen s = { g_string_new(NULL), "stop" };
    g_autoptr(GError) error = NULL;

    g_assert_false(util_config_read(path, collect, &s, &error));
    g_assert_nonnull(error);
    g_assert_cmpint(util_error_code(error), ==, VIR_ERR_CONF_SYNTAX);
    g_assert_cmpint(util_error_domain(error), ==, VIR_FROM_CONF);
    g_assert_nonnull(strstr(error->message, want));
    g_assert_nonnull(strstr(error->message, path));
    g_string_free(s.seen, TRUE);
    g_unlink(path);
}

static void
test_refused(void)
{
    check_refused("a = 1\nnot a setting\n", ":2: expected 'key = value'");
    check_refused("= 3\n", ":1: expected 'key = value'");
    check_refused("user = \"half\n", ":1: unbalanced quotes in the value of 'user'");
    check_refused("a = 1\nstop = 2\n", ":2: stop");
}

static void
test_unreadable(void)
{
    g_autofree char *dir = g_dir_make_tmp("mvconf-XXXXXX", NULL);
    g_autoptr(GError) error = NULL;
    Seen s = { g_string_new(NULL), NULL };

    /* a directory cannot be read as a file */
    g_assert_false(util_config_read(dir, collect, &s, &error));
    g_assert_cmpint(util_error_code(error), ==, VIR_ERR_CONF_SYNTAX);
    g_assert_nonnull(strstr(error->message, "cannot read configuration file"));
    g_string_free(s.seen, TRUE);
    g_rmdir(dir);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/config/settings", test_settings);
    g_test_add_func("/config/missing-file", test_missing_file);
    g_test_add_func("/config/refused", test_refused);
    g_test_add_func("/config/unreadable", test_unreadable);
    return g_test_run();
}

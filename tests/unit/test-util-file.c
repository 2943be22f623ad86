/*
 * test-util-file.c: state files written whole (util-file), and the
 * directories that keep removed files' inodes for reuse.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util-error.h"
#include "util-file.h"

static char *
make_dir(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("mvfile-XXXXXX", &error);

    g_assert_no_error(error);
    return dir;
}

static void
remove_dir(const char *path)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    const char *name;

    while (dir && (name = g_dir_read_name(dir))) {
        g_autofree char *p = g_build_filename(path, name, NULL);
        g_unlink(p);
    }
    g_rmdir(path);
}

static char *
read_file(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    char *text = NULL;

    if (!g_file_get_contents(path, &text, NULL, NULL))
        return NULL;
    return text;
}

static struct stat
stat_file(const char *dir, const char *name)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    struct stat st;

    g_assert_cmpint(lstat(path, &st), ==, 0);
    return st;
}

static gint
cmp_names(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names in @dir starting with @prefix, sorted, joined by ','. */
static char *
list_names(const char *path, const char *prefix)
{
    g_autoptr(GDir) dir = g_dir_open(path, 0, NULL);
    g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func(g_free);
    const char *name;

    while ((name = g_dir_read_name(dir)))
        if (g_str_has_prefix(name, prefix))
            g_ptr_array_add(names, g_strdup(name));
    g_ptr_array_sort(names, cmp_names);
    g_ptr_array_add(names, NULL);
    return g_strjoinv(",", (char **)names->pdata);
}

static void
write_ok(UtilFileDir *dir, const char *name, const char *text)
{
    g_autoptr(GError) error = NULL;

    g_assert_true(util_file_dir_write(dir, name, text, strlen(text), 0600, &error));
    g_assert_no_error(error);
}

static void
test_write_atomic(void)
{
    g_autofree char *dir = make_dir();
    g_autofree char *path = g_build_filename(dir, "a.xml", NULL);
    g_autoptr(GError) error = NULL;
    g_autofree char *text = NULL;
    g_autofree char *others = NULL;

    g_assert_true(util_file_write_atomic(path, "one", 3, 0600, &error));
    g_assert_true(util_file_write_atomic(path, "two!", 4, 0640, &error));
    g_assert_no_error(error);
    text = read_file(dir, "a.xml");
    g_assert_cmpstr(text, ==, "two!");
    g_assert_cmpint(stat_file(dir, "a.xml").st_mode & 07777, ==, 0640);
    others = list_names(dir, ".");
    g_assert_cmpstr(others, ==, "");            /* no temporary file left */
    remove_dir(dir);
}

static void
test_new_and_overwrite(void)
{
    g_autofree char *path = make_dir();
    g_autoptr(UtilFileDir) dir = util_file_dir_new(path);
    g_autofree char *text = NULL;
    g_autofree char *spares = NULL;
    g_autofree char *spare_text = NULL;
    struct stat first;
    struct stat second;

    write_ok(dir, "vm1.xml", "<domain>first</domain>\n");
    text = read_file(path, "vm1.xml");
    g_assert_cmpstr(text, ==, "<domain>first</domain>\n");
    g_assert_cmpint(stat_file(path, "vm1.xml").st_mode & 07777, ==, 0600);
    g_assert_cmpuint(util_file_dir_spares(dir), ==, 0);
    spares = list_names(path, "spare.");
    g_assert_cmpstr(spares, ==, "");
    first = stat_file(path, "vm1.xml");

    /* over it: the new text under the name, the old inode kept emptied */
    write_ok(dir, "vm1.xml", "<domain>2</domain>\n");
    g_free(text);
    text = read_file(path, "vm1.xml");
    g_assert_cmpstr(text, ==, "<domain>2</domain>\n");
    g_assert_cmpuint(util_file_dir_spares(dir), ==, 1);
    g_free(spares);
    spares = list_names(path, "spare.");
    g_assert_nonnull(strchr(spares, '.'));
    g_assert_null(strchr(spares, ','));
    spare_text = read_file(path, spares);
    g_assert_cmpstr(spare_text, ==, "");
    g_assert_cmpuint(stat_file(path, spares).st_ino, ==, first.st_ino);

    /* and the next write fills that inode rather than a new one */
    write_ok(dir, "vm2.xml", "<domain>vm2</domain>\n");
    second = stat_file(path, "vm2.xml");
    g_assert_cmpuint(second.st_ino, ==, first.st_ino);
    g_assert_cmpuint(util_file_dir_spares(dir), ==, 0);
    g_free(text);
    text = read_file(path, "vm2.xml");
    g_assert_cmpstr(text, ==, "<domain>vm2</domain>\n");
    remove_dir(path);
}

static void
test_remove_keeps_inode(void)
{
    g_autofree char *path = make_dir();
    g_autoptr(UtilFileDir) dir = util_file_dir_new(path);
    g_autoptr(GError) error = NULL;
    g_autofree char *spares = NULL;
    g_autofree char *spare_text = NULL;
    g_autofree char *gone = NULL;
    g_autofree char *text = NULL;
    struct stat st;

    write_ok(dir, "vm1.xml", "<domain>secret stuff</domain>\n");
    st = stat_file(path, "vm1.xml");
    g_assert_true(util_file_dir_remove(dir, "vm1.xml", &error));
    g_assert_no_error(error);
    gone = read_file(path, "vm1.xml");
    g_assert_null(gone);
    g_assert_cmpuint(util_file_dir_spares(dir), ==, 1);
    spares = list_names(path, "spare.");
    spare_text = read_file(path, spares);
    g_assert_cmpstr(spare_text, ==, "");        /* nothing of the old text stays */
    g_assert_cmpuint(stat_file(path, spares).st_ino, ==, st.st_ino);

    /* removing what is not there succeeds */
    g_assert_true(util_file_dir_remove(dir, "nothere.xml", &error));
    g_assert_no_error(error);

    /* a new directory object (a restart) finds the spare and reuses it */
    {
        g_autoptr(UtilFileDir) again = util_file_dir_new(path);

        write_ok(again, "vm3.xml", "<domain>3</domain>\n");
        g_assert_cmpuint(stat_file(path, "vm3.xml").st_ino, ==, st.st_ino);
        g_assert_cmpuint(util_file_dir_spares(again), ==, 0);
        text = read_file(path, "vm3.xml");
        g_assert_cmpstr(text, ==, "<domain>3</domain>\n");
    }
    remove_dir(path);
}

/* What a crash can leave: a spare with old text longer than the new one,
 * and a spare that is also linked under another name.  Neither may show
 * through: the short text is written exactly, the linked one never
 * written into. */
static void
test_leftover_spares(void)
{
    g_autofree char *path = make_dir();
    g_autofree char *big = g_build_filename(path, "spare.7", NULL);
    g_autofree char *linked = g_build_filename(path, "spare.9", NULL);
    g_autofree char *victim = g_build_filename(path, "victim.xml", NULL);
    g_autofree char *text = NULL;
    g_autofree char *victim_text = NULL;
    g_autofree char *left = NULL;
    g_autoptr(GError) error = NULL;

    g_assert_true(g_file_set_contents(big, "a long old text that must not survive", -1, &error));
    g_assert_true(g_file_set_contents(victim, "<domain>victim</domain>\n", -1, &error));
    g_assert_cmpint(chmod(big, 0600), ==, 0);
    g_assert_cmpint(link(victim, linked), ==, 0);

    {
        g_autoptr(UtilFileDir) dir = util_file_dir_new(path);

        write_ok(dir, "a.xml", "short");
        write_ok(dir, "b.xml", "<b/>");
        text = read_file(path, "b.xml");
        g_assert_cmpstr(text, ==, "<b/>");
        g_free(text);
        text = read_file(path, "a.xml");
        g_assert_cmpstr(text, ==, "short");
        /* the spare with two links was dropped (that name only) */
        g_assert_cmpint(access(linked, F_OK), ==, -1);
        g_assert_cmpuint(util_file_dir_spares(dir), ==, 0);
    }
    victim_text = read_file(path, "victim.xml");
    g_assert_cmpstr(victim_text, ==, "<domain>victim</domain>\n");
    g_assert_cmpint(stat_file(path, "victim.xml").st_nlink, ==, 1);
    left = list_names(path, "spare.");
    g_assert_cmpstr(left, ==, "");
    remove_dir(path);
}

static void
test_mode_applied(void)
{
    g_autofree char *path = make_dir();
    g_autoptr(UtilFileDir) dir = util_file_dir_new(path);
    g_autoptr(GError) error = NULL;

    write_ok(dir, "a", "x");
    g_assert_true(util_file_dir_remove(dir, "a", &error));
    /* a spare of mode 0600 reused for a 0644 file */
    g_assert_true(util_file_dir_write(dir, "b", "y", 1, 0644, &error));
    g_assert_no_error(error);
    g_assert_cmpint(stat_file(path, "b").st_mode & 07777, ==, 0644);
    remove_dir(path);
}

static void
test_errors(void)
{
    g_autofree char *path = make_dir();
    g_autofree char *missing = g_build_filename(path, "no-such-dir", NULL);
    g_autoptr(UtilFileDir) dir = util_file_dir_new(missing);
    g_autoptr(GError) error = NULL;

    g_assert_false(util_file_dir_write(dir, "a.xml", "x", 1, 0600, &error));
    g_assert_nonnull(error);
    g_assert_cmpint(util_error_code(error), ==, VIR_ERR_SYSTEM_ERROR);
    g_assert_nonnull(strstr(error->message, "no-such-dir"));
    g_clear_error(&error);
    g_assert_false(util_file_dir_remove(dir, "a.xml", &error));
    g_assert_nonnull(error);
    remove_dir(path);
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/util-file/write-atomic", test_write_atomic);
    g_test_add_func("/util-file/dir/new-and-overwrite", test_new_and_overwrite);
    g_test_add_func("/util-file/dir/remove-keeps-inode", test_remove_keeps_inode);
    g_test_add_func("/util-file/dir/leftover-spares", test_leftover_spares);
    g_test_add_func("/util-file/dir/mode", test_mode_applied);
    g_test_add_func("/util-file/dir/errors", test_errors);
    return g_test_run();
}

/*
 * test-host-idn.c: util_host_hostname() without libidn2.
 *
 * libvirt asks getaddrinfo for AI_CANONIDN, which makes glibc load libidn2
 * for good.  util_host_hostname() asks without it when libidn2's decoding
 * (idn2_to_unicode_lzlz, what glibc calls) would return the name unchanged
 * (util_host_name_idn_plain).  Checked here against libidn2 itself, and
 * end to end against libvirt's way of asking.
 */
#include <dlfcn.h>
#include <glib.h>
#include <netdb.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util-host.h"

#define IDN2_SONAME "libidn2.so.0"

static bool
idn2_mapped(void)
{
    void *handle = dlopen(IDN2_SONAME, RTLD_LAZY | RTLD_NOLOAD);

    if (!handle)
        return false;
    dlclose(handle);
    return true;
}

/* libvirt's virGetHostname, step for step (AI_CANONIDN included). */
static char *
libvirt_hostname(void)
{
    char name[HOST_NAME_MAX + 1] = "";
    struct addrinfo hints = { .ai_flags = AI_CANONNAME | AI_CANONIDN, .ai_family = AF_UNSPEC };
    struct addrinfo *info = NULL;
    char *result = NULL;

    g_assert_cmpint(gethostname(name, sizeof(name)), ==, 0);
    if (g_str_has_prefix(name, "localhost") || strchr(name, '.'))
        return g_strdup(name);
    if (getaddrinfo(name, NULL, &hints, &info) != 0)
        return g_strdup(name);
    if (!info->ai_canonname || g_str_has_prefix(info->ai_canonname, "localhost"))
        result = g_strdup(name);
    else
        result = g_strdup(info->ai_canonname);
    freeaddrinfo(info);
    return result;
}

/* First, before anything loads libidn2. */
static void
test_hostname_without_idn2(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *ours = NULL;
    g_autofree char *libvirt = NULL;

    if (idn2_mapped()) {
        g_test_skip("libidn2 is already loaded");
        return;
    }
    ours = util_host_hostname(&error);
    g_assert_no_error(error);
    g_assert_nonnull(ours);
    g_test_message("host name '%s'", ours);
    if (util_host_name_idn_plain(ours))
        g_assert_false(idn2_mapped());
    libvirt = libvirt_hostname();
    g_assert_cmpstr(ours, ==, libvirt);
}

static void
test_plain_names(void)
{
    const char *plain[] = {
        "vm", "host.example.org", "HOST.Example.ORG", "a", "x-n--b.example", "xn-.example",
        "xn", "foo.xn", "under_score.example", "trailing.dot.", "a..b", "",
        "123.45.67.89", "ns1.xnx--a.com", "axn--b.example",
        /* 63-byte label */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
    };
    const char *not_plain[] = {
        "xn--mnchen-3ya.de", "www.XN--MNCHEN-3YA.de", "Xn--abc", "a.xN--b",
        "m\xc3\xbcnchen.de", "caf\xe9.example",
        /* 64-byte label */
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
    };
    g_autofree char *long_name = NULL;
    GString *s = g_string_new(NULL);

    for (size_t i = 0; i < G_N_ELEMENTS(plain); i++)
        g_assert_true(util_host_name_idn_plain(plain[i]));
    for (size_t i = 0; i < G_N_ELEMENTS(not_plain); i++)
        g_assert_false(util_host_name_idn_plain(not_plain[i]));

    /* 255 bytes is the most libidn2 takes */
    while (s->len < 255)
        g_string_append(s, "abcdefgh.");
    g_string_truncate(s, 255);
    long_name = g_string_free(s, FALSE);
    g_assert_true(util_host_name_idn_plain(long_name));
    long_name = g_realloc(long_name, 257);
    strcpy(long_name + 255, "x");
    g_assert_false(util_host_name_idn_plain(long_name));
}

/* Whatever util_host_name_idn_plain() calls plain, libidn2's decoding
 * (what glibc applies for AI_CANONIDN) returns unchanged. */
static void
test_plain_means_unchanged(void)
{
    int (*to_unicode)(const char *input, char **output, int flags) = NULL;
    void *handle = dlopen(IDN2_SONAME, RTLD_NOW | RTLD_LOCAL);
    const char *names[] = {
        "vm", "host.example.org", "HOST.Example.ORG", "x-n--b.example", "xn-.example",
        "under_score.example", "trailing.dot.", "a..b", "ns1.xnx--a.com",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
        "xn--mnchen-3ya.de", "www.XN--MNCHEN-3YA.de",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.example",
    };

    if (!handle) {
        g_test_skip("libidn2 is not installed");
        return;
    }
    to_unicode = (int (*)(const char *, char **, int))dlsym(handle, "idn2_to_unicode_lzlz");
    g_assert_nonnull(to_unicode);
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        char *out = NULL;
        int rc = to_unicode(names[i], &out, 0);
        bool unchanged = rc == 0 && g_strcmp0(out, names[i]) == 0;

        g_test_message("%s: rc %d, '%s'", names[i], rc, out ? out : "");
        if (util_host_name_idn_plain(names[i]))
            g_assert_true(unchanged);
        free(out);
    }
    /* and the ones it is careful about do change or fail */
    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        char *out = NULL;
        int rc = to_unicode(names[i], &out, 0);

        if (!util_host_name_idn_plain(names[i]))
            g_assert_true(rc != 0 || g_strcmp0(out, names[i]) != 0);
        free(out);
    }
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/host-idn/hostname-without-idn2", test_hostname_without_idn2);
    g_test_add_func("/host-idn/plain-names", test_plain_names);
    g_test_add_func("/host-idn/plain-means-unchanged", test_plain_means_unchanged);
    return g_test_run();
}

/*
 * util-config.c: reading libvirt-style configuration files.
 */
#define G_LOG_DOMAIN "modvirt.util"

#include "util-config.h"

#include <string.h>

#include "util-error.h"

bool
util_config_read(const char *path, UtilConfigFunc func, gpointer data, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    g_auto(GStrv) lines = NULL;

    if (!g_file_get_contents(path, &text, NULL, &local)) {
        if (g_error_matches(local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
            return true;
        util_error_set(error, VIR_FROM_CONF, VIR_ERR_CONF_SYNTAX,
                       "cannot read configuration file '%s': %s", path, local->message);
        return false;
    }
    lines = g_strsplit(text, "\n", -1);
    for (int i = 0; lines[i]; i++) {
        char *line = g_strstrip(lines[i]);
        char *eq;
        char *val;
        size_t len;
        g_autofree char *key = NULL;

        if (*line == '#' || *line == '\0')
            continue;
        eq = strchr(line, '=');
        key = eq ? g_strstrip(g_strndup(line, eq - line)) : NULL;
        if (!key || !*key) {
            util_error_set(error, VIR_FROM_CONF, VIR_ERR_CONF_SYNTAX,
                           "%s:%d: expected 'key = value'", path, i + 1);
            return false;
        }
        val = g_strstrip(eq + 1);
        len = strlen(val);
        if (len >= 2 && val[0] == '"' && val[len - 1] == '"') {
            val[len - 1] = '\0';
            val++;
        } else if (strchr(val, '"')) {
            util_error_set(error, VIR_FROM_CONF, VIR_ERR_CONF_SYNTAX,
                           "%s:%d: unbalanced quotes in the value of '%s'", path, i + 1, key);
            return false;
        }
        if (!func(path, i + 1, key, val, data, error))
            return false;
    }
    return true;
}

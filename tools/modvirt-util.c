/*
 * modvirt-util.c: what several command files of the modvirt CLI use:
 * numbers read as virsh reads them, domain lookup, tables, XML queries.
 */
#define G_LOG_DOMAIN "modvirt.cli"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#include <libxml/parser.h>

#include "modvirt.h"

/* ------------------------------------------------------------ options */

int
cli_arg_string_req(const CliArgs *args, const char *name, const char **ret_value)
{
    const char *value = cli_arg_string(args, name);

    *ret_value = NULL;
    if (value && !*value) {
        cli_error("Failed to get option '%s': Option argument is empty", name);
        return -1;
    }
    *ret_value = value;
    return 0;
}

bool
cli_exclusive(const CliArgs *args, const char *a, const char *b)
{
    if (cli_arg_bool(args, a) && cli_arg_bool(args, b)) {
        cli_error("Options --%s and --%s are mutually exclusive", a, b);
        return false;
    }
    return true;
}

bool
cli_requires(const CliArgs *args, const char *a, const char *b)
{
    if (cli_arg_bool(args, a) && !cli_arg_bool(args, b)) {
        cli_error("Option --%s is required by option --%s", b, a);
        return false;
    }
    return true;
}

/* g_ascii_strtoull over all of @text, as libvirt's virStrToLong_* do:
 * false if nothing was read, the value overflowed, or (without
 * @ret_end) something follows the digits. */
static bool
cli_strtoull(const char *text, unsigned long long *ret_value, bool *ret_negative,
             const char **ret_end)
{
    char *end = NULL;
    unsigned long long value = 0;

    errno = 0;
    value = g_ascii_strtoull(text, &end, 10);
    *ret_negative = memchr(text, '-', end - text) != NULL;
    if (ret_end)
        *ret_end = end;
    if (errno || end == text || (!ret_end && *end))
        return false;
    *ret_value = value;
    return true;
}

static void
cli_numeric_error(const char *value, const char *name)
{
    cli_error("Numeric value '%s' for <%s> option is malformed or out of range", value, name);
}

int
cli_arg_uint(const CliArgs *args, const char *name, unsigned int *ret_value)
{
    const char *text = cli_arg_string(args, name);
    unsigned long long value = 0;
    bool negative = false;

    if (!text)
        return 0;
    if (!cli_strtoull(text, &value, &negative, NULL) || negative || value > UINT_MAX) {
        cli_numeric_error(text, name);
        return -1;
    }
    *ret_value = (unsigned int)value;
    return 1;
}

int
cli_arg_ullong(const CliArgs *args, const char *name, unsigned long long *ret_value)
{
    const char *text = cli_arg_string(args, name);
    unsigned long long value = 0;
    bool negative = false;

    if (!text)
        return 0;
    if (!cli_strtoull(text, &value, &negative, NULL) || negative) {
        cli_numeric_error(text, name);
        return -1;
    }
    *ret_value = value;
    return 1;
}

int
cli_arg_timeout_ms(const CliArgs *args, int *ret_value)
{
    unsigned int seconds = 0;
    int rc = cli_arg_uint(args, "timeout", &seconds);

    if (rc <= 0)
        return rc;
    if (seconds == 0 || seconds > INT_MAX / 1000) {
        /* virsh prints the number it read, not the text */
        g_autofree char *text = g_strdup_printf("%u", seconds);

        cli_numeric_error(text, "timeout");
        return -1;
    }
    *ret_value = (int)seconds * 1000;
    return 1;
}

/* libvirt's scaling of "10M", "5KB", "3GiB", "7b": 1024-based without
 * "B" or with "iB", 1000-based with "B"; false with the library's
 * message kept for the end of the command. */
static bool
cli_scale(unsigned long long *value, const char *suffix, unsigned long long limit)
{
    static const char units[] = "kmgtpe";
    unsigned long long scale = 1;

    if (*suffix && g_ascii_strcasecmp(suffix, "b") != 0 &&
        g_ascii_strcasecmp(suffix, "byte") != 0 && g_ascii_strcasecmp(suffix, "bytes") != 0) {
        const char *unit = strchr(units, g_ascii_tolower(suffix[0]));
        unsigned int base = 0;

        if (!suffix[1] || g_ascii_strcasecmp(suffix + 1, "iB") == 0)
            base = 1024;
        else if (g_ascii_tolower(suffix[1]) == 'b' && !suffix[2])
            base = 1000;
        if (!base || !unit) {
            g_autofree char *msg = g_strdup_printf("invalid argument: unknown suffix '%s'", suffix);

            cli_set_last_error(msg);
            return false;
        }
        for (const char *u = units; u <= unit; u++)
            scale *= base;
    }
    if (*value && *value > limit / scale) {
        g_autofree char *msg = g_strdup_printf("numerical overflow: value too large: %llu%s",
                                               *value, suffix);

        cli_set_last_error(msg);
        return false;
    }
    *value *= scale;
    return true;
}

int
cli_arg_bandwidth(const CliArgs *args, bool bytes, unsigned long *ret_value)
{
    const char *text = cli_arg_string(args, "bandwidth");
    unsigned long long value = 0;
    bool negative = false;
    const char *end = NULL;

    if (!text)
        return 0;
    /* A plain number; a negative one wraps around (-1 is the maximum). */
    if (cli_strtoull(text, &value, &negative, NULL)) {
        if (!negative && value <= ULONG_MAX) {
            *ret_value = value;
            return 1;
        }
        if (negative && -value <= ULONG_MAX) {
            *ret_value = value & ULONG_MAX;
            return 1;
        }
    }
    /* A scaled number of bytes/s. */
    if (!cli_strtoull(text, &value, &negative, &end) || negative ||
        !cli_scale(&value, end, ULONG_MAX)) {
        cli_error("Scaled numeric value '%s' for <--bandwidth> option is malformed or out of range",
                  text);
        return -1;
    }
    *ret_value = bytes ? value : value >> 20;
    return 1;
}

/* ------------------------------------------------------------ helpers */

virDomainPtr
cli_domain(Cli *cli, const CliArgs *args, const char *opt, CliLookup by)
{
    const char *text = NULL;
    virDomainPtr dom = NULL;
    guint64 id = 0;

    if (cli_arg_string_req(args, opt, &text) < 0)
        return NULL;
    if ((by & CLI_BY_ID) &&
        g_ascii_string_to_unsigned(text, 10, 0, G_MAXINT, &id, NULL))
        dom = virDomainLookupByID(cli->conn, (int)id);
    if (!dom && (by & CLI_BY_UUID) && strlen(text) == VIR_UUID_STRING_BUFLEN - 1)
        dom = virDomainLookupByUUIDString(cli->conn, text);
    if (!dom && (by & CLI_BY_NAME))
        dom = virDomainLookupByName(cli->conn, text);
    cli_reset_error();
    if (!dom)
        cli_error("failed to get domain '%s'", text);
    return dom;
}

char *
cli_read_file(const char *path)
{
    g_autoptr(GString) contents = g_string_new(NULL);
    char buf[4096];
    FILE *fp = fopen(path, "re");
    size_t n = 0;

    if (!fp) {
        /* virsh's words, with the system's reason */
        cli_error("Failed to open file '%s': %s", path, g_strerror(errno));
        return NULL;
    }
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        g_string_append_len(contents, buf, n);
    if (ferror(fp)) {
        cli_error("Failed to read file '%s': %s", path, g_strerror(errno));
        fclose(fp);
        return NULL;
    }
    fclose(fp);
    return g_string_free(g_steal_pointer(&contents), FALSE);
}

const char *
cli_name(const char *const *names, size_t len, int value, const char *fallback)
{
    return value >= 0 && (size_t)value < len && names[value] ? names[value] : fallback;
}

const char *
cli_block_job_type_name(int type)
{
    static const char *const names[] = {
        [VIR_DOMAIN_BLOCK_JOB_TYPE_UNKNOWN] = "Unknown job",
        [VIR_DOMAIN_BLOCK_JOB_TYPE_PULL] = "Block Pull",
        [VIR_DOMAIN_BLOCK_JOB_TYPE_COPY] = "Block Copy",
        [VIR_DOMAIN_BLOCK_JOB_TYPE_COMMIT] = "Block Commit",
        [VIR_DOMAIN_BLOCK_JOB_TYPE_ACTIVE_COMMIT] = "Active Block Commit",
        [VIR_DOMAIN_BLOCK_JOB_TYPE_BACKUP] = "Backup",
    };

    return cli_name(names, G_N_ELEMENTS(names), type, "Unknown job");
}

double
cli_pretty_capacity(unsigned long long value, const char **ret_unit)
{
    static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    double limit = 1024;
    double scaled = value;

    for (size_t i = 0; i < G_N_ELEMENTS(units); i++) {
        if (value < limit) {
            *ret_unit = units[i];
            return scaled;
        }
        limit *= 1024;
        scaled = value / (limit / 1024);
    }
    *ret_unit = "EiB";
    return value / (limit / 1024);
}

/* ------------------------------------------------------------ tables */

static char **
cli_strv_va(const char *first, va_list ap)
{
    g_autoptr(GPtrArray) cells = g_ptr_array_new();

    for (const char *cell = first; cell; cell = va_arg(ap, const char *))
        g_ptr_array_add(cells, g_strdup(cell));
    g_ptr_array_add(cells, NULL);
    return (char **)g_ptr_array_free(g_steal_pointer(&cells), FALSE);
}

CliTable *
cli_table_new(const char *first, ...)
{
    CliTable *table = g_new0(CliTable, 1);
    char **header = NULL;
    va_list ap;

    va_start(ap, first);
    header = cli_strv_va(first, ap);
    va_end(ap);
    table->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    table->ncols = g_strv_length(header);
    g_ptr_array_add(table->rows, header);
    return table;
}

void
cli_table_add(CliTable *table, const char *first, ...)
{
    char **row = NULL;
    va_list ap;

    va_start(ap, first);
    row = cli_strv_va(first, ap);
    va_end(ap);
    g_assert(g_strv_length(row) == table->ncols);
    g_ptr_array_add(table->rows, row);
}

void
cli_table_print(Cli *cli, const CliTable *table)
{
    g_autofree size_t *widths = g_new0(size_t, table->ncols);
    guint first = cli->quiet ? 1 : 0;

    for (guint r = first; r < table->rows->len; r++) {
        char **row = table->rows->pdata[r];

        for (size_t c = 0; c < table->ncols; c++)
            widths[c] = MAX(widths[c], (size_t)g_utf8_strlen(row[c], -1));
    }
    for (guint r = first; r < table->rows->len; r++) {
        char **row = table->rows->pdata[r];

        for (size_t c = 0; c < table->ncols; c++) {
            printf(" %s", row[c]);
            if (c + 1 < table->ncols)
                printf("%*s", (int)(widths[c] - g_utf8_strlen(row[c], -1) + 2), "");
        }
        printf("\n");
        if (r == 0) {
            for (size_t c = 0; c < table->ncols; c++)
                for (size_t i = 0; i < widths[c] + 3; i++)
                    putchar('-');
            printf("\n");
        }
    }
}

void
cli_table_free(CliTable *table)
{
    if (!table)
        return;
    g_ptr_array_free(table->rows, TRUE);
    g_free(table);
}

/* ------------------------------------------------------------ XML */

CliXml *
cli_xml_parse(const char *xml, const char *what)
{
    g_autoptr(CliXml) ret = g_new0(CliXml, 1);

    ret->doc = xmlReadMemory(xml, strlen(xml), what, NULL,
                             XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!ret->doc || !xmlDocGetRootElement(ret->doc) ||
        !(ret->ctxt = xmlXPathNewContext(ret->doc))) {
        cli_error("failed to parse %s", what);
        return NULL;
    }
    ret->ctxt->node = xmlDocGetRootElement(ret->doc);
    return g_steal_pointer(&ret);
}

void
cli_xml_free(CliXml *xml)
{
    if (!xml)
        return;
    xmlXPathFreeContext(xml->ctxt);
    xmlFreeDoc(xml->doc);
    g_free(xml);
}

static xmlXPathObjectPtr
cli_xpath_eval(CliXml *xml, xmlNodePtr node, const char *expr)
{
    xml->ctxt->node = node ? node : xmlDocGetRootElement(xml->doc);
    return xmlXPathEvalExpression((const xmlChar *)expr, xml->ctxt);
}

char *
cli_xpath_string(CliXml *xml, xmlNodePtr node, const char *expr)
{
    xmlXPathObjectPtr obj = cli_xpath_eval(xml, node, expr);
    char *ret = NULL;

    if (obj && obj->type == XPATH_STRING && obj->stringval && *obj->stringval)
        ret = g_strdup((const char *)obj->stringval);
    xmlXPathFreeObject(obj);
    return ret;
}

xmlNodePtr *
cli_xpath_nodes(CliXml *xml, xmlNodePtr node, const char *expr, int *ret_count)
{
    xmlXPathObjectPtr obj = cli_xpath_eval(xml, node, expr);
    xmlNodePtr *nodes = NULL;
    int count = 0;

    if (obj && obj->type == XPATH_NODESET && obj->nodesetval) {
        count = obj->nodesetval->nodeNr;
        nodes = g_new0(xmlNodePtr, count + 1);
        for (int i = 0; i < count; i++)
            nodes[i] = obj->nodesetval->nodeTab[i];
    }
    xmlXPathFreeObject(obj);
    *ret_count = count;
    return nodes;
}

int
cli_xpath_boolean(CliXml *xml, xmlNodePtr node, const char *expr)
{
    xmlXPathObjectPtr obj = cli_xpath_eval(xml, node, expr);
    int ret = -1;

    if (obj && obj->type == XPATH_BOOLEAN)
        ret = obj->boolval ? 1 : 0;
    xmlXPathFreeObject(obj);
    return ret;
}

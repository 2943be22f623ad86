/*
 * fuzz-xml.c: the XML parsers of shared/conf (domain and snapshot
 * definitions, status XML) fed damaged documents.
 *
 * Seeds: every document of tests/data/domain and tests/data/snapshot, the
 * invalid ones included.  Mutations: bytes, tokens of the seeds' grammar
 * (element and attribute names), an element or attribute written twice,
 * deep nesting, huge and odd numbers, invalid UTF-8, entities.
 *
 * Whatever the input, the parser answers a definition or an error with a
 * message; a definition must format, and the formatted XML must parse again
 * and format to the same text (for the live, inactive and status forms of
 * a domain, and for a snapshot as its metadata file stores it).  A copy of
 * a definition formats the same as the original.
 */
#define G_LOG_DOMAIN "modvirt.test.fuzz.xml"

#include <string.h>

#include <glib.h>

#include "conf-domain.h"
#include "conf-snapshot.h"
#include "fuzz-common.h"
#include "util-error.h"

#ifndef MODVIRT_SRCDIR
#define MODVIRT_SRCDIR "."
#endif

typedef struct {
    GPtrArray *docs;        /* GByteArray*, NUL not included */
    GPtrArray *names;       /* char*, file names */
    GPtrArray *tokens;      /* char*, the grammar's words */
    FuzzDict dict;
} XmlCorpus;

static XmlCorpus domain_corpus;
static XmlCorpus snapshot_corpus;
/* a domain with disks, for conf_snapshot_align_disks */
static ConfDomainDef *align_domain;

static const char *const extra_tokens[] = {
    "&#0;", "&#x110000;", "&amp;", "&lt;", "&undefined;", "&#xD800;", "<![CDATA[x]]>",
    "<!-- c -->", "<?pi x?>", "<!DOCTYPE d [<!ENTITY e 'x'>]>", "&e;", "xmlns:a='urn:x'",
    "\xff", "\xc3", "\xc3\x28", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xc0\xaf", "\t", "\r\n",
    "'", "\"", "<", ">", "/>", "=", "</", " ",
};

/* attribute values and element text that keep the document well-formed */
static const char *const values[] = {
    "", " ", "yes", "no", "on", "off", "default", "none", "x", "a b", "../../etc/passwd",
    "/", "/dev/null", "-", "&amp;", "&lt;&gt;", "&#233;", "\xc3\xa9", "vda", "hda", "sda",
    "qcow2", "raw", "file", "block", "network", "kvm", "qemu", "hvm", "x86_64", "pc", "q35",
    "52:54:00:00:00:01", "ff:ff:ff:ff:ff:ff", "00000000-0000-0000-0000-000000000000",
    "9d1b2c3d-4e5f-4a6b-8c7d-0e1f2a3b4c5d", "KiB", "b", "EiB", "TiB", "%", "%s%n",
    "disk", "cdrom", "virtio", "ide", "sata", "scsi", "usb", "external", "internal", "manual",
};

static const char *const numbers[] = {
    "0", "-1", "1", "007", " 5", "5 ", "+5", "0x10", "1e3", "1.5", "",
    "4294967295", "4294967296", "2147483648", "-2147483649",
    "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "18446744073709551615", "18446744073709551616", "99999999999999999999999999",
};

/* ------------------------------------------------------------ corpus */

static void
corpus_add_words(GHashTable *words, const char *text)
{
    for (const char *p = text; (p = strchr(p, '<')); p++) {
        const char *start = p + 1;
        size_t n;

        if (*start == '/' || *start == '!' || *start == '?')
            continue;
        n = strspn(start, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-:.");
        if (n) {
            g_autofree char *name = g_strndup(start, n);

            g_hash_table_add(words, g_strdup_printf("<%s>", name));
            g_hash_table_add(words, g_strdup_printf("</%s>", name));
            g_hash_table_add(words, g_strdup_printf("<%s/>", name));
        }
    }
    for (const char *p = text; (p = strstr(p, "='")); p++) {
        const char *start = p;

        while (start > text && (g_ascii_isalnum(start[-1]) || start[-1] == '_' || start[-1] == ':'))
            start--;
        if (start < p) {
            g_autofree char *name = g_strndup(start, (gsize)(p - start));

            g_hash_table_add(words, g_strdup_printf(" %s='x'", name));
            g_hash_table_add(words, g_strdup_printf(" %s=''", name));
        }
    }
}

static gint
cmp_str(gconstpointer a, gconstpointer b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
corpus_load(XmlCorpus *c, const char *sub)
{
    const char *datadir = g_getenv("MODVIRT_TEST_DATADIR");
    g_autofree char *dir = g_build_filename(datadir ? datadir : MODVIRT_SRCDIR "/tests/data",
                                            sub, NULL);
    g_autoptr(GPtrArray) files = fuzz_list_dir(dir, ".xml");
    g_autoptr(GHashTable) words = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GHashTableIter it;
    gpointer key;

    c->docs = g_ptr_array_new_with_free_func((GDestroyNotify)g_byte_array_unref);
    c->names = g_ptr_array_new_with_free_func(g_free);
    c->tokens = g_ptr_array_new_with_free_func(g_free);
    for (guint i = 0; i < files->len; i++) {
        const char *path = files->pdata[i];
        GByteArray *doc;
        guint8 nul = 0;

        /* formatter outputs are seeds too, but the inputs cover them */
        if (g_str_has_suffix(path, ".out.xml"))
            continue;
        doc = fuzz_read_file(path);
        g_byte_array_append(doc, &nul, 1);
        corpus_add_words(words, (const char *)doc->data);
        g_byte_array_set_size(doc, doc->len - 1);
        g_ptr_array_add(c->docs, doc);
        g_ptr_array_add(c->names, g_path_get_basename(path));
    }
    if (c->docs->len < 5)
        g_error("only %u seed documents in %s", c->docs->len, dir);
    g_hash_table_iter_init(&it, words);
    while (g_hash_table_iter_next(&it, &key, NULL))
        g_ptr_array_add(c->tokens, g_strdup(key));
    g_ptr_array_sort(c->tokens, cmp_str);   /* hash order is not deterministic */
    for (size_t i = 0; i < G_N_ELEMENTS(extra_tokens); i++)
        g_ptr_array_add(c->tokens, g_strdup(extra_tokens[i]));
    c->dict.tokens = (const char *const *)c->tokens->pdata;
    c->dict.n_tokens = c->tokens->len;
    g_test_message("%u %s seeds, %u tokens", c->docs->len, sub, c->tokens->len);
}

static void
corpus_clear(XmlCorpus *c)
{
    g_ptr_array_unref(c->docs);
    g_ptr_array_unref(c->names);
    g_ptr_array_unref(c->tokens);
}

/* ------------------------------------------------------------ mutations */

static void
text_insert(GByteArray *buf, gsize at, const char *s, gsize n)
{
    guint old = buf->len;

    g_byte_array_set_size(buf, old + (guint)n);
    memmove(buf->data + at + n, buf->data + at, old - at);
    memcpy(buf->data + at, s, n);
}

/* The offset of a random element's '<' (not a closing tag, comment or PI),
 * or -1. */
static gssize
pick_element(GRand *rand, const GByteArray *buf)
{
    for (int tries = 0; tries < 16 && buf->len > 1; tries++) {
        gsize at = (gsize)g_rand_int_range(rand, 0, (gint32)buf->len - 1);
        const guint8 *lt = memchr(buf->data + at, '<', buf->len - at - 1);

        if (lt && g_ascii_isalpha(lt[1]))
            return lt - buf->data;
    }
    return -1;
}

/* The end (one past) of the element starting at @start: its "/>" or the
 * first "</name>" after it; 0 if not found. */
static gsize
element_end(const GByteArray *buf, gsize start)
{
    const char *s = (const char *)buf->data;
    gsize n = 1;
    g_autofree char *close = NULL;
    const char *gt;
    const char *end;

    while (start + n < buf->len && (g_ascii_isalnum(s[start + n]) || strchr("_-:.", s[start + n])))
        n++;
    gt = memchr(s + start, '>', buf->len - start);
    if (!gt)
        return 0;
    if (gt > s + start && gt[-1] == '/')
        return (gsize)(gt - s) + 1;
    close = g_strdup_printf("</%.*s>", (int)(n - 1), s + start + 1);
    end = g_strstr_len(gt, (gssize)(buf->len - (gsize)(gt - s)), close);
    return end ? (gsize)(end - s) + strlen(close) : 0;
}

/* A random quoted attribute value or element text: [*ret_start, *ret_end). */
static bool
pick_value(GRand *rand, const GByteArray *buf, bool attribute, gsize *ret_start, gsize *ret_end)
{
    const char *s = (const char *)buf->data;

    for (int tries = 0; tries < 16 && buf->len > 2; tries++) {
        gsize at = (gsize)g_rand_int_range(rand, 0, (gint32)buf->len - 1);
        const char *open = memchr(s + at, attribute ? '=' : '>', buf->len - at - 1);
        const char *close;

        if (!open)
            continue;
        if (attribute) {
            char quote = open[1];

            if (quote != '\'' && quote != '"')
                continue;
            open += 2;
            close = memchr(open, quote, buf->len - (gsize)(open - s));
        } else {
            open += 1;
            close = memchr(open, '<', buf->len - (gsize)(open - s));
            /* text, not the blanks between elements */
            if (!close || close == open || g_ascii_isspace(*open))
                continue;
        }
        if (!close)
            continue;
        *ret_start = (gsize)(open - s);
        *ret_end = (gsize)(close - s);
        return true;
    }
    return false;
}

static void
xml_edit(GRand *rand, GByteArray *buf, const XmlCorpus *c)
{
    switch (g_rand_int_range(rand, 0, 11)) {
    case 0: { /* an element written twice */
        gssize start = pick_element(rand, buf);
        gsize end = start >= 0 ? element_end(buf, (gsize)start) : 0;

        if (end > (gsize)start) {
            g_autofree char *copy = g_memdup2(buf->data + start, end - (gsize)start);

            text_insert(buf, end, copy, end - (gsize)start);
        }
        break;
    }
    case 1: { /* an element removed, or moved before another one */
        gssize start = pick_element(rand, buf);
        gsize end = start >= 0 ? element_end(buf, (gsize)start) : 0;

        if (end > (gsize)start) {
            g_autofree char *copy = g_memdup2(buf->data + start, end - (gsize)start);
            gssize to;

            g_byte_array_remove_range(buf, (guint)start, (guint)(end - (gsize)start));
            if (g_rand_boolean(rand) && (to = pick_element(rand, buf)) >= 0)
                text_insert(buf, (gsize)to, copy, end - (gsize)start);
        }
        break;
    }
    case 2: { /* an attribute written twice, or removed */
        gssize start = pick_element(rand, buf);
        const guint8 *gt, *eq;

        if (start < 0 || !(gt = memchr(buf->data + start, '>', buf->len - (gsize)start)))
            break;
        if ((eq = memchr(buf->data + start, '=', (gsize)(gt - buf->data) - (gsize)start))) {
            const guint8 *name = eq, *val_end;
            guint8 quote = eq[1];

            while (name > buf->data && name[-1] != ' ' && name[-1] != '\n')
                name--;
            if ((quote != '\'' && quote != '"') ||
                !(val_end = memchr(eq + 2, quote, (gsize)(gt - eq))))
                break;
            {
                gsize from = (gsize)(name - buf->data);
                gsize n = (gsize)(val_end - name) + 1;
                g_autofree char *copy = g_malloc(n + 1);

                /* memcpy: the text may hold NUL bytes */
                copy[0] = ' ';
                memcpy(copy + 1, name, n);

                if (g_rand_boolean(rand))
                    text_insert(buf, from + n, copy, n + 1);
                else
                    g_byte_array_remove_range(buf, (guint)from, (guint)n);
            }
        }
        break;
    }
    case 3: { /* deep nesting around a random point */
        static const guint depths[] = { 10, 126, 127, 128, 129, 300, 3000 };
        guint depth = depths[g_rand_int_range(rand, 0, G_N_ELEMENTS(depths))];
        gssize start = pick_element(rand, buf);
        g_autoptr(GString) open = g_string_new(NULL);
        g_autoptr(GString) close = g_string_new(NULL);
        gsize end;

        if (start < 0)
            break;
        end = element_end(buf, (gsize)start);
        for (guint i = 0; i < depth; i++) {
            g_string_append(open, "<n>");
            g_string_append(close, "</n>");
        }
        if (end > (gsize)start && g_rand_boolean(rand))
            text_insert(buf, end, close->str, close->len);
        else
            end = 0;
        text_insert(buf, (gsize)start, open->str, open->len);
        if (!end && g_rand_boolean(rand))
            text_insert(buf, (gsize)start + open->len, close->str, close->len);
        break;
    }
    case 4: { /* a number made huge, negative or odd */
        const char *num = numbers[g_rand_int_range(rand, 0, G_N_ELEMENTS(numbers))];

        for (int tries = 0; tries < 8 && buf->len; tries++) {
            gsize at = (gsize)g_rand_int_range(rand, 0, (gint32)buf->len);
            gsize end;

            while (at < buf->len && !g_ascii_isdigit(buf->data[at]))
                at++;
            if (at >= buf->len)
                continue;
            for (end = at; end < buf->len && g_ascii_isdigit(buf->data[end]); end++)
                ;
            g_byte_array_remove_range(buf, (guint)at, (guint)(end - at));
            text_insert(buf, at, num, strlen(num));
            break;
        }
        break;
    }
    case 5:
    case 6:
    case 7: { /* another attribute value or element text */
        gsize start, end;

        if (pick_value(rand, buf, g_rand_boolean(rand), &start, &end)) {
            const char *v;
            g_autofree char *big = NULL;

            switch (g_rand_int_range(rand, 0, 8)) {
            case 0:
                v = numbers[g_rand_int_range(rand, 0, G_N_ELEMENTS(numbers))];
                break;
            case 1:
                v = big = g_strnfill((gsize)g_rand_int_range(rand, 256, 70000), 'a');
                break;
            default:
                v = values[g_rand_int_range(rand, 0, G_N_ELEMENTS(values))];
                break;
            }
            g_byte_array_remove_range(buf, (guint)start, (guint)(end - start));
            text_insert(buf, start, v, strlen(v));
        }
        break;
    }
    case 8: { /* a token of the grammar between two elements */
        const char *t = c->dict.tokens[g_rand_int_range(rand, 0, (gint32)c->dict.n_tokens)];
        gssize at = pick_element(rand, buf);

        if (at >= 0)
            text_insert(buf, (gsize)at, t, strlen(t));
        break;
    }
    default: /* bytes and tokens anywhere */
        fuzz_mutate(rand, buf, 2, &c->dict, c->docs);
        break;
    }
}

/* A NUL-terminated copy of exactly @buf's bytes, so that reading past the
 * end is caught. */
static char *
exact_text(const GByteArray *buf)
{
    char *s = g_malloc(buf->len + 1);

    memcpy(s, buf->data, buf->len);
    s[buf->len] = '\0';
    return s;
}

static void
mutate_document(GRand *rand, guint iteration, const XmlCorpus *c, GByteArray *buf)
{
    const GByteArray *seed = c->docs->pdata[iteration % c->docs->len];

    g_byte_array_append(buf, seed->data, seed->len);
    /* the first pass over the seeds is unmutated */
    if (iteration < c->docs->len)
        return;
    for (guint i = 0, n = g_rand_int_range(rand, 0, 3) ? 1 : 3; i < n; i++)
        xml_edit(rand, buf, c);
}

static void
assert_error(const GError *error, const char *what)
{
    if (!error)
        g_error("%s failed without an error", what);
    g_assert_nonnull(error->message);
    g_assert_cmpuint(strlen(error->message), >, 0);
    g_assert_cmpint(util_error_code(error), !=, VIR_ERR_OK);
}

/* ------------------------------------------------------------ domains */

/* format(@def) parses again and formats to the same text.  With @settle,
 * runtime data that a plain parse drops may go once (the live XML of a
 * running domain handed back by a client): the second output must then be
 * stable. */
static void
domain_round_trip(const ConfDomainDef *def, unsigned int format_flags, bool settle,
                  const char *input)
{
    unsigned int parse_flags = format_flags & CONF_DOMAIN_FORMAT_STATUS ?
                               CONF_DOMAIN_PARSE_STATUS : 0;
    g_autofree char *out = conf_domain_format(def, format_flags);

    g_assert_nonnull(out);
    for (int round = 0; round < (settle ? 2 : 1); round++) {
        g_autoptr(ConfDomainDef) def2 = NULL;
        g_autoptr(GError) error = NULL;
        g_autofree char *again = NULL;

        if (!(def2 = conf_domain_parse(out, parse_flags, &error)))
            g_error("format flags 0x%x: the output does not parse again: %s\n"
                    "--- input\n%s\n--- output\n%s", format_flags, error->message, input, out);
        again = conf_domain_format(def2, format_flags);
        if (settle && round == 0) {
            g_free(out);
            out = g_steal_pointer(&again);
            continue;
        }
        if (!g_str_equal(again, out))
            g_error("format flags 0x%x: not stable\n--- input\n%s\n--- first\n%s\n"
                    "--- second\n%s", format_flags, input, out, again);
    }
}

static void
domain_iter(GRand *rand, guint iteration, gconstpointer unused)
{
    g_autoptr(GByteArray) buf = g_byte_array_new();
    g_autofree char *xml = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfDomainDef) def = NULL;
    unsigned int flags = 0;

    mutate_document(rand, iteration, &domain_corpus, buf);
    xml = exact_text(buf);
    fuzz_set_input((const guint8 *)xml, buf->len);
    if (g_rand_int_range(rand, 0, 4) == 0)
        flags |= CONF_DOMAIN_PARSE_STATUS;
    if (g_rand_int_range(rand, 0, 48) == 0)
        flags |= CONF_DOMAIN_PARSE_VALIDATE;
    def = conf_domain_parse(xml, flags, &error);
    fuzz_accepted(def != NULL);
    if (!def) {
        assert_error(error, "conf_domain_parse");
        fuzz_note("%s", error->message);
        return;
    }
    g_assert_null(error);
    /* a plain definition's live form is a fixed point; a status one's loses
     * its runtime data once */
    domain_round_trip(def, 0, flags & CONF_DOMAIN_PARSE_STATUS, xml);
    domain_round_trip(def, CONF_DOMAIN_FORMAT_INACTIVE | CONF_DOMAIN_FORMAT_SECURE, false, xml);
    domain_round_trip(def, CONF_DOMAIN_FORMAT_STATUS, false, xml);
    {
        g_autoptr(ConfDomainDef) copy = conf_domain_copy(def);
        g_autofree char *a = conf_domain_format(def, CONF_DOMAIN_FORMAT_STATUS);
        g_autofree char *b = conf_domain_format(copy, CONF_DOMAIN_FORMAT_STATUS);

        g_assert_cmpstr(a, ==, b);
    }
}

/* ------------------------------------------------------------ snapshots */

static const unsigned char snap_uuid[16] = {
    0xa0, 0xb1, 0xc2, 0xd3, 0xe4, 0xf5, 0x4a, 0x6b, 0x8c, 0x7d, 0x9e, 0x0f, 0x1a, 0x2b, 0x3c, 0x4d,
};

static void
snapshot_iter(GRand *rand, guint iteration, gconstpointer unused)
{
    static const unsigned int parse_modes[] = {
        0, CONF_SNAPSHOT_PARSE_REDEFINE, CONF_SNAPSHOT_PARSE_INTERNAL,
        CONF_SNAPSHOT_PARSE_REDEFINE | CONF_SNAPSHOT_PARSE_OFFLINE,
        CONF_SNAPSHOT_PARSE_OFFLINE,
    };
    g_autoptr(GByteArray) buf = g_byte_array_new();
    g_autofree char *xml = NULL;
    g_autofree char *out = NULL;
    g_autofree char *again = NULL;
    g_autoptr(GError) error = NULL;
    g_autoptr(ConfSnapshotDef) def = NULL;
    g_autoptr(ConfSnapshotDef) def2 = NULL;
    const char *name = NULL;
    unsigned int flags;
    unsigned int fflags = 0;
    bool current = false;
    bool current2 = false;

    mutate_document(rand, iteration, &snapshot_corpus, buf);
    name = snapshot_corpus.names->pdata[iteration % snapshot_corpus.names->len];
    /* the flags the golden tests use for this seed, or any */
    if (g_str_has_prefix(name, "redefine-"))
        flags = CONF_SNAPSHOT_PARSE_REDEFINE;
    else if (g_str_has_prefix(name, "internal-"))
        flags = CONF_SNAPSHOT_PARSE_INTERNAL;
    else
        flags = 0;
    if (iteration >= snapshot_corpus.docs->len && g_rand_int_range(rand, 0, 4) == 0)
        flags = parse_modes[g_rand_int_range(rand, 0, G_N_ELEMENTS(parse_modes))];
    if (g_rand_int_range(rand, 0, 48) == 0)
        flags |= CONF_SNAPSHOT_PARSE_VALIDATE;
    xml = exact_text(buf);
    fuzz_set_input((const guint8 *)xml, buf->len);
    def = conf_snapshot_parse(xml, flags, &current, &error);
    fuzz_accepted(def != NULL);
    if (!def) {
        assert_error(error, "conf_snapshot_parse");
        fuzz_note("%s", error->message);
        return;
    }
    g_assert_null(error);

    /* as the daemon stores it, and reads it back */
    if (flags & CONF_SNAPSHOT_PARSE_INTERNAL)
        fflags = CONF_SNAPSHOT_FORMAT_INTERNAL | (current ? CONF_SNAPSHOT_FORMAT_CURRENT : 0);
    out = conf_snapshot_format(def, snap_uuid, fflags | CONF_SNAPSHOT_FORMAT_SECURE);
    g_assert_nonnull(out);
    flags &= ~(unsigned int)CONF_SNAPSHOT_PARSE_VALIDATE;
    if (!(def2 = conf_snapshot_parse(out, flags, &current2, &error)))
        g_error("parse flags 0x%x: the output does not parse again: %s\n"
                "--- input\n%s\n--- output\n%s", flags, error->message, xml, out);
    /* a new snapshot's creation time is now */
    if (!(flags & (CONF_SNAPSHOT_PARSE_REDEFINE | CONF_SNAPSHOT_PARSE_INTERNAL)))
        def2->creation_time = def->creation_time;
    again = conf_snapshot_format(def2, snap_uuid, fflags | CONF_SNAPSHOT_FORMAT_SECURE);
    if (!g_str_equal(again, out))
        g_error("parse flags 0x%x: not stable\n--- input\n%s\n--- first\n%s\n--- second\n%s",
                flags, xml, out, again);
    g_assert_true(current == current2);

    /* the disks against a real domain, as snapshot creation does */
    if (!conf_snapshot_align_disks(def, align_domain, CONF_SNAPSHOT_LOCATION_EXTERNAL, &error))
        assert_error(error, "conf_snapshot_align_disks");
    else
        g_free(conf_snapshot_format(def, snap_uuid, 0));
}

int
main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *align_path = NULL;
    g_autoptr(GByteArray) align_xml = NULL;
    guint8 nul = 0;
    int rc;

    fuzz_init(&argc, &argv);
    corpus_load(&domain_corpus, "domain");
    corpus_load(&snapshot_corpus, "snapshot");
    align_path = g_build_filename(g_getenv("MODVIRT_TEST_DATADIR") ?: MODVIRT_SRCDIR "/tests/data",
                                  "domain", "kvm-qcow2-backing-chain.xml", NULL);
    align_xml = fuzz_read_file(align_path);
    g_byte_array_append(align_xml, &nul, 1);
    if (!(align_domain = conf_domain_parse((const char *)align_xml->data, 0, &error)))
        g_error("%s: %s", align_path, error->message);

    fuzz_add("/fuzz/xml/domain", domain_corpus.docs->len * 1000, domain_iter, NULL);
    fuzz_add("/fuzz/xml/snapshot", snapshot_corpus.docs->len * 1000, snapshot_iter, NULL);
    rc = g_test_run();
    conf_domain_def_free(align_domain);
    corpus_clear(&domain_corpus);
    corpus_clear(&snapshot_corpus);
    return rc;
}

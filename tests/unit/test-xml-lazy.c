/*
 * test-xml-lazy.c: libxml2 loaded on first use (util-xml-lazy).
 *
 * Linked with the shim only, like the daemons: libxml2 must not be mapped
 * before the first call, must work through the forwarders (plain, void,
 * variadic, va_list and the xmlFree variable) once loaded, from several
 * threads at once, and the forwarders must not be visible to the dynamic
 * linker.
 */
#include <dlfcn.h>
#include <glib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlwriter.h>
#include <libxml/xpath.h>

#include "util-xml-lazy.h"
#include "util-xml.h"

#if LIBXML_VERSION >= 21400
# define XML_SONAME "libxml2.so.16"
#else
# define XML_SONAME "libxml2.so.2"
#endif

static bool
libxml2_mapped(void)
{
    void *handle = dlopen(XML_SONAME, RTLD_LAZY | RTLD_NOLOAD);

    if (!handle)
        return false;
    dlclose(handle);
    return true;
}

static void
test_not_loaded(void)
{
    g_assert_false(util_xml_loaded());
    g_assert_false(libxml2_mapped());
    /* cleanup code frees NULL before any parse: no reason to load */
    xmlFree(NULL);
    g_assert_false(libxml2_mapped());
}

/* The first calls of all: several threads race to load the library. */
static gpointer
parse_thread(gpointer data)
{
    g_autofree char *text = g_strdup_printf("<t n='%d'><c>x</c></t>", GPOINTER_TO_INT(data));
    g_autoptr(xmlDoc) doc = xmlReadMemory(text, (int)strlen(text), NULL, "UTF-8", XML_PARSE_NONET);
    xmlChar *n = NULL;
    int ret = -1;

    if (doc && (n = xmlGetProp(xmlDocGetRootElement(doc), BAD_CAST "n")))
        ret = atoi((const char *)n);
    xmlFree(n);
    return GINT_TO_POINTER(ret);
}

static void
test_first_use_threads(void)
{
    GThread *threads[4];

    g_assert_false(util_xml_loaded());
    for (int i = 0; i < 4; i++)
        threads[i] = g_thread_new("parse", parse_thread, GINT_TO_POINTER(i + 10));
    for (int i = 0; i < 4; i++)
        g_assert_cmpint(GPOINTER_TO_INT(g_thread_join(threads[i])), ==, i + 10);
    g_assert_true(util_xml_loaded());
    g_assert_true(libxml2_mapped());
}

static void
test_tree_and_xpath(void)
{
    const char *text = "<domain type='kvm'><name>vm1</name><devices><disk/><disk/></devices></domain>";
    g_autoptr(xmlDoc) doc = xmlReadMemory(text, (int)strlen(text), NULL, "UTF-8", XML_PARSE_NONET);
    g_autoptr(xmlXPathContext) ctxt = NULL;
    g_autoptr(xmlXPathObject) obj = NULL;
    g_autoptr(xmlBuffer) buf = NULL;
    xmlNode *root = NULL;
    xmlChar *type = NULL;

    g_assert_nonnull(doc);
    root = xmlDocGetRootElement(doc);
    g_assert_cmpstr((const char *)root->name, ==, "domain");
    type = xmlGetProp(root, BAD_CAST "type");
    g_assert_cmpstr((const char *)type, ==, "kvm");
    xmlFree(type);
    g_assert_null(xmlHasProp(root, BAD_CAST "missing"));

    ctxt = xmlXPathNewContext(doc);
    obj = xmlXPathEvalExpression(BAD_CAST "count(/domain/devices/disk)", ctxt);
    g_assert_nonnull(obj);
    g_assert_cmpfloat(obj->floatval, ==, 2.0);

    /* void forwarders: rename a node, dump it */
    xmlNodeSetName(root, BAD_CAST "guest");
    buf = xmlBufferCreate();
    g_assert_cmpint(xmlNodeDump(buf, doc, root->children, 0, 0), >, 0);
    g_assert_cmpstr((const char *)xmlBufferContent(buf), ==, "<name>vm1</name>");
    g_assert_cmpstr((const char *)xmlDocGetRootElement(doc)->name, ==, "guest");

    /* a parse error is an error, not a crash */
    g_assert_null(xmlReadMemory("<a>", 3, NULL, "UTF-8",
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING));
}

static int
write_attr(xmlTextWriter *w, const char *name, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = xmlTextWriterWriteVFormatAttribute(w, BAD_CAST name, fmt, ap);
    va_end(ap);
    return rc;
}

static void
test_writer_variadic(void)
{
    g_autoptr(xmlBuffer) buf = xmlBufferCreate();
    g_autoptr(xmlTextWriter) w = xmlNewTextWriterMemory(buf, 0);

    g_assert_nonnull(w);
    g_assert_cmpint(xmlTextWriterStartElement(w, BAD_CAST "memory"), >=, 0);
    g_assert_cmpint(write_attr(w, "unit", "%s%c", "Ki", 'B'), >=, 0);
    g_assert_cmpint(xmlTextWriterWriteFormatString(w, "%d-%s-%llu", 42, "x",
                                                   (unsigned long long)G_MAXUINT64), >=, 0);
    g_assert_cmpint(xmlTextWriterEndElement(w), >=, 0);
    g_assert_cmpint(xmlTextWriterFlush(w), >=, 0);
    g_assert_cmpstr((const char *)xmlBufferContent(buf), ==,
                    "<memory unit=\"KiB\">42-x-18446744073709551615</memory>");
}

/* The forwarders are hidden: nothing resolves a libxml2 name to them, and
 * libxml2 (loaded RTLD_LOCAL) is not in the global scope either. */
static void
test_not_exported(void)
{
    g_assert_null(dlsym(RTLD_DEFAULT, "xmlReadMemory"));
    g_assert_null(dlsym(RTLD_DEFAULT, "xmlFree"));
    g_assert_null(dlsym(RTLD_DEFAULT, "xmlTextWriterWriteFormatString"));
}

int
main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    /* order matters: the first two run before anything loads libxml2 */
    g_test_add_func("/xml-lazy/not-loaded", test_not_loaded);
    g_test_add_func("/xml-lazy/first-use-threads", test_first_use_threads);
    g_test_add_func("/xml-lazy/tree-and-xpath", test_tree_and_xpath);
    g_test_add_func("/xml-lazy/writer-variadic", test_writer_variadic);
    g_test_add_func("/xml-lazy/not-exported", test_not_exported);
    return g_test_run();
}

/*
 * util-xml-lazy.c: libxml2 loaded on first use (see util-xml-lazy.h).
 *
 * Each forwarder below is defined with the prototype libxml2's headers
 * declare, so the compiler rejects one that does not match.  All of them
 * go through one table of function pointers filled at load time.
 */
#define G_LOG_DOMAIN "util.xml"

#include <dlfcn.h>
#include <glib.h>
#include <stdarg.h>

#include <libxml/globals.h>
#include <libxml/parser.h>
#include <libxml/relaxng.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>
#include <libxml/xmlstring.h>
#include <libxml/xmlversion.h>
#include <libxml/xmlwriter.h>
#include <libxml/xpath.h>

#include "util-xml-lazy.h"

/* libxml2 2.14 changed its soname */
#if LIBXML_VERSION >= 21400
# define UTIL_XML_SONAME "libxml2.so.16"
#else
# define UTIL_XML_SONAME "libxml2.so.2"
#endif

/* Never exported, even from an executable linked with --export-dynamic or
 * with libxml2 itself: libxml2 must not bind its own calls to these. */
#define UTIL_XML_HIDDEN __attribute__((visibility("hidden")))

/*
 * F(return type, name, (parameters), (arguments)) for functions returning a
 * value, V(name, (parameters), (arguments)) for void ones.  Variadic
 * functions are forwarded by hand below, through their va_list variant.
 */
#define UTIL_XML_FUNCS(F, V) \
    F(const xmlChar *, xmlBufferContent, (const xmlBuffer *buf), (buf)) \
    F(xmlBufferPtr, xmlBufferCreate, (void), ()) \
    V(xmlBufferFree, (xmlBufferPtr buf), (buf)) \
    F(int, xmlBufferLength, (const xmlBuffer *buf), (buf)) \
    F(xmlNodePtr, xmlCopyNode, (xmlNodePtr node, int recursive), (node, recursive)) \
    F(xmlErrorPtr, xmlCtxtGetLastError, (void *ctx), (ctx)) \
    F(xmlDocPtr, xmlCtxtReadMemory, \
      (xmlParserCtxtPtr ctxt, const char *buffer, int size, const char *URL, \
       const char *encoding, int options), \
      (ctxt, buffer, size, URL, encoding, options)) \
    F(xmlNodePtr, xmlDocCopyNode, (xmlNodePtr node, xmlDocPtr doc, int recursive), \
      (node, doc, recursive)) \
    F(xmlNodePtr, xmlDocGetRootElement, (const xmlDoc *doc), (doc)) \
    F(xmlNodePtr, xmlDocSetRootElement, (xmlDocPtr doc, xmlNodePtr root), (doc, root)) \
    V(xmlFreeDoc, (xmlDocPtr cur), (cur)) \
    V(xmlFreeNode, (xmlNodePtr cur), (cur)) \
    V(xmlFreeParserCtxt, (xmlParserCtxtPtr ctxt), (ctxt)) \
    V(xmlFreeTextWriter, (xmlTextWriterPtr writer), (writer)) \
    F(long, xmlGetLineNo, (const xmlNode *node), (node)) \
    F(xmlChar *, xmlGetNoNsProp, (const xmlNode *node, const xmlChar *name), (node, name)) \
    F(xmlChar *, xmlGetProp, (const xmlNode *node, const xmlChar *name), (node, name)) \
    F(xmlAttrPtr, xmlHasNsProp, \
      (const xmlNode *node, const xmlChar *name, const xmlChar *nameSpace), \
      (node, name, nameSpace)) \
    F(xmlAttrPtr, xmlHasProp, (const xmlNode *node, const xmlChar *name), (node, name)) \
    V(xmlInitParser, (void), ()) \
    F(int, xmlIsBlankNode, (const xmlNode *node), (node)) \
    F(xmlDocPtr, xmlNewDoc, (const xmlChar *version), (version)) \
    F(xmlParserCtxtPtr, xmlNewParserCtxt, (void), ()) \
    F(xmlTextWriterPtr, xmlNewTextWriterMemory, (xmlBufferPtr buf, int compression), \
      (buf, compression)) \
    F(int, xmlNodeDump, \
      (xmlBufferPtr buf, xmlDocPtr doc, xmlNodePtr cur, int level, int format), \
      (buf, doc, cur, level, format)) \
    F(xmlChar *, xmlNodeGetContent, (const xmlNode *cur), (cur)) \
    V(xmlNodeSetName, (xmlNodePtr cur, const xmlChar *name), (cur, name)) \
    F(xmlDocPtr, xmlReadMemory, \
      (const char *buffer, int size, const char *URL, const char *encoding, int options), \
      (buffer, size, URL, encoding, options)) \
    F(int, xmlReconciliateNs, (xmlDocPtr doc, xmlNodePtr tree), (doc, tree)) \
    V(xmlRelaxNGFree, (xmlRelaxNGPtr schema), (schema)) \
    V(xmlRelaxNGFreeParserCtxt, (xmlRelaxNGParserCtxtPtr ctxt), (ctxt)) \
    V(xmlRelaxNGFreeValidCtxt, (xmlRelaxNGValidCtxtPtr ctxt), (ctxt)) \
    F(xmlRelaxNGParserCtxtPtr, xmlRelaxNGNewParserCtxt, (const char *URL), (URL)) \
    F(xmlRelaxNGValidCtxtPtr, xmlRelaxNGNewValidCtxt, (xmlRelaxNGPtr schema), (schema)) \
    F(xmlRelaxNGPtr, xmlRelaxNGParse, (xmlRelaxNGParserCtxtPtr ctxt), (ctxt)) \
    V(xmlRelaxNGSetParserStructuredErrors, \
      (xmlRelaxNGParserCtxtPtr ctxt, xmlStructuredErrorFunc serror, void *ctx), \
      (ctxt, serror, ctx)) \
    V(xmlRelaxNGSetValidStructuredErrors, \
      (xmlRelaxNGValidCtxtPtr ctxt, xmlStructuredErrorFunc serror, void *ctx), \
      (ctxt, serror, ctx)) \
    F(int, xmlRelaxNGValidateDoc, (xmlRelaxNGValidCtxtPtr ctxt, xmlDocPtr doc), (ctxt, doc)) \
    F(int, xmlStrEqual, (const xmlChar *str1, const xmlChar *str2), (str1, str2)) \
    F(int, xmlTextWriterEndElement, (xmlTextWriterPtr writer), (writer)) \
    F(int, xmlTextWriterFlush, (xmlTextWriterPtr writer), (writer)) \
    F(int, xmlTextWriterSetIndent, (xmlTextWriterPtr writer, int indent), (writer, indent)) \
    F(int, xmlTextWriterSetIndentString, (xmlTextWriterPtr writer, const xmlChar *str), \
      (writer, str)) \
    F(int, xmlTextWriterSetQuoteChar, (xmlTextWriterPtr writer, xmlChar quotechar), \
      (writer, quotechar)) \
    F(int, xmlTextWriterStartElement, (xmlTextWriterPtr writer, const xmlChar *name), \
      (writer, name)) \
    F(int, xmlTextWriterWriteRaw, (xmlTextWriterPtr writer, const xmlChar *content), \
      (writer, content)) \
    F(int, xmlTextWriterWriteString, (xmlTextWriterPtr writer, const xmlChar *content), \
      (writer, content)) \
    F(int, xmlTextWriterWriteVFormatString, \
      (xmlTextWriterPtr writer, const char *format, va_list argptr), \
      (writer, format, argptr)) \
    F(int, xmlTextWriterWriteVFormatAttribute, \
      (xmlTextWriterPtr writer, const xmlChar *name, const char *format, va_list argptr), \
      (writer, name, format, argptr)) \
    F(int, xmlTextWriterWriteVFormatElement, \
      (xmlTextWriterPtr writer, const xmlChar *name, const char *format, va_list argptr), \
      (writer, name, format, argptr)) \
    V(xmlUnlinkNode, (xmlNodePtr cur), (cur)) \
    F(xmlXPathObjectPtr, xmlXPathEvalExpression, (const xmlChar *str, xmlXPathContextPtr ctxt), \
      (str, ctxt)) \
    V(xmlXPathFreeContext, (xmlXPathContextPtr ctxt), (ctxt)) \
    V(xmlXPathFreeObject, (xmlXPathObjectPtr obj), (obj)) \
    F(xmlXPathContextPtr, xmlXPathNewContext, (xmlDocPtr doc), (doc))

/* The real functions, typed from libxml2's own declarations. */
#define UTIL_XML_FIELD(ret, name, params, args) __typeof__(name) *name;
#define UTIL_XML_FIELD_VOID(name, params, args) __typeof__(name) *name;
typedef struct {
    UTIL_XML_FUNCS(UTIL_XML_FIELD, UTIL_XML_FIELD_VOID)
    void (*xmlCheckVersion)(int version);
    xmlFreeFunc *xmlFree;           /* libxml2's variable, not a function */
} UtilXmlTable;

static UtilXmlTable util_xml_table;
static gsize util_xml_once;

static void *
util_xml_sym(void *handle, const char *name)
{
    void *sym = dlsym(handle, name);

    if (!sym)
        g_error("cannot find '%s' in %s: %s", name, UTIL_XML_SONAME, dlerror());
    return sym;
}

static const UtilXmlTable *
util_xml(void)
{
    if (g_once_init_enter(&util_xml_once)) {
        void *handle = dlopen(UTIL_XML_SONAME, RTLD_NOW | RTLD_LOCAL);

        if (!handle)
            g_error("cannot load the XML library %s: %s", UTIL_XML_SONAME, dlerror());
        /* handle is never closed: libxml2 stays for the process's life */
#define UTIL_XML_RESOLVE(ret, name, params, args) \
        util_xml_table.name = (__typeof__(util_xml_table.name))util_xml_sym(handle, #name);
#define UTIL_XML_RESOLVE_VOID(name, params, args) UTIL_XML_RESOLVE(void, name, params, args)
        UTIL_XML_FUNCS(UTIL_XML_RESOLVE, UTIL_XML_RESOLVE_VOID)
        util_xml_table.xmlCheckVersion = (void (*)(int))util_xml_sym(handle, "xmlCheckVersion");
        util_xml_table.xmlFree = util_xml_sym(handle, "xmlFree");

        /* once, before any thread uses the library; warns on stderr if the
         * library found is older than the headers built against */
        util_xml_table.xmlInitParser();
        util_xml_table.xmlCheckVersion(LIBXML_VERSION);
        g_debug("loaded %s", UTIL_XML_SONAME);
        g_once_init_leave(&util_xml_once, 1);
    }
    return &util_xml_table;
}

void
util_xml_load(void)
{
    (void)util_xml();
}

bool
util_xml_loaded(void)
{
    return g_atomic_pointer_get(&util_xml_once) != 0;
}

/* The forwarders */
#define UTIL_XML_FORWARD(ret, name, params, args) \
    UTIL_XML_HIDDEN ret name params { return util_xml()->name args; }
#define UTIL_XML_FORWARD_VOID(name, params, args) \
    UTIL_XML_HIDDEN void name params { util_xml()->name args; }
UTIL_XML_FUNCS(UTIL_XML_FORWARD, UTIL_XML_FORWARD_VOID)

UTIL_XML_HIDDEN int
xmlTextWriterWriteFormatString(xmlTextWriterPtr writer, const char *format, ...)
{
    va_list ap;
    int rc;

    va_start(ap, format);
    rc = util_xml()->xmlTextWriterWriteVFormatString(writer, format, ap);
    va_end(ap);
    return rc;
}

/* xmlFree is a variable holding libxml2's deallocator; ours calls whatever
 * libxml2's holds.  Memory given to xmlFree came from libxml2, so only
 * NULL can come before the library is loaded. */
static void
util_xml_free(void *mem)
{
    if (mem)
        (*util_xml()->xmlFree)(mem);
}

UTIL_XML_HIDDEN xmlFreeFunc xmlFree = util_xml_free;

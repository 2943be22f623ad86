/*
 * util-xml-lazy.h: libxml2 loaded on first use.
 *
 * The daemons do not link libxml2: an idle daemon never parses XML, and
 * Debian's libxml2 brings ICU, libstdc++, liblzma and zlib with it, whose
 * relocations and constructors cost about 1.8 MiB of resident memory at
 * startup.  util-xml-lazy.c instead defines each libxml2 function the code
 * base calls, with libxml2's own prototype, as a forwarder that loads
 * libxml2 (dlopen, once, thread-safe), initialises its parser, and calls the
 * real function.  Code keeps including <libxml/...> and calling libxml2 by
 * its names; nothing changes for the callers.
 *
 * Link with util_xml_dep (shared/util/meson.build), never with libxml2
 * itself.  A libxml2 function that is not in the shim yet fails the link
 * ("undefined reference to `xmlFoo'"): add one line for it to
 * UTIL_XML_FUNCS in util-xml-lazy.c.  The forwarders are hidden (never
 * exported), so libxml2's calls to itself stay inside libxml2.
 *
 * If libxml2 cannot be loaded the process ends with a fatal message: there
 * is no way to report a parse error from xmlTextWriterStartElement().
 */
#pragma once

#include <stdbool.h>

/* Loads and initialises libxml2 now (idempotent, thread-safe); fatal if it
 * cannot be loaded.  The forwarders call it themselves: use it only to
 * take the cost at a chosen time. */
void util_xml_load(void);

/* Whether libxml2 has been loaded by the shim. */
bool util_xml_loaded(void);

#ifndef RAGPIPE_CLIBXML2_SHIM_H
#define RAGPIPE_CLIBXML2_SHIM_H
// libxml2's HTML parser (Debian libxml2-dev, MIT license), linked: `chunk` reads HTML with it.
// Debian builds libxml2 with ICU, and libxml/encoding.h then includes ICU's headers, whose types
// clash with Foundation's own ICU copy in any module that imports both (the tests). ragpipe never
// touches the converter structs those headers define, so they are left out.
#include <libxml/xmlversion.h>
#undef LIBXML_ICU_ENABLED
#include <libxml/HTMLparser.h>
#include <libxml/tree.h>
#include <libxml/xmlerror.h>

// xmlFree is a global function pointer; a plain function is simpler to call from Swift.
static inline void ragpipe_xmlFree(void *p) { xmlFree(p); }

// Silences libxml2's generic error handler (HTML_PARSE_NOERROR does not reach encoding errors).
static void ragpipe_xmlQuiet(void *ctx, const char *msg, ...) { (void)ctx; (void)msg; }
static inline void ragpipe_xmlSilence(void) { xmlSetGenericErrorFunc(NULL, ragpipe_xmlQuiet); }
#endif

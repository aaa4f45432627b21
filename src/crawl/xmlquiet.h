/*
 * libxml2 reports some errors (encoding conversion, I/O) through its global
 * generic handler, which prints on stderr, rather than through the SAX
 * handlers; library code never prints. Around each call into a parser the
 * handlers are swapped for silent ones and put back after (they are
 * per-thread in libxml2).
 */
#ifndef EVC_XMLQUIET_H
#define EVC_XMLQUIET_H

#include <libxml/xmlerror.h>
#include <libxml/globals.h>

struct evc__xml_quiet {
	xmlGenericErrorFunc generic;
	void *generic_ctx;
	xmlStructuredErrorFunc structured;
	void *structured_ctx;
};

static inline void evc__xml_silent(void *ctx, const char *msg, ...)
{
}

static inline void evc__xml_silent_structured(void *ctx, xmlErrorPtr e)
{
}

static inline void evc__xml_quiet_begin(struct evc__xml_quiet *q)
{
	q->generic = xmlGenericError;
	q->generic_ctx = xmlGenericErrorContext;
	q->structured = xmlStructuredError;
	q->structured_ctx = xmlStructuredErrorContext;
	xmlSetGenericErrorFunc(NULL, evc__xml_silent);
	xmlSetStructuredErrorFunc(NULL, evc__xml_silent_structured);
}

static inline void evc__xml_quiet_end(const struct evc__xml_quiet *q)
{
	xmlSetGenericErrorFunc(q->generic_ctx, q->generic);
	xmlSetStructuredErrorFunc(q->structured_ctx, q->structured);
}

#endif

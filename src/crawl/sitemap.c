/* Sitemaps as they stream (see sitemap.h). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <zlib.h>

#include "crawl/sitemap.h"
#include "crawl/xmlquiet.h"

#define LOC_MAX	     8192	 /* a longer <loc> is not a URL we take */
#define INFLATED_MAX (50u << 20) /* the sitemap protocol's limit, uncompressed */
#define LOCS_MAX     50000	 /* ... and its limit of URLs */

struct evc__sitemap {
	xmlParserCtxtPtr ctxt;
	evc__sitemap_cb cb;
	void *arg;
	bool in_index; /* the root is <sitemapindex> */
	bool in_loc;
	char loc[LOC_MAX];
	size_t loc_len;
	bool loc_too_long;
	/* gzip, when the body starts with its magic */
	int kind; /* 0: not known yet, 1: plain, 2: gzip */
	z_stream z;
	bool z_ready, z_done;
	size_t inflated;
	unsigned nlocs;
	unsigned char head[2];
	size_t nhead;
};

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
	xmlInitParser();
}

static void quiet(void *ctx, const char *msg, ...)
{
}

static void quiet_structured(void *ctx, xmlErrorPtr e)
{
}

static void on_start(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri,
		     int nns, const xmlChar **ns, int nattr, int ndef, const xmlChar **attrs)
{
	struct evc__sitemap *s = ctx;
	const char *n = (const char *)name;
	if (strcmp(n, "sitemapindex") == 0)
		s->in_index = true;
	else if (strcmp(n, "loc") == 0) {
		s->in_loc = true;
		s->loc_len = 0;
		s->loc_too_long = false;
	}
}

static void on_end(void *ctx, const xmlChar *name, const xmlChar *prefix, const xmlChar *uri)
{
	struct evc__sitemap *s = ctx;
	if (!s->in_loc || strcmp((const char *)name, "loc") != 0)
		return;
	s->in_loc = false;
	if (s->loc_too_long)
		return;
	size_t a = 0, b = s->loc_len;
	while (a < b && isspace((unsigned char)s->loc[a]))
		a++;
	while (b > a && isspace((unsigned char)s->loc[b - 1]))
		b--;
	if (a == b)
		return;
	s->loc[b] = '\0';
	if (s->nlocs++ < LOCS_MAX)
		s->cb(s->arg, s->loc + a, s->in_index);
}

static void on_text(void *ctx, const xmlChar *text, int len)
{
	struct evc__sitemap *s = ctx;
	if (!s->in_loc || len <= 0)
		return;
	if (s->loc_len + (size_t)len >= sizeof s->loc) {
		s->loc_too_long = true;
		return;
	}
	memcpy(s->loc + s->loc_len, text, (size_t)len);
	s->loc_len += (size_t)len;
}

int evc__sitemap_new(struct evc__sitemap **out, evc__sitemap_cb cb, void *arg)
{
	pthread_once(&xml_once, xml_init);
	*out = NULL;
	struct evc__sitemap *s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	s->cb = cb;
	s->arg = arg;
	xmlSAXHandler sax;
	memset(&sax, 0, sizeof sax);
	sax.initialized = XML_SAX2_MAGIC;
	sax.startElementNs = on_start;
	sax.endElementNs = on_end;
	sax.characters = on_text;
	sax.cdataBlock = on_text;
	sax.error = quiet;
	sax.warning = quiet;
	sax.fatalError = quiet;
	sax.serror = quiet_structured;
	s->ctxt = xmlCreatePushParserCtxt(&sax, s, NULL, 0, NULL);
	if (!s->ctxt) {
		free(s);
		return -ENOMEM;
	}
	/* No network, no external entities or DTDs, no entity substitution. */
	xmlCtxtUseOptions(s->ctxt, XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING |
				       XML_PARSE_RECOVER | XML_PARSE_NOCDATA);
	*out = s;
	return 0;
}

static void parse(struct evc__sitemap *s, const char *data, size_t len)
{
	struct evc__xml_quiet q;
	evc__xml_quiet_begin(&q);
	while (len) {
		int n = len > (1 << 20) ? (1 << 20) : (int)len;
		xmlParseChunk(s->ctxt, data, n, 0);
		data += n;
		len -= (size_t)n;
	}
	evc__xml_quiet_end(&q);
}

static void inflate_feed(struct evc__sitemap *s, const unsigned char *data, size_t len)
{
	unsigned char buf[16384];
	s->z.next_in = (unsigned char *)data;
	s->z.avail_in = (uInt)len;
	while (s->z.avail_in && !s->z_done) {
		s->z.next_out = buf;
		s->z.avail_out = sizeof buf;
		int rc = inflate(&s->z, Z_NO_FLUSH);
		size_t n = sizeof buf - s->z.avail_out;
		s->inflated += n;
		if (s->inflated > INFLATED_MAX) { /* a gzip bomb, or not a sitemap */
			s->z_done = true;
			break;
		}
		parse(s, (const char *)buf, n);
		if (rc == Z_STREAM_END || (rc != Z_OK && rc != Z_BUF_ERROR))
			s->z_done = true; /* the end, or garbage: what came is what we have */
		else if (rc == Z_BUF_ERROR && s->z.avail_out)
			break;
	}
}

void evc__sitemap_feed(struct evc__sitemap *s, const char *data, size_t len)
{
	if (!s->kind) { /* the first two bytes decide: gzip's magic, or XML */
		while (len && s->nhead < 2) {
			s->head[s->nhead++] = (unsigned char)*data++;
			len--;
		}
		if (s->nhead < 2)
			return;
		s->kind = s->head[0] == 0x1f && s->head[1] == 0x8b ? 2 : 1;
		if (s->kind == 2) {
			s->z_ready = inflateInit2(&s->z, 16 + MAX_WBITS) == Z_OK;
			if (s->z_ready)
				inflate_feed(s, s->head, 2);
		} else {
			parse(s, (const char *)s->head, 2);
		}
	}
	if (s->kind == 2) {
		if (s->z_ready)
			inflate_feed(s, (const unsigned char *)data, len);
	} else {
		parse(s, data, len);
	}
}

void evc__sitemap_end(struct evc__sitemap *s)
{
	if (!s->kind && s->nhead) /* a one-byte body */
		parse(s, (const char *)s->head, s->nhead);
	struct evc__xml_quiet q;
	evc__xml_quiet_begin(&q);
	xmlParseChunk(s->ctxt, NULL, 0, 1);
	evc__xml_quiet_end(&q);
}

void evc__sitemap_free(struct evc__sitemap *s)
{
	if (!s)
		return;
	if (s->ctxt) {
		if (s->ctxt->myDoc)
			xmlFreeDoc(s->ctxt->myDoc);
		xmlFreeParserCtxt(s->ctxt);
	}
	if (s->z_ready)
		inflateEnd(&s->z);
	free(s);
}

/* Links in an HTML body as it streams (see links.h): libxml2's push parser. */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parser.h>

#include "crawl/links.h"
#include "crawl/xmlquiet.h"
#include "evcrawl/error.h"

#define REF_MAX 8192 /* longer href values are not links we follow */

struct evc__links {
	htmlParserCtxtPtr ctxt;
	struct evc__url page; /* the page's URL */
	struct evc__url base; /* <base href>, once seen */
	bool has_base, nofollow;
	int stop; /* the callback's non-zero answer */
	evc__link_cb cb;
	void *arg;
};

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init(void)
{
	xmlInitParser();
}

/* libxml2 would print its complaints about broken HTML on stderr; library
 * code never prints. */
static void quiet(void *ctx, const char *msg, ...)
{
}

static const char *attr(const xmlChar **atts, const char *name)
{
	for (size_t i = 0; atts && atts[i]; i += 2)
		if (strcasecmp((const char *)atts[i], name) == 0)
			return atts[i + 1] ? (const char *)atts[i + 1] : "";
	return NULL;
}

/* Whether the space-separated list v holds word (ASCII case-insensitive). */
static bool has_word(const char *v, const char *word)
{
	size_t n = strlen(word);
	while (v && *v) {
		while (isspace((unsigned char)*v))
			v++;
		const char *e = v;
		while (*e && !isspace((unsigned char)*e))
			e++;
		if ((size_t)(e - v) == n && strncasecmp(v, word, n) == 0)
			return true;
		v = e;
	}
	return false;
}

/* <link rel=...> values that name another document worth crawling. */
bool evc__rel_is_document(const char *rel)
{
	static const char *const skip[] = {
	    "stylesheet", "icon",	   "preload",  "prefetch", "dns-prefetch",
	    "preconnect", "modulepreload", "manifest", "pingback", "apple-touch-icon",
	    "mask-icon",  "nofollow",	   NULL};
	static const char *const take[] = {
	    "alternate",  "canonical", "next",	   "prev", "previous", "home",	  "index",
	    "contents",	  "start",     "first",	   "last", "up",       "chapter", "section",
	    "subsection", "appendix",  "glossary", "help", NULL};
	if (!rel)
		return false;
	for (size_t i = 0; skip[i]; i++)
		if (has_word(rel, skip[i]))
			return false;
	for (size_t i = 0; take[i]; i++)
		if (has_word(rel, take[i]))
			return true;
	return false;
}

/* Resolve ref (browsers strip leading and trailing spaces, and tabs and
 * line breaks anywhere) and hand it on when it is http(s). */
static void found(struct evc__links *l, const char *ref, const char *tag)
{
	if (!ref || l->stop || l->nofollow)
		return;
	char buf[REF_MAX] = "";
	size_t n = 0;
	while (*ref && isspace((unsigned char)*ref))
		ref++;
	for (; *ref; ref++) {
		if (*ref == '\t' || *ref == '\n' || *ref == '\r')
			continue;
		if (n == sizeof buf - 1)
			return;
		buf[n++] = *ref;
	}
	while (n && isspace((unsigned char)buf[n - 1]))
		n--;
	if (n == 0 || buf[0] == '#')
		return; /* the page itself */
	struct evc__url u;
	if (evc__url_resolve(&u, l->has_base ? &l->base : &l->page, buf, n) < 0)
		return; /* mailto:, javascript:, ftp:, or not a URL */
	l->stop = l->cb(l->arg, &u, tag);
	evc__url_free(&u);
}

/* <meta http-equiv=refresh content="5; url=/next">: the URL after "url=". */
static const char *refresh_url(const char *content)
{
	const char *p = content ? strchr(content, ';') : NULL;
	if (!p)
		p = content ? strchr(content, ',') : NULL;
	if (!p)
		return NULL;
	p++;
	while (isspace((unsigned char)*p))
		p++;
	if (strncasecmp(p, "url", 3) == 0) {
		const char *q = p + 3;
		while (isspace((unsigned char)*q))
			q++;
		if (*q == '=')
			p = q + 1;
	}
	while (isspace((unsigned char)*p))
		p++;
	return *p ? p : NULL;
}

/* found() for a meta refresh URL, which may be quoted: 'url' or "url". */
static void found_quoted(struct evc__links *l, const char *u, const char *tag)
{
	if (*u != '\'' && *u != '"') {
		found(l, u, tag);
		return;
	}
	const char *end = strchr(u + 1, *u);
	size_t n = end ? (size_t)(end - u - 1) : strlen(u + 1);
	char buf[REF_MAX];
	if (n >= sizeof buf)
		return;
	memcpy(buf, u + 1, n);
	buf[n] = '\0';
	found(l, buf, tag);
}

static void on_start(void *ctx, const xmlChar *name_, const xmlChar **atts)
{
	struct evc__links *l = ctx;
	const char *name = (const char *)name_;
	if (l->stop)
		return;
	if (strcmp(name, "a") == 0 || strcmp(name, "area") == 0) {
		if (!has_word(attr(atts, "rel"), "nofollow"))
			found(l, attr(atts, "href"), name);
	} else if (strcmp(name, "link") == 0) {
		if (evc__rel_is_document(attr(atts, "rel")))
			found(l, attr(atts, "href"), name);
	} else if (strcmp(name, "frame") == 0 || strcmp(name, "iframe") == 0) {
		found(l, attr(atts, "src"), name);
	} else if (strcmp(name, "base") == 0 && !l->has_base) {
		const char *href = attr(atts, "href");
		if (href && evc__url_resolve(&l->base, &l->page, href, strlen(href)) == 0)
			l->has_base = true;
	} else if (strcmp(name, "meta") == 0) {
		const char *n = attr(atts, "name"), *content = attr(atts, "content");
		const char *equiv = attr(atts, "http-equiv");
		if (n && content && strcasecmp(n, "robots") == 0 &&
		    (has_word(content, "nofollow") || has_word(content, "none") ||
		     strcasestr(content, "nofollow")))
			l->nofollow = true;
		else if (equiv && strcasecmp(equiv, "refresh") == 0) {
			const char *u = refresh_url(content);
			if (u)
				found_quoted(l, u, "meta");
		}
	}
}

int evc__links_new(struct evc__links **out, const struct evc__url *base, const char *charset,
		   evc__link_cb cb, void *arg)
{
	pthread_once(&xml_once, xml_init);
	*out = NULL;
	struct evc__links *l = calloc(1, sizeof *l);
	if (!l)
		return -ENOMEM;
	l->cb = cb;
	l->arg = arg;
	if (evc__url_parse(&l->page, base->href, strlen(base->href)) < 0) {
		free(l);
		return -ENOMEM;
	}
	htmlSAXHandler sax;
	memset(&sax, 0, sizeof sax);
	sax.startElement = on_start;
	sax.error = quiet;
	sax.warning = quiet;
	sax.fatalError = quiet;
	xmlCharEncoding enc = XML_CHAR_ENCODING_NONE;
	if (charset && *charset)
		enc = xmlParseCharEncoding(charset);
	if (enc == XML_CHAR_ENCODING_ERROR)
		enc = XML_CHAR_ENCODING_NONE;
	l->ctxt = htmlCreatePushParserCtxt(&sax, l, NULL, 0, NULL, enc);
	if (!l->ctxt) {
		evc__url_free(&l->page);
		free(l);
		return -ENOMEM;
	}
	htmlCtxtUseOptions(l->ctxt, HTML_PARSE_RECOVER | HTML_PARSE_NONET | HTML_PARSE_NOERROR |
					HTML_PARSE_NOWARNING | HTML_PARSE_NOBLANKS |
					HTML_PARSE_COMPACT);
	*out = l;
	return 0;
}

int evc__links_feed(struct evc__links *l, const char *data, size_t len)
{
	struct evc__xml_quiet q;
	evc__xml_quiet_begin(&q);
	while (len && !l->stop) {
		int n = len > (1 << 20) ? (1 << 20) : (int)len;
		htmlParseChunk(l->ctxt, data, n, 0);
		data += n;
		len -= (size_t)n;
	}
	evc__xml_quiet_end(&q);
	return l->stop;
}

int evc__links_end(struct evc__links *l)
{
	struct evc__xml_quiet q;
	evc__xml_quiet_begin(&q);
	if (!l->stop)
		htmlParseChunk(l->ctxt, NULL, 0, 1);
	evc__xml_quiet_end(&q);
	return l->stop;
}

int evc__links_nofollow(const struct evc__links *l)
{
	return l->nofollow;
}

void evc__links_free(struct evc__links *l)
{
	if (!l)
		return;
	if (l->ctxt) {
		if (l->ctxt->myDoc) /* none is built without SAX tree callbacks; to be sure */
			xmlFreeDoc(l->ctxt->myDoc);
		htmlFreeParserCtxt(l->ctxt);
	}
	evc__url_free(&l->page);
	if (l->has_base)
		evc__url_free(&l->base);
	free(l);
}

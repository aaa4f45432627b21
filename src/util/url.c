/*
 * URL parsing, redirect resolution and save paths (see url.h).
 *
 * uriparser does the RFC 3986 grammar, reference resolution and syntax
 * normalisation (scheme and host case, percent-encoding case, decoding of
 * encoded unreserved characters, dot segments). We then check what a crawler
 * needs (http(s), a host, a port, no userinfo) and build every string in one
 * allocation ourselves, which also drops the fragment and a default port.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <idn2.h>
#include <uriparser/Uri.h>

#include "evcrawl/error.h"
#include "util/url.h"

#define URL_MAX	  EVC__URL_MAX
#define HOST_MAX  255  /* longest DNS name (253) with a little slack */
#define SEG_MAX	  200  /* save path: longest segment */
#define SAVE_MAX  1000 /* save path: longest whole */
#define HASH_TAIL 9    /* "~" and 8 hex digits */

/* Only scheme, host and path: the query goes to the server exactly as given. */
#define NORMALIZE_MASK (URI_NORMALIZE_SCHEME | URI_NORMALIZE_HOST | URI_NORMALIZE_PATH)

static size_t range_len(const UriTextRangeA *r)
{
	return r->first ? (size_t)(r->afterLast - r->first) : 0;
}

static bool range_is(const UriTextRangeA *r, const char *s)
{
	size_t n = strlen(s);
	return r->first && range_len(r) == n && memcmp(r->first, s, n) == 0;
}

static bool is_space(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/*
 * Trims ASCII whitespace and refuses what uriparser must never see: nothing,
 * too much, or a space or control byte inside (NUL included, since the
 * caller gives a length). Cuts the fragment: it is never sent, so a
 * malformed one ("#a#b") need not spoil the URL.
 */
static int check_text(const char **text, size_t *len)
{
	const unsigned char *s = (const unsigned char *)*text;
	size_t n = *len;

	if (!s)
		return EVC_EBADURL;
	while (n && is_space(s[0])) {
		s++;
		n--;
	}
	while (n && is_space(s[n - 1]))
		n--;
	if (n == 0 || n > URL_MAX)
		return EVC_EBADURL;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] == 0x7f)
			return EVC_EBADURL;
	const unsigned char *hash = memchr(s, '#', n);
	*text = (const char *)s;
	*len = hash ? (size_t)(hash - s) : n;
	return 0;
}

static int uri_error(int rc)
{
	return rc == URI_ERROR_MALLOC ? -ENOMEM : EVC_EBADURL;
}

/*
 * Normalising makes uriparser copy every part of the URI (a malloc each);
 * most URLs need none of it, and asking first is a cheap scan.
 */
static int normalize(UriUriA *uri)
{
	unsigned int mask = 0;
	int err = uriNormalizeSyntaxMaskRequiredExA(uri, &mask);

	if (!err && (mask & NORMALIZE_MASK))
		err = uriNormalizeSyntaxExA(uri, NORMALIZE_MASK);
	return err ? uri_error(err) : 0;
}

/* 1 for http, 2 for https, 0 for anything else (the scheme is lower-cased). */
static int web_scheme(const UriUriA *uri)
{
	if (range_is(&uri->scheme, "http"))
		return 1;
	if (range_is(&uri->scheme, "https"))
		return 2;
	return 0;
}

/*
 * A DNS name or dotted quad, already lower-cased. Anything else (a
 * percent-encoded byte, a sub-delimiter) could never be resolved, and keeping
 * hosts this plain keeps the save path's first directory plain too.
 */
static bool host_ok(const char *h, size_t n)
{
	if (n == 0 || n > HOST_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = h[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return false;
	}
	return true;
}

/* The port, or dflt when absent or empty ("http://h:/"); -1 when out of range. */
static long port_of(const UriTextRangeA *r, long dflt)
{
	size_t n = range_len(r);
	long port = 0;

	if (n == 0)
		return dflt;
	for (size_t i = 0; i < n; i++) {
		/* uriparser's grammar allows only digits here; checked anyway. */
		if (r->first[i] < '0' || r->first[i] > '9')
			return -1;
		port = port * 10 + (r->first[i] - '0');
		if (port > 65535)
			return -1;
	}
	return port == 0 ? -1 : port;
}

static char *put(char *w, const char *s, size_t n)
{
	memcpy(w, s, n);
	return w + n;
}

/* What build() learns from the parsed URI before it allocates. */
struct parts {
	const char *scheme;
	const char *host;
	size_t host_len;
	char port[8]; /* ":NNNNN" when not the default, else "" */
	char ip6[INET6_ADDRSTRLEN];
	char idn[HOST_MAX + 1]; /* an internationalised host, as punycode */
	long port_num;
	bool https;
	bool ipv6;
};

/*
 * A host that is not plain ASCII: percent-decoded (a URL in a page or a
 * Location header arrives with its UTF-8 encoded so) and, when that is
 * UTF-8, converted to its IDNA 2008 ASCII form (punycode, libidn2, with
 * UTS #46 mapping as browsers do): "bücher.test" is "xn--bcher-kva.test".
 */
static int idn_host(struct parts *p)
{
	char raw[HOST_MAX * 3 + 1];
	size_t n = 0;
	bool high = false;
	for (size_t i = 0; i < p->host_len; i++) {
		unsigned char c = (unsigned char)p->host[i];
		if (c == '%' && i + 2 < p->host_len && isxdigit((unsigned char)p->host[i + 1]) &&
		    isxdigit((unsigned char)p->host[i + 2])) {
			char hex[3] = {p->host[i + 1], p->host[i + 2], 0};
			c = (unsigned char)strtoul(hex, NULL, 16);
			i += 2;
		}
		if (c < 0x21 || c == 0x7f || n >= sizeof raw - 1)
			return EVC_EBADURL;
		high |= c >= 0x80;
		raw[n++] = (char)c;
	}
	raw[n] = '\0';
	char *ascii = NULL;
	if (high &&
	    idn2_to_ascii_8z(raw, &ascii, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK &&
	    idn2_to_ascii_8z(raw, &ascii, IDN2_TRANSITIONAL | IDN2_NFC_INPUT) != IDN2_OK)
		return EVC_EBADURL;
	const char *h = ascii ? ascii : raw;
	size_t len = strlen(h);
	if (len > HOST_MAX) {
		idn2_free(ascii);
		return EVC_EBADURL;
	}
	for (size_t i = 0; i <= len; i++)
		p->idn[i] = (char)tolower((unsigned char)h[i]);
	idn2_free(ascii);
	if (!host_ok(p->idn, len))
		return EVC_EBADURL;
	p->host = p->idn;
	p->host_len = len;
	return 0;
}

static int split_parts(struct parts *p, const UriUriA *uri)
{
	long dflt;

	p->https = web_scheme(uri) == 2;
	p->scheme = p->https ? "https" : "http";
	dflt = p->https ? 443 : 80;
	if (uri->userInfo.first || uri->hostData.ipFuture.first)
		return EVC_EBADURL;
	if (uri->hostData.ip6) {
		/* Canonical text (RFC 5952), so [0:0::1] and [::1] are one host. */
		if (!inet_ntop(AF_INET6, uri->hostData.ip6->data, p->ip6, sizeof p->ip6))
			return EVC_EBADURL;
		p->host = p->ip6;
		p->host_len = strlen(p->ip6);
		p->ipv6 = true;
	} else {
		p->host = uri->hostText.first;
		p->host_len = range_len(&uri->hostText);
		if (!p->host)
			return EVC_EBADURL;
		if (!host_ok(p->host, p->host_len)) {
			int err = idn_host(p);
			if (err)
				return err;
		}
	}
	p->port_num = port_of(&uri->portText, dflt);
	if (p->port_num < 0)
		return EVC_EBADURL;
	p->port[0] = '\0';
	if (p->port_num != dflt)
		snprintf(p->port, sizeof p->port, ":%ld", p->port_num);
	return 0;
}

/*
 * Fills *u from a parsed, normalised http(s) URI: buf holds
 * "scheme\0host\0href\0" and target points into href, after the authority.
 */
static int build(struct evc__url *u, const UriUriA *uri)
{
	struct parts p = {0};
	int err = split_parts(&p, uri);
	if (err)
		return err;

	size_t scheme_len = strlen(p.scheme);
	size_t auth_len = p.host_len + (p.ipv6 ? 2 : 0) + strlen(p.port);
	size_t path_len = 0;
	for (const UriPathSegmentA *s = uri->pathHead; s; s = s->next)
		path_len += 1 + range_len(&s->text);
	size_t query_len = uri->query.first ? 1 + range_len(&uri->query) : 0;
	size_t href_len = scheme_len + 3 + auth_len + (path_len ? path_len : 1) + query_len;
	if (href_len > URL_MAX)
		return EVC_EBADURL;

	char *buf = malloc(scheme_len + 1 + p.host_len + 1 + href_len + 1);
	if (!buf)
		return -ENOMEM;
	char *w = buf;
	u->scheme = w;
	w = put(w, p.scheme, scheme_len + 1);
	u->host = w;
	w = put(w, p.host, p.host_len);
	*w++ = '\0';
	u->href = w;
	w = put(w, p.scheme, scheme_len);
	w = put(w, "://", 3);
	if (p.ipv6)
		*w++ = '[';
	w = put(w, p.host, p.host_len);
	if (p.ipv6)
		*w++ = ']';
	w = put(w, p.port, strlen(p.port));
	u->target = w;
	for (const UriPathSegmentA *s = uri->pathHead; s; s = s->next) {
		*w++ = '/';
		w = put(w, s->text.first, range_len(&s->text));
	}
	if (!path_len)
		*w++ = '/';
	if (uri->query.first) {
		*w++ = '?';
		w = put(w, uri->query.first, range_len(&uri->query));
	}
	*w = '\0';

	u->buf = buf;
	u->port = (uint16_t)p.port_num;
	u->https = p.https;
	u->default_port = p.port[0] == '\0';
	u->ipv6 = p.ipv6;
	return 0;
}

static int encode_location(const char **ref, size_t *len, char **copy);

int evc__url_parse(struct evc__url *u, const char *text, size_t len)
{
	UriUriA uri;
	int err;

	memset(u, 0, sizeof *u);
	err = check_text(&text, &len);
	if (err)
		return err;
	/* Raw UTF-8 (an IDN host, a path typed as a browser shows it) is
	 * percent-encoded first, as browsers do. */
	char *encoded = NULL;
	err = encode_location(&text, &len, &encoded);
	if (err)
		return err;
	err = uriParseSingleUriExA(&uri, text, text + len, NULL);
	if (err) {
		free(encoded);
		return uri_error(err);
	}
	err = normalize(&uri);
	/* A relative reference has no scheme, so it fails here too. */
	if (!err)
		err = web_scheme(&uri) ? build(u, &uri) : EVC_EBADURL;
	uriFreeUriMembersA(&uri);
	free(encoded);
	return err;
}

/* Resolves the parsed ref against base's href and normalises the result. */
static int resolve_uri(UriUriA *out, const struct evc__url *base, const UriUriA *ref)
{
	UriUriA b;
	int err;

	err = uriParseSingleUriA(&b, base->href, NULL);
	if (err)
		return uri_error(err);
	/* "http:x" counts as relative when the base is http, as in browsers. */
	err = uriAddBaseUriExA(out, ref, &b, URI_RESOLVE_IDENTICAL_SCHEME_COMPAT);
	uriFreeUriMembersA(&b);
	if (err)
		return uri_error(err);
	err = normalize(out);
	if (err)
		return err;
	return web_scheme(out) ? 0 : EVC_EREDIRECT;
}

/*
 * Servers often send raw UTF-8 or spaces in Location; browsers and curl
 * percent-encode such bytes before resolving, and so do we. Leading and
 * trailing whitespace is left for check_text to trim. *copy gets the
 * malloc'd encoded text when one was needed.
 */
static int encode_location(const char **ref, size_t *len, char **copy)
{
	const unsigned char *s = (const unsigned char *)*ref;
	size_t n = *len, a = 0, b = n, extra = 0;
	while (a < n && is_space(s[a]))
		a++;
	while (b > a && is_space(s[b - 1]))
		b--;
	for (size_t i = a; i < b; i++)
		extra += s[i] >= 0x80 || s[i] == ' ';
	if (extra == 0)
		return 0;
	if (b - a + 2 * extra > URL_MAX)
		return EVC_EBADURL;
	char *out = malloc(b - a + 2 * extra + 1), *w = out;
	if (!out)
		return -ENOMEM;
	for (size_t i = a; i < b; i++) {
		if (s[i] >= 0x80 || s[i] == ' ')
			w += sprintf(w, "%%%02X", s[i]);
		else
			*w++ = (char)s[i];
	}
	*w = '\0';
	*copy = out;
	*ref = out;
	*len = (size_t)(w - out);
	return 0;
}

int evc__url_resolve(struct evc__url *out, const struct evc__url *base, const char *ref, size_t len)
{
	UriUriA r, abs;
	int err;

	memset(out, 0, sizeof *out);
	if (!base->href)
		return EVC_EBADURL;
	/* An empty Location means "this URL again"; check_text refuses "". */
	if (!ref)
		return EVC_EBADURL;
	char *encoded = NULL;
	if (len == 0) {
		ref = "";
	} else {
		err = encode_location(&ref, &len, &encoded);
		if (!err)
			err = check_text(&ref, &len);
		if (err) {
			free(encoded);
			return err;
		}
	}
	/* uriparser's ranges point into ref: keep `encoded` until the end. */
	err = uriParseSingleUriExA(&r, ref, ref + len, NULL);
	if (err) {
		free(encoded);
		return uri_error(err);
	}
	memset(&abs, 0, sizeof abs);
	err = resolve_uri(&abs, base, &r);
	if (!err)
		err = build(out, &abs);
	uriFreeUriMembersA(&abs);
	uriFreeUriMembersA(&r);
	free(encoded);
	return err;
}

void evc__url_free(struct evc__url *u)
{
	free(u->buf);
	memset(u, 0, sizeof *u);
}

size_t evc__url_host_header(const struct evc__url *u, char *out, size_t cap)
{
	if (!u->href) {
		if (cap)
			out[0] = '\0';
		return 0;
	}
	/* href's authority is exactly the Host header: no userinfo, no default port. */
	const char *a = u->href + strlen(u->scheme) + 3;
	size_t n = (size_t)(u->target - a);
	if (n < cap) {
		memcpy(out, a, n);
		out[n] = '\0';
	} else if (cap) {
		out[0] = '\0';
	}
	return n;
}

uint64_t evc__hash64(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---- save paths ------------------------------------------------------ */

/*
 * The path is built in a fixed buffer, one segment at a time. Writing a
 * segment stops a few bytes past SEG_MAX and no segment starts past
 * SAVE_MAX, so the buffer cannot overflow and the work is bounded whatever
 * the URL's length.
 */
struct save_path {
	char b[SAVE_MAX + 1 + SEG_MAX + 16];
	size_t n;   /* bytes written */
	size_t seg; /* where the current segment starts */
	const struct evc__url *u;
};

static bool seg_full(const struct save_path *p)
{
	return p->n - p->seg > SEG_MAX;
}

static void put_byte(struct save_path *p, char c)
{
	if (!seg_full(p))
		p->b[p->n++] = c;
}

static void put_str(struct save_path *p, const char *s)
{
	while (*s && !seg_full(p))
		put_byte(p, *s++);
}

static void put_escaped(struct save_path *p, unsigned char c)
{
	static const char hex[] = "0123456789ABCDEF";

	if (seg_full(p))
		return;
	p->b[p->n++] = '%';
	p->b[p->n++] = hex[c >> 4];
	p->b[p->n++] = hex[c & 15];
}

/*
 * Bytes a file name must not hold raw: controls, the separator, '\\', and
 * '%' and '@' themselves, so that the escaping (and "@query") stays
 * unambiguous and two different URLs never share a name.
 */
static bool unsafe_byte(unsigned char c)
{
	return c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '%' || c == '@';
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes %XX (so names read as the server meant them), escapes unsafe bytes. */
static void put_decoded(struct save_path *p, const char *s, size_t len)
{
	for (size_t i = 0; i < len && !seg_full(p); i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%' && i + 2 < len && hex_val(s[i + 1]) >= 0 && hex_val(s[i + 2]) >= 0) {
			c = (unsigned char)(hex_val(s[i + 1]) * 16 + hex_val(s[i + 2]));
			i += 2;
		}
		if (unsafe_byte(c))
			put_escaped(p, c);
		else
			put_byte(p, (char)c);
	}
}

/* Moves a cut back so that it splits neither a UTF-8 character nor a %XX. */
static size_t safe_cut(const char *b, size_t lo, size_t at)
{
	while (at > lo && ((unsigned char)b[at] & 0xc0) == 0x80)
		at--;
	if (at >= lo + 1 && b[at - 1] == '%')
		at -= 1;
	else if (at >= lo + 2 && b[at - 2] == '%')
		at -= 2;
	return at;
}

/* Cuts the buffer at `at` and appends "~" and a hash of the whole URL. */
static void cut_and_hash(struct save_path *p, size_t lo, size_t at)
{
	uint64_t h = evc__hash64(p->u->href, strlen(p->u->href));

	p->n = safe_cut(p->b, lo, at);
	p->n += (size_t)snprintf(p->b + p->n, HASH_TAIL + 1, "~%08x", (unsigned)(h ^ (h >> 32)));
}

/* Closes a segment: long ones are cut and hashed; "." and ".." are escaped. */
static void end_seg(struct save_path *p)
{
	const char *s = p->b + p->seg;
	size_t len = p->n - p->seg;

	if (len > SEG_MAX) {
		cut_and_hash(p, p->seg, p->seg + SEG_MAX - HASH_TAIL);
	} else if ((len == 1 && s[0] == '.') || (len == 2 && s[0] == '.' && s[1] == '.')) {
		p->n = p->seg;
		put_escaped(p, '.');
		if (len == 2)
			put_escaped(p, '.');
	}
}

/* "host", "host_port", or "_v6addr_[_port]"; '_' in a name is escaped, so
 * "a_8080" (a host) and "a" on port 8080 stay apart. */
static void put_host_dir(struct save_path *p)
{
	const struct evc__url *u = p->u;

	if (u->ipv6)
		put_byte(p, '_');
	for (const char *h = u->host; *h; h++) {
		if (*h == '_' || unsafe_byte((unsigned char)*h))
			put_escaped(p, (unsigned char)*h);
		else
			put_byte(p, *h);
	}
	if (u->ipv6)
		put_byte(p, '_');
	if (!u->default_port) {
		char port[8];
		snprintf(port, sizeof port, "_%u", (unsigned)u->port);
		put_str(p, port);
	}
	end_seg(p);
}

/* One path segment [s, e), or "index.html" for an empty last one, + "@query". */
static void put_seg(struct save_path *p, const char *s, const char *e, const char *query)
{
	put_byte(p, '/');
	p->seg = p->n;
	if (s == e)
		put_str(p, "index.html");
	else
		put_decoded(p, s, (size_t)(e - s));
	if (query) {
		put_byte(p, '@');
		put_decoded(p, query, strlen(query));
	}
	end_seg(p);
}

static void put_path(struct save_path *p)
{
	const char *t = p->u->target;
	const char *q = strchr(t, '?');
	const char *end = q ? q : t + strlen(t);
	const char *s = *t == '/' ? t + 1 : t;

	for (;;) {
		const char *e = memchr(s, '/', (size_t)(end - s));
		if (!e) {
			put_seg(p, s, end, q ? q + 1 : NULL);
			return;
		}
		/* "a//b": the file system would merge the slashes anyway. */
		if (e > s)
			put_seg(p, s, e, NULL);
		if (p->n > SAVE_MAX)
			return;
		s = e + 1;
	}
}

int evc__url_save_path(const struct evc__url *u, char *out, size_t cap)
{
	struct save_path p;

	if (!u->href)
		return -EINVAL;
	/* Not zeroed (1.2 KiB a call): every byte is written before it is read. */
	p.n = 0;
	p.seg = 0;
	p.u = u;
	put_host_dir(&p);
	put_path(&p);
	if (p.n > SAVE_MAX) {
		/* Cut at SAVE_MAX, but never leave the segment the cut lands in
		 * longer than SEG_MAX once the hash is added. */
		size_t at = SAVE_MAX - HASH_TAIL, seg = at;
		while (seg > 0 && p.b[seg - 1] != '/')
			seg--;
		if (at - seg > SEG_MAX - HASH_TAIL)
			at = seg + SEG_MAX - HASH_TAIL;
		cut_and_hash(&p, seg, at);
	}
	if (p.n >= cap)
		return -ENAMETOOLONG;
	memcpy(out, p.b, p.n);
	out[p.n] = '\0';
	return (int)p.n;
}

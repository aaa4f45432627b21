/* Proxies: choosing one, and tunnels through HTTP CONNECT and SOCKS5 (see proxy.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "evcrawl/error.h"
#include "net/proxy.h"

#define DEFAULT_PORT 1080
#define HEAD_MAX     (16 * 1024) /* the longest CONNECT answer head taken */

/* ---- proxy URLs ------------------------------------------------------------ */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)(c | 0x20);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Percent-decode s[0..len) into out (cap bytes with the NUL). False when it
 * does not fit, a % is not followed by two hex digits, or it decodes a NUL. */
static bool decode(const char *s, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)s[i];
		if (c == '%') {
			if (len - i < 3 || hexval(s[i + 1]) < 0 || hexval(s[i + 2]) < 0)
				return false;
			c = hexval(s[i + 1]) * 16 + hexval(s[i + 2]);
			i += 2;
		}
		if (c == 0 || n + 1 >= cap)
			return false;
		out[n++] = (char)c;
	}
	out[n] = '\0';
	return true;
}

int evc__proxy_parse(const char *url, struct evc__proxy *p, const char **why)
{
	memset(p, 0, sizeof *p);
	p->kind = EVC__PROXY_HTTP;
	p->port = DEFAULT_PORT;
	const char *s = url, *sep = strstr(url, "://");
	if (sep) {
		size_t n = (size_t)(sep - url);
		if (n == 4 && !strncasecmp(url, "http", 4)) {
			p->kind = EVC__PROXY_HTTP;
		} else if (n == 6 && !strncasecmp(url, "socks5", 6)) {
			p->kind = EVC__PROXY_SOCKS5;
		} else if (n == 7 && !strncasecmp(url, "socks5h", 7)) {
			p->kind = EVC__PROXY_SOCKS5H;
		} else if (n == 5 && !strncasecmp(url, "https", 5)) {
			*why = "HTTPS proxies (TLS to the proxy) are not supported; use http:// "
			       "(https URLs still go through the proxy in a TLS tunnel)";
			return -EINVAL;
		} else if (n >= 6 && !strncasecmp(url, "socks4", 6)) {
			*why = "SOCKS4 proxies are not supported; use socks5:// or socks5h://";
			return -EINVAL;
		} else {
			*why = "unknown proxy scheme (want http://, socks5:// or socks5h://)";
			return -EINVAL;
		}
		s = sep + 3;
	}
	size_t alen = strcspn(s, "/?#");
	if (s[alen] && strcmp(s + alen, "/") != 0) {
		*why = "a proxy URL has no path, query or fragment (want SCHEME://HOST:PORT)";
		return -EINVAL;
	}
	/* Credentials: up to the last '@' of the authority. */
	const char *at = NULL;
	for (const char *c = s; c < s + alen; c++)
		if (*c == '@')
			at = c;
	const char *h = s;
	if (at) {
		const char *colon = memchr(s, ':', (size_t)(at - s));
		size_t ulen = colon ? (size_t)(colon - s) : (size_t)(at - s);
		if (!decode(s, ulen, p->user, sizeof p->user) ||
		    (colon &&
		     !decode(colon + 1, (size_t)(at - colon - 1), p->pass, sizeof p->pass))) {
			*why = "bad proxy credentials (percent-encode them; at most 255 bytes "
			       "each, no NUL)";
			return -EINVAL;
		}
		p->auth = true;
		h = at + 1;
	}
	const char *end = s + alen, *port = NULL;
	size_t hlen;
	if (*h == '[') {
		const char *close = memchr(h, ']', (size_t)(end - h));
		if (!close) {
			*why = "bad proxy host (an IPv6 address needs its closing ']')";
			return -EINVAL;
		}
		hlen = (size_t)(close - h - 1);
		memcpy(p->host, h + 1, hlen < sizeof p->host ? hlen : 0);
		unsigned char a6[16];
		p->host[hlen < sizeof p->host ? hlen : 0] = '\0';
		if (hlen >= sizeof p->host || inet_pton(AF_INET6, p->host, a6) != 1) {
			*why = "bad proxy host (not an IPv6 address inside [ ])";
			return -EINVAL;
		}
		for (char *c = p->host; *c; c++) /* "::1A" is "::1a" */
			*c = (char)(*c >= 'A' && *c <= 'F' ? *c + 32 : *c);
		if (close + 1 < end && close[1] != ':') {
			*why = "bad proxy host";
			return -EINVAL;
		}
		port = close + 1 < end ? close + 2 : NULL;
	} else {
		const char *colon = memchr(h, ':', (size_t)(end - h));
		hlen = (size_t)((colon ? colon : end) - h);
		if (hlen >= sizeof p->host) {
			*why = "proxy host name too long";
			return -EINVAL;
		}
		for (size_t i = 0; i < hlen; i++) {
			char c = h[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			      (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')) {
				*why = "bad proxy host name";
				return -EINVAL;
			}
			p->host[i] = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		p->host[hlen] = '\0';
		port = colon ? colon + 1 : NULL;
	}
	if (!p->host[0]) {
		*why = "the proxy URL has no host";
		return -EINVAL;
	}
	if (port) {
		unsigned long v = 0;
		const char *c = port;
		for (; c < end && *c >= '0' && *c <= '9' && v <= 65535; c++)
			v = v * 10 + (unsigned long)(*c - '0');
		if (c != end || c == port || v < 1 || v > 65535) {
			*why = "bad proxy port (want 1 to 65535)";
			return -EINVAL;
		}
		p->port = (uint16_t)v;
	}
	return 0;
}

/* ---- which proxy ----------------------------------------------------------- */

/* host as an address: family and bytes; 0 when it is a name. */
static int as_addr(const char *host, size_t len, unsigned char out[16])
{
	char buf[64];
	if (len >= sizeof buf)
		return 0;
	memcpy(buf, host, len);
	buf[len] = '\0';
	if (inet_pton(AF_INET, buf, out) == 1)
		return AF_INET;
	if (inet_pton(AF_INET6, buf, out) == 1)
		return AF_INET6;
	return 0;
}

static bool prefix_match(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned bytes = bits / 8, rest = bits % 8;
	if (memcmp(a, b, bytes) != 0)
		return false;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return !rest || ((a[bytes] ^ b[bytes]) & mask) == 0;
}

/* One no-proxy entry (len bytes, not empty) against host. */
static bool entry_match(const char *e, size_t len, const char *host, size_t hlen)
{
	unsigned char ha[16], ea[16];
	int hfam = as_addr(host, hlen, ha);
	if (hfam) {
		const char *slash = memchr(e, '/', len), *stop = e + len, *a = e;
		size_t alen = slash ? (size_t)(slash - e) : len;
		if (alen >= 2 && a[0] == '[' && a[alen - 1] == ']') {
			a++;
			alen -= 2;
		}
		if (as_addr(a, alen, ea) != hfam)
			return false;
		unsigned max = hfam == AF_INET ? 32 : 128, bits = max;
		if (slash) {
			const char *c = slash + 1;
			if (c == stop || stop - c > 3)
				return false;
			for (bits = 0; c < stop; c++) {
				if (*c < '0' || *c > '9')
					return false;
				bits = bits * 10 + (unsigned)(*c - '0');
			}
			if (bits > max)
				return false;
		}
		return prefix_match(ha, ea, bits);
	}
	if (e[0] == '.') {
		e++;
		len--;
	}
	if (!len || len > hlen || strncasecmp(host + hlen - len, e, len) != 0)
		return false;
	return len == hlen || host[hlen - len - 1] == '.';
}

bool evc__noproxy_match(const char *list, const char *host)
{
	if (!list || !host)
		return false;
	size_t hlen = strlen(host);
	if (hlen && host[hlen - 1] == '.')
		hlen--;
	const char *p = list;
	for (;;) {
		p += strspn(p, ", \t");
		if (!*p)
			return false;
		size_t len = strcspn(p, ", \t");
		if (len == 1 && p[0] == '*')
			return true;
		size_t elen = len;
		if (elen > 1 && p[elen - 1] == '.' && p[0] != '[') /* "example.com." */
			elen--;
		if (entry_match(p, elen, host, hlen))
			return true;
		p += len;
	}
}

const char *evc__proxy_pick(const evc_crawl_opts_t *o, bool https, const char *host)
{
	const char *url = o->proxy ? o->proxy : https ? o->https_proxy : o->http_proxy;
	if (!url || !*url || evc__noproxy_match(o->noproxy, host))
		return NULL;
	return url;
}

static const char *env(const char *lower, const char *upper)
{
	const char *v = getenv(lower);
	if ((!v || !*v) && upper)
		v = getenv(upper);
	return v && *v ? v : NULL;
}

void evc__proxy_env(const evc_crawl_opts_t *o, const char **http, const char **https,
		    const char **noproxy)
{
	const char *all = env("all_proxy", "ALL_PROXY");
	*http = o->http_proxy;
	*https = o->https_proxy;
	*noproxy = o->noproxy;
	if (!o->proxy) {
		if (!*http)
			*http = env("http_proxy", NULL) ? env("http_proxy", NULL) : all;
		if (!*https)
			*https = env("https_proxy", "HTTPS_PROXY")
				     ? env("https_proxy", "HTTPS_PROXY")
				     : all;
	}
	if (!*noproxy)
		*noproxy = env("no_proxy", "NO_PROXY");
}

bool evc__proxy_resolves(const char *url)
{
	struct evc__proxy p;
	const char *why;
	return url && evc__proxy_parse(url, &p, &why) == 0 && p.kind != EVC__PROXY_SOCKS5;
}

bool evc__proxy_tunnels(const struct evc__proxy *p, bool https)
{
	return p->kind != EVC__PROXY_HTTP || https;
}

int evc__proxy_auth_header(const struct evc__proxy *p, char *buf, size_t cap)
{
	if (!p->auth) {
		if (cap)
			buf[0] = '\0';
		return cap ? 0 : -1;
	}
	char plain[520];
	int n = snprintf(plain, sizeof plain, "%s:%s", p->user, p->pass);
	size_t b64 = 4 * (((size_t)n + 2) / 3);
	static const char head[] = "Proxy-Authorization: Basic ";
	if (sizeof head - 1 + b64 + 3 > cap)
		return -1;
	memcpy(buf, head, sizeof head - 1);
	EVP_EncodeBlock((unsigned char *)buf + sizeof head - 1, (const unsigned char *)plain, n);
	memcpy(buf + sizeof head - 1 + b64, "\r\n", 3);
	return (int)(sizeof head - 1 + b64 + 2);
}

/* ---- the tunnel ---------------------------------------------------------------- */

enum tstate {
	TS_SEND,	 /* writing out[], then on to `next` */
	TS_HTTP_HEAD,	 /* reading the answer to CONNECT */
	TS_SOCKS_METHOD, /* reading the chosen authentication method */
	TS_SOCKS_AUTH,	 /* reading the answer to the user name and password */
	TS_SOCKS_REPLY,	 /* reading the answer to CONNECT */
	TS_OPEN,
	TS_FAILED,
};

struct tunnel {
	struct evc__stream s; /* first: the pointer handed out; fd = inner's */
	struct evc__stream *inner;
	enum evc__proxy_kind kind;
	enum tstate state, next;
	char out[600]; /* the request being sent (CONNECT's head may be longer: see big) */
	char *big;     /* a CONNECT head that does not fit out[] */
	size_t out_len, out_off;
	char *in; /* what the proxy said; after the handshake, the origin's first bytes */
	size_t in_len, in_off;
	size_t scanned; /* in[] bytes searched for the end of the CONNECT answer */
	char why[320];
	bool retryable;
	bool auth;
	char user[256], pass[256];
	char host[256]; /* the origin */
	uint16_t port;
	evc_sockaddr_t addr; /* SOCKS5: the origin's address */
	char where[300];     /* "the proxy HOST:PORT" for messages */
};

static int fail(struct tunnel *t, bool retryable, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct tunnel *t, bool retryable, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(t->why, sizeof t->why, fmt, ap);
	va_end(ap);
	t->retryable = retryable;
	t->state = TS_FAILED;
	return EVC_EPROTO;
}

static const char *out_buf(struct tunnel *t)
{
	return t->big ? t->big : t->out;
}

/* Queue bytes to send, then go on to next. */
static void send_then(struct tunnel *t, const void *data, size_t len, enum tstate next)
{
	memcpy(t->out, data, len);
	t->out_len = len;
	t->out_off = 0;
	t->state = TS_SEND;
	t->next = next;
}

/* Read until `need` bytes are in (need 0: one read, whatever comes).
 * 0 when they are, WANT_* or a failure code otherwise. */
static int fill(struct tunnel *t, size_t need)
{
	while (need == 0 || t->in_len < need) {
		if (t->in_len == HEAD_MAX)
			return fail(t, false, "%s sent an answer longer than %d bytes", t->where,
				    HEAD_MAX);
		ssize_t n = evc__stream_read(t->inner, t->in + t->in_len, HEAD_MAX - t->in_len);
		if (n == EVC__WANT_READ || n == EVC__WANT_WRITE)
			return (int)n;
		if (n == 0)
			return fail(t, true, "%s closed the connection before it answered",
				    t->where);
		if (n < 0)
			return fail(t, true, "reading from %s: %s", t->where, evc_strerror((int)n));
		t->in_len += (size_t)n;
		if (need == 0)
			return 0;
	}
	return 0;
}

/* Drop the first n bytes read (they were the proxy's). */
static void consume(struct tunnel *t, size_t n)
{
	memmove(t->in, t->in + n, t->in_len - n);
	t->in_len -= n;
}

/* The handshake is over: what is left in in[] is the origin's. */
static int opened(struct tunnel *t)
{
	t->state = TS_OPEN;
	t->in_off = 0;
	if (!t->in_len) {
		free(t->in);
		t->in = NULL;
	}
	memset(t->pass, 0, sizeof t->pass);
	return 0;
}

/* The reason phrase of a status line, printable ASCII only, for messages. */
static void reason_of(const char *line, size_t len, char *out, size_t cap)
{
	size_t n = 0;
	for (size_t i = 0; i < len && n + 1 < cap; i++)
		out[n++] = line[i] >= 0x20 && line[i] < 0x7f ? line[i] : '?';
	out[n] = '\0';
}

/* Where the head in in[] ends (past its blank line: LF, then CR LF or LF),
 * or 0 while it has not all come. Scans only what is new since *from. */
static size_t head_end(const struct tunnel *t, size_t *from)
{
	for (size_t i = *from; i + 1 < t->in_len; i++) {
		if (t->in[i] != '\n')
			continue;
		if (t->in[i + 1] == '\n')
			return i + 2;
		if (t->in[i + 1] == '\r' && i + 2 < t->in_len && t->in[i + 2] == '\n')
			return i + 3;
	}
	/* A match starts with a LF at most 3 bytes from the end: start there
	 * next time (the last two bytes may begin one). */
	*from = t->in_len > 2 ? t->in_len - 2 : 0;
	return 0;
}

static int http_head(struct tunnel *t)
{
	for (;;) {
		/* Garbage is known as such before its end. */
		size_t cmp = t->in_len < 5 ? t->in_len : 5;
		if (memcmp(t->in, "HTTP/", cmp) != 0)
			return fail(t, false, "%s answered CONNECT with something that is not HTTP",
				    t->where);
		size_t end = head_end(t, &t->scanned);
		if (!end) {
			int rc = fill(t, 0);
			if (rc)
				return rc;
			continue;
		}
		/* The status line ends at the first LF (at the latest in the
		 * blank line). */
		const char *line = t->in, *eol = memchr(line, '\n', end);
		size_t llen = (size_t)(eol - line);
		if (llen && line[llen - 1] == '\r')
			llen--;
		if (llen < 12 || memcmp(line, "HTTP/1.", 7) != 0 || line[7] < '0' ||
		    line[7] > '9' || line[8] != ' ' || line[9] < '1' || line[9] > '5' ||
		    line[10] < '0' || line[10] > '9' || line[11] < '0' || line[11] > '9' ||
		    (llen > 12 && line[12] != ' '))
			return fail(t, false, "%s answered CONNECT with something that is not HTTP",
				    t->where);
		int status = (line[9] - '0') * 100 + (line[10] - '0') * 10 + (line[11] - '0');
		if (status < 200) { /* an interim answer: the real one follows */
			consume(t, end);
			t->scanned = 0;
			continue;
		}
		char reason[64];
		reason_of(line + 12 + (llen > 12), llen > 13 ? llen - 13 : 0, reason,
			  sizeof reason);
		if (status < 300) {
			consume(t, end);
			return opened(t);
		}
		if (status == 407)
			return fail(t, false,
				    t->auth
					? "%s refused the credentials (407 %s)"
					: "%s wants credentials (407 %s): give them in the proxy "
					  "URL, http://USER:PASSWORD@HOST:PORT",
				    t->where, reason);
		return fail(t, status == 502 || status == 503 || status == 504,
			    "%s refused the tunnel to %s:%u: %d %s", t->where, t->host, t->port,
			    status, reason);
	}
}

static void socks_connect_request(struct tunnel *t)
{
	unsigned char req[262 + 4];
	size_t n = 0;
	req[n++] = 5; /* version */
	req[n++] = 1; /* CONNECT */
	req[n++] = 0;
	unsigned char a[16];
	bool v4 = inet_pton(AF_INET, t->host, a) == 1,
	     v6 = !v4 && inet_pton(AF_INET6, t->host, a) == 1;
	if (t->kind == EVC__PROXY_SOCKS5H && (v4 || v6)) {
		/* An address in the URL goes as one, with or without h. */
		req[n++] = v4 ? 1 : 4;
		memcpy(req + n, a, v4 ? 4 : 16);
		n += v4 ? 4 : 16;
	} else if (t->kind == EVC__PROXY_SOCKS5H) {
		size_t hl = strlen(t->host); /* at most 255: checked at wrap */
		req[n++] = 3;
		req[n++] = (unsigned char)hl;
		memcpy(req + n, t->host, hl);
		n += hl;
	} else if (t->addr.sa.sa_family == AF_INET6) {
		req[n++] = 4;
		memcpy(req + n, &t->addr.in6.sin6_addr, 16);
		n += 16;
	} else {
		req[n++] = 1;
		memcpy(req + n, &t->addr.in4.sin_addr, 4);
		n += 4;
	}
	req[n++] = (unsigned char)(t->port >> 8);
	req[n++] = (unsigned char)(t->port & 0xff);
	send_then(t, req, n, TS_SOCKS_REPLY);
}

static int socks_method(struct tunnel *t)
{
	int rc = fill(t, 2);
	if (rc)
		return rc;
	unsigned char v = (unsigned char)t->in[0], m = (unsigned char)t->in[1];
	if (v != 5)
		return fail(t, false, "%s did not answer as a SOCKS5 proxy", t->where);
	consume(t, 2);
	if (m == 0) {
		socks_connect_request(t);
		return 0;
	}
	if (m == 2 && t->auth) {
		/* RFC 1929: version 1, then the name and the password. */
		unsigned char req[3 + 255 + 255];
		size_t ul = strlen(t->user), pl = strlen(t->pass), n = 0;
		req[n++] = 1;
		req[n++] = (unsigned char)ul;
		memcpy(req + n, t->user, ul);
		n += ul;
		req[n++] = (unsigned char)pl;
		memcpy(req + n, t->pass, pl);
		n += pl;
		send_then(t, req, n, TS_SOCKS_AUTH);
		return 0;
	}
	if (m == 0xff)
		return fail(t, false,
			    t->auth ? "%s accepts none of the ways evcrawl can log in"
				    : "%s wants a user name and password: give them in the proxy "
				      "URL, socks5://USER:PASSWORD@HOST:PORT",
			    t->where);
	return fail(t, false, "%s chose an authentication method evcrawl did not offer (%u)",
		    t->where, m);
}

static int socks_auth(struct tunnel *t)
{
	int rc = fill(t, 2);
	if (rc)
		return rc;
	if (t->in[1] != 0)
		return fail(t, false, "%s refused the user name and password", t->where);
	consume(t, 2);
	socks_connect_request(t);
	return 0;
}

static int socks_reply(struct tunnel *t)
{
	static const char *const why[] = {
	    NULL,
	    "general SOCKS server failure",
	    "connection not allowed by its rules",
	    "network unreachable",
	    "host unreachable",
	    "connection refused",
	    "TTL expired",
	    "command not supported",
	    "address type not supported",
	};
	int rc = fill(t, 2);
	if (rc)
		return rc;
	unsigned char v = (unsigned char)t->in[0], r = (unsigned char)t->in[1];
	if (v != 5)
		return fail(t, false, "%s did not answer as a SOCKS5 proxy", t->where);
	if (r != 0) {
		bool transient = r == 1 || r == 3 || r == 4 || r == 5 || r == 6;
		if (r < sizeof why / sizeof why[0])
			return fail(t, transient, "%s could not connect to %s:%u: %s", t->where,
				    t->host, t->port, why[r]);
		return fail(t, false, "%s could not connect to %s:%u: error %u", t->where, t->host,
			    t->port, r);
	}
	if ((rc = fill(t, 5)))
		return rc;
	unsigned char atyp = (unsigned char)t->in[3];
	size_t alen = atyp == 1 ? 4 : atyp == 4 ? 16 : atyp == 3 ? 1u + (unsigned char)t->in[4] : 0;
	if (!alen)
		return fail(t, false, "%s did not answer as a SOCKS5 proxy", t->where);
	if ((rc = fill(t, 4 + alen + 2)))
		return rc;
	consume(t, 4 + alen + 2);
	return opened(t);
}

static int tunnel_handshake(struct evc__stream *s)
{
	struct tunnel *t = (struct tunnel *)s;
	for (;;) {
		int rc = 0;
		switch (t->state) {
		case TS_SEND:
			while (t->out_off < t->out_len) {
				ssize_t n = evc__stream_write(t->inner, out_buf(t) + t->out_off,
							      t->out_len - t->out_off);
				if (n == EVC__WANT_READ || n == EVC__WANT_WRITE)
					return (int)n;
				if (n < 0)
					return fail(t, true, "sending to %s: %s", t->where,
						    evc_strerror((int)n));
				t->out_off += (size_t)n;
			}
			free(t->big);
			t->big = NULL;
			t->state = t->next;
			continue;
		case TS_HTTP_HEAD:
			rc = http_head(t);
			break;
		case TS_SOCKS_METHOD:
			rc = socks_method(t);
			break;
		case TS_SOCKS_AUTH:
			rc = socks_auth(t);
			break;
		case TS_SOCKS_REPLY:
			rc = socks_reply(t);
			break;
		case TS_OPEN:
			return 0;
		case TS_FAILED:
		default:
			return EVC_EPROTO;
		}
		if (rc)
			return rc;
	}
}

static ssize_t tunnel_read(struct evc__stream *s, char *buf, size_t cap)
{
	struct tunnel *t = (struct tunnel *)s;
	if (t->state != TS_OPEN)
		return EVC_EPROTO;
	if (t->in) { /* the origin's bytes that came with the proxy's answer */
		size_t n = t->in_len - t->in_off;
		if (n > cap)
			n = cap;
		memcpy(buf, t->in + t->in_off, n);
		t->in_off += n;
		if (t->in_off == t->in_len) {
			free(t->in);
			t->in = NULL;
		}
		return (ssize_t)n;
	}
	return evc__stream_read(t->inner, buf, cap);
}

static ssize_t tunnel_write(struct evc__stream *s, const char *buf, size_t len)
{
	struct tunnel *t = (struct tunnel *)s;
	if (t->state != TS_OPEN)
		return EVC_EPROTO;
	return evc__stream_write(t->inner, buf, len);
}

static int tunnel_shutdown(struct evc__stream *s)
{
	struct tunnel *t = (struct tunnel *)s;
	return t->inner->ops->shutdown ? t->inner->ops->shutdown(t->inner) : 0;
}

static bool tunnel_pending(struct evc__stream *s)
{
	struct tunnel *t = (struct tunnel *)s;
	return (t->state == TS_OPEN && t->in) || evc__stream_pending(t->inner);
}

static void tunnel_close(struct evc__stream *s)
{
	struct tunnel *t = (struct tunnel *)s;
	evc__stream_close(t->inner);
	free(t->in);
	free(t->big);
	free(t);
}

static const struct evc__stream_ops tunnel_ops = {
    .name = "proxy",
    .read = tunnel_read,
    .write = tunnel_write,
    .handshake = tunnel_handshake,
    .shutdown = tunnel_shutdown,
    .pending = tunnel_pending,
    .close = tunnel_close,
};

bool evc__is_tunnel(const struct evc__stream *s)
{
	return s->ops == &tunnel_ops;
}

int evc__proxy_wrap(struct evc__stream *inner, const struct evc__proxy *p, const char *host,
		    uint16_t port, const evc_sockaddr_t *addr, struct evc__stream **out)
{
	struct tunnel *t = calloc(1, sizeof *t);
	if (!t || !(t->in = malloc(HEAD_MAX))) {
		free(t);
		return -ENOMEM;
	}
	t->s.ops = &tunnel_ops;
	t->s.fd = inner->fd;
	t->inner = inner;
	t->kind = p->kind;
	/* RFC 1929 wants a user name of 1 to 255 bytes: with none, a SOCKS5
	 * proxy is not offered a login. */
	t->auth = p->auth && (p->kind == EVC__PROXY_HTTP || p->user[0]);
	snprintf(t->user, sizeof t->user, "%s", p->user);
	snprintf(t->pass, sizeof t->pass, "%s", p->pass);
	snprintf(t->host, sizeof t->host, "%s", host);
	t->port = port;
	if (addr)
		t->addr = *addr;
	bool v6 = strchr(p->host, ':') != NULL;
	snprintf(t->where, sizeof t->where, "the %s proxy %s%s%s:%u",
		 p->kind == EVC__PROXY_HTTP ? "HTTP" : "SOCKS5", v6 ? "[" : "", p->host,
		 v6 ? "]" : "", p->port);
	if (p->kind == EVC__PROXY_HTTP) {
		char auth[EVC__PROXY_AUTH_MAX];
		evc__proxy_auth_header(p, auth, sizeof auth);
		bool h6 = strchr(host, ':') != NULL;
		char hp[300];
		snprintf(hp, sizeof hp, "%s%s%s:%u", h6 ? "[" : "", host, h6 ? "]" : "", port);
		int n =
		    snprintf(NULL, 0, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", hp, hp, auth);
		if (n >= (int)sizeof t->out && !(t->big = malloc((size_t)n + 1))) {
			free(t->in); /* inner stays the caller's */
			free(t);
			return -ENOMEM;
		}
		snprintf(t->big ? t->big : t->out, (size_t)n + 1,
			 "CONNECT %s HTTP/1.1\r\nHost: %s\r\n%s\r\n", hp, hp, auth);
		t->out_len = (size_t)n;
		t->state = TS_SEND;
		t->next = TS_HTTP_HEAD;
	} else {
		if (p->kind == EVC__PROXY_SOCKS5H && strlen(host) > 255) {
			/* Cannot happen: URL host names are at most 255 bytes. */
			fail(t, false, "host name too long for SOCKS5");
		} else {
			unsigned char greet[4] = {5, 1, 0, 0};
			size_t n = 3;
			if (t->auth) { /* offer both: some proxies let anyone in */
				greet[1] = 2;
				greet[3] = 2;
				n = 4;
			}
			send_then(t, greet, n, TS_SOCKS_METHOD);
		}
	}
	*out = &t->s;
	return 0;
}

const char *evc__proxy_failure(struct evc__stream *s, bool *retryable)
{
	struct tunnel *t = (struct tunnel *)s;
	*retryable = t->retryable;
	return t->why[0] ? t->why : "proxy handshake failed";
}

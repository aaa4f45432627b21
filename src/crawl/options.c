/* Crawl options: defaults, checks, copies, and setting by name (see options.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "crawl/cookies.h"
#include "crawl/options.h"
#include "crawl/polite.h"
#include "http/request.h"
#include "net/proxy.h"

void evc_crawl_opts_init(evc_crawl_opts_t *o)
{
	*o = (evc_crawl_opts_t){
	    .concurrency = 100,
	    .per_host = 8,
	    .timeout_ms = 60000,
	    .connect_timeout_ms = 10000,
	    .idle_timeout_ms = 30000,
	    .dns_timeout_ms = 10000,
	    .retries = 2,
	    .max_redirects = 10,
	    .max_body = 64ull << 20,
	    .retry_base_ms = 250,
	    .retry_max_wait_ms = 10000,
	    .max_handshakes = 256,
	    .max_retry_after_ms = 120000,
	    .host_errors = 10,
	    .max_crawl_delay_ms = 60000,
	    .max_depth = 5,
	    .max_url_len = 2048,
	    .max_path_repeats = 3,
	    .max_query_variants = 100,
	    .frontier_mem = 64ull << 20,
	};
}

int evc__parse_resolve(const char *spec, char host[256], uint16_t *port, char addr[64])
{
	const char *c1 = strchr(spec, ':');
	const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
	if (!c1 || !c2 || c1 == spec || c1 - spec > 255)
		return -EINVAL;
	for (int i = 0; i < c1 - spec; i++) /* host names compare lower-case */
		host[i] = (char)(spec[i] >= 'A' && spec[i] <= 'Z' ? spec[i] + 32 : spec[i]);
	host[c1 - spec] = '\0';
	if (c2 - c1 == 2 && c1[1] == '*') {
		*port = 0;
	} else {
		char *end;
		long p = strtol(c1 + 1, &end, 10);
		if (end != c2 || p < 1 || p > 65535)
			return -EINVAL;
		*port = (uint16_t)p;
	}
	const char *a = c2 + 1;
	size_t alen = strlen(a);
	if (alen > 2 && a[0] == '[' && a[alen - 1] == ']')
		a++, alen -= 2;
	if (alen == 0 || alen >= 64)
		return -EINVAL;
	memcpy(addr, a, alen);
	addr[alen] = '\0';
	return 0;
}

int evc__engine_resolver(evc_resolver_t **out, evc_loop_t *loop, const evc_crawl_opts_t *o)
{
	evc_resolver_opts_t ro = {.servers = o->dns_servers, .timeout_ms = o->dns_timeout_ms};
	int rc = evc_resolver_new(out, loop, &ro);
	for (size_t i = 0; rc == 0 && o->resolve && o->resolve[i]; i++) {
		char host[256], addr[64];
		uint16_t port;
		rc = evc__parse_resolve(o->resolve[i], host, &port, addr);
		if (rc == 0)
			rc = evc_resolver_add_override(*out, host, port, addr);
	}
	return rc;
}

/*
 * "IP[:PORT]" or "[IPv6]:PORT", comma-separated, as c-ares takes them. c-ares
 * would cut a port above 65535 to 16 bits and ask the wrong port; say so
 * here instead. Returns true (with the reason in buf) when one is bad.
 */
static bool dns_servers_bad(const char *list, char *buf, size_t cap)
{
	const char *p = list;
	while (*p) {
		size_t n = strcspn(p, ",");
		char one[80];
		snprintf(one, sizeof one, "%.*s", (int)(n < sizeof one - 1 ? n : sizeof one - 1),
			 p);
		char *addr = one, *port = NULL;
		if (one[0] == '[') {
			char *end = strchr(one, ']');
			if (end) {
				*end = '\0';
				addr = one + 1;
				port = end[1] == ':' ? end + 2 : end[1] ? end : NULL;
			}
		} else if (strchr(one, ':') == strrchr(one, ':') && strchr(one, ':')) {
			port = strchr(one, ':'); /* IPv4:PORT (a bare IPv6 has several colons) */
			*port++ = '\0';
		}
		unsigned char sa[16];
		bool ok = n < sizeof one &&
			  (inet_pton(AF_INET, addr, sa) == 1 || inet_pton(AF_INET6, addr, sa) == 1);
		if (ok && port) {
			char *end;
			unsigned long v = strtoul(port, &end, 10);
			ok = *port >= '0' && *port <= '9' && !*end && v >= 1 && v <= 65535;
		}
		if (!ok) {
			snprintf(buf, cap,
				 "bad --dns-server '%.*s' (want IP[:PORT] or "
				 "[IPv6]:PORT, PORT 1-65535)",
				 (int)(n < 100 ? n : 100), p);
			return true;
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return false;
}

int evc_crawl_opts_check(const evc_crawl_opts_t *o, const char **what)
{
	static __thread char buf[300];
	if (o->concurrency == 0 || o->per_host == 0) {
		*what = o->concurrency == 0 ? "concurrency must be at least 1"
					    : "per_host must be at least 1";
		return -EINVAL;
	}
	if (o->tls_min != 0 && o->tls_min != 12 && o->tls_min != 13) {
		*what = "tls_min must be 12 (TLS 1.2) or 13 (TLS 1.3)";
		return -EINVAL;
	}
	if (o->scope > EVC_SCOPE_ANY) {
		*what = "scope must be EVC_SCOPE_HOST, _DOMAIN, _PREFIX or _ANY";
		return -EINVAL;
	}
	for (int i = 0; i < 2; i++) {
		const char *re = i ? o->exclude : o->include;
		regex_t rx;
		if (!re)
			continue;
		if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0) {
			snprintf(buf, sizeof buf, "bad %s regex '%.200s'",
				 i ? "exclude" : "include", re);
			*what = buf;
			return -EINVAL;
		}
		regfree(&rx);
	}
	if (o->politeness_key > EVC_KEY_IP) {
		*what = "politeness_key must be EVC_KEY_HOST, EVC_KEY_DOMAIN or EVC_KEY_IP";
		return -EINVAL;
	}
	if (!(o->rate >= 0 && o->rate <= 1e6)) {
		*what = "rate must be between 0 (no limit) and 1000000 per second";
		return -EINVAL;
	}
	if (o->max_redirects > 1000) { /* each fetch keeps one hash per redirect */
		*what = "max_redirects must be at most 1000";
		return -EINVAL;
	}
	char *block = NULL;
	const char *bad = NULL;
	if (evc__request_headers(&block, o->user_agent, o->headers, false, &bad) < 0) {
		if (bad && bad == o->user_agent)
			snprintf(buf, sizeof buf, "bad user agent: it holds CR or LF");
		else if (bad && strncasecmp(bad, "Host:", 5) == 0)
			snprintf(buf, sizeof buf,
				 "a Host header cannot be set: each request's Host is its URL's "
				 "host; to reach a host at another address use --resolve "
				 "HOST:PORT:ADDR (resolve in the library)");
		else
			snprintf(buf, sizeof buf, "bad header '%.200s' (want 'Name: value')",
				 bad ? bad : "?");
		*what = buf;
		return -EINVAL;
	}
	size_t fixed = strlen(block) + (o->cookie ? strlen(o->cookie) + 10 : 0);
	free(block);
	if (o->cookie && strpbrk(o->cookie, "\r\n")) {
		*what = "bad cookie: it holds CR or LF";
		return -EINVAL;
	}
	if (fixed > EVC__HEADERS_MAX) {
		snprintf(buf, sizeof buf,
			 "request headers too large: %zu bytes (at most %d with -H, -A and -b)",
			 fixed, EVC__HEADERS_MAX);
		*what = buf;
		return -EINVAL;
	}
	if (o->method && (!*o->method || !evc__header_name_ok(o->method, strlen(o->method)))) {
		*what = "the method must be a token (GET, HEAD, POST, ...)";
		return -EINVAL;
	}
	if (o->data && o->data_len > EVC_DATA_MAX) {
		*what = "the request body is larger than 1 MiB";
		return -EINVAL;
	}
	if (o->default_scheme && strcmp(o->default_scheme, "http") != 0 &&
	    strcmp(o->default_scheme, "https") != 0) {
		*what = "default scheme must be http or https";
		return -EINVAL;
	}
	for (size_t i = 0; o->record_headers && o->record_headers[i]; i++) {
		const char *n = o->record_headers[i];
		if (!*n || strlen(n) > 63 || !evc__header_name_ok(n, strlen(n))) {
			snprintf(buf, sizeof buf,
				 "bad header name '%.100s' to record (a token of "
				 "at most 63 bytes)",
				 n);
			*what = buf;
			return -EINVAL;
		}
	}
	if (o->dns_servers && dns_servers_bad(o->dns_servers, buf, sizeof buf)) {
		*what = buf;
		return -EINVAL;
	}
	const char *env_http = o->http_proxy, *env_https = o->https_proxy, *env_no;
	if (o->proxy_env)
		evc__proxy_env(o, &env_http, &env_https, &env_no);
	const char *proxies[] = {o->proxy, env_http, env_https};
	for (size_t i = 0; i < 3; i++) {
		struct evc__proxy px;
		const char *why;
		bool from_env =
		    i == 1 ? env_http != o->http_proxy : i == 2 && env_https != o->https_proxy;
		if (proxies[i] && *proxies[i] && evc__proxy_parse(proxies[i], &px, &why) < 0) {
			/* Shown without its credentials: messages end up in logs. */
			const char *u = proxies[i], *sep = strstr(u, "://");
			const char *auth = sep ? sep + 3 : u, *at = NULL;
			for (const char *c = auth; *c && *c != '/'; c++)
				at = *c == '@' ? c : at;
			snprintf(buf, sizeof buf, "bad proxy '%.*s%s%.100s'%s: %s",
				 (int)(at ? auth - u : 0), u, at ? "***" : "", at ? at : u,
				 from_env ? " (from the environment)" : "", why);
			*what = buf;
			return -EINVAL;
		}
	}
	for (size_t i = 0; o->resolve && o->resolve[i]; i++) {
		char host[256], addr[64];
		uint16_t port;
		evc_sockaddr_t sa;
		if (evc__parse_resolve(o->resolve[i], host, &port, addr) < 0 ||
		    (inet_pton(AF_INET, addr, &sa.in4.sin_addr) != 1 &&
		     inet_pton(AF_INET6, addr, &sa.in6.sin6_addr) != 1)) {
			snprintf(buf, sizeof buf,
				 "bad --resolve '%.200s' (want HOST:PORT:ADDR, ADDR numeric)",
				 o->resolve[i]);
			*what = buf;
			return -EINVAL;
		}
	}
	return 0;
}

static size_t list_size(const char *const *list, size_t *count)
{
	size_t bytes = 0;
	*count = 0;
	for (; list && list[*count]; (*count)++)
		bytes += strlen(list[*count]) + 1;
	return bytes;
}

/* Copy s to *p (advancing it); NULL stays NULL. */
static const char *put_str(char **p, const char *s)
{
	if (!s)
		return NULL;
	size_t n = strlen(s) + 1;
	char *d = memcpy(*p, s, n);
	*p += n;
	return d;
}

static const char *const *put_list(char **p, const char *const *list, size_t count,
				   const char ***slots)
{
	if (!list)
		return NULL;
	const char **out = *slots;
	for (size_t i = 0; i < count; i++)
		out[i] = put_str(p, list[i]);
	out[count] = NULL;
	*slots += count + 1;
	return out;
}

/* Copy src into *dst, with every string and string list in one malloc'd
 * block returned in *block. */
static int opts_copy(evc_crawl_opts_t *dst, const evc_crawl_opts_t *src, char **block)
{
	size_t nh, nr, nw;
	size_t bytes = list_size(src->headers, &nh) + list_size(src->resolve, &nr) +
		       list_size(src->record_headers, &nw);
	const char *strs[] = {src->dns_servers, src->user_agent,     src->output_dir, src->cacert,
			      src->capath,	src->default_scheme, src->method,     src->proxy,
			      src->http_proxy,	src->https_proxy,    src->noproxy};
	for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
		bytes += strs[i] ? strlen(strs[i]) + 1 : 0;
	bytes += src->data ? src->data_len + 1 : 0;
	bytes += src->cookie ? strlen(src->cookie) + 1 : 0;
	bytes += src->cookie_jar ? strlen(src->cookie_jar) + 1 : 0;
	size_t nslots = nh + nr + nw + 3;
	/* One block: the list slots first, then the text. */
	size_t slot_bytes = nslots * sizeof(const char *);
	char *mem = malloc(slot_bytes + bytes + 1);
	if (!mem)
		return -ENOMEM;
	const char **slots = (const char **)(void *)mem;
	char *p = mem + slot_bytes;
	*dst = *src;
	dst->dns_servers = put_str(&p, src->dns_servers);
	dst->user_agent = put_str(&p, src->user_agent);
	dst->output_dir = put_str(&p, src->output_dir);
	dst->cacert = put_str(&p, src->cacert);
	dst->capath = put_str(&p, src->capath);
	dst->default_scheme = put_str(&p, src->default_scheme);
	dst->method = put_str(&p, src->method);
	dst->proxy = put_str(&p, src->proxy);
	dst->http_proxy = put_str(&p, src->http_proxy);
	dst->https_proxy = put_str(&p, src->https_proxy);
	dst->noproxy = put_str(&p, src->noproxy);
	if (src->data) { /* bytes, NULs and all */
		dst->data = memcpy(p, src->data, src->data_len);
		p += src->data_len;
		*p++ = '\0';
	}
	dst->cookie = put_str(&p, src->cookie);
	dst->cookie_jar = put_str(&p, src->cookie_jar);
	dst->headers = put_list(&p, src->headers, nh, &slots);
	dst->resolve = put_list(&p, src->resolve, nr, &slots);
	dst->record_headers = put_list(&p, src->record_headers, nw, &slots);
	for (size_t i = 0; i < nw; i++) /* the record's keys: lower case */
		for (char *c = (char *)dst->record_headers[i]; *c; c++)
			*c = (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c);
	*block = mem;
	return 0;
}

/* Whether the -H line h is "Cookie: <something with '='>". */
static bool cookie_header(const char *h)
{
	return strncasecmp(h, "Cookie:", 7) == 0 && strchr(h + 7, '=');
}

/*
 * The engine's cookies. A cookie file or cookie_jar without a shared jar:
 * a jar of its own, loaded from the file (missing is fine when it is the
 * cookie_jar too: the first run of a session). With cookies on, an -H
 * Cookie value joins the literal ones in the one Cookie header the core
 * writes (RFC 6265 5.4: a request carries one), so *headers gets the -H
 * list without it (malloc'd; NULL when unchanged).
 */
static int engine_cookies(struct evc__engine_opts *e, const char ***headers)
{
	evc_crawl_opts_t *o = &e->o;
	bool literal = o->cookie && strchr(o->cookie, '=');
	if (!o->cookies && ((o->cookie && !literal) || o->cookie_jar)) {
		int rc = evc_cookie_jar_new(&e->own_jar);
		if (rc == 0 && o->cookie && !literal && *o->cookie) {
			rc = evc_cookie_jar_load(e->own_jar, o->cookie, NULL);
			if (rc == -ENOENT && o->cookie_jar && strcmp(o->cookie, o->cookie_jar) == 0)
				rc = 0;
		}
		if (rc < 0) { /* nothing to write back over cookie_jar */
			evc_cookie_jar_free(e->own_jar);
			e->own_jar = NULL;
			return rc;
		}
		o->cookies = e->own_jar;
	}
	if (!literal)
		o->cookie = NULL; /* from here on: the literal value, if any */
	if (!literal && !o->cookies)
		return 0;
	size_t n = 0;
	const char *merged = NULL;
	/* The last one, as it would replace the others in the fixed block. */
	for (; o->headers && o->headers[n]; n++)
		if (cookie_header(o->headers[n]))
			merged = o->headers[n] + 7;
	if (!merged)
		return 0;
	while (*merged == ' ' || *merged == '\t')
		merged++;
	if (asprintf(&e->cookie_line, "%s%s%s", merged, literal ? "; " : "",
		     literal ? o->cookie : "") < 0) {
		e->cookie_line = NULL;
		return -ENOMEM;
	}
	size_t len = strlen(e->cookie_line);
	while (len && (e->cookie_line[len - 1] == ' ' || e->cookie_line[len - 1] == '\t'))
		e->cookie_line[--len] = '\0';
	o->cookie = e->cookie_line;
	if (!(*headers = calloc(n + 1, sizeof **headers)))
		return -ENOMEM;
	for (size_t i = 0, k = 0; i < n; i++)
		if (!cookie_header(o->headers[i]))
			(*headers)[k++] = o->headers[i];
	return 0;
}

int evc__engine_opts_init(struct evc__engine_opts *e, const evc_crawl_opts_t *opts)
{
	memset(e, 0, sizeof *e);
	if (opts)
		e->o = *opts;
	else
		evc_crawl_opts_init(&e->o);
	if (e->o.proxy_env) /* the environment's strings are copied below */
		evc__proxy_env(&e->o, &e->o.http_proxy, &e->o.https_proxy, &e->o.noproxy);
	const char *what;
	int rc = evc_crawl_opts_check(&e->o, &what);
	if (rc == 0)
		rc = opts_copy(&e->o, &e->o, &e->strings);
	if (rc == 0 && !e->o.output_since) {
		/* The coarse clock is the one file times come from: a file
		 * written after this moment never looks older than it. */
		struct timespec now;
		clock_gettime(CLOCK_REALTIME_COARSE, &now);
		e->o.output_since = (double)now.tv_sec + now.tv_nsec / 1e9;
	}
	const char **headers = NULL;
	if (rc == 0)
		rc = engine_cookies(e, &headers);
	if (rc == 0)
		rc = evc__request_headers(&e->fixed, e->o.user_agent,
					  headers ? headers : e->o.headers, e->o.compressed, NULL);
	free(headers);
	if (rc == 0)
		e->fixed_len = strlen(e->fixed);
	return rc;
}

struct evc__tls_ctx *evc__engine_tls(struct evc__engine_opts *e, const char **err)
{
	if (!e->tls && !e->tls_rc) {
		struct evc__tls_opts to = {.cacert = e->o.cacert,
					   .capath = e->o.capath,
					   .insecure = e->o.insecure,
					   .min_version = e->o.tls_min};
		e->tls_err = "out of memory";
		e->tls_rc = evc__tls_ctx_get(&e->tls, &to, &e->tls_err);
	}
	*err = e->tls_err;
	return e->tls;
}

void evc__engine_opts_free(struct evc__engine_opts *e)
{
	if (e->own_jar && e->o.cookie_jar) /* a failure has no one to tell: see options.h */
		evc_cookie_jar_save(e->own_jar, e->o.cookie_jar);
	evc_cookie_jar_free(e->own_jar);
	e->own_jar = NULL;
	free(e->cookie_line);
	e->cookie_line = NULL;
	evc__tls_ctx_release(e->tls);
	e->tls = NULL;
	free(e->fixed);
	free(e->strings);
	e->fixed = e->strings = NULL;
}

/* ---- options on the heap, set by name (for bindings) ------------------------- */

struct heap_opts {
	evc_crawl_opts_t o; /* first: the pointer handed out */
	char **owned;	    /* every string we copied */
	size_t nowned;
	const char **headers, **resolves, **wanted; /* NULL-terminated */
	size_t nheaders, nresolves, nwanted;
};

evc_crawl_opts_t *evc_crawl_opts_new(void)
{
	struct heap_opts *h = calloc(1, sizeof *h);
	if (!h)
		return NULL;
	evc_crawl_opts_init(&h->o);
	return &h->o;
}

void evc_crawl_opts_free(evc_crawl_opts_t *o)
{
	struct heap_opts *h = (struct heap_opts *)o;
	if (!h)
		return;
	for (size_t i = 0; i < h->nowned; i++)
		free(h->owned[i]);
	free(h->owned);
	free(h->headers);
	free(h->resolves);
	free(h->wanted);
	free(h);
}

static const char *own(struct heap_opts *h, const char *v)
{
	char **grown = realloc(h->owned, (h->nowned + 1) * sizeof *grown);
	char *copy = strdup(v);
	if (!grown || !copy) {
		free(copy);
		if (grown)
			h->owned = grown;
		return NULL;
	}
	h->owned = grown;
	h->owned[h->nowned++] = copy;
	return copy;
}

static int append(struct heap_opts *h, const char ***list, size_t *n, const char *v)
{
	const char **grown = realloc(*list, (*n + 2) * sizeof *grown);
	const char *copy = grown ? own(h, v) : NULL;
	if (grown)
		*list = grown;
	if (!copy)
		return -ENOMEM;
	grown[(*n)++] = copy;
	grown[*n] = NULL;
	return 0;
}

static int parse_uint(const char *v, unsigned long long max, unsigned long long *out)
{
	char *end;
	errno = 0;
	unsigned long long n = strtoull(v, &end, 10);
	if (errno || end == v || *end || *v == '-' || n > max)
		return -EINVAL;
	*out = n;
	return 0;
}

static int parse_ms(const char *v, unsigned *out)
{
	char *end;
	double s = strtod(v, &end);
	if (end == v || *end || !(s > 0) || s > 86400.0 * 7)
		return -EINVAL;
	*out = (unsigned)(s * 1000 + 0.999);
	return 0;
}

int evc_crawl_opts_set(evc_crawl_opts_t *o, const char *name, const char *v)
{
	struct heap_opts *h = (struct heap_opts *)o;
	char key[32];
	size_t i = 0;
	for (; i < sizeof key - 1 && name[i]; i++)
		key[i] = name[i] == '_' ? '-' : name[i];
	key[i] = '\0';
	unsigned long long n;
	if (!v)
		return -EINVAL;
#define IS(k) (strcmp(key, k) == 0)
	unsigned *count = IS("concurrency")	     ? &o->concurrency
			  : IS("per-host")	     ? &o->per_host
			  : IS("retries")	     ? &o->retries
			  : IS("max-redirects")	     ? &o->max_redirects
			  : IS("max-queued")	     ? &o->max_queued
			  : IS("retry-base-ms")	     ? &o->retry_base_ms
			  : IS("retry-max-wait-ms")  ? &o->retry_max_wait_ms
			  : IS("max-handshakes")     ? &o->max_handshakes
			  : IS("host-errors")	     ? &o->host_errors
			  : IS("depth")		     ? &o->max_depth
			  : IS("max-url-length")     ? &o->max_url_len
			  : IS("max-path-repeats")   ? &o->max_path_repeats
			  : IS("max-query-variants") ? &o->max_query_variants
						     : NULL;
	if (count) {
		if (parse_uint(v, 100000000, &n) < 0)
			return -EINVAL;
		*count = (unsigned)n;
		return 0;
	}
	if (IS("timeout"))
		return parse_ms(v, &o->timeout_ms);
	if (IS("connect-timeout"))
		return parse_ms(v, &o->connect_timeout_ms);
	if (IS("idle-timeout"))
		return parse_ms(v, &o->idle_timeout_ms);
	if (IS("dns-timeout"))
		return parse_ms(v, &o->dns_timeout_ms);
	if (IS("max-retry-after"))
		return parse_ms(v, &o->max_retry_after_ms);
	if (IS("max-crawl-delay"))
		return parse_ms(v, &o->max_crawl_delay_ms);
	if (IS("delay")) {
		if (strcmp(v, "0") == 0) {
			o->delay_ms = 0;
			return 0;
		}
		return parse_ms(v, &o->delay_ms);
	}
	if (IS("rate")) {
		double r = evc__parse_rate(v);
		if (r < 0)
			return -EINVAL;
		o->rate = r;
		return 0;
	}
	if (IS("frontier-mem")) {
		if (parse_uint(v, 1ull << 40, &n) < 0)
			return -EINVAL;
		o->frontier_mem = n;
		return 0;
	}
	if (IS("max-pages")) {
		if (parse_uint(v, 1ull << 40, &n) < 0)
			return -EINVAL;
		o->max_pages = n;
		return 0;
	}
	if (IS("scope")) {
		static const char *const names[] = {"host", "domain", "prefix", "any"};
		for (unsigned k = 0; k < 4; k++)
			if (strcmp(v, names[k]) == 0) {
				o->scope = k;
				return 0;
			}
		return -EINVAL;
	}
	if (IS("politeness-key")) {
		if (strcmp(v, "host") == 0)
			o->politeness_key = EVC_KEY_HOST;
		else if (strcmp(v, "domain") == 0)
			o->politeness_key = EVC_KEY_DOMAIN;
		else if (strcmp(v, "ip") == 0)
			o->politeness_key = EVC_KEY_IP;
		else
			return -EINVAL;
		return 0;
	}
	if (IS("max-body")) {
		if (parse_uint(v, 1ull << 40, &n) < 0)
			return -EINVAL;
		o->max_body = n;
		return 0;
	}
	bool *flag = IS("compressed")	  ? &o->compressed
		     : IS("insecure")	  ? &o->insecure
		     : IS("cert-info")	  ? &o->cert_info
		     : IS("random-delay") ? &o->random_delay
		     : IS("robots")	  ? &o->robots
		     : IS("recursive")	  ? &o->recursive
		     : IS("links")	  ? &o->links
		     : IS("sitemaps")	  ? &o->sitemaps
		     : IS("fail")	  ? &o->fail_http
		     : IS("save-errors")  ? &o->save_errors
		     : IS("no-clobber")	  ? &o->no_clobber
		     : IS("proxy-env")	  ? &o->proxy_env
					  : NULL;
	if (flag) {
		if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0)
			return -EINVAL;
		*flag = v[0] == '1';
		return 0;
	}
	if (IS("tls-min")) {
		if (strcmp(v, "1.2") != 0 && strcmp(v, "1.3") != 0)
			return -EINVAL;
		o->tls_min = v[2] == '2' ? 12 : 13;
		return 0;
	}
	if (IS("record-header")) {
		if (!*v || !evc__header_name_ok(v, strlen(v)) || strlen(v) > 63)
			return -EINVAL;
		int rc = append(h, &h->wanted, &h->nwanted, v);
		o->record_headers = h->wanted;
		return rc;
	}
	if (IS("header") || IS("resolve")) {
		int rc = IS("header") ? append(h, &h->headers, &h->nheaders, v)
				      : append(h, &h->resolves, &h->nresolves, v);
		o->headers = h->headers;
		o->resolve = h->resolves;
		return rc;
	}
	const char **field = IS("dns-server")	    ? &o->dns_servers
			     : IS("user-agent")	    ? &o->user_agent
			     : IS("output-dir")	    ? &o->output_dir
			     : IS("cacert")	    ? &o->cacert
			     : IS("capath")	    ? &o->capath
			     : IS("state")	    ? &o->state_dir
			     : IS("include")	    ? &o->include
			     : IS("exclude")	    ? &o->exclude
			     : IS("default-scheme") ? &o->default_scheme
			     : IS("method")	    ? &o->method
			     : IS("cookie")	    ? &o->cookie
			     : IS("cookie-jar")	    ? &o->cookie_jar
			     : IS("data")	    ? &o->data
			     : IS("proxy")	    ? &o->proxy
			     : IS("http-proxy")	    ? &o->http_proxy
			     : IS("https-proxy")    ? &o->https_proxy
			     : IS("noproxy")	    ? &o->noproxy
						    : NULL;
	if (field == &o->data)
		o->data_len = strlen(v);
#undef IS
	if (!field)
		return -ENOENT;
	char *joined = NULL;
	if (field == &o->cookie && o->cookie && strchr(o->cookie, '=') && strchr(v, '=')) {
		/* Literal cookies add up, as the command's repeated -b do. */
		if (asprintf(&joined, "%s; %s", o->cookie, v) < 0)
			return -ENOMEM;
		v = joined;
	}
	const char *copy = own(h, v);
	free(joined);
	if (!copy)
		return -ENOMEM;
	*field = copy;
	return 0;
}

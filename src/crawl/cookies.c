/* The cookie store: RFC 6265 rules, the Netscape file (see cookies.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "crawl/cookies.h"
#include "crawl/polite.h"
#include "util/table.h"

struct cookie {
	struct cookie *next;		    /* in its domain's list */
	char *name, *value, *domain, *path; /* one allocation, after the struct */
	size_t name_len, value_len, path_len;
	int64_t expires;  /* Unix time; 0: a session cookie */
	uint64_t created; /* creation order: older cookies go first */
	bool host_only, secure, http_only;
};

/* The cookies whose domain is one name, found from a request's host by
 * looking up the host and each of its parent domains. */
struct domain {
	struct evc__tnode node; /* name: the domain */
	struct cookie *list;
	unsigned n;
};

struct evc_cookie_jar {
	pthread_mutex_t lock; /* threads mode: fetchers share one jar */
	struct evc__table domains;
	size_t count;
	size_t nsecure; /* of them Secure: only then can an http cookie shadow one */
	uint64_t seq;	/* the next creation number */
};

/* ---- the rules ----------------------------------------------------------------- */

static bool is_ip(const char *host)
{
	unsigned char a[16];
	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* host without the one trailing dot a URL may end its host with
 * ("example.com." is example.com): what the rules below compare. */
static const char *bare_host(const char *host, char *buf, size_t cap)
{
	size_t n = strlen(host);
	if (!n || host[n - 1] != '.' || n > cap)
		return host;
	memcpy(buf, host, n - 1);
	buf[n - 1] = '\0';
	return buf;
}

/* Whether one domain is the other or inside it, either way round. */
static bool domains_overlap(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	const char *longer = la >= lb ? a : b, *shorter = la >= lb ? b : a;
	size_t ll = la >= lb ? la : lb, ls = la >= lb ? lb : la;
	return ll == ls ? !memcmp(a, b, la)
			: longer[ll - ls - 1] == '.' && !memcmp(longer + ll - ls, shorter, ls);
}

bool evc__cookie_domain_match(const char *host, const char *domain)
{
	size_t h = strlen(host), d = strlen(domain);
	if (h == d)
		return memcmp(host, domain, h) == 0;
	return d && h > d && host[h - d - 1] == '.' && memcmp(host + h - d, domain, d) == 0 &&
	       !is_ip(host);
}

bool evc__cookie_path_match(const char *req, size_t len, const char *cpath)
{
	size_t c = strlen(cpath);
	if (c > len || memcmp(req, cpath, c) != 0)
		return false;
	return c == len || cpath[c - 1] == '/' || req[c] == '/';
}

size_t evc__cookie_default_path(const char *target, char *out, size_t cap)
{
	size_t len = strcspn(target, "?#"), last = 0;
	for (size_t i = 0; i < len; i++)
		if (target[i] == '/')
			last = i;
	const char *from = target;
	size_t n = last;
	if (!len || target[0] != '/' || last == 0) /* "", "x", "/", "/x": the root */
		from = "/", n = 1;
	if (n >= cap)
		n = cap ? cap - 1 : 0;
	memcpy(out, from, n);
	if (cap)
		out[n] = '\0';
	return n;
}

/* RFC 6265 5.1.1's delimiters: everything but digits, letters and ':'
 * (and bytes above 0x7e). */
static bool date_delim(unsigned char c)
{
	return c == 0x09 || (c >= 0x20 && c <= 0x2f) || (c >= 0x3b && c <= 0x40) ||
	       (c >= 0x5b && c <= 0x60) || (c >= 0x7b && c <= 0x7e);
}

static bool digit(char c)
{
	return c >= '0' && c <= '9';
}

/* 1 to max digits at s, followed by the end or a non-digit: their value
 * (*used: how many), or -1. */
static int digits(const char *s, size_t len, int min, int max, size_t *used)
{
	int v = 0, n = 0;
	while ((size_t)n < len && digit(s[n]) && n < max + 1)
		v = v * 10 + (s[n++] - '0');
	if (n < min || n > max)
		return -1;
	*used = (size_t)n;
	return v;
}

/* hms-time: three 1-2 digit fields separated by ':' (then anything not a digit). */
static bool date_time(const char *s, size_t len, int *h, int *m, int *sec)
{
	int f[3];
	size_t at = 0, used;
	for (int i = 0; i < 3; i++) {
		if ((f[i] = digits(s + at, len - at, 1, 2, &used)) < 0)
			return false;
		at += used;
		if (i < 2) {
			if (at >= len || s[at] != ':')
				return false;
			at++;
		}
	}
	*h = f[0], *m = f[1], *sec = f[2];
	return true;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	/* Days since 1970-01-01 in the proleptic Gregorian calendar, counting
	 * years from March so that the leap day comes last. */
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

bool evc__cookie_date(const char *s, size_t len, int64_t *out)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	int hour = -1, min = 0, sec = 0, day = -1, month = -1, year = -1;
	size_t at = 0;
	while (at < len) {
		while (at < len && date_delim((unsigned char)s[at]))
			at++;
		size_t start = at;
		while (at < len && !date_delim((unsigned char)s[at]))
			at++;
		const char *tok = s + start;
		size_t n = at - start, used;
		int v;
		if (!n)
			break;
		if (hour < 0 && date_time(tok, n, &hour, &min, &sec))
			continue;
		if (day < 0 && (v = digits(tok, n, 1, 2, &used)) >= 0) {
			day = v;
			continue;
		}
		if (month < 0 && n >= 3) {
			for (int i = 0; i < 12; i++)
				if (strncasecmp(tok, months + 3 * i, 3) == 0)
					month = i + 1;
			if (month > 0)
				continue;
		}
		if (year < 0 && (v = digits(tok, n, 2, 4, &used)) >= 0)
			year = v;
	}
	if (year >= 70 && year <= 99)
		year += 1900;
	else if (year >= 0 && year <= 69)
		year += 2000;
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (hour < 0 || day < 1 || month < 1 || year < 1601 || day > 31 || hour > 23 || min > 59 ||
	    sec > 59 || day > mdays[month - 1])
		return false;
	bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
	if (month == 2 && day == 29 && !leap)
		return false; /* a date that does not exist */
	*out = days_from_civil(year, (unsigned)month, (unsigned)day) * 86400 + hour * 3600 +
	       min * 60 + sec;
	return true;
}

/* ---- the jar ----------------------------------------------------------------------- */

int evc_cookie_jar_new(evc_cookie_jar_t **out)
{
	evc_cookie_jar_t *jar = calloc(1, sizeof *jar);
	if (!jar || evc__table_init(&jar->domains, 64) < 0) {
		free(jar);
		return -ENOMEM;
	}
	pthread_mutex_init(&jar->lock, NULL);
	*out = jar;
	return 0;
}

static void drop_domain(evc_cookie_jar_t *jar, struct domain *d)
{
	evc__table_remove(&jar->domains, &d->node);
	free(d->node.name);
	free(d);
}

void evc_cookie_jar_free(evc_cookie_jar_t *jar)
{
	if (!jar)
		return;
	struct evc__tnode *node, *tmp;
	EVC_TABLE_EACH(&jar->domains, node, tmp)
	{
		struct domain *d = EVC_TABLE_ENTRY(node, struct domain, node);
		for (struct cookie *c = d->list, *next; c; c = next) {
			next = c->next;
			free(c);
		}
		free(d->node.name);
		free(d);
	}
	evc__table_free(&jar->domains);
	pthread_mutex_destroy(&jar->lock);
	free(jar);
}

size_t evc_cookie_jar_count(evc_cookie_jar_t *jar)
{
	pthread_mutex_lock(&jar->lock);
	size_t n = jar->count;
	pthread_mutex_unlock(&jar->lock);
	return n;
}

static bool expired(const struct cookie *c, int64_t now)
{
	return c->expires && c->expires <= now;
}

/* Take *link's cookie out of its domain (and the domain out of the jar
 * when it was the last). */
static void unlink_cookie(evc_cookie_jar_t *jar, struct domain *d, struct cookie **link)
{
	struct cookie *c = *link;
	*link = c->next;
	jar->nsecure -= c->secure;
	free(c);
	d->n--;
	jar->count--;
	if (!d->n)
		drop_domain(jar, d);
}

/* Drop d's expired cookies, then, while it holds at least `keep`, its
 * oldest one. */
static void trim_domain(evc_cookie_jar_t *jar, struct domain *d, unsigned keep, int64_t now)
{
	for (struct cookie **l = &d->list; *l;) {
		if (expired(*l, now)) {
			bool last = d->n == 1;
			unlink_cookie(jar, d, l);
			if (last)
				return;
		} else {
			l = &(*l)->next;
		}
	}
	while (d->n >= keep && d->n) {
		struct cookie **oldest = &d->list;
		for (struct cookie **l = &d->list; *l; l = &(*l)->next)
			if ((*l)->created < (*oldest)->created)
				oldest = l;
		bool last = d->n == 1;
		unlink_cookie(jar, d, oldest);
		if (last)
			return;
	}
}

/* Make room for one more cookie in the jar: expired ones go first, then
 * the oldest of all. O(cookies), only when the jar is full. */
static void make_room(evc_cookie_jar_t *jar, int64_t now)
{
	struct evc__tnode *node, *tmp;
	EVC_TABLE_EACH(&jar->domains, node, tmp)
	{
		struct domain *d = EVC_TABLE_ENTRY(node, struct domain, node);
		trim_domain(jar, d, UINT32_MAX, now);
	}
	while (jar->count >= EVC__COOKIES_MAX) {
		struct domain *od = NULL;
		struct cookie **oldest = NULL;
		EVC_TABLE_EACH(&jar->domains, node, tmp)
		{
			struct domain *d = EVC_TABLE_ENTRY(node, struct domain, node);
			for (struct cookie **l = &d->list; *l; l = &(*l)->next)
				if (!oldest || (*l)->created < (*oldest)->created)
					oldest = l, od = d;
		}
		if (!oldest)
			return;
		unlink_cookie(jar, od, oldest);
	}
}

/* The cookie of this name, domain and path, in d (NULL: none). */
static struct cookie **find(struct domain *d, const char *name, size_t nlen, const char *path,
			    size_t plen)
{
	for (struct cookie **l = &d->list; *l; l = &(*l)->next) {
		struct cookie *c = *l;
		if (c->name_len == nlen && !memcmp(c->name, name, nlen) && c->path_len == plen &&
		    !memcmp(c->path, path, plen))
			return l;
	}
	return NULL;
}

/* What a Set-Cookie or a cookie file line says, before it is stored. */
struct parsed {
	const char *name, *value, *domain, *path;
	size_t name_len, value_len, domain_len, path_len;
	int64_t expires; /* 0: session */
	bool host_only, secure, http_only, delete;
};

/*
 * RFC 6265bis 5.7 step 16 ("leave secure cookies alone"): a cookie from an
 * http response may not shadow a Secure one of the same name, whose domain
 * overlaps its own and whose path its path is within: else a network
 * attacker's cookie would be sent first. Called with the lock held.
 */
static bool shadows_secure(evc_cookie_jar_t *jar, const struct parsed *p, const char *dname)
{
	if (!jar->nsecure)
		return false;
	struct evc__tnode *n, *tmp;
	EVC_TABLE_EACH(&jar->domains, n, tmp)
	{
		struct domain *d = EVC_TABLE_ENTRY(n, struct domain, node);
		if (!domains_overlap(n->name, dname))
			continue;
		for (const struct cookie *c = d->list; c; c = c->next)
			if (c->secure && c->name_len == p->name_len &&
			    !memcmp(c->name, p->name, p->name_len) &&
			    evc__cookie_path_match(p->path, p->path_len, c->path))
				return true;
	}
	return false;
}

/*
 * Store p (already checked against its request): replace a cookie of the
 * same name, domain and path (keeping its creation order, RFC 6265 5.3
 * step 11), or add it, making room within the limits. A deletion only
 * removes. Called with the lock held.
 */
static int put(evc_cookie_jar_t *jar, const struct parsed *p, bool from_http, int64_t now)
{
	char dname[256];
	if (p->domain_len >= sizeof dname)
		return EVC__COOKIE_DOMAIN;
	for (size_t i = 0; i < p->domain_len; i++) {
		char ch = p->domain[i];
		dname[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
	}
	dname[p->domain_len] = '\0';
	if (from_http && !p->secure && shadows_secure(jar, p, dname))
		return EVC__COOKIE_SECURE;
	struct evc__tnode *node = evc__table_find(&jar->domains, dname);
	struct domain *d = node ? EVC_TABLE_ENTRY(node, struct domain, node) : NULL;
	struct cookie **old = d ? find(d, p->name, p->name_len, p->path, p->path_len) : NULL;
	uint64_t created = jar->seq++;
	if (old) {
		/* RFC 6265bis: an http response may not overwrite a secure cookie. */
		if (from_http && (*old)->secure)
			return EVC__COOKIE_SECURE;
		created = (*old)->created;
		unlink_cookie(jar, d, old);
		node = evc__table_find(&jar->domains, dname);
		d = node ? EVC_TABLE_ENTRY(node, struct domain, node) : NULL;
	}
	if (p->delete || (p->expires && p->expires <= now))
		return EVC__COOKIE_DELETED;
	if (d && d->n >= EVC__COOKIES_PER_DOMAIN)
		trim_domain(jar, d, EVC__COOKIES_PER_DOMAIN, now);
	if (jar->count >= EVC__COOKIES_MAX)
		make_room(jar, now);
	node = evc__table_find(&jar->domains, dname); /* trimming may have dropped it */
	d = node ? EVC_TABLE_ENTRY(node, struct domain, node) : NULL;
	if (!d) {
		bool created_domain;
		d = evc__table_get(&jar->domains, dname, sizeof *d, offsetof(struct domain, node),
				   &created_domain);
		if (!d)
			return EVC__COOKIE_NOMEM;
	}
	struct cookie *c =
	    malloc(sizeof *c + p->name_len + p->value_len + p->domain_len + p->path_len + 4);
	if (!c) {
		if (!d->n)
			drop_domain(jar, d);
		return EVC__COOKIE_NOMEM;
	}
	char *s = (char *)(c + 1);
	*c = (struct cookie){.name = s,
			     .name_len = p->name_len,
			     .value_len = p->value_len,
			     .path_len = p->path_len,
			     .expires = p->expires,
			     .created = created,
			     .host_only = p->host_only,
			     .secure = p->secure,
			     .http_only = p->http_only};
	memcpy(c->name, p->name, p->name_len);
	c->name[p->name_len] = '\0';
	c->value = c->name + p->name_len + 1;
	memcpy(c->value, p->value, p->value_len);
	c->value[p->value_len] = '\0';
	c->domain = c->value + p->value_len + 1;
	memcpy(c->domain, dname, p->domain_len + 1);
	c->path = c->domain + p->domain_len + 1;
	memcpy(c->path, p->path, p->path_len);
	c->path[p->path_len] = '\0';
	c->next = d->list;
	d->list = c;
	d->n++;
	jar->count++;
	jar->nsecure += c->secure;
	return EVC__COOKIE_STORED;
}

/* ---- Set-Cookie -------------------------------------------------------------------- */

static bool wsp(char c)
{
	return c == ' ' || c == '\t';
}

/* [s, s + *len) without the blanks around it. */
static const char *trim(const char *s, size_t *len)
{
	while (*len && wsp(*s))
		s++, (*len)--;
	while (*len && wsp(s[*len - 1]))
		(*len)--;
	return s;
}

/* Bytes a cookie's name, value, domain or path may hold: no controls (a
 * tab inside would break the cookie file's fields), no ';'. */
static bool cookie_bytes_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || c == ';')
			return false;
	}
	return true;
}

/* RFC 6265bis 5.7 step 1: a Set-Cookie holding a control character other
 * than a tab is ignored entirely. */
static bool controls(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f)
			return true;
	}
	return false;
}

/* "Max-Age": an optional '-' then digits; seconds from now, the earliest
 * time for zero or less (RFC 6265 5.2.2). -1 when not a number. */
static int64_t max_age(const char *v, size_t len, int64_t now)
{
	size_t i = len && v[0] == '-' ? 1 : 0;
	if (i == len)
		return -1;
	int64_t n = 0;
	for (; i < len; i++) {
		if (!digit(v[i]))
			return -1;
		if (n < INT64_MAX / 20)
			n = n * 10 + (v[i] - '0');
	}
	if (v[0] == '-' || n == 0)
		return 1; /* the earliest time there is: already expired */
	return n > INT64_MAX / 4 - now ? INT64_MAX / 4 : now + n;
}

static bool attr_is(const char *name, size_t len, const char *want)
{
	return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

int evc__cookies_set(evc_cookie_jar_t *jar, const struct evc__url *u, const char *s, size_t len,
		     int64_t now)
{
	if (controls(s, len))
		return EVC__COOKIE_BAD;
	const char *semi = memchr(s, ';', len);
	size_t nv = semi ? (size_t)(semi - s) : len;
	const char *eq = memchr(s, '=', nv);
	if (!eq)
		return EVC__COOKIE_BAD; /* RFC 6265 5.2 step 2: no '=', no cookie */
	struct parsed p = {.name_len = (size_t)(eq - s), .value_len = nv - (size_t)(eq - s) - 1};
	p.name = trim(s, &p.name_len);
	p.value = trim(eq + 1, &p.value_len);
	if (!p.name_len || !cookie_bytes_ok(p.name, p.name_len) ||
	    !cookie_bytes_ok(p.value, p.value_len) || memchr(p.name, '=', p.name_len))
		return EVC__COOKIE_BAD;
	if (p.name_len + p.value_len > EVC__COOKIE_MAX)
		return EVC__COOKIE_TOO_BIG;

	/* The attributes; the last of each name wins. */
	int64_t expires = 0, maxage = 0;
	bool has_domain = false, domain_attr = false, path_attr = false;
	for (size_t at = nv; at < len;) {
		at++; /* the ';' */
		const char *a = s + at, *asemi = memchr(a, ';', len - at);
		size_t n = asemi ? (size_t)(asemi - a) : len - at;
		const char *aeq = memchr(a, '=', n);
		size_t alen = aeq ? (size_t)(aeq - a) : n, vlen = aeq ? n - alen - 1 : 0;
		const char *name = trim(a, &alen), *v = aeq ? trim(aeq + 1, &vlen) : "";
		at += n;
		if (vlen > EVC__COOKIE_ATTR_MAX)
			continue; /* RFC 6265bis: ignored */
		if (attr_is(name, alen, "expires")) {
			int64_t t;
			if (evc__cookie_date(v, vlen, &t))
				expires = t > 0 ? t : 1; /* 0 would mean "session" */
		} else if (attr_is(name, alen, "max-age")) {
			int64_t t = max_age(v, vlen, now);
			if (t > 0)
				maxage = t;
		} else if (attr_is(name, alen, "domain")) {
			domain_attr = true;
			if (vlen && v[0] == '.')
				v++, vlen--;
			if (vlen && v[vlen - 1] == '.') /* "co.uk." is co.uk */
				vlen--;
			if (vlen && cookie_bytes_ok(v, vlen)) { /* an empty Domain is ignored */
				p.domain = v;
				p.domain_len = vlen;
				has_domain = true;
			}
		} else if (attr_is(name, alen, "path")) {
			p.path = vlen && v[0] == '/' && cookie_bytes_ok(v, vlen) ? v : NULL;
			p.path_len = p.path ? vlen : 0;
			path_attr = p.path != NULL;
		} else if (attr_is(name, alen, "secure")) {
			p.secure = true;
		} else if (attr_is(name, alen, "httponly")) {
			p.http_only = true;
		}
	}
	p.expires = maxage ? maxage : expires;

	/* The domain: host-only without a Domain attribute; with one, a
	 * domain the host is in, never a public suffix unless it is the
	 * host itself (then host-only, as browsers do). */
	char bare[256];
	const char *host = bare_host(u->host, bare, sizeof bare);
	char dom[256];
	if (has_domain) {
		if (p.domain_len >= sizeof dom)
			return EVC__COOKIE_DOMAIN;
		for (size_t i = 0; i < p.domain_len; i++) {
			char ch = p.domain[i];
			dom[i] = (char)(ch >= 'A' && ch <= 'Z' ? ch + 32 : ch);
		}
		dom[p.domain_len] = '\0';
		if (evc__is_public_suffix(dom)) { /* RFC 6265 5.3 step 5 */
			if (strcmp(dom, host) != 0)
				return EVC__COOKIE_DOMAIN;
			has_domain = false;
		} else if (is_ip(dom) ? strcmp(dom, host) != 0
				      : !evc__cookie_domain_match(host, dom)) {
			/* An address only for itself (x.1.2.3.4 may not set
			 * Domain=1.2.3.4). */
			return EVC__COOKIE_DOMAIN;
		}
	}
	p.host_only = !has_domain;
	p.domain = has_domain ? dom : host;
	p.domain_len = strlen(p.domain);

	char defpath[EVC__URL_MAX];
	if (!p.path)
		p.path_len = evc__cookie_default_path(u->target, defpath, sizeof defpath),
		p.path = defpath;
	if (p.path_len > EVC__COOKIE_ATTR_MAX) /* a cookie file could not hold it */
		return EVC__COOKIE_TOO_BIG;

	/* Secure: over https only (RFC 6265bis 5.7 step 8), and the name
	 * prefixes that promise more. */
	if (p.secure && !u->https)
		return EVC__COOKIE_SECURE;
	if (p.name_len >= 9 && !strncasecmp(p.name, "__Secure-", 9) && !p.secure)
		return EVC__COOKIE_SECURE;
	if (p.name_len >= 7 && !strncasecmp(p.name, "__Host-", 7) &&
	    (!p.secure || domain_attr || !path_attr || p.path_len != 1 || p.path[0] != '/'))
		return EVC__COOKIE_SECURE; /* no Domain at all, Path=/ said */

	pthread_mutex_lock(&jar->lock);
	int rc = put(jar, &p, !u->https, now);
	pthread_mutex_unlock(&jar->lock);
	return rc;
}

unsigned evc__cookies_store(evc_cookie_jar_t *jar, const struct evc__url *u, const char *list,
			    unsigned n, int64_t now)
{
	unsigned taken = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t len = strlen(list);
		if (evc__cookies_set(jar, u, list, len, now) >= 0)
			taken++;
		list += len + 1;
	}
	return taken;
}

/* ---- the Cookie header --------------------------------------------------------------- */

/* Longer paths first, then older cookies (RFC 6265 5.4 step 2). */
static int header_order(const void *a, const void *b)
{
	const struct cookie *x = *(const struct cookie *const *)a;
	const struct cookie *y = *(const struct cookie *const *)b;
	if (x->path_len != y->path_len)
		return x->path_len > y->path_len ? -1 : 1;
	return x->created < y->created ? -1 : x->created > y->created;
}

size_t evc__cookies_header(evc_cookie_jar_t *jar, const struct evc__url *u, int64_t now, char *out,
			   size_t cap)
{
	struct cookie *picked[EVC__COOKIES_PER_DOMAIN * 8];
	size_t npicked = 0, plen = strcspn(u->target, "?#");
	char bare[256];
	const char *host = bare_host(u->host, bare, sizeof bare);
	if (cap)
		out[0] = '\0';
	pthread_mutex_lock(&jar->lock);
	/* The host, then each parent domain ("a.b.c", "b.c", "c"); an IP
	 * address only as itself. */
	for (const char *dname = host; dname && npicked < sizeof picked / sizeof picked[0];) {
		struct evc__tnode *node = jar->count ? evc__table_find(&jar->domains, dname) : NULL;
		struct domain *d = node ? EVC_TABLE_ENTRY(node, struct domain, node) : NULL;
		for (struct cookie **l = d ? &d->list : NULL; l && *l;) {
			struct cookie *c = *l;
			if (expired(c, now)) {
				bool last = d->n == 1;
				unlink_cookie(jar, d, l);
				if (last)
					break;
				continue;
			}
			l = &c->next;
			if ((c->host_only && dname != host) || (c->secure && !u->https) ||
			    !evc__cookie_path_match(u->target, plen, c->path))
				continue;
			if (npicked < sizeof picked / sizeof picked[0])
				picked[npicked++] = c;
		}
		if (dname == host && is_ip(host))
			break;
		dname = strchr(dname, '.');
		dname = dname && dname[1] ? dname + 1 : NULL;
	}
	/* cppcheck cannot see that qsort reads only the npicked set. */
	// cppcheck-suppress uninitvar
	qsort(picked, npicked, sizeof picked[0], header_order);
	size_t len = 0;
	for (size_t i = 0; i < npicked; i++) {
		const struct cookie *c = picked[i];
		size_t need = (len ? 2 : 0) + c->name_len + 1 + c->value_len;
		if (len + need >= cap)
			continue; /* does not fit: left out */
		len += (size_t)snprintf(out + len, cap - len, "%s%s=%s", len ? "; " : "", c->name,
					c->value);
	}
	pthread_mutex_unlock(&jar->lock);
	return len;
}

/* ---- the Netscape cookie file ---------------------------------------------------------- */

/* A cookie file's TRUE or FALSE. */
static bool tf(const char *s, bool *out)
{
	*out = strcasecmp(s, "TRUE") == 0;
	return *out || strcasecmp(s, "FALSE") == 0;
}

/* One line of a cookie file (without its line end): 1 stored, 0 a comment
 * or an expired cookie, -1 not a cookie. Called with the lock held. */
static int load_line(evc_cookie_jar_t *jar, char *line, int64_t now)
{
	struct parsed p = {0};
	if (strncmp(line, "#HttpOnly_", 10) == 0) {
		p.http_only = true;
		line += 10;
	} else if (line[0] == '#') {
		return 0;
	}
	size_t blank = strspn(line, " \t");
	if (!line[blank])
		return 0;
	char *f[7];
	int n = 0;
	for (char *s = line; n < 7; n++) {
		f[n] = s;
		s = strchr(s, '\t');
		if (!s) {
			n++;
			break;
		}
		*s++ = '\0';
	}
	if (n == 6) /* a cookie with an empty value, its tab left out */
		f[6] = "", n = 7;
	bool subdomains;
	char *end;
	if (n != 7 || !tf(f[1], &subdomains) || !tf(f[3], &p.secure) || !digit(f[4][0]))
		return -1;
	long long exp = strtoll(f[4], &end, 10);
	if (*end || exp < 0)
		return -1;
	p.domain = f[0][0] == '.' ? f[0] + 1 : f[0];
	p.domain_len = strlen(p.domain);
	if (p.domain[0] == '.') /* "..x": saved back it would read another way */
		return -1;
	p.host_only = !subdomains;
	p.path = f[2];
	p.path_len = strlen(f[2]);
	p.name = f[5];
	p.name_len = strlen(f[5]);
	p.value = f[6];
	p.value_len = strlen(f[6]);
	p.expires = exp;
	if (!p.domain_len || p.domain_len > 253 || strpbrk(p.domain, " ;/") || p.path[0] != '/' ||
	    !p.name_len || p.name_len + p.value_len > EVC__COOKIE_MAX ||
	    p.path_len > EVC__COOKIE_ATTR_MAX || !cookie_bytes_ok(p.name, p.name_len) ||
	    !cookie_bytes_ok(p.value, p.value_len) || strchr(p.name, '='))
		return -1;
	if (p.expires && p.expires <= now)
		return 0;
	return put(jar, &p, false, now) == EVC__COOKIE_STORED ? 1 : -1;
}

int evc_cookie_jar_load(evc_cookie_jar_t *jar, const char *path, unsigned *bad)
{
	unsigned nbad = 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return -errno;
	int64_t now = (int64_t)time(NULL);
	size_t cap = 0;
	char *line = NULL;
	ssize_t n;
	int rc = 0;
	pthread_mutex_lock(&jar->lock);
	errno = 0;
	while ((n = getline(&line, &cap, f)) >= 0) {
		while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
			line[--n] = '\0';
		if (strlen(line) != (size_t)n || load_line(jar, line, now) < 0)
			nbad++; /* a NUL inside, or not a cookie */
	}
	if (ferror(f))
		rc = errno ? -errno : -EIO;
	pthread_mutex_unlock(&jar->lock);
	free(line);
	fclose(f);
	if (bad)
		*bad = nbad;
	return rc;
}

static int older_first(const void *a, const void *b)
{
	const struct cookie *x = *(const struct cookie *const *)a;
	const struct cookie *y = *(const struct cookie *const *)b;
	return x->created < y->created ? -1 : x->created > y->created;
}

/* The jar's cookies that have not expired, oldest first, in a malloc'd
 * array (*n of them). Called with the lock held. */
static struct cookie **all_cookies(evc_cookie_jar_t *jar, int64_t now, size_t *n)
{
	struct cookie **v = malloc((jar->count + 1) * sizeof *v);
	struct evc__tnode *node, *tmp;
	*n = 0;
	if (!v)
		return NULL;
	EVC_TABLE_EACH(&jar->domains, node, tmp)
	{
		struct domain *d = EVC_TABLE_ENTRY(node, struct domain, node);
		for (struct cookie *c = d->list; c; c = c->next)
			if (!expired(c, now))
				v[(*n)++] = c;
	}
	qsort(v, *n, sizeof *v, older_first);
	return v;
}

int evc_cookie_jar_save(evc_cookie_jar_t *jar, const char *path)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	if (!tmp)
		return -ENOMEM;
	snprintf(tmp, plen + 16, "%s.XXXXXX", path);
	int fd = mkostemp(tmp, O_CLOEXEC); /* 0600: cookies are credentials */
	if (fd < 0) {
		int err = -errno;
		free(tmp);
		return err;
	}
	FILE *f = fdopen(fd, "w");
	if (!f) {
		int err = -errno;
		close(fd);
		unlink(tmp);
		free(tmp);
		return err;
	}
	fputs("# Netscape HTTP Cookie File\n"
	      "# Written by evcrawl. Fields (tab-separated): domain, include subdomains,\n"
	      "# path, secure, expiry (Unix time; 0: session), name, value.\n\n",
	      f);
	pthread_mutex_lock(&jar->lock);
	size_t n;
	struct cookie **v = all_cookies(jar, (int64_t)time(NULL), &n);
	for (size_t i = 0; v && i < n; i++) {
		const struct cookie *c = v[i];
		fprintf(f, "%s%s%s\t%s\t%s\t%s\t%lld\t%s\t%s\n", c->http_only ? "#HttpOnly_" : "",
			c->host_only ? "" : ".", c->domain, c->host_only ? "FALSE" : "TRUE",
			c->path, c->secure ? "TRUE" : "FALSE", (long long)c->expires, c->name,
			c->value);
	}
	pthread_mutex_unlock(&jar->lock);
	int rc = v ? 0 : -ENOMEM;
	free(v);
	if (fflush(f) != 0 || ferror(f))
		rc = rc ? rc : (errno ? -errno : -EIO);
	if (rc == 0 && fsync(fileno(f)) < 0)
		rc = -errno;
	if (fclose(f) != 0 && rc == 0)
		rc = errno ? -errno : -EIO;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -errno;
	if (rc < 0)
		unlink(tmp);
	free(tmp);
	return rc;
}

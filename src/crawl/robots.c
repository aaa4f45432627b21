/*
 * robots.txt (RFC 9309): the parser and the matcher (see evcrawl/robots.h).
 *
 * Parsing keeps only what concerns one agent: the rules of every group
 * naming its product token, and of every "*" group; at the end the first
 * set wins if there was one. Each rule's path is stored normalised (below),
 * and so is the path asked about, so matching is a byte comparison with
 * "*" wildcards.
 *
 * Normalising (RFC 9309 section 2.2.2): a %XX that stands for an unreserved
 * character (letters, digits, '-', '.', '_', '~') becomes that character;
 * any other %XX is kept, upper-cased; bytes outside printable ASCII are percent-encoded, and so is
 * '$' (a rule's final '$' is taken off first) and, in the path asked about,
 * '*': so only a rule's own '*' is special.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evcrawl/robots.h"

struct rule {
	char *pat;     /* normalised; '*' is a wildcard */
	size_t len;    /* its length: the rule's priority */
	bool allow;    /* else disallow */
	bool anchored; /* it ended in '$': the path must end where it does */
};

struct rules {
	struct rule *v;
	size_t n, cap;
	double delay_s; /* Crawl-delay, -1: none */
	bool seen;	/* a group for this agent (or "*") was there */
};

struct evc_robots {
	struct rules use;
	bool all; /* no rules: everything allowed (true) or disallowed */
	char **sitemaps;
	size_t nsitemaps;
};

/* ---- normalising -------------------------------------------------------------- */

static int hexval(char ch)
{
	int c = (unsigned char)ch;
	return isdigit(c) ? c - '0' : isxdigit(c) ? (tolower(c) - 'a' + 10) : -1;
}

/* RFC 3986's unreserved characters: the only ones whose %XX is decoded. */
static bool unreserved(unsigned v)
{
	return isalnum((int)v) || v == '-' || v == '.' || v == '_' || v == '~';
}

/* Normalise s (n bytes) into a new string; pattern: '*' stays a wildcard. */
static char *normalise(const char *s, size_t n, bool pattern, size_t *outlen)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out = malloc(n * 3 + 1);
	if (!out)
		return NULL;
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '%' && i + 2 < n && hexval(s[i + 1]) >= 0 && hexval(s[i + 2]) >= 0) {
			unsigned v = (unsigned)(hexval(s[i + 1]) * 16 + hexval(s[i + 2]));
			i += 2;
			if (v < 0x80 && unreserved(v)) {
				out[o++] = (char)v;
				continue;
			}
			c = (unsigned char)v;
		} else if (c > 0x20 && c < 0x7f && c != '$' && (pattern || c != '*')) {
			out[o++] = (char)c;
			continue;
		}
		out[o++] = '%';
		out[o++] = hex[c >> 4];
		out[o++] = hex[c & 15];
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* ---- matching ------------------------------------------------------------------ */

/* Whether pattern p (n bytes, '*' wildcards) matches a prefix of s (or all
 * of it when anchored). The pieces between '*'s must appear in order: the
 * first at the start, each next one at its leftmost place after the one
 * before (leftmost is never worse for what follows), the last, when
 * anchored, at the very end. Linear in the path for each piece. */
static bool match(const char *p, size_t n, bool anchored, const char *s, size_t slen)
{
	const char *star = memchr(p, '*', n);
	size_t first = star ? (size_t)(star - p) : n;
	if (first > slen || memcmp(p, s, first) != 0)
		return false;
	if (!star)
		return !anchored || first == slen;
	size_t at = first; /* s[0..at) is matched */
	const char *q = star + 1, *end = p + n;
	for (;;) {
		const char *next = memchr(q, '*', (size_t)(end - q));
		size_t len = (size_t)((next ? next : end) - q);
		if (!next && anchored) /* the last piece ends the path */
			return len <= slen - at && memcmp(s + slen - len, q, len) == 0;
		if (len) {
			const char *hit = memmem(s + at, slen - at, q, len);
			if (!hit)
				return false;
			at = (size_t)(hit - s) + len;
		}
		if (!next)
			return true;
		q = next + 1;
	}
}

bool evc_robots_allowed(const evc_robots_t *r, const char *path)
{
	if (!r)
		return true;
	if (!path || !*path)
		path = "/";
	if (strcmp(path, "/robots.txt") == 0)
		return true;
	if (r->use.n == 0)
		return r->all;
	size_t len;
	char *s = normalise(path, strlen(path), false, &len);
	if (!s)
		return true; /* out of memory: the rules cannot be read; fetch */
	const struct rule *best = NULL;
	for (size_t i = 0; i < r->use.n; i++) {
		const struct rule *x = &r->use.v[i];
		if (best && (x->len < best->len || (x->len == best->len && !x->allow)))
			continue;
		if (match(x->pat, x->len, x->anchored, s, len))
			best = x;
	}
	free(s);
	return !best || best->allow;
}

/* ---- parsing --------------------------------------------------------------------- */

static int add_rule(struct rules *g, bool allow, const char *v, size_t n)
{
	if (n == 0)
		return 0; /* "Disallow:" with no path: nothing disallowed */
	bool anchored = v[n - 1] == '$';
	if (anchored)
		n--;
	if (g->n == g->cap) {
		size_t cap = g->cap ? g->cap * 2 : 8;
		struct rule *v2 = realloc(g->v, cap * sizeof *v2);
		if (!v2)
			return -ENOMEM;
		g->v = v2;
		g->cap = cap;
	}
	struct rule *x = &g->v[g->n];
	x->pat = normalise(v, n, true, &x->len);
	if (!x->pat)
		return -ENOMEM;
	/* Collapse runs of '*': they match what one does. */
	size_t o = 0;
	for (size_t i = 0; i < x->len; i++)
		if (!(x->pat[i] == '*' && o && x->pat[o - 1] == '*'))
			x->pat[o++] = x->pat[i];
	x->pat[o] = '\0';
	x->len = o;
	x->allow = allow;
	x->anchored = anchored;
	g->n++;
	return 0;
}

static void free_rules(struct rules *g)
{
	for (size_t i = 0; i < g->n; i++)
		free(g->v[i].pat);
	free(g->v);
}

/* Whether a User-agent value names agent: its product token (the leading
 * letters, digits, '-' and '_') compared case-insensitively, or "*". */
static int names(const char *v, size_t n, const char *agent)
{
	if (n >= 1 && v[0] == '*')
		return 2;
	size_t k = 0;
	while (k < n && (isalnum((unsigned char)v[k]) || v[k] == '-' || v[k] == '_'))
		k++;
	return k && k == strlen(agent) && strncasecmp(v, agent, k) == 0;
}

static bool key_is(const char *k, size_t n, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == n && strncasecmp(k, *words, n) == 0)
			return true;
	return false;
}

static const char *const UA[] = {"user-agent", "useragent", "user agent", NULL};
static const char *const ALLOW[] = {"allow", NULL};
static const char *const DISALLOW[] = {"disallow", "dissallow", "dissalow", "disalow",
				       "diasllow", "disallaw",	NULL};
static const char *const DELAY[] = {"crawl-delay", "crawldelay", "crawl delay", NULL};
static const char *const SITEMAP[] = {"sitemap", "site-map", NULL};

static int add_sitemap(evc_robots_t *r, const char *v, size_t n)
{
	if (n == 0 || r->nsitemaps >= 1000)
		return 0;
	char **s = realloc(r->sitemaps, (r->nsitemaps + 1) * sizeof *s);
	if (!s)
		return -ENOMEM;
	r->sitemaps = s;
	if (!(s[r->nsitemaps] = strndup(v, n)))
		return -ENOMEM;
	r->nsitemaps++;
	return 0;
}

int evc_robots_parse(evc_robots_t **out, const char *body, size_t len, const char *agent)
{
	*out = NULL;
	evc_robots_t *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	struct rules mine = {.delay_s = -1}, star = {.delay_s = -1};
	if (len > EVC_ROBOTS_MAX_BYTES)
		len = EVC_ROBOTS_MAX_BYTES;
	const char *p = body, *end = body + len;
	if (len >= 3 && memcmp(p, "\xEF\xBB\xBF", 3) == 0)
		p += 3;
	/* The group being read: does it name us, or "*"? A User-agent line
	 * after a rule starts a new group. */
	bool for_me = false, for_star = false, had_rule = true;
	int rc = 0;
	while (p < end && rc == 0) {
		const char *eol = p;
		while (eol < end && *eol != '\n' && *eol != '\r')
			eol++;
		const char *line_end = memchr(p, '#', (size_t)(eol - p));
		if (!line_end)
			line_end = eol;
		const char *colon = memchr(p, ':', (size_t)(line_end - p));
		if (colon) {
			const char *k = p, *ke = colon, *v = colon + 1, *ve = line_end;
			while (k < ke && isspace((unsigned char)*k))
				k++;
			while (ke > k && isspace((unsigned char)ke[-1]))
				ke--;
			while (v < ve && isspace((unsigned char)*v))
				v++;
			while (ve > v && isspace((unsigned char)ve[-1]))
				ve--;
			size_t kn = (size_t)(ke - k), vn = (size_t)(ve - v);
			if (key_is(k, kn, UA)) {
				if (had_rule)
					for_me = for_star = false;
				had_rule = false;
				int m = names(v, vn, agent);
				for_me |= m == 1;
				for_star |= m == 2;
				mine.seen |= m == 1;
				star.seen |= m == 2;
			} else if (key_is(k, kn, ALLOW) || key_is(k, kn, DISALLOW)) {
				had_rule = true;
				bool allow = key_is(k, kn, ALLOW);
				if (for_me)
					rc = add_rule(&mine, allow, v, vn);
				if (for_star && rc == 0)
					rc = add_rule(&star, allow, v, vn);
			} else if (key_is(k, kn, DELAY)) {
				had_rule = true;
				char num[32];
				double d = -1;
				if (vn && vn < sizeof num) {
					memcpy(num, v, vn);
					num[vn] = '\0';
					char *e;
					d = strtod(num, &e);
					if (*e || !(d >= 0) || d > 86400)
						d = -1;
				}
				if (for_me && d >= 0 && d > mine.delay_s)
					mine.delay_s = d;
				if (for_star && d >= 0 && d > star.delay_s)
					star.delay_s = d;
			} else if (key_is(k, kn, SITEMAP)) {
				rc = add_sitemap(r, v, vn); /* not part of any group */
			}
		}
		p = eol;
		if (p < end && *p == '\r')
			p++;
		if (p < end && *p == '\n')
			p++;
	}
	if (rc < 0) {
		free_rules(&mine);
		free_rules(&star);
		evc_robots_free(r);
		return rc;
	}
	if (mine.seen) {
		r->use = mine;
		free_rules(&star);
	} else {
		r->use = star;
		free_rules(&mine);
	}
	r->all = true; /* no rule matches: allowed */
	*out = r;
	return 0;
}

evc_robots_t *evc_robots_new_all(bool allow_all)
{
	evc_robots_t *r = calloc(1, sizeof *r);
	if (r) {
		r->all = allow_all;
		r->use.delay_s = -1;
	}
	return r;
}

unsigned evc_robots_crawl_delay_ms(const evc_robots_t *r)
{
	return r && r->use.delay_s > 0 ? (unsigned)(r->use.delay_s * 1000 + 0.5) : 0;
}

size_t evc_robots_sitemaps(const evc_robots_t *r, const char *const **urls)
{
	*urls = r ? (const char *const *)r->sitemaps : NULL;
	return r ? r->nsitemaps : 0;
}

void evc_robots_free(evc_robots_t *r)
{
	if (!r)
		return;
	free_rules(&r->use);
	for (size_t i = 0; i < r->nsitemaps; i++)
		free(r->sitemaps[i]);
	free(r->sitemaps);
	free(r);
}

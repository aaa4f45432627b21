/*
 * libFuzzer harness for the robots.txt parser and matcher (include/evcrawl/
 * robots.h, src/crawl/robots.c). The first input byte is an option byte.
 *
 * Bit 3 clear: the rest is a robots.txt, parsed for one of a few product
 * tokens (bits 0-2); then every value in it (what follows a ':') that looks
 * like a path is asked about, and a few fixed paths. /robots.txt must stay
 * allowed, the Crawl-delay within its day, the Sitemap list within 1,000
 * entries.
 *
 * Bit 3 set, a check of the matcher against a plain one: the rest is lines,
 * each a rule ('A' then an Allow pattern, anything else then a Disallow
 * pattern) but the last, which is the path asked about. Patterns of
 * [A-Za-z0-9/._~-] with '*' and an optional final '$', paths of the same
 * without '*', so that normalising changes nothing. They go into one "*"
 * group, and the answer must be what the rules say read the slow way: the
 * longest matching rule (its length counted with runs of '*' as one and
 * without the '$') decides, an Allow winning a tie, none matching allows.
 *
 * Built and run by `make fuzz`.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evcrawl/robots.h"
#include "fuzz_split.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const agents[] = {"evcrawl", "EvCrawl", "googlebot", "a",
				     "x-y_z",	"bot1",	   "evcrawl2",	"_"};

static void check_common(const evc_robots_t *r)
{
	FUZZ_CHECK(evc_robots_allowed(r, "/robots.txt"));
	FUZZ_CHECK(evc_robots_crawl_delay_ms(r) <= 86400u * 1000u);
	const char *const *urls = NULL;
	size_t n = evc_robots_sitemaps(r, &urls);
	FUZZ_CHECK(n <= 1000 && (n == 0 || urls));
	for (size_t i = 0; i < n; i++) /* (a NUL in the line ends the string early) */
		FUZZ_CHECK(urls[i] && strlen(urls[i]) < EVC_ROBOTS_MAX_BYTES);
}

static void fuzz_file(const uint8_t *data, size_t size, const char *agent)
{
	static const char *const fixed[] = {
	    "/",  "",	"/a/b?c=d",   "/%7Efoo",       "/~foo",
	    "/*", "/$", "/%E3%83%84", "/\xe3\x83\x84", "/index.html"};
	evc_robots_t *r;
	FUZZ_CHECK(evc_robots_parse(&r, (const char *)data, size, agent) == 0 && r);
	check_common(r);
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
		(void)evc_robots_allowed(r, fixed[i]);
	/* The rules' own values, as paths. */
	unsigned asked = 0;
	for (size_t i = 0; i < size && asked < 64; i++) {
		if (data[i] != ':')
			continue;
		size_t a = i + 1, b = a;
		while (a < size && (data[a] == ' ' || data[a] == '\t'))
			a++;
		b = a;
		while (b < size && data[b] != '\n' && data[b] != '\r' && data[b] != '\0')
			b++;
		if (a < b && (data[a] == '/' || data[a] == '*')) {
			char *path = malloc(b - a + 1);
			FUZZ_CHECK(path);
			memcpy(path, data + a, b - a);
			path[b - a] = '\0';
			(void)evc_robots_allowed(r, path);
			free(path);
			asked++;
		}
	}
	evc_robots_free(r);
}

/* ---- the plain matcher --------------------------------------------------- */

struct rule {
	bool allow, anchored;
	char pat[257];
	size_t len; /* with runs of '*' as one */
};

/* Whether p (with '*') matches all of s: the textbook table. */
static bool glob_all(const char *p, size_t pn, const char *s, size_t sn)
{
	static bool row[2][258];
	FUZZ_CHECK(sn < 258);
	/* row[i & 1][j]: p[0..i) matches s[0..j) */
	for (size_t j = 0; j <= sn; j++)
		row[0][j] = j == 0;
	for (size_t i = 1; i <= pn; i++) {
		bool *cur = row[i & 1], *prev = row[(i - 1) & 1];
		cur[0] = prev[0] && p[i - 1] == '*';
		for (size_t j = 1; j <= sn; j++) {
			if (p[i - 1] == '*')
				cur[j] = prev[j] || cur[j - 1];
			else
				cur[j] = prev[j - 1] && p[i - 1] == s[j - 1];
		}
	}
	return row[pn & 1][sn];
}

static bool plain_allowed(const struct rule *rules, size_t n, const char *path)
{
	if (!*path)
		path = "/";
	if (strcmp(path, "/robots.txt") == 0)
		return true;
	size_t sn = strlen(path);
	const struct rule *best = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct rule *x = &rules[i];
		bool hit = false;
		if (x->anchored) {
			hit = glob_all(x->pat, strlen(x->pat), path, sn);
		} else { /* a prefix of the path: as if the pattern ended in '*' */
			char p[259];
			size_t pn = strlen(x->pat);
			memcpy(p, x->pat, pn);
			p[pn] = '*';
			hit = glob_all(p, pn + 1, path, sn);
		}
		if (!hit)
			continue;
		if (!best || x->len > best->len ||
		    (x->len == best->len && x->allow && !best->allow))
			best = x;
	}
	return !best || best->allow;
}

static bool plain_char(char c)
{
	return isalnum((unsigned char)c) || c == '/' || c == '.' || c == '_' || c == '~' ||
	       c == '-';
}

static void fuzz_matcher(const uint8_t *data, size_t size)
{
	struct rule rules[8];
	size_t nrules = 0, nlines = 0;
	char path[257] = "";
	char text[8 * 300 + 32];
	size_t tlen = (size_t)snprintf(text, sizeof text, "User-agent: *\n");

	const uint8_t *p = data, *end = data + size;
	while (p <= end) {
		const uint8_t *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		size_t n = (size_t)(eol - p);
		if (eol == end) { /* the last line: the path */
			if (n > 256)
				return;
			for (size_t i = 0; i < n; i++)
				if (!plain_char((char)p[i]))
					return;
			memcpy(path, p, n);
			path[n] = '\0';
			break;
		}
		if (nlines++ == 8 || n < 1 || n > 257)
			return;
		struct rule *x = &rules[nrules];
		x->allow = p[0] == 'A';
		const uint8_t *v = p + 1;
		size_t vn = n - 1;
		for (size_t i = 0; i < vn; i++)
			if (!plain_char((char)v[i]) && v[i] != '*' && !(v[i] == '$' && i == vn - 1))
				return;
		tlen += (size_t)snprintf(text + tlen, sizeof text - tlen, "%s: %.*s\n",
					 x->allow ? "Allow" : "Disallow", (int)vn, (const char *)v);
		if (vn) { /* "Disallow:" alone is no rule */
			x->anchored = v[vn - 1] == '$';
			if (x->anchored)
				vn--;
			size_t o = 0;
			for (size_t i = 0; i < vn; i++)
				if (!(v[i] == '*' && o && x->pat[o - 1] == '*'))
					x->pat[o++] = (char)v[i];
			x->pat[o] = '\0';
			x->len = o;
			nrules++;
		}
		p = eol + 1;
	}
	evc_robots_t *r;
	FUZZ_CHECK(evc_robots_parse(&r, text, tlen, "evcrawl") == 0 && r);
	check_common(r);
	bool got = evc_robots_allowed(r, path), want = plain_allowed(rules, nrules, path);
	if (got != want) {
		fprintf(stderr, "robots.txt:\n%.*spath: \"%s\": allowed %d, the rules say %d\n",
			(int)tlen, text, path, got, want);
		FUZZ_CHECK(got == want);
	}
	evc_robots_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t opts = data[0];
	data++, size--;
	if (opts & 8)
		fuzz_matcher(data, size);
	else
		fuzz_file(data, size, agents[opts & 7]);
	return 0;
}

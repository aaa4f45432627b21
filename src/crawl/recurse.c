/*
 * The recursive crawl: links found in a page's HTML as it streams become new
 * URLs of the same crawl, each taken once.
 *
 * A page's body goes through a link extractor (links.h) chunk by chunk; when
 * the page is reported, each link it found is judged: outside the scope of
 * the seed it descends from, or not matching include / matching exclude, it
 * is left alone; already seen (the seen-set of normalised URLs, seen.h), too;
 * otherwise it is taken: marked seen and added as a task one level deeper,
 * or, when a guard refuses it (deeper than max_depth, past max_pages, a URL
 * longer than max_url_len), added with a record of kind skipped that says
 * why. Redirect targets go into the seen-set too, so a page reached twice is
 * fetched once.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "crawl/crawler_internal.h"

#define LINKS_MAX   10000 /* links kept per page; a page with more is a trap */
#define SITEMAP_MAX 50000 /* URLs in one sitemap (the protocol's own limit) */

int evc__recurse_init(evc_crawler_t *c)
{
	const evc_crawl_opts_t *o = &c->opts.o;
	if (o->include) {
		if (regcomp(&c->include, o->include, REG_EXTENDED | REG_NOSUB) != 0)
			return -EINVAL;
		c->has_include = true;
	}
	if (o->exclude) {
		if (regcomp(&c->exclude, o->exclude, REG_EXTENDED | REG_NOSUB) != 0)
			return -EINVAL;
		c->has_exclude = true;
	}
	return 0;
}

void evc__recurse_free(evc_crawler_t *c)
{
	if (c->has_include)
		regfree(&c->include);
	if (c->has_exclude)
		regfree(&c->exclude);
	evc__seen_free(&c->seen);
	evc__counts_free(&c->queries);
}

static void seed_unref(struct seed *s)
{
	if (!s || --s->refs)
		return;
	free(s->host);
	free(s->domain);
	free(s->prefix);
	free(s->url);
	free(s);
}

static struct seed *seed_new(const struct evc__url *u)
{
	struct seed *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->refs = 1;
	/* The prefix: the URL up to the last '/' of its path (not the query). */
	size_t plen = (size_t)(u->target - u->href) + strcspn(u->target, "?");
	while (plen > (size_t)(u->target - u->href) && u->href[plen - 1] != '/')
		plen--;
	s->host = strdup(u->host);
	s->domain = strdup(evc__registrable_domain(u->host));
	s->prefix = strndup(u->href, plen);
	s->url = strdup(u->href);
	if (!s->host || !s->domain || !s->prefix || !s->url) {
		seed_unref(s);
		return NULL;
	}
	return s;
}

void evc__recurse_attempt(struct task *t)
{
	evc__links_free(t->extract);
	t->extract = NULL;
	evc__sitemap_free(t->smap);
	t->smap = NULL;
	for (size_t i = 0; i < t->nfound; i++)
		free(t->found[i]);
	free(t->found);
	t->found = NULL;
	t->nfound = 0;
}

void evc__recurse_task_free(struct task *t)
{
	evc__recurse_attempt(t);
	free(t->parent);
	seed_unref(t->seed);
}

/* The path segment of href (between "//host" and '?') seen most often: its
 * count, and the segment into seg. */
static unsigned most_repeated(const char *href, char *seg, size_t cap, unsigned enough)
{
	const char *p = strstr(href, "//");
	p = p ? strchr(p + 2, '/') : NULL;
	size_t plen = p ? strcspn(p, "?") : 0;
	unsigned best = 0;
	for (size_t i = 0; i < plen;) {
		size_t a = i + 1, b = a;
		while (b < plen && p[b] != '/')
			b++;
		if (b > a) {
			unsigned n = 0;
			for (size_t j = 0; j < plen;) { /* count p[a..b) among all segments */
				size_t x = j + 1, y = x;
				while (y < plen && p[y] != '/')
					y++;
				n += y - x == b - a && memcmp(p + x, p + a, b - a) == 0;
				j = y;
			}
			if (n > best) {
				best = n;
				snprintf(seg, cap, "%.*s", (int)(b - a), p + a);
				if (best > enough)
					return best; /* past the limit: no need to count on */
			}
		}
		i = b;
	}
	return best;
}

/* How many '/' the path of href has (before any '?'). */
static unsigned segments(const char *href)
{
	const char *p = strstr(href, "//");
	unsigned n = 0;
	for (p = p ? strchr(p + 2, '/') : NULL; p && *p && *p != '?'; p++)
		n += *p == '/';
	return n;
}

/* A guard's refusal, or NULL: the URL may be fetched. */
static const char *guard(evc_crawler_t *c, const char *href, unsigned depth, char *buf, size_t cap)
{
	const evc_crawl_opts_t *o = &c->opts.o;
	char seg[64];
	unsigned reps;
	const char *q = strchr(href, '?');
	if (depth > o->max_depth)
		snprintf(buf, cap, "deeper than --depth %u", o->max_depth);
	else if (o->max_pages && c->pages >= o->max_pages)
		snprintf(buf, cap, "--max-pages %llu reached", (unsigned long long)o->max_pages);
	else if (o->max_url_len && strlen(href) > o->max_url_len)
		snprintf(buf, cap, "URL longer than %u bytes", o->max_url_len);
	else if (o->max_path_repeats && segments(href) > 256)
		snprintf(buf, cap, "path has more than 256 segments");
	else if (o->max_path_repeats && strlen(href) < 4096 &&
		 (reps = most_repeated(href, seg, sizeof seg, o->max_path_repeats)) >
		     o->max_path_repeats)
		snprintf(buf, cap, "path repeats segment '%s' %u times", seg, reps);
	else if (o->max_query_variants && q &&
		 evc__counts_inc(&c->queries, evc__seen_fingerprint(href, (size_t)(q - href))) >
		     o->max_query_variants)
		snprintf(buf, cap, "more than %u query strings on %.*s", o->max_query_variants,
			 (int)(q - href > 200 ? 200 : q - href), href);
	else
		return NULL;
	return buf;
}

static bool wanted(evc_crawler_t *c, const struct seed *s, const char *href);

/* A seed added: depth 0, its own seed, seen. 0, 1 when a guard refused it
 * (its error is set), or -ENOMEM. */
int evc__recurse_seed(evc_crawler_t *c, struct task *t)
{
	char why[128];
	t->seed = seed_new(&t->f.url);
	if (!t->seed)
		return -ENOMEM;
	const char *href = t->f.url.href;
	if (evc__seen_add(&c->seen, evc__seen_fingerprint(href, strlen(href))) < 0)
		return -ENOMEM;
	if (guard(c, href, 0, why, sizeof why)) {
		evc__fetch_error(&t->f, EVC_ERR_SKIPPED, "%s", why);
		return 1;
	}
	c->pages++;
	return 0;
}

/* A redirect was taken (FOLLOW): its target goes into the seen-set. False
 * when it was there already: the task ends, skipped, as that URL is (or
 * was) fetched by another. */
bool evc__recurse_follow(struct task *t)
{
	evc_crawler_t *c = t->c;
	if (!c->opts.o.recursive || t->robots_for)
		return true;
	const char *href = t->f.url.href;
	if (t->depth == 0) {
		/* A seed that redirects (http to https, example.com to
		 * www.example.com) is crawled where it lands: the scope
		 * follows it. */
		struct seed *s = seed_new(&t->f.url);
		if (s) {
			seed_unref(t->seed);
			t->seed = s;
		}
	} else if (!wanted(c, t->seed, href)) {
		evc__fetch_error(&t->f, EVC_ERR_SKIPPED, "redirected out of scope to %s", href);
		return false;
	}
	int rc = evc__seen_add(&c->seen, evc__seen_fingerprint(href, strlen(href)));
	if (rc != 0)
		return true; /* new (or no memory to remember it: fetch anyway) */
	evc__fetch_error(&t->f, EVC_ERR_SKIPPED, "redirected to %s, already seen", href);
	return false;
}

/* Keep href among the task's found URLs (NULL-terminated). */
static void keep_found(struct task *t, const char *href, size_t max)
{
	if (t->nfound >= max)
		return;
	char **v = realloc(t->found, (t->nfound + 2) * sizeof *v);
	if (!v)
		return;
	t->found = v;
	if (!(v[t->nfound] = strdup(href)))
		return;
	v[++t->nfound] = NULL;
}

static int on_link(void *arg, const struct evc__url *u, const char *tag)
{
	keep_found(arg, u->href, LINKS_MAX);
	return 0;
}

/* A sitemap's <loc>: an absolute URL, normalised like any other. */
static void on_loc(void *arg, const char *loc, bool is_sitemap)
{
	struct evc__url u;
	if (evc__url_parse(&u, loc, strlen(loc)) < 0)
		return;
	keep_found(arg, u.href, SITEMAP_MAX);
	evc__url_free(&u);
}

/* A sitemap, by its Content-Type (XML or gzip, not XHTML) or its name. */
static bool is_sitemap(const struct task *t)
{
	const char *ct = t->f.content_type, *path = t->f.url.target;
	size_t n = strcspn(path, "?");
	bool named = (n >= 4 && strncmp(path + n - 4, ".xml", 4) == 0) ||
		     (n >= 7 && strncmp(path + n - 7, ".xml.gz", 7) == 0);
	if (ct && strcasestr(ct, "xhtml"))
		return false;
	return named ||
	       (ct && (strcasestr(ct, "/xml") || strcasestr(ct, "+xml") || strcasestr(ct, "gzip")));
}

static bool is_html(const char *ct)
{
	return ct && (strncasecmp(ct, "text/html", 9) == 0 ||
		      strncasecmp(ct, "application/xhtml+xml", 21) == 0);
}

/* The Content-Type's charset parameter, into buf; NULL when none. */
static const char *charset(const char *ct, char *buf, size_t cap)
{
	const char *p = ct ? strcasestr(ct, "charset=") : NULL;
	if (!p)
		return NULL;
	p += 8;
	if (*p == '"')
		p++;
	size_t n = strcspn(p, "\"; \t");
	if (n == 0 || n >= cap)
		return NULL;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return buf;
}

/* Bytes of the final response's body: to the link extractor, for HTML. */
int evc__recurse_body(struct task *t, const char *data, size_t len)
{
	evc_crawler_t *c = t->c;
	if ((!c->opts.o.recursive && !c->opts.o.links) || t->robots_for)
		return 0;
	if (c->opts.o.sitemaps && (t->smap || (!t->extract && is_sitemap(t)))) {
		if (!t->smap && evc__sitemap_new(&t->smap, on_loc, t) < 0)
			return 0;
		evc__sitemap_feed(t->smap, data, len);
		return 0;
	}
	if (!t->extract) {
		char cs[64];
		if (!is_html(t->f.content_type) ||
		    evc__links_new(&t->extract, &t->f.url,
				   charset(t->f.content_type, cs, sizeof cs), on_link, t) < 0)
			return 0; /* not HTML, or no memory: no links from this page */
	}
	evc__links_feed(t->extract, data, len);
	return 0;
}

/* Scope, include and exclude: does this crawl want href at all? */
static bool wanted(evc_crawler_t *c, const struct seed *s, const char *href)
{
	const evc_crawl_opts_t *o = &c->opts.o;
	if (o->scope != EVC_SCOPE_ANY && s) {
		struct evc__url u;
		if (evc__url_parse(&u, href, strlen(href)) < 0)
			return false;
		bool in = o->scope == EVC_SCOPE_HOST ? strcmp(u.host, s->host) == 0
			  : o->scope == EVC_SCOPE_DOMAIN
			      ? strcmp(evc__registrable_domain(u.host), s->domain) == 0
			      : strncmp(href, s->prefix, strlen(s->prefix)) == 0;
		evc__url_free(&u);
		if (!in)
			return false;
	}
	if (c->has_include && regexec(&c->include, href, 0, NULL, 0) != 0)
		return false;
	return !(c->has_exclude && regexec(&c->exclude, href, 0, NULL, 0) == 0);
}

/* The frontier past its memory budget: href waits in the store (state_dir's,
 * or a temporary one made now) instead of as a task; evc__recurse_refill
 * brings it back when the queues have room. True when it went there. */
static bool spill(evc_crawler_t *c, struct task *t, const char *href, unsigned depth)
{
	if (!c->frontier_max || c->queued < c->frontier_max || c->state_failed)
		return false;
	char err[256];
	if (!c->state && evc__state_open_temp(&c->state, err, sizeof err) < 0)
		return false; /* no disk: held in memory after all */
	const char *seed = t->smap || !t->seed ? href : t->seed->url;
	if (evc__state_add(c->state, evc__seen_fingerprint(href, strlen(href)), href, depth,
			   t->f.url.href, seed, false) < 0)
		return false;
	c->spilled++;
	c->stats.frontier_spilled++;
	c->stats.added++;
	c->pages++;
	return true;
}

/* Add one discovered URL as a task (or a skipped record). A sitemap's
 * URLs are seeds: depth 0, each its own scope. */
static void discover(struct task *t, const char *href)
{
	evc_crawler_t *c = t->c;
	char why[128];
	unsigned depth = t->smap ? 0 : t->depth + 1;
	const char *refused = guard(c, href, depth, why, sizeof why);
	if (!refused && spill(c, t, href, depth))
		return; /* waits in the store until the queues have room */
	struct task *n = evc__task_new(c, href, strlen(href), NULL, &c->opts.o);
	if (!n)
		return;
	n->depth = depth;
	n->parent = strdup(t->f.url.href);
	n->seed = t->seed;
	if (t->smap)
		n->seed = seed_new(&n->f.url);
	else if (t->seed)
		t->seed->refs++;
	c->stats.added++;
	if (c->state) {
		n->fp = evc__seen_fingerprint(href, strlen(href));
		n->in_state = evc__state_add(c->state, n->fp, href, depth, n->parent,
					     n->seed ? n->seed->url : href, true) == 0;
	}
	if (!refused && evc__enqueue(c, n, false) == 0) {
		c->pages++;
		return;
	}
	if (refused)
		evc__fetch_error(&n->f, EVC_ERR_SKIPPED, "%s", refused);
	else
		evc__fetch_error(&n->f, EVC_ERR_IO, "out of memory");
	n->state = T_DONE;
	c->queued++;
	evc__list_push_back(&c->bad, &n->link); /* reported from the kick timer */
	evc__kick(c);
}

/* The page is being reported: its links become tasks (recursive). */
void evc__recurse_discover(struct task *t)
{
	evc_crawler_t *c = t->c;
	const evc_crawl_opts_t *o = &c->opts.o;
	if (t->extract)
		evc__links_end(t->extract);
	if (t->smap)
		evc__sitemap_end(t->smap);
	if (o->recursive && t->f.error == EVC_OK) {
		for (size_t i = 0; i < t->nfound; i++) {
			const char *href = t->found[i];
			if (!wanted(c, t->smap ? NULL : t->seed, href))
				continue; /* a sitemap's URLs are seeds: no scope, only the regexes
					   */
			if (evc__seen_add(&c->seen, evc__seen_fingerprint(href, strlen(href))) != 1)
				continue; /* seen (or no memory to remember it) */
			discover(t, href);
		}
	}
}

/* r gains depth, parent and links. */
void evc__recurse_fill(struct task *t, evc_result_t *r)
{
	const evc_crawl_opts_t *o = &t->c->opts.o;
	r->recursive = o->recursive;
	r->depth = (int)t->depth;
	r->parent = t->parent;
	if (o->links) {
		static const char *const none[] = {NULL};
		r->links = t->found ? (const char *const *)t->found : none;
	}
}

/* robots.txt named sitemaps (the sitemaps option): each is fetched once,
 * as a seed found on robots_url. */
void evc__recurse_sitemaps(evc_crawler_t *c, const evc_robots_t *rules, const char *robots_url)
{
	const char *const *urls;
	size_t n = evc_robots_sitemaps(rules, &urls);
	if (!c->opts.o.recursive || !c->opts.o.sitemaps || c->cancelled)
		return;
	for (size_t i = 0; i < n; i++) {
		struct evc__url u;
		if (evc__url_parse(&u, urls[i], strlen(urls[i])) < 0)
			continue;
		int fresh = evc__seen_add(&c->seen, evc__seen_fingerprint(u.href, strlen(u.href)));
		struct task *t =
		    fresh == 1 ? evc__task_new(c, u.href, strlen(u.href), NULL, &c->opts.o) : NULL;
		if (t) {
			t->parent = strdup(robots_url);
			t->seed = seed_new(&t->f.url);
			c->stats.added++;
			if (c->state) {
				t->fp = evc__seen_fingerprint(u.href, strlen(u.href));
				t->in_state = evc__state_add(c->state, t->fp, u.href, 0, t->parent,
							     u.href, true) == 0;
			}
			if (evc__enqueue(c, t, false) == 0) {
				c->pages++;
			} else {
				evc__fetch_error(&t->f, EVC_ERR_IO, "out of memory");
				t->state = T_DONE;
				c->queued++;
				evc__list_push_back(&c->bad, &t->link);
				evc__kick(c);
			}
		}
		evc__url_free(&u);
	}
}

/* With state_dir, a URL given to evc_crawler_add: EVC_EKNOWN when the state
 * has it already (fetched or waiting: a resumed crawl does not take it
 * again), else 0 with t written to the state. */
int evc__recurse_take(evc_crawler_t *c, struct task *t)
{
	const char *href = t->f.url.href;
	uint64_t fp = evc__seen_fingerprint(href, strlen(href));
	if (evc__seen_has(&c->seen, fp))
		return EVC_EKNOWN;
	t->fp = fp;
	t->in_state = evc__state_add(c->state, fp, href, 0, NULL, href, true) == 0;
	return 0;
}

/* A URL from the store becomes a task again (already counted in added). */
static void take_row(void *arg, uint64_t fp, const char *url, unsigned depth, const char *parent,
		     const char *seed, bool done)
{
	evc_crawler_t *c = arg;
	struct task *t = evc__task_new(c, url, strlen(url), NULL, &c->opts.o);
	if (!t) {
		c->stats.added--; /* given up: it will have no record */
		return;
	}
	t->depth = depth;
	t->parent = parent ? strdup(parent) : NULL;
	t->fp = fp;
	t->in_state = true;
	struct evc__url s;
	if (seed && evc__url_parse(&s, seed, strlen(seed)) == 0) {
		t->seed = seed_new(&s);
		evc__url_free(&s);
	}
	if (t->f.url_rc < 0 || evc__enqueue(c, t, false) < 0) {
		if (t->f.url_rc == 0)
			evc__fetch_error(&t->f, EVC_ERR_IO, "out of memory");
		t->state = T_DONE;
		c->queued++;
		evc__list_push_back(&c->bad, &t->link);
		evc__kick(c);
	}
}

/* The queues have room again: URLs waiting in the store come back. */
void evc__recurse_refill(evc_crawler_t *c)
{
	if (c->spilled && c->state_failed) { /* what waited there is lost */
		c->stats.added -= c->spilled;
		c->spilled = 0;
	}
	if (c->cancelled || !c->spilled || (c->frontier_max && c->queued >= c->frontier_max / 2))
		return;
	uint64_t room = c->frontier_max ? c->frontier_max - c->queued : c->spilled;
	int n = evc__state_take(c->state, (unsigned)(room < 100000 ? room : 100000), take_row, c);
	if (n > 0)
		c->spilled -= (uint64_t)n < c->spilled ? (uint64_t)n : c->spilled;
	if (n < 0) { /* the store failed: what it held is lost, counted as none */
		c->state_failed = true;
		c->stats.added -= c->spilled;
		c->spilled = 0;
	}
}

/* One row of the state: taken (seen); not fetched yet, it waits in the
 * store (a new run holds nothing in memory) until refilled. */
static void resume_row(void *arg, uint64_t fp, const char *url, unsigned depth, const char *parent,
		       const char *seed, bool done)
{
	evc_crawler_t *c = arg;
	evc__seen_add(&c->seen, fp);
	if (done) {
		c->pages++; /* --max-pages counts the whole crawl, all runs */
		return;
	}
	c->spilled++;
	c->stats.added++;
	c->pages++;
}

/* A crawl with state_dir starts where the state says: what was taken is
 * seen, what was not fetched yet is queued again. */
int evc__recurse_resume(evc_crawler_t *c)
{
	int rc = evc__state_load(c->state, resume_row, c);
	if (rc == 0)
		evc__recurse_refill(c);
	return rc;
}

/* The final response's Link headers (RFC 8288): "<uri>; rel=next, <uri2>;
 * rel=\"alternate\"" - the targets whose rel names a document, resolved
 * against the URL, go with the page's links. */
void evc__recurse_head(struct task *t, const char *link)
{
	evc_crawler_t *c = t->c;
	if (!link || (!c->opts.o.recursive && !c->opts.o.links) || t->robots_for)
		return;
	const char *p = link;
	while ((p = strchr(p, '<')) != NULL) {
		const char *end = strchr(p, '>');
		if (!end)
			return;
		const char *params = end + 1, *next = params;
		while (*next && *next != ',' && *next != '<')
			next++;
		/* rel="a b" or rel=a among the parameters */
		char rel[128] = "";
		const char *r = strcasestr(params, "rel=");
		if (r && r < next) {
			r += 4;
			bool quoted = *r == '"';
			r += quoted;
			size_t n = quoted ? strcspn(r, "\"") : strcspn(r, ";, ");
			snprintf(rel, sizeof rel, "%.*s",
				 (int)(n < sizeof rel ? n : sizeof rel - 1), r);
		}
		if (evc__rel_is_document(rel)) {
			struct evc__url u;
			if (evc__url_resolve(&u, &t->f.url, p + 1, (size_t)(end - p - 1)) == 0) {
				keep_found(t, u.href, LINKS_MAX);
				evc__url_free(&u);
			}
		}
		p = end + 1;
	}
}

/*
 * The crawler's scheduler: which queued task starts next, and when.
 *
 * Tasks queue on their politeness key (polite.h: the host name by default,
 * or its registrable domain, or its address). A task holds a global slot
 * (at most `limit`, which is `concurrency` except under fd pressure) and a
 * slot of its key (at most `per_host`; one while the key backs off) from
 * the moment it starts until it completes, redirects, or waits for a retry.
 *
 * Keys that may start a task now sit on the `ready` list; pump() takes one
 * task from the first and moves that key to the back, so keys are served
 * round-robin and one slow key never holds the others back. A key that has
 * work and a slot but must wait (its delay since the last request, a
 * back-off after a 429/503 or failures) is not on the list: its own loop
 * timer, armed for the time it may go, puts it back. So deciding the next
 * fetch costs O(1), and a waiting key costs a timer in the loop's heap,
 * O(log keys); nothing ever scans the keys. The crawl-wide rate is a token
 * bucket pump() takes from; without a token it arms `rate_timer` and stops.
 *
 * With a delay, a key starts its next task only after the previous one sent
 * its request and the gap has passed since: the gap is what the server sees
 * between requests, whatever DNS and connecting cost.
 *
 * Connections are pooled per scheme://host:port (`struct host`), apart from
 * keys: with --politeness-key domain, a.example.com and b.example.com share
 * a key but not connections.
 *
 * Keys and hosts live in hash tables and are swept each second once they
 * hold nothing worth keeping, so a crawl over millions of hosts keeps
 * bounded tables. A key given up, or still backing off, is kept: forgetting
 * it would forgive it.
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crawl/crawler_internal.h"

/* ---- hosts (connection pools) and keys ------------------------------------- */

static struct host *host_get(evc_crawler_t *c, const struct evc__url *u)
{
	char name[320];
	bool created;
	snprintf(name, sizeof name, "%s://%s:%u", u->scheme, u->host, u->port);
	struct host *x =
	    evc__table_get(&c->hosts, name, sizeof *x, offsetof(struct host, node), &created);
	if (x && created) {
		evc__list_init(&x->idle);
		evc__list_init(&x->robots_wait);
	}
	return x;
}

static void host_free(evc_crawler_t *c, struct host *x)
{
	evc_robots_free(x->robots);
	free(x->robots_why);
	evc__table_remove(&c->hosts, &x->node);
	free(x->node.name);
	free(x);
}

static struct key *key_get(evc_crawler_t *c, const char *name)
{
	bool created;
	/* A new one is zeroed: no timer, no clock, nothing given up. */
	struct key *k =
	    evc__table_get(&c->keys, name, sizeof *k, offsetof(struct key, node), &created);
	if (k && created) {
		k->c = c;
		evc__list_init(&k->queue);
		evc__list_init(&k->ready_link);
	}
	return k;
}

static void key_timer_stop(evc_crawler_t *c, struct key *k)
{
	if (k->timer_due) {
		evc_timer_stop(k->timer);
		k->timer_due = 0;
		c->keys_timed--;
	}
}

static void key_free(evc_crawler_t *c, struct key *k)
{
	key_timer_stop(c, k);
	evc_timer_free(k->timer);
	if (k->dns)
		evc_resolve_cancel(k->dns);
	evc__list_remove(&k->ready_link);
	evc__table_remove(&c->keys, &k->node);
	free(k->gave_up);
	free(k->node.name);
	free(k);
}

static void on_key_timer(evc_timer_t *timer, void *arg);

/* Whether the key keeps a gap between requests (a delay or Crawl-delay). */
static bool has_gap(const evc_crawler_t *c, const struct key *k)
{
	return c->opts.o.delay_ms || k->p.crawl_delay_ms;
}

/* Put the key on the ready list, on its timer, or on neither, as its work,
 * slots and clock say. */
void evc__key_update(evc_crawler_t *c, struct key *k)
{
	bool want = k->nqueued > 0 && !k->resolving && !k->p.given_up &&
		    k->active < evc__polite_slots(&k->p, &c->opts.o) &&
		    !(k->starting && has_gap(c, k));
	uint64_t now = evc_now(c->loop);
	if (want && k->p.next_ms > now) {
		evc__list_remove(&k->ready_link);
		if (k->timer_due == k->p.next_ms)
			return;
		if (!k->timer && !(k->timer = evc_timer_new(c->loop, on_key_timer, k))) {
			k->p.next_ms = now; /* out of memory: impolite beats stuck */
		} else {
			if (!k->timer_due)
				c->keys_timed++;
			k->timer_due = k->p.next_ms;
			evc_timer_start(k->timer, k->p.next_ms - now, 0);
			return;
		}
	}
	key_timer_stop(c, k);
	bool is = evc__list_linked(&k->ready_link);
	if (want && !is)
		evc__list_push_back(&c->ready, &k->ready_link);
	else if (!want && is)
		evc__list_remove(&k->ready_link);
}

static void on_key_timer(evc_timer_t *timer, void *arg)
{
	struct key *k = arg;
	evc_crawler_t *c = k->c;
	k->timer_due = 0;
	c->keys_timed--;
	evc__key_update(c, k);
	evc__pump(c);
}

/* ---- which key a task counts against ---------------------------------------- */

static void on_key_resolved(void *arg, int status, evc_addrs_t *addrs, const char *errmsg);

/* A retry after a failed attempt that its key's pause would hold past the
 * whole-fetch deadline is not made: the record keeps the failure rather
 * than a timeout. */
static bool no_time(const struct key *k, const struct task *t)
{
	return t->f.attempts && t->f.deadline_ns && k->p.next_ms * 1000000u >= t->f.deadline_ns;
}

/* End t now, from the kick timer: a retry with no time left keeps its
 * failure; one after a 429/503 (whose response was let go) says why. */
static void end_no_time(evc_crawler_t *c, struct task *t, const struct key *k)
{
	if (t->f.error == EVC_OK)
		evc__fetch_error(
		    &t->f, EVC_ERR_TIMEOUT, "no time left for a retry: %s is paused %llu ms more",
		    k->node.name, (unsigned long long)(k->p.next_ms - evc_now(c->loop)));
	t->state = T_DONE;
	evc__list_push_back(&c->bad, &t->link); /* counted in c->queued */
	evc__kick(c);
}

static void queue_on(evc_crawler_t *c, struct task *t, struct key *k, bool front)
{
	t->key = k;
	t->state = T_QUEUED;
	c->queued++;
	if (k->p.given_up) { /* ends at once, from the kick timer */
		evc__fetch_error(&t->f, k->p.why, "%s", k->gave_up);
		t->state = T_DONE;
		evc__list_push_back(&c->bad, &t->link);
		evc__kick(c);
		return;
	}
	if (no_time(k, t)) {
		end_no_time(c, t, k);
		return;
	}
	/* robots.txt's Crawl-delay for this host: the key keeps the largest
	 * of its hosts' (with domain or ip keys, several hosts share one). */
	if (!k->resolving && t->host && t->host->robots) {
		uint64_t d = evc_robots_crawl_delay_ms(t->host->robots);
		if (d > c->opts.o.max_crawl_delay_ms)
			d = c->opts.o.max_crawl_delay_ms;
		if (d > k->p.crawl_delay_ms)
			k->p.crawl_delay_ms = d;
	}
	if (front)
		evc__list_push_front(&k->queue, &t->link);
	else
		evc__list_push_back(&k->queue, &t->link);
	k->nqueued++;
	evc__key_update(c, k);
}

/* The key of t's URL. With --politeness-key ip that needs the address: from
 * the resolver's cache, else a key standing for the name while it is
 * looked up (its tasks move on when the answer comes). */
static struct key *key_for(evc_crawler_t *c, struct task *t)
{
	const evc_crawl_opts_t *o = &c->opts.o;
	const struct evc__url *u = &t->f.url;
	char name[320], addr[64];
	const char *a = NULL;
	/* By address, unless a proxy looks the name up: a lookup here would
	 * leak the name a socks5h user keeps to the proxy. */
	if (o->politeness_key == EVC_KEY_IP &&
	    !evc__proxy_resolves(evc__proxy_pick(o, u->https, u->host))) {
		evc_addrs_t *addrs = NULL;
		int rc = evc_resolver_cached(c->resolver, u->host, u->port, &addrs, NULL);
		if (rc > 0 && addrs->count)
			a = evc__addr_text(&addrs->addr[0], addr, sizeof addr);
		evc_addrs_unref(addrs);
		if (rc == 0) {
			snprintf(name, sizeof name, "resolving %s:%u", u->host, u->port);
			struct key *k = key_get(c, name);
			if (k && !k->resolving && !k->nqueued) {
				k->resolving = true;
				if (evc_resolve(c->resolver, u->host, u->port, on_key_resolved, k,
						&k->dns) < 0)
					k->resolving = false; /* its tasks run as the name's */
			}
			if (!k || k->resolving)
				return k;
		}
	}
	evc__polite_key(o, u->host, a, name, sizeof name);
	return key_get(c, name);
}

static void on_key_resolved(void *arg, int status, evc_addrs_t *addrs, const char *errmsg)
{
	struct key *k = arg;
	k->dns = NULL;
	k->resolving = false;
	if (evc__list_empty(&k->queue))
		return;
	struct task *first = EVC_LIST_ENTRY(k->queue.next, struct task, link);
	evc_crawler_t *c = first->c;
	char name[320], addr[64];
	const char *a = status == 0 && addrs && addrs->count
			    ? evc__addr_text(&addrs->addr[0], addr, sizeof addr)
			    : NULL;
	/* No address: the tasks go on under their name, to fail their lookup. */
	evc__polite_key(&c->opts.o, first->f.url.host, a, name, sizeof name);
	struct key *to = key_get(c, name);
	struct evc__list *n;
	while ((n = evc__list_pop_front(&k->queue)) != NULL) {
		struct task *t = EVC_LIST_ENTRY(n, struct task, link);
		k->nqueued--;
		c->queued--;
		if (to) {
			queue_on(c, t, to, false);
		} else {
			c->queued++;
			t->state = T_DONE;
			evc__fetch_error(&t->f, EVC_ERR_IO, "out of memory");
			evc__list_push_back(&c->bad, &t->link);
			evc__kick(c);
		}
	}
	evc__pump(c);
}

/* ---- robots.txt (the robots option) ------------------------------------------ */

#define ROBOTS_TTL_MS (24u * 3600 * 1000) /* a robots.txt is kept at most a day */

static int on_robots_body(void *arg, const char *data, size_t len)
{
	struct task *t = arg;
	size_t room = EVC_ROBOTS_MAX_BYTES - t->robots_len;
	if (len > room) {
		len = room;
		t->robots_cut = true;
	}
	char *b = realloc(t->robots_body, t->robots_len + len + 1);
	if (!b)
		return -1;
	memcpy(b + t->robots_len, data, len);
	t->robots_body = b;
	t->robots_len += len;
	return t->robots_cut ? -1 : 0; /* enough: what follows is not read */
}

/* Fetch x's robots.txt with an internal task: it goes through the same
 * scheduler (the host's delay and the crawl's rate count it) and engine,
 * and reports to evc__robots_done instead of the user. */
static int robots_fetch(evc_crawler_t *c, struct host *x, const struct evc__url *u)
{
	char url[400];
	snprintf(url, sizeof url, "%s://%s%s%s:%u/robots.txt", u->scheme, u->ipv6 ? "[" : "",
		 u->host, u->ipv6 ? "]" : "", u->port);
	struct task *t = evc__task_new(c, url, strlen(url), NULL, &c->robots_opts);
	if (!t || t->f.url_rc < 0) {
		if (t)
			evc__task_free(t);
		return -ENOMEM;
	}
	t->f.on_body = on_robots_body;
	t->f.body_arg = t;
	t->robots_for = x;
	x->robots_fetching = true;
	if (evc__enqueue(c, t, true) < 0) {
		x->robots_fetching = false;
		evc__task_free(t);
		return -ENOMEM;
	}
	return 0;
}

/* A resumed crawl keeps the robots.txt it fetched (less than a day ago). */
static void robots_from_state(evc_crawler_t *c, struct host *x)
{
	int64_t at;
	int mode;
	char *why = NULL, *body = NULL;
	size_t len = 0;
	if (evc__state_robots_get(c->state, x->node.name, &at, &mode, &why, &body, &len) != 1)
		return;
	int64_t age_s = (int64_t)time(NULL) - at;
	evc_robots_t *rules = NULL;
	if (age_s >= 0 && (uint64_t)age_s * 1000 < ROBOTS_TTL_MS) {
		if (mode == 0 && evc_robots_parse(&rules, body, len, c->robots_agent) < 0)
			rules = NULL;
		else if (mode != 0)
			rules = evc_robots_new_all(mode == 1);
	}
	if (rules) {
		uint64_t now = evc_now(c->loop), age_ms = (uint64_t)age_s * 1000;
		x->robots = rules;
		x->robots_at = now > age_ms ? now - age_ms : 0;
		free(x->robots_why);
		x->robots_why = why;
		why = NULL;
	}
	free(why);
	free(body);
}

/* May t go on? 1: yes; 0: it was parked (robots.txt not known yet) or
 * refused (disallowed: reported from the kick timer); -ENOMEM. */
static int robots_gate(evc_crawler_t *c, struct task *t, struct host *x)
{
	uint64_t now = evc_now(c->loop);
	if (x->robots && now - x->robots_at >= ROBOTS_TTL_MS && !x->robots_fetching) {
		evc_robots_free(x->robots); /* a day old: fetch it again */
		x->robots = NULL;
	}
	if (!x->robots && !x->robots_fetching && c->opts.o.state_dir)
		robots_from_state(c, x);
	if (!x->robots) {
		if (!x->robots_fetching && robots_fetch(c, x, &t->f.url) < 0)
			return -ENOMEM;
		t->state = T_ROBOTS_WAIT;
		c->queued++;
		evc__list_push_back(&x->robots_wait, &t->link);
		return 0;
	}
	if (evc_robots_allowed(x->robots, t->f.url.target))
		return 1;
	if (x->robots_why)
		evc__fetch_error(&t->f, EVC_ERR_ROBOTS, "%s", x->robots_why);
	else
		evc__fetch_error(&t->f, EVC_ERR_ROBOTS, "disallowed by robots.txt");
	t->state = T_DONE;
	c->queued++;
	evc__list_push_back(&c->bad, &t->link);
	evc__kick(c);
	return 0;
}

/* The robots.txt task t is over: keep what it says (RFC 9309: a 2xx is
 * parsed; a 4xx, or more redirects than allowed, means no rules; a 5xx or
 * no answer means everything is disallowed), free t, and send the tasks
 * parked on the host on their way. */
void evc__robots_done(struct task *t)
{
	evc_crawler_t *c = t->c;
	struct host *x = t->robots_for;
	evc_result_t r;
	evc__fetch_result(&t->f, &r);
	evc_robots_t *rules = NULL;
	bool whole = r.error == EVC_OK || t->robots_cut;
	/* The proxy failed: that says nothing of the host's robots.txt. Its
	 * parked URLs end with the proxy's error, nothing is kept, and the
	 * next URL of the host asks again. */
	char proxy_why[300] = "";
	if (r.error == EVC_ERR_PROXY)
		snprintf(proxy_why, sizeof proxy_why, "robots.txt: %s",
			 r.error_message ? r.error_message : "proxy failure");
	if (proxy_why[0]) {
		rules = NULL;
	} else if (whole && r.status >= 200 && r.status < 300) {
		if (evc_robots_parse(&rules, t->robots_body ? t->robots_body : "", t->robots_len,
				     c->robots_agent) < 0)
			rules = NULL;
	} else {
		bool missing =
		    (whole && r.status >= 400 && r.status < 500) || r.error == EVC_ERR_REDIRECT;
		rules = evc_robots_new_all(missing);
		free(x->robots_why);
		x->robots_why = NULL;
		if (missing)
			;
		else if (whole &&
			 asprintf(&x->robots_why, "robots.txt answered %d: everything disallowed",
				  r.status) < 0)
			x->robots_why = NULL;
		else if (!whole && asprintf(&x->robots_why,
					    "robots.txt unreachable (%s): everything disallowed",
					    r.error_message ? r.error_message : "?") < 0)
			x->robots_why = NULL;
	}
	x->robots_fetching = false;
	evc_robots_free(x->robots);
	x->robots = rules; /* NULL only when out of memory: fetched again */
	x->robots_at = evc_now(c->loop);
	if (rules)
		evc__recurse_sitemaps(c, rules, t->f.url.href);
	if (rules && c->opts.o.state_dir) /* kept for a resumed crawl */
		evc__state_robots_put(c->state, x->node.name, (int64_t)time(NULL),
				      whole && r.status >= 200 && r.status < 300 ? 0
				      : x->robots_why				 ? 2
										 : 1,
				      x->robots_why, t->robots_body, t->robots_len);
	evc__task_free(t);
	struct evc__list *n;
	while ((n = evc__list_pop_front(&x->robots_wait)) != NULL) {
		struct task *q = EVC_LIST_ENTRY(n, struct task, link);
		c->queued--;
		if (c->cancelled || !rules) {
			c->queued++;
			q->state = T_DONE;
			if (c->cancelled)
				evc__fetch_error(&q->f, EVC_ERR_CANCELLED, "cancelled");
			else if (proxy_why[0])
				evc__fetch_error(&q->f, EVC_ERR_PROXY, "%s", proxy_why);
			else
				evc__fetch_error(&q->f, EVC_ERR_IO, "out of memory");
			evc__list_push_back(&c->bad, &q->link);
			evc__kick(c);
		} else if (evc__enqueue(c, q, false) < 0) {
			c->queued++;
			q->state = T_DONE;
			evc__fetch_error(&q->f, EVC_ERR_IO, "out of memory");
			evc__list_push_back(&c->bad, &q->link);
			evc__kick(c);
		}
	}
	evc__pump(c);
}

/* Queue t (new, redirected, or back from a retry's wait) on the key and
 * connection pool of its current URL: at the front of the key's queue when
 * it was already under way. 0, or -ENOMEM (t is then in no queue). */
int evc__enqueue(evc_crawler_t *c, struct task *t, bool front)
{
	struct host *x = host_get(c, &t->f.url);
	if (!x)
		return -ENOMEM;
	if (t->host != x) {
		if (t->host)
			t->host->refs--;
		x->refs++;
		t->host = x;
	}
	if (c->opts.o.robots && !t->robots_for) {
		int rc = robots_gate(c, t, x);
		if (rc <= 0)
			return rc; /* parked, refused, or out of memory */
	}
	struct key *k = key_for(c, t);
	if (!k)
		return -ENOMEM;
	queue_on(c, t, k, front);
	return 0;
}

/* ---- what a task's attempt tells its key -------------------------------------- */

/* t's request went out (or its attempt ended before one could): the key's
 * next start may come a gap from now. */
void evc__key_request_sent(struct task *t)
{
	if (!t->starting)
		return;
	evc_crawler_t *c = t->c;
	struct key *k = t->key;
	t->starting = false;
	k->starting--;
	/* The clock now, not the loop's (taken when this iteration began): the
	 * gap is what the server sees between this request and the next. */
	uint64_t next = (evc_hrtime() + 999999u) / 1000000u + t->gap_ms;
	if (next > k->p.next_ms)
		k->p.next_ms = next;
	evc__key_update(c, k);
}

/* The key's URLs still queued end now, with the give-up for their error. */
static void give_up(evc_crawler_t *c, struct key *k, const struct task *t)
{
	c->keys_given_up++;
	if (asprintf(&k->gave_up, "%s given up after %u connection failures in a row (last: %s)",
		     k->node.name, k->p.errors, t->f.message ? t->f.message : "?") < 0)
		k->gave_up = NULL;
	if (!k->gave_up)
		k->gave_up = strdup("host given up after repeated connection failures");
	struct evc__list *n;
	while ((n = evc__list_pop_front(&k->queue)) != NULL) {
		struct task *q = EVC_LIST_ENTRY(n, struct task, link);
		k->nqueued--;
		q->state = T_DONE;
		evc__fetch_error(&q->f, k->p.why, "%s", k->gave_up ? k->gave_up : "host given up");
		evc__list_push_back(&c->bad, &q->link); /* still counted in c->queued */
	}
	evc__kick(c);
}

/* t's attempt ended (any verdict but GO_ON): what it says about the server
 * goes to the key (a pause, a give-up, or a clean slate). */
void evc__key_outcome(struct task *t)
{
	struct key *k = t->key;
	if (!k || !t->holds_slot)
		return;
	evc_crawler_t *c = t->c;
	evc__key_request_sent(t);
	enum evc__outcome out = t->f.outcome;
	t->f.outcome = EVC__OUT_NONE; /* told once */
	if (out == EVC__OUT_NONE)
		return;
	bool was = k->p.backing_off, had = k->p.given_up;
	bool gave = evc__polite_outcome(&k->p, &c->opts.o, out, t->f.error, t->f.retry_after_s,
					t->key_epoch, evc_now(c->loop));
	if (k->p.given_up && !had) {
		k->p.backing_off = false;
		k->p.next_ms = 0;
	}
	c->keys_backing_off += (unsigned)k->p.backing_off - (unsigned)was;
	if (gave) {
		give_up(c, k, t);
	} else if (k->p.epoch != t->key_epoch || out == EVC__OUT_THROTTLE) {
		/* Just paused: retries its pause leaves no time for end. */
		struct evc__list *n, *next;
		for (n = k->queue.next; n != &k->queue; n = next) {
			next = n->next;
			struct task *q = EVC_LIST_ENTRY(n, struct task, link);
			if (!no_time(k, q))
				continue;
			evc__list_remove(n);
			k->nqueued--;
			end_no_time(c, q, k);
		}
	}
	evc__key_update(c, k);
}

/* ---- slots and the pump ----------------------------------------------------- */

/* Give back the global and key slots. */
void evc__release_slot(struct task *t)
{
	evc_crawler_t *c = t->c;
	if (!t->holds_slot)
		return;
	evc__key_request_sent(t);
	t->holds_slot = false;
	evc__list_remove(&t->link);
	c->in_flight--;
	t->key->active--;
	evc__key_update(c, t->key);
}

/* Run pump (and whatever else is pending) from the loop, soon. */
void evc__kick(evc_crawler_t *c)
{
	if (!evc_timer_active(c->kick))
		evc_timer_start(c->kick, 0, 0);
}

static void feed_more(evc_crawler_t *c)
{
	if (!c->feed || c->feeding || c->input_closed || c->cancelled)
		return;
	c->feeding = true;
	while (c->feed && !c->input_closed && c->queued < c->opts.o.max_queued) {
		unsigned before = c->queued;
		uint64_t adds = c->adds; /* a resumed crawl's known URLs add nothing */
		c->feed(c, c->feed_arg);
		if (c->queued == before && c->adds == adds)
			break; /* the feeder has nothing right now */
	}
	c->feeding = false;
}

static double next_random(evc_crawler_t *c)
{
	c->rng ^= c->rng << 13; /* xorshift64 */
	c->rng ^= c->rng >> 7;
	c->rng ^= c->rng << 17;
	return (double)(c->rng >> 11) / 9007199254740992.0;
}

/* Start the first ready key's next task. */
static void start_one(evc_crawler_t *c, uint64_t now)
{
	struct key *k = EVC_LIST_ENTRY(c->ready.next, struct key, ready_link);
	struct task *t = EVC_LIST_ENTRY(evc__list_pop_front(&k->queue), struct task, link);
	k->nqueued--;
	c->queued--;
	k->active++;
	c->in_flight++;
	t->holds_slot = true;
	t->key_epoch = k->p.epoch;
	if (has_gap(c, k)) {
		t->gap_ms = evc__polite_gap_ms(&c->opts.o, &k->p, next_random(c));
		t->starting = true;
		k->starting++;
		k->p.next_ms = now + t->gap_ms;
	}
	evc__list_push_back(&c->running, &t->link);
	evc__list_remove(&k->ready_link);
	evc__key_update(c, k); /* to the back, if still ready */
	evc__task_start(c, t);
}

/* Start queued tasks while there are free slots, round-robin over keys. */
void evc__pump(evc_crawler_t *c)
{
	if (c->pumping)
		return;
	c->pumping = true;
	for (;;) {
		/* paused_until: a start just hit fd pressure (EMFILE). */
		uint64_t now;
		while ((now = evc_now(c->loop)) >= c->paused_until && c->in_flight < c->limit &&
		       !evc__list_empty(&c->ready)) {
			uint64_t wait = evc__bucket_take(&c->bucket, now);
			if (wait) {
				if (!evc_timer_active(c->rate_timer))
					evc_timer_start(c->rate_timer, wait, 0);
				break;
			}
			start_one(c, now);
		}
		unsigned before = c->queued;
		evc__recurse_refill(c); /* the frontier's overflow, back from disk */
		feed_more(c);
		if (c->queued == before || c->in_flight >= c->limit || evc__list_empty(&c->ready) ||
		    evc_timer_active(c->rate_timer))
			break;
	}
	c->pumping = false;
	if (evc_crawler_finished(c)) {
		evc__conn_close_idle(c, true);
		evc_timer_stop(c->housekeeping);
		evc_timer_stop(c->rate_timer); /* nothing left to start */
	} else if (!evc_timer_active(c->housekeeping)) {
		evc_timer_start(c->housekeeping, HOUSEKEEPING_MS, HOUSEKEEPING_MS);
	}
}

static void on_rate_timer(evc_timer_t *timer, void *arg)
{
	evc__pump(arg);
}

/* Too many open files, or no local port left: give the slot back, shrink
 * the effective concurrency, and try again shortly. Never fail the URL. */
void evc__task_fd_pressure(struct task *t)
{
	evc_crawler_t *c = t->c;
	evc__task_detach(t);
	evc__release_slot(t);
	evc__fetch_unattempt(&t->f);
	if (evc__enqueue(c, t, true) < 0) {
		evc__task_act(t, evc__fetch_error(&t->f, EVC_ERR_IO, "out of memory"));
		return;
	}
	/* Run at most what is running now (never less than one), and raise
	 * that only after a quiet second. Closing idle connections frees fds
	 * to go on at once; otherwise start nothing for a moment, or pump
	 * would only hit the same wall again, at full speed. */
	c->limit = c->in_flight > 1 ? c->in_flight : 1;
	uint64_t now = evc_now(c->loop);
	c->pressure_until = now + FD_PRESSURE_QUIET_MS;
	if (evc__conn_close_idle(c, true) == 0) {
		c->paused_until = now + FD_PRESSURE_PAUSE_MS;
		evc_timer_start(c->kick, FD_PRESSURE_PAUSE_MS, 0);
	} else {
		evc__kick(c);
	}
}

/* ---- setting up, sweeping, freeing -------------------------------------------- */

/* The product token robots.txt groups name: the User-Agent's first word. */
static void robots_agent(evc_crawler_t *c)
{
	const char *ua = c->opts.o.user_agent ? c->opts.o.user_agent : "evcrawl";
	size_t n = 0;
	while (n < sizeof c->robots_agent - 1 &&
	       (isalnum((unsigned char)ua[n]) || ua[n] == '-' || ua[n] == '_'))
		n++;
	memcpy(c->robots_agent, n ? ua : "evcrawl", n ? n : 7);
	c->robots_agent[n ? n : 7] = '\0';
}

int evc__sched_init(evc_crawler_t *c)
{
	evc__list_init(&c->ready);
	c->robots_opts = c->opts.o;
	c->robots_opts.max_redirects = 5; /* RFC 9309: at least five */
	c->robots_opts.max_body = 0;	  /* cut at EVC_ROBOTS_MAX_BYTES instead */
	c->robots_opts.output_dir = NULL;
	robots_agent(c);
	c->rng = evc_hrtime() | 1;
	evc__bucket_init(&c->bucket, c->opts.o.rate, evc_now(c->loop));
	c->rate_timer = evc_timer_new(c->loop, on_rate_timer, c);
	if (!c->rate_timer || evc__table_init(&c->keys, 64) < 0 ||
	    evc__table_init(&c->hosts, 64) < 0)
		return -ENOMEM;
	return 0;
}

/* A key worth keeping: it holds tasks, waits for its time, or was given up. */
static bool key_busy(const evc_crawler_t *c, const struct key *k)
{
	return k->active || k->nqueued || k->nwaiting || k->starting || k->dns || k->p.given_up ||
	       k->p.backing_off || k->p.crawl_delay_ms || k->p.next_ms > evc_now(c->loop);
}

void evc__sched_sweep(evc_crawler_t *c)
{
	struct evc__tnode *n, *tmp;
	EVC_TABLE_EACH(&c->keys, n, tmp)
	{
		struct key *k = EVC_TABLE_ENTRY(n, struct key, node);
		/* An idle key whose pause is over backs off no more: nothing
		 * of it is left to probe with. */
		if (k->p.backing_off && !k->active && !k->nqueued && !k->nwaiting &&
		    k->p.next_ms <= evc_now(c->loop)) {
			k->p.backing_off = false;
			c->keys_backing_off--;
		}
		if (!key_busy(c, k))
			key_free(c, k);
	}
	EVC_TABLE_EACH(&c->hosts, n, tmp)
	{
		struct host *x = EVC_TABLE_ENTRY(n, struct host, node);
		/* A host whose robots.txt is known keeps it for the crawl
		 * (at most a day). */
		bool keep = x->robots && evc_now(c->loop) - x->robots_at < ROBOTS_TTL_MS;
		if (!x->refs && !x->nconns && !x->robots_fetching && !keep &&
		    evc__list_empty(&x->robots_wait))
			host_free(c, x);
	}
}

static void free_task_list(struct evc__list *l)
{
	struct evc__list *n;
	while ((n = evc__list_pop_front(l)) != NULL) {
		struct task *t = EVC_LIST_ENTRY(n, struct task, link);
		evc__task_detach(t);
		evc__task_free(t);
	}
}

/* Free every task (without results), key and host, for evc_crawler_free.
 * Tasks first: closing their connections touches their hosts. */
void evc__sched_free_all(evc_crawler_t *c)
{
	free_task_list(&c->bad);
	free_task_list(&c->waiting);
	free_task_list(&c->running);
	struct evc__tnode *n, *tmp;
	EVC_TABLE_EACH(&c->keys, n, tmp)
	{
		struct key *k = EVC_TABLE_ENTRY(n, struct key, node);
		free_task_list(&k->queue);
	}
	EVC_TABLE_EACH(&c->keys, n, tmp)
	{
		key_free(c, EVC_TABLE_ENTRY(n, struct key, node));
	}
	EVC_TABLE_EACH(&c->hosts, n, tmp)
	{
		free_task_list(&EVC_TABLE_ENTRY(n, struct host, node)->robots_wait);
	}
	EVC_TABLE_EACH(&c->hosts, n, tmp)
	{
		struct host *x = EVC_TABLE_ENTRY(n, struct host, node);
		while (!evc__list_empty(&x->idle))
			evc__conn_close(EVC_LIST_ENTRY(x->idle.next, struct conn, idle_link));
		host_free(c, x);
	}
	evc__table_free(&c->keys);
	evc__table_free(&c->hosts);
	evc_timer_free(c->rate_timer);
}

/*
 * The crawler's public API (evcrawl/crawler.h) and the one place a task's
 * record is reported. How tasks are scheduled is in schedule.c, their
 * connections in pool.c, their life on the loop in task.c, and what each
 * event means for the URL in fetch_core.c.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crawl/crawler_internal.h"
#include "crawl/options.h"

static void finish_report(struct task *t);

/* With state_dir: commit the state, then give the records it marked done. */
static void on_commit(evc_timer_t *timer, void *arg)
{
	evc_crawler_t *c = arg;
	struct evc__list batch, *n;
	evc__list_init(&batch);
	evc__list_splice(&batch, &c->reported); /* later reports wait for the next commit */
	if (evc__state_commit(c->state) < 0)
		c->state_failed = true; /* the disk is full or failing: stop relying on it */
	while ((n = evc__list_pop_front(&batch)) != NULL)
		finish_report(EVC_LIST_ENTRY(n, struct task, link));
}

/* Report the task's result and free it. The caller must not touch t after. */
void evc__task_report(struct task *t)
{
	evc_crawler_t *c = t->c;
	evc__task_detach(t);
	evc__release_slot(t);
	if ((t->state == T_QUEUED || t->state == T_ROBOTS_WAIT) && evc__list_linked(&t->link)) {
		c->queued--;
		if (t->state == T_QUEUED) {
			t->key->nqueued--;
			evc__key_update(c, t->key);
		}
	}
	evc__list_remove(&t->link);
	t->state = T_DONE;
	if (t->robots_for) { /* an internal robots.txt fetch: no record */
		evc__robots_done(t);
		return;
	}
	evc__recurse_discover(t); /* links found become tasks before this one is done */
	if (c->state && t->in_state && t->f.error != EVC_ERR_CANCELLED &&
	    evc__state_done(c->state, t->fp) == 0) {
		/* Where it was redirected to is fetched too: kept done as well,
		 * so a resumed crawl does not fetch it again from a link. */
		const char *fin = t->f.url.href;
		uint64_t ffp = fin ? evc__seen_fingerprint(fin, strlen(fin)) : t->fp;
		if (ffp != t->fp &&
		    evc__state_add(c->state, ffp, fin, t->depth, t->parent, fin, true) == 0)
			evc__state_done(c->state, ffp);
		/* Its record waits for the commit that marks it done (and keeps
		 * what it discovered): on_commit. */
		evc__list_push_back(&c->reported, &t->link);
		if (!evc_timer_active(c->commit_timer))
			evc_timer_start(c->commit_timer, 0, 0);
		return;
	}
	finish_report(t);
}

/* Hand the record over, count it, free the task. */
static void finish_report(struct task *t)
{
	evc_crawler_t *c = t->c;
	evc_result_t r;
	evc__fetch_result(&t->f, &r);
	evc__recurse_fill(t, &r);
	c->stats.done++;
	if (r.error == EVC_OK)
		c->stats.ok++;
	else
		c->stats.errors[r.error]++;
	c->stats.bytes += r.bytes;
	/* Recover from fd pressure one success at a time, once it has been
	 * quiet for a while: retrying socket() at once would only hit EMFILE. */
	if (r.error == EVC_OK && c->limit < c->opts.o.concurrency &&
	    evc_now(c->loop) >= c->pressure_until)
		c->limit++;
	c->reporting++;
	c->on_result(c, &r, c->arg);
	c->reporting--;
	evc__task_free(t);
	evc__pump(c);
}

static void cancel_all(evc_crawler_t *c)
{
	/* Finishing a task may start another (pump): prevent it first. */
	c->limit = 0;
	/* Discovered URLs waiting on disk are left there: no task, no record
	 * (with state_dir a later run takes them up). */
	c->stats.added -= c->spilled;
	c->spilled = 0;
	struct evc__tnode *n, *tmp;
	EVC_TABLE_EACH(&c->keys, n, tmp)
	{
		struct key *k = EVC_TABLE_ENTRY(n, struct key, node);
		while (!evc__list_empty(&k->queue)) {
			struct task *t = EVC_LIST_ENTRY(k->queue.next, struct task, link);
			evc__task_act(t, evc__fetch_error(&t->f, EVC_ERR_CANCELLED, "cancelled"));
		}
	}
	EVC_TABLE_EACH(&c->hosts, n, tmp)
	{
		struct host *x = EVC_TABLE_ENTRY(n, struct host, node);
		while (!evc__list_empty(&x->robots_wait)) {
			struct task *t = EVC_LIST_ENTRY(x->robots_wait.next, struct task, link);
			evc__task_act(t, evc__fetch_error(&t->f, EVC_ERR_CANCELLED, "cancelled"));
		}
	}
	struct evc__list *w;
	while ((w = evc__list_pop_front(&c->waiting)) != NULL) {
		struct task *t = EVC_LIST_ENTRY(w, struct task, link);
		evc__list_init(&t->link);
		c->nwaiting--;
		t->key->nwaiting--;
		evc__task_act(t, evc__fetch_error(&t->f, EVC_ERR_CANCELLED, "cancelled"));
	}
	while (!evc__list_empty(&c->running)) {
		struct task *t = EVC_LIST_ENTRY(c->running.next, struct task, link);
		evc__task_act(t, evc__fetch_error(&t->f, EVC_ERR_CANCELLED, "cancelled"));
	}
}

static void on_kick(evc_timer_t *timer, void *arg)
{
	evc_crawler_t *c = arg;
	struct evc__list *n;
	while ((n = evc__list_pop_front(&c->bad)) != NULL) {
		struct task *t = EVC_LIST_ENTRY(n, struct task, link);
		evc__list_init(&t->link);
		t->state = T_DONE;
		c->queued--;
		/* A bad URL (the attempt says so), or a key given up (said). */
		evc__task_act(t, t->f.url_rc < 0 ? evc__fetch_attempt(&t->f) : EVC__DONE);
	}
	if (c->cancelled)
		cancel_all(c);
	evc__tls_wake(c);
	evc__pump(c);
}

static void on_housekeeping(evc_timer_t *timer, void *arg)
{
	evc_crawler_t *c = arg;
	evc__conn_close_idle(c, false);
	evc__sched_sweep(c);
	if (evc_crawler_finished(c))
		evc_timer_stop(timer);
}

int evc_crawler_new(evc_crawler_t **out, evc_loop_t *loop, const evc_crawl_opts_t *opts,
		    evc_result_cb on_result, void *arg)
{
	*out = NULL;
	if (!on_result)
		return -EINVAL;
	evc_crawler_t *c = calloc(1, sizeof *c);
	if (!c)
		return -ENOMEM;
	int rc = evc__engine_opts_init(&c->opts, opts);
	if (c->opts.o.max_queued == 0)
		c->opts.o.max_queued = 10000 + 10 * c->opts.o.concurrency;
	c->loop = loop;
	c->on_result = on_result;
	c->arg = arg;
	c->limit = c->opts.o.concurrency;
	evc__list_init(&c->bad);
	evc__list_init(&c->waiting);
	evc__list_init(&c->running);
	evc__list_init(&c->tls_wait);
	evc__list_init(&c->idle_lru);
	if (rc == 0)
		rc = evc__engine_resolver(&c->resolver, loop, &c->opts.o);
	if (rc == 0) {
		c->rbuf = malloc(READ_BUF_SIZE);
		c->reqcap = evc__request_cap(&c->opts.o);
		c->reqbuf = malloc(c->reqcap);
		c->kick = evc_timer_new(loop, on_kick, c);
		c->housekeeping = evc_timer_new(loop, on_housekeeping, c);
		if (!c->rbuf || !c->reqbuf || !c->kick || !c->housekeeping ||
		    evc__sched_init(c) < 0)
			rc = -ENOMEM;
		else
			rc = evc__recurse_init(c);
	}
	evc__list_init(&c->reported);
	c->commit_timer = evc_timer_new(loop, on_commit, c);
	if (!c->commit_timer && rc == 0)
		rc = -ENOMEM;
	if (c->opts.o.frontier_mem) /* about 1 KiB a queued task, all told */
		c->frontier_max =
		    c->opts.o.frontier_mem / 1024 > 16 ? c->opts.o.frontier_mem / 1024 : 16;
	if (rc == 0 && c->opts.o.state_dir) {
		char err[512];
		rc = evc__state_open(&c->state, c->opts.o.state_dir, err, sizeof err);
		if (rc == 0)
			rc = evc__recurse_resume(c);
	}
	if (rc < 0) {
		evc_crawler_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

evc_resolver_t *evc_crawler_resolver(evc_crawler_t *c)
{
	return c->resolver;
}

void evc_crawler_free(evc_crawler_t *c)
{
	if (!c)
		return;
	/* Records marked done but never given: their marks are rolled back. */
	evc__state_close(c->state, evc__list_empty(&c->reported));
	struct evc__list *n;
	while ((n = evc__list_pop_front(&c->reported)) != NULL)
		evc__task_free(EVC_LIST_ENTRY(n, struct task, link));
	evc_timer_free(c->commit_timer);
	evc__sched_free_all(c); /* tasks still pending are dropped, as documented */
	evc__recurse_free(c);
	evc_resolver_free(c->resolver);
	evc_timer_free(c->kick);
	evc_timer_free(c->housekeeping);
	free(c->rbuf);
	free(c->reqbuf);
	evc__engine_opts_free(&c->opts);
	free(c);
}

/* The final response's head, for the user's head callback. */
static int on_task_head(void *arg)
{
	struct task *t = arg;
	evc_crawler_t *c = t->c;
	if (t->conn) /* the page's Link headers, while its response is at hand */
		evc__recurse_head(t, t->conn->resp.link);
	if (!c->on_head || t->robots_for)
		return 0;
	return c->on_head(c, t->f.user, t->f.url.href, t->f.status, t->f.content_type, c->head_arg);
}

/* The final response's body, for the user's body callback. */
static int on_task_body(void *arg, const char *data, size_t len)
{
	struct task *t = arg;
	evc_crawler_t *c = t->c;
	evc__recurse_body(t, data, len);
	return c->on_body ? c->on_body(c, t->f.user, data, len, c->body_arg) : 0;
}

/* A task for url (its fetch set up with opts, which must outlive it), not
 * queued anywhere yet; NULL when out of memory. */
struct task *evc__task_new(evc_crawler_t *c, const char *url, size_t len, void *user,
			   const evc_crawl_opts_t *opts)
{
	struct task *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->c = c;
	evc__list_init(&t->link);
	evc__list_init(&t->tls_link);
	int rc = evc__fetch_init(&t->f, opts, url, len, user); /* first: makes f safe to free */
	t->timer = evc_timer_new(c->loop, evc__on_task_timer, t);
	if (rc < 0 || !t->timer) {
		evc__task_free(t);
		return NULL;
	}
	t->f.on_body = on_task_body;
	t->f.on_head = on_task_head;
	t->f.body_arg = t;
	return t;
}

int evc_crawler_add(evc_crawler_t *c, const char *url, size_t len, void *user)
{
	if (c->cancelled)
		return EVC_ECANCELLED;
	/* After close_input URLs are still taken while the crawl runs (links
	 * found in results); once it has finished, a URL would never get its
	 * result, unless added from the result callback itself. */
	if (evc_crawler_finished(c) && !c->reporting)
		return EVC_ECLOSED;
	c->adds++;
	struct task *t = evc__task_new(c, url, len, user, &c->opts.o);
	if (!t)
		return -ENOMEM;
	c->stats.added++;
	int rc = 0;
	if (t->f.url_rc == 0 && c->opts.o.state_dir) {
		rc = evc__recurse_take(c, t);
		if (rc == EVC_EKNOWN) { /* a resumed crawl had it already */
			c->stats.added--;
			evc__task_free(t);
			return EVC_EKNOWN;
		}
	}
	if (t->f.url_rc == 0 && c->opts.o.recursive)
		rc = evc__recurse_seed(c, t); /* 1: a guard refused it, error set */
	if (rc < 0)
		t->f.url_rc = rc;
	else if (rc == 0 && t->f.url_rc == 0 && evc__enqueue(c, t, false) < 0)
		t->f.url_rc = -ENOMEM;
	if (t->f.url_rc < 0 || rc == 1) {
		/* Reported from the loop, like every other result. */
		c->queued++;
		evc__list_push_back(&c->bad, &t->link);
	}
	evc__kick(c);
	return 0;
}

void evc_crawler_set_feed(evc_crawler_t *c, evc_feed_cb feed, void *arg)
{
	c->feed = feed;
	c->feed_arg = arg;
	if (feed)
		evc__kick(c);
}

void evc_crawler_set_head_cb(evc_crawler_t *c, evc_head_cb cb, void *arg)
{
	c->on_head = cb;
	c->head_arg = arg;
}

void evc_crawler_set_body_cb(evc_crawler_t *c, evc_body_cb cb, void *arg)
{
	c->on_body = cb;
	c->body_arg = arg;
}

void evc_crawler_close_input(evc_crawler_t *c)
{
	c->input_closed = true;
	evc__kick(c);
}

void evc_crawler_cancel(evc_crawler_t *c)
{
	if (c->cancelled)
		return;
	c->cancelled = true;
	c->input_closed = true;
	evc__kick(c);
}

void evc_crawler_stats(const evc_crawler_t *c, evc_crawl_stats_t *out)
{
	*out = c->stats;
	out->in_flight = c->in_flight;
	out->queued = c->queued;
	out->waiting = c->nwaiting;
	out->keys = (unsigned)c->keys.n;
	out->keys_waiting = c->keys_timed;
	out->keys_backing_off = c->keys_backing_off;
	out->keys_given_up = c->keys_given_up;
	out->frontier_on_disk = c->spilled;
}

bool evc_crawler_finished(const evc_crawler_t *c)
{
	return c->input_closed && c->stats.done == c->stats.added;
}

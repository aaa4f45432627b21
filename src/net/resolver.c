/*
 * The resolver: c-ares driven by the loop, plus a cache and query sharing.
 *
 * Entries are keyed by host name. An entry is either waiting for c-ares
 * (state QUERYING, with a list of waiting requests) or answered (addrs or an
 * error, until `expires`). c-ares may call back from inside
 * ares_getaddrinfo(); answers are therefore never handed to callers
 * directly: an answered request moves to the `ready` list and a
 * zero-timeout timer runs the callbacks from the loop. This keeps the
 * promise that a callback never runs before evc_resolve() returns. A request
 * is always on exactly one list (its entry's waiters, or ready), so
 * cancelling is an unlink.
 *
 * At most MAX_QUERIES lookups are out at once; more wait on the backlog in
 * order (state PENDING). A crawl that starts 10,000 hosts at once would
 * otherwise send 20,000 datagrams in a burst, and a DNS server, like
 * dnsmasq, drops what overflows its socket: lookups would time out for
 * no fault of the names.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <ares.h>

#include "evcrawl/resolver.h"
#include "util/list.h"

enum { QUERYING = 1, ANSWERED = 2, PENDING = 3 };

#define MAX_QUERIES 64

struct evc_resolve_req {
	struct entry *entry; /* while it waits on the entry */
	evc_resolve_cb cb;
	void *arg;
	evc_addrs_t *addrs;    /* the answer, once ready */
	const char *errmsg;    /* or why there is none */
	int status;	       /* 0, EVC_EDNS, or EVC_EFDSETSIZE */
	struct evc__list link; /* in its entry's waiters, or in ready */
};

struct entry {
	struct entry *hnext; /* hash chain */
	int state;
	evc_addrs_t *addrs;
	const char *errmsg; /* set when the lookup failed */
	int status;	    /* EVC_EDNS or EVC_EFDSETSIZE when it failed */
	uint64_t expires;   /* loop ms */
	struct evc__list waiters;
	struct evc__list backlog_link; /* on r->backlog while PENDING */
	evc_resolver_t *r;
	char name[];
};

struct override {
	struct override *next;
	uint16_t port;
	evc_addrs_t *addrs;
	char host[];
};

struct evc_resolver {
	evc_loop_t *loop;
	ares_channel channel;
	evc_timer_t *ares_timer;  /* drives c-ares's own timeouts */
	evc_timer_t *flush_timer; /* runs callbacks of ready requests */
	struct entry **buckets;
	size_t nbuckets, nentries;
	struct evc__list ready;
	struct override *overrides;
	uint64_t max_ttl_ms, negative_ttl_ms;
	evc_resolver_stats_t stats;
	int watch_error;	  /* the loop refused c-ares's last socket (EVC_EFDSETSIZE) */
	struct evc__list backlog; /* entries waiting to be sent (PENDING) */
	unsigned querying;	  /* lookups out at c-ares */
	bool starting;		  /* inside start_queries */
};

/* ---- addresses -------------------------------------------------------- */

static evc_addrs_t *addrs_new(unsigned count)
{
	evc_addrs_t *a = malloc(sizeof *a + count * sizeof a->addr[0]);
	if (a) {
		a->refs = 1;
		a->count = 0;
	}
	return a;
}

evc_addrs_t *evc_addrs_ref(evc_addrs_t *a)
{
	if (a)
		a->refs++;
	return a;
}

void evc_addrs_unref(evc_addrs_t *a)
{
	if (a && --a->refs == 0)
		free(a);
}

/* A numeric IPv4/IPv6 address as a one-entry answer, or NULL. */
static evc_addrs_t *numeric_addrs(const char *host)
{
	evc_sockaddr_t sa;
	memset(&sa, 0, sizeof sa);
	if (inet_pton(AF_INET, host, &sa.in4.sin_addr) == 1)
		sa.in4.sin_family = AF_INET;
	else if (inet_pton(AF_INET6, host, &sa.in6.sin6_addr) == 1)
		sa.in6.sin6_family = AF_INET6;
	else
		return NULL;
	evc_addrs_t *a = addrs_new(1);
	if (a)
		a->addr[a->count++] = sa;
	return a;
}

/* ---- the cache --------------------------------------------------------- */

static uint64_t hash_name(const char *s)
{
	uint64_t h = 1469598103934665603u;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211u;
	return h;
}

static struct entry *find(evc_resolver_t *r, const char *name)
{
	struct entry *e = r->buckets[hash_name(name) & (r->nbuckets - 1)];
	while (e && strcmp(e->name, name) != 0)
		e = e->hnext;
	return e;
}

static void drop_entry(evc_resolver_t *r, struct entry *e)
{
	struct entry **pp = &r->buckets[hash_name(e->name) & (r->nbuckets - 1)];
	while (*pp != e)
		pp = &(*pp)->hnext;
	*pp = e->hnext;
	r->nentries--;
	evc_addrs_unref(e->addrs);
	free(e);
}

/* Forget expired answers once the table is large, so a crawl over millions
 * of hosts keeps a bounded cache. */
static void sweep_expired(evc_resolver_t *r)
{
	uint64_t now = evc_now(r->loop);
	for (size_t i = 0; i < r->nbuckets; i++) {
		struct entry *e = r->buckets[i], *next;
		for (; e; e = next) {
			next = e->hnext;
			if (e->state == ANSWERED && evc__list_empty(&e->waiters) &&
			    e->expires <= now)
				drop_entry(r, e);
		}
	}
}

static int grow_table(evc_resolver_t *r)
{
	size_t n = r->nbuckets * 2;
	struct entry **b = calloc(n, sizeof *b);
	if (!b)
		return -ENOMEM;
	for (size_t i = 0; i < r->nbuckets; i++) {
		struct entry *e = r->buckets[i], *next;
		for (; e; e = next) {
			next = e->hnext;
			struct entry **slot = &b[hash_name(e->name) & (n - 1)];
			e->hnext = *slot;
			*slot = e;
		}
	}
	free(r->buckets);
	r->buckets = b;
	r->nbuckets = n;
	return 0;
}

static struct entry *add_entry(evc_resolver_t *r, const char *name)
{
	if (r->nentries >= r->nbuckets) {
		sweep_expired(r);
		if (r->nentries >= r->nbuckets && grow_table(r) < 0)
			return NULL;
	}
	size_t len = strlen(name);
	struct entry *e = calloc(1, sizeof *e + len + 1);
	if (!e)
		return NULL;
	memcpy(e->name, name, len + 1);
	e->r = r;
	evc__list_init(&e->waiters);
	evc__list_init(&e->backlog_link);
	struct entry **slot = &r->buckets[hash_name(name) & (r->nbuckets - 1)];
	e->hnext = *slot;
	*slot = e;
	r->nentries++;
	return e;
}

/* ---- c-ares on the loop -------------------------------------------------- */

static void rearm_ares_timer(evc_resolver_t *r)
{
	struct timeval tv;
	if (!ares_timeout(r->channel, NULL, &tv)) {
		evc_timer_stop(r->ares_timer);
		return;
	}
	uint64_t ms = (uint64_t)tv.tv_sec * 1000 + ((uint64_t)tv.tv_usec + 999) / 1000;
	evc_timer_start(r->ares_timer, ms, 0);
}

static void on_ares_io(evc_loop_t *loop, int fd, int events, void *arg)
{
	evc_resolver_t *r = arg;
	r->watch_error = 0;
	ares_process_fd(r->channel, (events & EVC_READ) ? fd : ARES_SOCKET_BAD,
			(events & EVC_WRITE) ? fd : ARES_SOCKET_BAD);
	rearm_ares_timer(r);
}

static void on_ares_timer(evc_timer_t *t, void *arg)
{
	evc_resolver_t *r = arg;
	r->watch_error = 0;
	ares_process_fd(r->channel, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
	rearm_ares_timer(r);
}

/* c-ares opens, changes and closes its sockets in here; c-ares reuses fd
 * numbers at once, so (un)watching must happen now, not later. */
static void on_sock_state(void *data, ares_socket_t fd, int readable, int writable)
{
	evc_resolver_t *r = data;
	if (!readable && !writable)
		evc_io_stop(r->loop, fd);
	else
		evc_io_start(r->loop, fd, (readable ? EVC_READ : 0) | (writable ? EVC_WRITE : 0),
			     on_ares_io, r);
}

/* c-ares made a socket. One the loop could not watch would never be seen
 * ready and every lookup on it would wait out the DNS timeout: refuse it
 * now, so c-ares gives up that server for the query at once (ending it
 * with ECONNREFUSED when no server is left), and remember why for the
 * answer. watch_error lives for one call into c-ares: every entry point
 * clears it first, so only queries that end in the same call can be
 * blamed on it. */
static int on_socket_created(ares_socket_t fd, int type, void *data)
{
	evc_resolver_t *r = data;
	int rc = evc_io_check(r->loop, fd);
	if (rc < 0)
		r->watch_error = rc;
	return rc < 0 ? -1 : 0;
}

/* ---- answers --------------------------------------------------------------- */

/* Queue q's callback with this answer; it runs from the flush timer. */
static void make_ready(evc_resolver_t *r, evc_resolve_req_t *q, evc_addrs_t *addrs,
		       const char *errmsg, int status)
{
	q->entry = NULL; /* answered: the entry may go */
	q->addrs = evc_addrs_ref(addrs);
	q->errmsg = errmsg;
	q->status = addrs ? 0 : status;
	evc__list_push_back(&r->ready, &q->link);
	if (!evc_timer_active(r->flush_timer))
		evc_timer_start(r->flush_timer, 0, 0);
}

static void answer_waiters(evc_resolver_t *r, struct entry *e)
{
	struct evc__list *n;
	while ((n = evc__list_pop_front(&e->waiters)) != NULL)
		make_ready(r, EVC_LIST_ENTRY(n, evc_resolve_req_t, link), e->addrs, e->errmsg,
			   e->status);
}

static evc_addrs_t *addrs_from_ares(const struct ares_addrinfo *res, int *min_ttl)
{
	unsigned n = 0;
	for (const struct ares_addrinfo_node *nd = res->nodes; nd; nd = nd->ai_next)
		n++;
	evc_addrs_t *a = addrs_new(n);
	if (!a)
		return NULL;
	*min_ttl = -1;
	for (const struct ares_addrinfo_node *nd = res->nodes; nd; nd = nd->ai_next) {
		evc_sockaddr_t sa;
		memset(&sa, 0, sizeof sa);
		if (nd->ai_family == AF_INET && nd->ai_addrlen >= sizeof sa.in4)
			memcpy(&sa.in4, nd->ai_addr, sizeof sa.in4);
		else if (nd->ai_family == AF_INET6 && nd->ai_addrlen >= sizeof sa.in6)
			memcpy(&sa.in6, nd->ai_addr, sizeof sa.in6);
		else
			continue;
		sa.in4.sin_port = 0; /* same offset in both families */
		int dup = 0;
		for (unsigned i = 0; i < a->count && !dup; i++)
			dup = memcmp(&a->addr[i], &sa, sizeof sa) == 0;
		if (dup)
			continue;
		a->addr[a->count++] = sa;
		if (*min_ttl < 0 || nd->ai_ttl < *min_ttl)
			*min_ttl = nd->ai_ttl;
	}
	return a;
}

static void start_queries(evc_resolver_t *r);

static void on_addrinfo(void *arg, int status, int timeouts, struct ares_addrinfo *res)
{
	struct entry *e = arg;
	evc_resolver_t *r = e->r;
	if (status == ARES_EDESTRUCTION) { /* the resolver is being freed */
		if (res)
			ares_freeaddrinfo(res);
		return;
	}
	r->querying--;
	evc_update_time(r->loop);
	uint64_t now = evc_now(r->loop);
	e->state = ANSWERED;
	e->errmsg = NULL;
	e->status = EVC_EDNS;
	e->expires = now + r->negative_ttl_ms;
	if (status == ARES_SUCCESS && res) {
		int ttl = 0;
		e->addrs = addrs_from_ares(res, &ttl);
		if (!e->addrs)
			e->errmsg = "out of memory";
		else if (e->addrs->count == 0)
			e->errmsg = "no usable address in the answer";
		else {
			uint64_t ms = ttl > 0 ? (uint64_t)ttl * 1000 : 0;
			e->expires = now + (ms < r->max_ttl_ms ? ms : r->max_ttl_ms);
		}
		if (e->errmsg) {
			evc_addrs_unref(e->addrs);
			e->addrs = NULL;
		}
	} else if (status == ARES_ECONNREFUSED && r->watch_error) {
		/* Not the name's fault: the loop could not watch c-ares's
		 * socket. Say so, and cache nothing. */
		e->errmsg = "the DNS socket's descriptor is too large for select (FD_SETSIZE)";
		e->status = r->watch_error;
		e->expires = now;
	} else {
		e->errmsg = ares_strerror(status);
	}
	if (res)
		ares_freeaddrinfo(res);
	answer_waiters(r, e);
	start_queries(r);
}

static void on_flush(evc_timer_t *t, void *arg)
{
	evc_resolver_t *r = arg;
	struct evc__list *n;
	/* A callback may cancel requests still on the list: pop one at a time. */
	while ((n = evc__list_pop_front(&r->ready)) != NULL) {
		evc_resolve_req_t *q = EVC_LIST_ENTRY(n, evc_resolve_req_t, link);
		if (q->addrs)
			q->cb(q->arg, 0, q->addrs, NULL);
		else
			q->cb(q->arg, q->status ? q->status : EVC_EDNS, NULL, q->errmsg);
		evc_addrs_unref(q->addrs);
		free(q);
	}
}

static void free_reqs(struct evc__list *l)
{
	struct evc__list *n;
	while ((n = evc__list_pop_front(l)) != NULL) {
		evc_resolve_req_t *q = EVC_LIST_ENTRY(n, evc_resolve_req_t, link);
		evc_addrs_unref(q->addrs);
		free(q);
	}
}

/* ---- public API ------------------------------------------------------------ */

static pthread_once_t ares_once = PTHREAD_ONCE_INIT;
static int ares_init_rc;

static void init_ares_library(void)
{
	ares_init_rc = ares_library_init(ARES_LIB_INIT_ALL);
}

int evc_resolver_new(evc_resolver_t **out, evc_loop_t *loop, const evc_resolver_opts_t *opts)
{
	static const evc_resolver_opts_t defaults = {0};
	if (!opts)
		opts = &defaults;
	*out = NULL;
	pthread_once(&ares_once, init_ares_library);
	if (ares_init_rc != ARES_SUCCESS)
		return EVC_EDNS;
	evc_resolver_t *r = calloc(1, sizeof *r);
	if (!r)
		return -ENOMEM;
	r->loop = loop;
	r->max_ttl_ms = (opts->max_ttl_s ? opts->max_ttl_s : 300) * 1000ull;
	r->negative_ttl_ms = (opts->negative_ttl_s ? opts->negative_ttl_s : 5) * 1000ull;
	r->nbuckets = 256;
	evc__list_init(&r->ready);
	evc__list_init(&r->backlog);
	r->buckets = calloc(r->nbuckets, sizeof *r->buckets);
	r->ares_timer = evc_timer_new(loop, on_ares_timer, r);
	r->flush_timer = evc_timer_new(loop, on_flush, r);
	if (!r->buckets || !r->ares_timer || !r->flush_timer) {
		evc_resolver_free(r);
		return -ENOMEM;
	}
	/* c-ares tries each server `tries` times and doubles the timeout on
	 * every round: with 2 tries the whole takes about 3 x timeoutms. */
	unsigned total = opts->timeout_ms ? opts->timeout_ms : 5000;
	struct ares_options o = {
	    .sock_state_cb = on_sock_state,
	    .sock_state_cb_data = r,
	    .timeout = (int)(total / 3 > 50 ? total / 3 : 50),
	    .tries = 2,
	    .lookups = (char *)"fb", /* /etc/hosts first, then DNS */
	};
	int mask = ARES_OPT_SOCK_STATE_CB | ARES_OPT_TIMEOUTMS | ARES_OPT_TRIES | ARES_OPT_LOOKUPS;
	if (ares_init_options(&r->channel, &o, mask) != ARES_SUCCESS) {
		r->channel = NULL;
		evc_resolver_free(r);
		return EVC_EDNS;
	}
	ares_set_socket_callback(r->channel, on_socket_created, r);
	if (opts->servers && *opts->servers &&
	    ares_set_servers_ports_csv(r->channel, opts->servers) != ARES_SUCCESS) {
		evc_resolver_free(r);
		return -EINVAL;
	}
	*out = r;
	return 0;
}

void evc_resolver_free(evc_resolver_t *r)
{
	if (!r)
		return;
	if (r->channel)
		ares_destroy(r->channel); /* calls back with ARES_EDESTRUCTION */
	for (size_t i = 0; r->buckets && i < r->nbuckets; i++) {
		struct entry *e = r->buckets[i], *next;
		for (; e; e = next) {
			next = e->hnext;
			free_reqs(&e->waiters);
			evc_addrs_unref(e->addrs);
			free(e);
		}
	}
	free_reqs(&r->ready);
	while (r->overrides) {
		struct override *o = r->overrides;
		r->overrides = o->next;
		evc_addrs_unref(o->addrs);
		free(o);
	}
	free(r->buckets);
	evc_timer_free(r->ares_timer);
	evc_timer_free(r->flush_timer);
	free(r);
}

int evc_resolver_add_override(evc_resolver_t *r, const char *host, uint16_t port,
			      const char *address)
{
	evc_addrs_t *a = numeric_addrs(address);
	if (!a)
		return -EINVAL;
	size_t len = strlen(host);
	struct override *o = malloc(sizeof *o + len + 1);
	if (!o) {
		evc_addrs_unref(a);
		return -ENOMEM;
	}
	for (size_t i = 0; i <= len; i++) /* host names compare lower-case */
		o->host[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] + 32 : host[i]);
	o->port = port;
	o->addrs = a;
	o->next = r->overrides;
	r->overrides = o;
	return 0;
}

int evc_resolver_cached(evc_resolver_t *r, const char *host, uint16_t port, evc_addrs_t **addrs,
			const char **errmsg)
{
	*addrs = NULL;
	for (struct override *o = r->overrides; o; o = o->next) {
		if ((o->port == 0 || o->port == port) && strcmp(o->host, host) == 0) {
			*addrs = evc_addrs_ref(o->addrs);
			return 2;
		}
	}
	if ((*addrs = numeric_addrs(host)) != NULL)
		return 2;
	struct entry *e = find(r, host);
	if (!e || e->state != ANSWERED || e->expires <= evc_now(r->loop))
		return 0;
	r->stats.cache_hits++;
	if (e->addrs) {
		*addrs = evc_addrs_ref(e->addrs);
		return 1;
	}
	if (errmsg)
		*errmsg = e->errmsg;
	return EVC_EDNS;
}

int evc_resolve(evc_resolver_t *r, const char *host, uint16_t port, evc_resolve_cb cb, void *arg,
		evc_resolve_req_t **reqp)
{
	evc_resolve_req_t *q = calloc(1, sizeof *q);
	if (!q)
		return -ENOMEM;
	q->cb = cb;
	q->arg = arg;
	if (reqp)
		*reqp = NULL;

	evc_addrs_t *known = NULL;
	const char *errmsg = NULL;
	int rc = evc_resolver_cached(r, host, port, &known, &errmsg);
	if (reqp)
		*reqp = q; /* from here on q is queued, never freed before its callback */
	if (rc != 0) {	   /* known now, but the callback still comes from the loop */
		make_ready(r, q, known, errmsg, EVC_EDNS);
		evc_addrs_unref(known);
		return 0;
	}
	struct entry *e = find(r, host);
	if (!e && !(e = add_entry(r, host))) {
		if (reqp)
			*reqp = NULL;
		free(q);
		return -ENOMEM;
	}
	evc__list_push_back(&e->waiters, &q->link);
	q->entry = e;
	if (e->state == QUERYING || e->state == PENDING) {
		r->stats.coalesced++;
		return 0;
	}
	evc_addrs_unref(e->addrs);
	e->addrs = NULL;
	e->state = PENDING;
	evc__list_push_back(&r->backlog, &e->backlog_link);
	start_queries(r);
	return 0;
}

/* Send backlog lookups while fewer than MAX_QUERIES are out. c-ares may
 * answer from inside ares_getaddrinfo (on_addrinfo calls back here): the
 * flag keeps that to this one loop. */
static void start_queries(evc_resolver_t *r)
{
	if (r->starting)
		return;
	r->starting = true;
	bool sent = false;
	while (r->querying < MAX_QUERIES && !evc__list_empty(&r->backlog)) {
		struct entry *e =
		    EVC_LIST_ENTRY(evc__list_pop_front(&r->backlog), struct entry, backlog_link);
		e->state = QUERYING;
		r->querying++;
		r->stats.queries++;
		struct ares_addrinfo_hints hints = {.ai_family = AF_UNSPEC,
						    .ai_socktype = SOCK_STREAM};
		r->watch_error = 0;
		ares_getaddrinfo(r->channel, e->name, NULL, &hints, on_addrinfo, e);
		sent = true;
	}
	r->starting = false;
	if (sent)
		rearm_ares_timer(r);
}

bool evc_resolve_queued(const evc_resolve_req_t *q)
{
	return q && q->entry && q->entry->state == PENDING && evc__list_linked(&q->link);
}

void evc_resolve_cancel(evc_resolve_req_t *q)
{
	if (!q)
		return;
	evc__list_remove(&q->link);
	evc_addrs_unref(q->addrs);
	free(q);
}

void evc_resolver_stats(const evc_resolver_t *r, evc_resolver_stats_t *out)
{
	*out = r->stats;
}

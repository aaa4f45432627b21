/*
 * The event-loop crawler's private parts, shared by its four files:
 *
 *   crawler.c   the public API (evcrawl/crawler.h): create, add, feed,
 *               cancel, stats; reporting a finished task's record
 *   schedule.c  the host table, slots, the ready list, pump(), and
 *               fd-pressure back-off
 *   pool.c      connections: open, keep alive per host, close
 *   task.c      one task's state machine on the loop: resolve, connect,
 *               send, receive, its timer, and carrying out the fetch
 *               core's verdicts
 *
 * Policy (what a response, a failure or a timeout means for the URL) is
 * not here: a task holds a struct evc__fetch and does what it says.
 *
 * Re-entrancy. evc__task_act(), evc__task_report() and
 * evc__task_fd_pressure() may free the task, run the user's result
 * callback and start other tasks (through pump) before they return: every
 * caller returns right after calling one of them.
 */
#ifndef EVC_CRAWLER_INTERNAL_H
#define EVC_CRAWLER_INTERNAL_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "crawl/fetch_core.h"
#include "crawl/links.h"
#include "crawl/options.h"
#include "crawl/polite.h"
#include "crawl/seen.h"
#include "crawl/sitemap.h"
#include "crawl/state.h"
#include "evcrawl/crawler.h"
#include "evcrawl/robots.h"
#include "http/request.h"
#include "http/response.h"
#include "net/proxy.h"
#include "net/stream.h"
#include "util/list.h"
#include "util/table.h"

#define READ_BUF_SIZE	     (256 * 1024)
#define HOUSEKEEPING_MS	     1000
#define IDLE_CONN_MAX_MS     30000 /* close pooled connections unused this long */
#define IDLE_PER_SLOT	     4	   /* idle connections kept: 4 x the concurrency */
#define FD_PRESSURE_PAUSE_MS 50
#define FD_PRESSURE_QUIET_MS 1000

enum task_state {
	T_QUEUED,
	T_RESOLVING,
	T_ROBOTS_WAIT, /* parked on its host until robots.txt is known */
	T_TLS_WAIT,    /* https: waiting for a handshake ticket before connecting */
	T_CONNECTING,
	T_PROXYING, /* the proxy's handshake: CONNECT, or SOCKS5 */
	T_HANDSHAKING,
	T_SENDING,
	T_RECEIVING,
	T_BACKOFF,
	T_DONE,
};

/* A politeness key (polite.h): the host name by default, or its domain, or
 * its address. It holds the queue and the slots, and the clock: when its
 * next request may start. */
struct key {
	struct evc__tnode node; /* in c->keys; node.name is the key */
	struct evc_crawler *c;
	unsigned active; /* tasks holding a slot of this key */
	unsigned nqueued;
	unsigned nwaiting;	/* its tasks in retry backoff (they come back) */
	unsigned starting;	/* started with a gap to keep, request not sent yet */
	struct evc__list queue; /* tasks waiting for a slot */
	struct evc__list ready_link;
	evc_timer_t *timer; /* made on first use: wakes the key at p.next_ms */
	uint64_t timer_due; /* loop ms the timer is armed for; 0: not armed */
	struct evc__polite p;
	char *gave_up; /* the message its remaining URLs end with */
	/* --politeness-key ip: a key that stands for a name being resolved;
	 * its tasks move to their address's key when the answer comes. */
	evc_resolve_req_t *dns;
	bool resolving;
};

/* The seed a discovered URL descends from: what --scope compares with. */
struct seed {
	unsigned refs;
	char *host;   /* its host name */
	char *domain; /* its registrable domain */
	char *prefix; /* its URL up to the last '/' of the path */
	char *url;    /* the seed itself (kept in the state) */
};

/* One scheme://host:port: its idle keep-alive connections. */
struct host {
	struct evc__tnode node; /* in c->hosts; node.name is "scheme://host:port" */
	unsigned refs;		/* tasks pointing here */
	unsigned nconns;	/* open connections, idle included */
	struct evc__list idle;	/* idle keep-alive connections */
	/* The robots option: its robots.txt, once fetched (and when), and the
	 * tasks parked until then. */
	evc_robots_t *robots;
	char *robots_why; /* NULL, or why everything is disallowed (5xx, no answer) */
	uint64_t robots_at;
	bool robots_fetching;
	struct evc__list robots_wait;
};

struct conn {
	struct evc__stream *s;
	struct host *host;
	struct task *task; /* NULL while idle */
	struct evc_crawler *c;
	struct evc__list idle_link; /* in its host's idle list */
	struct evc__list lru_link;  /* in the crawler's idle_lru */
	uint64_t idle_since;
	char remote[48];   /* the peer's address, for the records */
	unsigned requests; /* completed on this connection */
	char *pending;	   /* unsent rest of the request */
	size_t pending_len, pending_off;
	bool tls;		       /* k->s is a TLS stream, handshake done */
	struct evc__tls_info tls_info; /* for the records of every request on it */
	struct evc__cert *cert;	       /* with cert_info: the server's certificate */
	struct evc__response resp;
};

struct task {
	struct evc__list link; /* host queue, bad list, waiting or running list */
	struct evc_crawler *c;
	struct evc__fetch f; /* the URL and everything decided about it */
	struct key *key;     /* its politeness key: queue and slots */
	struct host *host;   /* its connection pool */
	/* An internal task fetching this host's robots.txt (no record of its
	 * own), and the body so far. */
	struct host *robots_for;
	char *robots_body;
	size_t robots_len;
	bool robots_cut; /* stopped at EVC_ROBOTS_MAX_BYTES */
	/* Recursive crawls: how deep, found on which page, under which seed;
	 * the page's link extractor while its body streams; with the links
	 * option or while recursing, the links found. */
	unsigned depth;
	char *parent;
	struct seed *seed;
	uint64_t fp;   /* with state_dir: its fingerprint in the state */
	bool in_state; /* its record marks it done there */
	struct evc__links *extract;
	struct evc__sitemap *smap; /* instead, when the body is a sitemap */
	char **found;
	size_t nfound;
	struct conn *conn;
	evc_resolve_req_t *dns_req;
	evc_addrs_t *addrs;
	unsigned addr_index;
	int last_err; /* the last address's connect error, for the message */
	/* Through a proxy, addrs are the proxy's. A SOCKS5 proxy that is
	 * given an address gets the origin's, looked up first. */
	bool resolving_proxy; /* the lookup in flight is of the proxy's name */
	bool have_origin;     /* origin holds the origin's address */
	evc_sockaddr_t origin;
	evc_timer_t *timer;
	enum task_state state;
	bool holds_slot;
	bool starting;		   /* counts in key->starting until its request goes */
	uint64_t gap_ms;	   /* the key's gap after this task's request */
	uint64_t key_epoch;	   /* key->p.epoch when the task started */
	bool tls_ticket;	   /* counts in c->handshaking (connect + handshake) */
	struct evc__list tls_link; /* on c->tls_wait while T_TLS_WAIT */
	bool fresh_conn_only;	   /* the stale keep-alive retry: no reuse */
	uint64_t phase_ns;	   /* when DNS, connect or TLS began (hrtime) */
	uint64_t phase_deadline;   /* DNS/connect/TLS, loop ms; idle uses last_activity */
	uint64_t last_activity;	   /* loop ms */
};

struct evc_crawler {
	evc_loop_t *loop;
	evc_resolver_t *resolver;
	struct evc__engine_opts opts; /* opts.o: the options, copied */
	evc_result_cb on_result;
	void *arg;
	evc_feed_cb feed;
	void *feed_arg;
	evc_body_cb on_body;
	void *body_arg;
	evc_head_cb on_head;
	void *head_arg;

	struct evc__table keys;	   /* struct key by name */
	struct evc__table hosts;   /* struct host by scheme://host:port */
	struct evc__list ready;	   /* keys with queued tasks, a free slot, and time */
	struct evc__list bad;	   /* tasks to report from the kick timer: bad URLs,
				      and URLs of keys given up (error set) */
	struct evc__list waiting;  /* tasks in retry backoff */
	struct evc__list running;  /* tasks holding slots */
	struct evc__list tls_wait; /* https tasks waiting for a handshake ticket */
	unsigned handshaking;	   /* tickets out: https connects + handshakes */
	struct evc__list idle_lru; /* every idle connection, most recent first */
	unsigned nidle;		   /* at most IDLE_PER_SLOT x concurrency: the oldest go */

	unsigned limit;		 /* effective concurrency: lowered under fd pressure */
	uint64_t pressure_until; /* loop ms: no raising the limit before */
	uint64_t paused_until;	 /* loop ms: start nothing before (EMFILE) */
	unsigned in_flight, queued, nwaiting;
	bool input_closed, cancelled, pumping, feeding;
	unsigned reporting;	      /* inside the result callback (nesting depth) */
	evc_timer_t *kick;	      /* run pump/feed/cancel from the loop */
	evc_timer_t *housekeeping;    /* idle connection expiry */
	evc_timer_t *rate_timer;      /* pump again when the bucket has a token */
	struct evc__bucket bucket;    /* opts.o.rate */
	evc_crawl_opts_t robots_opts; /* for robots.txt fetches */
	struct evc__seen seen;	      /* recursive: fingerprints of URLs taken */
	struct evc__counts queries;   /* recursive: query strings taken per path */
	regex_t include, exclude;     /* compiled opts.o.include / exclude */
	bool has_include, has_exclude;
	uint64_t pages;		   /* recursive: URLs taken to fetch, seeds included */
	struct evc__state *state;  /* state_dir's store, a temporary one for the frontier's
				      overflow, or NULL */
	uint64_t spilled;	   /* discovered URLs waiting only in the store */
	uint64_t adds;		   /* evc_crawler_add calls, known URLs included */
	bool state_failed;	   /* the store failed: no more spilling */
	uint64_t frontier_max;	   /* queued tasks before discoveries spill */
	struct evc__list reported; /* with state: tasks whose done-mark awaits commit */
	evc_timer_t *commit_timer; /* commits, then reports them */
	char robots_agent[64];	   /* the product token robots.txt names */
	unsigned keys_timed, keys_backing_off, keys_given_up;
	uint64_t rng;
	evc_crawl_stats_t stats;
	char *rbuf;
	char *reqbuf; /* one request at a time: the head and its body */
	size_t reqcap;
};

/* schedule.c */
int evc__sched_init(evc_crawler_t *c);
int evc__enqueue(evc_crawler_t *c, struct task *t, bool front);
void evc__sched_free_all(evc_crawler_t *c);
void evc__sched_sweep(evc_crawler_t *c);
void evc__key_update(evc_crawler_t *c, struct key *k);
void evc__key_request_sent(struct task *t);
void evc__key_outcome(struct task *t);
void evc__robots_done(struct task *t);
void evc__release_slot(struct task *t);
void evc__pump(evc_crawler_t *c);
void evc__kick(evc_crawler_t *c);
void evc__task_fd_pressure(struct task *t);

/* pool.c */
int evc__conn_open(struct task *t, const evc_sockaddr_t *addr, uint16_t port);
void evc__conn_close(struct conn *k);
struct conn *evc__conn_take_idle(struct host *x);
void evc__conn_release(struct task *t);
unsigned evc__conn_close_idle(evc_crawler_t *c, bool force);

/* task.c */
void evc__task_start(evc_crawler_t *c, struct task *t);
void evc__task_act(struct task *t, enum evc__verdict v);
void evc__task_detach(struct task *t);
void evc__task_free(struct task *t);
void evc__on_task_timer(evc_timer_t *timer, void *arg);
void evc__on_conn_io(evc_loop_t *loop, int fd, int events, void *arg);
void evc__tls_wake(evc_crawler_t *c);

/* recurse.c */
int evc__recurse_init(evc_crawler_t *c);
void evc__recurse_free(evc_crawler_t *c);
int evc__recurse_seed(evc_crawler_t *c, struct task *t);
int evc__recurse_body(struct task *t, const char *data, size_t len);
bool evc__recurse_follow(struct task *t);
void evc__recurse_discover(struct task *t);
void evc__recurse_fill(struct task *t, evc_result_t *r);
int evc__recurse_resume(evc_crawler_t *c);
int evc__recurse_take(evc_crawler_t *c, struct task *t);
void evc__recurse_refill(evc_crawler_t *c);
void evc__recurse_head(struct task *t, const char *link);
void evc__recurse_attempt(struct task *t);
void evc__recurse_task_free(struct task *t);
void evc__recurse_sitemaps(evc_crawler_t *c, const evc_robots_t *rules, const char *robots_url);

/* crawler.c */
struct task *evc__task_new(evc_crawler_t *c, const char *url, size_t len, void *user,
			   const evc_crawl_opts_t *opts);
void evc__task_report(struct task *t);

#endif

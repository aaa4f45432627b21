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

#include <stdbool.h>
#include <stdint.h>

#include "crawl/fetch_core.h"
#include "crawl/options.h"
#include "evcrawl/crawler.h"
#include "http/request.h"
#include "http/response.h"
#include "net/stream.h"
#include "util/list.h"

#define READ_BUF_SIZE	     (256 * 1024)
#define HOUSEKEEPING_MS	     1000
#define IDLE_CONN_MAX_MS     30000 /* close pooled connections unused this long */
#define FD_PRESSURE_PAUSE_MS 50
#define FD_PRESSURE_QUIET_MS 1000

enum task_state {
	T_QUEUED,
	T_RESOLVING,
	T_TLS_WAIT, /* https: waiting for a handshake ticket before connecting */
	T_CONNECTING,
	T_HANDSHAKING,
	T_SENDING,
	T_RECEIVING,
	T_BACKOFF,
	T_DONE,
};

/* One scheme://host:port: its queue, its slots, its idle connections. */
struct host {
	struct host *hnext;
	char *key;	 /* "scheme://host:port" */
	unsigned active; /* tasks holding a slot of this host */
	unsigned nqueued;
	unsigned nconns;	/* open connections, idle included */
	unsigned nwaiting;	/* its tasks in retry backoff (they come back) */
	struct evc__list queue; /* tasks waiting for a slot */
	struct evc__list idle;	/* idle keep-alive connections */
	struct evc__list ready_link;
};

struct conn {
	struct evc__stream *s;
	struct host *host;
	struct task *task; /* NULL while idle */
	struct evc_crawler *c;
	struct evc__list idle_link;
	uint64_t idle_since;
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
	struct host *host;
	struct conn *conn;
	evc_resolve_req_t *dns_req;
	evc_addrs_t *addrs;
	unsigned addr_index;
	int last_err; /* the last address's connect error, for the message */
	evc_timer_t *timer;
	enum task_state state;
	bool holds_slot;
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

	struct host **hosts;
	size_t nbuckets, nhosts;
	struct evc__list ready;	   /* hosts with queued tasks and a free slot */
	struct evc__list bad;	   /* tasks to report from the kick timer */
	struct evc__list waiting;  /* tasks in retry backoff */
	struct evc__list running;  /* tasks holding slots */
	struct evc__list tls_wait; /* https tasks waiting for a handshake ticket */
	unsigned handshaking;	   /* tickets out: https connects + handshakes */

	unsigned limit;		 /* effective concurrency: lowered under fd pressure */
	uint64_t pressure_until; /* loop ms: no raising the limit before */
	uint64_t paused_until;	 /* loop ms: start nothing before (EMFILE) */
	unsigned in_flight, queued, nwaiting;
	bool input_closed, cancelled, pumping, feeding;
	unsigned reporting;	   /* inside the result callback (nesting depth) */
	evc_timer_t *kick;	   /* run pump/feed/cancel from the loop */
	evc_timer_t *housekeeping; /* idle connection expiry */
	evc_crawl_stats_t stats;
	char *rbuf;
	char reqbuf[EVC__REQUEST_MAX];
};

/* schedule.c */
struct host *evc__host_get(evc_crawler_t *c, const struct evc__url *u);
void evc__host_free_all(evc_crawler_t *c);
void evc__host_sweep(evc_crawler_t *c);
void evc__host_update_ready(evc_crawler_t *c, struct host *x);
void evc__requeue_front(evc_crawler_t *c, struct task *t, struct host *x);
void evc__release_slot(struct task *t);
void evc__pump(evc_crawler_t *c);
void evc__kick(evc_crawler_t *c);
void evc__task_fd_pressure(struct task *t);

/* pool.c */
int evc__conn_open(struct task *t, const evc_sockaddr_t *addr);
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

/* crawler.c */
void evc__task_report(struct task *t);

#endif

/*
 * The crawler's connections: opened through the transport seam, kept alive
 * per host between requests, closed when the server or the clock says so.
 *
 * An idle connection is watched for reading (see on_idle_io). The most
 * recently used idle connection is reused first (the least likely to have
 * been timed out by the server); housekeeping closes those unused for
 * IDLE_CONN_MAX_MS. At most IDLE_PER_SLOT times the concurrency are kept
 * idle (curl's connection cache has the same rule): past that the least
 * recently used one goes, so a crawl over a million hosts does not hold a
 * descriptor for each host it saw in the last half minute.
 */
#include <errno.h>
#include <stdlib.h>

#include "crawl/crawler_internal.h"

int evc__conn_open(struct task *t, const evc_sockaddr_t *addr, uint16_t port)
{
	evc_crawler_t *c = t->c;
	struct evc__stream *s;
	int rc = evc__tcp_connect(addr, port, &s);
	if (rc < 0 && rc != -EINPROGRESS)
		return rc;
	struct conn *k = calloc(1, sizeof *k);
	if (!k) {
		evc__stream_close(s);
		return -ENOMEM;
	}
	k->s = s;
	k->c = c;
	evc__addr_text(addr, k->remote, sizeof k->remote);
	k->host = t->host;
	k->task = t;
	evc__list_init(&k->idle_link);
	evc__list_init(&k->lru_link);
	t->conn = k;
	t->host->nconns++;
	c->stats.connections++;
	c->stats.connections_opened++;
	return rc;
}

void evc__conn_close(struct conn *k)
{
	evc_crawler_t *c = k->c;
	evc_io_stop(c->loop, k->s->fd);
	evc__stream_close(k->s);
	if (evc__list_linked(&k->lru_link)) {
		evc__list_remove(&k->lru_link);
		c->nidle--;
	}
	evc__list_remove(&k->idle_link);
	k->host->nconns--;
	c->stats.connections--;
	evc__response_free(&k->resp);
	free(k->pending);
	evc__cert_unref(k->cert);
	if (k->task)
		k->task->conn = NULL;
	free(k);
}

/* An idle connection has nothing to say: readiness means the server closed
 * it or sent junk, and it goes. Except over TLS, where a record may carry
 * no data at all (a TLS 1.3 session ticket, a key update): that one is
 * read and the connection stays. */
static void on_idle_io(evc_loop_t *loop, int fd, int events, void *arg)
{
	struct conn *k = arg;
	char buf[512];
	if (evc__stream_read(k->s, buf, sizeof buf) != EVC__WANT_READ)
		evc__conn_close(k);
}

struct conn *evc__conn_take_idle(struct host *x)
{
	if (evc__list_empty(&x->idle))
		return NULL;
	struct conn *k = EVC_LIST_ENTRY(x->idle.next, struct conn, idle_link);
	evc__list_remove(&k->idle_link);
	evc__list_remove(&k->lru_link);
	k->c->nidle--;
	return k;
}

/* The task is done with its connection: back to the pool when the response
 * came whole and the server keeps it open, else closed. */
void evc__conn_release(struct task *t)
{
	struct conn *k = t->conn;
	if (!k)
		return;
	evc_crawler_t *c = t->c;
	t->conn = NULL;
	k->task = NULL;
	bool whole = k->resp.complete && k->resp.error == 0;
	if (whole)
		k->requests++;
	if (!whole || !k->resp.keep_alive || c->cancelled || k->pending) {
		evc__conn_close(k);
		return;
	}
	evc__response_free(&k->resp);
	k->idle_since = evc_now(c->loop);
	evc__list_push_front(&k->host->idle, &k->idle_link);
	evc__list_push_front(&c->idle_lru, &k->lru_link);
	c->nidle++;
	if (evc_io_start(c->loop, k->s->fd, EVC_READ, on_idle_io, k) < 0)
		evc__conn_close(k);
	while (c->nidle > IDLE_PER_SLOT * c->opts.o.concurrency && c->nidle > 0)
		evc__conn_close(EVC_LIST_ENTRY(c->idle_lru.prev, struct conn, lru_link));
}

unsigned evc__conn_close_idle(evc_crawler_t *c, bool force)
{
	unsigned closed = 0;
	uint64_t now = evc_now(c->loop);
	struct evc__tnode *n, *tmp;
	EVC_TABLE_EACH(&c->hosts, n, tmp)
	{
		struct host *x = EVC_TABLE_ENTRY(n, struct host, node);
		while (!evc__list_empty(&x->idle)) {
			struct conn *k = EVC_LIST_ENTRY(x->idle.prev, struct conn, idle_link);
			if (!force && now - k->idle_since < IDLE_CONN_MAX_MS)
				break;
			evc__conn_close(k);
			closed++;
		}
	}
	return closed;
}

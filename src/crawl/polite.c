/* Politeness policy: keys, gaps, back-off, the crawl's rate (see polite.h). */
#include <arpa/inet.h>
#include <libpsl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crawl/polite.h"

#define BACKOFF_MAX_MS 60000u /* a failing key's pause stops doubling here */

/* The public suffix list: Debian's current one (the publicsuffix package)
 * when it is there, else the copy built into libpsl. Loaded once. */
static const psl_ctx_t *psl;
static pthread_once_t psl_once = PTHREAD_ONCE_INIT;

static void psl_load(void)
{
	psl = psl_latest(NULL);
	if (!psl)
		psl = psl_builtin();
}

static bool is_ip(const char *host)
{
	unsigned char a[16];
	return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

const char *evc__registrable_domain(const char *host)
{
	if (is_ip(host))
		return host;
	pthread_once(&psl_once, psl_load);
	const char *d = psl ? psl_registrable_domain(psl, host) : NULL;
	return d ? d : host; /* NULL: a public suffix itself, or one label */
}

bool evc__is_public_suffix(const char *name)
{
	if (is_ip(name))
		return false;
	pthread_once(&psl_once, psl_load);
	return psl && psl_is_public_suffix(psl, name);
}

void evc__polite_key(const evc_crawl_opts_t *o, const char *host, const char *addr, char *buf,
		     size_t cap)
{
	const char *k = host;
	if (o->politeness_key == EVC_KEY_IP && addr)
		k = addr;
	else if (o->politeness_key == EVC_KEY_DOMAIN)
		k = evc__registrable_domain(host);
	snprintf(buf, cap, "%s", k);
}

uint64_t evc__polite_gap_ms(const evc_crawl_opts_t *o, const struct evc__polite *p, double rnd)
{
	uint64_t gap = o->delay_ms;
	if (p->crawl_delay_ms > gap)
		gap = p->crawl_delay_ms;
	if (o->random_delay)
		gap = (uint64_t)((double)gap * (0.5 + rnd));
	return gap;
}

static uint64_t doubling_ms(unsigned level, uint64_t cap)
{
	uint64_t ms = EVC__BACKOFF_BASE_MS;
	for (unsigned i = 1; i < level && ms < cap; i++)
		ms *= 2;
	return ms < cap ? ms : cap;
}

static void pause_until(struct evc__polite *p, uint64_t until)
{
	if (until > p->next_ms)
		p->next_ms = until;
	p->backing_off = true;
	p->epoch++;
}

bool evc__polite_outcome(struct evc__polite *p, const evc_crawl_opts_t *o, enum evc__outcome out,
			 evc_error_kind_t kind, int retry_after_s, uint64_t started_epoch,
			 uint64_t now_ms)
{
	switch (out) {
	case EVC__OUT_RESPONSE:
		if (p->given_up)
			return false;
		p->errors = 0;
		p->level = 0;
		p->backing_off = false;
		return false;
	case EVC__OUT_THROTTLE: {
		if (p->given_up)
			return false;
		p->errors = 0;
		uint64_t cap = o->max_retry_after_ms;
		uint64_t ms;
		if (retry_after_s >= 0) {
			ms = (uint64_t)retry_after_s * 1000u;
		} else {
			if (started_epoch == p->epoch)
				p->level++;
			ms = doubling_ms(p->level ? p->level : 1, cap);
		}
		pause_until(p, now_ms + (ms < cap ? ms : cap));
		return false;
	}
	case EVC__OUT_FAILURE:
		if (p->given_up || !o->host_errors)
			return false;
		p->errors++;
		if (o->host_errors && p->errors >= o->host_errors) {
			p->given_up = true;
			p->why = kind;
			return true;
		}
		/* One failure may be chance; from the second in a row the key
		 * pauses. A fetch that was in flight when the key last backed
		 * off says nothing new about it: no further doubling. */
		if (p->errors >= 2 && (started_epoch == p->epoch || !p->backing_off)) {
			p->level++;
			pause_until(p, now_ms + doubling_ms(p->level, BACKOFF_MAX_MS));
		}
		return false;
	default:
		return false;
	}
}

unsigned evc__polite_slots(const struct evc__polite *p, const evc_crawl_opts_t *o)
{
	return p->backing_off ? 1 : o->per_host;
}

void evc__bucket_init(struct evc__bucket *b, double rate, uint64_t now_ms)
{
	b->per_ms = rate / 1000.0;
	b->cap = rate / 10 > 1 ? rate / 10 : 1;
	b->tokens = 1;
	b->last_ms = now_ms;
}

uint64_t evc__bucket_take(struct evc__bucket *b, uint64_t now_ms)
{
	if (b->per_ms <= 0)
		return 0;
	if (now_ms > b->last_ms) {
		b->tokens += (double)(now_ms - b->last_ms) * b->per_ms;
		if (b->tokens > b->cap)
			b->tokens = b->cap;
		b->last_ms = now_ms;
	}
	if (b->tokens >= 1 - 1e-9) {
		b->tokens -= 1;
		return 0;
	}
	uint64_t wait = (uint64_t)((1 - b->tokens) / b->per_ms + 0.999);
	return wait ? wait : 1;
}

double evc__parse_rate(const char *s)
{
	char *end;
	double n = strtod(s, &end);
	if (end == s || !(n >= 0) || n > 1e9)
		return -1;
	double per = 1;
	if (*end == '/') {
		end++;
		if (strcmp(end, "s") == 0)
			per = 1;
		else if (strcmp(end, "m") == 0)
			per = 60;
		else if (strcmp(end, "h") == 0)
			per = 3600;
		else
			return -1;
	} else if (*end) {
		return -1;
	}
	double r = n / per;
	return r <= 1e6 ? r : -1;
}

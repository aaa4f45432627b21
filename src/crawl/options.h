/*
 * Crawl options as every engine takes them: copied once with their strings,
 * --resolve entries parsed and handed to a resolver. The policy that uses
 * them lives in fetch_core.h.
 */
#ifndef EVC_CRAWL_OPTIONS_H
#define EVC_CRAWL_OPTIONS_H

#include <stdbool.h>
#include <stdint.h>

#include "evcrawl/fetch.h"
#include "evcrawl/resolver.h"
#include "net/stream.h"

/* What an engine keeps of its options. */
struct evc__engine_opts {
	evc_crawl_opts_t o; /* with every string in `strings` */
	char *strings;
	char *fixed; /* the request headers that every request carries */
	size_t fixed_len;
	struct evc__tls_ctx *tls; /* made at the first https URL */
	int tls_rc;		  /* its error, once tried and failed */
	const char *tls_err;
	/* Cookies: the jar the engine made for a cookie file or cookie_jar
	 * (o.cookies then points at it; written to cookie_jar and freed with
	 * the options), and the literal Cookie value with an -H Cookie value
	 * merged in (o.cookie then points at it). NULL: none. */
	struct evc_cookie_jar *own_jar;
	char *cookie_line;
};

/**
 * Check opts (NULL: the defaults) and copy them into e, strings and all,
 * with the fixed header block built, and the engine's own cookie jar made
 * and loaded when the options ask for one. Returns 0, -EINVAL for bad
 * options, -ENOMEM, or the -errno of a cookie file that cannot be read;
 * free with evc__engine_opts_free (also after a failure), which writes the
 * own jar to cookie_jar.
 */
int evc__engine_opts_init(struct evc__engine_opts *e, const evc_crawl_opts_t *opts);
void evc__engine_opts_free(struct evc__engine_opts *e);

/**
 * The TLS configuration for e's options, made on first use (so a crawl of
 * plain http never loads a CA store). Returns it, or NULL with *err saying
 * why (a --cacert that cannot be read; out of memory).
 */
struct evc__tls_ctx *evc__engine_tls(struct evc__engine_opts *e, const char **err);

/**
 * A resolver on loop as the options ask: their DNS servers and timeout,
 * and every --resolve override. Returns 0, -EINVAL, EVC_EDNS or -ENOMEM.
 */
int evc__engine_resolver(evc_resolver_t **out, evc_loop_t *loop, const evc_crawl_opts_t *o);

/** Parse "HOST:PORT:ADDR" (PORT may be "*" = 0; ADDR may be bracketed). */
int evc__parse_resolve(const char *spec, char host[256], uint16_t *port, char addr[64]);

#endif

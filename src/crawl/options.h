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

/* What an engine keeps of its options. */
struct evc__engine_opts {
	evc_crawl_opts_t o; /* with every string in `strings` */
	char *strings;
	char *fixed; /* the request headers that every request carries */
	size_t fixed_len;
};

/**
 * Check opts (NULL: the defaults) and copy them into e, strings and all,
 * with the fixed header block built. Returns 0, -EINVAL for bad options, or
 * -ENOMEM; free with evc__engine_opts_free (also after a failure).
 */
int evc__engine_opts_init(struct evc__engine_opts *e, const evc_crawl_opts_t *opts);
void evc__engine_opts_free(struct evc__engine_opts *e);

/**
 * A resolver on loop as the options ask: their DNS servers and timeout,
 * and every --resolve override. Returns 0, -EINVAL, EVC_EDNS or -ENOMEM.
 */
int evc__engine_resolver(evc_resolver_t **out, evc_loop_t *loop, const evc_crawl_opts_t *o);

/** Parse "HOST:PORT:ADDR" (PORT may be "*" = 0; ADDR may be bracketed). */
int evc__parse_resolve(const char *spec, char host[256], uint16_t *port, char addr[64]);

#endif

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

/**
 * Copy src into *dst, with every string and string list in one malloc'd
 * block returned in *block (free it when done with dst). Returns 0 or
 * -ENOMEM.
 */
int evc__opts_copy(evc_crawl_opts_t *dst, const evc_crawl_opts_t *src, char **block);

/** Parse "HOST:PORT:ADDR" (PORT may be "*" = 0; ADDR may be bracketed). */
int evc__parse_resolve(const char *spec, char host[256], uint16_t *port, char addr[64]);

/** Add every opts->resolve entry to r. Returns 0 or -EINVAL. */
int evc__apply_resolve(evc_resolver_t *r, const evc_crawl_opts_t *opts);

#endif

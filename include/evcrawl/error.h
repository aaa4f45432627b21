/*
 * evcrawl error codes.
 *
 * Every function that can fail returns 0 (or a non-negative count) on success
 * and a negative code on failure. Codes from -1 to -4095 are negated errno
 * values (-ECONNREFUSED, -ENOMEM, ...); evcrawl's own codes lie below that
 * range. evc_strerror() gives a message for either kind.
 */
#ifndef EVCRAWL_ERROR_H
#define EVCRAWL_ERROR_H

#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

enum {
	EVC_EBACKEND = -5001,	/* no selector backend of that name, or none works */
	EVC_EFDSETSIZE = -5002, /* fd too large for the select backend (FD_SETSIZE) */
	EVC_EBADURL = -5003,	/* URL could not be parsed or is not http(s) */
	EVC_EDNS = -5004,	/* name could not be resolved */
	EVC_ETIMEDOUT = -5005,	/* an evcrawl deadline passed */
	EVC_EPROTO = -5006,	/* the peer broke the HTTP protocol */
	EVC_ETOOLARGE = -5007,	/* a size limit was exceeded */
	EVC_EREDIRECT = -5008,	/* redirect loop, too many, or to a bad scheme */
	EVC_ECANCELLED = -5009, /* cancelled by the caller */
	EVC_ETLS = -5010,	/* TLS failure or TLS not available */
	EVC_ECLOSED = -5011,	/* input was closed: no more URLs are taken */
	EVC_EKNOWN = -5012,	/* the URL is in the crawl's state already (state_dir) */
};

/**
 * A static, human-readable message for an evcrawl code or a negated errno.
 * Never returns NULL; unknown codes give "unknown error". Thread-safe.
 */
EVC_API const char *evc_strerror(int code);

#ifdef __cplusplus
}
#endif
#endif

/* evc_strerror: messages for evcrawl's own codes and negated errno values. */
#include <string.h>

#include "evcrawl/error.h"
#include "evcrawl/version.h"

const char *evc_strerror(int code)
{
	switch (code) {
	case 0:
		return "success";
	case EVC_EBACKEND:
		return "no such selector backend, or it is unavailable here";
	case EVC_EFDSETSIZE:
		return "file descriptor too large for select (FD_SETSIZE); use epoll or poll";
	case EVC_EBADURL:
		return "not a valid absolute http or https URL";
	case EVC_EDNS:
		return "name could not be resolved";
	case EVC_ETIMEDOUT:
		return "timed out";
	case EVC_EPROTO:
		return "HTTP protocol error";
	case EVC_ETOOLARGE:
		return "size limit exceeded";
	case EVC_EREDIRECT:
		return "bad redirect";
	case EVC_ECANCELLED:
		return "cancelled";
	case EVC_ETLS:
		return "TLS error";
	case EVC_ECLOSED:
		return "input was closed: no more URLs are taken";
	case EVC_EKNOWN:
		return "the URL is in the crawl's state already";
	}
	if (code < 0 && code > -4096) {
		/* strerrordesc_np is static and thread-safe, unlike strerror. */
		const char *s = strerrordesc_np(-code);
		if (s)
			return s;
	}
	return "unknown error";
}

const char *evc_version(void)
{
	return EVC_VERSION_STRING;
}

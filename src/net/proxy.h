/*
 * Proxies: which one a URL goes through, and the tunnel through it.
 *
 * Three kinds, as curl names them:
 *
 *   http://    an HTTP proxy. A plain http URL is sent to it as an ordinary
 *              request with the whole URL as its target (absolute form,
 *              RFC 9112 §3.2.2); an https URL goes through a CONNECT tunnel
 *              (RFC 9110 §9.3.6), with TLS to the origin inside it.
 *   socks5://  a SOCKS5 proxy (RFC 1928), the name resolved here and the
 *              proxy given an address.
 *   socks5h:// a SOCKS5 proxy that resolves the name itself.
 *
 * Credentials come in the proxy URL (user:password@, percent-encoded): Basic
 * for an HTTP proxy (Proxy-Authorization), RFC 1929 for SOCKS5.
 *
 * The tunnel is a stream (stream.h) over the TCP connection to the proxy:
 * its handshake sends the CONNECT or the SOCKS5 exchange and reads the
 * answer, nonblocking on the loop or, in the blocking engines, within the
 * deadline evc__tcp_set_deadline puts on all its reads; then it moves the
 * origin's bytes untouched. TLS to the origin wraps it like any stream.
 */
#ifndef EVC_PROXY_H
#define EVC_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "evcrawl/options.h"
#include "net/stream.h"

enum evc__proxy_kind {
	EVC__PROXY_HTTP,
	EVC__PROXY_SOCKS5,  /* the name resolved here */
	EVC__PROXY_SOCKS5H, /* the name resolved by the proxy */
};

/* A proxy URL taken apart (about 800 bytes: parse it where it is used). */
struct evc__proxy {
	enum evc__proxy_kind kind;
	char host[256]; /* a name or an address; IPv6 without brackets */
	uint16_t port;	/* 1080 when the URL gives none, as with curl */
	bool auth;	/* user and pass were given (either may be empty) */
	char user[256], pass[256];
};

/**
 * Parse a proxy URL: [SCHEME://][USER[:PASS]@]HOST[:PORT][/]. SCHEME is
 * http (the default), socks5 or socks5h. Returns 0, or -EINVAL with *why
 * saying what is wrong (static text).
 */
int evc__proxy_parse(const char *url, struct evc__proxy *p, const char **why);

/**
 * Whether host is on a no-proxy list, as curl reads one: entries separated
 * by commas (and blanks); a "*" entry matches every host; a name matches
 * itself and its subdomains (a leading dot is ignored: ".example.com" and
 * "example.com" both match "www.example.com"); an address matches itself,
 * and ADDR/BITS a range of IPv4 or IPv6 addresses. Names compare
 * case-insensitively; host's trailing dot is ignored.
 */
bool evc__noproxy_match(const char *list, const char *host);

/**
 * The proxy URL a URL of this scheme and host goes through under o, or
 * NULL for a direct connection: none when noproxy lists the host; else
 * o->proxy (all schemes); else o->https_proxy or o->http_proxy.
 */
const char *evc__proxy_pick(const evc_crawl_opts_t *o, bool https, const char *host);

/**
 * Fill *out, unset fields of o, from the environment as curl reads it:
 * http_proxy (lower case only: HTTP_PROXY can be set by a web server's CGI
 * client), https_proxy or HTTPS_PROXY, then all_proxy or ALL_PROXY for
 * either scheme, and no_proxy or NO_PROXY. o->proxy, when set, wins over
 * all of them (as -x does), and a set o->noproxy over no_proxy. Empty
 * variables count as unset. Strings point into the environment.
 */
void evc__proxy_env(const evc_crawl_opts_t *o, const char **http, const char **https,
		    const char **noproxy);

/** Whether the proxy URL (NULL: none) is one that looks names up itself
 * (HTTP, socks5h): then no name needs looking up here. */
bool evc__proxy_resolves(const char *url);

/** Whether a connection for this URL scheme through p needs a handshake
 * with p first: every SOCKS5 one, and https through an HTTP proxy. */
bool evc__proxy_tunnels(const struct evc__proxy *p, bool https);

/**
 * "Proxy-Authorization: Basic ...\r\n" for p into buf (NUL-terminated), or
 * "" when p has no credentials. Returns the length, or -1 when cap is too
 * small (EVC__PROXY_AUTH_MAX is always enough).
 */
#define EVC__PROXY_AUTH_MAX 800
int evc__proxy_auth_header(const struct evc__proxy *p, char *buf, size_t cap);

/**
 * Start a tunnel through p to host:port over inner (connected to p). For
 * SOCKS5 without h, addr is the origin's address (resolved here); NULL
 * otherwise. On success *out is the tunnel and owns inner: drive
 * evc__stream_handshake until it says 0. Returns 0 or -ENOMEM (inner is
 * then still the caller's).
 */
int evc__proxy_wrap(struct evc__stream *inner, const struct evc__proxy *p, const char *host,
		    uint16_t port, const evc_sockaddr_t *addr, struct evc__stream **out);

/**
 * After a failed handshake of s (a tunnel): why, in words naming the proxy,
 * and whether another attempt may fare better (a reset, a 502/503 from the
 * proxy, a SOCKS5 "host unreachable") or not (refused credentials, a
 * forbidden tunnel, an answer that is not the protocol).
 */
const char *evc__proxy_failure(struct evc__stream *s, bool *retryable);

/** Whether s is a tunnel. */
bool evc__is_tunnel(const struct evc__stream *s);

#endif

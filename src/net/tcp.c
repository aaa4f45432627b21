/* Plain TCP streams and connection opening (see stream.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "evcrawl/error.h"
#include "evcrawl/loop.h"
#include "net/stream.h"

struct tcp {
	struct evc__stream s; /* first: the pointer handed out */
	uint64_t deadline_ns; /* evc__tcp_set_deadline; 0: none */
};

/* With a deadline: false when it has passed; else the socket's wait (opt:
 * SO_RCVTIMEO or SO_SNDTIMEO) is cut to what is left of it. */
static bool before_deadline(struct evc__stream *s, int opt)
{
	struct tcp *t = (struct tcp *)s;
	if (!t->deadline_ns)
		return true;
	uint64_t now = evc_hrtime();
	if (now >= t->deadline_ns)
		return false;
	uint64_t us = (t->deadline_ns - now + 999) / 1000;
	struct timeval tv = {.tv_sec = (time_t)(us / 1000000), .tv_usec = (long)(us % 1000000)};
	setsockopt(s->fd, SOL_SOCKET, opt, &tv, sizeof tv);
	return true;
}

static ssize_t tcp_read(struct evc__stream *s, char *buf, size_t cap)
{
	if (!before_deadline(s, SO_RCVTIMEO))
		return EVC__WANT_READ;
	for (;;) {
		ssize_t n = recv(s->fd, buf, cap, 0);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? EVC__WANT_READ : -errno;
	}
}

static ssize_t tcp_write(struct evc__stream *s, const char *buf, size_t len)
{
	if (!before_deadline(s, SO_SNDTIMEO))
		return EVC__WANT_WRITE;
	for (;;) {
		/* MSG_NOSIGNAL: a closed peer is -EPIPE, not a dead process. */
		ssize_t n = send(s->fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EAGAIN || errno == EWOULDBLOCK ? EVC__WANT_WRITE : -errno;
	}
}

static int tcp_shutdown(struct evc__stream *s)
{
	return shutdown(s->fd, SHUT_WR) == 0 ? 0 : -errno;
}

static void tcp_close(struct evc__stream *s)
{
	close(s->fd);
	free(s);
}

static const struct evc__stream_ops tcp_ops = {
    .name = "tcp",
    .read = tcp_read,
    .write = tcp_write,
    .shutdown = tcp_shutdown,
    .close = tcp_close,
};

static socklen_t with_port(evc_sockaddr_t *sa, uint16_t port)
{
	sa->in4.sin_port = htons(port); /* same offset in both families */
	return sa->sa.sa_family == AF_INET6 ? sizeof sa->in6 : sizeof sa->in4;
}

static int new_stream(int fd, struct evc__stream **out)
{
	struct tcp *t = malloc(sizeof *t);
	if (!t) {
		close(fd);
		return -ENOMEM;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	t->s.ops = &tcp_ops;
	t->s.fd = fd;
	t->deadline_ns = 0;
	*out = &t->s;
	return 0;
}

int evc__tcp_connect(const evc_sockaddr_t *addr, uint16_t port, struct evc__stream **out)
{
	*out = NULL;
	evc_sockaddr_t sa = *addr;
	socklen_t len = with_port(&sa, port);
	int fd = socket(sa.sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = connect(fd, &sa.sa, len) == 0 ? 0 : -errno;
	if (rc != 0 && rc != -EINPROGRESS) {
		close(fd);
		return rc;
	}
	int made = new_stream(fd, out);
	return made < 0 ? made : rc;
}

int evc__tcp_connected(struct evc__stream *s)
{
	int err = 0;
	socklen_t len = sizeof err;
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
		err = errno;
	return -err;
}

int evc__tcp_connect_wait(const evc_sockaddr_t *addr, uint16_t port, unsigned timeout_ms, bool busy,
			  struct evc__stream **out)
{
	*out = NULL;
	evc_sockaddr_t sa = *addr;
	socklen_t len = with_port(&sa, port);
	int fd =
	    socket(sa.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | (busy ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	int rc;
	if (!busy) {
		/* Linux applies SO_SNDTIMEO to a blocking connect. */
		struct timeval tv = {.tv_sec = (time_t)(timeout_ms / 1000),
				     .tv_usec = (long)(timeout_ms % 1000) * 1000 + 1};
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
		rc = connect(fd, &sa.sa, len) == 0 ? 0 : -errno;
		if (rc == -EINPROGRESS || rc == -EAGAIN)
			rc = -ETIMEDOUT;
	} else {
		uint64_t until = evc_hrtime() + (uint64_t)timeout_ms * 1000000u;
		for (;;) {
			rc = connect(fd, &sa.sa, len) == 0 ? 0 : -errno;
			if (rc == 0 || rc == -EISCONN) {
				rc = 0;
				break;
			}
			if (rc != -EINPROGRESS && rc != -EALREADY && rc != -EINTR && rc != -EAGAIN)
				break;
			if (evc_hrtime() >= until) {
				rc = -ETIMEDOUT;
				break;
			}
		}
	}
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return new_stream(fd, out);
}

void evc__tcp_set_timeout(struct evc__stream *s, unsigned ms)
{
	struct timeval tv = {.tv_sec = (time_t)(ms / 1000), .tv_usec = (long)(ms % 1000) * 1000};
	if (ms == 0)
		tv.tv_usec = 1000; /* 0 would mean "no timeout" */
	setsockopt(s->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	setsockopt(s->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

void evc__tcp_set_deadline(struct evc__stream *s, uint64_t deadline_ns)
{
	if (s && s->ops == &tcp_ops)
		((struct tcp *)s)->deadline_ns = deadline_ns;
}

bool evc__fd_pressure(int err)
{
	return err == -EMFILE || err == -ENFILE || err == -ENOBUFS || err == -EADDRNOTAVAIL ||
	       err == EVC_EFDSETSIZE;
}

const char *evc__addr_text(const evc_sockaddr_t *a, char *buf, size_t cap)
{
	const void *src = a->sa.sa_family == AF_INET6 ? (const void *)&a->in6.sin6_addr
						      : (const void *)&a->in4.sin_addr;
	if (!inet_ntop(a->sa.sa_family, src, buf, (socklen_t)cap))
		snprintf(buf, cap, "?");
	return buf;
}

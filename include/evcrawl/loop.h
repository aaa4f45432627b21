/*
 * evcrawl's event loop: file descriptor readiness and timers, in one thread.
 *
 * A loop waits on one selector backend ("epoll", "poll" or "select", chosen
 * when it is created) and runs callbacks:
 *
 *   - I/O watchers are keyed by file descriptor. evc_io_start() sets which
 *     events (EVC_READ, EVC_WRITE) of an fd the loop watches and the callback
 *     to run; calling it again changes them; evc_io_stop() forgets the fd.
 *     Readiness is level-triggered on every backend: a callback runs on every
 *     iteration while its fd stays readable/writable.
 *   - Timers run a callback once, after a timeout, or repeatedly. They live in
 *     a binary min-heap keyed by (deadline, start order): start and stop are
 *     O(log n) and timers with equal deadlines fire in the order they were
 *     started. Times are milliseconds on the monotonic clock.
 *
 * Inside any callback it is safe to start, change or stop any watcher, to
 * close any fd (after evc_io_stop), and to stop or free any timer, including
 * ones that were about to run in the same iteration: they will not run.
 *
 * A loop and its watchers must only be used from the thread running the loop.
 * Functions return 0 or a negative code (see error.h), never abort or exit.
 */
#ifndef EVCRAWL_LOOP_H
#define EVCRAWL_LOOP_H

#include <stdint.h>

#include "error.h"
#include "version.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct evc_loop evc_loop_t;
typedef struct evc_timer evc_timer_t;

/* Event bits for evc_io_start() and the callback's `events`. */
enum {
	EVC_READ = 1,  /* readable, or EOF / hang-up / error pending */
	EVC_WRITE = 2, /* writable, or error pending */
};

/**
 * Called when fd is ready. `events` holds the ready bits that were asked for
 * (EVC_READ and/or EVC_WRITE); an error or hang-up on the fd is reported as
 * readiness of whatever was asked, so the next read/write returns the error.
 */
typedef void (*evc_io_cb)(evc_loop_t *loop, int fd, int events, void *arg);

/** Called when a timer expires. The timer may be restarted or freed inside. */
typedef void (*evc_timer_cb)(evc_timer_t *timer, void *arg);

/**
 * Create a loop on the named backend: "epoll", "poll" or "select". NULL (or
 * "auto") picks the best that works here, trying epoll, then poll, then
 * select. On success stores the loop in *out and returns 0; otherwise returns
 * EVC_EBACKEND for an unknown or unavailable name, or -errno. The caller
 * frees the loop with evc_loop_free().
 */
EVC_API int evc_loop_new(evc_loop_t **out, const char *backend);

/**
 * Free a loop that is not running. Watched fds are not closed (the caller
 * owns them). Timers must have been freed with evc_timer_free() first;
 * timers still allocated are leaked rather than touched.
 */
EVC_API void evc_loop_free(evc_loop_t *loop);

/** The backend's name: "epoll", "poll" or "select". */
EVC_API const char *evc_loop_backend(const evc_loop_t *loop);

/** The names of all backends compiled in, best first, NULL-terminated. */
EVC_API const char *const *evc_loop_backends(void);

enum evc_run_mode {
	EVC_RUN_DEFAULT = 0, /* until nothing is active or evc_loop_stop() */
	EVC_RUN_ONCE,	     /* one iteration, waiting for an event unless a
				timer already ran in it */
	EVC_RUN_NOWAIT,	     /* one iteration, not waiting */
};

/**
 * Run the loop. One iteration: update the time, run expired timers, wait
 * for I/O (no longer than the next timer's deadline), run I/O callbacks.
 * EVC_RUN_DEFAULT returns when no fd is watched and no timer is active, or
 * after evc_loop_stop(). Returns 0 if nothing is active any more, 1 if
 * something still is (stopped, or ONCE/NOWAIT), or a negative code when the
 * backend fails (EINTR is retried, never returned).
 */
EVC_API int evc_loop_run(evc_loop_t *loop, enum evc_run_mode mode);

/** Make evc_loop_run() return after the current iteration. */
EVC_API void evc_loop_stop(evc_loop_t *loop);

/** The loop's cached time in ms (monotonic), updated once per iteration. */
EVC_API uint64_t evc_now(const evc_loop_t *loop);

/** Refresh the loop's cached time from the clock. */
EVC_API void evc_update_time(evc_loop_t *loop);

/** Monotonic clock in nanoseconds, for measuring durations. */
EVC_API uint64_t evc_hrtime(void);

/**
 * Watch fd for `events` (EVC_READ | EVC_WRITE) and run cb(loop, fd, ready,
 * arg) while it is ready. Calling it again on a watched fd replaces the
 * events, callback and arg. events == 0 keeps the fd registered but quiet
 * (it then still counts as active). Returns 0, -EBADF for a negative fd,
 * EVC_EFDSETSIZE when the select backend cannot hold fd, -ENOMEM, or the
 * backend's -errno (e.g. -EBADF for a closed fd on epoll).
 */
EVC_API int evc_io_start(evc_loop_t *loop, int fd, int events, evc_io_cb cb, void *arg);

/**
 * Whether the loop's backend could watch fd at all: 0, or EVC_EFDSETSIZE
 * (select cannot hold fd >= FD_SETSIZE). Changes nothing; for code that
 * must refuse a descriptor before it is committed to (a resolver socket).
 */
EVC_API int evc_io_check(const evc_loop_t *loop, int fd);

/**
 * Stop watching fd. No callback for fd runs after this returns, even one
 * already found ready in this iteration. Call it before close(fd). Stopping
 * an fd that is not watched does nothing. Returns 0 or a backend -errno.
 */
EVC_API int evc_io_stop(evc_loop_t *loop, int fd);

/** The events fd is watched for, or -1 if it is not watched. */
EVC_API int evc_io_events(const evc_loop_t *loop, int fd);

/**
 * Allocate a stopped timer. Returns NULL when out of memory. Free it with
 * evc_timer_free(), before the loop is freed.
 */
EVC_API evc_timer_t *evc_timer_new(evc_loop_t *loop, evc_timer_cb cb, void *arg);

/**
 * Start (or restart) the timer: cb runs after timeout_ms, then every
 * repeat_ms if repeat_ms > 0. A timeout of 0 runs on the next iteration.
 * Always returns 0: the room it needs was reserved by evc_timer_new().
 */
EVC_API int evc_timer_start(evc_timer_t *timer, uint64_t timeout_ms, uint64_t repeat_ms);

/** Stop the timer; its callback will not run until it is started again. */
EVC_API void evc_timer_stop(evc_timer_t *timer);

/** Stop and free the timer. Safe inside any callback, its own included. */
EVC_API void evc_timer_free(evc_timer_t *timer);

/** Whether the timer is started (waiting to fire). */
EVC_API int evc_timer_active(const evc_timer_t *timer);

/** The timer's deadline in loop time (ms), meaningful while it is active. */
EVC_API uint64_t evc_timer_deadline(const evc_timer_t *timer);

/** Change the callback argument. */
EVC_API void evc_timer_set_arg(evc_timer_t *timer, void *arg);

#ifdef __cplusplus
}
#endif
#endif

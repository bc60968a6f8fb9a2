/* SPDX-License-Identifier: BSD-3-Clause */
/* The log hook (include/aisio/log.h): one process-wide sink, stderr unless the application sets one. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <aisio/log.h>

/* The hook pair under a sequence count: odd while a setter writes it, so that a logging thread
 * never calls one hook with another's arg, and takes no lock. Setters are serialized. */
static pthread_mutex_t hook_set_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_uint hook_seq;
static _Atomic(aisio_log_fn) hook_fn;
static _Atomic(void *) hook_arg;
static atomic_int log_max = AISIO_LOG_INFO;

static const char *const level_names[] = {
	[AISIO_LOG_ERROR] = "error",
	[AISIO_LOG_WARNING] = "warning",
	[AISIO_LOG_INFO] = "info",
	[AISIO_LOG_DEBUG] = "debug",
};

void aisio_log_hook_set(aisio_log_fn fn, void *arg)
{
	pthread_mutex_lock(&hook_set_lock);
	unsigned seq = atomic_load_explicit(&hook_seq, memory_order_relaxed);
	atomic_store_explicit(&hook_seq, seq + 1, memory_order_relaxed);
	atomic_thread_fence(memory_order_release);
	atomic_store_explicit(&hook_fn, fn, memory_order_relaxed);
	atomic_store_explicit(&hook_arg, fn ? arg : NULL, memory_order_relaxed);
	atomic_store_explicit(&hook_seq, seq + 2, memory_order_release);
	pthread_mutex_unlock(&hook_set_lock);
}

static aisio_log_fn hook_get(void **arg)
{
	for (;;) {
		unsigned seq = atomic_load_explicit(&hook_seq, memory_order_acquire);
		aisio_log_fn fn = atomic_load_explicit(&hook_fn, memory_order_relaxed);
		void *a = atomic_load_explicit(&hook_arg, memory_order_relaxed);
		atomic_thread_fence(memory_order_acquire);
		if (!(seq & 1) && atomic_load_explicit(&hook_seq, memory_order_relaxed) == seq) {
			*arg = a;
			return fn;
		}
		sched_yield(); /* a setter is between its stores: a few instructions */
	}
}

void aisio_log_level_set(enum aisio_log_level max)
{
	atomic_store_explicit(&log_max, (int)max, memory_order_relaxed);
}

bool aisio_log_enabled(enum aisio_log_level level)
{
	return (int)level <= atomic_load_explicit(&log_max, memory_order_relaxed);
}

int aisio_log_level_parse(const char *name, enum aisio_log_level *level)
{
	for (int i = AISIO_LOG_ERROR; name && i <= AISIO_LOG_DEBUG; i++)
		if (!strcmp(name, level_names[i])) {
			*level = (enum aisio_log_level)i;
			return 0;
		}
	return -EINVAL;
}

const char *aisio_log_level_str(enum aisio_log_level level)
{
	return (unsigned)level <= AISIO_LOG_DEBUG ? level_names[level] : "unknown";
}

/* The default sink: the one place in lib/ that writes to stderr. One call per line, so that lines
 * of several threads do not interleave. */
static void log_stderr(const char *dev, const char *msg)
{
	if (dev)
		fprintf(stderr, "aisio: %s: %s\n", dev, msg);
	else
		fprintf(stderr, "aisio: %s\n", msg);
}

void aisio_vlog(enum aisio_log_level level, const char *dev, const char *fmt, va_list ap)
{
	if (!aisio_log_enabled(level))
		return;
	int saved_errno = errno; /* callers log, then return -errno */
	char line[512], *msg = line;
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	if (n >= (int)sizeof(line)) {
		char *big = malloc((size_t)n + 1);
		if (big) { /* else the message goes out cut to the line */
			vsnprintf(big, (size_t)n + 1, fmt, again);
			msg = big;
		}
	}
	va_end(again);
	if (n < 0)
		snprintf(line, sizeof(line), "(message format failed: %s)", fmt);
	void *arg;
	aisio_log_fn fn = hook_get(&arg);
	if (fn)
		fn(arg, level, dev, msg);
	else
		log_stderr(dev, msg);
	if (msg != line)
		free(msg);
	errno = saved_errno;
}

void aisio_log(enum aisio_log_level level, const char *dev, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	aisio_vlog(level, dev, fmt, ap);
	va_end(ap);
}

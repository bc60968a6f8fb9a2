/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The log hook: every aisio library reports through aisio_log (level, device, message) and never
 * prints, so that a daemon can send messages to its journal and a test can capture them.
 *
 * Default sink: stderr, one line per message, "aisio: DEV: message" ("aisio: message" when there is
 * no device), the level not printed. aisio_log_hook_set(fn, arg) sends every message to fn instead;
 * aisio_log_hook_set(NULL, NULL) restores the default sink.
 *
 * Levels: error (an operation failed), warning (it went on, in a lesser way), info, debug (traces).
 * Messages above the threshold (default AISIO_LOG_INFO: debug hidden) are dropped before they are
 * formatted, for a hook as for the default sink. The library never reads the environment: a tool
 * sets the threshold (the aisio command reads AISIO_LOG=error|warning|info|debug).
 *
 * Ownership: arg stays the caller's and must stay valid while its hook is set, and until the
 * threads that were logging when the hook changed have returned from aisio_log.
 * Thread-safety: the hook and the threshold are process-wide, set explicitly by the application;
 * setting them is serialized, logging takes no lock (the hook pair is read under a sequence
 * count). A hook is called on the logging thread, possibly from several threads at once.
 * Device code (.cu) never logs; host C files of the GPU library do.
 */
#ifndef AISIO_LOG_H
#define AISIO_LOG_H

#include <stdarg.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

enum aisio_log_level {
	AISIO_LOG_ERROR = 0,
	AISIO_LOG_WARNING,
	AISIO_LOG_INFO,
	AISIO_LOG_DEBUG,
};

/* dev: the device, path or layer the message is about, or NULL; msg: one line, no newline. Both
 * live only for the call. */
typedef void (*aisio_log_fn)(void *arg, enum aisio_log_level level, const char *dev, const char *msg);

/* fn NULL: the default sink (stderr). */
void aisio_log_hook_set(aisio_log_fn fn, void *arg);

/* Messages of a level above max are dropped. */
void aisio_log_level_set(enum aisio_log_level max);
bool aisio_log_enabled(enum aisio_log_level level);
/* "error", "warning", "info", "debug" -> *level; -EINVAL for anything else. */
int aisio_log_level_parse(const char *name, enum aisio_log_level *level);
const char *aisio_log_level_str(enum aisio_log_level level);

void aisio_log(enum aisio_log_level level, const char *dev, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void aisio_vlog(enum aisio_log_level level, const char *dev, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

#ifdef __cplusplus
}
#endif

#endif

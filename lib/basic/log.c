/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdarg.h>

#include "log.h"

static int max_level = LOG_INFO;
static const char *log_prefix = NULL;
static int kmsg_fd = -EBADF;

void log_set_max_level(int level) {
        max_level = level;
}

int log_get_max_level(void) {
        return max_level;
}

void log_set_prefix(const char *prefix) {
        log_prefix = prefix;
}

int log_open_kmsg(void) {
        if (kmsg_fd >= 0)
                return 0;
        kmsg_fd = open("/dev/kmsg", O_WRONLY | O_NOCTTY | O_CLOEXEC);
        return kmsg_fd < 0 ? negative_errno() : 0;
}

void log_close_kmsg(void) {
        closep(&kmsg_fd);
        kmsg_fd = -EBADF;
}

int log_internal(int level, int error, const char *file, unsigned line, const char *format, ...) {
        char msg[4096], where[1024] = "";
        va_list ap;
        int saved = errno;

        if (error < 0)
                error = -error;

        if (level <= max_level) {
                /* Let "%m" print the error we were handed rather than whatever errno happens to be. */
                errno = error;
                va_start(ap, format);
                vsnprintf(msg, sizeof msg, format, ap);
                va_end(ap);

                if (file)
                        snprintf(where, sizeof where, "%s:%u: ", file, line);

                fprintf(stderr, "%s%s%s%s\n", log_prefix ?: "", log_prefix ? ": " : "", where, msg);

                if (kmsg_fd >= 0)
                        dprintf(kmsg_fd, "<%i>%s: %s%s\n", LOG_DAEMON | level, log_prefix ?: "machinespawn",
                                where, msg);
        }

        errno = saved;
        return -error;
}

int log_oom(void) {
        return log_error_errno(ENOMEM, "Out of memory.");
}

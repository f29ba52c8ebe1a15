/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <limits.h>

#include "enter.h"
#include "strv.h"
#include "valid.h"

char *enter_escape_dollar(const char *s) {
        size_t n = strlen(s);
        char *e, *t;

        for (const char *p = s; *p; p++)
                n += *p == '$';
        e = t = malloc(n + 1);
        if (!e)
                return NULL;
        for (const char *p = s; *p; p++) {
                *t++ = *p;
                if (*p == '$')
                        *t++ = '$';
        }
        *t = 0;
        return e;
}

int enter_command_line(const EnterOptions *o, char ***ret) {
        _cleanup_strv_free_ char **argv = NULL;
        bool cmd = o->command && o->command[0];
        int r;

        if (o->privileged && cmd) {
                _cleanup_free_ char *machine = strjoin("--machine=", o->machine), *uid = strjoin("--uid=", o->user);
                if (!machine || !uid)
                        return -ENOMEM;
                r = strv_extend_strv(&argv, (char *[]) { (char *) "systemd-run", machine, (char *) "--quiet",
                                                         (char *) "--wait", (char *) "--collect",
                                                         (char *) "--property=WorkingDirectory=-~",
                                                         (char *) "--pipe", uid, NULL });
        } else
                r = strv_extend_strv(&argv, (char *[]) { (char *) "machinectl", (char *) "shell", (char *) "--quiet",
                                                         NULL });
        if (r < 0)
                return r;
        STRV_FOREACH(e, o->env) {
                _cleanup_free_ char *opt = strjoin("--setenv=", *e);
                if (!opt || strv_extend(&argv, opt) < 0)
                        return -ENOMEM;
        }
        if (!(o->privileged && cmd)) {
                _cleanup_free_ char *target = strjoin(o->user, "@", o->machine);
                if (!target || strv_extend(&argv, target) < 0)
                        return -ENOMEM;
        }
        /* a command through env(1): both want an absolute path, env finds it in $PATH; "--" ends our options.
         * Without root the session's environment file cannot be read here: a login shell in the machine
         * reads it (/etc/profile.d), then hands over to the command with its arguments untouched. */
        if (cmd && !o->privileged &&
            strv_extend_strv(&argv, (char *[]) { (char *) "/bin/sh", (char *) "-lc",
                                                 (char *) "exec /usr/bin/env -- \"$$@\"", (char *) "sh", NULL }) < 0)
                return -ENOMEM;
        if (cmd && o->privileged && o->tty && o->term) {
                _cleanup_free_ char *term = strjoin("--setenv=TERM=", o->term);
                if (!term || strv_extend(&argv, term) < 0)
                        return -ENOMEM;
        }
        if (cmd && o->privileged && (strv_extend(&argv, "/usr/bin/env") < 0 || strv_extend(&argv, "--") < 0))
                return -ENOMEM;
        /* Both run the command as a transient unit's ExecStart=, where the service manager expands "$NAME"
         * and "${NAME}" and would drop or split an argument like '$(id)' or '$HOME': "$$" is a "$". */
        STRV_FOREACH(a, cmd ? o->command : NULL) {
                char *e = enter_escape_dollar(*a);
                if (!e || strv_push(&argv, e) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(argv);
        return 0;
}

int enter_pkexec_command_line(const char *machine, bool wait, char **command, char ***ret) {
        _cleanup_strv_free_ char **argv = NULL;

        if (!machine_name_is_valid(machine) || strv_length(command) == 0)
                return -EINVAL;
        /* pkexec takes no option after the program; an absolute path, which polkit's rule matches. Its own
         * password prompt is never wanted: the rule allows or nothing does. */
        if (strv_extend_strv(&argv, (char *[]) { (char *) "pkexec", (char *) "--disable-internal-agent",
                                                 (char *) ENTER_HELPER, (char *) machine, NULL }) < 0 ||
            (wait && strv_extend(&argv, "--wait") < 0) || strv_extend(&argv, "--") < 0 ||
            strv_extend_strv(&argv, command) < 0)
                return -ENOMEM;
        *ret = TAKE_PTR(argv);
        return 0;
}

int enter_helper_parse(int argc, char **argv, EnterHelperArgs *ret) {
        EnterHelperArgs a = {};
        int i = 1;

        if (argc < 4 || !machine_name_is_valid(argv[i]))
                return -EINVAL;
        a.machine = argv[i++];
        if (streq(argv[i], "--wait")) {
                a.wait = true;
                i++;
        }
        if (i + 1 >= argc || !streq(argv[i], "--"))
                return -EINVAL;
        a.command = argv + i + 1;
        *ret = a;
        return 0;
}

int enter_caller_uid(const char *pkexec_uid, uid_t *ret) {
        unsigned long v;
        char *end;

        if (!pkexec_uid || !(pkexec_uid[0] >= '0' && pkexec_uid[0] <= '9') || (pkexec_uid[0] == '0' && pkexec_uid[1]))
                return -EINVAL;
        errno = 0;
        v = strtoul(pkexec_uid, &end, 10);
        if (errno != 0 || *end || v == 0 || v >= (unsigned long) UINT_MAX)
                return -EINVAL;
        *ret = (uid_t) v;
        return 0;
}

/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <ctype.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>

#include <dirent.h>

#include "chase.h"
#include "diag.h"
#include "fileio.h"
#include "strv.h"
#include "user.h"

void host_user_done(HostUser *u) {
        free(u->name);
        free(u->group);
        free(u->gecos);
        free(u->home);
        free(u->shell);
        *u = (HostUser) {};
}

int host_user_lookup(const char *name, HostUser *ret) {
        struct passwd *pw;
        struct group *gr;
        char gidbuf[32];
        HostUser u = {};

        errno = 0;
        pw = getpwnam(name);
        if (!pw)
                return errno > 0 ? -errno : -ESRCH;
        gr = getgrgid(pw->pw_gid);
        snprintf(gidbuf, sizeof gidbuf, "%u", (unsigned) pw->pw_gid);
        u.name = strdup(pw->pw_name);
        u.group = strdup(gr ? gr->gr_name : name);
        u.gecos = strdup(pw->pw_gecos ?: "");
        u.home = strdup(pw->pw_dir ?: "/");
        u.shell = strdup(isempty(pw->pw_shell) ? "/bin/sh" : pw->pw_shell);
        u.uid = pw->pw_uid;
        u.gid = pw->pw_gid;
        if (!u.name || !u.group || !u.gecos || !u.home || !u.shell) {
                host_user_done(&u);
                return -ENOMEM;
        }
        *ret = u;
        return 0;
}

/* The lines of text, with the one whose first field is key replaced by line (or line appended). */
static int replace_line(const char *text, const char *key, const char *line, char **ret) {
        _cleanup_strv_free_ char **lines = NULL;
        _cleanup_free_ char *prefix = strjoin(key, ":"), *joined = NULL;
        bool done = false;

        if (!prefix || strv_split(&lines, strempty(text), "\n") < 0)
                return -ENOMEM;
        STRV_FOREACH(l, lines)
                if (startswith(*l, prefix)) {
                        char *n = strdup(line);
                        if (!n)
                                return -ENOMEM;
                        free(*l);
                        *l = n;
                        done = true;
                }
        if (!done && strv_extend(&lines, line) < 0)
                return -ENOMEM;
        joined = strv_join(lines, "\n");
        if (!joined)
                return -ENOMEM;
        *ret = strjoin(joined, "\n");
        return *ret ? 0 : -ENOMEM;
}

/* key's line: 1 and *ret, or 0 and NULL when there is none. Never "none" for a failed allocation: the
 * callers would then write a fresh line over the one that is there. */
static int find_line(const char *text, const char *key, char **ret) {
        _cleanup_free_ char *prefix = strjoin("\n", key, ":"), *t = strjoin("\n", strempty(text));
        const char *p;

        *ret = NULL;
        if (!prefix || !t)
                return -ENOMEM;
        p = strstr(t, prefix);
        if (!p)
                return 0;
        *ret = strndup(p + 1, strcspn(p + 1, "\n"));
        return *ret ? 1 : -ENOMEM;
}

int passwd_apply(const char *text, const HostUser *u, char **ret) {
        _cleanup_free_ char *line = NULL;
        char ids[64];

        snprintf(ids, sizeof ids, ":x:%u:%u:", (unsigned) u->uid, (unsigned) u->gid);
        line = strjoin(u->name, ids, u->gecos, ":", u->home, ":", u->shell);
        if (!line)
                return -ENOMEM;
        return replace_line(text, u->name, line, ret);
}

int group_gid(const char *text, const char *group, gid_t *ret) {
        _cleanup_free_ char *line = NULL;
        const char *p;
        int r;

        r = find_line(text, group, &line);
        if (r < 0)
                return r;
        if (r == 0)
                return -ENOENT;
        /* "name:x:GID:members" */
        p = strchr(line, ':');
        p = p ? strchr(p + 1, ':') : NULL;
        if (!p)
                return -EBADMSG;
        *ret = (gid_t) strtoul(p + 1, NULL, 10);
        return 0;
}

gid_t group_free_gid(const char *text) {
        for (gid_t g = 1000;; g++) {
                char needle[40];
                /* the third field, ":x:GID:" */
                snprintf(needle, sizeof needle, ":x:%u:", (unsigned) g);
                if (!strstr(strempty(text), needle))
                        return g;
        }
}

/* group and gshadow lines both end in the member list, their fourth field: where it starts, or NULL */
static const char *member_field(const char *line) {
        const char *p = line;

        for (int i = 0; i < 3 && p; i++) {
                p = strchr(p, ':');
                if (p)
                        p++;
        }
        return p;
}

/* The comma-separated list with member added (once) */
static int member_list_with(const char *list, const char *member, char **ret) {
        _cleanup_strv_free_ char **members = NULL;

        if (list && strv_split(&members, list, ",") < 0)
                return -ENOMEM;
        if (member && !strv_contains(members, member) && strv_extend(&members, member) < 0)
                return -ENOMEM;
        *ret = strv_join(members, ",");
        return *ret ? 0 : -ENOMEM;
}

int group_apply(const char *text, const char *group, gid_t gid, const char *member, char **ret) {
        _cleanup_free_ char *line = NULL, *new_line = NULL, *m = NULL;
        char gids[32];

        if (find_line(text, group, &line) < 0)
                return -ENOMEM;
        if (member_list_with(member_field(line), member, &m) < 0)
                return -ENOMEM;
        snprintf(gids, sizeof gids, ":x:%u:", (unsigned) gid);
        new_line = strjoin(group, gids, m);
        if (!new_line)
                return -ENOMEM;
        return replace_line(text, group, new_line, ret);
}

int shadow_apply(const char *text, const char *name, char **ret) {
        _cleanup_free_ char *line = NULL, *new_line = NULL;
        int r;

        r = find_line(text, name, &line);
        if (r < 0)
                return r;
        /* an existing entry (a password set inside) stays; a new one is locked: machinectl shell needs none */
        if (r > 0) {
                *ret = strdup(strempty(text));
                return *ret ? 0 : -ENOMEM;
        }
        new_line = strjoin(name, ":!:1::::::");
        if (!new_line)
                return -ENOMEM;
        return replace_line(text, name, new_line, ret);
}

int gshadow_apply(const char *text, const char *group, const char *member, char **ret) {
        _cleanup_free_ char *line = NULL, *new_line = NULL, *m = NULL, *head = NULL;
        const char *p;

        if (find_line(text, group, &line) < 0)
                return -ENOMEM;
        p = member_field(line);
        /* "name:password:admins:members"; a new group gets no password ("!") and no admins */
        if (member_list_with(p, member, &m) < 0)
                return -ENOMEM;
        head = p ? strndup(line, p - line) : strjoin(group, ":!::");
        new_line = head ? strjoin(head, m) : NULL;
        if (!new_line)
                return -ENOMEM;
        return replace_line(text, group, new_line, ret);
}

/* One of the account files of the machine: its text ("" when missing) and the owner and mode of the very
 * descriptor it was read from (the defaults when missing). */
typedef struct AccountFile {
        const char *path;
        mode_t default_mode;
        char *text;
        bool existed;
        struct stat st;
} AccountFile;

static int account_read(int root_fd, AccountFile *f) {
        int r;

        r = chase_read_file(root_fd, f->path, CHASE_ACCOUNT_DB_MAX, &f->text, NULL, &f->st);
        if (r >= 0) {
                f->existed = true;
                return 0;
        }
        if (r != -ENOENT)
                return r;
        f->st = (struct stat) { .st_mode = f->default_mode, .st_uid = (uid_t) -1, .st_gid = (gid_t) -1 };
        f->text = strdup("");
        return f->text ? 0 : -ENOMEM;
}

static int account_write(int root_fd, const AccountFile *f, const char *text) {
        return chase_write_file(root_fd, f->path, text, strlen(text), f->st.st_mode & 07777, f->st.st_uid,
                                f->st.st_gid, 0);
}

static int replace_text(char **text, char *n) {
        if (!n)
                return -ENOMEM;
        free(*text);
        *text = n;
        return 0;
}

int machine_provision_user_at(int root_fd, const HostUser *u, char **groups, bool sudo, const char **ret_failed) {
        AccountFile passwd = { .path = "etc/passwd", .default_mode = 0644 },
                    group = { .path = "etc/group", .default_mode = 0644 },
                    shadow = { .path = "etc/shadow", .default_mode = 0640 },
                    gshadow = { .path = "etc/gshadow", .default_mode = 0640 };
        AccountFile *files[] = { &passwd, &group, &shadow, &gshadow };
        _cleanup_free_ char *sudoers = NULL;
        const char *failed = NULL;
        int r = 0;

        /* everything read and checked before anything is written: a refused file changes nothing */
        for (size_t i = 0; i < ELEMENTSOF(files) && r >= 0; i++) {
                r = account_read(root_fd, files[i]);
                if (r < 0)
                        failed = files[i]->path;
        }
        if (r < 0)
                goto finish;

        {
                char *g2 = NULL, *gs2 = NULL;
                r = group_apply(group.text, u->group, u->gid, NULL, &g2);
                if (r >= 0)
                        r = replace_text(&group.text, g2);
                if (r >= 0 && gshadow.existed) {
                        r = gshadow_apply(gshadow.text, u->group, NULL, &gs2);
                        if (r >= 0)
                                r = replace_text(&gshadow.text, gs2);
                }
                if (r < 0)
                        goto finish;
        }
        STRV_FOREACH(g, groups) {
                gid_t gid;
                char *g2 = NULL, *gs2 = NULL;
                /* a failed allocation is not "the machine has no such group" */
                r = group_gid(group.text, *g, &gid);
                if (r == -ENOENT) {
                        struct group *hg = getgrnam(*g);
                        gid = hg ? hg->gr_gid : group_free_gid(group.text);
                        r = 0;
                }
                if (r >= 0)
                        r = group_apply(group.text, *g, gid, u->name, &g2);
                if (r >= 0)
                        r = replace_text(&group.text, g2);
                if (r >= 0 && gshadow.existed) {
                        r = gshadow_apply(gshadow.text, *g, u->name, &gs2);
                        if (r >= 0)
                                r = replace_text(&gshadow.text, gs2);
                }
                if (r < 0)
                        goto finish;
        }
        {
                char *p2 = NULL, *s2 = NULL;
                r = passwd_apply(passwd.text, u, &p2);
                if (r >= 0)
                        r = replace_text(&passwd.text, p2);
                if (r >= 0)
                        r = shadow_apply(shadow.text, u->name, &s2);
                if (r >= 0)
                        r = replace_text(&shadow.text, s2);
                if (r < 0)
                        goto finish;
        }

        /* group before passwd: a passwd line never names a group the machine does not have yet */
        AccountFile *order[] = { &group, &gshadow, &passwd, &shadow };
        for (size_t i = 0; i < ELEMENTSOF(order) && r >= 0; i++) {
                if (order[i] == &gshadow && !gshadow.existed)
                        continue;
                r = account_write(root_fd, order[i], order[i]->text);
                if (r < 0)
                        failed = order[i]->path;
        }
        if (r < 0)
                goto finish;

        sudoers = strjoin("etc/sudoers.d/machinespawn-", u->name);
        if (!sudoers) {
                r = -ENOMEM;
                goto finish;
        }
        failed = "etc/sudoers.d";
        if (sudo) {
                _cleanup_free_ char *line = strjoin("# Written by machinespawn ([User] Sudo=yes)\n", u->name,
                                                    " ALL=(ALL:ALL) NOPASSWD: ALL\n");
                r = line ? chase_write_file(root_fd, sudoers, line, strlen(line), 0440, (uid_t) -1,
                                                    (gid_t) -1, CHASE_MKDIR_P) : -ENOMEM;
        } else {
                r = chase_unlink(root_fd, sudoers, 0);
                if (r == -ENOENT)
                        r = 0;
        }
        if (r >= 0)
                failed = NULL;
finish:
        for (size_t i = 0; i < ELEMENTSOF(files); i++)
                free(files[i]->text);
        if (ret_failed)
                *ret_failed = failed;
        return r;
}

int machine_provision_user(const char *root, const HostUser *u, char **groups, bool sudo) {
        _cleanup_close_ int root_fd = chase_root_open(root);

        if (root_fd < 0)
                return root_fd;
        return machine_provision_user_at(root_fd, u, groups, sudo, NULL);
}

void host_sockets_done(HostSockets *s) {
        strv_free(s->binds);
        strv_free(s->env);
        *s = (HostSockets) {};
}

static bool is_socket(const char *path) {
        struct stat st;
        return stat(path, &st) >= 0 && S_ISSOCK(st.st_mode);
}

static int add_bind(HostSockets *s, const char *host, const char *name) {
        _cleanup_free_ char *b = strjoin(host, ":" MACHINE_SOCKET_DIR "/", name);
        if (!b)
                return -ENOMEM;
        return strv_push(&s->binds, TAKE_PTR(b));
}

static int add_env(HostSockets *s, const char *key, const char *value) {
        _cleanup_free_ char *e = strjoin(key, "=", value);
        if (!e)
                return -ENOMEM;
        return strv_push(&s->env, TAKE_PTR(e));
}

int host_sockets_find(const HostUser *u, bool display, bool audio, const char *runtime_dir, const char *x11_dir,
                      HostSockets *ret, Diagnostics *d) {
        _cleanup_(host_sockets_done) HostSockets s = {};
        _cleanup_free_ char *rt = NULL;
        char uid[32];
        int r;

        snprintf(uid, sizeof uid, "%u", (unsigned) u->uid);
        rt = runtime_dir ? strdup(runtime_dir) : strjoin("/run/user/", uid);
        x11_dir = x11_dir ?: "/tmp/.X11-unix";
        if (!rt)
                return -ENOMEM;

        if (display) {
                _cleanup_free_ char *wayland = strjoin(rt, "/wayland-0"), *xauth = NULL;
                bool any = false;
                DIR *dir = opendir(x11_dir);

                if (!dir && errno == ENOMEM)
                        return -ENOMEM;
                /* X11: the lowest display's socket, "X0" is ":0" */
                if (dir) {
                        struct dirent *de;
                        long best = -1;
                        while ((de = readdir(dir)))
                                if (de->d_name[0] == 'X' && isdigit((unsigned char) de->d_name[1])) {
                                        long n = strtol(de->d_name + 1, NULL, 10);
                                        if (best < 0 || n < best)
                                                best = n;
                                }
                        closedir(dir);
                        if (best >= 0) {
                                char sock[64], disp[32];
                                _cleanup_free_ char *host = NULL;
                                snprintf(sock, sizeof sock, "X%ld", best);
                                snprintf(disp, sizeof disp, ":%ld", best);
                                host = strjoin(x11_dir, "/", sock);
                                /* X clients look for the socket in /tmp/.X11-unix: bind it there */
                                _cleanup_free_ char *b = host ? strjoin(host, ":/tmp/.X11-unix/", sock) : NULL;
                                if (!b || strv_push(&s.binds, TAKE_PTR(b)) < 0 || add_env(&s, "DISPLAY", disp) < 0)
                                        return -ENOMEM;
                                any = true;
                        }
                }
                /* its cookie, when there is an X server: the display manager's, else the one in the home */
                const char *candidates[] = { "/gdm/Xauthority", NULL };
                for (size_t i = 0; any && candidates[i] && !xauth; i++) {
                        _cleanup_free_ char *p = strjoin(rt, candidates[i]);
                        if (!p)
                                return -ENOMEM;
                        if (access(p, R_OK) >= 0)
                                xauth = TAKE_PTR(p);
                }
                if (any && !xauth) {
                        _cleanup_free_ char *p = strjoin(u->home, "/.Xauthority");
                        if (!p)
                                return -ENOMEM;
                        if (access(p, F_OK) >= 0)
                                xauth = TAKE_PTR(p);
                }
                if (xauth && (add_bind(&s, xauth, "Xauthority") < 0 ||
                              add_env(&s, "XAUTHORITY", MACHINE_SOCKET_DIR "/Xauthority") < 0))
                        return -ENOMEM;
                if (!wayland)
                        return -ENOMEM;
                if (is_socket(wayland)) {
                        if (add_bind(&s, wayland, "wayland-0") < 0 ||
                            add_env(&s, "WAYLAND_DISPLAY", MACHINE_SOCKET_DIR "/wayland-0") < 0)
                                return -ENOMEM;
                        any = true;
                }
                if (!any)
                        diag_warning(d, NULL, 0, "Display=yes: no X11 socket in %s and no Wayland socket in %s for %s, "
                                     "starting without a display.", x11_dir, rt, u->name);
        }

        if (audio) {
                _cleanup_free_ char *pulse = strjoin(rt, "/pulse/native"), *pw = strjoin(rt, "/pipewire-0");
                bool any = false;

                if (!pulse || !pw)
                        return -ENOMEM;
                if (is_socket(pulse)) {
                        if (add_bind(&s, pulse, "pulse-native") < 0 ||
                            add_env(&s, "PULSE_SERVER", "unix:" MACHINE_SOCKET_DIR "/pulse-native") < 0)
                                return -ENOMEM;
                        any = true;
                }
                if (is_socket(pw)) {
                        if (add_bind(&s, pw, "pipewire-0") < 0 ||
                            add_env(&s, "PIPEWIRE_REMOTE", MACHINE_SOCKET_DIR "/pipewire-0") < 0)
                                return -ENOMEM;
                        any = true;
                }
                if (!any)
                        diag_warning(d, NULL, 0, "Audio=yes: no PulseAudio or PipeWire socket in %s for %s, starting "
                                     "without audio.", rt, u->name);
        }

        r = 0;
        *ret = s;
        s = (HostSockets) {};
        return r;
}

#define SESSION_PROFILE "etc/profile.d/machinespawn-session.sh"

int machine_write_session_env(int root_fd, const HostSockets *s) {
        _cleanup_free_ char *text = NULL, *lines = NULL;
        int r;

        if (strv_length(s->env) == 0) {
                r = chase_unlink(root_fd, MACHINE_SESSION_ENV, 0);
                if (r < 0 && r != -ENOENT)
                        return r;
                r = chase_unlink(root_fd, SESSION_PROFILE, 0);
                return r == -ENOENT ? 0 : r;
        }
        lines = strv_join(s->env, "\n");
        text = lines ? strjoin("# Written by machinespawn at start: the host session's display and audio\n", lines,
                               "\n") : NULL;
        if (!text)
                return -ENOMEM;
        r = chase_write_file(root_fd, MACHINE_SESSION_ENV, text, strlen(text), 0644, (uid_t) -1, (gid_t) -1,
                             CHASE_MKDIR_P);
        if (r < 0)
                return r;
        static const char sh[] = "# Written by machinespawn: the host session's display and audio\n"
                                 "set -a\n. /" MACHINE_SESSION_ENV "\nset +a\n";
        return chase_write_file(root_fd, SESSION_PROFILE, sh, strlen(sh), 0644, (uid_t) -1, (gid_t) -1, CHASE_MKDIR_P);
}

/* Only what machinespawn writes there: KEY=VALUE with a plain variable name, printable values. */
static bool session_env_line_ok(const char *l) {
        const char *eq = strchr(l, '=');

        if (!eq || eq == l)
                return false;
        for (const char *c = l; c < eq; c++)
                if (!(isalnum((unsigned char) *c) || *c == '_') || (c == l && isdigit((unsigned char) *c)))
                        return false;
        for (const char *c = eq + 1; *c; c++)
                if ((unsigned char) *c < 0x20 || *c == 0x7f)
                        return false;
        return true;
}

int machine_read_session_env(const char *root, char ***ret) {
        _cleanup_strv_free_ char **lines = NULL, **env = NULL;
        _cleanup_free_ char *text = NULL;
        _cleanup_close_ int root_fd = chase_root_open(root);
        size_t size;
        int r;

        if (root_fd < 0)
                return root_fd;
        r = chase_read_file(root_fd, MACHINE_SESSION_ENV, CHASE_SESSION_ENV_MAX, &text, &size, NULL);
        if (r < 0)
                return r;
        if (strlen(text) != size)
                return -EBADMSG; /* a NUL inside */
        r = strv_split(&lines, text, "\n");
        if (r < 0)
                return r;
        STRV_FOREACH(l, lines) {
                if (isempty(*l) || **l == '#')
                        continue;
                if (!session_env_line_ok(*l))
                        return -EBADMSG;
                if (strv_extend(&env, *l) < 0)
                        return -ENOMEM;
        }
        if (!env && !(env = calloc(1, sizeof(char *))))
                return -ENOMEM;
        *ret = TAKE_PTR(env);
        return 0;
}

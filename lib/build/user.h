/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

#include "chase.h"

/* A host user, as the machine gets it: same name, UID, GID, primary group, shell and home path. */
typedef struct HostUser {
        char *name, *group, *gecos, *home, *shell;
        uid_t uid;
        gid_t gid;
} HostUser;

void host_user_done(HostUser *u);
int host_user_lookup(const char *name, HostUser *ret); /* -ESRCH: no such user on the host */

/* Pure edits of /etc/passwd, /etc/group and /etc/shadow text (unit-tested): the user's line set to what
 * the host says, replacing an older one (a UID changed on the host is followed); the group made or moved
 * to gid; name added to a group's members. */
int passwd_apply(const char *text, const HostUser *u, char **ret);
int group_apply(const char *text, const char *group, gid_t gid, const char *member, char **ret);
int shadow_apply(const char *text, const char *name, char **ret);
/* /etc/gshadow: the group's line made if missing ("group:!::"), member added to its members. */
int gshadow_apply(const char *text, const char *group, const char *member, char **ret);
/* The GID of group in text, or -ENOENT; the lowest GID >= 1000 not used in text. */
int group_gid(const char *text, const char *group, gid_t *ret);
gid_t group_free_gid(const char *text);

/* Applies all of it to the machine's tree at root: the user, its primary group, the supplementary groups
 * (made if missing, with the host's GID for a group the host has), and passwordless sudo if asked. */
int machine_provision_user(const char *root, const HostUser *u, char **groups, bool sudo);
/* The same on an open tree (chase_root_open()). Every file is read (through chase.h, capped at
 * CHASE_ACCOUNT_DB_MAX, regular files with one link only) before any is written, so a refused file leaves
 * the tree as it was; *ret_failed (optional) names the file that failed, relative to the tree. etc/gshadow
 * is kept in step only when the machine has one. */
int machine_provision_user_at(int root_fd, const HostUser *u, char **groups, bool sudo, const char **ret_failed);

/* The user's display and audio sockets, found at start time in their live session (/run/user/UID,
 * /tmp/.X11-unix), each with where it goes in the machine, and the environment that points there. */
typedef struct HostSockets {
        char **binds; /* "HOST:MACHINE" pairs */
        char **env;   /* "DISPLAY=:0" ... */
} HostSockets;

void host_sockets_done(HostSockets *s);

/* Missing sockets are warnings in d (the machine still starts). runtime_dir NULL: /run/user/UID;
 * x11_dir NULL: /tmp/.X11-unix. */
struct Diagnostics;
int host_sockets_find(const HostUser *u, bool display, bool audio, const char *runtime_dir, const char *x11_dir,
                      HostSockets *ret, struct Diagnostics *d);

/* Where the sockets appear in the machine, and the file with the environment (KEY=VALUE lines) that
 * login shells and "machinespawn enter" read. */
#define MACHINE_SOCKET_DIR "/run/machinespawn-host"
#define MACHINE_SESSION_ENV "etc/machinespawn-session.env"

int machine_write_session_env(int root_fd, const HostSockets *s);
/* The KEY=VALUE lines of the machine's session environment (comments and empty lines dropped), read
 * through chase.h (at most CHASE_SESSION_ENV_MAX bytes, a regular file only). -EBADMSG for anything
 * machine_write_session_env() would not have written (a NUL, a control character, a bad name). */
int machine_read_session_env(const char *root, char ***ret);

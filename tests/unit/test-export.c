/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <dirent.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "tests.h"

#include "export-names.h"
#include "export.h"
#include "fileio.h"
#include "strv.h"

#define L "/usr/bin/machinespawn"

static char *rewrite_ok(const char *text, char **ret_icon) {
        char *out = NULL;
        assert_int_equal(desktop_entry_rewrite(text, strlen(text), L, "desk", "/x/share/pixmaps", &out, ret_icon), 0);
        return out;
}

static void rewrite_bad(const char *text, size_t size) {
        char *out = NULL, *icon = NULL;
        assert_int_equal(desktop_entry_rewrite(text, size, L, "desk", "/x/share/pixmaps", &out, &icon), -EBADMSG);
        assert_null(out);
}

static void test_desktop_rewrite(void **state) {
        _cleanup_free_ char *icon = NULL;
        _cleanup_free_ char *out = rewrite_ok(
                "# a comment\n"
                "[Desktop Entry]\n"
                "Type=Application\n"
                "Name=Calculator\n"
                "Name[de]=Rechner\n"
                "Exec=gnome-calculator %U\n"
                "TryExec=gnome-calculator\n"
                "DBusActivatable=true\n"
                "Icon=org.gnome.Calculator\n"
                "X-KDE-SubstituteUID=true\n"
                "X-KDE-Username=root\n"
                "StartupWMClass=gnome-calculator\n"
                "Actions=new;\n"
                "\n"
                "[Desktop Action new]\n"
                "Name=New\n"
                "Exec = gnome-calculator --new\n"
                "[X-Vendor Group]\n"
                "Exec=/bin/evil\n",
                &icon);

        assert_string_equal(out,
                            "[Desktop Entry]\n"
                            "X-Machinespawn-Machine=desk\n"
                            "Type=Application\n"
                            "Name=Calculator\n"
                            "Name[de]=Rechner\n"
                            "Exec=" L " enter desk -- gnome-calculator %U\n"
                            "Icon=org.gnome.Calculator\n"
                            "StartupWMClass=gnome-calculator\n"
                            "Actions=new;\n"
                            "\n"
                            "[Desktop Action new]\n"
                            "Name=New\n"
                            "Exec=" L " enter desk -- gnome-calculator --new\n");
        assert_string_equal(icon, "org.gnome.Calculator");
}

static void test_desktop_icon_path(void **state) {
        char *icon = NULL;
        char *out = rewrite_ok("[Desktop Entry]\nType=Application\nExec=x\n"
                                              "Icon=/usr/share/pixmaps/x.png\n", &icon);
        assert_non_null(strstr(out, "\nIcon=/x/share/pixmaps/x.png\n"));
        assert_string_equal(icon, "/usr/share/pixmaps/x.png");
        free(out);
        free(icon);
        icon = NULL;
        /* a path out of the machine or a name with a slash: no icon at all */
        out = rewrite_ok("[Desktop Entry]\nExec=x\nIcon=/usr/share/../../etc/shadow.png\nIcon[de]=a/b\n", &icon);
        assert_null(strstr(out, "Icon"));
        assert_null(icon);
        free(out);
}

static void test_desktop_refused(void **state) {
        static const char *const bad[] = {
                "",
                "Exec=x\n",                                     /* no group */
                "[Other]\nExec=x\n[Desktop Entry]\nExec=y\n",   /* first group not [Desktop Entry] */
                "[Desktop Entry]\nType=Link\nURL=http://x\n",   /* not an application */
                "[Desktop Entry]\nExec=x\ngarbage\n",           /* no = */
                "[Desktop Entry]\nExec=x\x1b[2J\n",             /* control character */
                "[Desktop Entry]\r\nExec=x\r\n",                /* CR */
                "[Desktop Entry]\nName=\xc0\xaf\n",             /* overlong UTF-8 */
                "[Desktop Entry\nExec=x\n",                     /* broken header */
                "[Desktop Entry]\nEx ec=x\n",                   /* bad key */
                NULL,
        };
        for (const char *const *b = bad; *b; b++)
                rewrite_bad(*b, strlen(*b));
        /* a NUL inside */
        rewrite_bad("[Desktop Entry]\nExec=x\0\n", 23);
}

static void test_names(void **state) {
        assert_true(desktop_id_is_valid("org.gnome.Calculator"));
        assert_true(desktop_id_is_valid("htop.desktop"));
        assert_false(desktop_id_is_valid("../x"));
        assert_false(desktop_id_is_valid("a/b"));
        assert_false(desktop_id_is_valid(".hidden"));
        assert_false(desktop_id_is_valid("-x"));
        assert_false(desktop_id_is_valid("a b"));
        assert_false(desktop_id_is_valid(""));
        assert_true(export_bin_path_is_valid("/usr/bin/htop"));
        assert_true(export_bin_path_is_valid("/opt/x/g++"));
        assert_false(export_bin_path_is_valid("usr/bin/htop"));
        assert_false(export_bin_path_is_valid("/usr/bin/"));
        assert_false(export_bin_path_is_valid("/usr//bin"));
        assert_false(export_bin_path_is_valid("/usr/../etc/x"));
        assert_false(export_bin_path_is_valid("/usr/bin/."));
        assert_false(export_bin_path_is_valid("/usr/bin/a'b"));
        assert_false(export_bin_path_is_valid("/usr/bin/a\nb"));
}

/* Runs sh -c SCRIPT ARGS... and returns its standard output. */
static char *run_sh(const char *script, char **args) {
        _cleanup_strv_free_ char **argv = NULL;
        int p[2], status;
        char *out = NULL;
        pid_t pid;

        assert_int_equal(strv_extend_strv(&argv, (char *[]) { (char *) "sh", (char *) "-c", (char *) script,
                                                              (char *) "sh", NULL }), 0);
        assert_int_equal(strv_extend_strv(&argv, args), 0);
        assert_int_equal(pipe(p), 0);
        pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
                dup2(p[1], 1);
                execvp("sh", argv);
                _exit(127);
        }
        close(p[1]);
        assert_int_equal(read_fd_bounded(p[0], 1 << 20, &out, NULL), 0);
        close(p[0]);
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        return out;
}

static void test_shell_quote(void **state) {
        static const char *const nasty[] = { "plain", "", "it's", "''", "$(touch /tmp/x)", "`id`", "a b\tc",
                                             "\\n", "\"", "new\nline", "*", "-e", NULL };
        for (const char *const *s = nasty; *s; s++) {
                _cleanup_free_ char *q = shell_quote(*s), *script = NULL, *out = NULL, *want = NULL;
                assert_non_null(q);
                assert_true(asprintf(&script, "printf '[%%s]' %s", q) > 0);
                out = run_sh(script, NULL);
                assert_true(asprintf(&want, "[%s]", *s) > 0);
                assert_string_equal(out, want);
        }
}

/* The wrapper, run with a stand-in launcher that prints its arguments: every one arrives as given. */
static void test_wrapper(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *launcher = strjoin(dir, "/launch it's"), *text = NULL,
                            *wrapper = strjoin(dir, "/wrapper"), *out = NULL;

        tests_write(dir, "launch it's", "#!/bin/sh\nfor a; do printf '[%s]' \"$a\"; done\n");
        assert_int_equal(chmod(launcher, 0755), 0);
        assert_int_equal(export_wrapper_text(launcher, "desk", "/usr/bin/htop", &text), 0);
        assert_true(export_file_is_ours(text, "desk"));
        assert_false(export_file_is_ours(text, "des"));
        assert_false(export_file_is_ours(text, "desk2"));
        tests_write(dir, "wrapper", text);
        assert_int_equal(chmod(wrapper, 0755), 0);
        out = run_sh("w=$1; shift; exec \"$w\" \"$@\"",
                     (char *[]) { wrapper, (char *) "a b", (char *) "$(id)", (char *) "it's", (char *) "", NULL });
        assert_string_equal(out, "[enter][desk][--][/usr/bin/htop][a b][$(id)][it's][]");

        /* inside the machine (which shares the home, and has no machinespawn) the program itself runs */
        _cleanup_free_ char *gone = strjoin(dir, "/no-such-launcher"), *text2 = NULL, *out2 = NULL;
        assert_int_equal(export_wrapper_text(gone, "desk", "/usr/bin/printf", &text2), 0);
        tests_write(dir, "wrapper", text2);
        assert_int_equal(chmod(wrapper, 0755), 0);
        out2 = run_sh("w=$1; shift; exec \"$w\" \"$@\"",
                      (char *[]) { wrapper, (char *) "[%s]", (char *) "a b", (char *) "$(id)", NULL });
        assert_string_equal(out2, "[a b][$(id)]");
        tests_rm_rf(dir);
}

/* ---- export_sync / export_remove on a made-up machine and home ---- */

typedef struct Env {
        char *root, *tree, *home, *state;
        int tree_fd;
        ExportPaths p;
        ExportUser u;
} Env;

static char *at(const Env *e, const char *rel) {
        char *p = strjoin(e->root, "/", rel);
        assert_non_null(p);
        return p;
}

static bool exists(const Env *e, const char *rel) {
        _cleanup_free_ char *p = at(e, rel);
        struct stat st;
        return lstat(p, &st) >= 0;
}

static char *slurp(const Env *e, const char *rel) {
        _cleanup_free_ char *p = at(e, rel);
        char *t = NULL;
        assert_int_equal(read_full_file(p, &t, NULL), 0);
        return t;
}

static Env *env_new(void) {
        Env *e = calloc(1, sizeof(Env));
        assert_non_null(e);
        e->root = tests_mkdtemp();
        e->tree = at(e, "tree");
        e->home = at(e, "home");
        e->state = at(e, "state");
        tests_write(e->root, "tree/usr/share/applications/org.example.Calc.desktop",
                    "[Desktop Entry]\nType=Application\nName=Calc\nExec=calc %U\nIcon=org.example.Calc\n");
        tests_write(e->root, "tree/usr/share/applications/bad.desktop", "not a desktop entry\n");
        tests_write(e->root, "tree/usr/share/icons/hicolor/48x48/apps/org.example.Calc.png", "PNG48");
        tests_write(e->root, "tree/usr/share/icons/hicolor/scalable/apps/org.example.Calc.svg", "<svg/>");
        tests_write(e->root, "tree/usr/share/pixmaps/org.example.Calc.xpm", "XPM");
        tests_write(e->root, "home/.profile", "# the user's\n");
        tests_write(e->root, "home/.local/bin/mine", "#!/bin/sh\n# the user's own\n");
        e->tree_fd = open(e->tree, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
        assert_true(e->tree_fd >= 0);
        e->p = (ExportPaths) { .state_dir = e->state, .launcher = L };
        e->u = (ExportUser) { .name = "alice", .home = e->home, .uid = getuid(), .gid = getgid() };
        return e;
}

static void env_free(Env *e) {
        close(e->tree_fd);
        tests_rm_rf(e->root);
        free(e->root);
        free(e->tree);
        free(e->home);
        free(e->state);
        free(e);
}

static int sync_with(Env *e, char **apps, char **bins, Diagnostics *d) {
        return export_sync(&e->p, "desk", e->tree_fd, &e->u, apps, bins, d);
}

static void test_export_sync_and_remove(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        Env *e = env_new();
        _cleanup_free_ char *entry = NULL, *env = NULL, *wrapper = NULL, *share = at(e, "state/export/desk/share");

        assert_int_equal(sync_with(e, (char *[]) { (char *) "org.example.Calc", (char *) "bad", (char *) "missing", NULL },
                                   (char *[]) { (char *) "/usr/bin/htop", (char *) "/usr/bin/mine", NULL }, &d),
                         0);
        entry = slurp(e, "state/export/desk/share/applications/org.example.Calc.desktop");
        assert_non_null(strstr(entry, "\nExec=" L " enter desk -- calc %U\n"));
        assert_true(exists(e, "state/export/desk/share/icons/hicolor/48x48/apps/org.example.Calc.png"));
        assert_true(exists(e, "state/export/desk/share/icons/hicolor/scalable/apps/org.example.Calc.svg"));
        assert_true(exists(e, "state/export/desk/share/icons/org.example.Calc.xpm"));
        /* refused and missing entries are warnings, nothing of them on the host */
        assert_false(exists(e, "state/export/desk/share/applications/bad.desktop"));
        assert_false(exists(e, "state/export/desk/share/applications/missing.desktop"));
        assert_true(d.n >= 3);

        env = slurp(e, "home/.config/environment.d/60-machinespawn-desk.conf");
        _cleanup_free_ char *want = strjoin("XDG_DATA_DIRS=${XDG_DATA_DIRS:-/usr/local/share:/usr/share}:", share, "\n");
        assert_non_null(strstr(env, want));
        wrapper = slurp(e, "home/.local/bin/htop");
        assert_non_null(strstr(wrapper, "'desk' -- '/usr/bin/htop' \"$@\""));
        /* the user's own file of the same name stays as it was */
        _cleanup_free_ char *mine = slurp(e, "home/.local/bin/mine");
        assert_string_equal(mine, "#!/bin/sh\n# the user's own\n");

        /* ExportBins= dropped: the wrapper goes, the apps stay */
        assert_int_equal(sync_with(e, (char *[]) { (char *) "org.example.Calc", NULL }, NULL, &d), 0);
        assert_false(exists(e, "home/.local/bin/htop"));
        assert_true(exists(e, "home/.local/bin/mine"));
        assert_true(exists(e, "state/export/desk/share/applications/org.example.Calc.desktop"));
        assert_true(exists(e, "home/.config/environment.d/60-machinespawn-desk.conf"));

        /* back again, then the machine removed: all of it goes, the user's own files stay */
        assert_int_equal(sync_with(e, (char *[]) { (char *) "org.example.Calc", NULL },
                                   (char *[]) { (char *) "/usr/bin/htop", NULL }, &d), 0);
        assert_true(exists(e, "home/.local/bin/htop"));
        assert_int_equal(export_remove(e->state, "desk", &d), 0);
        assert_false(exists(e, "state/export/desk"));
        assert_false(exists(e, "home/.local/bin/htop"));
        assert_false(exists(e, "home/.config/environment.d/60-machinespawn-desk.conf"));
        assert_true(exists(e, "home/.local/bin/mine"));
        assert_true(exists(e, "home/.profile"));
        env_free(e);
}

static void test_export_keys_removed(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        Env *e = env_new();

        assert_int_equal(sync_with(e, (char *[]) { (char *) "org.example.Calc", NULL },
                                   (char *[]) { (char *) "/usr/bin/htop", NULL }, &d), 0);
        /* both keys gone (or [User] gone: no user) */
        assert_int_equal(export_sync(&e->p, "desk", e->tree_fd, NULL, NULL, NULL, &d), 0);
        assert_false(exists(e, "state/export/desk"));
        assert_false(exists(e, "home/.local/bin/htop"));
        assert_false(exists(e, "home/.config/environment.d/60-machinespawn-desk.conf"));
        assert_true(exists(e, "home/.local/bin"));
        /* nothing then, nothing now: no directory made */
        assert_int_equal(export_sync(&e->p, "other", e->tree_fd, NULL, NULL, NULL, &d), 0);
        assert_false(exists(e, "state/export/other"));
        env_free(e);
}

/* The machine's tree and the user's home are not ours: links out of them are not followed. */
static void test_export_hostile(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        Env *e = env_new();
        _cleanup_free_ char *victim = at(e, "victim"), *link_target = NULL;

        /* a host file that reads as a desktop entry, so following the link would export it */
        tests_write(e->root, "victim", "[Desktop Entry]\nType=Application\nExec=host\n");
        _cleanup_free_ char *app = at(e, "tree/usr/share/applications/evil.desktop");
        assert_int_equal(symlink(victim, app), 0);
        /* ~/.local/bin a link to somewhere else: resolved inside the home, never outside */
        _cleanup_free_ char *bin = at(e, "home/.local/bin");
        tests_rm_rf(bin);
        assert_int_equal(symlink(e->root, bin), 0);
        /* a FIFO where an entry is (must not block), an icon grown past its cap (a sparse 20 GiB file) */
        _cleanup_free_ char *fifo = at(e, "tree/usr/share/applications/fifo.desktop"),
                            *big = at(e, "tree/usr/share/icons/hicolor/48x48/apps/org.example.Calc.png");
        assert_int_equal(mkfifo(fifo, 0644), 0);
        assert_int_equal(truncate(big, 20LL << 30), 0);
        assert_int_equal(sync_with(e, (char *[]) { (char *) "evil", (char *) "fifo", (char *) "org.example.Calc", NULL },
                                   (char *[]) { (char *) "/usr/bin/victim", NULL }, &d), 0);
        assert_false(exists(e, "state/export/desk/share/applications/evil.desktop"));
        assert_false(exists(e, "state/export/desk/share/applications/fifo.desktop"));
        assert_true(exists(e, "state/export/desk/share/applications/org.example.Calc.desktop"));
        assert_false(exists(e, "state/export/desk/share/icons/hicolor/48x48/apps/org.example.Calc.png"));
        assert_true(exists(e, "state/export/desk/share/icons/hicolor/scalable/apps/org.example.Calc.svg"));
        _cleanup_free_ char *v = slurp(e, "victim");
        assert_string_equal(v, "[Desktop Entry]\nType=Application\nExec=host\n");
        env_free(e);
}

/* The names in the state directory's export/, sorted, space separated. */
static char *export_listing(const Env *e) {
        _cleanup_free_ char *p = at(e, "state/export");
        _cleanup_strv_free_ char **names = NULL;
        struct dirent *de;
        DIR *dir = opendir(p);
        char *text;

        assert_non_null(dir);
        while ((de = readdir(dir)))
                if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
                        assert_int_equal(strv_extend(&names, de->d_name), 0);
        closedir(dir);
        strv_sort(names);
        text = names ? strv_join(names, " ") : strdup("");
        assert_non_null(text);
        return text;
}

/* Makes the file at path impossible to remove, or possible again: immutable as root (which no permission
 * stops), else its directory read-only. false: this file system has no immutable flag. */
static bool pin(const char *path, bool on) {
        _cleanup_close_ int fd = -EBADF;
        int flags;

        if (geteuid() != 0) {
                _cleanup_free_ char *dir = strdup(path);
                assert_non_null(dir);
                *strrchr(dir, '/') = 0;
                assert_int_equal(chmod(dir, on ? 0555 : 0755), 0);
                return true;
        }
        fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
        assert_true(fd >= 0);
        if (ioctl(fd, FS_IOC_GETFLAGS, &flags) < 0) {
                assert_true(errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL);
                return false;
        }
        flags = on ? flags | FS_IMMUTABLE_FL : flags & ~FS_IMMUTABLE_FL;
        if (ioctl(fd, FS_IOC_SETFLAGS, &flags) < 0) {
                assert_true(errno == ENOTTY || errno == EOPNOTSUPP || errno == EINVAL);
                return false;
        }
        return true;
}

/* The old tree cannot be removed after the new one took its place: the export is the new one all the same,
 * and what is left of the old one goes at the next sync. Temporaries of other machines stay. */
static void test_export_old_tree_stuck(void **state) {
        _cleanup_(diagnostics_done) Diagnostics d = {};
        Env *e = env_new();
        _cleanup_free_ char *entry = NULL, *names = NULL,
                            *stuck = at(e, "state/export/desk/share/applications/org.example.Calc.desktop");
        _cleanup_strv_free_ char **list = NULL;
        char **apps = (char *[]) { (char *) "org.example.Calc", NULL };
        int r;

        assert_int_equal(sync_with(e, apps, NULL, &d), 0);
        if (!pin(stuck, true)) {
                tests_skip_part("no immutable flag on this file system: cannot make a removal fail");
                env_free(e);
                return;
        }
        /* a sync of ours killed half way, and the temporaries of machines "desk.old" and "desk2" (whose
         * syncs may be running right now) */
        tests_write(e->root, "state/export/.#desk.Ab12Cd/share/applications/x.desktop", "x");
        tests_write(e->root, "state/export/.#desk.old.Ab12Cd/share/applications/x.desktop", "x");
        tests_write(e->root, "state/export/.#desk2.Ab12Cd/exported", "x");

        tests_write(e->root, "tree/usr/share/applications/org.example.Calc.desktop",
                    "[Desktop Entry]\nType=Application\nName=Calc2\nExec=calc2\n");
        r = sync_with(e, apps, NULL, &d);
        /* the removal possible again (before any assertion, which would leave an immutable file behind):
         * whatever of the old tree is left, wherever it is, goes at the next sync */
        names = export_listing(e);
        print_message("after the stuck sync: %s\n", names);
        assert_int_equal(strv_split(&list, names, " "), 0);
        STRV_FOREACH(n, list) {
                _cleanup_free_ char *rel = strjoin("state/export/", *n, "/share/applications/org.example.Calc.desktop");
                _cleanup_free_ char *p = at(e, rel);
                if (!streq(*n, "desk") && exists(e, rel))
                        assert_true(pin(p, false));
        }
        (void) pin(stuck, false);
        names = mfree(names);
        assert_int_equal(r, 0);
        entry = slurp(e, "state/export/desk/share/applications/org.example.Calc.desktop");
        assert_non_null(strstr(entry, "\nName=Calc2\n"));
        assert_non_null(strstr(entry, "\nExec=" L " enter desk -- calc2\n"));

        assert_int_equal(sync_with(e, apps, NULL, &d), 0);
        names = export_listing(e);
        assert_string_equal(names, ".#desk.old.Ab12Cd .#desk2.Ab12Cd desk");
        entry = mfree(entry);
        entry = slurp(e, "state/export/desk/share/applications/org.example.Calc.desktop");
        assert_non_null(strstr(entry, "\nName=Calc2\n"));

        /* and the machine removed: its own go, the others' stay */
        tests_write(e->root, "state/export/.#desk.Zz99Yy/exported", "x");
        assert_int_equal(export_remove(e->state, "desk", &d), 0);
        names = mfree(names);
        names = export_listing(e);
        assert_string_equal(names, ".#desk.old.Ab12Cd .#desk2.Ab12Cd");
        env_free(e);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_desktop_rewrite),
                cmocka_unit_test(test_desktop_icon_path),
                cmocka_unit_test(test_desktop_refused),
                cmocka_unit_test(test_names),
                cmocka_unit_test(test_shell_quote),
                cmocka_unit_test(test_wrapper),
                cmocka_unit_test(test_export_sync_and_remove),
                cmocka_unit_test(test_export_keys_removed),
                cmocka_unit_test(test_export_hostile),
                cmocka_unit_test(test_export_old_tree_stuck),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

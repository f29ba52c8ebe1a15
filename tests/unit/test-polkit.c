/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <sys/stat.h>

#include "tests.h"

#include "enter.h"
#include "fileio.h"
#include "polkit.h"
#include "strv.h"

static void test_rule_text(void **state) {
        _cleanup_free_ char *t = NULL;

        assert_int_equal(polkit_rule_text("desk", "alice", &t), 0);
        /* the subject is exactly the user */
        assert_non_null(strstr(t, "if (subject.user !== \"alice\")\n                return polkit.Result.NOT_HANDLED;"));
        /* a shell only as themselves, in this machine only */
        assert_non_null(strstr(t, "action.id === \"org.freedesktop.machine1.shell\" &&\n"
                                  "            action.lookup(\"machine\") === \"desk\" && action.lookup(\"user\") === \"alice\")"));
        assert_non_null(strstr(t, "action.id === \"org.freedesktop.machine1.login\" &&\n"
                                  "            action.lookup(\"machine\") === \"desk\")"));
        /* starting this machine's unit, nothing else of systemd */
        assert_non_null(strstr(t, "action.lookup(\"unit\") === \"systemd-nspawn@desk.service\" &&\n"
                                  "            action.lookup(\"verb\") === \"start\")"));
        /* a command through pkexec: our helper, as root, with this machine's name as its first argument (the
         * space after it: not "desk2") */
        assert_non_null(strstr(t, "action.id === \"org.machinespawn.enter\" && action.lookup(\"user\") === \"root\" &&\n"
                                  "            action.lookup(\"program\") === \"" ENTER_HELPER "\" &&\n"
                                  "            typeof cl === \"string\" && cl.indexOf(\"" ENTER_HELPER " desk \") === 0)"));
        /* four grants and no more */
        size_t yes = 0;
        for (const char *p = t; (p = strstr(p, "polkit.Result.YES")); p++)
                yes++;
        assert_int_equal(yes, 4);
        assert_null(strstr(t, "isInGroup"));
        assert_null(strstr(t, "manage-machines"));
}

static void test_rule_text_refuses(void **state) {
        char *t = NULL;
        assert_int_equal(polkit_rule_text("desk\"); evil(); (\"", "alice", &t), -EINVAL);
        assert_int_equal(polkit_rule_text("desk", "al\"ice", &t), -EINVAL);
        assert_int_equal(polkit_rule_text("desk", "", &t), -EINVAL);
        assert_int_equal(polkit_rule_text("../x", "alice", &t), -EINVAL);
        assert_null(t);
}

static void test_rule_sync(void **state) {
        _cleanup_free_ char *dir = tests_mkdtemp(), *path = strjoin(dir, "/rules.d/60-machinespawn-desk.rules"),
                            *rules = strjoin(dir, "/rules.d"), *text = NULL;
        struct stat st;

        assert_int_equal(polkit_rule_sync(rules, "desk", "alice"), 0);
        assert_int_equal(read_full_file(path, &text, NULL), 0);
        assert_non_null(strstr(text, "\"alice\""));
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_mode & 07777, 0644);
        /* [User] removed: the rule goes */
        assert_int_equal(polkit_rule_sync(rules, "desk", NULL), 0);
        assert_int_equal(access(path, F_OK), -1);
        /* another user next time */
        assert_int_equal(polkit_rule_sync(rules, "desk", "bob"), 0);
        free(text);
        assert_int_equal(read_full_file(path, &text, NULL), 0);
        assert_null(strstr(text, "alice"));
        assert_int_equal(polkit_rule_remove(rules, "desk"), 0);
        assert_int_equal(access(path, F_OK), -1);

        /* an administrator's own file of that name is neither replaced nor removed */
        tests_write(dir, "rules.d/60-machinespawn-desk.rules", "// mine\n");
        assert_int_equal(polkit_rule_sync(rules, "desk", "alice"), -EEXIST);
        assert_int_equal(polkit_rule_remove(rules, "desk"), 0);
        free(text);
        assert_int_equal(read_full_file(path, &text, NULL), 0);
        assert_string_equal(text, "// mine\n");
        tests_rm_rf(dir);
}

int main(void) {
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_rule_text),
                cmocka_unit_test(test_rule_text_refuses),
                cmocka_unit_test(test_rule_sync),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}

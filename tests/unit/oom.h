/* SPDX-License-Identifier: LGPL-2.1-or-later */
#pragma once

/* An operation under test: arms the failure around its work with oom_begin()/oom_end() and renders its
 * result as text afterwards, so that what it lost on the way shows. */
typedef int (*OomOperation)(char **ret_text);

void oom_begin(void);
void oom_end(void);

/* Runs op once without failures, then with its 1st, 2nd, ... allocation failed, until one run makes no
 * allocation fail: each time op must fail, or succeed with the same text, and not crash. */
void oom_check_operation(const char *name, OomOperation op);

/* Fault injection for crash tests: named points in the jobs where a test can
 * make the process stop dead or pause. ESIA_FAULT="point:kill" sends SIGKILL
 * to ourselves at that point; "point:sleep=N" pauses N seconds;
 * "point:kill@K" kills on the K-th visit. Unset in production: one getenv. */
#ifndef ESIA_FAULT_H
#define ESIA_FAULT_H

void fault_point(const char *name);

#endif

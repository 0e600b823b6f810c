/* SPDX-License-Identifier: Apache-2.0 */
#ifndef FLOWLENS_BPF_LOAD_H
#define FLOWLENS_BPF_LOAD_H
#include <signal.h>
#include <pthread.h>

/* The verifier gives up with EAGAIN when a signal is pending on the loading thread (V8's CPU
 * profiler sends SIGPROF, libuv gets SIGCHLD): load BPF objects with every signal blocked on this
 * thread. Blocked signals stay pending and are delivered when the mask is restored. */
#define FL_WITH_SIGNALS_BLOCKED(stmt)                        \
	do {                                                 \
		sigset_t fl_all_, fl_old_;                   \
		sigfillset(&fl_all_);                        \
		pthread_sigmask(SIG_BLOCK, &fl_all_, &fl_old_); \
		stmt;                                        \
		pthread_sigmask(SIG_SETMASK, &fl_old_, NULL); \
	} while (0)

#endif

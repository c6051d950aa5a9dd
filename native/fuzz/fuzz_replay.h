/*
 * fuzz_replay.h - runs inputs through a fuzz target's LLVMFuzzerTestOneInput
 * without libFuzzer, so that inputs the fuzzers found become ordinary
 * regression tests in native/tests (built by gcc with the rest, run under
 * ASan and valgrind too). A test includes the target's .c file, then this
 * header, and calls fuzz_replay() once per input. A property violation
 * aborts (the target's fuzz_fail); a hang is cut by an alarm, so a test of
 * a fixed hang fails instead of stalling the suite.
 */
#ifndef FUZZ_REPLAY_H
#define FUZZ_REPLAY_H

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Seconds one input may take; generous for valgrind. */
#define FUZZ_REPLAY_ALARM_S 20

static void fuzz_replay_on_alarm(int sig)
{
    static const char msg[] = "not ok: replayed input hung (no result within the alarm)\n";
    (void)sig;
    ssize_t w = write(1, msg, sizeof msg - 1);
    (void)w;
    _exit(1);
}

/* Replays one input; `what` says where it came from and what it once did. */
static void fuzz_replay(const char *what, const uint8_t *data, size_t size)
{
    signal(SIGALRM, fuzz_replay_on_alarm);
    alarm(FUZZ_REPLAY_ALARM_S);
    LLVMFuzzerTestOneInput(data, size);
    alarm(0);
    printf("ok: %s\n", what);
    fflush(stdout);
}

#endif

/*
 * pycompose-init: PID 1 of a container started with `init: true`. Forks the command, forwards every signal it
 * can catch to it, reaps every zombie of the pid namespace, and exits with the command's status (128+n after
 * signal n). Linked statically: it is exec'd by fd inside the container's root, where no host library exists.
 *
 * Usage: pycompose-init PATH ARGV0 [ARGS...]   (PATH already resolved; the environment is passed through)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

int main(int argc, char **argv) {
    sigset_t all, none;
    if (argc < 3) { fputs("usage: pycompose-init PATH ARGV0 [ARGS...]\n", stderr); return 2; }
    prctl(PR_SET_NAME, "pycompose-init", 0, 0, 0);
    sigfillset(&all);
    sigemptyset(&none);
    sigprocmask(SIG_BLOCK, &all, NULL); /* the engine exec'd us with all blocked already: nothing got lost */
    pid_t child = fork();
    if (child < 0) { perror("pycompose-init: fork"); return 1; }
    if (child == 0) {
        sigprocmask(SIG_SETMASK, &none, NULL); /* the command starts as under Docker: nothing blocked */
        execv(argv[1], argv + 2);
        fprintf(stderr, "exec: \"%s\": %s\n", argv[2], strerror(errno));
        _exit(errno == ENOENT ? 127 : 126);
    }
    for (;;) {
        siginfo_t info;
        int sig = sigwaitinfo(&all, &info);
        if (sig < 0) continue;
        if (sig != SIGCHLD) { kill(child, sig); continue; }
        for (;;) {
            int status;
            pid_t pid = waitpid(-1, &status, WNOHANG);
            if (pid <= 0) break;
            if (pid == child) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        }
    }
}

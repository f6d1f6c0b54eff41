/*
 * pycompose-monitor: the steady-state loop of a container (or exec) monitor, in C to keep it under 1 MiB.
 *
 * runtime/monitor.py sets everything up in Python (pipes or pty, the listening socket, the spawned process) and
 * then execs this program, which inherits the fds and stays the parent of the container's init. It speaks the
 * same protocol as the Python loop in runtime/monitor.py (see there): json-file log with rotation, wait / attach
 * / resize on the unix socket, Docker's 8-byte stream frames, and an atomic exit record when the process ends.
 *
 * Arguments (all numbers are fds unless said otherwise; -1 = none):
 *   -p PID -f PIDFD -o OUT -e ERR -t (OUT is a pty master: raw output, stdin goes there too) -i STDIN -l LISTEN
 *   -c CONN (the launch connection: gets the launch reply unless -R says it was sent already; attached if -a gives
 *   flags, any of "ioe") -S (stdin_once) -L LOGPATH -s MAXSIZE -m MAXFILE
 *   -x EXITPATH -O OOMFILE (repeatable) -b OOM_BEFORE -u SOCKETPATH (unlinked at exit)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define CHUNK 65536
#define MAX_LINE (16 * 1024)
#define CLIENT_LIMIT (4 << 20)
#define MAX_CLIENTS 256
#define MAX_OOM 8

enum { OP_NONE, OP_WAIT, OP_ATTACH };

struct buf { char *p; size_t len, cap; };

struct client {
    int fd, op, streams, in_stdin, eof, events;
    char req[4096]; size_t reqlen;
    struct buf out;
};

static int ep, child_pid = -1, pidfd = -1, out_fd = -1, err_fd = -1, tty, stdin_fd = -1, listen_fd = -1;
static int stdin_once, close_stdin_pending, log_fd = -1, max_file = 1, n_oom, oom_before, n_cgroups;
static long long max_size, log_size;
static const char *log_path, *exit_path, *sock_path, *oom_files[MAX_OOM], *cgroup_dirs[MAX_OOM];
static struct client *clients[MAX_CLIENTS];
static struct buf stdin_buf, partial[3];

static void die(const char *what) { fprintf(stderr, "pycompose-monitor: %s: %s\n", what, strerror(errno)); _exit(1); }

static void buf_add(struct buf *b, const void *data, size_t n) {
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) die("realloc");
        b->p = p; b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void buf_drop(struct buf *b, size_t n) {
    memmove(b->p, b->p + n, b->len - n);
    b->len -= n;
    if (b->len == 0 && b->cap > 65536) { free(b->p); b->p = NULL; b->cap = 0; }
}

static void set_events(int fd, int events, void *ptr, int *current) {
    struct epoll_event ev = { .events = (uint32_t)events, .data.ptr = ptr };
    if (*current == events) return;
    if (*current == 0) epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    else if (events == 0) epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
    else epoll_ctl(ep, EPOLL_CTL_MOD, fd, &ev);
    *current = events;
}

/* --- time and json ---------------------------------------------------------------------------------------- */

static void rfc3339nano(char *out, size_t size) {
    struct timespec ts; struct tm tm; char frac[16]; int n = 9;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t len = strftime(out, size, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(frac, sizeof frac, "%09ld", ts.tv_nsec);
    while (n > 0 && frac[n - 1] == '0') n--;
    if (n) snprintf(out + len, size - len, ".%.*sZ", n, frac);
    else snprintf(out + len, size - len, "Z");
}

static int utf8_len(const unsigned char *s, size_t n) {
    /* length of the valid UTF-8 sequence at s, 0 if invalid */
    if (s[0] < 0x80) return 1;
    int len = (s[0] & 0xE0) == 0xC0 ? 2 : (s[0] & 0xF0) == 0xE0 ? 3 : (s[0] & 0xF8) == 0xF0 ? 4 : 0;
    if (!len || (size_t)len > n) return 0;
    for (int i = 1; i < len; i++) if ((s[i] & 0xC0) != 0x80) return 0;
    uint32_t cp = len == 2 ? (s[0] & 0x1F) : len == 3 ? (s[0] & 0x0F) : (s[0] & 0x07);
    for (int i = 1; i < len; i++) cp = (cp << 6) | (s[i] & 0x3F);
    if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

static void json_string(struct buf *b, const unsigned char *s, size_t n) {
    buf_add(b, "\"", 1);
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        char esc[8];
        if (c == '"') buf_add(b, "\\\"", 2);
        else if (c == '\\') buf_add(b, "\\\\", 2);
        else if (c == '\n') buf_add(b, "\\n", 2);
        else if (c == '\r') buf_add(b, "\\r", 2);
        else if (c == '\t') buf_add(b, "\\t", 2);
        else if (c == '\b') buf_add(b, "\\b", 2);
        else if (c == '\f') buf_add(b, "\\f", 2);
        else if (c < 0x20 || c == '<' || c == '>' || c == '&' || c == 0x7f) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            buf_add(b, esc, 6);
        } else if (c < 0x80) buf_add(b, &s[i], 1);
        else {
            int len = utf8_len(s + i, n - i);
            if (len) { buf_add(b, s + i, (size_t)len); i += (size_t)len; continue; }
            buf_add(b, "\xef\xbf\xbd", 3);
        }
        i++;
    }
    buf_add(b, "\"", 1);
}

/* The value of "key" in a flat JSON object: strings unquoted, numbers and true/false as text. */
static int json_get(const char *s, const char *key, char *out, size_t size) {
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    const char *p = strstr(s, pat);
    if (!p) return 0;
    p += strlen(pat);
    while (*p == ' ' || *p == ':') p++;
    size_t n = 0;
    if (*p == '"') { p++; while (*p && *p != '"' && n + 1 < size) out[n++] = *p++; }
    else while (*p && *p != ',' && *p != '}' && *p != ' ' && n + 1 < size) out[n++] = *p++;
    out[n] = 0;
    return 1;
}

/* --- log ------------------------------------------------------------------------------------------------- */

static void log_rotate(void) {
    char src[4096], dst[4096];
    close(log_fd);
    int flags = O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC;
    if (max_file > 1) {
        for (int n = max_file - 1; n > 0; n--) {
            if (n == 1) snprintf(src, sizeof src, "%s", log_path);
            else snprintf(src, sizeof src, "%s.%d", log_path, n - 1);
            snprintf(dst, sizeof dst, "%s.%d", log_path, n);
            rename(src, dst);
        }
    } else flags |= O_TRUNC;
    log_fd = open(log_path, flags, 0640);
    if (log_fd < 0) die("open log");
    log_size = 0;
}

static void log_emit(int stream, const char *data, size_t n) {
    struct buf b = {0};
    char ts[64];
    rfc3339nano(ts, sizeof ts);
    buf_add(&b, "{\"log\":", 7);
    json_string(&b, (const unsigned char *)data, n);
    buf_add(&b, stream == 1 ? ",\"stream\":\"stdout\",\"time\":\"" : ",\"stream\":\"stderr\",\"time\":\"", 27);
    buf_add(&b, ts, strlen(ts));
    buf_add(&b, "\"}\n", 3);
    if (max_size && log_size + (long long)b.len > max_size && log_size > 0) log_rotate();
    size_t off = 0;
    while (off < b.len) {
        ssize_t w = write(log_fd, b.p + off, b.len - off);
        if (w < 0) { if (errno == EINTR) continue; break; }
        off += (size_t)w;
    }
    log_size += (long long)b.len;
    free(b.p);
}

static void log_write(int stream, const char *data, size_t n) {
    if (log_fd < 0) return;
    struct buf *p = &partial[stream];
    buf_add(p, data, n);
    for (;;) { /* whole lines, none longer than MAX_LINE: however the bytes arrived, the same records */
        char *nl = p->len ? memchr(p->p, '\n', p->len < MAX_LINE ? p->len : MAX_LINE) : NULL;
        size_t len;
        if (nl) len = (size_t)(nl - p->p) + 1;
        else if (p->len >= MAX_LINE) len = MAX_LINE;
        else break;
        log_emit(stream, p->p, len);
        buf_drop(p, len);
    }
}

/* --- clients --------------------------------------------------------------------------------------------- */

static void client_update(struct client *c) {
    int events = (c->eof ? 0 : EPOLLIN) | (c->out.len ? EPOLLOUT : 0);
    set_events(c->fd, events, c, &c->events);
}

static void client_drop(struct client *c) {
    set_events(c->fd, 0, c, &c->events);
    close(c->fd);
    for (int i = 0; i < MAX_CLIENTS; i++) if (clients[i] == c) clients[i] = NULL;
    free(c->out.p);
    free(c);
}

static void client_flush(struct client *c) {
    while (c->out.len) {
        ssize_t w = send(c->fd, c->out.p, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            client_drop(c);
            return;
        }
        buf_drop(&c->out, (size_t)w);
    }
    client_update(c);
}

static void client_queue(struct client *c, const void *data, size_t n) {
    if (c->out.len > CLIENT_LIMIT) return; /* a client that stopped reading loses output, not the container */
    buf_add(&c->out, data, n);
    client_flush(c);
}

static struct client *client_add(int fd) {
    for (int i = 0; i < MAX_CLIENTS; i++) {
        if (clients[i]) continue;
        struct client *c = calloc(1, sizeof *c);
        if (!c) die("calloc");
        c->fd = fd;
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        clients[i] = c;
        client_update(c);
        return c;
    }
    close(fd);
    return NULL;
}

static void attach(struct client *c, const char *flags_or_json, int is_json) {
    char v[16];
    c->op = OP_ATTACH;
    if (is_json) {
        c->in_stdin = json_get(flags_or_json, "stdin", v, sizeof v) && !strcmp(v, "true");
        c->streams = 0;
        if (!json_get(flags_or_json, "stdout", v, sizeof v) || !strcmp(v, "true")) c->streams |= 2;
        if (!json_get(flags_or_json, "stderr", v, sizeof v) || !strcmp(v, "true")) c->streams |= 4;
    } else {
        c->in_stdin = strchr(flags_or_json, 'i') != NULL;
        c->streams = (strchr(flags_or_json, 'o') ? 2 : 0) | (strchr(flags_or_json, 'e') ? 4 : 0);
    }
    if (stdin_fd < 0) c->in_stdin = 0;
}

static void stdin_flush(void) {
    if (stdin_fd < 0) { stdin_buf.len = 0; return; }
    while (stdin_buf.len) {
        ssize_t w = write(stdin_fd, stdin_buf.p, stdin_buf.len);
        if (w < 0) { if (errno == EINTR) continue; if (errno == EAGAIN) return; stdin_buf.len = 0; break; }
        buf_drop(&stdin_buf, (size_t)w);
    }
    if (close_stdin_pending && !tty) { close(stdin_fd); stdin_fd = -1; close_stdin_pending = 0; }
}

static void resize(int h, int w) {
    struct winsize ws = { .ws_row = (unsigned short)h, .ws_col = (unsigned short)w };
    if (tty) ioctl(out_fd, TIOCSWINSZ, &ws);
}

static void handle_request(struct client *c, char *line) {
    char op[32], v[32];
    if (!json_get(line, "op", op, sizeof op)) { client_drop(c); return; }
    if (!strcmp(op, "wait")) c->op = OP_WAIT;
    else if (!strcmp(op, "attach")) { attach(c, line, 1); client_queue(c, "{\"ok\":true}\n", 12); }
    else if (!strcmp(op, "resize") && tty) {
        int h = json_get(line, "height", v, sizeof v) ? atoi(v) : 24;
        int w = json_get(line, "width", v, sizeof v) ? atoi(v) : 80;
        resize(h, w);
        client_queue(c, "{\"ok\":true}\n", 12);
    } else client_queue(c, "{\"ok\":false,\"error\":\"unknown op\"}\n", 34);
}

static void client_input(struct client *c, const char *data, size_t n) {
    if (c->op == OP_NONE) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (c->reqlen + take >= sizeof c->req) { client_drop(c); return; }
        memcpy(c->req + c->reqlen, data, take);
        c->reqlen += take;
        if (!nl) return;
        c->req[c->reqlen] = 0;
        handle_request(c, c->req);
        size_t rest = n - take - 1;
        int still = 0;
        for (int i = 0; i < MAX_CLIENTS; i++) if (clients[i] == c) still = 1;
        if (rest && still) client_input(c, nl + 1, rest);
    } else if (c->op == OP_ATTACH && c->in_stdin) {
        buf_add(&stdin_buf, data, n);
        stdin_flush();
    }
}

static void client_readable(struct client *c) {
    char data[CHUNK];
    ssize_t n = recv(c->fd, data, sizeof data, MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
    if (n > 0) { client_input(c, data, (size_t)n); return; }
    if (c->op == OP_NONE) { client_drop(c); return; }
    if (c->op == OP_ATTACH && c->in_stdin && stdin_once) { close_stdin_pending = 1; stdin_flush(); }
    c->in_stdin = 0;
    c->eof = 1;
    client_update(c);
}

/* --- output ---------------------------------------------------------------------------------------------- */

static int output(int *fdp, int stream) {
    char data[CHUNK];
    ssize_t n = read(*fdp, data, sizeof data);
    if (n < 0 && (errno == EAGAIN || errno == EINTR)) return 0;
    if (n <= 0) { /* EOF, or EIO from a pty whose last slave closed */
        epoll_ctl(ep, EPOLL_CTL_DEL, *fdp, NULL);
        if (!tty) close(*fdp);
        *fdp = -1;
        return -1;
    }
    log_write(stream, data, (size_t)n);
    char hdr[8] = { (char)stream, 0, 0, 0, (char)(n >> 24), (char)(n >> 16), (char)(n >> 8), (char)n };
    for (int i = 0; i < MAX_CLIENTS; i++) {
        struct client *c = clients[i];
        if (!c || c->op != OP_ATTACH || !(c->streams & (stream == 1 ? 2 : 4))) continue;
        if (!tty && c->out.len <= CLIENT_LIMIT) buf_add(&c->out, hdr, 8);
        client_queue(c, data, (size_t)n);
    }
    return 1;
}

/* --- exit ------------------------------------------------------------------------------------------------ */

static long oom_count(void) {
    long total = 0;
    for (int i = 0; i < n_oom; i++) {
        FILE *f = fopen(oom_files[i], "re");
        char key[64]; long v;
        if (!f) continue;
        while (fscanf(f, "%63s %ld", key, &v) == 2) if (!strcmp(key, "oom_kill")) total += v;
        fclose(f);
    }
    return total;
}

static void write_exit(const char *rec, int n) {
    char tmp[4200];
    if (!exit_path) return;
    const char *slash = strrchr(exit_path, '/');
    snprintf(tmp, sizeof tmp, "%.*s/.%s.%d.tmp", (int)(slash ? slash - exit_path : 1), slash ? exit_path : ".",
             slash ? slash + 1 : exit_path, getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return;
    if (write(fd, rec, (size_t)n) != n) { close(fd); unlink(tmp); return; }
    close(fd);
    if (rename(tmp, exit_path) < 0) unlink(tmp);
}

int main(int argc, char **argv) {
    int opt, conn = -1, replied = 0;
    const char *conn_flags = "";
    while ((opt = getopt(argc, argv, "p:f:o:e:ti:l:c:a:RSL:s:m:x:O:b:u:G:")) != -1) {
        switch (opt) {
        case 'p': child_pid = atoi(optarg); break;
        case 'f': pidfd = atoi(optarg); break;
        case 'o': out_fd = atoi(optarg); break;
        case 'e': err_fd = atoi(optarg); break;
        case 't': tty = 1; break;
        case 'i': stdin_fd = atoi(optarg); break;
        case 'l': listen_fd = atoi(optarg); break;
        case 'c': conn = atoi(optarg); break;
        case 'a': conn_flags = optarg; break;
        case 'R': replied = 1; break;
        case 'S': stdin_once = 1; break;
        case 'L': log_path = optarg; break;
        case 's': max_size = atoll(optarg); break;
        case 'm': max_file = atoi(optarg) > 0 ? atoi(optarg) : 1; break;
        case 'x': exit_path = optarg; break;
        case 'O': if (n_oom < MAX_OOM) oom_files[n_oom++] = optarg; break;
        case 'b': oom_before = atoi(optarg); break;
        case 'G': if (n_cgroups < MAX_OOM) cgroup_dirs[n_cgroups++] = optarg; break;
        case 'u': sock_path = optarg; break;
        default: fprintf(stderr, "pycompose-monitor: bad arguments\n"); return 2;
        }
    }
    if (child_pid <= 0 || pidfd < 0) { fprintf(stderr, "pycompose-monitor: -p and -f are required\n"); return 2; }
    signal(SIGPIPE, SIG_IGN);
    ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0) die("epoll_create1");
    if (log_path) {
        log_fd = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
        if (log_fd < 0) die("open log");
        struct stat st;
        if (fstat(log_fd, &st) == 0) log_size = st.st_size;
    }
    int ev_out = 0, ev_err = 0, ev_pid = 0, ev_listen = 0;
    static int tag_out = 1, tag_err = 2, tag_pid = 3, tag_listen = 4;
    if (out_fd >= 0) { fcntl(out_fd, F_SETFL, fcntl(out_fd, F_GETFL) | O_NONBLOCK); set_events(out_fd, EPOLLIN, &tag_out, &ev_out); }
    if (err_fd >= 0) { fcntl(err_fd, F_SETFL, fcntl(err_fd, F_GETFL) | O_NONBLOCK); set_events(err_fd, EPOLLIN, &tag_err, &ev_err); }
    if (stdin_fd >= 0 && !tty) fcntl(stdin_fd, F_SETFL, fcntl(stdin_fd, F_GETFL) | O_NONBLOCK);
    if (tty && stdin_fd >= 0) stdin_fd = out_fd;
    set_events(pidfd, EPOLLIN, &tag_pid, &ev_pid);
    if (listen_fd >= 0) { fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK); set_events(listen_fd, EPOLLIN, &tag_listen, &ev_listen); }
    if (conn >= 0 && !replied) { /* the launch connection: the reply says we run; then it is an attached client or done */
        char reply[96];
        int n = snprintf(reply, sizeof reply, "{\"pid\": %d, \"monitor_pid\": %d}\n", child_pid, (int)getpid());
        if (send(conn, reply, (size_t)n, MSG_NOSIGNAL) != n) { close(conn); conn = -1; }
    }
    if (conn >= 0 && *conn_flags) { struct client *c = client_add(conn); if (c) attach(c, conn_flags, 0); }
    else if (conn >= 0) close(conn);

    int exited = 0;
    while (!exited) {
        struct epoll_event evs[64];
        int n = epoll_wait(ep, evs, 64, -1);
        if (n < 0) { if (errno == EINTR) continue; die("epoll_wait"); }
        for (int i = 0; i < n && !exited; i++) {
            void *tag = evs[i].data.ptr;
            if (tag == &tag_out) output(&out_fd, 1);
            else if (tag == &tag_err) output(&err_fd, 2);
            else if (tag == &tag_pid) exited = 1;
            else if (tag == &tag_listen) {
                int fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
                if (fd >= 0) client_add(fd);
            } else {
                struct client *c = tag;
                int alive = 0;
                for (int k = 0; k < MAX_CLIENTS; k++) if (clients[k] == c) alive = 1;
                if (!alive) continue;
                if (evs[i].events & EPOLLOUT) client_flush(c);
                alive = 0;
                for (int k = 0; k < MAX_CLIENTS; k++) if (clients[k] == c) alive = 1;
                if (alive && (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->eof) client_readable(c);
            }
        }
    }
    int status = 0;
    while (waitpid(child_pid, &status, 0) < 0 && errno == EINTR) {}
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? 128 + WTERMSIG(status) : 255;
    while (out_fd >= 0 && output(&out_fd, 1) > 0) {}
    while (err_fd >= 0 && output(&err_fd, 2) > 0) {}
    for (int s = 1; s <= 2; s++) if (partial[s].len) log_emit(s, partial[s].p, partial[s].len);
    int oom = n_oom && oom_count() > oom_before;
    char rec[256], ts[64];
    rfc3339nano(ts, sizeof ts);
    int rn = snprintf(rec, sizeof rec, "{\"error\":\"\",\"exit_code\":%d,\"finished_at\":\"%s\",\"oom_killed\":%s}\n",
                      code, ts, oom ? "true" : "false");
    if (sock_path) unlink(sock_path); /* first: a restarted container's new monitor may bind it right after */
    /* the container's cgroup goes with its processes (a later start makes it again); before the exit record, so
     * a start that sees the record never races this rmdir. EBUSY (a process outside our pid namespace lives on)
     * leaves it to the engine's remove. */
    for (int i = 0; i < n_cgroups; i++) rmdir(cgroup_dirs[i]);
    write_exit(rec, rn - 1);
    for (int i = 0; i < MAX_CLIENTS; i++) {
        struct client *c = clients[i];
        if (!c) continue;
        if (c->op == OP_WAIT) buf_add(&c->out, rec, (size_t)rn);
        fcntl(c->fd, F_SETFL, fcntl(c->fd, F_GETFL) & ~O_NONBLOCK);
        struct timeval tv = { .tv_sec = 5 };
        setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        size_t off = 0;
        while (off < c->out.len) {
            ssize_t w = send(c->fd, c->out.p + off, c->out.len - off, MSG_NOSIGNAL);
            if (w <= 0) break;
            off += (size_t)w;
        }
        close(c->fd);
    }
    return 0;
}

/* pycompose DNS fast path: a thread of its own that answers repeated UDP queries from a reply cache.
 *
 * Loaded with ctypes by runtime/network/dns/fastpath.py. The embedded DNS server hands it each scope's UDP
 * socket (pcdns_add); the thread waits on them with epoll, reads queries in batches (recvmmsg) and, for a
 * query whose bytes after the 2-byte id were answered before (pcdns_put), sends the cached reply with the
 * asker's id (sendmmsg) - all without the Python GIL, so the daemon's own work does not delay DNS. Every
 * other datagram goes to Python over a datagram socketpair (the "miss" socket), prefixed with a header:
 * u64 scope tag, then the asker's struct sockaddr_in. Python answers it (names, forwarding, errors) and
 * puts cacheable replies back with pcdns_put. pcdns_clear drops cached replies when the name table changes.
 *
 * One mutex guards the scopes and caches; the thread holds it while it reads and answers one socket's
 * batch, so once pcdns_clear / pcdns_remove return, no stale reply and no read of a removed socket follows.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#define BATCH 64           /* datagrams per recvmmsg */
#define ROUNDS 4           /* recvmmsg calls per socket per wakeup: other scopes get their turn */
#define MSG_MAX 4096       /* a query is read into this much, as the Python path reads it */
#define BUCKETS 1024       /* per scope */
#define MAX_ENTRIES 512    /* per scope: a full cache is dropped and refilled, as the Python path does */
#define MAX_VARIANTS 32    /* answer orders kept per reply */
#define WAKE_TAG UINT64_MAX

struct entry {
    struct entry *next;
    uint32_t hash;
    uint32_t klen;
    uint32_t nvar;
    uint32_t rr;                      /* the next answer order, round robin */
    uint32_t off[MAX_VARIANTS + 1];   /* variant i is data[klen + off[i] .. klen + off[i + 1]) */
    uint8_t data[];                   /* the key, then the variants (each a reply without its id) */
};

struct slot {
    int fd;                           /* -1: free */
    uint32_t gen;
    uint32_t count;
    struct entry *buckets[BUCKETS];
};

struct fp {
    pthread_mutex_t mu;
    pthread_t thread;
    int ep, wake, miss;
    int stop;
    uint64_t slice_ns;
    struct slot **slots;
    uint32_t nslots;
    uint64_t hits, misses;
    struct mmsghdr rmsg[BATCH], smsg[BATCH];
    struct iovec riov[BATCH], siov[BATCH];
    struct sockaddr_in raddr[BATCH];
    uint8_t rbuf[BATCH][MSG_MAX];
    uint8_t sbuf[BATCH][MSG_MAX];
};

static uint32_t hash_bytes(const uint8_t *p, uint32_t n) {
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 16777619u;
    }
    return h;
}

static void clear_slot(struct slot *s) {
    for (int b = 0; b < BUCKETS; b++) {
        struct entry *e = s->buckets[b];
        while (e) {
            struct entry *next = e->next;
            free(e);
            e = next;
        }
        s->buckets[b] = NULL;
    }
    s->count = 0;
}

static struct slot *find_slot(struct fp *fp, uint64_t tag) {
    uint32_t idx = (uint32_t)tag, gen = (uint32_t)(tag >> 32);
    if (idx >= fp->nslots || fp->slots[idx] == NULL)
        return NULL;
    struct slot *s = fp->slots[idx];
    return (s->fd >= 0 && s->gen == gen) ? s : NULL;
}

static struct entry *lookup(struct slot *s, const uint8_t *key, uint32_t klen) {
    uint32_t h = hash_bytes(key, klen);
    for (struct entry *e = s->buckets[h % BUCKETS]; e; e = e->next)
        if (e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0)
            return e;
    return NULL;
}

static void pass_to_python(struct fp *fp, uint64_t tag, const uint8_t *data, uint32_t len,
                           const struct sockaddr_in *from) {
    struct iovec iov[3] = {
        {.iov_base = &tag, .iov_len = sizeof tag},
        {.iov_base = (void *)from, .iov_len = sizeof *from},
        {.iov_base = (void *)data, .iov_len = len},
    };
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 3};
    /* A full socketpair (Python is behind) drops the query as a full network would; the asker retries. */
    if (sendmsg(fp->miss, &msg, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0)
        fp->misses++;
}

static void serve_slot(struct fp *fp, uint64_t tag) {
    struct slot *s = find_slot(fp, tag);
    if (s == NULL)
        return;  /* removed after epoll reported it */
    for (int round = 0; round < ROUNDS; round++) {
        for (int i = 0; i < BATCH; i++) {
            fp->riov[i].iov_base = fp->rbuf[i];
            fp->riov[i].iov_len = MSG_MAX;
            memset(&fp->rmsg[i].msg_hdr, 0, sizeof fp->rmsg[i].msg_hdr);
            fp->rmsg[i].msg_hdr.msg_iov = &fp->riov[i];
            fp->rmsg[i].msg_hdr.msg_iovlen = 1;
            fp->rmsg[i].msg_hdr.msg_name = &fp->raddr[i];
            fp->rmsg[i].msg_hdr.msg_namelen = sizeof fp->raddr[i];
        }
        int n = recvmmsg(s->fd, fp->rmsg, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            return;
        int out = 0;
        for (int i = 0; i < n; i++) {
            const uint8_t *q = fp->rbuf[i];
            uint32_t len = fp->rmsg[i].msg_len;
            struct entry *e = NULL;
            if (len >= 12 && !(fp->rmsg[i].msg_hdr.msg_flags & MSG_TRUNC))
                e = lookup(s, q + 2, len - 2);
            if (e == NULL) {
                pass_to_python(fp, tag, q, len, &fp->raddr[i]);
                continue;
            }
            uint32_t v = e->nvar > 1 ? e->rr++ % e->nvar : 0;
            uint32_t vlen = e->off[v + 1] - e->off[v];
            uint8_t *r = fp->sbuf[out];
            r[0] = q[0];
            r[1] = q[1];
            memcpy(r + 2, e->data + e->klen + e->off[v], vlen);
            fp->siov[out].iov_base = r;
            fp->siov[out].iov_len = vlen + 2;
            memset(&fp->smsg[out].msg_hdr, 0, sizeof fp->smsg[out].msg_hdr);
            fp->smsg[out].msg_hdr.msg_iov = &fp->siov[out];
            fp->smsg[out].msg_hdr.msg_iovlen = 1;
            fp->smsg[out].msg_hdr.msg_name = &fp->raddr[i];
            fp->smsg[out].msg_hdr.msg_namelen = fp->rmsg[i].msg_hdr.msg_namelen;
            out++;
        }
        fp->hits += out;
        for (int done = 0; done < out;) {
            int sent = sendmmsg(s->fd, fp->smsg + done, out - done, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (sent <= 0) {
                if (sent < 0 && errno == EINTR)
                    continue;
                /* A full send buffer (or an asker gone) drops this reply as the network would. */
                sent = 1;
            }
            done += sent;
        }
        if (n < BATCH)
            return;
    }
}

/* struct sched_attr of sched_setattr(2) (glibc has no wrapper before 2.41) */
struct sched_attr_v1 {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
};

/* Ask the scheduler for short slices: on EEVDF kernels (6.12+) a task with a shorter slice gets an earlier
 * deadline, so on a busy machine it preempts the running task when a query wakes it instead of waiting for
 * that task's slice to end. Its share of the CPU does not change (same weight, same nice). Older kernels
 * ignore the runtime of a SCHED_OTHER thread; any failure leaves the thread as it was. */
static void ask_for_short_slices(uint64_t slice_ns) {
    struct sched_attr_v1 attr;
    memset(&attr, 0, sizeof attr);
    if (syscall(SYS_sched_getattr, 0, &attr, sizeof attr, 0) < 0)
        return;
    if (attr.policy != SCHED_OTHER)
        return;  /* someone chose a policy for this process: leave it */
    attr.size = sizeof attr;
    attr.flags = 0;
    attr.runtime = slice_ns;
    if (syscall(SYS_sched_setattr, 0, &attr, 0) < 0) { /* not supported: the default slice stays */ }
}

static void *serve(void *arg) {
    struct fp *fp = arg;
    if (fp->slice_ns)
        ask_for_short_slices(fp->slice_ns);
    struct epoll_event evs[32];
    for (;;) {
        int n = epoll_wait(fp->ep, evs, 32, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return NULL;
        }
        for (int i = 0; i < n; i++) {
            /* One socket's batch per lock: a clear or remove from the loop waits for one batch at most. */
            pthread_mutex_lock(&fp->mu);
            int stop = fp->stop;
            if (!stop && evs[i].data.u64 != WAKE_TAG)
                serve_slot(fp, evs[i].data.u64);
            pthread_mutex_unlock(&fp->mu);
            if (stop)
                return NULL;
            if (evs[i].data.u64 == WAKE_TAG) {
                uint64_t v;
                if (read(fp->wake, &v, sizeof v) < 0) { /* nothing to do: a wake is a wake */ }
            }
        }
    }
}

/* A server handing misses to `miss_fd`; its thread asks for `slice_ns` slices (0: the kernel's default).
 * NULL (errno set) on failure. */
struct fp *pcdns_new(int miss_fd, uint64_t slice_ns) {
    struct fp *fp = calloc(1, sizeof *fp);
    if (fp == NULL)
        return NULL;
    fp->miss = miss_fd;
    fp->slice_ns = slice_ns;
    fp->ep = epoll_create1(EPOLL_CLOEXEC);
    fp->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
    int err;
    if (fp->ep < 0 || fp->wake < 0 || epoll_ctl(fp->ep, EPOLL_CTL_ADD, fp->wake, &ev) < 0)
        goto fail;
    pthread_mutex_init(&fp->mu, NULL);
    /* The thread takes no signals: the daemon's Python signal handlers run on its main thread. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    err = pthread_create(&fp->thread, NULL, serve, fp);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err != 0) {
        pthread_mutex_destroy(&fp->mu);
        errno = err;
        goto fail;
    }
    return fp;
fail:
    err = errno;
    if (fp->ep >= 0)
        close(fp->ep);
    if (fp->wake >= 0)
        close(fp->wake);
    free(fp);
    errno = err;
    return NULL;
}

/* Stop the thread and free everything (the scopes' sockets and the miss socket stay open: Python's). */
void pcdns_free(struct fp *fp) {
    uint64_t one = 1;
    pthread_mutex_lock(&fp->mu);
    fp->stop = 1;
    pthread_mutex_unlock(&fp->mu);
    if (write(fp->wake, &one, sizeof one) < 0) { /* the eventfd cannot be full: one write per close */ }
    pthread_join(fp->thread, NULL);
    for (uint32_t i = 0; i < fp->nslots; i++) {
        if (fp->slots[i]) {
            clear_slot(fp->slots[i]);
            free(fp->slots[i]);
        }
    }
    free(fp->slots);
    close(fp->ep);
    close(fp->wake);
    pthread_mutex_destroy(&fp->mu);
    free(fp);
}

/* Serve `fd` (a bound, non-blocking IPv4 UDP socket); its tag (generation << 32 | slot), or -errno. */
int64_t pcdns_add(struct fp *fp, int fd) {
    int domain = 0;
    socklen_t dlen = sizeof domain;
    if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &dlen) < 0)
        return -errno;
    if (domain != AF_INET)
        return -EAFNOSUPPORT;  /* askers' addresses are kept as struct sockaddr_in */
    pthread_mutex_lock(&fp->mu);
    uint32_t idx = 0;
    while (idx < fp->nslots && fp->slots[idx] && fp->slots[idx]->fd >= 0)
        idx++;
    int64_t ret;
    if (idx == fp->nslots) {
        uint32_t grown = fp->nslots ? fp->nslots * 2 : 16;
        struct slot **slots = realloc(fp->slots, grown * sizeof *slots);
        if (slots == NULL) {
            ret = -ENOMEM;
            goto out;
        }
        memset(slots + fp->nslots, 0, (grown - fp->nslots) * sizeof *slots);
        fp->slots = slots;
        fp->nslots = grown;
    }
    if (fp->slots[idx] == NULL) {
        fp->slots[idx] = calloc(1, sizeof(struct slot));
        if (fp->slots[idx] == NULL) {
            ret = -ENOMEM;
            goto out;
        }
        fp->slots[idx]->fd = -1;
    }
    struct slot *s = fp->slots[idx];
    uint64_t tag = ((uint64_t)(s->gen + 1) << 32) | idx;
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};
    if (epoll_ctl(fp->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
        ret = -errno;
        goto out;
    }
    s->gen++;
    s->fd = fd;
    s->count = 0;
    ret = (int64_t)tag;
out:
    pthread_mutex_unlock(&fp->mu);
    return ret;
}

/* Stop serving a scope's socket and drop its cache; the caller closes the socket afterwards. */
int pcdns_remove(struct fp *fp, uint64_t tag) {
    pthread_mutex_lock(&fp->mu);
    struct slot *s = find_slot(fp, tag);
    int ret = -ENOENT;
    if (s) {
        epoll_ctl(fp->ep, EPOLL_CTL_DEL, s->fd, NULL);
        clear_slot(s);
        s->fd = -1;
        ret = 0;
    }
    pthread_mutex_unlock(&fp->mu);
    return ret;
}

/* Cache the replies (each without its 2-byte id; `nvar` of them, back to back, `lens` long) for the query
 * bytes `key` (the query after its id). 0, or -errno. */
int pcdns_put(struct fp *fp, uint64_t tag, const uint8_t *key, uint32_t klen, const uint8_t *vars,
              const uint32_t *lens, uint32_t nvar) {
    if (nvar == 0 || nvar > MAX_VARIANTS || klen == 0 || klen > MSG_MAX)
        return -EINVAL;
    uint32_t total = 0;
    for (uint32_t i = 0; i < nvar; i++) {
        if (lens[i] + 2 > MSG_MAX)
            return -EMSGSIZE;
        total += lens[i];
    }
    struct entry *e = malloc(sizeof *e + klen + total);
    if (e == NULL)
        return -ENOMEM;
    e->hash = hash_bytes(key, klen);
    e->klen = klen;
    e->nvar = nvar;
    e->rr = 0;
    memcpy(e->data, key, klen);
    memcpy(e->data + klen, vars, total);
    e->off[0] = 0;
    for (uint32_t i = 0; i < nvar; i++)
        e->off[i + 1] = e->off[i] + lens[i];
    pthread_mutex_lock(&fp->mu);
    struct slot *s = find_slot(fp, tag);
    int ret = -ENOENT;
    if (s) {
        if (lookup(s, key, klen)) {
            free(e);  /* another miss for the same query got there first */
        } else {
            if (s->count >= MAX_ENTRIES)
                clear_slot(s);
            e->next = s->buckets[e->hash % BUCKETS];
            s->buckets[e->hash % BUCKETS] = e;
            s->count++;
        }
        ret = 0;
    } else {
        free(e);
    }
    pthread_mutex_unlock(&fp->mu);
    return ret;
}

/* Drop the cached replies of one scope, or of every scope when `tag` is -1. */
void pcdns_clear(struct fp *fp, int64_t tag) {
    pthread_mutex_lock(&fp->mu);
    if (tag == -1) {
        for (uint32_t i = 0; i < fp->nslots; i++)
            if (fp->slots[i] && fp->slots[i]->fd >= 0)
                clear_slot(fp->slots[i]);
    } else {
        struct slot *s = find_slot(fp, (uint64_t)tag);
        if (s)
            clear_slot(s);
    }
    pthread_mutex_unlock(&fp->mu);
}

/* Counters: out[0] replies sent from the cache, out[1] datagrams handed to Python. */
void pcdns_stats(struct fp *fp, uint64_t out[2]) {
    pthread_mutex_lock(&fp->mu);
    out[0] = fp->hits;
    out[1] = fp->misses;
    pthread_mutex_unlock(&fp->mu);
}

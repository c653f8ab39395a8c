/* loadgen: bounded short-connection TCP load generator for the nfq-lb benchmark.
 *
 * usage: loadgen [-c THREADS] [-n TOTAL] [-T MAXSEC] [-o SOCK_TIMEOUT_MS] [-F MAXFAIL] [-S SRC_IP] [-v] TARGET[,TARGET...]
 *        TARGET = IPv4:PORT or [IPv6]:PORT; connection i goes to TARGET[i % count] (the `direct`
 *        scenario spreads its connections over the backends itself; a VIP scenario passes one
 *        target). SRC_IP is of the targets' family.
 *
 * Each of THREADS threads takes connection numbers from a shared counter until TOTAL are taken
 * or MAXSEC has passed, and for each: socket(), connect() (blocking), send
 * "GET / HTTP/1.0\r\n\r\n", read the response to EOF, close(). The body's first line (the
 * backend pod's name) is counted in a per-backend histogram.
 *
 * Connect latency = connect() start -> connect() returned, i.e. SYN sent -> SYN-ACK received
 * (established on the client), in microseconds, over the successful connections. Request
 * latency = connect() start -> EOF of the response: what a slow backend costs the client shows
 * here, not in the connect time (the kernel answers the SYN, whatever the server does).
 *
 * Client ports: no SO_LINGER, no SO_REUSEADDR, no fixed port: the kernel picks ephemeral ports
 * as for any client (-S binds the source address only, with IP_BIND_ADDRESS_NO_PORT, so the
 * port is still chosen at connect() time). The server (nginx, keepalive off, HTTP/1.0) closes first, so TIME_WAIT is on
 * the backend and the client's ports are free at once: the kernel reuses client ports while
 * the backend socket and the node's conntrack entry of the previous connection on that
 * 4-tuple are still in TIME_WAIT (realistic port reuse; the balancer must handle it).
 *
 * Bounds: TOTAL connections, MAXSEC wall time, SOCK_TIMEOUT_MS per connect/read/write
 * (default 3000 ms: one lost SYN costs the 1 s retransmit and shows in p99, it does not fail),
 * and MAXFAIL failed connections (default 0 = no limit): a broken path is reported as such
 * (aborted=1) instead of spending MAXSEC on timeouts.
 *
 * Output (one line, key=value, then the histogram):
 *   attempted= ok= fail= connect_fail= io_fail= elapsed_s= conn_per_s= p50_us= p90_us= p99_us= max_us=
 *   req_p50_us= req_p99_us= req_max_us= first_error= aborted= | name=count ...
 * conn_per_s = ok / elapsed. Exit status 0 if every attempted connection succeeded, 1 otherwise.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MAXT 64
#define MAXNAMES 16
#define MAXTARGETS 16

static struct sockaddr_storage targets[MAXTARGETS];
static socklen_t target_len[MAXTARGETS];
static int family = AF_UNSPEC;
static int ntargets;
static long total = 10000;
static double maxsec = 60;
static int sock_timeout_ms = 3000;
static int verbose;
static struct sockaddr_storage src_addr;
static socklen_t src_len;
static int have_src;
static atomic_long next_idx, failures;
static long maxfail;
static double t_start, t_deadline;

struct tstate {
    pthread_t th;
    long ok, connect_fail, io_fail, attempted;
    uint32_t *lat;            /* connect latencies (us) of successful connections */
    uint32_t *rlat;           /* request latencies (us), same connections */
    long nlat, caplat;
    char names[MAXNAMES][32];
    long hits[MAXNAMES];
    int nn;
    long other;               /* bodies beyond MAXNAMES distinct names */
    int first_errno;
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* "IPv4:PORT" or "[IPv6]:PORT" (a bare IPv6 address: the text after the last colon is the port) */
static int parse_target(const char *s, struct sockaddr_storage *out, socklen_t *len) {
    char buf[80];
    snprintf(buf, sizeof buf, "%s", s);
    char *colon = strrchr(buf, ':');
    if (!colon) return -1;
    *colon = 0;
    int port = atoi(colon + 1);
    if (port <= 0 || port > 65535) return -1;
    char *host = buf;
    size_t hl = strlen(host);
    if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { host[hl - 1] = 0; host++; }
    memset(out, 0, sizeof *out);
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET; v4->sin_port = htons(port); *len = sizeof *v4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6; v6->sin6_port = htons(port); *len = sizeof *v6;
        return 0;
    }
    return -1;
}

static void record_name(struct tstate *st, const char *name) {
    for (int k = 0; k < st->nn; k++)
        if (!strcmp(st->names[k], name)) { st->hits[k]++; return; }
    if (st->nn < MAXNAMES) {
        snprintf(st->names[st->nn], sizeof st->names[0], "%s", name);
        st->hits[st->nn++] = 1;
    } else st->other++;
}

static void *worker(void *arg) {
    struct tstate *st = arg;
    static const char req[] = "GET / HTTP/1.0\r\n\r\n";
    struct timeval tv = { sock_timeout_ms / 1000, (sock_timeout_ms % 1000) * 1000 };
    for (;;) {
        long i = atomic_fetch_add(&next_idx, 1);
        if (i >= total || now() >= t_deadline || (maxfail && atomic_load(&failures) >= maxfail)) break;
        st->attempted++;
        const struct sockaddr_storage *dst = &targets[i % ntargets];
        int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (s < 0) { st->connect_fail++; atomic_fetch_add(&failures, 1); if (!st->first_errno) st->first_errno = errno; continue; }
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);   /* also bounds a blocking connect() */
        if (have_src) {
            int one = 1;
            setsockopt(s, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
            if (bind(s, (const struct sockaddr *)&src_addr, src_len) < 0) {
                if (!st->first_errno) st->first_errno = errno;
                st->connect_fail++;
                atomic_fetch_add(&failures, 1);
                close(s);
                continue;
            }
        }
        double c0 = now();
        if (connect(s, (const struct sockaddr *)dst, target_len[i % ntargets]) < 0) {
            if (!st->first_errno) st->first_errno = errno;
            if (verbose) perror("connect");
            st->connect_fail++;
            atomic_fetch_add(&failures, 1);
            close(s);
            continue;
        }
        double c1 = now();
        char buf[512];
        int n = 0, r;
        if (send(s, req, sizeof req - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof req - 1)) {
            if (!st->first_errno) st->first_errno = errno;
            st->io_fail++;
            atomic_fetch_add(&failures, 1);
            close(s);
            continue;
        }
        int eof = 0;
        for (;;) {   /* read to EOF; keep the first sizeof buf - 1 bytes */
            char sink[512];
            char *p = n < (int)sizeof buf - 1 ? buf + n : sink;
            size_t room = n < (int)sizeof buf - 1 ? sizeof buf - 1 - n : sizeof sink;
            r = read(s, p, room);
            if (r == 0) { eof = 1; break; }
            if (r < 0) { if (errno == EINTR) continue; break; }
            if (p == buf + n) n += r;
        }
        double c2 = now();
        if (!eof && !st->first_errno) st->first_errno = errno;
        close(s);
        buf[n] = 0;
        char *body = strstr(buf, "\r\n\r\n");
        if (!eof || !body || strncmp(buf, "HTTP/1.", 7)) {
            if (verbose) fprintf(stderr, "bad response (%d bytes, eof=%d)\n", n, eof);
            st->io_fail++;
            atomic_fetch_add(&failures, 1);
            continue;
        }
        body += 4;
        char *nl = strchr(body, '\n');
        if (nl) *nl = 0;
        record_name(st, *body ? body : "(empty)");
        if (st->nlat == st->caplat) {
            st->caplat = st->caplat ? st->caplat * 2 : 4096;
            st->lat = realloc(st->lat, st->caplat * sizeof *st->lat);
            st->rlat = realloc(st->rlat, st->caplat * sizeof *st->rlat);
            if (!st->lat || !st->rlat) { perror("realloc"); exit(2); }
        }
        double us = (c1 - c0) * 1e6, rus = (c2 - c0) * 1e6;
        st->rlat[st->nlat] = rus > 4e9 ? 4000000000u : (uint32_t)rus;
        st->lat[st->nlat++] = us > 4e9 ? 4000000000u : (uint32_t)us;
        st->ok++;
    }
    return NULL;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static uint32_t pct(const uint32_t *v, long n, double p) {
    if (n <= 0) return 0;
    long k = (long)(p / 100.0 * (n - 1) + 0.5);
    if (k >= n) k = n - 1;
    return v[k];
}

int main(int argc, char **argv) {
    int threads = 4, o;
    while ((o = getopt(argc, argv, "c:n:T:o:F:S:vh")) != -1) switch (o) {
        case 'S': {
            struct sockaddr_in *v4 = (struct sockaddr_in *)&src_addr;
            struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&src_addr;
            memset(&src_addr, 0, sizeof src_addr);
            if (inet_pton(AF_INET, optarg, &v4->sin_addr) == 1) { v4->sin_family = AF_INET; src_len = sizeof *v4; }
            else if (inet_pton(AF_INET6, optarg, &v6->sin6_addr) == 1) { v6->sin6_family = AF_INET6; src_len = sizeof *v6; }
            else { fprintf(stderr, "%s: bad -S address '%s'\n", argv[0], optarg); return 2; }
            have_src = 1;
            break;
        }
        case 'F': maxfail = atol(optarg); break;
        case 'c': threads = atoi(optarg); break;
        case 'n': total = atol(optarg); break;
        case 'T': maxsec = atof(optarg); break;
        case 'o': sock_timeout_ms = atoi(optarg); break;
        case 'v': verbose = 1; break;
        default:
            fprintf(stderr, "usage: %s [-c THREADS] [-n TOTAL] [-T MAXSEC] [-o SOCK_TIMEOUT_MS] [-F MAXFAIL] [-S SRC_IP] [-v] IP:PORT[,IP:PORT...]\n", argv[0]);
            return 2;
    }
    if (optind >= argc || threads < 1 || threads > MAXT || total < 1 || maxsec <= 0 || maxsec > 3600 || sock_timeout_ms < 1) {
        fprintf(stderr, "%s: bad arguments (threads 1..%d, total >= 1, 0 < maxsec <= 3600, one target list)\n", argv[0], MAXT);
        return 2;
    }
    char list[1024];
    snprintf(list, sizeof list, "%s", argv[optind]);
    for (char *save = NULL, *t = strtok_r(list, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        if (ntargets == MAXTARGETS || parse_target(t, &targets[ntargets], &target_len[ntargets]) < 0) {
            fprintf(stderr, "%s: bad target '%s' (IPv4:PORT or [IPv6]:PORT, at most %d)\n", argv[0], t, MAXTARGETS);
            return 2;
        }
        if (family != AF_UNSPEC && targets[ntargets].ss_family != family) {
            fprintf(stderr, "%s: targets of both families in one run\n", argv[0]);
            return 2;
        }
        family = targets[ntargets].ss_family;
        ntargets++;
    }
    if (have_src && src_addr.ss_family != family) {
        fprintf(stderr, "%s: -S address of another family than the targets\n", argv[0]);
        return 2;
    }
    struct tstate *ts = calloc(threads, sizeof *ts);
    t_start = now();
    t_deadline = t_start + maxsec;
    for (int i = 0; i < threads; i++) pthread_create(&ts[i].th, NULL, worker, &ts[i]);
    for (int i = 0; i < threads; i++) pthread_join(ts[i].th, NULL);
    double elapsed = now() - t_start;

    long ok = 0, cf = 0, iof = 0, att = 0, nlat = 0, other = 0;
    int first_errno = 0;
    char names[MAXNAMES * 4][32];
    long hits[MAXNAMES * 4];
    int nn = 0;
    for (int i = 0; i < threads; i++) {
        ok += ts[i].ok; cf += ts[i].connect_fail; iof += ts[i].io_fail; att += ts[i].attempted;
        nlat += ts[i].nlat; other += ts[i].other;
        if (!first_errno) first_errno = ts[i].first_errno;
        for (int k = 0; k < ts[i].nn; k++) {
            int j;
            for (j = 0; j < nn && strcmp(names[j], ts[i].names[k]); j++) {}
            if (j == nn) {
                if (nn == MAXNAMES * 4) { other += ts[i].hits[k]; continue; }
                memcpy(names[nn], ts[i].names[k], 32);
                hits[nn++] = 0;
            }
            hits[j] += ts[i].hits[k];
        }
    }
    uint32_t *all = malloc((nlat ? nlat : 1) * sizeof *all), *rall = malloc((nlat ? nlat : 1) * sizeof *rall);
    long m = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + m, ts[i].lat, ts[i].nlat * sizeof *all);
        memcpy(rall + m, ts[i].rlat, ts[i].nlat * sizeof *rall);
        m += ts[i].nlat;
    }
    qsort(all, nlat, sizeof *all, cmp_u32);
    qsort(rall, nlat, sizeof *rall, cmp_u32);
    printf("attempted=%ld ok=%ld fail=%ld connect_fail=%ld io_fail=%ld elapsed_s=%.4f conn_per_s=%.0f "
           "p50_us=%u p90_us=%u p99_us=%u max_us=%u req_p50_us=%u req_p99_us=%u req_max_us=%u first_error=%s aborted=%d |",
           att, ok, cf + iof, cf, iof, elapsed, elapsed > 0 ? ok / elapsed : 0.0,
           pct(all, nlat, 50), pct(all, nlat, 90), pct(all, nlat, 99), nlat ? all[nlat - 1] : 0,
           pct(rall, nlat, 50), pct(rall, nlat, 99), nlat ? rall[nlat - 1] : 0,
           first_errno ? strerrorname_np(first_errno) : "none",
           (att < total && (elapsed >= maxsec || (maxfail && cf + iof >= maxfail))) ? 1 : 0);
    for (int k = 0; k < nn; k++) printf(" %s=%ld", names[k], hits[k]);
    if (other) printf(" (other)=%ld", other);
    printf("\n");
    return (cf + iof) ? 1 : 0;
}

/* httpwait: wait for an HTTP endpoint, and time a config change until the daemon shows it.
 *
 * usage: httpwait [-a ADDR] -p PORT [-u PATH] [-T TIMEOUT_MS] [-i INTERVAL_US]
 *                 [-w NEEDLE] [-m NEW_FILE -c CONFIG_FILE] [-k PID] [-x]
 *
 * Plain HTTP/1.0 GET of PATH (default /healthz) on ADDR:PORT (default 127.0.0.1), one
 * connection per poll, every INTERVAL_US (default 1000 us), bounded by TIMEOUT_MS (default 10000).
 *
 *  wait mode (no -w):  until a GET answers status 200. Prints `ready_ms=`.
 *  change mode (-w):   first one GET, which must NOT contain NEEDLE (its duration is printed as
 *                      get_ms: the resolution of what follows); then, at t0: rename(NEW_FILE,
 *                      CONFIG_FILE) if -m/-c (an atomic write of the config), kill(PID, SIGHUP) if
 *                      -k; then GET every INTERVAL_US until the body contains NEEDLE.
 *                      Prints `update_ms=` (t0 -> end of the first GET whose body has NEEDLE),
 *                      `polls=`, `get_ms=` and `body_bytes=`.
 *  -x: print the body of the last GET to stdout after the result line.
 * Exit status 0 when the condition was met in time, 1 on timeout or error.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static char *body;
static size_t cap, len;

/* GET: returns HTTP status (or -1); the whole response is in body[0..len) */
static int get(struct sockaddr_in *to, const char *path) {
    len = 0;
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return -1;
    struct timeval tv = { 2, 0 };
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (connect(s, (struct sockaddr *)to, sizeof *to) < 0) { close(s); return -1; }
    char req[512];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
    if (send(s, req, n, MSG_NOSIGNAL) != n) { close(s); return -1; }
    for (;;) {
        if (cap - len < 65536) {
            cap = cap ? cap * 2 : 1 << 20;
            body = realloc(body, cap);
            if (!body) { perror("realloc"); exit(2); }
        }
        ssize_t r = read(s, body + len, cap - len - 1);
        if (r == 0) break;
        if (r < 0) { if (errno == EINTR) continue; close(s); return -1; }
        len += r;
    }
    close(s);
    body[len] = 0;
    int status = -1;
    if (len > 12 && !strncmp(body, "HTTP/1.", 7)) status = atoi(body + 9);
    return status;
}

int main(int argc, char **argv) {
    const char *addr = "127.0.0.1", *path = "/healthz", *needle = NULL, *newf = NULL, *conf = NULL;
    int port = 0, pid = 0, dump = 0, o;
    long timeout_ms = 10000, interval_us = 1000;
    while ((o = getopt(argc, argv, "a:p:u:T:i:w:m:c:k:xh")) != -1) switch (o) {
        case 'a': addr = optarg; break;
        case 'p': port = atoi(optarg); break;
        case 'u': path = optarg; break;
        case 'T': timeout_ms = atol(optarg); break;
        case 'i': interval_us = atol(optarg); break;
        case 'w': needle = optarg; break;
        case 'm': newf = optarg; break;
        case 'c': conf = optarg; break;
        case 'k': pid = atoi(optarg); break;
        case 'x': dump = 1; break;
        default:
            fprintf(stderr, "usage: %s [-a ADDR] -p PORT [-u PATH] [-T TIMEOUT_MS] [-i INTERVAL_US] [-w NEEDLE] [-m NEW -c CONFIG] [-k PID] [-x]\n", argv[0]);
            return 2;
    }
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (port < 1 || port > 65535 || inet_pton(AF_INET, addr, &to.sin_addr) != 1 || timeout_ms < 1 || timeout_ms > 600000 ||
        interval_us < 0 || (!!newf != !!conf)) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        return 2;
    }
    struct timespec iv = { interval_us / 1000000, (interval_us % 1000000) * 1000 };
    if (!needle) {
        double t0 = now(), dl = t0 + timeout_ms / 1e3;
        int st;
        while ((st = get(&to, path)) != 200) {
            if (now() > dl) { printf("ready_ms=-1 timeout=1 last_status=%d\n", st); return 1; }
            nanosleep(&iv, NULL);
        }
        printf("ready_ms=%.2f\n", (now() - t0) * 1e3);
        if (dump) fwrite(body, 1, len, stdout);
        return 0;
    }
    double g0 = now();
    int st = get(&to, path);
    double get_ms = (now() - g0) * 1e3;
    if (st != 200) { printf("update_ms=-1 error=first_get_status_%d\n", st); return 1; }
    if (memmem(body, len, needle, strlen(needle))) { printf("update_ms=-1 error=needle_present_before_change\n"); return 1; }
    double t0 = now(), dl = t0 + timeout_ms / 1e3;
    if (newf && rename(newf, conf) < 0) { perror("rename"); return 1; }
    if (pid && kill(pid, SIGHUP) < 0) { perror("kill(SIGHUP)"); return 1; }
    long polls = 0;
    for (;;) {
        st = get(&to, path);
        polls++;
        double t = now();
        if (st == 200 && memmem(body, len, needle, strlen(needle))) {
            printf("update_ms=%.3f polls=%ld get_ms=%.3f body_bytes=%zu\n", (t - t0) * 1e3, polls, get_ms, len);
            break;
        }
        if (t > dl) {
            printf("update_ms=-1 timeout=1 polls=%ld get_ms=%.3f last_status=%d\n", polls, get_ms, st);
            return 1;
        }
        nanosleep(&iv, NULL);
    }
    if (dump) fwrite(body, 1, len, stdout);
    return 0;
}

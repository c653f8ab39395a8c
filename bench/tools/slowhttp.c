/* slowhttp: an HTTP/1.0 server that answers every request after a fixed delay: the slow
 * backend of `bench/run --slow-backend MS`.
 *
 * usage: slowhttp -p PORT -d DELAY_MS -n NAME [-t THREADS] [-T MAXSEC]
 *
 * nginx cannot hold a response back without extra modules, and delaying the pod's link
 * (tc netem) would slow the handshake too, so the balancer would see the slowness in the SYN
 * round trip; a real slow backend accepts at once (the kernel answers the SYN) and is slow to
 * respond. So: THREADS threads (default 64) block in accept() on one listening socket, [::]:PORT
 * for both families (IPV6_V6ONLY off); each reads the request head, sleeps DELAY_MS, answers
 * "200, NAME\n" as the testbed's nginx does, and closes first (TIME_WAIT on the server, as with
 * nginx). At most THREADS requests are served at once; more wait in the backlog, as on an
 * overloaded server. The process exits after MAXSEC (default 3600) whatever happens.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int lsock;
static long delay_ms;
static char response[256];
static int response_len;

static void *serve(void *arg) {
    (void)arg;
    struct timeval tv = { 3, 0 };
    for (;;) {
        int c = accept4(lsock, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            perror("accept");
            usleep(10000);
            continue;
        }
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        char buf[2048];
        int n = 0, r;
        while (n < (int)sizeof buf - 1 && (r = read(c, buf + n, sizeof buf - 1 - n)) > 0) {
            n += r;
            buf[n] = 0;
            if (strstr(buf, "\r\n\r\n")) break;
        }
        struct timespec d = { delay_ms / 1000, (delay_ms % 1000) * 1000000L };
        while (nanosleep(&d, &d) < 0 && errno == EINTR) {}
        if (n > 0) (void)!write(c, response, response_len);
        close(c);
    }
    return NULL;
}

int main(int argc, char **argv) {
    int port = 0, threads = 64, o;
    long maxsec = 3600;
    const char *name = NULL;
    while ((o = getopt(argc, argv, "p:d:n:t:T:h")) != -1) switch (o) {
        case 'p': port = atoi(optarg); break;
        case 'd': delay_ms = atol(optarg); break;
        case 'n': name = optarg; break;
        case 't': threads = atoi(optarg); break;
        case 'T': maxsec = atol(optarg); break;
        default:
            fprintf(stderr, "usage: %s -p PORT -d DELAY_MS -n NAME [-t THREADS] [-T MAXSEC]\n", argv[0]);
            return 2;
    }
    if (!name || port < 1 || port > 65535 || delay_ms < 0 || delay_ms > 60000 || threads < 1 || threads > 1024 || maxsec < 1) {
        fprintf(stderr, "%s: bad arguments (need -p -d -n; 0 <= DELAY_MS <= 60000, 1 <= THREADS <= 1024)\n", argv[0]);
        return 2;
    }
    char body[80];
    int bl = snprintf(body, sizeof body, "%s\n", name);
    response_len = snprintf(response, sizeof response,
                            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", bl, body);
    signal(SIGPIPE, SIG_IGN);
    alarm((unsigned)maxsec);   /* SIGALRM's default action ends the process: a bounded lifetime */
    lsock = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lsock < 0) { perror("socket"); return 1; }
    int zero = 0, one = 1;
    setsockopt(lsock, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    setsockopt(lsock, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(port), .sin6_addr = IN6ADDR_ANY_INIT };
    if (bind(lsock, (struct sockaddr *)&a, sizeof a) < 0 || listen(lsock, 4096) < 0) { perror("bind/listen"); return 1; }
    for (int i = 0; i < threads; i++) {
        pthread_t th;
        if (pthread_create(&th, NULL, serve, NULL) != 0) { perror("pthread_create"); return 1; }
    }
    printf("listening on [::]:%d, delay %ld ms, %d threads, name %s\n", port, delay_ms, threads, name);
    fflush(stdout);
    pause();
    return 0;
}

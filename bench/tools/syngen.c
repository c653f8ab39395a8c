/* syngen: raw-socket TCP SYN generator, and the clock of the balancer's SYN rate.
 *
 * usage: syngen -s SRC_IP -d DST_IP -p DST_PORT -k COUNT [-b FIRST_SPORT] [-T MAXSEC]
 *               [-q QUEUE_PROC_FILE] [-P PID] [-W WAIT_SEC] [-r SEED]
 *
 * Sends exactly COUNT TCP SYNs SRC_IP:sport -> DST_IP:DST_PORT, sport = FIRST_SPORT + i (all
 * distinct: FIRST_SPORT + COUNT <= 65536), as fast as one thread can (socket(AF_INET,
 * SOCK_RAW, IPPROTO_RAW): we build the IPv4 and TCP headers; the kernel fills in the IP header
 * checksum and total length, we compute the TCP checksum). The SYN carries the options of a
 * Linux SYN (MSS 1460, SACK permitted, timestamps, window scale 7): 60 bytes on the wire.
 * IPv6 (SRC_IP and DST_IP IPv6 addresses): socket(AF_INET6, SOCK_RAW, IPPROTO_TCP) bound to
 * SRC_IP, we build the TCP header only and the kernel the IPv6 header and, with IPV6_CHECKSUM,
 * the TCP checksum: 80 bytes on the wire.
 * A send that fails with ENOBUFS/EAGAIN is retried (bounded by MAXSEC), so exactly COUNT
 * leave (or the program says how many did not).
 *
 * With -q FILE (the netfilter queue statistics of the balancer's netns, e.g.
 * /proc/<pid of a process in that netns>/net/netfilter/nfnetlink_queue): read the queues
 * before sending, then after sending poll the file every 200 us (bounded by WAIT_SEC) until
 * every SYN is accounted for and none waits: the advance of id_sequence (summed over queues;
 * the kernel numbers a packet once it passed the queue-length check, so this counts the
 * queued SYNs, including those then lost as user_dropped) plus the advance of queue_dropped
 * (SYNs refused because the queue was full: they get no id) reaches COUNT, and the sum of
 * queue_total is 0 (every queued SYN has its verdict). The time from the first
 * send to that moment is `done_s`; `verdict_per_s` = (COUNT - drops) / done_s, where drops =
 * the advance of queue_dropped + user_dropped (equal to COUNT / done_s when no SYN was dropped).
 * With -P PID: CPU time of that process over the same interval: cpu_s = utime + stime of all its
 * threads from /proc/PID/stat (clock-tick sampled), sched_cpu_s = the sum of its threads'
 * /proc/PID/task/TID/schedstat run times (nanosecond accounting; the finer of the two).
 *
 * Output: one line, key=value:
 *   sent= send_s= send_pps= done_s= queued= queue_dropped= user_dropped= verdict_per_s= cpu_s= sched_cpu_s= timeout=0|1
 * Exit status 0 if COUNT were sent and (with -q) all were accounted for within WAIT_SEC.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

struct qsum { unsigned long long idseq, total, qdrop, udrop; int queues; };

/* /proc/net/netfilter/nfnetlink_queue line:
 * queue_num peer_portid queue_total copy_mode copy_range queue_dropped user_dropped id_sequence 1 */
static int read_queues(const char *path, struct qsum *s) {
    memset(s, 0, sizeof *s);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    unsigned long long q, portid, total, mode, range, qd, ud, seq, one;
    while (fscanf(f, "%llu %llu %llu %llu %llu %llu %llu %llu %llu", &q, &portid, &total, &mode, &range, &qd, &ud, &seq, &one) == 9) {
        s->idseq += seq; s->total += total; s->qdrop += qd; s->udrop += ud; s->queues++;
    }
    fclose(f);
    return 0;
}

static double proc_cpu(int pid) {
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *p = strrchr(buf, ')');   /* comm may hold spaces */
    if (!p) return -1;
    unsigned long long ut = 0, stt = 0;
    /* after ") ": state(3) ppid(4) pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15) */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &stt) != 2) return -1;
    return (double)(ut + stt) / sysconf(_SC_CLK_TCK);
}

/* on-CPU time of every thread of PID from /proc/PID/task/TID/schedstat (ns resolution) */
static double proc_sched(int pid) {
    char path[96];
    snprintf(path, sizeof path, "/proc/%d/task", pid);
    DIR *d = opendir(path);
    if (!d) return -1;
    double sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char p2[160];
        snprintf(p2, sizeof p2, "/proc/%d/task/%s/schedstat", pid, e->d_name);
        FILE *f = fopen(p2, "r");
        if (!f) continue;
        unsigned long long ns = 0;
        if (fscanf(f, "%llu", &ns) == 1) sum += ns / 1e9;
        fclose(f);
    }
    closedir(d);
    return sum;
}

static uint16_t csum_fold(uint32_t s) {
    while (s >> 16) s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

int main(int argc, char **argv) {
    const char *src = NULL, *dst = NULL, *qfile = NULL;
    int dport = 0, pid = 0, o;
    long count = 0, first = 20000;
    double maxsec = 30, waitsec = 30;
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    while ((o = getopt(argc, argv, "s:d:p:k:b:T:q:P:W:r:h")) != -1) switch (o) {
        case 's': src = optarg; break;
        case 'd': dst = optarg; break;
        case 'p': dport = atoi(optarg); break;
        case 'k': count = atol(optarg); break;
        case 'b': first = atol(optarg); break;
        case 'T': maxsec = atof(optarg); break;
        case 'q': qfile = optarg; break;
        case 'P': pid = atoi(optarg); break;
        case 'W': waitsec = atof(optarg); break;
        case 'r': seed = (unsigned)strtoul(optarg, NULL, 0); break;
        default:
            fprintf(stderr, "usage: %s -s SRC -d DST -p DPORT -k COUNT [-b FIRST_SPORT] [-T MAXSEC] [-q QUEUE_PROC_FILE] [-P PID] [-W WAIT_SEC]\n", argv[0]);
            return 2;
    }
    struct in_addr sa, da;
    struct in6_addr sa6, da6;
    int v6 = src && dst && inet_pton(AF_INET6, src, &sa6) == 1 && inet_pton(AF_INET6, dst, &da6) == 1;
    if (!src || !dst || (!v6 && (inet_pton(AF_INET, src, &sa) != 1 || inet_pton(AF_INET, dst, &da) != 1)) || dport < 1 || dport > 65535 ||
        count < 1 || first < 1 || first + count > 65536 || maxsec <= 0 || maxsec > 600 || waitsec <= 0 || waitsec > 600) {
        fprintf(stderr, "%s: bad arguments (need -s -d -p -k; FIRST_SPORT + COUNT <= 65536; 0 < MAXSEC, WAIT_SEC <= 600)\n", argv[0]);
        return 2;
    }
    int s = v6 ? socket(AF_INET6, SOCK_RAW, IPPROTO_TCP)
               : socket(AF_INET, SOCK_RAW, IPPROTO_RAW);   /* IPPROTO_RAW implies IP_HDRINCL */
    if (s < 0) { perror(v6 ? "socket(AF_INET6, SOCK_RAW, IPPROTO_TCP)" : "socket(AF_INET, SOCK_RAW, IPPROTO_RAW)"); return 1; }
    struct sockaddr_in6 to6 = { .sin6_family = AF_INET6, .sin6_addr = da6 };
    if (v6) {
        int off = 16;   /* the kernel computes the TCP checksum (pseudo-header included) */
        struct sockaddr_in6 from6 = { .sin6_family = AF_INET6, .sin6_addr = sa6 };
        if (setsockopt(s, IPPROTO_IPV6, IPV6_CHECKSUM, &off, sizeof off) < 0) { perror("IPV6_CHECKSUM"); return 1; }
        if (bind(s, (struct sockaddr *)&from6, sizeof from6) < 0) { perror("bind"); return 1; }
    }
    int sndbuf = 4 << 20;
    setsockopt(s, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf);

    /* packet template: IPv4 (20) + TCP (20 + 20 options) */
    uint8_t pkt[60];
    memset(pkt, 0, sizeof pkt);
    pkt[0] = 0x45; pkt[1] = 0;                     /* version/IHL, TOS */
    pkt[2] = 0; pkt[3] = sizeof pkt;               /* total length (the kernel sets it too) */
    pkt[6] = 0x40;                                 /* DF */
    pkt[8] = 64; pkt[9] = IPPROTO_TCP;             /* TTL, protocol; checksum (10-11) filled by the kernel */
    memcpy(pkt + 12, &sa, 4);
    memcpy(pkt + 16, &da, 4);
    uint8_t *t = pkt + 20;
    t[2] = dport >> 8; t[3] = dport & 0xff;        /* dest port */
    t[12] = (40 / 4) << 4;                         /* data offset: 40 bytes */
    t[13] = 0x02;                                  /* SYN */
    t[14] = 0xfa; t[15] = 0xf0;                    /* window 64240 */
    static const uint8_t opts[20] = { 2, 4, 0x05, 0xb4,          /* MSS 1460 */
                                      4, 2,                      /* SACK permitted */
                                      8, 10, 0, 0, 0, 0, 0, 0, 0, 0, /* timestamps (value filled below) */
                                      1,                         /* NOP */
                                      3, 3, 7 };                 /* window scale 7 */
    memcpy(t + 20, opts, sizeof opts);
    /* pseudo-header + constant parts of the TCP header, summed once */
    uint32_t base = 0;
    const uint16_t *w = (const uint16_t *)(pkt + 12);
    for (int i = 0; i < 4; i++) base += w[i];                    /* src + dst addresses */
    base += htons(IPPROTO_TCP) + htons(40);

    struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = da };
    struct qsum q0 = {0}, q1 = {0};
    if (qfile && read_queues(qfile, &q0) < 0) { perror(qfile); return 1; }
    if (qfile && q0.queues == 0) { fprintf(stderr, "%s: no queue bound in %s\n", argv[0], qfile); return 1; }
    double cpu0 = pid ? proc_cpu(pid) : 0, sch0 = pid ? proc_sched(pid) : 0;

    srand(seed);
    uint32_t isn = (uint32_t)rand() << 1 ^ (uint32_t)rand();
    uint32_t tsval = (uint32_t)rand();
    double t0 = now(), deadline = t0 + maxsec;
    long sent = 0, retries = 0;
    int send_errno = 0;
    while (sent < count && now() < deadline) {
        uint16_t sport = (uint16_t)(first + sent);
        uint32_t seq = isn + (uint32_t)sent * 7919u;
        uint32_t ts = htonl(tsval + (uint32_t)sent);
        t[0] = sport >> 8; t[1] = sport & 0xff;
        uint32_t nseq = htonl(seq);
        memcpy(t + 4, &nseq, 4);
        memcpy(t + 28, &ts, 4);                    /* TSval */
        t[16] = t[17] = 0;
        if (!v6) {   /* IPv6: the kernel fills the checksum in (IPV6_CHECKSUM) */
            uint32_t sum = base;
            const uint16_t *tw = (const uint16_t *)t;
            for (int i = 0; i < 20; i++) sum += tw[i];
            uint16_t c = (uint16_t)~csum_fold(sum);
            memcpy(t + 16, &c, 2);
        }
        ssize_t want = v6 ? 40 : (ssize_t)sizeof pkt;
        ssize_t r = v6 ? sendto(s, t, 40, 0, (struct sockaddr *)&to6, sizeof to6)
                       : sendto(s, pkt, sizeof pkt, 0, (struct sockaddr *)&to, sizeof to);
        if (r == want) { sent++; continue; }
        if (r < 0 && (errno == ENOBUFS || errno == EAGAIN || errno == EINTR)) { retries++; usleep(50); continue; }
        send_errno = errno;
        break;
    }
    double t_sent = now();
    int timeout = 0;
    double t_done = t_sent;
    if (qfile) {
        double wdl = t_sent + waitsec;
        for (;;) {
            if (read_queues(qfile, &q1) < 0) { perror(qfile); return 1; }
            if ((q1.idseq - q0.idseq) + (q1.qdrop - q0.qdrop) >= (unsigned long long)sent && q1.total == 0) { t_done = now(); break; }
            if (now() > wdl) { timeout = 1; t_done = now(); break; }
            struct timespec ns = { 0, 200000 };
            nanosleep(&ns, NULL);
        }
    }
    double cpu1 = pid ? proc_cpu(pid) : 0, sch1 = pid ? proc_sched(pid) : 0;
    double send_s = t_sent - t0, done_s = t_done - t0;
    unsigned long long qd = q1.qdrop - q0.qdrop, ud = q1.udrop - q0.udrop, queued = q1.idseq - q0.idseq;
    double answered = (double)sent - (double)(qd + ud);
    printf("sent=%ld send_s=%.4f send_pps=%.0f retries=%ld", sent, send_s, send_s > 0 ? sent / send_s : 0.0, retries);
    if (qfile)
        printf(" done_s=%.4f queued=%llu queue_dropped=%llu user_dropped=%llu verdict_per_s=%.0f queue_waiting=%llu",
               done_s, queued, qd, ud, done_s > 0 ? answered / done_s : 0.0, q1.total);
    if (pid) printf(" cpu_s=%.3f sched_cpu_s=%.4f", (cpu0 >= 0 && cpu1 >= 0) ? cpu1 - cpu0 : -1.0,
                    (sch0 >= 0 && sch1 >= 0) ? sch1 - sch0 : -1.0);
    printf(" timeout=%d", timeout);
    if (send_errno) printf(" send_error=%s", strerrorname_np(send_errno));
    printf("\n");
    close(s);
    return (sent == count && !timeout) ? 0 : 1;
}

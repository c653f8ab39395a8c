/*
 * floor - the NFQUEUE floor of the benchmark: the least a balancer in tcpMode mark can do.
 *
 * One thread per queue (pinned to the CPU whose packets the queue gets with
 * --queue-cpu-fanout, as nfq-lb pins its workers), bound with nfq-lb's default queue settings
 * (copy range 0xffff, GSO, queue length and receive buffer from the options). Per packet:
 * one recv, a random endpoint mark from the list given (other bits of the packet mark kept,
 * as nfq-lb keeps bits outside its mask), one verdict NF_ACCEPT with that mark. No service
 * lookup, no flow state, no batching. Behind nfq-lb's mark-mode hooks and nft map (the
 * benchmark fills the map with the marks given here), whatever nfq-lb costs above this is
 * its own overhead.
 *
 * usage: floor -q FIRST -n COUNT -m MARK[,MARK...] [-k MASK] [-L QUEUE_LEN] [-r RCVBUF]
 *              [-T SECONDS]
 *   -k MASK   the mark bits the endpoint marks own (default 0xffff0000); others are kept
 *   -T        exit after this many seconds whatever happens (default 1800)
 * SIGTERM or SIGINT: exit at once (closing the sockets unbinds the queues).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_MARKS 64
#define MAX_QUEUES 64

static uint32_t marks[MAX_MARKS];
static int mark_count;
static uint32_t mark_mask = 0xffff0000u;
static uint32_t queue_len = 8192;
static int rcvbuf = 8192 * (2048 + 256);
static int queue_count = 1;
static int first_queue;
static int cpus[1024];
static int cpu_count;

static void die(const char *what) {
    fprintf(stderr, "floor: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* sends one config message and waits for its acknowledgement */
static void config(struct mnl_socket *nl, uint16_t queue, void (*fill)(struct nlmsghdr *, void *), void *arg) {
    char buf[MNL_SOCKET_BUFFER_SIZE];
    struct nlmsghdr *nlh = nfq_nlmsg_put(buf, NFQNL_MSG_CONFIG, queue);
    nlh->nlmsg_flags |= NLM_F_ACK;
    fill(nlh, arg);
    if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0) die("config send");
    int n = mnl_socket_recvfrom(nl, buf, sizeof buf);
    if (n < 0 || mnl_cb_run(buf, n, 0, mnl_socket_get_portid(nl), NULL, NULL) < 0) die("config");
}
static void put_bind(struct nlmsghdr *nlh, void *arg) { (void)arg; nfq_nlmsg_cfg_put_cmd(nlh, AF_INET, NFQNL_CFG_CMD_BIND); }
static void put_params(struct nlmsghdr *nlh, void *arg) {
    (void)arg;
    nfq_nlmsg_cfg_put_params(nlh, NFQNL_COPY_PACKET, 0xffff);
    nfq_nlmsg_cfg_put_qmaxlen(nlh, queue_len);
    mnl_attr_put_u32(nlh, NFQA_CFG_FLAGS, htonl(NFQA_CFG_F_GSO));
    mnl_attr_put_u32(nlh, NFQA_CFG_MASK, htonl(NFQA_CFG_F_GSO | NFQA_CFG_F_FAIL_OPEN));
}

static void *run_queue(void *arg) {
    int index = (int)(intptr_t)arg;
    uint16_t queue = (uint16_t)(first_queue + index);
    if (queue_count > 1) {
        for (int i = 0; i < cpu_count; i++) {
            if (cpus[i] % queue_count == index) {
                cpu_set_t set;
                CPU_ZERO(&set);
                CPU_SET(cpus[i], &set);
                pthread_setaffinity_np(pthread_self(), sizeof set, &set);
                break;
            }
        }
    }
    struct mnl_socket *nl = mnl_socket_open(NETLINK_NETFILTER);
    if (!nl) die("socket");
    if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0) die("bind");
    int one = 1, fd = mnl_socket_get_fd(nl);
    setsockopt(fd, SOL_NETLINK, NETLINK_NO_ENOBUFS, &one, sizeof one);
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) < 0) die("SO_RCVBUFFORCE");
    config(nl, queue, put_bind, NULL);
    config(nl, queue, put_params, NULL);

    size_t size = 0xffff + 4096;
    char *buf = malloc(size);
    char out[256];
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)queue << 32) ^ (uint64_t)getpid();
    for (;;) {
        ssize_t n = recv(fd, buf, size, 0);
        if (n < 0) {
            if (errno == EINTR || errno == ENOBUFS) continue;
            die("recv");
        }
        int left = (int)n;
        for (struct nlmsghdr *nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, left); nlh = mnl_nlmsg_next(nlh, &left)) {
            struct nlattr *attr[NFQA_MAX + 1] = {0};
            if (nfq_nlmsg_parse(nlh, attr) < 0 || !attr[NFQA_PACKET_HDR]) continue;
            struct nfqnl_msg_packet_hdr *ph = mnl_attr_get_payload(attr[NFQA_PACKET_HDR]);
            uint32_t old = attr[NFQA_MARK] ? ntohl(mnl_attr_get_u32(attr[NFQA_MARK])) : 0;
            rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17;   /* xorshift64 */
            uint32_t mark = (old & ~mark_mask) | marks[rng % (uint64_t)mark_count];
            struct nlmsghdr *v = nfq_nlmsg_put(out, NFQNL_MSG_VERDICT, queue);
            nfq_nlmsg_verdict_put(v, ntohl(ph->packet_id), NF_ACCEPT);
            nfq_nlmsg_verdict_put_mark(v, mark);
            if (mnl_socket_sendto(nl, v, v->nlmsg_len) < 0) die("verdict");
        }
    }
    return NULL;
}

static void on_signal(int sig) { (void)sig; _exit(0); }

int main(int argc, char **argv) {
    int opt, ttl = 1800;
    char *list = NULL;
    while ((opt = getopt(argc, argv, "q:n:m:k:L:r:T:")) != -1) {
        switch (opt) {
        case 'q': first_queue = atoi(optarg); break;
        case 'n': queue_count = atoi(optarg); break;
        case 'm': list = optarg; break;
        case 'k': mark_mask = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'L': queue_len = (uint32_t)strtoul(optarg, NULL, 0); break;
        case 'r': rcvbuf = atoi(optarg); break;
        case 'T': ttl = atoi(optarg); break;
        default: fprintf(stderr, "usage: floor -q FIRST -n COUNT -m MARK[,MARK...] [-k MASK] [-L LEN] [-r RCVBUF] [-T S]\n"); return 2;
        }
    }
    if (!list || queue_count < 1 || queue_count > MAX_QUEUES) { fprintf(stderr, "floor: -m and -n 1..%d are needed\n", MAX_QUEUES); return 2; }
    for (char *tok = strtok(list, ","); tok && mark_count < MAX_MARKS; tok = strtok(NULL, ","))
        marks[mark_count++] = (uint32_t)strtoul(tok, NULL, 0) & mark_mask;
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof allowed, &allowed) == 0)
        for (int c = 0; c < 1024; c++) if (CPU_ISSET(c, &allowed)) cpus[cpu_count++] = c;
    signal(SIGTERM, on_signal);
    signal(SIGINT, on_signal);
    alarm((unsigned)ttl);   /* SIGALRM's default action ends the process */
    fprintf(stderr, "floor: queues %d..%d, %d endpoint marks\n", first_queue, first_queue + queue_count - 1, mark_count);
    pthread_t threads[MAX_QUEUES];
    for (int i = 0; i < queue_count; i++) pthread_create(&threads[i], NULL, run_queue, (void *)(intptr_t)i);
    for (int i = 0; i < queue_count; i++) pthread_join(threads[i], NULL);
    return 0;
}

// The C side of nfq-lb: the headers of libmnl, libnetfilter_queue and libnftnl, plus the few
// function-like macros Swift cannot import, each as a one-line static inline helper.
// Everything else is called straight from Swift, behind the wrappers in Sources/NFQLB/Netlink.
#ifndef CNFQUEUE_SHIM_H
#define CNFQUEUE_SHIM_H

#include <stdint.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <linux/netlink.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nf_tables.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_queue/libnetfilter_queue.h>
#include <libnftnl/table.h>
#include <libnftnl/set.h>
#include <libnftnl/batch.h>

/// `NFNL_SUBSYS_ID(type)`: the nfnetlink subsystem a message type belongs to.
static inline uint16_t cnfq_subsys_id(uint16_t type) { return (uint16_t)NFNL_SUBSYS_ID(type); }
/// `NFNL_MSG_TYPE(type)`: the message within its subsystem.
static inline uint16_t cnfq_msg_type(uint16_t type) { return (uint16_t)NFNL_MSG_TYPE(type); }
/// `(NFNL_SUBSYS_CTNETLINK << 8) | msg`: a ctnetlink message type.
static inline uint16_t cnfq_ctnetlink_type(uint16_t msg) { return (uint16_t)((NFNL_SUBSYS_CTNETLINK << 8) | msg); }
/// `NLMSG_ALIGN(len)`.
static inline uint32_t cnfq_nlmsg_align(uint32_t len) { return (uint32_t)NLMSG_ALIGN(len); }
/// `NFNLGRP_CONNTRACK_DESTROY` as a multicast group bit for `nl_groups` (the legacy group mask).
static inline uint32_t cnfq_nfnlgrp_bit(uint32_t group) { return 1u << (group - 1); }

#endif

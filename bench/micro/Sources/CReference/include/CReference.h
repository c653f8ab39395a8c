// The plain-C reference of the first-packet path that bench/micro measures the Swift code
// against: the same work, written as a C data path would write it.
//
// Per packet, as the daemon's QueueWorker.classify: reset the packet from its pristine copy
// (so every pass does real work and checksums stay valid), validate IPv4 + TCP (IHL, total
// length, fragment offset, data offset), check SYN without ACK, hash the 5-tuple
// (FlowTuple.stableHash), look the (VIP, port, proto) up in an open-addressing table laid out
// as Balancer's ServiceTable, pick through the service's strategy function pointer (the C
// form of the Swift protocol call; IPVS does the same with its scheduler ops), then DNAT the
// destination with RFC 1624 eqn. 3 updates of the IPv4 header and TCP checksums.
#ifndef CREFERENCE_H
#define CREFERENCE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Bytes per packet slot in a ring: every packet starts on a cache line, and the per-packet
/// reset copies one whole slot (a constant size, so a few vector moves, no memcpy call).
#define CREF_SLOT_BYTES 64

/// The strategies with a C twin, one per Balancer strategy of the same behaviour with equal
/// weights (the benchmark's endpoints all have weight 1).
typedef enum cref_strategy {
    CREF_RANDOM = 0,               // RandomStrategy, uniform path: one xoshiro256** number, one multiply
    CREF_ROUND_ROBIN = 1,          // RoundRobinStrategy: relaxed atomic fetch-add, modulo
    CREF_WEIGHTED_ROUND_ROBIN = 2, // WeightedRoundRobinStrategy: fetch-add, modulo, sequence table
    CREF_LEAST_CONNECTIONS = 3,    // LeastConnectionsStrategy: scan from a random start
    CREF_POWER_OF_TWO = 4,         // PowerOfTwoChoicesStrategy: two distinct random candidates
    CREF_SOURCE_HASH = 5,          // SourceHashStrategy: bucket table by finalised client hash
    CREF_MAGLEV = 6,               // MaglevStrategy: table by the flow's 5-tuple hash
} cref_strategy;

/// xoshiro256**, the same generator as Balancer's Xoshiro256StarStar; one per worker.
typedef struct cref_rng {
    uint64_t s[4];
} cref_rng;

/// One service to build: what Swift hands over from the Balancer snapshot.
typedef struct cref_service_spec {
    uint32_t vip;            // host order
    uint16_t port;
    uint8_t proto;
    cref_strategy strategy;
    uint32_t endpoint_count;
    const uint32_t *endpoint_addresses; // host order, endpoint_count of them
    const uint16_t *endpoint_ports;
    /// maglev / source-hash: the bucket table (copied), and its prime size.
    const uint16_t *table;
    uint64_t table_size;
} cref_service_spec;

typedef struct cref_table cref_table;

/// What one run did, for the harness to check that no packet went another way.
typedef struct cref_outcome {
    uint64_t rewritten;
    uint64_t malformed;
    uint64_t not_service;
    uint64_t no_endpoint;
} cref_outcome;

void cref_rng_seed(cref_rng *rng, uint64_t seed);

/// NULL on allocation failure. The specs' arrays are copied.
cref_table *cref_table_create(const cref_service_spec *specs, size_t count);
void cref_table_destroy(cref_table *table);

/// `passes` passes over `count` packets of `length` bytes, CREF_SLOT_BYTES apart in `work`,
/// each first reset from `pristine`. `histogram[i]` counts the picks of candidate i (the
/// harness checks the spread, and it keeps the picks observable).
void cref_run(const cref_table *table, uint8_t *work, const uint8_t *pristine,
              size_t count, size_t length, size_t passes,
              cref_rng *rng, uint64_t *histogram, cref_outcome *outcome);

#ifdef __cplusplus
}
#endif

#endif

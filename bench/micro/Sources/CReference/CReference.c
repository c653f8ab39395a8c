// The plain-C reference: see CReference.h. Same data layout depth as the Swift side (table
// slot -> service -> strategy data, picked through a function pointer, as IPVS's
// svc->scheduler->schedule(svc->sched_data)), so the comparison is of the code, not of a
// different design.
#include "CReference.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

// MARK: - Wire access (memcpy: unaligned-safe, compiles to plain moves)

static inline uint16_t load16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return __builtin_bswap16(v);
}

static inline uint32_t load32(const uint8_t *p) {
    uint32_t v;
    memcpy(&v, p, 4);
    return __builtin_bswap32(v);
}

static inline void store16(uint8_t *p, uint16_t v) {
    v = __builtin_bswap16(v);
    memcpy(p, &v, 2);
}

static inline void store32(uint8_t *p, uint32_t v) {
    v = __builtin_bswap32(v);
    memcpy(p, &v, 4);
}

// MARK: - Hashes (PacketRewrite.FlowHash, FlowTuple.stableHash)

#define FLOW_SEED 0x9E3779B97F4A7C15ULL

static inline uint64_t flow_mix(uint64_t h, uint64_t v) {
    return (h ^ v) * 0xBF58476D1CE4E5B9ULL + 0x94D049BB133111EBULL;
}

static inline uint64_t flow_finalize(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static inline uint64_t flow_hash_v4(uint32_t address) {
    return (uint64_t)address | 0x400000000ULL;
}

static inline uint64_t flow_stable_hash(uint32_t src, uint16_t sport, uint32_t dst, uint16_t dport, uint8_t proto) {
    uint64_t h = FLOW_SEED;
    h = flow_mix(h, flow_hash_v4(src));
    h = flow_mix(h, flow_hash_v4(dst));
    h = flow_mix(h, (uint64_t)sport << 24 | (uint64_t)dport << 8 | proto);
    return flow_finalize(h);
}

// MARK: - xoshiro256** (Balancer.Xoshiro256StarStar)

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static inline uint64_t rng_next(cref_rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/// Lemire's multiply-shift, as Xoshiro256StarStar.next(below:).
static inline uint64_t rng_below(cref_rng *r, uint64_t bound) {
    return (uint64_t)(((unsigned __int128)rng_next(r) * bound) >> 64);
}

void cref_rng_seed(cref_rng *rng, uint64_t seed) {
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) {
        x += 0x9E3779B97F4A7C15ULL;
        rng->s[i] = flow_finalize(x);
    }
}

// MARK: - Services and strategies

/// One endpoint's active-flow count, allocated on its own as Balancer's FlowCounter objects.
typedef struct cref_counter {
    _Atomic long active;
    _Atomic long total;
} cref_counter;

/// Per-service strategy state, allocated on its own as the Swift strategy objects are.
typedef struct cref_strategy_data {
    uint64_t count;
    _Atomic uint64_t turn;
    const uint16_t *table;
    uint64_t table_size;
    const uint32_t *sequence;
    uint64_t period;
    cref_counter **loads;
    const uint64_t *weights;
} cref_strategy_data;

typedef struct cref_service cref_service;
/// The candidate for a new flow, -1 when there is none.
typedef int64_t (*cref_pick_fn)(cref_strategy_data *data, uint32_t source, uint64_t hash, cref_rng *rng);

typedef struct cref_endpoint {
    uint32_t address;
    uint16_t port;
} cref_endpoint;

struct cref_service {
    cref_pick_fn pick;
    cref_strategy_data *data;
    uint64_t endpoint_count;
    cref_endpoint *endpoints;
};

static int64_t pick_random(cref_strategy_data *d, uint32_t source, uint64_t hash, cref_rng *rng) {
    (void)source, (void)hash;
    if (d->count == 0) return -1;
    uint64_t r = rng_next(rng);
    return (int64_t)((((r >> 32) * d->count)) >> 32);
}

static int64_t pick_round_robin(cref_strategy_data *d, uint32_t source, uint64_t hash, cref_rng *rng) {
    (void)source, (void)hash, (void)rng;
    if (d->count == 0) return -1;
    uint64_t t = atomic_fetch_add_explicit(&d->turn, 1, memory_order_relaxed);
    return (int64_t)(t % d->count);
}

static int64_t pick_weighted_round_robin(cref_strategy_data *d, uint32_t source, uint64_t hash, cref_rng *rng) {
    (void)source, (void)hash, (void)rng;
    if (d->period == 0) return -1;
    uint64_t t = atomic_fetch_add_explicit(&d->turn, 1, memory_order_relaxed);
    return d->sequence[t % d->period];
}

/// WeightMath.isLessLoaded: a1/w1 < a2/w2 by cross-multiplication; weight 0 never wins.
static inline int less_loaded(long a1, uint64_t w1, long a2, uint64_t w2) {
    if (w1 == 0) return 0;
    if (w2 == 0) return 1;
    unsigned __int128 lhs = (unsigned __int128)(uint64_t)(a1 < 0 ? 0 : a1) * w2;
    unsigned __int128 rhs = (unsigned __int128)(uint64_t)(a2 < 0 ? 0 : a2) * w1;
    return lhs < rhs;
}

static int64_t pick_least_connections(cref_strategy_data *d, uint32_t source, uint64_t hash, cref_rng *rng) {
    (void)source, (void)hash;
    uint64_t n = d->count;
    if (n == 0) return -1;
    uint64_t best = rng_below(rng, n);
    long best_active = atomic_load_explicit(&d->loads[best]->active, memory_order_relaxed);
    uint64_t best_weight = d->weights[best];
    uint64_t i = best;
    for (uint64_t k = 1; k < n; k++) {
        i = i + 1 == n ? 0 : i + 1;
        long active = atomic_load_explicit(&d->loads[i]->active, memory_order_relaxed);
        if (less_loaded(active, d->weights[i], best_active, best_weight)) {
            best = i;
            best_active = active;
            best_weight = d->weights[i];
        }
    }
    return (int64_t)best;
}

static int64_t pick_power_of_two(cref_strategy_data *d, uint32_t source, uint64_t hash, cref_rng *rng) {
    (void)source, (void)hash;
    uint64_t n = d->count;
    if (n <= 1) return n == 1 ? 0 : -1;
    uint64_t first = rng_below(rng, n);
    uint64_t second = rng_below(rng, n - 1);
    if (second >= first) second++;
    long first_active = atomic_load_explicit(&d->loads[first]->active, memory_order_relaxed);
    long second_active = atomic_load_explicit(&d->loads[second]->active, memory_order_relaxed);
    return less_loaded(second_active, d->weights[second], first_active, d->weights[first])
        ? (int64_t)second : (int64_t)first;
}

static int64_t pick_source_hash(cref_strategy_data *d, uint32_t source, uint64_t hash, cref_rng *rng) {
    (void)hash, (void)rng;
    if (d->table_size == 0) return -1;
    return d->table[flow_finalize(flow_hash_v4(source)) % d->table_size];
}

static int64_t pick_maglev(cref_strategy_data *d, uint32_t source, uint64_t hash, cref_rng *rng) {
    (void)source, (void)rng;
    if (d->table_size == 0) return -1;
    return d->table[hash % d->table_size];
}

// MARK: - Service table (Balancer.ServiceTable's layout and hash)

typedef struct cref_slot {
    uint64_t high;
    uint64_t low;
    uint64_t tail; // 1 << 63 | family << 32 | port << 8 | proto; 0 = empty
    cref_service *service;
} cref_slot;

struct cref_table {
    cref_slot *slots;
    uint64_t mask;
    uint64_t shift;
    size_t count;
    cref_service *services;
};

static inline uint64_t key_tail_v4(uint16_t port, uint8_t proto) {
    return 1ULL << 63 | 4ULL << 32 | (uint64_t)port << 8 | proto;
}

static inline uint64_t key_slot(uint64_t high, uint64_t low, uint64_t tail, uint64_t shift) {
    uint64_t h = (low ^ high * 0x9E3779B97F4A7C15ULL) * 0xBF58476D1CE4E5B9ULL;
    h = (h ^ tail ^ h >> 29) * 0x94D049BB133111EBULL;
    return h >> shift;
}

static inline const cref_service *table_lookup(const cref_table *t, uint32_t address, uint16_t port, uint8_t proto) {
    const uint64_t low = address, tail = key_tail_v4(port, proto);
    uint64_t s = key_slot(0, low, tail, t->shift);
    for (;;) {
        const cref_slot *slot = &t->slots[s];
        if (slot->high == 0 && slot->low == low && slot->tail == tail) return slot->service;
        if (slot->tail == 0) return NULL;
        s = (s + 1) & t->mask;
    }
}

static const cref_pick_fn pick_functions[] = {
    [CREF_RANDOM] = pick_random,
    [CREF_ROUND_ROBIN] = pick_round_robin,
    [CREF_WEIGHTED_ROUND_ROBIN] = pick_weighted_round_robin,
    [CREF_LEAST_CONNECTIONS] = pick_least_connections,
    [CREF_POWER_OF_TWO] = pick_power_of_two,
    [CREF_SOURCE_HASH] = pick_source_hash,
    [CREF_MAGLEV] = pick_maglev,
};

static void service_free(cref_service *s) {
    cref_strategy_data *d = s->data;
    if (d) {
        if (d->loads) {
            for (uint64_t i = 0; i < d->count; i++) free(d->loads[i]);
            free(d->loads);
        }
        free((void *)d->weights);
        free((void *)d->table);
        free((void *)d->sequence);
        free(d);
    }
    free(s->endpoints);
}

static int service_init(cref_service *s, const cref_service_spec *spec) {
    uint64_t n = spec->endpoint_count;
    s->pick = pick_functions[spec->strategy];
    s->endpoint_count = n;
    s->endpoints = calloc(n ? n : 1, sizeof(cref_endpoint));
    s->data = calloc(1, sizeof(cref_strategy_data));
    if (!s->endpoints || !s->data) return -1;
    for (uint64_t i = 0; i < n; i++) {
        s->endpoints[i].address = spec->endpoint_addresses[i];
        s->endpoints[i].port = spec->endpoint_ports[i];
    }
    cref_strategy_data *d = s->data;
    d->count = n;
    atomic_init(&d->turn, 0);
    switch (spec->strategy) {
    case CREF_WEIGHTED_ROUND_ROBIN: {
        // Equal weights: the smooth weighted sequence is 0, 1, ..., n-1.
        uint32_t *sequence = malloc((n ? n : 1) * sizeof(uint32_t));
        if (!sequence) return -1;
        for (uint64_t i = 0; i < n; i++) sequence[i] = (uint32_t)i;
        d->sequence = sequence;
        d->period = n;
        break;
    }
    case CREF_LEAST_CONNECTIONS:
    case CREF_POWER_OF_TWO: {
        cref_counter **loads = calloc(n ? n : 1, sizeof(cref_counter *));
        uint64_t *weights = malloc((n ? n : 1) * sizeof(uint64_t));
        d->loads = loads;
        d->weights = weights;
        if (!loads || !weights) return -1;
        for (uint64_t i = 0; i < n; i++) {
            loads[i] = calloc(1, sizeof(cref_counter));
            if (!loads[i]) return -1;
            weights[i] = 1;
        }
        break;
    }
    case CREF_SOURCE_HASH:
    case CREF_MAGLEV: {
        uint16_t *table = malloc((spec->table_size ? spec->table_size : 1) * sizeof(uint16_t));
        if (!table) return -1;
        memcpy(table, spec->table, spec->table_size * sizeof(uint16_t));
        d->table = table;
        d->table_size = spec->table_size;
        break;
    }
    default:
        break;
    }
    return 0;
}

cref_table *cref_table_create(const cref_service_spec *specs, size_t count) {
    cref_table *t = calloc(1, sizeof(cref_table));
    if (!t) return NULL;
    unsigned bits = 1;
    while ((1ULL << bits) < 2 * (count ? count : 1)) bits++;
    uint64_t capacity = 1ULL << bits;
    t->mask = capacity - 1;
    t->shift = 64 - bits;
    t->count = count;
    t->slots = calloc(capacity, sizeof(cref_slot));
    t->services = calloc(count ? count : 1, sizeof(cref_service));
    if (!t->slots || !t->services) {
        cref_table_destroy(t);
        return NULL;
    }
    for (size_t i = 0; i < count; i++) {
        if (service_init(&t->services[i], &specs[i]) != 0) {
            t->count = i + 1;
            cref_table_destroy(t);
            return NULL;
        }
        uint64_t low = specs[i].vip, tail = key_tail_v4(specs[i].port, specs[i].proto);
        uint64_t s = key_slot(0, low, tail, t->shift);
        while (t->slots[s].tail != 0) s = (s + 1) & t->mask;
        t->slots[s] = (cref_slot){.high = 0, .low = low, .tail = tail, .service = &t->services[i]};
    }
    return t;
}

void cref_table_destroy(cref_table *t) {
    if (!t) return;
    if (t->services) {
        for (size_t i = 0; i < t->count; i++) service_free(&t->services[i]);
    }
    free(t->services);
    free(t->slots);
    free(t);
}

// MARK: - RFC 1624 eqn. 3 (PacketRewrite.InternetChecksum)

static inline uint16_t csum_fold(uint64_t sum) {
    uint64_t s = (sum & 0xFFFFFFFFULL) + (sum >> 32);
    s = (s & 0xFFFF) + (s >> 16);
    s = (s & 0xFFFF) + (s >> 16);
    s = (s & 0xFFFF) + (s >> 16);
    return (uint16_t)s;
}

/// HC' = ~(~HC + sum of (~m + m')), the differences of every changed word already summed.
static inline uint16_t csum_update(uint16_t checksum, uint64_t difference) {
    return (uint16_t)~csum_fold((uint64_t)(uint16_t)~checksum + difference);
}

// MARK: - The path

enum { PROTO_TCP = 6, PROTO_UDP = 17 };

void cref_run(const cref_table *table, uint8_t *work, const uint8_t *pristine,
              size_t count, size_t length, size_t passes,
              cref_rng *rng, uint64_t *histogram, cref_outcome *outcome) {
    cref_outcome o = *outcome;
    for (size_t pass = 0; pass < passes; pass++) {
        for (size_t i = 0; i < count; i++) {
            uint8_t *p = work + i * CREF_SLOT_BYTES;
            memcpy(p, pristine + i * CREF_SLOT_BYTES, CREF_SLOT_BYTES);

            // Parse: IPv4 with any IHL, the whole TCP (or UDP) header present.
            if (length < 20 || p[0] >> 4 != 4) { o.malformed++; continue; }
            const size_t ihl = (size_t)(p[0] & 0x0F) * 4;
            if (ihl < 20 || ihl > length) { o.malformed++; continue; }
            const size_t total = load16(p + 2);
            if (total > length || total < ihl) { o.malformed++; continue; }
            const uint16_t fragment = load16(p + 6);
            if (fragment & 0x1FFF) { o.malformed++; continue; }
            const uint8_t proto = p[9];
            const size_t available = total - ihl;
            if (proto == PROTO_TCP) {
                if (available < 20) { o.malformed++; continue; }
                const size_t data_offset = (size_t)(p[ihl + 12] >> 4) * 4;
                if (data_offset < 20 || data_offset > available) { o.malformed++; continue; }
                // A first SYN: SYN set, ACK clear.
                if ((p[ihl + 13] & 0x12) != 0x02) { o.malformed++; continue; }
            } else if (proto == PROTO_UDP) {
                const int is_fragment = (fragment & 0x2000) != 0;
                const size_t udp_length = available >= 8 ? load16(p + ihl + 4) : 0;
                if (available < 8 || udp_length < 8 || (!is_fragment && udp_length > available)) {
                    o.malformed++;
                    continue;
                }
            } else {
                o.malformed++;
                continue;
            }
            const uint32_t src = load32(p + 12), dst = load32(p + 16);
            const uint16_t sport = load16(p + ihl), dport = load16(p + ihl + 2);

            // Lookup and pick.
            const cref_service *service = table_lookup(table, dst, dport, proto);
            if (!service) { o.not_service++; continue; }
            const uint64_t hash = flow_stable_hash(src, sport, dst, dport, proto);
            const int64_t index = service->pick(service->data, src, hash, rng);
            if (index < 0) { o.no_endpoint++; continue; }
            histogram[index]++;
            const cref_endpoint endpoint = service->endpoints[index];

            // DNAT with incremental checksum updates.
            const size_t checksum_at = ihl + (proto == PROTO_TCP ? 16 : 6);
            const uint16_t old_checksum = load16(p + checksum_at);
            const uint16_t old_port = load16(p + ihl + 2);
            const uint64_t address_difference = (uint64_t)(uint32_t)~dst + endpoint.address;
            store32(p + 16, endpoint.address);
            store16(p + 10, csum_update(load16(p + 10), address_difference));
            store16(p + ihl + 2, endpoint.port);
            if (proto == PROTO_UDP && old_checksum == 0) { o.rewritten++; continue; }
            uint16_t value = csum_update(old_checksum,
                                         address_difference + (uint16_t)~old_port + (uint64_t)endpoint.port);
            if (value == 0 && proto == PROTO_UDP) value = 0xFFFF;
            store16(p + checksum_at, value);
            o.rewritten++;
        }
    }
    *outcome = o;
}

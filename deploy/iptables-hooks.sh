#!/usr/bin/env bash
# iptables-hooks.sh - install, remove and show the packet hooks of nfq-lb.
#
# nfq-lb sees only the FIRST packet of each flow to a service address: a few fixed
# rules send it to NFQUEUE, the daemon picks a backend and tells the kernel the NAT
# (conntrack entry, in-place rewrite, or a packet mark looked up in an nftables map).
# See docs/ARCHITECTURE.md for why each rule is where it is.
#
# Everything of ours lives in chains named NFQLB-*, each reached from a built-in chain
# by exactly one jump rule inserted first, plus (mode mark only) the nftables table
# `ip nfqlb`:
#   raw    PREROUTING, OUTPUT  -> NFQLB-PREROUTING, NFQLB-OUTPUT
#            [rewrite]  -m mark --mark NOTRACK/ID_MASK -j CT --notrack
#            [rewrite]  -m mark --mark NOTRACK/ID_MASK -j RETURN
#            per CIDR   -d CIDR -p tcp --syn -j NFQUEUE <queue options>
#            per external CIDR (--external-cidr: external and load-balancer IPs) the same
#            node ports -m addrtype --dst-type LOCAL -p tcp --dport LOW:HIGH --syn -j NFQUEUE ...
#          (raw runs before conntrack: queueing the SYN in mangle loses the first SYN)
#   mangle PREROUTING, OUTPUT  -> NFQLB-PREROUTING, NFQLB-OUTPUT
#            per CIDR   -d CIDR -p udp -m conntrack --ctstate NEW -j NFQUEUE <queue options>
#            [mark]     ... -m conntrack ! --ctstatus CONFIRMED ... instead of --ctstate NEW
#            per CIDR   -d CIDR -p icmp --icmp-type echo-request -j NFQUEUE <queue options> (IPv4 only)
#          (every echo request, not only a flow's first: the daemon turns it into the reply
#           when the address has `answerPing`, and passes it on untouched otherwise)
#            per external CIDR, and node ports (-m addrtype --dst-type LOCAL --dport LOW:HIGH)
#   nat    POSTROUTING         -> NFQLB-POSTROUTING
#            -m conntrack --ctstate DNAT -j RETURN
#          (registers the conntrack and nat hooks in the netns: without them a NAT
#           created through ctnetlink is silently never applied)
#   filter FORWARD, OUTPUT, INPUT -> NFQLB-REJECT   (INPUT: a node port without endpoints)
#            -p tcp -m mark --mark REJECT/ID_MASK -j REJECT --reject-with tcp-reset
#            -p udp -m mark --mark REJECT/ID_MASK -j REJECT --reject-with icmp-port-unreachable
#   filter FORWARD             -> NFQLB-FORWARD
#            -m conntrack --ctstate INVALID -j DROP
#          (kube-proxy's rule, kubernetes/kubernetes#74839: an out-of-window TCP segment of a
#           NATed flow is INVALID, so it is not un-NATed; forwarded, it reaches the client
#           from the endpoint's address, the client answers with a RST, and the RST resets
#           the endpoint's side of the connection)
#   [mark] nft table ip nfqlb: map endpoints (mark -> ipv4_addr . inet_service, owned by
#          the daemon and kept across re-installs), nat chains pre/out (dnat through the
#          map, then a trailing drop for unmapped first packets) and post (masquerade);
#          node ports (fib daddr type local, th dport in the range) and external CIDRs get
#          the dnat rule without the trailing drop: those addresses carry traffic not ours.
# <queue options> = --queue-num A | --queue-balance A:B --queue-cpu-fanout, then
#                   --queue-bypass unless --no-bypass.
#
# Mark field layout (the daemon uses the same layout). The daemon owns only the bits of
# --mark-mask (one contiguous run of >= 8 bits, default 0xffff0000); all other bits of
# the packet mark are kept. With shift = index of the mask's lowest set bit and width =
# number of mask bits:
#   MASQ    = 1 << (shift + width - 1)  top bit of the field: masquerade the flow (mode mark)
#   ID_MASK = mask & ~MASQ              the value part of the field; values (value << shift):
#     1       REJECT   service without endpoints / unallocated service address
#     2       NOTRACK  rewrite-mode reinjection of a rewritten SYN (NF_REPEAT)
#     3       REINJECTED a masqueraded UDP datagram sent again from the node (modes conntrack, rewrite)
#     4..7    reserved
#     >= 8    endpoint ids (mode mark: keys of the nft map `endpoints`)
# Default mask 0xffff0000: REJECT=0x10000 NOTRACK=0x20000 MASQ=0x80000000 ID_MASK=0x7fff0000.
#
# Install is idempotent (installing twice = installing once) and replaces rules installed
# with other options: our chains are declared in one `iptables-restore --noflush`
# transaction (declaring a chain flushes it), jump rules are added only when missing, and
# the nft chains are flushed and refilled in one `nft -f` transaction (the map stays).
# Remove deletes every NFQLB-* chain and every rule that jumps to one, in every table,
# whatever options they were installed with, and the nft table.
#
# IPv6: IPv6 --service-cidr ranges get the same chains and rules through ip6tables (the
# command derived from --iptables: iptables-legacy -> ip6tables-legacy), with
# icmp6-port-unreachable for UDP rejects, and in mode mark the nft table `ip6 nfqlb`, a mirror
# of `ip nfqlb` whose map is `mark : ipv6_addr . inet_service` (docs/ARCHITECTURE.md says why
# two tables and not one `inet` table). Node ports and --external-cidr ranges are queued per
# family too (an IPv6 external range needs an IPv6 service range: a family's hooks come with
# its service ranges). A family without CIDRs has none of our rules: an
# install removes what an earlier one left there. remove and status cover both families.

set -euo pipefail

readonly PROG=${0##*/}
readonly NFT_TABLE=nfqlb
readonly -a OUR_TABLES=(raw mangle nat filter security)

usage() {
    cat <<EOF
usage: $PROG install --queues A[:B] --service-cidr CIDR [--service-cidr CIDR ...] [options]
       $PROG remove  [--iptables CMD] [--netns NAME]
       $PROG status  [--iptables CMD] [--netns NAME]

Installs, removes or shows the iptables (and, in mode mark, nftables) hooks of nfq-lb.

  install   add or replace our rules (idempotent)
  remove    delete every NFQLB-* chain and jump rule from all tables (iptables and
            ip6tables) and the nft tables 'ip $NFT_TABLE' and 'ip6 $NFT_TABLE', whatever
            they were installed with; nothing installed is fine
  status    print our chains/rules, the nft table and the kernel queue state;
            exit 0 if installed, 3 if not (or only partly) installed

options:
  --queues A:B | N        NFQUEUE numbers (0..65535), required for install
  --service-cidr CIDR     IPv4 or IPv6 service range (repeatable), required for install
  --node-port-range A-B   ports queued on the node's own addresses (NodePort services;
                          default 30000-32767, the daemon's nodePortRange); 'none' = off
  --external-cidr CIDR    range of external and load-balancer IPs to queue (IPv4 or IPv6, repeatable;
                          the daemon's externalCIDRs); a miss there passes, not rejected
  --mode MODE             mark (default) | conntrack | rewrite
  --mark-mask HEX         mark bits owned by nfq-lb, one contiguous run of >= 8 bits
                          (default 0xffff0000)
  --no-bypass             omit --queue-bypass (packets are dropped while no daemon listens)
  --iptables CMD          iptables command (default: iptables; e.g. iptables-legacy);
                          CMD-save and CMD-restore must exist (and the ip6tables
                          counterparts for IPv6 ranges). Without it, remove and
                          status look at every iptables backend on this machine.
  --netns NAME            run everything inside 'ip netns exec NAME'
  --dry-run               install: print the iptables-restore and nft input, change nothing
  -q, --quiet             install: no summary line
  -h, --help              this text

exit status: 0 ok, 1 failure, 2 usage error, 3 status: not installed
EOF
}

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
usage_error() { printf '%s: %s\n(see %s --help)\n' "$PROG" "$*" "$PROG" >&2; exit 2; }
warn() { printf '%s: warning: %s\n' "$PROG" "$*" >&2; }

# ---------------------------------------------------------------- argument parsing
ACTION=""
QUEUES=""
MODE=mark
MASK_ARG=0xffff0000
BYPASS=1
IPT=""
IPT_EXPLICIT=0
NETNS=""
DRY_RUN=0
QUIET=0
declare -a CIDRS_ARG=()
declare -a EXT_CIDRS_ARG=()
NODE_PORT_RANGE=30000-32767
declare -a ORIG_ARGS=("$@")

need_value() { [[ $# -ge 2 && -n $2 ]] || usage_error "option $1 needs a value"; }

while [[ $# -gt 0 ]]; do
    case $1 in
        install|remove|status)
            [[ -z $ACTION ]] || usage_error "more than one action: $ACTION and $1"
            ACTION=$1 ;;
        --queues) need_value "$@"; QUEUES=$2; shift ;;
        --queues=*) QUEUES=${1#*=} ;;
        --service-cidr) need_value "$@"; CIDRS_ARG+=("$2"); shift ;;
        --service-cidr=*) CIDRS_ARG+=("${1#*=}") ;;
        --external-cidr) need_value "$@"; EXT_CIDRS_ARG+=("$2"); shift ;;
        --external-cidr=*) EXT_CIDRS_ARG+=("${1#*=}") ;;
        --node-port-range) need_value "$@"; NODE_PORT_RANGE=$2; shift ;;
        --node-port-range=*) NODE_PORT_RANGE=${1#*=} ;;
        --mode) need_value "$@"; MODE=$2; shift ;;
        --mode=*) MODE=${1#*=} ;;
        --mark-mask) need_value "$@"; MASK_ARG=$2; shift ;;
        --mark-mask=*) MASK_ARG=${1#*=} ;;
        --no-bypass) BYPASS=0 ;;
        --iptables) need_value "$@"; IPT=$2; IPT_EXPLICIT=1; shift ;;
        --iptables=*) IPT=${1#*=}; IPT_EXPLICIT=1 ;;
        --netns) need_value "$@"; NETNS=$2; shift ;;
        --netns=*) NETNS=${1#*=} ;;
        --dry-run) DRY_RUN=1 ;;
        -q|--quiet) QUIET=1 ;;
        -h|--help) usage; exit 0 ;;
        *) usage_error "unknown argument: $1" ;;
    esac
    shift
done
[[ -n $ACTION ]] || usage_error "no action given (install, remove or status)"

# ---------------------------------------------------------------- validation helpers
# parse_queues SPEC -> Q_FIRST Q_LAST
parse_queues() {
    local spec=$1 a b
    if [[ $spec =~ ^([0-9]{1,5})$ ]]; then
        a=${BASH_REMATCH[1]}; b=$a
    elif [[ $spec =~ ^([0-9]{1,5}):([0-9]{1,5})$ ]]; then
        a=${BASH_REMATCH[1]}; b=${BASH_REMATCH[2]}
    else
        usage_error "--queues: expected N or A:B, got '$spec'"
    fi
    a=$((10#$a)); b=$((10#$b))
    ((a <= 65535 && b <= 65535)) || usage_error "--queues: queue numbers must be 0..65535, got '$spec'"
    ((a <= b)) || usage_error "--queues: first queue must not be greater than the last, got '$spec'"
    Q_FIRST=$a; Q_LAST=$b
}

# normalize_cidr CIDR -> prints network/prefix (bare address = /32)
normalize_cidr() {
    local c=$1 addr len o1 o2 o3 o4 ip netmask net
    if [[ $c == *:* ]]; then
        normalize_cidr6 "$c"
        return
    fi
    if [[ $c =~ ^([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})\.([0-9]{1,3})(/([0-9]{1,2}))?$ ]]; then
        o1=$((10#${BASH_REMATCH[1]})); o2=$((10#${BASH_REMATCH[2]}))
        o3=$((10#${BASH_REMATCH[3]})); o4=$((10#${BASH_REMATCH[4]}))
        len=${BASH_REMATCH[6]:-32}; len=$((10#$len))
    else
        usage_error "--service-cidr: not an IPv4 CIDR: '$c'"
    fi
    ((o1 <= 255 && o2 <= 255 && o3 <= 255 && o4 <= 255)) || usage_error "--service-cidr: bad address in '$c'"
    ((len >= 1 && len <= 32)) || usage_error "--service-cidr: prefix length must be 1..32 in '$c'"
    ip=$(( (o1 << 24) | (o2 << 16) | (o3 << 8) | o4 ))
    netmask=$(( (0xffffffff << (32 - len)) & 0xffffffff ))
    net=$(( ip & netmask ))
    addr=$(printf '%d.%d.%d.%d' $(( (net >> 24) & 255 )) $(( (net >> 16) & 255 )) $(( (net >> 8) & 255 )) $(( net & 255 )))
    printf '%s/%d\n' "$addr" "$len"
}

# normalize_cidr6 CIDR -> prints network/prefix of an IPv6 range (bare address = /128), the
# address in its canonical compressed form (RFC 5952), as ip6tables-save prints it
normalize_cidr6() {
    local c=$1 addr len head tail i g missing best_at=-1 best_len=0 run_at=-1 run_len=0 out
    local -a hg=() tg=() groups=()
    [[ $c =~ ^([0-9a-fA-F:]+)(/([0-9]{1,3}))?$ ]] || usage_error "--service-cidr: not an IPv4 or IPv6 CIDR: '$c'"
    addr=${BASH_REMATCH[1]}; len=${BASH_REMATCH[3]:-128}; len=$((10#$len))
    ((len >= 1 && len <= 128)) || usage_error "--service-cidr: prefix length must be 1..128 in '$c'"
    if [[ $addr == *::* ]]; then
        head=${addr%%::*}; tail=${addr#*::}
        [[ $tail != *::* ]] || usage_error "--service-cidr: bad IPv6 address in '$c'"
        [[ -z $head ]] || IFS=: read -r -a hg <<<"$head"
        [[ -z $tail ]] || IFS=: read -r -a tg <<<"$tail"
        missing=$((8 - ${#hg[@]} - ${#tg[@]}))
        ((missing >= 1)) || usage_error "--service-cidr: bad IPv6 address in '$c'"
        groups=("${hg[@]}")
        for ((i = 0; i < missing; i++)); do groups+=(0); done
        groups+=("${tg[@]}")
    else
        IFS=: read -r -a groups <<<"$addr"
    fi
    ((${#groups[@]} == 8)) || usage_error "--service-cidr: bad IPv6 address in '$c'"
    for ((i = 0; i < 8; i++)); do
        g=${groups[i]}
        [[ $g =~ ^[0-9a-fA-F]{1,4}$ ]] || usage_error "--service-cidr: bad IPv6 address in '$c'"
        g=$((16#$g))
        # host bits off
        if ((len <= i * 16)); then g=0
        elif ((len < (i + 1) * 16)); then g=$((g & ((0xffff << ((i + 1) * 16 - len)) & 0xffff))); fi
        groups[i]=$g
    done
    # the longest run of at least two zero groups becomes "::" (the first such run on a tie)
    for ((i = 0; i <= 8; i++)); do
        if ((i < 8 && groups[i] == 0)); then
            ((run_at >= 0)) || { run_at=$i; run_len=0; }
            run_len=$((run_len + 1))
        else
            if ((run_at >= 0 && run_len > best_len && run_len >= 2)); then best_at=$run_at; best_len=$run_len; fi
            run_at=-1
        fi
    done
    out=""
    for ((i = 0; i < 8; i++)); do
        if ((i == best_at)); then out+="::"; i=$((i + best_len - 1)); continue; fi
        [[ -z $out || $out == *: ]] || out+=":"
        out+=$(printf '%x' "${groups[i]}")
    done
    printf '%s/%d\n' "$out" "$len"
}

# parse_mask HEX -> MASK SHIFT WIDTH MASQ ID_MASK MARK_REJECT MARK_NOTRACK (numbers)
parse_mask() {
    local spec=$1 m s w field
    [[ $spec =~ ^(0[xX])?([0-9a-fA-F]{1,8})$ ]] || usage_error "--mark-mask: expected a 32-bit hex number such as 0xffff0000, got '$spec'"
    m=$((16#${BASH_REMATCH[2]}))
    ((m != 0)) || usage_error "--mark-mask: must not be 0"
    s=0
    while (( ((m >> s) & 1) == 0 )); do s=$((s + 1)); done
    field=$((m >> s))
    (( (field & (field + 1)) == 0 )) || usage_error "--mark-mask: $spec is not one contiguous run of bits"
    w=0
    while (( (field >> w) != 0 )); do w=$((w + 1)); done
    ((w >= 8)) || usage_error "--mark-mask: $spec has $w bits, at least 8 are needed"
    MASK=$m; SHIFT=$s; WIDTH=$w
    MASQ=$((1 << (s + w - 1)))
    ID_MASK=$((m & ~MASQ & 0xffffffff))
    MARK_REJECT=$((1 << s))
    MARK_NOTRACK=$((2 << s))
}

hex() { printf '0x%x' "$1"; }

# parse_node_port_range A-B|none -> NP_LOW NP_HIGH (empty for none)
parse_node_port_range() {
    local spec=$1
    NP_LOW=""; NP_HIGH=""
    [[ $spec == none ]] && return 0
    [[ $spec =~ ^([0-9]{1,5})-([0-9]{1,5})$ ]] || usage_error "--node-port-range: expected A-B (e.g. 30000-32767) or none, got '$spec'"
    NP_LOW=$((10#${BASH_REMATCH[1]})); NP_HIGH=$((10#${BASH_REMATCH[2]}))
    ((NP_LOW >= 1 && NP_HIGH <= 65535 && NP_LOW <= NP_HIGH)) || usage_error "--node-port-range: ports must be 1..65535 with A <= B, got '$spec'"
}

# ---------------------------------------------------------------- netns re-exec
if [[ -n $NETNS && ${NFQLB_HOOKS_NETNS_ENTERED:-} != "$NETNS" ]]; then
    command -v ip >/dev/null || die "--netns needs the 'ip' command (iproute2)"
    [[ -e /run/netns/$NETNS ]] || die "network namespace '$NETNS' does not exist (ip netns list)"
    self=$(readlink -f -- "${BASH_SOURCE[0]}")
    exec ip netns exec "$NETNS" env NFQLB_HOOKS_NETNS_ENTERED="$NETNS" bash "$self" "${ORIG_ARGS[@]}"
fi

# ---------------------------------------------------------------- iptables backends
# backend_of CMD -> "nf_tables" | "legacy" | other text, from CMD -V
backend_of() {
    local v
    v=$("$1" -V 2>/dev/null) || return 1
    case $v in
        *nf_tables*) echo nf_tables ;;
        *legacy*) echo legacy ;;
        *) echo "$v" ;;
    esac
}

check_ipt() {
    local cmd=$1
    command -v -- "$cmd" >/dev/null || die "iptables command not found: $cmd"
    command -v -- "$cmd-save" >/dev/null || die "not found: $cmd-save (derived from --iptables $cmd)"
    command -v -- "$cmd-restore" >/dev/null || die "not found: $cmd-restore (derived from --iptables $cmd)"
}

# v6_of CMD: the ip6tables command of the same backend (iptables-legacy -> ip6tables-legacy,
# /usr/sbin/iptables -> /usr/sbin/ip6tables)
v6_of() {
    local cmd=$1 dir="" base
    [[ $cmd == */* ]] && dir=${cmd%/*}/
    base=${cmd##*/}
    [[ $base == iptables* ]] || { printf '%s\n' "$cmd"; return; }
    printf '%sip6%s\n' "$dir" "${base#ip}"
}

# has_ipt CMD: CMD, CMD-save and CMD-restore exist
has_ipt() { command -v -- "$1" >/dev/null && command -v -- "$1-save" >/dev/null && command -v -- "$1-restore" >/dev/null; }

# ALL_IPTS: one command per iptables backend found on this machine (nf_tables, legacy)
# IPT_LIST: the backends that remove/status look at (--iptables: only that one)
declare -a ALL_IPTS=() IPT_LIST=()
declare -A seen_backend=()
for cand in iptables iptables-nft iptables-legacy; do
    command -v "$cand" >/dev/null || continue
    command -v "$cand-save" >/dev/null || continue
    command -v "$cand-restore" >/dev/null || continue
    be=$(backend_of "$cand") || continue
    [[ -z ${seen_backend[$be]:-} ]] || continue
    seen_backend[$be]=1
    ALL_IPTS+=("$cand")
done
if ((IPT_EXPLICIT)); then
    check_ipt "$IPT"
    IPT_LIST=("$IPT")
else
    IPT=iptables
    IPT_LIST=("${ALL_IPTS[@]}")
    if [[ $ACTION == install ]]; then
        check_ipt "$IPT"
    elif ((${#IPT_LIST[@]} == 0)); then
        die "no iptables command found (need iptables, iptables-save, iptables-restore)"
    fi
fi

# ---------------------------------------------------------------- rule reading
# save_table IPT TABLE: the save output of one table
save_table() {
    local ipt=$1 table=$2
    # -t on a table that does not exist fails (legacy) or prints nothing (nft): both mean "none"
    "$ipt-save" -t "$table" 2>/dev/null || true
}

# our_lines_of: stdin = save output of one table; prints only our chain declarations
# and rules (in NFQLB-* chains or jumping to one)
our_lines_of() {
    grep -E '^:NFQLB-[^ ]+ |^-A NFQLB-[^ ]+ |^-A [^ ]+ .*-[jg] NFQLB-[^ ]+( |$)' || true
}

# tables that currently exist for backend IPT (without creating any)
existing_tables() {
    local ipt=$1
    "$ipt-save" 2>/dev/null | sed -n 's/^\*\([a-z]*\)$/\1/p' || true
}

nft_table_present() { # nft_table_present [FAMILY=ip]
    command -v nft >/dev/null || return 1
    nft list table "${1:-ip}" "$NFT_TABLE" >/dev/null 2>&1
}

# both_families: every command of IPT_LIST and, where it exists, its ip6tables counterpart
both_families() {
    local ipt
    for ipt in "${IPT_LIST[@]}"; do
        printf '%s\n' "$ipt"
        if has_ipt "$(v6_of "$ipt")"; then v6_of "$ipt"; fi
    done
    return 0
}

# ---------------------------------------------------------------- remove
# removal_input IPT: iptables-restore input that deletes every
# rule jumping to an NFQLB-* chain and every NFQLB-* chain, in all tables of IPT.
# Prints nothing when there is nothing of ours.
removal_input() {
    local ipt=$1 table save line c jumps
    local -a chain_names
    for table in $(existing_tables "$ipt"); do
        save=$(save_table "$ipt" "$table")
        [[ $save == *NFQLB-* ]] || continue
        chain_names=()
        while IFS= read -r line; do
            chain_names+=("${line%% *}")
        done < <(printf '%s\n' "$save" | sed -n 's/^:\(NFQLB-[^ ]*\) .*/\1/p')
        jumps=$(printf '%s\n' "$save" | grep -E '^-A [^ ]+ .*-[jg] NFQLB-[^ ]+( |$)' | grep -Ev '^-A NFQLB-' || true)
        printf '*%s\n' "$table"
        if [[ -n $jumps ]]; then
            while IFS= read -r line; do
                printf -- '-D %s\n' "${line#-A }"
            done <<<"$jumps"
        fi
        for c in "${chain_names[@]}"; do printf -- '-F %s\n' "$c"; done
        for c in "${chain_names[@]}"; do printf -- '-X %s\n' "$c"; done
        printf 'COMMIT\n'
    done
}

do_remove() {
    local ipt input removed=0 fam
    local -a ipts
    mapfile -t ipts < <(both_families)
    for ipt in "${ipts[@]}"; do
        input=$(removal_input "$ipt")
        [[ -n $input ]] || continue
        if ! printf '%s\n' "$input" | "$ipt-restore" -w 10 --noflush; then
            die "$ipt-restore failed while removing our rules; input was:"$'\n'"$input"
        fi
        removed=1
    done
    for fam in ip ip6; do
        if nft_table_present "$fam"; then
            nft delete table "$fam" "$NFT_TABLE" || die "nft delete table $fam $NFT_TABLE failed"
            removed=1
        fi
    done
    # verify
    for ipt in "${ipts[@]}"; do
        if "$ipt-save" 2>/dev/null | grep -q 'NFQLB-'; then
            die "NFQLB-* rules are still present after remove ($ipt-save)"
        fi
    done
    ((QUIET || !removed)) || echo "nfq-lb hooks removed"
    return 0
}

# ---------------------------------------------------------------- install
queue_opts() {
    if ((Q_FIRST == Q_LAST)); then
        printf -- '--queue-num %d' "$Q_FIRST"
    else
        printf -- '--queue-balance %d:%d --queue-cpu-fanout' "$Q_FIRST" "$Q_LAST"
    fi
    ((BYPASS)) && printf -- ' --queue-bypass'
    printf '\n'
}

# jump_present IPT TABLE CHAIN TARGET
jump_present() {
    "$1" -w 10 -t "$2" -C "$3" -j "$4" >/dev/null 2>&1
}

# install_input IPT [FAMILY=4]: the iptables-restore --noflush input for install, with the
# CIDRs of that family (IPv6: ip6tables and its reject type)
install_input() {
    local ipt=$1 qo c table save want_chains line target chain n i
    local -a FAM_CIDRS=("${CIDRS[@]}") FAM_EXT_CIDRS=("${EXT_CIDRS[@]}")
    local udp_reject=icmp-port-unreachable
    if [[ ${2:-4} == 6 ]]; then
        FAM_CIDRS=("${CIDRS6[@]}"); FAM_EXT_CIDRS=("${EXT_CIDRS6[@]}"); udp_reject=icmp6-port-unreachable
    fi
    qo=$(queue_opts)
    local -A desired_jumps=(
        [raw]="PREROUTING:NFQLB-PREROUTING OUTPUT:NFQLB-OUTPUT"
        [mangle]="PREROUTING:NFQLB-PREROUTING OUTPUT:NFQLB-OUTPUT"
        [nat]="POSTROUTING:NFQLB-POSTROUTING"
        [filter]="FORWARD:NFQLB-REJECT OUTPUT:NFQLB-REJECT FORWARD:NFQLB-FORWARD INPUT:NFQLB-REJECT"
    )
    local -A desired_chains=(
        [raw]="NFQLB-PREROUTING NFQLB-OUTPUT"
        [mangle]="NFQLB-PREROUTING NFQLB-OUTPUT"
        [nat]="NFQLB-POSTROUTING"
        [filter]="NFQLB-REJECT NFQLB-FORWARD"
    )
    local existing
    existing=" $(existing_tables "$ipt" | tr '\n' ' ') "
    for table in "${OUR_TABLES[@]}"; do
        want_chains=${desired_chains[$table]:-}
        save=""
        [[ $existing == *" $table "* ]] && save=$(save_table "$ipt" "$table")
        [[ -n $want_chains || $save == *NFQLB-* ]] || continue
        printf '*%s\n' "$table"
        for c in $want_chains; do printf ':%s - [0:0]\n' "$c"; done
        # stray jumps (to chains we no longer use, or duplicates) and stray chains
        if [[ $save == *NFQLB-* ]]; then
            local -A count=()
            while IFS= read -r line; do
                [[ -n $line ]] || continue
                chain=${line#-A }; chain=${chain%% *}
                target=$(sed -n 's/.*-[jg] \(NFQLB-[^ ]*\).*/\1/p' <<<"$line")
                if [[ $line == "-A $chain -j $target" && " ${desired_jumps[$table]:-} " == *" $chain:$target "* ]]; then
                    n=${count[$chain:$target]:-0}
                    count[$chain:$target]=$((n + 1))
                    ((n == 0)) && continue     # the one jump we keep
                fi
                printf -- '-D %s\n' "${line#-A }"
            done < <(printf '%s\n' "$save" | grep -E '^-A [^ ]+ .*-[jg] NFQLB-[^ ]+( |$)' | grep -Ev '^-A NFQLB-' || true)
            unset count
            while IFS= read -r c; do
                [[ -n $c && " $want_chains " != *" $c "* ]] || continue
                printf -- '-F %s\n-X %s\n' "$c" "$c"
            done < <(printf '%s\n' "$save" | sed -n 's/^:\(NFQLB-[^ ]*\) .*/\1/p')
        fi
        # our rules
        case $table in
            raw)
                for chain in NFQLB-PREROUTING NFQLB-OUTPUT; do
                    if [[ $MODE == rewrite ]]; then
                        printf -- '-A %s -m mark --mark %s/%s -j CT --notrack\n' "$chain" "$(hex "$MARK_NOTRACK")" "$(hex "$ID_MASK")"
                        printf -- '-A %s -m mark --mark %s/%s -j RETURN\n' "$chain" "$(hex "$MARK_NOTRACK")" "$(hex "$ID_MASK")"
                    fi
                    for c in "${FAM_CIDRS[@]}" "${FAM_EXT_CIDRS[@]}"; do
                        printf -- '-A %s -d %s -p tcp --syn -j NFQUEUE %s\n' "$chain" "$c" "$qo"
                    done
                    if [[ -n $NP_LOW ]]; then
                        printf -- '-A %s -m addrtype --dst-type LOCAL -p tcp --dport %d:%d --syn -j NFQUEUE %s\n' "$chain" "$NP_LOW" "$NP_HIGH" "$qo"
                    fi
                done ;;
            mangle)
                local ctmatch="-m conntrack --ctstate NEW"
                [[ $MODE == mark ]] && ctmatch="-m conntrack ! --ctstatus CONFIRMED"
                for chain in NFQLB-PREROUTING NFQLB-OUTPUT; do
                    for c in "${FAM_CIDRS[@]}" "${FAM_EXT_CIDRS[@]}"; do
                        printf -- '-A %s -d %s -p udp %s -j NFQUEUE %s\n' "$chain" "$c" "$ctmatch" "$qo"
                    done
                    # answerPing is for service CIDRs and IPv4 only: no ICMPv6 echo is queued
                    if [[ ${2:-4} != 6 ]]; then
                        for c in "${FAM_CIDRS[@]}"; do
                            printf -- '-A %s -d %s -p icmp --icmp-type echo-request -j NFQUEUE %s\n' "$chain" "$c" "$qo"
                        done
                    fi
                    if [[ -n $NP_LOW ]]; then
                        printf -- '-A %s -m addrtype --dst-type LOCAL -p udp --dport %d:%d %s -j NFQUEUE %s\n' "$chain" "$NP_LOW" "$NP_HIGH" "$ctmatch" "$qo"
                    fi
                done ;;
            nat)
                printf -- '-A NFQLB-POSTROUTING -m conntrack --ctstate DNAT -j RETURN\n' ;;
            filter)
                printf -- '-A NFQLB-REJECT -p tcp -m mark --mark %s/%s -j REJECT --reject-with tcp-reset\n' "$(hex "$MARK_REJECT")" "$(hex "$ID_MASK")"
                printf -- '-A NFQLB-REJECT -p udp -m mark --mark %s/%s -j REJECT --reject-with %s\n' "$(hex "$MARK_REJECT")" "$(hex "$ID_MASK")" "$udp_reject"
                printf -- '-A NFQLB-FORWARD -m conntrack --ctstate INVALID -j DROP\n' ;;
        esac
        # jump rules, first in the built-in chain, only if missing
        for i in ${desired_jumps[$table]:-}; do
            chain=${i%%:*}; target=${i#*:}
            if ! jump_present "$ipt" "$table" "$chain" "$target"; then
                printf -- '-I %s 1 -j %s\n' "$chain" "$target"
            fi
        done
        printf 'COMMIT\n'
    done
}

# nft_input [FAMILY=4]: the nft -f input of table ip nfqlb (4) or its mirror ip6 nfqlb (6)
nft_input() {
    local set chain proto joined fam=ip addr_type=ipv4_addr
    local -a fam_ext=("${EXT_CIDRS[@]}")
    if [[ ${1:-4} == 6 ]]; then
        fam=ip6; addr_type=ipv6_addr; fam_ext=("${EXT_CIDRS6[@]}")
        joined=$(IFS=,; echo "${CIDRS6[*]}")
    else
        joined=$(IFS=,; echo "${CIDRS[*]}")
    fi
    set="{ ${joined//,/, } }"
    local ext=""
    if ((${#fam_ext[@]} > 0)); then
        joined=$(IFS=,; echo "${fam_ext[*]}")
        ext="{ ${joined//,/, } }"
    fi
    cat <<EOF
add table $fam $NFT_TABLE
add map $fam $NFT_TABLE endpoints { type mark : $addr_type . inet_service; }
add chain $fam $NFT_TABLE pre { type nat hook prerouting priority -100; policy accept; }
add chain $fam $NFT_TABLE out { type nat hook output priority -100; policy accept; }
add chain $fam $NFT_TABLE post { type nat hook postrouting priority 100; policy accept; }
flush chain $fam $NFT_TABLE pre
flush chain $fam $NFT_TABLE out
flush chain $fam $NFT_TABLE post
EOF
    for chain in pre out; do
        echo "add rule $fam $NFT_TABLE $chain $fam daddr $set meta l4proto { tcp, udp } meta mark and $(hex "$ID_MASK") == $(hex "$MARK_REJECT") accept"
        for proto in tcp udp; do
            echo "add rule $fam $NFT_TABLE $chain $fam daddr $set meta l4proto $proto ct mark set meta mark and $(hex "$MASK") dnat $fam to meta mark and $(hex "$ID_MASK") map @endpoints"
        done
        echo "add rule $fam $NFT_TABLE $chain $fam daddr $set meta l4proto { tcp, udp } counter drop"
        # node ports and external CIDRs: no trailing drop (their addresses are not all ours)
        for proto in tcp udp; do
            if [[ -n $ext ]]; then
                echo "add rule $fam $NFT_TABLE $chain $fam daddr $ext meta l4proto $proto ct mark set meta mark and $(hex "$MASK") dnat $fam to meta mark and $(hex "$ID_MASK") map @endpoints"
            fi
            if [[ -n $NP_LOW ]]; then
                echo "add rule $fam $NFT_TABLE $chain fib daddr type local meta l4proto $proto th dport $NP_LOW-$NP_HIGH meta mark and $(hex "$ID_MASK") != $(hex "$MARK_REJECT") ct mark set meta mark and $(hex "$MASK") dnat $fam to meta mark and $(hex "$ID_MASK") map @endpoints"
            fi
        done
    done
    echo "add rule $fam $NFT_TABLE post ct mark and $(hex "$MASQ") == $(hex "$MASQ") masquerade"
}

do_install() {
    [[ -n $QUEUES ]] || usage_error "install needs --queues"
    ((${#CIDRS_ARG[@]} > 0)) || usage_error "install needs at least one --service-cidr"
    case $MODE in conntrack|rewrite|mark) ;; *) usage_error "--mode must be conntrack, rewrite or mark, got '$MODE'" ;; esac
    parse_queues "$QUEUES"
    parse_mask "$MASK_ARG"
    local c n
    declare -g -a CIDRS=() CIDRS6=()
    declare -A seen=()
    for c in "${CIDRS_ARG[@]}"; do
        n=$(normalize_cidr "$c")
        [[ -z ${seen[$n]:-} ]] || continue
        seen[$n]=1
        if [[ $n == *:* ]]; then CIDRS6+=("$n"); else CIDRS+=("$n"); fi
    done
    declare -g -a EXT_CIDRS=() EXT_CIDRS6=()
    for c in "${EXT_CIDRS_ARG[@]}"; do
        n=$(normalize_cidr "$c")
        [[ -z ${seen[$n]:-} ]] || continue
        seen[$n]=1
        if [[ $n == *:* ]]; then
            ((${#CIDRS6[@]} > 0)) || usage_error "--external-cidr $c is IPv6 but no --service-cidr is: the hooks of a family are installed with its service ranges"
            EXT_CIDRS6+=("$n")
        else
            ((${#CIDRS[@]} > 0)) || usage_error "--external-cidr $c is IPv4 but no --service-cidr is: the hooks of a family are installed with its service ranges"
            EXT_CIDRS+=("$n")
        fi
    done
    parse_node_port_range "$NODE_PORT_RANGE"
    if [[ $MODE == mark ]]; then
        command -v nft >/dev/null || die "mode mark needs the nft command (nftables)"
    fi
    local ipt6
    ipt6=$(v6_of "$IPT")
    ((${#CIDRS6[@]} == 0)) || has_ipt "$ipt6" || die "IPv6 service ranges need $ipt6, $ipt6-save and $ipt6-restore"

    local ipt_in nft_in="" ipt6_in="" nft6_in=""
    if ((${#CIDRS[@]} > 0)); then
        ipt_in=$(install_input "$IPT")
        [[ $MODE == mark ]] && nft_in=$(nft_input)
    else
        ipt_in=$(removal_input "$IPT")
    fi
    if ((${#CIDRS6[@]} > 0)); then
        ipt6_in=$(install_input "$ipt6" 6)
        [[ $MODE == mark ]] && nft6_in=$(nft_input 6)
    elif has_ipt "$ipt6"; then
        ipt6_in=$(removal_input "$ipt6")
    fi
    if ((DRY_RUN)); then
        [[ -z $ipt_in ]] || printf '# %s-restore --noflush input\n%s\n' "$IPT" "$ipt_in"
        [[ -z $nft_in ]] || printf '# nft -f input\n%s\n' "$nft_in"
        [[ -z $ipt6_in ]] || printf '# %s-restore --noflush input\n%s\n' "$ipt6" "$ipt6_in"
        [[ -z $nft6_in ]] || printf '# nft -f input (IPv6)\n%s\n' "$nft6_in"
        return 0
    fi

    # mode mark: the nat map and trailing drop must be in place before the queue
    # rules send marked packets (an un-NATed first packet would stick for 120 s)
    if [[ -n $nft_in ]]; then
        printf '%s\n' "$nft_in" | nft -f - || die "nft -f failed for table ip $NFT_TABLE; input was:"$'\n'"$nft_in"
    fi
    if [[ -n $nft6_in ]]; then
        printf '%s\n' "$nft6_in" | nft -f - || die "nft -f failed for table ip6 $NFT_TABLE; input was:"$'\n'"$nft6_in"
    fi
    if [[ -n $ipt_in ]] && ! printf '%s\n' "$ipt_in" | "$IPT-restore" -w 10 --noflush; then
        die "$IPT-restore --noflush failed; input was:"$'\n'"$ipt_in"
    fi
    if [[ -n $ipt6_in ]] && ! printf '%s\n' "$ipt6_in" | "$ipt6-restore" -w 10 --noflush; then
        die "$ipt6-restore --noflush failed; input was:"$'\n'"$ipt6_in"
    fi
    if { [[ $MODE != mark ]] || ((${#CIDRS[@]} == 0)); } && nft_table_present; then
        nft delete table ip "$NFT_TABLE" || die "could not delete the nft table ip $NFT_TABLE left by mode mark"
    fi
    if { [[ $MODE != mark ]] || ((${#CIDRS6[@]} == 0)); } && nft_table_present ip6; then
        nft delete table ip6 "$NFT_TABLE" || die "could not delete the nft table ip6 $NFT_TABLE left by mode mark"
    fi
    # rules of ours left in another iptables backend would double-queue packets
    local other
    for other in "${ALL_IPTS[@]}"; do
        [[ $other != "$IPT" ]] || continue
        [[ $(backend_of "$other") != "$(backend_of "$IPT")" ]] || continue
        if "$other-save" 2>/dev/null | grep -q 'NFQLB-'; then
            warn "$other also holds NFQLB-* rules (from an install with --iptables $other); run: $PROG remove --iptables $other"
        fi
    done
    if ((!QUIET)); then
        printf 'nfq-lb hooks installed: mode=%s queues=%s cidrs=%s external-cidrs=%s node-ports=%s mark-mask=%s (shift=%d width=%d REJECT=%s NOTRACK=%s MASQ=%s ID_MASK=%s) bypass=%s iptables=%s\n' \
            "$MODE" "$QUEUES" "$(IFS=,; echo "${CIDRS[*]}${CIDRS6[*]:+${CIDRS[*]:+,}}${CIDRS6[*]}")" "$(IFS=,; x="${EXT_CIDRS[*]}${EXT_CIDRS6[*]:+${EXT_CIDRS[*]:+,}}${EXT_CIDRS6[*]}"; echo "${x:-none}")" "${NP_LOW:-none}${NP_HIGH:+-$NP_HIGH}" "$(hex "$MASK")" "$SHIFT" "$WIDTH" "$(hex "$MARK_REJECT")" \
            "$(hex "$MARK_NOTRACK")" "$(hex "$MASQ")" "$(hex "$ID_MASK")" "$( ((BYPASS)) && echo yes || echo no)" "$IPT"
    fi
}

# ---------------------------------------------------------------- status
do_status() {
    local ipt table lines found=0 complete=1 be i chain target mark_mode=0 mark_mode6=0
    local -a missing=() ipts
    local -a want=(raw:PREROUTING:NFQLB-PREROUTING raw:OUTPUT:NFQLB-OUTPUT
        mangle:PREROUTING:NFQLB-PREROUTING mangle:OUTPUT:NFQLB-OUTPUT
        nat:POSTROUTING:NFQLB-POSTROUTING filter:FORWARD:NFQLB-REJECT filter:OUTPUT:NFQLB-REJECT
        filter:FORWARD:NFQLB-FORWARD filter:INPUT:NFQLB-REJECT)
    mapfile -t ipts < <(both_families)
    for ipt in "${ipts[@]}"; do
        be=$(backend_of "$ipt" || echo "?")
        local all="" existing
        existing=" $(existing_tables "$ipt" | tr '\n' ' ') "
        for table in "${OUR_TABLES[@]}"; do
            [[ $existing == *" $table "* ]] || continue
            lines=$(save_table "$ipt" "$table" | our_lines_of)
            [[ -n $lines ]] || continue
            all+="*$table"$'\n'"$lines"$'\n'
        done
        [[ -n $all ]] || continue
        found=1
        printf '== iptables rules of nfq-lb (%s, %s)\n%s' "$ipt" "$be" "$all"
        if [[ $all == *"--ctstatus CONFIRMED"* ]]; then
            if [[ ${ipt##*/} == ip6* ]]; then mark_mode6=1; else mark_mode=1; fi
        fi
        for i in "${want[@]}"; do
            table=${i%%:*}; chain=${i#*:}; target=${chain#*:}; chain=${chain%%:*}
            if ! grep -qxF -- "-A $chain -j $target" <<<"$(save_table "$ipt" "$table")"; then
                missing+=("$ipt: $table $chain -j $target")
            fi
        done
    done
    if nft_table_present; then
        found=1
        printf '== nft table ip %s\n' "$NFT_TABLE"
        nft list table ip "$NFT_TABLE"
    elif ((mark_mode)); then
        missing+=("nft table ip $NFT_TABLE (mode mark)")
    fi
    if nft_table_present ip6; then
        found=1
        printf '== nft table ip6 %s\n' "$NFT_TABLE"
        nft list table ip6 "$NFT_TABLE"
    elif ((mark_mode6)); then
        missing+=("nft table ip6 $NFT_TABLE (mode mark, IPv6)")
    fi
    printf '== kernel queues (/proc/net/netfilter/nfnetlink_queue)\n'
    if [[ -s /proc/net/netfilter/nfnetlink_queue ]]; then
        printf '%6s %10s %8s %5s %6s %10s %10s %12s\n' queue portid waiting mode range q_dropped u_dropped id_seq
        # queue_num peer_portid queue_total copy_mode copy_range queue_dropped user_dropped id_sequence 1
        while read -r q p t m r qd ud seq _; do
            printf '%6s %10s %8s %5s %6s %10s %10s %12s\n' "$q" "$p" "$t" "$m" "$r" "$qd" "$ud" "$seq"
        done </proc/net/netfilter/nfnetlink_queue
    else
        printf '(no queue bound: no daemon listening in this netns)\n'
    fi
    if ((!found)); then
        printf '== state: not installed\n'
        return 3
    fi
    if ((${#missing[@]} > 0)); then
        complete=0
        printf '== state: partly installed; missing:\n'
        printf '   %s\n' "${missing[@]}"
    fi
    ((complete)) || return 3
    printf '== state: installed\n'
    return 0
}

case $ACTION in
    install) do_install ;;
    remove) do_remove ;;
    status) do_status || exit $? ;;
esac

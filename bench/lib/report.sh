# shellcheck shell=bash
# bench/lib/report.sh - raw.csv -> results.csv (medians), results.md (tables, ratios, goals),
# results.png (gnuplot). Sourced by bench/run; uses OUT, SCENARIOS, SERVICES, and the run
# description variables of bench/run.

RESULTS_HEADER="scenario,services,conn_per_s,p50_us,p99_us,syn_pps,queue_drops,cpu_s_per_10k,update_ms,req_p50_us,req_p99_us,share_n2p1"

# summarize: results.csv from raw.csv (+ kube-full-sync.csv): per scenario and N the median over
# repetitions of every figure (queue_drops: the sum over repetitions, so one drop shows);
# kube-proxy's update_ms is the median over its replace and revert partial syncs; the row
# kube-proxy-full-sync holds the full restore time of N's rule set in update_ms. extra-rows.csv
# (ROW,N,MS) adds samples of update_ms: kube-proxy-nft (its partial syncs), the rows
# kube-proxy-nft-full-sync and kube-proxy-nft-list.
summarize() {
    [[ -f $OUT/extra-rows.csv ]] || : >"$OUT/extra-rows.csv"
    awk -F, -v ORDER="$(IFS=,; echo "${SCENARIOS[*]}")" -v NS="$(IFS=,; echo "${SERVICES[*]}")" \
        -v REVERT="$OUT/kube-partial-revert.csv" -v FULL="$OUT/kube-full-sync.csv" -v EXTRA="$OUT/extra-rows.csv" \
        -v HDR="$RESULTS_HEADER" '
    function median(key,   n, i, j, t, v) {
        n = cnt[key]
        if (n == 0) return ""
        for (i = 1; i <= n; i++) v[i] = val[key, i]
        for (i = 2; i <= n; i++) { t = v[i]; for (j = i - 1; j >= 1 && v[j] + 0 > t + 0; j--) v[j + 1] = v[j]; v[j + 1] = t }
        return (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
    }
    function add(key, x) { if (x != "") { cnt[key]++; val[key, cnt[key]] = x } }
    function fmt(x, d) { return (x == "") ? "" : sprintf("%." d "f", x) }
    FNR == 1 && FILENAME != REVERT && FILENAME != FULL && FILENAME != EXTRA { next }   # headers
    FILENAME == EXTRA { add($1 SUBSEP $2 SUBSEP "update_ms", $3); seen[$1 SUBSEP $2] = 1; next }
    FILENAME == REVERT { add("kube-proxy" SUBSEP $1 SUBSEP "update_ms", $3); next }
    FILENAME == FULL { add("kube-proxy-full-sync" SUBSEP $1 SUBSEP "update_ms", $2); seen["kube-proxy-full-sync" SUBSEP $1] = 1; next }
    {
        k = $1 SUBSEP $2; seen[k] = 1
        add(k SUBSEP "conn_per_s", $4); add(k SUBSEP "p50_us", $5); add(k SUBSEP "p99_us", $6)
        # CPU per 10,000 SYNs the balancer answered (sent - dropped), from cpu_s (column 13)
        per10k = ($13 != "" && $10 - $12 > 0) ? $13 * 10000 / ($10 - $12) : ""
        add(k SUBSEP "syn_pps", $9); add(k SUBSEP "cpu_s_per_10k", per10k); add(k SUBSEP "update_ms", $16)
        add(k SUBSEP "req_p50_us", $23); add(k SUBSEP "req_p99_us", $24); add(k SUBSEP "share_n2p1", $25)
        if ($12 != "") drops[k] += $12
        if ($12 != "") hasdrops[k] = 1
    }
    END {
        print HDR
        ns = split(NS, nlist, ","); no = split(ORDER, olist, ",")
        olist[++no] = "kube-proxy-full-sync"; olist[++no] = "kube-proxy-nft-full-sync"; olist[++no] = "kube-proxy-nft-list"
        for (a = 1; a <= ns; a++) for (b = 1; b <= no; b++) {
            k = olist[b] SUBSEP nlist[a]
            if (!(k in seen)) continue
            printf "%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s\n", olist[b], nlist[a], fmt(median(k SUBSEP "conn_per_s"), 0),
                fmt(median(k SUBSEP "p50_us"), 0), fmt(median(k SUBSEP "p99_us"), 0), fmt(median(k SUBSEP "syn_pps"), 0),
                (k in hasdrops) ? drops[k] : "", fmt(median(k SUBSEP "cpu_s_per_10k"), 3), fmt(median(k SUBSEP "update_ms"), 1),
                fmt(median(k SUBSEP "req_p50_us"), 0), fmt(median(k SUBSEP "req_p99_us"), 0), fmt(median(k SUBSEP "share_n2p1"), 3)
        }
    }' "$OUT/raw.csv" "$OUT/kube-partial-revert.csv" "$OUT/kube-full-sync.csv" "$OUT/extra-rows.csv" >"$OUT/results.csv"
}

# best_kube N: "SCENARIO CONN_PER_S" of the kube-proxy mode with the most conn/s at N (empty if none ran)
best_kube() {
    local s v best="" bv=""
    for s in kube-proxy kube-proxy-nft; do
        v=$(field "$s" "$1" conn_per_s)
        [[ -z $v ]] && continue
        if [[ -z $bv ]] || awk -v a="$v" -v b="$bv" 'BEGIN { exit !(a + 0 > b + 0) }'; then best=$s bv=$v; fi
    done
    [[ -n $best ]] && printf '%s %s\n' "$best" "$bv"
}

# field SCENARIO N COLUMN: a value from results.csv
field() {
    awk -F, -v s="$1" -v n="$2" -v c="$3" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $1 == s && $2 == n { print $col[c]; exit }' "$OUT/results.csv"
}

ratio() {   # ratio A B -> A/B with 2 decimals, or "n/a"
    awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.2f", a / b }'
}

# notes_for SCENARIO N: failures and remarks over the repetitions, for the markdown table
notes_for() {
    awk -F, -v s="$1" -v n="$2" '
        NR > 1 && $1 == s && $2 == n {
            reps++; fail += $8; if ($19 != "" && $19 > 0) lqd += $19
            if ($4 != "") { if (cmin == "" || $4 + 0 < cmin + 0) cmin = $4; if (cmax == "" || $4 + 0 > cmax + 0) cmax = $4 }
            m = split($21, items, "; ")
            for (q = 1; q <= m; q++) if (items[q] != "" && !(items[q] in seen)) { seen[items[q]] = 1; txt = txt (txt ? "; " : "") items[q] }
            if ($17 != "") { g = $17; if (g > gmax) gmax = g }
        }
        END {
            out = reps " reps"
            if (cmin != "") out = out ", conn/s " cmin "-" cmax
            if (fail > 0) out = out ", " fail " failed conns"
            if (lqd > 0) out = out ", " lqd " queue drops under loadgen"
            if (gmax != "") out = out ", /status GET up to " gmax " ms"
            if (txt != "" && s != "kube-proxy") out = out ", " txt
            print out
        }' "$OUT/raw.csv"
}

write_markdown() {
    local md=$OUT/results.md n s
    {
        printf '# nfq-lb end-to-end benchmark (%s)\n\n' "$RUN_KIND"
        printf '%s\n\n' "$RUN_DESCRIPTION"
        printf '| scenario | services | conn/s | p50 µs | p99 µs | SYN/s | queue drops | CPU s / 10k SYN | update ms | notes |\n'
        printf '|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n'
        tail -n +2 "$OUT/results.csv" | while IFS=, read -r scen n c p50 p99 pps qd cpu upd _; do
            local note=""
            if [[ $scen == kube-proxy-full-sync ]]; then
                note="full iptables-restore of the whole rule set (one sample)"
            elif [[ $scen == kube-proxy-nft-full-sync ]]; then
                note="nft -f of the whole table ip kube-proxy (one sample)"
            elif [[ $scen == kube-proxy-nft-list ]]; then
                note="nft --json list chains ip + list sets ip, as kube-proxy's every sync starts (median)"
            elif [[ $scen == kube-proxy-nft ]]; then
                note="$(notes_for "$scen" "$n"); update = partial sync nft -f (median of replace + revert, measured after the load), without the list before it"
            elif [[ $scen == kube-proxy ]]; then
                note="$(notes_for "$scen" "$n"); update = partial sync (median of replace + revert)"
            else
                note=$(notes_for "$scen" "$n")
            fi
            printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$scen" "$n" "$c" "$p50" "$p99" "$pps" "$qd" "$cpu" "$upd" "$note"
        done
        printf '\n## Ratios (conn/s unless noted; kube-proxy = its best mode at that N)\n\n'
        printf '| services | mode | vs best kube-proxy | best kube-proxy mode | vs c-reference | SYN/s vs c-reference | vs direct |\n|---:|---|---:|---|---:|---:|---:|\n'
        for n in "${SERVICES[@]}"; do
            local bk
            bk=$(best_kube "$n")
            for s in nfq-lb nfq-lb-rewrite nfq-lb-mark floor; do
                [[ " ${SCENARIOS[*]} " == *" $s "* ]] || continue
                printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$n" "$s" \
                    "$(ratio "$(field "$s" "$n" conn_per_s)" "${bk#* }")" "${bk% *}" \
                    "$(ratio "$(field "$s" "$n" conn_per_s)" "$(field c-reference "$n" conn_per_s)")" \
                    "$(ratio "$(field "$s" "$n" syn_pps)" "$(field c-reference "$n" syn_pps)")" \
                    "$(ratio "$(field "$s" "$n" conn_per_s)" "$(field direct "$n" conn_per_s)")"
            done
        done
        if [[ " ${SCENARIOS[*]} " == *" floor "* && " ${SCENARIOS[*]} " == *" nfq-lb-mark "* ]]; then
            printf '\n## nfq-lb-mark against the floor (the same hooks and nft map, a minimal C verdict loop)\n\n'
            printf '| services | conn/s nfq-lb-mark / floor | p50 µs nfq-lb-mark - floor | p99 µs nfq-lb-mark / floor | goal (>= 0.98x, p50 within 10 µs) |\n|---:|---:|---:|---|---|\n'
            for n in "${SERVICES[@]}"; do
                local r d
                r=$(ratio "$(field nfq-lb-mark "$n" conn_per_s)" "$(field floor "$n" conn_per_s)")
                d=$(awk -v a="$(field nfq-lb-mark "$n" p50_us)" -v b="$(field floor "$n" p50_us)" 'BEGIN { if (a == "" || b == "") print "n/a"; else printf "%+d", a - b }')
                printf '| %s | %s | %s | %s / %s | %s |\n' "$n" "$r" "$d" "$(field nfq-lb-mark "$n" p99_us)" "$(field floor "$n" p99_us)" \
                    "$(awk -v r="$r" -v d="$d" 'BEGIN { if (r == "n/a" || d == "n/a") print "n/a"; else print (r + 0 >= 0.98 && d + 0 <= 10) ? "met" : "not met" }')"
            done
        fi
        ipv6_nodeport_table
        slow_backend_table
        printf '\n## Goals (every mode; nfq-lb-mark is the default tcpMode; kube-proxy = its best mode at that N)\n\n'
        goals_table
        if [[ -s $OUT/issues.txt ]]; then
            printf '\n## Problems seen (bench/out/issues.txt)\n\n```\n'
            head -n 60 "$OUT/issues.txt"
            printf '```\n'
        fi
    } >"$md"
}

# cell SCENARIO N: "conn/s (p50 / p99 µs)" or "-"
cell() {
    local c
    c=$(field "$1" "$2" conn_per_s)
    [[ -n $c ]] && printf '%s (%s / %s)' "$c" "$(field "$1" "$2" p50_us)" "$(field "$1" "$2" p99_us)" || printf -- '-'
}

# ipv6_nodeport_table: the IPv6 ClusterIP and NodePort paths beside the IPv4 ClusterIP one, at
# every N where they ran (nfq-lb in mark mode, kube-proxy's nftables mode, the client alone)
ipv6_nodeport_table() {
    local n any=0 s
    for s in nfq-lb-mark-v6 nfq-lb-mark-nodeport kube-proxy-nft-v6 kube-proxy-nft-nodeport direct-v6; do
        [[ " ${SCENARIOS[*]} " == *" $s "* ]] && any=1
    done
    ((any)) || return 0
    printf '\n## IPv6 ClusterIP and NodePort (conn/s, connect p50 / p99 µs)\n\n'
    printf 'IPv6: VIP fd00:10:96::10:80 -> the same pods by their IPv6 addresses; NodePort: node1 192.168.50.1:30080 from the client pod (masqueraded, as kube-proxy does for externalTrafficPolicy Cluster).\n\n'
    printf '| services | path | nfq-lb-mark | kube-proxy nftables | nfq-lb / kube-proxy | direct (client round robin) |\n|---:|---|---:|---:|---:|---:|\n'
    for n in "${SERVICES[@]}"; do
        [[ -n $(field nfq-lb-mark-v6 "$n" conn_per_s)$(field nfq-lb-mark-nodeport "$n" conn_per_s)$(field kube-proxy-nft-v6 "$n" conn_per_s)$(field kube-proxy-nft-nodeport "$n" conn_per_s) ]] || continue
        printf '| %s | IPv4 ClusterIP | %s | %s | %s | %s |\n' "$n" "$(cell nfq-lb-mark "$n")" "$(cell kube-proxy-nft "$n")" \
            "$(ratio "$(field nfq-lb-mark "$n" conn_per_s)" "$(field kube-proxy-nft "$n" conn_per_s)")" "$(cell direct "$n")"
        printf '| %s | IPv6 ClusterIP | %s | %s | %s | %s |\n' "$n" "$(cell nfq-lb-mark-v6 "$n")" "$(cell kube-proxy-nft-v6 "$n")" \
            "$(ratio "$(field nfq-lb-mark-v6 "$n" conn_per_s)" "$(field kube-proxy-nft-v6 "$n" conn_per_s)")" "$(cell direct-v6 "$n")"
        printf '| %s | NodePort (IPv4) | %s | %s | %s | %s |\n' "$n" "$(cell nfq-lb-mark-nodeport "$n")" "$(cell kube-proxy-nft-nodeport "$n")" \
            "$(ratio "$(field nfq-lb-mark-nodeport "$n" conn_per_s)" "$(field kube-proxy-nft-nodeport "$n" conn_per_s)")" "$(cell direct "$n")"
    done
}

# slow_backend_table: (--slow-backend) per contender: requests/s, connect and whole-request
# latency, and the share of requests the slow backend (pod n2p1) got
slow_backend_table() {
    [[ -n ${SLOW_MS:-} ]] || return 0
    local n s strat
    printf '\n## One slow backend (pod n2p1 answers %s ms after the request; n1p1 and n1p2 are nginx)\n\n' "$SLOW_MS"
    printf '| services | contender | choice | requests/s | connect p50 / p99 µs | request p50 / p99 µs | share to the slow backend |\n|---:|---|---|---:|---:|---:|---:|\n'
    for n in "${SERVICES[@]}"; do
        for s in "${SCENARIOS[@]}"; do
            [[ -n $(field "$s" "$n" conn_per_s) ]] || continue
            case $s in
                kube-proxy-nft*|kube-proxy) strat="random (numgen / statistic)" ;;
                direct*) strat="client round robin" ;;
                floor) strat="random mark" ;;
                nfq-lb-mark-least-connections) strat=least-connections ;;
                nfq-lb-mark-power-of-two) strat=power-of-two ;;
                nfq-lb*) strat=random ;;
                *) strat="" ;;
            esac
            printf '| %s | %s | %s | %s | %s / %s | %s / %s | %s |\n' "$n" "$s" "$strat" "$(field "$s" "$n" conn_per_s)" \
                "$(field "$s" "$n" p50_us)" "$(field "$s" "$n" p99_us)" "$(field "$s" "$n" req_p50_us)" "$(field "$s" "$n" req_p99_us)" \
                "$(field "$s" "$n" share_n2p1)"
        done
    done
}

# goal GOAL_TEXT MEASURED_TEXT MET(yes/no/n/a)
goal_row() { printf '| %s | %s | %s |\n' "$1" "$2" "$3"; }

goals_table() {
    local s n r kp bk cr v met
    printf '| goal | measured | met |\n|---|---|---|\n'
    for s in nfq-lb nfq-lb-rewrite nfq-lb-mark; do
        [[ " ${SCENARIOS[*]} " == *" $s "* ]] || continue
        for n in "${SERVICES[@]}"; do
            bk=$(best_kube "$n"); kp=${bk#* }
            v=$(field "$s" "$n" conn_per_s)
            r=$(ratio "$v" "$kp")
            case $n in
                1) want=0.85; text=">= 0.85x kube-proxy conn/s at 1 service" ;;
                1000) want=1.0001; text="above kube-proxy conn/s at 1,000 services" ;;
                10000) want=2; text=">= 2x kube-proxy conn/s at 10,000 services" ;;
                *) want=""; text="" ;;
            esac
            if [[ -n $want ]]; then
                met=$(awk -v r="$r" -v w="$want" 'BEGIN { print (r == "n/a") ? "n/a" : (r + 0 >= w ? "yes" : "no") }')
                goal_row "$s: $text" "$v vs $kp conn/s (${bk% *}) = ${r}x" "$met"
            fi
            cr=$(field c-reference "$n" conn_per_s)
            if [[ -n $cr ]]; then
                r=$(ratio "$v" "$cr")
                met=$(awk -v r="$r" 'BEGIN { print (r == "n/a") ? "n/a" : (r + 0 >= 1 ? "yes" : "no") }')
                goal_row "$s: conn/s >= c-reference (N=$n)" "$v vs $cr = ${r}x" "$met"
                r=$(ratio "$(field "$s" "$n" syn_pps)" "$(field c-reference "$n" syn_pps)")
                met=$(awk -v r="$r" 'BEGIN { print (r == "n/a") ? "n/a" : (r + 0 >= 1 ? "yes" : "no") }')
                goal_row "$s: SYN/s >= c-reference (N=$n)" "$(field "$s" "$n" syn_pps) vs $(field c-reference "$n" syn_pps) = ${r}x" "$met"
            fi
        done
        v=$(field "$s" 10000 update_ms)
        if [[ -n $v ]]; then
            met=$(awk -v v="$v" 'BEGIN { print (v + 0 < 10) ? "yes" : "no" }')
            goal_row "$s: update latency < 10 ms at 10,000 services" "$v ms (kube-proxy partial sync: iptables $(field kube-proxy 10000 update_ms) ms, nftables $(field kube-proxy-nft 10000 update_ms) ms + nft list $(field kube-proxy-nft-list 10000 update_ms) ms)" "$met"
        fi
    done
}

# plot: results.png, conn/s and SYN/s against N per scenario (gnuplot, log x)
plot_results() {
    command -v gnuplot >/dev/null || { warn "gnuplot not found (Debian: gnuplot-nox): no plot"; return 0; }
    local dat=$OUT/plot.dat s idx=0 term
    : >"$dat"
    local -a names=()
    for s in "${SCENARIOS[@]}"; do
        awk -F, -v s="$s" 'NR > 1 && $1 == s { print $2, ($3 == "" ? "NaN" : $3), ($6 == "" ? "NaN" : $6) }' "$OUT/results.csv" >>"$dat"
        printf '\n\n' >>"$dat"
        names+=("$s")
    done
    term="pngcairo size 1400,560 font 'sans,11'"
    gnuplot -e "set terminal $term" -e 'quit' >/dev/null 2>&1 || term="png size 1400,560"
    {
        printf 'set terminal %s\nset output "%s"\n' "$term" "$OUT/results.png"
        printf 'set multiplot layout 1,2 title "nfq-lb end-to-end (%s)"\n' "$RUN_KIND"
        printf 'set logscale x\nset xrange [0.5:20000]\nset xtics ("1" 1, "10" 10, "100" 100, "1k" 1000, "10k" 10000)\n'
        printf 'set grid\nset key outside bottom center horizontal\nset xlabel "services (N)"\nset yrange [0:*]\n'
        printf 'set ylabel "connections/s (short TCP, %s clients)"\nset title "conn/s (median of repetitions)"\n' "$THREADS"
        printf 'plot'
        for idx in "${!names[@]}"; do
            printf '%s "%s" index %d using 1:2 with linespoints lt %d lw 2 pt %d title "%s"' "$([[ $idx -gt 0 ]] && echo ,)" "$dat" "$idx" "$((idx + 1))" "$((idx + 4))" "${names[$idx]}"
        done
        printf '\nset ylabel "SYNs answered per second (syngen flood)"\nset title "SYN/s through the queue (queue scenarios)"\n'
        printf 'plot'
        local first=1
        for idx in "${!names[@]}"; do
            case ${names[$idx]} in direct*|kube-proxy*) continue ;; esac
            printf '%s "%s" index %d using 1:3 with linespoints lt %d lw 2 pt %d title "%s"' "$([[ $first -eq 0 ]] && echo ,)" "$dat" "$idx" "$((idx + 1))" "$((idx + 4))" "${names[$idx]}"
            first=0
        done
        printf '\nunset multiplot\n'
    } >"$OUT/plot.gp"
    gnuplot "$OUT/plot.gp" 2>"$OUT/plot.err" || { warn "gnuplot failed: $(head -n 5 "$OUT/plot.err")"; return 0; }
}

#!/usr/bin/env bash
# irq-affinity.sh — spread a NIC's queue interrupts over ringway's shard cores, one per CPU, and
# set RPS/XPS to match. Dry run by default; --apply writes (root only). See tuning/README.md.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: irq-affinity.sh [--dry-run | --apply] [--cpus LIST] [--rps auto|off] [--rfs N] IFACE

  --dry-run    print current and planned settings, change nothing (default)
  --apply      write them (root only; lost at reboot or driver reset: re-run from a unit)
  --cpus LIST  CPUs to use, e.g. 0-15 or 2-15,18 (default: all online CPUs; use the CPUs
               ringway's shards run on: its affinity mask, e.g. systemd CPUAffinity=)
  --rps MODE   auto: RPS only when the NIC has fewer RX queues than CPUs, each queue fanning
               out to its share of CPUs; off: disable RPS (default auto)
  --rfs N      Receive Flow Steering with N flow entries (e.g. 32768): RPS on every queue for
               all CPUs, packets processed on the CPU of the shard that reads the socket
EOF
}

mode=dry
iface=
cpus_arg=
rps=auto
rfs=0
while (($#)); do
    case $1 in
        --apply) mode=apply ;;
        --dry-run) mode=dry ;;
        --cpus) cpus_arg=${2:?--cpus needs a list}; shift ;;
        --cpus=*) cpus_arg=${1#*=} ;;
        --rps) rps=${2:?--rps needs auto or off}; shift ;;
        --rps=*) rps=${1#*=} ;;
        --rfs) rfs=${2:?--rfs needs a number}; shift ;;
        --rfs=*) rfs=${1#*=} ;;
        -h|--help) usage; exit 0 ;;
        -*) echo "unknown option: $1" >&2; usage >&2; exit 2 ;;
        *) [[ -z $iface ]] || { echo "one interface only" >&2; exit 2; }; iface=$1 ;;
    esac
    shift
done

die() { echo "irq-affinity.sh: $*" >&2; exit 1; }
[[ -n $iface ]] || { usage >&2; exit 2; }
[[ $iface != */* && -d /sys/class/net/$iface ]] || die "no such interface: $iface"
[[ $rps == auto || $rps == off ]] || die "--rps takes auto or off"
[[ $rfs =~ ^[0-9]+$ ]] || die "--rfs takes a number"
if [[ $mode == apply && $EUID -ne 0 ]]; then
    die "--apply needs root (try the default --dry-run first)"
fi

# "0-3,8,10-11" -> "0 1 2 3 8 10 11"
expand_list() {
    local part lo hi out=()
    IFS=, read -ra parts <<<"$1"
    for part in "${parts[@]}"; do
        [[ -z $part ]] && continue
        if [[ $part =~ ^([0-9]+)-([0-9]+)$ ]]; then
            lo=${BASH_REMATCH[1]} hi=${BASH_REMATCH[2]}
            ((lo <= hi)) || die "bad CPU range: $part"
            for ((c = lo; c <= hi; c++)); do out+=("$c"); done
        elif [[ $part =~ ^[0-9]+$ ]]; then
            out+=("$part")
        else
            die "bad CPU list: $1"
        fi
    done
    echo "${out[*]}"
}

# CPU numbers -> hex bitmap as /sys expects it: 32-bit words, most significant first, comma-separated.
mask_of() {
    (($#)) || { echo 0; return; }
    local -a words=()
    local c w top=0 hex='' i
    for c in "$@"; do
        w=$((c / 32))
        words[w]=$(( ${words[w]:-0} | (1 << (c % 32)) ))
        ((w > top)) && top=$w
    done
    for ((i = top; i >= 0; i--)); do
        hex+=$(printf '%08x' "${words[i]:-0}")
        ((i > 0)) && hex+=,
    done
    echo "$hex"
}

# Strip commas and leading zeros so "00000000,00000003" and "3" compare equal.
norm_mask() {
    local m=${1//,/}
    while [[ $m == 0* ]]; do m=${m#0}; done
    echo "${m:-0}"
}
shopt -s nullglob

if [[ -n $cpus_arg ]]; then
    cpu_text=$cpus_arg
elif [[ -r /sys/devices/system/cpu/online ]]; then
    cpu_text=$(</sys/devices/system/cpu/online)
else
    cpu_text="0-$(($(nproc) - 1))"
fi
read -ra cpus <<<"$(expand_list "$cpu_text")"
ncpu=${#cpus[@]}
((ncpu > 0)) || die "no CPUs in '$cpu_text'"
for c in "${cpus[@]}"; do
    [[ -d /sys/devices/system/cpu/cpu$c ]] || die "CPU $c does not exist on this host"
done

changes=0
failures=0
# write FILE VALUE WHAT: print, and with --apply write. Skips values already in place.
write() {
    local file=$1 value=$2 what=$3 now
    now=$(cat "$file" 2>/dev/null || echo '?')
    if [[ $now == "$value" || ( $file == *_cpus && $(norm_mask "$now") == "$(norm_mask "$value")" ) ]]; then
        printf '  %-34s %s (unchanged)\n' "$what" "$now"
        return
    fi
    changes=$((changes + 1))
    if [[ $mode == dry ]]; then
        printf '  %-34s %s -> %s\n' "$what" "$now" "$value"
    elif { printf '%s\n' "$value" >"$file"; } 2>/dev/null; then
        printf '  %-34s %s -> %s  done\n' "$what" "$now" "$value"
    else
        failures=$((failures + 1))
        printf '  %-34s %s -> %s  FAILED (kernel-managed IRQ or unsupported)\n' "$what" "$now" "$value"
    fi
}

# --- Facts ---------------------------------------------------------------------------------
dev=
[[ -e /sys/class/net/$iface/device ]] && dev=$(readlink -f "/sys/class/net/$iface/device")
# PCI functions hold msi_irqs; virtio devices sit one level below theirs.
pcidir=
for d in "$dev" "$dev/.."; do
    if [[ -n $dev && -d $d/msi_irqs ]]; then pcidir=$(readlink -f "$d"); break; fi
done
driver=virtual
[[ -n $dev && -e $dev/driver ]] && driver=$(basename "$(readlink -f "$dev/driver")")
echo "interface $iface  driver $driver  mode $mode"
echo "CPUs ($ncpu): $cpu_text"
if [[ -z $dev ]]; then
    echo "$iface is a virtual interface (no device, no queue IRQs): nothing to align"
    exit 0
fi
if [[ -n $pcidir && -r $pcidir/numa_node ]]; then
    node=$(<"$pcidir/numa_node")
    local_cpus=$(cat "$pcidir/local_cpulist" 2>/dev/null || echo '?')
    ((node < 0)) ||
        echo "NIC NUMA node $node, local CPUs $local_cpus (on multi-socket hosts prefer --cpus $local_cpus)"
fi
if command -v ethtool >/dev/null 2>&1; then
    ch=$(ethtool -l "$iface" 2>/dev/null | awk '/^Current/{c=1} c && /^Combined:/{print $2; exit}')
    [[ -n $ch ]] && echo "combined channels now: $ch (ethtool -L $iface combined $ncpu gives one queue per shard core)"
fi

# --- IRQs ----------------------------------------------------------------------------------
declare -A seen=()
irqs=()
names=()
add_irq() {
    local n=$1 name=$2
    [[ -n ${seen[$n]:-} ]] && return
    seen[$n]=1
    # Skip control vectors: only queue interrupts carry traffic.
    shopt -s nocasematch
    if [[ $name =~ (config|async|ctrl|cmd|admin|misc|lsc|mbx|mailbox|err|link|other) ]]; then
        shopt -u nocasematch
        return
    fi
    shopt -u nocasematch
    irqs+=("$n")
    names+=("$name")
}
declare -A irqname=()
while read -r first rest; do
    [[ $first =~ ^([0-9]+):$ ]] || continue
    irqname[${BASH_REMATCH[1]}]=${rest##* }
done </proc/interrupts
if [[ -n $pcidir ]]; then
    for f in "$pcidir"/msi_irqs/*; do
        n=${f##*/}
        add_irq "$n" "${irqname[$n]:-?}"
    done
fi
# Drivers that name vectors after the interface (eth0-TxRx-3) but expose no msi_irqs.
for n in "${!irqname[@]}"; do
    name=${irqname[$n]}
    case $name in
        "$iface"-*|*-"$iface"-*|*-"$iface") add_irq "$n" "$name" ;;
    esac
done

echo "IRQs (queue q -> CPU at position q mod $ncpu of the list):"
if ((${#irqs[@]} == 0)); then
    echo "  none found for $iface (a virtual interface, or a driver this script does not know)"
else
    # Sort by IRQ number so the fallback queue index is stable.
    mapfile -t order < <(for i in "${!irqs[@]}"; do echo "${irqs[i]} $i"; done | sort -n | awk '{print $2}')
    pos=0
    for i in "${order[@]}"; do
        n=${irqs[i]} name=${names[i]}
        base=${name%%@*}
        if [[ $base =~ ([0-9]+)$ ]]; then q=$((10#${BASH_REMATCH[1]})); else q=$pos; fi
        pos=$((pos + 1))
        target=${cpus[q % ncpu]}
        if [[ -w /proc/irq/$n/smp_affinity_list || $mode == dry ]]; then
            write "/proc/irq/$n/smp_affinity_list" "$target" "irq $n $name"
        else
            printf '  %-34s not writable\n' "irq $n $name"
        fi
    done
fi

# --- RPS / RFS -----------------------------------------------------------------------------
queues() { local d; for d in "/sys/class/net/$iface/queues/$1"-*; do echo "${d##*/}"; done | sort -V; }
mapfile -t rxq < <(queues rx)
nrx=${#rxq[@]}
if ((rfs > 0)); then
    echo "RPS+RFS ($nrx RX queues, $rfs flow entries):"
    write /proc/sys/net/core/rps_sock_flow_entries "$rfs" "net.core.rps_sock_flow_entries"
else
    echo "RPS ($nrx RX queues, mode $rps):"
fi
for q in "${!rxq[@]}"; do
    dir=/sys/class/net/$iface/queues/${rxq[q]}
    [[ -e $dir/rps_cpus ]] || { echo "  ${rxq[q]}: no rps_cpus (kernel without CONFIG_RPS)"; continue; }
    sel=()
    if ((rfs > 0)); then
        sel=("${cpus[@]}")
        write "$dir/rps_flow_cnt" "$((rfs / nrx))" "${rxq[q]}/rps_flow_cnt"
    elif [[ $rps == auto ]] && ((nrx < ncpu)); then
        for ((i = q; i < ncpu; i += nrx)); do sel+=("${cpus[i]}"); done
    fi
    write "$dir/rps_cpus" "$(mask_of "${sel[@]}")" "${rxq[q]}/rps_cpus"
done

# --- XPS -----------------------------------------------------------------------------------
mapfile -t txq < <(queues tx)
ntx=${#txq[@]}
echo "XPS ($ntx TX queues: each CPU transmits on its own queue):"
for q in "${!txq[@]}"; do
    dir=/sys/class/net/$iface/queues/${txq[q]}
    # Present but unreadable (ENOENT) on single-queue devices.
    cat "$dir/xps_cpus" >/dev/null 2>&1 || { echo "  ${txq[q]}: no XPS (single-queue device)"; continue; }
    sel=()
    for ((i = q; i < ncpu; i += ntx)); do sel+=("${cpus[i]}"); done
    write "$dir/xps_cpus" "$(mask_of "${sel[@]}")" "${txq[q]}/xps_cpus"
done

# --- irqbalance ----------------------------------------------------------------------------
for c in /proc/[0-9]*/comm; do
    if [[ $(cat "$c" 2>/dev/null) == irqbalance ]]; then
        echo "WARNING: irqbalance is running and will move these IRQs again within seconds."
        echo "  Stop it (systemctl disable --now irqbalance), or keep it for other devices and ban"
        if ((${#irqs[@]})); then
            echo "  these IRQs in /etc/default/irqbalance:"
            echo "  IRQBALANCE_ARGS=\"$(printf -- '--banirq=%s ' "${irqs[@]}")\""
        else
            echo "  this NIC's IRQs with --banirq=N in IRQBALANCE_ARGS (/etc/default/irqbalance)."
        fi
        break
    fi
done

if [[ $mode == dry ]]; then
    echo "dry run: $changes change(s) planned; run again with --apply as root to make them"
else
    echo "applied: $changes change(s), $failures failed"
    ((failures == 0)) || exit 1
fi

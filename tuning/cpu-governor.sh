#!/usr/bin/env bash
# cpu-governor.sh — show the CPU frequency governors, and with --apply set `performance` on all
# CPUs (root only; lost at reboot). See tuning/README.md for when it matters.
set -euo pipefail
shopt -s nullglob

mode=show
case ${1:-} in
    "") ;;
    --apply) mode=apply ;;
    -h|--help)
        echo "usage: cpu-governor.sh [--apply]   (default: show only)"
        exit 0 ;;
    *) echo "usage: cpu-governor.sh [--apply]" >&2; exit 2 ;;
esac
if [[ $mode == apply && $EUID -ne 0 ]]; then
    echo "cpu-governor.sh: --apply needs root" >&2
    exit 1
fi

files=(/sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor)
if ((${#files[@]} == 0)); then
    echo "no cpufreq on this host (a VM, or frequency left to firmware/BIOS): nothing to set"
    exit 0
fi

base=/sys/devices/system/cpu/cpu0/cpufreq
[[ -r $base/scaling_driver ]] && echo "driver: $(<"$base/scaling_driver")"
[[ -r $base/scaling_available_governors ]] &&
    echo "available: $(<"$base/scaling_available_governors")"
[[ -r $base/energy_performance_preference ]] &&
    echo "energy_performance_preference (cpu0): $(<"$base/energy_performance_preference")"

# Summary: governor -> CPU count.
declare -A count=()
for f in "${files[@]}"; do
    g=$(cat "$f" 2>/dev/null || echo unreadable)
    count[$g]=$(( ${count[$g]:-0} + 1 ))
done
for g in "${!count[@]}"; do echo "governor $g: ${count[$g]} CPU(s)"; done

if [[ $mode == show ]]; then
    if ((${#count[@]} == 1)) && [[ -n ${count[performance]:-} ]]; then
        echo "all CPUs on performance"
    else
        echo "run with --apply as root to set performance on all CPUs"
    fi
    exit 0
fi

failed=0
for f in "${files[@]}"; do
    [[ $(cat "$f" 2>/dev/null) == performance ]] && continue
    if ! { echo performance >"$f"; } 2>/dev/null; then
        echo "FAILED: $f (governor not offered by this driver?)"
        failed=$((failed + 1))
    fi
done
echo "set performance on ${#files[@]} CPU(s), $failed failed"
((failed == 0))

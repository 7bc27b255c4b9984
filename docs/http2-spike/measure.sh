#!/bin/bash
# usage: measure.sh PID PORT N C M [scheme]
pid=$1; port=$2; n=$3; c=$4; m=$5; scheme=${6:-http}
cpu() { awk '{print $14+$15}' /proc/$pid/stat; }
a=$(cpu)
out=$(taskset -c 1 h2load -n $n -c $c -m $m $scheme://127.0.0.1:$port/ 2>&1)
b=$(cpu)
rps=$(echo "$out" | grep -oP 'finished in [^,]+, \K[0-9.]+(?= req/s)')
ok=$(echo "$out" | grep -oP '\K[0-9]+(?= succeeded)')
tick=$(getconf CLK_TCK)
echo "port=$port c=$c m=$m rps=$rps succeeded=$ok cpu_s=$(echo "scale=2;($b-$a)/$tick"|bc) us_per_req=$(echo "scale=2;($b-$a)*1000000/$tick/$n"|bc) rss_kb=$(grep VmRSS /proc/$pid/status|awk '{print $2}')"

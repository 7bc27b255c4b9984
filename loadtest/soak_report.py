"""Report and chart of a soak run (loadtest/soak.py): verdicts, per-minute table, SVG.

Verdicts (all must hold for exit status 0):
- errors: no client saw an error of any kind (every one is unexpected: a graceful backend
  restart must be absorbed by failover; the report lists each error with the nearest event);
- RSS: median VmRSS of the last 30 s of load at most 5% above the median of the 30 s after
  warm-up (SOAK_WARMUP, default the first minute);
- fds: median open fds of the last 60 s of load at most 5% (+5) above the median of the
  60 s after warm-up;
- no crash, ringway exits 0 on SIGTERM, every reload applied, every backend restart came back.
"""

from __future__ import annotations

import datetime
import os
import re
import statistics

import lt

KINDS = ("small", "download", "upload", "abort")
COLORS = {"small": "#2f6fb0", "download": "#3c8d2f", "upload": "#d9534f", "abort": "#999999"}


def median_of(samples: list[dict], key: str, lo: float, hi: float) -> float | None:
    xs = [s[key] for s in samples if lo <= s["t"] < hi and s.get(key) is not None]
    return statistics.median(xs) if xs else None


def slope_per_min(samples: list[dict], key: str, lo: float, hi: float) -> float | None:
    pts = [(s["t"], s[key]) for s in samples if lo <= s["t"] < hi and s.get(key) is not None]
    if len(pts) < 10:
        return None
    mt = statistics.fmean(t for t, _ in pts)
    mv = statistics.fmean(v for _, v in pts)
    den = sum((t - mt) ** 2 for t, _ in pts)
    return 60 * sum((t - mt) * (v - mv) for t, v in pts) / den if den else None


def log_summary(path: str) -> list[tuple[str, int, str]]:
    """ringway's WARN/ERROR log lines grouped by message (numbers and addresses blanked)."""
    groups: dict[str, list] = {}
    try:
        with open(path, "rb") as f:
            lines = f.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return []
    for ln in lines:
        m = re.search(r"\b(ERROR|WARN)\b\s+(.*)$", ln)
        if not m and not re.search(r"panicked|fatal", ln):
            continue
        msg = (m.group(2) if m else ln).strip()
        key = re.sub(r"\d+(\.\d+)*(:\d+)?", "N", msg)[:160]
        g = groups.setdefault(key, [0, ln[:200]])
        g[0] += 1
    return sorted(((k, n, first) for k, (n, first) in groups.items()), key=lambda x: -x[1])


def warn_lines(path: str) -> list[tuple[float, str]]:
    """(epoch, text) of ringway's WARN/ERROR lines (its log lines start with an RFC 3339 UTC time)."""
    out = []
    try:
        with open(path, "rb") as f:
            for ln in f.read().decode("utf-8", "replace").splitlines():
                m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?)Z\s+(WARN|ERROR)\s+(.*)", ln)
                if m:
                    ts = datetime.datetime.fromisoformat(m.group(1)[:26]).replace(tzinfo=datetime.timezone.utc)
                    out.append((ts.timestamp(), f"{m.group(3)} {m.group(4)}"))
    except OSError:
        pass
    return out


def cause(e: dict, warns: list[tuple[float, str]]) -> str:
    """ringway's last two WARN/ERROR lines in the second before a client error, if any."""
    before = [(t, w) for t, w in warns if e["epoch"] - 1.0 <= t <= e["epoch"] + 0.01]
    if not before:
        return ""
    return "; ".join(f"{(t - e['epoch']) * 1e3:+.1f} ms: `{w[:160]}`" for t, w in before[-2:])


def build(info: dict, samples: list[dict], events: list, errors: list, finals: dict,
          problems: list[str]) -> tuple[str, str, bool]:
    secs, warm = info["seconds"], info["warmup"]
    load_end = min(secs, samples[-1]["t"]) if samples else 0
    kinds = [k for k in KINDS if samples and k in samples[0]]
    totals = {k: finals.get(k) or {} for k in kinds}
    err_total = sum(sum((totals[k].get("err") or {}).values()) for k in kinds)
    missing = [k for k in kinds if not finals.get(k)]
    rss0 = median_of(samples, "rss_kib", warm, warm + 30)
    rss1 = median_of(samples, "rss_kib", load_end - 30, load_end + 1)
    rss_max = max((s["rss_kib"] for s in samples if s["t"] >= warm and s.get("rss_kib")), default=None)
    growth = (rss1 / rss0 - 1) * 100 if rss0 and rss1 else None
    fd0 = median_of(samples, "fds", warm, warm + 60)
    fd1 = median_of(samples, "fds", load_end - 60, load_end + 1)
    fds_after = [s["fds"] for s in samples if s["t"] >= warm and s.get("fds") is not None]
    rss_ok = growth is not None and growth < 5
    fd_ok = fd0 is not None and fd1 is not None and fd1 <= fd0 * 1.05 + 5
    failed = bool(err_total or missing or problems or not rss_ok or not fd_ok)

    o = ["# ringway soak", ""]
    o.append(f"- started {info['started']}; {info['machine']}")
    o.append(f"- {secs} s of mixed load through ringway (`--workers {info['workers']}`) on 127.0.0.1:{info['port']}, "
             f"upstream group of two nginx backends (:{info['backend_ports'][0]}, :{info['backend_ports'][1]}, "
             "`keepalive 64`, ringway's defaults otherwise: `proxy_next_upstream error timeout`, `max_fails=1 "
             "fail_timeout=10s`)")
    o.append("- load (loadtest/soak_client.py, one process per kind; connections, requests/s, requests per "
             "client connection): " + "; ".join(f"{k} {c} conns, {r:g}/s, {n}/conn" for k, (c, r, n) in info["load"].items()))
    o.append(f"- events: `ringway -s reload` every {info['reload_every']} s (each one changes an `add_header` value, "
             f"polled until seen); graceful restart (SIGQUIT, then start) of backend1 and backend2 in turn every "
             f"{info['restart_every']} s from {info['restart_offset']} s")
    with open("/proc/loadavg") as f:
        o.append(f"- load average before: {info['load_before']}; after: {' '.join(f.read().split()[:3])} "
                 "(a shared machine: this run is about errors, memory and fds, not speed)")
    o.append("- chart: [soak.svg](soak.svg); every second in soak.jsonl (loadtest/out/)")
    o.append("")
    o.append("## Verdict")
    o.append("")
    o.append("| check | result | |")
    o.append("|---|---|---|")
    o.append(f"| errors seen by clients | {err_total} | {'ok' if not err_total else '**FAIL**'} |")
    o.append(f"| RSS after warm-up ({warm} s) → end | {lt.fmt(rss0 and rss0 / 1024, '.1f')} → {lt.fmt(rss1 and rss1 / 1024, '.1f')} MiB "
             f"({lt.fmt(growth, '+.2f')}%; max {lt.fmt(rss_max and rss_max / 1024, '.1f')} MiB; trend "
             f"{lt.fmt(slope_per_min(samples, 'rss_kib', warm, load_end + 1), '+.1f')} KiB/min) "
             f"| {'ok' if rss_ok else '**FAIL**'} (< 5%) |")
    o.append(f"| open fds after warm-up → end (median of 60 s) | {lt.fmt(fd0, '.0f')} → {lt.fmt(fd1, '.0f')} "
             f"(min {min(fds_after, default='–')}, max {max(fds_after, default='–')}; idle before load "
             f"{info['idle_fds_before']}, 3 s after load {info['idle_fds_after']}) | {'ok' if fd_ok else '**FAIL**'} |")
    o.append(f"| crashes, exit status on SIGTERM | {'none' if not any('CRASH' in p for p in problems) else 'CRASH'}, "
             f"{info['exit_status']} | {'ok' if info['exit_status'] == 0 else '**FAIL**'} |")
    o.append(f"| reloads applied | {sum(1 for e in events if e[1] == 'reload' and 'applied after' in e[2])} of "
             f"{sum(1 for e in events if e[1] == 'reload')} | |")
    o.append(f"| backend restarts | {sum(1 for e in events if e[1] == 'restart' and 'back after' in e[2] and 'not' not in e[2])} "
             f"of {sum(1 for e in events if e[1] == 'restart')} came back | |")
    o.append("")
    o.append("## Requests")
    o.append("")
    o.append("| kind | completed and checked | bytes | errors | p50 ms | p99 ms | max ms |")
    o.append("|---|---:|---:|---:|---:|---:|---:|")
    for k in kinds:
        t = totals[k]
        errs = ", ".join(f"{e} {n}" for e, n in sorted((t.get("err") or {}).items())) or "0"
        o.append(f"| {k} | {t.get('ok', '–'):,} | {t.get('bytes', 0):,} | {errs} | {lt.fmt(t.get('p50_ms'), '.2f')} "
                 f"| {lt.fmt(t.get('p99_ms'), '.2f')} | {lt.fmt(t.get('max_ms'), '.1f')} |" if t else
                 f"| {k} | **no final figures** | | | | | |")
    o.append("")
    o.append("Every response was checked: status 200, `/small` byte for byte, `/1m` by SHA-256, uploads by the "
             "length the backend read (it reads the whole body before answering); `abort` clients read 64 KiB of "
             "`/1m` and close, and count as completed when the head was 200.")
    o.append("")
    o.append("## Errors")
    o.append("")
    if not errors:
        o.append("None.")
    else:
        o.append("| t s | client | kind | detail | nearest event | ringway's last WARN/ERROR lines in the second before |")
        o.append("|---:|---|---|---|---|---|")
        warns = warn_lines(info["ringway_log"])
        for e in errors[:60]:
            near = min(events, key=lambda ev: abs(ev[0] - e["t"]), default=None)
            nt = f"{near[1]} at {near[0]:.0f} s ({e['t'] - near[0]:+.1f} s)" if near else ""
            o.append(f"| {e['t']:.1f} | {e['client']} | {e['kind']} | {e['detail']} | {nt} | {cause(e, warns)} |")
        if len(errors) > 60:
            o.append(f"\n({len(errors) - 60} more in loadtest/out/logs/soak-client-*.jsonl)")
    o.append("")
    o.append("## Events")
    o.append("")
    o.append("| t s | event |")
    o.append("|---:|---|")
    for t, _kind, text in events:
        o.append(f"| {t:.0f} | {text} |")
    o.append("")
    o.append("## Per minute")
    o.append("")
    o.append("| minute | " + " | ".join(f"{k} req/s" for k in kinds) + " | errors | RSS MiB (end) | fds min–max | ringway CPU % |")
    o.append("|---:|" + "---:|" * len(kinds) + "---:|---:|---:|---:|")
    prev = None
    for m in range(0, int(load_end + 59) // 60):
        ss = [s for s in samples if m * 60 < s["t"] <= (m + 1) * 60]
        if not ss:
            continue
        last = ss[-1]
        rates = [(last[k]["ok"] - (prev[k]["ok"] if prev else 0)) / (last["t"] - (prev["t"] if prev else 0)) for k in kinds]
        errs = sum(last[k]["err"] - (prev[k]["err"] if prev else 0) for k in kinds)
        cpu = 100 * (last["cpu_s"] - (prev["cpu_s"] if prev else 0)) / (last["t"] - (prev["t"] if prev else 0))
        fl = [s["fds"] for s in ss if s.get("fds") is not None]
        o.append(f"| {m + 1} | " + " | ".join(f"{r:,.0f}" for r in rates) + f" | {errs} "
                 f"| {lt.fmt(last.get('rss_kib') and last['rss_kib'] / 1024, '.1f')} | {min(fl, default='–')}–{max(fl, default='–')} "
                 f"| {cpu:.0f} |")
        prev = last
    o.append("")
    o.append("## ringway log (WARN and ERROR lines, grouped)")
    o.append("")
    groups = log_summary(info["ringway_log"])
    if not groups:
        o.append("None.")
    for key, n, first in groups[:20]:
        o.append(f"- {n}× `{key}` (first: `{first}`)")
    o.append("")
    o.append("## Problems")
    o.append("")
    all_p = list(problems) + [f"client {k} gave no final figures (did it crash? see logs/soak-client-{k}.err)" for k in missing]
    if not rss_ok:
        all_p.append(f"RSS grew {lt.fmt(growth, '.2f')}% after warm-up (limit 5%)")
    if not fd_ok:
        all_p.append(f"open fds grew from {fd0} to {fd1} after warm-up")
    if err_total:
        all_p.append(f"{err_total} client errors (see Errors)")
    o.extend(f"- {p}" for p in all_p) if all_p else o.append("None.")
    o.append("")
    return "\n".join(o), svg(samples, events, kinds, warm), failed


def svg(samples: list[dict], events: list, kinds: list[str], warm: int) -> str:
    """Three panels over time: RSS MiB, open fds, requests/s by kind; reloads and restarts marked."""
    w, ph, left, top, gap = 760, 130, 70, 30, 45
    h = top + 3 * (ph + gap) + 10
    tmax = max((s["t"] for s in samples), default=1) or 1
    o = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" font-family="sans-serif" font-size="11">',
         f'<text x="{left}" y="16" font-size="13">ringway soak: RSS, open fds, requests/s (blue dashes: reloads; '
         f'orange: backend restarts; grey: end of warm-up)</text>']
    x = lambda t: left + (w - left - 20) * t / tmax  # noqa: E731
    rates: dict[str, list[tuple[float, float]]] = {k: [] for k in kinds}
    for a, b in zip(samples, samples[1:]):
        for k in kinds:
            rates[k].append((b["t"], (b[k]["ok"] - a[k]["ok"]) / max(1e-6, b["t"] - a["t"])))
    panels = [("RSS MiB", {"rss": [(s["t"], s["rss_kib"] / 1024) for s in samples if s.get("rss_kib")]}, {"rss": "#d9534f"}),
              ("open fds", {"fds": [(s["t"], s["fds"]) for s in samples if s.get("fds") is not None]}, {"fds": "#2f6fb0"}),
              ("requests/s", rates, COLORS)]
    for i, (title, series, colors) in enumerate(panels):
        y0 = top + i * (ph + gap) + 15
        vals = [v for pts in series.values() for _, v in pts]
        vmax = max(vals, default=1) * 1.1 or 1
        vmin = 0.0
        y = lambda v, y0=y0, vmax=vmax, vmin=vmin: y0 + ph - ph * (v - vmin) / (vmax - vmin)  # noqa: E731
        o.append(f'<text x="{left}" y="{y0 - 4}" font-weight="bold">{title}</text>')
        o.append(f'<rect x="{left}" y="{y0}" width="{w - left - 20}" height="{ph}" fill="none" stroke="#ccc"/>')
        for frac in (0, 0.5, 1):
            v = vmin + (vmax - vmin) * frac
            o.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{v:,.0f}</text>')
        for t, kind, _text in events:
            col = "#2f6fb0" if kind == "reload" else "#f0ad4e"
            dash = ' stroke-dasharray="3,3"' if kind == "reload" else ""
            o.append(f'<line x1="{x(t):.1f}" x2="{x(t):.1f}" y1="{y0}" y2="{y0 + ph}" stroke="{col}"{dash}/>')
        o.append(f'<line x1="{x(warm):.1f}" x2="{x(warm):.1f}" y1="{y0}" y2="{y0 + ph}" stroke="#bbb"/>')
        for name, pts in series.items():
            if pts:
                d = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in pts)
                o.append(f'<polyline fill="none" stroke="{colors.get(name, "#333")}" stroke-width="1.2" points="{d}"/>')
        if len(series) > 1:
            for j, name in enumerate(series):
                o.append(f'<text x="{left + 8 + 90 * j}" y="{y0 + 14}" fill="{colors.get(name, "#333")}">{name}</text>')
        o.append(f'<text x="{w - 20}" y="{y0 + ph + 14}" text-anchor="end">{tmax:.0f} s</text>')
    o.append("</svg>")
    return "\n".join(o)


if __name__ == "__main__":
    # Rebuilds soak.md and soak.svg from a run's soak-run.json and soak.jsonl: soak_report.py [OUT_DIR]
    import json
    import sys
    d = sys.argv[1] if len(sys.argv) > 1 else lt.OUT_DIR
    with open(os.path.join(d, "soak-run.json")) as f:
        run = json.load(f)
    with open(os.path.join(d, "soak.jsonl")) as f:
        rows = [json.loads(line) for line in f]
    text, chart, bad = build(run["info"], rows, [tuple(e) for e in run["events"]], run["errors"], run["finals"],
                             run["problems"])
    with open(os.path.join(d, "soak.svg"), "w") as f:
        f.write(chart)
    with open(os.path.join(d, "soak.md"), "w") as f:
        f.write(text)
    print(text)
    sys.exit(2 if bad else 0)

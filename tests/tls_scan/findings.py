#!/usr/bin/env python3
"""Reads sslyze's JSON output (`--json_out`) and prints every weak finding, one per line, then
exits 1 if there was any (0 otherwise). Used by tests/tls_scan.rs; stdlib only.

A finding: an SSL 2.0/3.0, TLS 1.0/1.1 handshake accepted; an accepted suite that is NULL,
EXPORT, RC4, (3)DES, MD5, anonymous, CBC with SHA-1 or under 128 bits, or one without forward
secrecy (no ephemeral key, or a TLS 1.2 suite that is not ECDHE/DHE); an ephemeral key under
2048 bits (DH) or 250 bits (ECDH); a weak curve; TLS compression (CRIME); client-initiated
renegotiation accepted or no secure renegotiation (RFC 5746); Heartbleed, CCS injection or
ROBOT; no TLS_FALLBACK_SCSV; no extended master secret; 0-RTT accepted (off by default, as
in nginx); a scan command that did not complete; and a scan that saw no TLS 1.2/1.3 at all
(so an unreachable server never passes).
"""

import json
import sys

OLD = {
    "ssl_2_0_cipher_suites": "SSL 2.0",
    "ssl_3_0_cipher_suites": "SSL 3.0",
    "tls_1_0_cipher_suites": "TLS 1.0",
    "tls_1_1_cipher_suites": "TLS 1.1",
}
CURRENT = {"tls_1_2_cipher_suites": "TLS 1.2", "tls_1_3_cipher_suites": "TLS 1.3"}
STRONG_CURVES = {"X25519", "X448", "secp256r1", "prime256v1", "secp384r1", "secp521r1"}
ROBOT_OK = {"NOT_VULNERABLE_NO_ORACLE", "NOT_VULNERABLE_RSA_NOT_SUPPORTED"}


def suite_findings(version, accepted):
    out = []
    for a in accepted:
        cs = a["cipher_suite"]
        name = cs["name"]
        upper = name.upper()
        why = []
        for bad in ("NULL", "EXPORT", "RC4", "DES", "MD5", "ANON"):
            if bad in upper:
                why.append(bad)
        if cs.get("is_anonymous"):
            why.append("anonymous")
        if "_CBC_" in upper and upper.endswith("_SHA"):
            why.append("CBC with SHA-1")
        if cs.get("key_size", 0) < 128:
            why.append(f"{cs.get('key_size')}-bit key")
        eph = a.get("ephemeral_key")
        if eph is None:
            why.append("no forward secrecy (no ephemeral key)")
        else:
            kind, size = eph.get("type_name"), eph.get("size") or 0
            if kind == "DH" and size < 2048:
                why.append(f"{size}-bit DH")
            if kind == "ECDH" and size < 250:
                why.append(f"{size}-bit ECDH ({eph.get('curve_name')})")
        if version == "TLS 1.2" and not upper.startswith(("TLS_ECDHE_", "TLS_DHE_")):
            why.append("no forward secrecy (static key exchange)")
        if why:
            out.append(f"{version}: weak suite {name}: {', '.join(sorted(set(why)))}")
    return out


def findings(scan):
    out = []
    if scan.get("connectivity_status") != "COMPLETED":
        return [f"no connection: {scan.get('connectivity_error_trace')}"]
    res = scan["scan_result"]

    def result(cmd):
        r = res.get(cmd) or {}
        if r.get("status") != "COMPLETED":
            out.append(f"{cmd}: scan {r.get('status')}: {r.get('error_reason')} {r.get('error_trace')}")
            return None
        return r["result"]

    for cmd, version in OLD.items():
        r = result(cmd)
        if r and (r["is_tls_version_supported"] or r["accepted_cipher_suites"]):
            names = [a["cipher_suite"]["name"] for a in r["accepted_cipher_suites"]]
            out.append(f"{version} accepted: {names}")
    seen = 0
    for cmd, version in CURRENT.items():
        r = result(cmd)
        if r:
            seen += len(r["accepted_cipher_suites"])
            out += suite_findings(version, r["accepted_cipher_suites"])
    if seen == 0:
        out.append("no TLS 1.2 or 1.3 suite accepted: the scan saw no working server")
    r = result("tls_compression")
    if r and r["supports_compression"]:
        out.append("TLS compression supported (CRIME)")
    r = result("session_renegotiation")
    if r:
        if r["is_vulnerable_to_client_renegotiation_dos"] or r["client_renegotiations_success_count"]:
            out.append(f"client-initiated renegotiation accepted ({r['client_renegotiations_success_count']} times)")
        if not r["supports_secure_renegotiation"]:
            out.append("no secure renegotiation (RFC 5746): insecure renegotiation")
    r = result("heartbleed")
    if r and r["is_vulnerable_to_heartbleed"]:
        out.append("vulnerable to Heartbleed")
    r = result("openssl_ccs_injection")
    if r and r["is_vulnerable_to_ccs_injection"]:
        out.append("vulnerable to OpenSSL CCS injection")
    r = result("robot")
    if r and r["robot_result"] not in ROBOT_OK:
        out.append(f"ROBOT: {r['robot_result']}")
    r = result("tls_fallback_scsv")
    if r and not r["supports_fallback_scsv"]:
        out.append("no TLS_FALLBACK_SCSV (downgrade)")
    r = result("tls_extended_master_secret")
    if r and not r["supports_ems_extension"]:
        out.append("no extended master secret (triple handshake)")
    r = result("tls_1_3_early_data")
    if r and r["supports_early_data"]:
        out.append("TLS 1.3 early data (0-RTT) accepted")
    r = result("elliptic_curves")
    if r:
        weak = [c["name"] for c in r.get("supported_curves") or [] if c["name"] not in STRONG_CURVES]
        if weak:
            out.append(f"weak curves accepted: {weak}")
    return out


def summary(scan):
    res = scan.get("scan_result") or {}
    parts = []
    for cmd, version in CURRENT.items():
        r = (res.get(cmd) or {}).get("result") or {}
        names = [a["cipher_suite"]["name"] for a in r.get("accepted_cipher_suites", [])]
        parts.append(f"{version}: {', '.join(names) or 'none'}")
    curves = ((res.get("elliptic_curves") or {}).get("result") or {}).get("supported_curves") or []
    parts.append("curves: " + ", ".join(c["name"] for c in curves))
    return "; ".join(parts)


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    found = []
    for scan in doc["server_scan_results"]:
        where = scan["server_location"]
        print(f"# {where['hostname']}:{where['port']}: {summary(scan)}", file=sys.stderr)
        found += findings(scan)
    for f in found:
        print(f)
    sys.exit(1 if found else 0)


if __name__ == "__main__":
    main()

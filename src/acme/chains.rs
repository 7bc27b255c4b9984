//! `preferred_chain`: a certificate download may name other chains for the same certificate
//! (`Link: <URL>;rel="alternate"`, RFC 8555 §7.4.2); the one kept is the first (the default
//! first) whose topmost certificate was issued by the Subject CN the issuer names, as
//! nginx-acme chooses. None matching: the default chain.

use tracing::{info, warn};

/// The `rel="alternate"` targets among `Link` header values, resolved against `base` (the
/// URL they came from).
pub fn alternates(link_values: &[String], base: &str) -> Vec<String> {
    let mut out = Vec::new();
    for value in link_values {
        for (target, params) in links(value) {
            let alternate = params.split(';').any(|p| {
                let Some((k, v)) = p.split_once('=') else {
                    return false;
                };
                k.trim().eq_ignore_ascii_case("rel")
                    && v.trim()
                        .trim_matches('"')
                        .split_ascii_whitespace()
                        .any(|r| r.eq_ignore_ascii_case("alternate"))
            });
            if alternate {
                out.push(resolve(base, target));
            }
        }
    }
    out
}

/// Each `<target>; params` of one Link header value (RFC 8288 §3), split at commas outside
/// quotes.
fn links(value: &str) -> Vec<(&str, &str)> {
    let mut out = Vec::new();
    let mut rest = value;
    while let Some(open) = rest.find('<') {
        let Some(close) = rest[open..].find('>').map(|c| open + c) else {
            break;
        };
        let target = &rest[open + 1..close];
        let after = &rest[close + 1..];
        let mut quoted = false;
        let end = after
            .char_indices()
            .find(|&(_, ch)| {
                if ch == '"' {
                    quoted = !quoted;
                }
                ch == ',' && !quoted
            })
            .map_or(after.len(), |(i, _)| i);
        out.push((target, &after[..end]));
        rest = &after[end..];
    }
    out
}

/// `target` made absolute: as it is, or under `base`'s origin (`/path`), or beside `base`.
fn resolve(base: &str, target: &str) -> String {
    if target.contains("://") {
        return target.to_string();
    }
    let origin_end = base
        .find("://")
        .and_then(|s| base[s + 3..].find('/').map(|p| s + 3 + p))
        .unwrap_or(base.len());
    if target.starts_with('/') {
        return format!("{}{target}", &base[..origin_end]);
    }
    let dir_end = base[origin_end..]
        .rfind('/')
        .map_or(base.len(), |p| origin_end + p + 1);
    let sep = if dir_end == base.len() && !base.ends_with('/') {
        "/"
    } else {
        ""
    };
    format!("{}{sep}{target}", &base[..dir_end])
}

/// The Subject CN of the issuer of a PEM chain's last (topmost) certificate.
pub fn topmost_issuer_cn(pem: &[u8]) -> Option<String> {
    let chain = crate::tls::certs::chain(pem).ok()?;
    let top = chain.last()?;
    let (_, cert) = x509_parser::parse_x509_certificate(top.as_ref()).ok()?;
    let cn = cert.issuer().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

/// The chain to keep: `default` if it ends under `name`, else the first alternate that does
/// (fetched one at a time by `fetch`, in the server's order), else `default`. An alternate
/// that cannot be fetched is skipped with a warning: the default chain is still good.
pub fn choose(
    name: &str,
    default: String,
    alternate_urls: &[String],
    mut fetch: impl FnMut(&str) -> Result<String, String>,
) -> String {
    let default_cn = topmost_issuer_cn(default.as_bytes()).unwrap_or_default();
    if default_cn == name {
        return default;
    }
    let mut seen = vec![default_cn];
    for url in alternate_urls {
        match fetch(url) {
            Ok(chain) => match topmost_issuer_cn(chain.as_bytes()) {
                Some(cn) if cn == name => {
                    info!("ACME: preferred_chain \"{name}\": keeping the alternate chain {url}");
                    return chain;
                }
                cn => seen.push(cn.unwrap_or_default()),
            },
            Err(e) => warn!("ACME: alternate chain {url}: {e}; skipped"),
        }
    }
    info!(
        "ACME: preferred_chain \"{name}\": no chain offered ends under it (their topmost \
         issuers: \"{}\"); keeping the default chain",
        seen.join("\", \"")
    );
    default
}

#[cfg(test)]
mod tests {
    use super::*;
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair};

    #[test]
    fn alternate_links_are_found_and_resolved() {
        let values = vec![
            r#"<https://ca.example/dir>;rel="index""#.to_string(),
            r#"<https://ca.example/cert/1/alternate/1>;rel="alternate", </cert/1/alternate/2>; rel=alternate"#
                .to_string(),
            r#"<alt3>; title="a, b"; rel="next alternate""#.to_string(),
        ];
        assert_eq!(
            alternates(&values, "https://ca.example/cert/1"),
            vec![
                "https://ca.example/cert/1/alternate/1",
                "https://ca.example/cert/1/alternate/2",
                "https://ca.example/cert/alt3",
            ]
        );
        assert!(alternates(&["garbage <".to_string()], "https://x/").is_empty());
        assert_eq!(resolve("https://h", "/p"), "https://h/p");
        assert_eq!(resolve("https://h", "p"), "https://h/p");
    }

    fn ca(cn: &str) -> (CertificateParams, KeyPair) {
        let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, cn);
        (p, KeyPair::generate().unwrap())
    }

    /// leaf + one intermediate (same name, same key) signed by the root named `root`.
    fn chain_under(root: &str, leaf_key: &KeyPair, inter: &(CertificateParams, KeyPair)) -> String {
        let (rp, rk) = ca(root);
        let root_issuer = rcgen::Issuer::from_params(&rp, &rk);
        let inter_cert = inter.0.clone().signed_by(&inter.1, &root_issuer).unwrap();
        let inter_issuer = rcgen::Issuer::from_params(&inter.0, &inter.1);
        let leaf = CertificateParams::new(vec!["a.test".to_string()])
            .unwrap()
            .signed_by(leaf_key, &inter_issuer)
            .unwrap();
        format!("{}{}", leaf.pem(), inter_cert.pem())
    }

    #[test]
    fn the_chain_ending_under_the_name_is_kept() {
        let leaf_key = KeyPair::generate().unwrap();
        let inter = ca("Intermediate");
        let default = chain_under("Root A", &leaf_key, &inter);
        let alt_b = chain_under("Root B", &leaf_key, &inter);
        let alt_c = chain_under("Root C", &leaf_key, &inter);
        assert_eq!(
            topmost_issuer_cn(default.as_bytes()).as_deref(),
            Some("Root A")
        );
        let urls = vec!["u1".to_string(), "u2".to_string(), "u3".to_string()];
        let mut fetched = Vec::new();
        let fetch = |u: &str, fetched: &mut Vec<String>| {
            fetched.push(u.to_string());
            match u {
                "u1" => Err("404".to_string()),
                "u2" => Ok(alt_b.clone()),
                _ => Ok(alt_c.clone()),
            }
        };
        // An alternate: the first match wins, later ones are not fetched; a failed fetch is
        // skipped.
        let got = choose("Root B", default.clone(), &urls, |u| fetch(u, &mut fetched));
        assert_eq!(got, alt_b);
        assert_eq!(fetched, vec!["u1", "u2"]);
        // The default already matches: nothing fetched.
        fetched.clear();
        let got = choose("Root A", default.clone(), &urls, |u| fetch(u, &mut fetched));
        assert_eq!(got, default);
        assert!(fetched.is_empty());
        // No match (a CN is compared whole): the default.
        let got = choose("Root", default.clone(), &urls, |u| fetch(u, &mut fetched));
        assert_eq!(got, default);
        assert_eq!(fetched.len(), 3);
    }
}

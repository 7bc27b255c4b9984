//! Smooth weighted round-robin (nginx's default): each pick adds every server's weight to its
//! current score, takes the highest, and subtracts the total from it. Backups are used only when
//! no primary is up; `down` servers never.

use crate::route::UpstreamSpec;

pub struct SmoothWeighted {
    primaries: Vec<Peer>,
    backups: Vec<Peer>,
}

struct Peer {
    index: usize,
    weight: i64,
    current: i64,
}

impl SmoothWeighted {
    pub fn new(spec: &UpstreamSpec) -> SmoothWeighted {
        let mut primaries = Vec::new();
        let mut backups = Vec::new();
        for (index, s) in spec.servers.iter().enumerate() {
            if s.down {
                continue;
            }
            let p = Peer {
                index,
                weight: s.weight as i64,
                current: 0,
            };
            if s.backup {
                backups.push(p)
            } else {
                primaries.push(p)
            }
        }
        SmoothWeighted { primaries, backups }
    }

    pub fn pick(&mut self) -> Option<usize> {
        if !self.primaries.is_empty() {
            return pick(&mut self.primaries);
        }
        pick(&mut self.backups)
    }
}

fn pick(peers: &mut [Peer]) -> Option<usize> {
    let mut total = 0;
    let mut best: Option<usize> = None;
    for i in 0..peers.len() {
        peers[i].current += peers[i].weight;
        total += peers[i].weight;
        if best.is_none_or(|b| peers[i].current > peers[b].current) {
            best = Some(i);
        }
    }
    let b = best?;
    peers[b].current -= total;
    Some(peers[b].index)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::UpstreamServerSpec;

    fn spec(weights: &[(u32, bool, bool)]) -> UpstreamSpec {
        UpstreamSpec {
            name: "t".into(),
            servers: weights
                .iter()
                .enumerate()
                .map(|(i, &(weight, backup, down))| UpstreamServerSpec {
                    addr: format!("127.0.0.1:{}", 1000 + i).parse().unwrap(),
                    weight,
                    backup,
                    down,
                })
                .collect(),
            keepalive: 0,
            keepalive_timeout: std::time::Duration::from_secs(1),
            keepalive_requests: 1,
        }
    }

    #[test]
    fn smooth_sequence_matches_nginx() {
        // nginx's documented example: weights 5,1,1 give a a b a c a a.
        let mut b = SmoothWeighted::new(&spec(&[
            (5, false, false),
            (1, false, false),
            (1, false, false),
        ]));
        let seq: Vec<usize> = (0..7).filter_map(|_| b.pick()).collect();
        assert_eq!(seq, vec![0, 0, 1, 0, 2, 0, 0]);
    }

    #[test]
    fn backups_only_without_primaries_and_down_never() {
        let mut b = SmoothWeighted::new(&spec(&[(1, false, true), (1, true, false)]));
        assert_eq!(b.pick(), Some(1));
        let mut b = SmoothWeighted::new(&spec(&[(1, false, false), (1, true, false)]));
        assert!((0..10).all(|_| b.pick() == Some(0)));
    }
}

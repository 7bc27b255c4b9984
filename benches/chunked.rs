//! Chunked decoding: large chunks (64 KiB body in 4 KiB chunks) and many small ones.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use ringway::http::chunked::{ChunkedDecoder, Decoded, LAST_CHUNK, write_chunk_header};

fn encode(body: &[u8], chunk: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / chunk * 8 + 16);
    for piece in body.chunks(chunk) {
        write_chunk_header(piece.len(), &mut out);
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(LAST_CHUNK);
    out
}

/// Decodes the whole message as a proxy would (one decode call per piece); returns body bytes.
fn decode(msg: &[u8]) -> usize {
    let mut dec = ChunkedDecoder::new(4096);
    let mut pos = 0;
    let mut body = 0;
    loop {
        let (n, what) = dec.decode(&msg[pos..]).unwrap();
        match what {
            Decoded::Data { start, end } => {
                black_box(&msg[pos + start..pos + end]);
                body += end - start;
            }
            Decoded::NeedMore => unreachable!("whole message given"),
            Decoded::Done => return body,
        }
        pos += n;
    }
}

fn bench_chunked(c: &mut Criterion) {
    let body: Vec<u8> = (0..64 * 1024).map(|i| (i % 251) as u8).collect();
    let mut g = c.benchmark_group("chunked");

    let big = encode(&body, 4096);
    g.throughput(Throughput::Bytes(body.len() as u64));
    g.bench_function("decode_64k_in_4k_chunks", |b| {
        b.iter(|| black_box(decode(black_box(&big))))
    });

    let small = encode(&body, 16);
    g.bench_function("decode_64k_in_16b_chunks", |b| {
        b.iter(|| black_box(decode(black_box(&small))))
    });

    // Fed in 1500-byte reads (packet-sized), re-feeding leftovers like a proxy does.
    g.bench_function("decode_64k_in_4k_chunks_mtu_reads", |b| {
        b.iter(|| {
            let mut dec = ChunkedDecoder::new(4096);
            let mut total = 0;
            'outer: for read in big.chunks(1500) {
                let mut pos = 0;
                while pos < read.len() {
                    let (n, what) = dec.decode(&read[pos..]).unwrap();
                    match what {
                        Decoded::Data { start, end } => total += end - start,
                        Decoded::NeedMore => {}
                        Decoded::Done => break 'outer,
                    }
                    pos += n;
                }
            }
            black_box(total)
        })
    });
    g.finish();
}

criterion_group!(benches, bench_chunked);
criterion_main!(benches);

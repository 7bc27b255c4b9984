//! nginx's `stub_status` text, byte for byte as ngx_http_stub_status_module writes it (trailing
//! spaces included): agents such as nginx-prometheus-exporter parse it.

use std::fmt::Write;

use super::snapshot::Conns;

pub fn render(c: &Conns, out: &mut String) {
    let _ = write!(
        out,
        "Active connections: {} \nserver accepts handled requests\n {} {} {} \n\
         Reading: {} Writing: {} Waiting: {} \n",
        c.active,
        c.accepts,
        c.handled,
        c.requests,
        c.reading,
        c.writing,
        c.waiting()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_nginx_byte_for_byte() {
        let c = Conns {
            active: 291,
            reading: 6,
            writing: 179,
            accepts: 16630948,
            handled: 16630948,
            requests: 31070465,
        };
        let mut out = String::new();
        render(&c, &mut out);
        assert_eq!(
            out,
            "Active connections: 291 \nserver accepts handled requests\n 16630948 16630948 \
             31070465 \nReading: 6 Writing: 179 Waiting: 106 \n"
        );
    }
}

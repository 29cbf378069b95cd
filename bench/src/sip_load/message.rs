//! SIP text for the load generator (sans-IO): the requests a call sends (INVITE with a
//! PCMU offer, ACK, BYE), the answer to a request wari sends (BYE), and a small reader of
//! what comes back (first line, the headers a call needs, the SDP's RTP address).

use std::net::SocketAddr;

/// One call's identity in its dialog.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dialog {
    /// Request-URI and To: `sip:ROOM@WARI`.
    pub uri: String,
    pub call_id: String,
    pub from_tag: String,
    /// wari's tag, from its answer.
    pub to_tag: Option<String>,
    /// The generator's signalling address (Via, From, Contact).
    pub local: SocketAddr,
}

impl Dialog {
    /// Call number `index` to `room` at wari's `server` address, from `local`.
    pub fn new(index: usize, room: u32, server: SocketAddr, local: SocketAddr) -> Dialog {
        Dialog {
            uri: format!("sip:{room}@{server}"),
            call_id: format!("wari-bench-{index}-{}@{}", local.port(), local.ip()),
            from_tag: format!("b{index}"),
            to_tag: None,
            local,
        }
    }

    fn request(&self, method: &str, branch: &str, cseq: u32, extra: &str, body: &str) -> String {
        let to = match &self.to_tag {
            Some(tag) => format!("<{}>;tag={tag}", self.uri),
            None => format!("<{}>", self.uri),
        };
        format!(
            "{method} {uri} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-{branch};rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:bench@{ip}>;tag={from_tag}\r\n\
             To: {to}\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} {method}\r\n\
             Contact: <sip:bench@{local}>\r\n\
             {extra}Content-Length: {length}\r\n\r\n{body}",
            uri = self.uri,
            local = self.local,
            ip = self.local.ip(),
            from_tag = self.from_tag,
            call_id = self.call_id,
            length = body.len(),
        )
    }

    /// The INVITE's branch (its retransmissions and the ACK of a failure reuse it).
    pub fn invite_branch(&self) -> String {
        format!("{}-1", self.from_tag)
    }

    /// INVITE (CSeq 1) offering PCMU only, RTP at `rtp`.
    pub fn invite(&self, rtp: SocketAddr) -> String {
        let body = sdp_offer(rtp);
        self.request(
            "INVITE",
            &self.invite_branch(),
            1,
            "Content-Type: application/sdp\r\n",
            &body,
        )
    }

    /// ACK of the INVITE's final response: a 2xx gets a new transaction, a failure the
    /// INVITE's own branch.
    pub fn ack(&self, success: bool) -> String {
        let branch = if success {
            format!("{}-ack", self.from_tag)
        } else {
            self.invite_branch()
        };
        self.request("ACK", &branch, 1, "", "")
    }

    /// BYE (CSeq 2) ending the call.
    pub fn bye(&self) -> String {
        self.request("BYE", &format!("{}-2", self.from_tag), 2, "", "")
    }
}

/// An SDP offer: G.711 µ-law only, from `rtp`.
pub fn sdp_offer(rtp: SocketAddr) -> String {
    format!(
        "v=0\r\no=bench 1 1 IN IP4 {ip}\r\ns=-\r\nc=IN IP4 {ip}\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=ptime:20\r\na=sendrecv\r\n",
        ip = rtp.ip(),
        port = rtp.port()
    )
}

/// A SIP message as the generator reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub first_line: String,
    /// Header names in lower case (compact forms expanded), values trimmed, in order.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Message {
    /// Reads a datagram; `None` if it is not text with a SIP first line.
    pub fn parse(datagram: &[u8]) -> Option<Message> {
        let text = std::str::from_utf8(datagram).ok()?;
        let (head, body) = match text.split_once("\r\n\r\n") {
            Some((head, body)) => (head, body),
            None => (text.trim_end(), ""),
        };
        let mut lines = head.split("\r\n");
        let first_line = lines.next()?.trim().to_string();
        if !first_line.starts_with("SIP/2.0 ") && !first_line.ends_with(" SIP/2.0") {
            return None;
        }
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(name, value)| {
                let name = name.trim().to_ascii_lowercase();
                let name = match name.as_str() {
                    "i" => "call-id".to_string(),
                    "f" => "from".to_string(),
                    "t" => "to".to_string(),
                    "v" => "via".to_string(),
                    "l" => "content-length".to_string(),
                    "c" => "content-type".to_string(),
                    "m" => "contact".to_string(),
                    _ => name,
                };
                (name, value.trim().to_string())
            })
            .collect();
        Some(Message {
            first_line,
            headers,
            body: body.to_string(),
        })
    }

    /// A response's status code; `None` for a request.
    pub fn status(&self) -> Option<u16> {
        self.first_line
            .strip_prefix("SIP/2.0 ")?
            .split_whitespace()
            .next()?
            .parse()
            .ok()
    }

    /// A request's method; `None` for a response.
    pub fn method(&self) -> Option<&str> {
        if self.status().is_some() {
            return None;
        }
        self.first_line.split_whitespace().next()
    }

    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn call_id(&self) -> Option<&str> {
        self.header("call-id")
    }

    /// The method of the CSeq header.
    pub fn cseq_method(&self) -> Option<&str> {
        self.header("cseq")?.split_whitespace().nth(1)
    }

    /// The tag parameter of To.
    pub fn to_tag(&self) -> Option<&str> {
        let to = self.header("to")?;
        to.split(';')
            .skip(1)
            .find_map(|p| p.trim().strip_prefix("tag="))
            .map(str::trim)
    }

    /// Where the SDP body says the far end receives RTP.
    pub fn rtp_address(&self) -> Option<SocketAddr> {
        let ip = self
            .body
            .lines()
            .find_map(|l| l.trim().strip_prefix("c=IN IP4 "))?
            .trim();
        let port = self
            .body
            .lines()
            .find_map(|l| l.trim().strip_prefix("m=audio "))?
            .split_whitespace()
            .next()?;
        format!("{ip}:{port}").parse().ok()
    }

    /// A response with `status` to this request, echoing its Via, From, To, Call-ID and
    /// CSeq, without a body.
    pub fn response(&self, status: &str) -> String {
        let mut text = format!("SIP/2.0 {status}\r\n");
        for (name, value) in &self.headers {
            if matches!(name.as_str(), "via" | "from" | "to" | "call-id" | "cseq") {
                text.push_str(&format!("{name}: {value}\r\n"));
            }
        }
        text.push_str("content-length: 0\r\n\r\n");
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(text: &str) -> SocketAddr {
        text.parse().expect("address")
    }

    #[test]
    fn invite_ack_bye_carry_one_dialog() {
        let mut dialog = Dialog::new(3, 1001, addr("127.0.0.1:5060"), addr("127.0.0.1:4000"));
        let invite = dialog.invite(addr("127.0.0.1:40002"));
        let read = Message::parse(invite.as_bytes()).expect("parses");
        assert_eq!(read.first_line, "INVITE sip:1001@127.0.0.1:5060 SIP/2.0");
        assert_eq!(read.method(), Some("INVITE"));
        assert_eq!(read.call_id(), Some(dialog.call_id.as_str()));
        assert_eq!(read.rtp_address(), Some(addr("127.0.0.1:40002")));
        assert_eq!(
            read.header("content-length"),
            Some(read.body.len().to_string().as_str())
        );
        assert!(read.body.contains("RTP/AVP 0\r\n"));
        assert_eq!(read.to_tag(), None);

        dialog.to_tag = Some("w1".into());
        let ack = Message::parse(dialog.ack(true).as_bytes()).expect("ack");
        assert_eq!(ack.to_tag(), Some("w1"));
        assert_eq!(ack.header("cseq"), Some("1 ACK"));
        assert!(
            !ack.header("via")
                .expect("via")
                .contains(&dialog.invite_branch())
        );
        let failed = Message::parse(dialog.ack(false).as_bytes()).expect("ack");
        assert!(
            failed
                .header("via")
                .expect("via")
                .contains(&format!("z9hG4bK-{};", dialog.invite_branch()))
        );
        let bye = Message::parse(dialog.bye().as_bytes()).expect("bye");
        assert_eq!(bye.cseq_method(), Some("BYE"));
        assert_eq!(bye.header("cseq"), Some("2 BYE"));
    }

    #[test]
    fn reads_an_answer_in_compact_form() {
        let text = "SIP/2.0 200 OK\r\nv: SIP/2.0/UDP 127.0.0.1:4000;branch=z9hG4bK-b0-1\r\n\
                    f: <sip:bench@127.0.0.1>;tag=b0\r\nt: <sip:1000@127.0.0.1>;tag=abc ;x=1\r\n\
                    i: c1\r\nCSeq: 1 INVITE\r\nl: 52\r\n\r\n\
                    v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 30000 RTP/AVP 0\r\n";
        let m = Message::parse(text.as_bytes()).expect("parses");
        assert_eq!(m.status(), Some(200));
        assert_eq!(m.method(), None);
        assert_eq!(m.call_id(), Some("c1"));
        assert_eq!(m.to_tag(), Some("abc"));
        assert_eq!(m.cseq_method(), Some("INVITE"));
        assert_eq!(m.rtp_address(), Some(addr("127.0.0.1:30000")));
    }

    #[test]
    fn answers_a_request_with_its_headers() {
        let text = "BYE sip:bench@127.0.0.1:4000 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx\r\n\
                    From: <sip:1000@127.0.0.1>;tag=w\r\nTo: <sip:bench@127.0.0.1>;tag=b0\r\n\
                    Call-ID: c1\r\nCSeq: 5 BYE\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n";
        let bye = Message::parse(text.as_bytes()).expect("parses");
        assert_eq!(bye.method(), Some("BYE"));
        let ok = Message::parse(bye.response("200 OK").as_bytes()).expect("response");
        assert_eq!(ok.status(), Some(200));
        assert_eq!(ok.header("cseq"), Some("5 BYE"));
        assert_eq!(ok.call_id(), Some("c1"));
        assert_eq!(ok.header("max-forwards"), None);
    }

    #[test]
    fn rejects_what_is_not_sip() {
        assert_eq!(Message::parse(b"\x80\x00garbage"), None);
        assert_eq!(Message::parse(b"hello world\r\n\r\n"), None);
        assert_eq!(Message::parse(b"\r\n\r\n"), None);
    }
}

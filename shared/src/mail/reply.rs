//! The per-ticket reply address `<local>+<token>@<domain>` (SPEC §9) and the thread ids of
//! outgoing mail. The token names the ticket and carries an HMAC of it, so a reply address
//! cannot be forged or guessed for another ticket; the whole address survives mail systems
//! that fold the case of local parts.

use crate::config::Secret;
use crate::model::TicketId;
use ring::hmac;
use std::fmt;

/// Labels the key derived from the JWT secret (as the cursor key is), so the reply token's
/// key is not the key of any other use of that secret.
const KEY_LABEL: &str = "crm-reply-v1";
/// 80 bits of HMAC-SHA256: a forger gets one guess per mail sent, so 2^80 is out of reach,
/// and the address stays within the 64 characters a local part may have.
const MAC_BYTES: usize = 10;
const MAC_CHARS: usize = MAC_BYTES * 8 / 5;
const ULID_CHARS: usize = 26;
/// A token: the ticket's ULID then the MAC, both Crockford base32 in lower case.
pub const TOKEN_CHARS: usize = ULID_CHARS + MAC_CHARS;
/// RFC 5321 §4.5.3.1.1: the longest local part.
const MAX_LOCAL_PART: usize = 64;
/// Crockford's base32 (the ULID alphabet), lower case: no I, L, O or U to misread.
const CROCKFORD_LOWER: &[u8; 32] = b"0123456789abcdefghjkmnpqrstvwxyz";

/// `CRM_INBOUND_ADDRESS` (e.g. `support@help.example.com`), parsed: both parts lower case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundAddress {
    local: String,
    domain: String,
}

/// Why `CRM_INBOUND_ADDRESS` cannot serve as the mail channel's address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("CRM_INBOUND_ADDRESS {0}")]
pub struct BadAddress(&'static str);

fn is_dns_label(l: &str) -> bool {
    (1..=63).contains(&l.len())
        && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        && !l.starts_with('-')
        && !l.ends_with('-')
}

impl InboundAddress {
    pub fn parse(raw: &str) -> Result<Self, BadAddress> {
        let (local, domain) = raw.trim().rsplit_once('@').ok_or(BadAddress(
            "must be an address like support@help.example.com",
        ))?;
        let atom_ok = !local.is_empty()
            && local
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
            && !local.starts_with('.')
            && !local.ends_with('.')
            && !local.contains("..");
        if !atom_ok {
            return Err(BadAddress(
                "must have a local part of letters, digits, '.', '_' or '-' (no '+': it starts the reply token)",
            ));
        }
        if local.len() + 1 + TOKEN_CHARS > MAX_LOCAL_PART {
            return Err(BadAddress(
                "has a local part too long to carry a reply token (at most 21 characters)",
            ));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if domain.len() > 253 || labels.len() < 2 || !labels.iter().all(|l| is_dns_label(l)) {
            return Err(BadAddress("must have a domain like help.example.com"));
        }
        Ok(Self {
            local: local.to_ascii_lowercase(),
            domain: domain.to_ascii_lowercase(),
        })
    }

    pub fn local(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The `Message-ID` of one mail: unique per event and recipient (`n` numbers the
    /// recipients of one event), in our domain so that mail coming back is recognised.
    pub fn message_id(&self, event_id: &str, n: usize) -> String {
        let event: String = event_id
            .chars()
            .filter(char::is_ascii_alphanumeric)
            .collect();
        format!("<{event}.{n}@{}>", self.domain)
    }

    /// The thread root of a ticket, for `In-Reply-To` and `References` of every mail about it:
    /// the same id on every mail, so mail clients put them in one thread.
    pub fn thread_root(&self, ticket: &TicketId) -> String {
        format!("<{}@{}>", ticket.as_str(), self.domain)
    }

    /// Whether a `Message-ID` (with or without its angle brackets) is one we minted: its
    /// domain is ours. Nobody else mints ids there; a forger only gets their own mail dropped.
    pub fn is_own_message_id(&self, id: &str) -> bool {
        let id = id.trim().trim_start_matches('<').trim_end_matches('>');
        id.rsplit_once('@').is_some_and(|(left, domain)| {
            !left.is_empty() && domain.eq_ignore_ascii_case(&self.domain)
        })
    }
}

impl fmt::Display for InboundAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// What a recipient address of an inbound mail is to the mail channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recipient {
    /// The plain inbound address: a new ticket.
    Plain,
    /// A reply address whose token verifies: about this ticket.
    Reply(TicketId),
    /// Our local part and domain with a token that does not verify: forged, guessed, cut,
    /// or minted with another deployment's secret.
    Forged,
    /// Not an address of the channel.
    Other,
}

/// Makes and checks reply addresses with a key derived from the deployment's JWT secret.
#[derive(Clone)]
pub struct ReplyAddresses {
    address: InboundAddress,
    key: hmac::Key,
}

impl fmt::Debug for ReplyAddresses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReplyAddresses")
            .field("address", &self.address)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// Crockford base32, lower case, of whole 5-bit groups (`bytes.len() * 8` a multiple of 5).
fn base32_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5);
    let (mut acc, mut bits) = (0u32, 0u32);
    for &b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(CROCKFORD_LOWER[((acc >> bits) & 31) as usize]));
        }
    }
    out
}

/// Equal without an early exit, so the time taken says nothing of where two MACs differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len()
        && std::hint::black_box(a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y))) == 0
}

impl ReplyAddresses {
    pub fn new(address: InboundAddress, secret: &Secret) -> Self {
        let key_bytes = format!("{}\u{0}{KEY_LABEL}", secret.expose());
        Self {
            address,
            key: hmac::Key::new(hmac::HMAC_SHA256, key_bytes.as_bytes()),
        }
    }

    pub fn address(&self) -> &InboundAddress {
        &self.address
    }

    fn mac(&self, ticket: &TicketId) -> String {
        let tag = hmac::sign(&self.key, ticket.as_str().as_bytes());
        base32_lower(&tag.as_ref()[..MAC_BYTES])
    }

    /// The ticket's token: its ULID and the MAC, lower case.
    pub fn token(&self, ticket: &TicketId) -> String {
        format!(
            "{}{}",
            ticket.as_str().to_ascii_lowercase(),
            self.mac(ticket)
        )
    }

    /// The `Reply-To` of mail about `ticket`: `<local>+<token>@<domain>`.
    pub fn reply_to(&self, ticket: &TicketId) -> String {
        format!(
            "{}+{}@{}",
            self.address.local,
            self.token(ticket),
            self.address.domain
        )
    }

    /// What `recipient` (an address, with or without angle brackets, in any case) is to the
    /// channel: the plain address, a verified reply address, a forged one, or another address.
    pub fn classify(&self, recipient: &str) -> Recipient {
        let addr = recipient
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>');
        let Some((local, domain)) = addr.rsplit_once('@') else {
            return Recipient::Other;
        };
        if !domain.eq_ignore_ascii_case(&self.address.domain) {
            return Recipient::Other;
        }
        if local.eq_ignore_ascii_case(&self.address.local) {
            return Recipient::Plain;
        }
        let n = self.address.local.len();
        let ours = local
            .get(..n)
            .is_some_and(|l| l.eq_ignore_ascii_case(&self.address.local))
            && local.as_bytes().get(n) == Some(&b'+');
        match local.get(n + 1..) {
            Some(token) if ours => self.verify(token),
            _ => Recipient::Other,
        }
    }

    fn verify(&self, token: &str) -> Recipient {
        if token.len() != TOKEN_CHARS || !token.is_ascii() {
            return Recipient::Forged;
        }
        let token = token.to_ascii_lowercase();
        let (ulid, mac) = token.split_at(ULID_CHARS);
        let Ok(ticket) = TicketId::parse(&ulid.to_ascii_uppercase()) else {
            return Recipient::Forged;
        };
        if same_bytes(self.mac(&ticket).as_bytes(), mac.as_bytes()) {
            Recipient::Reply(ticket)
        } else {
            Recipient::Forged
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn addresses() -> ReplyAddresses {
        ReplyAddresses::new(
            InboundAddress::parse("support@help.example.com").unwrap(),
            &Secret::new("s".repeat(40)),
        )
    }

    fn ticket() -> TicketId {
        TicketId::parse("01JGQ5Z8W3M4N5P6Q7R8S9T0VW").unwrap()
    }

    #[test]
    fn reply_address_is_plus_token_at_the_inbound_domain() {
        let a = addresses();
        let r = a.reply_to(&ticket());
        let (local, domain) = r.rsplit_once('@').unwrap();
        assert_eq!(domain, "help.example.com");
        let token = local.strip_prefix("support+").unwrap();
        assert_eq!(token.len(), TOKEN_CHARS);
        assert!(token.starts_with("01jgq5z8w3m4n5p6q7r8s9t0vw"));
        assert!(
            token.bytes().all(|b| CROCKFORD_LOWER.contains(&b)),
            "{token}"
        );
        assert!(local.len() <= MAX_LOCAL_PART);
        assert_eq!(
            a.reply_to(&ticket()),
            r,
            "the same ticket, the same address"
        );
    }

    #[test]
    fn a_reply_address_verifies_back_to_its_ticket_in_any_case() {
        let a = addresses();
        let r = a.reply_to(&ticket());
        for form in [
            r.clone(),
            r.to_ascii_uppercase(),
            format!("<{r}>"),
            format!("  {} ", r.replace("support", "Support")),
        ] {
            assert_eq!(a.classify(&form), Recipient::Reply(ticket()), "{form}");
        }
    }

    #[test]
    fn the_plain_address_and_other_addresses() {
        let a = addresses();
        for plain in [
            "support@help.example.com",
            "SUPPORT@Help.Example.COM",
            "<support@help.example.com>",
        ] {
            assert_eq!(a.classify(plain), Recipient::Plain, "{plain}");
        }
        let token = a.token(&ticket());
        for other in [
            "",
            "@",
            "support",
            "jane@example.com",
            "sales@help.example.com",
            "supportx@help.example.com",
            "support-x@help.example.com",
            "support@example.com",
            "support@help.example.com.evil.com",
            &format!("support+{token}@evil.example.com"),
            &format!("sales+{token}@help.example.com"),
            "süpport+x@help.example.com",
        ] {
            assert_eq!(a.classify(other), Recipient::Other, "{other}");
        }
    }

    #[test]
    fn forged_cut_foreign_and_swapped_tokens_are_refused() {
        let a = addresses();
        let t = ticket();
        let other = TicketId::parse("01JGQ5Z8W3M4N5P6Q7R8S9T0VX").unwrap();
        let token = a.token(&t);
        let at = |tok: &str| format!("support+{tok}@help.example.com");
        let mut flipped = token.clone().into_bytes();
        let last = flipped.len() - 1;
        flipped[last] = if flipped[last] == b'0' { b'1' } else { b'0' };
        let foreign = ReplyAddresses::new(
            InboundAddress::parse("support@help.example.com").unwrap(),
            &Secret::new("t".repeat(40)),
        );
        let forged = [
            at(&String::from_utf8(flipped).unwrap()),
            // Another ticket's id with this ticket's MAC, and the other way round.
            at(&format!(
                "{}{}",
                &a.token(&other)[..ULID_CHARS],
                &token[ULID_CHARS..]
            )),
            at(&format!(
                "{}{}",
                &token[..ULID_CHARS],
                &a.token(&other)[ULID_CHARS..]
            )),
            // Minted with another deployment's secret.
            foreign.reply_to(&t),
            at(&token[..TOKEN_CHARS - 1]),
            at(&format!("{token}0")),
            at(""),
            at("nonsense"),
            at(&"z".repeat(TOKEN_CHARS)),
            at(&format!("{}é", &token[..TOKEN_CHARS - 2])),
            // Crockford's aliases (i/l for 1, o for 0) are not the canonical id.
            at(&token.replacen('0', "o", 1)),
        ];
        for f in &forged {
            assert_eq!(a.classify(f), Recipient::Forged, "{f}");
        }
    }

    #[test]
    fn inbound_address_rules() {
        let a = InboundAddress::parse(" Support@Help.Example.com ").unwrap();
        assert_eq!((a.local(), a.domain()), ("support", "help.example.com"));
        assert_eq!(a.to_string(), "support@help.example.com");
        assert!(InboundAddress::parse("customer.care-team_1@x.io").is_ok());
        assert!(InboundAddress::parse(&format!("{}@x.io", "a".repeat(21))).is_ok());
        for bad in [
            "",
            "support",
            "@help.example.com",
            "support@",
            "support@localhost",
            "support+x@help.example.com",
            "sup port@help.example.com",
            ".support@help.example.com",
            "sup..port@help.example.com",
            "support@-help.example.com",
            "support@help..example.com",
            "support@help_example.com",
            &format!("{}@x.io", "a".repeat(22)),
        ] {
            assert!(InboundAddress::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn thread_ids() {
        let a = InboundAddress::parse("support@help.example.com").unwrap();
        let evt = "01JGQ60000000000000000000A";
        assert_eq!(
            a.message_id(evt, 0),
            "<01JGQ60000000000000000000A.0@help.example.com>"
        );
        assert_ne!(a.message_id(evt, 0), a.message_id(evt, 1));
        assert_ne!(
            a.message_id(evt, 0),
            a.message_id("01JGQ60000000000000000000B", 0)
        );
        // Header-safe whatever the id holds.
        assert_eq!(
            a.message_id("a\r\nBcc: x>", 2),
            "<aBccx.2@help.example.com>"
        );
        assert_eq!(
            a.thread_root(&ticket()),
            "<01JGQ5Z8W3M4N5P6Q7R8S9T0VW@help.example.com>"
        );
        assert!(a.is_own_message_id(&a.message_id(evt, 3)));
        assert!(a.is_own_message_id("x.1@HELP.example.com"));
        assert!(a.is_own_message_id(&a.thread_root(&ticket())));
        for foreign in [
            "<CAF=abc@mail.gmail.com>",
            "<x@example.com>",
            "<@help.example.com>",
            "",
            "help.example.com",
        ] {
            assert!(!a.is_own_message_id(foreign), "{foreign}");
        }
    }

    proptest! {
        #[test]
        fn any_ticket_round_trips_and_any_text_is_classified_without_panic(
            ms in 0u64..(1 << 48),
            rand in any::<u128>(),
            junk in "\\PC{0,80}",
        ) {
            let a = addresses();
            let id = TicketId::parse(&ulid::Ulid::from_parts(ms, rand).to_string()).unwrap();
            let r = a.reply_to(&id);
            prop_assert_eq!(a.classify(&r), Recipient::Reply(id.clone()));
            prop_assert_eq!(a.classify(&r.to_ascii_uppercase()), Recipient::Reply(id));
            let _ = a.classify(&junk);
            let _ = a.classify(&format!("support+{junk}@help.example.com"));
        }
    }
}

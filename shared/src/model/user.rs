//! User input types: each `parse` enforces SPEC §2's rules, so a value of the type is valid.

use super::Invalid;
use super::text::{Lines, parse_text};
use serde::{Deserialize, Serialize};
use std::fmt;

/// 1–64 chars of `A-Z a-z 0-9 . _ -`; case-sensitive.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(String);

impl UserId {
    pub const MAX_LEN: usize = 64;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let s = raw.trim();
        if s.is_empty() {
            return Err(Invalid::new("userId", "userId must not be empty."));
        }
        if s.len() > Self::MAX_LEN {
            return Err(Invalid::new(
                "userId",
                "userId must be at most 64 characters.",
            ));
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        {
            return Err(Invalid::new(
                "userId",
                "userId may only contain letters, digits, '.', '_' and '-'.",
            ));
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The actor of the system's own changes (workload jobs, backend operations), as history
    /// and events name it.
    pub fn system() -> Self {
        Self(super::SYSTEM_ACTOR.to_owned())
    }

    /// Whether this id is the system's, in any case: no user may take it (sign-up and
    /// `crm admin create` refuse it), so an actor named `system` is never a person.
    pub fn is_reserved(&self) -> bool {
        self.0.eq_ignore_ascii_case(super::SYSTEM_ACTOR)
    }
}

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An address mail can be delivered to, lower-cased; unique case-insensitively. Every address
/// goes out through SES (or a notification API that may), so the rule is what SES takes: a
/// 7-bit ASCII local part (no SMTPUTF8), and a domain in its ASCII form, a Unicode domain
/// encoded in Punycode
/// (https://docs.aws.amazon.com/ses/latest/APIReference-V2/API_Destination.html). A Unicode
/// domain is therefore stored in its Punycode form (`john@exämple.com` is
/// `john@xn--exmple-cua.com`), which also makes both spellings one address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let bad = || Invalid::new("email", "email must be a valid email address.");
        let s = raw.trim();
        if s.is_empty() || s.len() > 4 * Self::MAX_LEN {
            return Err(bad());
        }
        let (local, domain) = s.rsplit_once('@').ok_or_else(bad)?;
        if !local.is_ascii() {
            return Err(Invalid::new(
                "email",
                "email must have only ASCII characters before the @ (mail cannot be delivered otherwise).",
            ));
        }
        let domain = ascii_domain(domain).ok_or_else(bad)?;
        let s = format!("{}@{domain}", local.to_ascii_lowercase());
        if s.len() > Self::MAX_LEN {
            return Err(bad());
        }
        email_address::EmailAddress::parse_with_options(
            &s,
            email_address::Options::default()
                .without_display_text()
                .without_domain_literal(),
        )
        .map_err(|_| bad())?;
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The ASCII form of a mail domain, if it is one mail can go to: IDNA's UTS #46 mapping
/// (lower case, Unicode labels in Punycode) under its strict rules (letters, digits and
/// hyphens only, no hyphen at a label's ends, DNS lengths), at least two labels, and a
/// top-level label that is not all digits (an IP address written without brackets).
fn ascii_domain(domain: &str) -> Option<String> {
    let ascii = idna::domain_to_ascii_strict(domain).ok()?;
    let labels: Vec<&str> = ascii.split('.').collect();
    let tld = labels.last()?;
    let fine = labels.len() >= 2
        && labels
            .iter()
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && !tld.bytes().all(|b| b.is_ascii_digit());
    fine.then_some(ascii)
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// 1–100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Name(String);

impl Name {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        parse_text("name", raw, Self::MAX_CHARS, Lines::One).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A password as sent (never trimmed): 10–72 bytes (72 is bcrypt's limit; longer is
/// rejected, never truncated), with an upper-case letter, a lower-case letter, a digit and
/// a special character, and no whitespace. Debug output is redacted.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub const MIN_BYTES: usize = 10;
    pub const MAX_BYTES: usize = 72;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        Self::parse_field("password", raw)
    }

    /// The password rules, with errors naming `field` (e.g. `newPassword`).
    pub fn parse_field(field: &'static str, raw: &str) -> Result<Self, Invalid> {
        let err = |m: &str| Invalid::new(field, m.replacen("password", field, 1));
        if raw.len() < Self::MIN_BYTES {
            return Err(err("password must be at least 10 characters long."));
        }
        if raw.len() > Self::MAX_BYTES {
            return Err(err("password must be at most 72 bytes long."));
        }
        if raw.chars().any(char::is_whitespace) {
            return Err(err("password must not contain whitespace."));
        }
        if !raw.chars().any(char::is_uppercase) {
            return Err(err("password must contain an upper-case letter."));
        }
        if !raw.chars().any(char::is_lowercase) {
            return Err(err("password must contain a lower-case letter."));
        }
        if !raw.chars().any(|c| c.is_ascii_digit()) {
            return Err(err("password must contain a digit."));
        }
        if !raw.chars().any(|c| !c.is_alphanumeric()) {
            return Err(err("password must contain a special character."));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident, $field:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(raw: &str) -> Result<Self, Invalid> {
                match raw.trim() {
                    $($text => Ok($name::$variant),)+
                    _ => Err(Invalid::new(
                        $field,
                        concat!($field, " must be one of: ", $($text, " "),+).trim_end().to_owned() + ".",
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

string_enum!(
    /// Who a user is.
    UserType, "userType" { Admin = "ADMIN", Engineer = "ENGINEER", Customer = "CUSTOMER" }
);

string_enum!(
    /// Whether a user may use the system.
    UserStatus, "userStatus" { Approved = "APPROVED", Pending = "PENDING", Rejected = "REJECTED" }
);

impl UserType {
    /// The status a user gets on becoming this type (SPEC §2): staff need approval.
    pub fn initial_status(self) -> UserStatus {
        match self {
            UserType::Customer => UserStatus::Approved,
            UserType::Engineer | UserType::Admin => UserStatus::Pending,
        }
    }

    /// Whether responses show `ticketsWorkingOnCount` for this type.
    pub fn shows_ticket_count(self) -> bool {
        !matches!(self, UserType::Customer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn user_id_allows_the_spec_alphabet_and_trims() {
        assert_eq!(UserId::parse(" a.B_9-z ").unwrap().as_str(), "a.B_9-z");
        assert!(UserId::parse(&"x".repeat(64)).is_ok());
        assert!(UserId::parse(&"x".repeat(65)).is_err());
        for bad in ["", "   ", "a b", "a/b", "ü", "a@b", "a#b"] {
            assert!(UserId::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn user_id_is_case_sensitive() {
        assert_ne!(
            UserId::parse("Admin").unwrap(),
            UserId::parse("admin").unwrap()
        );
    }

    #[test]
    fn email_is_lower_cased_and_validated() {
        assert_eq!(
            Email::parse(" John@Email.COM ").unwrap().as_str(),
            "john@email.com"
        );
        for bad in [
            "",
            "john",
            "john@",
            "@email.com",
            "john@email",
            "john@@email.com",
            "john doe@email.com",
            "John <john@email.com>",
            "john@[127.0.0.1]",
            "john@email..com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        let long = format!("{}@example.com", "a".repeat(250));
        assert!(Email::parse(&long).is_err());
    }

    /// Issue 26 item 1: what SES cannot deliver to is refused where it enters, and a Unicode
    /// domain is kept in the form SES takes (Punycode).
    #[test]
    fn email_takes_only_what_ses_can_deliver_to() {
        for (raw, stored) in [
            ("John@Ex\u{e4}mple.COM", "john@xn--exmple-cua.com"),
            ("john@xn--exmple-cua.com", "john@xn--exmple-cua.com"),
            (
                "ops@\u{4f8b}\u{3048}.\u{30c6}\u{30b9}\u{30c8}",
                "ops@xn--r8jz45g.xn--zckzah",
            ),
            (
                "a.b-c+d_e@sub-1.example.co.uk",
                "a.b-c+d_e@sub-1.example.co.uk",
            ),
            ("x@EXAMPLE.com", "x@example.com"),
        ] {
            assert_eq!(
                Email::parse(raw).map(|e| e.0),
                Ok(stored.to_owned()),
                "{raw}"
            );
        }
        for bad in [
            "j\u{f6}hn@ex.com",
            "\u{430}dmin@ex.com",
            "\u{1F600}@ex.com",
            "a@ex_ample.com",
            "a@ex ample.com",
            "a@-example.com",
            "a@example-.com",
            "a@ab--cd.com",
            "a@example.123",
            "a@127.0.0.1",
            "a@example.com.",
            "a@.example.com",
            &format!("a@{}.com", "x".repeat(64)),
        ] {
            let e = Email::parse(bad).expect_err(bad);
            assert_eq!(e.field, "email");
            assert!(e.message.contains("email"), "{bad}: {}", e.message);
        }
        assert!(
            Email::parse("j\u{f6}hn@ex.com")
                .unwrap_err()
                .message
                .contains("ASCII")
        );
    }

    #[test]
    fn name_is_trimmed_and_bounded() {
        assert_eq!(Name::parse("  John Doe ").unwrap().as_str(), "John Doe");
        assert!(Name::parse(&"é".repeat(100)).is_ok());
        assert!(Name::parse(&"é".repeat(101)).is_err());
        assert!(Name::parse("  ").is_err());
        assert!(Name::parse("a\u{0}b").is_err());
    }

    #[test]
    fn password_rules_each_enforced() {
        assert!(Password::parse("crmService@1").is_ok());
        let cases = [
            ("Short@1a", "at least 10"),
            ("nouppercase@1", "upper-case"),
            ("NOLOWERCASE@1", "lower-case"),
            ("NoDigitsHere@", "digit"),
            ("NoSpecial123", "special"),
            ("Has Space@12", "whitespace"),
            ("Has\tTab@123", "whitespace"),
        ];
        for (pw, why) in cases {
            let err = Password::parse(pw).expect_err(pw);
            assert_eq!(err.field, "password");
            assert!(err.message.contains(why), "{pw}: {}", err.message);
        }
    }

    #[test]
    fn password_of_72_bytes_is_accepted_and_73_rejected_never_truncated() {
        let base = "Aa1@";
        let ok = format!("{base}{}", "x".repeat(68));
        assert_eq!(ok.len(), 72);
        assert!(Password::parse(&ok).is_ok());
        let long = format!("{base}{}", "x".repeat(69));
        assert_eq!(long.len(), 73);
        let err = Password::parse(&long).unwrap_err();
        assert!(err.message.contains("72 bytes"));
        // Multi-byte characters count in bytes: 36 two-byte chars = 72 bytes ok, 37 = 74 no.
        let multi_ok = format!("Aa1@{}", "é".repeat(34));
        assert_eq!(multi_ok.len(), 72);
        assert!(Password::parse(&multi_ok).is_ok());
        assert!(Password::parse(&format!("{multi_ok}é")).is_err());
    }

    #[test]
    fn password_is_taken_exactly_as_sent() {
        assert!(Password::parse(" crmService@1").is_err());
        assert_eq!(
            Password::parse("crmService@1").unwrap().expose(),
            "crmService@1"
        );
    }

    #[test]
    fn password_debug_is_redacted() {
        let p = Password::parse("crmService@1").unwrap();
        assert!(!format!("{p:?}").contains("crmService"));
    }

    #[test]
    fn enums_parse_exact_upper_case_names() {
        assert_eq!(UserType::parse("ENGINEER").unwrap(), UserType::Engineer);
        assert_eq!(UserStatus::parse(" PENDING ").unwrap(), UserStatus::Pending);
        assert!(UserType::parse("engineer").is_err());
        assert!(UserType::parse("ROOT").is_err());
        let e = UserStatus::parse("x").unwrap_err();
        assert_eq!(
            e.message,
            "userStatus must be one of: APPROVED PENDING REJECTED."
        );
    }

    #[test]
    fn initial_status_per_type() {
        assert_eq!(UserType::Customer.initial_status(), UserStatus::Approved);
        assert_eq!(UserType::Engineer.initial_status(), UserStatus::Pending);
        assert_eq!(UserType::Admin.initial_status(), UserStatus::Pending);
    }

    proptest! {
        #[test]
        fn user_id_parse_never_panics_and_accepts_only_its_alphabet(s in ".{0,80}") {
            if let Ok(id) = UserId::parse(&s) {
                prop_assert!(id.as_str().len() <= 64 && !id.as_str().is_empty());
                prop_assert!(id.as_str().bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
            }
        }

        #[test]
        fn valid_user_ids_round_trip(s in "[A-Za-z0-9._-]{1,64}") {
            let id = UserId::parse(&s).unwrap();
            prop_assert_eq!(id.as_str(), s.as_str());
        }

        #[test]
        fn password_parse_never_panics(s in "\\PC{0,100}") {
            if let Ok(p) = Password::parse(&s) {
                prop_assert!(p.expose().len() >= 10 && p.expose().len() <= 72);
            }
        }

        #[test]
        fn email_parse_never_panics_and_output_is_lower_case_ascii(s in "\\PC{0,80}") {
            if let Ok(e) = Email::parse(&s) {
                prop_assert_eq!(e.as_str().to_lowercase(), e.as_str());
                prop_assert!(e.as_str().is_ascii(), "{:?}", e);
                // Parsing is idempotent: a stored address parses to itself.
                prop_assert_eq!(Email::parse(e.as_str()), Ok(e.clone()));
            }
        }
    }
}

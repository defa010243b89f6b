//! The registry's text format: the provisioning file, the stored registry record, and the body of
//! admin commands are all lines of this one grammar, parsed by one parser.
//!
//! # Grammar
//!
//! UTF-8 text, one item per line. Blank lines and lines starting with `#` are ignored. Tokens are
//! separated by ASCII whitespace. Numbers are decimal; keys are hex of compressed SEC1 P-256
//! points (66 hex digits).
//!
//! ```text
//! spacenode-signer-registry 1
//! admin-threshold 2
//! admin 02a1...            # one line per admin key, order = admin index in admin commands
//! admin 03b2...
//! admin-counter 0          # optional: last accepted admin command counter (default 0)
//! server id=1 key=02c3... network=testnet account=0 descriptor=wsh(sortedmulti(2,[...]tpub.../<0;1>/*,...))#checksum sighash=all
//! rule allow max-amount=1000000 velocity=5000000/86400 max-fee=20000
//! rule deny
//! server id=2 key=... network=mainnet account=1 descriptor=sh(wsh(sortedmulti(...))) revoked
//! wallet server=1 account=5 descriptor=wsh(sortedmulti(2,[...]tpub.../<0;1>/*,...))#checksum
//! ```
//!
//! - The first item of a provisioning file or stored registry is the header
//!   `spacenode-signer-registry 1`.
//! - `server`: `id` (u32), `key` (the server's certificate key), `network`
//!   (`mainnet`/`testnet`/`regtest`), `account` (BIP-48 account number, below 2^31), `descriptor`
//!   (a `wsh(sortedmulti(...))` or `sh(wsh(sortedmulti(...)))` descriptor that must contain the
//!   node's account xpub for that network, script type and account), optional `sighash`
//!   (comma-separated from `all`, `none`, `single`, `all-acp`, `none-acp`, `single-acp`; default
//!   `all`), optional flag `no-expiry` (certificates without expiry are accepted from this
//!   server; without it they are refused, [`crate::cert::CertError::NoExpiryRefused`]), optional
//!   flag `revoked`. Each option at most once, in any order.
//! - `rule` lines (see [`crate::policy`]) belong to the `server` (or `policy`) line above them.
//! - `wallet`: one more wallet of a server (a server serves several wallet users, each with a
//!   wallet of their own): `server` (the id of a `server` line above it), `account` (the node's
//!   BIP-48 account for this wallet, below 2^31), `descriptor` (as a server's, on the server's
//!   network, holding the node's key for that account). The `server` line's own descriptor is
//!   the server's first wallet. `wallet` lines come after every `server` line and its rules.
//! - Admin command bodies ([`crate::admin`]) use the same lines without the header: `server ...`
//!   with its rules (add a server), `revoke id=N`, `policy id=N` followed by the new rules, or
//!   one `wallet ...` line (add a wallet to a server).
//!
//! Every error carries the 1-based line and column of the token it is about (the column just past
//! the line's end for a missing option) and a [`TextErrorKind`]; nothing panics.

use crate::bip32::HARDENED;
use crate::policy::{PolicyParseError, Rule};
use crate::psbt::sign::AllowedSighash;
use crate::wallet::Network;

/// The header line's keyword.
pub const HEADER: &str = "spacenode-signer-registry";
/// The format version.
pub const FORMAT_VERSION: u32 = 1;

/// What is wrong with a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TextErrorKind {
    /// Unknown first word.
    #[error(
        "unknown item (expected admin, admin-threshold, admin-counter, server, rule, wallet, revoke, policy)"
    )]
    UnknownItem,
    /// Missing or wrong header, or header version other than 1.
    #[error("expected header `spacenode-signer-registry 1`")]
    BadHeader,
    /// A number did not parse or is out of range.
    #[error("bad number")]
    BadNumber,
    /// Not a valid compressed P-256 public key.
    #[error("bad P-256 key (66 hex digits, compressed SEC1)")]
    BadKey,
    /// Unknown network name.
    #[error("network must be mainnet, testnet or regtest")]
    BadNetwork,
    /// Unknown sighash name.
    #[error("bad sighash list")]
    BadSighash,
    /// Unknown option, or one given twice.
    #[error("unknown or repeated option")]
    BadOption,
    /// A required option is missing.
    #[error(
        "missing option (server needs id, key, network, account, descriptor; wallet needs server, account, descriptor)"
    )]
    MissingOption,
    /// Extra tokens after a complete item.
    #[error("unexpected extra tokens")]
    ExtraTokens,
    /// A rule line that does not parse.
    #[error("rule: {0}")]
    Rule(#[from] PolicyParseError),
    /// A line in the wrong place (a rule with no server above it, a header twice...).
    #[error("item not allowed here")]
    Misplaced,
}

/// A text error with its line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {col}: {kind}")]
pub struct TextError {
    /// 1-based line number.
    pub line: u32,
    /// 1-based column (in characters) of the token the error is about.
    pub col: u32,
    /// What is wrong.
    pub kind: TextErrorKind,
}

/// The whitespace-separated tokens of one line, remembering the last one handed out so that an
/// error can point at the token it is about.
struct Tokens<'a> {
    line: &'a str,
    inner: core::str::SplitAsciiWhitespace<'a>,
    last: Option<&'a str>,
}

impl<'a> Tokens<'a> {
    fn new(line: &'a str) -> Self {
        Tokens {
            line,
            inner: line.split_ascii_whitespace(),
            last: None,
        }
    }

    /// 1-based column (in characters) where `kind` points: the last token taken, or just past the
    /// line's end for a missing option.
    fn column(&self, kind: TextErrorKind) -> u32 {
        let at = match (kind, self.last) {
            (TextErrorKind::MissingOption, _) | (_, None) => self.line.trim_end().len(),
            // The token is a sub-slice of `line`: its offset is the distance between the starts.
            (_, Some(t)) => (t.as_ptr() as usize).saturating_sub(self.line.as_ptr() as usize),
        };
        let chars = self.line.get(..at).map_or(0, |p| p.chars().count());
        u32::try_from(chars + 1).unwrap_or(u32::MAX)
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        let t = self.inner.next();
        if t.is_some() {
            self.last = t;
        }
        t
    }
}

/// A `server` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLine<'a> {
    /// Server id.
    pub id: u32,
    /// Certificate key.
    pub key: [u8; 33],
    /// Network.
    pub network: Network,
    /// BIP-48 account number.
    pub account: u32,
    /// Descriptor text.
    pub descriptor: &'a str,
    /// Allowed sighash types.
    pub sighash: AllowedSighash,
    /// Revoked flag.
    pub revoked: bool,
    /// `no-expiry` flag.
    pub no_expiry: bool,
}

/// A `wallet` line: one more wallet of a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalletLine<'a> {
    /// The server it belongs to.
    pub server: u32,
    /// BIP-48 account number of the node's key in this wallet.
    pub account: u32,
    /// Descriptor text.
    pub descriptor: &'a str,
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)] // parsed one line at a time, never stored in bulk
pub enum Line<'a> {
    /// `spacenode-signer-registry 1`.
    Header,
    /// `admin-threshold M`.
    AdminThreshold(u8),
    /// `admin KEY`.
    Admin([u8; 33]),
    /// `admin-counter N`.
    AdminCounter(u64),
    /// `server ...`.
    Server(ServerLine<'a>),
    /// `rule ...`.
    Rule(Rule),
    /// `wallet ...`.
    Wallet(WalletLine<'a>),
    /// `revoke id=N`.
    Revoke(u32),
    /// `policy id=N`.
    Policy(u32),
}

/// Parses a compressed P-256 public key from hex, checking it is on the curve.
pub fn p256_key(hex: &str) -> Option<[u8; 33]> {
    let k = crate::hexfmt::decode_array::<33>(hex)?;
    if k[0] != 2 && k[0] != 3 {
        return None;
    }
    p256::PublicKey::from_sec1_bytes(&k).ok()?;
    Some(k)
}

fn number<T: core::str::FromStr>(s: Option<&str>) -> Result<T, TextErrorKind> {
    s.ok_or(TextErrorKind::BadNumber)?
        .parse()
        .map_err(|_| TextErrorKind::BadNumber)
}

fn only<'a>(mut t: impl Iterator<Item = &'a str>) -> Result<(), TextErrorKind> {
    if t.next().is_some() {
        Err(TextErrorKind::ExtraTokens)
    } else {
        Ok(())
    }
}

fn id_option<'a>(mut t: impl Iterator<Item = &'a str>) -> Result<u32, TextErrorKind> {
    let v = t
        .next()
        .and_then(|x| x.strip_prefix("id="))
        .ok_or(TextErrorKind::MissingOption)?;
    let id = number(Some(v))?;
    only(t)?;
    Ok(id)
}

fn network(s: &str) -> Result<Network, TextErrorKind> {
    match s {
        "mainnet" => Ok(Network::Mainnet),
        "testnet" => Ok(Network::Testnet),
        "regtest" => Ok(Network::Regtest),
        _ => Err(TextErrorKind::BadNetwork),
    }
}

/// The name of a network in this format.
pub fn network_name(n: Network) -> &'static str {
    match n {
        Network::Mainnet => "mainnet",
        Network::Testnet => "testnet",
        Network::Regtest => "regtest",
    }
}

const SIGHASH_NAMES: [(&str, u32); 6] = [
    ("all", 0x01),
    ("none", 0x02),
    ("single", 0x03),
    ("all-acp", 0x81),
    ("none-acp", 0x82),
    ("single-acp", 0x83),
];

fn sighash_list(s: &str) -> Result<AllowedSighash, TextErrorKind> {
    let mut set = AllowedSighash::EMPTY;
    for name in s.split(',') {
        let t = SIGHASH_NAMES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or(TextErrorKind::BadSighash)?
            .1;
        set = set.with(t);
    }
    Ok(set)
}

/// Writes a sighash set as this format's list.
pub fn write_sighash(f: &mut impl core::fmt::Write, set: AllowedSighash) -> core::fmt::Result {
    let mut first = true;
    for (name, t) in SIGHASH_NAMES {
        if set.allows(t) {
            if !first {
                f.write_str(",")?;
            }
            f.write_str(name)?;
            first = false;
        }
    }
    Ok(())
}

fn account_number(value: &str) -> Result<u32, TextErrorKind> {
    let a: u32 = number(Some(value))?;
    if a >= HARDENED {
        return Err(TextErrorKind::BadNumber);
    }
    Ok(a)
}

fn wallet<'a>(t: impl Iterator<Item = &'a str>) -> Result<WalletLine<'a>, TextErrorKind> {
    let (mut server, mut account, mut descriptor) = (None, None, None);
    for tok in t {
        let (name, value) = tok.split_once('=').ok_or(TextErrorKind::BadOption)?;
        let fresh = match name {
            "server" => server.replace(number::<u32>(Some(value))?).is_none(),
            "account" => account.replace(account_number(value)?).is_none(),
            "descriptor" => descriptor.replace(value).is_none(),
            _ => false,
        };
        if !fresh {
            return Err(TextErrorKind::BadOption);
        }
    }
    Ok(WalletLine {
        server: server.ok_or(TextErrorKind::MissingOption)?,
        account: account.ok_or(TextErrorKind::MissingOption)?,
        descriptor: descriptor.ok_or(TextErrorKind::MissingOption)?,
    })
}

fn server<'a>(t: impl Iterator<Item = &'a str>) -> Result<ServerLine<'a>, TextErrorKind> {
    let (mut id, mut key, mut net, mut account, mut descriptor, mut sighash) =
        (None, None, None, None, None, None);
    let (mut revoked, mut no_expiry) = (false, false);
    for tok in t {
        let flag = match tok {
            "revoked" => Some(&mut revoked),
            "no-expiry" => Some(&mut no_expiry),
            _ => None,
        };
        if let Some(flag) = flag {
            if *flag {
                return Err(TextErrorKind::BadOption);
            }
            *flag = true;
            continue;
        }
        let (name, value) = tok.split_once('=').ok_or(TextErrorKind::BadOption)?;
        let fresh = match name {
            "id" => id.replace(number::<u32>(Some(value))?).is_none(),
            "key" => key
                .replace(p256_key(value).ok_or(TextErrorKind::BadKey)?)
                .is_none(),
            "network" => net.replace(network(value)?).is_none(),
            "account" => account.replace(account_number(value)?).is_none(),
            "descriptor" => descriptor.replace(value).is_none(),
            "sighash" => sighash.replace(sighash_list(value)?).is_none(),
            _ => false,
        };
        if !fresh {
            return Err(TextErrorKind::BadOption);
        }
    }
    Ok(ServerLine {
        id: id.ok_or(TextErrorKind::MissingOption)?,
        key: key.ok_or(TextErrorKind::MissingOption)?,
        network: net.ok_or(TextErrorKind::MissingOption)?,
        account: account.ok_or(TextErrorKind::MissingOption)?,
        descriptor: descriptor.ok_or(TextErrorKind::MissingOption)?,
        sighash: sighash.unwrap_or(AllowedSighash::ALL_ONLY),
        revoked,
        no_expiry,
    })
}

/// Parses one line; `Ok(None)` for blank and comment lines.
pub fn parse_line(line: &str) -> Result<Option<Line<'_>>, TextErrorKind> {
    parse_line_at(line).map_err(|(kind, _)| kind)
}

/// [`parse_line`], with the 1-based column of the token an error is about.
pub fn parse_line_at(line: &str) -> Result<Option<Line<'_>>, (TextErrorKind, u32)> {
    let mut t = Tokens::new(line);
    parse_tokens(&mut t).map_err(|kind| (kind, t.column(kind)))
}

fn parse_tokens<'a>(t: &mut Tokens<'a>) -> Result<Option<Line<'a>>, TextErrorKind> {
    let trimmed = t.line.trim();
    if trimmed.is_empty() || trimmed.starts_with('#') {
        return Ok(None);
    }
    let Some(word) = t.next() else {
        return Ok(None);
    };
    let item = match word {
        HEADER => {
            let v: u32 = number(t.next()).map_err(|_| TextErrorKind::BadHeader)?;
            if v != FORMAT_VERSION {
                return Err(TextErrorKind::BadHeader);
            }
            only(&mut *t)?;
            Line::Header
        }
        "admin-threshold" => {
            let m = number(t.next())?;
            only(&mut *t)?;
            Line::AdminThreshold(m)
        }
        "admin" => {
            let k = t.next().and_then(p256_key).ok_or(TextErrorKind::BadKey)?;
            only(&mut *t)?;
            Line::Admin(k)
        }
        "admin-counter" => {
            let c = number(t.next())?;
            only(&mut *t)?;
            Line::AdminCounter(c)
        }
        "server" => Line::Server(server(&mut *t)?),
        "rule" => Line::Rule(Rule::parse(&mut *t)?),
        "wallet" => Line::Wallet(wallet(&mut *t)?),
        "revoke" => Line::Revoke(id_option(&mut *t)?),
        "policy" => Line::Policy(id_option(&mut *t)?),
        _ => return Err(TextErrorKind::UnknownItem),
    };
    Ok(Some(item))
}

/// Iterates over the items of `text` with their 1-based line numbers.
pub fn lines(text: &str) -> impl Iterator<Item = Result<(u32, Line<'_>), TextError>> {
    text.lines().enumerate().filter_map(|(i, l)| {
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        match parse_line_at(l) {
            Ok(Some(item)) => Some(Ok((line, item))),
            Ok(None) => None,
            Err((kind, col)) => Some(Err(TextError { line, col, kind })),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::{format, string::String, vec::Vec};

    const KEY: &str = "036b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";

    #[test]
    fn each_item_parses_and_each_fault_is_typed() {
        assert_eq!(parse_line("  # comment"), Ok(None));
        assert_eq!(parse_line(""), Ok(None));
        assert_eq!(
            parse_line("spacenode-signer-registry 1"),
            Ok(Some(Line::Header))
        );
        assert_eq!(
            parse_line("spacenode-signer-registry 2"),
            Err(TextErrorKind::BadHeader)
        );
        assert_eq!(
            parse_line("admin-threshold 2"),
            Ok(Some(Line::AdminThreshold(2)))
        );
        assert_eq!(
            parse_line("admin-threshold 300"),
            Err(TextErrorKind::BadNumber)
        );
        assert!(matches!(
            parse_line(&format!("admin {KEY}")),
            Ok(Some(Line::Admin(_)))
        ));
        // Only compressed encodings (02/03): a SEC1 compact point (05) is refused.
        assert_eq!(
            parse_line("admin 050000000000000000000000000000000000000000000000000000000000000000"),
            Err(TextErrorKind::BadKey)
        );
        assert_eq!(parse_line("admin 02zz"), Err(TextErrorKind::BadKey));
        assert_eq!(parse_line("frobnicate"), Err(TextErrorKind::UnknownItem));
        assert_eq!(parse_line("revoke id=3"), Ok(Some(Line::Revoke(3))));
        assert_eq!(parse_line("revoke id=3 x"), Err(TextErrorKind::ExtraTokens));
        assert_eq!(parse_line("revoke 3"), Err(TextErrorKind::MissingOption));
        assert_eq!(parse_line("policy id=4"), Ok(Some(Line::Policy(4))));
        assert_eq!(
            parse_line("rule maybe"),
            Err(TextErrorKind::Rule(PolicyParseError::BadAction))
        );
        let s = format!(
            "server id=7 key={KEY} network=regtest account=3 descriptor=wsh(x) sighash=all,single-acp revoked"
        );
        let Ok(Some(Line::Server(sl))) = parse_line(&s) else {
            panic!("server line")
        };
        assert_eq!(
            (sl.id, sl.account, sl.descriptor, sl.revoked),
            (7, 3, "wsh(x)", true)
        );
        assert!(sl.sighash.allows(0x01) && sl.sighash.allows(0x83) && !sl.sighash.allows(0x02));
        let missing = format!("server id=7 key={KEY} network=regtest descriptor=wsh(x)");
        assert_eq!(parse_line(&missing), Err(TextErrorKind::MissingOption));
        let twice = format!("server id=7 id=8 key={KEY} network=regtest account=1 descriptor=d");
        assert_eq!(parse_line(&twice), Err(TextErrorKind::BadOption));
        let net = format!("server id=7 key={KEY} network=signet account=1 descriptor=d");
        assert_eq!(parse_line(&net), Err(TextErrorKind::BadNetwork));
        let hard = format!("server id=7 key={KEY} network=testnet account=2147483648 descriptor=d");
        assert_eq!(parse_line(&hard), Err(TextErrorKind::BadNumber));
        let sh =
            format!("server id=7 key={KEY} network=testnet account=1 descriptor=d sighash=most");
        assert_eq!(parse_line(&sh), Err(TextErrorKind::BadSighash));
        let only_single =
            format!("server id=7 key={KEY} network=testnet account=1 descriptor=d sighash=single");
        let Ok(Some(Line::Server(sl))) = parse_line(&only_single) else {
            panic!("server line")
        };
        assert!(!sl.sighash.allows(0x01) && sl.sighash.allows(0x03));
        assert_eq!(
            parse_line("wallet server=7 account=4 descriptor=wsh(x)"),
            Ok(Some(Line::Wallet(WalletLine {
                server: 7,
                account: 4,
                descriptor: "wsh(x)"
            })))
        );
        for (bad, kind) in [
            ("wallet server=7 account=4", TextErrorKind::MissingOption),
            (
                "wallet account=4 descriptor=d",
                TextErrorKind::MissingOption,
            ),
            (
                "wallet server=7 server=8 account=4 descriptor=d",
                TextErrorKind::BadOption,
            ),
            (
                "wallet server=7 account=2147483648 descriptor=d",
                TextErrorKind::BadNumber,
            ),
            (
                "wallet server=7 account=1 descriptor=d revoked",
                TextErrorKind::BadOption,
            ),
            (
                "wallet server=x account=1 descriptor=d",
                TextErrorKind::BadNumber,
            ),
        ] {
            assert_eq!(parse_line(bad), Err(kind), "{bad}");
        }
    }

    #[test]
    fn errors_carry_line_numbers() {
        let text = "spacenode-signer-registry 1\n\n# c\nadmin-threshold x\n";
        let errs: Vec<_> = lines(text).filter_map(Result::err).collect();
        assert_eq!(
            errs,
            [TextError {
                line: 4,
                col: 17,
                kind: TextErrorKind::BadNumber
            }]
        );
    }

    #[test]
    fn errors_point_at_their_token() {
        let col = |l: &str| parse_line_at(l).map(|_| ()).map_err(|(_, c)| c);
        assert_eq!(col("  admin 02zz"), Err(9));
        assert_eq!(col("admin-threshold 2 3"), Err(19));
        assert_eq!(col("frobnicate now"), Err(1));
        let bad_net = format!("server id=7 key={KEY} network=signet account=1 descriptor=d");
        assert_eq!(
            col(&bad_net),
            Err(bad_net.find("network").map(|i| i as u32 + 1).unwrap())
        );
        // A missing option points just past the line's end.
        assert_eq!(col("revoke  "), Err(7));
        // Columns count characters, not bytes.
        assert_eq!(col("admin-threshold é"), Err(17));
        assert_eq!(col("rule allow max-amount=x"), Err(12));
    }

    #[test]
    fn arbitrary_text_never_panics() {
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let alphabet = b"serverul =,admin-thdoky0123456789abcdef\n#wsh()";
        for _ in 0..2_000 {
            let mut s = String::new();
            for _ in 0..(x % 80) {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                s.push(alphabet[(x % alphabet.len() as u64) as usize] as char);
            }
            for r in lines(&s) {
                let _ = r;
            }
        }
    }
}

//! The diagnostic collector shared by the board, system and policy passes, with the checks they
//! share: names, ranges, page multiples, duplicate names and overlapping physical ranges.
//! Avoids: any rule specific to one table.

use super::MAX_NAME;
use crate::diag::{Diagnostic, Diagnostics};
use crate::raw::S;
use crate::source::Source;
use std::collections::HashMap;
use std::ops::Range;

/// Most problems reported for one file; the rest are counted. A hostile file could otherwise
/// produce one message per line (and each message costs a scan for its line and column).
pub const MAX_DIAGNOSTICS: usize = 100;

/// Validation state shared by the board and system passes.
pub(crate) struct Checker<'a> {
    pub src: &'a Source,
    pub diags: Vec<Diagnostic>,
    /// Problems found past [`MAX_DIAGNOSTICS`].
    more: usize,
}

impl<'a> Checker<'a> {
    pub fn new(src: &'a Source) -> Self {
        Self {
            src,
            diags: Vec::new(),
            more: 0,
        }
    }

    pub fn err(&mut self, span: Range<usize>, msg: impl Into<String>, help: impl Into<String>) {
        if self.diags.len() >= MAX_DIAGNOSTICS {
            self.more += 1;
            return;
        }
        self.diags
            .push(Diagnostic::at(self.src, span, msg).help(help));
    }

    pub fn push(&mut self, d: Diagnostic) {
        if self.diags.len() >= MAX_DIAGNOSTICS {
            self.more += 1;
            return;
        }
        self.diags.push(d);
    }

    /// The problems found, with a last line counting those not shown.
    pub fn into_diagnostics(mut self) -> Diagnostics {
        if self.more > 0 {
            let d = Diagnostic::file(
                self.src.name.clone(),
                format!("{} more problems are not shown", self.more),
            )
            .help(format!("fix the {MAX_DIAGNOSTICS} above and check again"));
            self.diags.push(d);
        }
        Diagnostics(self.diags)
    }

    /// Checks a name's spelling; returns it either way so later checks can go on.
    pub(super) fn name(&mut self, n: &S<String>, what: &str) -> String {
        let s = n.get_ref();
        let ok = !s.is_empty()
            && s.len() <= MAX_NAME
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !s.ends_with('-');
        if !ok {
            self.err(
                n.span(),
                format!("{what} name `{s}` is not a valid name"),
                format!(
                    "use 1 to {MAX_NAME} lowercase letters, digits and '-', starting with a letter and not ending with '-' (names become Microkit names and C symbols)"
                ),
            );
        }
        s.clone()
    }

    /// A number within `lo..=hi`; `None` (with a diagnostic) when outside.
    pub(crate) fn within(
        &mut self,
        v: &S<i64>,
        what: &str,
        lo: i64,
        hi: i64,
        unit: &str,
    ) -> Option<u64> {
        let x = *v.get_ref();
        if x < lo || x > hi {
            // Sizes read best in hex, as they are written in the description.
            let show = |n: i64| {
                if unit == " bytes" {
                    show_hex(n)
                } else {
                    n.to_string()
                }
            };
            self.err(
                v.span(),
                format!("{what} {}{unit} is out of range", show(x)),
                format!("use a value from {} to {}{unit}", show(lo), show(hi)),
            );
            None
        } else {
            Some(x as u64)
        }
    }

    /// A size that is a positive multiple of `page`.
    pub(super) fn page_multiple(&mut self, v: &S<i64>, what: &str, page: u64) -> Option<u64> {
        let x = *v.get_ref();
        if x <= 0 || !(x as u64).is_multiple_of(page) {
            let up = if x <= 0 {
                page
            } else {
                (x as u64).div_ceil(page) * page
            };
            self.err(
                v.span(),
                format!(
                    "{what} {} is not a positive multiple of the page size ({page:#x})",
                    show_hex(x)
                ),
                format!("round it up to {up:#x}"),
            );
            None
        } else {
            Some(x as u64)
        }
    }

    pub(super) fn page_aligned_address(
        &mut self,
        v: &S<i64>,
        what: &str,
        page: u64,
    ) -> Option<u64> {
        let x = *v.get_ref();
        if x < 0 || !(x as u64).is_multiple_of(page) {
            self.err(
                v.span(),
                format!("{what} {} is not aligned to the page size ({page:#x})", show_hex(x)),
                "device registers and RAM are mapped in whole pages: give the page-aligned base from the reference manual",
            );
            None
        } else {
            Some(x as u64)
        }
    }

    pub(super) fn finish<T>(self, value: T) -> Result<T, Diagnostics> {
        if self.diags.is_empty() {
            Ok(value)
        } else {
            Err(self.into_diagnostics())
        }
    }
}

pub(super) fn show_hex(x: i64) -> String {
    if x < 0 {
        x.to_string()
    } else {
        format!("{x:#x}")
    }
}

/// Reports the second and later uses of each name.
pub(super) fn duplicates<'n>(
    c: &mut Checker,
    names: impl Iterator<Item = &'n S<String>>,
    what: &str,
) {
    let mut seen: HashMap<&str, Range<usize>> = HashMap::new();
    for n in names {
        if let Some(first) = seen.get(n.get_ref().as_str()) {
            let (l, col) = c.src.line_col(first.start);
            let d = Diagnostic::at(
                c.src,
                n.span(),
                format!("{what} `{}` is declared twice", n.get_ref()),
            )
            .note(format!("first declared at {}:{l}:{col}", c.src.name))
            .help(format!("give each {what} a unique name"));
            c.push(d);
        } else {
            seen.insert(n.get_ref(), n.span());
        }
    }
}

/// Reports overlaps among `[base, base+size)` ranges; `ranges` holds (label, base, size, span).
/// Sorted by base and swept once: each range that starts below the furthest end seen so far is
/// reported against the range of that end, at the position of whichever comes later in the file.
pub(super) fn overlaps(c: &mut Checker, ranges: &[(String, u64, u64, Range<usize>)]) {
    let mut order: Vec<usize> = (0..ranges.len()).collect();
    order.sort_by_key(|&i| (ranges[i].1, i));
    let end = |i: usize| ranges[i].1.saturating_add(ranges[i].2);
    let mut found = Vec::new();
    let mut furthest: Option<usize> = None;
    for &i in &order {
        if let Some(f) = furthest {
            if ranges[i].1 < end(f) && ranges[i].2 > 0 && ranges[f].2 > 0 {
                found.push((f.min(i), f.max(i)));
            }
            if end(i) > end(f) {
                furthest = Some(i);
            }
        } else {
            furthest = Some(i);
        }
    }
    found.sort_by_key(|&(a, b)| (b, a));
    for (a, b) in found {
        let (an, ab, _, _) = &ranges[a];
        let (bn, bb, _, bspan) = &ranges[b];
        let (ae, be) = (end(a), end(b));
        c.err(
            bspan.clone(),
            format!("{bn} [{bb:#x}..{be:#x}) overlaps {an} [{ab:#x}..{ae:#x})"),
            "physical ranges must be disjoint: check the base and size against the reference manual",
        );
    }
}

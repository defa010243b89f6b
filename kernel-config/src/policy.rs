//! Information-flow policy: the rules a reviewer states once in the description and every load
//! checks. `device-owner`, `no-path` (over channels and device ownership, optionally only through
//! trusted guards), `only-sender` and `integrity`. A violation names the offending channel or prints
//! the offending chain of channels. The graph is the static one in the description: what the
//! monitor will grant, not what components happen to send at run time.

use crate::diag::Diagnostic;
use crate::model::*;
use crate::raw::{RawDeviceOwner, RawNoPath, RawOnlySender, RawPolicy, RawSystem, S};
use crate::validate::Checker;
use protocol::catalogue;
use std::collections::VecDeque;
use std::ops::Range;

fn note_at(c: &Checker, span: &Range<usize>) -> String {
    let (l, col) = c.src.line_col(span.start);
    format!("the rule is stated at {}:{l}:{col}", c.src.name)
}

/// Resolves the names in policy rules; reports rules that name nothing.
pub(crate) fn resolve(
    c: &mut Checker,
    raw: &RawPolicy,
    components: &[Component],
    board: &Board,
) -> Policy {
    let mut r = Resolver {
        c,
        components,
        board,
    };
    let mut p = Policy {
        integrity: raw.integrity,
        ..Policy::default()
    };
    p.device_owner = raw
        .device_owner
        .iter()
        .filter_map(|x| r.device_owner(x.get_ref()))
        .collect();
    p.no_path = raw
        .no_path
        .iter()
        .filter_map(|x| r.no_path(x.get_ref()))
        .collect();
    p.only_sender = raw
        .only_sender
        .iter()
        .filter_map(|x| r.only_sender(x.get_ref()))
        .collect();
    p
}

/// Resolves the names of the raw rules against the components and the board, reporting each
/// unknown name with its place.
struct Resolver<'a, 'c, 's> {
    c: &'c mut Checker<'s>,
    components: &'a [Component],
    board: &'a Board,
}

impl Resolver<'_, '_, '_> {
    fn comp(&mut self, n: &S<String>, role: &str) -> Option<ComponentId> {
        let r = self.components.iter().position(|k| k.name == *n.get_ref());
        if r.is_none() {
            self.c.err(
                n.span(),
                format!(
                    "policy {role} `{}` is not a declared component",
                    n.get_ref()
                ),
                "name a component declared under [[component]]",
            );
        }
        r
    }

    fn node(&mut self, n: &S<String>, role: &str) -> Option<Node> {
        if let Some(i) = self.components.iter().position(|k| k.name == *n.get_ref()) {
            return Some(Node::Component(i));
        }
        if let Some(i) = self
            .board
            .devices
            .iter()
            .position(|d| d.name == *n.get_ref())
        {
            return Some(Node::Device(i));
        }
        self.c.err(
            n.span(),
            format!(
                "policy {role} `{}` is neither a component nor a device of board `{}`",
                n.get_ref(),
                self.board.name
            ),
            "name a declared component or a device from the board file",
        );
        None
    }

    fn device_owner(&mut self, r: &RawDeviceOwner) -> Option<DeviceOwnerRule> {
        let device = self
            .board
            .devices
            .iter()
            .position(|d| d.name == *r.device.get_ref());
        if device.is_none() {
            self.c.err(
                r.device.span(),
                format!(
                    "policy device-owner names device `{}`, which board `{}` does not have",
                    r.device.get_ref(),
                    self.board.name
                ),
                "name a device from the board file",
            );
        }
        let owner = self.comp(&r.owner, "device-owner owner");
        Some(DeviceOwnerRule {
            device: device?,
            owner: owner?,
            why: r.why.clone(),
        })
    }

    fn no_path(&mut self, r: &RawNoPath) -> Option<NoPathRule> {
        let from = self.node(&r.from, "no-path source");
        let to = self.node(&r.to, "no-path target");
        let except: Vec<Option<Node>> = r
            .except_through
            .iter()
            .map(|e| self.node(e, "no-path guard"))
            .collect();
        let (from, to) = (from?, to?);
        if from == to {
            self.c.err(
                r.to.span(),
                "policy no-path goes from a node to itself",
                "name two different components or devices",
            );
            return None;
        }
        Some(NoPathRule {
            from,
            to,
            except_through: except.into_iter().collect::<Option<Vec<Node>>>()?,
            why: r.why.clone(),
        })
    }

    fn only_sender(&mut self, r: &RawOnlySender) -> Option<OnlySenderRule> {
        let message = catalogue::lookup(r.message.get_ref());
        if message.is_none() {
            self.c.err(
                r.message.span(),
                format!(
                    "policy only-sender names unknown message type `{}`",
                    r.message.get_ref()
                ),
                "use a message type from the protocol crate",
            );
        }
        let sender = self.comp(&r.sender, "only-sender sender");
        Some(OnlySenderRule {
            message: message?,
            sender: sender?,
            why: r.why.clone(),
        })
    }
}

/// One step of a path: the node reached and the channel that led there (`None` for device
/// ownership, and for the first step).
type Step = (Node, Option<usize>);

/// Shortest chain of channels and device ownerships from `from` to `to` that does not pass through
/// any of `guards` (the ends themselves may be guards). `None` when there is none.
pub fn find_path(s: &System, from: Node, to: Node, guards: &[Node]) -> Option<Vec<Step>> {
    let nodes: Vec<Node> = (0..s.components.len())
        .map(Node::Component)
        .chain((0..s.board.devices.len()).map(Node::Device))
        .collect();
    // Components first, then devices: a node's index is computed, not searched for.
    let idx = |n: Node| match n {
        Node::Component(k) => k,
        Node::Device(d) => s.components.len() + d,
    };
    let mut prev: Vec<Option<(usize, Option<usize>)>> = vec![None; nodes.len()];
    let mut seen = vec![false; nodes.len()];
    let mut q = VecDeque::from([from]);
    seen[idx(from)] = true;
    while let Some(n) = q.pop_front() {
        if n == to {
            // Walk back from `to`: each step records the edge that entered it.
            let mut path = Vec::new();
            let mut cur = idx(to);
            while let Some((p, via)) = prev[cur] {
                path.push((nodes[cur], via));
                cur = p;
            }
            path.push((from, None));
            path.reverse();
            return Some(path);
        }
        if n != from && guards.contains(&n) {
            continue;
        }
        let mut next: Vec<(Node, Option<usize>)> = Vec::new();
        match n {
            Node::Component(k) => {
                next.extend(
                    s.sends(k)
                        .map(|ch| (Node::Component(ch.receiver), Some(ch.id))),
                );
                next.extend(
                    s.components[k]
                        .devices
                        .iter()
                        .map(|&d| (Node::Device(d), None)),
                );
            }
            Node::Device(d) => {
                if let Some(o) = s.board.devices[d].owner {
                    next.push((Node::Component(o), None));
                }
            }
        }
        for (m, via) in next {
            let mi = idx(m);
            if !seen[mi] {
                seen[mi] = true;
                prev[mi] = Some((idx(n), via));
                q.push_back(m);
            }
        }
    }
    None
}

/// Renders a path as `a -[channel]-> b -[owns]-> device`.
pub fn render_path(s: &System, path: &[Step]) -> String {
    let mut out = String::new();
    for (i, (n, via)) in path.iter().enumerate() {
        if i > 0 {
            match via {
                Some(ch) => out.push_str(&format!(" -[{}]-> ", s.channels[*ch].name)),
                None => out.push_str(" -[owns]-> "),
            }
        }
        out.push_str(s.node_name(*n));
    }
    out
}

/// Checks every policy rule against a structurally valid system.
pub(crate) fn check(c: &mut Checker, raw: &RawSystem, s: &System) {
    let channel_raw = |id: usize| &raw.channel[id];
    if s.policy.integrity {
        for ch in &s.channels {
            let (tx, rx) = (&s.components[ch.sender], &s.components[ch.receiver]);
            if tx.integrity == Integrity::Low && rx.integrity == Integrity::High && !ch.copy_in {
                c.err(
                    channel_raw(ch.id).name.span(),
                    format!("policy integrity: channel `{}` carries data from low-integrity `{}` to high-integrity `{}` without copy-in", ch.name, tx.name, rx.name),
                    "set `copy-in = true` so the receiver validates a private copy that the sender can no longer change",
                );
            }
        }
    }
    for (r, rr) in s.policy.device_owner.iter().zip(&raw.policy.device_owner) {
        let dev = &s.board.devices[r.device];
        if let Some(o) = dev.owner.filter(|o| *o != r.owner) {
            let span = raw.component[o]
                .devices
                .iter()
                .find(|d| *d.get_ref() == dev.name)
                .map_or(raw.component[o].name.span(), |d| d.span());
            let d = Diagnostic::at(
                c.src,
                span,
                format!(
                    "policy device-owner: device `{}` may only be owned by `{}`, but `{}` owns it",
                    dev.name, s.components[r.owner].name, s.components[o].name
                ),
            )
            .note(note_at(c, &rr.span()))
            .help(format!(
                "move `{}` to the devices of `{}`{}",
                dev.name,
                s.components[r.owner].name,
                why(&r.why)
            ));
            c.push(d);
        }
    }
    for (r, rr) in s.policy.only_sender.iter().zip(&raw.policy.only_sender) {
        for ch in s
            .channels
            .iter()
            .filter(|ch| std::ptr::eq(ch.message, r.message) && ch.sender != r.sender)
        {
            let d = Diagnostic::at(
                c.src,
                channel_raw(ch.id).from.span(),
                format!("policy only-sender: only `{}` may send `{}`, but channel `{}` lets `{}` send it", s.components[r.sender].name, r.message.name, ch.name, s.components[ch.sender].name),
            )
            .note(note_at(c, &rr.span()))
            .help(format!("remove channel `{}` or make `{}` its sender{}", ch.name, s.components[r.sender].name, why(&r.why)));
            c.push(d);
        }
    }
    for (r, rr) in s.policy.no_path.iter().zip(&raw.policy.no_path) {
        if let Some(path) = find_path(s, r.from, r.to, &r.except_through) {
            let guards = if r.except_through.is_empty() {
                String::new()
            } else {
                format!(
                    " except through {}",
                    r.except_through
                        .iter()
                        .map(|g| format!("`{}`", s.node_name(*g)))
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            let d = Diagnostic::at(
                c.src,
                rr.span(),
                format!(
                    "policy no-path: a chain of channels leads from `{}` to `{}`{guards}",
                    s.node_name(r.from),
                    s.node_name(r.to)
                ),
            )
            .note(format!("path: {}", render_path(s, &path)))
            .help(format!(
                "remove or reroute a channel on this path{}",
                why(&r.why)
            ));
            c.push(d);
        }
    }
}

fn why(w: &str) -> String {
    if w.is_empty() {
        String::new()
    } else {
        format!(" (the rule exists because: {w})")
    }
}

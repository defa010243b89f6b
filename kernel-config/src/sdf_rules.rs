//! A port of the seL4 Microkit tool's SDF parser checks (`tool/microkit/src/sdf.rs` at commit
//! [`MICROKIT_COMMIT`]), restricted to the elements and attributes `sdf::export` emits, each with
//! the tool's exact message (its `file:row:col` positions included). Like the tool it stops at
//! the first problem and checks in the tool's order: top-level elements in document order,
//! then child ids, then channels, then the whole-system rules.
//!
//! Target: aarch64 with the Microkit SDK's default `KernelArmHypervisorSupport` and a 40-bit
//! physical address space (ZynqMP, Cortex-A53); the BCM2711 (Cortex-A72) has 44 bits, so the
//! 40-bit user address-space top checked here is the stricter of the two boards. One core.
//!
//! Not ported, because they need the program images (not built yet, see the SDF header) or the
//! SDK's kernel build: `unable to find program image`, setvar symbols present and word-sized in
//! each ELF, maps overlapping an ELF segment, physical memory allocation. Elements and
//! attributes Microkit accepts but the export never emits (`passive`, `smc`, `cpu`, `domain`,
//! `fpu`, `setvar`, `cspace`, `virtual_machine`, `io_address_space`, `domains`, prefills,
//! ioports) are refused here with a message saying this port does not check them. The tool's
//! "unused memory region" line is a warning, not a refusal, and is not ported.

use roxmltree::{Document, Node};
use std::collections::HashSet;

/// The seL4/microkit commit whose `tool/microkit/src/sdf.rs` these rules were ported from.
pub const MICROKIT_COMMIT: &str = "cfd521630a52f718b8140d504c695edbaf27a915";
/// `MAX_PDS` in `tool/microkit/src/lib.rs`.
pub const MAX_PDS: usize = 63;
/// `PD_MAX_ID`: 64 badge bits less the PPC and fault bits.
pub const PD_MAX_ID: u64 = 61;
/// `MONITOR_PD_NAME`: the tool's own monitor; no PD of the system may use the name.
pub const RESERVED_PD_NAME: &str = "monitor";
const PD_MAX_PRIORITY: u64 = 254;
const BUDGET_DEFAULT: u64 = 1000;
const PD_DEFAULT_STACK_SIZE: u64 = 0x2000;
const PD_MIN_STACK_SIZE: u64 = 0x1000;
const PD_MAX_STACK_SIZE: u64 = 1024 * 1024 * 16;
/// `Config::page_sizes()` for aarch64.
const PAGE_SIZES: [u64; 2] = [0x1000, 0x20_0000];
/// `seL4_UserVSpaceTop` (seL4 `libsel4/sel4_arch_include/aarch64/sel4/sel4_arch/constants.h`,
/// `CONFIG_ARM_HYPERVISOR_SUPPORT` with `CONFIG_ARM_PA_SIZE_BITS_40`).
const USER_VSPACE_TOP: u64 = 0x0000_00ff_ffff_ffff;

/// `Config::pd_map_max_vaddr`: below the stack, a guard page and the IPC buffer at the top.
pub(crate) fn pd_map_max_vaddr(stack_size: u64) -> u64 {
    let ipc_buffer = USER_VSPACE_TOP & !(PAGE_SIZES[0] - 1);
    ipc_buffer - PAGE_SIZES[0] - stack_size
}

struct Ctx<'a> {
    file: &'a str,
}

impl Ctx<'_> {
    fn loc(&self, n: Node) -> String {
        let p = n.document().text_pos_at(n.range().start);
        format!("{}:{}:{}", self.file, p.row, p.col)
    }
    fn value_error(&self, n: Node, err: &str) -> String {
        format!(
            "Error: {err} on element '{}': {}",
            n.tag_name().name(),
            self.loc(n)
        )
    }
    fn check_attributes(&self, n: Node, allowed: &[&str]) -> Result<(), String> {
        match n.attributes().find(|a| !allowed.contains(&a.name())) {
            Some(a) => Err(self.value_error(n, &format!("invalid attribute '{}'", a.name()))),
            None => Ok(()),
        }
    }
    fn lookup<'n>(&self, n: Node<'n, '_>, attr: &str) -> Result<&'n str, String> {
        n.attribute(attr).ok_or_else(|| {
            format!(
                "Error: Missing required attribute '{attr}' on element '{}': {}",
                n.tag_name().name(),
                self.loc(n)
            )
        })
    }
    /// `sdf_parse_number`: decimal or `0x` hex, underscores ignored. Deliberately the tool's own
    /// `from_str_radix` rather than the project's hex codec (`hex-conservative`, which decodes
    /// byte strings, not numbers): this port must accept and refuse exactly what the tool does,
    /// `0x+f` included, and it only reads the SDF `sdf::export` wrote.
    fn number(&self, s: &str, n: Node) -> Result<u64, String> {
        let t: String = s.chars().filter(|&c| c != '_').collect();
        let parsed = match t.strip_prefix("0x") {
            Some(h) => u64::from_str_radix(h, 16),
            None => t.parse(),
        };
        parsed.map_err(|e| {
            format!(
                "Error: failed to parse integer '{s}' on element '{}': {e}",
                n.tag_name().name()
            )
        })
    }
    /// The tool parses channel and IRQ ids and IRQ numbers with `parse::<T>().unwrap()`: a value
    /// that does not parse makes it panic instead of reporting an error.
    fn decimal<T: std::str::FromStr>(&self, s: &str, what: &str, n: Node) -> Result<T, String> {
        s.parse().map_err(|_| {
            format!(
                "the Microkit tool panics on {what} '{s}' on element '{}' (it must be a plain decimal number): {}",
                n.tag_name().name(),
                self.loc(n)
            )
        })
    }
    fn bool_attr(&self, n: Node, attr: &str, default: bool) -> Result<bool, String> {
        match n.attribute(attr) {
            None => Ok(default),
            Some("true") => Ok(true),
            Some("false") => Ok(false),
            Some(_) => Err(self.value_error(n, &format!("{attr} must be 'true' or 'false'"))),
        }
    }
    fn unported(&self, n: Node, what: &str) -> String {
        format!(
            "{what} '{}' is accepted by Microkit in some configurations, but `config sdf` never emits it and this port does not check it: {}",
            n.tag_name().name(),
            self.loc(n)
        )
    }
}

struct Mr {
    name: String,
    size: u64,
    page_size: u64,
    paddr: Option<u64>,
    pos: String,
}

struct Map<'a> {
    mr: &'a str,
    vaddr: u64,
    pos: String,
}

struct Pd<'a> {
    name: &'a str,
    id: Option<u64>,
    priority: u64,
    stack_size: u64,
    maps: Vec<Map<'a>>,
    irqs: Vec<(u64, u64)>,
    setvars: Vec<&'a str>,
    children: Vec<Pd<'a>>,
    pos: String,
}

struct End {
    pd: usize,
    id: u64,
    pp: bool,
}

/// Checks an SDF document as the Microkit tool's parser does. `file` is the name the messages
/// give for the document. Returns the first problem, in the tool's words.
pub fn check(xml: &str, file: &str) -> Result<(), String> {
    let cx = Ctx { file };
    let doc = Document::parse(xml).map_err(|e| format!("Could not parse '{file}': {e}"))?;
    let system = doc.root_element();
    if system.tag_name().name() != "system" {
        return Err(format!(
            "the Microkit tool panics on a document whose root element is '{}', not 'system': {}",
            system.tag_name().name(),
            cx.loc(system)
        ));
    }
    check_no_text(&cx, system)?;
    let (roots, mrs, channel_nodes) = parse_top_level(&cx, system)?;
    let mut pds = Vec::new();
    for pd in roots {
        flatten(pd, &mut pds)?;
    }
    let mut channels = Vec::new();
    for node in channel_nodes {
        channels.push(parse_channel(&cx, node, &mut pds)?);
    }
    check_system(&pds, &mrs, &channels)
}

type TopLevel<'a> = (Vec<Pd<'a>>, Vec<Mr>, Vec<Node<'a, 'a>>);

fn parse_top_level<'a>(cx: &Ctx, system: Node<'a, 'a>) -> Result<TopLevel<'a>, String> {
    let (mut pds, mut mrs, mut channels) = (Vec::new(), Vec::new(), Vec::new());
    for child in system.children().filter(Node::is_element) {
        match child.tag_name().name() {
            "protection_domain" => pds.push(parse_pd(cx, child, false)?),
            "channel" => channels.push(child),
            "memory_region" => mrs.push(parse_mr(cx, child)?),
            "virtual_machine" => {
                return Err(format!(
                    "Error: virtual machine must be a child of a protection domain: {}",
                    cx.loc(child)
                ));
            }
            "io_address_space" | "domains" => return Err(cx.unported(child, "element")),
            other => {
                return Err(format!(
                    "Error: invalid XML element '{other}': {}",
                    cx.loc(child)
                ));
            }
        }
    }
    Ok((pds, mrs, channels))
}

/// `check_no_text`: only whitespace and comments between elements.
fn check_no_text(cx: &Ctx, n: Node) -> Result<(), String> {
    let name = n.tag_name().name();
    if n.text().is_some_and(|t| !t.trim().is_empty()) {
        return Err(format!(
            "Error: unexpected text found in element '{name}' @ {}",
            cx.loc(n)
        ));
    }
    if n.tail().is_some() {
        return Err(format!(
            "Error: unexpected text found after element '{name}' @ {}",
            cx.loc(n)
        ));
    }
    for child in n.children().filter(|c| !c.is_comment() && !c.is_element()) {
        check_no_text(cx, child)?;
    }
    Ok(())
}

fn parse_mr(cx: &Ctx, n: Node) -> Result<Mr, String> {
    let attrs = [
        "name",
        "size",
        "page_size",
        "phys_addr",
        "prefill_path",
        "prefill_bootinfo",
    ];
    cx.check_attributes(n, &attrs)?;
    let name = cx.lookup(n, "name")?;
    let page_size = match n.attribute("page_size") {
        Some(p) => cx.number(p, n)?,
        None => PAGE_SIZES[0],
    };
    if !PAGE_SIZES.contains(&page_size) {
        return Err(cx.value_error(n, &format!("page size {page_size:#x} not supported")));
    }
    if n.attribute("prefill_path").is_some() || n.attribute("prefill_bootinfo").is_some() {
        return Err(cx.unported(n, "a prefilled"));
    }
    let Some(size) = n.attribute("size") else {
        return Err(cx.value_error(
            n,
            "size must be specified if memory region is not prefilled",
        ));
    };
    let size = cx.number(size, n)?;
    if !size.is_multiple_of(page_size) {
        return Err(cx.value_error(n, "size is not a multiple of the page size"));
    }
    let paddr = match n.attribute("phys_addr") {
        Some(p) => Some(cx.number(p, n)?),
        None => None,
    };
    if paddr.is_some_and(|p| !p.is_multiple_of(page_size)) {
        return Err(cx.value_error(n, "phys_addr is not aligned to the page size"));
    }
    Ok(Mr {
        name: name.to_string(),
        size,
        page_size,
        paddr,
        pos: cx.loc(n),
    })
}

/// `ProtectionDomain::from_xml`: the attributes, then each child in document order.
fn parse_pd<'a>(cx: &Ctx, n: Node<'a, 'a>, is_child: bool) -> Result<Pd<'a>, String> {
    let mut attrs = vec![
        "name",
        "priority",
        "budget",
        "period",
        "passive",
        "stack_size",
        "smc",
        "cpu",
        "domain",
        "fpu",
    ];
    if is_child {
        attrs.extend(["id", "setvar_id"]);
    }
    cx.check_attributes(n, &attrs)?;
    let name = cx.lookup(n, "name")?;
    let id = match is_child {
        true => Some(cx.number(cx.lookup(n, "id")?, n)?),
        false => None,
    };
    let budget = match n.attribute("budget") {
        Some(b) => cx.number(b, n)?,
        None => BUDGET_DEFAULT,
    };
    let period = match n.attribute("period") {
        Some(p) => cx.number(p, n)?,
        None => budget,
    };
    if budget > period {
        return Err(cx.value_error(
            n,
            &format!("budget ({budget}) must be less than, or equal to, period ({period})"),
        ));
    }
    if let Some(a) = ["passive", "smc", "cpu", "domain", "fpu", "setvar_id"]
        .into_iter()
        .find(|a| n.attribute(*a).is_some())
    {
        return Err(cx.unported(n, &format!("attribute '{a}' on element")));
    }
    let stack_size = match n.attribute("stack_size") {
        Some(s) => cx.number(s, n)?,
        None => PD_DEFAULT_STACK_SIZE,
    };
    if !(PD_MIN_STACK_SIZE..=PD_MAX_STACK_SIZE).contains(&stack_size) {
        return Err(cx.value_error(n, &format!("stack size must be between {PD_MIN_STACK_SIZE:#x} bytes and {PD_MAX_STACK_SIZE:#x} bytes")));
    }
    if !stack_size.is_multiple_of(PAGE_SIZES[0]) {
        return Err(cx.value_error(
            n,
            &format!(
                "stack size must be aligned to the smallest page size, {} bytes",
                PAGE_SIZES[0]
            ),
        ));
    }
    let priority = match n.attribute("priority") {
        Some(p) => cx.number(p, n)?,
        None => 0,
    };
    if priority > PD_MAX_PRIORITY {
        return Err(cx.value_error(
            n,
            &format!("priority must be between 0 and {PD_MAX_PRIORITY}"),
        ));
    }
    let mut pd = Pd {
        name,
        id,
        priority,
        stack_size,
        maps: Vec::new(),
        irqs: Vec::new(),
        setvars: Vec::new(),
        children: Vec::new(),
        pos: cx.loc(n),
    };
    parse_pd_children(cx, n, &mut pd)?;
    Ok(pd)
}

fn parse_pd_children<'a>(cx: &Ctx, n: Node<'a, 'a>, pd: &mut Pd<'a>) -> Result<(), String> {
    let mut program_image = false;
    for child in n.children().filter(Node::is_element) {
        match child.tag_name().name() {
            "program_image" => {
                cx.check_attributes(child, &["path", "path_for_symbols"])?;
                if program_image {
                    return Err(cx.value_error(n, "program_image must only be specified once"));
                }
                cx.lookup(child, "path")?;
                program_image = true;
            }
            "map" => parse_map(cx, child, pd)?,
            "irq" => parse_irq(cx, child, pd)?,
            "protection_domain" => pd.children.push(parse_pd(cx, child, true)?),
            "ioport" => return Err(cx.value_error(n, "I/O Ports are only available on x86")),
            "setvar" | "virtual_machine" | "cspace" => return Err(cx.unported(child, "element")),
            other => {
                return Err(format!("Invalid XML element '{other}': {}", cx.loc(child)));
            }
        }
    }
    if !program_image {
        return Err(format!(
            "Error: missing 'program_image' element on protection_domain: '{}'",
            pd.name
        ));
    }
    Ok(())
}

/// `checked_add_setvar`: one setvar per symbol in a PD.
fn add_setvar<'a>(cx: &Ctx, pd: &mut Pd<'a>, symbol: &'a str, n: Node) -> Result<(), String> {
    if pd.setvars.contains(&symbol) {
        return Err(cx.value_error(n, &format!("setvar on symbol '{symbol}' already exists")));
    }
    pd.setvars.push(symbol);
    Ok(())
}

/// `SysMap::from_xml` plus its setvars.
fn parse_map<'a>(cx: &Ctx, n: Node<'a, 'a>, pd: &mut Pd<'a>) -> Result<(), String> {
    let attrs = [
        "mr",
        "vaddr",
        "perms",
        "cached",
        "setvar_vaddr",
        "setvar_size",
        "setvar_prefill_size",
    ];
    cx.check_attributes(n, &attrs)?;
    let mr = cx.lookup(n, "mr")?;
    let vaddr = cx.number(cx.lookup(n, "vaddr")?, n)?;
    let max = pd_map_max_vaddr(pd.stack_size);
    if vaddr >= max {
        return Err(cx.value_error(n, &format!("vaddr ({vaddr:#x}) must be less than {max:#x}")));
    }
    let perms = n.attribute("perms").unwrap_or("rw");
    if !perms.chars().all(|c| "rwx".contains(c)) {
        return Err(cx.value_error(n, "perms must only be a combination of 'r', 'w', and 'x'"));
    }
    if perms.contains('w') && !perms.contains('r') && !perms.contains('x') {
        return Err(cx.value_error(
            n,
            "perms must not be 'w', write-only mappings are not allowed",
        ));
    }
    cx.bool_attr(n, "cached", true)?;
    for attr in ["setvar_vaddr", "setvar_size"] {
        if let Some(symbol) = n.attribute(attr) {
            add_setvar(cx, pd, symbol, n)?;
        }
    }
    if n.attribute("setvar_prefill_size").is_some() {
        return Err(cx.unported(n, "attribute 'setvar_prefill_size' on element"));
    }
    pd.maps.push(Map {
        mr,
        vaddr,
        pos: cx.loc(n),
    });
    Ok(())
}

/// The aarch64 branch of the tool's `irq` handling.
fn parse_irq<'a>(cx: &Ctx, n: Node<'a, 'a>, pd: &mut Pd<'a>) -> Result<(), String> {
    let id: i64 = cx.decimal(cx.lookup(n, "id")?, "the id", n)?;
    if id > PD_MAX_ID as i64 {
        return Err(cx.value_error(n, &format!("id must be < {}", PD_MAX_ID + 1)));
    }
    if id < 0 {
        return Err(cx.value_error(n, "id must be >= 0"));
    }
    if let Some(symbol) = n.attribute("setvar_id") {
        add_setvar(cx, pd, symbol, n)?;
    }
    if n.attribute("irq").is_none() {
        cx.lookup(n, "irq")?;
    }
    cx.check_attributes(n, &["irq", "id", "setvar_id", "trigger"])?;
    let irq: u64 = cx.decimal(cx.lookup(n, "irq")?, "the irq number", n)?;
    match n.attribute("trigger") {
        None | Some("level") | Some("edge") => {}
        Some(_) => return Err(cx.value_error(n, "trigger must be either 'level' or 'edge'")),
    }
    pd.irqs.push((irq, id as u64));
    Ok(())
}

/// `pd_flatten`: a PD, then its children depth first; child ids unique within a parent.
fn flatten<'a>(mut pd: Pd<'a>, out: &mut Vec<Pd<'a>>) -> Result<(), String> {
    let children = std::mem::take(&mut pd.children);
    let mut ids = HashSet::new();
    for c in &children {
        let id = c.id.unwrap_or_default();
        if !ids.insert(id) {
            return Err(format!(
                "Error: duplicate id: {id} in protection domain: '{}' @ {}",
                pd.name, c.pos
            ));
        }
    }
    out.push(pd);
    for c in children {
        flatten(c, out)?;
    }
    Ok(())
}

/// `Channel::from_xml` and `ChannelEnd::from_xml`.
fn parse_channel<'a>(cx: &Ctx, n: Node<'a, 'a>, pds: &mut [Pd<'a>]) -> Result<(End, End), String> {
    cx.check_attributes(n, &[])?;
    let mut ends = Vec::new();
    for e in n.children().filter(Node::is_element) {
        if e.tag_name().name() != "end" {
            return Err(format!(
                "Error: invalid XML element '{}': {}",
                e.tag_name().name(),
                cx.loc(e)
            ));
        }
        cx.check_attributes(e, &["pd", "id", "pp", "notify", "setvar_id"])?;
        let pd = cx.lookup(e, "pd")?;
        let id: i64 = cx.decimal(cx.lookup(e, "id")?, "the id", e)?;
        if id > PD_MAX_ID as i64 {
            return Err(cx.value_error(e, &format!("id must be < {}", PD_MAX_ID + 1)));
        }
        if id < 0 {
            return Err(cx.value_error(e, "id must be >= 0"));
        }
        cx.bool_attr(e, "notify", true)?;
        let pp = cx.bool_attr(e, "pp", false)?;
        let Some(idx) = pds.iter().position(|p| p.name == pd) else {
            return Err(cx.value_error(e, &format!("invalid PD name '{pd}'")));
        };
        ends.push((
            End {
                pd: idx,
                id: id as u64,
                pp,
            },
            e.attribute("setvar_id"),
        ));
    }
    if ends.len() != 2 {
        return Err(cx.value_error(n, "exactly two end elements must be specified"));
    }
    let (b, sb) = ends.pop().expect("two ends");
    let (a, sa) = ends.pop().expect("two ends");
    if a.pp && b.pp {
        return Err(cx.value_error(n, "cannot ppc bidirectionally"));
    }
    for (end, symbol) in [(&a, sa), (&b, sb)] {
        if let Some(symbol) = symbol {
            add_setvar(cx, &mut pds[end.pd], symbol, n)?;
        }
    }
    Ok((a, b))
}

/// The whole-system rules of the tool's `parse`, in its order.
fn check_system(pds: &[Pd], mrs: &[Mr], channels: &[(End, End)]) -> Result<(), String> {
    if pds.is_empty() {
        return Err("Error: at least one protection domain must be defined".into());
    }
    if pds.len() > MAX_PDS {
        return Err(format!(
            "Error: too many protection domains ({}) defined. Maximum is {MAX_PDS}.",
            pds.len()
        ));
    }
    for pd in pds {
        if pds.iter().filter(|x| x.name == pd.name).count() > 1 {
            return Err(format!(
                "Error: duplicate protection domain name '{}'.",
                pd.name
            ));
        }
        if pd.name == RESERVED_PD_NAME {
            return Err(
                "Error: the PD name 'monitor' is reserved for the Microkit Monitor.".into(),
            );
        }
    }
    for mr in mrs {
        if mrs.iter().filter(|x| x.name == mr.name).count() > 1 {
            return Err(format!(
                "Error: duplicate memory region name '{}'.",
                mr.name
            ));
        }
    }
    check_ids(pds, channels)?;
    for pd in pds {
        check_maps(pd, mrs)?;
    }
    check_physical(mrs)
}

/// No IRQ handled twice in the system; no id used twice in a PD by its IRQs and channel ends;
/// a PPC only to a PD of strictly higher priority.
fn check_ids(pds: &[Pd], channels: &[(End, End)]) -> Result<(), String> {
    let mut all_irqs = Vec::new();
    for pd in pds {
        for &(irq, _) in &pd.irqs {
            if all_irqs.contains(&irq) {
                return Err(format!(
                    "Error: duplicate irq: {irq} in protection domain: '{}' @ {}",
                    pd.name, pd.pos
                ));
            }
            all_irqs.push(irq);
        }
    }
    let dup = |id: u64, pd: &Pd| {
        format!(
            "Error: duplicate channel id: {id} in protection domain: '{}' @ {}",
            pd.name, pd.pos
        )
    };
    let mut ids: Vec<Vec<u64>> = vec![Vec::new(); pds.len()];
    for (i, pd) in pds.iter().enumerate() {
        for &(_, id) in &pd.irqs {
            if ids[i].contains(&id) {
                return Err(dup(id, pd));
            }
            ids[i].push(id);
        }
    }
    for (a, b) in channels {
        for end in [a, b] {
            if ids[end.pd].contains(&end.id) {
                return Err(dup(end.id, &pds[end.pd]));
            }
        }
        for (from, to) in [(a, b), (b, a)] {
            let (pf, pt) = (&pds[from.pd], &pds[to.pd]);
            if from.pp && pf.priority >= pt.priority {
                return Err(format!(
                    "Error: PPCs must be to protection domains of strictly higher priorities; channel with PPC exists from pd {} (priority: {}) to pd {} (priority: {})",
                    pf.name, pf.priority, pt.name, pt.priority
                ));
            }
        }
        ids[a.pd].push(a.id);
        ids[b.pd].push(b.id);
    }
    Ok(())
}

/// `check_maps` for one PD: known region, aligned, inside the address space, no overlap.
fn check_maps(pd: &Pd, mrs: &[Mr]) -> Result<(), String> {
    let max_end = pd_map_max_vaddr(pd.stack_size);
    let mut checked: Vec<(&str, u64, u64)> = Vec::new();
    for map in &pd.maps {
        let Some(mr) = mrs.iter().find(|m| m.name == map.mr) else {
            return Err(format!(
                "Error: invalid memory region name '{}' on 'map' @ {}",
                map.mr, map.pos
            ));
        };
        if !map.vaddr.is_multiple_of(mr.page_size) {
            return Err(format!(
                "Error: invalid vaddr alignment on 'map' @ {}",
                map.pos
            ));
        }
        let start = map.vaddr;
        let Some(end) = start.checked_add(mr.size) else {
            return Err(format!(
                "Error: map for '{}' has address range that overflows @ {}",
                map.mr, map.pos
            ));
        };
        if end > max_end {
            return Err(format!(
                "Error: map for '{}' has virtual address range [{start:#x}..{end:#x}) which exceeds valid address space [{:#x}..{max_end:#x}) @ {}",
                map.mr, 0, map.pos
            ));
        }
        for (name, s, e) in &checked {
            if !(start >= *e || end <= *s) {
                return Err(format!(
                    "Error: map for '{}' has virtual address range [{start:#x}..{end:#x}) which overlaps with map for '{name}' [{s:#x}..{e:#x}) in protection domain '{}' @ {}",
                    map.mr, pd.name, map.pos
                ));
            }
        }
        checked.push((map.mr, start, end));
    }
    Ok(())
}

/// Memory regions with a physical address do not overlap.
fn check_physical(mrs: &[Mr]) -> Result<(), String> {
    let mut checked: Vec<(&str, u64, u64)> = Vec::new();
    for mr in mrs {
        if let Some(start) = mr.paddr {
            let end = start + mr.size;
            for (name, s, e) in &checked {
                if !(start >= *e || end <= *s) {
                    return Err(format!(
                        "Error: memory region '{}' physical address range [{start:#x}..{end:#x}) overlaps with another memory region '{name}' [{s:#x}..{e:#x}) @ {}",
                        mr.name, mr.pos
                    ));
                }
            }
            checked.push((&mr.name, start, end));
        }
    }
    Ok(())
}

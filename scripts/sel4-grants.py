#!/usr/bin/env python3
"""Compares the capabilities the seL4 monitor says it gave each component (its boot log) with
the grants of the system description, read here independently of the Rust code (tomllib).

    scripts/sel4-grants.py kernel-config/spacenode.toml target/sel4/qemu-boot.log

For every component but the root task: slot 1 its own notification (wait), slot 2 the fault
endpoint, then exactly one signal capability per channel it sends (to that channel's receiver),
then for each `uart` device it lists an I/O port capability and an IRQ handler capability for
that device, and nothing else; a ring mapped for every channel it sends or receives, and no
other ring.
Devices: every device the monitor gives (the board file's flash, rng, watchdog and uart kinds;
the board uses the sim board file, kernel-config/boards/sim.toml) goes to a component that lists
it in its `devices`, once, and every started component gets each such device it lists.
Exits non-zero with every difference listed."""
import re
import sys
import tomllib

desc = tomllib.load(open(sys.argv[1], "rb"))
log = open(sys.argv[2], encoding="utf-8", errors="replace").read()
root = {c["name"] for c in desc["component"] if c.get("root", False)}
components = [c["name"] for c in desc["component"] if c["name"] not in root]
problems = []

def got(pattern):
    return re.findall(pattern, log, re.MULTILINE)

board = tomllib.load(open(sys.argv[1].rsplit("/", 1)[0] + "/boards/sim.toml", "rb"))
given_kinds = {d["name"] for d in board["device"] if d["kind"] in ("flash", "rng", "watchdog", "uart")}
uarts = {d["name"] for d in board["device"] if d["kind"] == "uart"}

for name in components:
    want_uart = {d for c in desc["component"] if c["name"] == name for d in c.get("devices", [])} & uarts
    ports = set(got(rf"^\[monitor\] cspace {re.escape(name)}: slot \d+ = ioport (\S+) \(COM2, ports 0x2f8-0x2ff\)$"))
    irqs = set(got(rf"^\[monitor\] cspace {re.escape(name)}: slot \d+ = irq-handler (\S+) \(IRQ 3 via IOAPIC pin 3, signals notification {re.escape(name)} with badge 0x[0-9a-f]+\)$"))
    if ports != want_uart or irqs != want_uart:
        problems.append(f"{name}: serial port capabilities: I/O ports {sorted(ports)}, IRQ handlers {sorted(irqs)}; its uart devices are {sorted(want_uart)}")
    want_send = {(ch["name"], ch["to"]) for ch in desc["channel"] if ch["from"] == name}
    want_recv = {ch["name"] for ch in desc["channel"] if ch["to"] == name}
    send_caps = {(ch, to) for to, ch in got(
        rf"^\[monitor\] cspace {re.escape(name)}: slot \d+ = notification (\S+) \(signal, badge 0x[0-9a-f]+, channel (\S+)\)$")}
    all_slots = got(rf"^\[monitor\] cspace {re.escape(name)}: slot (\d+) = ")
    own = got(rf"^\[monitor\] cspace {re.escape(name)}: slot 1 = notification {re.escape(name)} \(wait\)$")
    fault = got(rf"^\[monitor\] cspace {re.escape(name)}: slot 2 = endpoint fault \(badge 0x[0-9a-f]+\)$")
    sends = set(got(rf"^\[monitor\] vspace {re.escape(name)}: sends (\S+) via ring"))
    recvs = set(got(rf"^\[monitor\] vspace {re.escape(name)}: receives (\S+) via ring"))
    if send_caps != want_send:
        problems.append(f"{name}: signal caps {sorted(send_caps)} != grants {sorted(want_send)}")
    if len(own) != 1 or len(fault) != 1:
        problems.append(f"{name}: own notification / fault endpoint lines: {len(own)} / {len(fault)}")
    want_slots = 2 + len(want_send) + 2 * len(want_uart)
    if len(all_slots) != want_slots or len(set(all_slots)) != len(all_slots):
        problems.append(f"{name}: {len(all_slots)} cspace slots logged, expected {want_slots} distinct")
    if sends != {c for c, _ in want_send}:
        problems.append(f"{name}: send rings {sorted(sends)} != {sorted(c for c, _ in want_send)}")
    if recvs != want_recv:
        problems.append(f"{name}: receive rings {sorted(recvs)} != {sorted(want_recv)}")
    print(f"sel4-grants: {name}: {len(all_slots)} capabilities, {len(sends)} send and {len(recvs)} receive rings")

device_lines = got(r"^\[monitor\] device (\S+) of (\S+): ")
for name in components:
    wanted = {d for c in desc["component"] if c["name"] == name for d in c.get("devices", [])}
    mapped = [d for d, owner in device_lines if owner == name]
    if len(mapped) != len(set(mapped)) or not set(mapped) <= wanted:
        problems.append(f"{name}: devices mapped {sorted(mapped)}, description lists {sorted(wanted)}")
    if got(rf"^\[monitor\] started {re.escape(name)}: ") and set(mapped) != wanted & given_kinds:
        problems.append(f"{name}: started with devices {sorted(mapped)}, expected {sorted(wanted & given_kinds)}")
    if mapped:
        print(f"sel4-grants: {name}: devices {', '.join(sorted(mapped))}")

if not components:
    problems.append("the description has no components besides the root task")
for p in problems:
    print(f"sel4-grants: MISMATCH: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)

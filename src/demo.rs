//! `spacenode demo`: the end-to-end demonstration on the sim board. Today it validates the shipped
//! system description against every board and shows the capabilities the monitor would grant;
//! it grows as the sim board, the components and the ground side land.

use crate::failure::Failure;
use kernel_config::{graph, shipped};

pub fn run() -> Result<(), Failure> {
    println!("spacenode demo");
    println!("==============");
    println!();
    println!(
        "1. The system description (kernel-config/spacenode.toml) against every shipped board:"
    );
    let description = shipped::description();
    let mut sim = None;
    for name in shipped::BOARDS {
        let board = shipped::board(name).ok_or_else(|| {
            Failure::Usage(format!("shipped board `{name}` is missing from this build"))
        })?;
        let s = kernel_config::load(&description, &board)
            .map_err(|d| Failure::Rejected(d.to_string()))?;
        println!("   ok: {}", crate::config::summary(&s));
        if name == "sim" {
            sim = Some(s);
        }
    }
    let sim =
        sim.ok_or_else(|| Failure::Usage("the sim board is missing from this build".into()))?;
    println!();
    println!("2. The capabilities the monitor grants on the sim board:");
    println!();
    print!("{}", graph::matrix(&sim));
    println!();
    println!("3. The Microkit SDF for the flight computer:");
    let flight = kernel_config::load(
        &description,
        &shipped::board("flight")
            .ok_or_else(|| Failure::Usage("the flight board is missing from this build".into()))?,
    )
    .map_err(|d| Failure::Rejected(d.to_string()))?;
    match kernel_config::sdf::export(&flight) {
        Ok(xml) => println!(
            "   generated and checked against Microkit's rules: {} lines (write it with `spacenode config sdf --board flight`)",
            xml.lines().count()
        ),
        Err(errs) => {
            return Err(Failure::Rejected(format!(
                "error: the flight SDF breaks Microkit's rules:\n  - {}\n",
                errs.join("\n  - ")
            )));
        }
    }
    println!();
    println!(
        "Not shown yet: booting the node on the sim board (components as isolated processes),"
    );
    println!("co-signing, fault injection and upgrades. They arrive with the sim board runtime.");
    Ok(())
}

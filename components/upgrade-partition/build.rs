//! Generates the agent's trial boot rules from the shipped system description
//! (`kernel-config/spacenode.toml`, loaded with the sim board): the `upgrade` component's
//! `trial = { soak-ms, attempts, deadline-ms }`, or `kernel_config::model::Trial::DEFAULT` when it
//! has none, as `$OUT_DIR/trial.rs`. A description that does not load fails the build with its
//! diagnostics. The watchdog partition gets its table the same way: the image is built for one
//! description, and nothing at run time can change how long a trial image must stay healthy.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=../../kernel-config/spacenode.toml");
    println!("cargo:rerun-if-changed=../../kernel-config/boards/sim.toml");
    let description = kernel_config::shipped::description();
    let board = kernel_config::shipped::board("sim").expect("the sim board is shipped");
    let system = match kernel_config::load(&description, &board) {
        Ok(s) => s,
        Err(d) => panic!("the shipped description does not load:\n{d}"),
    };
    let me = system
        .component("upgrade")
        .expect("the shipped description has an `upgrade` component");
    let (t, from) = match me.trial {
        Some(t) => (t, "the `upgrade` component's `trial` table"),
        None => (
            kernel_config::model::Trial::DEFAULT,
            "the defaults (the `upgrade` component has no `trial` table)",
        ),
    };
    let out = format!(
        "/// The trial boot rules of {from} in the shipped description.\n\
         pub const CONFIG: Config = Config {{ soak_ms: {}, trial_attempts: {}, soak_deadline_ms: {} }};\n",
        t.soak_ms, t.attempts, t.deadline_ms
    );
    let path = std::path::Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("trial.rs");
    std::fs::write(&path, out).expect("write trial.rs");
}

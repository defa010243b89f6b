//! The agent's trial boot rules come from the shipped system description: the `upgrade`
//! component's `trial` table, as loaded by `kernel-config`, is what the partition was built with.

use upgrade_partition::component::CONFIG;

#[test]
fn the_built_trial_rules_are_the_shipped_descriptions() {
    let system = kernel_config::load(
        &kernel_config::shipped::description(),
        &kernel_config::shipped::board("sim").expect("sim board"),
    )
    .expect("the shipped description loads");
    let t = system
        .component("upgrade")
        .expect("an upgrade component")
        .trial
        .expect("the shipped description gives the upgrade agent's trial rules");
    assert_eq!(
        (
            CONFIG.soak_ms,
            CONFIG.trial_attempts,
            CONFIG.soak_deadline_ms
        ),
        (t.soak_ms, t.attempts, u64::from(t.deadline_ms))
    );
    assert_eq!(
        t,
        kernel_config::model::Trial::DEFAULT,
        "the shipped values are the defaults"
    );
}

//! The policy engine: one test per rule kind (each condition holding and failing, with the
//! decision's rule index, reason and code), text round trips, and a proptest that evaluation is
//! "first rule whose conditions all hold decides", against a model written independently here.
use proptest::prelude::*;
use signer::policy::velocity::Windows;
use signer::policy::{
    Action, Decision, Facts, Miss, Policy, PolicyParseError, Reason, Rule, Velocity, evaluate,
};
use signer::signer::CheckedOutput;

const PAY: [u8; 22] = [
    0x00, 0x14, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
];
const CHANGE: [u8; 3] = [0x51, 0x52, 0x53];

fn outputs() -> Vec<CheckedOutput<'static>> {
    vec![
        CheckedOutput {
            amount: 1_000,
            script_pubkey: &PAY,
            is_change: false,
        },
        CheckedOutput {
            amount: 5_000,
            script_pubkey: &CHANGE,
            is_change: true,
        },
    ]
}

fn facts<'b>(
    outs: &'b [CheckedOutput<'static>],
    outflow: u64,
    fee: u64,
    vsize: u64,
) -> Facts<'static, 'b> {
    Facts {
        outflow,
        fee,
        vsize,
        outputs: outs,
    }
}

fn one(line: &str) -> Policy {
    let mut p = Policy::empty();
    p.push(Rule::parse(line.split_whitespace().skip(1)).expect("rule"))
        .expect("push");
    p
}

fn decide(p: &Policy, f: &Facts<'_, '_>, used: u64) -> Decision {
    evaluate(p, f, |_| used)
}

#[test]
fn no_rules_signs_nothing() {
    let o = outputs();
    let d = decide(&Policy::empty(), &facts(&o, 1, 1, 1), 0);
    assert_eq!(
        d,
        Decision {
            allowed: false,
            rule: None,
            reason: Reason::NoRules,
            closest_allow: None,
        }
    );
    assert_eq!(d.code(), 2);
}

#[test]
fn max_amount() {
    let o = outputs();
    let p = one("rule allow max-amount=1100");
    assert!(decide(&p, &facts(&o, 1_100, 100, 200), 0).allowed);
    let d = decide(&p, &facts(&o, 1_101, 101, 200), 0);
    assert_eq!(
        d.reason,
        Reason::NoRuleMatched(Miss::Amount {
            limit: 1_100,
            outflow: 1_101
        })
    );
    assert_eq!((d.rule, d.code()), (Some(0), 0x11));
}

#[test]
fn velocity() {
    let o = outputs();
    let p = one("rule allow velocity=10000/60");
    assert!(decide(&p, &facts(&o, 1_100, 100, 200), 8_900).allowed);
    let d = decide(&p, &facts(&o, 1_100, 100, 200), 8_901);
    assert_eq!(
        d.reason,
        Reason::NoRuleMatched(Miss::Velocity {
            limit: 10_000,
            used: 8_901,
            outflow: 1_100,
            period_s: 60
        })
    );
    assert_eq!(d.code(), 0x12);
    // The window state the closure reads: a 60 s window that opened at t = 0.
    let mut w = Windows::new();
    w.add(&p, 0, 9_000);
    assert!(!evaluate(&p, &facts(&o, 1_100, 100, 200), |per| w.used(per, 59_999)).allowed);
    assert!(evaluate(&p, &facts(&o, 1_100, 100, 200), |per| w.used(per, 60_000)).allowed);
    // An overflowing sum is a miss, not a wrap.
    assert!(!decide(&p, &facts(&o, u64::MAX, 0, 1), 1).allowed);
}

#[test]
fn destination_whitelist_ignores_change() {
    let o = outputs();
    let listed = format!("rule allow to=0014{}", "07".repeat(20));
    assert!(decide(&one(&listed), &facts(&o, 1_100, 100, 200), 0).allowed);
    let d = decide(&one("rule allow to=51"), &facts(&o, 1_100, 100, 200), 0);
    assert_eq!(
        d.reason,
        Reason::NoRuleMatched(Miss::Destination { output: 0 })
    );
    assert_eq!(d.code(), 0x13);
    // A deny rule with a list works as a blacklist.
    let deny = format!("rule deny to=0014{}", "07".repeat(20));
    let d = decide(&one(&deny), &facts(&o, 1_100, 100, 200), 0);
    assert_eq!(
        (d.allowed, d.rule, d.reason, d.code()),
        (false, Some(0), Reason::DeniedByRule, 1)
    );
}

#[test]
fn absolute_fee_cap() {
    let o = outputs();
    let p = one("rule allow max-fee=100");
    assert!(decide(&p, &facts(&o, 1_100, 100, 200), 0).allowed);
    let d = decide(&p, &facts(&o, 1_101, 101, 200), 0);
    assert_eq!(
        d.reason,
        Reason::NoRuleMatched(Miss::Fee {
            limit: 100,
            fee: 101
        })
    );
    assert_eq!(d.code(), 0x14);
}

#[test]
fn fee_rate_cap() {
    let o = outputs();
    let p = one("rule allow max-feerate=2");
    assert!(decide(&p, &facts(&o, 1_400, 400, 200), 0).allowed);
    let d = decide(&p, &facts(&o, 1_401, 401, 200), 0);
    assert_eq!(
        d.reason,
        Reason::NoRuleMatched(Miss::FeeRate {
            limit: 2,
            fee: 401,
            vsize: 200
        })
    );
    assert_eq!(d.code(), 0x15);
    // No overflow for huge rates.
    let p = one("rule allow max-feerate=2100000000000000");
    assert!(decide(&p, &facts(&o, u64::MAX, u64::MAX / 2, u64::MAX), 0).allowed);
}

#[test]
fn first_match_wins_and_the_last_miss_is_reported() {
    let o = outputs();
    let mut p = Policy::empty();
    for l in [
        "rule deny max-amount=10",
        "rule allow max-fee=50",
        "rule allow max-amount=5000",
        "rule deny",
    ] {
        p.push(Rule::parse(l.split_whitespace().skip(1)).expect("rule"))
            .expect("push");
    }
    let d = decide(&p, &facts(&o, 5, 5, 100), 0);
    assert_eq!((d.allowed, d.rule, d.closest_allow), (false, Some(0), None));
    let d = decide(&p, &facts(&o, 1_040, 40, 100), 0);
    assert_eq!((d.allowed, d.rule), (true, Some(1)));
    let d = decide(&p, &facts(&o, 1_100, 100, 100), 0);
    assert_eq!((d.allowed, d.rule), (true, Some(2)));
    let d = decide(&p, &facts(&o, 9_100, 100, 100), 0);
    assert_eq!(
        (d.allowed, d.rule, d.reason),
        (false, Some(3), Reason::DeniedByRule)
    );
    // The deny decided; the nearest allow rule above it (rule 2) says which limit was hit.
    assert_eq!(
        d.closest_allow,
        Some((
            2,
            Miss::Amount {
                limit: 5_000,
                outflow: 9_100
            }
        ))
    );
}

#[test]
fn rule_text_round_trips_and_refusals() {
    let line = format!(
        "rule allow max-amount=5 velocity=7/60 to=51,0014{} max-fee=3 max-feerate=2",
        "07".repeat(20)
    );
    let r = Rule::parse(line.split_whitespace().skip(1)).expect("rule");
    assert_eq!(r.to_string(), line);
    let bad = |l: &str| Rule::parse(l.split_whitespace()).err();
    assert_eq!(bad("maybe"), Some(PolicyParseError::BadAction));
    assert_eq!(
        bad("allow colour=red"),
        Some(PolicyParseError::UnknownCondition)
    );
    assert_eq!(
        bad("allow max-fee=1 max-fee=2"),
        Some(PolicyParseError::DuplicateCondition)
    );
    assert_eq!(
        bad("allow max-amount=2100000000000001"),
        Some(PolicyParseError::BadAmount)
    );
    assert_eq!(
        bad("allow velocity=5/0"),
        Some(PolicyParseError::BadVelocity)
    );
    assert_eq!(bad("allow velocity=5"), Some(PolicyParseError::BadVelocity));
    assert_eq!(bad("allow to=zz"), Some(PolicyParseError::BadDestination));
    assert_eq!(bad("allow to=51,"), Some(PolicyParseError::BadDestination));
    assert_eq!(
        bad(&format!("allow to={}", "51,".repeat(8) + "51")),
        Some(PolicyParseError::BadDestination)
    );
    assert_eq!(
        bad("allow max-feerate=x"),
        Some(PolicyParseError::BadFeeRate)
    );
    let mut p = Policy::empty();
    for per in 1..=4 {
        p.push(Rule::parse(format!("allow velocity=1/{per}").split_whitespace()).expect("r"))
            .expect("push");
    }
    assert_eq!(
        p.push(Rule::parse("allow velocity=1/5".split_whitespace()).expect("r")),
        Err(signer::policy::PolicyError::TooManyPeriods)
    );
}

fn arb_rule() -> impl Strategy<Value = Rule> {
    (
        any::<bool>(),
        proptest::option::of(0u64..3_000),
        proptest::option::of((0u64..3_000, 1u32..4)),
        proptest::option::of(any::<bool>()),
        proptest::option::of(0u64..300),
        proptest::option::of(0u64..5),
    )
        .prop_map(|(allow, amt, vel, to, fee, rate)| {
            let mut r = Rule::new(if allow { Action::Allow } else { Action::Deny });
            r.max_amount = amt;
            r.velocity = vel.map(|(limit, period_s)| Velocity { limit, period_s });
            r.destinations = to.map(|pay_listed| {
                let mut l = heapless::Vec::new();
                let spk: &[u8] = if pay_listed { &PAY } else { &CHANGE };
                let _ = l.push(heapless::Vec::from_slice(spk).expect("fits"));
                l
            });
            r.max_fee = fee;
            r.max_feerate = rate;
            r
        })
}

/// The model: does every condition of `r` hold?
fn holds(r: &Rule, outflow: u64, fee: u64, vsize: u64, used: u64) -> bool {
    r.max_amount.is_none_or(|a| outflow <= a)
        && r.velocity.is_none_or(|v| used + outflow <= v.limit)
        && r.destinations
            .as_ref()
            .is_none_or(|l| l.iter().any(|s| s.as_slice() == PAY))
        && r.max_fee.is_none_or(|m| fee <= m)
        && r.max_feerate.is_none_or(|m| fee <= m * vsize)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn evaluation_is_first_match(
        rules in proptest::collection::vec(arb_rule(), 0..6),
        outflow in 0u64..3_000,
        fee in 0u64..300,
        vsize in 1u64..200,
        used in 0u64..3_000,
    ) {
        let mut p = Policy::empty();
        for r in &rules {
            // Periods 1..4: at most 3 distinct, within the limit.
            p.push(r.clone()).expect("push");
        }
        let o = outputs();
        let d = evaluate(&p, &facts(&o, outflow, fee, vsize), |_| used);
        match rules.iter().position(|r| holds(r, outflow, fee, vsize, used)) {
            Some(i) => {
                prop_assert_eq!(d.rule, Some(i as u8));
                prop_assert_eq!(d.allowed, rules[i].action == Action::Allow);
            }
            None if rules.is_empty() => prop_assert_eq!(d.reason, Reason::NoRules),
            None => {
                prop_assert!(!d.allowed);
                prop_assert_eq!(d.rule, Some(rules.len() as u8 - 1));
                prop_assert!(matches!(d.reason, Reason::NoRuleMatched(_)));
            }
        }
    }
}

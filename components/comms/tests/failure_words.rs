//! Every failure code reaches the operator as a sentence (issue 15 point 3): no code is printed
//! as its Rust name, and no two codes share a sentence.

use comms::failure::ALL;

#[test]
fn every_failure_code_has_its_own_sentence_in_words() {
    let mut seen = std::collections::BTreeMap::new();
    for code in ALL {
        let text = code.to_string();
        let name = format!("{code:?}");
        assert!(!text.is_empty(), "{name} has no words");
        assert!(
            !text.contains(&name),
            "{name} is printed as its Rust name: {text}"
        );
        assert!(
            !text.starts_with(|c: char| c.is_ascii_uppercase())
                || text.starts_with("PUS")
                || text.starts_with("SDLS"),
            "{name}: a sentence fragment starts in lower case: {text}"
        );
        if let Some(other) = seen.insert(text.clone(), name.clone()) {
            panic!("{name} and {other} share the sentence `{text}`");
        }
    }
}

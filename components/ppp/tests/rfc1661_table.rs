//! Every cell of RFC 1661 §4.1's state transition table, parsed from the table's own text (both
//! halves, as the RFC prints them) and compared with `ppp::fsm::transition`: 16 events × 10 states.
//! Footnote letters (p, r, x) are dropped when parsing: they change no action or state.

use ppp::fsm::{Actions, Event, State, transition};

const TABLE_A: &str = "
      | State
      |    0         1         2         3         4         5
Events| Initial   Starting  Closed    Stopped   Closing   Stopping
------+-----------------------------------------------------------
 Up   |    2     irc,scr/6     -         -         -         -
 Down |    -         -         0       tls/1       0         1
 Open |  tls/1       1     irc,scr/6     3r        5r        5r
 Close|    0       tlf/0       2         2         4         4
      |
  TO+ |    -         -         -         -       str/4     str/5
  TO- |    -         -         -         -       tlf/2     tlf/3
      |
 RCR+ |    -         -       sta/2 irc,scr,sca/8   4         5
 RCR- |    -         -       sta/2 irc,scr,scn/6   4         5
 RCA  |    -         -       sta/2     sta/3       4         5
 RCN  |    -         -       sta/2     sta/3       4         5
      |
 RTR  |    -         -       sta/2     sta/3     sta/4     sta/5
 RTA  |    -         -         2         3       tlf/2     tlf/3
      |
 RUC  |    -         -       scj/2     scj/3     scj/4     scj/5
 RXJ+ |    -         -         2         3         4         5
 RXJ- |    -         -       tlf/2     tlf/3     tlf/2     tlf/3
      |
 RXR  |    -         -         2         3         4         5
";

const TABLE_B: &str = "
      | State
      |    6         7         8           9
Events| Req-Sent  Ack-Rcvd  Ack-Sent    Opened
------+-----------------------------------------
 Up   |    -         -         -           -
 Down |    1         1         1         tld/1
 Open |    6         7         8           9r
 Close|irc,str/4 irc,str/4 irc,str/4 tld,irc,str/4
      |
  TO+ |  scr/6     scr/6     scr/8         -
  TO- |  tlf/3p    tlf/3p    tlf/3p        -
      |
 RCR+ |  sca/8   sca,tlu/9   sca/8   tld,scr,sca/8
 RCR- |  scn/6     scn/7     scn/6   tld,scr,scn/6
 RCA  |  irc/7     scr/6x  irc,tlu/9   tld,scr/6x
 RCN  |irc,scr/6   scr/6x  irc,scr/8   tld,scr/6x
      |
 RTR  |  sta/6     sta/6     sta/6   tld,zrc,sta/5
 RTA  |    6         6         8       tld,scr/6
      |
 RUC  |  scj/6     scj/7     scj/8       scj/9
 RXJ+ |    6         6         8           9
 RXJ- |  tlf/3     tlf/3     tlf/3   tld,irc,str/5
      |
 RXR  |    6         7         8         ser/9
";

const STATES: [State; 10] = [
    State::Initial,
    State::Starting,
    State::Closed,
    State::Stopped,
    State::Closing,
    State::Stopping,
    State::ReqSent,
    State::AckRcvd,
    State::AckSent,
    State::Opened,
];

fn event(label: &str) -> Event {
    match label {
        "Up" => Event::Up,
        "Down" => Event::Down,
        "Open" => Event::Open,
        "Close" => Event::Close,
        "TO+" => Event::ToPlus,
        "TO-" => Event::ToMinus,
        "RCR+" => Event::RcrPlus,
        "RCR-" => Event::RcrMinus,
        "RCA" => Event::Rca,
        "RCN" => Event::Rcn,
        "RTR" => Event::Rtr,
        "RTA" => Event::Rta,
        "RUC" => Event::Ruc,
        "RXJ+" => Event::RxjPlus,
        "RXJ-" => Event::RxjMinus,
        "RXR" => Event::Rxr,
        other => panic!("unknown event label {other:?} in the RFC table"),
    }
}

fn action(name: &str) -> Actions {
    match name {
        "tlu" => Actions::TLU,
        "tld" => Actions::TLD,
        "tls" => Actions::TLS,
        "tlf" => Actions::TLF,
        "irc" => Actions::IRC,
        "zrc" => Actions::ZRC,
        "scr" => Actions::SCR,
        "sca" => Actions::SCA,
        "scn" => Actions::SCN,
        "str" => Actions::STR,
        "sta" => Actions::STA,
        "scj" => Actions::SCJ,
        "ser" => Actions::SER,
        other => panic!("unknown action {other:?} in the RFC table"),
    }
}

/// `"irc,scr/6"` -> (IRC|SCR, 6); `"3r"` -> (none, 3); `"-"` -> None.
fn cell(text: &str) -> Option<(Actions, usize)> {
    if text == "-" {
        return None;
    }
    let (acts, state) = text.rsplit_once('/').unwrap_or(("", text));
    let acts = acts
        .split(',')
        .filter(|a| !a.is_empty())
        .map(action)
        .fold(Actions::NONE, |a, b| a | b);
    let digits: String = state.chars().take_while(char::is_ascii_digit).collect();
    Some((acts, digits.parse().expect("state number")))
}

fn check(table: &str, first_state: usize) -> usize {
    let mut checked = 0;
    for line in table.lines() {
        let Some((label, cells)) = line.split_once('|') else {
            continue;
        };
        let label = label.trim();
        if label.is_empty() || label == "Events" || label.starts_with('-') {
            continue;
        }
        let ev = event(label);
        for (i, text) in cells.split_whitespace().enumerate() {
            let state = STATES[first_state + i];
            let want = cell(text).map(|(a, s)| (a, STATES[s]));
            assert_eq!(
                transition(state, ev),
                want,
                "{label} in {state:?}: the RFC says {text}"
            );
            checked += 1;
        }
    }
    checked
}

#[test]
fn every_cell_of_rfc_1661_section_4_1() {
    assert_eq!(check(TABLE_A, 0) + check(TABLE_B, 6), 160);
}

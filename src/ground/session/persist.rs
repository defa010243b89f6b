//! What a ground session keeps in its state directory between runs: the associations'
//! sequence numbers (`sdls-state.bin`, each SA's reservation above anything sent) and FOP-1's
//! round-trip estimate (`fop-t1.txt`), each written whole through a rename; a damaged
//! round-trip record is reported and T1 starts from its minimum.

use super::*;

/// Writes the ground's association states into `dir`.
pub(super) fn save_states(ground: &Ground, dir: &Path) -> Result<(), SessionError> {
    let states = persisted_states(ground);
    let mut buf = [0u8; MAX_STATE_LEN];
    let n = state::encode(&states, &mut buf);
    write_replacing(dir, STATE_FILE, &buf[..n])
}

/// Writes `dir/name` whole: to a temporary file, then renamed over it.
pub(super) fn write_replacing(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), SessionError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    std::fs::write(&tmp, bytes).map_err(|e| state_err(&tmp, e))?;
    std::fs::rename(&tmp, &path).map_err(|e| state_err(&path, e))
}

/// FOP-1's round-trip estimate an earlier session kept in `dir`, if any. A damaged or
/// unreadable record is reported (on stderr) and survived: T1 starts from its minimum, and
/// the next save writes a good record over it.
pub(super) fn read_fop_timer(dir: &Path) -> Option<FopTimer> {
    let path = dir.join(fop_timer::FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => {
            eprintln!(
                "WARN: ground state {}: {e}; FOP-1's T1 starts from {} ms",
                path.display(),
                fop_timer::MIN.as_millis()
            );
            return None;
        }
    };
    FopTimer::from_record(&text)
        .inspect_err(|e| {
            eprintln!(
                "WARN: ground state {}: {e}; FOP-1's T1 starts from {} ms and the next save replaces it",
                path.display(),
                fop_timer::MIN.as_millis()
            )
        })
        .ok()
}

/// What the ground keeps of its associations: the engine's states, with each uplink reservation
/// raised to just below the next ARSN. A floor learned from the node (`resume_above`, from an
/// event or housekeeping) moves the next ARSN past the reservation; without this the next run
/// would start below the node's floor again, be refused, and say the node does not answer.
pub(super) fn persisted_states(ground: &Ground) -> Vec<SaState> {
    ground
        .states()
        .map(|mut s| {
            if let Some(next) = ground.next_arsn(s.spi) {
                s.tx_reserved = s.tx_reserved.max(next.saturating_sub(1));
            }
            s
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kept_round_trip_is_read_back_and_a_damaged_record_is_survived() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(read_fop_timer(dir.path()).is_none(), "nothing kept yet");
        let mut t = FopTimer::default();
        t.acknowledged(Duration::from_millis(700), Duration::from_millis(700));
        let line = t.record().expect("a measurement");
        write_replacing(dir.path(), fop_timer::FILE, line.as_bytes()).expect("write");
        let back = read_fop_timer(dir.path()).expect("read back");
        assert_eq!(back.t1(), Duration::from_millis(2_100));
        // Damaged: reported (stderr) and T1 starts from its minimum.
        for bad in [
            &b"fop-t1 v1 srtt-us \xff"[..],
            b"fop-t1 v1 srtt-us 9 rttvar-us 99999999",
        ] {
            std::fs::write(dir.path().join(fop_timer::FILE), bad).expect("write");
            assert!(read_fop_timer(dir.path()).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn a_floor_learned_from_the_node_is_kept_for_the_next_run() {
        let bytes = comms::sdls::sim_default::sim_default_bytes().expect("sim keys");
        let provisioning = Provisioning::parse(&bytes).expect("sim provisioning");
        let mut ground = Ground::new(&provisioning, None, DEFAULT_APID).expect("ground");
        let spi = comms::sdls::sim_default::SIM_OPS_SPI;
        let kept = |states: &[SaState]| states.iter().find(|s| s.spi == spi).unwrap().tx_reserved;
        assert!(kept(&persisted_states(&ground)) < 5_000);
        ground.resume_above(spi, 5_000);
        let after = persisted_states(&ground);
        assert_eq!(kept(&after), 5_000);
        // The next run, from the kept state as the file holds it, sends above the floor.
        let mut buf = [0u8; MAX_STATE_LEN];
        let n = state::encode(&after, &mut buf);
        let entries = state::decode(&buf[..n]).expect("state");
        let next = Ground::new(&provisioning, Some(entries), DEFAULT_APID).expect("ground");
        assert_eq!(next.next_arsn(spi), Some(5_001));
    }
}

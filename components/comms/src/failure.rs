//! The failure codes carried by PUS service 1 failure reports (1,2 acceptance, 1,4 start,
//! 1,6 progress, 1,8 completion): one code for every way a telecommand can be refused, including
//! the signer's and the upgrade agent's refusals.
//!
//! On the wire a failure code is a 16-bit unsigned big-endian integer (the PUS-C "failure code"
//! enumerated field, mission size 2 octets), followed by a 4-byte big-endian failure data word
//! whose meaning each code states (0 when unused). The high byte is the category:
//!
//! | code | name | category | failure data |
//! | --- | --- | --- | --- |
//! | 0x0101 | `MalformedPacket` | packet | 0 |
//! | 0x0102 | `BadPacketCrc` | packet | 0 |
//! | 0x0103 | `WrongApid` | packet | the APID received |
//! | 0x0104 | `NotTelecommand` | packet | 0 |
//! | 0x0105 | `UnsupportedPusVersion` | packet | 0 |
//! | 0x0106 | `BadAppData` | packet | app data length received |
//! | 0x0201 | `UnknownService` | routing | service << 8 \| subservice |
//! | 0x0202 | `UnknownFunction` | routing | function id |
//! | 0x0203 | `Unauthorised` | routing | SPI of the association that carried it |
//! | 0x0204 | `NoRoute` | routing | function id (no channel of comms carries its message kind) |
//! | 0x0205 | `AmbiguousRoute` | routing | function id (several channels carry it) |
//! | 0x0206 | `ChannelFull` | routing | channel index |
//! | 0x0207 | `ChannelError` | routing | channel index |
//! | 0x0208 | `Busy` | routing | 0 (too many commands awaiting completion) |
//! | 0x0209 | `NoAnswer` | routing | seconds waited (the component never answered a forwarded command, e.g. it restarted; send it again) |
//! | 0x0301 | `UnknownSpi` | security management | SPI named by the command |
//! | 0x0302 | `EpochNotIncreasing` | security management | current key epoch |
//! | 0x0303 | `FloorNotIncreasing` | security management | low 32 bits of the current floor |
//! | 0x0304 | `PersistFailed` | security management | 0 (flash write failed; nothing changed) |
//! | 0x0305 | `KeyStateRefused` | security management | the key's state now << 8 \| the state asked for (codes of `sdls::KeyState`: 0 active, 1 pre-activation, 2 deactivated) |
//! | 0x0306 | `KeyInUse` | security management | SPI whose key is in use (it carried the command) |
//! | 0x0307 | `LinkRecoveryOnly` | security management (comms' SDLS anti-replay state was lost: only the link-recovery challenge and a `recover-link` are taken) | function id asked for, or service << 8 \| subservice |
//! | 0x0308 | `LinkNotRecovering` | security management | 0 (comms' SDLS state is in order) |
//! | 0x0309 | `LinkRecoveryWrongChallenge` | security management | 0 (the `recover-link` answers another challenge) |
//! | 0x030A | `LinkRecoveryBadBody` | security management | SPI it does not name, or 0 (not a well-formed `recover-link`) |
//! | 0x030B | `LinkRecoverySignerDown` | security management | 0 (the signer, which verifies a link recovery, is not running: safe mode, stopped, failed or restarting) |
//! | 0x0310 | `OtarKeyActive` | security management (130,6) | SPI whose key is active |
//! | 0x0311 | `OtarNoKek` | security management (130,6) | 0 |
//! | 0x0312 | `OtarWrongMkid` | security management (130,6) | the MKID of the node's key-encryption key |
//! | 0x0313 | `OtarBadWrap` | security management (130,6) | 0 |
//! | 0x0314 | `OtarKidNotNew` | security management (130,6) | the last key id the node installed |
//! | 0x0315 | `OtarBadEntry` | security management (130,6) | index of the entry |
//! | 0x0316 | `KeyRecoveryBadKeys` | security management (key recovery) | 0 |
//! | 0x0401 | `UnknownStructure` | housekeeping | structure id |
//! | 0x0402 | `NoData` | housekeeping | structure id (nothing received yet) |
//! | 0x0501 | `NotInSafeMode` | node control | 0 (the watchdog's last report says normal mode, or none arrived yet) |
//! | 0x0601 | `NoEventLog` | event log (5,128) | 0 (this comms was given no event log buffer) |
//! | 0x1001 | `SignerBadCertificate` | signer | certificate code if known, else 0 |
//! | 0x1002 | `SignerReplay` | signer | 0 |
//! | 0x1003 | `SignerPolicyViolation` | signer | 0 |
//! | 0x1004 | `SignerMalformed` | signer | 0 |
//! | 0x1005 | `SignerBadChunking` | signer | 0 |
//! | 0x1006 | `SignerBusy` | signer | 0 |
//! | 0x1007 | `SignerInternal` | signer | 0 |
//! | 0x1008 | `SignerDown` | comms (the signer cannot sign at once: safe mode, stopped, degraded, failed or restarting) | 0 |
//! | 0x1009 | `SignerAbandoned` | comms (received before a reset and not answered; send it again) | 0 |
//! | 0x1101 | `CertMalformed` | signer certificate (code 1) | 1 |
//! | 0x1102 | `CertUnknownServer` | signer certificate (code 2) | 2 |
//! | 0x1103 | `CertRevokedServer` | signer certificate (code 3) | 3 |
//! | 0x1104 | `CertKeyIdMismatch` | signer certificate (code 4) | 4 |
//! | 0x1105 | `CertBadSignature` | signer certificate (code 5) | 5 |
//! | 0x1106 | `CertReplayedSequence` | signer certificate (code 6) | 6 |
//! | 0x1107 | `CertExpired` | signer certificate (code 7) | 7 |
//! | 0x1108 | `CertCountMismatch` | signer certificate (code 8) | 8 |
//! | 0x1109 | `CertPsbtHashMismatch` | signer certificate (code 9) | 9 |
//! | 0x110A | `CertNoExpiryRefused` | signer certificate (code 10) | 10 |
//! | 0x110B | `CertNoMissionTime` | signer certificate (code 11) | 11 |
//! | 0x110C | `CertSequenceJump` | signer certificate (code 12) | 12 |
//! | 0x1201 | `UpgradeBadSignature` | upgrade | 0 |
//! | 0x1202 | `UpgradeBadHash` | upgrade | 0 |
//! | 0x1203 | `UpgradeMalformed` | upgrade | 0 |
//! | 0x1204 | `UpgradeDowngrade` | upgrade | 0 |
//! | 0x1205 | `UpgradeTooLarge` | upgrade | 0 |
//! | 0x1206 | `UpgradeFlash` | upgrade | 0 |
//! | 0x1207 | `UpgradeWrongTarget` | upgrade | 0 |
//! | 0x1208 | `UpgradeCounterRollback` | upgrade | 0 |
//! | 0x1209 | `UpgradeStepTooLarge` | upgrade | 0 |
//! | 0x120a | `UpgradeExpired` | upgrade | 0 |
//! | 0x120b | `UpgradeBusy` | upgrade | 0 |
//! | 0x120c | `UpgradeOutOfOrder` | upgrade | chunk index or component id |
//! | 0x120d | `UpgradeUnsupported` | upgrade | 0 |
//! | 0x120e | `UpgradeProgressLost` | upgrade | 0 |
//! | 0x120f | `UpgradeSlotDamaged` | upgrade | 0 |
//! | 0x1210 | `UpgradeTrialUnhealthy` | upgrade | chunk index or component id |
//! | 0x1211 | `UpgradeTrialNotConfirmed` | upgrade | 0 |
//! | 0x1300 | `AdminUnknownRefusal` | signer admin | the signer's code (not one listed below) |
//! | 0x1301 | `AdminMalformed` | signer admin (code 1) | 1 |
//! | 0x1302 | `AdminWrongNode` | signer admin (code 2) | 2 |
//! | 0x1303 | `AdminReplayed` | signer admin (code 3) | 3 |
//! | 0x1304 | `AdminUnknownAdmin` | signer admin (code 4) | 4 |
//! | 0x1305 | `AdminDuplicateSigner` | signer admin (code 5) | 5 |
//! | 0x1306 | `AdminBadSignature` | signer admin (code 6) | 6 |
//! | 0x1307 | `AdminNotEnoughSignatures` | signer admin (code 7) | 7 |
//! | 0x1308 | `AdminRegistryRefused` | signer admin (code 8) | 8 |
//! | 0x1309 | `AdminRegistryTooLarge` | signer admin (code 9) | 9 |
//! | 0x130A | `AdminStorage` | signer admin (code 10) | 10 |
//! | 0x130B | `AdminNotEnoughNewSignatures` | signer admin (code 11) | 11 |
//! | 0x130C | `AdminCounterJump` | signer admin (code 12) | 12 |
//! | 0x130D | `AdminTimeReplayed` | signer admin (code 13) | 13 |
//! | 0x130E | `AdminTimeBackwards` | signer admin (code 14) | 14 |
//! | 0x1330 | `AdminNotRecovering` | signer admin (code 15) | 15 |
//! | 0x1331 | `AdminLedgerLost` | signer admin (code 16) | 16 |
//! | 0x1332 | `AdminWrongChallenge` | signer admin (code 17) | 17 |
//! | 0x1333 | `AdminWalletTableFull` | signer admin (code 18) | 18 |
//! | 0x1334 | `AdminWalletAccountInUse` | signer admin (code 19) | 19 |
//! | 0x1311 | `ExportUnknownServer` | signer export (code 1) | 1 |
//! | 0x1312 | `ExportDerivation` | signer export (code 2) | 2 |
//! | 0x1313 | `ExportBadArgument` | signer export (code 3) | 3 |
//! | 0x1314 | `ExportUnknownRefusal` | signer export | the signer's code (not one listed above) |
//! | 0x1320 | `AdminTooLarge` | admin transfer | total length claimed (above 4,000) |
//! | 0x1321 | `AdminOutOfOrder` | admin transfer | chunk index expected next (0: start a transfer) |
//! | 0x1322 | `AdminChunkMismatch` | admin transfer | bytes stored so far (offset expected) |
//!
//! The signer admin codes 0x1301..=0x130A are `0x1300 + AdminError::code()` of the signer crate
//! (`signer::admin`), the export codes 0x1311..=0x1313 `0x1310 +` the signer partition's export
//! refusal code (`signer_partition::admin`). [`FailureCode::text`] gives each admin code's
//! meaning for operators.
//!
//! The signer certificate codes 0x1101..=0x110B are `0x1100 + CertError::code()` of the signer
//! crate (`signer::cert`), in the same order. Units that fail SDLS verification (bad MAC, replayed
//! or out-of-window sequence number, unknown SPI) get **no** report at all: answering forged
//! traffic would hand an attacker an oracle and a downlink amplifier. They are counted instead
//! (service 3 structure 3).
//!
//! Avoids: strings on the wire; every code is a number a ground database maps to text.

use protocol::{SignRejection, UpgradeError};

/// Why a telecommand was refused or failed. `code()` is the wire value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum FailureCode {
    /// Not a parseable CCSDS space packet with a PUS-C telecommand secondary header.
    MalformedPacket = 0x0101,
    /// The packet error control field (CRC-16/CCITT-FALSE) does not match.
    BadPacketCrc = 0x0102,
    /// The packet is addressed to another APID.
    WrongApid = 0x0103,
    /// The packet is telemetry or has no secondary header.
    NotTelecommand = 0x0104,
    /// The PUS version is not PUS-C (2).
    UnsupportedPusVersion = 0x0105,
    /// The application data does not have the layout the (sub)service defines.
    BadAppData = 0x0106,
    /// No such service/subservice on this node.
    UnknownService = 0x0201,
    /// Service 8 function id not in the catalogue.
    UnknownFunction = 0x0202,
    /// The security association that carried the command may not use it.
    Unauthorised = 0x0203,
    /// The function's message kind has no channel that comms sends on.
    NoRoute = 0x0204,
    /// The function's message kind has more than one channel that comms sends on.
    AmbiguousRoute = 0x0205,
    /// The target channel's ring is full; retry later.
    ChannelFull = 0x0206,
    /// The target channel failed (serialisation or capacity).
    ChannelError = 0x0207,
    /// Too many forwarded commands are awaiting their completion report.
    Busy = 0x0208,
    /// The component never answered a forwarded command within
    /// [`crate::node::PENDING_TIMEOUT_S`] (it may have restarted and lost it); send it again.
    NoAnswer = 0x0209,
    /// Security management command names an SPI this node does not have.
    UnknownSpi = 0x0301,
    /// Key rotation to an epoch not above the current one.
    EpochNotIncreasing = 0x0302,
    /// Anti-replay floor not above the current one.
    FloorNotIncreasing = 0x0303,
    /// The security state could not be persisted; the command changed nothing.
    PersistFailed = 0x0304,
    /// Activate a key not in pre-activation, or deactivate one not active.
    KeyStateRefused = 0x0305,
    /// Deactivate the key the command came under.
    KeyInUse = 0x0306,
    /// Comms' SDLS anti-replay state was lost: only the link-recovery functions are taken.
    LinkRecoveryOnly = 0x0307,
    /// A link-recovery function for a comms whose SDLS state is in order.
    LinkNotRecovering = 0x0308,
    /// A `recover-link` answering another challenge (replayed, or read before another recovery).
    LinkRecoveryWrongChallenge = 0x0309,
    /// An envelope sent in recovery-only mode that is not a well-formed `recover-link` naming
    /// every association.
    LinkRecoveryBadBody = 0x030A,
    /// The signer, which verifies a link recovery, is not running.
    LinkRecoverySignerDown = 0x030B,
    /// OTAR into an association whose key is active.
    OtarKeyActive = 0x0310,
    /// The node has no key-encryption key (provisioned with a version 1 file).
    OtarNoKek = 0x0311,
    /// The OTAR names another key-encryption key.
    OtarWrongMkid = 0x0312,
    /// The wrapped keys do not verify under the key-encryption key.
    OtarBadWrap = 0x0313,
    /// A key id is not above the last one installed.
    OtarKidNotNew = 0x0314,
    /// An entry names a reserved SPI or one twice, or carries an all-zero key.
    OtarBadEntry = 0x0315,
    /// A key recovery's wrapped keys do not open under the link recovery key and the current
    /// challenge, or are not a provisioning file comms accepts.
    KeyRecoveryBadKeys = 0x0316,
    /// Housekeeping structure id not defined.
    UnknownStructure = 0x0401,
    /// Housekeeping structure has no data yet.
    NoData = 0x0402,
    /// Leave safe mode: the watchdog's last health report says the node is not in safe mode
    /// (or there is no report yet); nothing was done.
    NotInSafeMode = 0x0501,
    /// Event log: this comms was given no event log buffer.
    NoEventLog = 0x0601,
    /// Signer: the batch certificate does not verify (detail in the failure data if known).
    SignerBadCertificate = 0x1001,
    /// Signer: batch already signed.
    SignerReplay = 0x1002,
    /// Signer: signing policy violated.
    SignerPolicyViolation = 0x1003,
    /// Signer: batch does not parse.
    SignerMalformed = 0x1004,
    /// Signer: chunks inconsistent.
    SignerBadChunking = 0x1005,
    /// Signer: busy with another batch.
    SignerBusy = 0x1006,
    /// Signer: internal error, may be retried.
    SignerInternal = 0x1007,
    /// Comms: the signer cannot sign at once (safe mode, stopped, degraded, failed or
    /// restarting, by the watchdog's report); nothing was signed.
    SignerDown = 0x1008,
    /// Comms: the batch was received before a reset and not answered; it was dropped, not
    /// signed later on the node's own initiative.
    SignerAbandoned = 0x1009,
    /// Certificate code 1: wrong length, magic, version or count field.
    CertMalformed = 0x1101,
    /// Certificate code 2: unknown server.
    CertUnknownServer = 0x1102,
    /// Certificate code 3: revoked server.
    CertRevokedServer = 0x1103,
    /// Certificate code 4: key id does not match the server's key.
    CertKeyIdMismatch = 0x1104,
    /// Certificate code 5: bad signature.
    CertBadSignature = 0x1105,
    /// Certificate code 6: replayed or old sequence number.
    CertReplayedSequence = 0x1106,
    /// Certificate code 7: expired.
    CertExpired = 0x1107,
    /// Certificate code 8: PSBT count mismatch.
    CertCountMismatch = 0x1108,
    /// Certificate code 9: a PSBT hash mismatch.
    CertPsbtHashMismatch = 0x1109,
    /// Certificate code 10: no expiry, and the server's registry entry does not allow that.
    CertNoExpiryRefused = 0x110A,
    /// Certificate code 11: an expiry, and the node has no mission time yet.
    CertNoMissionTime = 0x110B,
    /// Certificate code 12: sequence more than 2^20 above the server's last.
    CertSequenceJump = 0x110C,
    /// Upgrade: bundle signature does not verify.
    UpgradeBadSignature = 0x1201,
    /// Upgrade: image hash mismatch.
    UpgradeBadHash = 0x1202,
    /// Upgrade: bundle does not parse.
    UpgradeMalformed = 0x1203,
    /// Upgrade: not newer than the running version.
    UpgradeDowngrade = 0x1204,
    /// Upgrade: larger than a slot.
    UpgradeTooLarge = 0x1205,
    /// Upgrade: flash failure.
    UpgradeFlash = 0x1206,
    /// Upgrade: the bundle is for another board or hardware id.
    UpgradeWrongTarget = 0x1207,
    /// Upgrade: security counter below the node's.
    UpgradeCounterRollback = 0x1208,
    /// Upgrade: major version or security counter jumps too far.
    UpgradeStepTooLarge = 0x1209,
    /// Upgrade: the manifest expired.
    UpgradeExpired = 0x120A,
    /// Upgrade: a trial boot is pending or running.
    UpgradeBusy = 0x120B,
    /// Upgrade: chunk message does not continue the transfer.
    UpgradeOutOfOrder = 0x120C,
    /// Upgrade: chunk size below the slot flash's erase size.
    UpgradeUnsupported = 0x120D,
    /// Upgrade: the agent's progress record was lost; start again.
    UpgradeProgressLost = 0x120E,
    /// Upgrade: a slot no longer verifies on flash; start again.
    UpgradeSlotDamaged = 0x120F,
    /// Upgrade: the trial image was unhealthy and rolled back.
    UpgradeTrialUnhealthy = 0x1210,
    /// Upgrade: the trial image never confirmed and rolled back.
    UpgradeTrialNotConfirmed = 0x1211,
    /// Signer admin: a refusal code this node does not know.
    AdminUnknownRefusal = 0x1300,
    /// Signer admin code 1: the envelope does not parse.
    AdminMalformed = 0x1301,
    /// Signer admin code 2: the command is for another node.
    AdminWrongNode = 0x1302,
    /// Signer admin code 3: the counter is not above the last accepted one.
    AdminReplayed = 0x1303,
    /// Signer admin code 4: an admin index beyond the registry's list.
    AdminUnknownAdmin = 0x1304,
    /// Signer admin code 5: an admin signed twice.
    AdminDuplicateSigner = 0x1305,
    /// Signer admin code 6: a signature does not verify.
    AdminBadSignature = 0x1306,
    /// Signer admin code 7: fewer valid signatures than the threshold.
    AdminNotEnoughSignatures = 0x1307,
    /// Signer admin code 8: the registry refused the body.
    AdminRegistryRefused = 0x1308,
    /// Signer admin code 9: the new registry does not fit its record.
    AdminRegistryTooLarge = 0x1309,
    /// Signer admin code 10: flash failure; the old registry stays in force.
    AdminStorage = 0x130A,
    /// Signer admin code 11: a rotation without its new threshold of new-set signatures.
    AdminNotEnoughNewSignatures = 0x130B,
    /// Signer admin code 12: the counter jumps too far above the last accepted one.
    AdminCounterJump = 0x130C,
    /// Signer admin code 13: a time correlation not above the last accepted one (a replay).
    AdminTimeReplayed = 0x130D,
    /// Signer admin code 14: a time correlation below the node's mission time.
    AdminTimeBackwards = 0x130E,
    /// Signer admin code 15: a ledger recovery for a signer whose ledger is not lost (the
    /// recovery codes have a block of their own: 0x1300 + 17 would be an export code).
    AdminNotRecovering = 0x1330,
    /// Signer admin code 16: the ledger is lost; only a ledger recovery is accepted.
    AdminLedgerLost = 0x1331,
    /// Signer admin code 17: a ledger recovery answering another boot's challenge.
    AdminWrongChallenge = 0x1332,
    /// Signer admin code 18: the registry's wallet table is full.
    AdminWalletTableFull = 0x1333,
    /// Signer admin code 19: another wallet already uses the account the new wallet names.
    AdminWalletAccountInUse = 0x1334,
    /// Export code 1: no such server.
    ExportUnknownServer = 0x1311,
    /// Export code 2: key derivation failed.
    ExportDerivation = 0x1312,
    /// Export code 3: network or script type out of range.
    ExportBadArgument = 0x1313,
    /// Export: a refusal code this node does not know.
    ExportUnknownRefusal = 0x1314,
    /// Admin transfer: the envelope's total length is above the 4,000-byte limit.
    AdminTooLarge = 0x1320,
    /// Admin transfer: not the chunk expected next.
    AdminOutOfOrder = 0x1321,
    /// Admin transfer: the chunk disagrees with its transfer (offset, count, total, length).
    AdminChunkMismatch = 0x1322,
}

/// Every failure code, in table order (for tests and ground databases).
pub const ALL: [FailureCode; 102] = {
    use FailureCode::*;
    [
        MalformedPacket,
        BadPacketCrc,
        WrongApid,
        NotTelecommand,
        UnsupportedPusVersion,
        BadAppData,
        UnknownService,
        UnknownFunction,
        Unauthorised,
        NoRoute,
        AmbiguousRoute,
        ChannelFull,
        ChannelError,
        Busy,
        NoAnswer,
        UnknownSpi,
        EpochNotIncreasing,
        FloorNotIncreasing,
        PersistFailed,
        KeyStateRefused,
        KeyInUse,
        LinkRecoveryOnly,
        LinkNotRecovering,
        LinkRecoveryWrongChallenge,
        LinkRecoveryBadBody,
        LinkRecoverySignerDown,
        OtarKeyActive,
        OtarNoKek,
        OtarWrongMkid,
        OtarBadWrap,
        OtarKidNotNew,
        OtarBadEntry,
        KeyRecoveryBadKeys,
        UnknownStructure,
        NoData,
        NotInSafeMode,
        NoEventLog,
        SignerBadCertificate,
        SignerReplay,
        SignerPolicyViolation,
        SignerMalformed,
        SignerBadChunking,
        SignerBusy,
        SignerInternal,
        SignerDown,
        SignerAbandoned,
        CertMalformed,
        CertUnknownServer,
        CertRevokedServer,
        CertKeyIdMismatch,
        CertBadSignature,
        CertReplayedSequence,
        CertExpired,
        CertCountMismatch,
        CertPsbtHashMismatch,
        CertNoExpiryRefused,
        CertNoMissionTime,
        CertSequenceJump,
        UpgradeBadSignature,
        UpgradeBadHash,
        UpgradeMalformed,
        UpgradeDowngrade,
        UpgradeTooLarge,
        UpgradeFlash,
        UpgradeWrongTarget,
        UpgradeCounterRollback,
        UpgradeStepTooLarge,
        UpgradeExpired,
        UpgradeBusy,
        UpgradeOutOfOrder,
        UpgradeUnsupported,
        UpgradeProgressLost,
        UpgradeSlotDamaged,
        UpgradeTrialUnhealthy,
        UpgradeTrialNotConfirmed,
        AdminUnknownRefusal,
        AdminMalformed,
        AdminWrongNode,
        AdminReplayed,
        AdminUnknownAdmin,
        AdminDuplicateSigner,
        AdminBadSignature,
        AdminNotEnoughSignatures,
        AdminRegistryRefused,
        AdminRegistryTooLarge,
        AdminStorage,
        AdminNotEnoughNewSignatures,
        AdminCounterJump,
        AdminTimeReplayed,
        AdminTimeBackwards,
        AdminNotRecovering,
        AdminLedgerLost,
        AdminWrongChallenge,
        AdminWalletTableFull,
        AdminWalletAccountInUse,
        ExportUnknownServer,
        ExportDerivation,
        ExportBadArgument,
        ExportUnknownRefusal,
        AdminTooLarge,
        AdminOutOfOrder,
        AdminChunkMismatch,
    ]
};

impl FailureCode {
    /// The 16-bit wire value.
    pub const fn code(self) -> u16 {
        self as u16
    }

    /// The failure code with this wire value, if defined.
    pub fn from_code(code: u16) -> Option<FailureCode> {
        ALL.iter().copied().find(|f| f.code() == code)
    }

    /// The failure code for the signer certificate error code `code` (1..=11, as
    /// `signer::cert::CertError::code` returns). `None` for any other value.
    pub const fn from_cert_code(code: u8) -> Option<FailureCode> {
        use FailureCode::*;
        Some(match code {
            1 => CertMalformed,
            2 => CertUnknownServer,
            3 => CertRevokedServer,
            4 => CertKeyIdMismatch,
            5 => CertBadSignature,
            6 => CertReplayedSequence,
            7 => CertExpired,
            8 => CertCountMismatch,
            9 => CertPsbtHashMismatch,
            10 => CertNoExpiryRefused,
            11 => CertNoMissionTime,
            12 => CertSequenceJump,
            _ => return None,
        })
    }

    /// The failure code for a signer rejection. A `BadCertificate` whose certificate code is
    /// known (`cert_code`) maps to the precise certificate code instead.
    pub fn from_sign_rejection(reason: SignRejection, cert_code: Option<u8>) -> FailureCode {
        use FailureCode::*;
        match reason {
            SignRejection::BadCertificate => cert_code
                .and_then(FailureCode::from_cert_code)
                .unwrap_or(SignerBadCertificate),
            SignRejection::Replay => SignerReplay,
            SignRejection::PolicyViolation => SignerPolicyViolation,
            SignRejection::Malformed => SignerMalformed,
            SignRejection::BadChunking => SignerBadChunking,
            SignRejection::Busy => SignerBusy,
            SignRejection::Internal => SignerInternal,
            SignRejection::SignerDown => SignerDown,
            SignRejection::Abandoned => SignerAbandoned,
        }
    }

    /// The failure (code and data) for a signer admin refusal code (`signer::admin::AdminError::code`).
    pub const fn from_admin_refusal(code: u8) -> Failure {
        use FailureCode::*;
        let f = match code {
            1 => AdminMalformed,
            2 => AdminWrongNode,
            3 => AdminReplayed,
            4 => AdminUnknownAdmin,
            5 => AdminDuplicateSigner,
            6 => AdminBadSignature,
            7 => AdminNotEnoughSignatures,
            8 => AdminRegistryRefused,
            9 => AdminRegistryTooLarge,
            10 => AdminStorage,
            11 => AdminNotEnoughNewSignatures,
            12 => AdminCounterJump,
            13 => AdminTimeReplayed,
            14 => AdminTimeBackwards,
            15 => AdminNotRecovering,
            16 => AdminLedgerLost,
            17 => AdminWrongChallenge,
            18 => AdminWalletTableFull,
            19 => AdminWalletAccountInUse,
            _ => AdminUnknownRefusal,
        };
        Failure::with(f, code as u32)
    }

    /// The failure (code and data) for a signer export refusal code.
    pub const fn from_export_refusal(code: u8) -> Failure {
        use FailureCode::*;
        let f = match code {
            1 => ExportUnknownServer,
            2 => ExportDerivation,
            3 => ExportBadArgument,
            _ => ExportUnknownRefusal,
        };
        Failure::with(f, code as u32)
    }

    /// What the code means, in words, for operators (every code has its sentence).
    pub const fn text(self) -> &'static str {
        use FailureCode::*;
        match self {
            AdminUnknownRefusal => "the signer refused the admin command (unknown code)",
            AdminMalformed => "the admin command envelope is malformed",
            AdminWrongNode => "the admin command names another node (wrong identity key?)",
            AdminReplayed => {
                "replayed or old admin counter (the signer has applied a command with this counter or a higher one)"
            }
            AdminUnknownAdmin => "an admin index is not in the signer's admin list",
            AdminDuplicateSigner => "the same admin signed twice",
            AdminBadSignature => {
                "an admin signature does not verify (wrong key for that admin index?)"
            }
            AdminNotEnoughSignatures => "not enough admin signatures for the registry's threshold",
            AdminRegistryRefused => {
                "the registry refused the command body (unknown or duplicate server, bad descriptor or rules)"
            }
            AdminRegistryTooLarge => "the new registry would not fit its flash record",
            AdminStorage => {
                "flash failure while storing the registry (or the clock of a time correlation); the old one stays in force"
            }
            AdminNotEnoughNewSignatures => {
                "an admin-set rotation needs its new threshold of signatures by the new admin set"
            }
            AdminCounterJump => {
                "the admin counter jumps more than 2^20 above the signer's (use the next counter)"
            }
            AdminTimeReplayed => {
                "the time correlation is not above the last one the signer accepted (a replay)"
            }
            AdminTimeBackwards => {
                "the time correlation is below the node's mission time: its clock never runs backwards (is the ground's clock behind?)"
            }
            AdminNotRecovering => "recover-ledger refused: the signer's ledger is not lost",
            AdminLedgerLost => {
                "the signer's ledger is lost: only `ground admin recover` is accepted until it is recovered"
            }
            AdminWrongChallenge => {
                "recover-ledger answers another boot's challenge (a replay, or the node rebooted): run `ground admin recover` again"
            }
            AdminWalletTableFull => {
                "the signer's wallet table is full (32 wallets besides each server's first): no more wallets can be added"
            }
            AdminWalletAccountInUse => {
                "another wallet already uses this node account: give the new wallet an unused account (`add-wallet --account N`) and the node's key for it"
            }
            ExportUnknownServer => "no such server in the signer's registry",
            ExportDerivation => "the signer could not derive the account key",
            ExportBadArgument => "network or script type out of range",
            ExportUnknownRefusal => "the signer refused the export (unknown code)",
            AdminTooLarge => "the admin envelope is larger than 4,000 bytes",
            AdminOutOfOrder => "admin chunk out of order (start again from chunk 0)",
            AdminChunkMismatch => "admin chunk inconsistent with its transfer",
            MalformedPacket => {
                "not a parseable CCSDS space packet with a PUS-C telecommand secondary header"
            }
            BadPacketCrc => "the packet error control field (CRC-16/CCITT-FALSE) does not match",
            WrongApid => "the packet is addressed to another APID",
            NotTelecommand => "the packet is telemetry or has no secondary header",
            UnsupportedPusVersion => "the PUS version is not PUS-C (2)",
            BadAppData => "the application data does not have the layout the (sub)service defines",
            UnknownService => "no such service/subservice on this node",
            UnknownFunction => "service 8 function id not in the catalogue",
            Unauthorised => "the security association that carried the command may not use it",
            NoRoute => "the function's message kind has no channel that comms sends on",
            AmbiguousRoute => {
                "the function's message kind has more than one channel that comms sends on"
            }
            ChannelFull => "the target channel's ring is full; retry later",
            ChannelError => "the target channel failed (serialisation or capacity)",
            Busy => "too many forwarded commands are awaiting their completion report",
            NoAnswer => {
                "the component never answered a forwarded command within its time limit (it may have restarted and lost it); send it again"
            }
            UnknownSpi => "security management command names an SPI this node does not have",
            EpochNotIncreasing => "key rotation to an epoch not above the current one",
            FloorNotIncreasing => "anti-replay floor not above the current one",
            KeyStateRefused => {
                "the key is not in a state that allows this: activate needs a key in pre-activation, deactivate an active one"
            }
            KeyInUse => {
                "the command came under the key it deactivates: send it under another active key"
            }
            LinkRecoveryOnly => {
                "comms lost its SDLS anti-replay state and takes only the link recovery: run `spacenode ground admin recover-link`"
            }
            LinkNotRecovering => {
                "recover-link refused: comms' SDLS anti-replay state is in order, nothing to recover"
            }
            LinkRecoveryWrongChallenge => {
                "recover-link answers another challenge (a replay, or one already used): run `ground admin recover-link` again"
            }
            LinkRecoverySignerDown => {
                "the signer, which checks a link recovery, is not running (safe mode, or stopped, failed or restarting): see `spacenode ground status`, run recover-link again when it runs"
            }
            LinkRecoveryBadBody => {
                "recover-link refused: the envelope is not a well-formed recover-link naming every association of the node"
            }
            OtarKeyActive => {
                "an OTAR into an association whose key is active: deactivate that key first (under another association), then send the new key"
            }
            OtarNoKek => {
                "this node was provisioned without a key-encryption key (a version 1 provisioning file), so it cannot take keys over the air"
            }
            OtarWrongMkid => {
                "the OTAR names a key-encryption key (MKID) the node does not hold; the failure data is the node's MKID"
            }
            OtarBadWrap => {
                "the wrapped keys do not verify under the node's key-encryption key (another KEK, or a damaged command); nothing changed"
            }
            OtarKidNotNew => {
                "a key id in the OTAR is not above the last key id the node installed (the failure data): an old OTAR is never taken again; wrap the key under a higher key id"
            }
            OtarBadEntry => {
                "an OTAR entry names a reserved SPI or an SPI twice, or carries an all-zero key"
            }
            KeyRecoveryBadKeys => {
                "the key recovery's new keys do not open under this node's link recovery key and the current challenge, or are not a provisioning file comms accepts: check the recovery key file (FILE.recovery from provisioning) and read a new challenge"
            }
            PersistFailed => {
                "the security state could not be persisted; the command changed nothing"
            }
            UnknownStructure => "housekeeping structure id not defined",
            NoData => "housekeeping structure has no data yet",
            NoEventLog => {
                "event log: this comms keeps none (its partition gave it no buffer for one), so there is nothing to report"
            }
            NotInSafeMode => {
                "leave safe mode: the watchdog's last health report says the node is not in safe mode (or there is no report yet); nothing was done"
            }
            SignerBadCertificate => {
                "signer: the batch certificate does not verify (detail in the failure data if known)"
            }
            SignerReplay => "signer: batch already signed",
            SignerPolicyViolation => "signer: signing policy violated",
            SignerMalformed => "signer: batch does not parse",
            SignerBadChunking => "signer: chunks inconsistent",
            SignerBusy => "signer: busy with another batch",
            SignerInternal => "signer: internal error, may be retried",
            SignerDown => {
                "the signer cannot sign now (safe mode, or it is stopped, degraded, failed or restarting); nothing was signed: see `spacenode ground status`"
            }
            SignerAbandoned => {
                "the batch arrived before a reset and was never answered; it was dropped, not signed: send it again"
            }
            CertMalformed => "certificate code 1: wrong length, magic, version or count field",
            CertUnknownServer => "certificate code 2: unknown server",
            CertRevokedServer => "certificate code 3: revoked server",
            CertKeyIdMismatch => "certificate code 4: key id does not match the server's key",
            CertBadSignature => "certificate code 5: bad signature",
            CertReplayedSequence => "certificate code 6: replayed or old sequence number",
            CertExpired => "certificate code 7: expired",
            CertCountMismatch => "certificate code 8: PSBT count mismatch",
            CertPsbtHashMismatch => "certificate code 9: a PSBT hash mismatch",
            CertNoExpiryRefused => {
                "certificate code 10: no expiry, and the server's registry entry does not allow that"
            }
            CertSequenceJump => {
                "certificate code 12: the sequence is more than 2^20 above the server's last one"
            }
            CertNoMissionTime => {
                "certificate code 11: an expiry, and the node has no mission time yet"
            }
            UpgradeBadSignature => "upgrade: bundle signature does not verify",
            UpgradeBadHash => "upgrade: image hash mismatch",
            UpgradeMalformed => "upgrade: bundle does not parse",
            UpgradeDowngrade => "upgrade: not newer than the running version",
            UpgradeTooLarge => "upgrade: larger than a slot",
            UpgradeFlash => "upgrade: flash failure",
            UpgradeWrongTarget => "upgrade: the bundle is for another board or hardware id",
            UpgradeCounterRollback => "upgrade: security counter below the node's",
            UpgradeStepTooLarge => "upgrade: major version or security counter jumps too far",
            UpgradeExpired => "upgrade: the manifest expired",
            UpgradeBusy => "upgrade: a trial boot is pending or running",
            UpgradeOutOfOrder => "upgrade: chunk message does not continue the transfer",
            UpgradeUnsupported => "upgrade: chunk size below the slot flash's erase size",
            UpgradeProgressLost => "upgrade: the agent's progress record was lost; start again",
            UpgradeSlotDamaged => "upgrade: a slot no longer verifies on flash; start again",
            UpgradeTrialUnhealthy => "upgrade: the trial image was unhealthy and rolled back",
            UpgradeTrialNotConfirmed => "upgrade: the trial image never confirmed and rolled back",
        }
    }

    /// The failure code for an upgrade agent error.
    pub fn from_upgrade_error(e: UpgradeError) -> FailureCode {
        use FailureCode::*;
        match e {
            UpgradeError::BadSignature => UpgradeBadSignature,
            UpgradeError::BadHash => UpgradeBadHash,
            UpgradeError::Malformed => UpgradeMalformed,
            UpgradeError::Downgrade => UpgradeDowngrade,
            UpgradeError::TooLarge => UpgradeTooLarge,
            UpgradeError::Flash => UpgradeFlash,
            UpgradeError::WrongTarget => UpgradeWrongTarget,
            UpgradeError::CounterRollback => UpgradeCounterRollback,
            UpgradeError::StepTooLarge => UpgradeStepTooLarge,
            UpgradeError::Expired => UpgradeExpired,
            UpgradeError::Busy => UpgradeBusy,
            UpgradeError::OutOfOrder => UpgradeOutOfOrder,
            UpgradeError::Unsupported => UpgradeUnsupported,
            UpgradeError::ProgressLost => UpgradeProgressLost,
            UpgradeError::SlotDamaged => UpgradeSlotDamaged,
            UpgradeError::TrialUnhealthy => UpgradeTrialUnhealthy,
            UpgradeError::TrialNotConfirmed => UpgradeTrialNotConfirmed,
        }
    }
}

/// A failure code with its 4-byte failure data word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Failure {
    /// The code.
    pub code: FailureCode,
    /// Code-specific detail (see the module table), 0 when unused.
    pub data: u32,
}

impl core::fmt::Display for FailureCode {
    /// The code's sentence ([`FailureCode::text`]).
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.text())
    }
}

impl Failure {
    /// A failure without detail.
    pub const fn new(code: FailureCode) -> Self {
        Failure { code, data: 0 }
    }

    /// A failure with detail.
    pub const fn with(code: FailureCode, data: u32) -> Self {
        Failure { code, data }
    }
}

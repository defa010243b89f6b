//! COP-1's sending end, FOP-1 (CCSDS 232.1 §5), for the ground: the six states (S1 Active,
//! S2 Retransmit without Wait, S3 Retransmit with Wait, S4 Initialising without BC Frame, S5
//! Initialising with BC Frame, S6 Initial), V(S), NN(R), the Wait_Queue (one FDU), the
//! Sent_Queue, the sliding window K, Transmission_Count / Transmission_Limit, the Timeout_Type
//! and Suspend_State, CLCW processing (events E1-E14, E101-E103), timer expiry (E16-E18, E104),
//! type-BD frames and the Unlock and Set V(R) directives.
//!
//! No clock inside: the timer is an input. [`Fop::timer`] says whether it runs and under which
//! epoch (a new epoch each restart); the caller arms its own deadline T1 for that epoch and
//! calls [`Fop::timer_expired`] with it when the deadline passes (a stale epoch is ignored).
//!
//! No lower layer inside either: the caller pulls what to send with [`Fop::next_output`]
//! whenever the radio can take a frame (that is the lower layer's Accept, E41/E43/E45; a
//! failure to send is [`Fop::lower_layer_failed`], E42/E44/E46; E26/E28, "BC_Out not ready",
//! cannot arise, since a directive goes down only when the lower layer asks, while a type-BD
//! frame not yet taken makes the next BD request E22). Type-AD output is the FDU
//! (frame data) and its N(S), not a built frame: the caller builds, and secures afresh, every
//! (re)transmission, so SDLS gives each one a new sequence number (a retransmission under
//! its old number would be refused as a replay once a later frame had been accepted).
//! Type-BC output is the directive; the caller builds that frame too.
//!
//! Storage is fixed: up to `K` frames of up to `L` bytes in the Sent_Queue, one in the
//! Wait_Queue, one type-BD frame waiting for the lower layer.
//!
//! Avoids: heap, panics on any CLCW, a clock, and transmitting anything in S3, S4 or S6 but
//! type-BD frames.

mod table;

/// The FOP-1 states (232.1 §5.1.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FopState {
    /// S1: sending and receiving acknowledgements.
    Active,
    /// S2: retransmitting, FARM has buffer space.
    RetransmitWithoutWait,
    /// S3: retransmission asked for, FARM has no buffer space.
    RetransmitWithWait,
    /// S4: AD service initiated with a CLCW check, waiting for the CLCW.
    InitialisingWithoutBc,
    /// S5: AD service initiated with Unlock or Set V(R), waiting for its effect.
    InitialisingWithBc,
    /// S6: AD service not running.
    Initial,
}

impl FopState {
    /// The state's number in 232.1 (1-6).
    pub const fn number(self) -> u8 {
        match self {
            FopState::Active => 1,
            FopState::RetransmitWithoutWait => 2,
            FopState::RetransmitWithWait => 3,
            FopState::InitialisingWithoutBc => 4,
            FopState::InitialisingWithBc => 5,
            FopState::Initial => 6,
        }
    }

    const fn from_number(n: u8) -> Self {
        match n {
            1 => FopState::Active,
            2 => FopState::RetransmitWithoutWait,
            3 => FopState::RetransmitWithWait,
            4 => FopState::InitialisingWithoutBc,
            5 => FopState::InitialisingWithBc,
            _ => FopState::Initial,
        }
    }
}

/// What FOP-1 does when the timer expires with the transmission limit reached (232.1
/// Timeout_Type).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutType {
    /// TT = 0: alert and terminate the AD service.
    Alert,
    /// TT = 1: suspend the AD service (resumable).
    Suspend,
}

/// Why FOP-1 terminated the AD service (232.1 Alert codes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Alert {
    /// The CLCW contradicts what was sent (flags inconsistent with the queue).
    #[error("COP-1 alert SYNCH: the CLCW contradicts what was sent; re-initiate the AD service")]
    Synch,
    /// The CLCW says Wait while nothing is outstanding, or Wait without Retransmit.
    #[error("COP-1 alert CLCW: the CLCW's Wait flag is inconsistent; re-initiate the AD service")]
    Clcw,
    /// The transmission limit is 1 and the FARM asked for a retransmission.
    #[error("COP-1 alert LIMIT: retransmission asked for with a transmission limit of 1")]
    Limit,
    /// N(R) is outside NN(R)..=V(S).
    #[error(
        "COP-1 alert NN(R): the CLCW acknowledges frames never sent; set V(S) or V(R) and re-initiate"
    )]
    NnR,
    /// The FARM is in Lockout.
    #[error("COP-1 alert LOCKOUT: the FARM is in lockout; initiate the AD service with Unlock")]
    Lockout,
    /// The timer expired with the transmission limit reached.
    #[error("COP-1 alert T1: no acknowledgement within the transmission limit; check the link")]
    T1,
    /// The operator terminated the AD service.
    #[error("COP-1: AD service terminated by the operator")]
    Term,
    /// The lower layer failed to send a frame.
    #[error("COP-1 alert LLIF: the lower layer could not send a frame; check the radio")]
    Llif,
}

/// Why a request or directive is rejected (nothing changed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FopReject {
    /// E20: the Wait_Queue already holds an FDU; try again when it has moved on.
    #[error(
        "FOP-1 busy: the wait queue is full; offer the data again after the next frame goes out"
    )]
    WaitQueueFull,
    /// E19 in S4-S6: the AD service is not running.
    #[error("FOP-1: the AD service is not running; initiate it first")]
    NotRunning,
    /// E22: the previous type-BD frame has not gone out yet.
    #[error("FOP-1: the previous type-BD frame has not been sent yet; try again")]
    OutNotReady,
    /// A directive only valid in S6 (Initial).
    #[error("FOP-1: this directive needs the AD service terminated (state S6) first")]
    NotInitial,
    /// E30: resume with nothing suspended.
    #[error("FOP-1: nothing to resume (the AD service is not suspended)")]
    NotSuspended,
    /// Data longer than the storage, or empty.
    #[error("FOP-1: frame data of {0} bytes does not fit (1 to the configured maximum)")]
    Length(usize),
    /// A parameter out of range (window 1..=K, transmission limit at least 1).
    #[error("FOP-1: parameter out of range: {0}")]
    Parameter(&'static str),
}

/// A control command directive to send in a type-BC frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Directive {
    /// Unlock.
    Unlock,
    /// Set V(R) to this value.
    SetVr(u8),
}

/// What the lower layer is to send next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output<'a> {
    /// A type-AD frame with this N(S) and data (first transmission or retransmission).
    Ad {
        /// Frame sequence number.
        ns: u8,
        /// The frame data.
        data: &'a [u8],
    },
    /// A type-BD frame (N(S) 0).
    Bd(&'a [u8]),
    /// A type-BC frame.
    Bc(Directive),
}

#[derive(Clone, Copy, Debug)]
struct Slot<const L: usize> {
    len: usize,
    resend: bool,
    data: [u8; L],
}

/// FOP-1 for one virtual channel, holding up to `K` unacknowledged frames of up to `L` bytes.
#[derive(Debug)]
pub struct Fop<const K: usize, const L: usize> {
    vcid: u8,
    state: FopState,
    vs: u8,
    nnr: u8,
    sent: [Slot<L>; K],
    wait: Option<Slot<L>>,
    bd: Slot<L>,
    bd_pending: bool,
    bc: Option<(Directive, bool)>,
    window: u8,
    limit: u8,
    count: u8,
    timeout: TimeoutType,
    suspended: u8,
    timer: Option<u32>,
    epoch: u32,
    alert: Option<Alert>,
    event: u8,
}

impl<const K: usize, const L: usize> Fop<K, L> {
    /// FOP-1 for virtual channel `vcid` in S6 with V(S) = NN(R) = 0, window `window` (K,
    /// 1..=min(K, 255), and below the FARM's window W), transmission limit `limit` (at
    /// least 1) and `timeout`.
    pub fn new(vcid: u8, window: u8, limit: u8, timeout: TimeoutType) -> Result<Self, FopReject> {
        let slot = Slot {
            len: 0,
            resend: false,
            data: [0; L],
        };
        let mut fop = Self {
            vcid,
            state: FopState::Initial,
            vs: 0,
            nnr: 0,
            sent: [slot; K],
            wait: None,
            bd: slot,
            bd_pending: false,
            bc: None,
            window: 1,
            limit: 1,
            count: 1,
            timeout,
            suspended: 0,
            timer: None,
            epoch: 0,
            alert: None,
            event: 0,
        };
        fop.set_window(window)?;
        fop.set_transmission_limit(limit)?;
        Ok(fop)
    }

    /// The state.
    pub fn state(&self) -> FopState {
        self.state
    }

    /// V(S), the N(S) of the next new type-AD frame.
    pub fn vs(&self) -> u8 {
        self.vs
    }

    /// NN(R), the oldest unacknowledged N(S) (the last N(R) received).
    pub fn nnr(&self) -> u8 {
        self.nnr
    }

    /// Frames sent and not yet acknowledged.
    pub fn outstanding(&self) -> u8 {
        self.vs.wrapping_sub(self.nnr)
    }

    /// Whether the Wait_Queue holds an FDU.
    pub fn waiting(&self) -> bool {
        self.wait.is_some()
    }

    /// Transmission_Count.
    pub fn transmission_count(&self) -> u8 {
        self.count
    }

    /// The Suspend_State: 0, or the state (1-4) the AD service was suspended in.
    pub fn suspend_state(&self) -> u8 {
        self.suspended
    }

    /// The timer's epoch while it runs, `None` when stopped.
    pub fn timer(&self) -> Option<u32> {
        self.timer
    }

    /// The alert that last terminated the AD service, if any since the last initiation.
    pub fn alert(&self) -> Option<Alert> {
        self.alert
    }

    /// The 232.1 event number of the last input (1-46, 101-104), for logs and tests.
    pub fn last_event(&self) -> u8 {
        self.event
    }

    fn slot(&mut self, ns: u8) -> &mut Slot<L> {
        &mut self.sent[usize::from(ns) % K]
    }

    fn restart_timer(&mut self) {
        self.epoch = self.epoch.wrapping_add(1);
        self.timer = Some(self.epoch);
    }

    /// Purges the Sent_Queue (frames negatively confirmed) and the Wait_Queue.
    fn purge(&mut self) {
        self.nnr = self.vs;
        self.wait = None;
    }

    fn do_alert(&mut self, alert: Alert) {
        self.timer = None;
        self.purge();
        self.bc = None;
        self.alert = Some(alert);
        self.state = FopState::Initial;
    }

    fn suspend(&mut self) {
        self.timer = None;
        self.suspended = self.state.number();
        self.state = FopState::Initial;
    }

    fn initialise(&mut self) {
        self.purge();
        self.count = 1;
        self.suspended = 0;
        self.alert = None;
        self.bc = None;
        self.timer = None;
    }

    /// Removes the frames N(R) acknowledges; returns how many.
    fn remove_acknowledged(&mut self, nr: u8) -> u8 {
        let acked = nr.wrapping_sub(self.nnr);
        self.nnr = nr;
        self.count = 1;
        acked
    }

    fn initiate_retransmission(&mut self) {
        self.count = self.count.saturating_add(1);
        let mut ns = self.nnr;
        while ns != self.vs {
            self.slot(ns).resend = true;
            ns = ns.wrapping_add(1);
        }
    }

    // ---- Requests and directives (E19-E40) --------------------------------------------------

    /// Transfer AD request (E19/E20): queues `data` for the next type-AD frame.
    pub fn transfer_ad(&mut self, data: &[u8]) -> Result<(), FopReject> {
        if data.is_empty() || data.len() > L {
            return Err(FopReject::Length(data.len()));
        }
        if self.wait.is_some() {
            self.event = 20;
            return Err(FopReject::WaitQueueFull);
        }
        self.event = 19;
        if matches!(
            self.state,
            FopState::InitialisingWithoutBc | FopState::InitialisingWithBc | FopState::Initial
        ) {
            return Err(FopReject::NotRunning);
        }
        let mut slot = Slot {
            len: data.len(),
            resend: false,
            data: [0; L],
        };
        slot.data[..data.len()].copy_from_slice(data);
        self.wait = Some(slot);
        Ok(())
    }

    /// Transfer BD request (E21/E22): sends `data` in a type-BD frame, in any state.
    pub fn transfer_bd(&mut self, data: &[u8]) -> Result<(), FopReject> {
        if data.is_empty() || data.len() > L {
            return Err(FopReject::Length(data.len()));
        }
        if self.bd_pending {
            self.event = 22;
            return Err(FopReject::OutNotReady);
        }
        self.event = 21;
        self.bd.len = data.len();
        self.bd.data[..data.len()].copy_from_slice(data);
        self.bd_pending = true;
        Ok(())
    }

    fn require_initial(&self) -> Result<(), FopReject> {
        if self.state == FopState::Initial {
            Ok(())
        } else {
            Err(FopReject::NotInitial)
        }
    }

    /// Initiate AD service without CLCW check (E23): S6 to S1.
    pub fn initiate_without_clcw_check(&mut self) -> Result<(), FopReject> {
        self.event = 23;
        self.require_initial()?;
        self.initialise();
        self.state = FopState::Active;
        Ok(())
    }

    /// Initiate AD service with CLCW check (E24): S6 to S4, timer started; S1 follows a CLCW
    /// with N(R) = V(S) and no flags.
    pub fn initiate_with_clcw_check(&mut self) -> Result<(), FopReject> {
        self.event = 24;
        self.require_initial()?;
        self.initialise();
        self.restart_timer();
        self.state = FopState::InitialisingWithoutBc;
        Ok(())
    }

    /// Initiate AD service with Unlock (E25): S6 to S5, the Unlock directive goes out.
    pub fn initiate_with_unlock(&mut self) -> Result<(), FopReject> {
        self.initiate_with_bc(25, Directive::Unlock)
    }

    /// Initiate AD service with Set V(R) (E27): S6 to S5, V(S) = NN(R) = `vr`, the
    /// Set V(R) directive goes out.
    pub fn initiate_with_set_vr(&mut self, vr: u8) -> Result<(), FopReject> {
        self.initiate_with_bc(27, Directive::SetVr(vr))
    }

    fn initiate_with_bc(&mut self, event: u8, directive: Directive) -> Result<(), FopReject> {
        self.event = event;
        self.require_initial()?;
        self.initialise();
        if let Directive::SetVr(vr) = directive {
            self.vs = vr;
            self.nnr = vr;
        }
        self.bc = Some((directive, true));
        self.state = FopState::InitialisingWithBc;
        Ok(())
    }

    /// Terminate AD service (E29): S1-S5 alert TERM and go to S6.
    pub fn terminate(&mut self) {
        self.event = 29;
        if self.state != FopState::Initial {
            self.do_alert(Alert::Term);
        }
    }

    /// Resume AD service (E30-E34): from S6 back to the suspended state, timer restarted.
    pub fn resume(&mut self) -> Result<(), FopReject> {
        if self.suspended == 0 {
            self.event = 30;
            return Err(FopReject::NotSuspended);
        }
        self.event = 30 + self.suspended;
        self.require_initial()?;
        self.state = FopState::from_number(self.suspended);
        self.suspended = 0;
        self.restart_timer();
        Ok(())
    }

    /// Set V(S) (E35): only in S6 with nothing suspended; NN(R) follows.
    pub fn set_vs(&mut self, vs: u8) -> Result<(), FopReject> {
        self.event = 35;
        self.require_initial()?;
        if self.suspended != 0 {
            return Err(FopReject::NotInitial);
        }
        self.vs = vs;
        self.nnr = vs;
        Ok(())
    }

    /// Set FOP sliding window width K (E36), 1..=min(K, 255).
    pub fn set_window(&mut self, window: u8) -> Result<(), FopReject> {
        self.event = 36;
        if window == 0 || usize::from(window) > K {
            return Err(FopReject::Parameter(
                "window must be 1 up to the sent queue's capacity",
            ));
        }
        self.window = window;
        Ok(())
    }

    /// Set Transmission_Limit (E38), at least 1.
    pub fn set_transmission_limit(&mut self, limit: u8) -> Result<(), FopReject> {
        self.event = 38;
        if limit == 0 {
            return Err(FopReject::Parameter(
                "transmission limit must be at least 1",
            ));
        }
        self.limit = limit;
        Ok(())
    }

    /// Set Timeout_Type (E39).
    pub fn set_timeout_type(&mut self, timeout: TimeoutType) {
        self.event = 39;
        self.timeout = timeout;
    }

    // ---- The lower layer (E41-E46) ----------------------------------------------------------

    /// The next frame for the lower layer, which is ready to take one (taking it is its
    /// Accept): a type-BD frame first, then in S5 the pending directive, then in S1/S2 the
    /// first type-AD frame marked for retransmission, else a new one from the Wait_Queue if
    /// the window allows. Restarts the timer for AD and BC frames.
    pub fn next_output(&mut self) -> Option<Output<'_>> {
        if self.bd_pending {
            self.bd_pending = false;
            self.event = 45;
            return Some(Output::Bd(&self.bd.data[..self.bd.len]));
        }
        if self.state == FopState::InitialisingWithBc {
            if let Some((directive, true)) = self.bc {
                self.bc = Some((directive, false));
                self.event = 43;
                self.restart_timer();
                return Some(Output::Bc(directive));
            }
            return None;
        }
        if !matches!(
            self.state,
            FopState::Active | FopState::RetransmitWithoutWait
        ) {
            return None;
        }
        let mut ns = self.nnr;
        while ns != self.vs {
            if self.slot(ns).resend {
                self.slot(ns).resend = false;
                self.event = 41;
                self.restart_timer();
                let slot = &self.sent[usize::from(ns) % K];
                return Some(Output::Ad {
                    ns,
                    data: &slot.data[..slot.len],
                });
            }
            ns = ns.wrapping_add(1);
        }
        if self.outstanding() >= self.window {
            return None;
        }
        let fdu = self.wait.take()?;
        let ns = self.vs;
        if self.outstanding() == 0 {
            self.count = 1;
        }
        *self.slot(ns) = fdu;
        self.vs = self.vs.wrapping_add(1);
        self.event = 41;
        self.restart_timer();
        let slot = &self.sent[usize::from(ns) % K];
        Some(Output::Ad {
            ns,
            data: &slot.data[..slot.len],
        })
    }

    /// The lower layer could not send the last frame (E42/E44/E46): alert LLIF, S6.
    pub fn lower_layer_failed(&mut self) {
        self.event = 42;
        self.do_alert(Alert::Llif);
    }
}

/*
 * spacenode watchdog: the ping, restart and escalation protocol.
 *
 * Processes: two components, the monitor (executes restart requests, reports crashes), and the
 * watchdog together with the clock and the hardware watchdog timer (one process: the clock
 * ticks, the watchdog's `tick` runs, the timer checks the kick, all in one atomic step).
 * What is abstracted and how it maps to components/watchdog is in README.md next to this file.
 *
 * Component 0 is critical and runs in safe mode (like comms); component 1 is neither (like the
 * signer). Both have a restart policy with a budget of K restarts.
 *
 * Checked by scripts/model-check:
 *  - safety (assertions, -DSAFETY): the watchdog never escalates, restarts or holds a component
 *    that has not misbehaved since its last start, so no reset happens while every component
 *    is healthy; no invalid end state (deadlock);
 *  - liveness (LTL handled0 / handled1, weak fairness): a component that misbehaves is
 *    eventually running again (restarted), held, or the board is reset;
 *  - progress (LTL ticks, weak fairness): the clock never stops ticking (no state blocks the
 *    watchdog's tick for good).
 */

#define N 2
#define WARN 1              /* warn-after: missed pings that make a component late */
#define FATAL 2             /* fatal-after: missed pings that make it failed */
#define K 2                 /* restart budget (max-restarts; the window never ends in the model) */
#define TIMEOUT 1           /* ticks before an unanswered restart request counts as failed */
#define BACKOFF 1           /* ticks of back-off before a restart request */
#define MAX_RESETS 1        /* board resets before safe mode */

/* component process states */
#define ALIVE 0
#define HUNG 1
#define DEAD 2

/* watchdog phases (machine.rs: Phase) */
#define RUNNING 0
#define BACKING_OFF 1
#define RESTARTING 2
#define HELD 3
#define DOWN 4
#define INACTIVE 5

mtype = { PONG, BADPONG, RESTARTED, FAILED, REFUSED };

chan ping[N] = [1] of { bit };            /* watchdog -> component: sequence bit */
chan pong[N] = [1] of { mtype, bit };     /* component -> watchdog: PONG (right nonce) or BADPONG */
chan faults = [2] of { byte };            /* monitor -> watchdog: component id */
chan req = [2] of { byte };               /* watchdog -> monitor: component */
chan res = [2] of { mtype, byte };        /* monitor -> watchdog: outcome, component */

/* the world */
byte cstate[N];
bool faulty[N];         /* ghost: misbehaved (hung, crashed, wrong nonce) since its last start */
bool critical[N];
bool safe[N];
bool refuses[N];        /* the monitor refuses every restart of this component (policy) */

/* the watchdog's state per component */
byte phase[N];
byte missed[N];
bool outstanding[N];
bit seq[N];
byte restarts[N];
byte wait[N];

bool escalated;
#ifdef CLOCK
bit clk;                /* flips at every tick (for the "clock always ticks" claim) */
#define TICK clk = 1 - clk
#else
#define TICK skip
#endif
byte resets;
bool safe_mode;

inline drain1(ch) {
    do
    :: nempty(ch) -> ch?_
    :: empty(ch) -> break
    od
}

inline drain2(ch) {
    do
    :: nempty(ch) -> ch?_, _
    :: empty(ch) -> break
    od
}

/* machine.rs give_up: hold, or escalate a critical component */
inline give_up(i) {
    assert(faulty[i]);
    if
    :: critical[i] -> phase[i] = DOWN; escalated = true
    :: else -> phase[i] = HELD
    fi
}

/* machine.rs apply_policy: back off within budget, else give up */
inline apply_policy(i) {
    if
    :: escalated -> phase[i] = DOWN
    :: !escalated && restarts[i] < K -> phase[i] = BACKING_OFF; wait[i] = BACKOFF
    :: !escalated && restarts[i] >= K -> give_up(i)
    fi
}

/* machine.rs fail: a fault notice, a wrong nonce, or fatal-after missed pings */
inline fail(i) {
    assert(faulty[i]);
    missed[i] = 0;
    outstanding[i] = false;
    apply_policy(i)
}

/* the watchdog's tick for component i */
inline tick_one(i) {
    if
    :: phase[i] == RUNNING ->
        if
        :: outstanding[i] -> missed[i]++; outstanding[i] = false
        :: else -> skip
        fi;
        if
        :: missed[i] >= FATAL -> fail(i)
        :: else ->
            seq[i] = 1 - seq[i];
            if
            :: nfull(ping[i]) -> ping[i]!seq[i]
            :: full(ping[i]) -> skip   /* ring full: the ping is lost and will count as missed */
            fi;
            outstanding[i] = true
        fi
    :: phase[i] == BACKING_OFF && wait[i] > 0 -> wait[i]--
    :: phase[i] == BACKING_OFF && wait[i] == 0 ->
        if
        :: escalated -> phase[i] = DOWN
        :: else ->
            restarts[i]++;
            if
            :: nfull(req) -> req!i
            :: full(req) -> skip       /* lost: times out */
            fi;
            phase[i] = RESTARTING;
            wait[i] = TIMEOUT
        fi
    :: phase[i] == RESTARTING && wait[i] > 0 -> wait[i]--
    :: phase[i] == RESTARTING && wait[i] == 0 ->
        apply_policy(i)    /* restart_failed: the request was lost */
    :: else -> skip
    fi
}

/* A power-on after the hardware watchdog expired: the reset counter on flash survives. */
inline board_reset() {
    /* no reset while every component is healthy */
    assert(faulty[0] || faulty[1]);
    if
    :: resets <= MAX_RESETS -> resets++
    :: else -> skip
    fi;
    safe_mode = (resets > MAX_RESETS);
    escalated = false;
    drain2(res); drain1(req); drain1(faults);
    i = 0;
    do
    :: i < N ->
        drain1(ping[i]); drain2(pong[i]);
        cstate[i] = ALIVE; faulty[i] = false;
        missed[i] = 0; outstanding[i] = false; seq[i] = 0; restarts[i] = 0; wait[i] = 0;
        if
        :: safe_mode && !safe[i] -> phase[i] = INACTIVE; cstate[i] = DEAD   /* not started */
        :: else -> phase[i] = RUNNING
        fi;
        i++
    :: i >= N -> break
    od
}

/* Timing assumptions: a healthy component answers within the period, and the monitor's
 * messages arrive within one tick. So the clock only ticks once every running, healthy
 * component has answered its ping and the watchdog has read every pong, fault notice and
 * restart result (the wrapper drains its inputs before each tick). */
#define answered(i) ((cstate[i] != ALIVE || phase[i] == INACTIVE || len(ping[i]) == 0) && len(pong[i]) == 0)
#define inputs_read (len(faults) == 0 && len(res) == 0 && len(req) == 0)

/* machine.rs take_pong */
inline take_pong() {
    if
    :: phase[c] != RUNNING -> skip                       /* stale */
    :: phase[c] == RUNNING && m == BADPONG -> fail(c)    /* wrong nonce: fatal at once */
    :: phase[c] == RUNNING && m == PONG && outstanding[c] && s == seq[c] ->
        outstanding[c] = false; missed[c] = 0            /* on time */
    :: phase[c] == RUNNING && m == PONG && !(outstanding[c] && s == seq[c]) -> skip /* late */
    fi
}

proctype Watchdog() {
    byte i, c;
    mtype m;
    bit s;
end:
    do
    /* on_pong */
    :: atomic { pong[0]?m, s -> c = 0; take_pong() }
    :: atomic { pong[1]?m, s -> c = 1; take_pong() }
    /* on_fault: acted on at once */
    :: atomic { faults?c ->
        if
        :: phase[c] == RUNNING -> fail(c)
        :: else -> skip   /* already handled (failed, restarting, held): ignored */
        fi }
    /* on_restart_result */
    :: atomic { res?m, c ->
        if
        :: phase[c] == RESTARTING ->
            if
            :: m == RESTARTED ->
                phase[c] = RUNNING; missed[c] = 0; outstanding[c] = false
            :: m == FAILED -> apply_policy(c)
            :: m == REFUSED -> give_up(c)
            fi
        :: else -> skip   /* unexpected: ignored */
        fi }
    /* tick + hardware watchdog */
    :: atomic {
        answered(0) && answered(1) && inputs_read ->
        TICK;
        if
        :: escalated -> board_reset()   /* not kicked: the timer resets the board */
        :: else ->
            tick_one(0);
            tick_one(1)
        fi
       }
    od
}

proctype Component(byte me) {
    bit s;
end:
    do
    /* the runtime answers a ping from inside the event loop, within the period when healthy */
    :: atomic {
        ping[me]?s ->
        if
        :: cstate[me] == ALIVE -> pong[me]!PONG, s
        :: cstate[me] == ALIVE && !faulty[me] -> faulty[me] = true; pong[me]!BADPONG, s
        :: cstate[me] != ALIVE -> skip        /* hung or dead: no answer */
        fi }
    /* misbehaviours, at most one per incarnation (the first one is what the watchdog must catch) */
    :: atomic { cstate[me] == ALIVE && !faulty[me] -> cstate[me] = HUNG; faulty[me] = true }   /* freezes */
    :: atomic { cstate[me] == ALIVE && !faulty[me] -> cstate[me] = DEAD; faulty[me] = true;   /* crashes */
        if
        :: nfull(faults) -> faults!me         /* the monitor reports it at once */
        :: full(faults) -> skip               /* lost: pings will tell */
        fi }
    od
}

proctype Monitor() {
    byte c;
end:
    do
    :: atomic {
        req?c ->
        if
        :: refuses[c] ->
            if
            :: nfull(res) -> res!REFUSED, c
            :: full(res) -> skip
            fi
        :: !refuses[c] ->
            /* restarted: a fresh process with fresh rings */
            cstate[c] = ALIVE; faulty[c] = false;
            drain1(ping[c]); drain2(pong[c]);
            if
            :: nfull(res) -> res!RESTARTED, c
            :: full(res) -> skip
            fi
        :: !refuses[c] ->
            /* the old process is gone and the new one failed to start */
            cstate[c] = DEAD; faulty[c] = true;
            if
            :: nfull(res) -> res!FAILED, c
            :: full(res) -> skip
            fi
        :: !refuses[c] -> skip                  /* the request was lost (ring full): no answer */
        fi }
    od
}

init {
    atomic {
        critical[0] = true; safe[0] = true;
        critical[1] = false; safe[1] = false;
        if
        :: refuses[0] = false
        :: refuses[0] = true
        fi;
        if
        :: refuses[1] = false
        :: refuses[1] = true
        fi;
        run Watchdog();
        run Component(0);
        run Component(1);
        run Monitor()
    }
}

/* A component that misbehaves is eventually running again (its ghost flag cleared by a
 * restart or a board reset) or held. */
ltl handled0 { [] (faulty[0] -> <> (!faulty[0] || phase[0] == HELD)) }
ltl handled1 { [] (faulty[1] -> <> (!faulty[1] || phase[1] == HELD)) }
#ifdef CLOCK
/* The clock never stops: no state of the protocol blocks the watchdog's tick for good. */
ltl ticks { ([] <> (clk == 0)) && ([] <> (clk == 1)) }
#endif

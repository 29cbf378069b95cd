//! One outbound registration's state machine, sans-IO: what to do after each REGISTER
//! answer (or its absence), as Asterisk 23.4.1's res_pjsip_outbound_registration.c does.
//!
//! - 2xx to a REGISTER: registered; the next refresh goes 10 s before the granted
//!   expiry runs out (at once when it is shorter); the retry count starts again.
//! - 2xx to the final unregister (`Expires: 0`): unregistered, stopped.
//! - A `Retry-After` in a failure: try again after it.
//! - Temporary failures (408 and no answer at all, 500, 502, 503, 504, any 6xx) when
//!   `retry_interval > 0`: try again after `retry_interval`, at most `max_retries` times;
//!   then give up.
//! - 403 with `forbidden_retry_interval > 0`: try again after it while retries remain.
//! - Anything else, including a 401/407 that the digest answer did not cure (Asterisk's
//!   `auth_rejection_permanent = yes`): give up.
//!
//! Asterisk reports these only in its logs and AMI (`Registry` events); ARI has no event
//! for them, so neither has wari: state changes are logged.

use std::time::Duration;

/// Seconds before the granted expiry at which a registration is refreshed.
const REREGISTER_BUFFER: u32 = 10;

/// The registration's status, as Asterisk names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Status {
    Unregistered,
    Registered,
    /// Failed; retrying.
    Rejected,
    /// Failed; given up.
    RejectedPermanently,
    /// Unregistered on stop.
    Stopped,
}

impl Status {
    /// The word Asterisk shows for it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Status::Unregistered | Status::Stopped => "Unregistered",
            Status::Registered => "Registered",
            Status::Rejected | Status::RejectedPermanently => "Rejected",
        }
    }
}

/// What to do next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Next {
    /// Send a REGISTER with this expiry (0: unregister) now.
    Send { expires: u32 },
    /// Wait this long, then send a REGISTER with the configured expiry.
    After(Duration),
    /// Nothing more to do.
    Done,
}

/// The options that drive it (`type=registration`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Options {
    pub(crate) expiration: u32,
    pub(crate) retry_interval: u32,
    pub(crate) forbidden_retry_interval: u32,
    pub(crate) max_retries: u32,
}

/// A REGISTER's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Answer {
    /// A final response: its status, the expiry the server granted (2xx), `Retry-After`.
    Response {
        status: u16,
        granted: Option<u32>,
        retry_after: Option<u32>,
    },
    /// No response before the transaction timed out (or it could not be sent).
    NoResponse,
}

/// One registration's state.
#[derive(Debug, Clone)]
pub(crate) struct Machine {
    options: Options,
    status: Status,
    retries: u32,
    /// The REGISTER in flight unregisters (sent by [`Machine::stop`]).
    stopping: bool,
}

fn is_temporary(status: u16) -> bool {
    matches!(status, 408 | 500 | 502 | 503 | 504) || (600..700).contains(&status)
}

impl Machine {
    pub(crate) fn new(options: Options) -> Machine {
        Machine {
            options,
            status: Status::Unregistered,
            retries: 0,
            stopping: false,
        }
    }

    pub(crate) fn status(&self) -> Status {
        self.status
    }

    /// The first REGISTER (and each after a wait).
    pub(crate) fn register(&self) -> Next {
        Next::Send {
            expires: self.options.expiration,
        }
    }

    /// Stop: unregister when registered, else nothing.
    pub(crate) fn stop(&mut self) -> Next {
        if self.status == Status::Registered {
            self.stopping = true;
            Next::Send { expires: 0 }
        } else {
            self.status = Status::Stopped;
            Next::Done
        }
    }

    /// The answer to the REGISTER in flight.
    pub(crate) fn answered(&mut self, answer: Answer) -> Next {
        if self.stopping {
            self.status = Status::Stopped;
            return Next::Done;
        }
        let (status, granted, retry_after) = match answer {
            Answer::Response {
                status,
                granted,
                retry_after,
            } => (status, granted, retry_after),
            Answer::NoResponse => (408, None, None),
        };
        if (200..300).contains(&status) {
            self.status = Status::Registered;
            self.retries = 0;
            let granted = granted.unwrap_or(self.options.expiration);
            if granted == 0 {
                self.status = Status::Unregistered;
                return Next::Done;
            }
            let refresh = granted.saturating_sub(REREGISTER_BUFFER);
            return Next::After(Duration::from_secs(u64::from(refresh)));
        }
        if let Some(after) = retry_after {
            self.status = Status::Rejected;
            return Next::After(Duration::from_secs(u64::from(after)));
        }
        let o = self.options;
        if o.retry_interval > 0 && is_temporary(status) {
            if self.retries >= o.max_retries {
                self.status = Status::RejectedPermanently;
                return Next::Done;
            }
            self.retries += 1;
            self.status = Status::Rejected;
            return Next::After(Duration::from_secs(u64::from(o.retry_interval)));
        }
        if status == 403 && o.forbidden_retry_interval > 0 && self.retries < o.max_retries {
            self.retries += 1;
            self.status = Status::Rejected;
            return Next::After(Duration::from_secs(u64::from(o.forbidden_retry_interval)));
        }
        self.status = Status::RejectedPermanently;
        Next::Done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> Options {
        Options {
            expiration: 3600,
            retry_interval: 60,
            forbidden_retry_interval: 0,
            max_retries: 2,
        }
    }

    fn response(status: u16, granted: Option<u32>) -> Answer {
        Answer::Response {
            status,
            granted,
            retry_after: None,
        }
    }

    #[test]
    fn a_success_refreshes_ten_seconds_before_the_granted_expiry() {
        let mut m = Machine::new(options());
        assert_eq!(m.register(), Next::Send { expires: 3600 });
        assert_eq!(
            m.answered(response(200, Some(120))),
            Next::After(Duration::from_secs(110))
        );
        assert_eq!(m.status(), Status::Registered);
        assert_eq!(
            m.answered(response(200, Some(5))),
            Next::After(Duration::ZERO),
            "shorter than the buffer: at once"
        );
        assert_eq!(
            m.answered(response(202, None)),
            Next::After(Duration::from_secs(3590)),
            "no granted expiry: the asked one"
        );
    }

    #[test]
    fn temporary_failures_retry_max_retries_times_then_give_up() {
        let mut m = Machine::new(options());
        assert_eq!(
            m.answered(Answer::NoResponse),
            Next::After(Duration::from_secs(60))
        );
        assert_eq!(m.status(), Status::Rejected);
        assert_eq!(
            m.answered(response(503, None)),
            Next::After(Duration::from_secs(60))
        );
        assert_eq!(m.answered(response(604, None)), Next::Done);
        assert_eq!(m.status(), Status::RejectedPermanently);
        assert_eq!(m.status().as_str(), "Rejected");
    }

    #[test]
    fn a_success_starts_the_retry_count_again() {
        let mut m = Machine::new(options());
        m.answered(response(503, None));
        m.answered(response(503, None));
        m.answered(response(200, None));
        assert_eq!(
            m.answered(response(503, None)),
            Next::After(Duration::from_secs(60))
        );
    }

    #[test]
    fn forbidden_retries_only_with_its_own_interval_and_auth_failures_are_final() {
        let mut m = Machine::new(options());
        assert_eq!(m.answered(response(403, None)), Next::Done);
        let mut m = Machine::new(Options {
            forbidden_retry_interval: 30,
            ..options()
        });
        assert_eq!(
            m.answered(response(403, None)),
            Next::After(Duration::from_secs(30))
        );
        let mut m = Machine::new(options());
        assert_eq!(m.answered(response(401, None)), Next::Done);
        assert_eq!(m.status(), Status::RejectedPermanently);
        let mut m = Machine::new(Options {
            retry_interval: 0,
            ..options()
        });
        assert_eq!(
            m.answered(response(503, None)),
            Next::Done,
            "retry_interval 0: no retry"
        );
    }

    #[test]
    fn retry_after_is_obeyed() {
        let mut m = Machine::new(options());
        let next = m.answered(Answer::Response {
            status: 404,
            granted: None,
            retry_after: Some(7),
        });
        assert_eq!(next, Next::After(Duration::from_secs(7)));
    }

    #[test]
    fn stop_unregisters_only_when_registered() {
        let mut m = Machine::new(options());
        assert_eq!(m.stop(), Next::Done);
        assert_eq!(m.status(), Status::Stopped);
        let mut m = Machine::new(options());
        m.answered(response(200, Some(60)));
        assert_eq!(m.stop(), Next::Send { expires: 0 });
        assert_eq!(m.answered(response(200, Some(0))), Next::Done);
        assert_eq!(m.status(), Status::Stopped);
        assert_eq!(m.status().as_str(), "Unregistered");
    }
}

//! OPTIONS pings to contacts (`qualify_frequency`): contact reachability and round-trip time.

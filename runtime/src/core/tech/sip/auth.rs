//! Digest authentication of requests from endpoints (`type=auth`, `userpass`): challenges and their verification, sans-IO.

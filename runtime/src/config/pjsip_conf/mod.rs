//! `pjsip.conf`: SIP transports, endpoints, auths, AORs, identifies and registrations, read into typed sections with every problem reported by file and line.

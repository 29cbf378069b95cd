//! Which endpoint a request's source address belongs to (`type=identify`, `match`).

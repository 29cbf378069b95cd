//! The route tree, built from the API declarations: every declared operation is routed, to
//! its handler or, while it has none, to "501 Method not implemented".
//!
//! Matching follows ARI: the path is split on `/` and each segment percent-decoded before it
//! is matched; at each level a literal segment wins over a `{variable}`, without backtracking.
//! Every node on a declared path is a resource: one with no method bound answers OPTIONS and
//! refuses the others (405), like the root `/ari`.

use std::collections::HashMap;

use http::Method;

use super::docs::DeclaredOperation;
use super::resources::Handler;

/// A routed operation.
#[derive(Debug)]
pub struct Operation {
    pub declared: DeclaredOperation,
    /// `None` until the operation is implemented.
    pub handler: Option<Handler>,
}

#[derive(Debug, Default)]
struct Node {
    literals: HashMap<String, Node>,
    variable: Option<(String, Box<Node>)>,
    /// Methods bound at this path, with the index of their operation.
    methods: Vec<(Method, usize)>,
}

/// A handler registered for an operation that is not declared.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("handler for {resource}.{nickname} has no declaration in api-docs")]
pub struct UndeclaredHandler {
    pub resource: String,
    pub nickname: String,
}

/// The request router.
#[derive(Debug)]
pub struct Router {
    root: Node,
    operations: Vec<Operation>,
}

/// The outcome of matching a path.
#[derive(Debug)]
pub struct Match<'r> {
    node: &'r Node,
    /// Variables captured from the path, by name.
    pub vars: Vec<(String, String)>,
}

impl Router {
    /// Builds the router from the declarations and the handlers available.
    ///
    /// Fails when a handler names an operation that is not declared: declarations and
    /// handlers must agree.
    pub fn build(
        declared: &[DeclaredOperation],
        handlers: &[(&'static str, &'static str, Handler)],
    ) -> Result<Router, UndeclaredHandler> {
        for (resource, nickname, _) in handlers {
            if !declared
                .iter()
                .any(|d| d.resource == *resource && d.nickname == *nickname)
            {
                return Err(UndeclaredHandler {
                    resource: resource.to_string(),
                    nickname: nickname.to_string(),
                });
            }
        }
        let mut root = Node::default();
        let mut operations = Vec::with_capacity(declared.len());
        for op in declared {
            let handler = handlers
                .iter()
                .find(|(r, n, _)| *r == op.resource && *n == op.nickname)
                .map(|(_, _, h)| *h);
            let mut node = &mut root;
            for segment in op.path.split('/').filter(|s| !s.is_empty()) {
                node = match segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Some(var) => {
                        let slot = node
                            .variable
                            .get_or_insert_with(|| (var.to_string(), Box::default()));
                        &mut slot.1
                    }
                    None => node.literals.entry(segment.to_string()).or_default(),
                };
            }
            node.methods.push((op.method.clone(), operations.len()));
            operations.push(Operation {
                declared: op.clone(),
                handler,
            });
        }
        Ok(Router { root, operations })
    }

    /// Matches decoded path segments; `None` when no declared path has this shape. A path
    /// that stops at an inner node (`/`, `/asterisk`) matches it, with no method bound.
    pub fn find<'r>(&'r self, segments: &[String]) -> Option<Match<'r>> {
        let mut node = &self.root;
        let mut vars = Vec::new();
        for segment in segments {
            node = match node.literals.get(segment) {
                Some(child) => child,
                None => {
                    let (name, child) = node.variable.as_ref()?;
                    vars.push((name.clone(), segment.clone()));
                    child
                }
            };
        }
        Some(Match { node, vars })
    }

    /// The operation bound to `method` at a matched path.
    pub fn operation(&self, found: &Match<'_>, method: &Method) -> Option<&Operation> {
        found
            .node
            .methods
            .iter()
            .find(|(m, _)| m == method)
            .and_then(|(_, index)| self.operations.get(*index))
    }

    /// The `Allow` header value for a matched path: `OPTIONS` then the bound methods. A
    /// WebSocket resource's GET is an upgrade, not a method Asterisk lists.
    pub fn allow(&self, found: &Match<'_>) -> String {
        let mut allow = String::from("OPTIONS");
        for method in [Method::GET, Method::POST, Method::PUT, Method::DELETE] {
            if found.node.methods.iter().any(|(m, index)| {
                *m == method
                    && self
                        .operations
                        .get(*index)
                        .is_some_and(|op| !op.declared.websocket)
            }) {
                allow.push(',');
                allow.push_str(method.as_str());
            }
        }
        allow
    }

    /// Every routed operation.
    pub fn operations(&self) -> &[Operation] {
        &self.operations
    }
}

//! Host-level settings (ingress-nginx `server` settings): the oldest Ingress of a host that sets
//! a group of settings keeps it; `ssl-passthrough` is on when any Ingress sets it. Also the
//! extra virtual hosts of `server-alias` and `from-to-www-redirect`.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::resolve::HostDraft;
use crate::diagnostic::DiagnosticKind;
use crate::host::HostPattern;
use crate::key::ObjectKey;
use crate::path::PathMatch;
use crate::policy::{HostPolicy, Policy, UpstreamTls};
use crate::table::{Action, Redirect, Route, UpstreamId, VirtualHost};
use crate::template::{Part, Template, Variable};

/// What one host has collected so far, with the Ingress each setting came from.
#[derive(Clone, Debug, Default)]
pub struct HostState {
    /// The settings.
    pub policy: HostPolicy,
    client_auth_origin: Option<ObjectKey>,
    ciphers_origin: Option<ObjectKey>,
    prefer_origin: Option<ObjectKey>,
    aliases: Option<(Vec<String>, ObjectKey)>,
    /// `from-to-www-redirect` and the redirect code of the Ingress that asked.
    pub www_redirect: Option<u16>,
    /// `proxy-ssl-*` of the oldest Ingress that set them.
    pub upstream_tls: Option<(Arc<UpstreamTls>, ObjectKey)>,
}

impl HostState {
    /// Merges one Ingress's host settings; returns conflicts (setting name, winner).
    pub fn merge(
        &mut self,
        ingress: &ObjectKey,
        draft: &HostDraft,
        passthrough_target: Option<&UpstreamId>,
        redirect_code: u16,
    ) -> Vec<(String, ObjectKey)> {
        let mut conflicts = Vec::new();
        let mut claim = |setting: &str, origin: &mut Option<ObjectKey>, same: bool| -> bool {
            match origin {
                None => {
                    *origin = Some(ingress.clone());
                    true
                }
                Some(winner) => {
                    if winner != ingress && !same {
                        conflicts.push((setting.to_owned(), winner.clone()));
                    }
                    false
                }
            }
        };
        if let Some(auth) = &draft.client_auth {
            let same = self.policy.client_auth.as_ref().is_some_and(|c| {
                c.secret == auth.secret && c.verify == auth.verify && c.depth == auth.depth
            });
            if claim("auth-tls-*", &mut self.client_auth_origin, same) {
                self.policy.client_auth = Some(auth.clone());
            }
        }
        if let Some(ciphers) = &draft.ssl_ciphers {
            let same = self.policy.ssl_ciphers.as_ref() == Some(ciphers);
            if claim("ssl-ciphers", &mut self.ciphers_origin, same) {
                self.policy.ssl_ciphers = Some(ciphers.clone());
            }
        }
        if let Some(prefer) = draft.prefer_server_ciphers {
            let same = self.policy.prefer_server_ciphers == Some(prefer);
            if claim("ssl-prefer-server-ciphers", &mut self.prefer_origin, same) {
                self.policy.prefer_server_ciphers = Some(prefer);
            }
        }
        if !draft.aliases.is_empty() {
            match &self.aliases {
                None => self.aliases = Some((draft.aliases.clone(), ingress.clone())),
                Some((existing, winner)) if winner != ingress && *existing != draft.aliases => {
                    conflicts.push(("server-alias".to_owned(), winner.clone()));
                }
                Some(_) => {}
            }
        }
        if let Some(tls) = &draft.upstream_tls {
            match &self.upstream_tls {
                None => self.upstream_tls = Some((tls.clone(), ingress.clone())),
                Some((existing, winner)) if winner != ingress && existing != tls => {
                    conflicts.push(("proxy-ssl-*".to_owned(), winner.clone()));
                }
                Some(_) => {}
            }
        }
        if draft.passthrough && self.policy.passthrough.is_none() {
            self.policy.passthrough = passthrough_target.cloned();
        }
        if draft.from_to_www && self.www_redirect.is_none() {
            self.www_redirect = Some(redirect_code);
        }
        conflicts
    }

    /// The `server-alias` names, if any.
    pub fn aliases(&self) -> &[String] {
        self.aliases.as_ref().map_or(&[], |(a, _)| a.as_slice())
    }
}

/// Adds the virtual hosts of `server-alias` (copies) and `from-to-www-redirect` (a redirect to
/// the rule host) for names that are not hosts already.
pub fn add_aliases(
    virtual_hosts: &mut Vec<VirtualHost>,
    states: &BTreeMap<HostPattern, HostState>,
    redirect_policy: &Arc<Policy>,
) -> Vec<(ObjectKey, DiagnosticKind)> {
    let mut extra: BTreeMap<HostPattern, VirtualHost> = BTreeMap::new();
    let mut notes = Vec::new();
    let taken = |host: &HostPattern,
                 virtual_hosts: &[VirtualHost],
                 extra: &BTreeMap<HostPattern, VirtualHost>| {
        virtual_hosts.iter().any(|v| v.host == *host) || extra.contains_key(host)
    };
    for vhost in virtual_hosts.iter() {
        let Some(state) = states.get(&vhost.host) else {
            continue;
        };
        for alias in state.aliases() {
            let Ok(host) = HostPattern::parse(Some(alias)) else {
                continue;
            };
            if host == HostPattern::Any || taken(&host, virtual_hosts, &extra) {
                if let Some((_, owner)) = &state.aliases {
                    notes.push((
                        owner.clone(),
                        DiagnosticKind::NoEffect(format!(
                            "server-alias {alias} (it is already a host of its own)"
                        )),
                    ));
                }
                continue;
            }
            let mut copy = vhost.clone();
            copy.host = host.clone();
            Arc::make_mut(&mut copy.policy).alias_of = Some(vhost.host.clone());
            extra.insert(host, copy);
        }
        if let (Some(code), HostPattern::Exact(name)) = (state.www_redirect, &vhost.host) {
            let twin = match name.strip_prefix("www.") {
                Some(bare) => bare.to_owned(),
                None => format!("www.{name}"),
            };
            let Ok(host) = HostPattern::parse(Some(&twin)) else {
                continue;
            };
            if taken(&host, virtual_hosts, &extra) {
                continue;
            }
            let location = Template {
                text: format!("$scheme://{name}$request_uri"),
                parts: vec![
                    Part::Var(Variable::Scheme),
                    Part::Literal(format!("://{name}")),
                    Part::Var(Variable::RequestUri),
                ],
            };
            let route = Route {
                path: PathMatch::Prefix("/".into()),
                conditions: Vec::new(),
                action: Action::Redirect(Redirect::new(location, code)),
                policy: redirect_policy.clone(),
                origin: None,
            };
            extra.insert(
                host.clone(),
                VirtualHost {
                    host,
                    tls: vhost.tls.clone(),
                    routes: vec![route],
                    policy: Arc::new(HostPolicy {
                        alias_of: Some(vhost.host.clone()),
                        ..HostPolicy::default()
                    }),
                },
            );
        }
    }
    virtual_hosts.extend(extra.into_values());
    virtual_hosts.sort_by(|a, b| a.host.cmp(&b.host));
    notes
}

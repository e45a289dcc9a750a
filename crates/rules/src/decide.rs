//! Deciding a request, field by field.
//!
//! Each requested field is decided as one Cedar request (principal: the requesting unit, action:
//! `disclose`, resource: the field) against the policies of the index bucket for (recipient,
//! offering, claimed legal basis). Cedar answers allow/deny; the three outcomes come from the
//! classes of the policies that held:
//!
//! 1. a satisfied `refuse` override → **refuse**, citing it;
//! 2. else any policy that failed to evaluate → **review** (an erroring rule is never skipped);
//! 3. else no satisfied grant → **refuse** with the explicit ground *no legal basis* (Cedar's
//!    default deny names no policy, so this ground is produced here and recorded);
//! 4. else a satisfied `review` override (e.g. protected identity) → **review**, naming the
//!    grants as candidate provisions;
//! 5. else a satisfied `disclose` grant → **disclose**, citing it;
//! 6. else → **review** under the satisfied `review` grants, with what must be weighed.
//!
//! A request from a role without competence for the offering and purpose (see
//! [`crate::competence`]) is refused with the ground *no competence* before any policy is
//! evaluated. Only policies in force on the request's Swedish day take part (their provision's force and
//! their own `@in_force`/`@repealed`); a request claiming a legal basis not in force that day
//! is refused with the ground *not in force*.
//!
//! Policies that cannot tell fields apart are evaluated once per request; field-level policies
//! whose gate held are read off each field when they only test membership after it, the others
//! evaluated once per class of fields they cannot tell apart (see [`crate::index`]). [`Rulebook::decide_unindexed`]
//! evaluates every field against the whole rulebook instead; the two must always agree.

use crate::competence::Asker;
use crate::decision::{Cited, Decision, FieldDecision, Ground, Outcome, RulebookVersion};
use crate::entities::Types;
use crate::footprint::{Leading, GATE_PREFIX};
use crate::index::{FieldClass, Level};
use crate::notice::Notice;
use crate::policy::{Class, PolicyInfo};
use crate::request::{subject_kind, DisclosureRequest, RequestError};
use crate::vocabulary::Offering;
use crate::Rulebook;
use cedar_policy::{
    AuthorizationError, Authorizer, Context, EntityUid, Request, RestrictedExpression,
};
use std::sync::Arc;

/// The policies that held for a field, and those that failed to evaluate.
#[derive(Default, Clone)]
struct Held<'a> {
    grants: Vec<&'a Arc<PolicyInfo>>,
    overrides: Vec<&'a Arc<PolicyInfo>>,
    errors: Vec<String>,
}

impl<'a> Held<'a> {
    fn extend(&mut self, other: &Held<'a>) {
        self.grants.extend_from_slice(&other.grants);
        self.overrides.extend_from_slice(&other.overrides);
        self.errors.extend_from_slice(&other.errors);
    }
}

/// The field-level policies whose gate held, and those whose gate failed to evaluate.
#[derive(Default)]
struct Gates {
    held: Vec<String>,
    erred: Vec<String>,
}

impl Gates {
    fn held(&self, id: &str) -> bool {
        self.held.iter().any(|g| g == id)
    }

    fn erred(&self, id: &str) -> bool {
        self.erred.iter().any(|g| g == id)
    }
}

/// A request or a notice, validated: what deciding needs of it.
struct Exchange<'a> {
    /// `disclose` for a request, `notify` for a notice.
    action: EntityUid,
    /// The requesting unit, or the unit or authority a notice is addressed to.
    principal: EntityUid,
    recipient: &'a str,
    /// Who asks, for a request: competence is checked for it.
    asker: Option<Asker<'a>>,
    /// The sender, for a notice (which must then be of a notice kind).
    provider: Option<&'a str>,
    offering: &'a str,
    fields: &'a [String],
    role: &'a str,
    purpose: &'a str,
    legal_basis: &'a str,
    case_ref: &'a str,
    operation: Option<&'a str>,
    subject_kind: &'static str,
    protected: bool,
    /// The Swedish day, YYYYMMDD.
    date: i64,
}

/// An exchange checked against the vocabulary, ready to evaluate.
struct Prepared<'r> {
    offering: &'r Offering,
    context: Context,
    principal: EntityUid,
    action: EntityUid,
    /// The Swedish day of the request: only policies in force on it take part.
    date: i64,
}

impl Rulebook {
    /// Decides every requested field. Fails only on a malformed request; anything the rulebook
    /// does not know is refused with an explicit ground.
    pub fn decide(&self, request: &DisclosureRequest) -> Result<Decision, RequestError> {
        let exchange = self.requested(request)?;
        Ok(self.decide_exchange(&exchange))
    }

    /// Decides every field of an own-initiative notice, at the sender (see [`crate::notice`]).
    /// Fails on a malformed notice, on a sender or recipient the federation does not know, and
    /// on a kind that is not one of the sender's notice kinds.
    pub fn decide_notice(&self, notice: &Notice) -> Result<Decision, RequestError> {
        let exchange = self.noticed(notice)?;
        Ok(self.decide_exchange(&exchange))
    }

    fn decide_exchange(&self, exchange: &Exchange) -> Decision {
        let (mut decision, prepared) = self.prepare(exchange);
        let Some(p) = prepared else {
            return decision;
        };
        let bucket = self
            .index
            .bucket(exchange.recipient, exchange.offering, exchange.legal_basis);
        decision.policies_evaluated = bucket.size();
        let uid = |field: &str| self.types.field_uid(&p.offering.id, field);
        // Request-level policies and the gates see any field of the offering alike: evaluate them
        // once, with the first field the offering has.
        let representative = exchange
            .fields
            .iter()
            .find(|f| p.offering.category_of(f).is_some());
        // Only policies whose leading conditions the request meets take part (see `footprint`).
        let purpose = Types::uid(&self.types.purpose, exchange.purpose);
        let groups: Vec<&EntityUid> = self
            .entities
            .ancestors(&purpose)
            .map(Iterator::collect)
            .unwrap_or_default();
        let admits = |l: &Leading| l.admits(p.date, &purpose, &groups);
        let (request_level, gates) = match representative {
            Some(field) => self.held(&bucket.request_level(admits), &p, &uid(field)),
            None => Default::default(),
        };
        // Field-level policies whose gate held and which only test membership after it are read
        // off each field directly; those whose gate failed to evaluate go to Cedar, which names
        // their error.
        let direct: Vec<(&[String], bool, &Arc<PolicyInfo>)> = bucket
            .field
            .iter()
            .filter(|f| gates.held(f.id()) && !gates.erred(f.id()))
            .filter_map(|f| {
                let fields = f.after_gate.as_deref()?;
                let info = self.infos.get(f.id())?;
                Some((fields, f.grant, info))
            })
            .collect();
        let active = bucket.active(|f| {
            admits(&f.leading)
                && (!f.gated
                    || gates.erred(f.id())
                    || (gates.held(f.id()) && f.after_gate.is_none()))
        });
        let mut classes: Vec<(FieldClass, Held)> = Vec::new();
        for field in exchange.fields {
            let Some(category) = p.offering.category_of(field) else {
                decision.fields.push(FieldDecision::bare(
                    field,
                    Outcome::Refuse,
                    Ground::UnknownField,
                ));
                continue;
            };
            let mut held = request_level.clone();
            for (fields, grant, info) in &direct {
                if fields.binary_search(field).is_ok() {
                    if *grant {
                        held.grants.push(info);
                    } else {
                        held.overrides.push(info);
                    }
                }
            }
            if !active.is_empty() {
                let class = active.class_of(&p.offering.id, &category.id, field);
                match classes.iter().find(|(c, _)| *c == class) {
                    Some((_, class_held)) => held.extend(class_held),
                    None => {
                        let (class_held, _) = self.held(&active.level, &p, &uid(field));
                        held.extend(&class_held);
                        classes.push((class, class_held));
                    }
                }
            }
            decision.fields.push(classify(field, held));
        }
        decision
    }

    /// The reference decision: every field evaluated against the whole rulebook, without the
    /// index. Slow; it exists so tests and benchmarks can check that [`decide`](Self::decide)
    /// always agrees with it.
    pub fn decide_unindexed(&self, request: &DisclosureRequest) -> Result<Decision, RequestError> {
        let exchange = self.requested(request)?;
        let (mut decision, prepared) = self.prepare(&exchange);
        let Some(p) = prepared else {
            return Ok(decision);
        };
        decision.policies_evaluated = self.policies.len();
        for field in &request.fields {
            if p.offering.category_of(field).is_none() {
                decision.fields.push(FieldDecision::bare(
                    field,
                    Outcome::Refuse,
                    Ground::UnknownField,
                ));
                continue;
            }
            let resource = self.types.field_uid(&p.offering.id, field);
            decision
                .fields
                .push(classify(field, self.held_separately(&p, &resource)));
        }
        Ok(decision)
    }

    /// Validates a request and describes it as an exchange: the requesting unit asks.
    fn requested<'a>(&self, request: &'a DisclosureRequest) -> Result<Exchange<'a>, RequestError> {
        let subject = request.validate()?;
        let authority = self
            .vocabulary
            .authorities
            .get(&request.recipient)
            .ok_or_else(|| RequestError::UnknownRecipient(request.recipient.clone()))?;
        if self.vocabulary.unit_authority.get(&request.unit) != Some(&authority.id) {
            return Err(RequestError::UnitNotOfRecipient {
                unit: request.unit.clone(),
                recipient: request.recipient.clone(),
            });
        }
        Ok(Exchange {
            action: self.types.disclose(),
            principal: Types::uid(&self.types.unit, &request.unit),
            recipient: &request.recipient,
            asker: Some(Asker {
                authority: &request.recipient,
                unit: &request.unit,
                role: &request.role,
            }),
            provider: None,
            offering: &request.offering,
            fields: &request.fields,
            role: &request.role,
            purpose: &request.purpose,
            legal_basis: &request.legal_basis,
            case_ref: &request.case_ref,
            operation: request.operation.as_deref(),
            subject_kind: subject_kind(&subject),
            protected: request.subject.protected_identity,
            date: request.date(),
        })
    }

    /// Validates a notice and describes it as an exchange: the sender tells the addressed unit
    /// (or the recipient authority) on its own initiative.
    fn noticed<'a>(&self, notice: &'a Notice) -> Result<Exchange<'a>, RequestError> {
        let subject = notice.validate()?;
        let v = &self.vocabulary;
        if !v.authorities.contains_key(&notice.sender) {
            return Err(RequestError::UnknownSender(notice.sender.clone()));
        }
        if v.unit_authority.get(&notice.sender_unit) != Some(&notice.sender) {
            return Err(RequestError::UnitNotOfSender {
                unit: notice.sender_unit.clone(),
                sender: notice.sender.clone(),
            });
        }
        if !v.authorities.contains_key(&notice.recipient) {
            return Err(RequestError::UnknownRecipient(notice.recipient.clone()));
        }
        let principal = match &notice.recipient_unit {
            Some(unit) if v.unit_authority.get(unit) != Some(&notice.recipient) => {
                return Err(RequestError::UnitNotOfRecipient {
                    unit: unit.clone(),
                    recipient: notice.recipient.clone(),
                })
            }
            Some(unit) => Types::uid(&self.types.unit, unit),
            None => Types::uid(&self.types.authority, &notice.recipient),
        };
        if let Some(kind) = v.offerings.get(&notice.kind) {
            if !kind.notice || kind.provider != notice.sender {
                return Err(RequestError::NotANoticeOfSender {
                    kind: notice.kind.clone(),
                    sender: notice.sender.clone(),
                });
            }
        }
        Ok(Exchange {
            action: self.types.notify(),
            principal,
            recipient: &notice.recipient,
            asker: None,
            provider: Some(&notice.sender),
            offering: &notice.kind,
            fields: &notice.fields,
            role: &notice.role,
            purpose: &notice.purpose,
            legal_basis: &notice.legal_basis,
            case_ref: &notice.case_ref,
            operation: None,
            subject_kind: subject_kind(&subject),
            protected: notice.subject.protected_identity,
            date: notice.date(),
        })
    }

    /// Builds what evaluation needs; an exchange naming something the rulebook does not know,
    /// asked without competence or under a provision not in force comes back already decided.
    fn prepare<'r>(&'r self, exchange: &Exchange) -> (Decision, Option<Prepared<'r>>) {
        let v = &self.vocabulary;
        // A request cannot ask for a notice kind: notices are only sent.
        let offering = v
            .offerings
            .get(exchange.offering)
            .filter(|o| o.notice == exchange.provider.is_some());
        let unknown = if offering.is_none() {
            Some(Ground::UnknownOffering)
        } else if !v.purposes.contains_key(exchange.purpose) {
            Some(Ground::UnknownPurpose)
        } else if !v.provisions.contains_key(exchange.legal_basis) {
            Some(Ground::UnknownLegalBasis)
        } else if exchange
            .operation
            .is_some_and(|op| !v.operations.contains_key(op))
        {
            Some(Ground::UnknownOperation)
        } else if exchange
            .asker
            .is_some_and(|asker| !v.may_ask(asker, exchange.offering, exchange.purpose))
        {
            Some(Ground::NoCompetence)
        } else if v
            .provisions
            .get(exchange.legal_basis)
            .is_some_and(|basis| !basis.period().contains(exchange.date))
        {
            Some(Ground::NotInForce)
        } else {
            None
        };
        let mut decision = Decision {
            rulebook: RulebookVersion {
                name: self.manifest.name.clone(),
                version: self.manifest.version.clone(),
                hash: self.hash.clone(),
            },
            provider: offering.map(|o| o.provider.clone()),
            offering: exchange.offering.to_owned(),
            fields: Vec::with_capacity(exchange.fields.len()),
            policies_evaluated: 0,
            policies_total: self.policies.len(),
        };
        match (offering, unknown) {
            (Some(offering), None) => {
                let context = self.context(exchange, &offering.provider);
                (
                    decision,
                    Some(Prepared {
                        offering,
                        context,
                        principal: exchange.principal.clone(),
                        action: exchange.action.clone(),
                        date: exchange.date,
                    }),
                )
            }
            (_, ground) => {
                let ground = ground.unwrap_or(Ground::UnknownOffering);
                decision.fields = exchange
                    .fields
                    .iter()
                    .map(|f| FieldDecision::bare(f, Outcome::Refuse, ground))
                    .collect();
                (decision, None)
            }
        }
    }

    /// Evaluates one level for one resource and collects what held: one Cedar call, and a
    /// second only when an override held. Also returns the policies whose gate held or failed
    /// to evaluate (they must be looked at per field).
    fn held(&self, level: &Level, p: &Prepared, resource: &EntityUid) -> (Held<'_>, Gates) {
        let mut held = Held::default();
        let mut gates = Gates::default();
        if level.all.is_empty() {
            return (held, gates);
        }
        let cedar = cedar_request(&p.principal, &p.action, resource, &p.context);
        let authorizer = Authorizer::new();
        let response = authorizer.is_authorized(&cedar, &level.all, &self.entities);
        for error in response.diagnostics().errors() {
            let AuthorizationError::PolicyEvaluationError(e) = error;
            match AsRef::<str>::as_ref(e.policy_id()).strip_prefix(GATE_PREFIX) {
                // The gated policy reports the error itself when evaluated per field.
                Some(gated) => gates.erred.push(gated.to_owned()),
                None if self.in_force(e.policy_id().as_ref(), p.date) => {
                    held.errors.push(error.to_string())
                }
                None => {}
            }
        }
        let (reasons, satisfied_gates) = self.reasons(&response);
        gates.held.extend(satisfied_gates);
        if response.decision() == cedar_policy::Decision::Allow {
            held.grants = in_force(reasons, p.date);
            return (held, gates);
        }
        // An override held (in force or not), so Cedar named only the overrides: ask again for
        // the permits, to name the grants a reviewer may disclose under and to learn which gates
        // held (a field-level override behind one adds its own citation).
        let any_override = !reasons.is_empty();
        held.overrides = in_force(reasons, p.date);
        if any_override && !level.grants.is_empty() {
            let permits = authorizer.is_authorized(&cedar, &level.grants, &self.entities);
            let (grants, satisfied_gates) = self.reasons(&permits);
            held.grants = in_force(grants, p.date);
            gates.held.extend(satisfied_gates);
        }
        (held, gates)
    }

    /// Evaluates every grant and every override of the rulebook for one resource.
    fn held_separately(&self, p: &Prepared, resource: &EntityUid) -> Held<'_> {
        let cedar = cedar_request(&p.principal, &p.action, resource, &p.context);
        let authorizer = Authorizer::new();
        let grants = authorizer.is_authorized(&cedar, &self.grants, &self.entities);
        let overrides = authorizer.is_authorized(&cedar, &self.overrides, &self.entities);
        let errors = grants
            .diagnostics()
            .errors()
            .chain(overrides.diagnostics().errors())
            .filter(|error| {
                let AuthorizationError::PolicyEvaluationError(e) = error;
                self.in_force(e.policy_id().as_ref(), p.date)
            });
        Held {
            grants: in_force(self.reasons(&grants).0, p.date),
            overrides: in_force(self.reasons(&overrides).0, p.date),
            errors: errors.map(ToString::to_string).collect(),
        }
    }

    /// Whether the policy `id` applies on `date` (see [`PolicyInfo::period`]).
    fn in_force(&self, id: &str, date: i64) -> bool {
        self.infos
            .get(id)
            .is_some_and(|info| info.period.contains(date))
    }

    /// The policies a response names as satisfied, and the ids of the policies whose gate it
    /// names as satisfied.
    fn reasons(&self, response: &cedar_policy::Response) -> (Vec<&Arc<PolicyInfo>>, Vec<String>) {
        let mut policies = Vec::new();
        let mut gates = Vec::new();
        for id in response.diagnostics().reason() {
            let id: &str = id.as_ref();
            match id.strip_prefix(GATE_PREFIX) {
                Some(gated) => gates.push(gated.to_owned()),
                None => policies.extend(self.infos.get(id)),
            }
        }
        (policies, gates)
    }

    fn context(&self, exchange: &Exchange, provider: &str) -> Context {
        let t = &self.types;
        let entity = |ty, id: &str| RestrictedExpression::new_entity_uid(Types::uid(ty, id));
        let subject = RestrictedExpression::new_record([
            (
                "kind".to_owned(),
                RestrictedExpression::new_string(exchange.subject_kind.to_owned()),
            ),
            (
                "protected_identity".to_owned(),
                RestrictedExpression::new_bool(exchange.protected),
            ),
        ])
        .unwrap_or_else(|_| unreachable!("the record has distinct keys"));
        let mut pairs: Vec<(String, RestrictedExpression)> = vec![
            ("recipient".into(), entity(&t.authority, exchange.recipient)),
            ("provider".into(), entity(&t.authority, provider)),
            (
                "role".into(),
                RestrictedExpression::new_string(exchange.role.to_owned()),
            ),
            ("purpose".into(), entity(&t.purpose, exchange.purpose)),
            (
                "legal_basis".into(),
                entity(&t.provision, exchange.legal_basis),
            ),
            (
                "case_ref".into(),
                RestrictedExpression::new_string(exchange.case_ref.to_owned()),
            ),
            ("date".into(), RestrictedExpression::new_long(exchange.date)),
            ("subject".into(), subject),
        ];
        if let Some(op) = exchange.operation {
            pairs.push(("operation".into(), entity(&t.operation, op)));
        }
        Context::from_pairs(pairs)
            .unwrap_or_else(|_| unreachable!("context keys are distinct and values concrete"))
    }

    /// The Cedar requests a decision evaluates, one per requested field the offering has, for
    /// comparing with plain Cedar over the whole policy set ([`Rulebook::policy_set`]).
    pub fn cedar_requests(
        &self,
        request: &DisclosureRequest,
    ) -> Result<Vec<Request>, RequestError> {
        let exchange = self.requested(request)?;
        let (_, prepared) = self.prepare(&exchange);
        let Some(p) = prepared else {
            return Ok(Vec::new());
        };
        Ok(request
            .fields
            .iter()
            .filter(|f| p.offering.category_of(f).is_some())
            .map(|field| {
                let resource = self.types.field_uid(&p.offering.id, field);
                cedar_request(&p.principal, &p.action, &resource, &p.context)
            })
            .collect())
    }
}

/// The policies that apply on `date`: a policy outside its period neither grants nor overrides.
fn in_force(mut policies: Vec<&Arc<PolicyInfo>>, date: i64) -> Vec<&Arc<PolicyInfo>> {
    policies.retain(|p| p.period.contains(date));
    policies
}

fn cedar_request(
    principal: &EntityUid,
    action: &EntityUid,
    resource: &EntityUid,
    context: &Context,
) -> Request {
    Request::new(
        principal.clone(),
        action.clone(),
        resource.clone(),
        context.clone(),
        None,
    )
    .unwrap_or_else(|_| unreachable!("a request is only checked when a schema is given"))
}

fn cite(policies: &[&Arc<PolicyInfo>], class: impl Fn(Class) -> bool) -> Vec<Cited> {
    let mut cited: Vec<Cited> = policies
        .iter()
        .filter(|p| class(p.class))
        .map(|p| Cited(Arc::clone(p)))
        .collect();
    cited.sort_by(|a, b| a.id.cmp(&b.id));
    cited
}

/// Applies the outcome rules of the module documentation.
fn classify(field: &str, held: Held) -> FieldDecision {
    let mut decision = FieldDecision::bare(field, Outcome::Refuse, Ground::NoLegalBasis);
    let refusals = cite(&held.overrides, |c| c == Class::Refuse);
    if !refusals.is_empty() {
        decision.ground = Ground::Forbidden;
        decision.determining = refusals;
        decision.errors = held.errors;
        return decision;
    }
    let forced = cite(&held.overrides, |c| c == Class::ForceReview);
    if !held.errors.is_empty() {
        decision.outcome = Outcome::Review;
        decision.ground = Ground::EvaluationError;
        decision.determining = forced;
        decision.candidates = cite(&held.grants, |_| true);
        decision.errors = held.errors;
        return decision;
    }
    if held.grants.is_empty() {
        return decision;
    }
    if !forced.is_empty() {
        decision.outcome = Outcome::Review;
        decision.ground = Ground::ForcedReview;
        decision.determining = forced;
        decision.candidates = cite(&held.grants, |_| true);
        return decision;
    }
    let disclosing = cite(&held.grants, |c| c == Class::Disclose);
    if !disclosing.is_empty() {
        decision.outcome = Outcome::Disclose;
        decision.ground = if disclosing.iter().any(|c| c.pre_assessment.is_some()) {
            Ground::PreAssessed
        } else {
            Ground::Provision
        };
        decision.determining = disclosing;
        return decision;
    }
    decision.outcome = Outcome::Review;
    decision.ground = Ground::NeedsAssessment;
    decision.candidates = cite(&held.grants, |c| c == Class::Review);
    decision
}

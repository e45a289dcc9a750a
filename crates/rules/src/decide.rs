//! Deciding a request, field by field.
//!
//! Each requested field is one Cedar request (principal: the requesting unit, action: `disclose`,
//! resource: the field) evaluated against the index bucket for (recipient, offering). Cedar
//! answers allow/deny; the three outcomes come from the classes of the policies that held:
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
//! When Cedar allows, its diagnostics list every satisfied permit; when a forbid holds they list
//! only the forbids, so the grants are then found with a second evaluation of the bucket's grants.

use crate::decision::{Cited, Decision, FieldDecision, Ground, Outcome, RulebookVersion};
use crate::entities::Types;
use crate::policy::{Class, PolicyInfo};
use crate::request::{subject_kind, DisclosureRequest, RequestError};
use crate::Rulebook;
use cedar_policy::{Authorizer, Context, EntityUid, PolicySet, Request, RestrictedExpression};

impl Rulebook {
    /// Decides every requested field. Fails only on a malformed request; anything the rulebook
    /// does not know is refused with an explicit ground.
    pub fn decide(&self, request: &DisclosureRequest) -> Result<Decision, RequestError> {
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
        let offering = self.vocabulary.offerings.get(&request.offering);
        let unknown_ground = if offering.is_none() {
            Some(Ground::UnknownOffering)
        } else if !self.vocabulary.purposes.contains_key(&request.purpose) {
            Some(Ground::UnknownPurpose)
        } else if !self
            .vocabulary
            .provisions
            .contains_key(&request.legal_basis)
        {
            Some(Ground::UnknownLegalBasis)
        } else if request
            .operation
            .as_ref()
            .is_some_and(|op| !self.vocabulary.operations.contains_key(op))
        {
            Some(Ground::UnknownOperation)
        } else {
            None
        };
        let bucket = self.index.bucket(&request.recipient, &request.offering);
        let mut decision = Decision {
            rulebook: RulebookVersion {
                name: self.manifest.name.clone(),
                version: self.manifest.version.clone(),
                hash: self.hash.clone(),
            },
            provider: offering.map(|o| o.provider.clone()),
            offering: request.offering.clone(),
            fields: Vec::with_capacity(request.fields.len()),
            policies_evaluated: bucket.size(),
            policies_total: self.policies.len(),
        };
        let (Some(offering), None) = (offering, unknown_ground) else {
            let ground = unknown_ground.unwrap_or(Ground::UnknownOffering);
            decision.policies_evaluated = 0;
            decision.fields = request
                .fields
                .iter()
                .map(|f| FieldDecision::bare(f, Outcome::Refuse, ground))
                .collect();
            return Ok(decision);
        };
        let context = self.context(request, &offering.provider, subject_kind(&subject));
        let principal = Types::uid(&self.types.unit, &request.unit);
        let action = self.types.disclose();
        let authorizer = Authorizer::new();
        for field in &request.fields {
            if offering.category_of(field).is_none() {
                decision.fields.push(FieldDecision::bare(
                    field,
                    Outcome::Refuse,
                    Ground::UnknownField,
                ));
                continue;
            }
            let resource = self.types.field_uid(&offering.id, field);
            let evaluate = |set: &PolicySet| {
                authorizer.is_authorized(
                    &cedar_request(&principal, &action, &resource, &context),
                    set,
                    &self.entities,
                )
            };
            let response = evaluate(&bucket.all);
            let satisfied: Vec<&PolicyInfo> = response
                .diagnostics()
                .reason()
                .filter_map(|id| self.infos.get(AsRef::<str>::as_ref(id)))
                .collect();
            let errors: Vec<String> = response
                .diagnostics()
                .errors()
                .map(ToString::to_string)
                .collect();
            let overrides_only_review =
                !satisfied.is_empty() && satisfied.iter().all(|p| p.class == Class::ForceReview);
            let grants: Vec<&PolicyInfo> = if overrides_only_review {
                evaluate(&bucket.grants)
                    .diagnostics()
                    .reason()
                    .filter_map(|id| self.infos.get(AsRef::<str>::as_ref(id)))
                    .collect()
            } else {
                satisfied
                    .iter()
                    .copied()
                    .filter(|p| p.class.is_grant())
                    .collect()
            };
            decision
                .fields
                .push(classify(field, &satisfied, &grants, errors));
        }
        Ok(decision)
    }

    fn context(&self, request: &DisclosureRequest, provider: &str, kind: &str) -> Context {
        let t = &self.types;
        let entity = |ty, id: &str| RestrictedExpression::new_entity_uid(Types::uid(ty, id));
        let mut pairs: Vec<(String, RestrictedExpression)> = vec![
            ("recipient".into(), entity(&t.authority, &request.recipient)),
            ("provider".into(), entity(&t.authority, provider)),
            (
                "role".into(),
                RestrictedExpression::new_string(request.role.clone()),
            ),
            ("purpose".into(), entity(&t.purpose, &request.purpose)),
            (
                "legal_basis".into(),
                entity(&t.provision, &request.legal_basis),
            ),
            (
                "case_ref".into(),
                RestrictedExpression::new_string(request.case_ref.clone()),
            ),
            (
                "date".into(),
                RestrictedExpression::new_long(request.date()),
            ),
            (
                "subject".into(),
                RestrictedExpression::new_record([
                    (
                        "kind".to_owned(),
                        RestrictedExpression::new_string(kind.to_owned()),
                    ),
                    (
                        "protected_identity".to_owned(),
                        RestrictedExpression::new_bool(request.subject.protected_identity),
                    ),
                ])
                .unwrap_or_else(|_| unreachable!("the record has distinct keys")),
            ),
        ];
        if let Some(op) = &request.operation {
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
        let subject = request.validate()?;
        let Some(offering) = self.vocabulary.offerings.get(&request.offering) else {
            return Ok(Vec::new());
        };
        let context = self.context(request, &offering.provider, subject_kind(&subject));
        let principal = Types::uid(&self.types.unit, &request.unit);
        Ok(request
            .fields
            .iter()
            .filter(|f| offering.category_of(f).is_some())
            .map(|field| {
                let resource = self.types.field_uid(&offering.id, field);
                cedar_request(&principal, &self.types.disclose(), &resource, &context)
            })
            .collect())
    }
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

fn cite(policies: &[&PolicyInfo], class: impl Fn(Class) -> bool) -> Vec<Cited> {
    let mut cited: Vec<Cited> = policies
        .iter()
        .filter(|p| class(p.class))
        .map(|p| Cited::from(*p))
        .collect();
    cited.sort_by(|a, b| a.policy.cmp(&b.policy));
    cited
}

/// Applies the outcome rules of the module documentation.
fn classify(
    field: &str,
    satisfied: &[&PolicyInfo],
    grants: &[&PolicyInfo],
    errors: Vec<String>,
) -> FieldDecision {
    let mut decision = FieldDecision::bare(field, Outcome::Refuse, Ground::NoLegalBasis);
    let refusals = cite(satisfied, |c| c == Class::Refuse);
    if !refusals.is_empty() {
        decision.ground = Ground::Forbidden;
        decision.determining = refusals;
        decision.errors = errors;
        return decision;
    }
    let forced = cite(satisfied, |c| c == Class::ForceReview);
    if !errors.is_empty() {
        decision.outcome = Outcome::Review;
        decision.ground = Ground::EvaluationError;
        decision.determining = forced;
        decision.candidates = cite(grants, |_| true);
        decision.errors = errors;
        return decision;
    }
    if grants.is_empty() {
        return decision;
    }
    if !forced.is_empty() {
        decision.outcome = Outcome::Review;
        decision.ground = Ground::ForcedReview;
        decision.determining = forced;
        decision.candidates = cite(grants, |_| true);
        return decision;
    }
    let disclosing = cite(grants, |c| c == Class::Disclose);
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
    decision.candidates = cite(grants, |c| c == Class::Review);
    decision
}

//! What a policy's outcome can depend on, read from its structure.
//!
//! Two facts let a decision skip work without changing its result:
//!
//! - **Legal basis.** A policy whose `when` clause is a conjunction containing
//!   `context.legal_basis == Provision::"x"` can only hold for requests that claim `x`.
//! - **Resource use.** Within one offering, a policy can tell two fields apart only through the
//!   ways it mentions `resource`. If it tests only membership (`resource in E`, `resource == E`,
//!   `resource in [E, …]` in its scope or condition) and reads only `resource.offering`, it gives
//!   the same answer for any two fields that agree on every such membership; reading
//!   `resource.category` adds the category to what must agree. A policy that does not mention
//!   `resource` beyond an offering-wide scope gives the same answer for every field. Any other use
//!   of `resource` makes the policy field-specific.
//!
//! - **Days and purposes.** A policy whose first `when` clause begins with conjuncts that cannot
//!   fail — comparisons of `context.date` with literals, `context.purpose in E` or
//!   `context.purpose == E` for a literal E, and `context.legal_basis == …` — holds on no request
//!   they exclude, and fails on none: the first false conjunct is reached before anything that
//!   could fail. Compiled pre-assessments begin so with their legal basis, validity and purpose.
//! - **Membership alone.** A field-dependent policy whose condition, after its *gate* (see
//!   [`gate`]), is nothing but membership tests of the field against literals — and whose resource
//!   scope is one too — holds for a field exactly when its gate holds and the field passes every
//!   test. Such a policy need not be evaluated per field at all: its gate is evaluated once per
//!   request, and the tests are read off the field's place in the hierarchy (field, category,
//!   offering). Compiled pre-assessments have this shape.
//!
//! The analysis is conservative: whatever it does not recognise is treated as field-specific.

use crate::dates::Period;
use cedar_policy::{EntityUid, Policy, ResourceConstraint};
use serde_json::Value;
use std::str::FromStr;

/// How a policy depends on the requested field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResourceUse {
    /// Not at all (within one offering): evaluate once per request.
    None,
    /// Through these membership tests — each true when the field is in any of its entities
    /// (type, id) — and its category if `category` is set.
    Memberships { tests: Vec<Test>, category: bool },
    /// In ways not analysed: evaluate for each field.
    PerField,
}

/// One membership test: is the field in any of these entities (type, id)?
pub type Test = Vec<(String, String)>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Footprint {
    /// The legal basis the policy requires, if it requires one.
    pub basis: Option<String>,
    pub resource: ResourceUse,
    /// What its leading conjuncts that cannot fail require (see the module documentation).
    pub leading: Leading,
    /// For a policy that depends on the field: its *gate*, see [`gate`].
    pub gate: Option<Policy>,
    /// For a gated policy whose condition after the gate is only membership tests (and whose
    /// resource scope is one): those tests, all of which a field must pass.
    pub after_gate: Option<Vec<Membership>>,
}

/// What the leading conjuncts of a policy that cannot fail require of a request: outside it the
/// policy neither holds nor fails to evaluate.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Leading {
    pub days: Period,
    /// Each must hold: the request's purpose is the entity, or (not `exact`) is in it.
    pub purposes: Vec<(EntityUid, bool)>,
}

impl Leading {
    /// Whether a request on `date` for `purpose`, which lies in `groups`, can reach past them.
    pub fn admits(&self, date: i64, purpose: &EntityUid, groups: &[&EntityUid]) -> bool {
        self.days.contains(date)
            && self
                .purposes
                .iter()
                .all(|(e, exact)| e == purpose || (!exact && groups.contains(&e)))
    }

    /// Only on the days of `period` as well.
    pub fn within(&self, period: Period) -> Leading {
        Leading {
            days: self.days.within(period),
            purposes: self.purposes.clone(),
        }
    }
}

/// `resource in E` (or `resource in [E, …]`) — or, `exact`, `resource == E` — for literals E.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// (type, id) of each entity E.
    pub entities: Vec<(String, String)>,
    pub exact: bool,
}

impl Membership {
    /// Whether field `field` of category `category` of `offering` passes the test. A field's only
    /// ancestors are its category and its offering (see `entities`), and category and field ids
    /// are written `offering/…`.
    pub fn admits(&self, offering: &str, category: &str, field: &str) -> bool {
        self.entities.iter().any(|(ty, id)| match ty.as_str() {
            "Field" => id.split_once('/') == Some((offering, field)),
            "Category" => !self.exact && id.split_once('/') == Some((offering, category)),
            "Offering" => !self.exact && id == offering,
            _ => false,
        })
    }
}

/// The prefix of id a gate policy carries before the id of the policy it gates.
pub const GATE_PREFIX: &str = "gate:";

/// A field-dependent policy's gate: a permit with the same principal and action scope whose
/// condition is the longest leading run of its first `when` clause's conjuncts that do not mention
/// `resource`. Cedar evaluates a policy's conjuncts left to right and stops at the first false
/// one, so when the gate is false (without error) the policy is false for every field, and when
/// the gate errors the policy errors the same way wherever it gets that far. The gate can thus be
/// evaluated once per request, and only policies whose gate held (or erred) need evaluating per
/// field.
///
/// With the gate comes what follows it when that is only membership tests (see
/// [`Footprint::after_gate`]).
fn gate(policy: &Policy, json: &Value) -> Option<(Policy, Option<Vec<Membership>>)> {
    let conditions = json.get("conditions")?.as_array()?;
    let first = conditions.first()?;
    if first.get("kind").and_then(Value::as_str) != Some("when") {
        return None;
    }
    let mut conjuncts = Vec::new();
    flatten_and(first.get("body")?, &mut conjuncts);
    let split = conjuncts
        .iter()
        .position(|c| mentions_resource(c))
        .unwrap_or(conjuncts.len());
    let (prefix, rest) = conjuncts.split_at(split);
    let after_gate = if conditions.len() == 1 {
        let scope = match policy.resource_constraint() {
            ResourceConstraint::Any => Some(None),
            ResourceConstraint::In(uid) => Some(Some(Membership {
                entities: vec![type_and_id(&uid)],
                exact: false,
            })),
            ResourceConstraint::Eq(uid) => Some(Some(Membership {
                entities: vec![type_and_id(&uid)],
                exact: true,
            })),
            ResourceConstraint::Is(_) | ResourceConstraint::IsIn(..) => None,
        };
        scope.and_then(|scope| {
            rest.iter()
                .map(|c| membership_test(c))
                .collect::<Option<Vec<_>>>()
                .map(|tests| scope.into_iter().chain(tests).collect())
        })
    } else {
        None
    };
    let body = prefix
        .iter()
        .map(|c| (*c).clone())
        .reduce(|left, right| serde_json::json!({"&&": {"left": left, "right": right}}))?;
    let gate = serde_json::json!({
        "effect": "permit",
        "principal": json.get("principal")?,
        "action": json.get("action")?,
        "resource": {"op": "All"},
        "conditions": [{"kind": "when", "body": body}],
        "annotations": {},
    });
    let id = cedar_policy::PolicyId::new(format!("{GATE_PREFIX}{}", policy.id()));
    Some((Policy::from_json(Some(id), gate).ok()?, after_gate))
}

/// `resource in E`, `resource in [E, …]`, `resource == E` or `E == resource` for literals E.
fn membership_test(v: &Value) -> Option<Membership> {
    if let Some(args) = v.get("in") {
        if !is_resource(&args["left"]) {
            return None;
        }
        let right = &args["right"];
        let entities = match entity_literal(right) {
            Some(literal) => vec![literal],
            None => right
                .get("Set")?
                .as_array()?
                .iter()
                .map(entity_literal)
                .collect::<Option<_>>()?,
        };
        return Some(Membership {
            entities,
            exact: false,
        });
    }
    let args = v.get("==")?;
    let literal = if is_resource(&args["left"]) {
        entity_literal(&args["right"])
    } else if is_resource(&args["right"]) {
        entity_literal(&args["left"])
    } else {
        None
    }?;
    Some(Membership {
        entities: vec![literal],
        exact: true,
    })
}

fn type_and_id(uid: &EntityUid) -> (String, String) {
    (uid.type_name().to_string(), uid.id().unescaped().to_owned())
}

/// The conjuncts of a `&&` chain, in evaluation order.
fn flatten_and<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
    match v.get("&&") {
        Some(args) => {
            flatten_and(&args["left"], out);
            flatten_and(&args["right"], out);
        }
        None => out.push(v),
    }
}

fn mentions_resource(v: &Value) -> bool {
    match v {
        Value::Object(map) => is_resource(v) || map.values().any(mentions_resource),
        Value::Array(items) => items.iter().any(mentions_resource),
        _ => false,
    }
}

pub fn of(policy: &Policy) -> Footprint {
    let Ok(json) = policy.to_json() else {
        return Footprint {
            basis: None,
            resource: ResourceUse::PerField,
            leading: Leading::default(),
            gate: None,
            after_gate: None,
        };
    };
    let mut use_ = Use::default();
    match policy.resource_constraint() {
        ResourceConstraint::In(uid)
        | ResourceConstraint::IsIn(_, uid)
        | ResourceConstraint::Eq(uid) => {
            // Membership of a field in an offering is the same for every field of the offering,
            // but recording it anyway keeps the argument simple.
            use_.literal(&uid);
        }
        ResourceConstraint::Any | ResourceConstraint::Is(_) => {}
    }
    let mut basis = None;
    if let Some(conditions) = json.get("conditions").and_then(Value::as_array) {
        for condition in conditions {
            let Some(body) = condition.get("body") else {
                continue;
            };
            if condition.get("kind").and_then(Value::as_str) == Some("when") && basis.is_none() {
                basis = required_basis(body);
            }
            use_.walk(body);
        }
    }
    let resource = if use_.per_field {
        ResourceUse::PerField
    } else if use_.tests.iter().flatten().all(|(ty, _)| ty == "Offering") && !use_.category {
        ResourceUse::None
    } else {
        ResourceUse::Memberships {
            tests: use_.tests,
            category: use_.category,
        }
    };
    let (gate, after_gate) = match resource {
        ResourceUse::None => (None, None),
        _ => gate(policy, &json).map_or((None, None), |(g, after)| (Some(g), after)),
    };
    Footprint {
        basis,
        resource,
        leading: leading(&json),
        gate,
        after_gate,
    }
}

#[derive(Default)]
struct Use {
    tests: Vec<Test>,
    category: bool,
    per_field: bool,
}

fn is_resource(v: &Value) -> bool {
    v.get("Var").and_then(Value::as_str) == Some("resource")
}

/// An entity literal `{"Value": {"__entity": {"type", "id"}}}`.
fn entity_literal(v: &Value) -> Option<(String, String)> {
    let e = v.get("Value")?.get("__entity")?;
    Some((
        e.get("type")?.as_str()?.to_owned(),
        e.get("id")?.as_str()?.to_owned(),
    ))
}

impl Use {
    fn literal(&mut self, uid: &EntityUid) {
        self.push(vec![type_and_id(uid)]);
    }

    fn push(&mut self, test: Test) {
        if !self.tests.contains(&test) {
            self.tests.push(test);
        }
    }

    /// Records the membership tests of `resource in R` / `resource == R`; false if R is not a
    /// literal (or a set of literals).
    fn membership(&mut self, right: &Value) -> bool {
        if let Some(literal) = entity_literal(right) {
            self.push(vec![literal]);
            return true;
        }
        if let Some(items) = right.get("Set").and_then(Value::as_array) {
            if let Some(literals) = items.iter().map(entity_literal).collect::<Option<Vec<_>>>() {
                self.push(literals);
                return true;
            }
        }
        false
    }

    fn walk(&mut self, v: &Value) {
        match v {
            Value::Object(map) => {
                if is_resource(v) {
                    self.per_field = true;
                    return;
                }
                for op in ["in", "==", "!="] {
                    if let Some(args) = map.get(op) {
                        let (left, right) = (&args["left"], &args["right"]);
                        let recognised = if is_resource(left) {
                            self.membership(right)
                        } else if op != "in" && is_resource(right) {
                            self.membership(left)
                        } else {
                            false
                        };
                        if recognised {
                            return;
                        }
                    }
                }
                if let Some(args) = map.get(".") {
                    if is_resource(&args["left"]) {
                        match args.get("attr").and_then(Value::as_str) {
                            Some("offering") => return,
                            Some("category") => {
                                self.category = true;
                                return;
                            }
                            _ => {}
                        }
                    }
                }
                for child in map.values() {
                    self.walk(child);
                }
            }
            Value::Array(items) => items.iter().for_each(|i| self.walk(i)),
            _ => {}
        }
    }
}

/// What the leading conjuncts of a policy's first `when` clause require of a request: each that
/// compares `context.date` with a literal narrows the days, each `context.purpose in E` or
/// `context.purpose == E` adds a purpose test; `context.legal_basis == …` is passed over; the
/// first conjunct of any other kind ends the run.
fn leading(json: &Value) -> Leading {
    let mut leading = Leading::default();
    let first = json
        .get("conditions")
        .and_then(Value::as_array)
        .and_then(|c| c.first())
        .filter(|c| c.get("kind").and_then(Value::as_str) == Some("when"));
    let Some(body) = first.and_then(|c| c.get("body")) else {
        return leading;
    };
    let mut conjuncts = Vec::new();
    flatten_and(body, &mut conjuncts);
    for conjunct in conjuncts {
        if let Some(bound) = date_bound(conjunct) {
            leading.days = leading.days.within(bound);
        } else if let Some(test) = purpose_test(conjunct) {
            leading.purposes.push(test);
        } else if !is_basis_test(conjunct) {
            break;
        }
    }
    leading
}

/// `context.purpose in E` or `context.purpose == E` (either way round) for a literal E.
fn purpose_test(v: &Value) -> Option<(EntityUid, bool)> {
    let (args, exact) = match (v.get("in"), v.get("==")) {
        (Some(args), None) => (args, false),
        (None, Some(args)) => (args, true),
        _ => return None,
    };
    let literal = if is_context(&args["left"], "purpose") {
        entity_literal(&args["right"])
    } else if exact && is_context(&args["right"], "purpose") {
        entity_literal(&args["left"])
    } else {
        None
    }?;
    let ty = cedar_policy::EntityTypeName::from_str(&literal.0).ok()?;
    Some((
        EntityUid::from_type_name_and_id(ty, cedar_policy::EntityId::new(&literal.1)),
        exact,
    ))
}

fn is_context(v: &Value, attr: &str) -> bool {
    v.get(".").is_some_and(|dot| {
        dot["left"].get("Var").and_then(Value::as_str) == Some("context")
            && dot.get("attr").and_then(Value::as_str) == Some(attr)
    })
}

fn is_basis_test(v: &Value) -> bool {
    v.get("==").is_some_and(|args| {
        (is_context(&args["left"], "legal_basis") && entity_literal(&args["right"]).is_some())
            || (is_context(&args["right"], "legal_basis")
                && entity_literal(&args["left"]).is_some())
    })
}

/// The days `context.date OP n` (or `n OP context.date`) admits.
fn date_bound(v: &Value) -> Option<Period> {
    let map = v.as_object()?;
    let (op, args) = map.iter().next().filter(|_| map.len() == 1)?;
    let number = |v: &Value| v.get("Value").and_then(Value::as_i64);
    // Normalised to `context.date OP n`.
    let (op, n) = if is_context(&args["left"], "date") {
        (op.as_str(), number(&args["right"])?)
    } else if is_context(&args["right"], "date") {
        let flipped = match op.as_str() {
            "<" => ">",
            "<=" => ">=",
            ">" => "<",
            ">=" => "<=",
            _ => return None,
        };
        (flipped, number(&args["left"])?)
    } else {
        return None;
    };
    let (from, until) = match op {
        ">=" => (n, i64::MAX),
        ">" => (n.checked_add(1)?, i64::MAX),
        "<=" => (i64::MIN, n),
        "<" => (i64::MIN, n.checked_sub(1)?),
        _ => return None,
    };
    Some(Period { from, until })
}

/// `x` if `body` is a conjunction with a conjunct `context.legal_basis == Provision::"x"`.
fn required_basis(body: &Value) -> Option<String> {
    if let Some(args) = body.get("&&") {
        return required_basis(&args["left"]).or_else(|| required_basis(&args["right"]));
    }
    let args = body.get("==")?;
    let is_basis = |v: &Value| is_context(v, "legal_basis");
    let literal = if is_basis(&args["left"]) {
        entity_literal(&args["right"])
    } else if is_basis(&args["right"]) {
        entity_literal(&args["left"])
    } else {
        None
    }?;
    (literal.0 == "Provision").then_some(literal.1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn footprint(text: &str) -> Footprint {
        of(&Policy::from_str(text).unwrap())
    }

    #[test]
    fn a_basis_conjunct_is_found_anywhere_in_the_conjunction() {
        let f = footprint(
            "permit(principal, action, resource) when { context.role == \"a\" && (context.legal_basis == Provision::\"luffa\" && true) };",
        );
        assert_eq!(f.basis.as_deref(), Some("luffa"));
        assert_eq!(f.resource, ResourceUse::None);
    }

    #[test]
    fn a_basis_under_a_disjunction_is_not_required() {
        let f = footprint(
            "permit(principal, action, resource) when { context.legal_basis == Provision::\"a\" || context.role == \"x\" };",
        );
        assert_eq!(f.basis, None);
    }

    #[test]
    fn memberships_and_category_are_recognised() {
        let f = footprint(
            "forbid(principal, action, resource in Category::\"o/c\") when { resource in [Field::\"o/a\", Field::\"o/b\"] || resource.category == Category::\"o/d\" };",
        );
        let ResourceUse::Memberships { tests, category } = f.resource else {
            panic!()
        };
        assert_eq!(
            tests.len(),
            2,
            "the scope and the set are one test each: {tests:?}"
        );
        assert_eq!(tests[1].len(), 2);
        assert!(category);
    }

    #[test]
    fn offering_wide_reads_do_not_depend_on_the_field() {
        let f = footprint(
            "permit(principal, action, resource in Offering::\"o\") when { resource.offering.secrecy == Provision::\"x\" };",
        );
        assert_eq!(f.resource, ResourceUse::None);
    }

    #[test]
    fn a_gate_holds_the_leading_resource_free_conjuncts() {
        let policy = Policy::from_str(
            "permit(principal in Group::\"g\", action, resource) when { context.role == \"a\" && context.date >= 20250101 && resource in [Field::\"o/a\"] && context.purpose == Purpose::\"p\" };",
        )
        .unwrap();
        let gate = of(&policy).gate.unwrap();
        assert_eq!(
            gate.id().to_string(),
            format!("{GATE_PREFIX}{}", policy.id())
        );
        let text = gate.to_string();
        assert!(
            text.contains("context.role") && text.contains("20250101"),
            "{text}"
        );
        assert!(
            !text.contains("resource in") && !text.contains("purpose"),
            "stops at the first resource test: {text}"
        );
        assert!(text.contains("Group::\"g\""), "{text}");
        // A policy that tests the field first has no gate.
        let first = Policy::from_str("permit(principal, action, resource) when { resource in Field::\"o/a\" && context.role == \"a\" };").unwrap();
        assert!(of(&first).gate.is_none());
    }

    #[test]
    fn only_membership_tests_after_the_gate_are_read_off_the_field() {
        let after = |text: &str| of(&Policy::from_str(text).unwrap()).after_gate;
        let tests = after(
            "permit(principal, action, resource in Category::\"o/c\") when { context.role == \"a\" && resource in [Field::\"o/a\", Category::\"o/d\"] && Field::\"o/b\" == resource };",
        )
        .expect("a gate followed by memberships");
        assert_eq!(tests.len(), 3, "the scope and two conditions: {tests:?}");
        assert!(!tests[0].exact && !tests[1].exact && tests[2].exact);
        assert!(tests[0].admits("o", "c", "x") && !tests[0].admits("o", "d", "x"));
        assert!(tests[1].admits("o", "d", "x") && tests[1].admits("o", "c", "a"));
        assert!(!tests[1].admits("p", "c", "a"), "another offering's field");
        assert!(tests[2].admits("o", "c", "b") && !tests[2].admits("o", "c", "a"));
        let exact_category = Membership {
            entities: vec![("Category".into(), "o/c".into())],
            exact: true,
        };
        assert!(
            !exact_category.admits("o", "c", "a"),
            "a field is no category"
        );
        for text in [
            // Something else after the field test.
            "permit(principal, action, resource) when { context.role == \"a\" && resource in Field::\"o/a\" && context.date > 1 };",
            "permit(principal, action, resource) when { context.role == \"a\" && resource != Field::\"o/a\" };",
            "permit(principal, action, resource) when { context.role == \"a\" && resource.category == Category::\"o/c\" };",
            // A second clause, or a type test in the scope.
            "permit(principal, action, resource) when { context.role == \"a\" && resource in Field::\"o/a\" } unless { context.role == \"b\" };",
            "permit(principal, action, resource is Field in Offering::\"o\") when { context.role == \"a\" && resource in Field::\"o/a\" };",
        ] {
            assert_eq!(after(text), None, "{text}");
        }
    }

    #[test]
    fn leading_date_comparisons_bound_the_days() {
        let days = |condition: &str| {
            footprint(&format!(
                "permit(principal, action, resource) when {{ {condition} }};"
            ))
            .leading
            .days
        };
        assert_eq!(
            days("context.legal_basis == Provision::\"x\" && context.date >= 20250101 && 20271231 > context.date && context.role == \"a\""),
            Period { from: 20250101, until: 20271230 }
        );
        assert_eq!(
            days("context.date > 20250101 && context.date < 20250105"),
            Period {
                from: 20250102,
                until: 20250104
            }
        );
        // Behind anything that could fail, a date no longer bounds where the policy can err.
        assert!(days("context.role == \"a\" && context.date >= 20250101").is_always());
        assert!(
            days("context.operation == Operation::\"o\" && context.date >= 20250101").is_always()
        );
        assert!(days("context.date >= 20250101 || context.role == \"a\"").is_always());
        assert!(footprint(
            "permit(principal, action, resource) unless { context.date < 20250101 };"
        )
        .leading
        .days
        .is_always());
    }

    #[test]
    fn leading_purpose_tests_are_kept_with_the_days() {
        let leading = |condition: &str| {
            footprint(&format!(
                "permit(principal, action, resource) when {{ {condition} }};"
            ))
            .leading
        };
        let uid = |text: &str| EntityUid::from_str(text).unwrap();
        let l = leading("context.date >= 20250101 && context.purpose in PurposeGroup::\"g\" && Purpose::\"p\" == context.purpose && context.role == \"a\" && context.purpose in Purpose::\"q\"");
        assert_eq!(
            l.purposes,
            [
                (uid("PurposeGroup::\"g\""), false),
                (uid("Purpose::\"p\""), true)
            ],
            "the run ends at the role test"
        );
        let (p, q, g) = (
            uid("Purpose::\"p\""),
            uid("Purpose::\"q\""),
            uid("PurposeGroup::\"g\""),
        );
        assert!(l.admits(20250101, &p, &[&g]));
        assert!(!l.admits(20250101, &p, &[]), "p is not in g");
        assert!(!l.admits(20250101, &q, &[&g]), "q is not p");
        assert!(!l.admits(20241231, &p, &[&g]), "before its days");
        assert!(
            leading("context.role == \"a\" && context.purpose in PurposeGroup::\"g\"")
                .purposes
                .is_empty()
        );
    }

    #[test]
    fn anything_else_is_field_specific() {
        for condition in [
            "resource.title == \"Lön\"",
            "[Field::\"o/a\"].contains(resource)",
            "resource in context.purpose",
        ] {
            let f = footprint(&format!(
                "permit(principal, action, resource) when {{ {condition} }};"
            ));
            assert_eq!(f.resource, ResourceUse::PerField, "{condition}");
        }
    }
}

//! [`Facts`]: what the authorities' registers know of a person's life — work and salary,
//! benefits and pension, debts at Kronofogden, economic assistance, police suspicions and the
//! payment authority's control signals — drawn once for the whole [`World`], so that every
//! register tells a consistent story (the sick pay Försäkringskassan decided is the sick pay
//! Utbetalningsmyndigheten paid, to the account it names).

use super::calendar::{Date, AS_OF};
use super::rng::Rng;
use super::vocabulary as words;
use super::world::World;

#[derive(Default)]
pub(crate) struct Facts {
    pub(crate) employment: Option<Employment>,
    /// Enskild näringsidkare, approved for F-skatt.
    pub(crate) sole_trader: bool,
    pub(crate) benefit: Option<Benefit>,
    /// Monthly pension paid by Pensionsmyndigheten.
    pub(crate) pension: Option<u64>,
    /// Where Utbetalningsmyndigheten paid, when not the person's own account.
    pub(crate) paid_to: Option<String>,
    /// A control signal about the person's payments.
    pub(crate) signal: Option<&'static str>,
    pub(crate) debt: Option<Debt>,
    pub(crate) assistance: Option<Assistance>,
    pub(crate) suspicion: Option<Suspicion>,
}

pub(crate) struct Employment {
    /// Index into [`World::companies`].
    pub(crate) employer: usize,
    pub(crate) monthly_salary: u64,
    pub(crate) taxable_benefits: &'static [&'static str],
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum BenefitKind {
    Barnbidrag,
    Bostadsbidrag,
    Sjukpenning,
    Foraldrapenning,
    Aktivitetsersattning,
}

impl BenefitKind {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Barnbidrag => "barnbidrag",
            Self::Bostadsbidrag => "bostadsbidrag",
            Self::Sjukpenning => "sjukpenning",
            Self::Foraldrapenning => "föräldrapenning",
            Self::Aktivitetsersattning => "aktivitetsersättning",
        }
    }
}

pub(crate) struct Benefit {
    pub(crate) kind: BenefitKind,
    pub(crate) monthly: u64,
    pub(crate) from: Date,
    pub(crate) to: Date,
    pub(crate) decision: &'static str,
    pub(crate) status: &'static str,
    pub(crate) sickness: Option<Sickness>,
}

pub(crate) struct Sickness {
    pub(crate) diagnosis: (&'static str, &'static str),
    pub(crate) certified_on: Date,
    pub(crate) clinic: &'static str,
    /// Percent of full time: 25, 50, 75 or 100.
    pub(crate) extent: u64,
}

pub(crate) struct Debt {
    pub(crate) total: u64,
    pub(crate) cases: u64,
    pub(crate) creditors: Vec<&'static str>,
    /// The amount protected from wage garnishment (förbehållsbelopp), when wages are garnished.
    pub(crate) garnishment: Option<u64>,
    pub(crate) restructuring: Option<Date>,
}

pub(crate) struct Assistance {
    pub(crate) monthly: u64,
    pub(crate) household_size: usize,
    pub(crate) note: &'static str,
}

pub(crate) struct Suspicion {
    pub(crate) offence: (&'static str, &'static str),
    pub(crate) on: Date,
    pub(crate) leader: String,
    pub(crate) intelligence: Option<&'static str>,
}

const SHARED_ACCOUNT: &str =
    "Mottagarkontot har tagit emot utbetalningar till flera betalningsmottagare.";
const SICK_PAY_WITH_SALARY: &str =
    "Sjukpenning utbetald för en period med redovisad lön på heltid.";

/// Draws every person's facts, in person order (the order is part of determinism).
pub(crate) fn draw(rng: &mut Rng, world: &mut World) {
    for index in 0..world.persons.len() {
        let facts = person_facts(rng, world, index);
        world.persons[index].facts = facts;
    }
    // Signals: a few payees whose money went to someone else's account, and sick pay beside
    // a full salary. Drawn after everyone's account exists.
    let payees: Vec<usize> = (0..world.persons.len())
        .filter(|&index| {
            let facts = &world.persons[index].facts;
            facts.benefit.is_some() || facts.pension.is_some()
        })
        .collect();
    for &payee in &payees {
        if payees.len() > 1 && rng.chance(30) {
            let other = payees[rng.index(payees.len())];
            if other != payee {
                let account = world.persons[other].account.clone();
                let facts = &mut world.persons[payee].facts;
                facts.paid_to = Some(account);
                facts.signal = Some(SHARED_ACCOUNT);
            }
        } else {
            let facts = &mut world.persons[payee].facts;
            let sick = facts
                .benefit
                .as_ref()
                .is_some_and(|benefit| benefit.kind == BenefitKind::Sjukpenning);
            if sick && facts.employment.is_some() && rng.chance(150) {
                facts.signal = Some(SICK_PAY_WITH_SALARY);
            }
        }
    }
}

fn person_facts(rng: &mut Rng, world: &World, index: usize) -> Facts {
    let person = &world.persons[index];
    let mut facts = Facts::default();
    if !person.is_adult() {
        return facts;
    }
    let age = person.age();
    let household = &world.households[person.household];
    let children: Vec<u16> = household.members[household.adults..]
        .iter()
        .map(|&child| world.persons[child].age())
        .collect();
    let first_adult = household.members.first() == Some(&index);

    if (20..=66).contains(&age) && !world.companies.is_empty() && rng.chance(720) {
        facts.employment = Some(Employment {
            employer: rng.index(world.companies.len()),
            monthly_salary: rng.between(220, 680) * 100,
            taxable_benefits: rng.weighted(&words::TAXABLE_BENEFITS),
        });
    }
    facts.sole_trader = age < 70 && rng.chance(40);
    if age >= 66 {
        facts.pension = Some(rng.between(90, 260) * 100);
    }
    let salary = facts.employment.as_ref().map(|job| job.monthly_salary);
    facts.benefit = benefit(rng, age, salary, &children, first_adult);
    if rng.chance(60) {
        facts.debt = Some(debt(rng, salary.is_some()));
    }
    let low_income = salary.is_none_or(|salary| salary < 25_000);
    if first_adult
        && household.city.postort == words::MALMO.postort
        && age < 66
        && low_income
        && rng.chance(300)
    {
        facts.assistance = Some(Assistance {
            monthly: 4_000 + 2_500 * household.members.len() as u64 + rng.below(20) * 100,
            household_size: household.members.len(),
            note: rng.pick(&words::SOCIAL_NOTES),
        });
    }
    if rng.chance(10) {
        let city = household.city;
        facts.suspicion = Some(Suspicion {
            offence: rng.pick(&words::OFFENCES),
            on: Date::between(rng, AS_OF.months_before(24), AS_OF),
            leader: if rng.chance(500) {
                format!("Åklagarmyndigheten, {}", city.prosecution_office)
            } else {
                format!("Polismyndigheten, {}", city.police_region)
            },
            intelligence: rng
                .chance(500)
                .then(|| rng.pick(&words::INTELLIGENCE_NOTES)),
        });
    }
    facts
}

fn benefit(
    rng: &mut Rng,
    age: u16,
    salary: Option<u64>,
    children: &[u16],
    first_adult: bool,
) -> Option<Benefit> {
    let period_start = Date::between(rng, AS_OF.months_before(11), AS_OF).month_start();
    let ongoing = rng.chance(700);
    let (kind, monthly, sickness) = if let Some(salary) = salary.filter(|_| rng.chance(60)) {
        let sickness = Sickness {
            diagnosis: rng.pick(&words::DIAGNOSES),
            certified_on: period_start,
            clinic: rng.pick(&words::CERTIFYING_CLINICS),
            extent: rng.pick(&[25, 50, 75, 100]),
        };
        let monthly = (salary * 8 / 10).min(31_000) * sickness.extent / 100;
        (BenefitKind::Sjukpenning, monthly, Some(sickness))
    } else if first_adult && !children.is_empty() && rng.chance(700) {
        (BenefitKind::Barnbidrag, 1_250 * children.len() as u64, None)
    } else if children.iter().any(|&age| age < 2) && rng.chance(400) {
        let monthly = salary.map_or(7_800, |salary| (salary * 8 / 10).min(47_000));
        (BenefitKind::Foraldrapenning, monthly, None)
    } else if age < 66 && salary.is_none_or(|salary| salary < 30_000) && rng.chance(150) {
        (BenefitKind::Bostadsbidrag, rng.between(15, 45) * 100, None)
    } else if salary.is_none() && (19..=29).contains(&age) && rng.chance(100) {
        (
            BenefitKind::Aktivitetsersattning,
            rng.between(90, 110) * 100,
            None,
        )
    } else {
        return None;
    };
    let to = if ongoing {
        AS_OF.month_end()
    } else {
        Date::between(rng, period_start, AS_OF).month_end()
    };
    let (decision, status) = if ongoing {
        (
            rng.weighted(&[(850, "beviljad"), (150, "delvis beviljad")]),
            rng.weighted(&[(700, "pågående"), (300, "under utredning")]),
        )
    } else {
        (
            rng.weighted(&[(900, "beviljad"), (100, "återkrav")]),
            "avslutad",
        )
    };
    Some(Benefit {
        kind,
        monthly,
        from: period_start,
        to,
        decision,
        status,
        sickness,
    })
}

fn debt(rng: &mut Rng, employed: bool) -> Debt {
    let cases = rng.weighted(&[(500, 1), (250, 2), (150, 4), (100, 9)]);
    let mut creditors = Vec::new();
    for _ in 0..cases.min(4) {
        let creditor = rng.pick(&words::CREDITORS);
        if !creditors.contains(&creditor) {
            creditors.push(creditor);
        }
    }
    Debt {
        total: cases * rng.between(30, 1200) * 100,
        cases,
        creditors,
        garnishment: (employed && rng.chance(400)).then(|| rng.between(55, 95) * 100),
        restructuring: rng
            .chance(100)
            .then(|| Date::between(rng, AS_OF.months_before(60), AS_OF)),
    }
}

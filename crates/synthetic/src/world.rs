//! [`World`]: the synthetic population every synthetic register describes — persons in
//! households at addresses, and aktiebolag with boards drawn from the persons — generated from a
//! seed alone, so that each authority's register (filled separately) tells of the same people.
//!
//! The life facts (work, benefits, debts, …) are drawn in `facts`; the registers' fields are
//! read off both in `fields`.

use utbyte_domain::{IdentifierError, SubjectId};

use super::calendar::{Date, AS_OF};
use super::facts::Facts;
use super::identifiers::{Issuer, PersonSeries};
use super::rng::Rng;
use super::vocabulary::{self as words, City};

/// A person: identity, household and what the registers know of their life.
pub(crate) struct Person {
    pub(crate) id: SubjectId,
    pub(crate) given_name: &'static str,
    pub(crate) surname: &'static str,
    pub(crate) birth: Date,
    pub(crate) citizenship: &'static str,
    pub(crate) household: usize,
    pub(crate) protected_identity: bool,
    /// A separate postal address (särskild postadress), as a box number.
    pub(crate) postal_box: Option<u64>,
    pub(crate) married: bool,
    /// The bank account payments go to.
    pub(crate) account: String,
    pub(crate) facts: Facts,
}

impl Person {
    pub(crate) fn is_adult(&self) -> bool {
        self.birth.age_on(AS_OF) >= 18
    }

    pub(crate) fn age(&self) -> u16 {
        self.birth.age_on(AS_OF)
    }

    pub(crate) fn full_name(&self) -> String {
        format!("{} {}", self.given_name, self.surname)
    }
}

/// People registered on the same apartment.
pub(crate) struct Household {
    pub(crate) city: City,
    pub(crate) street: &'static str,
    pub(crate) street_number: u64,
    /// Lägenhetsnummer: floor (1–9) and door (01–05) as four digits.
    pub(crate) apartment: u64,
    pub(crate) postcode: u64,
    pub(crate) moved_in: Date,
    /// Indexes into [`World::persons`]: the adults first, then the children.
    pub(crate) members: Vec<usize>,
    pub(crate) adults: usize,
}

/// A board member's place.
#[derive(Clone, Copy)]
pub(crate) enum BoardRole {
    Chair,
    Member,
    Deputy,
}

/// An aktiebolag.
pub(crate) struct Company {
    pub(crate) id: SubjectId,
    pub(crate) firm: String,
    pub(crate) description: &'static str,
    pub(crate) status: &'static str,
    pub(crate) registered: Date,
    /// Indexes into [`World::persons`] with their roles.
    pub(crate) board: Vec<(usize, BoardRole)>,
}

/// Everyone and everything the synthetic registers describe.
pub(crate) struct World {
    pub(crate) persons: Vec<Person>,
    pub(crate) households: Vec<Household>,
    pub(crate) companies: Vec<Company>,
}

/// One aktiebolag for every this many persons (at least one as soon as there is an adult).
const PERSONS_PER_COMPANY: usize = 25;

impl World {
    /// The world of `persons` persons for `seed`: the same arguments give the same world.
    pub(crate) fn generate(seed: u64, persons: usize) -> Result<Self, IdentifierError> {
        let mut rng = Rng::new(seed);
        let mut issuer = Issuer::default();
        let mut world = World {
            persons: Vec::with_capacity(persons),
            households: Vec::new(),
            companies: Vec::new(),
        };
        while world.persons.len() < persons {
            world.add_household(&mut rng, &mut issuer, persons)?;
        }
        let adults: Vec<usize> = (0..world.persons.len())
            .filter(|&index| world.persons[index].is_adult())
            .collect();
        if !adults.is_empty() {
            for _ in 0..persons.div_ceil(PERSONS_PER_COMPANY) {
                let company = company(&mut rng, &mut issuer, &adults)?;
                world.companies.push(company);
            }
        }
        super::facts::draw(&mut rng, &mut world);
        Ok(world)
    }

    /// Adds one household (1–2 adults, 0–3 children), stopping at `limit` persons.
    fn add_household(
        &mut self,
        rng: &mut Rng,
        issuer: &mut Issuer,
        limit: usize,
    ) -> Result<(), IdentifierError> {
        let city = rng.weighted(&words::CITIES);
        let adults = if rng.chance(550) { 2 } else { 1 };
        let children = rng.weighted(&[(550, 0), (200, 1), (170, 2), (80, 3)]);
        let index = self.households.len();
        let surname = rng.pick(&words::SURNAMES);
        let married = adults == 2 && rng.chance(600);
        let mut household = Household {
            city,
            street: rng.pick(city.streets),
            street_number: rng.between(1, 120),
            apartment: rng.between(1, 9) * 100 + rng.between(1, 5) + 1000,
            postcode: rng.between(city.postcodes.0, city.postcodes.1),
            moved_in: Date::between(rng, Date::new(2000, 1, 1), AS_OF),
            members: Vec::new(),
            adults: 0,
        };
        for position in 0..adults + children {
            if self.persons.len() >= limit {
                break;
            }
            let adult = position < adults;
            let own_surname = if adult && position > 0 && !married {
                rng.pick(&words::SURNAMES)
            } else {
                surname
            };
            let person = person(rng, issuer, adult, own_surname, married, index)?;
            household.members.push(self.persons.len());
            household.adults += usize::from(adult);
            self.persons.push(person);
        }
        self.households.push(household);
        Ok(())
    }
}

fn person(
    rng: &mut Rng,
    issuer: &mut Issuer,
    adult: bool,
    surname: &'static str,
    married: bool,
    household: usize,
) -> Result<Person, IdentifierError> {
    let man = rng.chance(500);
    // Samordningsnummer are for adults who came here to work or study.
    let series = if adult && rng.chance(50) {
        PersonSeries::Samordningsnummer
    } else {
        PersonSeries::Personnummer
    };
    let (born_from, born_to) = if adult {
        (Date::new(1940, 1, 1), AS_OF.months_before(12 * 20))
    } else {
        (AS_OF.months_before(12 * 18 - 1), AS_OF)
    };
    let (id, birth) = loop {
        let birth = Date::between(rng, born_from, born_to);
        if let Some(id) = issuer.person(rng, series, birth, man)? {
            break (id, birth);
        }
    };
    let citizenship = match series {
        PersonSeries::Samordningsnummer => rng.pick(&words::FOREIGN_CITIZENSHIPS),
        PersonSeries::Personnummer => rng.weighted(&words::CITIZENSHIPS),
    };
    let account = format!(
        "{} {:03} {:03} {:03}-{}",
        rng.pick(&words::CLEARING_NUMBERS),
        rng.between(100, 999),
        rng.below(1000),
        rng.below(1000),
        rng.below(10)
    );
    Ok(Person {
        id,
        given_name: if man {
            rng.pick(&words::GIVEN_NAMES_MEN)
        } else {
            rng.pick(&words::GIVEN_NAMES_WOMEN)
        },
        surname,
        birth,
        citizenship,
        household,
        protected_identity: rng.chance(20),
        postal_box: rng.chance(40).then(|| rng.between(100, 9999)),
        married: adult && married,
        account,
        facts: Facts::default(),
    })
}

fn company(
    rng: &mut Rng,
    issuer: &mut Issuer,
    adults: &[usize],
) -> Result<Company, IdentifierError> {
    let (sector, description) = rng.pick(&words::SECTORS);
    let mut board = Vec::new();
    let size = rng.between(1, 3) as usize;
    while board.len() < size.min(adults.len()) {
        let member = adults[rng.index(adults.len())];
        if board.iter().all(|&(existing, _)| existing != member) {
            let role = match board.len() {
                0 => BoardRole::Chair,
                1 if size == 3 => BoardRole::Member,
                _ => BoardRole::Deputy,
            };
            board.push((member, role));
        }
    }
    Ok(Company {
        id: issuer.aktiebolag(rng)?,
        firm: format!("{} {} AB", rng.pick(&words::COMPANY_NAMES), sector),
        description,
        status: rng.weighted(&words::COMPANY_STATUSES),
        registered: Date::between(rng, Date::new(1990, 1, 1), AS_OF.months_before(3)),
        board,
    })
}

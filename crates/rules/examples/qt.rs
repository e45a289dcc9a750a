use std::time::Instant;
fn main() {
    let rb = utbyte_rules::Rulebook::load_dir(std::path::Path::new("rulebook")).unwrap();
    let r: utbyte_rules::DisclosureRequest = serde_json::from_str(
        &std::fs::read_to_string("rulebook/requests/luffa-malmo-fk.json").unwrap(),
    )
    .unwrap();
    for _ in 0..1000 {
        rb.decide(&r).unwrap();
    }
    let n = 5000;
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(rb.decide(&r).unwrap());
    }
    println!("decide 5 fields: {:?}", t.elapsed() / n);
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(rb.cedar_requests(&r).unwrap());
    }
    println!("cedar_requests: {:?}", t.elapsed() / n);
    let reqs = rb.cedar_requests(&r).unwrap();
    let t = Instant::now();
    for _ in 0..n {
        std::hint::black_box(cedar_policy::Authorizer::new());
    }
    println!("Authorizer::new: {:?}", t.elapsed() / n);
    let a = cedar_policy::Authorizer::new();
    let t = Instant::now();
    for _ in 0..n {
        for q in &reqs {
            std::hint::black_box(a.is_authorized(q, rb.policy_set(), rb.entities()));
        }
    }
    println!("is_authorized x5 whole set: {:?}", t.elapsed() / n);
    let empty = cedar_policy::PolicySet::new();
    let t = Instant::now();
    for _ in 0..n {
        for q in &reqs {
            std::hint::black_box(a.is_authorized(q, &empty, rb.entities()));
        }
    }
    println!("is_authorized x5 empty set: {:?}", t.elapsed() / n);
    for (p, info) in rb.policies() {
        let mut one = cedar_policy::PolicySet::new();
        one.add(p.clone()).unwrap();
        let t = Instant::now();
        for _ in 0..n {
            for q in &reqs {
                std::hint::black_box(a.is_authorized(q, &one, rb.entities()));
            }
        }
        println!("  {:>8.2?} per field  {}", t.elapsed() / n / 5, info.id);
    }
}
#[allow(dead_code)]
fn more() {}

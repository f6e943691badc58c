//! The latent state drawn first for every customer: demographics, occupation and income,
//! household and housing, and the behavioural traits (risk appetite, digital engagement,
//! financial stress, dissatisfaction) that later drive transactions and outcomes.
//!
//! Protected attributes are deliberately *not* independent of everything else, as in a real
//! bank's book: regions differ in income level and age mix (and so in engagement and risk), gender
//! shifts the occupation mix mildly, and age drives risk appetite, engagement and housing.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;

/// A region of residence with its economic character.
pub(crate) struct Region {
    pub name: &'static str,
    pub weight: f64,
    /// Income level relative to the national median.
    pub income: f64,
    /// Rent level relative to the national median.
    pub rent: f64,
    /// How much older than average the population is (shifts the age mix).
    pub older: f64,
    /// Car ownership relative to average (cities have fewer cars).
    pub car: f64,
    /// Tilt of the occupation mix towards (positive) or away from well-paid jobs.
    pub tilt: f64,
    pub area_code: &'static str,
    /// The local public transport operator (card payments for tickets).
    pub transit: &'static str,
}

#[allow(clippy::too_many_arguments)] // a table row constructor
const fn r(
    name: &'static str,
    weight: f64,
    income: f64,
    rent: f64,
    older: f64,
    car: f64,
    tilt: f64,
    area_code: &'static str,
    transit: &'static str,
) -> Region {
    Region {
        name,
        weight,
        income,
        rent,
        older,
        car,
        tilt,
        area_code,
        transit,
    }
}

/// Regions and their relative levels, loosely after German federal-state statistics.
pub(crate) const REGIONS: &[Region] = &[
    r("Berlin", 0.10, 0.97, 1.05, -0.10, 0.65, 0.10, "30", "BVG"),
    r("Hamburg", 0.06, 1.14, 1.15, -0.05, 0.70, 0.50, "40", "HVV"),
    r("Bavaria", 0.17, 1.12, 1.15, 0.00, 1.10, 0.40, "89", "MVV"),
    r(
        "Baden-Wuerttemberg",
        0.14,
        1.10,
        1.05,
        0.00,
        1.10,
        0.40,
        "711",
        "VVS",
    ),
    r("Hesse", 0.08, 1.08, 1.05, 0.00, 1.00, 0.35, "69", "RMV"),
    r(
        "North Rhine-Westphalia",
        0.25,
        1.00,
        0.90,
        0.05,
        1.00,
        0.00,
        "221",
        "VRS",
    ),
    r("Saxony", 0.07, 0.82, 0.70, 0.35, 1.00, -0.40, "351", "DVB"),
    r(
        "Mecklenburg-Vorpommern",
        0.04,
        0.78,
        0.70,
        0.40,
        1.05,
        -0.50,
        "381",
        "RSAG",
    ),
];

/// An occupation with its income distribution and mix.
pub(crate) struct Occupation {
    pub name: &'static str,
    /// Median gross annual income in EUR.
    pub median: f64,
    /// Log-normal spread of income around the median.
    pub sigma: f64,
    pub female_share: f64,
    pub min_age: u32,
    pub max_age: u32,
    pub weight: f64,
}

#[allow(clippy::too_many_arguments)] // a table row constructor
const fn o(
    name: &'static str,
    median: f64,
    sigma: f64,
    female_share: f64,
    min_age: u32,
    max_age: u32,
    weight: f64,
) -> Occupation {
    Occupation {
        name,
        median,
        sigma,
        female_share,
        min_age,
        max_age,
        weight,
    }
}

pub(crate) const STUDENT: usize = 0;
pub(crate) const RETIREE: usize = 1;
pub(crate) const JOB_SEEKER: usize = 2;
const FIRST_WORKING: usize = 3;

/// Occupations: the first three are assigned by life stage, the rest drawn by weight.
pub(crate) const OCCUPATIONS: &[Occupation] = &[
    o("Student", 10_000.0, 0.35, 0.52, 18, 34, 0.0),
    o("Retiree", 23_000.0, 0.35, 0.55, 60, 85, 0.0),
    o("Job Seeker", 13_000.0, 0.20, 0.45, 18, 64, 0.0),
    o("Software Engineer", 72_000.0, 0.25, 0.22, 21, 67, 3.0),
    o("Nurse", 42_000.0, 0.15, 0.82, 20, 67, 4.0),
    o("Teacher", 56_000.0, 0.15, 0.72, 25, 67, 4.0),
    o("Retail Assistant", 28_000.0, 0.20, 0.66, 18, 67, 5.0),
    o("Electrician", 44_000.0, 0.18, 0.05, 18, 67, 3.0),
    o("Accountant", 58_000.0, 0.22, 0.56, 22, 67, 3.0),
    o("Physician", 110_000.0, 0.30, 0.48, 27, 72, 1.0),
    o("Lawyer", 92_000.0, 0.35, 0.46, 26, 72, 1.0),
    o("Sales Manager", 76_000.0, 0.30, 0.34, 25, 67, 2.0),
    o("Civil Servant", 52_000.0, 0.15, 0.53, 20, 67, 4.0),
    o("Truck Driver", 36_000.0, 0.15, 0.05, 21, 67, 3.0),
    o("Chef", 32_000.0, 0.20, 0.30, 18, 67, 2.0),
    o("Hairdresser", 24_000.0, 0.20, 0.86, 18, 67, 1.5),
    o("Mechanical Engineer", 70_000.0, 0.22, 0.15, 23, 67, 3.0),
    o("Marketing Specialist", 52_000.0, 0.25, 0.62, 22, 67, 2.0),
    o("Warehouse Worker", 30_000.0, 0.15, 0.25, 18, 67, 4.0),
    o("Office Clerk", 38_000.0, 0.18, 0.68, 18, 67, 6.0),
    o("Social Worker", 43_000.0, 0.15, 0.76, 22, 67, 2.0),
    o("Architect", 62_000.0, 0.28, 0.45, 25, 72, 1.0),
    o("Data Analyst", 62_000.0, 0.22, 0.36, 22, 67, 2.0),
    o("Pharmacist", 60_000.0, 0.18, 0.71, 25, 67, 1.0),
    o("Self-Employed", 50_000.0, 0.55, 0.35, 22, 75, 3.0),
    o("Construction Worker", 35_000.0, 0.18, 0.03, 18, 67, 3.0),
];

pub(crate) const GENDERS: &[&str] = &["Female", "Male", "Diverse"];
pub(crate) const AGE_BANDS: &[&str] = &["18-24", "25-34", "35-44", "45-54", "55-64", "65+"];

/// Who lives in the household.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Household {
    Single,
    Couple,
    Family,
}

/// How the customer lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Housing {
    Rent,
    Mortgage,
    Owns,
}

/// Everything drawn about a customer before any transaction exists.
#[derive(Debug, Clone)]
pub(crate) struct Profile {
    pub age: u32,
    pub gender: usize,
    pub region: usize,
    pub occupation: usize,
    /// Gross annual income in EUR.
    pub gross: f64,
    /// Net monthly income in EUR.
    pub net_monthly: f64,
    pub household: Household,
    pub kids: u32,
    pub housing: Housing,
    /// Appetite for investment risk, 0–1.
    pub risk: f64,
    /// Digital engagement, 0–1.
    pub engagement: f64,
    /// Financial stress, 0–1.
    pub stress: f64,
    /// Dissatisfaction with the bank, 0–1.
    pub dissat: f64,
    /// Target outflows as a share of net income.
    pub spend_ratio: f64,
    pub has_car: bool,
    /// Trips abroad per year.
    pub travel_rate: f64,
}

impl Profile {
    pub fn age_band(&self) -> &'static str {
        AGE_BANDS[match self.age {
            0..=24 => 0,
            25..=34 => 1,
            35..=44 => 2,
            45..=54 => 3,
            55..=64 => 4,
            _ => 5,
        }]
    }
}

pub(crate) fn normal(rng: &mut ChaCha8Rng) -> f64 {
    rng.sample(StandardNormal)
}

pub(crate) fn logistic(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// Pick an index with probability proportional to its weight.
pub(crate) fn pick_weighted(rng: &mut ChaCha8Rng, weights: &[f64]) -> usize {
    let total: f64 = weights.iter().sum();
    let mut x = rng.random::<f64>() * total;
    for (i, w) in weights.iter().enumerate() {
        if x < *w {
            return i;
        }
        x -= w;
    }
    weights.len() - 1
}

/// Net monthly pay from gross annual pay (German tax and social contributions, roughly).
fn net_monthly(gross: f64) -> f64 {
    let rate = match gross {
        g if g < 15_000.0 => 0.80,
        g if g < 30_000.0 => 0.70,
        g if g < 50_000.0 => 0.65,
        g if g < 80_000.0 => 0.61,
        _ => 0.57,
    };
    gross * rate / 12.0
}

/// Draw a customer's latent state.
pub(crate) fn draw(rng: &mut ChaCha8Rng) -> Profile {
    let region = pick_weighted(rng, &REGIONS.iter().map(|r| r.weight).collect::<Vec<_>>());
    let reg = &REGIONS[region];

    // Age: adult population mix, older in the east, younger in the cities.
    let o = reg.older;
    let band_w = [
        0.09 * (1.0 - o * 0.6),
        0.16 * (1.0 - o * 0.5),
        0.16,
        0.17,
        0.19 * (1.0 + o * 0.3),
        0.23 * (1.0 + o),
    ];
    let band = pick_weighted(rng, &band_w);
    let (lo, hi) = [(18, 24), (25, 34), (35, 44), (45, 54), (55, 64), (65, 85)][band];
    let age: u32 = if band == 5 {
        // Fewer of the very old.
        let u: f64 = rng.random();
        65 + ((u * u) * 21.0) as u32
    } else {
        rng.random_range(lo..=hi)
    };

    // Gender: women outlive men; a small share identify as diverse.
    let female_p = if age >= 75 { 0.58 } else { 0.50 };
    let u: f64 = rng.random();
    let gender = if u < 0.006 {
        2
    } else if u < 0.006 + female_p {
        0
    } else {
        1
    };

    // Occupation by life stage, then by weight, tilted by gender and the regional economy.
    let u: f64 = rng.random();
    let occupation = if age >= 67 || (age >= 63 && u < 0.5) {
        RETIREE
    } else if (age <= 24 && u < 0.45) || (age <= 29 && u < 0.08) {
        STUDENT
    } else if u > 0.955 {
        JOB_SEEKER
    } else {
        let w: Vec<f64> = OCCUPATIONS
            .iter()
            .enumerate()
            .map(|(i, oc)| {
                if i < FIRST_WORKING || age < oc.min_age || age > oc.max_age {
                    return 0.0;
                }
                let g = match gender {
                    0 => 0.35 + oc.female_share,
                    1 => 1.35 - oc.female_share,
                    _ => 0.85,
                };
                oc.weight * g * (oc.median / 50_000.0).powf(reg.tilt)
            })
            .collect();
        pick_weighted(rng, &w)
    };
    let occ = &OCCUPATIONS[occupation];

    // Income: log-normal around the occupation, scaled by region and experience.
    let experience = if occupation >= FIRST_WORKING {
        let years = (f64::from(age) - 22.0).clamp(0.0, 28.0);
        0.72 + 0.45 * (1.0 - (-years / 10.0).exp())
    } else {
        1.0
    };
    let region_factor = if occupation == RETIREE {
        reg.income.sqrt()
    } else {
        reg.income
    };
    let gross = (occ.median * region_factor * experience * (occ.sigma * normal(rng)).exp())
        .clamp(4_000.0, 900_000.0);
    let gross = gross.round();

    // Household.
    let (p_single, p_family) = match age {
        18..=24 => (0.80, 0.04),
        25..=34 => (0.45, 0.28),
        35..=49 => (0.25, 0.50),
        50..=59 => (0.28, 0.25),
        _ => (0.38, 0.02),
    };
    let u: f64 = rng.random();
    let household = if u < p_single {
        Household::Single
    } else if u < p_single + p_family {
        Household::Family
    } else {
        Household::Couple
    };
    let kids = if household == Household::Family {
        rng.random_range(1..=3)
    } else {
        0
    };

    // Housing: ownership rises with age and income, lower in the big cities.
    let inc = (gross / 45_000.0).ln();
    let city = if reg.car < 0.8 { -0.6 } else { 0.0 };
    let p_own = if age >= 50 {
        logistic(-0.8 + 1.2 * inc + city + 0.03 * f64::from(age - 50))
    } else {
        0.02
    };
    let p_mortgage = if (28..=64).contains(&age) && occupation >= FIRST_WORKING {
        logistic(
            -0.9 + 1.6 * inc
                + city
                + if household == Household::Family {
                    0.6
                } else {
                    0.0
                },
        )
    } else {
        0.0
    };
    let u: f64 = rng.random();
    let housing = if u < p_own {
        Housing::Owns
    } else if u < p_own + (1.0 - p_own) * p_mortgage {
        Housing::Mortgage
    } else {
        Housing::Rent
    };

    let a = f64::from(age) - 40.0;
    let male = if gender == 1 { 0.25 } else { 0.0 };
    let risk = logistic(-0.2 - 0.045 * a + 0.7 * inc + male + 0.8 * normal(rng));
    let engagement = logistic(1.1 - 0.06 * a + 0.3 * inc + 0.8 * normal(rng));
    let stress_z = -1.1 - 1.0 * inc
        + 0.3 * f64::from(kids)
        + if housing == Housing::Rent { 0.3 } else { 0.0 }
        + if occupation == JOB_SEEKER { 1.2 } else { 0.0 }
        + 0.9 * normal(rng);
    let stress = logistic(stress_z);
    let dissat = logistic(-1.3 + 2.0 * (stress - 0.3) + 0.9 * normal(rng));
    let spend_ratio = (0.80 + 0.22 * (stress - 0.3) + 0.07 * normal(rng)).clamp(0.6, 1.15);

    let car_p = 0.55
        * reg.car
        * if household == Household::Family {
            1.35
        } else {
            1.0
        }
        * if age < 23 { 0.5 } else { 1.0 }
        * (gross / 30_000.0).min(1.3);
    let has_car = rng.random::<f64>() < car_p.min(0.95);
    let travel_rate = ((1.2f64).ln() + 0.7 * inc + 0.6 * normal(rng))
        .exp()
        .min(6.0)
        * if age > 75 { 0.5 } else { 1.0 };

    Profile {
        age,
        gender,
        region,
        occupation,
        gross,
        net_monthly: net_monthly(gross),
        household,
        kids,
        housing,
        risk,
        engagement,
        stress,
        dissat,
        spend_ratio,
        has_car,
        travel_rate,
    }
}

//! Merchants with their ISO 18245 merchant category codes, grouped by spending category, plus
//! the counterparties of fixed payments (employers, landlords, utilities, insurers).

/// A merchant: display name, MCC (0 = none) and whether it sells online only.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Merchant {
    pub name: &'static str,
    pub mcc: u16,
    pub online: bool,
}

const fn m(name: &'static str, mcc: u16) -> Merchant {
    Merchant {
        name,
        mcc,
        online: false,
    }
}
const fn o(name: &'static str, mcc: u16) -> Merchant {
    Merchant {
        name,
        mcc,
        online: true,
    }
}

pub(crate) const GROCERS: &[Merchant] = &[
    m("REWE", 5411),
    m("EDEKA", 5411),
    m("ALDI SUED", 5411),
    m("ALDI NORD", 5411),
    m("LIDL", 5411),
    m("Kaufland", 5411),
    m("PENNY", 5411),
    m("Netto Marken-Discount", 5411),
    m("Bio Company", 5411),
    m("Baeckerei Kamps", 5462),
];
pub(crate) const RESTAURANTS: &[Merchant] = &[
    m("Vapiano", 5812),
    m("L'Osteria", 5812),
    m("Block House", 5812),
    m("Pizzeria Da Marco", 5812),
    m("Sushi Circle", 5812),
    m("Doener Haus", 5814),
    m("McDonald's", 5814),
    m("Burger King", 5814),
    m("Starbucks", 5814),
    o("Lieferando", 5814),
    o("Wolt", 5814),
    m("Brauhaus am Markt", 5813),
];
pub(crate) const TRANSPORT: &[Merchant] = &[
    o("Deutsche Bahn", 4112),
    o("Uber", 4121),
    o("FREE NOW", 4121),
    o("FlixBus", 4131),
    m("Taxi", 4121),
];
pub(crate) const FUEL: &[Merchant] = &[
    m("Aral", 5541),
    m("Shell", 5541),
    m("Esso", 5541),
    m("TotalEnergies", 5541),
    m("JET", 5541),
];
pub(crate) const SHOPPING: &[Merchant] = &[
    o("Amazon", 5999),
    o("Zalando", 5651),
    o("Otto", 5964),
    m("MediaMarkt", 5732),
    m("Saturn", 5732),
    m("IKEA", 5712),
    m("H&M", 5651),
    m("Primark", 5651),
    m("dm-drogerie markt", 5912),
    m("Rossmann", 5912),
    m("Decathlon", 5941),
    m("Thalia", 5942),
    m("Douglas", 5977),
    m("OBI", 5200),
    m("TK Maxx", 5311),
];
pub(crate) const ENTERTAINMENT: &[Merchant] = &[
    m("CinemaxX", 7832),
    o("Eventim", 7922),
    o("Steam", 5816),
    m("Bowling World", 7933),
    m("Zoo Eintritt", 7991),
];
pub(crate) const HEALTH: &[Merchant] = &[
    m("Apotheke am Markt", 5912),
    m("Arztpraxis Dr. Weber", 8011),
    m("Zahnarztpraxis Klein", 8021),
    m("Fielmann", 8043),
];
pub(crate) const ATMS: &[Merchant] = &[
    m("Sextant Bank ATM", 6011),
    m("Sparkasse ATM", 6011),
    m("Cash Group ATM", 6011),
];

/// Subscriptions: merchant and monthly price in minor units.
pub(crate) const SUBSCRIPTIONS: &[(Merchant, i64)] = &[
    (o("Netflix", 4899), 1_399),
    (o("Spotify", 4899), 1_099),
    (o("Disney+", 4899), 999),
    (o("Amazon Prime", 4899), 899),
    (o("YouTube Premium", 4899), 1_299),
    (o("DAZN", 4899), 3_499),
    (o("Apple iCloud+", 4816), 299),
    (o("Microsoft 365", 5734), 999),
    (o("Adobe Creative Cloud", 5734), 2_399),
    (o("McFit", 7997), 2_490),
    (o("Urban Sports Club", 7997), 4_900),
    (o("Audible", 5815), 995),
    (o("Deutschlandticket", 4111), 5_800),
    (o("PlayStation Plus", 5816), 899),
    (o("SPIEGEL+", 5994), 1_999),
];

pub(crate) const ELECTRICITY: &[Merchant] = &[
    m("Vattenfall", 4900),
    m("E.ON Energie", 4900),
    m("EnBW", 4900),
    m("Stadtwerke", 4900),
];
pub(crate) const TELECOM: &[Merchant] = &[
    m("Telekom Deutschland", 4814),
    m("Vodafone", 4814),
    m("O2 Telefonica", 4814),
    m("1&1", 4814),
];
pub(crate) const INSURERS: &[Merchant] = &[
    m("Allianz", 6300),
    m("HUK-COBURG", 6300),
    m("ERGO", 6300),
    m("AXA", 6300),
    m("Debeka", 6300),
];
pub(crate) const LANDLORDS: &[Merchant] = &[
    m("Vonovia", 6513),
    m("Deutsche Wohnen", 6513),
    m("LEG Immobilien", 6513),
    m("Hausverwaltung Mueller", 6513),
    m("Hausverwaltung Schmidt", 6513),
    m("Wohnungsbau eG", 6513),
];
pub(crate) const CHILDCARE: &[Merchant] = &[
    m("Kita Sonnenschein", 8351),
    m("Kita Regenbogen", 8351),
    m("Kinderladen e.V.", 8351),
];
pub(crate) const EMPLOYERS: &[&str] = &[
    "Siemens AG",
    "SAP SE",
    "Deutsche Bahn AG",
    "Allianz SE",
    "Charite Berlin",
    "Stadtverwaltung",
    "Bosch GmbH",
    "REWE Group",
    "Deutsche Post DHL",
    "BMW AG",
    "Helios Kliniken",
    "Landesamt fuer Finanzen",
    "Zalando SE",
    "Mittelstand GmbH",
    "Handwerksbetrieb Meyer",
    "Lufthansa Group",
];

pub(crate) const AIRLINES: &[Merchant] = &[
    o("Lufthansa", 4511),
    o("Eurowings", 4511),
    o("Ryanair", 4511),
    o("Condor", 4511),
    o("easyJet", 4511),
];
pub(crate) const HOTELS: &[Merchant] = &[
    m("Marriott", 7011),
    m("Hilton", 7011),
    m("NH Hotels", 7011),
    m("Melia", 7011),
    m("Hotel Central", 7011),
];
/// Holiday destinations customers actually visit.
pub(crate) const TRAVEL_COUNTRIES: &[&str] = &[
    "ES", "IT", "FR", "AT", "NL", "GR", "PT", "HR", "DK", "PL", "CZ", "CH", "US", "GB", "TR", "TH",
];

pub(crate) const BABY: &[Merchant] = &[
    m("BabyOne", 5641),
    m("dm-drogerie markt", 5912),
    o("Amazon", 5999),
    m("IKEA", 5712),
];
pub(crate) const CAR_DEALERS: &[Merchant] = &[
    m("Volkswagen Autohaus", 5511),
    m("BMW Niederlassung", 5511),
    m("Toyota Autohaus", 5511),
];
pub(crate) const MOVING: Merchant = m("Umzugsservice Express", 4214);
pub(crate) const FURNITURE: Merchant = m("IKEA", 5712);

/// Fraud: small "is this card alive" purchases, then the big hit, with the merchant's country.
pub(crate) const CARD_TEST: &[(Merchant, &str)] = &[
    (o("GIFTCARD-SHOP.NET", 5816), "US"),
    (o("DIGI-SERVICES LTD", 5818), "GB"),
    (o("PAYMNT*WEBSTORE", 5999), "NL"),
];
pub(crate) const CARD_TEST_BIG: Merchant = o("ElectroMax Online", 5732);
/// Fraud: big card-present spending abroad. These countries never appear as holidays.
pub(crate) const SPIKE_COUNTRIES: &[&str] = &["BR", "MX", "ID", "PH", "ZA", "VN", "CO", "MY"];
pub(crate) const SPIKE_MERCHANTS: &[Merchant] = &[
    m("Jewelry Boutique", 5944),
    m("Electronics Mall", 5732),
    m("Luxury Goods", 5311),
    m("ATM", 6011),
];
/// Fraud: account takeover transfers to a payee the customer never used.
pub(crate) const ATO_COUNTRIES: &[&str] = &["LT", "LV", "EE", "CY", "MT"];

//! Roles an API key can have. A customer-scoped key is an `app`-level key bound to one customer.

use crate::error::closed_enum;

closed_enum!(
    /// What a key may do: `admin` everything; `analyst` read all data; `reviewer` work the review
    /// queue and read; `app` the bank's apps (read and write customer data); `customer` one
    /// customer's own data only.
    Role, "role" {
        Admin => "admin", Analyst => "analyst", Reviewer => "reviewer", App => "app", Customer => "customer",
    }
);

//! dcom-types (being written)

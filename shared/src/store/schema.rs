//! The table's key and index definition: the one source of truth for the embedded store's
//! columns and indexes, the table created on the emulator, and (checked by a drift test)
//! the table in template.yaml.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyType {
    S,
    N,
}

impl KeyType {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::S => "S",
            KeyType::N => "N",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IndexDef {
    pub name: &'static str,
    pub pk: &'static str,
    pub sk: &'static str,
    pub sk_type: KeyType,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableDef {
    pub pk: &'static str,
    pub sk: &'static str,
    pub gsis: &'static [IndexDef],
    /// Epoch seconds after which DynamoDB may delete the item.
    pub ttl_attribute: &'static str,
}

/// Which index a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Index {
    Table,
    /// Users by creation; tickets by reporter; outbox by age.
    Gsi1,
    /// Users by type and status; tickets by assignee (or unassigned).
    Gsi2,
    /// Tickets by status.
    Gsi3,
    /// Approved engineers by load (numeric sort key).
    Gsi4,
}

/// Users by creation; tickets by reporter; outbox events and jobs by age.
pub const GSI1: IndexDef = IndexDef {
    name: "gsi1",
    pk: "gsi1pk",
    sk: "gsi1sk",
    sk_type: KeyType::S,
};
/// Users by type and status; tickets by assignee (or unassigned).
pub const GSI2: IndexDef = IndexDef {
    name: "gsi2",
    pk: "gsi2pk",
    sk: "gsi2sk",
    sk_type: KeyType::S,
};
/// Tickets by status.
pub const GSI3: IndexDef = IndexDef {
    name: "gsi3",
    pk: "gsi3pk",
    sk: "gsi3sk",
    sk_type: KeyType::S,
};
/// Approved engineers by load (numeric sort key, `keys::load_key`).
pub const GSI4: IndexDef = IndexDef {
    name: "gsi4",
    pk: "gsi4pk",
    sk: "gsi4sk",
    sk_type: KeyType::N,
};

pub const TABLE: TableDef = TableDef {
    pk: "pk",
    sk: "sk",
    gsis: &[GSI1, GSI2, GSI3, GSI4],
    ttl_attribute: "ttl",
};

impl Index {
    pub const GSIS: [Index; 4] = [Index::Gsi1, Index::Gsi2, Index::Gsi3, Index::Gsi4];

    /// The index definition, or None for the table itself.
    pub fn def(self) -> Option<&'static IndexDef> {
        match self {
            Index::Table => None,
            Index::Gsi1 => Some(&TABLE.gsis[0]),
            Index::Gsi2 => Some(&TABLE.gsis[1]),
            Index::Gsi3 => Some(&TABLE.gsis[2]),
            Index::Gsi4 => Some(&TABLE.gsis[3]),
        }
    }

    /// (partition key attribute, sort key attribute).
    pub fn key_attrs(self) -> (&'static str, &'static str) {
        match self.def() {
            None => (TABLE.pk, TABLE.sk),
            Some(d) => (d.pk, d.sk),
        }
    }
}

/// The table definition as JSON (`crm schema`), for tools that check template.yaml.
pub fn table_json() -> serde_json::Value {
    serde_json::json!({
        "partitionKey": TABLE.pk,
        "sortKey": TABLE.sk,
        "ttlAttribute": TABLE.ttl_attribute,
        "globalSecondaryIndexes": TABLE.gsis.iter().map(|g| serde_json::json!({
            "name": g.name,
            "partitionKey": g.pk,
            "sortKey": g.sk,
            "sortKeyType": g.sk_type.as_str(),
            "projection": "ALL",
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn index_accessors_agree_with_the_table() {
        assert_eq!(Index::Table.key_attrs(), ("pk", "sk"));
        for (i, idx) in Index::GSIS.iter().enumerate() {
            assert_eq!(idx.def(), Some(&TABLE.gsis[i]));
        }
        assert_eq!(Index::Gsi4.def().map(|d| d.sk_type), Some(KeyType::N));
    }
}

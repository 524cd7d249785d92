//! Controllers, processors and agreements are edited the same way: listed, read with their
//! version as ETag, created, updated with If-Match, deleted. This trait says how each kind
//! is stored and where it sits in the register, so one set of handlers serves all three.

use kluis_domain::register::{Agreement, Controller, ProcessingActivity, Processor, Register};
use kluis_store::{Store, StoreError, Versioned};
use serde::Serialize;
use serde::de::DeserializeOwned;
use time::OffsetDateTime;

pub trait Entity: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The name used in messages ("controller").
    const WHAT: &'static str;

    fn id(&self) -> &str;
    fn list(store: &Store)
    -> impl Future<Output = Result<Vec<Versioned<Self>>, StoreError>> + Send;
    fn get(
        store: &Store,
        id: &str,
    ) -> impl Future<Output = Result<Option<Versioned<Self>>, StoreError>> + Send;
    fn put(
        store: &Store,
        value: &Self,
        expected: Option<i64>,
        actor: &str,
        now: OffsetDateTime,
    ) -> impl Future<Output = Result<Versioned<Self>, StoreError>> + Send;
    /// The register's list of this kind, to validate a change in context.
    fn entries(register: &mut Register) -> &mut Vec<Self>;
}

/// Kinds that may be deleted; activities are retired instead, so their history stays.
pub trait Deletable: Entity {
    fn delete(
        store: &Store,
        id: &str,
        expected: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

macro_rules! entity {
    ($ty:ty, $what:literal, $field:ident, $list:ident, $get:ident, $put:ident, $delete:ident) => {
        impl Entity for $ty {
            const WHAT: &'static str = $what;

            fn id(&self) -> &str {
                &self.id
            }
            async fn list(store: &Store) -> Result<Vec<Versioned<Self>>, StoreError> {
                store.$list().await
            }
            async fn get(store: &Store, id: &str) -> Result<Option<Versioned<Self>>, StoreError> {
                store.$get(id).await
            }
            async fn put(
                store: &Store,
                value: &Self,
                expected: Option<i64>,
                actor: &str,
                now: OffsetDateTime,
            ) -> Result<Versioned<Self>, StoreError> {
                store.$put(value, expected, actor, now).await
            }
            fn entries(register: &mut Register) -> &mut Vec<Self> {
                &mut register.$field
            }
        }

        impl Deletable for $ty {
            async fn delete(store: &Store, id: &str, expected: i64) -> Result<(), StoreError> {
                store.$delete(id, expected).await
            }
        }
    };
}

entity!(
    Controller,
    "controller",
    controllers,
    controllers,
    controller,
    put_controller,
    delete_controller
);
entity!(
    Processor,
    "processor",
    processors,
    processors,
    processor,
    put_processor,
    delete_processor
);
entity!(
    Agreement,
    "agreement",
    agreements,
    agreements,
    agreement,
    put_agreement,
    delete_agreement
);

impl Entity for ProcessingActivity {
    const WHAT: &'static str = "processing activity";

    fn id(&self) -> &str {
        &self.id
    }
    async fn list(store: &Store) -> Result<Vec<Versioned<Self>>, StoreError> {
        store.activities(None).await
    }
    async fn get(store: &Store, id: &str) -> Result<Option<Versioned<Self>>, StoreError> {
        store.activity(id).await
    }
    async fn put(
        store: &Store,
        value: &Self,
        expected: Option<i64>,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<Versioned<Self>, StoreError> {
        store.put_activity(value, expected, actor, now).await
    }
    fn entries(register: &mut Register) -> &mut Vec<Self> {
        &mut register.activities
    }
}

//! Publish: where the issuer's documents are published. The [`Store`] trait is the whole
//! surface the publisher needs (read, write and delete an object), so a directory and an S3
//! bucket (with its set-up: Block Public Access, policy, tags) are interchangeable; what to
//! write, and whether anything changed, is planned in `objects`.
//!
//! `lock` keeps two runs from changing one bucket or directory at once (`lease`: its record).
//!
//! Pure: `objects`, `lease`.
//! I/O: `mod` (the trait, reading a plan and writing it), `dir`, `s3`, `lock`.

use std::future::Future;

use serde::Serialize;

use crate::publish::objects::{DesiredObject, ExistingObject, ObjectAction, PublishPlan};

pub mod dir;
pub mod lease;
pub mod lock;
pub mod objects;
pub mod s3;

/// Why reading or writing an object failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A filesystem error.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A remote store refused or failed.
    #[error("{action} {location}: {source}")]
    Remote {
        /// What was being done.
        action: &'static str,
        /// The object or bucket.
        location: String,
        /// What AWS said (its code and HTTP status kept), and what to do.
        #[source]
        source: Box<crate::aws::sdk::AwsError>,
    },
}

/// A place that holds published objects.
pub trait Store {
    /// A human description (`directory ./out`, `s3://bucket/prefix`).
    fn describe(&self) -> String;
    /// The object at `key`, or `None` if there is none.
    fn get(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<ExistingObject>, StoreError>> + Send;
    /// Writes `object` so that readers see either the old or the new bytes, never a mix.
    fn put(&self, object: &DesiredObject) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Removes the object at `key` (no error if there is none).
    fn delete(&self, key: &str) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Reads what exists at each of `desired`'s keys.
pub async fn read<S: Store + Sync>(
    store: &S,
    desired: &[DesiredObject],
) -> Result<Vec<Option<ExistingObject>>, StoreError> {
    // Side by side (each is a round trip to S3); the answers stay in `desired`'s order.
    futures_util::future::try_join_all(desired.iter().map(|object| store.get(&object.key))).await
}

/// Reads what exists and plans the publish of `desired`.
pub async fn plan<S: Store + Sync>(
    store: &S,
    desired: Vec<DesiredObject>,
) -> Result<PublishPlan, StoreError> {
    let existing = read(store, &desired).await?;
    Ok(crate::publish::objects::plan_publish(desired, existing))
}

/// What a publish did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PublishReport {
    /// The store.
    pub target: String,
    /// The keys written, in order.
    pub written: Vec<String>,
    /// The keys left as they were.
    pub unchanged: Vec<String>,
}

/// Writes the changed objects in plan order, stopping at the first failure so that a discovery
/// document never goes out ahead of the JWKS it points to.
pub async fn apply<S: Store + Sync>(
    store: &S,
    plan: &PublishPlan,
) -> Result<PublishReport, StoreError> {
    let mut report = PublishReport {
        target: store.describe(),
        written: Vec::new(),
        unchanged: Vec::new(),
    };
    for step in &plan.steps {
        if step.action == ObjectAction::Unchanged {
            report.unchanged.push(step.object.key.clone());
        } else {
            store.put(&step.object).await?;
            report.written.push(step.object.key.clone());
        }
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publish::objects::{plan_publish, JSON};
    use std::collections::HashMap;
    use std::sync::Mutex;

    /// An in-memory store whose writes to `fail_on` fail, to check the write order rules.
    struct MemStore {
        objects: Mutex<HashMap<String, Vec<u8>>>,
        fail_on: &'static str,
    }

    impl Store for MemStore {
        fn describe(&self) -> String {
            "memory".into()
        }
        async fn get(&self, key: &str) -> Result<Option<ExistingObject>, StoreError> {
            let o = self.objects.lock().unwrap().get(key).cloned();
            Ok(o.map(|body| ExistingObject {
                body,
                metadata: None,
            }))
        }
        async fn put(&self, object: &DesiredObject) -> Result<(), StoreError> {
            if object.key == self.fail_on {
                return Err(StoreError::Remote {
                    action: "writing",
                    location: object.key.clone(),
                    source: Box::new(crate::aws::sdk::AwsError::Call {
                        operation: "s3:PutObject",
                        message: "refused".into(),
                    }),
                });
            }
            self.objects
                .lock()
                .unwrap()
                .insert(object.key.clone(), object.body.clone());
            Ok(())
        }
        async fn delete(&self, key: &str) -> Result<(), StoreError> {
            self.objects.lock().unwrap().remove(key);
            Ok(())
        }
    }

    fn obj(key: &str, body: &str) -> DesiredObject {
        DesiredObject {
            key: key.into(),
            body: body.as_bytes().to_vec(),
            content_type: JSON,
            cache_control: None,
        }
    }

    #[tokio::test]
    async fn a_failed_jwks_write_leaves_the_old_discovery_in_place() {
        let store = MemStore {
            objects: Mutex::new(HashMap::from([
                ("jwks".to_string(), b"old-jwks".to_vec()),
                ("disc".to_string(), b"old-disc".to_vec()),
            ])),
            fail_on: "jwks",
        };
        let p = plan(
            &store,
            vec![obj("jwks", "new-jwks"), obj("disc", "new-disc")],
        )
        .await
        .unwrap();
        assert!(apply(&store, &p).await.is_err());
        let objects = store.objects.lock().unwrap();
        assert_eq!(objects["jwks"], b"old-jwks");
        assert_eq!(
            objects["disc"], b"old-disc",
            "discovery went out although its JWKS failed"
        );
    }

    #[tokio::test]
    async fn only_changed_objects_are_written_in_plan_order() {
        let store = MemStore {
            objects: Mutex::new(HashMap::from([("disc".to_string(), b"d".to_vec())])),
            fail_on: "none",
        };
        let p = plan_publish(
            vec![obj("jwks", "j"), obj("disc", "d")],
            vec![
                None,
                Some(ExistingObject {
                    body: b"d".to_vec(),
                    metadata: None,
                }),
            ],
        );
        let r = apply(&store, &p).await.unwrap();
        assert_eq!(r.written, vec!["jwks"]);
        assert_eq!(r.unchanged, vec!["disc"]);
    }
}

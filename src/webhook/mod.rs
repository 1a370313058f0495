//! The pod-identity webhook: what gives a pod of an annotated ServiceAccount its AWS
//! credentials (`AWS_ROLE_ARN`, `AWS_WEB_IDENTITY_TOKEN_FILE`, a projected token with the right
//! audience), compatible with AWS's amazon-eks-pod-identity-webhook. `review` reads an
//! AdmissionReview and writes the response; `mutate` turns a pod and its ServiceAccount's
//! identity into a JSONPatch; `accounts` reads ServiceAccount objects (YAML files, API objects)
//! into the directory the webhook looks pods up in; `install` renders the Secret and
//! MutatingWebhookConfiguration. The adapters fill that directory (`source`: a file reloaded on
//! change, or the Kubernetes API watched through `kube`), make certificates (`certs`) and serve
//! HTTPS (`server`).
//!
//! Pure: `review`, `mutate`, `accounts`, `install`.
//! I/O: `source`, `certs`, `server`.

pub mod accounts;
pub mod certs;
pub mod install;
pub mod mutate;
pub mod review;
pub mod server;
pub mod source;

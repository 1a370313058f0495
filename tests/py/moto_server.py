"""moto's server, with the few AWS behaviours the tests need that moto 5 lacks.

Started by scripts/test.sh instead of `moto_server`, with the same arguments. Each patch below
implements what the AWS API reference says the call does, so that the code calling it is tested
against a server and not only as a plan:

- IAM `AddClientIDToOpenIDConnectProvider` / `RemoveClientIDFromOpenIDConnectProvider`: moto
  answers both with HTTP 500 (not implemented). AWS: adding an ID the provider already lists,
  or removing one it does not, succeeds and changes nothing; a client ID is 1 to 255
  characters; a provider lists at most 100.

- CloudFront, where moto 5 is less strict than CloudFront (the CloudFront API reference):
  - an origin keeps `OriginAccessControlId` and `S3OriginConfig` as given (moto drops both),
    and `ListOriginAccessControls` names each one's origin type (moto leaves it out);
  - every update and delete (`UpdateDistribution`, `DeleteDistribution`,
    `UpdateOriginAccessControl`, `DeleteOriginAccessControl`, `UpdateCachePolicy`,
    `DeleteCachePolicy`) requires `IfMatch`: missing, `InvalidIfMatchVersion` (HTTP 400); not
    the resource's current ETag, `PreconditionFailed` (HTTP 412); moto accepts any value or
    none. Every update returns a new ETag, and an updated distribution is back `InProgress`
    until it deploys again (moto keeps one ETag and stays `Deployed`);
  - a default cache behaviour keeps its `FunctionAssociations` and
    `LambdaFunctionAssociations` as given (moto drops both), so a viewer-response function a
    person attached is seen;
  - `DeleteDistribution` refuses a distribution that is still enabled, or disabled but not yet
    deployed (`DistributionNotDisabled`, HTTP 409);
  - `DeleteOriginAccessControl` refuses an origin access control a distribution still uses
    (`OriginAccessControlInUse`, HTTP 409);
  - cache policies (`CreateCachePolicy`, `GetCachePolicy`, `GetCachePolicyConfig`,
    `UpdateCachePolicy` with `IfMatch`, `DeleteCachePolicy` with `IfMatch`, refused while a
    distribution uses it, and `ListCachePolicies`), which moto does not implement at all; like
    CloudFront, a cache policy whose TTLs are all 0 cannot cache compressed responses
    (`InvalidArgument`, HTTP 400).

Two aids for the tests, which change nothing of what a caller sees otherwise:

- every CloudFront request that sets tags (`CreateDistributionWithTags`, `TagResource`) is
  logged as one line `irsa-issuer-test tags {json}` (the operation, the resource, the tags it
  carried), so a test can evaluate each request, with its aws:RequestTag and aws:TagKeys, against
  the policy `iam-policy` printed, from what the server received;
- `CreateInvalidation` on a distribution tagged `irsa-issuer-test/refuse-invalidation` fails with
  `TooManyInvalidationsInProgress` (HTTP 400), which CloudFront answers when too many are in
  progress: how a test makes an invalidation fail after the documents were written.
"""

import json

import sys

from moto.core.responses import ActionResult, EmptyResult
from moto.iam import responses as iam_responses
from moto.iam.exceptions import LimitExceededException, ValidationError


def _provider(self):
    arn = self._get_param("OpenIDConnectProviderArn")
    return self.backend.get_open_id_connect_provider(arn)


def _client_id(self):
    client_id = self._get_param("ClientID") or ""
    if not 1 <= len(client_id) <= 255:
        raise ValidationError(
            "1 validation error detected: Value at 'clientID' failed to satisfy constraint: "
            "Member must have length between 1 and 255"
        )
    return client_id


def add_client_id_to_open_id_connect_provider(self) -> ActionResult:
    provider = _provider(self)
    client_id = _client_id(self)
    if client_id not in provider.client_id_list:
        if len(provider.client_id_list) >= 100:
            raise LimitExceededException("Cannot exceed quota for ClientIdsPerOpenIdConnectProvider: 100")
        provider.client_id_list.append(client_id)
    return EmptyResult()


def remove_client_id_from_open_id_connect_provider(self) -> ActionResult:
    provider = _provider(self)
    client_id = _client_id(self)
    if client_id in provider.client_id_list:
        provider.client_id_list.remove(client_id)
    return EmptyResult()


iam_responses.IamResponse.add_client_id_to_open_id_connect_provider = (
    add_client_id_to_open_id_connect_provider
)
iam_responses.IamResponse.remove_client_id_from_open_id_connect_provider = (
    remove_client_id_from_open_id_connect_provider
)


# --- CloudFront ---------------------------------------------------------------------------

from moto.cloudfront import models as cf_models  # noqa: E402
from moto.cloudfront import responses as cf_responses  # noqa: E402
from moto.cloudfront import urls as cf_urls  # noqa: E402
from moto.cloudfront.exceptions import CloudFrontException  # noqa: E402
from moto.moto_api._internal import mock_random  # noqa: E402
from moto.core.utils import utcnow  # noqa: E402


class _Error(CloudFrontException):
    """An error CloudFront's model knows: its HTTP status comes from the model (`status` is
    what the model says, kept here for the reader)."""

    def __init__(self, code, message, status):
        super().__init__(code, message)
        self.status = status


def _precondition():
    return _Error("PreconditionFailed", "The precondition given in one or more of the request fields evaluated to false.", 412)


def _check_etag(etag, if_match):
    """CloudFront's rule for every update and delete: IfMatch present, and the current ETag."""
    if not if_match:
        raise _Error("InvalidIfMatchVersion", "The If-Match version is missing or not valid for the resource.", 400)
    if if_match != etag:
        raise _precondition()


_origin_init = cf_models.Origin.__init__


def _origin_with_access_control(self, origin):
    _origin_init(self, origin)
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""
    self.s3_origin_config = origin.get("S3OriginConfig")


cf_models.Origin.__init__ = _origin_with_access_control

_behaviour_init = cf_models.DefaultCacheBehaviour.__init__


def _behaviour_with_associations(self, config):
    _behaviour_init(self, config)
    for attr, key in (("function_associations", "FunctionAssociations"),
                      ("lambda_function_associations", "LambdaFunctionAssociations")):
        given = config.get(key) or {}
        items = given.get("Items") or []
        if isinstance(items, dict):  # one item, as the query parser gives it
            items = list(items.values())[0]
            items = items if isinstance(items, list) else [items]
        setattr(self, attr, {"Quantity": len(items), "Items": items} if items else {"Quantity": 0})


cf_models.DefaultCacheBehaviour.__init__ = _behaviour_with_associations

# ListOriginAccessControls names the origin type as the API does (moto's attribute is origin_type).
cf_models.OriginAccessControl.origin_access_control_origin_type = property(lambda self: self.origin_type)

_backend = cf_models.CloudFrontBackend
_update_distribution = _backend.update_distribution
_delete_distribution = _backend.delete_distribution
_delete_oac = _backend.delete_origin_access_control


def _check_if_match(dist, if_match):
    _check_etag(dist.etag, if_match)


def update_distribution(self, dist_config, _id, if_match):
    if _id in self.distributions:
        _check_if_match(self.distributions[_id], if_match)
    dist, location, _ = _update_distribution(self, dist_config, _id, if_match)
    dist.etag = cf_models.random_id()
    dist.status = "InProgress"
    dist._tick = 0
    return dist, location, dist.etag


def delete_distribution(self, distribution_id, if_match):
    dist = self.distributions.get(distribution_id)
    if dist is not None:
        _check_if_match(dist, if_match)
        enabled = dist.distribution_config.Enabled
        if enabled in (True, "true", "True") or dist.status != "Deployed":
            raise _Error(
                "DistributionNotDisabled",
                "The distribution you are trying to delete has not been disabled.",
                409,
            )
    _delete_distribution(self, distribution_id, if_match)


def _uses(self, attr, value):
    for dist in self.distributions.values():
        config = dist.distribution_config
        if attr == "origin_access_control_id":
            if any(getattr(o, attr, "") == value for o in config.Origins["Items"]):
                return True
        elif config.DefaultCacheBehavior.cache_policy_id == value:
            return True
    return False


def delete_origin_access_control(self, control_id):
    self.get_origin_access_control(control_id)
    if _uses(self, "origin_access_control_id", control_id):
        raise _Error("OriginAccessControlInUse", "The origin access control is in use.", 409)
    _delete_oac(self, control_id)


def update_origin_access_control_response(self):
    control = self.backend.get_origin_access_control(self._get_param("Id"))
    _check_etag(control.etag, self._get_param("IfMatch"))
    control.update(self._get_param("OriginAccessControlConfig", {}))
    control.etag = cf_models.random_id()
    return cf_responses.ActionResult({
        "OriginAccessControl": {"Id": control.id, "OriginAccessControlConfig": control},
        "ETag": control.etag,
    })


def delete_origin_access_control_response(self):
    control_id = self._get_param("Id")
    control = self.backend.get_origin_access_control(control_id)
    _check_etag(control.etag, self._get_param("IfMatch"))
    self.backend.delete_origin_access_control(control_id)
    return cf_responses.EmptyResult()


class CachePolicy:
    def __init__(self, config):
        self.id = str(mock_random.uuid4())
        self.config = config
        self.etag = cf_models.random_id()
        self.last_modified_time = utcnow()

    def as_dict(self):
        return {"Id": self.id, "LastModifiedTime": self.last_modified_time, "CachePolicyConfig": self.config}


def _policies(self):
    if not hasattr(self, "cache_policies"):
        self.cache_policies = {}
    return self.cache_policies


def _policy(self, policy_id):
    policy = _policies(self).get(policy_id)
    if policy is None:
        raise _Error("NoSuchCachePolicy", "The cache policy does not exist.", 404)
    return policy


def _check_policy_config(self, config, policy_id=None):
    name = config.get("Name") or ""
    if not name or len(name) > 128:
        raise _Error("InvalidArgument", "A cache policy name is 1 to 128 characters.", 400)
    for other in _policies(self).values():
        if other.config.get("Name") == name and other.id != policy_id:
            raise _Error("CachePolicyAlreadyExists", "A cache policy with this name already exists.", 409)
    ttls = [int(config.get(k) or 0) for k in ("MinTTL", "DefaultTTL", "MaxTTL")]
    if not ttls[0] <= ttls[1] <= ttls[2]:
        raise _Error("InvalidArgument", "MinTTL <= DefaultTTL <= MaxTTL is required.", 400)
    key = config.get("ParametersInCacheKeyAndForwardedToOrigin") or {}
    compressed = any(str(key.get(k)).lower() == "true"
                     for k in ("EnableAcceptEncodingGzip", "EnableAcceptEncodingBrotli"))
    if ttls == [0, 0, 0] and compressed:
        raise _Error("InvalidArgument", "The parameter EnableAcceptEncodingGzip/Brotli is invalid when caching is disabled (all TTLs 0).", 400)


def create_cache_policy(self):
    config = self._get_param("CachePolicyConfig", {})
    _check_policy_config(self.backend, config)
    policy = CachePolicy(config)
    _policies(self.backend)[policy.id] = policy
    return cf_responses.ActionResult({
        "CachePolicy": policy.as_dict(),
        "ETag": policy.etag,
        "Location": f"https://cloudfront.amazonaws.com/2020-05-31/cache-policy/{policy.id}",
    })


def get_cache_policy(self):
    policy = _policy(self.backend, self._get_param("Id"))
    return cf_responses.ActionResult({"CachePolicy": policy.as_dict(), "ETag": policy.etag})


def get_cache_policy_config(self):
    policy = _policy(self.backend, self._get_param("Id"))
    return cf_responses.ActionResult({"CachePolicyConfig": policy.config, "ETag": policy.etag})


def update_cache_policy(self):
    policy = _policy(self.backend, self._get_param("Id"))
    _check_etag(policy.etag, self._get_param("IfMatch"))
    config = self._get_param("CachePolicyConfig", {})
    _check_policy_config(self.backend, config, policy.id)
    policy.config = config
    policy.etag = cf_models.random_id()
    policy.last_modified_time = utcnow()
    return cf_responses.ActionResult({"CachePolicy": policy.as_dict(), "ETag": policy.etag})


def delete_cache_policy(self):
    policy = _policy(self.backend, self._get_param("Id"))
    _check_etag(policy.etag, self._get_param("IfMatch"))
    if _uses(self.backend, "cache_policy_id", policy.id):
        raise _Error("CachePolicyInUse", "The cache policy is in use.", 409)
    del _policies(self.backend)[policy.id]
    return cf_responses.EmptyResult()


def list_cache_policies(self):
    kind = self._get_param("Type")
    items = [] if kind == "managed" else list(_policies(self.backend).values())
    return cf_responses.ActionResult({
        "CachePolicyList": {
            "MaxItems": 100,
            "Quantity": len(items),
            "Items": [{"Type": "custom", "CachePolicy": p.as_dict()} for p in items] or None,
        }
    })


def _log_tags(op, resource, tags):
    print("irsa-issuer-test tags " + json.dumps({"op": op, "resource": resource, "tags": tags}),
          file=sys.stderr, flush=True)


_create_with_tags = cf_responses.CloudFrontResponse.create_distribution_with_tags
_tag_resource = cf_responses.CloudFrontResponse.tag_resource


def create_distribution_with_tags(self):
    items = self._get_param("DistributionConfigWithTags.Tags.Items", []) or []
    _log_tags("CreateDistributionWithTags", "*", {t["Key"]: t.get("Value") for t in items})
    return _create_with_tags(self)


def tag_resource(self):
    items = self._get_param("Tags.Items", []) or []
    _log_tags("TagResource", self._get_param("Resource"), {t["Key"]: t.get("Value") for t in items})
    return _tag_resource(self)


_create_invalidation = _backend.create_invalidation


def create_invalidation(self, dist_id, paths, caller_ref):
    dist, _ = self.get_distribution(dist_id)
    if "irsa-issuer-test/refuse-invalidation" in self.tagger.get_tag_dict_for_resource(dist.arn):
        raise _Error("TooManyInvalidationsInProgress",
                     "You have exceeded the maximum number of allowable InProgress invalidation batch requests.", 400)
    return _create_invalidation(self, dist_id, paths, caller_ref)


cf_responses.CloudFrontResponse.create_distribution_with_tags = create_distribution_with_tags
cf_responses.CloudFrontResponse.tag_resource = tag_resource
_backend.create_invalidation = create_invalidation
_backend.update_distribution = update_distribution
_backend.delete_distribution = delete_distribution
_backend.delete_origin_access_control = delete_origin_access_control
for _f in (create_cache_policy, get_cache_policy, get_cache_policy_config, update_cache_policy,
           delete_cache_policy, list_cache_policies):
    setattr(cf_responses.CloudFrontResponse, _f.__name__, _f)
cf_responses.CloudFrontResponse.update_origin_access_control = update_origin_access_control_response
cf_responses.CloudFrontResponse.delete_origin_access_control = delete_origin_access_control_response
cf_urls.url_paths.update({
    "{0}/2020-05-31/cache-policy$": cf_responses.CloudFrontResponse.dispatch,
    "{0}/2020-05-31/cache-policy/(?P<cache_policy_id>[^/]+)$": cf_responses.CloudFrontResponse.dispatch,
    "{0}/2020-05-31/cache-policy/(?P<cache_policy_id>[^/]+)/config$": cf_responses.CloudFrontResponse.dispatch,
})


if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])

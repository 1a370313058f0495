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
  - `UpdateDistribution` and `DeleteDistribution` require `IfMatch` to be the distribution's
    current ETag (`PreconditionFailed`, HTTP 412, otherwise; moto accepts any value), every
    update returns a new ETag and puts the distribution back `InProgress` until it deploys
    again (moto keeps one ETag and stays `Deployed`);
  - `DeleteDistribution` refuses a distribution that is still enabled, or disabled but not yet
    deployed (`DistributionNotDisabled`, HTTP 409);
  - `DeleteOriginAccessControl` refuses an origin access control a distribution still uses
    (`OriginAccessControlInUse`, HTTP 409);
  - cache policies (`CreateCachePolicy`, `GetCachePolicy`, `GetCachePolicyConfig`,
    `UpdateCachePolicy` with `IfMatch`, `DeleteCachePolicy` with `IfMatch`, refused while a
    distribution uses it, and `ListCachePolicies`), which moto does not implement at all.
"""

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
    return _Error("PreconditionFailed", "The If-Match version is missing or not valid for the resource.", 412)


_origin_init = cf_models.Origin.__init__


def _origin_with_access_control(self, origin):
    _origin_init(self, origin)
    self.origin_access_control_id = origin.get("OriginAccessControlId") or ""
    self.s3_origin_config = origin.get("S3OriginConfig")


cf_models.Origin.__init__ = _origin_with_access_control

# ListOriginAccessControls names the origin type as the API does (moto's attribute is origin_type).
cf_models.OriginAccessControl.origin_access_control_origin_type = property(lambda self: self.origin_type)

_backend = cf_models.CloudFrontBackend
_update_distribution = _backend.update_distribution
_delete_distribution = _backend.delete_distribution
_delete_oac = _backend.delete_origin_access_control


def _check_if_match(dist, if_match):
    if not if_match or if_match != dist.etag:
        raise _precondition()


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
    if self._get_param("IfMatch") != policy.etag:
        raise _precondition()
    config = self._get_param("CachePolicyConfig", {})
    _check_policy_config(self.backend, config, policy.id)
    policy.config = config
    policy.etag = cf_models.random_id()
    policy.last_modified_time = utcnow()
    return cf_responses.ActionResult({"CachePolicy": policy.as_dict(), "ETag": policy.etag})


def delete_cache_policy(self):
    policy = _policy(self.backend, self._get_param("Id"))
    if self._get_param("IfMatch") != policy.etag:
        raise _precondition()
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


_backend.update_distribution = update_distribution
_backend.delete_distribution = delete_distribution
_backend.delete_origin_access_control = delete_origin_access_control
for _f in (create_cache_policy, get_cache_policy, get_cache_policy_config, update_cache_policy,
           delete_cache_policy, list_cache_policies):
    setattr(cf_responses.CloudFrontResponse, _f.__name__, _f)
cf_urls.url_paths.update({
    "{0}/2020-05-31/cache-policy$": cf_responses.CloudFrontResponse.dispatch,
    "{0}/2020-05-31/cache-policy/(?P<cache_policy_id>[^/]+)$": cf_responses.CloudFrontResponse.dispatch,
    "{0}/2020-05-31/cache-policy/(?P<cache_policy_id>[^/]+)/config$": cf_responses.CloudFrontResponse.dispatch,
})


if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])

"""moto's server, with the few AWS behaviours the tests need that moto 5 lacks.

Started by scripts/test.sh instead of `moto_server`, with the same arguments. Each patch below
implements what the AWS API reference says the call does, so that the code calling it is tested
against a server and not only as a plan:

- IAM `AddClientIDToOpenIDConnectProvider` / `RemoveClientIDFromOpenIDConnectProvider`: moto
  answers both with HTTP 500 (not implemented). AWS: adding an ID the provider already lists,
  or removing one it does not, succeeds and changes nothing; a client ID is 1 to 255
  characters; a provider lists at most 100.
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


if __name__ == "__main__":
    from moto.server import main

    main(sys.argv[1:])

"""An OAuth connector: the authorization-code flow with PKCE, provider URL from settings.

The platform calls ``get_authorization_url`` (and keeps the returned
``code_verifier``), sends the user there, then calls
``handle_authorization_callback`` with the URI the provider redirected to and
the verifier; the tokens come back, and later ``refresh_access_token``. All
three are the library's defaults, switched on by ``oauth_settings``; only
``validate_credentials`` is written here.

    python -m connector call examples/oauth_connector.py get_authorization_url --json '{
      "settings": {"provider_url": "https://login.example.com"},
      "request": {"client_id": "abc", "scopes": [], "state": "xyz",
                  "redirect_uri": "https://app.example.com/callback"}}'
"""

from __future__ import annotations

from typing import Any

import msgspec

from connector import (
    DescriptionData,
    HTTPClient,
    Integration,
    OAuthCredential,
    OAuthSettings,
    ValidateCredentialsRequest,
    ValidateCredentialsResponse,
    ValidatedCredentials,
    get_oauth,
    get_settings,
    run,
)


class ProviderSettings(msgspec.Struct, kw_only=True):
    provider_url: str  # e.g. "https://login.example.com"; the endpoints hang off it


def provider_url(request: Any) -> str:
    """The provider's base URL from the request's settings (bad_request if missing)."""
    return get_settings(request, ProviderSettings).provider_url.rstrip("/")


integration = Integration(
    app_id="oauth-example",
    version="0.1.0",
    auth=OAuthCredential,
    settings_model=ProviderSettings,
    description_data=DescriptionData(
        user_friendly_name="OAuth example",
        description="Signs users in with any OAuth 2.0 provider that supports PKCE.",
    ),
    oauth_settings=OAuthSettings(
        authorization_url=lambda request: f"{provider_url(request)}/authorize",
        token_url=lambda request: f"{provider_url(request)}/token",
        scopes={"validate_credentials": "openid profile"},
        pkce=True,
    ),
)


@integration.capability
async def validate_credentials(
    request: ValidateCredentialsRequest, settings: ProviderSettings
) -> ValidateCredentialsResponse:
    token = get_oauth(request).access_token
    async with HTTPClient(settings.provider_url, bearer_token=token) as client:
        user = (await client.get("/userinfo")).raise_for_status().json()
    return ValidateCredentialsResponse(
        response=ValidatedCredentials(valid=True, unique_tenant_id=str(user["tenant"]))
    )


if __name__ == "__main__":
    run(integration)

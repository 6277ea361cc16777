"""A connector that takes two credentials, in memory: an API token and an admin login.

A request carries `credentials`, a list of credentials by id, instead of `auth`:
"api" (a token) for every capability, "admin" (basic) only for delete_account.
Dispatch refuses a set that no allowed combination matches; delete_account asks
for "admin" with `get_credential`, a bad_request naming it when absent. The
library registers `validate_credential_config`, which also runs the "api"
credential's own check (its tokens start with "tok-").

    python -m connector call examples/multi_credential_connector.py list_accounts --json \
      '{"credentials": [{"id": "api", "token": {"token": "tok-demo"}}], "request": {}}'
    python -m connector call examples/multi_credential_connector.py validate_credential_config \
      --json '{"request": {"credential": {"id": "api", "token": {"token": "demo"}}}}'
"""

from __future__ import annotations

import hmac

from connector import (
    AccountStatus,
    AuthenticationError,
    BasicCredential,
    CredentialConfig,
    DeleteAccountRequest,
    DeleteAccountResponse,
    DeletedAccount,
    FoundAccountData,
    Integration,
    ListAccountsRequest,
    ListAccountsResponse,
    NotFoundError,
    TokenCredential,
    get_credential,
    run,
)

API_TOKEN = "tok-demo"
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "correct-horse"
SEED = ("u1", "u2", "u3")


def api_token_problems(credential: TokenCredential) -> list[str]:
    """The "api" credential's own check, run by validate_credential_config."""
    return [] if credential.token.startswith("tok-") else ['an API token starts with "tok-"']


integration = Integration(
    app_id="multi-credential-example",
    version="0.1.0",
    credentials=[
        CredentialConfig(
            id="api",
            type=TokenCredential,
            description="API token",
            validation=api_token_problems,
        ),
        CredentialConfig(
            id="admin",
            type=BasicCredential,
            description="Administrator login, needed to delete accounts",
            optional=True,
        ),
    ],
    allowed_credentials=[("api",), ("api", "admin")],
)

# The directory, kept per process (each CLI call starts from SEED).
USERS: dict[str, FoundAccountData] = {}


def reset() -> None:
    """Puts the directory back to its seeded state."""
    USERS.clear()
    for user in SEED:
        USERS[user] = FoundAccountData(
            integration_specific_id=user,
            email=f"{user}@example.com",
            user_status=AccountStatus.ACTIVE,
        )


reset()


def check_api_token(request: ListAccountsRequest | DeleteAccountRequest) -> None:
    token: str = get_credential(request, "api").token
    if not hmac.compare_digest(token.encode(), API_TOKEN.encode()):
        raise AuthenticationError("The API token was refused")


@integration.capability
async def list_accounts(request: ListAccountsRequest) -> ListAccountsResponse:
    check_api_token(request)  # "admin" may be there too; it is not needed here
    return ListAccountsResponse(response=list(USERS.values()))


@integration.capability
async def delete_account(request: DeleteAccountRequest) -> DeleteAccountResponse:
    check_api_token(request)
    admin: BasicCredential = get_credential(request, "admin")  # bad_request without it
    login_ok = hmac.compare_digest(admin.username.encode(), ADMIN_USERNAME.encode())
    password_ok = hmac.compare_digest(admin.password.encode(), ADMIN_PASSWORD.encode())
    if not (login_ok and password_ok):
        raise AuthenticationError("The administrator login was refused")
    account_id = request.request.account_id
    if USERS.pop(account_id, None) is None:
        raise NotFoundError(f"No account {account_id!r}")
    return DeleteAccountResponse(
        response=DeletedAccount(status=AccountStatus.DELETED, deleted=True)
    )


if __name__ == "__main__":
    run(integration)

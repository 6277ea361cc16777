"""A request payload each capability of the example accepts on its seeded directory."""

from typing import Any

PAYLOADS: dict[str, dict[str, Any]] = {
    "validate_credentials": {},
    "list_accounts": {},
    "list_resources": {},
    "list_entitlements": {},
    "find_entitlement_associations": {},
    "get_last_activity": {"account_ids": ["user-0001"]},
    "assign_entitlement": {
        "account_integration_specific_id": "user-0001",
        "resource_integration_specific_id": "workspace",
        "resource_type": "workspace",
        "entitlement_type": "group",
        "entitlement_integration_specific_id": "admins",
    },
    "unassign_entitlement": {
        "account_integration_specific_id": "user-0001",
        "resource_integration_specific_id": "workspace",
        "resource_type": "workspace",
        "entitlement_type": "role",
        "entitlement_integration_specific_id": "viewer",
    },
    "create_account": {"email": "new@example.com", "entitlements": []},
    "activate_account": {"account_id": "user-0001"},
    "deactivate_account": {"account_id": "user-0001"},
    "delete_account": {"account_id": "user-0001"},
    "list_custom_attributes_schema": {},
    # Every 4.x integration's own:
    "app_info": {},
    "probe_integration": {},
}

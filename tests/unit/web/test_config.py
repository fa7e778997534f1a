"""Settings come from the environment and an optional TOML file; bad values are named."""

from __future__ import annotations

from pathlib import Path

import pytest
import trustme
from cryptography.hazmat.primitives import serialization

from web.config import ConfigError, load_settings


def test_defaults_and_generated_secret(tmp_path: Path) -> None:
    env = {"FLURFUNK_DATA_DIR": str(tmp_path), "FLURFUNK_CONFIG": str(tmp_path / "none.toml")}
    settings = load_settings(env)
    assert settings.public_url == "http://127.0.0.1:8000"
    assert settings.domain == "127.0.0.1:8000"
    assert settings.database_url == f"sqlite+aiosqlite:///{tmp_path / 'flurfunk.db'}"
    assert settings.max_status_chars == 5000
    assert len(settings.secret_key) > 40
    assert load_settings(env).secret_key == settings.secret_key  # kept across restarts


def test_toml_file_and_environment_precedence(tmp_path: Path) -> None:
    config = tmp_path / "flurfunk.toml"
    config.write_text(
        'public_url = "https://hq.corp.example"\nMAX_STATUS_CHARS = 800\n'
        'allowlist = ["sales.corp.example", "*.dev.corp.example"]\n'
    )
    env = {
        "FLURFUNK_CONFIG": str(config),
        "FLURFUNK_DATA_DIR": str(tmp_path),
        "FLURFUNK_MAX_STATUS_CHARS": "1200",
        "FLURFUNK_CONNECT_TO": "sales.corp.example=127.0.0.1:8002",
    }
    settings = load_settings(env)
    assert settings.public_url == "https://hq.corp.example"
    assert settings.url("/users/ada") == "https://hq.corp.example/users/ada"
    assert settings.max_status_chars == 1200
    assert settings.allowlist == ("sales.corp.example", "*.dev.corp.example")
    assert settings.connect_to == (("sales.corp.example", "127.0.0.1:8002"),)


@pytest.mark.parametrize(
    ("key", "value", "named"),
    [
        ("FLURFUNK_PUBLIC_URL", "hq.corp.example", "PUBLIC_URL"),
        ("FLURFUNK_MAX_STATUS_CHARS", "many", "MAX_STATUS_CHARS"),
        ("FLURFUNK_CONNECT_TO", "nohost", "CONNECT_TO"),
        ("FLURFUNK_REGISTRATIONS_OPEN", "perhaps", "REGISTRATIONS_OPEN"),
        ("FLURFUNK_PUSH_HOSTS", "https://ntfy.corp.example/", "PUSH_HOSTS"),
        ("FLURFUNK_SCIM_ROLE_MAP", "admins", "SCIM_ROLE_MAP"),
        ("FLURFUNK_SCIM_ROLE_MAP", "=admin", "SCIM_ROLE_MAP"),
    ],
)
def test_bad_values_name_their_key(tmp_path: Path, key: str, value: str, named: str) -> None:
    env = {
        "FLURFUNK_DATA_DIR": str(tmp_path),
        "FLURFUNK_CONFIG": str(tmp_path / "x.toml"),
        key: value,
    }
    with pytest.raises(ConfigError, match=named):
        load_settings(env)


def test_a_client_certificate_is_loaded_at_start(tmp_path: Path) -> None:
    issued = trustme.CA().issue_cert("hq.corp.example")
    cert, key = tmp_path / "client.crt", tmp_path / "client.key"
    cert.write_bytes(issued.cert_chain_pems[0].bytes())
    key.write_bytes(issued.private_key_pem.bytes())
    env = {"FLURFUNK_DATA_DIR": str(tmp_path), "FLURFUNK_CONFIG": str(tmp_path / "none.toml")}
    both = {**env, "FLURFUNK_TLS_CLIENT_CERT": str(cert), "FLURFUNK_TLS_CLIENT_KEY": str(key)}
    settings = load_settings({**both, "FLURFUNK_TLS_REQUIRE_CLIENT_CERT": "yes"})
    assert (settings.tls_client_cert, settings.tls_client_key) == (str(cert), str(key))
    assert settings.tls_require_client_cert is True

    locked = tmp_path / "locked.key"
    private = serialization.load_pem_private_key(issued.private_key_pem.bytes(), None)
    locked.write_bytes(
        private.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    refusals = {
        "is encrypted; give the key without a passphrase": {
            **both,
            "FLURFUNK_TLS_CLIENT_KEY": str(locked),
        },
        "TLS_CLIENT_KEY is set but TLS_CLIENT_CERT is not": {"FLURFUNK_TLS_CLIENT_KEY": str(key)},
        "TLS_CLIENT_CERT: no readable file": {**both, "FLURFUNK_TLS_CLIENT_CERT": "/nowhere.pem"},
        "cannot use": {**both, "FLURFUNK_TLS_CLIENT_KEY": str(cert)},  # a certificate, no key
        "TLS_REQUIRE_CLIENT_CERT: expected true or false": {
            "FLURFUNK_TLS_REQUIRE_CLIENT_CERT": "always"
        },
    }
    for reason, values in refusals.items():
        with pytest.raises(ConfigError, match=reason):
            load_settings({**env, **values})


def test_sign_on_settings(tmp_path: Path) -> None:
    env = {"FLURFUNK_DATA_DIR": str(tmp_path), "FLURFUNK_CONFIG": str(tmp_path / "none.toml")}
    plain = load_settings(env)
    assert plain.oidc_issuer == ""
    assert plain.oidc_username_claim == "preferred_username"
    assert plain.oidc_groups_claim == "groups"
    assert plain.oidc_role_map == (("admins", "admin"), ("moderators", "moderator"))
    assert plain.oidc_only is False
    settings = load_settings(
        {
            **env,
            "FLURFUNK_OIDC_ISSUER": "https://login.corp.example/realms/staff",
            "FLURFUNK_OIDC_CLIENT_ID": "flurfunk",
            "FLURFUNK_OIDC_CLIENT_SECRET": "s",
            "FLURFUNK_OIDC_USERNAME_CLAIM": "upn",
            "FLURFUNK_OIDC_GROUPS_CLAIM": "roles",
            "FLURFUNK_OIDC_ROLE_MAP": "it-admins=admin, CN=Mods=moderator",
            "FLURFUNK_OIDC_ONLY": "true",
        }
    )
    assert settings.oidc_issuer == "https://login.corp.example/realms/staff"
    assert settings.oidc_username_claim == "upn"
    assert settings.oidc_groups_claim == "roles"
    assert settings.oidc_only is True
    # A group name may hold "=" (LDAP names); the role is what follows the last one.
    assert settings.oidc_role_map == (("it-admins", "admin"), ("CN=Mods", "moderator"))


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ({"FLURFUNK_OIDC_ONLY": "true"}, "OIDC_ONLY"),
        ({"FLURFUNK_OIDC_ISSUER": "https://idp.example"}, "OIDC_CLIENT_ID"),
        ({"FLURFUNK_OIDC_ISSUER": "ftp://idp.example", "FLURFUNK_OIDC_CLIENT_ID": "c"}, "ISSUER"),
        ({"FLURFUNK_OIDC_ROLE_MAP": "admins"}, "OIDC_ROLE_MAP"),
        ({"FLURFUNK_OIDC_ROLE_MAP": "admins=Admin Role"}, "OIDC_ROLE_MAP"),
        ({"FLURFUNK_OIDC_ROLE_MAP": "bosses=owner"}, "owner"),
        ({"FLURFUNK_OIDC_USERNAME_CLAIM": " "}, "OIDC_USERNAME_CLAIM"),
    ],
)
def test_bad_sign_on_settings_are_named(tmp_path: Path, extra: dict[str, str], named: str) -> None:
    env = {"FLURFUNK_DATA_DIR": str(tmp_path), "FLURFUNK_CONFIG": str(tmp_path / "none.toml")}
    with pytest.raises(ConfigError, match=named):
        load_settings({**env, **extra})


def test_scim_role_map_defaults_like_sign_on_and_may_be_emptied(tmp_path: Path) -> None:
    env = {"FLURFUNK_DATA_DIR": str(tmp_path), "FLURFUNK_CONFIG": str(tmp_path / "x.toml")}
    assert load_settings(env).scim_role_map == (("admins", "admin"), ("moderators", "moderator"))
    custom = {**env, "FLURFUNK_SCIM_ROLE_MAP": "IT-Admins = admin, hr=hr"}
    assert load_settings(custom).scim_role_map == (("IT-Admins", "admin"), ("hr", "hr"))
    assert load_settings({**env, "FLURFUNK_SCIM_ROLE_MAP": ""}).scim_role_map == ()


def test_group_maps_name_groups_of_this_node_and_default_to_none(tmp_path: Path) -> None:
    env = {"FLURFUNK_DATA_DIR": str(tmp_path), "FLURFUNK_CONFIG": str(tmp_path / "x.toml")}
    settings = load_settings(env)
    assert settings.oidc_group_map == ()
    assert settings.scim_group_map == ()
    custom = {
        **env,
        "FLURFUNK_OIDC_GROUP_MAP": "proj-apollo=apollo, CN=Kantine=kantine.team",
        "FLURFUNK_SCIM_GROUP_MAP": "Apollo Team = apollo",
    }
    settings = load_settings(custom)
    # A directory group may hold "=" (LDAP names); the Flurfunk group is after the last one.
    assert settings.oidc_group_map == (("proj-apollo", "apollo"), ("CN=Kantine", "kantine.team"))
    assert settings.scim_group_map == (("Apollo Team", "apollo"),)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("FLURFUNK_OIDC_GROUP_MAP", "apollo"),
        ("FLURFUNK_OIDC_GROUP_MAP", "=apollo"),
        ("FLURFUNK_SCIM_GROUP_MAP", "team=Apollo Team"),
        ("FLURFUNK_SCIM_GROUP_MAP", "team=" + "x" * 31),
        ("FLURFUNK_SCIM_GROUP_MAP", "team=-apollo"),
    ],
)
def test_bad_group_maps_name_their_key(tmp_path: Path, key: str, value: str) -> None:
    env = {"FLURFUNK_DATA_DIR": str(tmp_path), "FLURFUNK_CONFIG": str(tmp_path / "x.toml")}
    with pytest.raises(ConfigError, match=key.removeprefix("FLURFUNK_")):
        load_settings({**env, key: value})

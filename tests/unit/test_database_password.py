"""Where the services, tests and scripts find the database password when their DSN names none."""

from pathlib import Path

from pydantic import SecretStr

from syncline_platform.settings import ServiceSettings, with_local_password, with_password


def test_a_dsn_without_password_takes_the_local_cluster_s_for_this_machine_only(tmp_path: Path) -> None:
    (tmp_path / "pg").mkdir()
    (tmp_path / "pg" / "superuser.password").write_text("s3cret\n")
    environ = {"SYNCLINE_HOME": str(tmp_path)}
    local = "postgresql://postgres@127.0.0.1:55432/syncline"
    assert with_local_password(local, environ=environ) == "postgresql://postgres:s3cret@127.0.0.1:55432/syncline"
    assert with_local_password(local.replace("127.0.0.1", "localhost"), environ=environ).count("s3cret") == 1
    given = "postgresql://postgres:mine@127.0.0.1:55432/syncline"
    assert with_local_password(given, environ=environ) == given
    remote = "postgresql://postgres@db.example.com:5432/syncline"
    assert with_local_password(remote, environ=environ) == remote  # the local password never leaves the machine
    assert with_local_password(local, environ={"SYNCLINE_HOME": str(tmp_path / "none")}) == local


def test_the_settings_fill_both_dsns_from_a_named_password_file(tmp_path: Path) -> None:
    secret = tmp_path / "db.password"
    secret.write_text("p@ss/word\n")
    settings = ServiceSettings(
        database_url=SecretStr("postgresql://svc@db.internal:5432/control"),
        docstore_url=SecretStr("postgresql://svc@db.internal:5432/docs"),
        database_password_file=secret,
    )
    assert settings.database_url.get_secret_value() == "postgresql://svc:p%40ss%2Fword@db.internal:5432/control"
    assert settings.docstore_dsn() == "postgresql://svc:p%40ss%2Fword@db.internal:5432/docs"
    assert with_password("postgresql://svc:x@h/db", "y") == "postgresql://svc:x@h/db"

from decimal import Decimal

from bot.settings import Settings, load_settings


def test_defaults_without_environment(tmp_path):
    s = load_settings(environ={}, env_file=str(tmp_path / "missing.env"))
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("var/assistant.db")
    assert (s.rasa_port, s.action_port, s.web_port) == (5005, 5055, 8080)
    assert s.vat_rate == Decimal("0.08")
    assert s.action_url == "http://127.0.0.1:5055/webhook"


def test_env_file_then_environment_wins(tmp_path):
    env = tmp_path / ".env"
    env.write_text("RASA_PORT=6000\nVAT_RATE=0.10\nRASA_TOKEN=from-file\n", encoding="utf-8")
    s = load_settings(environ={"RASA_PORT": "7000", "RESTART_CHILDREN": "false"}, env_file=str(env))
    assert s.rasa_port == 7000 and s.vat_rate == Decimal("0.10") and s.rasa_token == "from-file"
    assert s.restart_children is False


def test_secrets_never_in_repr():
    s = Settings(rasa_token="s3cr3t-token")
    assert "s3cr3t-token" not in repr(s) and "s3cr3t-token" not in str(s.redacted())
    assert s.redacted()["rasa_token"] == "***"


def test_database_passwords_masked():
    s = Settings(database_url="postgresql://cskh:hunter2@db:5432/cskh")
    assert "hunter2" not in str(s.redacted()) and s.redacted()["database_url"].startswith("postgresql://cskh:***@db")

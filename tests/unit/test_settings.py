"""Settings: embedded defaults, and a clear error naming each malformed variable."""

import pytest

from contact_center.customers.value_model import ValueFacts, ValueModel
from contact_center.settings import SettingsError, load_settings


def test_embedded_defaults(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    settings = load_settings()
    assert settings.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert settings.effective_database_url.endswith("data/contact_center.db")
    assert settings.redis_url == "" and settings.is_embedded_sqlite


def test_environment_and_dotenv_are_read(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("CC_PUBLIC_URL=https://cc.example.com/\nTWILIO_ACCOUNT_SID=AC123\n")
    monkeypatch.setenv("CC_REDIS_URL", "redis://127.0.0.1:6379/0")
    settings = load_settings()
    assert settings.public_url == "https://cc.example.com" and settings.secure_cookies
    assert settings.twilio_account_sid == "AC123"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CC_DATABASE_URL", "mysql://root@localhost/cc"),
        ("CC_REDIS_URL", "http://localhost:6379"),
        ("CC_PUBLIC_URL", "not a url"),
        ("CC_DEFAULT_REGION", "XX"),
        ("CC_SESSION_TTL_HOURS", "soon"),
        ("CC_VALUE_MODEL", '{"tiers": [{"name": "gold", "min_score": 50}]}'),
    ],
)
def test_malformed_value_names_the_variable(monkeypatch, tmp_path, variable, value):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert variable in str(caught.value)


def test_secret_key_is_generated_once_and_kept(tmp_path):
    settings = load_settings(data_dir=tmp_path)
    first = settings.signing_key()
    assert first == load_settings(data_dir=tmp_path).signing_key() and len(first) >= 32
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_value_model_scores_and_tiers():
    model = ValueModel()
    loyal = ValueFacts(
        spend_12m=2500,
        spend_24m=5000,
        orders_12m=12,
        orders_24m=24,
        days_since_last_order=3,
        tenure_days=2000,
        complaints_12m=0,
    )
    lapsed = ValueFacts(
        spend_12m=0,
        spend_24m=30,
        orders_12m=0,
        orders_24m=1,
        days_since_last_order=500,
        tenure_days=600,
        complaints_12m=3,
    )
    # 30 + 15 + 15 + 5 + 15 at their caps, recency (1 - 3/365) * 20 = 19.836, out of a total weight of 100
    assert model.score(loyal) == 99.84 and model.tier_for(model.score(loyal)) == "platinum"
    assert model.tier_for(model.score(lapsed)) == "bronze"
    unhappy = ValueFacts(**{**loyal.__dict__, "complaints_12m": 5})
    assert model.score(unhappy) < model.score(loyal)
